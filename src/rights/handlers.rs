//! `/api/v1/me*` for participants (the personal link's token as bearer), and the staff
//! side of rights: new privacy links, erasure on request, the under-18 flag.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::requests::{self, CompleteRequest, FileRequest, RequestQuery, RequestView};
use super::self_service::{self, Correction, StaffCorrection};
use super::{ErasureResult, Links, ParticipantRecord};
use crate::attendees::privacy_url;
use crate::auth::{AdminOnly, Registration};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::consent::{WithdrawalRequest, WithdrawalView};
use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::{Auth, Participant};
use crate::mail::OutboxKey;
use crate::paging::Page;

/// What the service holds about me, my opt-ins and withdrawals, scans of my badge, and
/// every partner that received my data.
#[utoipa::path(tag = "me", security(("privacy_link" = [])),
    responses((status = 200, body = ParticipantRecord), (status = 401, body = Problem)))]
#[get("/me")]
pub async fn get_me(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    badge_key: web::Data<BadgeKey>,
    who: Participant,
) -> AppResult<web::Json<ParticipantRecord>> {
    let rec = db
        .read(move |conn| {
            let links = Links { public_url: &public_url, badge_key: &badge_key };
            super::load_record(conn, &links, &who.token).map_err(|_| AppError::Unauthorized)
        })
        .await?;
    Ok(web::Json(rec))
}

/// Correct contact details or switch marketing e-mails on or off.
#[utoipa::path(tag = "me", security(("privacy_link" = [])), request_body = Correction,
    responses((status = 200, body = ParticipantRecord), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/me")]
pub async fn patch_me(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    badge_key: web::Data<BadgeKey>,
    who: Participant,
    body: ApiJson<Correction>,
) -> AppResult<web::Json<ParticipantRecord>> {
    let c = body.into_inner();
    let rec = db
        .write(move |conn| {
            self_service::correct(&Links { public_url: &public_url, badge_key: &badge_key }, conn, &who.token, c)
        })
        .await?;
    Ok(web::Json(rec))
}

/// Withdraw from one partner or from all; effective for the next export and scan.
#[utoipa::path(tag = "me", security(("privacy_link" = [])), request_body = WithdrawalRequest,
    responses((status = 201, body = WithdrawalView), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[post("/me/withdrawals")]
pub async fn withdraw_me(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    who: Participant,
    body: ApiJson<WithdrawalRequest>,
) -> AppResult<HttpResponse> {
    let partner = body.0.scope()?;
    let key = OutboxKey::from_badge_key(&badge_key)?;
    let row: WithdrawalView =
        db.write(move |conn| self_service::self_withdraw(conn, &key, &who.token, partner)).await?;
    Ok(HttpResponse::Created().json(row))
}

/// Download everything held about me as JSON (recorded as a completed access request).
#[utoipa::path(tag = "me", security(("privacy_link" = [])),
    responses((status = 200, body = ParticipantRecord), (status = 401, body = Problem)))]
#[get("/me/export")]
pub async fn export_me(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    badge_key: web::Data<BadgeKey>,
    who: Participant,
) -> AppResult<HttpResponse> {
    let rec = db
        .write(move |conn| {
            self_service::export_record(&Links { public_url: &public_url, badge_key: &badge_key }, conn, &who.token)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Disposition", "attachment; filename=\"my-data.json\""))
        .insert_header(("Cache-Control", "no-store"))
        .json(rec))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Must be `true`: erasure cannot be undone.
    pub confirm: Option<bool>,
}

/// Erase my data (confirm: true). The answer lists the partners that had received it.
#[utoipa::path(tag = "me", security(("privacy_link" = [])), request_body = ErasureRequest,
    responses((status = 200, body = ErasureResult), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[post("/me/erasure")]
pub async fn erase_me(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    who: Participant,
    body: ApiJson<ErasureRequest>,
) -> AppResult<web::Json<ErasureResult>> {
    if body.0.confirm != Some(true) {
        return Err(AppError::field("confirm", "must be true to erase; this cannot be undone"));
    }
    let key = OutboxKey::from_badge_key(&badge_key)?;
    let result = db.write(move |conn| self_service::self_erase(conn, &key, &who.token)).await?;
    tracing::info!(partners_to_notify = result.recipients_to_notify.len(), "participant erased on request");
    Ok(web::Json(result))
}

#[derive(Serialize, ToSchema)]
pub struct PrivacyLink {
    pub privacy_url: String,
}

/// Issue a new personal privacy link; the old one stops working at once (admin or registrar).
#[utoipa::path(tag = "me", security(("bearer" = [])),
    responses((status = 200, body = PrivacyLink), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/privacy-link")]
pub async fn reissue_privacy_link(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<PrivacyLink>> {
    let (event_id, attendee_id) = path.into_inner();
    let token = db.write(move |conn| self_service::reissue_privacy_link(conn, &event_id, &attendee_id)).await?;
    Ok(web::Json(PrivacyLink { privacy_url: privacy_url(&public_url.0, &token) }))
}

/// Why staff erased a participant. The two staff routes stay apart for their documents
/// and their log line; the erasure itself is one.
#[derive(Clone, Copy)]
enum StaffErasure {
    OnRequest,
    UnderAge,
}

async fn staff_erase(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
    cause: StaffErasure,
) -> AppResult<web::Json<ErasureResult>> {
    let (event_id, attendee_id) = path.into_inner();
    let key = OutboxKey::from_badge_key(&badge_key)?;
    let result = db.write(move |conn| self_service::staff_erase(conn, &key, &event_id, &attendee_id)).await?;
    match cause {
        StaffErasure::OnRequest => tracing::info!(by = %auth.caller.user_id, "participant erased by staff"),
        StaffErasure::UnderAge => {
            tracing::warn!(by = %auth.caller.user_id, "participant flagged under 18 and erased")
        }
    }
    Ok(web::Json(result))
}

/// Erase a participant on a request that arrived by mail or post (admin).
#[utoipa::path(tag = "me", security(("bearer" = [])),
    responses((status = 200, body = ErasureResult), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/erasure")]
pub async fn erase_attendee(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<ErasureResult>> {
    staff_erase(db, badge_key, auth, path, StaffErasure::OnRequest).await
}

/// Flag a participant as under 18: erased at once, like an erasure (admin).
#[utoipa::path(tag = "me", security(("bearer" = [])),
    responses((status = 200, body = ErasureResult), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/under-18")]
pub async fn flag_under_18(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<ErasureResult>> {
    staff_erase(db, badge_key, auth, path, StaffErasure::UnderAge).await
}

/// File a request that arrived by e-mail or post (admin).
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = FileRequest,
    responses((status = 201, body = RequestView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/requests")]
pub async fn file_request(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    body: ApiJson<FileRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner();
    let row = db.write(move |conn| requests::file(conn, input)).await?;
    Ok(HttpResponse::Created().json(RequestView::from(row)))
}

/// Mark a request completed (admin).
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = CompleteRequest,
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/requests/{request_id}/complete")]
pub async fn complete_request(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
    body: ApiJson<CompleteRequest>,
) -> AppResult<web::Json<RequestView>> {
    let id = path.into_inner();
    let input = body.into_inner();
    let by = auth.caller.user_id;
    let row = db.write(move |conn| requests::complete(conn, &id, &by, &input)).await?;
    Ok(web::Json(row.into()))
}

/// The request register, oldest due first (admin). `?status=overdue` is what to watch.
#[utoipa::path(tag = "requests", security(("bearer" = [])), params(RequestQuery),
    responses((status = 200, body = Page<RequestView>), (status = 422, body = Problem)))]
#[get("/requests")]
pub async fn list_requests(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    query: web::Query<RequestQuery>,
) -> AppResult<web::Json<Page<RequestView>>> {
    let q = query.into_inner();
    Ok(web::Json(db.read(move |conn| requests::list(conn, &q)).await?))
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionDone {
    /// Whether a contact field changed (a completed correction request is then recorded).
    pub changed: bool,
}

/// Correct a participant's data on their request (admin or registrar), with the checks of
/// registration; recorded as a completed correction request with its channel.
#[utoipa::path(tag = "rights", security(("bearer" = [])), request_body = StaffCorrection,
    responses((status = 200, body = CorrectionDone), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/events/{event_id}/attendees/{attendee_id}")]
pub async fn staff_correct(
    db: web::Data<Db>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
    body: ApiJson<StaffCorrection>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let (channel, correction) = body.0.parts()?;
    let by = auth.caller.user_id.clone();
    let changed = db
        .write(move |conn| self_service::staff_correct(conn, &event_id, &attendee_id, channel, &by, &correction))
        .await?;
    Ok(HttpResponse::Ok().json(CorrectionDone { changed }))
}
