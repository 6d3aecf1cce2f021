//! Operational metrics, recorded through the `metrics` facade and rendered by
//! `http::metrics` in Prometheus text format on `BADGEGATE_METRICS_BIND`. Without that
//! setting no recorder is installed and every call here does nothing.
//!
//! Labels are closed vocabularies only (route patterns, methods, statuses, outcomes,
//! channels, bases): never an id, an e-mail or anything a participant typed, so a scrape
//! tells how the service behaves and nothing about who used it.
//!
//! This module imports nothing of the crate: the database layer and the cores call it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const HTTP_REQUEST_DURATION: &str = "badgegate_http_request_duration_seconds";
pub const SCANS: &str = "badgegate_scans_total";
pub const RELEASES: &str = "badgegate_releases_total";
pub const OUTBOX_MESSAGES: &str = "badgegate_outbox_messages";
pub const DB_POOL_WAIT: &str = "badgegate_db_pool_wait_seconds";
pub const DB_POOL_CONNECTIONS: &str = "badgegate_db_pool_connections";

/// Upper bounds of the latency buckets, in seconds: the scan path's targets (50 ms p99,
/// 100 ms under an import) fall on bucket edges.
pub const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Help texts, registered once when the recorder is installed.
pub fn describe() {
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time from receiving a request to its response head, by route pattern, method and status."
    );
    metrics::describe_counter!(
        SCANS,
        "Scans answered to phones (single and batch items), by outcome and, when rejected, by reason."
    );
    metrics::describe_counter!(
        RELEASES,
        "Participants' contact records released and written to the disclosure ledger, by channel and \
         basis; counted when their transaction commits."
    );
    metrics::describe_gauge!(OUTBOX_MESSAGES, "Mail outbox messages by status, read from the database when scraped.");
    metrics::describe_histogram!(
        DB_POOL_WAIT,
        metrics::Unit::Seconds,
        "Time spent waiting for a database connection (`pool`) or for SQLite's single writer (`writer`)."
    );
    metrics::describe_gauge!(DB_POOL_CONNECTIONS, "Connections of this instance's pool, by state, when scraped.");
}

/// Methods outside the standard set (anyone can send `FOO`) are counted as `other`, so a
/// client cannot grow the label set.
pub fn http_request(method: &str, route: String, status: u16, elapsed: Duration) {
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method.to_string(),
        _ => "other".to_string(),
    };
    metrics::histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => route, "status" => status.to_string())
        .record(elapsed);
}

/// One scan's answer: `outcome` is the scan status, `reason` the rejection reason or "".
pub fn scan(outcome: &'static str, reason: &'static str) {
    metrics::counter!(SCANS, "outcome" => outcome, "reason" => reason).increment(1);
}

pub fn pool_wait(pool: &'static str, waited: Duration) {
    metrics::histogram!(DB_POOL_WAIT, "pool" => pool).record(waited);
}

pub fn pool_connections(idle: u32, in_use: u32) {
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
}

pub fn outbox_messages(status: &'static str, count: i64) {
    // A gauge is an f64; an outbox never holds 2^53 messages.
    #[allow(clippy::as_conversions, clippy::cast_precision_loss)]
    metrics::gauge!(OUTBOX_MESSAGES, "status" => status).set(count as f64);
}

thread_local! {
    /// Releases written in the open transaction on this thread, by (channel, basis): they
    /// are counted when it commits, forgotten when it (or the savepoint) rolls back, so the
    /// counter agrees with the ledger.
    static PENDING_RELEASES: RefCell<Vec<(&'static str, &'static str, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Notes `n` releases written to the ledger in the current transaction.
pub fn release_pending(channel: &'static str, basis: &'static str, n: u64) {
    PENDING_RELEASES.with_borrow_mut(|pending| {
        match pending.iter_mut().find(|(c, b, _)| *c == channel && *b == basis) {
            Some(entry) => entry.2 += n,
            None => pending.push((channel, basis, n)),
        }
    });
}

/// What is pending now; [`discard_pending_since`] returns to it when a savepoint rolls back.
pub fn pending_mark() -> Vec<(&'static str, &'static str, u64)> {
    PENDING_RELEASES.with_borrow(Clone::clone)
}

pub fn discard_pending_since(mark: Vec<(&'static str, &'static str, u64)>) {
    PENDING_RELEASES.set(mark);
}

/// The transaction committed: count what it released.
pub fn commit_pending() {
    for (channel, basis, n) in PENDING_RELEASES.take() {
        metrics::counter!(RELEASES, "channel" => channel, "basis" => basis).increment(n);
    }
}

/// The transaction rolled back (or a new one begins on this thread): nothing was released.
pub fn discard_pending() {
    PENDING_RELEASES.take();
}

/// HTTP requests of this process being answered now; background work (the mail worker)
/// reads it to leave the CPU and the writer to them.
static REQUESTS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts a request as in flight until dropped.
pub struct InFlight(());

pub fn request_started() -> InFlight {
    REQUESTS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
    InFlight(())
}

impl Drop for InFlight {
    fn drop(&mut self) {
        REQUESTS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

pub fn requests_in_flight() -> usize {
    REQUESTS_IN_FLIGHT.load(Ordering::Relaxed)
}
