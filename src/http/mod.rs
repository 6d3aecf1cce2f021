//! HTTP plumbing shared by every domain: the JSON extractor, the list shape, request ids,
//! and problem+json answers for unknown routes and methods.

pub mod fallback;
pub mod headers;
pub mod json;
pub mod middleware;

pub use json::ApiJson;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 500;

/// `?page=&per_page=` on every list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1–500, default 50).
    pub per_page: Option<i64>,
}

impl PageQuery {
    pub fn resolve(&self) -> AppResult<(i64, i64)> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page < 1 {
            return Err(AppError::field("page", "must be 1 or more"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(AppError::field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok((page, per_page))
    }
}

/// The one list shape of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}
