//! The mail channel: a durable outbox in the database, a worker that delivers it over SMTP
//! (or into `.eml` files when no SMTP server is configured), and the messages themselves.
//!
//! Any core function queues a message with [`enqueue`] (or [`enqueue_many`]) on the
//! connection of its own write transaction: the message exists exactly when the action that
//! caused it was committed. Delivery happens later, in [`worker`].
//!
//! Delivery is at least once. The worker records a message as sent only after the SMTP
//! server accepted it (or its `.eml` file and the file's name reached the disk: one
//! `syncfs` per batch), for a whole claimed batch (at most 64 messages) in one transaction.
//! A crash of the process (or a lost database connection) between that acceptance and
//! the update leaves the batch `sending` under a lease; once the lease expires (10
//! minutes) those messages are sent again. Each copy carries the same `Message-ID`
//! (`<outbox id@sender domain>`), so mail programs and the recipient's server can
//! recognise it as a duplicate. A graceful stop finishes and records the current batch. Nothing else is
//! ever sent twice: a claim takes a lease in the database (with `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL), so instances sharing one database never hold the same message at once.

pub mod accounts;
pub mod breach;
pub mod confirmation;
pub mod handlers;
pub mod message;
pub mod reminder;
pub mod rendered;
pub mod seal;
pub mod transport;
pub mod worker;

use diesel::prelude::*;

use crate::db::schema::mail_outbox;
use crate::db::{DbConn, new_sequential_id, now_ms};
use crate::error::{AppError, AppResult};

pub use message::{Body, MailKind, MailStatus, NewMail};
pub use rendered::Rendered;
pub use seal::OutboxKey;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox, treat_none_as_default_value = false)]
pub struct MailRow {
    pub id: String,
    pub event_id: Option<String>,
    pub attendee_id: Option<String>,
    pub kind: MailKind,
    pub recipient: String,
    pub subject: String,
    pub body: Option<String>,
    pub status: MailStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// A message as staff see it: no recipient address and no body.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct MailSummary {
    pub id: String,
    pub event_id: Option<String>,
    pub attendee_id: Option<String>,
    pub kind: MailKind,
    pub subject: String,
    pub status: MailStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    /// Erasure removed the body (and the participant): nothing is left to send again.
    #[diesel(select_expression = mail_outbox::body.is_null())]
    #[diesel(select_expression_type = diesel::dsl::IsNull<mail_outbox::body>)]
    pub content_erased: bool,
}

fn row_for(key: &OutboxKey, mail: &NewMail, now: i64) -> AppResult<MailRow> {
    Ok(MailRow {
        id: new_sequential_id(),
        event_id: mail.event_id.clone(),
        attendee_id: mail.attendee_id.clone(),
        kind: mail.kind,
        recipient: mail.to.clone(),
        subject: mail.subject.clone(),
        body: Some(key.seal(&mail.body)?),
        status: MailStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        lease_owner: None,
        lease_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    })
}

/// `next_attempt_at` of a message queued by an import still going in (9999-12-31, a time
/// the API can still write): the worker takes it only after [`release_held`].
pub const HELD: i64 = 253_402_300_799_000;

/// Makes held messages due now, in the caller's transaction: those of `ids`, or with
/// `None` every held message of a finished import (at start, once unfinished imports
/// are undone).
pub fn release_held(conn: &mut DbConn, ids: Option<&[String]>) -> AppResult<usize> {
    let now = now_ms();
    let held = mail_outbox::next_attempt_at.eq(HELD);
    Ok(match ids {
        // By id alone: with the status too, SQLite walked the `(status, next_attempt_at)`
        // index through every held message for each chunk released.
        Some(ids) => diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(ids)).filter(held))
            .set(mail_outbox::next_attempt_at.eq(now))
            .execute(conn)?,
        // Not those of an import still unfinished (one that could not be undone).
        None => {
            diesel::update(mail_outbox::table.filter(mail_outbox::status.eq(MailStatus::Queued)).filter(held).filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "(attendee_id IS NULL OR attendee_id NOT IN ({}))",
                    crate::db::settled::PENDING_IDS
                )),
            ))
            .set(mail_outbox::next_attempt_at.eq(now))
            .execute(conn)?
        }
    })
}

/// Queues one message in the caller's transaction; returns its outbox id.
pub fn enqueue(conn: &mut DbConn, key: &OutboxKey, mail: &NewMail) -> AppResult<String> {
    let row = row_for(key, mail, now_ms())?;
    diesel::insert_into(mail_outbox::table).values(&row).execute(conn)?;
    Ok(row.id)
}

/// Queues many messages in the caller's transaction, in multi-row inserts.
pub fn enqueue_many(conn: &mut DbConn, key: &OutboxKey, mails: &[NewMail]) -> AppResult<()> {
    enqueue_sealed(conn, &sealed(key, mails)?)
}

/// Outbox rows of messages, their bodies sealed: the costly half of [`enqueue_many`], for
/// a caller that does it before its write transaction (an import).
pub fn sealed(key: &OutboxKey, mails: &[NewMail]) -> AppResult<Vec<MailRow>> {
    let now = now_ms();
    mails.iter().map(|m| row_for(key, m, now)).collect()
}

/// Queues rows made by [`sealed`] in the caller's transaction.
pub fn enqueue_sealed(conn: &mut DbConn, rows: &[MailRow]) -> AppResult<()> {
    match conn {
        DbConn::Pg(c) => {
            let rows: Vec<&MailRow> = rows.iter().collect();
            crate::pg_insert_rows!(c, mail_outbox::table, &rows[..])?;
        }
        // 15 columns x 100 rows stay under SQLite's bound-parameter limit.
        DbConn::Sqlite(c) => {
            crate::in_fixed_chunks!(rows, |chunk| diesel::insert_into(mail_outbox::table).values(chunk).execute(c)?);
        }
    }
    Ok(())
}

/// One event's messages, newest first, optionally of one status; `(page, total)`.
pub fn list_for_event(
    conn: &mut DbConn,
    event_id: &str,
    status: Option<MailStatus>,
    offset: i64,
    limit: i64,
) -> AppResult<(Vec<MailSummary>, i64)> {
    let mut query = mail_outbox::table.filter(mail_outbox::event_id.eq(event_id)).into_boxed();
    let mut count = mail_outbox::table.filter(mail_outbox::event_id.eq(event_id)).into_boxed();
    if let Some(status) = status {
        query = query.filter(mail_outbox::status.eq(status));
        count = count.filter(mail_outbox::status.eq(status));
    }
    let total: i64 = count.count().get_result(conn)?;
    let items = query
        .order((mail_outbox::created_at.desc(), mail_outbox::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(MailSummary::as_select())
        .load(conn)?;
    Ok((items, total))
}

fn summary(conn: &mut DbConn, id: &str) -> AppResult<MailSummary> {
    mail_outbox::table.find(id).select(MailSummary::as_select()).first(conn).optional()?.ok_or(AppError::NotFound)
}

/// A message of the event as staff see it, or 404 (messages of other events too).
pub fn find_in_event(conn: &mut DbConn, event_id: &str, id: &str) -> AppResult<MailSummary> {
    mail_outbox::table
        .find(id)
        .filter(mail_outbox::event_id.eq(event_id))
        .select(MailSummary::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// Sends a message of the event again, in the caller's write transaction. A failed message
/// goes back to the queue with its retries counted afresh (same id, same `Message-ID`: it
/// never arrived). A sent one is queued as a new message (new id and `Message-ID`: it is
/// a second copy the recipient asked for). One still queued or sending is left alone.
///
/// A message whose link works once, or only until a newer one is issued, is refused
/// (409): sent again as it was, it would carry a dead link. Invitations are sent again
/// with a new link from the partner's users, a reset link is asked for again by its user,
/// and a participant's confirmation or reminder becomes a new reminder
/// (`crate::attendees::staff::resend_mail`).
pub fn resend(conn: &mut DbConn, event_id: &str, id: &str) -> AppResult<MailSummary> {
    let row: MailRow = mail_outbox::table
        .find(id)
        .filter(mail_outbox::event_id.eq(event_id))
        .select(MailRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    let now = now_ms();
    match (row.status, row.kind) {
        (MailStatus::Queued | MailStatus::Sending, _) => {
            Err(AppError::Conflict("this message is already waiting for delivery".into()))
        }
        (_, MailKind::Invitation) => Err(AppError::Conflict(
            "an invitation's link works once and a newer one replaces it: send the invitation again from the \
             partner's users instead"
                .into(),
        )),
        (_, MailKind::PasswordReset) => Err(AppError::Conflict(
            "a reset link works once and a newer one replaces it: the user can ask for a new one".into(),
        )),
        (_, MailKind::Confirmation | MailKind::Reminder) => Err(AppError::Conflict(
            "a participant's privacy link stops working once a newer one is issued: send a new privacy link instead"
                .into(),
        )),
        _ if row.body.is_none() => Err(AppError::Conflict("this message's content was erased".into())),
        (MailStatus::Failed, _) => {
            diesel::update(mail_outbox::table.find(id))
                .set((
                    mail_outbox::status.eq(MailStatus::Queued),
                    mail_outbox::attempts.eq(0),
                    mail_outbox::next_attempt_at.eq(now),
                    mail_outbox::lease_owner.eq(None::<String>),
                    mail_outbox::lease_until.eq(None::<i64>),
                    // Queued again now: its `Date` is this time, not the first attempt's.
                    mail_outbox::created_at.eq(now),
                ))
                .execute(conn)?;
            summary(conn, id)
        }
        (MailStatus::Sent, _) => {
            let copy = MailRow {
                id: new_sequential_id(),
                status: MailStatus::Queued,
                attempts: 0,
                next_attempt_at: now,
                lease_owner: None,
                lease_until: None,
                last_error: None,
                created_at: now,
                sent_at: None,
                ..row
            };
            diesel::insert_into(mail_outbox::table).values(&copy).execute(conn)?;
            summary(conn, &copy.id)
        }
    }
}

/// Erasure of a participant, in the caller's transaction: unsent messages about them are
/// deleted, sent ones keep only their skeleton (kind, status, times) for the staff list.
/// Returns how many rows changed, so the caller knows whether the table needs a scrub.
pub fn forget_attendee(conn: &mut DbConn, attendee_id: &str) -> AppResult<usize> {
    let deleted = diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::attendee_id.eq(attendee_id))
            .filter(mail_outbox::status.ne(MailStatus::Sent)),
    )
    .execute(conn)?;
    let cleared = diesel::update(
        mail_outbox::table.filter(mail_outbox::attendee_id.eq(attendee_id)).filter(mail_outbox::body.is_not_null()),
    )
    .set((mail_outbox::body.eq(None::<String>), mail_outbox::recipient.eq("(erased)")))
    .execute(conn)?;
    Ok(deleted.saturating_add(cleared))
}

/// Messages not yet sent (queued, being sent, failed), by status, across every event and
/// instance: the outbox depth an operator watches.
pub fn unsent_by_status(conn: &mut DbConn) -> AppResult<Vec<(MailStatus, i64)>> {
    Ok(mail_outbox::table
        .filter(mail_outbox::status.ne(MailStatus::Sent))
        .group_by(mail_outbox::status)
        .select((mail_outbox::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// A participant's failed confirmation or reminder is replaced by any later confirmation
/// or reminder to them that was not refused too (staff's "send again" makes one): it
/// carries a newer privacy link and the current badge. A condition on a `mail_outbox` row.
pub const REPLACED_LATER: &str = "(mail_outbox.kind IN ('confirmation', 'reminder') AND EXISTS (\
    SELECT 1 FROM mail_outbox later WHERE later.attendee_id = mail_outbox.attendee_id \
    AND later.kind IN ('confirmation', 'reminder') AND later.status <> 'failed' \
    AND later.created_at > mail_outbox.created_at))";

/// Of `failed` (messages of one page), the ids of those a later message replaced
/// ([`REPLACED_LATER`]).
pub fn replaced_later(conn: &mut DbConn, failed: &[&str]) -> AppResult<std::collections::HashSet<String>> {
    if failed.is_empty() {
        return Ok(Default::default());
    }
    Ok(mail_outbox::table
        .filter(mail_outbox::id.eq_any(failed))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(REPLACED_LATER))
        .select(mail_outbox::id)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// An event's failed messages that no later message replaced: what staff still have to act on.
pub fn failed_unreplaced(conn: &mut DbConn, event_id: &str) -> AppResult<i64> {
    Ok(mail_outbox::table
        .filter(mail_outbox::event_id.eq(event_id))
        .filter(mail_outbox::status.eq(MailStatus::Failed))
        .filter(diesel::dsl::not(diesel::dsl::sql::<diesel::sql_types::Bool>(REPLACED_LATER)))
        .count()
        .get_result(conn)?)
}

/// A page of an event's outgoing mail, newest first, without bodies or addresses.
pub fn list_page(
    conn: &mut DbConn,
    event_id: &str,
    status: Option<MailStatus>,
    paging: &crate::paging::PageQuery,
) -> AppResult<crate::paging::Page<MailSummary>> {
    let (page, per_page) = paging.resolve()?;
    crate::events::find(conn, event_id)?;
    let (items, total) = list_for_event(conn, event_id, status, (page - 1) * per_page, per_page)?;
    Ok(crate::paging::Page { items, total, page, per_page })
}
