//! Staff queries on the ledger: who received a participant's data, and everything a
//! partner received in a window. JSON pages or CSV.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

pub use super::{DisclosureView, view};
use crate::auth::AdminOnly;
use crate::db::{Db, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::auth::Auth;
use crate::paging::{DEFAULT_PER_PAGE, MAX_PER_PAGE, Page};

#[derive(Deserialize, IntoParams)]
pub struct DisclosureQuery {
    pub attendee_id: Option<String>,
    pub partner_id: Option<String>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    #[param(format = DateTime)]
    pub to: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    /// `csv` for every matching row as CSV.
    #[param(pattern = "^csv$")]
    pub format: Option<String>,
}

/// The ledger of one event, filtered by participant and/or partner and time window (admin).
#[utoipa::path(tag = "ledger", security(("bearer" = [])), params(DisclosureQuery),
    responses((status = 200, content(
            (Page<DisclosureView> = "application/json"),
            (String = "text/csv", example = "with `format=csv`: every matching row"))),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/events/{event_id}/disclosures")]
pub async fn list_disclosures(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
    query: web::Query<DisclosureQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let q = query.into_inner();
    let mut errors = Vec::new();
    let mut time = |field: &str, v: &Option<String>| {
        v.as_deref().and_then(|s| {
            parse_rfc3339_ms(s).or_else(|| {
                errors.push(FieldError::new(field, "must be an RFC 3339 date-time"));
                None
            })
        })
    };
    let from = time("from", &q.from);
    let to = time("to", &q.to);
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if let Err(AppError::Validation(mut e)) = crate::paging::check_page(page) {
        errors.append(&mut e);
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        errors.push(FieldError::new("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            errors.push(FieldError::new("format", "must be json or csv"));
            false
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let filter = super::DisclosureFilter { attendee_id: q.attendee_id, partner_id: q.partner_id, from, to };
    let window = (!csv).then_some((page, per_page));
    let (rows, total) = db.read(move |conn| super::search(conn, &event_id, &filter, window)).await?;
    let items: Vec<DisclosureView> = rows.into_iter().map(|(r, name)| view(r, name)).collect();
    if csv {
        let bytes = super::csv_of(items)?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"disclosures.csv\""))
            .insert_header(("Cache-Control", "no-store"))
            .body(bytes));
    }
    Ok(HttpResponse::Ok().json(Page { items, total, page, per_page }))
}
