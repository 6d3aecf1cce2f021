//! The disclosure ledger: one append-only row per participant per release. It holds no
//! contact values, only who received which fields, when, on what basis and through which
//! channel. Nothing in the service updates or deletes its rows (the database refuses too).

pub mod handlers;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::disclosures;
use crate::error::AppResult;

pub use handlers::routes;

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
    pub basis: String,
    pub channel: String,
    pub export_id: Option<String>,
}

/// Appends rows in the caller's transaction; an error here must abort the release.
pub fn append(conn: &mut DbConn, rows: &[DisclosureRow]) -> AppResult<()> {
    crate::in_fixed_chunks!(rows, |chunk| {
        crate::on_backend!(conn, |c| diesel::insert_into(disclosures::table).values(chunk).execute(c))?
    });
    Ok(())
}
