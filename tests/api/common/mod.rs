//! Black-box test harness: each test spawns the service on port 0 with a fresh database
//! (a SQLite temp file, or a fresh PostgreSQL database that is dropped afterwards).
#![allow(dead_code)]

pub mod browser;
pub mod smtp;

use std::io::Write;

use badgegate::auth::{Role, users};
use badgegate::config::Settings;
use badgegate::db::Db;
use badgegate::http::server::Application;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    server: actix_web::dev::ServerHandle,
    /// The `/metrics` listener's port, when the settings asked for one.
    pub metrics_port: Option<u16>,
}

/// A fresh PostgreSQL database, dropped (WITH FORCE) when this drops.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create(admin_url: &str) -> PgDatabase {
        let name = format!("bg_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(admin_url).unwrap();
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).unwrap();
        let url = without_tls(&replace_db_name(admin_url, &name));
        PgDatabase { admin_url: admin_url.to_string(), name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ =
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)).execute(&mut conn);
        }
    }
}

/// Loopback needs no TLS, and libpq's OpenSSL is torn down by `exit()` while pool threads
/// may still be opening connections when the test process ends (a segfault in an
/// `r2d2-worker` thread after every test had passed). An explicit `sslmode` is kept.
fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let slash = base.rfind('/').unwrap();
    let mut out = format!("{}/{}", &base[..slash], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The settings every test starts from. The per-IP limits are raised so far that no
/// scenario meets them (every request comes from 127.0.0.1); the scenarios about those
/// limits set them again.
fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::for_data_dir(data_dir.to_path_buf());
    settings.db_pool_size = 4;
    settings.hash_concurrency = Some(2);
    settings.login_limit = 1_000_000;
    settings.register_limit = 1_000_000;
    settings.privacy_limit = 1_000_000;
    settings
}

/// Says so on the real stderr (not captured by the test harness) when PostgreSQL is off.
pub fn postgres_url_or_skip(test: &str) -> Option<String> {
    match std::env::var("BADGEGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(without_tls(&url)),
        _ => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test} [postgres]: BADGEGATE_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, with the test settings (see `test_settings`) changed by `configure` last.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(data_dir.path());
        let mut pg = None;
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.path().join("test.db").display()),
            Backend::Postgres => {
                let db = PgDatabase::create(&without_tls(&std::env::var("BADGEGATE_TEST_POSTGRES_URL").unwrap()));
                let url = db.url.clone();
                pg = Some(db);
                url
            }
        };
        settings.database_url = Some(database_url.clone());
        configure(&mut settings);
        let app = Application::build(settings).await.unwrap();
        let url = app.public_url().to_string();
        let metrics_port = app.metrics_port();
        let server = app.into_server();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            metrics_port,
            url,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            backend,
            database_url,
            data_dir,
            pg,
            server: handle,
        }
    }

    /// Stops the service and starts it again on the same data directory and database, with
    /// the test settings changed by `configure` (as a restart with new settings would).
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Settings)) {
        self.server.stop(true).await;
        let mut settings = test_settings(self.data_dir.path());
        settings.database_url = Some(self.database_url.clone());
        configure(&mut settings);
        let app = Application::build(settings).await.unwrap();
        self.url = app.public_url().to_string();
        let server = app.into_server();
        self.server = server.handle();
        actix_web::rt::spawn(server);
    }

    pub fn db(&self) -> Db {
        Db::connect(&self.database_url, 1).unwrap()
    }

    /// Creates a staff account directly, as `badgegate admin create` does.
    pub async fn create_staff(&self, email: &str, role: Role) {
        let url = self.database_url.clone();
        let email = email.to_string();
        tokio::task::spawn_blocking(move || {
            let db = Db::connect(&url, 1).unwrap();
            let mut conn = db.get().unwrap();
            users::create_staff_blocking(&mut conn, &email, PASSWORD, role).unwrap();
        })
        .await
        .unwrap();
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, email: &str) -> String {
        let res = self.login(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {email} failed");
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
    }

    /// A fresh admin and its token.
    pub async fn admin(&self) -> String {
        let email = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
        self.create_staff(&email, Role::Admin).await;
        self.token(&email).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client.get(format!("{}{}", self.url, path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client.post(format!("{}{}", self.url, path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client.patch(format!("{}{}", self.url, path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    /// An event running from yesterday to tomorrow.
    pub async fn event(&self, admin: &str) -> String {
        let now = time::OffsetDateTime::now_utc();
        let fmt = &time::format_description::well_known::Rfc3339;
        let body = json!({
            "name": format!("Expo {}", uuid::Uuid::new_v4().simple()),
            "starts_at": (now - time::Duration::days(1)).format(fmt).unwrap(),
            "ends_at": (now + time::Duration::days(1)).format(fmt).unwrap(),
        });
        let res = self.post(admin, "/api/v1/events", &body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
    }

    pub async fn partner(&self, admin: &str, event_id: &str, name: &str) -> String {
        let res = self.post(admin, &format!("/api/v1/events/{event_id}/partners"), &json!({"name": name})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
    }

    /// Registers a participant; returns the 201 body.
    pub async fn register(&self, token: &str, event_id: &str, body: Value) -> Value {
        let res = self.post(token, &format!("/api/v1/events/{event_id}/attendees"), &body).await;
        assert_eq!(res.status(), StatusCode::CREATED, "registration failed");
        res.json::<Value>().await.unwrap()
    }

    /// Imports participants from a CSV body; `query` as in `?send_confirmation=false`.
    pub async fn import_csv(
        &self,
        token: &str,
        event_id: &str,
        query: &str,
        csv: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(format!("{}/api/v1/events/{event_id}/attendees/import{query}", self.url))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap()
    }
}

/// Several instances on one database (`tests/api/instances.rs`).
impl TestApp {
    /// Another instance of the service on this app's PostgreSQL database, as an operator
    /// runs several behind a load balancer: its own data directory (so its own `.eml`
    /// outbox) holding copies of the same token and badge secrets, as the README asks.
    /// The database stays this app's: dropping the second instance leaves it.
    pub async fn spawn_instance(&self) -> TestApp {
        assert_eq!(self.backend, Backend::Postgres, "instances share a PostgreSQL database");
        let data_dir = tempfile::tempdir().unwrap();
        for secret in ["token-secret", "badge-secret"] {
            // `copy` keeps the file's mode (0600), which the start-up check insists on.
            std::fs::copy(self.data_dir.path().join(secret), data_dir.path().join(secret)).unwrap();
        }
        let mut settings = test_settings(data_dir.path());
        settings.database_url = Some(self.database_url.clone());
        let app = Application::build(settings).await.unwrap();
        let url = app.public_url().to_string();
        let server = app.into_server();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            url,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            backend: self.backend,
            database_url: self.database_url.clone(),
            data_dir,
            pg: None,
            server: handle,
            metrics_port: None,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting work; the runtime ends with the test. The PostgreSQL database is
        // dropped (WITH FORCE) when `pg` drops.
        drop(self.server.stop(false));
        let _ = self.pg.take();
    }
}

/// Declares one test per backend around an `async fn(Backend)` scenario that starts its
/// own service (it chooses the settings, e.g. the SMTP server).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if $crate::common::postgres_url_or_skip(stringify!($name)).is_none() {
                        return;
                    }
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Declares one test per backend around an `async fn(TestApp)` scenario.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if $crate::common::postgres_url_or_skip(stringify!($name)).is_none() {
                        return;
                    }
                    let app = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await;
                    super::$name(app).await;
                }
            )*
        }
    };
}

pub async fn problem(res: Response) -> Value {
    assert_eq!(
        res.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "expected a problem+json body"
    );
    res.json::<Value>().await.unwrap()
}

/// The link in the newest outbox message of `kind` (`invitation`, `password_reset`) to
/// `email`, opened with the service's own outbox key (read from the data directory).
pub fn mailed_link(app: &TestApp, email: &str, kind: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct B {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        body: Option<String>,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    let rows: Vec<B> = diesel::sql_query(format!(
        "SELECT body FROM mail_outbox WHERE recipient = '{email}' AND kind = '{kind}' ORDER BY created_at DESC, id DESC"
    ))
    .load(&mut *conn)
    .unwrap();
    let sealed = rows.first().and_then(|r| r.body.clone()).unwrap_or_else(|| panic!("no {kind} mail to {email}"));
    let secret = badgegate::auth::secrets::load_or_create(app.data_dir.path(), "badge-secret", None).unwrap();
    let key = badgegate::mail::OutboxKey::from_badge_key(&badgegate::badges::BadgeKey::new(&secret)).unwrap();
    match key.open(&sealed).unwrap() {
        badgegate::mail::Body::Invitation(f) => f.link,
        badgegate::mail::Body::PasswordReset(f) => f.link,
        other => panic!("not a link mail: {other:?}"),
    }
}

/// The token of a mailed link (its last path segment).
pub fn link_token(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

/// Invites a partner user by e-mail as `inviter`; answers the user id.
pub async fn invite(app: &TestApp, inviter: &str, event: &str, partner: &str, email: &str, role: &str) -> String {
    let res = app
        .post(
            inviter,
            &format!("/api/v1/events/{event}/partners/{partner}/users"),
            &json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "invitation of {email} failed");
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// Accepts the invitation mailed to `email` with `password`, as the invitee would.
pub async fn accept_invitation(app: &TestApp, email: &str, password: &str) {
    let token = link_token(&mailed_link(app, email, "invitation"));
    let res = app
        .client
        .post(format!("{}/api/v1/auth/invitations/accept", app.url))
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "accepting the invitation of {email} failed");
}

/// A partner user invited by a staff admin, who accepted with [`PASSWORD`]; returns
/// (user id, token).
pub async fn partner_user(app: &TestApp, admin: &str, event: &str, partner: &str, role: &str) -> (String, String) {
    let email = format!("{role}-{}@partner.example", uuid::Uuid::new_v4().simple());
    let id = invite(app, admin, event, partner, &email, role).await;
    accept_invitation(app, &email, PASSWORD).await;
    (id, app.token(&email).await)
}

/// A user a [`World`] can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    AcmeAdmin,
    AcmeScanner,
    GlobexAdmin,
    GlobexScanner,
    /// A staff registrar (not bound to the event, like every staff account).
    Registrar,
}

/// What most scenarios start from: an admin, an event running from yesterday to tomorrow,
/// two partners (Acme and Globex unless named otherwise) and only the users asked for,
/// because every account costs two password hashes and some scenarios count users.
pub struct World {
    pub admin: String,
    pub event: String,
    /// The first partner's id.
    pub acme: String,
    /// The second partner's id.
    pub globex: String,
    users: Vec<(Who, String, String)>,
}

pub struct WorldBuilder {
    names: (&'static str, &'static str),
    users: Vec<Who>,
}

/// The plain world: admin, event, Acme and Globex, no partner users.
pub async fn world(app: &TestApp) -> World {
    World::builder().build(app).await
}

impl World {
    pub fn builder() -> WorldBuilder {
        WorldBuilder { names: ("Acme", "Globex"), users: Vec::new() }
    }

    fn user(&self, who: Who) -> &(Who, String, String) {
        self.users
            .iter()
            .find(|u| u.0 == who)
            .unwrap_or_else(|| panic!("this world was built without {who:?}: add .with(Who::{who:?})"))
    }

    pub fn token(&self, who: Who) -> &str {
        &self.user(who).2
    }

    pub fn user_id(&self, who: Who) -> &str {
        &self.user(who).1
    }

    pub fn acme_admin(&self) -> &str {
        self.token(Who::AcmeAdmin)
    }

    pub fn globex_scanner(&self) -> &str {
        self.token(Who::GlobexScanner)
    }
}

impl WorldBuilder {
    /// Names the two partners (some scenarios assert on the names in reports).
    pub fn partners(mut self, first: &'static str, second: &'static str) -> Self {
        self.names = (first, second);
        self
    }

    /// Adds one user; users are created in the order asked for, after the partners.
    pub fn with(mut self, who: Who) -> Self {
        self.users.push(who);
        self
    }

    pub async fn build(self, app: &TestApp) -> World {
        let admin = app.admin().await;
        let event = app.event(&admin).await;
        let acme = app.partner(&admin, &event, self.names.0).await;
        let globex = app.partner(&admin, &event, self.names.1).await;
        let mut users = Vec::new();
        for who in self.users {
            let (id, token) = match who {
                Who::AcmeAdmin => partner_user(app, &admin, &event, &acme, "partner_admin").await,
                Who::AcmeScanner => partner_user(app, &admin, &event, &acme, "scanner").await,
                Who::GlobexAdmin => partner_user(app, &admin, &event, &globex, "partner_admin").await,
                Who::GlobexScanner => partner_user(app, &admin, &event, &globex, "scanner").await,
                Who::Registrar => {
                    let email = format!("registrar-{}@example.org", uuid::Uuid::new_v4().simple());
                    app.create_staff(&email, Role::Registrar).await;
                    let token = app.token(&email).await;
                    let me: Value = app.get(&token, "/api/v1/auth/me").await.json().await.unwrap();
                    (me["id"].as_str().unwrap().to_string(), token)
                }
            };
            users.push((who, id, token));
        }
        World { admin, event, acme, globex, users }
    }
}

/// The QR payload of a registration response.
pub fn payload(registered: &Value) -> String {
    format!("BG1-{}", registered["badge"]["fallback_code"].as_str().unwrap().replace('-', ""))
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap()
}

pub fn scan_body(badge: &str) -> Value {
    json!({"client_scan_id": uuid::Uuid::new_v4().to_string(), "badge": badge, "scanned_at": now_rfc3339()})
}

/// Counts rows of a table straight from the database.
pub fn count_rows(app: &TestApp, table: &str) -> i64 {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(&mut *conn).unwrap().n
}

/// Decodes the one QR code of a PNG as a phone's decoder would (rqrr); returns its error
/// correction level (0 = L, 1 = M, …) and its text.
pub fn decode_qr_png(png: &[u8]) -> (u16, String) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let width = info.width as usize;
    let luma = |x: usize, y: usize| -> u8 {
        let i = (y * width + x) * channels;
        if channels < 3 {
            buf[i]
        } else {
            let (r, g, b) = (u32::from(buf[i]), u32::from(buf[i + 1]), u32::from(buf[i + 2]));
            ((r * 299 + g * 587 + b * 114) / 1000) as u8
        }
    };
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, info.height as usize, luma);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (meta, content) = grids[0].decode().unwrap();
    (meta.ecc_level, content)
}
