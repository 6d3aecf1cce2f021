//! `POST /api/v1/auth/refresh`, `POST /api/v1/auth/enrol`, `POST /api/v1/devices/enrolments`,
//! `GET /api/v1/devices`, `POST /api/v1/devices/{device_id}/revoke`.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{DeviceAdmins, DeviceInput, DeviceList, DeviceSession, Enrolment};
use crate::auth::tokens::{TOKEN_LIFETIME_SECS, TokenKeys};
use crate::auth::{PartnerAdminOnly, Role};
use crate::db::{Db, ms_to_rfc3339};
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;

/// A device's sign-in, enrolment or refresh: the login answer plus the device's refresh
/// token.
#[derive(Serialize, ToSchema)]
pub struct DeviceSessionResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub role: Role,
    /// Single use: the next refresh answers a new one, and presenting this one again
    /// ends the device. Keep it in the app's own storage, never in a URL or a log.
    pub refresh_token: String,
    /// The event's end plus its scan grace period: no refresh after this.
    pub refresh_expires_at: String,
    pub device_id: String,
}

impl From<DeviceSession> for DeviceSessionResponse {
    fn from(s: DeviceSession) -> Self {
        DeviceSessionResponse {
            access_token: s.access_token,
            token_type: "Bearer",
            expires_in: TOKEN_LIFETIME_SECS,
            role: s.role,
            refresh_token: s.refresh_token,
            refresh_expires_at: ms_to_rfc3339(s.refresh_expires_at),
            device_id: s.device_id,
        }
    }
}

fn answer(session: DeviceSession) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(DeviceSessionResponse::from(session))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a device's refresh token for a new access token and a new refresh token.
/// An unknown, expired, revoked or already-used token answers 401; an already-used one
/// also revokes its device (sign in again; keep the unsynced scans).
#[utoipa::path(tag = "devices", request_body = RefreshRequest,
    responses((status = 200, body = DeviceSessionResponse),
        (status = 401, description = "Unknown, expired, revoked or already-used refresh token", body = Problem)))]
#[post("/auth/refresh")]
pub async fn refresh(
    db: web::Data<Db>,
    tokens: web::Data<TokenKeys>,
    body: ApiJson<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let presented = body.into_inner().refresh_token;
    Ok(answer(super::refresh(&db, &tokens, presented).await?))
}

/// Sign a phone out: its device ends (its refresh token and every access token of it stop
/// working) and the device list shows it signed out. The phone proves itself with its
/// current refresh token; an unknown or superseded one answers 401.
#[utoipa::path(tag = "devices", request_body = RefreshRequest,
    responses((status = 204),
        (status = 401, description = "Unknown or superseded refresh token", body = Problem)))]
#[post("/auth/sign-out")]
pub async fn sign_out(db: web::Data<Db>, body: ApiJson<RefreshRequest>) -> AppResult<HttpResponse> {
    let presented = body.into_inner().refresh_token;
    db.write(move |conn| super::sign_out(conn, &presented)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The enrolment code, or the whole QR payload (`BGENROL1-…`).
    pub code: String,
    pub device: DeviceInput,
}

/// Sign a phone in with a one-time enrolment code (from the QR code a partner admin
/// shows), as the scanner user the code was made for. No password is typed.
#[utoipa::path(tag = "devices", request_body = EnrolRequest,
    responses((status = 200, body = DeviceSessionResponse),
        (status = 401, description = "Unknown, used or expired code", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many attempts from this client; see Retry-After", body = Problem)))]
#[post("/auth/enrol")]
pub async fn enrol(
    db: web::Data<Db>,
    tokens: web::Data<TokenKeys>,
    body: ApiJson<EnrolRequest>,
) -> AppResult<HttpResponse> {
    let EnrolRequest { code, device } = body.into_inner();
    Ok(answer(super::enrol(&db, &tokens, &code, &device.name).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnrolment {
    /// A scanner user of the caller's own partner.
    pub user_id: String,
}

/// Make a one-time enrolment code for a scanner user of the caller's partner (partner
/// admin). Valid 10 minutes, once. Show `payload` as a QR code.
#[utoipa::path(tag = "devices", security(("bearer" = [])), request_body = CreateEnrolment,
    responses((status = 201, body = Enrolment), (status = 403, body = Problem),
        (status = 404, description = "No such user of the caller's partner", body = Problem),
        (status = 422, description = "Not a scanner, disabled, or the event's scanning has closed", body = Problem)))]
#[post("/devices/enrolments")]
pub async fn create_enrolment(
    db: web::Data<Db>,
    auth: Auth<PartnerAdminOnly>,
    body: ApiJson<CreateEnrolment>,
) -> AppResult<HttpResponse> {
    let scope = auth.caller.partner_scope()?;
    let user_id = body.into_inner().user_id;
    let enrolment = db.write(move |conn| super::create_enrolment(conn, &scope, &user_id)).await?;
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(enrolment))
}

#[derive(Deserialize, IntoParams)]
pub struct DeviceQuery {
    /// Required for staff admins: the event whose devices to list. Partner admins see
    /// their own partner's devices and leave it out.
    pub event_id: Option<String>,
}

/// List signed-in devices, newest first: a partner admin its own partner's, a staff admin
/// an event's (`?event_id=`).
#[utoipa::path(tag = "devices", security(("bearer" = [])), params(DeviceQuery),
    responses((status = 200, body = DeviceList), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "A staff admin left out `event_id`", body = Problem)))]
#[get("/devices")]
pub async fn list_devices(
    db: web::Data<Db>,
    auth: Auth<DeviceAdmins>,
    query: web::Query<DeviceQuery>,
) -> AppResult<web::Json<DeviceList>> {
    let caller = auth.caller;
    let event_id = query.into_inner().event_id;
    Ok(web::Json(db.read(move |conn| super::list(conn, &caller, event_id.as_deref())).await?))
}

/// Revoke a device: its refresh token and every access token of it stop working at once
/// (partner admin: its own partner's devices; staff admin: any).
#[utoipa::path(tag = "devices", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem),
        (status = 404, description = "No such device of the caller's partner", body = Problem)))]
#[post("/devices/{device_id}/revoke")]
pub async fn revoke_device(
    db: web::Data<Db>,
    auth: Auth<DeviceAdmins>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = auth.caller;
    let device_id = path.into_inner();
    db.write(move |conn| super::revoke(conn, &caller, &device_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
