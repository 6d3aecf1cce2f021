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
