//! The daily retention purge, on its own thread.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::db::{Db, now_ms};

/// The first run waits this long after start, so a service that restarts in a loop does
/// not rewrite tables on every start, and tests never see it.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(600);
const EVERY: Duration = Duration::from_secs(24 * 3600);

/// Stops and joins the thread when dropped.
pub struct RetentionJob {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl RetentionJob {
    pub fn start(db: Db) -> std::io::Result<RetentionJob> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new().name("retention".into()).spawn(move || run(&db, &signal))?;
        Ok(RetentionJob { stop, thread: Some(thread) })
    }
}

impl Drop for RetentionJob {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(db: &Db, stop: &(Mutex<bool>, Condvar)) {
    let (flag, wake) = stop;
    let mut wait = FIRST_RUN_AFTER;
    let mut stopped = flag.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        stopped = wake.wait_timeout(stopped, wait).unwrap_or_else(PoisonError::into_inner).0;
        if *stopped {
            return;
        }
        wait = EVERY;
        match super::purge_due(db, now_ms()) {
            Ok(purged) if purged.is_empty() => tracing::debug!("retention purge: no event due"),
            Ok(purged) => tracing::info!(events = purged.len(), "retention purge done"),
            Err(e) => {
                tracing::error!(error = %e, "retention purge failed; it runs again in a day, or run `badgegate purge`")
            }
        }
    }
}
