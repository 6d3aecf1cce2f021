//! Browser sessions and the staff console, driven over HTTP the way a browser does: a
//! client that follows no redirect and keeps the cookies it is given.

use std::collections::BTreeMap;

use badgegate::auth::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::common::{Backend, PASSWORD, TestApp, Who, World, count_rows};

/// A browser: its own cookie jar, no automatic redirects (the tests look at each 303).
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` header received, as sent.
    set_cookies: Vec<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        // Accepts the self-signed certificate of the TLS scenario.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Browser { client, base: app.url.clone(), cookies: BTreeMap::new(), set_cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap().to_string();
            let pair = text.split(';').next().unwrap();
            let (name, val) = pair.split_once('=').unwrap();
            let removed = text.to_ascii_lowercase().contains("max-age=0");
            if val.is_empty() || removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), val.to_string());
            }
            self.set_cookies.push(text);
        }
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let res =
            self.client.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep(&res);
        res
    }

    async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
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

    /// A form with a file, as `multipart/form-data` (the body built by hand: the test
    /// client has no multipart support).
    async fn post_file(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> reqwest::Response {
        let boundary = "----badgegate-test-boundary-7d1f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"participants.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\n",
                file.0
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.1);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    /// The value of the hidden `csrf` field of a page.
    async fn csrf_of(&mut self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        hidden_csrf(&page)
    }

    /// Opens the form and signs in; answers the POST's response.
    async fn sign_in(&mut self, email: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf_of("/login").await;
        self.post_form("/login", &[("csrf", &csrf), ("email", email), ("password", password)]).await
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

fn sql(app: &TestApp, statement: &str) {
    use diesel::RunQueryDsl;
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(statement).execute(&mut *conn).unwrap();
}

async fn staff(app: &TestApp, role: Role) -> String {
    let email = format!("{}-{}@example.org", role.as_str(), uuid::Uuid::new_v4().simple());
    app.create_staff(&email, role).await;
    email
}

async fn staff_sign_in_lands_on_the_console_with_a_session_cookie_that_scripts_cannot_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);

    let res = b.get("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let res = b.get("/login").await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("autocomplete=\"username\"") && page.contains("autocomplete=\"current-password\""));
    assert!(page.contains("<label for=\"email\">") && page.contains("<label for=\"password\">"));

    let res = b.sign_in(&email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/console/");
    let cookie = b.set_cookies.iter().find(|c| c.starts_with("bg_session=")).expect("a session cookie").clone();
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{cookie}");
    assert!(lower.contains("samesite=lax"), "{cookie}");
    assert!(lower.contains("path=/"), "{cookie}");
    assert!(!lower.contains("secure"), "plain HTTP: no Secure flag: {cookie}");
    // Only the token's hash is stored.
    let token = b.cookies["bg_session"].clone();
    assert!(token.len() >= 22, "at least 128 bits");
    assert_eq!(crate::common::count_rows(&app, "browser_sessions"), 1);

    let res = b.get("/console/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains(&email), "the header names who is signed in");
    assert!(!page.contains(&token), "the token never appears in a page");
    // Signed in, `/` and `/login` lead to the console.
    assert_eq!(location(&b.get("/").await), "/console/");
    assert_eq!(location(&b.get("/login").await), "/console/");

    // Signing in again from the same browser replaces the session instead of adding one.
    let mut other = Browser::new(&app);
    let csrf = other.csrf_of("/login").await;
    b.cookies.insert("bg_login_csrf".into(), other.cookies["bg_login_csrf"].clone());
    let res = b.post_form("/login", &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(b.cookies["bg_session"], token);
    assert_eq!(crate::common::count_rows(&app, "browser_sessions"), 1);
}

async fn under_tls_the_cookie_is_secure_and_host_prefixed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        let with_tls = crate::tls::with_self_signed_certificate(dir.path(), s.clone());
        *s = with_tls;
    })
    .await;
    assert!(app.url.starts_with("https://"), "{}", app.url);
    let email = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    let res = b.sign_in(&email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{:?}", b.set_cookies);
    let cookie = b.set_cookies.iter().find(|c| c.starts_with("__Host-bg_session=")).expect("a __Host- cookie").clone();
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.contains("secure") && lower.contains("httponly") && lower.contains("path=/"), "{cookie}");
    assert!(!lower.contains("domain="), "{cookie}");
    assert!(!b.set_cookies.iter().any(|c| c.starts_with("bg_session=")));
    assert_eq!(b.get("/console/").await.status(), StatusCode::OK);
}

async fn a_wrong_password_answers_as_an_unknown_address_and_is_throttled_like_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);

    let wrong = b.sign_in(&email, "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_page = wrong.text().await.unwrap();
    let unknown = b.sign_in("nobody-here@example.org", "not the password at all").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_page = unknown.text().await.unwrap();
    let strip = |p: &str| p.replace(&hidden_csrf(p), "").replace(&email, "").replace("nobody-here@example.org", "");
    assert_eq!(strip(&wrong_page), strip(&unknown_page), "one answer for both");
    // What was typed stays; the password does not.
    assert!(wrong_page.contains(&format!("value=\"{email}\"")));
    assert!(!wrong_page.contains("not the password at all"));
    assert!(!b.cookies.contains_key("bg_session"));

    // The page and the API share one count per address: 4 more failures lock it.
    for _ in 0..3 {
        assert_eq!(b.sign_in(&email, "still not the password").await.status(), StatusCode::UNAUTHORIZED);
    }
    let api = app.login(&email, "still not the password").await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let locked = b.sign_in(&email, PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "the right password waits too");
    assert!(locked.headers().get("retry-after").is_some());
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // An unknown address is locked alike.
    for _ in 0..4 {
        b.sign_in("nobody-here@example.org", "x-wrong-password").await;
    }
    assert_eq!(b.sign_in("nobody-here@example.org", "x-wrong-password").await.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn forms_without_the_right_csrf_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);

    // The sign-in form: a missing or wrong token is a 403 and opens no session.
    b.get("/login").await;
    let res = b.post_form("/login", &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = b.post_form("/login", &[("csrf", "forged"), ("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("bg_session"));

    // Sign-out: without the session's token nothing ends.
    assert_eq!(b.sign_in(&email, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let res = b.post_form("/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let res = b.post_form("/logout", &[("csrf", "forged-token-of-the-same-length-as-a-real-one")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.get("/console/").await.status(), StatusCode::OK, "still signed in");
}

async fn signing_out_ends_the_session_on_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let old = b.cookies["bg_session"].clone();
    let csrf = b.csrf_of("/console/").await;
    let res = b.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    assert!(!b.cookies.contains_key("bg_session"), "the cookie is deleted");
    assert_eq!(crate::common::count_rows(&app, "browser_sessions"), 0);

    // A copy of the old cookie signs nobody in.
    b.cookies.insert("bg_session".into(), old);
    let res = b.get("/console/events/x").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=%2Fconsole%2Fevents%2Fx");
}

async fn the_apis_revocations_end_browser_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin_email = staff(&app, Role::Admin).await;
    let admin = app.token(&admin_email).await;
    let registrar_email = staff(&app, Role::Registrar).await;
    let registrar_token = app.token(&registrar_email).await;
    let me: serde_json::Value = app.get(&registrar_token, "/api/v1/auth/me").await.json().await.unwrap();
    let registrar_id = me["id"].as_str().unwrap().to_string();

    // "Revoke sessions" of one user.
    let mut b = Browser::new(&app);
    b.sign_in(&registrar_email, PASSWORD).await;
    assert_eq!(b.get("/console/").await.status(), StatusCode::OK);
    let res = app.post(&admin, &format!("/api/v1/users/{registrar_id}/revoke-sessions"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = b.get("/console/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=%2Fconsole%2F");
    assert_eq!(crate::common::count_rows(&app, "browser_sessions"), 0, "the ended row is deleted");

    // A password change through the API.
    let mut b = Browser::new(&app);
    b.sign_in(&registrar_email, PASSWORD).await;
    let token = app.token(&registrar_email).await;
    let res = app
        .post(
            &token,
            "/api/v1/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "another long enough password"}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(b.get("/console/").await.status(), StatusCode::SEE_OTHER);

    // Rotating the token key ends every session.
    let mut b = Browser::new(&app);
    b.sign_in(&admin_email, PASSWORD).await;
    assert_eq!(b.get("/console/").await.status(), StatusCode::OK);
    let res = app.post(&admin, "/api/v1/security/rotate-token-key", &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(b.get("/console/").await.status(), StatusCode::SEE_OTHER);
}

async fn a_session_ends_after_thirty_idle_minutes_and_twelve_hours(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    // 29 minutes idle: still in force, and the visit records itself.
    let minutes_ago = |m: i64| badgegate::db::now_ms() - m * 60_000;
    sql(&app, &format!("UPDATE browser_sessions SET last_seen_at = {}", minutes_ago(29)));
    assert_eq!(b.get("/console/").await.status(), StatusCode::OK);
    sql(&app, &format!("UPDATE browser_sessions SET last_seen_at = last_seen_at - {}", 29 * 60_000));
    assert_eq!(b.get("/console/").await.status(), StatusCode::OK, "the earlier visit moved last_seen_at");
    // 31 minutes idle: over.
    sql(&app, &format!("UPDATE browser_sessions SET last_seen_at = {}", minutes_ago(31)));
    assert_eq!(b.get("/console/").await.status(), StatusCode::SEE_OTHER);

    // Busy but signed in 12 hours ago: over too.
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    sql(&app, &format!("UPDATE browser_sessions SET created_at = {}", minutes_ago(12 * 60 + 1)));
    assert_eq!(b.get("/console/").await.status(), StatusCode::SEE_OTHER);
}

async fn partner_users_land_in_the_portal_and_may_not_open_the_console(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    let email = format!("pa-{}@partner.example", uuid::Uuid::new_v4().simple());
    crate::common::invite(&app, &world.admin, &world.event, &world.acme, &email, "partner_admin").await;
    crate::common::accept_invitation(&app, &email, PASSWORD).await;
    let mut b = Browser::new(&app);
    let res = b.sign_in(&email, PASSWORD).await;
    assert_eq!(location(&res), "/portal/");
    let res = b.get("/portal/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(&email));
    let res = b.get("/console/").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let res = b.get(&format!("/console/events/{}", world.event)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn registrars_see_the_dashboard_without_the_admin_registers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().with(Who::AcmeScanner).build(&app).await;
    let attendee = app
        .register(
            &world.admin,
            &world.event,
            json!({"name": "Ada Lovelace", "email": "ada@example.org", "is_adult": true}),
        )
        .await;
    let scan = app
        .post(
            world.token(Who::AcmeScanner),
            "/api/v1/scans",
            &crate::common::scan_body(&crate::common::payload(&attendee)),
        )
        .await;
    assert!(scan.status().is_success(), "{}", scan.status());
    let res = app
        .post(
            &world.admin,
            "/api/v1/incidents",
            &json!({"title": "Lost phone", "description": "A scanner phone was lost", "discovered_at": crate::common::now_rfc3339(),
                    "scope": {"event_id": world.event},
                    "window": {"from": crate::common::now_rfc3339(), "to": crate::common::now_rfc3339()}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let admin_email = staff(&app, Role::Admin).await;
    let mut admin = Browser::new(&app);
    admin.sign_in(&admin_email, PASSWORD).await;
    let list = admin.get("/console/").await.text().await.unwrap();
    assert!(list.contains(&format!("/console/events/{}", world.event)));
    let res = admin.get(&format!("/console/events/{}", world.event)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("<b>1</b>registrations"), "{page}");
    assert!(page.contains("<b>1</b>scans today"), "{page}");
    assert!(page.contains("Acme") && page.contains("Globex"));
    assert!(page.contains("Overdue requests") && page.contains("Open incidents"));
    assert!(page.contains("Lost phone"), "the open incident and its clock");
    assert!(!page.contains("ada@example.org"), "the dashboard shows no contact data");

    let registrar_email = staff(&app, Role::Registrar).await;
    let mut registrar = Browser::new(&app);
    registrar.sign_in(&registrar_email, PASSWORD).await;
    let res = registrar.get(&format!("/console/events/{}", world.event)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("registrations"));
    assert!(!page.contains("Open incidents") && !page.contains("Overdue requests"), "admin-only in the API too");
    // Nor does the header offer the admin's registers, which would only answer "Not allowed".
    assert!(!page.contains("href=\"/console/requests\"") && !page.contains("href=\"/console/incidents\""));
    let admins = admin.get(&format!("/console/events/{}", world.event)).await.text().await.unwrap();
    assert!(admins.contains("href=\"/console/requests\"") && admins.contains("href=\"/console/incidents\""));
    // Nor the event's ledger, which is an admin's.
    let ledger = format!("href=\"/console/events/{}/ledger\"", world.event);
    assert!(!page.contains(&ledger) && admins.contains(&ledger));
    // An unknown event is a 404, not a 500.
    assert_eq!(registrar.get("/console/events/no-such-event").await.status(), StatusCode::NOT_FOUND);
}

async fn a_next_target_only_leads_within_the_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    let res = b.get("/console/?page=2").await;
    assert_eq!(location(&res), "/login?next=%2Fconsole%2F%3Fpage%3D2");
    let page = b.get("/login?next=%2Fconsole%2F%3Fpage%3D2").await.text().await.unwrap();
    let csrf = hidden_csrf(&page);
    let res = b
        .post_form(
            "/login",
            &[("csrf", &csrf), ("email", &email), ("password", PASSWORD), ("next", "/console/?page=2")],
        )
        .await;
    assert_eq!(location(&res), "/console/?page=2");

    for evil in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let mut b = Browser::new(&app);
        let csrf = b.csrf_of("/login").await;
        let res =
            b.post_form("/login", &[("csrf", &csrf), ("email", &email), ("password", PASSWORD), ("next", evil)]).await;
        assert_eq!(location(&res), "/console/", "{evil}");
    }
}

async fn the_attendee_list_and_badge_sheet_read_through_the_apis_core_and_are_ledgered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    for (name, email) in [("Ada Lovelace", "ada@example.org"), ("Bob Builder", "bob@example.org")] {
        app.register(&world.admin, &world.event, json!({"name": name, "email": email, "is_adult": true})).await;
    }
    let email = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;

    let before = crate::common::count_rows(&app, "disclosures");
    let res = b.get(&format!("/console/events/{}/attendees?q=ada", world.event)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Ada Lovelace") && !page.contains("Bob Builder"), "{page}");
    assert_eq!(crate::common::count_rows(&app, "disclosures"), before + 1, "one staff read, as the API ledgers it");
    // The API's list of the same search ledgers the same way.
    let token = app.token(&email).await;
    let api = app.get(&token, &format!("/api/v1/events/{}/attendees?q=ada", world.event)).await;
    assert_eq!(api.status(), StatusCode::OK);
    assert_eq!(crate::common::count_rows(&app, "disclosures"), before + 2);
    // Bad paging is a 4xx naming the field, never a 500.
    let res = b.get(&format!("/console/events/{}/attendees?page=0", world.event)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The badge sheet opens with the session cookie; the API route still wants a token.
    let res = b.get(&format!("/console/events/{}/badges/sheet", world.event)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let sheet = res.text().await.unwrap();
    assert!(sheet.contains("Ada Lovelace") && sheet.contains("Bob Builder") && sheet.contains("<svg"));
    assert_eq!(crate::common::count_rows(&app, "disclosures"), before + 4);
    let res = b.get(&format!("/api/v1/events/{}/badges/sheet", world.event)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Signed out, the console's sheet sends the browser to sign in.
    let mut stranger = Browser::new(&app);
    let res = stranger.get(&format!("/console/events/{}/badges/sheet", world.event)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn admins_create_and_edit_events_through_the_apis_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let csrf = b.csrf_of("/console/events/new").await;

    // Without the session's token: refused, nothing created.
    let fields = [("name", "Harbour Expo"), ("starts_at", "2031-05-04T09:00"), ("ends_at", "2031-05-06T18:00")];
    assert_eq!(b.post_form("/console/events/new", &fields).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(crate::common::count_rows(&app, "events"), 0);

    // Ends before it starts: the core's error beside its field, what was typed kept.
    let bad = [
        ("csrf", csrf.as_str()),
        ("name", "Harbour Expo"),
        ("starts_at", "2031-05-04T09:00"),
        ("ends_at", "2031-05-01T18:00"),
    ];
    let res = b.post_form("/console/events/new", &bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"ends_at-error\""), "{page}");
    assert!(page.contains("value=\"Harbour Expo\""));

    let good = [
        ("csrf", csrf.as_str()),
        ("name", "Harbour Expo"),
        ("starts_at", "2031-05-04T09:00"),
        ("ends_at", "2031-05-06T18:00"),
        ("slug", "harbour-expo"),
        ("released_fields", "name"),
        ("released_fields", "company"),
        ("released_fields", "email"),
    ];
    let res = b.post_form("/console/events/new", &good).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let dashboard = location(&res);
    let event_id = dashboard.rsplit('/').next().unwrap().to_string();
    let token = app.token(&email).await;
    let event: serde_json::Value = app.get(&token, &format!("/api/v1/events/{event_id}")).await.json().await.unwrap();
    assert_eq!(event["slug"], "harbour-expo");
    assert_eq!(event["starts_at"], "2031-05-04T09:00:00Z");
    assert_eq!(event["released_fields"], json!(["name", "company", "email"]));
    // The same slug again is the API's 409, shown beside the slug.
    let res = b.post_form("/console/events/new", &good).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("id=\"slug-error\""));

    let edit = format!("/console/events/{event_id}/edit");
    let csrf = b.csrf_of(&edit).await;
    let res = b
        .post_form(
            &edit,
            &[
                ("csrf", &csrf),
                ("privacy_notice_version", "2"),
                ("released_fields", "name"),
                ("scan_grace_hours", "24"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let event: serde_json::Value = app.get(&token, &format!("/api/v1/events/{event_id}")).await.json().await.unwrap();
    assert_eq!(event["privacy_notice_version"], "2");
    assert_eq!(event["released_fields"], json!(["name"]));
    assert_eq!(event["scan_grace_hours"], 24);
    let res =
        b.post_form(&edit, &[("csrf", &csrf), ("privacy_notice_version", "3"), ("scan_grace_hours", "lots")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"scan_grace_hours-error\""));

    // Registrars may read events but not create or change them, as in the API.
    let registrar = staff(&app, Role::Registrar).await;
    let mut r = Browser::new(&app);
    r.sign_in(&registrar, PASSWORD).await;
    assert_eq!(r.get(&dashboard).await.status(), StatusCode::OK);
    assert_eq!(r.get("/console/events/new").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.get(&edit).await.status(), StatusCode::FORBIDDEN);
    let rcsrf = r.csrf_of("/console/").await;
    assert_eq!(
        r.post_form(&edit, &[("csrf", &rcsrf), ("privacy_notice_version", "9")]).await.status(),
        StatusCode::FORBIDDEN
    );
}

async fn event_times_are_typed_and_shown_in_the_events_time_zone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let csrf = b.csrf_of("/console/events/new").await;
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "Madrid Fair"),
        ("time_zone", "Mars/Olympus"),
        ("starts_at", "2031-05-04T09:00"),
        ("ends_at", "2031-05-06T18:00"),
        ("registration_closes_at", "2031-05-03T12:00"),
        ("privacy_notice_url", "https://fair.example/privacy"),
        ("organiser_contact", "Fair Ltd, privacy@fair.example"),
    ];
    // An unknown zone is marked beside its field, and only it.
    let res = b.post_form("/console/events/new", &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"time_zone-error\"") && !page.contains("id=\"starts_at-error\""), "{page}");
    assert!(page.contains("value=\"Mars/Olympus\""));

    fields[2] = ("time_zone", "europe/madrid");
    let res = b.post_form("/console/events/new", &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let event_id = location(&res).rsplit('/').next().unwrap().to_string();
    let token = app.token(&email).await;
    let event: serde_json::Value = app.get(&token, &format!("/api/v1/events/{event_id}")).await.json().await.unwrap();
    assert_eq!(event["time_zone"], "Europe/Madrid");
    assert_eq!(event["starts_at"], "2031-05-04T07:00:00Z", "09:00 in Madrid in May is 07:00 UTC");
    assert_eq!(event["registration_closes_at"], "2031-05-03T10:00:00Z");
    assert_eq!(event["privacy_notice_url"], "https://fair.example/privacy");
    assert_eq!(event["organiser_contact"], "Fair Ltd, privacy@fair.example");

    // Shown back on the event's wall clock, on the dashboard and in the edit form.
    let dashboard = b.get(&format!("/console/events/{event_id}")).await.text().await.unwrap();
    assert!(dashboard.contains("4 May 2031, 09:00 CEST"), "{dashboard}");
    let edit = format!("/console/events/{event_id}/edit");
    let form = b.get(&edit).await.text().await.unwrap();
    assert!(form.contains("value=\"2031-05-03T12:00\"") && form.contains("value=\"Europe/Madrid\""), "{form}");

    // Moving the close date and clearing the notice address, as the API's PATCH does.
    let csrf = hidden_csrf(&form);
    let res = b
        .post_form(
            &edit,
            &[
                ("csrf", &csrf),
                ("time_zone", "Europe/Madrid"),
                ("privacy_notice_version", "1"),
                ("released_fields", "name"),
                ("registration_closes_at", "2031-05-04T08:30"),
                ("privacy_notice_url", ""),
                ("organiser_contact", "Fair Ltd"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let event: serde_json::Value = app.get(&token, &format!("/api/v1/events/{event_id}")).await.json().await.unwrap();
    assert_eq!(event["registration_closes_at"], "2031-05-04T06:30:00Z");
    assert_eq!(event["privacy_notice_url"], serde_json::Value::Null);
    assert_eq!(event["organiser_contact"], "Fair Ltd");
}

/// The `id` path segment a 303 points at, before any query.
fn redirect_id(res: &reqwest::Response) -> String {
    let to = location(res);
    to.split('?').next().unwrap().rsplit('/').next().unwrap().to_string()
}

async fn staff_register_view_and_act_on_participants_through_the_apis_core(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    let registrar = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    b.sign_in(&registrar, PASSWORD).await;
    let new = format!("/console/events/{}/attendees/new", world.event);
    let csrf = b.csrf_of(&new).await;

    // Not confirmed 18 or older: the core's 422 beside the box, nothing stored, typed kept.
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "Ada Lovelace"),
        ("email", "ada@example.org"),
        ("company", "Analytical Engines"),
        ("share_with_all_partners", "true"),
    ];
    let res = b.post_form(&new, &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"is_adult-error\"") && page.contains("value=\"Analytical Engines\""), "{page}");
    assert_eq!(crate::common::count_rows(&app, "attendees"), 0);

    fields.push(("is_adult", "true"));
    let res = b.post_form(&new, &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?done=registered"), "{}", location(&res));
    let attendee = redirect_id(&res);
    let detail = format!("/console/events/{}/attendees/{attendee}", world.event);
    // The same e-mail again is the API's 409, beside the e-mail field.
    let res = b.post_form(&new, &fields).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("id=\"email-error\""));

    // The detail is the API's staff read: ledgered once, with the staff-entered opt-in.
    let before = crate::common::count_rows(&app, "disclosures");
    let page = b.get(&format!("{detail}?done=registered")).await.text().await.unwrap();
    assert!(page.contains("Registered. The participant was sent"), "{page}");
    assert!(page.contains("Ada Lovelace") && page.contains("Share with all partners"), "{page}");
    assert_eq!(crate::common::count_rows(&app, "disclosures"), before + 1);
    let token = app.token(&registrar).await;
    let api: serde_json::Value =
        app.get(&token, &format!("/api/v1/events/{}/attendees/{attendee}", world.event)).await.json().await.unwrap();
    let old_code = api["badge"]["fallback_code"].as_str().unwrap().to_string();
    assert!(page.contains(&old_code));

    // Reissue needs its box ticked: the printed badge dies with it.
    let res = b.post_form(&format!("{detail}/badge/reissue"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("No new badge was issued") && page.contains("id=\"confirm-reissue-error\""), "{page}");
    let page = b.get(&detail).await.text().await.unwrap();
    assert!(page.contains(&old_code), "the badge is unchanged");
    // Reissue: a new code, the old one gone, said on the next page.
    let res = b.post_form(&format!("{detail}/badge/reissue"), &[("csrf", &csrf), ("confirm", "true")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("A new badge was issued") && !page.contains(&old_code), "{page}");
    // The new badge alone, to print at the desk.
    let print = format!("/console/events/{}/badges/print?attendee_id={attendee}", world.event);
    assert!(page.contains(&print), "{page}");
    let before = crate::common::count_rows(&app, "disclosures WHERE channel = 'staff'");
    let sheet = b.get(&print).await.text().await.unwrap();
    assert_eq!(sheet.matches("class=\"page\"").count(), 1, "{sheet}");
    assert_eq!(crate::common::count_rows(&app, "disclosures WHERE channel = 'staff'"), before + 1, "one staff read");
    // Nobody of this event by that id: a 404, not an empty sheet.
    let stranger = format!("/console/events/{}/badges/print?attendee_id=no-such-id%26size%3Dcr80", world.event);
    assert_eq!(b.get(&stranger).await.status(), StatusCode::NOT_FOUND);
    let new_code = page.split("id=\"badge-code\">").nth(1).unwrap().split('<').next().unwrap();
    assert!(sheet.contains(new_code));

    // A new privacy link goes to the participant by mail, not to staff.
    let mails = crate::common::count_rows(&app, "mail_outbox");
    let res = b.post_form(&format!("{detail}/privacy-link"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?done=link-sent"));
    assert_eq!(crate::common::count_rows(&app, "mail_outbox"), mails + 1);
    // Without the session's token nothing happens.
    assert_eq!(b.post_form(&format!("{detail}/privacy-link"), &[]).await.status(), StatusCode::FORBIDDEN);

    // Erasure is the admin's, as in the API.
    let res = b.post_form(&format!("{detail}/erasure"), &[("csrf", &csrf), ("confirm", "true")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin = staff(&app, Role::Admin).await;
    let mut a = Browser::new(&app);
    a.sign_in(&admin, PASSWORD).await;
    let acsrf = a.csrf_of(&detail).await;
    // Without the box ticked: asked again, nothing erased.
    let res = a.post_form(&format!("{detail}/erasure"), &[("csrf", &acsrf)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"confirm-erasure-error\""));
    let page = a.get(&detail).await.text().await.unwrap();
    assert!(page.contains("Ada Lovelace"));
    let res = a.post_form(&format!("{detail}/erasure"), &[("csrf", &acsrf), ("confirm", "true")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = a.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Erased:") && !page.contains("Ada Lovelace"), "{page}");
    let api: serde_json::Value =
        app.get(&token, &format!("/api/v1/events/{}/attendees/{attendee}", world.event)).await.json().await.unwrap();
    assert_eq!(api["erased"], true);

    // Under 18: erased at once, by the same core function.
    let bob = app
        .register(
            &world.admin,
            &world.event,
            json!({"name": "Bob Young", "email": "bob@example.org", "is_adult": true}),
        )
        .await;
    let bob_detail = format!("/console/events/{}/attendees/{}", world.event, bob["id"].as_str().unwrap());
    let res = a.post_form(&format!("{bob_detail}/under-18"), &[("csrf", &acsrf), ("confirm", "true")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = a.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Flagged as under 18") && !page.contains("Bob Young"), "{page}");
}

async fn a_csv_import_is_previewed_with_its_row_errors_then_imported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    let registrar = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    b.sign_in(&registrar, PASSWORD).await;
    let import = format!("/console/events/{}/attendees/import", world.event);
    let csrf = b.csrf_of(&import).await;

    // As LibreOffice saves it: a byte order mark, `;`, TRUE/FALSE; one row under 18, one
    // with a yes/no cell nobody can read.
    let bad = "\u{feff}name;email;is_adult;share_with_all_partners\n\
               Ada Lovelace;ada@example.org;TRUE;TRUE\n\
               Kid;kid@example.org;FALSE;FALSE\n\
               Carl;carl@example.org;TRUE;maybe\n";
    let res = b.post_form(&import, &[("csrf", &csrf), ("step", "preview"), ("csv", bad)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("row 2") && page.contains("is_adult") && page.contains("row 3"), "{page}");
    assert!(page.contains("share_with_all_partners") && page.contains("Ada Lovelace"), "the file is kept: {page}");
    assert_eq!(crate::common::count_rows(&app, "attendees"), 0);

    let good = "\u{feff}name;email;is_adult;share_with_all_partners;marketing_emails\r\n\
                Ada Lovelace;ada@example.org;TRUE;TRUE;no\r\n\
                Grace Hopper;grace@example.org;yes;false;1\r\n";
    let res = b
        .post_form(&import, &[("csrf", &csrf), ("step", "preview"), ("csv", good), ("send_confirmation", "true")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("2 participants ready to import") && page.contains("Grace Hopper"), "{page}");
    assert!(page.contains("all partners"));
    assert_eq!(crate::common::count_rows(&app, "attendees"), 0, "a preview stores nothing");

    // The same file chosen with the form's file input: the same preview.
    let import_page = b.get(&import).await.text().await.unwrap();
    assert!(import_page.contains("enctype=\"multipart/form-data\"") && import_page.contains("type=\"file\""));
    // The partner ids the file names are on the page; the preview names the partners.
    assert!(
        import_page.contains("Partner ids for the share_with_partners column") && import_page.contains(&world.acme)
    );
    let sharing = format!("name,email,is_adult,share_with_partners\nZoe Ng,zoe@example.org,true,{}\n", world.acme);
    let res = b.post_file(&import, &[("csrf", &csrf), ("step", "preview")], ("file", sharing.as_bytes())).await;
    let page = res.text().await.unwrap();
    // Zoe's preview row, not the partner-id list further down, which names Acme too.
    let row = page.split("<td>Zoe Ng</td>").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("<td>Acme</td>") && !row.contains(&world.acme), "{row}");
    let res =
        b.post_file(&import, &[("csrf", &csrf), ("step", "preview"), ("csv", "")], ("file", good.as_bytes())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("2 participants ready to import") && page.contains("Grace Hopper"), "{page}");
    // A file and pasted text: the file is used, and the page says so; nothing at all is said too.
    let res =
        b.post_file(&import, &[("csrf", &csrf), ("step", "preview"), ("csv", bad)], ("file", good.as_bytes())).await;
    let page = res.text().await.unwrap();
    assert!(page.contains("2 participants ready") && page.contains("the pasted text was not used"), "{page}");
    let res = b.post_form(&import, &[("csrf", &csrf), ("step", "preview"), ("csv", " ")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Nothing to import: choose a CSV file, or paste its contents."));
    // A file saved in Latin-1 is named, not a 500.
    let latin1 = b"name;email;is_adult\r\nJos\xe9 P\xe9rez;jose@example.org;TRUE\r\n";
    let res = b.post_file(&import, &[("csrf", &csrf), ("step", "preview")], ("file", latin1)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("CSV UTF-8") && page.contains("type=\"file\""), "said on the import page: {page}");
    assert!(!page.contains("name=\"send_confirmation\" value=\"true\" checked"), "the choice as sent (unticked)");
    // A body that is not the multipart it says it is: 400, not a 500.
    for (content_type, body) in [
        ("multipart/form-data", "--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nab"),
    ] {
        let res = b
            .client
            .post(format!("{}{import}", b.base))
            .header(COOKIE, b.cookie_header())
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{content_type}");
    }
    // Without the form's token nothing is read further.
    let res = b.post_file(&import, &[("csrf", "wrong"), ("step", "import")], ("file", good.as_bytes())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(crate::common::count_rows(&app, "attendees"), 0);

    // Confirming is the API's import: all stored, the count said on the list.
    let mails = crate::common::count_rows(&app, "mail_outbox");
    let res = b
        .post_form(&import, &[("csrf", &csrf), ("step", "import"), ("csv", good), ("send_confirmation", "true")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("2 participants imported."), "{page}");
    assert_eq!(crate::common::count_rows(&app, "attendees"), 2);
    assert_eq!(crate::common::count_rows(&app, "mail_outbox"), mails + 2);
    // The same file again: every row already registered, nothing stored twice.
    let res = b.post_form(&import, &[("csrf", &csrf), ("step", "import"), ("csv", good)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("is already registered for this event"));
    assert_eq!(crate::common::count_rows(&app, "attendees"), 2);
}

async fn badges_print_at_three_stock_sizes_and_are_ledgered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    for (name, email) in
        [("Ada", "ada@example.org"), ("Maria Fernanda de la Concepción Ramírez-Villanueva y Santos", "m@example.org")]
    {
        app.register(&world.admin, &world.event, json!({"name": name, "email": email, "is_adult": true})).await;
    }
    let registrar = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    b.sign_in(&registrar, PASSWORD).await;
    let print = format!("/console/events/{}/badges/print", world.event);
    // On the stock itself the page is the badge; on plain paper it has a margin with cut marks.
    for (size, query, page_size) in [
        ("a6", "", "size:105mm 148mm"),
        ("4x3", "", "size:4in 3in"),
        ("cr80", "", "size:3.5in 2.25in"),
        ("a6", "&marks=1", "size:121mm 164mm"),
        ("4x3", "&marks=1", "size:117.6mm 92.2mm"),
        ("cr80", "&marks=1", "size:104.9mm 73.15mm"),
    ] {
        let before = crate::common::count_rows(&app, "disclosures");
        let res = b.get(&format!("{print}?size={size}{query}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("style-src 'sha256-") && !csp.contains("script-src"), "{csp}");
        let page = res.text().await.unwrap();
        assert!(page.contains(page_size), "{size}{query}");
        assert_eq!(page.contains("class=\"cut tl\""), !query.is_empty(), "cut marks only on plain paper");
        assert_eq!(page.matches("class=\"page\"").count(), 2);
        assert!(
            page.contains("class=\"name n1\"") && page.contains("class=\"name n4\""),
            "long names get a smaller type"
        );
        assert!(page.contains("<svg"));
        assert_eq!(crate::common::count_rows(&app, "disclosures"), before + 2, "each badge is a staff read");
    }
    let res = b.get(&format!("{print}?size=letter")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b.get(&format!("{print}?marks=yes")).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut stranger = Browser::new(&app);
    assert_eq!(stranger.get(&print).await.status(), StatusCode::SEE_OTHER);
}

async fn staff_correct_a_participants_data_on_request_through_the_api_and_the_console(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    let registrar = staff(&app, Role::Registrar).await;
    let token = app.token(&registrar).await;
    let reg = app
        .register(
            &world.admin,
            &world.event,
            serde_json::json!({"name": "Ann Lee", "email": "ann@example.org", "company": "Initech", "is_adult": true}),
        )
        .await;
    let attendee = reg["id"].as_str().unwrap().to_string();
    let api = format!("/api/v1/events/{}/attendees/{attendee}", world.event);

    // The API: the channel is required and named; bad input names its field; nothing changes.
    let res = app.patch(&token, &api, &serde_json::json!({"company": "Globex"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.patch(&token, &api, &serde_json::json!({"channel": "self_service", "company": "Globex"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("channel"));
    let res = app.patch(&token, &api, &serde_json::json!({"channel": "email", "email": "not an address"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("email"));
    let res = app.patch(&token, &api, &serde_json::json!({"channel": "phone", "company": "Globex"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["changed"], true);
    let detail: serde_json::Value = app.get(&token, &api).await.json().await.unwrap();
    assert_eq!(detail["company"], "Globex", "{detail}");
    // Recorded as a completed correction request, by phone, handled by the registrar.
    let requests: serde_json::Value = app.get(&world.admin, "/api/v1/requests").await.json().await.unwrap();
    let correction = requests["items"].as_array().unwrap().iter().find(|r| r["kind"] == "correction").unwrap().clone();
    assert_eq!(correction["channel"], "phone");
    assert_eq!(correction["status"], "completed");

    // The console: the form on the participant's page; errors beside the field, typed kept.
    let mut b = Browser::new(&app);
    b.sign_in(&registrar, PASSWORD).await;
    let page = format!("/console/events/{}/attendees/{attendee}", world.event);
    let csrf = b.csrf_of(&page).await;
    let form = |email: &'static str| {
        vec![
            ("channel", "email"),
            ("name", "Ann Lee-Smith"),
            ("email", email),
            ("company", "Globex"),
            ("phone", ""),
            ("address", ""),
        ]
    };
    let mut fields = form("broken");
    fields.push(("csrf", csrf.as_str()));
    let res = b.post_form(&format!("{page}/correction"), &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = res.text().await.unwrap();
    assert!(text.contains("id=\"fix-email-error\"") && text.contains("value=\"Ann Lee-Smith\""), "{text}");
    let mut fields = form("ann.smith@example.org");
    fields.push(("csrf", csrf.as_str()));
    let res = b.post_form(&format!("{page}/correction"), &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let text = b.get(&location(&res)).await.text().await.unwrap();
    assert!(
        text.contains("Corrected") && text.contains("Ann Lee-Smith") && text.contains("ann.smith@example.org"),
        "{text}"
    );
    // Without the session's token nothing happens.
    let fields = form("x@example.org");
    assert_eq!(b.post_form(&format!("{page}/correction"), &fields).await.status(), StatusCode::FORBIDDEN);
}

on_both_backends!(
    staff_correct_a_participants_data_on_request_through_the_api_and_the_console,
    staff_sign_in_lands_on_the_console_with_a_session_cookie_that_scripts_cannot_read,
    under_tls_the_cookie_is_secure_and_host_prefixed,
    a_wrong_password_answers_as_an_unknown_address_and_is_throttled_like_the_api,
    forms_without_the_right_csrf_token_are_refused,
    signing_out_ends_the_session_on_the_server,
    the_apis_revocations_end_browser_sessions,
    a_session_ends_after_thirty_idle_minutes_and_twelve_hours,
    partner_users_land_in_the_portal_and_may_not_open_the_console,
    registrars_see_the_dashboard_without_the_admin_registers,
    a_next_target_only_leads_within_the_site,
    the_attendee_list_and_badge_sheet_read_through_the_apis_core_and_are_ledgered,
    admins_create_and_edit_events_through_the_apis_rules,
    event_times_are_typed_and_shown_in_the_events_time_zone,
    staff_register_view_and_act_on_participants_through_the_apis_core,
    a_csv_import_is_previewed_with_its_row_errors_then_imported,
    badges_print_at_three_stock_sizes_and_are_ledgered,
    a_forgotten_password_is_asked_for_from_the_sign_in_page,
    the_dashboard_gives_the_public_forms_address_and_the_short_one_leads_there,
    a_console_pages_error_is_a_page_for_a_browser,
    staff_follow_the_events_mail_and_deletion_notices_in_the_console,
);

/// The sign-in page links to a form that mails a reset link: the same page for an address
/// with an account and one without, and the link goes only to the account.
async fn a_forgotten_password_is_asked_for_from_the_sign_in_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let email = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    let login = b.get("/login").await.text().await.unwrap();
    assert!(login.contains("href=\"/login/forgot\""), "{login}");
    let mut answers = Vec::new();
    for address in ["nobody@example.org", email.as_str()] {
        let csrf = b.csrf_of("/login/forgot").await;
        let res = b.post_form("/login/forgot", &[("csrf", &csrf), ("email", address)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        answers.push(res.text().await.unwrap());
    }
    assert!(answers[0].contains("Check your mail"), "{}", answers[0]);
    assert_eq!(answers[0], answers[1], "the page tells nobody whether an address has an account");
    let resets = "mail_outbox WHERE kind = 'password_reset'";
    for _ in 0..50 {
        if crate::common::count_rows(&app, resets) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(crate::common::count_rows(&app, resets), 1, "one link, to the account");
    // Without the form's token: refused, nothing sent.
    let res = b.post_form("/login/forgot", &[("csrf", "forged"), ("email", email.as_str())]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Staff hand out the public registration form's address: the dashboard shows it, and
/// `/e/{slug}`, the address people shorten it to, leads there.
async fn the_dashboard_gives_the_public_forms_address_and_the_short_one_leads_there(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    let slug = crate::mail_participants::slug_of(&app, &world.admin, &world.event).await;
    let email = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.sign_in(&email, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let page = b.get(&format!("/console/events/{}", world.event)).await.text().await.unwrap();
    let form = format!("/e/{slug}/register");
    assert!(page.contains(&form), "{page}");
    let res = b.get(&format!("/e/{slug}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], form.as_str());
    assert_eq!(b.get(&form).await.status(), StatusCode::OK);
    // Not a slug at all: the form's own "not found" page.
    assert_eq!(b.get("/e/No%20Such").await.status(), StatusCode::NOT_FOUND);
}

/// A console page's error reaches a browser as a page, naming what was wrong; an API client
/// asking the same address keeps the problem+json.
async fn a_console_pages_error_is_a_page_for_a_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let world = World::builder().build(&app).await;
    let email = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.sign_in(&email, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let as_browser = |path: String| {
        b.client
            .get(format!("{}{path}", b.base))
            .header(COOKIE, b.cookie_header())
            .header("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            .send()
    };
    let unknown = format!("/console/events/{}/attendees/00000000-0000-0000-0000-000000000000", world.event);
    let res = as_browser(unknown.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("<h1>Not found</h1>"));
    let res = as_browser(format!("/console/events/{}/attendees?page=abc", world.event)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("<h1>Not understood</h1>") && page.contains("<li>"), "{page}");
    let res = b.get(&unknown).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/problem+json"));
}

/// A registrar follows the event's mail (status, failures, "send again") and the deletion
/// notices partners left unacknowledged, without an address, a body or a name on the page.
async fn staff_follow_the_events_mail_and_deletion_notices_in_the_console(backend: Backend) {
    use std::time::Duration;
    let app = TestApp::spawn(backend).await;
    let world = World::builder().with(Who::AcmeScanner).build(&app).await;
    let ada = app
        .register(
            &world.admin,
            &world.event,
            json!({"name": "Ada Lovelace", "email": "ada@example.org", "is_adult": true}),
        )
        .await;
    let mail_of =
        |status: &str| count_rows(&app, &format!("mail_outbox WHERE kind = 'confirmation' AND status = '{status}'"));
    crate::common::smtp::wait_until(Duration::from_secs(30), || mail_of("sent") == 1).await;
    // The receiving server refused it for good.
    sql(
        &app,
        "UPDATE mail_outbox SET status = 'failed', last_error = '550 5.1.1 mailbox unavailable' WHERE kind = 'confirmation'",
    );

    let email = staff(&app, Role::Registrar).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let dashboard = b.get(&format!("/console/events/{}", world.event)).await.text().await.unwrap();
    assert!(dashboard.contains("<b>1</b><a href=\"/console/events/"), "{dashboard}");
    assert!(dashboard.contains("messages that could not be delivered"));
    let mail = format!("/console/events/{}/mail", world.event);
    let res = b.get(&format!("{mail}?status=failed")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    for text in ["Registration confirmation", "Failed", "550 5.1.1 mailbox unavailable", "Send again", "1 message"] {
        assert!(page.contains(text), "{text} in {page}");
    }
    assert!(!page.contains("ada@example.org") && !page.contains("Ada Lovelace"), "no address, no name");
    let ada_id = ada["id"].as_str().unwrap();
    assert!(page.contains(&format!("/console/events/{}/attendees/{ada_id}", world.event)));

    // "Send again": Ada gets a new reminder, with a new link and her badge.
    let at = page.find(&format!("action=\"{mail}/")).unwrap() + "action=\"".len();
    let action = page[at..at + page[at..].find('"').unwrap()].to_string();
    let csrf = hidden_csrf(&page);
    let res = b.post_form(&action, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("A new message with a new privacy link and the current badge is queued"), "{page}");
    assert!(page.contains("Badge and new privacy link"));
    // Once the new one is out, the failure is handled: listed as replaced, not counted.
    crate::common::smtp::wait_until(Duration::from_secs(30), || {
        count_rows(&app, "mail_outbox WHERE kind = 'reminder' AND status = 'sent'") == 1
    })
    .await;
    let page = b.get(&format!("{mail}?status=failed")).await.text().await.unwrap();
    assert!(page.contains("A later message to the participant replaces it") && !page.contains("Send again"), "{page}");
    let dashboard = b.get(&format!("/console/events/{}", world.event)).await.text().await.unwrap();
    assert!(dashboard.contains(&format!("<b>0</b><a href=\"/console/events/{}/mail?status=failed\"", world.event)));
    // Without the form's token nothing is sent.
    let res = b.post_form(&action, &[("csrf", "wrong")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Within the hourly limit of reminders; then the page says why nothing went.
    let mut refused = None;
    for _ in 0..4 {
        let res = b.post_form(&action, &[("csrf", &csrf)]).await;
        if res.status() == StatusCode::CONFLICT {
            refused = Some(res.text().await.unwrap());
            break;
        }
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let refused = refused.expect("the hourly limit of reminders holds in the console");
    assert!(
        refused.contains("Not sent again: no reminder was sent") && refused.contains("the next can go at"),
        "{refused}"
    );
    // A bad filter is named, not a 500.
    assert_eq!(b.get(&format!("{mail}?status=lost")).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Deletion notices: Acme scanned Ada (its phone showed her name), then she is erased.
    let notices = format!("/console/events/{}/deletion-notices", world.event);
    let page = b.get(&notices).await.text().await.unwrap();
    assert!(page.contains("None: every partner acknowledged"), "{page}");
    let scan = app
        .post(world.token(Who::AcmeScanner), "/api/v1/scans", &crate::common::scan_body(&crate::common::payload(&ada)))
        .await;
    assert!(scan.status().is_success());
    // Her reminders went out before she is erased.
    crate::common::smtp::wait_until(Duration::from_secs(30), || {
        count_rows(&app, "mail_outbox WHERE kind = 'reminder' AND status <> 'sent'") == 0
    })
    .await;
    let res =
        app.post(&world.admin, &format!("/api/v1/events/{}/attendees/{ada_id}/erasure", world.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = b.get(&format!("{notices}?status=all")).await.text().await.unwrap();
    assert!(page.contains("Acme") && page.contains("Participant erased") && page.contains("Not yet"), "{page}");
    assert!(!page.contains("(over 7 days)"));
    // Eight days later Acme still has not acknowledged it.
    sql(&app, &format!("UPDATE deletion_notices SET created_at = created_at - {}", 8 * 24 * 3_600_000_i64));
    let page = b.get(&notices).await.text().await.unwrap();
    assert!(page.contains("Acme") && page.contains("(over 7 days)"), "{page}");
    assert!(!page.contains("Ada Lovelace"), "staff chase the partner, not the person");
    // The partner's page is an admin's: the registrar reads the name, with no link to a 403;
    // an admin gets the link.
    let partner_page = format!("/console/events/{}/partners/{}", world.event, world.acme);
    assert!(!page.contains(&partner_page), "{page}");
    let mut admin = Browser::new(&app);
    admin.sign_in(&staff(&app, Role::Admin).await, PASSWORD).await;
    let page = admin.get(&notices).await.text().await.unwrap();
    assert!(page.contains(&partner_page), "{page}");
    let dashboard = b.get(&format!("/console/events/{}", world.event)).await.text().await.unwrap();
    assert!(dashboard.contains("deletion notices unacknowledged after 7 days"));
    // Her sent messages keep their skeleton, with nothing to send again.
    let page = b.get(&mail).await.text().await.unwrap();
    assert!(page.contains("Erased with the participant") && !page.contains("Send again"), "{page}");
}
