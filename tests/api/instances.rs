//! Two instances of the service on one PostgreSQL database behave as one: each scenario
//! alternates requests between instance A and instance B (each with its own data
//! directory, sharing the secrets as the README asks). What one instance decides
//! (revocations, disabled users, suspensions, sign-outs, login failures, stored scans,
//! delivered mail) holds on the other at once, with nothing cached in between.
//! PostgreSQL only: these print SKIPPED without `BADGEGATE_TEST_POSTGRES_URL`.
//! Device sessions (refresh tokens) are left to their own module.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use badgegate::auth::Role;
use badgegate::db::DbConn;
use diesel::RunQueryDsl;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::smtp::{eml_files, wait_until};
use crate::common::{
    Backend, PASSWORD, TestApp, World, accept_invitation, count_rows, invite, partner_user, payload, scan_body,
};

/// One test per scenario, on PostgreSQL only: two instances need a shared server database.
macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if $crate::common::postgres_url_or_skip(stringify!($name)).is_none() {
                        return;
                    }
                    let a = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await;
                    let b = a.spawn_instance().await;
                    super::$name(a, b).await;
                }
            )*
        }
    };
}

on_postgres!(
    revocations_disabled_users_and_suspensions_made_on_one_instance_hold_on_the_other,
    a_browser_session_opened_on_one_instance_works_and_ends_on_the_other,
    failed_logins_on_one_instance_count_on_the_other,
    a_scan_sent_through_both_instances_is_stored_once,
    both_instances_deliver_each_queued_message_exactly_once,
);

async fn revocations_disabled_users_and_suspensions_made_on_one_instance_hold_on_the_other(a: TestApp, b: TestApp) {
    let w = World::builder().build(&a).await;
    assert_eq!(a.backend, Backend::Postgres);
    // A token issued by A is good on B (same secret, same token-key generation).
    let (scanner_id, scanner) = partner_user(&a, &w.admin, &w.event, &w.acme, "scanner").await;
    assert_eq!(b.get(&scanner, "/api/v1/leads").await.status(), 200);
    // Single scans confirm the token in the scan's own transaction (not in a read of the
    // request): each refusal below is checked on that path too, and stores nothing.
    let visitor =
        a.register(&w.admin, &w.event, json!({"name": "Vi Sitor", "email": "v@example.org", "is_adult": true})).await;
    let scan = || scan_body(&payload(&visitor));
    assert_eq!(b.post(&scanner, "/api/v1/scans", &scan()).await.status(), 201);

    // Revoked through A: refused by B on the very next request.
    let res = a.post(&w.admin, &format!("/api/v1/users/{scanner_id}/revoke-sessions"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(b.get(&scanner, "/api/v1/leads").await.status(), 401);
    assert_eq!(a.get(&scanner, "/api/v1/leads").await.status(), 401);
    assert_eq!(b.post(&scanner, "/api/v1/scans", &scan()).await.status(), 401);

    // Disabled through B: A refuses the token and the password.
    let email = format!("scanner-{}@partner.example", uuid::Uuid::new_v4().simple());
    let user = invite(&a, &w.admin, &w.event, &w.acme, &email, "scanner").await;
    accept_invitation(&a, &email, PASSWORD).await;
    let token = b.token(&email).await;
    assert_eq!(a.get(&token, "/api/v1/leads").await.status(), 200);
    assert_eq!(a.post(&token, "/api/v1/scans", &scan()).await.status(), 201);
    let res = b
        .post(&w.admin, &format!("/api/v1/events/{}/partners/{}/users/{user}/disable", w.event, w.acme), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(a.get(&token, "/api/v1/leads").await.status(), 401);
    assert_eq!(a.post(&token, "/api/v1/scans", &scan()).await.status(), 401);
    assert_eq!(a.login(&email, PASSWORD).await.status(), 401);

    // Suspended through A: B refuses the partner's lead reads; lifted through B: A serves them.
    let (_, acme_admin) = partner_user(&a, &w.admin, &w.event, &w.acme, "partner_admin").await;
    let suspension = format!("/api/v1/events/{}/partners/{}/suspension", w.event, w.acme);
    assert_eq!(a.post(&w.admin, &suspension, &json!({"suspended": true})).await.status(), 204);
    assert_eq!(b.get(&acme_admin, "/api/v1/leads").await.status(), 403);
    assert_eq!(b.get(&acme_admin, "/api/v1/leads/export.csv").await.status(), 403);
    assert_eq!(b.post(&w.admin, &suspension, &json!({"suspended": false})).await.status(), 204);
    assert_eq!(a.get(&acme_admin, "/api/v1/leads").await.status(), 200);

    // A key rotation on B ends every token on A, the admin's own included.
    assert_eq!(a.post(&acme_admin, "/api/v1/scans", &scan()).await.status(), 201);
    assert_eq!(b.post(&w.admin, "/api/v1/security/rotate-token-key", &json!({})).await.status(), 200);
    assert_eq!(a.post(&acme_admin, "/api/v1/scans", &scan()).await.status(), 401);
    assert_eq!(a.get(&acme_admin, "/api/v1/leads").await.status(), 401);
    assert_eq!(a.get(&w.admin, "/api/v1/auth/me").await.status(), 401);
    let fresh = a.admin().await;
    assert_eq!(b.get(&fresh, "/api/v1/auth/me").await.status(), 200);
    assert_eq!(count_rows(&a, "scans"), 3, "the three scans answered 201, none of the refused");
}

/// A browser without script: a cookie jar, no redirects, and any instance per request (a
/// load balancer with no stickiness).
struct Jar {
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Jar {
    fn new() -> Jar {
        Jar {
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn header(&self) -> String {
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

    async fn get(&mut self, app: &TestApp, path: &str) -> reqwest::Response {
        let res = self.client.get(format!("{}{path}", app.url)).header(COOKIE, self.header()).send().await.unwrap();
        self.keep(&res);
        res
    }

    async fn post_form(&mut self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let res = self
            .client
            .post(format!("{}{path}", app.url))
            .header(COOKIE, self.header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    async fn csrf_of(&mut self, app: &TestApp, path: &str) -> String {
        let res = self.get(app, path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let page = res.text().await.unwrap();
        let marker = "name=\"csrf\" value=\"";
        let at = page.find(marker).expect("the page has a csrf field") + marker.len();
        page[at..at + page[at..].find('"').unwrap()].to_string()
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

async fn a_browser_session_opened_on_one_instance_works_and_ends_on_the_other(a: TestApp, b: TestApp) {
    let email = format!("staff-{}@example.org", uuid::Uuid::new_v4().simple());
    a.create_staff(&email, Role::Admin).await;

    // Signed in on A (its form's CSRF cookie is checked there), then served by B.
    let mut jar = Jar::new();
    let csrf = jar.csrf_of(&a, "/login").await;
    let res = jar.post_form(&a, "/login", &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(jar.cookies.contains_key("bg_session"));
    assert_eq!(jar.get(&b, "/console/").await.status(), StatusCode::OK, "B knows A's session");

    // The session's CSRF token read on B signs out on A.
    let session = jar.cookies["bg_session"].clone();
    let csrf = jar.csrf_of(&b, "/console/").await;
    let res = jar.post_form(&a, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!jar.cookies.contains_key("bg_session"));

    // A copy of the old cookie signs nobody in on B.
    jar.cookies.insert("bg_session".into(), session);
    let res = jar.get(&b, "/console/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"), "{}", location(&res));

    // The sign-in form of A posted to B (its CSRF check is a double-submit cookie, no
    // server state); that session ends on A when the API revokes the user through B.
    let csrf = jar.csrf_of(&a, "/login").await;
    let res = jar.post_form(&b, "/login", &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(jar.get(&a, "/console/").await.status(), StatusCode::OK);
    let admin = a.admin().await;
    let me: Value = {
        let token = b.token(&email).await;
        b.get(&token, "/api/v1/auth/me").await.json().await.unwrap()
    };
    let id = me["id"].as_str().unwrap();
    assert_eq!(b.post(&admin, &format!("/api/v1/users/{id}/revoke-sessions"), &json!({})).await.status(), 200);
    let res = jar.get(&a, "/console/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the revocation through B ended the session on A");
}

async fn failed_logins_on_one_instance_count_on_the_other(a: TestApp, b: TestApp) {
    a.create_staff("shared-lock@example.org", Role::Admin).await;
    // Five failures, alternating: the lock is one count in the database.
    for attempt in 1..=5 {
        let app = if attempt % 2 == 1 { &a } else { &b };
        let res = app.login("shared-lock@example.org", "not the password at all").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    for app in [&a, &b] {
        let res = app.login("shared-lock@example.org", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "locked on {}", app.url);
        assert!(res.headers().contains_key("retry-after"));
    }
    // Parallel guesses split over both instances still get five password checks in all.
    let answers = futures_util::future::join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.login("someone-else@example.org", "wrong password guess")
    }))
    .await;
    let checked = answers.iter().filter(|r| r.status() == StatusCode::UNAUTHORIZED).count();
    let refused = answers.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 15));
}

fn scans_per_client_id(app: &TestApp) -> HashMap<String, i64> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        client_scan_id: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT client_scan_id, COUNT(*) AS n FROM scans GROUP BY client_scan_id")
        .load(&mut *conn)
        .unwrap();
    rows.into_iter().map(|r| (r.client_scan_id, r.n)).collect()
}

async fn a_scan_sent_through_both_instances_is_stored_once(a: TestApp, b: TestApp) {
    let w = World::builder().build(&a).await;
    let (_, scanner) = partner_user(&a, &w.admin, &w.event, &w.acme, "scanner").await;
    let mut badges = Vec::new();
    for i in 0..40 {
        let body = json!({"name": format!("Visitor {i}"), "email": format!("v{i}@example.org"), "is_adult": true});
        badges.push(payload(&a.register(&w.admin, &w.event, body).await));
    }

    // One scan through A, then its retry through B: one row, B answers `duplicate`.
    let scan = scan_body(&badges[0]);
    let first = a.post(&scanner, "/api/v1/scans", &scan).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = b.post(&scanner, "/api/v1/scans", &scan).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["scan_id"], first["scan_id"]);

    // The same batch sent to both instances at once, five times over (a phone whose answer
    // was lost retries through the other instance): every scan stored once, and both
    // answers name the same stored scan for each item.
    let batch: Vec<Value> = badges[1..].iter().map(|p| scan_body(p)).collect();
    for round in 0..5 {
        let body = json!({"scans": batch});
        let (ra, rb) = futures_util::future::join(
            a.post(&scanner, "/api/v1/scans/batch", &body),
            b.post(&scanner, "/api/v1/scans/batch", &body),
        )
        .await;
        assert_eq!((ra.status(), rb.status()), (StatusCode::OK, StatusCode::OK), "round {round}");
        let (ra, rb): (Value, Value) = (ra.json().await.unwrap(), rb.json().await.unwrap());
        let ids = |v: &Value| -> Vec<(String, String)> {
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (r["client_scan_id"].as_str().unwrap().to_string(), r["scan_id"].as_str().unwrap().to_string())
                })
                .collect()
        };
        assert_eq!(ids(&ra), ids(&rb), "round {round}: both instances answer the same stored scans");
        let created = |v: &Value| v["results"].as_array().unwrap().iter().filter(|r| r["status"] == "created").count();
        let expect_created = if round == 0 { batch.len() } else { 0 };
        assert_eq!(created(&ra) + created(&rb), expect_created, "round {round}: created once in all");
    }
    let per_id = scans_per_client_id(&a);
    assert_eq!(per_id.len(), badges.len());
    assert!(per_id.values().all(|n| *n == 1), "a client_scan_id stored twice: {per_id:?}");
    assert_eq!(count_rows(&a, "leads"), i64::try_from(badges.len()).unwrap());
}

/// The `Message-ID` of each `.eml` file an instance's worker wrote.
fn message_ids(app: &TestApp) -> Vec<String> {
    use mailparse::MailHeaderMap;
    eml_files(app.data_dir.path())
        .iter()
        .map(|path| {
            let raw = std::fs::read(path).unwrap();
            mailparse::parse_mail(&raw).unwrap().headers.get_first_value("Message-ID").expect("a Message-ID")
        })
        .collect()
}

fn outbox_ids(app: &TestApp) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query("SELECT id FROM mail_outbox").load::<Row>(&mut *conn).unwrap().into_iter().map(|r| r.id).collect()
}

async fn both_instances_deliver_each_queued_message_exactly_once(a: TestApp, b: TestApp) {
    let admin = a.admin().await;
    let event = a.event(&admin).await;
    // 200 registrations in one import through A: 200 confirmation mails queued in one
    // commit, while both instances' workers poll the outbox.
    let mut csv = String::from("name,email,is_adult\n");
    for i in 0..200 {
        csv.push_str(&format!("Guest {i},guest{i}@example.org,true\n"));
    }
    let res = a
        .client
        .post(format!("{}/api/v1/events/{event}/attendees/import", a.url))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    let queued = outbox_ids(&a);
    assert_eq!(queued.len(), 200);

    wait_until(Duration::from_secs(120), || count_rows(&a, "mail_outbox WHERE status = 'sent'") == 200).await;
    // A worker writes its file before it records `sent`: give the last ones a moment,
    // then look for anything sent twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (from_a, from_b) = (message_ids(&a), message_ids(&b));
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("outbox of 200: instance A delivered {}, instance B {}\n", from_a.len(), from_b.len()).as_bytes(),
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    for id in from_a.iter().chain(&from_b) {
        *seen.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(from_a.len() + from_b.len(), 200, "each message written once in all");
    assert!(seen.values().all(|n| *n == 1), "a Message-ID delivered twice");
    // Each Message-ID is `<outbox id@domain>`: every queued message is among them.
    let delivered: HashSet<String> =
        seen.keys().map(|m| m.trim_matches(['<', '>']).split('@').next().unwrap().to_string()).collect();
    assert_eq!(delivered, queued.into_iter().collect::<HashSet<_>>());
    assert_eq!(count_rows(&a, "mail_outbox WHERE attempts <> 1"), 0, "no message was claimed twice");
}

/// The claim itself, raced: eight workers (as eight instances would) claim from one outbox
/// of 400 due messages, each claim in its own transaction on its own connection, no lease
/// expiring meanwhile. Every message is claimed exactly once. A bare database, so that no
/// instance's own worker takes part.
#[actix_web::test]
async fn concurrent_claims_of_the_outbox_never_take_the_same_message() {
    use badgegate::mail::worker::claim;
    let Some(admin_url) =
        crate::common::postgres_url_or_skip("concurrent_claims_of_the_outbox_never_take_the_same_message")
    else {
        return;
    };
    let database = crate::common::PgDatabase::create(&admin_url);
    let url = database.url.clone();
    tokio::task::spawn_blocking(move || {
        let db = badgegate::db::Db::connect(&url, 10).unwrap();
        let mut conn = db.get().unwrap();
        let values: Vec<String> = (0..400)
            .map(|i| {
                format!(
                    "('{}', NULL, NULL, 'password_reset', 'r{i}@example.org', 'subject', NULL, 'queued', 0, 0, NULL, NULL, NULL, 0, NULL)",
                    uuid::Uuid::now_v7()
                )
            })
            .collect();
        diesel::sql_query(format!(
            "INSERT INTO mail_outbox (id, event_id, attendee_id, kind, recipient, subject, body, status, attempts, \
             next_attempt_at, lease_owner, lease_until, last_error, created_at, sent_at) VALUES {}",
            values.join(",")
        ))
        .execute(&mut *conn)
        .unwrap();
        drop(conn);
        let claimed: Vec<Vec<String>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|w| {
                    let db = db.clone();
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let owner = format!("worker-{w}");
                            let rows = db
                                .write_blocking(move |conn: &mut DbConn| claim(conn, &owner, 7, Duration::from_secs(600)))
                                .unwrap();
                            if rows.is_empty() {
                                return mine;
                            }
                            mine.extend(rows.into_iter().map(|r| r.id));
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let per_worker: Vec<usize> = claimed.iter().map(Vec::len).collect();
        let all: Vec<&String> = claimed.iter().flatten().collect();
        let distinct: HashSet<&String> = all.iter().copied().collect();
        assert_eq!(all.len(), 400, "claims per worker: {per_worker:?}");
        assert_eq!(distinct.len(), 400, "a message was claimed by two workers");
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("400 messages claimed by 8 racing workers: {per_worker:?}\n").as_bytes(),
        );
    })
    .await
    .unwrap();
    drop(database);
}

/// Instances started at the same moment on a new database (a fresh deployment, or an
/// upgrade with new migrations) all come up: one migrates, the others wait for it.
#[actix_web::test]
async fn instances_started_together_on_a_fresh_database_all_come_up() {
    let Some(admin_url) =
        crate::common::postgres_url_or_skip("instances_started_together_on_a_fresh_database_all_come_up")
    else {
        return;
    };
    let database = crate::common::PgDatabase::create(&admin_url);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let builds = dirs.iter().map(|dir| {
        let mut settings = badgegate::config::Settings::for_data_dir(dir.path().to_path_buf());
        settings.database_url = Some(database.url.clone());
        settings.db_pool_size = 2;
        settings.hash_concurrency = Some(1);
        badgegate::http::server::Application::build(settings)
    });
    let mut handles = Vec::new();
    for built in futures_util::future::join_all(builds).await {
        let app = built.unwrap_or_else(|e| panic!("an instance did not start: {e}"));
        let url = app.public_url().to_string();
        let server = app.into_server();
        handles.push(server.handle());
        actix_web::rt::spawn(server);
        let res = reqwest::get(format!("{url}/readyz")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    for handle in handles {
        handle.stop(false).await;
    }
    drop(database);
}
