//! PostgreSQL: table statistics kept fresh by the service itself.
//!
//! PostgreSQL plans every statement from its table statistics, which autovacuum refreshes
//! -- if it is on and keeps up. Scans, leads and the ledger grow by hundreds of thousands
//! of rows in a show's first hours; planned from the statistics of an empty table, the
//! lead cards of a synced batch merged the partner's every lead instead of looking up
//! 500 (55 ms a batch on average over a 50,000-scan sync; 15 ms with this thread, then
//! on autovacuum's rule). It analyzes a table of the service once its changes since its
//! last analysis, by whichever process, exceed 50 rows plus its size then ([`SCALE`]);
//! autovacuum, with its closer rule, mostly leaves it nothing to do. Several instances may run it at once: `SKIP_LOCKED` leaves a table
//! another one is analyzing.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

/// How often the catalog is asked which tables changed. Until a table's first analysis
/// the planner has no statistics for it and guesses that an equality matches 0.5 % of its
/// rows: with every 5 s, a single scan's lead cards in the first seconds of a show merged
/// all the partner's leads (997 for 37 scans: 12 ms) instead of looking up each. The
/// question is one catalog read; tables are analyzed only when they changed enough.
const INTERVAL: Duration = Duration::from_secs(1);

/// Tables changed by at least this many rows plus [`SCALE`] of their size since their
/// last analysis. Autovacuum's defaults are 50 and 0.1; it stays the one that keeps
/// statistics close, and this thread only keeps them from being wrong by orders of
/// magnitude. With 0.1, the tables that scans grow were analyzed about every second: in 5 s
/// of single scans from 64 connections PostgreSQL spent 0.61–0.70 s analyzing (the ledger
/// 0.23–0.37 s of it) beside about 3.0 s in the scans' own statements
/// (`scripts/pg_profile.py wrk 20000`, three runs), on the cores the scans need; with 1.0,
/// 0.15–0.18 s (BENCHMARKS.md, "Session 16"). With 1.0 a table is analyzed again once its
/// changes since the last analysis reach its size then.
const THRESHOLD: i64 = 50;
const SCALE: f64 = 1.0;

#[derive(QueryableByName)]
struct Stale {
    #[diesel(sql_type = Text)]
    relname: String,
}

/// Stops and joins the thread when dropped (with the server's application data).
pub struct Analyzer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Analyzer {
    /// Starts the thread for the PostgreSQL database at `url`, on a connection of its own.
    pub fn start(url: String) -> std::io::Result<Analyzer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new().name("pg-analyze".into()).spawn(move || run(&url, &signal))?;
        Ok(Analyzer { stop, thread: Some(thread) })
    }
}

impl Drop for Analyzer {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(url: &str, stop: &(Mutex<bool>, Condvar)) {
    let (flag, wake) = stop;
    let mut conn: Option<PgConnection> = None;
    let mut stopped = flag.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let (guard, _) = wake.wait_timeout(stopped, INTERVAL).unwrap_or_else(PoisonError::into_inner);
        stopped = guard;
        if *stopped {
            return;
        }
        drop(stopped);
        let connected = match conn.take() {
            Some(c) => Ok(c),
            None => PgConnection::establish(url).map_err(|e| e.to_string()),
        };
        match connected.and_then(|mut c| analyze_stale(&mut c).map(|()| c)) {
            Ok(c) => conn = Some(c),
            // Connected again on the next round: the server may have restarted.
            Err(e) => tracing::debug!(error = %e, "table statistics not refreshed"),
        }
        stopped = flag.lock().unwrap_or_else(PoisonError::into_inner);
    }
}

fn analyze_stale(conn: &mut PgConnection) -> Result<(), String> {
    // `n_mod_since_analyze` counts every process's changes; `reltuples` is -1 until the
    // first analysis.
    let stale: Vec<Stale> = diesel::sql_query(format!(
        "SELECT s.relname::text AS relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() \
         AND s.n_mod_since_analyze > {THRESHOLD} + {SCALE} * greatest(c.reltuples, 0)"
    ))
    .load(conn)
    .map_err(|e| e.to_string())?;
    for table in stale {
        // Names come from the catalog; quoted all the same.
        let quoted = format!("\"{}\"", table.relname.replace('"', "\"\""));
        conn.batch_execute(&format!("ANALYZE (SKIP_LOCKED) {quoted}")).map_err(|e| e.to_string())?;
        tracing::debug!(table = %table.relname, "table statistics refreshed");
    }
    Ok(())
}
