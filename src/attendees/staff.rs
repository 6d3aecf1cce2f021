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
    Ok(super::public::remind(conn, key, public_url, &event, &a, crate::mail::reminder::Reason::Organiser)?.is_some())
}

/// Staff send a message of the event again (`POST …/mail/{id}/resend`). A confirmation or
/// reminder is not sent as it was: its privacy link stops working once a newer one is
/// issued, its badge once the badge is replaced, and what it says the participant chose
/// may have changed since. The participant gets a new reminder instead: a new privacy
/// link, the current badge and a new double opt-in link where one is pending (409 once
/// they had [`super::public::REMINDERS_PER_HOUR`] in the hour). Every other message goes
/// through [`crate::mail::resend`].
pub fn resend_mail(
    conn: &mut DbConn,
    key: &badges::BadgeKey,
    public_url: &crate::config::PublicUrl,
    event_id: &str,
    message_id: &str,
) -> AppResult<crate::mail::MailSummary> {
    use crate::mail::{MailKind, MailStatus};
    let message = crate::mail::find_in_event(conn, event_id, message_id)?;
    if !matches!(message.kind, MailKind::Confirmation | MailKind::Reminder) {
        return crate::mail::resend(conn, event_id, message_id);
    }
    if matches!(message.status, MailStatus::Queued | MailStatus::Sending) {
        return Err(AppError::Conflict("this message is already waiting for delivery".into()));
    }
    let event = events::find(conn, event_id)?;
    let a = match message.attendee_id.as_deref() {
        Some(attendee_id) => match super::find_in_event(conn, &event.id, attendee_id) {
            Ok(a) => Some(a),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let Some(a) = a.filter(|a| a.erased_at.is_none()) else {
        return Err(AppError::Conflict("this message's content was erased".into()));
    };
    match super::public::remind(conn, key, public_url, &event, &a, crate::mail::reminder::Reason::Organiser)? {
        Some(id) => crate::mail::find_in_event(conn, event_id, &id),
        None => Err(AppError::Conflict(match super::public::next_reminder_at(conn, &a.id, crate::db::now_ms())? {
            Some(at) => format!(
                "no reminder was sent: this participant was sent {} in the last hour; the next can go at {}",
                super::public::REMINDERS_PER_HOUR,
                event.display_time(at)
            ),
            // Under the limit now: erased while this waited, or a reminder aged out since.
            None => "no reminder was sent: the participant was erased meanwhile, or had just reached the hourly \
                     limit (try again)"
                .to_string(),
        })),
    }
}
