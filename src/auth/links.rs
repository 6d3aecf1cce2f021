//! One-time links that let a user choose a password: the invitation of a new partner user
//! (72 h) and the password reset (1 h). Only the token's SHA-256 is stored; a link works
//! once, and issuing a new one ends the user's earlier links of the same purpose.

use diesel::prelude::*;

use super::secrets::{random_token, sha256_hex};
use super::users;
use crate::db::schema::{account_links, users as users_t};
use crate::db::{DbConn, now_ms, text_enum};
use crate::error::{AppError, AppResult};

text_enum! {
    pub enum LinkPurpose {
        Invitation = "invitation",
        PasswordReset = "password_reset",
    }
}

pub const INVITATION_HOURS: i64 = 72;
pub const RESET_MINUTES: i64 = 60;

/// The stored hash of an account without a usable password (invited, not yet accepted).
/// Not a PHC string, so no password ever verifies against it.
pub const NO_PASSWORD: &str = "";

impl LinkPurpose {
    fn lifetime_ms(self) -> i64 {
        match self {
            LinkPurpose::Invitation => INVITATION_HOURS * 3_600_000,
            LinkPurpose::PasswordReset => RESET_MINUTES * 60_000,
        }
    }

    /// The page path under the public URL.
    pub fn page(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "invite",
            LinkPurpose::PasswordReset => "reset",
        }
    }
}

/// Issues a link for `user_id` in the caller's transaction; answers the token (only the
/// mail carries it). Earlier unused links of the same purpose stop working.
pub fn issue(conn: &mut DbConn, user_id: &str, purpose: LinkPurpose) -> AppResult<String> {
    let token = random_token(32).map_err(AppError::internal)?;
    let now = now_ms();
    diesel::delete(
        account_links::table.filter(account_links::user_id.eq(user_id)).filter(account_links::purpose.eq(purpose)),
    )
    .execute(conn)?;
    diesel::insert_into(account_links::table)
        .values((
            account_links::token_hash.eq(sha256_hex(token.as_bytes())),
            account_links::user_id.eq(user_id),
            account_links::purpose.eq(purpose),
            account_links::expires_at.eq(now + purpose.lifetime_ms()),
            account_links::used_at.eq(None::<i64>),
            account_links::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Whether a link is currently usable (for the page's form); nothing is changed.
pub fn is_valid(conn: &mut DbConn, token: &str, purpose: LinkPurpose) -> AppResult<bool> {
    Ok(find_valid(conn, token, purpose)?.is_some())
}

fn find_valid(conn: &mut DbConn, token: &str, purpose: LinkPurpose) -> AppResult<Option<String>> {
    Ok(account_links::table
        .find(sha256_hex(token.as_bytes()))
        .filter(account_links::purpose.eq(purpose))
        .filter(account_links::used_at.is_null())
        .filter(account_links::expires_at.gt(now_ms()))
        .select(account_links::user_id)
        .first::<String>(conn)
        .optional()?)
}

/// Uses a link in the caller's write transaction: sets the password hash, marks the link
/// used and ends every session of the account. Answers the user id. An unknown, used or
/// expired token is one answer (`token` is not valid).
pub fn redeem(conn: &mut DbConn, token: &str, purpose: LinkPurpose, password_hash: &str) -> AppResult<String> {
    let invalid = || AppError::field("token", "is not valid, already used or expired");
    let user_id = find_valid(conn, token, purpose)?.ok_or_else(invalid)?;
    let user = users::find(conn, &user_id)?.ok_or_else(invalid)?;
    if user.disabled {
        return Err(invalid());
    }
    diesel::update(account_links::table.find(sha256_hex(token.as_bytes())))
        .set(account_links::used_at.eq(Some(now_ms())))
        .execute(conn)?;
    diesel::update(users_t::table.find(&user_id)).set(users_t::password_hash.eq(password_hash)).execute(conn)?;
    users::bump_token_version(conn, &user_id)?;
    Ok(user_id)
}
