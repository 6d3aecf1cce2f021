//! The one list shape of the API and its `?page=&per_page=` parameters.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 500;
/// Far beyond any list, and small enough that `(page - 1) * per_page` cannot overflow.
pub const MAX_PAGE: i64 = 1_000_000;

/// `?page=&per_page=` on every list.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Items per page (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

impl PageQuery {
    pub fn resolve(&self) -> AppResult<(i64, i64)> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        check_page(page)?;
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(AppError::field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok((page, per_page))
    }
}

/// Pages are 1-based and capped, so an offset computed from one never overflows.
pub fn check_page(page: i64) -> AppResult<()> {
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(AppError::field("page", format!("must be between 1 and {MAX_PAGE}")));
    }
    Ok(())
}

/// The one list shape of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}
