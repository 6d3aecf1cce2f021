//! Hostile input never reaches the database as a 500: control characters and bytes that are
//! not UTF-8 anywhere in a request, absurd paging, huge broken CSV files, JSON that is not
//! one object, bodies sent with a bad token, and e-mail addresses in two Unicode forms.

use crate::common::{PASSWORD, TestApp, Who, World, count_rows, payload, problem, scan_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    control_characters_anywhere_are_422_naming_the_field,
    multi_line_text_keeps_line_breaks_and_one_bad_scan_does_not_sink_a_batch,
    forms_refuse_bytes_that_are_not_utf8_and_control_characters,
    paging_out_of_range_is_422,
    a_broken_csv_import_reports_at_most_100_errors_once_each,
    a_json_body_is_exactly_one_object,
    a_bad_token_gets_401_before_the_body_is_read,
    emails_are_compared_in_one_normal_form,
);

fn field_names(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

async fn expect_422(res: reqwest::Response, field: &str, what: &str) {
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
    let p = problem(res).await;
    assert!(field_names(&p).iter().any(|f| f == field), "{what}: expected field {field} in {p}");
}

async fn event_with_slug(app: &TestApp, admin: &str) -> (String, String) {
    let slug = format!("fair-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let res = app
        .post(
            admin,
            "/api/v1/events",
            &json!({"name": "Fair", "slug": slug, "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    (res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string(), slug)
}

async fn control_characters_anywhere_are_422_naming_the_field(app: TestApp) {
    // Unauthenticated: the login e-mail and the public form's slug.
    let res = app.login("a\u{0}b@example.org", PASSWORD).await;
    expect_422(res, "email", "NUL in the login e-mail").await;
    let res = app.client.get(format!("{}/e/ab%00cd/register", app.url)).send().await.unwrap();
    expect_422(res, "slug", "NUL in the event slug").await;

    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let scanner = w.token(Who::AcmeScanner).to_string();
    let World { admin, event, .. } = w;

    let res = app.get(&scanner, "/api/v1/leads/x%00y").await;
    expect_422(res, "lead_id", "NUL in a lead id").await;
    let res = app.get(&admin, &format!("/api/v1/events/{event}/attendees?q=a%00")).await;
    expect_422(res, "q", "NUL in ?q=").await;
    let res = app.get(&admin, &format!("/api/v1/events/{event}/attendees?q=%FF")).await;
    expect_422(res, "q", "bytes that are not UTF-8 in ?q=").await;
    let res = app.get(&admin, &format!("/api/v1/events/{event}/attendees/%1B%5B2J")).await;
    expect_422(res, "attendee_id", "an escape sequence in an attendee id").await;

    // Single-line fields refuse every control character, C1 included.
    let path = format!("/api/v1/events/{event}/attendees");
    for (body, field) in [
        (json!({"name": "A\u{0}", "email": "a@example.org", "is_adult": true}), "name"),
        (json!({"name": "A\u{85}B", "email": "a@example.org", "is_adult": true}), "name"),
        (json!({"name": "A", "email": "a\u{7f}@example.org", "is_adult": true}), "email"),
        (json!({"name": "A", "email": "a@example.org", "phone": "1\t2", "is_adult": true}), "phone"),
        (
            json!({"name": "A", "email": "a@example.org", "is_adult": true, "share_with_partners": ["x\u{0}"]}),
            "share_with_partners[0]",
        ),
    ] {
        expect_422(app.post(&admin, &path, &body).await, field, &body.to_string()).await;
    }
    assert_eq!(count_rows(&app, "attendees"), 0);

    // Multi-line text refuses everything but line breaks and tabs; so do scan notes and answers.
    let reg = app
        .register(
            &admin,
            &event,
            json!({"name": "Jo", "email": "jo@example.org", "is_adult": true,
        "share_with_all_partners": true}),
        )
        .await;
    let badge = payload(&reg);
    let mut scan = scan_body(&badge);
    scan["notes"] = json!("met at booth\u{0}");
    expect_422(app.post(&scanner, "/api/v1/scans", &scan).await, "notes", "NUL in scan notes").await;
    let mut scan = scan_body(&badge);
    scan["answers"] = json!({"q1": "yes\u{8}"});
    expect_422(app.post(&scanner, "/api/v1/scans", &scan).await, "answers.q1", "backspace in an answer").await;
    let mut scan = scan_body(&badge);
    scan["answers"] = json!({"q\u{0}": "yes"});
    expect_422(app.post(&scanner, "/api/v1/scans", &scan).await, "answers.q\\u{0}", "NUL in an answer key").await;
    assert_eq!(count_rows(&app, "scans"), 0);
    let res = app
        .post(
            &admin,
            "/api/v1/incidents",
            &json!({"title": "Lost\u{0}", "description": "x", "discovered_at": "2024-01-01T00:00:00Z",
            "scope": {}, "window": {"from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z"}}),
        )
        .await;
    expect_422(res, "title", "NUL in an incident title").await;
    let res = app
        .post(
            &admin,
            "/api/v1/incidents",
            &json!({"title": "Lost", "description": "x", "discovered_at": "2024-01-01T00:00:00Z",
            "scope": {"user_id": "u\u{0}"}, "window": {"from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z"}}),
        )
        .await;
    expect_422(res, "scope.user_id", "NUL in a nested id").await;
}

async fn multi_line_text_keeps_line_breaks_and_one_bad_scan_does_not_sink_a_batch(app: TestApp) {
    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let scanner = w.token(Who::AcmeScanner).to_string();
    let World { admin, event, .. } = w;
    let reg = app
        .register(
            &admin,
            &event,
            json!({"name": "Jo", "email": "jo@example.org", "address": "1 Main St\r\nSpringfield", "is_adult": true,
                "share_with_all_partners": true}),
        )
        .await;
    let badge = payload(&reg);
    let mut good = scan_body(&badge);
    good["notes"] = json!("line one\nline\ttwo");
    good["answers"] = json!({"q1": "a\r\nb"});
    let mut bad = scan_body(&badge);
    bad["notes"] = json!("x\u{0}");
    let res = app.post(&scanner, "/api/v1/scans/batch", &json!({"scans": [good, bad]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let results = res.json::<Value>().await.unwrap()["results"].clone();
    assert_eq!(results[0]["status"], "created", "{results}");
    assert_eq!(results[1]["status"], "rejected", "{results}");
    assert_eq!(results[1]["errors"][0]["field"], "notes", "{results}");
    assert_eq!(count_rows(&app, "scans"), 1);
}

async fn post_form(app: &TestApp, path: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(format!("{}{}", app.url, path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn forms_refuse_bytes_that_are_not_utf8_and_control_characters(app: TestApp) {
    let admin = app.admin().await;
    let (event, slug) = event_with_slug(&app, &admin).await;
    let register = format!("/e/{slug}/register");
    // Raw and percent-encoded bytes that are not UTF-8: today stored with U+FFFD.
    for body in [
        b"name=J\xF6rg&email=j@example.org&is_adult=true&csrf=x".to_vec(),
        b"name=J%F6rg&email=j@example.org&is_adult=true&csrf=x".to_vec(),
        b"name=J%00rg&email=j@example.org&is_adult=true&csrf=x".to_vec(),
    ] {
        let res = post_form(&app, &register, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(count_rows(&app, "attendees"), 0);

    let reg = app.register(&admin, &event, json!({"name": "Jo", "email": "jo@example.org", "is_adult": true})).await;
    let token = reg["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let res = post_form(&app, &format!("/me/{token}/correct"), b"name=J%F6rg".to_vec()).await;
    expect_422(res, "name", "not UTF-8 in a correction").await;
    let res = post_form(&app, &format!("/me/{token}/withdraw"), b"partner_id=a%00b".to_vec()).await;
    expect_422(res, "partner_id", "NUL in a partner id on the privacy page").await;
    let res = post_form(&app, &format!("/me/{token}/correct"), b"address=1+Main+St%0D%0ASpringfield".to_vec()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "line breaks in an address are fine");
    let held: Value = app.get(&token, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(held["data"]["name"], "Jo", "{held}");
}

async fn paging_out_of_range_is_422(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    for (query, field) in [
        ("page=4611686018427387904", "page"),
        ("page=1000001", "page"),
        ("page=0", "page"),
        ("page=99999999999999999999", "page"),
        ("page=abc", "page"),
        ("per_page=501", "per_page"),
        ("per_page=-1", "per_page"),
    ] {
        for list in ["/api/v1/events".to_string(), format!("/api/v1/events/{event}/attendees")] {
            let res = app.get(&admin, &format!("{list}?{query}")).await;
            expect_422(res, field, &format!("{list}?{query}")).await;
        }
    }
    let res = app.get(&admin, &format!("/api/v1/events/{event}/badges/sheet?page=4611686018427387904")).await;
    expect_422(res, "page", "badge sheet").await;
    let res = app.get(&admin, &format!("/api/v1/events/{event}/disclosures?page=4611686018427387904")).await;
    expect_422(res, "page", "disclosures").await;
    let res = app.get(&admin, "/api/v1/events?page=1000000&per_page=500").await;
    assert_eq!(res.status(), StatusCode::OK, "the last allowed page is an empty page");
}

async fn a_broken_csv_import_reports_at_most_100_errors_once_each(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let mut csv = String::from("name,email,is_adult\n");
    for i in 0..5000 {
        csv.push_str(&format!("N{i},n{i}@example.org,maybe\n"));
    }
    let res = app
        .client
        .post(format!("{}/api/v1/events/{event}/attendees/import", app.url))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(res).await;
    let fields = field_names(&p);
    assert_eq!(fields.len(), 100, "{}", p["detail"]);
    assert!(p["detail"].as_str().unwrap().contains("100"), "{p}");
    let mut unique = fields.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), fields.len(), "each row's is_adult is reported once: {fields:?}");
    assert_eq!(fields[0], "rows[1].is_adult");
    assert_eq!(count_rows(&app, "attendees"), 0);
}

async fn raw_json(app: &TestApp, token: Option<&str>, path: &str, body: &str) -> reqwest::Response {
    let mut req = app.client.post(format!("{}{}", app.url, path)).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.body(body.to_string()).send().await.unwrap()
}

async fn a_json_body_is_exactly_one_object(app: TestApp) {
    let email = "positional@example.org";
    app.create_staff(email, badgegate::auth::Role::Admin).await;
    let res = raw_json(&app, None, "/api/v1/auth/login", &json!([email, PASSWORD]).to_string()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "an array must not log in");
    let res = raw_json(&app, None, "/api/v1/auth/login", "\"x\"").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = format!("{} trailing garbage", json!({"email": email, "password": PASSWORD}));
    let res = raw_json(&app, None, "/api/v1/auth/login", &body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "text after the document");
    let body = format!("{0}{0}", json!({"email": email, "password": PASSWORD}));
    let res = raw_json(&app, None, "/api/v1/auth/login", &body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "two documents");
    let res =
        raw_json(&app, None, "/api/v1/auth/login", &format!("{}  \n", json!({"email": email, "password": PASSWORD})))
            .await;
    assert_eq!(res.status(), StatusCode::OK, "trailing whitespace is fine");

    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let body = format!("{} x", json!({"name": "Jo", "email": "jo@example.org", "is_adult": true}));
    let res = raw_json(&app, Some(&admin), &format!("/api/v1/events/{event}/attendees"), &body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(count_rows(&app, "attendees"), 0);
}

/// Every POST/PATCH/PUT operation of the OpenAPI document that needs a token.
fn secured_writes() -> Vec<(String, String)> {
    let doc = serde_json::to_value(badgegate::http::routes::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "patch", "put"] {
            let op = &item[method];
            if op.is_object() && op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                let concrete: String = path
                    .split('/')
                    .map(|s| if s.starts_with('{') { "0190a1b2-0000-7000-8000-000000000000" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((method.to_string(), concrete));
            }
        }
    }
    out
}

async fn a_bad_token_gets_401_before_the_body_is_read(app: TestApp) {
    let routes = secured_writes();
    assert!(routes.len() >= 20, "{routes:?}");
    assert!(routes.iter().any(|(_, p)| p == "/api/v1/me"), "the privacy-link routes are included");
    for bad_body in ["{\"nope\": ", "[1,2]", "{\"unknown_field\": 1}"] {
        for (method, path) in &routes {
            let url = format!("{}{}", app.url, path);
            let req = match method.as_str() {
                "post" => app.client.post(url),
                "patch" => app.client.patch(url),
                _ => app.client.put(url),
            };
            let res = req
                .bearer_auth("not-a-valid-token")
                .header("content-type", "application/json")
                .body(bad_body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path} with body {bad_body}");
        }
    }
    // Without any token, too.
    let res = raw_json(&app, None, "/api/v1/events", "{").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn emails_are_compared_in_one_normal_form(app: TestApp) {
    let nfc = "j\u{f6}rg@example.org";
    let nfd = "jo\u{308}rg@example.org";
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let path = format!("/api/v1/events/{event}/attendees");
    app.register(&admin, &event, json!({"name": "Jörg", "email": nfd, "is_adult": true})).await;
    for other in [nfc, "JO\u{308}RG@EXAMPLE.ORG", "J\u{d6}rg@example.org"] {
        let res = app.post(&admin, &path, &json!({"name": "Jörg", "email": other, "is_adult": true})).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{other:?} is the same address");
    }
    assert_eq!(count_rows(&app, "attendees"), 1);

    // Accounts: created with one form, logged in with the other, and not created twice.
    let partner = app.partner(&admin, &event, "Acme").await;
    let users = format!("/api/v1/events/{event}/partners/{partner}/users");
    let res = app.post(&admin, &users, &json!({"email": nfd, "role": "scanner"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let stored = res.json::<serde_json::Value>().await.unwrap()["email"].as_str().unwrap().to_string();
    crate::common::accept_invitation(&app, &stored, PASSWORD).await;
    let res = app.post(&admin, &users, &json!({"email": nfc, "role": "scanner"})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(app.login(nfc, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.login("JO\u{308}RG@example.org", PASSWORD).await.status(), StatusCode::OK);
}
