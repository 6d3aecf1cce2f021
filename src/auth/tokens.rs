//! Signed, short-lived access tokens (JWT, HS256 only).

use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::error::{AppError, AppResult};

pub const ISSUER: &str = "badgegate";
pub const AUDIENCE: &str = "badgegate-api";
pub const TOKEN_LIFETIME_SECS: i64 = 15 * 60;
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub role: Role,
    /// The user's token version when issued; bumping it in the database ends the token.
    pub ver: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptn: Option<String>,
    /// The device (scanner phone) the token was issued to, if any: the token ends with the
    /// device, not only after its 15 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
}

/// Whom a token is for: the account as read from the database, and the device when the
/// token goes to a signed-in phone.
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub role: Role,
    pub version: i32,
    pub event_id: Option<String>,
    pub partner_id: Option<String>,
    pub device_id: Option<String>,
}

/// Signing keys are derived from the token secret and the token generation kept in the
/// database: rotating the generation ends every token on every instance at once, while
/// the secret itself stays out of the database.
pub struct TokenKeys {
    secret: Vec<u8>,
    validation: Validation,
    /// The last generation this instance read from the database (-1: none yet). Only a
    /// shortcut for checking signatures: whoever accepts a token still compares the
    /// generation it was checked with against the database's ([`crate::auth::users::confirm`]),
    /// so a rotation made on another instance ends old tokens here at once.
    seen_generation: std::sync::atomic::AtomicI64,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Result<TokenKeys, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "nbf", "iat"]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECS;
        Ok(TokenKeys { secret: secret.to_vec(), validation, seen_generation: std::sync::atomic::AtomicI64::new(-1) })
    }

    fn key(&self, generation: i64) -> AppResult<Vec<u8>> {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secret).map_err(AppError::internal)?;
        mac.update(b"badgegate jwt v1\0");
        mac.update(&generation.to_be_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    pub fn issue(&self, generation: i64, subject: Subject<'_>) -> AppResult<String> {
        let Subject { user_id, role, version, event_id, partner_id, device_id } = subject;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            sub: user_id.to_string(),
            exp: now + TOKEN_LIFETIME_SECS,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            role,
            ver: version,
            evt: event_id,
            ptn: partner_id,
            dev: device_id,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".to_string());
        let key = EncodingKey::from_secret(&self.key(generation)?).map_err(AppError::internal)?;
        jsonwebtoken::encode(&header, &claims, &key).map_err(AppError::internal)
    }

    /// [`TokenKeys::verify`] with the generation this instance last read, when it has read
    /// one and the token was signed with it: answers the claims and that generation, to be
    /// confirmed against the database by the caller. `None`: read the generation and
    /// verify with it.
    pub fn verify_seen(&self, token: &str) -> Option<(Claims, i64)> {
        let generation = self.seen_generation.load(std::sync::atomic::Ordering::Relaxed);
        if generation < 0 {
            return None;
        }
        self.verify(token, generation).ok().map(|claims| (claims, generation))
    }

    /// Verifies with the generation just read from the database, and keeps it for
    /// [`TokenKeys::verify_seen`].
    pub fn verify_current(&self, token: &str, generation: i64) -> AppResult<(Claims, i64)> {
        self.seen_generation.store(generation, std::sync::atomic::Ordering::Relaxed);
        Ok((self.verify(token, generation)?, generation))
    }

    /// Checks signature, algorithm, `typ`, issuer, audience and times. Every failure is the
    /// same 401: the caller learns nothing about which check failed.
    pub fn verify(&self, token: &str, generation: i64) -> AppResult<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AppError::Unauthorized)?;
        if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some("JWT") {
            return Err(AppError::Unauthorized);
        }
        let key = DecodingKey::from_secret(&self.key(generation)?).map_err(AppError::internal)?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|_| AppError::Unauthorized)?;
        let claims = data.claims;
        if claims.exp - claims.iat > TOKEN_LIFETIME_SECS {
            return Err(AppError::Unauthorized);
        }
        Ok(claims)
    }
}

/// The settings key of the token generation; tokens of an older generation are refused.
pub const TOKEN_GENERATION: &str = "token_generation";

/// The token generation in force, shared by every instance through the database.
pub fn token_generation(conn: &mut crate::db::DbConn) -> AppResult<i64> {
    let value: String = crate::db::schema::settings::table
        .find(TOKEN_GENERATION)
        .select(crate::db::schema::settings::value)
        .first(conn)?;
    value.parse().map_err(crate::error::AppError::internal)
}
