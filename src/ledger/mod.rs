//! The disclosure ledger: one append-only row per participant per release. It holds no
//! contact values, only who received which fields, when, on what basis and through which
//! channel. Nothing in the service updates or deletes its rows (the database refuses too).

pub mod handlers;

use diesel::prelude::*;

use crate::db::schema::disclosures;
use crate::db::{DbConn, text_enum};
use crate::error::AppResult;

pub use handlers::routes;

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

/// Appends rows in the caller's transaction; an error here must abort the release.
pub fn append(conn: &mut DbConn, rows: &[DisclosureRow]) -> AppResult<()> {
    crate::in_fixed_chunks!(rows, |chunk| {
        crate::on_backend!(conn, |c| diesel::insert_into(disclosures::table).values(chunk).execute(c))?
    });
    Ok(())
}
