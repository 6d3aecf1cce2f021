//! Server-rendered pages for participants. They work without JavaScript and on a phone.
//! Their routes are listed in `http::routes`.

pub mod accounts;
pub mod confirm;
pub mod console;
pub mod console_incidents;
pub mod console_mail;
pub mod console_partners;
pub mod console_records;
pub mod fields;
pub mod layout;
pub mod login;
pub mod me;
pub mod portal;
pub mod portal_devices;
pub mod register;
pub mod resend;
pub mod scanner;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::AppError;
use crate::events::EventRow;
use layout::Chrome;

/// A page answer. The headers repeat the security middleware's defaults on purpose: a page
/// may show personal data or carry a personal link, so it states them itself rather than
/// depend on how the application is wrapped.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(body)
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

/// The footer of an event's participant pages: its privacy notice and organiser contact.
pub fn public_chrome(event: &EventRow) -> Chrome<'_> {
    Chrome::Public {
        privacy_notice_url: event.privacy_notice_url.as_deref(),
        organiser_contact: event.organiser_contact.as_deref(),
    }
}

/// Whether the client would rather have an HTML page than a problem+json body, by the
/// quality values of its `Accept` header: the best-matching range of each (an exact type
/// beats `text/*`, which beats `*/*`) decides, and a tie goes to `html_on_tie`. A browser
/// sends `text/html,…,*/*;q=0.8`; an API client `application/json` or nothing.
pub fn prefers_html(req: &HttpRequest, html_on_tie: bool) -> bool {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*");
    let quality = |types: &[&str]| -> f32 {
        // (specificity, q) of the most specific range that matches any of `types`.
        let mut best: Option<(u8, f32)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .next()
                .unwrap_or(1.0);
            let specificity = if types.contains(&media.as_str()) {
                3
            } else if types.iter().any(|t| t.split('/').next() == media.strip_suffix("/*")) {
                2
            } else if media == "*/*" {
                1
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, q));
            }
        }
        best.map(|(_, q)| q).unwrap_or(0.0)
    };
    let html = quality(&["text/html", "application/xhtml+xml"]);
    let json = quality(&["application/problem+json", "application/json"]);
    html > 0.0 && (html > json || (html_on_tie && html >= json))
}

/// A page's error: an HTML page for a browser, problem+json for any other client (pages
/// prefer HTML when the `Accept` header does not decide). The status is the same either
/// way, and an internal error's cause goes to the log only, as for the API.
pub fn error_answer(req: &HttpRequest, error: &AppError, html_on_tie: bool) -> HttpResponse {
    let problem = error.error_response();
    if !prefers_html(req, html_on_tie) {
        return problem;
    }
    let (title, text) = match error {
        AppError::NotFound => (
            "Page not found",
            "There is nothing at this address. Check the link you followed; if it came from the organiser, \
             ask them for a new one.",
        ),
        AppError::TooManyRequests { .. } => ("Too many requests", "Please wait a minute and try again."),
        AppError::PayloadTooLarge(_) => ("Too much text", "The form you sent was too large. Please shorten it."),
        AppError::Validation(_) | AppError::BadRequest(_) | AppError::UnsupportedMediaType(_) => {
            ("Not understood", "The form could not be read. Please go back, reload the page and send it again.")
        }
        _ => ("Something went wrong", "The page could not be shown. Please try again in a moment."),
    };
    let body = layout::render(title, &Chrome::PLAIN, maud::html! { h1 { (title) } p { (text) } });
    let mut res = html(problem.status(), body);
    if let Some(retry) = problem.headers().get(header::RETRY_AFTER) {
        res.headers_mut().insert(header::RETRY_AFTER, retry.clone());
    }
    res
}

/// The page of a personal link that does not work (replaced, revoked, used or erased).
pub fn link_not_valid(reason: &str) -> HttpResponse {
    link_not_valid_then(reason, maud::html! {}, &Chrome::PLAIN)
}

/// [`link_not_valid`] with what the holder can do next below the reason, in `chrome` (an
/// event's, when the link is known to be for it).
pub fn link_not_valid_then(reason: &str, next: maud::Markup, chrome: &Chrome<'_>) -> HttpResponse {
    let body =
        layout::render("Link not valid", chrome, maud::html! { h1 { "This link is not valid" } p { (reason) } (next) });
    html(StatusCode::NOT_FOUND, body)
}

/// Middleware: an error of a console or portal page reaches a browser as a page. Their
/// handlers answer with `AppError`, the API's one error type, which is problem+json: an
/// unknown participant's page, or `?page=abc`, showed the browser raw JSON. Only a client
/// that prefers HTML (a browser's `Accept`) gets the page; others keep the problem.
pub async fn signed_in_pages_answer_html(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let page = ["/console/", "/portal/"].iter().any(|p| req.path().starts_with(p));
    let res = next.call(req).await?.map_into_boxed_body();
    let problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !page || !problem || !prefers_html(res.request(), false) {
        return Ok(res);
    }
    let status = res.status();
    let retry = res.headers().get(header::RETRY_AFTER).cloned();
    let (req, res) = res.into_parts();
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap_or_default();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let detail = problem.get("detail").and_then(|d| d.as_str()).unwrap_or("");
    let (title, text) = match status {
        StatusCode::NOT_FOUND => {
            ("Not found", "There is nothing here: it may have been removed, or the address is mistyped.".to_string())
        }
        StatusCode::FORBIDDEN => ("Not allowed", "Your account may not open this page.".to_string()),
        StatusCode::CONFLICT if !detail.is_empty() => ("Not possible now", fields::sentence("", detail)),
        StatusCode::TOO_MANY_REQUESTS => ("Too many requests", "Please wait a minute and try again.".to_string()),
        s if s.is_client_error() => ("Not understood", "The address or the form could not be read.".to_string()),
        _ => ("Something went wrong", "The page could not be shown. Please try again in a moment.".to_string()),
    };
    let errors: Vec<String> = problem
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let field = e.get("field").and_then(|f| f.as_str()).unwrap_or("");
                    fields::sentence(field, e.get("message").and_then(|m| m.as_str()).unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default();
    let markup = maud::html! {
        h1 { (title) }
        p { (text) }
        @if !errors.is_empty() { ul { @for e in &errors { li { (e) } } } }
        p { a href="/" { "Back to the start page" } }
    };
    let mut page = html(status, layout::render(title, &Chrome::PLAIN, markup));
    if let Some(retry) = retry {
        page.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    Ok(actix_web::dev::ServiceResponse::new(req, page))
}
