//! `/api/v1/incidents…` (admin).

use actix_web::{HttpResponse, get, patch, post, web};

use super::records::{
    self, CreateIncident, IncidentQuery, IncidentSummary, IncidentView, NewUpdate, PatchIncident, ReportQuery,
};
use crate::auth::AdminOnly;
use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;
use crate::paging::Page;

/// Open an incident; the answer already holds what the scope obtained in the window.
#[utoipa::path(tag = "incidents", security(("bearer" = [])), request_body = CreateIncident,
    responses((status = 201, body = IncidentView), (status = 422, body = Problem)))]
#[post("/incidents")]
pub async fn create_incident(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    body: ApiJson<CreateIncident>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner();
    let actor = auth.caller.user_id;
    let v = db.write(move |conn| records::open(conn, &actor, &input)).await?;
    Ok(HttpResponse::Created().json(v))
}

/// One incident: scope, window, deadlines, what the scope obtained, updates.
#[utoipa::path(tag = "incidents", security(("bearer" = [])), responses((status = 200, body = IncidentView), (status = 404, body = Problem)))]
#[get("/incidents/{incident_id}")]
pub async fn get_incident(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<IncidentView>> {
    let id = path.into_inner();
    Ok(web::Json(db.read(move |conn| records::view_by_id(conn, &id)).await?))
}

/// Enter the narrative sections and the clock's milestones.
#[utoipa::path(tag = "incidents", security(("bearer" = [])), request_body = PatchIncident,
    responses((status = 200, body = IncidentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/incidents/{incident_id}")]
pub async fn patch_incident(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
    body: ApiJson<PatchIncident>,
) -> AppResult<web::Json<IncidentView>> {
    let id = path.into_inner();
    let p = body.into_inner();
    Ok(web::Json(db.write(move |conn| records::patch(conn, &id, &p)).await?))
}

/// Add a daily status update (the five items of the promise).
#[utoipa::path(tag = "incidents", security(("bearer" = [])), request_body = NewUpdate,
    responses((status = 201, body = IncidentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/incidents/{incident_id}/updates")]
pub async fn add_update(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
    body: ApiJson<NewUpdate>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let u = body.into_inner();
    let actor = auth.caller.user_id;
    let v = db.write(move |conn| records::add_update(conn, &actor, &id, &u)).await?;
    Ok(HttpResponse::Created().json(v))
}

/// Incidents, newest first; `?due=overdue` for those whose next deadline has passed.
#[utoipa::path(tag = "incidents", security(("bearer" = [])), params(IncidentQuery),
    responses((status = 200, body = Page<IncidentSummary>), (status = 422, body = Problem)))]
#[get("/incidents")]
pub async fn list_incidents(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    query: web::Query<IncidentQuery>,
) -> AppResult<web::Json<Page<IncidentSummary>>> {
    let q = query.into_inner();
    Ok(web::Json(db.read(move |conn| records::list(conn, &q)).await?))
}

/// The written report: six sections in the promised order, then the status updates.
#[utoipa::path(tag = "incidents", security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = Problem)))]
#[get("/incidents/{incident_id}/report")]
pub async fn get_report(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let json = match query.format.as_deref() {
        None | Some("markdown") => false,
        Some("json") => true,
        Some(_) => return Err(AppError::field("format", "must be markdown or json")),
    };
    let r = db.read(move |conn| records::report_of(conn, &id)).await?;
    if json {
        return Ok(HttpResponse::Ok().json(r));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(records::markdown(&r)))
}

/// The affected participants with contact details, for the operator to inform them. This
/// is itself a staff read (channel `staff`, basis `incident_notification`), written to the
/// ledger in the same transaction.
#[utoipa::path(tag = "incidents", security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem)))]
#[get("/incidents/{incident_id}/affected.csv")]
pub async fn affected_csv(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let staff = auth.caller.user_id;
    let bytes = db.write(move |conn| records::affected_csv(conn, &staff, &id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"affected-participants.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}

/// The participant notice as one affected participant would receive it (name replaced by
/// a placeholder), and how many it goes to. 422 until the incident has a nature and a
/// contact.
#[utoipa::path(tag = "incidents", security(("bearer" = [])),
    responses((status = 200, body = super::notice::NoticePreview), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/incidents/{incident_id}/participant-notice")]
pub async fn preview_participant_notice(
    db: web::Data<Db>,
    public_url: web::Data<crate::config::PublicUrl>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<super::notice::NoticePreview>> {
    let id = path.into_inner();
    Ok(web::Json(db.read(move |conn| super::notice::preview(conn, &public_url, &id)).await?))
}

/// Queue the notice to every participant in the incident's exposure, each listing only
/// their own data; recorded as `participants_notified_at`. Sent once: 409 afterwards
/// (a failed message is resent from the event's mail list).
#[utoipa::path(tag = "incidents", security(("bearer" = [])),
    responses((status = 202, body = super::notice::NoticeSent), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/incidents/{incident_id}/participant-notice")]
pub async fn send_participant_notice(
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public_url: web::Data<crate::config::PublicUrl>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let staff = auth.caller.user_id;
    let sent = db.write(move |conn| super::notice::send(conn, &badge_key, &public_url, &staff, &id)).await?;
    Ok(HttpResponse::Accepted().json(sent))
}
