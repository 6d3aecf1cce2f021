//! What the public pages ask of registration, answered so that they never tell whether an
//! address is registered: the registration form and the "lost my badge or link" form
//! both end in "check your mail", and only the mailbox learns the difference.

use diesel::prelude::*;

use super::{AttendeeRow, RegistrationInput, confirm_url, privacy_url};
use crate::auth::secrets::{random_token, sha256_hex};
use crate::badges::{self, BadgeKey};
use crate::config::PublicUrl;
use crate::consent::{self, Source};
use crate::db::schema::{attendees, mail_outbox};
use crate::db::{DbConn, now_ms};
use crate::error::{AppError, AppResult};
use crate::events::EventRow;
use crate::mail::{self, MailKind, reminder};

/// Reminders (badge and new link) one participant (one address at one event) receives
/// per hour at most, so that the forms cannot be used to flood someone's mailbox. Counted
/// in the outbox, so the limit holds across instances sharing the database.
pub const REMINDERS_PER_HOUR: i64 = 3;
const HOUR_MS: i64 = 60 * 60 * 1000;

/// The address's registration at the event, and whether its import is still going in
/// (then the participant's confirmation is on its way, and the forms send nothing: a
/// privacy link would let them act on a row the import may still undo).
fn registered(conn: &mut DbConn, event_id: &str, email: &str) -> AppResult<Option<(AttendeeRow, bool)>> {
    let Some(row) = attendees::table
        .filter(attendees::event_id.eq(event_id))
        .filter(attendees::email.eq(email))
        .filter(attendees::erased_at.is_null())
        .select(AttendeeRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let pending = crate::db::settled::is_pending(conn, row.import_run.as_deref())?;
    Ok(Some((row, pending)))
}

/// The public form's registration, in the caller's write transaction. A new address is
/// registered (opt-ins pending until confirmed) and gets its confirmation; an address
/// already registered gets a reminder with a new privacy link instead, and what the form
/// said this time is ignored: whoever sent it may not own the address. Only validation
/// errors come back, and they depend on the input alone.
pub fn register_from_form(
    conn: &mut DbConn,
    key: &BadgeKey,
    public_url: &PublicUrl,
    event_id: &str,
    input: RegistrationInput,
) -> AppResult<()> {
    let event = crate::events::find(conn, event_id)?;
    if !event.registration_open(now_ms()) {
        return Err(registration_closed());
    }
    let partners = crate::partners::list_for_event(conn, &event.id)?;
    let partner_ids: Vec<String> = partners.iter().map(|p| p.id.clone()).collect();
    let valid = super::validate(&input, &partner_ids).map_err(AppError::Validation)?;
    if let Some((existing, pending)) = registered(conn, &event.id, &valid.contact.email)? {
        if !pending {
            remind(conn, key, public_url, &event, &existing, reminder::Reason::AlreadyRegistered)?;
        }
        return Ok(());
    }
    super::store_registration(conn, super::ready_valid(key, public_url, &event, &partners, valid, Source::WebForm)?)?;
    Ok(())
}

/// The answer to a registration after the event's close date (`registration_closes_at`).
pub fn registration_closed() -> AppError {
    AppError::Rejected { reason: "registration_closed", detail: "registration for this event is closed".into() }
}

/// The resend form, in the caller's write transaction: a registered address receives its
/// badge and a new privacy link (within [`REMINDERS_PER_HOUR`]); any other address,
/// nothing. The caller answers the same either way.
pub fn request_links(
    conn: &mut DbConn,
    key: &BadgeKey,
    public_url: &PublicUrl,
    event_id: &str,
    email: &str,
) -> AppResult<()> {
    let event = crate::events::find(conn, event_id)?;
    let email = crate::auth::users::normalise_email(email);
    if let Some((existing, false)) = registered(conn, &event.id, &email)? {
        remind(conn, key, public_url, &event, &existing, reminder::Reason::Requested)?;
    }
    Ok(())
}

/// When the participant may be sent a reminder again, as of `now`, or `None` when they are
/// under [`REMINDERS_PER_HOUR`] in the hour before it: the one rule of the hourly limit,
/// for [`remind`] and for what staff are told.
pub fn next_reminder_at(conn: &mut DbConn, attendee_id: &str, now: i64) -> AppResult<Option<i64>> {
    let since = now.saturating_sub(HOUR_MS);
    let times: Vec<i64> = mail_outbox::table
        .filter(mail_outbox::attendee_id.eq(attendee_id))
        .filter(mail_outbox::kind.eq(MailKind::Reminder))
        .filter(mail_outbox::created_at.gt(since))
        .order(mail_outbox::created_at)
        .select(mail_outbox::created_at)
        .load(conn)?;
    // With n ≥ the limit in the hour, one more may go once all but limit − 1 of them are
    // older than an hour: at the (n − limit + 1)-th oldest plus an hour.
    let limit = usize::try_from(REMINDERS_PER_HOUR).unwrap_or(usize::MAX);
    Ok(times.len().checked_sub(limit).and_then(|i| times.get(i)).map(|t| t.saturating_add(HOUR_MS)))
}

/// Queues a reminder unless the participant had [`REMINDERS_PER_HOUR`] already (or was
/// erased meanwhile); returns its id if it did. It issues a new privacy link (the old one stops working: the mail says
/// so) and, while opt-ins await confirmation, a new confirmation link.
pub fn remind(
    conn: &mut DbConn,
    key: &BadgeKey,
    public_url: &PublicUrl,
    event: &EventRow,
    a: &AttendeeRow,
    reason: reminder::Reason,
) -> AppResult<Option<String>> {
    let now = now_ms();
    // Reminders for one participant are decided one after another: the resend form
    // queues them after it answered, so several may be under way at once, and on
    // PostgreSQL each would otherwise count the others' reminders as not there yet. The row
    // is read again under its lock: an erasure or a correction that committed while this
    // waited must not be undone by a reminder to the address it had.
    let a = &super::locked(conn, &a.id)?;
    if a.erased_at.is_some() {
        return Ok(None);
    }
    if next_reminder_at(conn, &a.id, now)?.is_some() {
        return Ok(None);
    }
    let privacy_token = random_token(32).map_err(AppError::internal)?;
    super::retired::replace(conn, a, sha256_hex(privacy_token.as_bytes()), now)?;
    let badge_payload = match badges::current(conn, &a.id)? {
        Some(badge) => Some(key.code_for(&badge.id)?.payload()),
        None => None,
    };
    let confirm = if consent::has_pending(conn, &a.id)? {
        let token = random_token(32).map_err(AppError::internal)?;
        consent::store_confirmation_token(conn, &a.id, &token, now)?;
        Some(confirm_url(&public_url.0, &event.slug, &token))
    } else {
        None
    };
    let facts = reminder::Facts {
        reason,
        name: a.name.clone(),
        event: event.name.clone(),
        privacy_url: privacy_url(&public_url.0, &privacy_token),
        badge_payload,
        confirm_url: confirm,
        organiser: mail::confirmation::Organiser::of(event),
    };
    let id = mail::enqueue(
        conn,
        &mail::OutboxKey::from_badge_key(key)?,
        &mail::NewMail {
            kind: MailKind::Reminder,
            event_id: Some(event.id.clone()),
            attendee_id: Some(a.id.clone()),
            to: a.email.clone(),
            subject: reminder::subject(&event.name, reason),
            body: mail::Body::Reminder(facts),
        },
    )?;
    Ok(Some(id))
}
