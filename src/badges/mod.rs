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

    /// The codes `input` may stand for, the most literal reading first; empty when it is
    /// no code at all.
    ///
    /// A QR payload (`BG1-` then the code) is read by a machine: taken as it is, in any
    /// case. A typed fallback is read by a person off a printed badge, so look-alikes of
    /// the printed alphabet (RFC 4648 base32: `A`–`Z`, `2`–`7`) are forgiven: any case,
    /// spaces and dashes anywhere or missing, `0` for `O`, and `1`, `I` and `L` for one
    /// another. `0` is not in the alphabet, so it can only mean `O`; `I` and `L` both are,
    /// so a `1` (or an `I` or `L` that may be a misreading) is tried both ways. The caller
    /// looks all readings up at once: a wrong reading matches no badge, as codes are 128
    /// random bits.
    pub fn readings(input: &str) -> Vec<BadgeCode> {
        let cleaned: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        let payload_prefix: String = PAYLOAD_PREFIX.chars().filter(|c| *c != '-').collect();
        // A payload is the prefix and exactly a code; no typed code is that long.
        if cleaned.len() == payload_prefix.len() + CODE_CHARS
            && let Some(code) = cleaned.get(payload_prefix.len()..)
            && cleaned.get(..payload_prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(&payload_prefix))
        {
            if let Some(exact) = BadgeCode::decode(&code.to_ascii_uppercase()) {
                return vec![exact];
            }
            // Not as a camera reads it: someone typed the payload; forgive as below.
            return typed_readings(code).iter().filter_map(|r| BadgeCode::decode(r)).collect();
        }
        typed_readings(&cleaned).iter().filter_map(|r| BadgeCode::decode(r)).collect()
    }

    fn decode(base32: &str) -> Option<BadgeCode> {
        let bytes = data_encoding::BASE32_NOPAD.decode(base32.as_bytes()).ok()?;
        let code: [u8; CODE_BYTES] = bytes.try_into().ok()?;
        Some(BadgeCode(code))
    }
}

/// Characters of a code in base32: 128 bits in 5-bit symbols.
const CODE_CHARS: usize = CODE_BYTES * 8 / 5 + 1;
/// At most this many `1`/`I`/`L` positions of a typed code are tried both ways (64
/// readings). A genuine code has 1.7 such letters on average and more than 6 about once in
/// 1,000 badges; positions past the limit keep their literal reading, so the code typed as
/// printed still resolves, and a hostile batch of `111…` costs 64 lookups a scan, not 2²⁶.
const MAX_AMBIGUOUS: usize = 6;

/// The printed-alphabet spellings a typed code may stand for (see [`BadgeCode::readings`]),
/// the literal one first; empty if a character has no look-alike in the alphabet or the
/// length is wrong.
fn typed_readings(cleaned: &str) -> Vec<String> {
    let mut literal: Vec<char> = Vec::with_capacity(CODE_CHARS);
    // (position, how likely a misreading): `1` and `l` are a guess either way; an `I` or
    // `L` typed as such is most likely right, so it is tried the other way only after them.
    let mut ambiguous: Vec<(usize, u8)> = Vec::new();
    for (i, c) in cleaned.chars().enumerate() {
        let upper = match c {
            '0' | 'o' | 'O' => 'O',
            '1' => 'I',
            c if c.is_ascii_alphabetic() || ('2'..='7').contains(&c) => c.to_ascii_uppercase(),
            _ => return Vec::new(),
        };
        match c {
            '1' | 'l' => ambiguous.push((i, 0)),
            'i' | 'I' | 'L' => ambiguous.push((i, 1)),
            _ => {}
        }
        literal.push(upper);
    }
    if literal.len() != CODE_CHARS {
        return Vec::new();
    }
    ambiguous.sort_by_key(|(_, rank)| *rank);
    ambiguous.truncate(MAX_AMBIGUOUS);
    let flips: u32 = 1 << ambiguous.len();
    (0..flips)
        .map(|mask| {
            let mut reading = literal.clone();
            for (bit, (pos, _)) in ambiguous.iter().enumerate() {
                if mask & (1 << bit) != 0
                    && let Some(c) = reading.get_mut(*pos)
                {
                    *c = if *c == 'I' { 'L' } else { 'I' };
                }
            }
            reading.into_iter().collect()
        })
        .collect()
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

    /// A code whose fallback holds the letters people misread, found by trying badge ids.
    fn code_with(key: &BadgeKey, wanted: &[char]) -> BadgeCode {
        (0..100_000)
            .map(|i| key.code_for(&format!("badge-{i}")).unwrap())
            .find(|c| wanted.iter().all(|w| c.fallback().contains(*w)))
            .unwrap()
    }

    fn resolves(typed: &str, code: &BadgeCode) -> bool {
        BadgeCode::readings(typed).iter().any(|r| r == code)
    }

    #[test]
    fn payload_and_typed_fallback_read_as_the_same_code() {
        let key = BadgeKey::new(&[1u8; 32]);
        let code = key.code_for("badge-1").unwrap();
        assert!(BadgeCode::readings(&code.payload()) == vec![code.clone()]);
        assert!(resolves(&code.fallback(), &code));
        assert!(resolves(&code.fallback().to_lowercase(), &code));
        assert!(resolves(&code.payload().to_lowercase(), &code));
        assert!(BadgeCode::readings("BG1-SHORT").is_empty());
        assert!(code.payload().len() == 30 && code.payload().starts_with("BG1-"));
        assert!(code.fallback().len() == 31, "five groups of five and a last of one");
    }

    #[test]
    fn typed_look_alikes_resolve_to_the_printed_code() {
        let key = BadgeKey::new(&[1u8; 32]);
        let code = code_with(&key, &['O', 'I', 'L']);
        let printed = code.fallback();
        let bare = printed.replace('-', "");
        let spaced: String =
            bare.chars().enumerate().flat_map(|(i, c)| if i % 4 == 3 { vec![c, ' '] } else { vec![c] }).collect();
        for typed in [
            printed.replace('O', "0"),
            printed.replace(['I', 'L'], "1"),
            printed.replace('I', "l").replace('L', "1").to_lowercase(),
            printed.replace('I', "L"),
            printed.replace('L', "i"),
            bare.clone(),
            bare.to_lowercase(),
            format!("  {spaced}  "),
            printed.replace('-', " - "),
            printed.replace('O', "o").replace('-', ""),
            format!("BG1-{}", bare.replace('O', "0")),
        ] {
            assert!(resolves(&typed, &code), "{typed} for {printed}");
        }
        // The code as printed is the first reading, so it never depends on the others.
        assert!(BadgeCode::readings(&printed).first() == Some(&code));
    }

    #[test]
    fn wrong_codes_and_foreign_characters_read_as_nothing_or_another_code() {
        let key = BadgeKey::new(&[1u8; 32]);
        let code = code_with(&key, &['A']);
        let printed = code.fallback();
        let wrong = printed.replacen('A', "B", 1);
        assert!(!resolves(&wrong, &code));
        assert!(!resolves(&format!("{printed}A"), &code), "one character too many");
        assert!(!resolves(printed.get(1..).unwrap(), &code), "one too few");
        for foreign in ['8', '9', 'Ö', '_', '.', '+'] {
            assert!(BadgeCode::readings(&printed.replacen('A', &foreign.to_string(), 1)).is_empty(), "{foreign}");
        }
    }

    #[test]
    fn readings_stay_few_however_ambiguous_the_text() {
        assert!(BadgeCode::readings(&"1".repeat(26)).len() <= 64);
        assert!(BadgeCode::readings(&"lI1L".repeat(7)).is_empty(), "28 characters");
        let key = BadgeKey::new(&[1u8; 32]);
        let code = key.code_for("badge-1").unwrap();
        let n = BadgeCode::readings(&code.fallback().replace(['I', 'L'], "1")).len();
        assert!((1..=64).contains(&n));
    }

    #[test]
    fn codes_depend_on_the_server_key() {
        let a = BadgeKey::new(&[1u8; 32]).code_for("badge-1").unwrap();
        let b = BadgeKey::new(&[2u8; 32]).code_for("badge-1").unwrap();
        assert!(a != b);
    }
}
