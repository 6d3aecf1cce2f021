//! Staff queries on the ledger: who received a participant's data, and everything a
//! partner received in a window. JSON pages or CSV.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Basis, Channel, DisclosureRow};
use crate::auth::AdminOnly;
use crate::csv_cells::csv_bytes;
use crate::db::{Db, ms_to_rfc3339, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::auth::Auth;
use crate::paging::{DEFAULT_PER_PAGE, MAX_PER_PAGE, Page};

#[derive(Deserialize, IntoParams)]
pub struct DisclosureQuery {
    pub attendee_id: Option<String>,
    pub partner_id: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    /// `csv` for every matching row as CSV.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DisclosureView {
    pub occurred_at: String,
    /// Null for a release to the operator's own staff.
    pub partner_id: Option<String>,
    pub partner_name: String,
    pub user_id: Option<String>,
    pub attendee_id: String,
    pub fields: Vec<String>,
    #[schema(value_type = String)]
    pub basis: Basis,
    #[schema(value_type = String)]
    pub channel: Channel,
    pub export_id: Option<String>,
}

pub fn view(row: DisclosureRow, partner_name: Option<String>) -> DisclosureView {
    DisclosureView {
        partner_name: partner_name.unwrap_or_else(|| "operator staff".to_string()),
        occurred_at: ms_to_rfc3339(row.occurred_at),
        partner_id: row.partner_id,
        user_id: row.user_id,
        attendee_id: row.attendee_id,
        fields: row.fields.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
        basis: row.basis,
        channel: row.channel,
        export_id: row.export_id,
    }
}

/// The ledger of one event, filtered by participant and/or partner and time window (admin).
#[utoipa::path(tag = "ledger", security(("bearer" = [])), params(DisclosureQuery),
    responses((status = 200, body = Page<DisclosureView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
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
        let header = [
            "occurred_at",
            "partner_id",
            "partner_name",
            "user_id",
            "attendee_id",
            "fields",
            "basis",
            "channel",
            "export_id",
        ]
        .map(String::from)
        .to_vec();
        let records = std::iter::once(header).chain(items.into_iter().map(|d| {
            vec![
                d.occurred_at,
                d.partner_id.unwrap_or_default(),
                d.partner_name,
                d.user_id.unwrap_or_default(),
                d.attendee_id,
                d.fields.join(","),
                d.basis.to_string(),
                d.channel.to_string(),
                d.export_id.unwrap_or_default(),
            ]
        }));
        let bytes = csv_bytes(records)?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"disclosures.csv\""))
            .insert_header(("Cache-Control", "no-store"))
            .body(bytes));
    }
    Ok(HttpResponse::Ok().json(Page { items, total, page, per_page }))
}
