//! Signed, short-lived access tokens (JWT, HS256 only).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::error::{AppError, AppResult};

pub const ISSUER: &str = "badgegate";
pub const AUDIENCE: &str = "badgegate-api";
pub const TOKEN_LIFETIME_SECS: i64 = 15 * 60;
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
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
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
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
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret).map_err(|e| format!("token secret: {e}"))?,
            decoding: DecodingKey::from_secret(secret).map_err(|e| format!("token secret: {e}"))?,
            validation,
        })
    }

    pub fn issue(
        &self,
        user_id: &str,
        role: Role,
        version: i32,
        event_id: Option<String>,
        partner_id: Option<String>,
    ) -> AppResult<String> {
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
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".to_string());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(AppError::internal)
    }

    /// Checks signature, algorithm, `typ`, issuer, audience and times. Every failure is the
    /// same 401: the caller learns nothing about which check failed.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AppError::Unauthorized)?;
        if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some("JWT") {
            return Err(AppError::Unauthorized);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthorized)?;
        let claims = data.claims;
        if claims.exp - claims.iat > TOKEN_LIFETIME_SECS {
            return Err(AppError::Unauthorized);
        }
        Ok(claims)
    }
}
