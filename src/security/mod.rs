//! Incident containment: end sessions (of a user, a partner, an event's partners), suspend
//! a partner's exports and lead reads, rotate the token signing key. Admin only; every
//! action is recorded with who and when.

pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{partners, security_actions, settings, users};
use crate::db::{DbConn, ms_to_rfc3339, new_id, now_ms};
use crate::devices::{self, RevokeReason};
use crate::error::{AppError, AppResult};
use crate::paging::{Page, PageQuery};
use crate::{events, partners as partner_domain};

use crate::auth::tokens::{TOKEN_GENERATION, token_generation};

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
    devices::end_for_partners(conn, partner_ids, RevokeReason::SessionsRevoked)?;
    Ok(diesel::update(users::table.filter(users::partner_id.eq_any(partner_ids)))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?)
}

/// Ends every token of one user.
pub fn revoke_user(conn: &mut DbConn, actor: &str, user_id: &str) -> AppResult<Revoked> {
    let n = crate::auth::users::bump_token_version(conn, user_id)?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    devices::end_for_users(conn, &[user_id.to_string()], RevokeReason::SessionsRevoked)?;
    record(conn, actor, "revoke_user_sessions", Some(user_id))?;
    Ok(Revoked { users: n })
}

/// Ends every token of every user of one partner.
pub fn revoke_partner(conn: &mut DbConn, actor: &str, event_id: &str, partner_id: &str) -> AppResult<Revoked> {
    partner_domain::find_in_event(conn, event_id, partner_id)?;
    let n = revoke_where_partner_in(conn, &[partner_id.to_string()])?;
    record(conn, actor, "revoke_partner_sessions", Some(partner_id))?;
    Ok(Revoked { users: n })
}

/// Ends every token of every partner user of an event.
pub fn revoke_event(conn: &mut DbConn, actor: &str, event_id: &str) -> AppResult<Revoked> {
    events::find(conn, event_id)?;
    let ids: Vec<String> = partners::table.filter(partners::event_id.eq(event_id)).select(partners::id).load(conn)?;
    let n = revoke_where_partner_in(conn, &ids)?;
    record(conn, actor, "revoke_event_partner_sessions", Some(event_id))?;
    Ok(Revoked { users: n })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    pub suspended: bool,
}

/// Suspends (or restores) a partner's exports and lead reads; scans are still recorded.
pub fn suspend_partner(
    conn: &mut DbConn,
    actor: &str,
    event_id: &str,
    partner_id: &str,
    suspended: bool,
) -> AppResult<()> {
    partner_domain::find_in_event(conn, event_id, partner_id)?;
    diesel::update(partners::table.find(partner_id)).set(partners::leads_suspended.eq(suspended)).execute(conn)?;
    record(conn, actor, if suspended { "suspend_partner" } else { "restore_partner" }, Some(partner_id))
}

#[derive(Serialize, ToSchema)]
pub struct Rotated {
    pub token_generation: i64,
}

/// Rotates the token signing key: the generation in the database moves on, so every
/// outstanding token ends at once on every instance.
pub fn rotate_token_key(conn: &mut DbConn, actor: &str) -> AppResult<Rotated> {
    let next = token_generation(conn)? + 1;
    diesel::update(settings::table.find(TOKEN_GENERATION)).set(settings::value.eq(next.to_string())).execute(conn)?;
    devices::end_all(conn, RevokeReason::TokenKeyRotated)?;
    record(conn, actor, "rotate_token_key", None)?;
    Ok(Rotated { token_generation: next })
}

#[derive(Serialize, ToSchema)]
pub struct SecurityActionView {
    pub occurred_at: String,
    pub actor_id: String,
    pub action: String,
    pub target: Option<String>,
}

/// The containment actions taken, newest first.
pub fn list_actions(conn: &mut DbConn, paging: &PageQuery) -> AppResult<Page<SecurityActionView>> {
    let (page, per_page) = paging.resolve()?;
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
    let items = rows
        .into_iter()
        .map(|(at, actor_id, action, target)| SecurityActionView {
            occurred_at: ms_to_rfc3339(at),
            actor_id,
            action,
            target,
        })
        .collect();
    Ok(Page { items, total, page, per_page })
}
