//! Step 6: containment, incident scope from the ledger, report and clock.

use crate::common::{TestApp, Who, World, partner_user, payload, problem, scan_body};
use serde_json::{Value, json};

both_backends!(
    an_incident_lists_exactly_what_the_scope_obtained,
    the_report_has_six_sections_in_order_and_deadlines_from_discovery,
    containment_takes_effect_on_the_very_next_request,
    affected_participants_list_is_itself_ledgered,
);

fn rfc(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

async fn pause() {
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
}

struct Scenario {
    admin: String,
    event: String,
    p: String,
    p_admin_id: String,
    p_admin: String,
    q: String,
    t0: String,
    t4: String,
    exported: Vec<String>,
    scanned: String,
}

/// Partner P's admin exports at t1 and t2 and scans at t3; Q does nothing.
async fn scenario(app: &TestApp) -> Scenario {
    let w = World::builder().partners("Partner P", "Partner Q").with(Who::AcmeAdmin).build(app).await;
    let (p_admin_id, p_admin) = (w.user_id(Who::AcmeAdmin).to_string(), w.acme_admin().to_string());
    let World { admin, event, acme: p, globex: q, .. } = w;
    let mut exported = Vec::new();
    for name in ["Ann", "Bo"] {
        let r = app
            .register(&admin, &event, json!({"name": name, "email": format!("{name}@example.org"), "is_adult": true, "share_with_partners": [p]}))
            .await;
        exported.push(r["id"].as_str().unwrap().to_string());
    }
    let cy = app
        .register(
            &admin,
            &event,
            json!({"name": "Cy", "email": "cy@example.org", "phone": "555 0100", "is_adult": true}),
        )
        .await;
    app.register(
        &admin,
        &event,
        json!({"name": "Di", "email": "di@example.org", "is_adult": true, "share_with_partners": [q]}),
    )
    .await;
    let t0 = rfc(now() - time::Duration::seconds(1));
    pause().await;
    let export = app.get(&p_admin, "/api/v1/leads/export.csv").await; // t1
    assert_eq!(export.status(), 200);
    export.text().await.unwrap(); // read to the end: the export ledgers pages as it streams them
    pause().await;
    let export = app.get(&p_admin, "/api/v1/leads/export.csv").await; // t2
    assert_eq!(export.status(), 200);
    export.text().await.unwrap(); // read to the end: the export ledgers pages as it streams them
    pause().await;
    assert_eq!(app.post(&p_admin, "/api/v1/scans", &scan_body(&payload(&cy))).await.status(), 201); // t3
    pause().await;
    let t4 = rfc(now() + time::Duration::seconds(1));
    Scenario {
        admin,
        event,
        p,
        p_admin_id,
        p_admin,
        q,
        t0,
        t4,
        exported,
        scanned: cy["id"].as_str().unwrap().to_string(),
    }
}

async fn open(app: &TestApp, s: &Scenario, scope: Value, discovered: &str) -> Value {
    let res = app
        .post(
            &s.admin,
            "/api/v1/incidents",
            &json!({"title": "Leaked laptop", "description": "A partner laptop was stolen.",
            "discovered_at": discovered, "scope": scope, "window": {"from": s.t0, "to": s.t4}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn an_incident_lists_exactly_what_the_scope_obtained(app: TestApp) {
    let s = scenario(&app).await;
    let inc = open(&app, &s, json!({"partner_id": s.p}), &rfc(now())).await;
    let e = &inc["exposure"];
    let mut ids: Vec<String> =
        e["participant_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    ids.sort();
    let mut expected = s.exported.clone();
    expected.push(s.scanned.clone());
    expected.sort();
    assert_eq!(ids, expected, "exactly the exported and scanned participants");
    assert_eq!(e["records"], 5, "two exports of two rows and one lead card");
    assert_eq!(e["fields"], json!(["name", "company", "address", "phone", "email"]));
    assert_eq!(e["channels"], json!(["export", "scan"]));
    let r = &e["recipients"][0];
    assert_eq!(r["partner_name"], "Partner P");
    assert_eq!(r["user_ids"], json!([s.p_admin_id]));
    assert_eq!(e["recipients"].as_array().unwrap().len(), 1);

    let other = open(&app, &s, json!({"partner_id": s.q}), &rfc(now())).await;
    assert_eq!(other["exposure"]["records"], 0);
    assert_eq!(other["exposure"]["participant_ids"], json!([]));

    let by_user = open(&app, &s, json!({"user_id": s.p_admin_id}), &rfc(now())).await;
    assert_eq!(by_user["exposure"]["participants"], 3);
    let by_event = open(&app, &s, json!({"event_id": s.event}), &rfc(now())).await;
    assert_eq!(by_event["exposure"]["records"], 5);

    let res = app
        .post(
            &s.admin,
            "/api/v1/incidents",
            &json!({"title": "x", "description": "y", "discovered_at": rfc(now()),
            "scope": {"partner_id": s.p, "event_id": s.event}, "window": {"from": s.t0, "to": s.t4}}),
        )
        .await;
    assert_eq!(problem(res).await["errors"][0]["field"], "scope");
    assert_eq!(app.get(&s.p_admin, &format!("/api/v1/incidents/{}", inc["id"].as_str().unwrap())).await.status(), 403);
}

async fn the_report_has_six_sections_in_order_and_deadlines_from_discovery(app: TestApp) {
    let s = scenario(&app).await;
    let discovered = now() - time::Duration::hours(30);
    let inc = open(&app, &s, json!({"partner_id": s.p}), &rfc(discovered)).await;
    let id = inc["id"].as_str().unwrap();
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(v.as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let d = &inc["deadlines"];
    assert_eq!(parse(&d["notify_by"]) - parse(&inc["discovered_at"]), time::Duration::hours(24));
    assert_eq!(parse(&d["report_by"]) - parse(&inc["discovered_at"]), time::Duration::hours(48));
    assert_eq!(d["next_deadline"], d["notify_by"]);
    assert_eq!(d["overdue"], true, "30 h after discovery without notification is late");
    let overdue: Value = app.get(&s.admin, "/api/v1/incidents?due=overdue").await.json().await.unwrap();
    assert_eq!(overdue["total"], 1);

    let res = app
        .patch(&s.admin, &format!("/api/v1/incidents/{id}"), &json!({"notified_at": rfc(now()), "nature": "Theft of an unlocked laptop.",
            "investigation": "Reviewed the ledger.", "mitigation": "Revoked P's sessions.", "contact": "security@operator.example"}))
        .await;
    assert_eq!(res.status(), 200);
    let inc: Value = res.json().await.unwrap();
    assert_eq!(inc["deadlines"]["next_deadline"], inc["deadlines"]["report_by"]);
    assert_eq!(inc["deadlines"]["overdue"], false);
    let overdue: Value = app.get(&s.admin, "/api/v1/incidents?due=overdue").await.json().await.unwrap();
    assert_eq!(overdue["total"], 0);

    for n in 1..=2 {
        let res = app
            .post(&s.admin, &format!("/api/v1/incidents/{id}/updates"), &json!({"perpetrators": format!("unknown ({n})"),
                "data_abused": "no sign", "further_investigation": "police report", "further_mitigation": "none", "corrective_action": "disk encryption"}))
            .await;
        assert_eq!(res.status(), 201);
    }
    let res = app.get(&s.admin, &format!("/api/v1/incidents/{id}/report")).await;
    assert_eq!(res.headers().get("content-type").unwrap(), "text/markdown; charset=utf-8");
    let md = res.text().await.unwrap();
    let headings = [
        "## 1. Nature of the incident",
        "## 2. Type of information involved",
        "## 3. Who may have obtained it",
        "## 4. Steps taken to investigate",
        "## 5. Steps taken to mitigate",
        "## 6. Point of contact",
        "## Status updates",
        "### Update 1",
        "### Update 2",
    ];
    let positions: Vec<usize> = headings.iter().map(|h| md.find(h).unwrap_or_else(|| panic!("{h} missing"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "sections in order");
    assert!(
        md.contains("Theft of an unlocked laptop.")
            && md.contains("Partner P")
            && md.contains("security@operator.example")
    );
    assert!(md.find("unknown (1)").unwrap() < md.find("unknown (2)").unwrap());

    let json: Value =
        app.get(&s.admin, &format!("/api/v1/incidents/{id}/report?format=json")).await.json().await.unwrap();
    let titles: Vec<&str> = json["sections"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert_eq!(titles[2], "Who may have obtained it");
    assert_eq!(titles.len(), 6);
}

async fn containment_takes_effect_on_the_very_next_request(app: TestApp) {
    let s = scenario(&app).await;
    // One user's sessions.
    let res = app.post(&s.admin, &format!("/api/v1/users/{}/revoke-sessions", s.p_admin_id), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&s.p_admin, "/api/v1/leads").await.status(), 401);
    // A partner's users.
    let (_, p_scanner) = partner_user(&app, &s.admin, &s.event, &s.p, "scanner").await;
    let (_, q_scanner) = partner_user(&app, &s.admin, &s.event, &s.q, "scanner").await;
    let res: Value = app
        .post(&s.admin, &format!("/api/v1/events/{}/partners/{}/revoke-sessions", s.event, s.p), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(res["users"].as_u64().unwrap() >= 2);
    assert_eq!(app.get(&p_scanner, "/api/v1/leads").await.status(), 401);
    assert_eq!(app.get(&q_scanner, "/api/v1/leads").await.status(), 200, "other partners keep working");
    // Every partner of the event.
    assert_eq!(
        app.post(&s.admin, &format!("/api/v1/events/{}/revoke-sessions", s.event), &json!({})).await.status(),
        200
    );
    assert_eq!(app.get(&q_scanner, "/api/v1/leads").await.status(), 401);

    // Suspension: exports and lead reads stop, scans are still recorded without a card.
    let (_, p_admin) = partner_user(&app, &s.admin, &s.event, &s.p, "partner_admin").await;
    let res = app
        .post(&s.admin, &format!("/api/v1/events/{}/partners/{}/suspension", s.event, s.p), &json!({"suspended": true}))
        .await;
    assert_eq!(res.status(), 204);
    let res = app.get(&p_admin, "/api/v1/leads/export.csv").await;
    assert_eq!(res.status(), 403);
    assert_eq!(problem(res).await["reason"], "partner_suspended");
    assert_eq!(app.get(&p_admin, "/api/v1/leads").await.status(), 403);
    let stranger =
        app.register(&s.admin, &s.event, json!({"name": "Eve", "email": "eve@example.org", "is_adult": true})).await;
    let card: Value = app.post(&p_admin, "/api/v1/scans", &scan_body(&payload(&stranger))).await.json().await.unwrap();
    assert_eq!(card["status"], "created");
    assert_eq!(card["lead"], Value::Null);
    assert_eq!(card["lead_reason"], "partner_suspended");
    app.post(
        &s.admin,
        &format!("/api/v1/events/{}/partners/{}/suspension", s.event, s.p),
        &json!({"suspended": false}),
    )
    .await;
    assert_eq!(app.get(&p_admin, "/api/v1/leads").await.status(), 200);

    // Rotation ends every token, the admin's own included; the service keeps running.
    let res = app.post(&s.admin, "/api/v1/security/rotate-token-key", &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&p_admin, "/api/v1/leads").await.status(), 401);
    assert_eq!(app.get(&s.admin, "/api/v1/auth/me").await.status(), 401);
    let fresh = app.admin().await;
    assert_eq!(app.get(&fresh, "/api/v1/auth/me").await.status(), 200);
    let actions: Value = app.get(&fresh, "/api/v1/security/actions").await.json().await.unwrap();
    let names: Vec<&str> = actions["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    for expected in [
        "rotate_token_key",
        "restore_partner",
        "suspend_partner",
        "revoke_event_partner_sessions",
        "revoke_partner_sessions",
        "revoke_user_sessions",
    ] {
        assert!(names.contains(&expected), "{expected} not logged");
    }
}

async fn affected_participants_list_is_itself_ledgered(app: TestApp) {
    let s = scenario(&app).await;
    let inc = open(&app, &s, json!({"partner_id": s.p}), &rfc(now())).await;
    let before: Value =
        app.get(&s.admin, &format!("/api/v1/events/{}/disclosures", s.event)).await.json().await.unwrap();
    let res = app.get(&s.admin, &format!("/api/v1/incidents/{}/affected.csv", inc["id"].as_str().unwrap())).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert!(text.contains("cy@example.org") && text.contains("555 0100"));
    assert!(!text.contains("di@example.org"));
    let after: Value =
        app.get(&s.admin, &format!("/api/v1/events/{}/disclosures?per_page=100", s.event)).await.json().await.unwrap();
    assert_eq!(after["total"].as_i64().unwrap(), before["total"].as_i64().unwrap() + 3);
    let staff: Vec<&Value> = after["items"].as_array().unwrap().iter().filter(|d| d["channel"] == "staff").collect();
    assert_eq!(staff.len(), 3);
    assert!(staff.iter().all(|d| d["partner_id"].is_null() && d["basis"] == "incident_notification"));
}
