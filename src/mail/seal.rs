//! Sealing of outbox bodies. A body carries the participant's privacy link and badge code,
//! which the database otherwise keeps only as hashes; a copy of the database must not
//! reveal them. The key is derived from the badge secret, which every instance sharing
//! the database already holds.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::message::Body;
use crate::error::{AppError, AppResult};

const NONCE_BYTES: usize = 24;

#[derive(Clone)]
pub struct OutboxKey(XChaCha20Poly1305);

impl std::fmt::Debug for OutboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboxKey(..)")
    }
}

impl OutboxKey {
    pub fn from_badge_key(key: &crate::badges::BadgeKey) -> AppResult<OutboxKey> {
        let bytes = key.derive(b"badgegate outbox v1\0")?;
        Ok(OutboxKey(XChaCha20Poly1305::new(&bytes.into())))
    }

    /// `base64(nonce || ciphertext)`.
    pub fn seal(&self, body: &Body) -> AppResult<String> {
        let plain = serde_json::to_vec(body).map_err(AppError::internal)?;
        self.seal_bytes(&plain)
    }

    /// Seals a short text kept beside the outbox (a name on a deletion notice) the same way.
    pub fn seal_text(&self, text: &str) -> AppResult<String> {
        self.seal_bytes(text.as_bytes())
    }

    pub fn open_text(&self, stored: &str) -> AppResult<String> {
        String::from_utf8(self.open_bytes(stored)?).map_err(AppError::internal)
    }

    fn seal_bytes(&self, plain: &[u8]) -> AppResult<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(AppError::internal)?;
        let sealed = self.0.encrypt(XNonce::from_slice(&nonce), plain).map_err(AppError::internal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, stored: &str) -> AppResult<Body> {
        serde_json::from_slice(&self.open_bytes(stored)?).map_err(AppError::internal)
    }

    fn open_bytes(&self, stored: &str) -> AppResult<Vec<u8>> {
        let raw = base64::engine::general_purpose::STANDARD.decode(stored).map_err(AppError::internal)?;
        let (nonce, sealed) =
            raw.split_at_checked(NONCE_BYTES).ok_or_else(|| AppError::internal("sealed body too short"))?;
        self.0.decrypt(XNonce::from_slice(nonce), sealed).map_err(|_| {
            AppError::internal("an outbox body does not open with this key (was the badge secret changed?)")
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_body_opens_only_with_its_key_and_hides_its_text() {
        let a = OutboxKey::from_badge_key(&crate::badges::BadgeKey::new(&[1u8; 32])).unwrap();
        let b = OutboxKey::from_badge_key(&crate::badges::BadgeKey::new(&[2u8; 32])).unwrap();
        let body = Body::Confirmation(crate::mail::confirmation::Facts {
            name: "Ann".into(),
            event: "Expo".into(),
            privacy_url: "https://x/me/secret".into(),
            badge_payload: "BG1-X".into(),
            share_with_all: false,
            share_with: Vec::new(),
            marketing_emails: false,
            confirm_url: None,
            organiser: Default::default(),
        });
        let sealed = a.seal(&body).unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(a.open(&sealed).unwrap(), body);
        assert!(b.open(&sealed).is_err());
    }
}
