//! The disclosure ledger: one append-only row per participant per release. It holds no
//! contact values, only who received which fields, when, on what basis and through which
//! channel. Nothing in the service updates or deletes its rows (the database refuses too).

pub mod handlers;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{disclosures, partners};
use crate::db::{DbConn, ms_to_rfc3339, text_enum};
use crate::error::AppResult;

text_enum! {
    /// Why contact fields were released: the participant's choice for a partner, or the
    /// operator's own need for a staff read.
    pub enum Basis {
        /// An active opt-in for the partner or for all partners.
        OptIn = "opt_in",
        /// The partner's accepted scan of the participant's badge.
        Scan = "scan",
        OptInScan = "opt_in+scan",
        /// Registration desk, attendee views and badge printing.
        StaffAccess = "staff_access",
        /// The affected-list of an incident, to inform the participants.
        IncidentNotification = "incident_notification",
    }
}

text_enum! {
    /// Through which door the fields left.
    pub enum Channel {
        /// The lead card answered to a phone after a scan.
        Scan = "scan",
        /// A lead read through the API.
        Api = "api",
        /// A row of a CSV export.
        Export = "export",
        /// The operator's own staff reading contact fields (attendee views, badges, incident lists).
        Staff = "staff",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disclosures, treat_none_as_default_value = false)]
pub struct DisclosureRow {
    pub id: String,
    pub occurred_at: i64,
    pub event_id: String,
    /// `None` for a release to the operator's own staff.
    pub partner_id: Option<String>,
    pub user_id: Option<String>,
    pub attendee_id: String,
    /// Released contact fields, comma-separated.
    pub fields: String,
    pub basis: Basis,
    pub channel: Channel,
    pub export_id: Option<String>,
}

/// Appends rows in the caller's transaction, all or nothing: the caller may go on after it
/// failed. An error here must abort the release.
pub fn append(conn: &mut DbConn, rows: &[DisclosureRow]) -> AppResult<()> {
    crate::db::require_transaction(conn)?;
    match conn {
        // One statement (an `INSERT`, or a `COPY` for many rows) is all or nothing by
        // itself: no savepoint, which costs two more round trips on every scan group and
        // export page.
        DbConn::Pg(c) => {
            let rows: Vec<&DisclosureRow> = rows.iter().collect();
            crate::pg_insert_rows!(c, disclosures::table, &rows[..])?;
        }
        DbConn::Sqlite(_) => crate::db::savepoint(conn, |conn| {
            if let DbConn::Sqlite(c) = conn {
                crate::in_fixed_chunks!(rows, |chunk| diesel::insert_into(disclosures::table)
                    .values(chunk)
                    .execute(c)?);
            }
            Ok(())
        })?,
    }
    for row in rows {
        crate::measure::release_pending(row.channel.as_str(), row.basis.as_str(), 1);
    }
    Ok(())
}

/// A ledger row with the recipient partner's name (none for the operator's staff).
pub type NamedDisclosure = (DisclosureRow, Option<String>);

/// What a staff query on the ledger selects; times are inclusive `from`, exclusive `to`.
pub struct DisclosureFilter {
    pub attendee_id: Option<String>,
    pub partner_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One event's ledger rows in time order with the partner's name (none for staff), and
/// how many match; `window` is `(page, per_page)`, or every row when absent.
pub fn search(
    conn: &mut DbConn,
    event_id: &str,
    f: &DisclosureFilter,
    window: Option<(i64, i64)>,
) -> AppResult<(Vec<NamedDisclosure>, i64)> {
    crate::events::find(conn, event_id)?;
    let filtered = || {
        let mut query =
            disclosures::table.left_join(partners::table).filter(disclosures::event_id.eq(event_id)).into_boxed();
        if let Some(a) = &f.attendee_id {
            query = query.filter(disclosures::attendee_id.eq(a.clone()));
        }
        if let Some(p) = &f.partner_id {
            query = query.filter(disclosures::partner_id.eq(p.clone()));
        }
        if let Some(from) = f.from {
            query = query.filter(disclosures::occurred_at.ge(from));
        }
        if let Some(to) = f.to {
            query = query.filter(disclosures::occurred_at.lt(to));
        }
        query
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let mut query = filtered()
        .order((disclosures::occurred_at, disclosures::id))
        .select((DisclosureRow::as_select(), partners::name.nullable()));
    if let Some((page, per_page)) = window {
        query = query.limit(per_page).offset((page - 1) * per_page);
    }
    Ok((query.load::<(DisclosureRow, Option<String>)>(conn)?, total))
}

// A ledger row as staff read it (the API's JSON and the console's CSV). A plain comment:
// a doc comment would become the schema's description in the OpenAPI document.
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

/// The ledger search's CSV (the API's `?format=csv` and the console's download): one
/// header, one record per row, written by the csv crate with formula cells made inert.
pub fn csv_of(items: Vec<DisclosureView>) -> AppResult<Vec<u8>> {
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
    crate::csv_cells::csv_bytes(records)
}
