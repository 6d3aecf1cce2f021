//! A message rendered from its facts, ready for MIME.

/// A message ready for MIME.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub html: String,
    /// The QR payload of a badge to attach inline as `cid:badge` (PNG).
    pub badge_payload: Option<String>,
    /// The recipient's one-click unsubscribe link (`{public_url}/u/{token}`); required for
    /// marketing mail, which carries it as `List-Unsubscribe` (RFC 2369 and RFC 8058).
    pub list_unsubscribe: Option<String>,
}
