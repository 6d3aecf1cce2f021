//! Security headers on every response, in one place.
//!
//! Every answer may carry personal data (attendee lists, lead cards, the privacy page), so
//! nothing is cached unless a handler says otherwise. Pages get a policy that allows no
//! script at all and only the layout's own inline style (by hash); everything else (JSON,
//! CSV, images) may load nothing. Referrers are never sent: personal links carry their
//! token in the path, and a link followed from such a page must not leak it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

/// Whether the service speaks HTTPS (decides HSTS and the `__Host-` cookie prefix), and
/// the pages' policy, which the page layer builds from its style sheet.
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    pub tls: bool,
    pub page_csp: HeaderValue,
}

impl HeaderPolicy {
    pub fn tls(req: &actix_web::HttpRequest) -> bool {
        req.app_data::<web::Data<HeaderPolicy>>().is_some_and(|p| p.tls)
    }
}

const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = req.app_data::<web::Data<HeaderPolicy>>().cloned();
    let tls = policy.as_ref().is_some_and(|p| p.tls);
    let mut res = next.call(req).await?;
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = res.headers_mut();
    let mut set_default = |name: HeaderName, value: HeaderValue| {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    };
    set_default(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    set_default(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    set_default(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    set_default(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = match policy {
        Some(p) if is_page => p.page_csp.clone(),
        _ => HeaderValue::from_static(API_POLICY),
    };
    set_default(header::CONTENT_SECURITY_POLICY, csp);
    if tls {
        set_default(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000"));
    }
    Ok(res)
}
