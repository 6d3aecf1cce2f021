//! Logging in and changing one's password, with the per-address throttle: the rules, away
//! from HTTP. The handlers in `handlers.rs` parse and answer.

use std::sync::Arc;

use diesel::prelude::*;

use super::links::{self, LinkPurpose};
use super::passwords::{self, Passwords};
use super::throttle::{Attempt, LoginThrottle, THROTTLE_AFTER_FAILURES};
use super::tokens::TokenKeys;
use super::{Role, users};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// What a successful login hands out.
pub struct Session {
    pub access_token: String,
    pub role: Role,
}

/// The services a login needs: the database, the throttle, the hasher, the token keys.
pub struct LoginServices<'a> {
    pub db: &'a Db,
    pub throttle: Arc<LoginThrottle>,
    pub passwords: &'a Passwords,
    pub tokens: &'a TokenKeys,
}

/// Checks an e-mail and password and hands out a bearer token (the API).
pub async fn login(s: &LoginServices<'_>, email: &str, password: String) -> AppResult<Session> {
    let (user, generation) = check_credentials(s, email, password).await?;
    let role = user.role;
    let access_token = s.tokens.issue(generation, user.subject())?;
    tracing::info!(user_id = %user.id, role = role.as_str(), "login");
    Ok(Session { access_token, role })
}

/// Checks an e-mail and password and opens a browser session (the `/login` page): the same
/// throttle and the same answers as [`login`].
pub async fn sign_in(s: &LoginServices<'_>, email: &str, password: String) -> AppResult<super::browser::Opened> {
    let (user, generation) = check_credentials(s, email, password).await?;
    let opened = s.db.write(move |conn| super::browser::open(conn, &user, generation)).await?;
    tracing::info!(user_id = %opened.user_id, role = opened.role.as_str(), "browser sign-in");
    Ok(opened)
}

/// The one credential check of both logins. The attempt is reserved, for known and unknown
/// addresses alike, before any hashing; unknown address and wrong password answer alike.
/// Answers the account and the token generation read with it.
pub async fn check_credentials(
    s: &LoginServices<'_>,
    email: &str,
    password: String,
) -> AppResult<(users::UserRow, i64)> {
    let email = users::normalise_email(email);
    let key = s.throttle.key_for(&email)?;
    let throttle = s.throttle.clone();
    let reserve_key = key.clone();
    let (attempt, user, generation) =
        s.db.write(move |conn| {
            let attempt = throttle.reserve(conn, &reserve_key)?;
            Ok((attempt, users::find_by_email(conn, &email)?, crate::auth::tokens::token_generation(conn)?))
        })
        .await?;
    let user_id = user.as_ref().map(|u| u.id.as_str());
    match attempt {
        Attempt::Locked { .. } => log_throttled(user_id, "login refused: address throttled"),
        Attempt::Allowed { locked_secs: Some(secs), .. } => {
            tracing::warn!(user_id, lock_secs = secs, "address throttled after repeated login failures")
        }
        Attempt::Allowed { .. } => {}
    }
    attempt.into_result()?;

    // An invited account that has not chosen its password verifies against the dummy hash,
    // like an unknown address: same cost, same answer.
    let usable = user.as_ref().filter(|u| !u.disabled && u.password_hash != links::NO_PASSWORD);
    let ok = s.passwords.verify(usable.map(|u| u.password_hash.clone()), password).await?;
    // A failure needs no write: the reservation already counted it.
    let Some(user) = user.filter(|u| ok && !u.disabled) else { return Err(AppError::Unauthorized) };
    let throttle = s.throttle.clone();
    s.db.write(move |conn| throttle.clear(conn, &key)).await?;
    Ok((user, generation))
}

/// Names the account when there is one; an address without one is not logged.
fn log_throttled(user_id: Option<&str>, message: &'static str) {
    match user_id {
        Some(user_id) => tracing::warn!(user_id, "{message}"),
        None => tracing::warn!("{message} (no account)"),
    }
}

/// Changes one's own password; every outstanding token of the account ends. A wrong
/// current password counts as a failed login of the account.
pub async fn change_password(
    s: &LoginServices<'_>,
    user_id: &str,
    current_password: String,
    new_password: String,
) -> AppResult<()> {
    passwords::check_policy("new_password", &new_password).map_err(|e| AppError::Validation(vec![e]))?;
    let uid = user_id.to_string();
    let row = s.db.read(move |conn| users::find(conn, &uid)).await?.ok_or(AppError::Unauthorized)?;
    let key = s.throttle.key_for(&users::normalise_email(&row.email))?;
    let throttle = s.throttle.clone();
    let reserve_key = key.clone();
    let attempt = s.db.write(move |conn| throttle.reserve(conn, &reserve_key)).await?;
    if let Attempt::Locked { .. } = attempt {
        log_throttled(Some(&row.id), "password change refused: account throttled");
    }
    let Attempt::Allowed { failures, .. } = attempt.into_result()? else {
        return Err(AppError::internal("throttle answered neither allowed nor locked"));
    };
    if !s.passwords.verify(Some(row.password_hash), current_password).await? {
        if failures >= THROTTLE_AFTER_FAILURES {
            // Whoever holds this token keeps guessing the password: end its sessions.
            let user_id = row.id.clone();
            s.db.write(move |conn| users::bump_token_version(conn, &user_id)).await?;
            tracing::warn!(user_id = %row.id, "tokens revoked after repeated wrong current passwords");
        }
        return Err(AppError::field("current_password", "is not the current password"));
    }
    let hash = s.passwords.hash(new_password).await?;
    let uid = user_id.to_string();
    let throttle = s.throttle.clone();
    s.db.write(move |conn| {
        diesel::update(crate::db::schema::users::table.find(&uid))
            .set(crate::db::schema::users::password_hash.eq(hash))
            .execute(conn)?;
        users::bump_token_version(conn, &uid)?;
        throttle.clear(conn, &key)?;
        Ok(())
    })
    .await?;
    tracing::info!(user_id = %user_id, "password changed; tokens revoked");
    Ok(())
}

/// Sets the password of the account a one-time link (invitation or reset) belongs to; the
/// link is used up and every session of the account ends. The password is checked against
/// the policy and hashed before the link is looked at, so a bad token and a good one cost
/// the same.
pub async fn set_password_by_link(
    s: &LoginServices<'_>,
    purpose: LinkPurpose,
    token: String,
    password: String,
) -> AppResult<(String, super::Role)> {
    passwords::check_policy("password", &password).map_err(|e| AppError::Validation(vec![e]))?;
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::field("token", "is not valid, already used or expired"));
    }
    let hash = s.passwords.hash(password).await?;
    let throttle = s.throttle.clone();
    let user =
        s.db.write(move |conn| {
            let user_id = links::redeem(conn, &token, purpose, &hash)?;
            let user = users::find(conn, &user_id)?.ok_or(AppError::NotFound)?;
            // A chosen password ends the address's failed-login count.
            throttle.clear(conn, &throttle.key_for(&user.email)?)?;
            Ok(user)
        })
        .await?;
    tracing::info!(user_id = %user.id, purpose = purpose.as_str(), "password set through a one-time link; tokens revoked");
    Ok((user.email, user.role))
}

/// What a password reset request needs besides the login services.
pub struct ResetMail {
    pub key: crate::mail::OutboxKey,
    /// The public base URL the link starts with.
    pub public_url: String,
}

/// A password reset request. The per-address throttle counts it (known address or not);
/// then the answer is given before the account is even looked up: the lookup, the link
/// and the queued mail happen in a task of their own, so neither the answer nor its timing
/// tells whether the address has an account.
pub async fn request_password_reset(s: &LoginServices<'_>, mail: ResetMail, email: &str) -> AppResult<()> {
    let email = users::normalise_email(email);
    users::check_email("email", &email).map_err(|e| AppError::Validation(vec![e]))?;
    let key = s.throttle.key_for(&email)?;
    let throttle = s.throttle.clone();
    let attempt = s.db.write(move |conn| throttle.reserve(conn, &key)).await?;
    if let Attempt::Locked { .. } = attempt {
        tracing::warn!("password reset refused: address throttled");
    }
    attempt.into_result()?;
    let db = s.db.clone();
    tokio::spawn(async move {
        let outcome = db
            .write(move |conn| {
                let Some(user) = users::find_by_email(conn, &email)? else { return Ok(None) };
                if user.disabled {
                    return Ok(None);
                }
                let token = links::issue(conn, &user.id, LinkPurpose::PasswordReset)?;
                let body = crate::mail::Body::PasswordReset(crate::mail::accounts::ResetFacts {
                    link: format!("{}/{}/{token}", mail.public_url, LinkPurpose::PasswordReset.page()),
                    valid_minutes: links::RESET_MINUTES,
                });
                crate::mail::enqueue(
                    conn,
                    &mail.key,
                    &crate::mail::NewMail {
                        kind: crate::mail::MailKind::PasswordReset,
                        event_id: user.event_id.clone(),
                        attendee_id: None,
                        to: user.email.clone(),
                        subject: crate::mail::accounts::RESET_SUBJECT.to_string(),
                        body,
                    },
                )?;
                Ok(Some(user.id))
            })
            .await;
        match outcome {
            Ok(Some(user_id)) => tracing::info!(user_id = %user_id, "password reset link queued"),
            Ok(None) => tracing::info!("password reset asked for an address without a usable account"),
            Err(e) => tracing::error!(error = %e, "password reset could not be queued"),
        }
    });
    Ok(())
}
