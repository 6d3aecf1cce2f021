//! Step 5: participants' rights through the personal link and staff.

use crate::common::{Backend, TestApp, Who, World, count_rows, payload, problem, scan_body};
use diesel::prelude::*;
use serde_json::{Value, json};

both_backends!(
    the_privacy_page_and_json_show_what_is_held_and_who_received_it,
    the_json_download_lists_exactly_the_recipients_in_the_ledger,
    a_withdrawal_through_the_page_removes_the_participant_from_the_next_export,
    corrections_are_validated_and_recorded,
    erasure_leaves_no_trace_of_the_person_and_names_the_recipients,
    under_18_flag_erases_at_once,
    a_request_past_30_days_shows_as_overdue,
    a_revoked_privacy_link_shows_nothing,
    unsubscribe_takes_one_post,
);

async fn world(app: &TestApp) -> World {
    World::builder().with(Who::AcmeAdmin).with(Who::GlobexScanner).build(app).await
}

/// Registers Zoë (opted in to Acme), has Globex scan her badge and Acme export. Returns
/// (registration, privacy token).
async fn zoe(app: &TestApp, w: &World) -> (Value, String) {
    let reg = app
        .register(&w.admin, &w.event, json!({"name": "Zoë Quixotic", "email": "zoe.quixotic@example.org", "phone": "+44 7700 900123",
            "company": "Quixotic Ltd", "address": "7 Unusual Lane", "is_adult": true, "share_with_partners": [w.acme], "marketing_emails": true}))
        .await;
    let token = reg["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(app.post(w.globex_scanner(), "/api/v1/scans", &scan_body(&payload(&reg))).await.status(), 201);
    let res = app.get(w.acme_admin(), "/api/v1/leads/export.csv").await;
    assert!(res.text().await.unwrap().contains("Zoë Quixotic"));
    (reg, token)
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get(token, "/api/v1/me").await
}

fn exported_names(csv: &str) -> Vec<String> {
    csv::Reader::from_reader(csv.as_bytes()).records().map(|r| r.unwrap()[0].to_string()).collect()
}

async fn the_privacy_page_and_json_show_what_is_held_and_who_received_it(app: TestApp) {
    let w = world(&app).await;
    let (_, token) = zoe(&app, &w).await;
    let res = me(&app, &token).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["data"]["name"], "Zoë Quixotic");
    assert_eq!(r["opt_ins"][0]["partner_id"], w.acme.as_str());
    assert_eq!(r["scans"][0]["partner_name"], "Globex");
    let recipients: Vec<(&str, &str)> = r["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["partner_name"].as_str().unwrap(), x["channel"].as_str().unwrap()))
        .collect();
    assert!(recipients.contains(&("Globex", "scan")) && recipients.contains(&("Acme", "export")));
    assert!(r["unsubscribe_url"].as_str().unwrap().contains("/u/"));

    let page = app.client.get(format!("{}/me/{token}", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers().get("cache-control").unwrap(), "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("Zoë Quixotic") && html.contains("Globex") && html.contains("Stop sharing with Acme"));
    assert!(html.contains("name=\"viewport\""));
    // "Who received your data": one line per partner, however often it received the data.
    for _ in 0..3 {
        let res = app.get(w.acme_admin(), "/api/v1/leads/export.csv").await;
        assert!(res.status().is_success());
        // Read to the end, as a download is: the export releases (and ledgers) its pages as
        // it streams them, and one dropped before its first page released nothing.
        assert!(res.text().await.unwrap().contains("Zoë Quixotic"));
    }
    let html = app.client.get(format!("{}/me/{token}", app.url)).send().await.unwrap().text().await.unwrap();
    let table = html.split("<table id=\"recipients\">").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(table.matches("<td>Acme</td>").count(), 1, "{table}");
    assert_eq!(table.matches("<td>Globex</td>").count(), 1, "{table}");
    assert!(table.contains(" times)") && table.contains("you opted in") && table.contains("in a download"), "{table}");
    assert!(table.contains("they scanned your badge") && table.contains("on their scanning phone"), "{table}");
    assert_eq!(app.get("not-a-token", "/api/v1/me").await.status(), 401);
}

async fn the_json_download_lists_exactly_the_recipients_in_the_ledger(app: TestApp) {
    let w = world(&app).await;
    let (reg, token) = zoe(&app, &w).await;
    let res = app.get(&token, "/api/v1/me/export").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment"));
    let download: Value = res.json().await.unwrap();
    let ledger: Value = app
        .get(&w.admin, &format!("/api/v1/events/{}/disclosures?attendee_id={}", w.event, reg["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let from_download: Vec<(String, String, String)> = download["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["partner_id"].to_string(), x["occurred_at"].to_string(), x["channel"].to_string()))
        .collect();
    let from_ledger: Vec<(String, String, String)> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["partner_id"].to_string(), x["occurred_at"].to_string(), x["channel"].to_string()))
        .collect();
    assert_eq!(from_download, from_ledger);
    assert!(download["badges"].as_array().unwrap().len() == 1 && download["opt_ins"].is_array());
    let requests = download["requests"].as_array().unwrap();
    assert!(requests.iter().any(|r| r["kind"] == "access" && r["status"] == "completed"));
}

async fn a_withdrawal_through_the_page_removes_the_participant_from_the_next_export(app: TestApp) {
    let w = world(&app).await;
    let (reg, token) = zoe(&app, &w).await;
    let res = app
        .client
        .post(format!("{}/me/{token}/withdraw", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("partner_id={}", w.acme))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let csv = app.get(w.acme_admin(), "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(exported_names(&csv).is_empty(), "{csv}");
    let r: Value = me(&app, &token).await.json().await.unwrap();
    assert_eq!(r["withdrawals"][0]["source"], "participant");
    assert!(r["requests"].as_array().unwrap().iter().any(|q| q["kind"] == "withdrawal" && q["status"] == "completed"));
    // The page no longer offers to stop what has stopped; the other partner stays offered.
    let page =
        || async { app.client.get(format!("{}/me/{token}", app.url)).send().await.unwrap().text().await.unwrap() };
    let html = page().await;
    assert!(!html.contains("Stop sharing with Acme") && html.contains("Stop sharing with Globex"), "{html}");
    // The API does the same for all partners: Globex's next scan releases nothing.
    let res = app.post(&token, "/api/v1/me/withdrawals", &json!({"all_partners": true})).await;
    assert_eq!(res.status(), 201);
    let html = page().await;
    assert!(!html.contains("Stop sharing with") && html.contains("You stopped sharing with every partner"), "{html}");
    let card: Value =
        app.post(w.globex_scanner(), "/api/v1/scans", &scan_body(&payload(&reg))).await.json().await.unwrap();
    assert_eq!(card["status"], "created");
    assert_eq!(card["lead"], Value::Null);
}

async fn corrections_are_validated_and_recorded(app: TestApp) {
    let w = world(&app).await;
    let (_, token) = zoe(&app, &w).await;
    let res = app.patch(&token, "/api/v1/me", &json!({"email": "not an email"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "email");
    let res =
        app.patch(&token, "/api/v1/me", &json!({"company": "New Co", "phone": "", "marketing_emails": false})).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["data"]["company"], "New Co");
    assert_eq!(r["data"]["phone"], Value::Null);
    assert_eq!(r["data"]["marketing_emails"], false);
    assert!(r["requests"].as_array().unwrap().iter().any(|q| q["kind"] == "correction"));
}

/// Every text column of every table, searched for `needle`.
fn occurrences(app: &TestApp, needle: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        c: String,
    }
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    let cols: Vec<Col> = match app.backend {
        Backend::Sqlite => diesel::sql_query(
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
        )
        .load(&mut *conn)
        .unwrap(),
        Backend::Postgres => diesel::sql_query(
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns WHERE table_schema = 'public'",
        )
        .load(&mut *conn)
        .unwrap(),
    };
    let mut found = Vec::new();
    let pattern = format!("%{}%", needle.to_lowercase());
    for col in cols {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM \"{}\" WHERE LOWER(CAST(\"{}\" AS TEXT)) LIKE '{}'",
            col.t, col.c, pattern
        );
        let n: N = diesel::sql_query(sql).get_result(&mut *conn).unwrap();
        if n.n > 0 {
            found.push(format!("{}.{}", col.t, col.c));
        }
    }
    found
}

async fn erasure_leaves_no_trace_of_the_person_and_names_the_recipients(app: TestApp) {
    let w = world(&app).await;
    let (reg, token) = zoe(&app, &w).await;
    let needles = ["Zoë Quixotic", "zoe.quixotic@example.org", "+44 7700 900123", "Quixotic Ltd", "7 Unusual Lane"];
    assert!(!occurrences(&app, needles[0]).is_empty(), "the search itself finds stored names");
    let ledger_before = count_rows(&app, "disclosures");
    let res = app.post(&token, "/api/v1/me/erasure", &json!({})).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "confirm");
    let res = app.post(&token, "/api/v1/me/erasure", &json!({"confirm": true})).await;
    assert_eq!(res.status(), 200);
    let result: Value = res.json().await.unwrap();
    let mut told: Vec<&str> =
        result["recipients_to_notify"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    told.sort();
    assert_eq!(told, vec!["Acme", "Globex"]);
    for needle in needles {
        assert_eq!(occurrences(&app, needle), Vec::<String>::new(), "{needle} survived erasure");
    }
    // Skeletons stay: the scan, the lead and the ledger rows under the pseudonymous id.
    assert_eq!(count_rows(&app, "scans"), 1);
    assert_eq!(count_rows(&app, "disclosures"), ledger_before);
    // Later releases exclude the participant; the personal link is dead.
    let csv = app.get(w.acme_admin(), "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(exported_names(&csv).is_empty());
    let res = app.post(w.globex_scanner(), "/api/v1/scans", &scan_body(&payload(&reg))).await;
    assert_eq!(problem(res).await["reason"], "badge_revoked");
    assert_eq!(me(&app, &token).await.status(), 401);
    assert_eq!(app.client.get(format!("{}/me/{token}", app.url)).send().await.unwrap().status(), 404);

    if app.backend == Backend::Sqlite {
        // The erasure truncates the WAL after its commit; when a reader still held an older
        // snapshot, the checkpoint thread retries until it succeeds. Wait for that, as the
        // promise allows, rather than checkpointing from here.
        let files = ["test.db", "test.db-wal"].map(|f| app.data_dir.path().join(f));
        let mut left: Vec<&str> = needles.to_vec();
        for _ in 0..100 {
            let mut bytes = std::fs::read(&files[0]).unwrap();
            bytes.extend(std::fs::read(&files[1]).unwrap_or_default());
            left = needles.iter().copied().filter(|n| bytes.windows(n.len()).any(|win| win == n.as_bytes())).collect();
            if left.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(left.is_empty(), "{left:?} still in the SQLite files 10 s after the erasure");
    }
}

async fn under_18_flag_erases_at_once(app: TestApp) {
    let w = world(&app).await;
    let (reg, token) = zoe(&app, &w).await;
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{}/under-18", w.event, reg["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(occurrences(&app, "zoe.quixotic@example.org"), Vec::<String>::new());
    assert_eq!(me(&app, &token).await.status(), 401);
    let detail: Value = app
        .get(&w.admin, &format!("/api/v1/events/{}/attendees/{}", w.event, reg["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["erased"], true);
    assert_eq!(detail["badge"], Value::Null);
}

async fn a_request_past_30_days_shows_as_overdue(app: TestApp) {
    let w = world(&app).await;
    let (reg, _) = zoe(&app, &w).await;
    let old = (time::OffsetDateTime::now_utc() - time::Duration::days(31))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let res = app
        .post(&w.admin, "/api/v1/requests", &json!({"event_id": w.event, "attendee_id": reg["id"], "kind": "access", "channel": "post", "received_at": old}))
        .await;
    assert_eq!(res.status(), 201);
    let filed: Value = res.json().await.unwrap();
    assert_eq!(filed["overdue"], true);
    let res = app
        .post(
            &w.admin,
            "/api/v1/requests",
            &json!({"event_id": w.event, "attendee_id": reg["id"], "kind": "erasure", "channel": "email"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let overdue: Value = app.get(&w.admin, "/api/v1/requests?status=overdue").await.json().await.unwrap();
    assert_eq!(overdue["total"], 1);
    assert_eq!(overdue["items"][0]["id"], filed["id"]);
    let open: Value = app.get(&w.admin, "/api/v1/requests?status=open").await.json().await.unwrap();
    assert_eq!(open["total"], 2);
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/requests/{}/complete", filed["id"].as_str().unwrap()),
            &json!({"notes": "sent by post"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let overdue: Value = app.get(&w.admin, "/api/v1/requests?status=overdue").await.json().await.unwrap();
    assert_eq!(overdue["total"], 0);
    let res = app
        .post(
            &w.admin,
            "/api/v1/requests",
            &json!({"event_id": w.event, "attendee_id": reg["id"], "kind": "gossip", "channel": "post"}),
        )
        .await;
    assert_eq!(problem(res).await["errors"][0]["field"], "kind");
    assert_eq!(app.get(w.acme_admin(), "/api/v1/requests").await.status(), 403);
}

async fn a_revoked_privacy_link_shows_nothing(app: TestApp) {
    let w = world(&app).await;
    let (reg, old) = zoe(&app, &w).await;
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{}/privacy-link", w.event, reg["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let new_url = res.json::<Value>().await.unwrap()["privacy_url"].as_str().unwrap().to_string();
    let page = app.client.get(format!("{}/me/{old}", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(!page.text().await.unwrap().contains("Zoë"));
    assert_eq!(me(&app, &old).await.status(), 401);
    let page = app.client.get(&new_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
}

async fn unsubscribe_takes_one_post(app: TestApp) {
    let w = world(&app).await;
    let (_, token) = zoe(&app, &w).await;
    let r: Value = me(&app, &token).await.json().await.unwrap();
    assert_eq!(r["data"]["marketing_emails"], true);
    let url = r["unsubscribe_url"].as_str().unwrap().to_string();
    let u_token = url.rsplit('/').next().unwrap();
    assert!(!u_token.to_lowercase().contains("zoe") && !u_token.contains(r["data"]["id"].as_str().unwrap()));
    let page = app.client.get(&url).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("<button type=\"submit\">Unsubscribe</button>"));
    let res = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r: Value = me(&app, &token).await.json().await.unwrap();
    assert_eq!(r["data"]["marketing_emails"], false);
    assert_eq!(app.client.post(format!("{}/u/nonsense", app.url)).send().await.unwrap().status(), 404);
}
