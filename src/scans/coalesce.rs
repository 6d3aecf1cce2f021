//! Group commit for single scans. Booth phones send scans one by one, many at once; each
//! in its own transaction would pay one commit (an fsync on SQLite) and one set of
//! statements per scan. A single writer thread takes every scan waiting when it is free,
//! decides them together (same rules, in arrival order) and commits once. There is no
//! timer: a lone scan is written at once, and a burst forms the next group while the
//! previous one commits.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Outcome, ValidScan, process_batch};
use crate::auth::PartnerScope;
use crate::db::{Db, now_ms};
use crate::error::{AppError, AppResult};

/// At most this many scans share one transaction.
const MAX_GROUP: usize = 256;

struct Job {
    scope: PartnerScope,
    scan: ValidScan,
    reply: oneshot::Sender<AppResult<Outcome>>,
}

pub struct ScanWriter {
    jobs: mpsc::Sender<Job>,
}

impl ScanWriter {
    pub fn start(db: Db) -> std::io::Result<ScanWriter> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("scan-writer".into()).spawn(move || run(db, rx))?;
        Ok(ScanWriter { jobs })
    }

    pub async fn submit(&self, scope: PartnerScope, scan: ValidScan) -> AppResult<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { scope, scan, reply }).map_err(|_| AppError::internal("scan writer stopped"))?;
        answer.await.map_err(|_| AppError::internal("scan writer dropped a scan"))?
    }
}

fn run(db: Db, rx: mpsc::Receiver<Job>) {
    // Ends when the application state (the only sender) is dropped.
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcome = write_group(&db, &group);
        match outcome {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, scans = group.len(), "scan group failed");
                for job in group {
                    let _ = job.reply.send(Err(AppError::internal("scan group failed")));
                }
            }
        }
    }
}

/// One transaction; scans are decided per (partner, user) in arrival order.
#[expect(
    clippy::indexing_slicing,
    reason = "every index ranges over 0..group.len(), and `outcomes` and `done` have that length"
)]
fn write_group(db: &Db, group: &[Job]) -> AppResult<Vec<Outcome>> {
    db.write_blocking(|conn| {
        let now = now_ms();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; group.len()];
        let mut done = vec![false; group.len()];
        for i in 0..group.len() {
            if done[i] {
                continue;
            }
            let scope = &group[i].scope;
            let members: Vec<usize> = (i..group.len())
                .filter(|&j| {
                    !done[j] && group[j].scope.partner_id == scope.partner_id && group[j].scope.user_id == scope.user_id
                })
                .collect();
            let scans: Vec<ValidScan> = members.iter().map(|&j| group[j].scan.clone()).collect();
            let results = process_batch(conn, scope, &scans, None, now)?;
            for (j, outcome) in members.into_iter().zip(results) {
                done[j] = true;
                outcomes[j] = Some(outcome);
            }
        }
        outcomes.into_iter().map(|o| o.ok_or_else(|| AppError::internal("scan left undecided"))).collect()
    })
}
