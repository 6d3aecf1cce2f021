//! Admin API for incident containment.

use actix_web::{HttpResponse, get, post, web};

use super::{Revoked, Rotated, SecurityActionView, Suspension};
use crate::auth::AdminOnly;
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;
use crate::paging::{Page, PageQuery};

/// End every token of one user (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
#[post("/users/{user_id}/revoke-sessions")]
pub async fn revoke_user(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<Revoked>> {
    let user_id = path.into_inner();
    let actor = auth.caller.user_id;
    Ok(web::Json(db.write(move |conn| super::revoke_user(conn, &actor, &user_id)).await?))
}

/// End every token of every user of one partner (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/revoke-sessions")]
pub async fn revoke_partner(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<Revoked>> {
    let (event_id, partner_id) = path.into_inner();
    let actor = auth.caller.user_id;
    Ok(web::Json(db.write(move |conn| super::revoke_partner(conn, &actor, &event_id, &partner_id)).await?))
}

/// End every token of every partner user of an event (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
#[post("/events/{event_id}/revoke-sessions")]
pub async fn revoke_event(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<Revoked>> {
    let event_id = path.into_inner();
    let actor = auth.caller.user_id;
    Ok(web::Json(db.write(move |conn| super::revoke_event(conn, &actor, &event_id)).await?))
}

/// Suspend (or restore) a partner's exports and lead reads; scans are still recorded (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), request_body = Suspension,
    responses((status = 204), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/suspension")]
pub async fn suspend_partner(
    db: web::Data<Db>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
    body: ApiJson<Suspension>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let suspended = body.0.suspended;
    let actor = auth.caller.user_id;
    db.write(move |conn| super::suspend_partner(conn, &actor, &event_id, &partner_id, suspended)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the token signing key: every outstanding token ends at once, on every instance;
/// the service keeps running (admin). If the token secret itself leaked, replace
/// BADGEGATE_TOKEN_SECRET and restart instead.
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Rotated)))]
#[post("/security/rotate-token-key")]
pub async fn rotate_token_key(db: web::Data<Db>, auth: Auth<AdminOnly>) -> AppResult<web::Json<Rotated>> {
    let actor = auth.caller.user_id;
    Ok(web::Json(db.write(move |conn| super::rotate_token_key(conn, &actor)).await?))
}

/// The containment actions taken, newest first (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<SecurityActionView>)))]
#[get("/security/actions")]
pub async fn list_actions(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<SecurityActionView>>> {
    let paging = query.into_inner();
    Ok(web::Json(db.read(move |conn| super::list_actions(conn, &paging)).await?))
}
