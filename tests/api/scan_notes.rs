//! Issue 15, part 3: notes never overwrite a colleague's. Each scan keeps its scanner's
//! notes, rating and answers; the lead shows them all (API, portal, export); a re-scan says
//! who scanned first; only a scan's author changes its notes; erasure leaves none.

use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, accept_invitation, count_rows, invite, payload, problem};
use crate::portal::{Booth, Browser, booth};

both_backends!(
    two_scanners_notes_both_show_on_the_lead_the_portal_and_the_export,
    only_the_scans_author_replaces_its_notes_and_only_once_it_synced,
    the_admins_note_and_the_scans_notes_never_touch_each_other,
    an_erased_participant_keeps_no_scan_notes,
);

fn minutes_ago(mins: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::minutes(mins))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn ms(rfc3339: &str) -> i128 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp_nanos()
        / 1_000_000
}

/// `YYYY-MM-DD HH:MM` of an RFC 3339 time, in UTC (the test event's zone).
fn minute(rfc3339: &str) -> String {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// A second scanner of the booth's partner: (e-mail, token).
async fn colleague(app: &TestApp, b: &Booth) -> (String, String) {
    let email = format!("scanner2-{}@partner.example", uuid::Uuid::new_v4().simple());
    invite(app, &b.world.admin, &b.world.event, &b.world.acme, &email, "scanner").await;
    accept_invitation(app, &email, PASSWORD).await;
    let token = app.token(&email).await;
    (email, token)
}

/// Registers Cy, who shares with nobody: every lead of Cy comes from a scan.
async fn cy(app: &TestApp, b: &Booth) -> Value {
    app.register(
        &b.world.admin,
        &b.world.event,
        json!({"name": "Cy Young", "email": "cy@example.org", "company": "Pitch Co", "phone": "+1 555 0100",
            "is_adult": true}),
    )
    .await
}

fn scan(badge: &str, at: &str, notes: Option<&str>, rating: Option<i64>, answers: Value) -> Value {
    json!({"client_scan_id": uuid::Uuid::new_v4().to_string(), "badge": badge, "scanned_at": at,
        "notes": notes, "rating": rating, "answers": answers})
}

async fn put_notes(app: &TestApp, token: &str, client_scan_id: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(format!("{}/api/v1/scans/{client_scan_id}/notes", app.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn lead_of(app: &TestApp, token: &str, name: &str) -> Value {
    let list: Value = app.get(token, "/api/v1/leads").await.json().await.unwrap();
    list["items"].as_array().unwrap().iter().find(|l| l["contact"]["name"] == name).unwrap().clone()
}

/// The export's rows as header name → cell, for the row whose `name` is `name`.
async fn export_row(app: &TestApp, token: &str, name: &str) -> std::collections::HashMap<String, String> {
    let res = app.get(token, "/api/v1/leads/export.csv").await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let row = reader.records().map(|r| r.unwrap()).find(|r| &r[0] == name).expect("the lead is exported");
    header.into_iter().zip(row.iter().map(str::to_string)).collect()
}

async fn two_scanners_notes_both_show_on_the_lead_the_portal_and_the_export(app: TestApp) {
    let b = booth(&app).await;
    let (second_email, second) = colleague(&app, &b).await;
    let badge = payload(&cy(&app, &b).await);
    let (t1, t2) = (minutes_ago(30), minutes_ago(10));

    let first: Value = app
        .post(
            &b.scanner_token,
            "/api/v1/scans",
            &scan(&badge, &t1, Some("wants a demo"), Some(4), json!({"budget": "high"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "created");
    assert_eq!(first["already_scanned"], Value::Null, "nobody scanned Cy before: {first}");

    let res =
        app.post(&second, "/api/v1/scans", &scan(&badge, &t2, Some("asked about pricing"), Some(2), json!({}))).await;
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.unwrap();
    let already = &again["already_scanned"];
    assert_eq!(already["by"], b.scanner_email.as_str(), "{again}");
    assert_eq!(already["by_you"], false);
    assert_eq!(ms(already["at"].as_str().unwrap()), ms(&t1), "the first scan's time");
    assert_eq!(again["lead"]["name"], "Cy Young");

    // The first scanner again, through a batch: it was the first scan, by the caller; a
    // replay of the colleague's scan answers the same as before.
    let third = scan(&badge, &minutes_ago(5), None, None, json!({}));
    let batch: Value =
        app.post(&b.scanner_token, "/api/v1/scans/batch", &json!({"scans": [third]})).await.json().await.unwrap();
    let item = &batch["results"][0];
    assert_eq!(item["status"], "created");
    assert_eq!(item["already_scanned"]["by"], b.scanner_email.as_str());
    assert_eq!(item["already_scanned"]["by_you"], true);
    let replay: Value = app
        .post(&b.scanner_token, "/api/v1/scans/batch", &json!({"scans": [third, {"client_scan_id": "x"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replay["results"][0]["status"], "duplicate");
    assert_eq!(replay["results"][0]["already_scanned"]["by_you"], true);
    assert!(replay["results"][1].get("already_scanned").is_none(), "a rejected item has none: {replay}");

    // Both notes on the lead, oldest first, under their authors; the lead's own note is
    // still empty: it is the admin's.
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    assert_eq!(lead["notes"], Value::Null);
    assert_eq!(lead["rating"], Value::Null);
    let notes = lead["scan_notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "the note-less third scan is not listed: {lead}");
    assert_eq!(notes[0]["by"], b.scanner_email.as_str());
    assert_eq!(notes[0]["notes"], "wants a demo");
    assert_eq!(notes[0]["rating"], 4);
    assert_eq!(notes[0]["answers"], json!({"budget": "high"}));
    assert_eq!(ms(notes[0]["at"].as_str().unwrap()), ms(&t1));
    assert_eq!(notes[1]["by"], second_email.as_str());
    assert_eq!(notes[1]["notes"], "asked about pricing");
    let one: Value = app
        .get(&b.admin_token, &format!("/api/v1/leads/{}", lead["lead_id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["scan_notes"], lead["scan_notes"]);

    // A scanner sees the notes too, beside name and company only.
    let seen = lead_of(&app, &second, "Cy Young").await;
    assert_eq!(seen["scan_notes"].as_array().unwrap().len(), 2);
    assert_eq!(seen["contact"], json!({"name": "Cy Young", "company": "Pitch Co"}));

    // The portal's lead page shows each scanner's note with its author; the list counts them.
    let mut browser = Browser::sign_in(&app, &b.admin_email).await;
    let (status, page) = browser.text(&format!("/portal/leads/{}", lead["lead_id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    for text in ["Scanners' notes", "wants a demo", "asked about pricing", &b.scanner_email, &second_email] {
        assert!(page.contains(text), "{text} on the lead page");
    }
    assert!(page.find("asked about pricing").unwrap() < page.find("name=\"notes\"").unwrap(), "above the admin's note");
    let (_, list) = browser.text("/portal/?q=pricing").await;
    assert!(list.contains("Cy Young") && list.contains("2 scanners' notes"), "{list}");

    // The export's notes column holds both, one line each; rating and answers are the
    // latest scan's.
    let row = export_row(&app, &b.admin_token, "Cy Young").await;
    assert_eq!(
        row["notes"],
        format!(
            "{} {}: wants a demo\n{} {second_email}: asked about pricing",
            minute(&t1),
            b.scanner_email,
            minute(&t2)
        )
    );
    assert_eq!(row["rating"], "2");
    assert_eq!(row["answers"], r#"{"budget":"high"}"#);
}

async fn only_the_scans_author_replaces_its_notes_and_only_once_it_synced(app: TestApp) {
    let b = booth(&app).await;
    let (_, second) = colleague(&app, &b).await;
    let badge = payload(&cy(&app, &b).await);
    let body = scan(&badge, &minutes_ago(20), Some("first thoughts"), None, json!({}));
    let id = body["client_scan_id"].as_str().unwrap().to_string();

    // Not synced yet: 404, and the phone retries later.
    let res = put_notes(&app, &b.scanner_token, &id, &json!({"notes": "too early"})).await;
    assert_eq!(res.status(), 404);
    problem(res).await;
    assert_eq!(app.post(&b.scanner_token, "/api/v1/scans", &body).await.status(), 201);

    let change = json!({"notes": "  wants 40 seats  ", "rating": 5, "answers": {"size": "40"}});
    let res = put_notes(&app, &b.scanner_token, &id, &change).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["client_scan_id"], id.as_str());
    assert_eq!(saved["notes"], "wants 40 seats");
    assert_eq!(saved["rating"], 5);
    assert_eq!(saved["answers"], json!({"size": "40"}));
    assert!(ms(saved["updated_at"].as_str().unwrap()) > 0);
    // Idempotent: the same body again, the same notes, still one scan.
    let again: Value = put_notes(&app, &b.scanner_token, &id, &change).await.json().await.unwrap();
    assert_eq!(
        (&again["notes"], &again["rating"], &again["answers"]),
        (&saved["notes"], &saved["rating"], &saved["answers"])
    );
    assert_eq!(count_rows(&app, "scans WHERE notes = 'wants 40 seats'"), 1);
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    assert_eq!(lead["scan_notes"][0]["notes"], "wants 40 seats");
    assert_eq!(lead["scan_notes"][0]["rating"], 5);

    // A colleague, another partner's scanner, an unknown scan: not found; bad fields: 422
    // naming them.
    assert_eq!(put_notes(&app, &second, &id, &json!({"notes": "mine now"})).await.status(), 404);
    let globex = crate::common::partner_user(&app, &b.world.admin, &b.world.event, &b.world.globex, "scanner").await.1;
    assert_eq!(put_notes(&app, &globex, &id, &json!({"notes": "mine now"})).await.status(), 404);
    let res = put_notes(&app, &b.scanner_token, &id, &json!({"rating": 9})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "rating");
    let res = put_notes(&app, &b.scanner_token, "not-a-uuid", &json!({})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "client_scan_id");
    let res = put_notes(&app, &b.scanner_token, &id, &json!({"notes": "x\u{0}"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "notes");
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    assert_eq!(lead["scan_notes"][0]["notes"], "wants 40 seats", "nothing above changed it");

    // The whole set is replaced: what is left out is cleared, and a scan with nothing left
    // drops off the lead's list.
    let cleared: Value = put_notes(&app, &b.scanner_token, &id, &json!({})).await.json().await.unwrap();
    assert_eq!(cleared["notes"], Value::Null);
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    assert_eq!(lead["scan_notes"], json!([]));
}

async fn the_admins_note_and_the_scans_notes_never_touch_each_other(app: TestApp) {
    let b = booth(&app).await;
    let (second_email, second) = colleague(&app, &b).await;
    let badge = payload(&cy(&app, &b).await);
    let t1 = minutes_ago(30);
    app.post(&b.scanner_token, "/api/v1/scans", &scan(&badge, &t1, Some("booth note"), Some(3), json!({}))).await;
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    let lead_id = lead["lead_id"].as_str().unwrap();

    let res = app
        .patch(&b.admin_token, &format!("/api/v1/leads/{lead_id}"), &json!({"notes": "call back in May", "rating": 1}))
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["notes"], "call back in May");
    assert_eq!(patched["scan_notes"][0]["notes"], "booth note", "the admin's change leaves the scan's note");
    assert_eq!(patched["scan_notes"][0]["rating"], 3);

    // A later scan by a colleague, with its own note and rating, leaves the admin's.
    let t2 = minutes_ago(5);
    let res = app.post(&second, "/api/v1/scans", &scan(&badge, &t2, Some("second visit"), Some(5), json!({}))).await;
    assert_eq!(res.status(), 201);
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    assert_eq!(lead["notes"], "call back in May");
    assert_eq!(lead["rating"], 1);
    let by: Vec<&str> = lead["scan_notes"].as_array().unwrap().iter().map(|n| n["notes"].as_str().unwrap()).collect();
    assert_eq!(by, ["booth note", "second visit"]);

    // The rating filter finds a lead rated so by the admin or on any scan.
    for r in [1, 3, 5] {
        let list: Value = app.get(&b.admin_token, &format!("/api/v1/leads?rating={r}")).await.json().await.unwrap();
        assert!(list["items"].as_array().unwrap().iter().any(|l| l["lead_id"] == lead_id), "rating={r}");
    }
    let list: Value = app.get(&b.admin_token, "/api/v1/leads?rating=4").await.json().await.unwrap();
    assert!(!list["items"].as_array().unwrap().iter().any(|l| l["lead_id"] == lead_id));

    // The export: the admin's note first, then the scans', each with author and time; the
    // admin's rating wins the single rating column.
    let row = export_row(&app, &b.admin_token, "Cy Young").await;
    let lines: Vec<&str> = row["notes"].lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].ends_with(&format!(" {}: call back in May", b.admin_email)), "{lines:?}");
    assert_eq!(lines[1], format!("{} {}: booth note", minute(&t1), b.scanner_email));
    assert_eq!(lines[2], format!("{} {second_email}: second visit", minute(&t2)));
    assert_eq!(row["rating"], "1");
}

async fn an_erased_participant_keeps_no_scan_notes(app: TestApp) {
    let b = booth(&app).await;
    let registered = cy(&app, &b).await;
    let badge = payload(&registered);
    let body = scan(&badge, &minutes_ago(15), Some("likes golf"), Some(4), json!({"q1": "yes"}));
    let id = body["client_scan_id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&b.scanner_token, "/api/v1/scans", &body).await.status(), 201);
    let lead = lead_of(&app, &b.admin_token, "Cy Young").await;
    let lead_id = lead["lead_id"].as_str().unwrap().to_string();
    assert_eq!(lead["scan_notes"].as_array().unwrap().len(), 1);

    let attendee = registered["id"].as_str().unwrap();
    let res = app
        .post(&b.world.admin, &format!("/api/v1/events/{}/attendees/{attendee}/erasure", b.world.event), &json!({}))
        .await;
    assert_eq!(res.status(), 200);

    let lead: Value = app.get(&b.admin_token, &format!("/api/v1/leads/{lead_id}")).await.json().await.unwrap();
    assert_eq!(lead["scan_notes"], json!([]), "{lead}");
    assert_eq!(lead["contact"], Value::Null);
    assert_eq!(
        count_rows(
            &app,
            &format!(
                "scans WHERE attendee_id = '{attendee}' AND (notes IS NOT NULL OR rating IS NOT NULL OR answers IS NOT NULL)"
            )
        ),
        0
    );
    // Nothing new is kept about them, by the scanner or by the admin.
    assert_eq!(put_notes(&app, &b.scanner_token, &id, &json!({"notes": "likes golf"})).await.status(), 404);
    let res = app.patch(&b.admin_token, &format!("/api/v1/leads/{lead_id}"), &json!({"notes": "likes golf"})).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        count_rows(&app, "scans WHERE notes = 'likes golf'") + count_rows(&app, "leads WHERE notes = 'likes golf'"),
        0
    );
}
