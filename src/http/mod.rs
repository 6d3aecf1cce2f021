//! HTTP plumbing shared by every domain: the JSON extractor, authentication extractors,
//! middleware, problem+json answers, and the route map.

pub mod auth;
pub mod cli;
pub mod fallback;
pub mod headers;
pub mod input;
pub mod ip_limit;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod routes;
pub mod server;
pub mod session;

pub use json::ApiJson;

use crate::error::AppError;

/// Query parameters that are always whole numbers; a value that is not one is named in the
/// 422 (the query deserializer's own error does not say which parameter it was).
const NUMERIC_PARAMS: &[&str] = &["page", "per_page"];

/// The answer to a query string the handler's type refused.
pub fn query_error(err: &dyn std::fmt::Display, query: &str) -> AppError {
    let bad: Vec<crate::error::FieldError> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, v)| NUMERIC_PARAMS.contains(&k.as_ref()) && v.parse::<i64>().is_err())
        .map(|(k, _)| crate::error::FieldError::new(k.into_owned(), "must be a whole number"))
        .collect();
    if bad.is_empty() {
        AppError::BadRequest(format!("invalid query string: {err}"))
    } else {
        AppError::Validation(bad)
    }
}
