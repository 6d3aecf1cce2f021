//! Step 3: partner users, scans, offline batch sync, partner isolation.

use crate::common::{TestApp, World, count_rows, now_rfc3339, partner_user, payload, problem, scan_body, world};
use serde_json::{Value, json};

both_backends!(
    partner_admins_manage_only_their_own_scanners,
    disabling_a_user_ends_its_tokens,
    a_scan_answers_a_lead_card_once_and_duplicates_change_nothing,
    two_partners_scanning_one_badge_each_get_one_lead,
    rejected_scans_name_their_reason_and_release_nothing,
    a_withdrawn_participant_is_scanned_but_not_released,
    batches_are_keyed_idempotent_and_partner_scoped,
    unknown_badge_guessing_is_throttled,
    partners_see_only_their_own_leads,
    a_batch_read_before_a_revocation_or_erasure_is_decided_again,
    a_batch_raced_by_the_same_scans_answers_their_duplicates,
    typed_codes_forgive_look_alikes_but_not_wrong_characters,
);

async fn person(app: &TestApp, w: &World, name: &str) -> Value {
    let email = format!("{}@example.org", name.to_lowercase().replace(' ', "."));
    app.register(
        &w.admin,
        &w.event,
        json!({"name": name, "email": email, "company": "Initech", "phone": "+1 555", "is_adult": true}),
    )
    .await
}

async fn partner_admins_manage_only_their_own_scanners(app: TestApp) {
    let w = world(&app).await;
    let (_, acme_admin) = partner_user(&app, &w.admin, &w.event, &w.acme, "partner_admin").await;
    let users = |p: &str| format!("/api/v1/events/{}/partners/{p}/users", w.event);
    let body = |role: &str| json!({"email": format!("{role}@acme.example"), "role": role});
    let res = app.post(&acme_admin, &users(&w.acme), &body("scanner")).await;
    assert_eq!(res.status(), 201);
    let res = app.post(&acme_admin, &users(&w.acme), &body("partner_admin")).await;
    assert_eq!(res.status(), 403);
    let res = app.post(&acme_admin, &users(&w.globex), &json!({"email": "x@globex.example", "role": "scanner"})).await;
    assert_eq!(res.status(), 403);
    problem(res).await;
    let res = app
        .post(
            &acme_admin,
            &users(&w.acme),
            &json!({"email": "chosen@acme.example", "password": crate::common::PASSWORD, "role": "scanner"}),
        )
        .await;
    // No API takes a password chosen by someone else: the invitee chooses it.
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "password");
    let list: Value = app.get(&acme_admin, &users(&w.acme)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Staff endpoints answer 403 to partner tokens.
    assert_eq!(app.get(&acme_admin, &format!("/api/v1/events/{}/attendees", w.event)).await.status(), 403);
    assert_eq!(app.get(&acme_admin, "/api/v1/events").await.status(), 403);
}

async fn disabling_a_user_ends_its_tokens(app: TestApp) {
    let w = world(&app).await;
    let (_, acme_admin) = partner_user(&app, &w.admin, &w.event, &w.acme, "partner_admin").await;
    let (scanner_id, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    assert_eq!(app.get(&scanner, "/api/v1/leads").await.status(), 200);
    let res = app
        .post(
            &acme_admin,
            &format!("/api/v1/events/{}/partners/{}/users/{scanner_id}/disable", w.event, w.acme),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&scanner, "/api/v1/leads").await.status(), 401);
}

async fn a_scan_answers_a_lead_card_once_and_duplicates_change_nothing(app: TestApp) {
    let w = world(&app).await;
    let ann = person(&app, &w, "Ann Lee").await;
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let body = scan_body(&payload(&ann));
    let res = app.post(&scanner, "/api/v1/scans", &body).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["status"], "created");
    assert_eq!(
        first["lead"],
        json!({"name": "Ann Lee", "company": "Initech"}),
        "the card carries name and company only"
    );
    let res = app.post(&scanner, "/api/v1/scans", &body).await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["scan_id"], first["scan_id"]);
    assert_eq!(again["lead"], first["lead"]);
    assert_eq!(count_rows(&app, "scans"), 1);
    assert_eq!(count_rows(&app, "leads"), 1);
    // The typed fallback code works as well as the QR payload.
    let mut typed = scan_body(ann["badge"]["fallback_code"].as_str().unwrap());
    typed["badge"] = json!(ann["badge"]["fallback_code"].as_str().unwrap().to_lowercase());
    assert_eq!(app.post(&scanner, "/api/v1/scans", &typed).await.status(), 201);
    // Each card was a release: one ledger row per answer that carried contact data.
    let ledger: Value = app
        .get(&w.admin, &format!("/api/v1/events/{}/disclosures?attendee_id={}", w.event, ann["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["total"], 3);
    assert_eq!(ledger["items"][0]["channel"], "scan");
    assert_eq!(ledger["items"][0]["fields"], json!(["name", "company"]));
    assert_eq!(ledger["items"][0]["basis"], "scan");
}

async fn two_partners_scanning_one_badge_each_get_one_lead(app: TestApp) {
    let w = world(&app).await;
    let ann = person(&app, &w, "Ann Lee").await;
    let (_, acme1) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let (_, acme2) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let (_, globex) = partner_user(&app, &w.admin, &w.event, &w.globex, "scanner").await;
    let t = |mins: i64| {
        (time::OffsetDateTime::now_utc() - time::Duration::minutes(mins))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let scan = |at: String, notes: Option<&str>, rating: Option<i64>, answers: Value| {
        json!({"client_scan_id": uuid::Uuid::new_v4().to_string(), "badge": payload(&ann), "scanned_at": at,
               "notes": notes, "rating": rating, "answers": answers})
    };
    assert_eq!(
        app.post(&acme1, "/api/v1/scans", &scan(t(30), Some("met at booth"), Some(3), json!({"budget": "low"})))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post(&acme2, "/api/v1/scans", &scan(t(10), None, Some(5), json!({"size": "50"}))).await.status(),
        201
    );
    // An older offline scan arriving last keeps its own notes too: nothing is merged away.
    assert_eq!(
        app.post(&acme2, "/api/v1/scans", &scan(t(40), Some("older note"), Some(1), json!({"budget": "high"})))
            .await
            .status(),
        201
    );
    assert_eq!(app.post(&globex, "/api/v1/scans", &scan(t(5), None, None, json!({}))).await.status(), 201);
    assert_eq!(count_rows(&app, "scans"), 4);
    assert_eq!(count_rows(&app, "leads"), 2);
    let leads: Value = app.get(&acme1, "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(leads["total"], 1);
    let lead = &leads["items"][0];
    // The lead's own fields are the partner admin's; each scan keeps its own, oldest first.
    assert_eq!(lead["notes"], Value::Null);
    assert_eq!(lead["rating"], Value::Null);
    assert_eq!(lead["answers"], Value::Null);
    let kept: Vec<(Value, Value, Value)> = lead["scan_notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["notes"].clone(), n["rating"].clone(), n["answers"].clone()))
        .collect();
    assert_eq!(
        kept,
        [
            (json!("older note"), json!(1), json!({"budget": "high"})),
            (json!("met at booth"), json!(3), json!({"budget": "low"})),
            (Value::Null, json!(5), json!({"size": "50"})),
        ]
    );
    let first = time::OffsetDateTime::parse(
        lead["first_scanned_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expected = time::OffsetDateTime::parse(&t(40), &time::format_description::well_known::Rfc3339).unwrap();
    assert!((first - expected).whole_seconds().abs() <= 1, "first scan time is the earliest scan");
    // A scanner reads the lead as the scan card: name and company only.
    assert_eq!(lead["contact"], json!({"name": "Ann Lee", "company": "Initech"}));
    assert_eq!(lead["basis"], "scan");
}

async fn rejected_scans_name_their_reason_and_release_nothing(app: TestApp) {
    let w = world(&app).await;
    let ann = person(&app, &w, "Ann Lee").await;
    let other_event = app.event(&w.admin).await;
    let stranger = app
        .register(&w.admin, &other_event, json!({"name": "Sam", "email": "sam@example.org", "is_adult": true}))
        .await;
    let revoked = person(&app, &w, "Rev Oked").await;
    let old_payload = payload(&revoked);
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{}/badge/reissue", w.event, revoked["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let forged = format!("BG1-{}", "A".repeat(26));
    let mut future = scan_body(&payload(&ann));
    future["scanned_at"] = json!("2999-01-01T00:00:00Z");
    let mut before = scan_body(&payload(&ann));
    before["scanned_at"] = json!("2001-01-01T00:00:00Z");
    for (body, reason) in [
        (scan_body(&forged), "unknown_badge"),
        (scan_body("https://example.org/not-a-badge"), "unknown_badge"),
        (scan_body(&payload(&stranger)), "other_event"),
        (scan_body(&old_payload), "badge_revoked"),
        (future, "scanned_at_in_future"),
        (before, "outside_event_dates"),
    ] {
        let res = app.post(&scanner, "/api/v1/scans", &body).await;
        assert_eq!(res.status(), 422, "{reason}");
        let p = problem(res).await;
        assert_eq!(p["reason"], reason);
    }
    let res = app
        .post(&scanner, "/api/v1/scans", &json!({"client_scan_id": "nope", "badge": "x", "scanned_at": now_rfc3339()}))
        .await;
    assert_eq!(problem(res).await["errors"][0]["field"], "client_scan_id");
    let res = app.post(&scanner, "/api/v1/scans", &json!({"client_scan_id": uuid::Uuid::new_v4(), "badge": payload(&ann), "scanned_at": now_rfc3339(), "rating": 9})).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "rating");
    assert_eq!(count_rows(&app, "scans"), 0);
    assert_eq!(count_rows(&app, "disclosures"), 0, "a rejected scan releases nothing");
}

async fn a_withdrawn_participant_is_scanned_but_not_released(app: TestApp) {
    let w = world(&app).await;
    let ann = person(&app, &w, "Ann Lee").await;
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{}/withdrawals", w.event, ann["id"].as_str().unwrap()),
            &json!({"partner_id": w.acme}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let res = app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&ann))).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["lead"], Value::Null);
    assert_eq!(body["lead_reason"], "withdrawn");
    assert_eq!(count_rows(&app, "scans"), 1, "the scan is kept");
    assert_eq!(count_rows(&app, "disclosures"), 0);
    // Another partner is unaffected.
    let (_, globex) = partner_user(&app, &w.admin, &w.event, &w.globex, "scanner").await;
    let body: Value = app.post(&globex, "/api/v1/scans", &scan_body(&payload(&ann))).await.json().await.unwrap();
    assert_eq!(body["lead"]["name"], "Ann Lee");
}

async fn batches_are_keyed_idempotent_and_partner_scoped(app: TestApp) {
    let w = world(&app).await;
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(person(&app, &w, &format!("Person {i}")).await);
    }
    let (_, acme) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let (_, globex) = partner_user(&app, &w.admin, &w.event, &w.globex, "scanner").await;
    let mut items: Vec<Value> = people.iter().map(|p| scan_body(&payload(p))).collect();
    items.push(
        json!({"client_scan_id": uuid::Uuid::new_v4().to_string(), "badge": "BG1-FORGED", "scanned_at": now_rfc3339()}),
    );
    items.push(json!({"client_scan_id": "broken", "badge": 5}));
    let res = app.post(&acme, "/api/v1/scans/batch", &json!({"scans": items})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    let by_id = |id: &Value| results.iter().find(|r| r["client_scan_id"] == *id).unwrap().clone();
    for item in &items[..5] {
        let r = by_id(&item["client_scan_id"]);
        assert_eq!(r["status"], "created");
        assert!(r["lead"]["name"].as_str().unwrap().starts_with("Person"));
    }
    assert_eq!(by_id(&items[5]["client_scan_id"])["reason"], "unknown_badge");
    assert_eq!(by_id(&items[6]["client_scan_id"])["reason"], "invalid");
    assert_eq!(count_rows(&app, "scans"), 5);

    // Replays: reversed, and split differently: nothing new.
    let mut reversed = items.clone();
    reversed.reverse();
    let body: Value = app.post(&acme, "/api/v1/scans/batch", &json!({"scans": reversed})).await.json().await.unwrap();
    assert_eq!(body["results"].as_array().unwrap().iter().filter(|r| r["status"] == "duplicate").count(), 5);
    for part in items[..5].chunks(2) {
        let body: Value = app.post(&acme, "/api/v1/scans/batch", &json!({"scans": part})).await.json().await.unwrap();
        assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "duplicate"));
    }
    assert_eq!(count_rows(&app, "scans"), 5);
    assert_eq!(count_rows(&app, "leads"), 5);

    // The same client_scan_id from another partner is that partner's own scan.
    let body: Value =
        app.post(&globex, "/api/v1/scans/batch", &json!({"scans": [items[0].clone()]})).await.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "created");
    assert_eq!(count_rows(&app, "scans"), 6);

    // The same client_scan_id twice in one batch: stored once, the second is its duplicate.
    let twice = scan_body(&payload(&people[1]));
    let body: Value =
        app.post(&acme, "/api/v1/scans/batch", &json!({"scans": [twice, twice]})).await.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "created");
    assert_eq!(body["results"][1]["status"], "duplicate");
    assert_eq!(body["results"][1]["scan_id"], body["results"][0]["scan_id"]);
    assert_eq!(count_rows(&app, "scans"), 7);
    assert_eq!(count_rows(&app, "leads"), 6, "one lead per partner and participant");

    let too_many: Vec<Value> = (0..501).map(|_| scan_body("x")).collect();
    let res = app.post(&acme, "/api/v1/scans/batch", &json!({"scans": too_many})).await;
    assert_eq!(res.status(), 413);
    assert!(problem(res).await["detail"].as_str().unwrap().contains("500"));
}

async fn unknown_badge_guessing_is_throttled(app: TestApp) {
    let w = world(&app).await;
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let mut last = 0;
    for i in 0..(badgegate::scans::throttle::UNKNOWN_BADGE_LIMIT + 1) {
        let guess = format!("BG1-{:A>26}", format!("{i}").replace('0', "B").replace('1', "C"));
        last = app.post(&scanner, "/api/v1/scans", &scan_body(&guess)).await.status().as_u16();
    }
    assert_eq!(last, 429);
}

async fn partners_see_only_their_own_leads(app: TestApp) {
    let w = world(&app).await;
    let ann = person(&app, &w, "Ann Lee").await;
    let (_, acme) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let (_, globex_admin) = partner_user(&app, &w.admin, &w.event, &w.globex, "partner_admin").await;
    assert_eq!(app.post(&acme, "/api/v1/scans", &scan_body(&payload(&ann))).await.status(), 201);
    let leads: Value = app.get(&acme, "/api/v1/leads").await.json().await.unwrap();
    let lead_id = leads["items"][0]["lead_id"].as_str().unwrap();
    assert_eq!(app.get(&acme, &format!("/api/v1/leads/{lead_id}")).await.status(), 200);
    let res = app.get(&globex_admin, &format!("/api/v1/leads/{lead_id}")).await;
    assert_eq!(res.status(), 404);
    let leads: Value = app.get(&globex_admin, "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(leads["total"], 0);
    let csv = app.get(&globex_admin, "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(!csv.contains("Ann Lee"));
    // Scanner users may list but not export.
    assert_eq!(app.get(&acme, "/api/v1/leads/export.csv").await.status(), 403);
}

/// The batch handler decides a batch before it takes the write lock. A badge revoked or a
/// participant erased in between must still be refused, as if nothing had been read early.
async fn a_batch_read_before_a_revocation_or_erasure_is_decided_again(app: TestApp) {
    use badgegate::auth::{PartnerScope, Role};
    use badgegate::db::now_ms;
    use badgegate::scans::{self, Outcome, ValidScan};

    let w = world(&app).await;
    let (user_id, _) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let scope = PartnerScope { user_id, role: Role::Scanner, event_id: w.event.clone(), partner_id: w.acme.clone() };
    let (ann, bob, cy) = (person(&app, &w, "Ann").await, person(&app, &w, "Bob").await, person(&app, &w, "Cy").await);
    let batch: Vec<ValidScan> = [&ann, &bob, &cy]
        .into_iter()
        .map(|p| ValidScan {
            client_scan_id: uuid::Uuid::new_v4().to_string(),
            badge: payload(p),
            scanned_at: now_ms(),
            notes: None,
            rating: None,
            answers: None,
        })
        .collect();
    let db = app.db();
    let read = db.read_blocking(|conn| scans::plan(conn, &scope, &batch, now_ms())).unwrap();
    let id = |p: &Value| p["id"].as_str().unwrap().to_string();
    let res = app
        .post(&w.admin, &format!("/api/v1/events/{}/attendees/{}/badge/reissue", w.event, id(&ann)), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let res =
        app.post(&w.admin, &format!("/api/v1/events/{}/attendees/{}/under-18", w.event, id(&bob)), &json!({})).await;
    assert_eq!(res.status(), 200);

    let outcomes = db.write_blocking(|c| scans::process_batch(c, &scope, &batch, Some(read), now_ms())).unwrap();
    let reasons: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Rejected { reason, .. } => reason.as_str(),
            Outcome::Created { .. } => "created",
            Outcome::Duplicate { .. } => "duplicate",
        })
        .collect();
    assert_eq!(reasons, ["badge_revoked", "badge_revoked", "created"]);
    assert_eq!(count_rows(&app, "scans"), 1);
}

/// A phone that retries a sync while its first attempt is still being written: the retry
/// was decided before the first attempt stored anything. The constraint keeps the first
/// rows, and the retry answers them as duplicates with their scan ids; its other scan's
/// notes show on the one lead.
async fn a_batch_raced_by_the_same_scans_answers_their_duplicates(app: TestApp) {
    use badgegate::auth::{PartnerScope, Role};
    use badgegate::db::now_ms;
    use badgegate::scans::{self, Outcome, ValidScan};

    let w = world(&app).await;
    let (user_id, token) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let scope = PartnerScope { user_id, role: Role::Scanner, event_id: w.event.clone(), partner_id: w.acme.clone() };
    let (ann, bob) = (person(&app, &w, "Ann").await, person(&app, &w, "Bob").await);
    let first = scan_body(&payload(&ann));
    let retry_of_first = ValidScan {
        client_scan_id: first["client_scan_id"].as_str().unwrap().to_string(),
        badge: payload(&ann),
        scanned_at: now_ms(),
        notes: None,
        rating: None,
        answers: None,
    };
    let bob_again = ValidScan {
        client_scan_id: uuid::Uuid::new_v4().to_string(),
        badge: payload(&bob),
        scanned_at: now_ms() + 1000,
        notes: Some("second visit".into()),
        rating: None,
        answers: None,
    };
    let batch = vec![retry_of_first, bob_again];
    let db = app.db();
    let planned = db.read_blocking(|conn| scans::plan(conn, &scope, &batch, now_ms())).unwrap();
    let bob_first = scan_body(&payload(&bob));
    let body: Value =
        app.post(&token, "/api/v1/scans/batch", &json!({"scans": [first, bob_first]})).await.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "created");
    let first_scan_id = body["results"][0]["scan_id"].clone();

    let outcomes = db.write_blocking(|c| scans::process_batch(c, &scope, &batch, Some(planned), now_ms())).unwrap();
    match &outcomes[0] {
        Outcome::Duplicate { scan_id, card, .. } => {
            assert_eq!(Value::from(scan_id.as_str()), first_scan_id);
            assert_eq!(card.lead.as_ref().unwrap().name.as_deref(), Some("Ann"));
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert!(matches!(outcomes[1], Outcome::Created { .. }));
    assert_eq!(count_rows(&app, "scans"), 3);
    assert_eq!(count_rows(&app, "leads"), 2);
    let leads: Value = app.get(&token, "/api/v1/leads").await.json().await.unwrap();
    let bob_lead = leads["items"].as_array().unwrap().iter().find(|l| l["contact"]["name"] == "Bob").unwrap().clone();
    assert_eq!(bob_lead["scan_notes"][0]["notes"], "second visit");
}

/// What a person types off a printed badge: `0` for `O`, `1` for `I` or `L`, lower case,
/// spaces where the dashes were or none at all; the same badge, the same lead.
async fn typed_codes_forgive_look_alikes_but_not_wrong_characters(app: TestApp) {
    let w = world(&app).await;
    // A participant whose printed code holds an `O` and an `I` or `L`, so the look-alikes
    // are really exercised (a random code has both about half the time).
    let (mut ann, mut name) = (Value::Null, String::new());
    for i in 0..40 {
        name = format!("Ann {i}");
        let p = person(&app, &w, &name).await;
        let printed = p["badge"]["fallback_code"].as_str().unwrap().to_string();
        if printed.contains('O') && printed.contains(['I', 'L']) {
            ann = p;
            break;
        }
    }
    let printed = ann["badge"]["fallback_code"].as_str().expect("a code with O and I or L").to_string();
    let bare = printed.replace('-', "");
    let spaced: String =
        bare.chars().enumerate().flat_map(|(i, c)| if i > 0 && i % 4 == 0 { vec![' ', c] } else { vec![c] }).collect();
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let zeros_and_ones = spaced.replace('O', "0").replace(['I', 'L'], "1").to_lowercase();
    let res = app.post(&scanner, "/api/v1/scans", &scan_body(&zeros_and_ones)).await;
    assert_eq!(res.status(), 201, "{zeros_and_ones} for {printed}");
    let card: Value = res.json().await.unwrap();
    assert_eq!(card["lead"]["name"], name.as_str());

    // The same badge however it is typed: one participant, one lead.
    let typed = [
        printed.clone(),
        bare.to_lowercase(),
        printed.replace('I', "l").replace('L', "1").replace('O', "o"),
        printed.replace('-', " "),
    ];
    for t in &typed {
        assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(t)).await.status(), 201, "{t}");
    }
    let batch: Vec<Value> = typed.iter().map(|t| scan_body(&t.replace('O', "0").replace('L', "1"))).collect();
    let body: Value = app.post(&scanner, "/api/v1/scans/batch", &json!({"scans": batch})).await.json().await.unwrap();
    assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "created"), "{body}");
    assert_eq!(count_rows(&app, "scans"), 9);
    assert_eq!(count_rows(&app, "leads"), 1);
    let leads: Value = app.get(&scanner, "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(leads["items"][0]["contact"]["name"], name.as_str());

    // A character that is no look-alike of the printed one is a different code.
    let first = bare.chars().next().unwrap();
    let other = "ABCDEFGHJKMNPQRSTUVWXYZ234567".chars().find(|c| *c != first).unwrap();
    let wrong = format!("{other}{}", &bare[1..]);
    let res = app.post(&scanner, "/api/v1/scans", &scan_body(&wrong)).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["reason"], "unknown_badge");
    for not_a_code in [format!("{bare}A"), bare[1..].to_string(), bare.replacen(first, "8", 1)] {
        let res = app.post(&scanner, "/api/v1/scans", &scan_body(&not_a_code)).await;
        assert_eq!(problem(res).await["reason"], "unknown_badge", "{not_a_code}");
    }
    assert_eq!(count_rows(&app, "scans"), 9);
}
