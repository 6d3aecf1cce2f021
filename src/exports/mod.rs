//! Lead exports, read from the database through the gate: CSV streamed, XLSX built whole.
//!
//! Rows are read in pages of participants; each page is released (ledger rows written,
//! committed) before its bytes are sent, so the ledger never misses a delivered row. The
//! CSV goes out page by page and its memory stays flat however large the export; the XLSX
//! is a zip of XML parts that can only be written once every row is known (see
//! [`xlsx`]). Both keep, in the export record, the row count and the SHA-256 of the bytes
//! delivered.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread;

pub mod handlers;
mod workbook;

use diesel::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use crate::auth::PartnerScope;
use crate::csv_cells::csv_bytes_with;
use crate::db::schema::{exports, leads, users};
use crate::db::{Db, DbConn, new_id, now_ms};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventRow};
use crate::gate::{self, Channel, Release, Selection};
use crate::scans::notes::{self as scan_notes, ScanNote};

const PAGE: i64 = 1000;
/// On PostgreSQL, pages released at once (see [`release_pages`]).
const RELEASERS: usize = 2;
/// On PostgreSQL, pages released at most ahead of the one being sent.
const AHEAD: usize = 3;

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
    /// `excel` prepends a UTF-8 byte order mark so Excel reads UTF-8; `excel-semicolon`
    /// also separates fields with `;`, as Excel expects where the decimal mark is a comma
    /// (German, Spanish, French settings).
    #[param(value_type = Option<String>, pattern = "^(excel|excel-semicolon)$")]
    pub dialect: Option<String>,
}

/// How the CSV export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// RFC 4180: `,`, no byte order mark.
    Rfc,
    /// A UTF-8 byte order mark, then as RFC 4180.
    Excel,
    /// A UTF-8 byte order mark and `;` between fields.
    ExcelSemicolon,
}

impl Dialect {
    /// `?dialect=`; a 422 naming it otherwise.
    pub fn parse(value: Option<&str>) -> AppResult<Dialect> {
        match value {
            None => Ok(Dialect::Rfc),
            Some("excel") => Ok(Dialect::Excel),
            Some("excel-semicolon") => Ok(Dialect::ExcelSemicolon),
            Some(_) => Err(AppError::field("dialect", "must be excel or excel-semicolon")),
        }
    }

    fn delimiter(self) -> u8 {
        if self == Dialect::ExcelSemicolon { b';' } else { b',' }
    }
}

/// Columns: the contact fields the event releases (of name, company, address, phone,
/// email), then basis, first_scanned_at, scanned_by, notes, rating, answers (JSON),
/// lead_id, last_scanned_at, delete_by. Columns added later go at the end, so a CRM import
/// mapped by position keeps working. `delete_by` is the event's local date on which its
/// retention period ends: the partner must have deleted the file and every copy by then. Times are the event's local time with its offset
/// ([`EventRow::local_time`]); a participant released by opt-in alone has no lead, so no
/// lead id and no times. `notes` holds every note, one per line as
/// `YYYY-MM-DD HH:MM <author e-mail>: <text>` in the event's local time: the partner
/// admin's first, then each scan's, oldest scan first. `rating` is the admin's, else the
/// latest scan's that has one; `answers` per question the latest scan's answer.
fn header(fields: &[&'static str]) -> Vec<String> {
    let mut h: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    h.extend(
        ["basis", "first_scanned_at", "scanned_by", "notes", "rating", "answers", "lead_id", "last_scanned_at"]
            .map(String::from),
    );
    h
}

/// What a page of the export needs beside the gate's release: the scans' own notes and who
/// wrote the admin's note, each read with one query per page.
#[derive(Default)]
struct PageNotes {
    scans: HashMap<String, Vec<ScanNote>>,
    /// Per participant: the admin note's author (user id) and time.
    admin: HashMap<String, (Option<String>, Option<i64>)>,
}

impl PageNotes {
    fn read(conn: &mut DbConn, scope: &PartnerScope, page: &[Release]) -> AppResult<PageNotes> {
        let scanned: Vec<&str> = page.iter().filter(|r| r.lead.is_some()).map(|r| r.attendee_id.as_str()).collect();
        if scanned.is_empty() {
            return Ok(PageNotes::default());
        }
        let scans = scan_notes::for_leads(conn, &scope.partner_id, &scanned)?;
        let mut admin = HashMap::new();
        for chunk in scanned.chunks(500) {
            let rows: Vec<(String, Option<String>, Option<i64>)> = leads::table
                .filter(leads::partner_id.eq(&scope.partner_id))
                .filter(leads::attendee_id.eq_any(chunk))
                .filter(leads::notes.is_not_null())
                .select((leads::attendee_id, leads::notes_by, leads::notes_at))
                .load(conn)?;
            admin.extend(rows.into_iter().map(|(a, by, at)| (a, (by, at))));
        }
        Ok(PageNotes { scans, admin })
    }
}

/// `YYYY-MM-DD HH:MM` in the event's zone.
fn minute(event: &EventRow, ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned_datetime(event.zone()).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The `notes` cell: the admin's note, then each scan's, one `time author: text` each.
fn notes_cell(
    r: &Release,
    event: &EventRow,
    users: &HashMap<String, String>,
    scans: &[ScanNote],
    admin: Option<&(Option<String>, Option<i64>)>,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(text) = r.lead.as_ref().and_then(|l| l.notes.as_deref()) {
        let (by, at) = admin.cloned().unwrap_or_default();
        // A note kept from before notes had authors (migration 000016) has none.
        let author = by.and_then(|b| users.get(&b).cloned()).unwrap_or_else(|| "(partner admin)".to_string());
        lines.push(format!("{} {author}: {text}", at.map(|t| minute(event, t)).unwrap_or_default()));
    }
    for n in scans {
        if let Some(text) = &n.notes {
            lines.push(format!("{} {}: {text}", minute(event, n.scanned_at), n.by));
        }
    }
    lines.join("\n")
}

fn record(
    r: &Release,
    fields: &[&'static str],
    event: &EventRow,
    scanners: &HashMap<String, String>,
    notes: &PageNotes,
) -> Vec<String> {
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
    let scans = notes.scans.get(&r.attendee_id).map(Vec::as_slice).unwrap_or_default();
    cells.push(notes_cell(r, event, scanners, scans, notes.admin.get(&r.attendee_id)));
    let rating = scan_notes::summary_rating(lead.and_then(|l| l.rating), scans);
    cells.push(rating.map(|r| r.to_string()).unwrap_or_default());
    let answers = match scan_notes::summary_answers(scans) {
        Some(a) => serde_json::to_string(&a).unwrap_or_default(),
        None => lead.and_then(|l| l.answers.clone()).unwrap_or_default(),
    };
    cells.push(answers);
    cells.push(lead.map(|l| l.id.clone()).unwrap_or_default());
    cells.push(lead.map(|l| event.local_time(l.last_scanned_at)).unwrap_or_default());
    cells
}

/// Opens an export record for the partner (refused while the operator suspends it);
/// answers the event (its slug names the file, its retention end the delete-by date) and
/// the record.
pub fn start(conn: &mut DbConn, scope: &PartnerScope) -> AppResult<(EventRow, ExportRow)> {
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
    Ok((event, export))
}

/// The event's local date on which its retention period ends (`YYYY-MM-DD`).
pub fn delete_by(event: &EventRow) -> String {
    event.local_time(event.retention_ends_at()).chars().take(10).collect()
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
        let mut h = header(&self.fields);
        h.push("delete_by".to_string());
        h
    }

    fn record(&self, r: &Release, notes: &PageNotes) -> Vec<String> {
        let mut cells = record(r, &self.fields, &self.event, &self.scanners, notes);
        cells.push(delete_by(&self.event));
        cells
    }
}

/// Releases the export's participants in pages, each page's ledger rows committed before
/// `each` sees it, in participant-id order; stops early when `each` answers false. Answers
/// the rows handed to `each`.
///
/// Pages are released ahead of the one `each` formats and sends: one after another, each
/// waited for the other (an export on PostgreSQL spent 2.2 of its 3.8 s in the ledger
/// insert and the gate's query, and most of the rest in this process). On SQLite one page is released ahead, on a thread of its
/// own; on PostgreSQL [`RELEASERS`] pages at once, each on its own connection, up to
/// [`AHEAD`] pages ahead (three pooled connections at most: the two and the read that
/// cuts the pages, each held for one page). A client that goes away leaves up to that many pages more in
/// the ledger than it received: the ledger says who may have obtained data, so it may
/// over-state, never under-state.
fn release_pages(
    db: &Db,
    scope: &PartnerScope,
    export_id: &str,
    each: impl FnMut(&[Release], &PageNotes) -> AppResult<bool>,
) -> AppResult<i64> {
    if db.has_one_writer() { one_ahead(db, scope, export_id, each) } else { side_by_side(db, scope, export_id, each) }
}

type Page = (Vec<Release>, PageNotes);

/// One page's release and the notes its rows need, in one write transaction.
fn release_page(db: &Db, scope: &PartnerScope, export_id: &str, selection: Selection<'_>) -> AppResult<Page> {
    db.write_blocking(|conn| {
        let page = gate::release(conn, scope, Channel::Export, selection, Some(export_id))?;
        let notes = PageNotes::read(conn, scope, &page)?;
        Ok((page, notes))
    })
}

/// Hands each page to `each` in turn; answers the rows handed and whether to go on.
fn hand_over(
    page: AppResult<Page>,
    rows: &mut i64,
    each: &mut impl FnMut(&[Release], &PageNotes) -> AppResult<bool>,
) -> AppResult<bool> {
    let (page, notes) = page?;
    if page.is_empty() {
        return Ok(true);
    }
    *rows += i64::try_from(page.len()).unwrap_or(i64::MAX);
    each(&page, &notes)
}

fn one_ahead(
    db: &Db,
    scope: &PartnerScope,
    export_id: &str,
    mut each: impl FnMut(&[Release], &PageNotes) -> AppResult<bool>,
) -> AppResult<i64> {
    let (pages, released) = mpsc::sync_channel::<AppResult<Page>>(1);
    thread::scope(|threads| {
        threads.spawn(move || {
            let mut after: Option<String> = None;
            loop {
                let page =
                    release_page(db, scope, export_id, Selection::After { after: after.as_deref(), limit: PAGE });
                let more = match &page {
                    Ok((page, _)) => {
                        after = page.last().map(|r| r.attendee_id.clone());
                        i64::try_from(page.len()).unwrap_or(i64::MAX) >= PAGE
                    }
                    Err(_) => false,
                };
                // A closed channel: `each` stopped (the client went away, or it failed).
                if pages.send(page).is_err() || !more {
                    return;
                }
            }
        });
        let mut rows = 0i64;
        let mut hand_all = || -> AppResult<()> {
            for page in released.iter() {
                if !hand_over(page, &mut rows, &mut each)? {
                    break;
                }
            }
            Ok(())
        };
        let outcome = hand_all();
        // Stops the releaser at its next page (the scope waits for it).
        drop(released);
        outcome.map(|()| rows)
    })
}

fn side_by_side(
    db: &Db,
    scope: &PartnerScope,
    export_id: &str,
    mut each: impl FnMut(&[Release], &PageNotes) -> AppResult<bool>,
) -> AppResult<i64> {
    // Pages `each` has taken, so that no page is released more than AHEAD ahead (flat
    // memory); `usize::MAX` once it stopped.
    let taken = (Mutex::new(0usize), Condvar::new());
    let (ranges, to_release) = mpsc::sync_channel::<(usize, Option<String>, Option<String>)>(0);
    let to_release = Arc::new(Mutex::new(to_release));
    let (pages, released) = mpsc::sync_channel::<(usize, AppResult<Page>)>(RELEASERS);
    thread::scope(|threads| {
        let taken = &taken;
        // Cuts the event's participants into ranges of PAGE ids, in order.
        let failed = pages.clone();
        threads.spawn(move || {
            let mut after: Option<String> = None;
            for k in 0usize.. {
                let mut handed = taken.0.lock().unwrap_or_else(PoisonError::into_inner);
                while *handed != usize::MAX && k >= handed.saturating_add(AHEAD) {
                    handed = taken.1.wait(handed).unwrap_or_else(PoisonError::into_inner);
                }
                if *handed == usize::MAX {
                    return;
                }
                drop(handed);
                let upto =
                    match db.read_blocking(|conn| gate::page_bounds(conn, &scope.event_id, after.as_deref(), PAGE)) {
                        Ok(upto) => upto,
                        Err(e) => {
                            // Answered in its place, so the export fails there instead of
                            // ending early as if complete.
                            let _ = failed.send((k, Err(e)));
                            return;
                        }
                    };
                let last = upto.is_none();
                if ranges.send((k, after.take(), upto.clone())).is_err() || last {
                    return;
                }
                after = upto;
            }
        });
        for _ in 0..RELEASERS {
            let (to_release, pages) = (to_release.clone(), pages.clone());
            threads.spawn(move || {
                loop {
                    let range = to_release.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((k, after, upto)) = range else { return };
                    let selection = Selection::Between { after: after.as_deref(), upto: upto.as_deref() };
                    let page = release_page(db, scope, export_id, selection);
                    let failed = page.is_err();
                    if pages.send((k, page)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop((pages, to_release));
        let mut rows = 0i64;
        // Pages come back in any order; each is handed over once those before it were.
        let mut hand_in_order = || -> AppResult<()> {
            let mut waiting: BTreeMap<usize, AppResult<Page>> = BTreeMap::new();
            let mut next = 0usize;
            for (k, page) in released.iter() {
                waiting.insert(k, page);
                while let Some(page) = waiting.remove(&next) {
                    next += 1;
                    if !hand_over(page, &mut rows, &mut each)? {
                        return Ok(());
                    }
                    *taken.0.lock().unwrap_or_else(PoisonError::into_inner) = next;
                    taken.1.notify_all();
                }
            }
            Ok(())
        };
        let outcome = hand_in_order();
        // Stops the cutter, and the releasers at their next page.
        *taken.0.lock().unwrap_or_else(PoisonError::into_inner) = usize::MAX;
        taken.1.notify_all();
        drop(released);
        outcome.map(|()| rows)
    })
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
    dialect: Dialect,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> AppResult<()> {
    let layout = Layout::read(db, scope)?;
    let mut hasher = Sha256::new();
    let delimiter = dialect.delimiter();
    let mut first = csv_bytes_with(delimiter, [layout.header()])?;
    if dialect != Dialect::Rfc {
        first.splice(0..0, [0xEF, 0xBB, 0xBF]);
    }
    hasher.update(&first);
    if !send(first) {
        return Ok(());
    }
    let mut gone = false;
    let rows = release_pages(db, scope, export_id, |page, notes| {
        let bytes = csv_bytes_with(delimiter, page.iter().map(|r| layout.record(r, notes)))?;
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
    let rows = release_pages(db, scope, export_id, |page, notes| {
        for r in page {
            sheet.push(&layout.record(r, notes))?;
        }
        Ok(true)
    })?;
    let bytes = sheet.finish()?;
    complete(db, export_id, rows, hex::encode(Sha256::digest(&bytes)))?;
    Ok(bytes)
}
