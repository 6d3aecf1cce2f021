//! A participant's badge as staff handle it: its code, a reissue, the printable sheet and
//! the print shop's CSV. Sheet and CSV carry names and companies, so they are staff reads
//! through the gate.

use super::find_in_event;
use crate::badges::{BadgeCode, BadgeKey, current, reissue};
use crate::csv_cells::csv_bytes;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::events::{self, EventRow};
use crate::gate::{self, StaffRecord, StaffSelection};

/// The code of a participant's current badge; none for an erased participant or a
/// revoked badge.
pub fn current_code(conn: &mut DbConn, key: &BadgeKey, event_id: &str, attendee_id: &str) -> AppResult<BadgeCode> {
    let a = find_in_event(conn, event_id, attendee_id)?;
    if a.erased_at.is_some() {
        return Err(AppError::NotFound);
    }
    let badge = current(conn, &a.id)?.ok_or(AppError::NotFound)?;
    key.code_for(&badge.id)
}

/// A reissued badge and whose it is.
pub struct Reissued {
    pub event_id: String,
    pub attendee_id: String,
    pub code: BadgeCode,
}

/// Revokes a participant's current badge and issues a new one (lost or stolen badge).
pub fn reissue_for(conn: &mut DbConn, key: &BadgeKey, event_id: &str, attendee_id: &str) -> AppResult<Reissued> {
    let a = find_in_event(conn, event_id, attendee_id)?;
    if a.erased_at.is_some() {
        return Err(AppError::NotFound);
    }
    let code = reissue(conn, key, &a.event_id, &a.id)?;
    Ok(Reissued { event_id: a.event_id, attendee_id: a.id, code })
}

/// Badges on one printed sheet.
pub const SHEET_PAGE: i64 = 200;

/// One page of the printable sheet: name and company of each badge holder, read through
/// the gate for staff user `staff` (ledgered).
pub fn sheet(
    conn: &mut DbConn,
    staff: &str,
    event_id: &str,
    page: i64,
    only: Option<&str>,
) -> AppResult<(EventRow, Vec<StaffRecord>)> {
    crate::paging::check_page(page)?;
    let event = events::find(conn, event_id)?;
    let offset = (page - 1) * SHEET_PAGE;
    let selection = StaffSelection::Badges { event_id: &event.id, only, offset, limit: Some(SHEET_PAGE) };
    let records = gate::staff_read(conn, staff, selection)?.records;
    Ok((event, records))
}

/// Every current badge of an event for a print shop, read through the gate (ledgered):
/// one ledger row per badge, 100k participants make 100k rows, appended in 100-row
/// statements inside the caller's transaction.
pub fn print_shop_rows(conn: &mut DbConn, staff: &str, event_id: &str) -> AppResult<Vec<StaffRecord>> {
    let event = events::find(conn, event_id)?;
    let selection = StaffSelection::Badges { event_id: &event.id, only: None, offset: 0, limit: None };
    Ok(gate::staff_read(conn, staff, selection)?.records)
}

/// The print shop's CSV: attendee_id, name, company, badge_payload, fallback_code.
pub fn print_shop_csv(key: &BadgeKey, rows: Vec<StaffRecord>) -> AppResult<Vec<u8>> {
    let header = ["attendee_id", "name", "company", "badge_payload", "fallback_code"].map(String::from).to_vec();
    let mut records = Vec::with_capacity(rows.len() + 1);
    records.push(header);
    for a in rows {
        let code =
            key.code_for(a.badge_id.as_deref().ok_or_else(|| AppError::internal("badge read without a badge"))?)?;
        records.push(vec![
            a.attendee_id,
            a.contact.name.unwrap_or_default(),
            a.contact.company.unwrap_or_default(),
            code.payload(),
            code.fallback(),
        ]);
    }
    csv_bytes(records)
}
