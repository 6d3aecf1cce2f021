//! Who is calling, read from the request: a staff or partner bearer token checked against
//! an access policy, or a participant's personal-link token.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use crate::auth::tokens::TokenKeys;
use crate::auth::{Caller, Policy, users};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// Extractor: a valid bearer token whose role the policy `P` admits. Handlers without one
/// are public, so every protected handler names its policy in its signature.
pub struct Auth<P: Policy> {
    pub caller: Caller,
    _policy: PhantomData<P>,
}

fn data<T: 'static>(req: &HttpRequest) -> AppResult<web::Data<T>> {
    req.app_data::<web::Data<T>>().cloned().ok_or_else(|| AppError::internal("application data missing"))
}

/// What a token check needs from the request (an error, such as no bearer token, is
/// answered by the check's future), and the request body's gate, held shut until the
/// check passes.
type Presentation = (AppResult<(web::Data<Db>, web::Data<TokenKeys>, String)>, crate::http::json::BodyGateOpener);

fn presentation(req: &HttpRequest) -> Presentation {
    let token = bearer_token(req).ok_or(AppError::Unauthorized);
    let parts = data::<Db>(req).and_then(|db| Ok((db, data::<TokenKeys>(req)?, token?)));
    (parts, crate::http::json::hold_body_until_authenticated(req))
}

/// The access policy's verdict on a checked role; the body is read only once it passes.
fn admit<P: Policy>(role: crate::auth::Role, body_gate: crate::http::json::BodyGateOpener) -> AppResult<()> {
    if !P::allows(role) {
        return Err(AppError::Forbidden);
    }
    body_gate.open();
    Ok(())
}

impl<P: Policy> FromRequest for Auth<P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (parts, body_gate) = presentation(req);
        Box::pin(async move {
            let (db, keys, token) = parts?;
            let caller = db.read(move |conn| users::authenticate(conn, &keys, &token)).await?;
            admit::<P>(caller.role, body_gate)?;
            Ok(Auth { caller, _policy: PhantomData })
        })
    }
}

/// Extractor for the single-scan endpoint, which every phone at a booth calls many times
/// a minute: the token's signature, times and role are checked here, without the database
/// when the token was signed with the generation this instance last read. Whether the
/// account, its device and that generation still hold is confirmed by the scan writer in
/// the transaction that stores the scan ([`users::confirm`]): a revoked token stores
/// nothing and answers 401, one statement for a whole group of scans instead of one per
/// request. A refused token of a revoked account may meet a 422 for a malformed body
/// first; it learns nothing by that.
pub struct Presented<P: Policy> {
    pub claims: crate::auth::tokens::Claims,
    /// The token generation its signature was checked with.
    pub generation: i64,
    _policy: PhantomData<P>,
}

impl<P: Policy> FromRequest for Presented<P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (parts, body_gate) = presentation(req);
        Box::pin(async move {
            let (db, keys, token) = parts?;
            let (claims, generation) = match keys.verify_seen(&token) {
                Some(verified) => verified,
                None => {
                    db.read(move |conn| keys.verify_current(&token, crate::auth::tokens::token_generation(conn)?))
                        .await?
                }
            };
            admit::<P>(claims.role, body_gate)?;
            Ok(Presented { claims, generation, _policy: PhantomData })
        })
    }
}

pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// Extractor for `/api/v1/me*`: the personal link's token as a bearer token.
pub struct Participant {
    pub token: String,
}

impl FromRequest for Participant {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let db = data::<Db>(req);
        let body_gate = crate::http::json::hold_body_until_authenticated(req);
        Box::pin(async move {
            let token = token.ok_or(AppError::Unauthorized)?;
            let db = db?;
            // Checked here, not only in the handler, so a dead link gets its 401 before the
            // body is read (see `hold_body_until_authenticated`).
            let t = token.clone();
            db.read(move |conn| match crate::rights::by_privacy_token(conn, &t) {
                Ok(_) => Ok(()),
                Err(AppError::NotFound) => Err(AppError::Unauthorized),
                Err(other) => Err(other),
            })
            .await?;
            body_gate.open();
            Ok(Participant { token })
        })
    }
}
