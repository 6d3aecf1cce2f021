//! What participants see of an event (issue 14, item 5): its time zone, privacy notice,
//! organiser contact and registration close date, set through the API and honoured by the
//! public pages; errors beside their fields; confirmations after privacy-page actions;
//! HTML for browsers and problem+json for API clients. The same pages in a real browser:
//! `browser.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, problem};

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// An event from yesterday to tomorrow with `extra` fields; its body.
async fn event_with(app: &TestApp, admin: &str, slug: &str, extra: Value) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let mut body = json!({
        "name": format!("Fair {slug}"), "slug": slug,
        "starts_at": rfc3339(now - time::Duration::days(1)),
        "ends_at": rfc3339(now + time::Duration::days(1)),
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let res = app.post(admin, "/api/v1/events", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn page(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client.get(format!("{}{path}", app.url)).header("accept", accept).send().await.unwrap()
}

fn content_type(res: &reqwest::Response) -> String {
    res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

async fn events_carry_a_time_zone_a_notice_url_a_contact_and_a_close_date(app: TestApp) {
    let admin = app.admin().await;
    let plain = event_with(&app, &admin, "plain", json!({})).await;
    assert_eq!(plain["time_zone"], "UTC");
    assert_eq!(plain["privacy_notice_url"], Value::Null);
    assert_eq!(plain["organiser_contact"], Value::Null);
    assert_eq!(plain["registration_closes_at"], plain["ends_at"], "closes at the end by default");

    let set = event_with(
        &app,
        &admin,
        "set",
        json!({
            "time_zone": "europe/madrid",
            "privacy_notice_url": "https://fair.example/privacy",
            "organiser_contact": "Fair Ltd, privacy@fair.example",
            "registration_closes_at": "2030-01-01T10:00:00+01:00",
        }),
    )
    .await;
    assert_eq!(set["time_zone"], "Europe/Madrid", "stored as the time-zone database spells it");
    assert_eq!(set["privacy_notice_url"], "https://fair.example/privacy");
    assert_eq!(set["organiser_contact"], "Fair Ltd, privacy@fair.example");
    assert_eq!(set["registration_closes_at"], "2030-01-01T09:00:00Z");
    let id = set["id"].as_str().unwrap();
    let got: Value = app.get(&admin, &format!("/api/v1/events/{id}")).await.json().await.unwrap();
    assert_eq!(got, set);

    // Each bad value is a 422 naming its field; nothing is created.
    for (field, value) in [
        ("time_zone", json!("Mars/Olympus_Mons")),
        ("time_zone", json!("")),
        ("privacy_notice_url", json!("http://fair.example/privacy")),
        ("privacy_notice_url", json!("javascript:alert(1)")),
        ("organiser_contact", json!("Fair\u{7}Ltd")),
        ("registration_closes_at", json!("next Tuesday")),
    ] {
        let now = time::OffsetDateTime::now_utc();
        let body = json!({"name": "Bad", "starts_at": rfc3339(now), "ends_at": rfc3339(now + time::Duration::days(1)), field: value});
        let res = app.post(&admin, "/api/v1/events", &body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}: {value}");
        assert_eq!(problem(res).await["errors"][0]["field"], field, "{field}: {value}");
    }
    let list: Value = app.get(&admin, "/api/v1/events").await.json().await.unwrap();
    assert_eq!(list["total"], 2);

    // A change sets, clears ("") and refuses like a create.
    let res = app
        .patch(
            &admin,
            &format!("/api/v1/events/{id}"),
            &json!({"time_zone": "Asia/Tokyo", "privacy_notice_url": "", "registration_closes_at": "2031-05-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["time_zone"], "Asia/Tokyo");
    assert_eq!(changed["privacy_notice_url"], Value::Null);
    assert_eq!(changed["organiser_contact"], "Fair Ltd, privacy@fair.example", "absent leaves it as it was");
    assert_eq!(changed["registration_closes_at"], "2031-05-01T00:00:00Z");
    let res = app.patch(&admin, &format!("/api/v1/events/{id}"), &json!({"time_zone": "Tokyo"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "time_zone");
}

async fn the_form_names_the_notice_the_contact_and_exactly_the_released_fields(app: TestApp) {
    let admin = app.admin().await;
    let event = event_with(
        &app,
        &admin,
        "two-fields",
        json!({
            "released_fields": ["email", "name"],
            "privacy_notice_url": "https://fair.example/privacy",
            "organiser_contact": "Fair Ltd, privacy@fair.example",
            "time_zone": "Asia/Tokyo",
        }),
    )
    .await;
    app.partner(&admin, event["id"].as_str().unwrap(), "Acme").await;
    let html = page(&app, "/e/two-fields/register", "text/html").await.text().await.unwrap();
    assert!(html.contains("<a href=\"https://fair.example/privacy\">"), "{html}");
    assert!(html.contains("Fair Ltd, privacy@fair.example"));
    assert!(html.contains("Share my contact details (name, email) with all partners of this event"), "{html}");
    assert!(html.contains("Share my contact details with Acme (name, email)"), "{html}");
    assert!(!html.contains("company, address"), "only the released fields are named: {html}");
    for autocomplete in ["name", "email", "organization", "tel", "street-address"] {
        assert!(html.contains(&format!("autocomplete=\"{autocomplete}\"")), "{autocomplete}");
    }
    assert!(html.contains(" JST"), "dates in the event's zone: {html}");
    assert!(!html.contains(".000Z"), "no machine times: {html}");
}

async fn after_the_close_date_the_form_says_so_and_registers_nobody(app: TestApp) {
    let admin = app.admin().await;
    let past = rfc3339(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    let event = event_with(&app, &admin, "closed", json!({"registration_closes_at": past})).await;
    let id = event["id"].as_str().unwrap();
    let res = page(&app, "/e/closed/register", "text/html").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("is closed") && !html.contains("name=\"email\""), "{html}");

    let body = "name=Late+Comer&email=late%40example.org&is_adult=true&csrf=x";
    let res = app
        .client
        .post(format!("{}/e/closed/register", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", "bg_csrf=x")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("No registration was made"));
    let list: Value = app.get(&admin, &format!("/api/v1/events/{id}/attendees")).await.json().await.unwrap();
    assert_eq!(list["total"], 0);

    // Reopened by a later date, the same form registers again.
    let future = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    let res = app.patch(&admin, &format!("/api/v1/events/{id}"), &json!({"registration_closes_at": future})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = page(&app, "/e/closed/register", "text/html").await.text().await.unwrap();
    assert!(html.contains("name=\"email\""));
}

async fn a_wrong_address_is_a_page_for_browsers_and_a_problem_for_api_clients(app: TestApp) {
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for path in ["/e/no-such-fair/register", "/e/no-such-fair/resend", "/me/not-a-link", "/nowhere/at/all"] {
        let res = page(&app, path, browser).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(content_type(&res).starts_with("text/html"), "{path}: {}", content_type(&res));
        let html = res.text().await.unwrap();
        assert!(html.contains("<h1>") && html.contains("name=\"viewport\""), "{path}: {html}");

        let res = page(&app, path, "application/json").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(content_type(&res), "application/problem+json", "{path}");
    }
    // Without a preference a page route answers a page, any other route problem+json.
    assert!(content_type(&page(&app, "/me/not-a-link", "*/*").await).starts_with("text/html"));
    assert_eq!(content_type(&page(&app, "/nowhere", "*/*").await), "application/problem+json");
}

async fn privacy_page_actions_confirm_what_they_did_and_errors_keep_what_was_typed(app: TestApp) {
    let admin = app.admin().await;
    let event = event_with(&app, &admin, "tokyo", json!({"time_zone": "Asia/Tokyo"})).await;
    let event_id = event["id"].as_str().unwrap();
    let acme = app.partner(&admin, event_id, "Acme").await;
    let reg = app
        .register(
            &admin,
            event_id,
            json!({"name": "Ann Lee", "email": "ann@example.org", "is_adult": true, "share_with_partners": [acme]}),
        )
        .await;
    let me = reg["privacy_url"].as_str().unwrap();
    let me = &me[me.find("/me/").unwrap()..];
    let post = |path: String, body: &'static str| {
        app.client
            .post(format!("{}{path}", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let html = page(&app, me, "text/html").await.text().await.unwrap();
    assert!(html.contains(" JST"), "times in the event's zone: {html}");
    assert!(!html.contains("Z<") && !html.contains(".000"), "no machine times: {html}");

    let res = post(format!("{me}/marketing"), "marketing_emails=true").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let html = page(&app, &location, "text/html").await.text().await.unwrap();
    assert!(html.contains("role=\"status\"") && html.contains("marketing e-mails are switched on"), "{html}");

    let body = format!("partner_id={acme}");
    let res = app
        .client
        .post(format!("{}{me}/withdraw", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let html = page(&app, &location, "text/html").await.text().await.unwrap();
    assert!(html.contains("you stopped sharing your contact details with Acme"), "{html}");

    // A refused correction: the page again, the typed values kept, the error beside its
    // field with a human label, tied to it for screen readers.
    let res = post(format!("{me}/correct"), "name=Ann+Lee-Park&email=not-an-address").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"Ann Lee-Park\"") && html.contains("value=\"not-an-address\""), "{html}");
    assert!(html.contains("id=\"c-email-error\"") && html.contains("aria-describedby=\"c-email-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\"") && html.contains(">E-mail "), "{html}");
    let held: Value = app
        .client
        .get(format!("{}/api/v1/me", app.url))
        .bearer_auth(&me[4..])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(held["data"]["name"], "Ann Lee", "nothing was saved");

    let res = post(format!("{me}/erase"), "").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"confirm-error\"") && html.contains("Nothing was deleted"), "{html}");
}

/// A replaced privacy link names its event and offers that event's "lost my badge or
/// link" form (it carries no event of its own); an unknown link and the links of an
/// erased participant answer as before, and no page lists events.
async fn a_replaced_link_offers_its_events_resend_form_and_nothing_else_does(app: TestApp) {
    let admin = app.admin().await;
    let event = event_with(&app, &admin, "harbour", json!({"time_zone": "Europe/Berlin"})).await;
    event_with(&app, &admin, "unannounced", json!({})).await;
    let event_id = event["id"].as_str().unwrap();
    let reg =
        app.register(&admin, event_id, json!({"name": "Ann Lee", "email": "ann@example.org", "is_adult": true})).await;
    let path_of = |url: &str| url[url.find("/me/").unwrap()..].to_string();
    let old = path_of(reg["privacy_url"].as_str().unwrap());
    let attendee = reg["id"].as_str().unwrap();
    let res =
        app.post(&admin, &format!("/api/v1/events/{event_id}/attendees/{attendee}/privacy-link"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let new = path_of(res.json::<Value>().await.unwrap()["privacy_url"].as_str().unwrap());

    let res = page(&app, &old, "text/html").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert!(html.contains("This link is not valid") && html.contains("replaced by a newer link on"), "{html}");
    assert!(html.contains(" CET") || html.contains(" CEST"), "the time in the event's zone: {html}");
    assert!(html.contains("href=\"/e/harbour/resend\"") && html.contains("Fair harbour"), "{html}");
    assert!(!html.contains("unannounced"), "{html}");
    assert!(!html.contains("Ann Lee") && !html.contains("ann@example.org"), "the page shows no one's data: {html}");
    // An API client still gets the problem.
    let res = page(&app, &old, "application/json").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(content_type(&res), "application/problem+json");
    assert!(!res.text().await.unwrap().contains("harbour"));

    let unknown = page(&app, "/me/never-was-a-link", "text/html").await.text().await.unwrap();
    assert!(unknown.contains("ask the organiser") && !unknown.contains("/resend"), "{unknown}");
    assert!(!unknown.contains("harbour") && !unknown.contains("unannounced"), "no event is listed: {unknown}");

    // After the erasure the replaced link is forgotten with the rest.
    let res = app
        .client
        .post(format!("{}{new}/erase", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("confirm=true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = page(&app, &old, "text/html").await.text().await.unwrap();
    assert!(html.contains("ask the organiser") && !html.contains("harbour"), "{html}");
}

/// Staff reissuing a link twice at once (a double click): both answer, one link wins, and
/// every replaced one still names its event.
async fn links_replaced_at_once_all_answer_and_stay_known(app: TestApp) {
    let admin = app.admin().await;
    let event = event_with(&app, &admin, "double", json!({})).await;
    let event_id = event["id"].as_str().unwrap();
    let reg =
        app.register(&admin, event_id, json!({"name": "Bo Li", "email": "bo@example.org", "is_adult": true})).await;
    let path_of = |url: &str| url[url.find("/me/").unwrap()..].to_string();
    let first = path_of(reg["privacy_url"].as_str().unwrap());
    let reissue = format!("/api/v1/events/{event_id}/attendees/{}/privacy-link", reg["id"].as_str().unwrap());
    let empty = json!({});
    let (a, b, c) = tokio::join!(
        app.post(&admin, &reissue, &empty),
        app.post(&admin, &reissue, &empty),
        app.post(&admin, &reissue, &empty)
    );
    let mut links = vec![first];
    for res in [a, b, c] {
        assert_eq!(res.status(), StatusCode::OK);
        links.push(path_of(res.json::<Value>().await.unwrap()["privacy_url"].as_str().unwrap()));
    }
    let mut current = 0;
    for link in &links {
        let res = page(&app, link, "text/html").await;
        if res.status() == StatusCode::OK {
            current += 1;
        } else {
            let html = res.text().await.unwrap();
            assert!(html.contains("href=\"/e/double/resend\""), "{link}: {html}");
        }
    }
    assert_eq!(current, 1, "one link works");
}

both_backends!(
    events_carry_a_time_zone_a_notice_url_a_contact_and_a_close_date,
    the_form_names_the_notice_the_contact_and_exactly_the_released_fields,
    after_the_close_date_the_form_says_so_and_registers_nobody,
    a_wrong_address_is_a_page_for_browsers_and_a_problem_for_api_clients,
    privacy_page_actions_confirm_what_they_did_and_errors_keep_what_was_typed,
    a_replaced_link_offers_its_events_resend_form_and_nothing_else_does,
    links_replaced_at_once_all_answer_and_stay_known,
);
