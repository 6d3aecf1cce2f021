//! Retention: what is kept of an event once `retention_days` have passed after its end.
//!
//! The purge removes what partners and the ledger hold about each participant beyond the
//! event's purpose: the notes, ratings and answers of scans and leads, the names in
//! deletion notices, the mail sent for the event, and the ledger's per-release rows, of
//! which per-day counts stay (who obtained data from the event, how often, on what basis
//! and through which channel). Erased participants' remaining rows (badges, consents,
//! withdrawals, scans, leads, notices, link hashes) are removed; their participant row
//! stays as the anchor of their request records, which prove the requests were answered.
//! Participants' own registration data is not touched here: it goes with erasure.
//!
//! One event is purged in one transaction. The claim (`purged_at`) is the transaction's
//! first write, so two instances that run the daily job at once purge each event once.

pub mod job;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::schema::{
    attendees, badges, consents, deletion_notices, disclosure_counts, disclosures, events, leads, ledger_retention,
    mail_outbox, opt_in_confirmations, scans, withdrawals,
};
use crate::db::{Db, DbConn, PersonalTable, new_id, scrub_after_commit};
use crate::error::AppResult;
use crate::mail::message::MailStatus;

const DAY_MS: i64 = 86_400_000;

/// What the purge did to one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgedEvent {
    pub event_id: String,
    /// Scans and leads whose notes, rating or answers were removed.
    pub notes_cleared: usize,
    /// Ledger rows replaced by counts, and the count rows that replaced them.
    pub ledger_rows: usize,
    pub count_rows: usize,
    /// Messages of the event deleted from the outbox (sent or failed; queued ones stay).
    pub mail_deleted: usize,
    /// Erased participants whose remaining rows were removed.
    pub erased_compacted: usize,
}

/// Events whose retention period has ended and that were not purged yet.
pub fn due(conn: &mut DbConn, now_ms: i64) -> AppResult<Vec<String>> {
    let rows: Vec<(String, i64, i32)> = events::table
        .filter(events::purged_at.is_null())
        .filter(events::ends_at.lt(now_ms))
        .select((events::id, events::ends_at, events::retention_days))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, ends_at, days)| ends_at.saturating_add(i64::from(*days).saturating_mul(DAY_MS)) <= now_ms)
        .map(|(id, _, _)| id)
        .collect())
}

#[derive(QueryableByName)]
struct DayCount {
    #[diesel(sql_type = Nullable<Text>)]
    partner_id: Option<String>,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    basis: String,
    #[diesel(sql_type = BigInt)]
    day: i64,
    #[diesel(sql_type = BigInt)]
    releases: i64,
}

/// Purges one event, in the caller's transaction. `None` when another run purged it
/// already (or it is not due: the check is repeated here under the claim).
pub fn purge_event(conn: &mut DbConn, event_id: &str, now_ms: i64) -> AppResult<Option<PurgedEvent>> {
    let event = crate::events::find(conn, event_id)?;
    if event.purged_at.is_some() || event.retention_ends_at() > now_ms {
        return Ok(None);
    }
    let claimed = diesel::update(events::table.find(event_id).filter(events::purged_at.is_null()))
        .set(events::purged_at.eq(now_ms))
        .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    let mut done = PurgedEvent { event_id: event_id.to_string(), ..Default::default() };

    // The ledger: counts per partner, channel, basis and UTC day, then the rows go. The
    // triggers that keep the ledger append-only let a delete through only while this
    // transaction's `ledger_retention` row names the event.
    let grouped = "SELECT partner_id, channel, basis, occurred_at / 86400000 AS day, COUNT(*) AS releases \
                   FROM disclosures WHERE event_id = {} GROUP BY partner_id, channel, basis, occurred_at / 86400000";
    let counts: Vec<DayCount> = match conn {
        DbConn::Pg(c) => diesel::sql_query(grouped.replace("{}", "$1")).bind::<Text, _>(event_id).load(c)?,
        DbConn::Sqlite(c) => diesel::sql_query(grouped.replace("{}", "?")).bind::<Text, _>(event_id).load(c)?,
    };
    for count in &counts {
        diesel::insert_into(disclosure_counts::table)
            .values((
                disclosure_counts::id.eq(new_id()),
                disclosure_counts::event_id.eq(event_id),
                disclosure_counts::partner_id.eq(&count.partner_id),
                disclosure_counts::channel.eq(&count.channel),
                disclosure_counts::basis.eq(&count.basis),
                disclosure_counts::day.eq(count.day),
                disclosure_counts::releases.eq(count.releases),
            ))
            .execute(conn)?;
    }
    done.count_rows = counts.len();
    diesel::insert_into(ledger_retention::table).values(ledger_retention::event_id.eq(event_id)).execute(conn)?;
    done.ledger_rows = diesel::delete(disclosures::table.filter(disclosures::event_id.eq(event_id))).execute(conn)?;
    diesel::delete(ledger_retention::table.find(event_id)).execute(conn)?;

    // Partners' notes about participants, on scans and leads.
    done.notes_cleared += diesel::update(
        scans::table
            .filter(scans::event_id.eq(event_id))
            .filter(scans::notes.is_not_null().or(scans::rating.is_not_null()).or(scans::answers.is_not_null())),
    )
    .set((scans::notes.eq(None::<String>), scans::rating.eq(None::<i32>), scans::answers.eq(None::<String>)))
    .execute(conn)?;
    done.notes_cleared += diesel::update(
        leads::table
            .filter(leads::event_id.eq(event_id))
            .filter(leads::notes.is_not_null().or(leads::rating.is_not_null()).or(leads::answers.is_not_null())),
    )
    .set((leads::notes.eq(None::<String>), leads::rating.eq(None::<i32>), leads::answers.eq(None::<String>)))
    .execute(conn)?;
    diesel::update(deletion_notices::table.filter(deletion_notices::event_id.eq(event_id)))
        .set(deletion_notices::released_name.eq(None::<String>))
        .execute(conn)?;

    // Mail bodies and addresses; a message still queued is left to its worker.
    done.mail_deleted = diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::event_id.eq(event_id))
            .filter(mail_outbox::status.eq_any([MailStatus::Sent, MailStatus::Failed])),
    )
    .execute(conn)?;

    // Erased participants: only the participant row stays, for their request records.
    let erased = attendees::table
        .filter(attendees::event_id.eq(event_id))
        .filter(attendees::erased_at.is_not_null())
        .select(attendees::id);
    let erased_ids: Vec<String> = erased.load(conn)?;
    for chunk in erased_ids.chunks(500) {
        diesel::delete(opt_in_confirmations::table.filter(opt_in_confirmations::attendee_id.eq_any(chunk)))
            .execute(conn)?;
        crate::attendees::retired::forget(conn, chunk)?;
        diesel::delete(deletion_notices::table.filter(deletion_notices::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(leads::table.filter(leads::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(scans::table.filter(scans::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(consents::table.filter(consents::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(withdrawals::table.filter(withdrawals::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(badges::table.filter(badges::attendee_id.eq_any(chunk))).execute(conn)?;
    }
    done.erased_compacted = erased_ids.len();

    scrub_after_commit(&[PersonalTable::Scans, PersonalTable::Leads, PersonalTable::MailOutbox]);
    Ok(Some(done))
}

/// Purges every due event, each in its own transaction. On PostgreSQL it then rewrites
/// the tables that held personal data (`VACUUM FULL`), since a plain VACUUM leaves the old
/// bytes in the files. SQLite needs no rewrite: `secure_delete` zeroed the old values at
/// commit, and the commit's scrub empties the WAL (retried by the checkpoint thread while
/// readers hold an older snapshot). Blocking.
pub fn purge_due(db: &Db, now_ms: i64) -> Result<Vec<PurgedEvent>, String> {
    let due = db.read_blocking(|conn| due(conn, now_ms)).map_err(|e| e.to_string())?;
    let mut purged = Vec::new();
    for event_id in due {
        let done = db.write_blocking(|conn| purge_event(conn, &event_id, now_ms)).map_err(|e| e.to_string())?;
        if let Some(done) = done {
            tracing::info!(
                event_id = %done.event_id,
                notes_cleared = done.notes_cleared,
                ledger_rows = done.ledger_rows,
                count_rows = done.count_rows,
                mail_deleted = done.mail_deleted,
                erased_compacted = done.erased_compacted,
                "retention purge"
            );
            purged.push(done);
        }
    }
    let postgres = db.read_blocking(|conn| Ok(matches!(conn, DbConn::Pg(_)))).map_err(|e| e.to_string())?;
    if !purged.is_empty() && postgres {
        db.compact()?;
    }
    Ok(purged)
}
