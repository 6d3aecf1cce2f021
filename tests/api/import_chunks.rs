//! An import on SQLite goes in by chunks so that scans are not held up behind it (issue 16,
//! item 6); for its caller it stays all or nothing, and until it is complete nobody sees
//! its participants.

use crate::common::{Backend, TestApp, count_rows, partner_user, payload, scan_body, world};
use serde_json::{Value, json};

both_backends!(colliding_imports_leave_one_whole_file_and_release_its_mail);

/// `next_attempt_at` of a confirmation held by an import still going in (`mail::HELD`).
const HELD: &str = "253402300799000";

fn file(prefix: &str, rows: usize, first: Option<&str>) -> String {
    let mut csv = String::from("name,email,is_adult\n");
    if let Some(email) = first {
        csv.push_str(&format!("Early Bird,{email},true\n"));
    }
    for i in 0..rows {
        csv.push_str(&format!("Person {prefix}{i},{prefix}{i}@example.org,true\n"));
    }
    csv
}

async fn total(app: &TestApp, token: &str, event: &str) -> i64 {
    let body: Value = app.get(token, &format!("/api/v1/events/{event}/attendees")).await.json().await.unwrap();
    body["total"].as_i64().unwrap()
}

/// Two files of several chunks each, sent at once; the second starts with the last address
/// of the first, so whichever reaches that address second is refused, possibly after some
/// of its chunks went in. Exactly one file is stored, whole, with one confirmation per
/// participant, none of them held.
async fn colliding_imports_leave_one_whole_file_and_release_its_mail(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let a = file("a", 2_500, None);
    let b = file("b", 2_499, Some("a2499@example.org"));
    let (ra, rb) = tokio::join!(app.import_csv(&admin, &event, "", a), app.import_csv(&admin, &event, "", b));
    let mut codes = [ra.status().as_u16(), rb.status().as_u16()];
    codes.sort_unstable();
    assert!(codes == [201, 409] || codes == [201, 422], "one file is stored, the other refused: {codes:?}");
    assert_eq!(total(&app, &admin, &event).await, 2_500, "exactly one whole file");
    assert_eq!(count_rows(&app, "badges"), 2_500);
    assert_eq!(count_rows(&app, "import_runs"), 0);
    assert_eq!(count_rows(&app, "mail_outbox WHERE kind = 'confirmation'"), 2_500);
    // Released after the answer, on a thread of the import's.
    let held = format!("mail_outbox WHERE next_attempt_at = {HELD}");
    for _ in 0..100 {
        if count_rows(&app, &held) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count_rows(&app, &held), 0, "every confirmation is released");
}

/// The state a crash leaves in the middle of an import: its row in `import_runs` and some
/// of its participants in. They are released to nobody, not listed, not counted, their
/// badges do not scan and their mail waits; the next start undoes them.
#[actix_web::test]
async fn an_import_cut_short_is_seen_by_nobody_and_undone_at_the_next_start() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let w = world(&app).await;
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let (_, acme_admin) = partner_user(&app, &w.admin, &w.event, &w.acme, "partner_admin").await;
    let kept = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Kept", "email": "kept@example.org", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    let cut = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Cut Short", "email": "cut@example.org", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    let cut_id = cut["id"].as_str().unwrap().to_string();
    {
        use diesel::RunQueryDsl;
        let db = app.db();
        let mut conn = db.get().unwrap();
        diesel::sql_query(format!(
            "INSERT INTO import_runs (id, event_id, created_at) VALUES ('run-1', '{}', 0)",
            w.event
        ))
        .execute(&mut *conn)
        .unwrap();
        diesel::sql_query(format!("UPDATE attendees SET import_run = 'run-1' WHERE id = '{cut_id}'"))
            .execute(&mut *conn)
            .unwrap();
        diesel::sql_query(format!(
            "UPDATE mail_outbox SET next_attempt_at = {HELD}, status = 'queued', attempts = 0 WHERE attendee_id = '{cut_id}'"
        ))
        .execute(&mut *conn)
        .unwrap();
    }

    assert_eq!(total(&app, &w.admin, &w.event).await, 1, "staff do not see it");
    let res = app.get(&w.admin, &format!("/api/v1/events/{}/attendees/{cut_id}", w.event)).await;
    assert_eq!(res.status(), 404);
    let csv = app.get(&acme_admin, "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(csv.contains("Kept"), "{csv}");
    assert!(!csv.contains("Cut Short"), "the partner receives the settled participant only: {csv}");
    let res = app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&cut))).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "unknown_badge", "{body}");
    assert_eq!(count_rows(&app, "scans"), 0);
    // The forms send no link for it: the participant could act on a row the import may undo.
    let slug = crate::mail_participants::slug_of(&app, &w.admin, &w.event).await;
    let resend = format!("/e/{slug}/resend");
    let (status, _, _) = crate::mail_participants::post_form(&app, &resend, &[("email", "cut@example.org")]).await;
    assert_eq!(status, 200);
    // The form answers before it queues anything: a settled participant's reminder, asked
    // for after, shows when that work is done, and the cut-short one has none.
    let (status, _, _) = crate::mail_participants::post_form(&app, &resend, &[("email", "kept@example.org")]).await;
    assert_eq!(status, 200);
    let kept_reminder =
        format!("mail_outbox WHERE kind = 'reminder' AND attendee_id = '{}'", kept["id"].as_str().unwrap());
    for _ in 0..50 {
        if count_rows(&app, &kept_reminder) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count_rows(&app, &kept_reminder), 1);
    assert_eq!(count_rows(&app, "mail_outbox WHERE kind = 'reminder'"), 1, "none for the import's participant");
    // Its confirmation waits: the worker (polling every 250 ms meanwhile) never tried it.
    let untouched = format!("mail_outbox WHERE attendee_id = '{cut_id}' AND status = 'queued' AND attempts = 0");
    assert_eq!(count_rows(&app, &untouched), count_rows(&app, &format!("mail_outbox WHERE attendee_id = '{cut_id}'")));
    assert!(count_rows(&app, &untouched) >= 1);

    app.restart_with(|_| {}).await;
    assert_eq!(count_rows(&app, "import_runs"), 0);
    assert_eq!(count_rows(&app, &format!("attendees WHERE id = '{cut_id}'")), 0, "undone at start");
    assert_eq!(count_rows(&app, &format!("badges WHERE attendee_id = '{cut_id}'")), 0);
    assert_eq!(count_rows(&app, &format!("consents WHERE attendee_id = '{cut_id}'")), 0);
    assert_eq!(count_rows(&app, &format!("mail_outbox WHERE attendee_id = '{cut_id}'")), 0);
    assert_eq!(total(&app, &w.admin, &w.event).await, 1);
    assert_eq!(count_rows(&app, &format!("attendees WHERE id = '{}'", kept["id"].as_str().unwrap())), 1);
}

/// PostgreSQL stores a file in one transaction, chunk by chunk as a thread prepares them.
/// Here the file's 4,000th address is taken, after the check and before it is stored, by
/// another transaction that commits while the import waits for that key: the import is
/// refused (409) after its first chunks went in, and nothing of the file stays (no
/// participant, badge or confirmation).
#[actix_web::test]
async fn postgres_an_import_refused_in_a_later_chunk_leaves_nothing() {
    use diesel::{Connection, RunQueryDsl};
    if crate::common::postgres_url_or_skip("postgres_an_import_refused_in_a_later_chunk_leaves_nothing").is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let url = app.database_url.clone();
    let mut other = diesel::PgConnection::establish(&url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut other).unwrap();
    diesel::sql_query(format!(
        "INSERT INTO attendees (id, event_id, name, email, search_text, created_at, updated_at) \
         VALUES ('taken-meanwhile', '{event}', 'Other', 'p3999@example.org', 'other', 0, 0)"
    ))
    .execute(&mut other)
    .unwrap();
    let import = app.import_csv(&admin, &event, "", file("p", 6_000, None));
    let commit_when_the_import_waits = tokio::task::spawn_blocking(move || {
        let mut watcher = diesel::PgConnection::establish(&url).unwrap();
        #[derive(diesel::QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let waited = (0..600).any(|_| {
            let w: Waiting = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ~ '^(INSERT INTO|COPY) \"?attendees'",
            )
            .get_result(&mut watcher)
            .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
            w.n > 0
        });
        diesel::sql_query("COMMIT").execute(&mut other).unwrap();
        waited
    });
    let (res, waited) = tokio::join!(import, commit_when_the_import_waits);
    assert!(waited.unwrap(), "the import waited for the taken address");
    assert_eq!(res.status().as_u16(), 409);
    assert_eq!(count_rows(&app, "attendees"), 1, "only the other transaction's participant");
    assert_eq!(count_rows(&app, "badges"), 0);
    assert_eq!(count_rows(&app, "mail_outbox"), 0);
}
