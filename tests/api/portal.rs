//! The partner portal over HTTP, as a browser without script drives it (a cookie jar, no
//! automatic redirects): roles, CSRF on every POST, and ledger rows for what the lead
//! table and the downloads release.

use std::collections::BTreeMap;

use badgegate::auth::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{Backend, PASSWORD, TestApp, World, accept_invitation, count_rows, invite, payload, scan_body};

on_both_backends!(
    a_partner_admin_filters_searches_and_edits_leads_and_each_row_shown_is_ledgered,
    a_scanner_sees_only_its_own_scans_and_may_not_open_admin_pages_or_download,
    staff_get_403_on_the_portal,
    portal_downloads_are_the_api_exports_and_are_ledgered,
    every_portal_post_checks_csrf,
    questions_are_edited_in_the_portal_and_served_to_scanners,
    scanner_users_are_invited_and_disabled_from_the_portal,
    the_activity_chart_is_inline_svg_with_a_text_alternative,
    deletion_notices_are_listed_and_acknowledged_in_the_portal,
    the_lead_table_says_how_many_opted_in_without_a_scan,
);

/// A browser: its own cookie jar, no automatic redirects.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, base: app.url.clone(), cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap().to_string();
            let (name, val) = text.split(';').next().unwrap().split_once('=').unwrap();
            if val.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), val.to_string());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let res =
            self.client.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep(&res);
        res
    }

    pub async fn text(&mut self, path: &str) -> (StatusCode, String) {
        let res = self.get(path).await;
        (res.status(), res.text().await.unwrap())
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    pub async fn csrf_of(&mut self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        hidden_csrf(&page)
    }

    pub async fn sign_in(app: &TestApp, email: &str) -> Browser {
        let mut b = Browser::new(app);
        let csrf = b.csrf_of("/login").await;
        let res = b.post_form("/login", &[("csrf", &csrf), ("email", email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
        b
    }
}

fn hidden_csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("the page has a csrf field");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

async fn put(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client.put(format!("{}{path}", app.url)).bearer_auth(token).json(body).send().await.unwrap()
}

fn ledger(app: &TestApp, channel: &str) -> i64 {
    count_rows(app, &format!("disclosures WHERE channel = '{channel}'"))
}

/// A world with Acme's admin and scanner (known e-mails, to sign in), and two participants
/// the scanner scanned: Ada (who asked to share with all partners) and Bob.
pub struct Booth {
    pub world: World,
    pub admin_email: String,
    pub scanner_email: String,
    pub admin_token: String,
    pub scanner_token: String,
    /// The token of Ada's privacy link.
    pub ada_privacy: String,
}

pub async fn booth(app: &TestApp) -> Booth {
    let world = World::builder().build(app).await;
    let mut emails = Vec::new();
    for role in ["partner_admin", "scanner"] {
        let email = format!("{role}-{}@partner.example", uuid::Uuid::new_v4().simple());
        invite(app, &world.admin, &world.event, &world.acme, &email, role).await;
        accept_invitation(app, &email, PASSWORD).await;
        emails.push(email);
    }
    let admin_token = app.token(&emails[0]).await;
    let scanner_token = app.token(&emails[1]).await;
    let mut ada_privacy = String::new();
    for (name, email, company) in
        [("Ada Lovelace", "ada@example.org", "Analytical Ltd"), ("Bob Builder", "bob@example.org", "Bricks SA")]
    {
        let registered = app
            .register(
                &world.admin,
                &world.event,
                json!({"name": name, "email": email, "company": company, "phone": "+34 600 000 000",
                    "is_adult": true}),
            )
            .await;
        let res = app.post(&scanner_token, "/api/v1/scans", &scan_body(&payload(&registered))).await;
        assert!(res.status().is_success(), "scan: {}", res.status());
        if email == "ada@example.org" {
            ada_privacy = registered["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        }
    }
    Booth {
        world,
        admin_email: emails[0].clone(),
        scanner_email: emails[1].clone(),
        admin_token,
        scanner_token,
        ada_privacy,
    }
}

async fn lead_id_of(app: &TestApp, token: &str, email: &str) -> String {
    let list: Value = app.get(token, "/api/v1/leads").await.json().await.unwrap();
    let item = list["items"].as_array().unwrap().iter().find(|l| l["contact"]["email"] == email).unwrap();
    item["lead_id"].as_str().unwrap().to_string()
}

async fn a_partner_admin_filters_searches_and_edits_leads_and_each_row_shown_is_ledgered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;

    let before = ledger(&app, "api");
    let (status, page) = b.text("/portal/").await;
    assert_eq!(status, StatusCode::OK);
    for text in ["Ada Lovelace", "ada@example.org", "+34 600 000 000", "Bob Builder", "2 leads"] {
        assert!(page.contains(text), "{text} in the lead table");
    }
    assert_eq!(ledger(&app, "api") - before, 2, "one ledger row per lead shown");

    // Search reaches the released fields; only the page shown is ledgered.
    let before = ledger(&app, "api");
    let (_, page) = b.text("/portal/?q=bricks").await;
    assert!(page.contains("Bob Builder") && !page.contains("Ada Lovelace"), "{page}");
    assert_eq!(ledger(&app, "api") - before, 1);

    // Edit notes and rating through the form (the core of the API's PATCH).
    let lead = lead_id_of(&app, &booth.admin_token, "ada@example.org").await;
    let csrf = b.csrf_of(&format!("/portal/leads/{lead}")).await;
    let res = b
        .post_form(&format!("/portal/leads/{lead}"), &[("csrf", &csrf), ("notes", "wants a demo"), ("rating", "4")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = b.text(&location(&res)).await;
    assert!(page.contains("notes and rating are saved"));
    let (_, page) = b.text("/portal/?rating=4").await;
    assert!(page.contains("Ada Lovelace") && page.contains("wants a demo") && !page.contains("Bob Builder"));
    let api: Value = app.get(&booth.admin_token, &format!("/api/v1/leads/{lead}")).await.json().await.unwrap();
    assert_eq!(api["rating"], 4);
    assert_eq!(api["notes"], "wants a demo");
    // The API's PATCH: partner admins only, own partner's leads only, fields named.
    let res = app.patch(&booth.scanner_token, &format!("/api/v1/leads/{lead}"), &json!({"rating": 1})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, globex_admin) =
        crate::common::partner_user(&app, &booth.world.admin, &booth.world.event, &booth.world.globex, "partner_admin")
            .await;
    let res = app.patch(&globex_admin, &format!("/api/v1/leads/{lead}"), &json!({"rating": 1})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.patch(&booth.admin_token, &format!("/api/v1/leads/{lead}"), &json!({"rating": 7})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("\"rating\""));
    let res = app.patch(&booth.admin_token, &format!("/api/v1/leads/{lead}"), &json!({"notes": ""})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["notes"], Value::Null, "an empty text clears the notes");
    let res = app.patch(&booth.admin_token, &format!("/api/v1/leads/{lead}"), &json!({"notes": "wants a demo"})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["rating"], 4, "a field left out is kept");

    // A bad rating is a field error on the page, not a 500.
    let res = b.post_form(&format!("/portal/leads/{lead}"), &[("csrf", &csrf), ("notes", ""), ("rating", "9")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"rating-error\"") && page.contains("aria-invalid=\"true\""), "{page}");
    let (status, page) = b.text("/portal/?rating=9&from=yesterday").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"rating-error\"") && page.contains("id=\"from-error\""));

    // The date filter counts days in the event's zone: nothing was scanned in 2001.
    let (_, page) = b.text("/portal/?from=2001-01-01&to=2001-01-02").await;
    assert!(page.contains("0 leads"));

    // The API's list takes the same filters.
    let res = app.get(&booth.admin_token, "/api/v1/leads?basis=opt_in%2Bscan").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["total"], 0);
    let res = app.get(&booth.admin_token, "/api/v1/leads?basis=scan&q=ADA").await;
    assert_eq!(res.json::<Value>().await.unwrap()["total"], 1);
    let res = app.get(&booth.admin_token, "/api/v1/leads?rating=x").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_scanner_sees_only_its_own_scans_and_may_not_open_admin_pages_or_download(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.scanner_email).await;
    let (status, page) = b.text("/portal/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("My scans") && page.contains("Ada Lovelace") && page.contains("Analytical Ltd"));
    assert!(!page.contains("ada@example.org") && !page.contains("+34 600"), "a scanner gets name and company only");
    assert!(!page.contains("export.csv"), "no download links");
    // Filters in the address do not widen what a scanner sees.
    let (_, page) = b.text("/portal/?q=ada%40example.org").await;
    assert!(page.contains("Bob Builder"), "a scanner's page ignores the admin filters");
    for path in [
        "/portal/export.csv",
        "/portal/export.csv?dialect=excel",
        "/portal/export.xlsx",
        "/portal/scanners",
        "/portal/questions",
        "/portal/notices",
        "/portal/activity",
    ] {
        assert_eq!(b.get(path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let lead = lead_id_of(&app, &booth.admin_token, "ada@example.org").await;
    assert_eq!(b.get(&format!("/portal/leads/{lead}")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(ledger(&app, "export"), 0);
    let _ = booth.scanner_token;
}

async fn staff_get_403_on_the_portal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
    app.create_staff(&email, Role::Admin).await;
    let mut b = Browser::sign_in(&app, &email).await;
    for path in ["/portal/", "/portal/export.csv", "/portal/scanners", "/portal/questions"] {
        let res = b.get(path).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // Not signed in: to the sign-in page, coming back afterwards.
    let res = Browser::new(&app).get("/portal/export.xlsx").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=%2Fportal%2Fexport.xlsx");
}

async fn portal_downloads_are_the_api_exports_and_are_ledgered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;

    let res = b.get("/portal/export.csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers().contains_key("x-export-id"));
    let text = res.text().await.unwrap();
    assert!(text.starts_with("\"name\""), "RFC dialect: no BOM");
    assert!(text.contains("Ada Lovelace") && text.contains("+34 600 000 000"));
    assert_eq!(ledger(&app, "export"), 2);

    let res = b.get("/portal/export.csv?dialect=excel").await;
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "Excel dialect: BOM");
    assert_eq!(ledger(&app, "export"), 4);
    assert_eq!(b.get("/portal/export.csv?dialect=lotus").await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = b.get("/portal/export.xlsx").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert!(res.bytes().await.unwrap().starts_with(b"PK"));
    assert_eq!(ledger(&app, "export"), 6);
    assert_eq!(count_rows(&app, "exports"), 3);
}

async fn every_portal_post_checks_csrf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;
    let lead = lead_id_of(&app, &booth.admin_token, "ada@example.org").await;
    let scanner_id = booth.world.acme.clone();
    let posts = [
        format!("/portal/leads/{lead}"),
        "/portal/scanners".to_string(),
        format!("/portal/scanners/{scanner_id}/disable"),
        format!("/portal/scanners/{scanner_id}/revoke-sessions"),
        "/portal/questions".to_string(),
        "/portal/notices/00000000-0000-0000-0000-000000000000/ack".to_string(),
    ];
    for path in &posts {
        for csrf in [None, Some("forged")] {
            let mut fields = vec![("rating", "5"), ("email", "x@example.org"), ("text_0", "Budget?")];
            if let Some(c) = csrf {
                fields.push(("csrf", c));
            }
            let res = b.post_form(path, &fields).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {csrf:?}");
        }
    }
    let api: Value = app.get(&booth.admin_token, &format!("/api/v1/leads/{lead}")).await.json().await.unwrap();
    assert_eq!(api["rating"], Value::Null, "nothing changed");
    assert_eq!(count_rows(&app, "qualification_questions"), 0);
}

async fn questions_are_edited_in_the_portal_and_served_to_scanners(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let empty: Value = app.get(&booth.scanner_token, "/api/v1/partner/questions").await.json().await.unwrap();
    assert_eq!(empty, json!({"questions": []}));

    let mut b = Browser::sign_in(&app, &booth.admin_email).await;
    let csrf = b.csrf_of("/portal/questions").await;
    // Positions reorder: the rating question goes first.
    let res = b
        .post_form(
            "/portal/questions",
            &[
                ("csrf", &csrf),
                ("text_0", "Which product?"),
                ("kind_0", "choice"),
                ("options", "Widgets\r\nGadgets\r\n"),
                ("position_0", "2"),
                ("text_1", "How warm is the lead?"),
                ("kind_1", "rating"),
                ("options", ""),
                ("position_1", "1"),
            ],
        )
        .await;
    let status = res.status();
    let page = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Questions saved"));
    let served: Value = app.get(&booth.scanner_token, "/api/v1/partner/questions").await.json().await.unwrap();
    let list = served["questions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["kind"], "rating");
    assert_eq!(list[1]["options"], json!(["Widgets", "Gadgets"]));
    let product_id = list[1]["id"].as_str().unwrap().to_string();

    // An edit in the API keeps ids; a choice needs two options, named by its path.
    let res = put(
        &app,
        &booth.admin_token,
        "/api/v1/partner/questions",
        &json!({"questions": [{"id": product_id, "text": "Which product line?", "kind": "choice", "options": ["A"]}]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("questions[0].options"));
    let res = put(&app, &booth.scanner_token, "/api/v1/partner/questions", &json!({"questions": []})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "scanners read, admins write");

    // The portal form shows the field error beside the field and keeps what was typed.
    let res = b
        .post_form(
            "/portal/questions",
            &[("csrf", &csrf), ("text_0", "Pick one"), ("kind_0", "choice"), ("options", "Only")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("Pick one") && page.contains("id=\"options_0-error\""), "{page}");
    // Another partner's users see their own (empty) list.
    let (_, globex_token) =
        crate::common::partner_user(&app, &booth.world.admin, &booth.world.event, &booth.world.globex, "scanner").await;
    let theirs: Value = app.get(&globex_token, "/api/v1/partner/questions").await.json().await.unwrap();
    assert_eq!(theirs, json!({"questions": []}));
}

async fn scanner_users_are_invited_and_disabled_from_the_portal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;
    let csrf = b.csrf_of("/portal/scanners").await;
    let res = b.post_form("/portal/scanners", &[("csrf", &csrf), ("email", "not-an-address")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"email-error\""));
    let res = b.post_form("/portal/scanners", &[("csrf", &csrf), ("email", "new-scanner@partner.example")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Invitation sent to new-scanner@partner.example") && page.contains("Invited"));
    // Again: a conflict beside the field, not a 500.
    let res = b.post_form("/portal/scanners", &[("csrf", &csrf), ("email", "new-scanner@partner.example")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // A lost phone: signing the scanner out everywhere ends its API token and its browser
    // session, and it can sign in again.
    let mut scanner_browser = Browser::sign_in(&app, &booth.scanner_email).await;
    assert_eq!(scanner_browser.get("/portal/").await.status(), StatusCode::OK);
    let me: Value = app.get(&booth.scanner_token, "/api/v1/auth/me").await.json().await.unwrap();
    let scanner_id = me["id"].as_str().unwrap();
    let res = b.post_form(&format!("/portal/scanners/{scanner_id}/revoke-sessions"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("signed out everywhere"));
    assert_eq!(app.get(&booth.scanner_token, "/api/v1/leads").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(scanner_browser.get("/portal/").await.status(), StatusCode::SEE_OTHER);
    let fresh = app.token(&booth.scanner_email).await;
    let mut scanner_browser = Browser::sign_in(&app, &booth.scanner_email).await;
    assert_eq!(scanner_browser.get("/portal/").await.status(), StatusCode::OK);

    // Disabling the scanner ends its API token and its browser session for good.
    let res = b.post_form(&format!("/portal/scanners/{scanner_id}/disable"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Disabled"));
    assert_eq!(app.get(&fresh, "/api/v1/leads").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(scanner_browser.get("/portal/").await.status(), StatusCode::SEE_OTHER);
    // Another partner's user cannot be disabled from here.
    let (other, _) =
        crate::common::partner_user(&app, &booth.world.admin, &booth.world.event, &booth.world.globex, "scanner").await;
    let res = b.post_form(&format!("/portal/scanners/{other}/disable"), &[("csrf", &csrf)]).await;
    assert!(res.status() == StatusCode::NOT_FOUND || res.status() == StatusCode::FORBIDDEN, "{}", res.status());
    let res = b.post_form(&format!("/portal/scanners/{other}/revoke-sessions"), &[("csrf", &csrf)]).await;
    assert!(res.status() == StatusCode::NOT_FOUND || res.status() == StatusCode::FORBIDDEN, "{}", res.status());
}

async fn the_activity_chart_is_inline_svg_with_a_text_alternative(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;
    let (status, page) = b.text("/portal/activity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg") && page.contains("role=\"img\"") && page.contains("<title id=\"chart-title\">"));
    assert!(page.contains("2 scans over 1 hours"), "{page}");
    assert!(page.contains("<table>") && !page.contains("<script"));
}

async fn deletion_notices_are_listed_and_acknowledged_in_the_portal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;
    let (_, page) = b.text("/portal/notices").await;
    assert!(page.contains("No notices."));
    // Acme has seen Ada's details (the lead table is a release); then she erases herself.
    b.text("/portal/").await;
    let res = app.post(&booth.ada_privacy, "/api/v1/me/erasure", &json!({"confirm": true})).await;
    assert_eq!(res.status(), StatusCode::OK);

    let (status, page) = b.text("/portal/notices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ada Lovelace") && page.contains("Acknowledge"), "{page}");
    let at = page.find("action=\"/portal/notices/").unwrap() + "action=\"".len();
    let action = page[at..at + page[at..].find('"').unwrap()].to_string();
    let csrf = hidden_csrf(&page);
    let res = b.post_form(&action, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Notice acknowledged.") && page.contains("Acknowledged "));
    assert!(!page.contains("Ada Lovelace"), "the name goes with the acknowledgement");
    let api: Value = app.get(&booth.admin_token, "/api/v1/deletion-notices?per_page=1").await.json().await.unwrap();
    assert_eq!((api["total"].as_i64(), api["per_page"].as_i64()), (Some(1), Some(1)));
    assert!(api["items"][0]["acknowledged_at"].is_string());
    // The lead stays, with nothing released.
    let (_, page) = b.text("/portal/?basis=none").await;
    assert!(page.contains("1 lead") && page.contains("nothing released"), "{page}");
}

async fn the_lead_table_says_how_many_opted_in_without_a_scan(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let mut b = Browser::sign_in(&app, &booth.admin_email).await;
    let (_, page) = b.text("/portal/").await;
    assert!(!page.contains("id=\"opted-in\""), "nobody opted in without a scan yet");

    // Cleo opts in to Acme at the registration desk and is never scanned; Dan opts in to
    // Globex only.
    app.register(
        &booth.world.admin,
        &booth.world.event,
        json!({"name": "Cleo Opted", "email": "cleo@example.org", "is_adult": true,
            "share_with_partners": [booth.world.acme]}),
    )
    .await;
    app.register(
        &booth.world.admin,
        &booth.world.event,
        json!({"name": "Dan Other", "email": "dan@example.org", "is_adult": true,
            "share_with_partners": [booth.world.globex]}),
    )
    .await;
    let before = ledger(&app, "api");
    let (_, page) = b.text("/portal/").await;
    assert!(page.contains("1 participant opted in to share their details with you"), "{page}");
    assert!(page.contains("2 leads") && !page.contains("Cleo Opted"), "the table lists scanned badges only");
    assert_eq!(ledger(&app, "api") - before, 2, "the count releases nothing");

    // The count follows the release rule: an opt-in for all partners counts; one withdrawn,
    // one erased, one not yet confirmed (public form) and one the partner also scanned do not.
    let (w, acme) = (&booth.world, booth.world.acme.as_str());
    let reg = |name: &str, email: &str, extra: serde_json::Value| {
        let mut body = json!({"name": name, "email": email, "is_adult": true});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    app.register(&w.admin, &w.event, reg("Eve All", "eve@example.org", json!({"share_with_all_partners": true}))).await;
    let fay = app
        .register(&w.admin, &w.event, reg("Fay Gone", "fay@example.org", json!({"share_with_partners": [acme]})))
        .await;
    let fay_token = fay["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let res = app.post(&fay_token, "/api/v1/me/withdrawals", &json!({"partner_id": acme})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let gus = app
        .register(&w.admin, &w.event, reg("Gus Erased", "gus@example.org", json!({"share_with_all_partners": true})))
        .await;
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{}/erasure", w.event, gus["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let hal = app
        .register(&w.admin, &w.event, reg("Hal Both", "hal@example.org", json!({"share_with_partners": [acme]})))
        .await;
    let res = app.post(&booth.scanner_token, "/api/v1/scans", &scan_body(&payload(&hal))).await;
    assert!(res.status().is_success());
    let slug = crate::mail_participants::slug_of(&app, &w.admin, &w.event).await;
    let (status, _, _) = crate::mail_participants::post_form(
        &app,
        &format!("/e/{slug}/register"),
        &[
            ("name", "Ivy Unconfirmed"),
            ("email", "ivy@example.org"),
            ("is_adult", "true"),
            ("share_with_partners", acme),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = b.text("/portal/").await;
    assert!(page.contains("2 participants opted in to share their details with you"), "{page}");
    assert!(page.contains("3 leads"), "Hal is a lead now");
    // The download holds her, with basis opt_in.
    let csv = app.get(&booth.admin_token, "/api/v1/leads/export.csv").await.text().await.unwrap();
    for name in ["Cleo Opted", "Eve All"] {
        assert!(csv.lines().any(|l| l.contains(name) && l.contains("\"opt_in\"")), "{name}: {csv}");
    }
    for name in ["Dan Other", "Fay Gone", "Gus Erased", "Ivy Unconfirmed"] {
        assert!(!csv.contains(name), "{name}: {csv}");
    }
    // A scanner's page does not say it: the downloads are not theirs.
    let mut s = Browser::sign_in(&app, &booth.scanner_email).await;
    let (_, page) = s.text("/portal/").await;
    assert!(!page.contains("opted in to share"), "{page}");
}
