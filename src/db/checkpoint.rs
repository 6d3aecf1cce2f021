//! SQLite WAL checkpoints on their own thread, off the write path.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the threshold copies the
//! whole WAL into the database file while it still holds the single write lock; under scan
//! bursts that was the largest part of every write transaction's time. Here pool
//! connections never checkpoint: this thread runs passive checkpoints, which let writers go
//! on appending, on the other core. A passive checkpoint cannot reset the WAL while writes
//! keep coming, so past [`RESTART_FRAMES`] it waits for the writers of this process and runs
//! a restarting one, after which the next commit starts the WAL from its beginning.

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

#[derive(QueryableByName)]
struct CheckpointResult {
    #[diesel(sql_type = Integer)]
    busy: i32,
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
    pub fn start(path: String) -> std::io::Result<Checkpointer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new().name("wal-checkpoint".into()).spawn(move || run(&path, &signal))?;
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

fn run(path: &str, stop: &(Mutex<bool>, Condvar)) {
    let mut conn = match open(path) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!(error = %e, "checkpoint thread cannot open the database; the WAL will grow");
            return;
        }
    };
    let (flag, wake) = stop;
    let mut stopped = flag.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    while !*stopped {
        stopped = wake.wait_timeout(stopped, INTERVAL).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        if *stopped {
            break;
        }
        if let Err(e) = checkpoint(&mut conn) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn open(path: &str) -> Result<SqliteConnection, String> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;").map_err(|e| e.to_string())?;
    Ok(conn)
}

fn checkpoint(conn: &mut SqliteConnection) -> QueryResult<()> {
    let passive: CheckpointResult = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
    if passive.log >= RESTART_FRAMES {
        let _writer = super::SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let restart: CheckpointResult = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result(conn)?;
        tracing::info!(
            frames = restart.log,
            checkpointed = restart.checkpointed,
            busy = restart.busy,
            "WAL grew under sustained writes; writers waited for a full checkpoint"
        );
    }
    Ok(())
}
