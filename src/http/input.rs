//! Hostile text stops at the edge. PostgreSQL refuses a NUL in text (a 500 if it gets that
//! far), and control characters in names or e-mails turn into spoofed log lines, broken CSV
//! cells and invisible look-alikes. So every path segment, query value, form field and JSON
//! string is checked here, before any handler sees it, and refused with a 422 naming it:
//!
//! - multi-line free text (notes, addresses, incident write-ups, scan answers) may hold
//!   `\n`, `\r` and `\t`, and no other control character;
//! - everything else (names, e-mails, slugs, ids, passwords, query values) holds none;
//! - bytes that are not UTF-8 are refused, never decoded into U+FFFD and stored.
//!
//! "Control character" is Unicode's `Cc`: C0, DEL and C1.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::error::{AppError, FieldError};
use crate::http::fallback::RouteTable;
use crate::text::{TextKind, check_text, printable, text_problem};

const NOT_UTF8: &str = "is not valid UTF-8";

/// Percent-decodes one URL component (`+` as a space in query strings and forms) into text,
/// refusing bytes that are not UTF-8.
fn decode(raw: &str, plus_is_space: bool) -> Result<String, &'static str> {
    let bytes: Vec<u8> = if plus_is_space {
        percent_encoding::percent_decode(raw.replace('+', " ").as_bytes()).collect()
    } else {
        percent_encoding::percent_decode(raw.as_bytes()).collect()
    };
    String::from_utf8(bytes).map_err(|_| NOT_UTF8)
}

/// Decodes an `application/x-www-form-urlencoded` body, checking every name and value.
/// Errors name the form field.
pub fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, Vec<FieldError>> {
    let Ok(body) = std::str::from_utf8(body) else {
        // Percent-encoding makes a form ASCII; raw high bytes are not a form we wrote.
        return Err(vec![FieldError::new("form", NOT_UTF8)]);
    };
    let mut fields = Vec::new();
    let mut errors = Vec::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = match decode(raw_name, true) {
            Ok(n) => n,
            Err(m) => {
                errors.push(FieldError::new("form", format!("a field name {m}")));
                continue;
            }
        };
        if let Err(e) = check_text("form", &name, TextKind::SingleLine) {
            errors.push(FieldError::new(printable(&name), format!("field name {}", e.message)));
            continue;
        }
        match decode(raw_value, true) {
            Ok(value) => match check_text(&name, &value, TextKind::of_field(&name)) {
                Ok(()) => fields.push((name, value)),
                Err(e) => errors.push(e),
            },
            Err(m) => errors.push(FieldError::new(name, m)),
        }
    }
    if errors.is_empty() { Ok(fields) } else { Err(errors) }
}

/// Checks the path segments and the query string of a request.
fn check_uri(req: &ServiceRequest) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let path = req.uri().path();
    for (index, raw) in path.split('/').enumerate() {
        let problem = match decode(raw, false) {
            Ok(segment) => text_problem(&segment, TextKind::SingleLine),
            Err(m) => Some(m),
        };
        if let Some(message) = problem {
            let name = req
                .app_data::<web::Data<RouteTable>>()
                .and_then(|t| t.param_name(path, index))
                .unwrap_or_else(|| "path".to_string());
            errors.push(FieldError::new(name, message));
        }
    }
    for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = match decode(raw_name, true) {
            Ok(n) if text_problem(&n, TextKind::SingleLine).is_none() => n,
            Ok(n) => {
                errors.push(FieldError::new(printable(&n), "parameter name must not contain control characters"));
                continue;
            }
            Err(m) => {
                errors.push(FieldError::new("query", format!("a parameter name {m}")));
                continue;
            }
        };
        match decode(raw_value, true) {
            Ok(value) => {
                if let Err(e) = check_text(&name, &value, TextKind::SingleLine) {
                    errors.push(e);
                }
            }
            Err(m) => errors.push(FieldError::new(name, m)),
        }
    }
    errors
}

/// Middleware: a request whose path or query carries a control character or bytes that are
/// not UTF-8 is answered 422 before routing, so no handler, page or query sees it.
pub async fn refuse_hostile_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let errors = check_uri(&req);
    if !errors.is_empty() {
        let res = AppError::Validation(errors).error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Walks a parsed JSON document and names the first strings (and keys) that break the rules,
/// as JSON paths: `email`, `answers.q1`, `scans[3].notes`. `skip` lists top-level keys whose
/// items a handler checks one by one (a batch where one bad item must not sink the rest).
pub fn check_json(value: &serde_json::Value, skip: &[&str]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(value, String::new(), TextKind::SingleLine, skip, &mut errors);
    errors
}

const MAX_REPORTED: usize = 20;

fn walk(value: &serde_json::Value, path: String, kind: TextKind, skip: &[&str], errors: &mut Vec<FieldError>) {
    if errors.len() >= MAX_REPORTED {
        return;
    }
    match value {
        serde_json::Value::String(s) => {
            if let Some(m) = text_problem(s, kind) {
                errors.push(FieldError::new(if path.is_empty() { "body".to_string() } else { path }, m));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), kind, skip, errors);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if path.is_empty() && skip.contains(&key.as_str()) {
                    continue;
                }
                let child = if path.is_empty() { printable(key) } else { format!("{path}.{}", printable(key)) };
                if text_problem(key, TextKind::SingleLine).is_some() {
                    errors.push(FieldError::new(child, "key must not contain control characters"));
                    continue;
                }
                let kind = if kind == TextKind::MultiLine { kind } else { TextKind::of_field(key) };
                walk(item, child, kind, skip, errors);
            }
        }
        _ => {}
    }
}
