//! The one error type of the service, rendered as `application/problem+json` (RFC 9457).
//!
//! Internal causes are logged (by `http::problem`, which answers) and never leave the
//! process: a 500 body is opaque. This module knows no HTTP framework: the status is a
//! number, and the core returns these errors without knowing who will render them.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path (or CSV column) of the offending input.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the request is not valid")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication is required")]
    Unauthorized,
    #[error("this account may not do that")]
    Forbidden,
    #[error("no such resource")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A request that was understood but refused for a reason a client acts on.
    #[error("{detail}")]
    Rejected { reason: &'static str, detail: String },
    /// The operator suspended this partner's exports and lead reads (incident containment).
    #[error("this partner's access to leads is suspended")]
    Suspended,
    #[error("too many requests; retry later")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the service is not ready")]
    Unavailable,
    #[error("internal error")]
    Internal(String),
}

/// Problem details body (RFC 9457) with our extension members.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload-too-large",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::Rejected { .. } => "rejected",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Suspended => "suspended",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation(_) | AppError::Rejected { .. } => 422,
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden | AppError::Suspended => 403,
            AppError::NotFound => 404,
            AppError::Conflict(_) => 409,
            AppError::PayloadTooLarge(_) => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::TooManyRequests { .. } => 429,
            AppError::Unavailable => 503,
            AppError::Internal(_) => 500,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = http_status_title(self.status());
        let detail = match self {
            AppError::Internal(_) => "the request could not be completed".to_string(),
            AppError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            other => other.to_string(),
        };
        Problem {
            type_: format!("urn:badgegate:problem:{}", self.slug()),
            title: status.to_string(),
            status: self.status(),
            detail,
            reason: match self {
                AppError::Rejected { reason, .. } => Some((*reason).to_string()),
                AppError::Suspended => Some("partner_suspended".to_string()),
                _ => None,
            },
            errors: match self {
                AppError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        tracing::warn!(error = %e, "database pool exhausted or unreachable");
        AppError::Unavailable
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("blocking task: {e}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// True when a database error is a unique-constraint violation: the race-free way to
/// detect "already exists" is to let the constraint refuse the insert.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

fn http_status_title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
