//! A message rendered from its facts, ready for MIME.

/// A message ready for MIME.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub html: String,
    /// The QR payload of a badge to attach inline as `cid:badge` (PNG).
    pub badge_payload: Option<String>,
}
