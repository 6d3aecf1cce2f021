//! Step 7: no scan basis after the event, an erased badge indistinguishable from a replaced
//! one, and the headers a browser and a proxy act on.

use crate::common::{TestApp, Who, World, partner_user, payload, problem, scan_body};
use badgegate::config::Settings;
use badgegate::http::server::Application;
use serde_json::{Value, json};

both_backends!(
    a_scan_received_after_the_grace_period_is_no_basis_whatever_its_time,
    an_erased_participants_badge_answers_like_a_replaced_one,
    every_answer_carries_the_security_headers,
);

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

async fn a_scan_received_after_the_grace_period_is_no_basis_whatever_its_time(app: TestApp) {
    let admin = app.admin().await;
    let now = time::OffsetDateTime::now_utc();
    let ended = now - time::Duration::days(4);
    let res = app
        .post(
            &admin,
            "/api/v1/events",
            &json!({"name": "Last week's expo", "starts_at": rfc3339(ended - time::Duration::days(2)), "ends_at": rfc3339(ended)}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let event: Value = res.json().await.unwrap();
    assert_eq!(event["scan_grace_hours"], 72);
    let event_id = event["id"].as_str().unwrap();
    let acme = app.partner(&admin, event_id, "Acme").await;
    let (_, scanner) = partner_user(&app, &admin, event_id, &acme, "scanner").await;
    let reg = app
        .register(&admin, event_id, json!({"name": "Late Larry", "email": "larry@example.org", "is_adult": true}))
        .await;

    // The phone claims the scan happened during the show; the server received it 4 days after.
    let during = rfc3339(ended - time::Duration::hours(3));
    let mut body = scan_body(&payload(&reg));
    body["scanned_at"] = json!(during);
    let res = app.post(&scanner, "/api/v1/scans", &body).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["reason"], "event_closed");
    let mut item = scan_body(&payload(&reg));
    item["scanned_at"] = json!(during);
    let res = app.post(&scanner, "/api/v1/scans/batch", &json!({"scans": [item]})).await;
    assert_eq!(res.status(), 200);
    let batch: Value = res.json().await.unwrap();
    assert_eq!(batch["results"][0]["status"], "rejected", "{batch}");
    assert_eq!(batch["results"][0]["reason"], "event_closed");
    assert_eq!(crate::common::count_rows(&app, "scans"), 0);
    assert_eq!(crate::common::count_rows(&app, "leads"), 0);

    // The organiser may allow a longer grace for a show whose phones sync late.
    let res = app.patch(&admin, &format!("/api/v1/events/{event_id}"), &json!({"scan_grace_hours": 200})).await;
    assert_eq!(res.status(), 200);
    let mut body = scan_body(&payload(&reg));
    body["scanned_at"] = json!(during);
    assert_eq!(app.post(&scanner, "/api/v1/scans", &body).await.status(), 201);
    let res = app.patch(&admin, &format!("/api/v1/events/{event_id}"), &json!({"scan_grace_hours": 100000})).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "scan_grace_hours");
}

async fn an_erased_participants_badge_answers_like_a_replaced_one(app: TestApp) {
    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let scanner = w.token(Who::AcmeScanner).to_string();
    let World { admin, event, .. } = w;
    let replaced = app
        .register(&admin, &event, json!({"name": "Rita Reissued", "email": "rita@example.org", "is_adult": true}))
        .await;
    let erased = app
        .register(&admin, &event, json!({"name": "Erin Erased", "email": "erin@example.org", "is_adult": true}))
        .await;
    let id = |r: &Value| r["id"].as_str().unwrap().to_string();
    let res = app
        .post(&admin, &format!("/api/v1/events/{event}/attendees/{}/badge/reissue", id(&replaced)), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let token = erased["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let res = app.post(&token, "/api/v1/me/erasure", &json!({"confirm": true})).await;
    assert!(res.status().is_success(), "erasure failed: {}", res.status());

    let answer = |body: Value| {
        let mut body = body;
        body.as_object_mut().unwrap().remove("instance");
        body
    };
    let old = problem(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&replaced))).await).await;
    let gone = problem(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&erased))).await).await;
    assert_eq!(old["reason"], "badge_revoked");
    assert_eq!(answer(old), answer(gone), "an erasure must not be told apart from a reissue");

    let res = app
        .post(
            &scanner,
            "/api/v1/scans/batch",
            &json!({"scans": [scan_body(&payload(&replaced)), scan_body(&payload(&erased))]}),
        )
        .await;
    let batch: Value = res.json().await.unwrap();
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("client_scan_id");
        v
    };
    assert_eq!(strip(&batch["results"][0]), strip(&batch["results"][1]));
}

fn assert_common_headers(res: &reqwest::Response, what: &str) {
    let h = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
    assert_eq!(h("cache-control").as_deref(), Some("no-store"), "{what}");
    assert_eq!(h("referrer-policy").as_deref(), Some("no-referrer"), "{what}");
    let csp = h("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"), "{what}: {csp}");
}

async fn every_answer_carries_the_security_headers(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let reg =
        app.register(&admin, &event, json!({"name": "Hedda", "email": "hedda@example.org", "is_adult": true})).await;
    let slug: Value = app.get(&admin, &format!("/api/v1/events/{event}")).await.json().await.unwrap();

    // JSON with personal data, an error, a 404, and the pages (one with a personal token).
    let list = app.get(&admin, &format!("/api/v1/events/{event}/attendees")).await;
    assert_common_headers(&list, "attendee list");
    assert!(list.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    assert_common_headers(&app.get("bad-token", "/api/v1/auth/me").await, "401");
    assert_common_headers(&app.client.get(format!("{}/nowhere", app.url)).send().await.unwrap(), "404");
    let form =
        app.client.get(format!("{}/e/{}/register", app.url, slug["slug"].as_str().unwrap())).send().await.unwrap();
    assert_common_headers(&form, "registration form");
    let csp = form.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'sha256-"), "{csp}");
    assert!(form.headers().get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    let cookie = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("bg_csrf=") && !cookie.contains("Secure"), "{cookie}");
    // The printable badge sheet keeps its own print layout under its own policy.
    let sheet = app.get(&admin, &format!("/api/v1/events/{event}/badges/sheet")).await;
    assert_common_headers(&sheet, "badge sheet");
    let csp = sheet.headers()["content-security-policy"].to_str().unwrap().to_string();
    let html = sheet.text().await.unwrap();
    let style = html.split("<style>").nth(1).unwrap().split("</style>").next().unwrap();
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "the sheet's style is blocked: {csp}");
    let me = app.client.get(reg["privacy_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_common_headers(&me, "privacy page");
}

/// Under TLS: HSTS, and the CSRF cookie is `Secure` with the `__Host-` prefix.
#[actix_web::test]
async fn under_tls_pages_send_hsts_and_a_host_prefixed_secure_csrf_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings =
        crate::tls::with_self_signed_certificate(dir.path(), Settings::for_data_dir(dir.path().join("data")));
    let database_url = format!("sqlite://{}", dir.path().join("data").join("tls.db").display());
    settings.database_url = Some(database_url.clone());
    let app = Application::build(settings).await.unwrap();
    let port = app.port();
    actix_web::rt::spawn(app.into_server());
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let base = format!("https://localhost:{port}");

    let email = "tls-admin@example.org";
    {
        let url = database_url.clone();
        tokio::task::spawn_blocking(move || {
            let db = badgegate::db::Db::connect(&url, 1).unwrap();
            let mut conn = db.get().unwrap();
            badgegate::auth::users::create_staff_blocking(
                &mut conn,
                email,
                crate::common::PASSWORD,
                badgegate::auth::Role::Admin,
            )
            .unwrap();
        })
        .await
        .unwrap();
    }
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": crate::common::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let res = client
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(token)
        .json(&json!({"name": "Secure Expo", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let event: Value = res.json().await.unwrap();
    let form = client.get(format!("{base}/e/{}/register", event["slug"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    let cookie = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-bg_csrf="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/;") || cookie.ends_with("Path=/"), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
}
