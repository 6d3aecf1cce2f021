//! Step 7, issue 11 points 1 and 2: an erased participant leaves no byte in the database
//! files, and the files are for the service's own user only.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Backend, TestApp, Who, World, payload, scan_body};
use badgegate::config::Settings;
use badgegate::http::server::Application;
use diesel::prelude::*;
use serde_json::{Value, json};

both_backends!(
    erasure_through_the_privacy_link_leaves_no_trace_in_the_database_files,
    erasure_by_staff_leaves_no_trace_in_the_database_files,
    an_under_18_flag_leaves_no_trace_in_the_database_files,
);

#[derive(Clone, Copy)]
enum Path_ {
    SelfService,
    Staff,
    Under18,
}

/// Unique values in every contact field and in the staff-written texts about the person.
struct Canaries {
    name: String,
    email: String,
    phone: String,
    company: String,
    address: String,
    request_note: String,
    scan_note: String,
}

impl Canaries {
    fn new() -> Canaries {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let t = &tag[..12];
        let digits: String = tag.bytes().filter(u8::is_ascii_digit).take(6).map(char::from).collect();
        Canaries {
            name: format!("Qzname{t} Canary"),
            email: format!("qzmail{t}@example.org"),
            phone: format!("+49 151 9{digits:0<6}3"),
            company: format!("Qzco{t} GmbH"),
            address: format!("{t} Qzstreet 7, Canary Town"),
            request_note: format!("Letter signed by the writer qznote{t}"),
            scan_note: format!("met at the booth qzscan{t}"),
        }
    }

    /// What must not remain, lower-cased (the search column holds lower-cased copies).
    fn needles(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.to_lowercase()),
            ("email", self.email.to_lowercase()),
            ("phone", self.phone.to_lowercase()),
            ("company", self.company.to_lowercase()),
            ("address", self.address.to_lowercase()),
            ("request note", self.request_note.to_lowercase()),
            ("scan note", self.scan_note.to_lowercase()),
        ]
    }
}

/// The canaries found in `bytes` (ASCII case-insensitive), by field.
pub(crate) fn found_in(bytes: &[u8], needles: &[(&'static str, String)]) -> Vec<&'static str> {
    let lower = bytes.to_ascii_lowercase();
    needles.iter().filter(|(_, n)| lower.windows(n.len()).any(|w| w == n.as_bytes())).map(|(field, _)| *field).collect()
}

/// Every file of the SQLite data dir (database, -wal, -shm, secrets), byte by byte.
fn sqlite_leftovers(dir: &Path, needles: &[(&'static str, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        for field in found_in(&bytes, needles) {
            out.push(format!("{field} in {}", path.file_name().unwrap().to_string_lossy()));
        }
    }
    out
}

/// The files of every table, index and TOAST relation of the test database, after a
/// CHECKPOINT; None when this process cannot read them (PostgreSQL on another host or user).
fn postgres_files(app: &TestApp) -> Option<Vec<PathBuf>> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        data_directory: String,
    }
    #[derive(QueryableByName)]
    struct Rel {
        #[diesel(sql_type = diesel::sql_types::Text)]
        path: String,
    }
    let mut conn = PgConnection::establish(&app.database_url).unwrap();
    diesel::sql_query("CHECKPOINT").execute(&mut conn).unwrap();
    let dir = diesel::sql_query("SHOW data_directory").get_result::<Setting>(&mut conn).ok()?.data_directory;
    let rels: Vec<Rel> = diesel::sql_query(
        "SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't')
           AND pg_relation_filepath(c.oid) IS NOT NULL",
    )
    .load(&mut conn)
    .unwrap();
    let mut files = Vec::new();
    for rel in rels {
        let base = Path::new(&dir).join(&rel.path);
        // A relation over 1 GB continues in base.1, base.2, …
        let mut segment = 0;
        loop {
            let path = if segment == 0 { base.clone() } else { PathBuf::from(format!("{}.{segment}", base.display())) };
            match std::fs::File::open(&path) {
                Ok(_) => files.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) => return None,
            }
            segment += 1;
        }
    }
    Some(files)
}

fn postgres_leftovers(files: &[PathBuf], needles: &[(&'static str, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for path in files {
        // A file may go between listing and reading (a rewrite unlinks the old one).
        let Ok(bytes) = std::fs::read(path) else { continue };
        for field in found_in(&bytes, needles) {
            out.push(format!("{field} in {}", path.display()));
        }
    }
    out
}

/// Where the database files are, or None (PostgreSQL files unreadable here: skipped, said so).
pub(crate) fn leftovers(app: &TestApp, needles: &[(&'static str, String)], test: &str) -> Option<Vec<String>> {
    match app.backend {
        Backend::Sqlite => Some(sqlite_leftovers(app.data_dir.path(), needles)),
        Backend::Postgres => match postgres_files(app) {
            Some(files) => Some(postgres_leftovers(&files, needles)),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test} [postgres files]: the relation files are not readable by this process"
                );
                None
            }
        },
    }
}

async fn erase_and_look(app: TestApp, path: Path_, test: &str) {
    let w = World::builder().with(Who::AcmeAdmin).with(Who::AcmeScanner).build(&app).await;
    let (acme_admin, scanner) = (w.acme_admin().to_string(), w.token(Who::AcmeScanner).to_string());
    let World { admin, event, acme, .. } = w;
    let c = Canaries::new();
    let reg = app
        .register(
            &admin,
            &event,
            json!({"name": c.name, "email": c.email, "phone": c.phone, "company": c.company, "address": c.address,
                   "is_adult": true, "share_with_partners": [acme]}),
        )
        .await;
    let attendee = reg["id"].as_str().unwrap().to_string();
    let other = app
        .register(&admin, &event, json!({"name": "Other Person", "email": "other@example.org", "is_adult": true}))
        .await;
    let res = app
        .post(
            &admin,
            "/api/v1/requests",
            &json!({"event_id": event, "attendee_id": attendee, "kind": "erasure", "channel": "email",
                    "notes": c.request_note}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mut scan = scan_body(&payload(&reg));
    scan["notes"] = json!(c.scan_note);
    assert_eq!(app.post(&scanner, "/api/v1/scans", &scan).await.status(), 201);
    let csv = app.get(&acme_admin, "/api/v1/leads/export.csv").await.text().await.unwrap();
    assert!(csv.contains(&c.name) && csv.contains(&c.email), "the export carries the participant");
    // An incident whose narrative names the participant.
    let now = crate::common::now_rfc3339();
    let res = app
        .post(
            &admin,
            "/api/v1/incidents",
            &json!({"title": "Lost printout", "description": format!("The printout listed {} and {}.", c.name, c.email),
                    "discovered_at": now, "scope": {"event_id": event}, "window": {"from": now, "to": now}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let incident = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    // The confirmations wait in the outbox with the address, which erasure must remove too.
    assert_eq!(crate::common::count_rows(&app, "mail_outbox WHERE kind = 'confirmation'"), 2);
    let needles = c.needles();
    if app.backend == Backend::Postgres {
        // ANALYZE samples column values into pg_statistic, which no VACUUM clears.
        let mut conn = PgConnection::establish(&app.database_url).unwrap();
        diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
    }
    // The check can see them before the erasure (so it would see them after).
    if let Some(before) = leftovers(&app, &needles, test) {
        for field in ["name", "email", "phone", "company", "address", "request note", "scan note"] {
            assert!(before.iter().any(|l| l.starts_with(field)), "{field} not found before the erasure: {before:?}");
        }
    }

    let res = match path {
        Path_::SelfService => {
            let token = reg["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
            app.post(&token, "/api/v1/me/erasure", &json!({"confirm": true})).await
        }
        Path_::Staff => {
            app.post(&admin, &format!("/api/v1/events/{event}/attendees/{attendee}/erasure"), &json!({})).await
        }
        Path_::Under18 => {
            app.post(&admin, &format!("/api/v1/events/{event}/attendees/{attendee}/under-18"), &json!({})).await
        }
    };
    assert_eq!(res.status(), 200);

    // The incident keeps its story without the person.
    let inc: Value = app.get(&admin, &format!("/api/v1/incidents/{incident}")).await.json().await.unwrap();
    assert_eq!(inc["description"], "The printout listed (erased) and (erased).");

    // The server keeps taking scans meanwhile, and afterwards.
    let started = Instant::now();
    let mut left = Vec::new();
    let mut scans = 0;
    // SQLite promises 5 s; PostgreSQL gets longer for other sessions' snapshots to end.
    let limit = if app.backend == Backend::Postgres { 20 } else { 5 };
    while started.elapsed() < Duration::from_secs(limit) {
        assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&other))).await.status(), 201);
        scans += 1;
        if app.backend == Backend::Postgres {
            // PostgreSQL: the erasure ran VACUUM; the bytes leave the files with the
            // scheduled compaction (`badgegate purge --compact`), run here as cron would.
            // Another session's older snapshot keeps the old rows until it ends: retried.
            let db = app.db();
            tokio::task::spawn_blocking(move || db.compact()).await.unwrap().unwrap();
        }
        match leftovers(&app, &needles, test) {
            None => return,
            Some(l) if l.is_empty() => {
                left.clear();
                break;
            }
            Some(l) => left = l,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "erased values still in the database files after {limit} s: {left:?}");
    if app.backend == Backend::Postgres {
        #[derive(QueryableByName)]
        struct Sample {
            #[diesel(sql_type = diesel::sql_types::Text)]
            sample: String,
        }
        let mut conn = PgConnection::establish(&app.database_url).unwrap();
        let samples: Vec<Sample> = diesel::sql_query(
            "SELECT concat(most_common_vals::text, ' ', histogram_bounds::text) AS sample FROM pg_stats
              WHERE schemaname = 'public'",
        )
        .load(&mut conn)
        .unwrap();
        let all: String = samples.into_iter().map(|s| s.sample).collect::<Vec<_>>().join("\n");
        assert_eq!(found_in(all.as_bytes(), &needles), Vec::<&str>::new(), "erased values in pg_statistic");
    }
    assert!(scans >= 1);
    assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&other))).await.status(), 201);
}

async fn erasure_through_the_privacy_link_leaves_no_trace_in_the_database_files(app: TestApp) {
    erase_and_look(app, Path_::SelfService, "erasure_through_the_privacy_link_leaves_no_trace_in_the_database_files")
        .await;
}

async fn erasure_by_staff_leaves_no_trace_in_the_database_files(app: TestApp) {
    erase_and_look(app, Path_::Staff, "erasure_by_staff_leaves_no_trace_in_the_database_files").await;
}

async fn an_under_18_flag_leaves_no_trace_in_the_database_files(app: TestApp) {
    erase_and_look(app, Path_::Under18, "an_under_18_flag_leaves_no_trace_in_the_database_files").await;
}

// ---- file modes (SQLite default layout: the data dir holds the database and the secrets)

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn settings_in(dir: &Path) -> Settings {
    let mut s = Settings::for_data_dir(dir.to_path_buf());
    s.db_pool_size = 2;
    s.hash_concurrency = Some(1);
    s
}

async fn build_error(settings: Settings) -> String {
    match Application::build(settings).await {
        Ok(_) => panic!("the service started"),
        Err(e) => e,
    }
}

#[actix_web::test]
async fn a_fresh_start_creates_files_only_the_service_user_can_read() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let app = Application::build(settings_in(&dir)).await.unwrap();
    assert_eq!(mode(&dir), 0o700, "data dir");
    for file in ["badgegate.db", "badgegate.db-wal", "badgegate.db-shm", "token-secret", "badge-secret"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    drop(app.into_server().handle().stop(false));
}

#[actix_web::test]
async fn a_secret_file_readable_by_others_is_refused_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = dir.join("token-secret");
    std::fs::write(&secret, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = build_error(settings_in(&dir)).await;
    let p = secret.display();
    assert_eq!(e, format!("refusing to start: {p} is readable by group or others; run: chmod 600 {p}"));
}

#[actix_web::test]
async fn a_database_file_readable_by_others_is_refused_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    // The files an earlier start left, owner-only, before someone loosens a mode. The test
    // writes them itself: an earlier start's threads, still closing the database after its
    // stop, may delete the WAL under the test (the likely cause of one CI failure).
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for file in ["badgegate.db", "badgegate.db-wal"] {
        let db = dir.join(file);
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for file in ["badgegate.db", "badgegate.db-wal"] {
        let db = dir.join(file);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = build_error(settings_in(&dir)).await;
        let p = db.display();
        assert_eq!(e, format!("refusing to start: {p} is readable by group or others; run: chmod 600 {p}"));
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let shared = dir.join("badgegate.db");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o620)).unwrap();
    let e = build_error(settings_in(&dir)).await;
    assert!(e.contains("is writable by group or others; run: chmod 600"), "{e}");
}

#[actix_web::test]
async fn a_data_dir_others_can_write_in_is_refused_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = build_error(settings_in(&dir)).await;
    let p = dir.display();
    assert_eq!(e, format!("refusing to start: {p} is writable by group or others; run: chmod 700 {p}"));
}
