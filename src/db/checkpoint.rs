//! SQLite WAL checkpoints on their own thread, off the write path.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the threshold copies the
//! whole WAL into the database file while it still holds the single write lock; under scan
//! bursts that was the largest part of every write transaction's time. Here pool
//! connections never checkpoint: this thread runs passive checkpoints, which let writers go
//! on appending, on the other core. A passive checkpoint cannot reset the WAL while writes
//! keep coming, so past [`RESTART_FRAMES`] it waits for the writers of this process and runs
//! a restarting one, after which the next commit starts the WAL from its beginning.
//! After an erasure whose own TRUNCATE checkpoint met a reader, it retries that one until
//! the WAL is empty, so the old page images of the erased rows leave the files.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Integer;

/// How often the thread checkpoints.
const INTERVAL: Duration = Duration::from_millis(100);
/// WAL size (4 KiB pages, 40 MiB) at which writers wait for a restarting checkpoint. The
/// passive checkpoint just before has copied all but the last moments' pages, so the
/// wait is short; a higher limit made it rarer but longer (single-scan p99 over 50 ms).
const RESTART_FRAMES: i32 = 10_000;

/// Passive checkpoints tried before a restart takes the writer lock, and the number of
/// frames appended during one of them under which the WAL counts as caught up.
const CATCH_UP_TRIES: usize = 4;
const CAUGHT_UP_FRAMES: i32 = 256;

/// Bumped when an erasure could not empty the WAL at once (a reader was still in an older
/// snapshot). Every checkpoint thread of the process retries until it has truncated after
/// the latest request; with one database per process that is the one that erased.
static TRUNCATE_WANTED: AtomicU64 = AtomicU64::new(0);

/// How long a truncating or restarting checkpoint waits for readers while it holds the
/// writer mutex: scans wait at most this long per attempt. (A restart that waited with
/// the connection's 10 s held the writer for 1.1 s behind an import's read.)
const LOCKED_BUSY_MS: u32 = 50;

/// Asks the checkpoint thread to empty the WAL (TRUNCATE checkpoint) as soon as readers allow.
pub fn request_truncate() {
    TRUNCATE_WANTED.fetch_add(1, Ordering::SeqCst);
}

#[derive(QueryableByName)]
pub(crate) struct CheckpointResult {
    #[diesel(sql_type = Integer)]
    pub(crate) busy: i32,
    #[diesel(sql_type = Integer)]
    log: i32,
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// Stops and joins the thread when the last handle to the database is dropped.
pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// `writer` is the database's writer lock (see `Db`): held while a checkpoint must not
    /// see this process append.
    pub fn start<W: Send + 'static>(path: String, writer: Arc<Mutex<W>>) -> std::io::Result<Checkpointer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread =
            std::thread::Builder::new().name("wal-checkpoint".into()).spawn(move || run(&path, &writer, &signal))?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run<W>(path: &str, writer: &Mutex<W>, stop: &(Mutex<bool>, Condvar)) {
    let mut conn = match open(path) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!(error = %e, "checkpoint thread cannot open the database; the WAL will grow");
            return;
        }
    };
    let (flag, wake) = stop;
    let mut truncated = TRUNCATE_WANTED.load(Ordering::SeqCst);
    let mut attempts = 0u32;
    let mut wal = WalState::default();
    let mut stopped = flag.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    while !*stopped {
        stopped = wake.wait_timeout(stopped, INTERVAL).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        if *stopped {
            break;
        }
        let wanted = TRUNCATE_WANTED.load(Ordering::SeqCst);
        if wanted != truncated {
            attempts += 1;
            match truncate(&mut conn, writer) {
                Ok(true) => {
                    truncated = wanted;
                    // Each attempt is ~INTERVAL apart: past 5 s the erasure promise was late.
                    if attempts > 50 {
                        tracing::warn!(attempts, "WAL emptied after an erasure only after long-running reads ended");
                    }
                    attempts = 0;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "WAL truncation after an erasure failed; retrying"),
            }
        }
        if let Err(e) = checkpoint(&mut conn, writer, &mut wal) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn open(path: &str) -> Result<SqliteConnection, String> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;").map_err(|e| e.to_string())?;
    Ok(conn)
}

/// One attempt to copy the whole WAL back and cut it to zero bytes, under the writer mutex
/// so no writer of this process appends meanwhile. False while a reader blocks it.
fn truncate<W>(conn: &mut SqliteConnection, writer: &Mutex<W>) -> QueryResult<bool> {
    let _writer = writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    conn.batch_execute(&format!("PRAGMA busy_timeout = {LOCKED_BUSY_MS}"))?;
    let result = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result::<CheckpointResult>(conn);
    conn.batch_execute("PRAGMA busy_timeout = 10000")?;
    Ok(result?.busy == 0)
}

/// What the thread remembers between ticks, so a condition is logged once when it starts
/// and once when it ends, not on every tick.
#[derive(Default)]
struct WalState {
    /// The WAL size (frames) right after the last restarting checkpoint that no reader
    /// blocked. Until a writer appends (and so starts the WAL over) the file keeps that size
    /// and another restart would only take the writer lock for nothing.
    restarted_at: Option<i32>,
    /// Restarting checkpoints are under way (the WAL crossed [`RESTART_FRAMES`]).
    grown: bool,
}

fn checkpoint<W>(conn: &mut SqliteConnection, writer: &Mutex<W>, wal: &mut WalState) -> QueryResult<()> {
    let passive: CheckpointResult = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
    if passive.log < RESTART_FRAMES {
        if wal.grown {
            tracing::info!(frames = passive.log, "WAL back under its restart size");
        }
        *wal = WalState::default();
        return Ok(());
    }
    if wal.restarted_at == Some(passive.log) {
        return Ok(());
    }
    // Under the writer lock the restart copies whatever was appended since the last passive
    // checkpoint, and every write waits for that copy. During an import that was 560–1,540
    // frames and 31–51 ms of lock per restart, about three times a second: most of the scans'
    // tail. Passive checkpoints first, each copying what came during the one before, until
    // few frames come in between.
    let mut last = passive.log;
    for _ in 0..CATCH_UP_TRIES {
        let again: CheckpointResult = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
        let fresh = again.log - last;
        last = again.log;
        if fresh < CAUGHT_UP_FRAMES {
            break;
        }
    }
    let _writer = writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    conn.batch_execute(&format!("PRAGMA busy_timeout = {LOCKED_BUSY_MS}"))?;
    let restart = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<CheckpointResult>(conn);
    conn.batch_execute("PRAGMA busy_timeout = 10000")?;
    let restart = restart?;
    if !wal.grown {
        tracing::info!(
            frames = restart.log,
            checkpointed = restart.checkpointed,
            busy = restart.busy,
            "WAL grew under sustained writes; writers wait for restarting checkpoints until it is back under its restart size"
        );
        wal.grown = true;
    }
    wal.restarted_at = (restart.busy == 0).then_some(restart.log);
    Ok(())
}
