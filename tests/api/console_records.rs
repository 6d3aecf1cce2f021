//! The staff console's records (task D2): partners and their users, the request register,
//! the ledger search and incidents, driven over HTTP as a browser does (cookies, forms,
//! no redirects followed). Each page's effect is checked through the API it shares its
//! core with, its role rule against the API's, and every POST against a wrong CSRF token.

use std::collections::BTreeMap;

use badgegate::auth::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{Backend, PASSWORD, TestApp, Who, World, count_rows, mailed_link, payload, scan_body};

struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, base: app.url.clone(), cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (name, val) = text.split(';').next().unwrap().split_once('=').unwrap();
            if val.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), val.to_string());
            }
        }
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let res =
            self.client.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep(&res);
        res
    }

    /// A page's status and text.
    async fn page(&mut self, path: &str) -> (StatusCode, String) {
        let res = self.get(path).await;
        (res.status(), res.text().await.unwrap())
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

    /// Signs in; answers the session's CSRF token (read from the console's first page).
    async fn sign_in(&mut self, email: &str) -> String {
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = hidden_csrf(&page);
        let res = self.post_form("/login", &[("csrf", &csrf), ("email", email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        hidden_csrf(&self.get("/console/").await.text().await.unwrap())
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

/// A signed-in browser of a new staff user of `role`.
async fn staff_browser(app: &TestApp, role: Role) -> (Browser, String) {
    let email = format!("{}-{}@example.org", role.as_str(), uuid::Uuid::new_v4().simple());
    app.create_staff(&email, role).await;
    let mut b = Browser::new(app);
    let csrf = b.sign_in(&email).await;
    (b, csrf)
}

async fn json_of(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(token, path).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.json().await.unwrap()
}

async fn admins_manage_partners_and_invite_their_users_by_mail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = World::builder().build(&app).await;
    let (mut b, csrf) = staff_browser(&app, Role::Admin).await;
    let list = format!("/console/events/{}/partners", w.event);

    let (status, page) = b.page(&list).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Acme") && page.contains("Globex") && page.contains("Add a partner"));

    // A blank name comes back beside its field, nothing stored.
    let res = b.post_form(&list, &[("csrf", &csrf), ("name", "  ")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("The name is required") && page.contains("aria-invalid=\"true\""), "{page}");

    let res = b.post_form(&list, &[("csrf", &csrf), ("name", "Initech")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let partner_page = location(&res);
    let partner = partner_page.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    let (status, page) = b.page(&partner_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("The partner was added"));
    let api: Value = json_of(&app, &w.admin, &format!("/api/v1/events/{}/partners", w.event)).await;
    assert!(api["items"].as_array().unwrap().iter().any(|p| p["id"] == partner.as_str() && p["name"] == "Initech"));

    // Renamed through the page, seen by the API.
    let base = format!("/console/events/{}/partners/{partner}", w.event);
    let res = b.post_form(&format!("{base}/edit"), &[("csrf", &csrf), ("name", "Initech Ltd")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let api: Value = json_of(&app, &w.admin, &format!("/api/v1/events/{}/partners", w.event)).await;
    assert!(api["items"].as_array().unwrap().iter().any(|p| p["name"] == "Initech Ltd"));

    // Invitations: a bad address is refused beside its field; a good one is mailed, and
    // nobody but the invitee chooses the password.
    let users = format!("{base}/users");
    let res = b.post_form(&users, &[("csrf", &csrf), ("email", "not-an-address"), ("role", "scanner")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("The e-mail") && page.contains("value=\"not-an-address\""));
    let email = format!("booth-{}@initech.example", uuid::Uuid::new_v4().simple());
    let res = b.post_form(&users, &[("csrf", &csrf), ("email", &email), ("role", "partner_admin")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("?done=invited"));
    assert!(mailed_link(&app, &email, "invitation").contains("/invite/"));
    let (_, page) = b.page(&location(&res)).await;
    assert!(
        page.contains("The invitation was sent") && page.contains(&email) && page.contains("invited, no password yet")
    );
    let listed: Value = json_of(&app, &w.admin, &format!("/api/v1/events/{}/partners/{partner}/users", w.event)).await;
    let user = listed.as_array().unwrap().iter().find(|u| u["email"] == email.as_str()).unwrap().clone();
    assert_eq!(user["role"], "partner_admin");
    assert_eq!(user["password_set"], false);
    let user_id = user["id"].as_str().unwrap().to_string();

    // The same address again is the API's conflict, said beside the field.
    let res = b.post_form(&users, &[("csrf", &csrf), ("email", &email), ("role", "scanner")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Send again, end sessions, disable.
    let res = b.post_form(&format!("{users}/{user_id}/invitation"), &[("csrf", &csrf)]).await;
    assert_eq!((res.status(), location(&res).ends_with("?done=resent")), (StatusCode::SEE_OTHER, true));
    let res = b.post_form(&format!("{users}/{user_id}/revoke-sessions"), &[("csrf", &csrf)]).await;
    assert_eq!((res.status(), location(&res).ends_with("?done=revoked")), (StatusCode::SEE_OTHER, true));
    // A user of another partner is not this partner's to revoke.
    let acme_user = crate::common::invite(&app, &w.admin, &w.event, &w.acme, "x@acme.example", "scanner").await;
    let res = b.post_form(&format!("{users}/{acme_user}/revoke-sessions"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = b.post_form(&format!("{users}/{user_id}/disable"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let listed: Value = json_of(&app, &w.admin, &format!("/api/v1/events/{}/partners/{partner}/users", w.event)).await;
    assert!(listed.as_array().unwrap().iter().any(|u| u["id"] == user_id.as_str() && u["disabled"] == true));
    let (_, page) = b.page(&base).await;
    assert!(page.contains("disabled"));
    let res = b.post_form(&format!("{base}/revoke-sessions"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Registrars read the list, as the API lets them, and nothing more.
    let (mut r, rcsrf) = staff_browser(&app, Role::Registrar).await;
    let (status, page) = r.page(&list).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Initech Ltd") && !page.contains("Add a partner") && !page.contains(&base));
    assert_eq!(r.post_form(&list, &[("csrf", &rcsrf), ("name", "Nope")]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.get(&base).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.post_form(&users, &[("csrf", &rcsrf), ("email", "y@initech.example"), ("role", "scanner")]).await.status(),
        StatusCode::FORBIDDEN
    );
}

/// Files a request through the API, received `days_ago` days ago; answers its id.
async fn file_request(app: &TestApp, w: &World, attendee: &str, days_ago: i64) -> String {
    let received = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
    let body = json!({
        "event_id": w.event, "attendee_id": attendee, "kind": "access", "channel": "post",
        "received_at": received.format(&time::format_description::well_known::Rfc3339).unwrap(),
    });
    let res = app.post(&w.admin, "/api/v1/requests", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn the_request_register_highlights_overdue_requests_and_answers_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = World::builder().build(&app).await;
    let ann =
        app.register(&w.admin, &w.event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let ann = ann["id"].as_str().unwrap();
    let late = file_request(&app, &w, ann, 40).await;
    let fresh = file_request(&app, &w, ann, 1).await;
    let (mut b, csrf) = staff_browser(&app, Role::Admin).await;

    let (status, page) = b.page("/console/requests").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("/console/requests/{late}")) && page.contains(&format!("/console/requests/{fresh}"))
    );
    assert!(page.contains("<tr class=\"overdue\">") && page.contains("overdue: due 10 d"), "{page}");
    let (_, page) = b.page("/console/requests?status=overdue").await;
    assert!(page.contains(&late) && !page.contains(&fresh));
    // From the participant's page, the filing form comes with the participant filled in.
    let (_, page) = b.page(&format!("/console/events/{}/attendees/{ann}", w.event)).await;
    let link = format!("/console/requests?event_id={}&amp;attendee_id={ann}#file", w.event);
    assert!(page.contains(&link), "{page}");
    let (_, page) = b.page(&link.replace("&amp;", "&")).await;
    assert!(page.contains(&format!("name=\"attendee_id\" value=\"{ann}\"")), "{page}");
    assert!(page.contains(&format!("value=\"{}\" selected", w.event)), "{page}");

    let detail = format!("/console/requests/{late}");
    let (status, page) = b.page(&detail).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Mark as answered") && page.contains(&format!("ledger?attendee_id={ann}")));
    let res =
        b.post_form(&format!("{detail}/complete"), &[("csrf", &csrf), ("notes", "Sent the record by post.")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = b.page(&location(&res)).await;
    assert!(page.contains("The request is marked answered") && page.contains("Sent the record by post."));
    assert!(!page.contains("<form method=\"post\" action=\"/console/requests/"));
    let api: Value = json_of(&app, &w.admin, "/api/v1/requests?status=completed").await;
    assert!(api["items"].as_array().unwrap().iter().any(|r| r["id"] == late.as_str()));

    // Answering twice is the API's conflict, told on the page.
    let res = b.post_form(&format!("{detail}/complete"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("already completed"));
    assert_eq!(b.get("/console/requests/no-such-request").await.status(), StatusCode::NOT_FOUND);

    // A request that arrived by post is recorded through the page, as the API files it.
    let file = |attendee: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("event_id", w.event.clone()),
            ("attendee_id", attendee.to_string()),
            ("kind", "erasure".to_string()),
            ("channel", "post".to_string()),
            ("received_at", String::new()),
            ("notes", "Letter of 3 May".to_string()),
        ]
    };
    let f = file("");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post_form("/console/requests", &pairs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("The participant id is required"));
    let f = file(ann);
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post_form("/console/requests", &pairs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = b.page(&location(&res)).await;
    assert!(page.contains("Request: erasure") && page.contains("Letter of 3 May") && page.contains("due in 29 d"));
    let api: Value = json_of(&app, &w.admin, "/api/v1/requests?status=open").await;
    assert!(api["items"].as_array().unwrap().iter().any(|r| r["kind"] == "erasure" && r["channel"] == "post"));

    // The register is the admin's, as in the API.
    let (mut r, rcsrf) = staff_browser(&app, Role::Registrar).await;
    assert_eq!(r.get("/console/requests").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.post_form(&format!("/console/requests/{fresh}/complete"), &[("csrf", &rcsrf)]).await.status(),
        StatusCode::FORBIDDEN
    );
}

/// A world whose event runs in Madrid, Ann registered, scanned by Acme and by Globex.
async fn scanned_world(app: &TestApp) -> (World, String) {
    let w = World::builder().with(Who::AcmeScanner).with(Who::GlobexScanner).build(app).await;
    let res = app.patch(&w.admin, &format!("/api/v1/events/{}", w.event), &json!({"time_zone": "Europe/Madrid"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let ann =
        app.register(&w.admin, &w.event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    for who in [Who::AcmeScanner, Who::GlobexScanner] {
        assert_eq!(app.post(w.token(who), "/api/v1/scans", &scan_body(&payload(&ann))).await.status(), 201);
    }
    (w, ann["id"].as_str().unwrap().to_string())
}

async fn the_ledger_search_filters_in_the_events_zone_pages_and_downloads_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (w, ann) = scanned_world(&app).await;
    let (mut b, _) = staff_browser(&app, Role::Admin).await;
    let ledger = format!("/console/events/{}/ledger", w.event);

    let (status, page) = b.page(&ledger).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Acme") && page.contains("Globex") && page.contains(&ann));
    assert!(
        page.contains("Europe/Madrid") && (page.contains(" CET") || page.contains(" CEST")),
        "times in the event's zone"
    );

    let (_, page) = b.page(&format!("{ledger}?partner_id={}", w.acme)).await;
    let rows = page.matches("<tr><td>").count();
    let api: Value =
        json_of(&app, &w.admin, &format!("/api/v1/events/{}/disclosures?partner_id={}", w.event, w.acme)).await;
    assert_eq!(rows as u64, api["total"].as_u64().unwrap());
    assert!(rows >= 1 && !page.contains("<td>Globex</td>"));

    // The window is typed in Madrid's wall time (UTC+1 or +2): the wall time of half an
    // hour from now in UTC, read as Madrid, is before the scans; in Madrid, after them.
    let madrid = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(30);
    let soon_utc = soon.strftime("%Y-%m-%dT%H:%M").to_string();
    let soon_madrid = soon.to_zoned_datetime(madrid).strftime("%Y-%m-%dT%H:%M").to_string();
    let (_, page) = b.page(&format!("{ledger}?to={soon_utc}")).await;
    assert!(page.contains("0 releases."), "{page}");
    let (_, page) = b.page(&format!("{ledger}?to={soon_madrid}&partner_id={}", w.acme)).await;
    assert_eq!(page.matches("<tr><td>").count(), rows);

    let res = b.get(&format!("{ledger}?from=yesterday")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("From must be a date and time"));

    // The CSV is the API's, row for row.
    let res = b.get(&format!("{ledger}.csv?partner_id={}", w.acme)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let api_csv = app
        .get(&w.admin, &format!("/api/v1/events/{}/disclosures?partner_id={}&format=csv", w.event, w.acme))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv, api_csv);
    assert!(csv.lines().next().unwrap().starts_with("\"occurred_at\",\"partner_id\",\"partner_name\""));
    assert!(csv.lines().count() >= 2, "a header and the rows");

    let (mut r, _) = staff_browser(&app, Role::Registrar).await;
    assert_eq!(r.get(&ledger).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.get(&format!("{ledger}.csv")).await.status(), StatusCode::FORBIDDEN);
}

async fn incidents_open_with_a_scope_preview_and_run_their_clocks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (w, _ann) = scanned_world(&app).await;
    let (mut b, csrf) = staff_browser(&app, Role::Admin).await;
    let (status, page) = b.page("/console/incidents/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("partner:{}", w.acme)));

    let utc = |hours: i64| {
        (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours)).strftime("%Y-%m-%dT%H:%M").to_string()
    };
    let scope = format!("partner:{}", w.acme);
    let (from, to, now) = (utc(-2), utc(1), utc(0));
    let fields = |action: &'static str, title: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", title.to_string()),
            ("description", "A booth phone was lost.".to_string()),
            ("discovered_at", now.clone()),
            ("scope", scope.clone()),
            ("user_id", String::new()),
            ("from", from.clone()),
            ("to", to.clone()),
            ("action", action.to_string()),
        ]
    };

    // The preview shows the exposure and stores nothing.
    let f = fields("preview", "Lost phone");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post_form("/console/incidents/new", &pairs).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("1 participant") && page.contains("Nothing is saved yet"), "{page}");
    assert_eq!(count_rows(&app, "incidents"), 0);

    // A missing title is said beside the field.
    let f = fields("open", "");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post_form("/console/incidents/new", &pairs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("The title is required"));

    let f = fields("open", "Lost phone");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post_form("/console/incidents/new", &pairs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let incident = location(&res).split('?').next().unwrap().to_string();
    let id = incident.rsplit('/').next().unwrap().to_string();
    let (_, page) = b.page(&location(&res)).await;
    assert!(page.contains("Authority notified (24 h)") && page.contains("Due in 23 h"), "{page}");
    assert!(page.contains("Report sent (48 h)") && page.contains("Due in 1 d 23 h"));
    // What was typed at opening is where the report takes it from: the nature, to write out.
    assert!(page.contains("name=\"nature\"") && page.contains(">A booth phone was lost.</textarea>"), "{page}");
    let api: Value = json_of(&app, &w.admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(api["exposure"]["participants"], 1);

    // Narrative and a milestone; the API sees them, the clock shows it met.
    let edit = [
        ("csrf", csrf.as_str()),
        ("title", "Lost phone"),
        ("nature", "A scanner phone was lost at the booth."),
        ("investigation", ""),
        ("mitigation", "Sessions ended."),
        ("contact", "dpo@example.org"),
        ("notified_at", now.as_str()),
        ("reported_at", ""),
        ("closed_at", ""),
    ];
    let res = b.post_form(&format!("{incident}/edit"), &edit).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let api: Value = json_of(&app, &w.admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(api["contact"], "dpo@example.org");
    assert!(api["notified_at"].is_string());
    let (_, page) = b.page(&incident).await;
    assert!(page.contains("Done "));
    let mut bad = edit;
    bad[6] = ("notified_at", "soon");
    assert_eq!(b.post_form(&format!("{incident}/edit"), &bad).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Updates: all five items or none.
    let res = b.post_form(&format!("{incident}/updates"), &[("csrf", &csrf), ("perpetrators", "unknown")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("Data abused is required") && page.contains(">unknown</textarea>"), "{page}");
    let update = [
        ("csrf", csrf.as_str()),
        ("perpetrators", "unknown"),
        ("data_abused", "none seen"),
        ("further_investigation", "none"),
        ("further_mitigation", "none"),
        ("corrective_action", "device PINs"),
    ];
    assert_eq!(b.post_form(&format!("{incident}/updates"), &update).await.status(), StatusCode::SEE_OTHER);
    let (_, page) = b.page(&incident).await;
    assert!(page.contains("Update 1") && page.contains("device PINs"));

    let (status, page) = b.page(&format!("{incident}/report")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("1. Nature of the incident") && page.contains("A scanner phone was lost at the booth."));
    let md = b.get(&format!("{incident}/report.md")).await;
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");

    // The participant notice: preview, send once, then the API's conflict.
    let (status, page) = b.page(&format!("{incident}/notice")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("1 participant") && page.contains("Send the notice to 1 participant"), "{page}");
    let res = b.post_form(&format!("{incident}/notice"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = b.page(&location(&res)).await;
    assert!(page.contains("The notice was queued to 1 participant."), "{page}");
    let res = b.post_form(&format!("{incident}/notice"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // The affected list is a staff read, in the ledger.
    let before = count_rows(&app, "disclosures");
    let res = b.get(&format!("{incident}/affected.csv")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("ann@example.org"));
    assert_eq!(count_rows(&app, "disclosures"), before + 1);

    let (_, page) = b.page("/console/incidents").await;
    assert!(page.contains("Lost phone"));

    let (mut r, rcsrf) = staff_browser(&app, Role::Registrar).await;
    assert_eq!(r.get("/console/incidents").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.get(&incident).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.post_form(&format!("{incident}/updates"), &[("csrf", &rcsrf)]).await.status(), StatusCode::FORBIDDEN);
}

async fn every_records_form_refuses_a_wrong_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = World::builder().build(&app).await;
    let ann =
        app.register(&w.admin, &w.event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let request = file_request(&app, &w, ann["id"].as_str().unwrap(), 1).await;
    let user = crate::common::invite(&app, &w.admin, &w.event, &w.acme, "u@acme.example", "scanner").await;
    let body = json!({"title": "T", "description": "", "discovered_at": crate::common::now_rfc3339(),
        "scope": {"event_id": w.event}, "window": {"from": "2020-01-01T00:00:00Z", "to": crate::common::now_rfc3339()}});
    let res = app.post(&w.admin, "/api/v1/incidents", &body).await;
    let incident = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let (mut b, _) = staff_browser(&app, Role::Admin).await;

    let partner = format!("/console/events/{}/partners/{}", w.event, w.acme);
    let posts = [
        format!("/console/events/{}/partners", w.event),
        format!("{partner}/edit"),
        format!("{partner}/revoke-sessions"),
        format!("{partner}/users"),
        format!("{partner}/users/{user}/invitation"),
        format!("{partner}/users/{user}/disable"),
        format!("{partner}/users/{user}/revoke-sessions"),
        format!("/console/requests/{request}/complete"),
        "/console/requests".to_string(),
        "/console/incidents/new".to_string(),
        format!("/console/incidents/{incident}/edit"),
        format!("/console/incidents/{incident}/updates"),
        format!("/console/incidents/{incident}/notice"),
    ];
    for path in &posts {
        let res = b
            .post_form(path, &[("csrf", "forged"), ("name", "X"), ("email", "z@acme.example"), ("role", "scanner")])
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(res.text().await.unwrap().contains("Form expired"), "{path}");
    }
    // Nothing was done.
    let listed: Value = json_of(&app, &w.admin, &format!("/api/v1/events/{}/partners/{}/users", w.event, w.acme)).await;
    assert!(listed.as_array().unwrap().iter().all(|u| u["disabled"] == false));
    assert_eq!(count_rows(&app, "partners"), 2);
    assert_eq!(count_rows(&app, "incidents"), 1);
    // Every D2 POST route is in the list above.
    let d2_posts = badgegate::http::routes::PAGES
        .iter()
        .filter(|(p, m)| {
            *m == actix_web::http::Method::POST
                && (p.contains("/partners")
                    || p.starts_with("/console/requests")
                    || p.starts_with("/console/incidents"))
        })
        .count();
    assert_eq!(d2_posts, posts.len());
}

/// The D2 pages in a real browser at phone width: an admin signs in, adds a partner's user
/// by the form, searches the ledger, answers nothing, opens an incident after previewing
/// its scope and reads its notice; every page passes axe-core and fits 390 px.
async fn the_records_pages_work_and_fit_a_phone_in_a_real_browser(backend: Backend) {
    let Some(browser) = crate::common::browser::Browser::start("console_records", 390, 1000).await else { return };
    let app = TestApp::spawn(backend).await;
    let (w, ann) = scanned_world(&app).await;
    file_request(&app, &w, &ann, 40).await;
    let email = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
    app.create_staff(&email, Role::Admin).await;
    let base = &app.url;
    let event = &w.event;
    let acme = &w.acme;

    browser
        .step("sign in", async {
            browser.visit(&format!("{base}/login")).await;
            browser.fill("#email", &email).await;
            browser.fill("#password", PASSWORD).await;
            browser.click("button[type=submit]").await;
            browser.wait_for("h1").await;
            assert!(browser.url().await.ends_with("/console/"));
        })
        .await;
    browser
        .step("partners", async {
            browser.visit(&format!("{base}/console/events/{event}/partners")).await;
            browser.visit(&format!("{base}/console/events/{event}/partners/{acme}")).await;
            browser.fill("#email", "a.rather.long.booth.address@acme-industrial.example").await;
            browser.click("form[action$='/users'] button[type=submit]").await;
            browser.wait_for("p.notice").await;
            browser.check_page().await;
            assert!(browser.source().await.contains("a.rather.long.booth.address@acme-industrial.example"));
        })
        .await;
    browser
        .step("ledger", async {
            browser.visit(&format!("{base}/console/events/{event}/ledger?partner_id={acme}")).await;
            assert!(browser.source().await.contains("Download as CSV"));
            browser.visit(&format!("{base}/console/events/{event}/ledger?from=soon")).await;
        })
        .await;
    browser
        .step("requests", async {
            browser.visit(&format!("{base}/console/requests")).await;
            browser.click("td a").await;
            browser.wait_for("h1").await;
            browser.check_page().await;
        })
        .await;
    browser
        .step("incident", async {
            browser.visit(&format!("{base}/console/incidents/new")).await;
            browser.fill("#title", "Lost phone").await;
            browser.fill("#description", "A booth phone went missing.").await;
            let scope = format!("partner:{acme}");
            browser.set_value("#scope", &scope).await;
            browser.set_value("#from", "2020-01-01T00:00").await;
            browser.click("button[value=preview]").await;
            browser.wait_for("#preview").await;
            browser.check_page().await;
            browser.click("button[value=open]").await;
            browser.wait_for("p.notice").await;
            browser.check_page().await;
            let incident = browser.url().await.split('?').next().unwrap().to_string();
            browser.visit(&format!("{incident}/report")).await;
            browser.visit(&format!("{incident}/notice")).await;
            browser.visit(&format!("{base}/console/incidents")).await;
        })
        .await;
}

crate::on_both_backends!(
    the_records_pages_work_and_fit_a_phone_in_a_real_browser,
    admins_manage_partners_and_invite_their_users_by_mail,
    the_request_register_highlights_overdue_requests_and_answers_them,
    the_ledger_search_filters_in_the_events_zone_pages_and_downloads_csv,
    incidents_open_with_a_scope_preview_and_run_their_clocks,
    every_records_form_refuses_a_wrong_csrf_token,
);
