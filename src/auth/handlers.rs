//! `POST /api/v1/auth/login`, `GET /api/v1/auth/me`.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::throttle::{Attempt, THROTTLE_AFTER_FAILURES};
use super::{AnyUser, Auth, Role, tokens::TOKEN_LIFETIME_SECS, users};
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::http::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub event_id: Option<String>,
    pub partner_id: Option<String>,
}

/// Log in with e-mail and password; answers a bearer token valid for 15 minutes.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Unknown e-mail or wrong password (same answer for both)", body = Problem),
        (status = 429, description = "Too many failures for this address (known or not), or too many attempts from this client; see Retry-After", body = Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(state: web::Data<AppState>, body: ApiJson<LoginRequest>) -> AppResult<HttpResponse> {
    let LoginRequest { email, password } = body.into_inner();
    let email = users::normalise_email(&email);
    let key = state.login_throttle.key_for(&email)?;
    // The attempt is reserved, for known and unknown addresses alike, before any hashing.
    let s = state.clone();
    let reserve_key = key.clone();
    let (attempt, user, generation) = state
        .db
        .write(move |conn| {
            let attempt = s.login_throttle.reserve(conn, &reserve_key)?;
            Ok((attempt, users::find_by_email(conn, &email)?, crate::security::token_generation(conn)?))
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

    let usable = user.as_ref().filter(|u| !u.disabled);
    let ok = state.passwords.verify(usable.map(|u| u.password_hash.clone()), password).await?;
    // A failure needs no write: the reservation already counted it.
    let Some(user) = user.filter(|u| ok && !u.disabled) else { return Err(AppError::Unauthorized) };
    let role = user.role;

    let s = state.clone();
    state.db.write(move |conn| s.login_throttle.clear(conn, &key)).await?;
    let access_token =
        state.tokens.issue(generation, &user.id, role, user.token_version, user.event_id, user.partner_id)?;
    tracing::info!(user_id = %user.id, role = role.as_str(), "login");
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(LoginResponse {
        access_token,
        token_type: "Bearer",
        expires_in: TOKEN_LIFETIME_SECS,
        role,
    }))
}

/// Names the account when there is one; an address without one is not logged.
fn log_throttled(user_id: Option<&str>, message: &'static str) {
    match user_id {
        Some(user_id) => tracing::warn!(user_id, "{message}"),
        None => tracing::warn!("{message} (no account)"),
    }
}

/// The caller's own account.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = MeResponse), (status = 401, body = Problem)))]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, auth: Auth<AnyUser>) -> AppResult<web::Json<MeResponse>> {
    let caller = auth.caller;
    let user_id = caller.user_id.clone();
    let row = state.db.run(move |conn| users::find(conn, &user_id)).await?.ok_or(AppError::Unauthorized)?;
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    body: ApiJson<ChangePassword>,
) -> AppResult<HttpResponse> {
    let ChangePassword { current_password, new_password } = body.into_inner();
    super::passwords::check_policy("new_password", &new_password).map_err(|e| AppError::Validation(vec![e]))?;
    let user_id = auth.caller.user_id.clone();
    let row = state.db.run(move |conn| users::find(conn, &user_id)).await?.ok_or(AppError::Unauthorized)?;
    // A wrong current password is a failed login of this account: same count, same lock.
    let key = state.login_throttle.key_for(&users::normalise_email(&row.email))?;
    let s = state.clone();
    let reserve_key = key.clone();
    let attempt = state.db.write(move |conn| s.login_throttle.reserve(conn, &reserve_key)).await?;
    if let Attempt::Locked { .. } = attempt {
        log_throttled(Some(&row.id), "password change refused: account throttled");
    }
    let Attempt::Allowed { failures, .. } = attempt.into_result()? else {
        return Err(AppError::internal("throttle answered neither allowed nor locked"));
    };
    if !state.passwords.verify(Some(row.password_hash), current_password).await? {
        if failures >= THROTTLE_AFTER_FAILURES {
            // Whoever holds this token keeps guessing the password: end its sessions.
            let user_id = row.id.clone();
            state.db.write(move |conn| users::bump_token_version(conn, &user_id)).await?;
            tracing::warn!(user_id = %row.id, "tokens revoked after repeated wrong current passwords");
        }
        return Err(AppError::field("current_password", "is not the current password"));
    }
    let hash = state.passwords.hash(new_password).await?;
    let user_id = auth.caller.user_id.clone();
    let s = state.clone();
    state
        .db
        .write(move |conn| {
            use diesel::prelude::*;
            diesel::update(crate::db::schema::users::table.find(&user_id))
                .set(crate::db::schema::users::password_hash.eq(hash))
                .execute(conn)?;
            users::bump_token_version(conn, &user_id)?;
            s.login_throttle.clear(conn, &key)?;
            Ok(())
        })
        .await?;
    tracing::info!(user_id = %auth.caller.user_id, "password changed; tokens revoked");
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login).service(me).service(change_password);
}
