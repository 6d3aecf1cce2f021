//! Step 12, issue 16 point 7: `retention_days` after an event's end, the purge removes
//! partners' notes and answers, lead details and the ledger's per-release detail (counts
//! stay), compacts erased participants' rows, and leaves no old value in the files.

use crate::common::{TestApp, Who, World, count_rows, payload, scan_body};
use serde_json::{Value, json};

both_backends!(
    an_event_is_purged_once_its_retention_period_has_ended,
    retention_days_are_checked_and_shown_with_the_date_partners_must_delete_by,
);

async fn purge_at(app: &TestApp, at_ms: i64) -> Vec<badgegate::retention::PurgedEvent> {
    let db = app.db();
    tokio::task::spawn_blocking(move || badgegate::retention::purge_due(&db, at_ms)).await.unwrap().unwrap()
}

fn now_ms() -> i64 {
    badgegate::db::now_ms()
}

const DAY: i64 = 86_400_000;

async fn an_event_is_purged_once_its_retention_period_has_ended(app: TestApp) {
    let w = World::builder().with(Who::AcmeAdmin).with(Who::AcmeScanner).build(&app).await;
    let (acme_admin, scanner) = (w.acme_admin().to_string(), w.token(Who::AcmeScanner).to_string());
    let World { admin, event, acme, .. } = w;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let note = format!("wants a demo qzretention{}", &tag[..12]);
    let kept = app
        .register(
            &admin,
            &event,
            json!({"name": "Kept Person", "email": format!("kept-{tag}@example.org"),
                                          "company": "Kept Ltd", "is_adult": true, "share_with_partners": [acme]}),
        )
        .await;
    let erased = app
        .register(
            &admin,
            &event,
            json!({"name": "Gone Person", "email": format!("gone-{tag}@example.org"),
                                          "is_adult": true}),
        )
        .await;
    for reg in [&kept, &erased] {
        let mut scan = scan_body(&payload(reg));
        scan["notes"] = json!(note);
        scan["rating"] = json!(4);
        assert_eq!(app.post(&scanner, "/api/v1/scans", &scan).await.status(), 201);
    }
    let erased_id = erased["id"].as_str().unwrap();
    let res = app.post(&admin, &format!("/api/v1/events/{event}/attendees/{erased_id}/erasure"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let csv = app.get(&acme_admin, "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(csv.contains("Kept Person") && csv.contains(&note), "the export carries the lead and its note");
    let ledger_before = count_rows(&app, &format!("disclosures WHERE event_id = '{event}'"));
    assert!(ledger_before >= 2, "scans and the export were ledgered: {ledger_before}");
    let view: Value = app.get(&admin, &format!("/api/v1/events/{event}")).await.json().await.unwrap();
    assert_eq!(view["retention_days"], 180);
    assert!(view["purged_at"].is_null());

    let needles = vec![("scan note", note.to_lowercase())];
    let test = "an_event_is_purged_once_its_retention_period_has_ended";
    if let Some(before) = crate::at_rest::leftovers(&app, &needles, test) {
        assert!(!before.is_empty(), "the check can see the note before the purge");
    }

    // Not due during the event, nor 179 days after its end (the event ends tomorrow).
    assert!(purge_at(&app, now_ms()).await.is_empty());
    assert!(purge_at(&app, now_ms() + 179 * DAY).await.is_empty());
    assert_eq!(count_rows(&app, &format!("disclosures WHERE event_id = '{event}'")), ledger_before);

    let purged = purge_at(&app, now_ms() + 182 * DAY).await;
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert_eq!(purged[0].event_id, event);
    assert_eq!(purged[0].ledger_rows as i64, ledger_before);
    assert_eq!(purged[0].erased_compacted, 1);

    // The ledger keeps counts only, adding up to what it held.
    assert_eq!(count_rows(&app, &format!("disclosures WHERE event_id = '{event}'")), 0);
    assert!(
        count_rows(&app, &format!("disclosure_counts WHERE event_id = '{event}'")) > 0,
        "daily counts replace the rows"
    );
    let counted: i64 = {
        use badgegate::db::schema::disclosure_counts as dc;
        use diesel::prelude::*;
        let db = app.db();
        let event = event.clone();
        tokio::task::spawn_blocking(move || {
            db.read_blocking(move |conn| {
                Ok(dc::table.filter(dc::event_id.eq(&event)).select(dc::releases).load::<i64>(conn)?.iter().sum())
            })
        })
        .await
        .unwrap()
        .unwrap()
    };
    assert_eq!(counted, ledger_before);

    // Notes are gone from the partner's lead and export; the lead itself stays.
    let leads: Value = app.get(&acme_admin, "/api/v1/leads").await.json().await.unwrap();
    let items = leads["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the erased participant's lead is compacted away: {leads}");
    assert!(items[0]["notes"].is_null() && items[0]["rating"].is_null(), "{leads}");
    let csv = app.get(&acme_admin, "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(!csv.contains(&note), "no note in the export after the purge");
    assert_eq!(count_rows(&app, &format!("scans WHERE notes IS NOT NULL AND event_id = '{event}'")), 0);
    // The erased participant keeps only their participant row (their request records point at it).
    assert_eq!(count_rows(&app, &format!("scans WHERE attendee_id = '{erased_id}'")), 0);
    assert_eq!(count_rows(&app, &format!("badges WHERE attendee_id = '{erased_id}'")), 0);
    assert_eq!(count_rows(&app, &format!("attendees WHERE id = '{erased_id}'")), 1);
    let view: Value = app.get(&admin, &format!("/api/v1/events/{event}")).await.json().await.unwrap();
    assert!(view["purged_at"].is_string(), "{view}");

    // The note left the database files too (the purge rewrote the tables).
    // SQLite empties the WAL at once unless a reader holds an older snapshot; then the
    // checkpoint thread retries every 100 ms (the erasure promise: seconds).
    let started = std::time::Instant::now();
    while let Some(left) = crate::at_rest::leftovers(&app, &needles, test) {
        if left.is_empty() {
            break;
        }
        assert!(started.elapsed().as_secs() < 5, "purged notes still in the database files: {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Once only.
    assert!(purge_at(&app, now_ms() + 400 * DAY).await.is_empty());
}

async fn retention_days_are_checked_and_shown_with_the_date_partners_must_delete_by(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (admin, event) = (w.admin, w.event);
    for bad in [json!(0), json!(3651), json!("ten")] {
        let res = app.patch(&admin, &format!("/api/v1/events/{event}"), &json!({"retention_days": bad})).await;
        assert_eq!(res.status(), 422, "{bad}");
        let problem = crate::common::problem(res).await;
        assert!(problem.to_string().contains("retention_days"), "{problem}");
    }
    let res = app.patch(&admin, &format!("/api/v1/events/{event}"), &json!({"retention_days": 30})).await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["retention_days"], 30);
    let ends =
        time::OffsetDateTime::parse(view["ends_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let delete_by = time::OffsetDateTime::parse(
        view["retention_ends_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(delete_by - ends, time::Duration::days(30));
    // Partners' exports say the date: a header and the last column of every row.
    let w2 = World::builder().with(Who::AcmeAdmin).build(&app).await;
    let res = app.patch(&w2.admin, &format!("/api/v1/events/{}", w2.event), &json!({"retention_days": 30})).await;
    assert_eq!(res.status(), 200);
    let view2: Value = res.json().await.unwrap();
    let reg = app
        .register(
            &w2.admin,
            &w2.event,
            json!({"name": "Opted In", "email": "in@example.org",
                                                         "is_adult": true, "share_with_partners": [w2.acme]}),
        )
        .await;
    assert!(reg["id"].is_string());
    let day = &view2["retention_ends_at"].as_str().unwrap()[..10];
    let res = app.get(w2.acme_admin(), "/api/v1/leads/export.csv").await;
    assert_eq!(res.headers()["x-delete-after"].to_str().unwrap(), day);
    let csv = res.text().await.unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with("\"delete_by\""), "{header}");
    assert!(csv.lines().nth(1).unwrap().ends_with(&format!("\"{day}\"")), "{csv}");
    // A 30-day period is due 31 days after the end (the event ends tomorrow).
    assert!(purge_at(&app, now_ms() + 30 * DAY).await.is_empty());
    let purged = purge_at(&app, now_ms() + 32 * DAY).await;
    assert!(purged.iter().any(|p| p.event_id == event), "{purged:?}");
}
