//! Lead exports, read from the database through the gate: CSV streamed, XLSX built whole.
//!
//! Rows are read in pages of participants; each page is released (ledger rows written,
//! committed) before its bytes are sent, so the ledger never misses a delivered row. The
//! CSV goes out page by page and its memory stays flat however large the export; the XLSX
//! is a zip of XML parts that can only be written once every row is known (see
//! [`xlsx`]). Both keep, in the export record, the row count and the SHA-256 of the bytes
//! delivered.

use std::collections::HashMap;

pub mod handlers;
mod workbook;

use diesel::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use crate::auth::PartnerScope;
use crate::csv_cells::csv_bytes;
use crate::db::schema::{exports, users};
use crate::db::{Db, DbConn, new_id, now_ms};
use crate::error::AppResult;
use crate::events::{self, EventRow};
use crate::gate::{self, Channel, Release, Selection};

const PAGE: i64 = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = exports)]
pub struct ExportRow {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub row_count: Option<i64>,
    pub sha256: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `excel` prepends a UTF-8 byte order mark so Excel reads UTF-8.
    #[param(value_type = Option<String>, pattern = "^excel$")]
    pub dialect: Option<String>,
}

/// Columns: the contact fields the event releases (of name, company, address, phone,
/// email), then basis, first_scanned_at, scanned_by, notes, rating, answers (JSON),
/// lead_id, last_scanned_at. Columns added later go at the end, so a CRM import mapped by
/// position keeps working. Times are the event's local time with its offset
/// ([`EventRow::local_time`]); a participant released by opt-in alone has no lead, so no
/// lead id and no times.
fn header(fields: &[&'static str]) -> Vec<String> {
    let mut h: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    h.extend(
        ["basis", "first_scanned_at", "scanned_by", "notes", "rating", "answers", "lead_id", "last_scanned_at"]
            .map(String::from),
    );
    h
}

fn record(r: &Release, fields: &[&'static str], event: &EventRow, scanners: &HashMap<String, String>) -> Vec<String> {
    let c = &r.contact;
    let mut cells: Vec<String> = fields
        .iter()
        .map(|f| {
            match *f {
                "name" => c.name.clone(),
                "company" => c.company.clone(),
                "address" => c.address.clone(),
                "phone" => c.phone.clone(),
                "email" => c.email.clone(),
                _ => None,
            }
            .unwrap_or_default()
        })
        .collect();
    let lead = r.lead.as_ref();
    cells.push(r.basis.as_str().to_string());
    cells.push(lead.map(|l| event.local_time(l.first_scanned_at)).unwrap_or_default());
    cells.push(lead.and_then(|l| scanners.get(&l.first_scanned_by).cloned()).unwrap_or_default());
    cells.push(lead.and_then(|l| l.notes.clone()).unwrap_or_default());
    cells.push(lead.and_then(|l| l.rating).map(|r| r.to_string()).unwrap_or_default());
    cells.push(lead.and_then(|l| l.answers.clone()).unwrap_or_default());
    cells.push(lead.map(|l| l.id.clone()).unwrap_or_default());
    cells.push(lead.map(|l| event.local_time(l.last_scanned_at)).unwrap_or_default());
    cells
}

/// Opens an export record for the partner (refused while the operator suspends it);
/// answers the event's slug, for the file name, and the record.
pub fn start(conn: &mut DbConn, scope: &PartnerScope) -> AppResult<(String, ExportRow)> {
    gate::ensure_not_suspended(conn, scope)?;
    let event = events::find(conn, &scope.event_id)?;
    let export = ExportRow {
        id: new_id(),
        event_id: scope.event_id.clone(),
        partner_id: scope.partner_id.clone(),
        user_id: scope.user_id.clone(),
        started_at: now_ms(),
        completed_at: None,
        row_count: None,
        sha256: None,
    };
    diesel::insert_into(exports::table).values(&export).execute(conn)?;
    Ok((event.slug, export))
}

/// What every row of one export needs, read once before the first page.
struct Layout {
    event: EventRow,
    fields: Vec<&'static str>,
    scanners: HashMap<String, String>,
}

impl Layout {
    fn read(db: &Db, scope: &PartnerScope) -> AppResult<Self> {
        db.read_blocking(|conn| {
            let event = events::find(conn, &scope.event_id)?;
            let fields = gate::fields_for(Channel::Export, scope.role, &event);
            let scanners: HashMap<String, String> = users::table
                .filter(users::partner_id.eq(&scope.partner_id))
                .select((users::id, users::email))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect();
            Ok(Layout { event, fields, scanners })
        })
    }

    fn header(&self) -> Vec<String> {
        header(&self.fields)
    }

    fn record(&self, r: &Release) -> Vec<String> {
        record(r, &self.fields, &self.event, &self.scanners)
    }
}

/// Releases the export's participants in pages, each page's ledger rows committed before
/// `each` sees it; stops early when `each` answers false. Answers the rows released.
fn release_pages(
    db: &Db,
    scope: &PartnerScope,
    export_id: &str,
    mut each: impl FnMut(&[Release]) -> AppResult<bool>,
) -> AppResult<i64> {
    let mut rows = 0i64;
    let mut after: Option<String> = None;
    loop {
        let page = db.write_blocking(|conn| {
            gate::release(
                conn,
                scope,
                Channel::Export,
                Selection::After { after: after.as_deref(), limit: PAGE },
                Some(export_id),
            )
        })?;
        let Some(last) = page.last() else { break };
        after = Some(last.attendee_id.clone());
        let page_rows = i64::try_from(page.len()).unwrap_or(i64::MAX);
        rows += page_rows;
        if !each(&page)? || page_rows < PAGE {
            break;
        }
    }
    Ok(rows)
}

/// Closes the export record with what was delivered.
fn complete(db: &Db, export_id: &str, rows: i64, digest: String) -> AppResult<()> {
    db.write_blocking(|conn| {
        diesel::update(exports::table.find(export_id))
            .set((
                exports::completed_at.eq(Some(now_ms())),
                exports::row_count.eq(Some(rows)),
                exports::sha256.eq(Some(digest)),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    tracing::info!(export_id, rows, "export delivered");
    Ok(())
}

/// Writes the export in pages to `send`, each page released through the gate and its
/// ledger rows committed before its bytes go out; stops early when `send` answers false
/// (the client went away). Blocking: run on a blocking thread.
pub fn stream(
    db: &Db,
    scope: &PartnerScope,
    export_id: &str,
    excel: bool,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> AppResult<()> {
    let layout = Layout::read(db, scope)?;
    let mut hasher = Sha256::new();
    let mut first = csv_bytes([layout.header()])?;
    if excel {
        first.splice(0..0, [0xEF, 0xBB, 0xBF]);
    }
    hasher.update(&first);
    if !send(first) {
        return Ok(());
    }
    let mut gone = false;
    let rows = release_pages(db, scope, export_id, |page| {
        let bytes = csv_bytes(page.iter().map(|r| layout.record(r)))?;
        hasher.update(&bytes);
        gone = !send(bytes);
        Ok(!gone)
    })?;
    if gone {
        tracing::warn!(export_id, rows, "export client went away");
    }
    complete(db, export_id, rows, hex::encode(hasher.finalize()))
}

/// Builds the export as one XLSX workbook: the CSV's columns and rows, released and
/// ledgered through the same pages, every cell a text cell. Blocking: run on a blocking
/// thread.
///
/// Unlike the CSV this holds the whole export in memory until it is sent: the writer
/// keeps every cell until the workbook is closed, then zips the sheet into a buffer, and
/// the response body is that buffer. At 100,000 leads (13 columns, a 5 MB file) the
/// server's peak RSS grew by 225–310 MiB while the workbook was built (10,000 leads:
/// +37 MiB; BENCHMARKS.md, "XLSX export"), and nothing reaches the client until the last
/// row is in (3 s on SQLite). Concurrent XLSX exports add up; the CSV stays the download
/// for very large exports. rust_xlsxwriter's `constant_memory` mode would flush rows to
/// an unnamed temporary file instead, which puts participants' contact data on disk
/// outside the database that erasure cleans, so it is not used. The export record is
/// completed when the workbook is built, with the digest of the bytes about to be sent;
/// the ledger rows are committed page by page before that, as for the CSV.
pub fn xlsx(db: &Db, scope: &PartnerScope, export_id: &str) -> AppResult<Vec<u8>> {
    let layout = Layout::read(db, scope)?;
    let mut sheet = workbook::Sheet::new(&layout.header())?;
    let rows = release_pages(db, scope, export_id, |page| {
        for r in page {
            sheet.push(&layout.record(r))?;
        }
        Ok(true)
    })?;
    let bytes = sheet.finish()?;
    complete(db, export_id, rows, hex::encode(Sha256::digest(&bytes)))?;
    Ok(bytes)
}
