//! `POST /api/v1/auth/login`, `GET /api/v1/auth/me`, `POST /api/v1/auth/password`.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::passwords::Passwords;
use super::session::{self, LoginServices};
use super::throttle::LoginThrottle;
use super::tokens::{TOKEN_LIFETIME_SECS, TokenKeys};
use super::{AnyUser, Role, users};
use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Sign in a scanner phone (partner users only): the answer then carries a refresh
    /// token bound to a new device.
    #[serde(default)]
    pub device: Option<crate::devices::DeviceInput>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub role: Role,
    /// With `device` only: single use; see `POST /api/v1/auth/refresh`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// With `device` only: the event's end plus its scan grace period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<String>,
    /// With `device` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub event_id: Option<String>,
    pub partner_id: Option<String>,
}

/// Log in with e-mail and password; answers a bearer token valid for 15 minutes. With
/// `device` (a scanner phone; partner users only), also a refresh token bound to a new
/// device, valid until the event's end plus its scan grace period.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Unknown e-mail or wrong password (same answer for both)", body = Problem),
        (status = 422, description = "`device` given for a staff account, or a bad device name", body = Problem),
        (status = 429, description = "Too many failures for this address (known or not), or too many attempts from this client; see Retry-After", body = Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
    body: ApiJson<LoginRequest>,
) -> AppResult<HttpResponse> {
    let LoginRequest { email, password, device } = body.into_inner();
    let services = LoginServices { db: &db, throttle: throttle.into_inner(), passwords: &passwords, tokens: &tokens };
    let response = match device {
        None => {
            let session = session::login(&services, &email, password).await?;
            LoginResponse {
                access_token: session.access_token,
                token_type: "Bearer",
                expires_in: TOKEN_LIFETIME_SECS,
                role: session.role,
                refresh_token: None,
                refresh_expires_at: None,
                device_id: None,
            }
        }
        Some(device) => {
            let d = crate::devices::sign_in(&services, &email, password, &device.name).await?;
            LoginResponse {
                access_token: d.access_token,
                token_type: "Bearer",
                expires_in: TOKEN_LIFETIME_SECS,
                role: d.role,
                refresh_token: Some(d.refresh_token),
                refresh_expires_at: Some(crate::db::ms_to_rfc3339(d.refresh_expires_at)),
                device_id: Some(d.device_id),
            }
        }
    };
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(response))
}

/// The caller's own account.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = MeResponse), (status = 401, body = Problem)))]
#[get("/auth/me")]
pub async fn me(db: web::Data<Db>, auth: Auth<AnyUser>) -> AppResult<web::Json<MeResponse>> {
    let caller = auth.caller;
    let user_id = caller.user_id.clone();
    let row = db.read(move |conn| users::find(conn, &user_id)).await?.ok_or(AppError::Unauthorized)?;
    Ok(web::Json(MeResponse {
        id: row.id,
        email: row.email,
        role: caller.role,
        event_id: caller.event_id,
        partner_id: caller.partner_id,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password; every outstanding token of the account ends (log in again).
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = ChangePassword,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, description = "Too many failed logins or password checks; see Retry-After", body = Problem)))]
#[post("/auth/password")]
pub async fn change_password(
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
    auth: Auth<AnyUser>,
    body: ApiJson<ChangePassword>,
) -> AppResult<HttpResponse> {
    let ChangePassword { current_password, new_password } = body.into_inner();
    let services = LoginServices { db: &db, throttle: throttle.into_inner(), passwords: &passwords, tokens: &tokens };
    session::change_password(&services, &auth.caller.user_id, current_password, new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordByLink {
    /// The token of the link received by mail (the last path segment).
    pub token: String,
    pub password: String,
}

/// Ask for a password reset link by mail. Answers 202 whether or not the address has an
/// account, before the account is looked up; the link works once, for one hour.
#[utoipa::path(tag = "auth", request_body = PasswordResetRequest,
    responses((status = 202, description = "Accepted; a link is mailed if the address has an account"),
        (status = 422, body = Problem),
        (status = 429, description = "Too many attempts for this address (known or not); see Retry-After", body = Problem)))]
#[post("/auth/password-reset")]
pub async fn password_reset(
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public: web::Data<crate::config::PublicUrl>,
    body: ApiJson<PasswordResetRequest>,
) -> AppResult<HttpResponse> {
    let services = LoginServices { db: &db, throttle: throttle.into_inner(), passwords: &passwords, tokens: &tokens };
    let mail =
        session::ResetMail { key: crate::mail::OutboxKey::from_badge_key(&badge_key)?, public_url: public.0.clone() };
    session::request_password_reset(&services, mail, &body.into_inner().email).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Set a new password with a reset link's token; every session of the account ends.
#[utoipa::path(tag = "auth", request_body = SetPasswordByLink,
    responses((status = 204), (status = 422, description = "Password too short or long, or token not valid, used or expired", body = Problem)))]
#[post("/auth/password-reset/confirm")]
pub async fn password_reset_confirm(
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
    body: ApiJson<SetPasswordByLink>,
) -> AppResult<HttpResponse> {
    set_by_link(db, throttle, passwords, tokens, body, super::links::LinkPurpose::PasswordReset).await
}

/// Accept an invitation: choose the account's password with the invitation link's token.
#[utoipa::path(tag = "auth", request_body = SetPasswordByLink,
    responses((status = 204), (status = 422, description = "Password too short or long, or token not valid, used or expired", body = Problem)))]
#[post("/auth/invitations/accept")]
pub async fn accept_invitation(
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
    body: ApiJson<SetPasswordByLink>,
) -> AppResult<HttpResponse> {
    set_by_link(db, throttle, passwords, tokens, body, super::links::LinkPurpose::Invitation).await
}

/// The two link endpoints differ only in which kind of link the token must be.
async fn set_by_link(
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
    body: ApiJson<SetPasswordByLink>,
    purpose: super::links::LinkPurpose,
) -> AppResult<HttpResponse> {
    let SetPasswordByLink { token, password } = body.into_inner();
    let services = LoginServices { db: &db, throttle: throttle.into_inner(), passwords: &passwords, tokens: &tokens };
    session::set_password_by_link(&services, purpose, token, password).await.map(drop)?;
    Ok(HttpResponse::NoContent().finish())
}
