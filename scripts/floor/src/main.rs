//! `scan-floor DB_PATH BIND [pool|mutex]`: the least a scan endpoint can do on SQLite. Each
//! request parses the scan's JSON and inserts one row in its own transaction, off the
//! async workers; no authentication, no badge check, no lead, no ledger. What badgegate
//! does beyond this is its price for the rules.
//!
//! `pool` (the default): eight pooled connections, writers meeting in SQLite's busy
//! handler. `mutex`: one connection behind a mutex, so writers queue without the busy
//! handler's sleeps (what badgegate does, without its group commit).

use actix_web::{App, HttpResponse, HttpServer, post, web};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sql_types::Text;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use std::sync::Mutex;

#[derive(serde::Deserialize)]
struct Scan {
    client_scan_id: String,
    badge: String,
    scanned_at: String,
}

#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

type DbPool = Pool<ConnectionManager<SqliteConnection>>;

#[post("/api/v1/scans")]
async fn scan(
    pool: web::Data<DbPool>,
    writer: web::Data<Option<Mutex<SqliteConnection>>>,
    body: web::Json<Scan>,
) -> actix_web::Result<HttpResponse> {
    let scan = body.into_inner();
    let inserted = web::block(move || -> Result<usize, String> {
        let mut pooled;
        let mut locked;
        let conn: &mut SqliteConnection = match writer.as_ref() {
            Some(writer) => {
                locked = writer.lock().map_err(|e| e.to_string())?;
                &mut locked
            }
            None => {
                pooled = pool.get().map_err(|e| e.to_string())?;
                &mut pooled
            }
        };
        diesel::sql_query(
            "INSERT INTO scans (client_scan_id, badge, scanned_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(&scan.client_scan_id)
        .bind::<Text, _>(&scan.badge)
        .bind::<Text, _>(&scan.scanned_at)
        .execute(conn)
        .map_err(|e| e.to_string())
    })
    .await?
    .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(if inserted == 1 { HttpResponse::Created() } else { HttpResponse::Ok() }
        .content_type("application/json")
        .body(r#"{"status":"stored"}"#))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(bind)) = (args.next(), args.next()) else {
        eprintln!("usage: scan-floor DB_PATH BIND");
        std::process::exit(2);
    };
    let pool = Pool::builder()
        .max_size(8)
        .connection_customizer(Box::new(Pragmas))
        .build(ConnectionManager::<SqliteConnection>::new(path.clone()))
        .map_err(std::io::Error::other)?;
    pool.get()
        .map_err(std::io::Error::other)?
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS scans (client_scan_id TEXT PRIMARY KEY NOT NULL, badge TEXT NOT NULL, \
             scanned_at TEXT NOT NULL)",
        )
        .map_err(std::io::Error::other)?;
    let writer = match args.next().as_deref() {
        Some("mutex") => {
            let mut conn = SqliteConnection::establish(&path).map_err(std::io::Error::other)?;
            conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;").map_err(std::io::Error::other)?;
            Some(Mutex::new(conn))
        }
        _ => None,
    };
    let pool = web::Data::new(pool);
    let writer = web::Data::new(writer);
    HttpServer::new(move || App::new().app_data(pool.clone()).app_data(writer.clone()).service(scan))
        .bind(bind)?
        .run()
        .await
}
