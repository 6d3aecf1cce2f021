//! Bulk registration from CSV ([`import`]): every row is checked first, then prepared
//! and stored, all rows or none.

use std::collections::HashSet;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Prepared, RegistrationInput, ValidRegistration, prepare, store, validate};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::consent::Source;
use crate::contact::Contact;
use crate::db::schema::{attendees, badges, consents, import_runs, mail_outbox, opt_in_confirmations};
use crate::db::{Db, DbConn, new_id, now_ms};
use crate::error::{AppResult, FieldError};
use crate::{events, mail, partners};

pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;
const COLUMNS: [&str; 9] = [
    "name",
    "email",
    "company",
    "phone",
    "address",
    "is_adult",
    "share_with_all_partners",
    "share_with_partners",
    "marketing_emails",
];
const REQUIRED: [&str; 3] = ["name", "email", "is_adult"];
/// Row errors reported before the check stops: enough to see what is wrong with a file,
/// and a bounded answer however large and broken the upload.
pub const MAX_ROW_ERRORS: usize = 100;

/// Why a file was refused: its errors, and whether the check stopped at `MAX_ROW_ERRORS`.
pub struct Refused {
    pub errors: Vec<FieldError>,
    pub stopped_early: bool,
}

impl From<Vec<FieldError>> for Refused {
    /// At most [`MAX_ROW_ERRORS`], whatever the file: a header of a million empty columns
    /// must not answer a million errors (found by the `csv_import` fuzz target).
    fn from(mut errors: Vec<FieldError>) -> Refused {
        let stopped_early = errors.len() > MAX_ROW_ERRORS;
        errors.truncate(MAX_ROW_ERRORS);
        Refused { errors, stopped_early }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `false`: queue no confirmation mail (the participants were told otherwise). Default `true`.
    #[param(value_type = Option<bool>)]
    pub send_confirmation: Option<String>,
}

impl ImportQuery {
    pub fn send_confirmation(&self) -> AppResult<bool> {
        match self.send_confirmation.as_deref().map(parse_bool) {
            None => Ok(true),
            Some(Some(b)) => Ok(b),
            Some(None) => Err(crate::error::AppError::field("send_confirmation", "must be true or false")),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
}

/// A yes/no cell as people and spreadsheets write it: `true`/`false` (Excel and
/// LibreOffice write `TRUE`/`FALSE`), `yes`/`no`, `1`/`0`, in any case; empty is no.
fn parse_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if ["true", "yes", "1"].iter().any(|t| value.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if ["false", "no", "0", ""].iter().any(|f| value.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The field separator, read off the header line: `;` where it outnumbers `,` outside
/// quotes, else `,`. Spreadsheets in locales with a decimal comma (most of Europe) save
/// "CSV" with `;`, and a header of known column names holds neither character otherwise.
fn separator(body: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for b in body {
        match b {
            b'\n' if !quoted => break,
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

/// What a reader error says to the person who saved the file.
fn read_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the file is not UTF-8 text; save it as \"CSV UTF-8\" (Excel) or with the UTF-8 character set (LibreOffice)"
                .to_string()
        }
        _ => format!("malformed CSV: {e}"),
    }
}

/// Parses and checks every row. Row numbers count data rows from 1 (the header is row 0).
/// Files are taken as Excel and LibreOffice save them: a UTF-8 byte order mark, `,` or `;`
/// between fields, `TRUE`/`FALSE`, header names in any case, rows left with nothing but
/// separators skipped. Public for the fuzz target (`fuzz/`): it reads what staff upload.
pub fn parse(body: &[u8], partner_ids: &[String]) -> Result<Vec<ValidRegistration>, Refused> {
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).delimiter(separator(body)).from_reader(body);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(
                vec![FieldError::new("header", format!("cannot read the header row: {}", read_error(&e)))].into()
            );
        }
    };
    let mut index = [None; COLUMNS.len()];
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if errors.len() > MAX_ROW_ERRORS {
            break;
        }
        let h = h.trim();
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(h)).and_then(|pos| index.get_mut(pos)) {
            Some(slot) if slot.is_none() => *slot = Some(i),
            Some(_) => errors.push(FieldError::new("header", format!("column `{h}` appears twice"))),
            None => errors.push(FieldError::new("header", format!("unknown column `{h}`"))),
        }
    }
    for required in REQUIRED {
        if let Some(pos) = COLUMNS.iter().position(|c| *c == required)
            && index.get(pos) == Some(&None)
        {
            errors.push(FieldError::new("header", format!("missing column `{required}`")));
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let mut valid = Vec::new();
    let mut seen = HashSet::new();
    for (n, record) in reader.records().enumerate() {
        if errors.len() > MAX_ROW_ERRORS {
            break;
        }
        let row = n + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new(format!("rows[{row}]"), read_error(&e)));
                continue;
            }
        };
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let get = |col: usize| index.get(col).copied().flatten().and_then(|i| record.get(i)).unwrap_or("");
        let opt = |col: usize| Some(get(col).to_string()).filter(|v| !v.trim().is_empty());
        let mut row_errors = Vec::new();
        let mut flag = |col: usize| {
            parse_bool(get(col)).unwrap_or_else(|| {
                row_errors.push(FieldError::new(
                    COLUMNS.get(col).copied().unwrap_or_default(),
                    "must be true or false (or yes/no, 1/0)",
                ));
                false
            })
        };
        let input = RegistrationInput {
            is_adult: Some(flag(5)),
            share_with_all_partners: flag(6),
            marketing_emails: flag(8),
            contact: Contact {
                name: Some(get(0).to_string()),
                email: Some(get(1).to_string()),
                company: opt(2),
                phone: opt(3),
                address: opt(4),
            },
            // `;` inside the cell (quoted in a `;`-separated file), or `,` where the file
            // separates fields with `;`: partner ids hold neither.
            share_with_partners: get(7)
                .split([';', ','])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        };
        match validate(&input, partner_ids) {
            Ok(v) if row_errors.is_empty() => {
                if !seen.insert(v.contact.email.clone()) {
                    row_errors.push(FieldError::new("email", "appears more than once in this file"));
                } else {
                    valid.push(v);
                }
            }
            Ok(_) => {}
            // One error per field and row: an unreadable `is_adult` is not also "not confirmed".
            Err(e) => {
                for e in e {
                    if !row_errors.iter().any(|r| r.field == e.field) {
                        row_errors.push(e);
                    }
                }
            }
        }
        for e in row_errors {
            errors.push(FieldError::new(format!("rows[{row}].{}", e.field), e.message));
        }
    }
    if errors.is_empty() {
        return Ok(valid);
    }
    let stopped_early = errors.len() > MAX_ROW_ERRORS;
    errors.truncate(MAX_ROW_ERRORS);
    Err(Refused { errors, stopped_early })
}

fn existing_emails(conn: &mut DbConn, event_id: &str, emails: &[&str]) -> AppResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in emails.chunks(500) {
        let rows: Vec<String> = attendees::table
            .filter(attendees::event_id.eq(event_id))
            .filter(attendees::email.eq_any(chunk))
            .select(attendees::email)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Every check of [`import`] on a file of the event's, storing nothing: the rows as they
/// would be stored, or the file's errors. The console's preview shows this before staff
/// confirm the import, which checks the file again (it may have changed meanwhile).
pub fn check(
    conn: &mut DbConn,
    event: &events::EventRow,
    partner_ids: &[String],
    body: &[u8],
) -> AppResult<Result<Vec<ValidRegistration>, Refused>> {
    let rows = match parse(body, partner_ids) {
        Ok(rows) => rows,
        Err(refused) => return Ok(Err(refused)),
    };
    let emails: Vec<&str> = rows.iter().map(|r| r.contact.email.as_str()).collect();
    let taken = existing_emails(conn, &event.id, &emails)?;
    Ok(refuse_taken(rows, &taken))
}

/// The rows, or their addresses already registered for the event.
fn refuse_taken(rows: Vec<ValidRegistration>, taken: &HashSet<String>) -> Result<Vec<ValidRegistration>, Refused> {
    if taken.is_empty() {
        return Ok(rows);
    }
    let mut errors: Vec<FieldError> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| taken.contains(&r.contact.email))
        .map(|(i, _)| FieldError::new(format!("rows[{}].email", i + 1), "is already registered for this event"))
        .take(MAX_ROW_ERRORS + 1)
        .collect();
    let stopped_early = errors.len() > MAX_ROW_ERRORS;
    errors.truncate(MAX_ROW_ERRORS);
    Err(Refused { errors, stopped_early })
}

/// [`check`] for an event by id: what an import of `body` would store, storing nothing.
pub fn preview(conn: &mut DbConn, event_id: &str, body: &[u8]) -> AppResult<Result<Vec<ValidRegistration>, Refused>> {
    let event = events::find(conn, event_id)?;
    let partner_ids: Vec<String> = partners::list_for_event(conn, &event.id)?.into_iter().map(|p| p.id).collect();
    check(conn, &event, &partner_ids, body)
}

/// A file that passed every check, with what its import needs to prepare its rows.
struct Checked {
    event: events::EventRow,
    partners: Vec<partners::PartnerRow>,
    rows: Vec<ValidRegistration>,
}

/// A file that passed every check, its participants prepared (badge codes, tokens) and
/// their confirmation mail sealed: all that is left is to store it ([`save`]).
struct Ready {
    event_id: String,
    prepared: Vec<Prepared>,
    mail: Vec<mail::MailRow>,
}

/// Checks a CSV file of participants for an event, prepares and stores it, all or
/// nothing; answers the number of participants, or why the file is refused (nothing
/// stored). Blocking.
///
/// On SQLite every row is prepared before the writer lock is taken ([`ready`], then
/// [`save`]): what runs under it bounds every other write. On PostgreSQL the rows go into
/// one transaction chunk by chunk while a thread prepares the next ones
/// ([`store_while_preparing`]): there scans and other registrations go on beside the
/// import's transaction (only a registration of one of its addresses waits for it), and
/// preparing a 50,000-row file took a sixth of the import before its first row went in.
pub fn import(
    db: &Db,
    key: &BadgeKey,
    public_url: &PublicUrl,
    event_id: &str,
    body: &[u8],
    send_confirmation: bool,
) -> AppResult<Result<usize, Refused>> {
    let checked = match check_file(db, event_id, body)? {
        Ok(checked) => checked,
        Err(refused) => return Ok(Err(refused)),
    };
    let stored = if db.has_one_writer() {
        save(db, ready(key, public_url, checked, send_confirmation)?)
    } else {
        store_while_preparing(db, key, public_url, checked, send_confirmation)
    };
    stored.map(Ok)
}

/// Reads the event and its partners, parses the file and checks its addresses against the
/// event's, in two short reads: the CPU-heavy work happens outside any transaction, as on
/// SQLite a read open for the second it takes kept checkpoints from moving past its
/// snapshot, and the checkpoint that had to restart the WAL held the writer lock until the
/// read ended. An address registered after the check is refused by the unique key when
/// storing (409).
fn check_file(db: &Db, event_id: &str, body: &[u8]) -> AppResult<Result<Checked, Refused>> {
    let (event, partners) = db.read_blocking(|conn| {
        let event = events::find(conn, event_id)?;
        let partners = partners::list_for_event(conn, &event.id)?;
        Ok((event, partners))
    })?;
    let partner_ids: Vec<String> = partners.iter().map(|p| p.id.clone()).collect();
    let rows = match parse(body, &partner_ids) {
        Ok(rows) => rows,
        Err(refused) => return Ok(Err(refused)),
    };
    let taken = db.read_blocking(|conn| {
        let emails: Vec<&str> = rows.iter().map(|r| r.contact.email.as_str()).collect();
        existing_emails(conn, &event.id, &emails)
    })?;
    Ok(refuse_taken(rows, &taken).map(|rows| Checked { event, partners, rows }))
}

/// Prepares rows of a checked file: their participants (codes, tokens) and, if asked,
/// their confirmations, sealed. Tens of microseconds a row.
fn prepare_rows(
    key: &BadgeKey,
    public_url: &PublicUrl,
    outbox_key: &mail::OutboxKey,
    event: &events::EventRow,
    partners: &[partners::PartnerRow],
    rows: Vec<ValidRegistration>,
    send_confirmation: bool,
) -> AppResult<(Vec<Prepared>, Vec<mail::MailRow>)> {
    let prepared: Vec<Prepared> =
        rows.into_iter().map(|r| prepare(key, event, r, Source::Import)).collect::<AppResult<_>>()?;
    let mail = if send_confirmation {
        let confirmations: Vec<mail::NewMail> =
            prepared.iter().map(|p| super::confirmation_mail(public_url, event, partners, p)).collect();
        mail::sealed(outbox_key, &confirmations)?
    } else {
        Vec::new()
    };
    Ok((prepared, mail))
}

/// Prepares every row of a checked file, writing nothing, on one thread per core (one
/// fewer while other requests are answered, so that phones scanning keep one).
fn ready(key: &BadgeKey, public_url: &PublicUrl, checked: Checked, send_confirmation: bool) -> AppResult<Ready> {
    let Checked { event, partners, rows } = checked;
    let outbox_key = mail::OutboxKey::from_badge_key(key)?;
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let others = crate::measure::requests_in_flight() > 1;
    let threads = if others { cores.saturating_sub(1).max(1) } else { cores };
    let share = rows.len().div_ceil(threads).max(1);
    let mut shares: Vec<Vec<ValidRegistration>> = Vec::new();
    let mut rest = rows;
    while rest.len() > share {
        let tail = rest.split_off(share);
        shares.push(rest);
        rest = tail;
    }
    shares.push(rest);
    let (event_ref, partners_ref, outbox_ref) = (&event, &partners, &outbox_key);
    let done: Vec<AppResult<(Vec<Prepared>, Vec<mail::MailRow>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    prepare_rows(key, public_url, outbox_ref, event_ref, partners_ref, share, send_confirmation)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(crate::error::AppError::internal("an import thread panicked"))))
            .collect()
    });
    let mut ready = Ready { event_id: event.id.clone(), prepared: Vec::new(), mail: Vec::new() };
    for share in done {
        let (prepared, mail) = share?;
        ready.prepared.extend(prepared);
        ready.mail.extend(mail);
    }
    Ok(ready)
}

/// Rows per chunk prepared on PostgreSQL while the chunk before goes in.
const PREPARED_CHUNK: usize = 2_500;

/// Chunks prepared ahead of the one going in: a bound on what waits in memory.
const PREPARED_AHEAD: usize = 2;

/// PostgreSQL: stores a checked file in one transaction while a thread prepares its rows,
/// chunk by chunk; the transaction takes each chunk as it comes. All or nothing: a chunk
/// that fails to prepare or to store (an address registered meanwhile: 409) rolls back
/// everything, and the transaction commits only once every row is in.
fn store_while_preparing(
    db: &Db,
    key: &BadgeKey,
    public_url: &PublicUrl,
    checked: Checked,
    send_confirmation: bool,
) -> AppResult<usize> {
    let Checked { event, partners, rows } = checked;
    let count = rows.len();
    let outbox_key = mail::OutboxKey::from_badge_key(key)?;
    let (event, partners, outbox_key) = (&event, &partners, &outbox_key);
    let (sender, chunks) = std::sync::mpsc::sync_channel(PREPARED_AHEAD);
    std::thread::scope(|scope| {
        let preparer = std::thread::Builder::new().name("import-prepare".into()).spawn_scoped(scope, move || {
            let mut rows = rows.into_iter();
            loop {
                let chunk: Vec<ValidRegistration> = rows.by_ref().take(PREPARED_CHUNK).collect();
                if chunk.is_empty() {
                    break;
                }
                let part = prepare_rows(key, public_url, outbox_key, event, partners, chunk, send_confirmation);
                let failed = part.is_err();
                // A closed channel: the transaction failed and is gone; nothing more to do.
                if sender.send(part).is_err() || failed {
                    break;
                }
            }
        });
        let preparer = preparer.map_err(crate::error::AppError::internal)?;
        // `chunks` moves into the transaction, so that it is dropped when the transaction
        // ends, however: a preparer blocked on a full channel then stops.
        let stored = db.write_blocking(move |conn| {
            let mut stored = 0;
            for part in chunks {
                let (prepared, mail) = part?;
                store(conn, &prepared)?;
                mail::enqueue_sealed(conn, &mail)?;
                stored += prepared.len();
            }
            // The preparer ended without an error but before the last row (it panicked).
            if stored != count {
                return Err(crate::error::AppError::internal("an import's rows were not all prepared"));
            }
            Ok((count, matches!(conn, DbConn::Pg(_))))
        });
        // Joined here, so that a preparer that panicked fails this import with an error
        // (its transaction rolled back by the count above) instead of panicking the scope
        // and the request with it. A commit means every row was prepared and stored.
        match (stored, preparer.join()) {
            (Ok((count, postgres)), _) => {
                if postgres {
                    analyze_after(db);
                }
                Ok(count)
            }
            (Err(e), Ok(())) => Err(e),
            (Err(_), Err(_)) => Err(crate::error::AppError::internal("an import's preparing thread panicked")),
        }
    })
}

/// PostgreSQL plans the gate's queries from table statistics; after a bulk load they are
/// stale (or absent) until they are next analyzed, and the first export would take minutes
/// instead of seconds. The analysis runs right after the commit, on a thread of its own:
/// in the import's transaction it was the last 130 ms of a 50,000-row import's 1.7 s
/// (BENCHMARKS.md, "Session 19"), which the caller waited for and no row needed. Until it
/// ends (about 130 ms for 50,000 rows), statements are planned from the statistics of
/// before, and an export sent at once may still meet the slow plan. The service's analyzer
/// (`crate::db::analyze`) would also come to these tables, but only once the import's
/// changes appear in PostgreSQL's counters, which may take seconds. It takes a connection
/// of the pool while it runs. (SQLite's `:memory:` database also stores by this path; it
/// has no statistics to refresh.)
fn analyze_after(db: &Db) {
    let db = db.clone();
    let analyze = move || {
        let done = db.write_blocking(|conn| {
            diesel::connection::SimpleConnection::batch_execute(
                conn,
                "ANALYZE (SKIP_LOCKED) attendees, badges, consents",
            )?;
            Ok(())
        });
        if let Err(e) = done {
            tracing::warn!(error = %e, "table statistics not refreshed after an import; the analyzer will");
        }
    };
    if let Err(e) = std::thread::Builder::new().name("import-analyze".into()).spawn(analyze) {
        tracing::warn!(error = %e, "table statistics not refreshed after an import; the analyzer will");
    }
}

/// Participants per step of an import. On SQLite a step is what runs between two chances
/// for waiting scans to take the writer lock (see [`save`]).
const CHUNK: usize = 250;

/// Participants per step while other writes wait. Each commit writes every index page its
/// steps touched, and four indexes take random keys, so the commit grows with the step:
/// with steps of 250, scans during a 100,000-row import had p99 138–166 ms, with 25 (and
/// the checkpoint's catch-up, `crate::db::checkpoint`) 47–61 ms (BENCHMARKS.md,
/// "Session 13"). Alone, an import keeps [`CHUNK`]: steps of 25 made it 12–24 % slower.
const CHUNK_WHILE_OTHERS_WAIT: usize = 25;

/// How long after other writes last waited an import keeps to small steps.
const SMALL_STEPS_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// SQLite: stores a [`ready`] file, all or nothing for the caller; answers the number of
/// participants. Blocking.
///
/// The writer lock is the whole database's: an import of 100,000 rows in one transaction
/// held it for seconds, in which every scan waited (p99 250–500 ms). So the file goes in
/// by steps ([`Db::write_in_steps`]): of [`CHUNK`] participants in one
/// transaction while nothing else waits to write, and otherwise of
/// [`CHUNK_WHILE_OTHERS_WAIT`], committed every [`crate::db::GIVE_WAY_AFTER`] so that
/// waiting scans run in between. Its participants carry the id of a row in `import_runs`
/// that keeps them out of every release, list, count and badge lookup
/// ([`crate::db::settled`]), and their confirmations wait ([`mail::HELD`]). Deleting that row is the commit point. A step refused (an address
/// registered meanwhile: 409) undoes the steps committed before it; a crash in between is
/// undone at the next start ([`recover`]).
fn save(db: &Db, ready: Ready) -> AppResult<usize> {
    let count = ready.prepared.len();
    if count == 0 {
        return Ok(0);
    }
    let run = new_id();
    let mut ready = ready;
    for p in &mut ready.prepared {
        p.attendee.import_run = Some(run.clone());
    }
    for m in &mut ready.mail {
        m.next_attempt_at = mail::HELD;
    }
    let rows = count.max(ready.mail.len());
    // The first step opens the run, the next ones store, the last one is the commit point.
    let mut begun = false;
    let mut stored_rows = 0;
    let mut others_waited: Option<std::time::Instant> = None;
    let stored = db.write_in_steps(|conn| {
        if !begun {
            begin_run(conn, &run, &ready.event_id)?;
            begun = true;
        } else if stored_rows < rows {
            // Writes come in between scans too: a large step taken in such a gap made the
            // next scans wait for it (p99 79–96 ms against 47–56 ms with small steps only).
            if db.others_wait() {
                others_waited = Some(std::time::Instant::now());
            }
            let step = match others_waited {
                Some(at) if at.elapsed() < SMALL_STEPS_FOR => CHUNK_WHILE_OTHERS_WAIT,
                _ => CHUNK,
            };
            store_part(conn, &ready, stored_rows..stored_rows + step)?;
            stored_rows += step;
        } else {
            finish_run(conn, &run)?;
            return Ok(false);
        }
        Ok(true)
    });
    if let Err(e) = stored {
        if let Err(undo) = db.write_in_steps(|conn| Ok(!undo_some(conn, &run, CHUNK)?)) {
            tracing::error!(error = %undo, "an import that failed cannot be undone now; the next start undoes it");
        }
        return Err(e);
    }
    // The import is complete: its confirmations are released after the answer, on a
    // thread of their own. Before it, the worker's first deliveries slowed the release and
    // held the caller's answer back (a 50,000-row import alone took a third longer). A
    // stop in between leaves them to [`recover`].
    let held: Vec<String> = ready.mail.iter().map(|m| m.id.clone()).collect();
    let releaser = db.clone();
    let release = move || {
        let mut chunks = held.chunks(CHUNK);
        let released = releaser.write_in_steps(|conn| match chunks.next() {
            Some(ids) => {
                mail::release_held(conn, Some(ids))?;
                Ok(true)
            }
            None => Ok(false),
        });
        if let Err(e) = released {
            tracing::error!(error = %e, "an import's confirmations stay held until the next start");
        }
    };
    if !ready.mail.is_empty()
        && let Err(e) = std::thread::Builder::new().name("import-release".into()).spawn(release)
    {
        tracing::error!(error = %e, "an import's confirmations stay held until the next start");
    }
    Ok(count)
}

fn begin_run(conn: &mut DbConn, run: &str, event_id: &str) -> AppResult<()> {
    diesel::insert_into(import_runs::table)
        .values((import_runs::id.eq(run), import_runs::event_id.eq(event_id), import_runs::created_at.eq(now_ms())))
        .execute(conn)?;
    Ok(())
}

/// The participants at positions `range` and their confirmations (those of the file's
/// participants in the same order; the range is cut to each list's length).
fn store_part(conn: &mut DbConn, ready: &Ready, range: std::ops::Range<usize>) -> AppResult<()> {
    let part = |len: usize| range.start.min(len)..range.end.min(len);
    store(conn, ready.prepared.get(part(ready.prepared.len())).unwrap_or_default())?;
    mail::enqueue_sealed(conn, ready.mail.get(part(ready.mail.len())).unwrap_or_default())
}

fn finish_run(conn: &mut DbConn, run: &str) -> AppResult<()> {
    match diesel::delete(import_runs::table.find(run)).execute(conn)? {
        1 => Ok(()),
        _ => Err(crate::error::AppError::internal("an import's run row was gone before its last step")),
    }
}

/// Deletes up to `limit` participants of an unfinished import with all they brought
/// (badge, opt-ins, queued mail), and the import's row once none is left; answers whether
/// it is gone. Nothing else can refer to them: no reader saw them.
fn undo_some(conn: &mut DbConn, run: &str, limit: usize) -> AppResult<bool> {
    let ids: Vec<String> = attendees::table
        .filter(attendees::import_run.eq(run))
        .select(attendees::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(conn)?;
    if ids.is_empty() {
        diesel::delete(import_runs::table.find(run)).execute(conn)?;
        return Ok(true);
    }
    for chunk in ids.chunks(500) {
        diesel::delete(mail_outbox::table.filter(mail_outbox::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(opt_in_confirmations::table.filter(opt_in_confirmations::attendee_id.eq_any(chunk)))
            .execute(conn)?;
        super::retired::forget(conn, chunk)?;
        diesel::delete(consents::table.filter(consents::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(badges::table.filter(badges::attendee_id.eq_any(chunk))).execute(conn)?;
        diesel::delete(attendees::table.filter(attendees::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(false)
}

/// At start, in the caller's write transaction: undoes the imports a crash left unfinished
/// (the caller never had an answer) and releases the confirmations of finished ones that
/// were still held. Only for a database one process writes (SQLite): on a shared
/// PostgreSQL another instance's import may be going in, and imports there take one
/// transaction anyway. Answers the number of imports undone.
pub fn recover(conn: &mut DbConn) -> AppResult<usize> {
    let runs: Vec<String> = import_runs::table.select(import_runs::id).load(conn)?;
    let mut undone = 0;
    for run in &runs {
        // One that cannot be undone stays hidden and is logged; it must not stop the start.
        match crate::db::savepoint(conn, |c| {
            while !undo_some(c, run, 10_000)? {}
            Ok(())
        }) {
            Ok(()) => undone += 1,
            Err(e) => tracing::error!(error = %e, run = %run, "an unfinished import cannot be undone"),
        }
    }
    mail::release_held(conn, None)?;
    Ok(undone)
}

#[cfg(test)]
mod tests {
    use super::{parse_bool, separator};

    #[test]
    fn booleans_as_spreadsheets_and_people_write_them() {
        for yes in ["true", "TRUE", "True", " yes ", "YES", "1"] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in ["false", "FALSE", "No", "no", "0", "", "  "] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for neither in ["WAHR", "y", "2", "t", "truee", "-1", "ja"] {
            assert_eq!(parse_bool(neither), None, "{neither}");
        }
    }

    #[test]
    fn the_separator_is_read_off_the_header_line() {
        assert_eq!(separator(b"name,email,is_adult\r\nA;B,b@x.org,true\r\n"), b',');
        assert_eq!(separator(b"name;email;is_adult\r\n\"A, B\";b@x.org;TRUE\r\n"), b';');
        assert_eq!(separator(b"\"na,me\";email;is_adult\n"), b';', "quoted separators do not count");
        assert_eq!(separator(b"name\n;;;;\n"), b',', "only the header line counts");
        assert_eq!(separator(b""), b',');
    }
}
