//! The outbox worker: a thread that claims due messages, hands them to the [`Mailer`] and
//! records the outcome, with exponential backoff between attempts.
//!
//! A claim is one write transaction that moves due rows to `sending` under this worker's
//! lease (`lease_owner`, `lease_until`) and counts the attempt. On PostgreSQL the rows are
//! chosen `FOR UPDATE SKIP LOCKED`, so two instances claiming at once take different rows;
//! on SQLite the write lock serialises claims. A batch is delivered, then its outcomes
//! are recorded in one transaction, only by the worker that still holds the lease: a
//! message is marked `sent` only after the SMTP server accepted it, or its `.eml` file
//! reached the disk ([`Mailer::flush`]). See the module
//! documentation of [`crate::mail`] for a crash between those two steps.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::prelude::*;

use super::transport::{DeliveryError, Mailer, Outgoing};
use super::{MailRow, MailStatus, OutboxKey};
use crate::db::schema::mail_outbox;
use crate::db::{Db, DbConn, new_id, now_ms};
use crate::error::AppResult;

/// Messages claimed at once; one lease covers them all.
const BATCH: i64 = 64;
/// Long enough for a whole batch at the SMTP timeout; a message claimed by a worker that
/// died waits this long before another takes it.
const LEASE: Duration = Duration::from_secs(600);
/// How often an idle worker looks for due messages.
const POLL: Duration = Duration::from_millis(250);
/// While requests are being answered, the worker rests after each full batch: as long as
/// the batch took, times the number of requests in flight, at most [`MAX_YIELD_FACTOR`]
/// times (and at most [`MAX_REST`]). One request at a time (a steady trickle of scans)
/// leaves it half the time; a burst of 8 or more concurrent requests, a ninth. A backlog
/// drains at full speed once the requests stop. Rendering at the lowest priority (see
/// [`lower_priority`]) was not enough on its own: with confirmations delivered as fast as
/// they were queued, registrations ran 31 % (SMTP) and 42 % (`.eml` files) slower on a
/// 2-core machine (BENCHMARKS.md, "Session 9"). The rest grows with the requests because
/// a fixed one (three batches) left a trickle of requests with a quarter of the delivery
/// speed; whether the longer rest of a rush helps registrations is within the noise of
/// the benchmark ("Session 10").
const MAX_YIELD_FACTOR: u32 = 8;
/// A batch that waited out SMTP timeouts must not hold the rest of the queue for minutes.
const MAX_REST: Duration = Duration::from_secs(2);
/// After this many attempts a message is `failed` (with a base of 10 s: about 3.5 hours).
pub const MAX_ATTEMPTS: i32 = 12;
const MAX_BACKOFF_MS: u64 = 3_600_000;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Delay before the next attempt after `attempts` failed ones: base, 2 x base, 4 x base, …
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(MAX_BACKOFF_MS);
    Duration::from_millis(base_ms.saturating_mul(1u64 << doublings).min(MAX_BACKOFF_MS))
}

/// The ids of up to `limit` due messages: queued ones whose time has come, oldest first,
/// then sending ones whose lease expired. Two queries, not one with `OR`: each walks the
/// `(status, next_attempt_at)` index and stops after `limit` entries, where an `OR` made
/// SQLite collect and sort every queued row on each claim, so a backlog of thousands
/// made each claim slower (and it holds the writer lock). `lock` takes the rows
/// `FOR UPDATE SKIP LOCKED` on PostgreSQL.
fn due_ids(conn: &mut DbConn, now: i64, limit: i64, lock: bool) -> AppResult<Vec<String>> {
    let queued = mail_outbox::table
        .filter(mail_outbox::status.eq(MailStatus::Queued))
        .filter(mail_outbox::next_attempt_at.le(now))
        .order((mail_outbox::status, mail_outbox::next_attempt_at))
        .limit(limit)
        .select(mail_outbox::id);
    let mut ids: Vec<String> = match conn {
        DbConn::Pg(c) if lock => queued.for_update().skip_locked().load(c)?,
        DbConn::Pg(c) => queued.load(c)?,
        DbConn::Sqlite(c) => queued.load(c)?,
    };
    let room = limit.saturating_sub(i64::try_from(ids.len()).unwrap_or(limit));
    if room > 0 {
        let expired = mail_outbox::table
            .filter(mail_outbox::status.eq(MailStatus::Sending))
            .filter(mail_outbox::lease_until.lt(now))
            .limit(room)
            .select(mail_outbox::id);
        ids.extend(match conn {
            DbConn::Pg(c) if lock => expired.for_update().skip_locked().load::<String>(c)?,
            DbConn::Pg(c) => expired.load::<String>(c)?,
            DbConn::Sqlite(c) => expired.load::<String>(c)?,
        });
    }
    Ok(ids)
}

/// Is anything due? A plain read, so an idle worker does not take the write lock.
fn any_due(conn: &mut DbConn, now: i64) -> AppResult<bool> {
    Ok(!due_ids(conn, now, 1, false)?.is_empty())
}

/// Claims up to `limit` due messages for `owner` (queued and due, or sending with an
/// expired lease) and returns them.
/// Runs inside the caller's write transaction.
pub fn claim(conn: &mut DbConn, owner: &str, limit: i64, lease: Duration) -> AppResult<Vec<MailRow>> {
    let now = now_ms();
    let ids = due_ids(conn, now, limit, true)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The update repeats the conditions of `due_ids`, and only the rows it changed are
    // returned: a row that another worker claimed after it was chosen (possible only if
    // the row lock above were ever lost, e.g. on a backend without one) stays theirs.
    diesel::update(
        mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)).filter(
            (mail_outbox::status.eq(MailStatus::Queued).and(mail_outbox::next_attempt_at.le(now)))
                .or(mail_outbox::status.eq(MailStatus::Sending).and(mail_outbox::lease_until.lt(now))),
        ),
    )
    .set((
        mail_outbox::status.eq(MailStatus::Sending),
        mail_outbox::lease_owner.eq(owner),
        mail_outbox::lease_until.eq(now.saturating_add(ms(lease))),
        mail_outbox::attempts.eq(mail_outbox::attempts + 1),
    ))
    .execute(conn)?;
    Ok(mail_outbox::table
        .filter(mail_outbox::id.eq_any(&ids))
        .filter(mail_outbox::status.eq(MailStatus::Sending))
        .filter(mail_outbox::lease_owner.eq(owner))
        // Where times tie, in the order they were queued (ids are time-ordered). Chunks of a
        // batch go out side by side, so arrival order is not kept; each message's `Date`
        // (its queue time) is what mail programs sort by.
        .order((mail_outbox::next_attempt_at, mail_outbox::id))
        .select(MailRow::as_select())
        .load(conn)?)
}

/// Records a delivery, if this worker still holds the message.
pub fn mark_sent(conn: &mut DbConn, id: &str, owner: &str) -> AppResult<bool> {
    let changed = diesel::update(
        mail_outbox::table
            .find(id)
            .filter(mail_outbox::status.eq(MailStatus::Sending))
            .filter(mail_outbox::lease_owner.eq(owner)),
    )
    .set((
        mail_outbox::status.eq(MailStatus::Sent),
        mail_outbox::sent_at.eq(Some(now_ms())),
        mail_outbox::lease_owner.eq(None::<String>),
        mail_outbox::lease_until.eq(None::<i64>),
        mail_outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Records a failed attempt: back to the queue after the backoff, or `failed` for good.
pub fn mark_failed(
    conn: &mut DbConn,
    row: &MailRow,
    owner: &str,
    error: &DeliveryError,
    retry_base: Duration,
) -> AppResult<MailStatus> {
    let status = if error.permanent || row.attempts >= MAX_ATTEMPTS { MailStatus::Failed } else { MailStatus::Queued };
    let next = now_ms().saturating_add(ms(backoff(retry_base, row.attempts)));
    diesel::update(
        mail_outbox::table
            .find(&row.id)
            .filter(mail_outbox::status.eq(MailStatus::Sending))
            .filter(mail_outbox::lease_owner.eq(owner)),
    )
    .set((
        mail_outbox::status.eq(status),
        mail_outbox::next_attempt_at.eq(next),
        mail_outbox::lease_owner.eq(None::<String>),
        mail_outbox::lease_until.eq(None::<i64>),
        mail_outbox::last_error.eq(Some(error.detail.as_str())),
    ))
    .execute(conn)?;
    Ok(status)
}

/// Hands one claimed message to the mailer.
fn deliver_one(mailer: &Mailer, key: &OutboxKey, row: &MailRow) -> Result<(), DeliveryError> {
    match row.body.as_deref().map(|b| key.open(b)) {
        Some(Ok(body)) => mailer.deliver(&Outgoing {
            id: &row.id,
            kind: row.kind,
            to: &row.recipient,
            subject: &row.subject,
            body: &body.render(),
            queued_at: row.created_at,
        }),
        Some(Err(_)) => {
            Err(DeliveryError { permanent: true, detail: "the stored content does not open with this key".into() })
        }
        None => Err(DeliveryError { permanent: true, detail: "the content was erased".into() }),
    }
}

/// Records the outcomes of one batch in one transaction: one commit (one fsync on
/// SQLite) per batch instead of one per message keeps the worker from halving the write
/// throughput of registrations that run meanwhile.
fn record(
    db: &Db,
    owner: &str,
    retry_base: Duration,
    outcomes: &[(&MailRow, Result<(), DeliveryError>)],
) -> AppResult<Vec<MailStatus>> {
    let owned: Vec<(MailRow, Result<(), DeliveryError>)> =
        outcomes.iter().map(|(row, outcome)| ((*row).clone(), outcome.clone())).collect();
    let owner = owner.to_string();
    db.write_grouped_blocking(move |conn| {
        owned
            .iter()
            .map(|(row, outcome)| match outcome {
                // Not held any more: the lease expired and another worker took it over.
                Ok(()) => mark_sent(conn, &row.id, &owner)
                    .map(|held| if held { MailStatus::Sent } else { MailStatus::Sending }),
                Err(e) => mark_failed(conn, row, &owner, e, retry_base),
            })
            .collect()
    })
}

fn log_outcome(row: &MailRow, status: MailStatus, outcome: &Result<(), DeliveryError>) {
    match (status, outcome) {
        (MailStatus::Sent, _) => tracing::info!(mail_id = %row.id, kind = %row.kind, "mail sent"),
        (status, Err(e)) => {
            tracing::warn!(mail_id = %row.id, kind = %row.kind, attempts = row.attempts, %status, error = %e.detail, "mail not delivered");
        }
        (_, Ok(())) => {
            tracing::warn!(mail_id = %row.id, "mail sent after its lease expired; another worker may send it again (same Message-ID)")
        }
    }
}

/// Rendering a message (its QR code above all) costs more CPU than queueing it: at full
/// priority the senders took 38 % of the server's CPU during a burst of registrations and
/// cut their rate by a third. At the lowest priority they render and send with the CPU
/// the requests leave, and catch up after the burst. Only the sender threads are lowered:
/// the worker's own thread takes the writer lock to claim and record, and a thread at low
/// priority holding that lock would make every request wait for it. On Linux the nice
/// value belongs to the calling thread.
fn lower_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, 19) {
        tracing::debug!(error = %e, "a mail sender keeps normal priority");
    }
}

/// Delivers a claimed batch, up to [`Mailer::senders`] messages at once, makes it
/// durable, then records it.
fn deliver_batch(db: &Db, mailer: &Mailer, key: &OutboxKey, owner: &str, retry_base: Duration, rows: &[MailRow]) {
    let per_sender = rows.len().div_ceil(mailer.senders()).max(1);
    let mut outcomes: Vec<(&MailRow, Result<(), DeliveryError>)> = std::thread::scope(|scope| {
        let senders: Vec<_> = rows
            .chunks(per_sender)
            .map(|chunk| {
                scope.spawn(move || {
                    lower_priority();
                    chunk.iter().map(|row| (row, deliver_one(mailer, key, row))).collect::<Vec<_>>()
                })
            })
            .collect();
        // A sender that panicked leaves its messages under the lease: tried again later.
        senders.into_iter().filter_map(|s| s.join().ok()).flatten().collect()
    });
    // Nothing is recorded as sent before it is durable: a batch that cannot be made so is
    // tried again, and its files are replaced, not doubled.
    if outcomes.iter().any(|(_, o)| o.is_ok())
        && let Err(e) = mailer.flush()
    {
        for (_, outcome) in outcomes.iter_mut() {
            if outcome.is_ok() {
                *outcome = Err(e.clone());
            }
        }
    }
    match record(db, owner, retry_base, &outcomes) {
        Ok(statuses) => {
            for ((row, outcome), status) in outcomes.iter().zip(statuses) {
                log_outcome(row, status, outcome);
            }
        }
        Err(e) => tracing::error!(
            error = %e,
            messages = outcomes.len(),
            "cannot record the outcome of a batch; its lease will expire and it is tried again"
        ),
    }
}

/// How many times its last batch the worker rests with `in_flight` requests being answered.
fn yield_factor(in_flight: usize) -> u32 {
    u32::try_from(in_flight).unwrap_or(u32::MAX).clamp(1, MAX_YIELD_FACTOR)
}

/// The running worker; dropping it stops the thread once its current batch is delivered
/// and recorded, so a graceful restart sends nothing twice.
pub struct Worker {
    stop: Option<mpsc::Sender<()>>,
    _thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(db: Db, mailer: Mailer, key: OutboxKey, retry_base: Duration) -> std::io::Result<Worker> {
        let (stop, stopped) = mpsc::channel::<()>();
        let owner = new_id();
        let thread = std::thread::Builder::new().name("mail-outbox".into()).spawn(move || {
            loop {
                let claimed = match db.read_blocking(|c| any_due(c, now_ms())) {
                    Ok(true) => {
                        let owner = owner.clone();
                        db.write_grouped_blocking(move |conn| claim(conn, &owner, BATCH, LEASE))
                    }
                    Ok(false) => Ok(Vec::new()),
                    Err(e) => Err(e),
                };
                let started = std::time::Instant::now();
                let full = match claimed {
                    Ok(rows) => {
                        deliver_batch(&db, &mailer, &key, &owner, retry_base, &rows);
                        if matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Disconnected)) {
                            return;
                        }
                        i64::try_from(rows.len()).unwrap_or(0) >= BATCH
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the mail outbox cannot be read");
                        false
                    }
                };
                let wait = match (full, crate::measure::requests_in_flight()) {
                    (false, _) => POLL,
                    (true, 0) => Duration::ZERO,
                    (true, in_flight) => started.elapsed().saturating_mul(yield_factor(in_flight)).min(MAX_REST),
                };
                if let Err(mpsc::RecvTimeoutError::Disconnected) = stopped.recv_timeout(wait) {
                    return;
                }
            }
        })?;
        Ok(Worker { stop: Some(stop), _thread: Some(thread) })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel wakes the thread; it is not joined, so a drop on an async
        // worker never waits for an SMTP timeout.
        drop(self.stop.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_yields_more_the_more_requests_wait() {
        assert_eq!(yield_factor(1), 1);
        assert_eq!(yield_factor(3), 3);
        assert_eq!(yield_factor(16), MAX_YIELD_FACTOR);
        assert_eq!(yield_factor(usize::MAX), MAX_YIELD_FACTOR);
    }

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_an_hour() {
        let base = Duration::from_secs(10);
        assert_eq!(backoff(base, 1), Duration::from_secs(10));
        assert_eq!(backoff(base, 2), Duration::from_secs(20));
        assert_eq!(backoff(base, 4), Duration::from_secs(80));
        assert_eq!(backoff(base, 40), Duration::from_secs(3600));
    }
}
