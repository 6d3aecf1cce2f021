//! Incident containment: end sessions (of a user, a partner, an event's partners), suspend
//! a partner's exports and lead reads, rotate the token signing key. Admin only; every
//! action is recorded with who and when.

use actix_web::{HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{AdminOnly, Auth};
use crate::db::schema::{partners, security_actions, settings, users};
use crate::db::{DbConn, ms_to_rfc3339, new_id, now_ms, write_tx};
use crate::error::{AppError, AppResult, Problem};
use crate::http::{ApiJson, Page, PageQuery};
use crate::{events, partners as partner_domain};

const TOKEN_GENERATION: &str = "token_generation";

pub fn token_generation(conn: &mut DbConn) -> AppResult<i64> {
    let value: String = settings::table.find(TOKEN_GENERATION).select(settings::value).first(conn)?;
    value.parse().map_err(AppError::internal)
}

fn record(conn: &mut DbConn, actor: &str, action: &str, target: Option<&str>) -> AppResult<()> {
    diesel::insert_into(security_actions::table)
        .values((
            security_actions::id.eq(new_id()),
            security_actions::occurred_at.eq(now_ms()),
            security_actions::actor_id.eq(actor),
            security_actions::action.eq(action),
            security_actions::target.eq(target),
        ))
        .execute(conn)?;
    tracing::warn!(actor_id = actor, action, target, "security action");
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// Users whose tokens were ended.
    pub users: usize,
}

fn revoke_where_partner_in(conn: &mut DbConn, partner_ids: &[String]) -> AppResult<usize> {
    Ok(diesel::update(users::table.filter(users::partner_id.eq_any(partner_ids)))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?)
}

/// End every token of one user (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
#[post("/users/{user_id}/revoke-sessions")]
pub async fn revoke_user(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<Revoked>> {
    let user_id = path.into_inner();
    let actor = auth.caller.user_id;
    let users = state
        .db
        .write(move |conn| {
            let n = crate::auth::users::bump_token_version(conn, &user_id)?;
            if n == 0 {
                return Err(AppError::NotFound);
            }
            record(conn, &actor, "revoke_user_sessions", Some(&user_id))?;
            Ok(n)
        })
        .await?;
    Ok(web::Json(Revoked { users }))
}

/// End every token of every user of one partner (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/revoke-sessions")]
pub async fn revoke_partner(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<Revoked>> {
    let (event_id, partner_id) = path.into_inner();
    let actor = auth.caller.user_id;
    let users = state
        .db
        .write(move |conn| {
            partner_domain::find_in_event(conn, &event_id, &partner_id)?;
            let n = revoke_where_partner_in(conn, std::slice::from_ref(&partner_id))?;
            record(conn, &actor, "revoke_partner_sessions", Some(&partner_id))?;
            Ok(n)
        })
        .await?;
    Ok(web::Json(Revoked { users }))
}

/// End every token of every partner user of an event (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
#[post("/events/{event_id}/revoke-sessions")]
pub async fn revoke_event(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<Revoked>> {
    let event_id = path.into_inner();
    let actor = auth.caller.user_id;
    let users = state
        .db
        .write(move |conn| {
            events::find(conn, &event_id)?;
            let ids: Vec<String> =
                partners::table.filter(partners::event_id.eq(&event_id)).select(partners::id).load(conn)?;
            let n = revoke_where_partner_in(conn, &ids)?;
            record(conn, &actor, "revoke_event_partner_sessions", Some(&event_id))?;
            Ok(n)
        })
        .await?;
    Ok(web::Json(Revoked { users }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    pub suspended: bool,
}

/// Suspend (or restore) a partner's exports and lead reads; scans are still recorded (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), request_body = Suspension,
    responses((status = 204), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/suspension")]
pub async fn suspend_partner(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
    body: ApiJson<Suspension>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let suspended = body.0.suspended;
    let actor = auth.caller.user_id;
    state
        .db
        .write(move |conn| {
            partner_domain::find_in_event(conn, &event_id, &partner_id)?;
            diesel::update(partners::table.find(&partner_id))
                .set(partners::leads_suspended.eq(suspended))
                .execute(conn)?;
            record(conn, &actor, if suspended { "suspend_partner" } else { "restore_partner" }, Some(&partner_id))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct Rotated {
    pub token_generation: i64,
}

/// Rotate the token signing key: every outstanding token ends at once, on every instance;
/// the service keeps running (admin). If the token secret itself leaked, replace
/// BADGEGATE_TOKEN_SECRET and restart instead.
#[utoipa::path(tag = "security", security(("bearer" = [])), responses((status = 200, body = Rotated)))]
#[post("/security/rotate-token-key")]
pub async fn rotate_token_key(state: web::Data<AppState>, auth: Auth<AdminOnly>) -> AppResult<web::Json<Rotated>> {
    let actor = auth.caller.user_id;
    let generation = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let next = token_generation(conn)? + 1;
                diesel::update(settings::table.find(TOKEN_GENERATION))
                    .set(settings::value.eq(next.to_string()))
                    .execute(conn)?;
                record(conn, &actor, "rotate_token_key", None)?;
                Ok(next)
            })
        })
        .await?;
    Ok(web::Json(Rotated { token_generation: generation }))
}

#[derive(Serialize, ToSchema)]
pub struct SecurityActionView {
    pub occurred_at: String,
    pub actor_id: String,
    pub action: String,
    pub target: Option<String>,
}

/// The containment actions taken, newest first (admin).
#[utoipa::path(tag = "security", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<SecurityActionView>)))]
#[get("/security/actions")]
pub async fn list_actions(
    state: web::Data<AppState>,
    _auth: Auth<AdminOnly>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<SecurityActionView>>> {
    let (page, per_page) = query.resolve()?;
    let (rows, total) = state
        .db
        .run(move |conn| {
            let total: i64 = security_actions::table.count().get_result(conn)?;
            let rows: Vec<(i64, String, String, Option<String>)> = security_actions::table
                .order((security_actions::occurred_at.desc(), security_actions::id))
                .limit(per_page)
                .offset((page - 1) * per_page)
                .select((
                    security_actions::occurred_at,
                    security_actions::actor_id,
                    security_actions::action,
                    security_actions::target,
                ))
                .load(conn)?;
            Ok((rows, total))
        })
        .await?;
    let items = rows
        .into_iter()
        .map(|(at, actor_id, action, target)| SecurityActionView {
            occurred_at: ms_to_rfc3339(at),
            actor_id,
            action,
            target,
        })
        .collect();
    Ok(web::Json(Page { items, total, page, per_page }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(revoke_user)
        .service(revoke_partner)
        .service(revoke_event)
        .service(suspend_partner)
        .service(rotate_token_key)
        .service(list_actions);
}
