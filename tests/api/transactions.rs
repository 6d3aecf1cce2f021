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
