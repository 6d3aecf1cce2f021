//! Group commit for single scans. Booth phones send scans one by one, many at once; each
//! in its own transaction would pay one commit (an fsync on SQLite) and one set of
//! statements per scan. A single writer thread takes every scan waiting when it is free,
//! decides them together (same rules, in arrival order) and commits once. There is no
//! timer: a lone scan is written at once, and a burst forms the next group while the
//! previous one commits.

use std::sync::{Arc, Mutex, PoisonError, mpsc};

use tokio::sync::oneshot;

use super::{Outcome, ValidScan, process_batch};
use crate::auth::tokens::Claims;
use crate::auth::{PartnerScope, users};
use crate::db::{Db, now_ms};
use crate::error::{AppError, AppResult};

/// At most this many scans share one transaction.
const MAX_GROUP: usize = 256;

/// Writer threads on PostgreSQL, where transactions run side by side: while one group
/// waits for its statements and its commit, the next is written. Measured with 64 phones
/// (BENCHMARKS.md, session 14): one writer left 29 % of the CPU idle, two used it,
/// three and four were no faster than two. SQLite has one writer lock, so one thread.
const PG_WRITERS: usize = 2;

struct Job {
    claims: Claims,
    generation: i64,
    scan: ValidScan,
    reply: oneshot::Sender<AppResult<Outcome>>,
}

pub struct ScanWriter {
    jobs: mpsc::Sender<Job>,
}

impl ScanWriter {
    pub fn start(db: Db) -> std::io::Result<ScanWriter> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let writers = if db.has_one_writer() { 1 } else { PG_WRITERS };
        for _ in 0..writers {
            let (db, rx) = (db.clone(), rx.clone());
            std::thread::Builder::new().name("scan-writer".into()).spawn(move || run(db, rx))?;
        }
        Ok(ScanWriter { jobs })
    }

    /// Stores one scan for the caller of a token whose signature was checked with
    /// `generation`; the caller is confirmed in the scan's own transaction (a token that
    /// no longer holds answers 401 and stores nothing).
    pub async fn submit(&self, claims: Claims, generation: i64, scan: ValidScan) -> AppResult<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { claims, generation, scan, reply })
            .map_err(|_| AppError::internal("scan writer stopped"))?;
        answer.await.map_err(|_| AppError::internal("scan writer dropped a scan"))?
    }
}

fn run(db: Db, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let group = {
            // One writer takes what waits; the others queue on the lock for the next group.
            let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            // Ends when the application state (the only sender) is dropped.
            let Ok(first) = jobs.recv() else { return };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match jobs.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            group
        };
        let answers = match write_group(&db, &group) {
            Ok(answers) => answers,
            // No connection (the database is down or the pool exhausted): trying each scan
            // on its own would make every one wait for the pool's timeout again.
            Err(AppError::Unavailable) => group.iter().map(|_| Err(AppError::Unavailable)).collect(),
            // Each scan again in a transaction of its own, so that one failing scan, or a
            // deadlock with another writer's group on PostgreSQL, fails no other.
            Err(e) if group.len() > 1 => {
                tracing::warn!(error = %e, scans = group.len(), "scan group failed; writing its scans one by one");
                group.iter().map(|job| alone(&db, job)).collect()
            }
            Err(e) => {
                tracing::error!(error = %e, "scan failed");
                vec![Err(AppError::internal("scan failed"))]
            }
        };
        for (job, answer) in group.into_iter().zip(answers) {
            let _ = job.reply.send(answer);
        }
    }
}

fn alone(db: &Db, job: &Job) -> AppResult<Outcome> {
    match write_group(db, std::slice::from_ref(job)) {
        Ok(mut answers) => answers.pop().unwrap_or_else(|| Err(AppError::internal("scan left undecided"))),
        Err(e) => {
            tracing::error!(error = %e, "scan failed");
            Err(AppError::internal("scan failed"))
        }
    }
}

/// One transaction: the callers confirmed, then scans decided per (partner, user) in
/// arrival order. One answer per job; a caller whose token no longer holds gets its
/// refusal and nothing of it is written.
#[expect(
    clippy::indexing_slicing,
    reason = "every index ranges over 0..group.len(), and `scopes`, `outcomes` and `done` have that length"
)]
fn write_group(db: &Db, group: &[Job]) -> AppResult<Vec<AppResult<Outcome>>> {
    db.write_blocking(|conn| {
        let now = now_ms();
        let presented: Vec<(&Claims, i64)> = group.iter().map(|j| (&j.claims, j.generation)).collect();
        let scopes: Vec<AppResult<PartnerScope>> =
            users::confirm(conn, &presented)?.into_iter().map(|c| c.and_then(|c| c.partner_scope())).collect();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; group.len()];
        let mut done = vec![false; group.len()];
        for i in 0..group.len() {
            let Ok(scope) = &scopes[i] else { continue };
            if done[i] {
                continue;
            }
            let members: Vec<usize> = (i..group.len())
                .filter(|&j| {
                    !done[j]
                        && scopes[j]
                            .as_ref()
                            .is_ok_and(|s| s.partner_id == scope.partner_id && s.user_id == scope.user_id)
                })
                .collect();
            let scans: Vec<ValidScan> = members.iter().map(|&j| group[j].scan.clone()).collect();
            let results = process_batch(conn, scope, &scans, None, now)?;
            for (j, outcome) in members.into_iter().zip(results) {
                done[j] = true;
                outcomes[j] = Some(outcome);
            }
        }
        Ok(outcomes
            .into_iter()
            .zip(scopes)
            .map(|(outcome, scope)| match (outcome, scope) {
                (Some(outcome), _) => Ok(outcome),
                (None, Err(refused)) => Err(refused),
                (None, Ok(_)) => Err(AppError::internal("scan left undecided")),
            })
            .collect())
    })
}
