//! PostgreSQL keeps its references with statement-level triggers (migrations 000018, 000022 and 000023) instead
//! of foreign keys. The whole suite runs through them, but a trigger that never fired would
//! fail nothing there: this asks the database directly for what a foreign key would refuse.

use diesel::RunQueryDsl;
use serde_json::json;

use crate::common::{Backend, TestApp, Who, World, payload, postgres_url_or_skip, scan_body};

/// The database's answer to one statement: `Ok` or the error's text.
fn run(app: &TestApp, sql: &str) -> Result<usize, String> {
    let mut conn = app.db().get().unwrap();
    diesel::sql_query(sql).execute(&mut *conn).map_err(|e| e.to_string())
}

fn refused(app: &TestApp, sql: &str, because: &str) {
    match run(app, sql) {
        Ok(n) => panic!("`{sql}` was allowed ({n} rows); it must be refused"),
        Err(e) => assert!(e.contains(because), "`{sql}` was refused for another reason: {e}"),
    }
}

#[actix_web::test]
async fn postgres_refuses_what_a_foreign_key_would_refuse() {
    if postgres_url_or_skip("postgres_refuses_what_a_foreign_key_would_refuse").is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let reg = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Ada Li", "email": "ada@example.org", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    let res = app.post(w.token(Who::AcmeScanner), "/api/v1/scans", &scan_body(&payload(&reg))).await;
    assert_eq!(res.status(), 201);
    let attendee = reg["id"].as_str().unwrap();

    // A reference to a row that does not exist, written by an update as by an insert, in
    // every column that a foreign key would check (a NULL one too: set on every row).
    let missing = "does-not-exist";
    for (table, column) in [
        ("attendees", "event_id"),
        ("badges", "event_id"),
        ("badges", "attendee_id"),
        ("consents", "event_id"),
        ("consents", "attendee_id"),
        ("consents", "partner_id"),
        ("scans", "event_id"),
        ("scans", "partner_id"),
        ("scans", "user_id"),
        ("scans", "badge_id"),
        ("scans", "attendee_id"),
        ("leads", "event_id"),
        ("leads", "partner_id"),
        ("leads", "attendee_id"),
        ("leads", "first_scanned_by"),
        ("leads", "notes_by"),
        ("mail_outbox", "event_id"),
    ] {
        refused(
            &app,
            &format!("UPDATE {table} SET {column} = '{missing}'"),
            &format!("{table}: a row refers to a row that does not exist"),
        );
    }
    // The ledger is append-only (no update at all): its check runs on insert. A copy of
    // its row, with a new id and one reference to a row that does not exist.
    for column in ["event_id", "partner_id", "user_id", "attendee_id", "export_id"] {
        refused(
            &app,
            &format!(
                "INSERT INTO disclosures SELECT (jsonb_populate_record(d, \
                 jsonb_build_object('id', 'copy-' || d.id, '{column}', '{missing}'))).* FROM disclosures d LIMIT 1"
            ),
            "disclosures: a row refers to a row that does not exist",
        );
    }
    // A copy whose optional references are empty refers to nothing missing.
    assert_eq!(
        run(
            &app,
            "INSERT INTO disclosures SELECT (jsonb_populate_record(d, \
             jsonb_build_object('id', 'copy-' || d.id, 'partner_id', NULL, 'user_id', NULL, 'export_id', NULL))).* \
             FROM disclosures d LIMIT 1"
        ),
        Ok(1)
    );
    // The outbox is checked per insert statement (an import's confirmations), as the ledger;
    // mail to a staff or partner user has no event.
    refused(
        &app,
        "INSERT INTO mail_outbox SELECT (jsonb_populate_record(m, \
         jsonb_build_object('id', 'copy-' || m.id, 'event_id', 'does-not-exist'))).* FROM mail_outbox m LIMIT 1",
        "mail_outbox: a row refers to a row that does not exist",
    );
    assert_eq!(
        run(
            &app,
            "INSERT INTO mail_outbox SELECT (jsonb_populate_record(m, \
             jsonb_build_object('id', 'copy-' || m.id, 'event_id', NULL))).* FROM mail_outbox m LIMIT 1"
        ),
        Ok(1)
    );

    // Rows others refer to are never deleted, even by a statement that matches none.
    for table in ["events", "partners", "users", "exports", "attendees"] {
        refused(&app, &format!("DELETE FROM {table} WHERE false"), "are never deleted");
    }
    refused(&app, "DELETE FROM badges", "badges: a deleted badge has scans");

    // The checks compare values, not the mere presence of a statement: a correct update passes.
    assert_eq!(run(&app, &format!("UPDATE attendees SET event_id = event_id WHERE id = '{attendee}'")), Ok(1));
    // And nothing above changed the rows the service reads.
    let me = app.get(&w.admin, &format!("/api/v1/events/{}/attendees/{attendee}", w.event)).await;
    assert_eq!(me.status(), 200);
}
