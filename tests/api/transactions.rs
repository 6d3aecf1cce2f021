//! `Db::write` on the one SQLite writer connection: a task that panics inside its
//! transaction must neither commit its writes nor leave the writer unable to begin again.

use badgegate::db::Db;
use badgegate::error::AppError;
use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn marks(db: &Db) -> i64 {
    db.read_blocking(|c| {
        Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM settings WHERE key LIKE 'test-mark-%'")
            .get_result::<Count>(c)?
            .n)
    })
    .unwrap()
}

fn mark(db: &Db, key: &str) -> Result<(), AppError> {
    let key = key.to_string();
    db.write_blocking(move |c| {
        c.batch_execute(&format!("INSERT INTO settings (key, value) VALUES ('{key}', 'x')"))?;
        Ok(())
    })
}

#[test]
fn a_write_that_panicked_is_rolled_back_and_the_writer_begins_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("tx.db").display()), 2).unwrap();
    let panicking = db.clone();
    let result = std::thread::spawn(move || {
        panicking.write_blocking(|c| -> Result<(), AppError> {
            c.batch_execute("INSERT INTO settings (key, value) VALUES ('test-mark-lost', 'x')")?;
            panic!("a task fails halfway");
        })
    })
    .join();
    assert!(result.is_err(), "the task panicked");
    mark(&db, "test-mark-kept").unwrap();
    assert_eq!(marks(&db), 1, "only the write after the panic is kept");
}

/// Writes that wait for the writer together run in one transaction (group commit); each
/// must still be all or nothing on its own: one that fails or panics loses only its writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_committed_together_stay_all_or_nothing_each() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("group.db").display()), 4).unwrap();
    // Hold the writer so that every write below queues, and they run as one group.
    let holder = db.clone();
    let hold = std::thread::spawn(move || {
        holder.write_blocking(|_| {
            std::thread::sleep(std::time::Duration::from_millis(400));
            Ok(())
        })
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |c| {
                    c.batch_execute(&format!("INSERT INTO settings (key, value) VALUES ('test-mark-{i}', 'x')"))?;
                    match i % 10 {
                        3 => Err(AppError::Conflict("refused".into())),
                        7 => panic!("a task fails halfway"),
                        _ => Ok(i),
                    }
                })
                .await
            })
        })
        .collect();
    hold.join().unwrap().unwrap();
    let mut ok = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match (i % 10, task.await.unwrap()) {
            (3 | 7, Err(_)) => {}
            (_, Ok(n)) => {
                assert_eq!(n, i);
                ok += 1;
            }
            (_, other) => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(ok, 32);
    assert_eq!(marks(&db), 32, "the failed and the panicked writes left nothing; the others are all kept");
    for i in [3, 7, 13, 17] {
        let key = format!("test-mark-{i}");
        let n = db
            .read_blocking(move |c| {
                Ok(diesel::sql_query(format!("SELECT COUNT(*) AS n FROM settings WHERE key = '{key}'"))
                    .get_result::<Count>(c)?
                    .n)
            })
            .unwrap();
        assert_eq!(n, 0);
    }
    mark(&db, "test-mark-after").unwrap();
    assert_eq!(marks(&db), 33, "the writer begins again");
}
