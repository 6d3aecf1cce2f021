//! Browser sessions of the console and the portal: a server-side row behind a cookie.
//!
//! The cookie carries a random 256-bit token; the row's id is its SHA-256, so a copy of the
//! table signs nobody in. A session holds only while the user is enabled and keeps the
//! token version and the token-key generation it was opened with: every revocation the
//! API offers (password change or reset, "revoke sessions", disable, key rotation) ends
//! browser sessions as it ends bearer tokens. It also ends 30 minutes after the last
//! request and 12 hours after sign-in, whatever happens in between.

use diesel::prelude::*;

use super::secrets::{random_token, sha256_hex};
use super::users::{self, UserRow};
use super::{Caller, Role};
use crate::db::schema::browser_sessions;
use crate::db::{DbConn, now_ms};
use crate::error::{AppError, AppResult};

/// Idle limit: a session unused this long is over.
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// Absolute limit from sign-in.
pub const MAX_AGE_MS: i64 = 12 * 60 * 60 * 1000;
/// `last_seen_at` is written at most this often, so reading pages costs no write each.
pub const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// A session just opened: the cookie value (shown once, never stored) and who it is for.
pub struct Opened {
    pub token: String,
    pub user_id: String,
    pub role: Role,
}

/// A signed-in browser, as confirmed by the database.
#[derive(Debug, Clone)]
pub struct Current {
    pub caller: Caller,
    pub email: String,
    /// The session's CSRF token: every form of a signed-in page carries it.
    pub csrf: String,
    session_id: String,
    last_seen_at: i64,
}

impl Current {
    /// Whether this request should record itself in `last_seen_at` (see [`touch`]).
    pub fn needs_touch(&self, now: i64) -> bool {
        now - self.last_seen_at >= TOUCH_EVERY_MS
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = browser_sessions)]
struct SessionRow {
    id: String,
    user_id: String,
    csrf_token: String,
    token_version: i32,
    token_generation: i64,
    created_at: i64,
    last_seen_at: i64,
}

/// Opens a session for an account whose password was just checked (see
/// `session::sign_in`), in the caller's write transaction. The user's sessions that have
/// already ended are deleted on the way.
pub fn open(conn: &mut DbConn, user: &UserRow, generation: i64) -> AppResult<Opened> {
    let token = random_token(32).map_err(AppError::internal)?;
    let csrf = random_token(32).map_err(AppError::internal)?;
    let now = now_ms();
    diesel::delete(
        browser_sessions::table.filter(browser_sessions::user_id.eq(&user.id)).filter(
            browser_sessions::last_seen_at
                .le(now - IDLE_MS)
                .or(browser_sessions::created_at.le(now - MAX_AGE_MS))
                .or(browser_sessions::token_version.ne(user.token_version)),
        ),
    )
    .execute(conn)?;
    diesel::insert_into(browser_sessions::table)
        .values((
            browser_sessions::id.eq(sha256_hex(token.as_bytes())),
            browser_sessions::user_id.eq(&user.id),
            browser_sessions::csrf_token.eq(&csrf),
            browser_sessions::token_version.eq(user.token_version),
            browser_sessions::token_generation.eq(generation),
            browser_sessions::created_at.eq(now),
            browser_sessions::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Opened { token, user_id: user.id.clone(), role: user.role })
}

/// What a cookie stands for now.
pub enum Lookup {
    /// A session in force.
    Valid(Box<Current>),
    /// A row that has ended (idle, too old, revoked): the caller may delete it with [`end`].
    Ended,
    /// No such session.
    Unknown,
}

/// Looks a cookie's session up and applies every rule of the module comment. Reads only.
pub fn lookup(conn: &mut DbConn, token: &str, now: i64) -> AppResult<Lookup> {
    if token.is_empty() || token.len() > 128 {
        return Ok(Lookup::Unknown);
    }
    let Some(row) = browser_sessions::table
        .find(sha256_hex(token.as_bytes()))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(Lookup::Unknown);
    };
    if now - row.last_seen_at >= IDLE_MS || now - row.created_at >= MAX_AGE_MS {
        return Ok(Lookup::Ended);
    }
    let Some(user) = users::find(conn, &row.user_id)? else { return Ok(Lookup::Ended) };
    if user.disabled
        || user.token_version != row.token_version
        || crate::auth::tokens::token_generation(conn)? != row.token_generation
    {
        return Ok(Lookup::Ended);
    }
    Ok(Lookup::Valid(Box::new(Current {
        caller: Caller { user_id: user.id, role: user.role, event_id: user.event_id, partner_id: user.partner_id },
        email: user.email,
        csrf: row.csrf_token,
        session_id: row.id,
        last_seen_at: row.last_seen_at,
    })))
}

/// Records activity, at most once a minute per session (see [`Current::needs_touch`]).
pub fn touch(conn: &mut DbConn, current: &Current, now: i64) -> AppResult<()> {
    diesel::update(browser_sessions::table.find(&current.session_id))
        .set(browser_sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Ends the session a cookie stands for (sign-out, or a row found ended). Unknown tokens
/// are ignored: signing out twice is not an error.
pub fn end(conn: &mut DbConn, token: &str) -> AppResult<()> {
    diesel::delete(browser_sessions::table.find(sha256_hex(token.as_bytes()))).execute(conn)?;
    Ok(())
}
