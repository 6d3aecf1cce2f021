//! Group commit for SQLite: write transactions that arrive while another is running wait
//! for the writer lock together, then run one after another inside ONE transaction, each
//! in its own savepoint, and are answered after its single commit.
//!
//! With `synchronous = FULL` every commit waits for the disk (an fsync of the WAL); under
//! concurrent requests that wait, not the work, bounds the writes per second. Sharing it
//! keeps each request's guarantees: its writes are all or nothing (the savepoint: a request
//! that fails is rolled back alone, and the others commit), and its answer is sent only
//! once they are durable. What changes is only that requests of one group see each
//! other's writes in order, exactly as if they had run one after another, which they did.
//!
//! Only [`super::Db::write`] (request paths, `'static` closures) groups; background threads
//! calling `write_blocking` take the lock alone. PostgreSQL has no writer lock and commits
//! per connection; nothing here runs for it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};

use diesel::Connection;
use diesel::connection::TransactionManager;

use super::DbConn;
use crate::error::{AppError, AppResult};

/// Jobs per transaction at most: a longer group would hold its first request's answer.
const MAX_GROUP: usize = 128;

/// Delivers a job's answer once the group's commit is known (`Err` when it failed).
pub type Completion = Box<dyn FnOnce(AppResult<()>) + Send>;
/// One request's transaction body: runs in its savepoint, answers its completion.
pub type Job = Box<dyn FnOnce(&mut DbConn) -> Completion + Send>;

/// Write jobs waiting for the writer lock.
#[derive(Default)]
pub struct Pending(Mutex<Vec<Job>>);

impl Pending {
    pub fn push(&self, job: Job) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(job);
    }

    /// The oldest waiting jobs, at most [`MAX_GROUP`]; the rest wait for the next drain
    /// (each job is followed by a drain of its own, so none is left behind).
    pub fn take(&self) -> Vec<Job> {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let cut = pending.len().min(MAX_GROUP);
        let rest = pending.split_off(cut);
        std::mem::replace(&mut *pending, rest)
    }
}

/// Wraps a request's closure as a job: it runs in a savepoint, and its result is sent to
/// `reply` after the commit (its own error if it failed; the commit's error if that failed).
pub fn job<T, F>(f: F, reply: tokio::sync::oneshot::Sender<AppResult<T>>) -> Job
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    Box::new(move |conn: &mut DbConn| {
        let result = super::savepoint(conn, f);
        let completion: Completion = Box::new(move |committed: AppResult<()>| {
            let answer = match (result, committed) {
                (Err(own), _) => Err(own),
                (Ok(_), Err(commit)) => Err(commit),
                (Ok(value), Ok(())) => Ok(value),
            };
            // The request may have gone away (client disconnected); nothing to tell.
            let _ = reply.send(answer);
        });
        completion
    })
}

/// Runs `jobs` in the open write transaction on `conn`; answers their completions. A job
/// that panicked has its savepoint rolled back and no completion: its caller sees the
/// reply channel closed.
pub fn run_all(conn: &mut DbConn, jobs: Vec<Job>) -> AppResult<Vec<Completion>> {
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok(completion) => done.push(completion),
            Err(_) => {
                tracing::error!("a write task panicked; its savepoint is rolled back, the group goes on");
                // Depth 1 is the group's transaction; deeper are the panicked job's savepoints.
                while matches!(
                    <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
                    Ok(Some(d)) if d.get() > 1
                ) {
                    <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
                }
            }
        }
    }
    Ok(done)
}

/// A commit error told to every job of the group.
pub fn commit_failed(e: &AppError) -> AppError {
    AppError::internal(format!("the group's commit failed: {e}"))
}
