//! Participants as staff read them: one with opt-ins and badge, or a searched page. Every
//! read goes through the gate, which writes the ledger.

use crate::badges;
use crate::consent;
use crate::db::{DbConn, like_pattern};
use crate::error::{AppError, AppResult};
use crate::events;
use crate::gate::{self, StaffRecord, StaffSelection};
use crate::paging::{Page, PageQuery};

/// One participant as staff see it, with opt-ins, withdrawals and the current badge.
pub struct StaffDetail {
    pub record: StaffRecord,
    pub opt_ins: Vec<consent::ConsentRow>,
    pub withdrawals: Vec<consent::WithdrawalRow>,
    pub badge_id: Option<String>,
}

/// Reads one participant for staff user `staff_user_id`; the read is ledgered by the gate.
pub fn staff_detail(
    conn: &mut DbConn,
    staff_user_id: &str,
    event_id: &str,
    attendee_id: &str,
) -> AppResult<StaffDetail> {
    let selection = StaffSelection::Attendee { event_id, attendee_id };
    let record =
        gate::staff_read(conn, staff_user_id, selection)?.records.into_iter().next().ok_or(AppError::NotFound)?;
    let (opt_ins, withdrawals) = consent::for_attendee(conn, attendee_id)?;
    let badge_id = badges::current(conn, attendee_id)?.map(|b| b.id);
    Ok(StaffDetail { record, opt_ins, withdrawals, badge_id })
}

/// A page of an event's participants, searched in name, e-mail and company; each one on
/// the page is ledgered by the gate.
pub fn staff_list(
    conn: &mut DbConn,
    staff_user_id: &str,
    event_id: &str,
    search: Option<&str>,
    paging: &PageQuery,
) -> AppResult<Page<StaffRecord>> {
    let (page, per_page) = paging.resolve()?;
    let pattern = search.map(str::trim).filter(|q| !q.is_empty()).map(like_pattern);
    events::find(conn, event_id)?;
    let selection = StaffSelection::Attendees {
        event_id,
        search: pattern.as_deref(),
        offset: (page - 1) * per_page,
        limit: per_page,
    };
    let read = gate::staff_read(conn, staff_user_id, selection)?;
    Ok(Page { items: read.records, total: read.total, page, per_page })
}

/// Staff send a participant a new privacy link (and their badge) by e-mail: the old link
/// stops working, as with the API's reissue, but the link goes to the participant's own
/// address rather than through staff hands. Returns whether it was queued (`false`: the
/// address already had its hourly allowance of reminders).
pub fn send_privacy_link(
    conn: &mut DbConn,
    key: &badges::BadgeKey,
    public_url: &crate::config::PublicUrl,
    event_id: &str,
    attendee_id: &str,
) -> AppResult<bool> {
    let event = events::find(conn, event_id)?;
    let a = super::find_in_event(conn, &event.id, attendee_id)?;
    if a.erased_at.is_some() {
        return Err(AppError::NotFound);
    }
    super::public::remind(conn, key, public_url, &event, &a, crate::mail::reminder::Reason::Requested)
}
