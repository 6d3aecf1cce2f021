//! PostgreSQL plans from costs. The service lowers the cost of a random page read on its
//! own connections (`src/db/mod.rs`), but only where nobody chose a value: an operator's
//! setting, even PostgreSQL's default written out, is kept.

use diesel::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// `random_page_cost` as a new pooled connection of the service sees it.
fn seen_by_the_service(url: &str) -> String {
    let db = badgegate::db::Db::connect(url, 1).unwrap();
    let mut conn = db.get().unwrap();
    diesel::sql_query("SELECT current_setting('random_page_cost') AS value")
        .get_result::<Setting>(&mut *conn)
        .unwrap()
        .value
}

#[actix_web::test]
async fn postgres_connections_lower_random_page_cost_only_where_nobody_set_it() {
    let Some(admin_url) =
        crate::common::postgres_url_or_skip("postgres_connections_lower_random_page_cost_only_where_nobody_set_it")
    else {
        return;
    };
    let database = crate::common::PgDatabase::create(&admin_url);
    let url = database.url.clone();
    tokio::task::spawn_blocking(move || {
        assert_eq!(seen_by_the_service(&url), "1.1", "PostgreSQL's default is replaced");
        let db = badgegate::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.get().unwrap();
        diesel::sql_query(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET random_page_cost = 4', current_database()); END $$",
        )
        .execute(&mut *conn)
        .unwrap();
        assert_eq!(seen_by_the_service(&url), "4", "the operator's 4 is kept");
    })
    .await
    .unwrap();
}

#[derive(diesel::QueryableByName)]
struct Analyses {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Analyses of the scans table that were asked for (the service's thread asks; autovacuum's
/// own are counted apart, and are off for this table in the test below).
fn analyses_of_scans(app: &crate::common::TestApp) -> i64 {
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query("SELECT analyze_count AS n FROM pg_stat_user_tables WHERE relname = 'scans'")
        .get_result::<Analyses>(&mut *conn)
        .unwrap()
        .n
}

async fn analyses_reach(app: &crate::common::TestApp, n: i64) -> bool {
    for _ in 0..150 {
        if analyses_of_scans(app) >= n {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// The service analyzes a table of its own once it changed by more than 50 rows plus its
/// size at its last analysis (`src/db/analyze.rs`), asking every second: planned from the
/// statistics of an empty table, the first scans of a show merged every lead of a partner.
/// A table that grew past that is analyzed within seconds; one that grew by less is left
/// to autovacuum.
#[actix_web::test]
async fn postgres_tables_are_analyzed_once_they_outgrow_their_statistics() {
    use crate::common::{Backend, TestApp, Who, World, payload, scan_body};
    use serde_json::json;
    if crate::common::postgres_url_or_skip("postgres_tables_are_analyzed_once_they_outgrow_their_statistics").is_none()
    {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    {
        let db = app.db();
        let mut conn = db.get().unwrap();
        diesel::sql_query("ALTER TABLE scans SET (autovacuum_enabled = false)").execute(&mut *conn).unwrap();
    }
    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let reg =
        app.register(&w.admin, &w.event, json!({"name": "Ada Li", "email": "ada@example.org", "is_adult": true})).await;
    let (badge, app, scanner) = (&payload(&reg), &app, w.token(Who::AcmeScanner));
    let sync = |n: usize| async move {
        let items: Vec<_> = (0..n).map(|_| scan_body(badge)).collect();
        let res = app.post(scanner, "/api/v1/scans/batch", &json!({"scans": items})).await;
        assert!(res.status().is_success(), "{}", res.status());
    };
    let before = analyses_of_scans(app);
    sync(60).await;
    assert!(analyses_reach(app, before + 1).await, "60 new rows in an unanalyzed table are analyzed");
    // 80 changes against 60 rows: autovacuum's rule (50 + 10 %) would analyze again.
    sync(80).await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(analyses_of_scans(app), before + 1, "80 changes to 60 rows are not analyzed again");
    sync(40).await;
    assert!(analyses_reach(app, before + 2).await, "120 changes to 60 rows are");
}

#[derive(diesel::QueryableByName)]
struct Estimate {
    #[diesel(sql_type = diesel::sql_types::Double)]
    rows: f64,
}

/// An import answers once its rows are committed, and its tables are analyzed right after
/// (`src/attendees/import.rs`, `analyze_after`). The second import here adds 200 rows to
/// 300 already counted: below the service's analyzer's rule (50 plus the table's size),
/// and autovacuum is off for the table, so only the import's own analysis can make the
/// statistics count 500.
#[actix_web::test]
async fn postgres_an_imports_tables_are_analyzed_right_after_it_answers() {
    use crate::common::{Backend, TestApp};
    if crate::common::postgres_url_or_skip("postgres_an_imports_tables_are_analyzed_right_after_it_answers").is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    {
        let db = app.db();
        let mut conn = db.get().unwrap();
        diesel::sql_query("ALTER TABLE attendees SET (autovacuum_enabled = false)").execute(&mut *conn).unwrap();
    }
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let estimate = || {
        let db = app.db();
        let mut conn = db.get().unwrap();
        diesel::sql_query("SELECT reltuples::float8 AS rows FROM pg_class WHERE relname = 'attendees'")
            .get_result::<Estimate>(&mut *conn)
            .unwrap()
            .rows
    };
    let counted_within_3s = |rows: f64| async move {
        for _ in 0..30 {
            if estimate() >= rows {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        estimate() >= rows
    };
    for (from, rows) in [(0, 300), (300, 200)] {
        let mut csv = String::from("name,email,is_adult\n");
        for i in from..from + rows {
            csv.push_str(&format!("Person {i},p{i}@example.org,true\n"));
        }
        let res = app.import_csv(&admin, &event, "?send_confirmation=false", csv).await;
        assert!(res.status().is_success(), "{}", res.status());
        let total = f64::from(from + rows);
        assert!(counted_within_3s(total).await, "the statistics count {total} participants: {}", estimate());
    }
}
