//! Badge credentials and their QR rendering.
//!
//! A badge code is HMAC-SHA256(server key, badge id) cut to 128 bits. The database keeps
//! only SHA-256 of the code, for lookup: a copy of the database yields no scannable code,
//! yet the server can render the same badge again for a reprint. Codes carry no personal
//! data.

pub mod handlers;

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use qrcode::{EcLevel, QrCode};
use sha2::Sha256;

use crate::db::schema::badges;
use crate::db::{DbConn, new_sequential_id, now_ms};
use crate::error::{AppError, AppResult};

pub use handlers::routes;

const CODE_BYTES: usize = 16;
/// Prefix of the QR payload: lets a phone tell our badges from other QR codes.
pub const PAYLOAD_PREFIX: &str = "BG1-";

pub struct BadgeKey(Vec<u8>);

impl BadgeKey {
    pub fn new(secret: &[u8]) -> BadgeKey {
        BadgeKey(secret.to_vec())
    }

    pub fn code_for(&self, badge_id: &str) -> AppResult<BadgeCode> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).map_err(AppError::internal)?;
        mac.update(b"badgegate badge v1\0");
        mac.update(badge_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut code = [0u8; CODE_BYTES];
        code.copy_from_slice(digest.get(..CODE_BYTES).ok_or_else(|| AppError::internal("digest shorter than a code"))?);
        Ok(BadgeCode(code))
    }

    /// A 32-byte key for another purpose, derived so that the badge secret itself is never
    /// used twice (the outbox seals bodies with one).
    pub fn derive(&self, purpose: &[u8]) -> AppResult<[u8; 32]> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).map_err(AppError::internal)?;
        mac.update(purpose);
        Ok(mac.finalize().into_bytes().into())
    }

    /// The participant's unsubscribe token: derived, so the server can show it again, and
    /// opaque (no personal data). The same key serves both: both are server-held secrets
    /// that a database copy must not reveal.
    pub fn unsubscribe_token(&self, attendee_id: &str) -> AppResult<String> {
        use base64::Engine;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).map_err(AppError::internal)?;
        mac.update(b"badgegate unsubscribe v1\0");
        mac.update(attendee_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let token = digest.get(..24).ok_or_else(|| AppError::internal("digest shorter than a token"))?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token))
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct BadgeCode([u8; CODE_BYTES]);

impl BadgeCode {
    fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// What the QR code holds: uppercase letters, digits and `-`, so QR alphanumeric mode
    /// keeps the symbol small.
    pub fn payload(&self) -> String {
        format!("{PAYLOAD_PREFIX}{}", self.base32())
    }

    /// The same credential grouped for typing when a camera fails.
    pub fn fallback(&self) -> String {
        let s = self.base32();
        let chunks: Vec<String> = s.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        chunks.join("-")
    }

    pub fn lookup_hash(&self) -> String {
        crate::auth::secrets::sha256_hex(&self.0)
    }

    /// Accepts the QR payload or the typed fallback (any case, spaces and dashes ignored).
    pub fn parse(input: &str) -> Option<BadgeCode> {
        let trimmed = input.trim();
        let body = trimmed
            .get(..PAYLOAD_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(PAYLOAD_PREFIX))
            .map(|_| &trimmed[PAYLOAD_PREFIX.len()..])
            .unwrap_or(trimmed);
        let cleaned: String =
            body.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
        if cleaned.len() != 26 {
            return None;
        }
        let bytes = data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).ok()?;
        let code: [u8; CODE_BYTES] = bytes.try_into().ok()?;
        Some(BadgeCode(code))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = badges, treat_none_as_default_value = false)]
pub struct BadgeRow {
    pub id: String,
    pub event_id: String,
    pub attendee_id: String,
    pub code_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Makes a new badge row (not yet inserted) and its code.
pub fn new_badge(key: &BadgeKey, event_id: &str, attendee_id: &str) -> AppResult<(BadgeRow, BadgeCode)> {
    let id = new_sequential_id();
    let code = key.code_for(&id)?;
    let row = BadgeRow {
        code_hash: code.lookup_hash(),
        id,
        event_id: event_id.to_string(),
        attendee_id: attendee_id.to_string(),
        created_at: now_ms(),
        revoked_at: None,
    };
    Ok((row, code))
}

pub fn issue(conn: &mut DbConn, key: &BadgeKey, event_id: &str, attendee_id: &str) -> AppResult<BadgeCode> {
    let (row, code) = new_badge(key, event_id, attendee_id)?;
    diesel::insert_into(badges::table).values(&row).execute(conn)?;
    Ok(code)
}

pub fn current(conn: &mut DbConn, attendee_id: &str) -> AppResult<Option<BadgeRow>> {
    Ok(badges::table
        .filter(badges::attendee_id.eq(attendee_id))
        .filter(badges::revoked_at.is_null())
        .select(BadgeRow::as_select())
        .first(conn)
        .optional()?)
}

/// The badge a scanned code belongs to, revoked or not (the caller decides what that means).
pub fn resolve(conn: &mut DbConn, code: &BadgeCode) -> AppResult<Option<BadgeRow>> {
    Ok(badges::table
        .filter(badges::code_hash.eq(code.lookup_hash()))
        .select(BadgeRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn revoke_all(conn: &mut DbConn, attendee_id: &str) -> AppResult<()> {
    diesel::update(badges::table.filter(badges::attendee_id.eq(attendee_id)).filter(badges::revoked_at.is_null()))
        .set(badges::revoked_at.eq(Some(now_ms())))
        .execute(conn)?;
    Ok(())
}

/// Revokes the current badge and issues a new one; the old code stops resolving at once.
pub fn reissue(conn: &mut DbConn, key: &BadgeKey, event_id: &str, attendee_id: &str) -> AppResult<BadgeCode> {
    revoke_all(conn, attendee_id)?;
    issue(conn, key, event_id, attendee_id)
}

fn qr(payload: &str) -> AppResult<QrCode> {
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).map_err(AppError::internal)
}

const QUIET_ZONE: usize = 4;
const MODULE_PX: usize = 6;

/// PNG, 8-bit grey, 4-module quiet zone.
pub fn render_png(payload: &str) -> AppResult<Vec<u8>> {
    let code = qr(payload)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET_ZONE) * MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % width + QUIET_ZONE, i / width + QUIET_ZONE);
            for dy in 0..MODULE_PX {
                let start = (my * MODULE_PX + dy) * side + mx * MODULE_PX;
                if let Some(run) = pixels.get_mut(start..start + MODULE_PX) {
                    run.fill(0);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(side * side / 8);
    let side32 = u32::try_from(side).map_err(AppError::internal)?;
    let mut encoder = png::Encoder::new(&mut out, side32, side32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(AppError::internal)?;
    writer.write_image_data(&pixels).map_err(AppError::internal)?;
    writer.finish().map_err(AppError::internal)?;
    Ok(out)
}

pub fn render_svg(payload: &str) -> AppResult<String> {
    let code = qr(payload)?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().quiet_zone(true).min_dimensions(240, 240).build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payload_and_typed_fallback_parse_to_the_same_code() {
        let key = BadgeKey::new(&[1u8; 32]);
        let code = key.code_for("badge-1").unwrap();
        assert_eq!(BadgeCode::parse(&code.payload()).unwrap().payload(), code.payload());
        assert_eq!(BadgeCode::parse(&code.fallback().to_lowercase()).unwrap().payload(), code.payload());
        assert!(BadgeCode::parse("BG1-SHORT").is_none());
        assert!(code.payload().len() == 30 && code.payload().starts_with("BG1-"));
    }

    #[test]
    fn codes_depend_on_the_server_key() {
        let a = BadgeKey::new(&[1u8; 32]).code_for("badge-1").unwrap();
        let b = BadgeKey::new(&[2u8; 32]).code_for("badge-1").unwrap();
        assert!(a != b);
    }
}
