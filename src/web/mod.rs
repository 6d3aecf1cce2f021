//! Server-rendered pages for participants. They work without JavaScript and on a phone.
//! Their routes are listed in `http::routes`.

pub mod accounts;
pub mod confirm;
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

/// The layout's only style sheet, inline; the pages' Content-Security-Policy allows it by
/// its hash (see [`page_policy`]), so it must stay one constant.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:0 auto;padding:1rem;line-height:1.4}\
label{display:block;margin-top:.8rem;font-weight:600}\
input[type=text],input[type=email],input[type=tel],input[type=password],textarea{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}\
.check{font-weight:normal;display:flex;gap:.5rem;align-items:flex-start}\
.error{color:#b00020;font-size:.9rem}button{margin-top:1rem;padding:.7rem 1.2rem;font-size:1rem}\
svg{width:100%;max-width:16rem;height:auto}code{font-size:1.1rem}";

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

pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{}</body></html>",
        esc(title),
        body
    )
}
