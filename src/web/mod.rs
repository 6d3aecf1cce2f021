//! Server-rendered pages for participants. They work without JavaScript and on a phone.
//! Their routes are listed in `http::routes`.

pub mod accounts;
pub mod confirm;
pub mod console;
pub mod layout;
pub mod login;
pub mod me;
pub mod register;
pub mod resend;

/// A page answer. The headers repeat the security middleware's defaults on purpose: a page
/// may show personal data or carry a personal link, so it states them itself rather than
/// depend on how the application is wrapped.
pub fn html(status: actix_web::http::StatusCode, body: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(body)
}

pub fn esc(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

pub use layout::STYLE;

/// The pages' Content-Security-Policy: no script at all, only [`STYLE`] (by its hash).
pub fn page_policy() -> String {
    policy_for_style(STYLE)
}

/// A page policy allowing no script and exactly one inline style sheet, by its hash.
pub fn policy_for_style(style: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A participant page around already-escaped HTML (the pages written before the layout
/// moved to maud; new pages call [`layout::render`] with markup).
pub fn page(title: &str, body: &str) -> String {
    layout::render(title, &layout::Chrome::PLAIN, maud::PreEscaped(body.to_string()))
}
