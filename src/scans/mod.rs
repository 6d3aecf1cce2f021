//! Badge scans by partner users' phones, online or synced later in batches.
//!
//! A scan is identified by the phone's `client_scan_id`, unique per partner by a database
//! constraint, so replays create nothing. An accepted scan creates or updates the
//! partner's lead for that participant, and the lead card answered to the phone is a
//! release through the gate.

pub mod coalesce;
pub mod handlers;
pub mod notes;
pub mod throttle;

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::PartnerScope;
use crate::badges::{self, BadgeCode};
use crate::db::schema::{attendees, badges as badges_t, leads, scan_guard, scans, users};
use crate::db::{Db, DbConn, new_sequential_id, now_ms, parse_rfc3339_ms, text_enum};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;
use crate::gate::{self, Channel, Selection};

/// Phones' clocks drift: up to this far ahead of the server is still "now".
pub const FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// Scans this long before the event starts or after it ends still count (set-up days,
/// phones on the wrong time zone).
pub const EVENT_SKEW_MS: i64 = 2 * 60 * 60 * 1000;
pub const MAX_NOTES: usize = 2000;
pub const MAX_ANSWERS: usize = 50;
pub const MAX_ANSWER_CHARS: usize = 500;
pub const MAX_BATCH: usize = 500;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanItem {
    /// UUID made on the phone, unique per partner; UUIDv7 (time-ordered) recommended.
    #[schema(format = Uuid)]
    pub client_scan_id: String,
    /// The QR payload as read, or the typed fallback code: any case, dashes and spaces
    /// anywhere or left out, `0` for `O` and `1`, `I`, `L` for one another forgiven.
    #[schema(max_length = 200)]
    pub badge: String,
    /// RFC 3339, the phone's time of the scan.
    #[schema(format = DateTime)]
    pub scanned_at: String,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// 0–5.
    #[schema(minimum = 0, maximum = 5)]
    pub rating: Option<i64>,
    /// Answers to the partner's questions: at most 50, keys and values of at most 500
    /// characters.
    #[schema(schema_with = answers_schema)]
    pub answers: Option<BTreeMap<String, String>>,
}

fn answers_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let text = ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_ANSWER_CHARS));
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(MAX_ANSWERS))
        .property_names(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_ANSWER_CHARS))))
        .additional_properties(Some(AdditionalProperties::RefOr(text.into())))
        .build()
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct LeadCard {
    pub name: Option<String>,
    pub company: Option<String>,
}

/// A scan that passed the field checks.
#[derive(Debug, Clone)]
pub struct ValidScan {
    pub client_scan_id: String,
    pub badge: String,
    pub scanned_at: i64,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<BTreeMap<String, String>>,
}

pub fn validate(item: &ScanItem) -> Result<ValidScan, Vec<FieldError>> {
    let mut errors = Vec::new();
    let client_scan_id = match uuid::Uuid::parse_str(item.client_scan_id.trim()) {
        Ok(u) => u.hyphenated().to_string(),
        Err(_) => {
            errors.push(FieldError::new("client_scan_id", "must be a UUID"));
            String::new()
        }
    };
    let scanned_at = parse_rfc3339_ms(&item.scanned_at).unwrap_or_else(|| {
        errors.push(FieldError::new("scanned_at", "must be an RFC 3339 date-time"));
        0
    });
    if item.badge.chars().count() > 200 {
        errors.push(FieldError::new("badge", "must be at most 200 characters"));
    }
    // The JSON extractor checks these too; here because phones' batches are validated item
    // by item, and a scan must never carry a NUL into the database.
    use crate::text::{TextKind, check_text};
    for (field, text) in [("client_scan_id", item.client_scan_id.as_str()), ("badge", item.badge.as_str())] {
        errors.extend(check_text(field, text, TextKind::SingleLine).err());
    }
    let own = check_notes(&mut errors, item.notes.as_deref(), item.rating, item.answers.as_ref());
    if !errors.is_empty() {
        return Err(errors);
    }
    let ScanNotes { notes, rating, answers } = own;
    Ok(ValidScan { client_scan_id, badge: item.badge.clone(), scanned_at, notes, rating, answers })
}

/// A scanner's own notes, rating and answers on one scan, checked: blank notes and an
/// empty answer set are none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanNotes {
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<BTreeMap<String, String>>,
}

/// The one check of a scan's notes, rating and answers, for the scan itself and for
/// `PUT /api/v1/scans/{client_scan_id}/notes`; pushes an error per bad field.
pub fn check_notes(
    errors: &mut Vec<FieldError>,
    notes: Option<&str>,
    rating: Option<i64>,
    answers: Option<&BTreeMap<String, String>>,
) -> ScanNotes {
    use crate::text::{TextKind, check_text};
    if let Some(n) = notes {
        errors.extend(check_text("notes", n, TextKind::MultiLine).err());
    }
    for (k, v) in answers.into_iter().flatten() {
        let field = format!("answers.{}", crate::text::printable(k));
        errors.extend(check_text(&field, k, TextKind::SingleLine).err());
        errors.extend(check_text(&field, v, TextKind::MultiLine).err());
    }
    let notes = notes.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    if notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES) {
        errors.push(FieldError::new("notes", format!("must be at most {MAX_NOTES} characters")));
    }
    let rating = match rating {
        None => None,
        Some(r @ 0..=5) => i32::try_from(r).ok(),
        Some(_) => {
            errors.push(FieldError::new("rating", "must be between 0 and 5"));
            None
        }
    };
    let answers = answers.filter(|a| !a.is_empty()).cloned();
    if let Some(a) = &answers
        && (a.len() > MAX_ANSWERS
            || a.iter().any(|(k, v)| k.chars().count() > MAX_ANSWER_CHARS || v.chars().count() > MAX_ANSWER_CHARS))
    {
        errors.push(FieldError::new(
            "answers",
            format!("at most {MAX_ANSWERS} answers of at most {MAX_ANSWER_CHARS} characters"),
        ));
    }
    ScanNotes { notes, rating, answers }
}

text_enum! {
    /// Why a scan was not stored, as the phone reads it (`reason` of the problem or of a
    /// batch item).
    pub enum RejectReason {
        UnknownBadge = "unknown_badge",
        OtherEvent = "other_event",
        BadgeRevoked = "badge_revoked",
        EventClosed = "event_closed",
        OutsideEventDates = "outside_event_dates",
        ScannedAtInFuture = "scanned_at_in_future",
        /// A batch item whose fields fail the checks.
        Invalid = "invalid",
        /// A batch of a scanner over the unknown-badge limit.
        Throttled = "throttled",
    }
}

text_enum! {
    /// What became of one scan, as the phone reads it.
    pub enum ScanStatus {
        Created = "created",
        /// This `client_scan_id` was stored before; the same outcome again.
        Duplicate = "duplicate",
        Rejected = "rejected",
    }
}

text_enum! {
    /// Why an accepted scan's lead card carries no contact fields.
    pub enum CardReason {
        /// The participant withdrew for this partner or for all.
        Withdrawn = "withdrawn",
        /// The operator suspended the partner's access to leads (incident containment).
        PartnerSuspended = "partner_suspended",
    }
}

/// The lead card answered for an accepted scan, or why there is none.
#[derive(Debug, Clone)]
pub struct Card {
    pub lead: Option<LeadCard>,
    /// Set when `lead` is `None`.
    pub reason: Option<CardReason>,
}

/// The earliest other accepted scan of the same participant by the same partner, when it
/// was made before this one (by `scanned_at`): what the phone shows as "already scanned by
/// … at …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyScanned {
    /// That scanner's e-mail.
    pub by: String,
    pub by_you: bool,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Created { scan_id: String, card: Card, already_scanned: Option<AlreadyScanned> },
    Duplicate { scan_id: String, card: Card, already_scanned: Option<AlreadyScanned> },
    Rejected { reason: RejectReason, detail: String },
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = scans, treat_none_as_default_value = false)]
pub struct ScanRow {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub client_scan_id: String,
    pub badge_id: String,
    pub attendee_id: String,
    pub scanned_at: i64,
    pub received_at: i64,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<String>,
    /// When the scanner last replaced notes, rating and answers after the scan
    /// (`PUT …/notes`); none while they are the scan's own.
    pub notes_updated_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = leads, treat_none_as_default_value = false)]
pub struct LeadRow {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub attendee_id: String,
    pub first_scanned_at: i64,
    pub first_scanned_by: String,
    pub last_scanned_at: i64,
    /// The partner admin's own note, rating and answers (`PATCH /api/v1/leads/{lead_id}`);
    /// scans never write them, each scan keeps its own.
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<String>,
    pub updated_at: i64,
    /// Who wrote the admin's note and when; none for a note older than migration 000016.
    pub notes_by: Option<String>,
    pub notes_at: Option<i64>,
}

fn reject(reason: RejectReason, detail: &str) -> Outcome {
    Outcome::Rejected { reason, detail: detail.to_string() }
}

/// Lead cards for accepted scans: one release through the gate for all their participants.
fn lead_cards(conn: &mut DbConn, scope: &PartnerScope, attendee_ids: &[String]) -> AppResult<HashMap<String, Card>> {
    if attendee_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut ids: Vec<String> = attendee_ids.to_vec();
    ids.sort();
    ids.dedup();
    match gate::release(conn, scope, Channel::Scan, Selection::Many(&ids), None) {
        Ok(released) => {
            let mut cards: HashMap<String, Card> = released
                .into_iter()
                .map(|r| {
                    let card = Card {
                        lead: Some(LeadCard { name: r.contact.name, company: r.contact.company }),
                        reason: None,
                    };
                    (r.attendee_id, card)
                })
                .collect();
            // The scans were accepted, so the gate's only remaining reason is a withdrawal.
            for id in ids {
                cards.entry(id).or_insert(Card { lead: None, reason: Some(CardReason::Withdrawn) });
            }
            Ok(cards)
        }
        Err(AppError::Suspended) => Ok(ids
            .into_iter()
            .map(|id| (id, Card { lead: None, reason: Some(CardReason::PartnerSuspended) }))
            .collect()),
        Err(e) => Err(e),
    }
}

/// A scan stored before: whose it is and when it was made, for `already_scanned`.
#[derive(Debug, Clone)]
struct Stored {
    scan_id: String,
    attendee_id: String,
    user_id: String,
    scanned_at: i64,
}

impl Stored {
    fn of(row: &ScanRow) -> Stored {
        Stored {
            scan_id: row.id.clone(),
            attendee_id: row.attendee_id.clone(),
            user_id: row.user_id.clone(),
            scanned_at: row.scanned_at,
        }
    }
}

/// (client_scan_id, id, attendee_id, user_id, scanned_at) of a stored scan.
type StoredRow = (String, String, String, String, i64);

fn stored_by_client_id(conn: &mut DbConn, partner_id: &str, client_ids: &[&str]) -> AppResult<HashMap<String, Stored>> {
    let mut found: HashMap<String, Stored> = HashMap::new();
    for chunk in client_ids.chunks(500) {
        let rows: Vec<StoredRow> = scans::table
            .filter(scans::partner_id.eq(partner_id))
            .filter(scans::client_scan_id.eq_any(chunk))
            .select((scans::client_scan_id, scans::id, scans::attendee_id, scans::user_id, scans::scanned_at))
            .load(conn)?;
        found.extend(rows.into_iter().map(|(c, scan_id, attendee_id, user_id, scanned_at)| {
            (c, Stored { scan_id, attendee_id, user_id, scanned_at })
        }));
    }
    Ok(found)
}

enum Decision {
    Duplicate(Stored),
    /// Index into [`Plan::rows`].
    Accepted(usize),
    Rejected {
        reason: RejectReason,
        detail: &'static str,
    },
}

/// A batch decided before it is written: per scan a decision, the rows of the accepted
/// scans and the new leads they would make. The batch handler plans before it takes the
/// write lock, so one phone's lookups and bookkeeping overlap another's writes (SQLite has
/// one writer at a time). `version` is the scan guard (migration 000005) the plan's reads
/// saw: every change that could alter a decision bumps it, so under the lock an equal
/// version proves the plan still right, and another one means deciding again.
pub struct Plan {
    version: i64,
    decisions: Vec<Decision>,
    rows: Vec<ScanRow>,
    leads: Vec<LeadRow>,
}

fn guard_version(conn: &mut DbConn) -> AppResult<i64> {
    Ok(scan_guard::table.find(1).select(scan_guard::version).first(conn)?)
}

/// Decides a batch without writing: run in a read transaction, outside the write lock;
/// see [`Plan`].
pub fn plan(conn: &mut DbConn, scope: &PartnerScope, batch: &[ValidScan], now: i64) -> AppResult<Plan> {
    let version = guard_version(conn)?;
    decide(conn, scope, batch, now, version)
}

/// Decides and stores a batch from one phone: decided in a read transaction outside the
/// write lock, then written under it, decided again only when the scan guard moved in
/// between (see [`Plan`]). Answers one outcome per scan, in order.
pub async fn record_batch(db: &Db, scope: PartnerScope, batch: Vec<ValidScan>) -> AppResult<Vec<Outcome>> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let now = now_ms();
        let planned = db.read_blocking(|conn| plan(conn, &scope, &batch, now))?;
        db.write_blocking(|conn| process_batch(conn, &scope, &batch, Some(planned), now))
    })
    .await?
}

/// `version`: the scan guard's, read before this is called. The version first: a change
/// committed after it but before a later read is then seen by that read and still changes
/// the version, so the batch is decided again.
fn decide(conn: &mut DbConn, scope: &PartnerScope, batch: &[ValidScan], now: i64, version: i64) -> AppResult<Plan> {
    let client_ids: Vec<&str> = batch.iter().map(|s| s.client_scan_id.as_str()).collect();
    let mut known = stored_by_client_id(conn, &scope.partner_id, &client_ids)?;

    // Per scan, the hashes of every code its text may stand for (one for a QR payload, a
    // few for a typed code with look-alikes), most literal first.
    let hashes: Vec<Vec<String>> =
        batch.iter().map(|s| BadgeCode::readings(&s.badge).iter().map(BadgeCode::lookup_hash).collect()).collect();
    let mut badge_by_hash: HashMap<String, badges::BadgeRow> = HashMap::new();
    let present: Vec<&String> = hashes.iter().flatten().collect();
    for chunk in present.chunks(500) {
        let rows: Vec<badges::BadgeRow> = badges_t::table
            .filter(badges_t::code_hash.eq_any(chunk))
            // A badge of an import still going in is not known yet.
            .filter(crate::db::settled::settled_badge())
            .select(badges::BadgeRow::as_select())
            .load(conn)?;
        badge_by_hash.extend(rows.into_iter().map(|b| (b.code_hash.clone(), b)));
    }
    let owners: Vec<&str> = badge_by_hash.values().map(|b| b.attendee_id.as_str()).collect();
    let mut erased: HashSet<String> = HashSet::new();
    for chunk in owners.chunks(500) {
        let rows: Vec<String> = attendees::table
            .filter(attendees::id.eq_any(chunk))
            .filter(attendees::erased_at.is_not_null())
            .select(attendees::id)
            .load(conn)?;
        erased.extend(rows);
    }
    let event = events::find(conn, &scope.event_id)?;

    let mut decisions = Vec::with_capacity(batch.len());
    let mut rows: Vec<ScanRow> = Vec::with_capacity(batch.len());
    for (scan, readings) in batch.iter().zip(&hashes) {
        let reject = |reason, detail| Decision::Rejected { reason, detail };
        if let Some(stored) = known.get(&scan.client_scan_id) {
            decisions.push(Decision::Duplicate(stored.clone()));
            continue;
        }
        let badge = readings.iter().find_map(|h| badge_by_hash.get(h));
        let decision = match badge {
            // Judged by the server's clock, not the phone's: a partner cannot keep
            // collecting leads after the show by replaying codes with old times.
            _ if now > event.scans_close_at() => reject(RejectReason::EventClosed, "the event no longer accepts scans"),
            None => reject(RejectReason::UnknownBadge, "no such badge"),
            Some(b) if b.event_id != scope.event_id => {
                reject(RejectReason::OtherEvent, "the badge belongs to another event")
            }
            // An erased participant's badge answers exactly as a replaced one: a partner
            // holding the code must not learn that its owner erased themselves.
            Some(b) if b.revoked_at.is_some() || erased.contains(&b.attendee_id) => {
                reject(RejectReason::BadgeRevoked, "the badge was replaced; ask for the new one")
            }
            Some(_) if scan.scanned_at > now + FUTURE_SKEW_MS => {
                reject(RejectReason::ScannedAtInFuture, "scanned_at is ahead of the server clock")
            }
            Some(_)
                if scan.scanned_at < event.starts_at - EVENT_SKEW_MS
                    || scan.scanned_at > event.ends_at + EVENT_SKEW_MS =>
            {
                reject(RejectReason::OutsideEventDates, "scanned_at is outside the event's dates")
            }
            Some(b) => {
                let row = ScanRow {
                    id: new_sequential_id(),
                    event_id: scope.event_id.clone(),
                    partner_id: scope.partner_id.clone(),
                    user_id: scope.user_id.clone(),
                    client_scan_id: scan.client_scan_id.clone(),
                    badge_id: b.id.clone(),
                    attendee_id: b.attendee_id.clone(),
                    scanned_at: scan.scanned_at,
                    received_at: now,
                    notes: scan.notes.clone(),
                    rating: scan.rating,
                    answers: scan
                        .answers
                        .as_ref()
                        .map(serde_json::to_string)
                        .transpose()
                        .map_err(AppError::internal)?,
                    notes_updated_at: None,
                };
                // A later item of this batch with the same client_scan_id is its duplicate.
                known.insert(row.client_scan_id.clone(), Stored::of(&row));
                rows.push(row);
                Decision::Accepted(rows.len() - 1)
            }
        };
        decisions.push(decision);
    }
    let accepted: Vec<&ScanRow> = rows.iter().collect();
    let leads = new_leads(scope, &accepted, now);
    Ok(Plan { version, decisions, rows, leads })
}

/// Records a batch in request order with a fixed number of statements per batch rather
/// than per scan. Call inside a write transaction, with the batch's [`plan`] if it was made
/// before. Same rules as one by one: a `client_scan_id` seen before (in the database or
/// earlier in this batch) is a duplicate; rejections are decided per scan; every
/// participant with an accepted or duplicate scan gets one lead card through the gate.
#[expect(
    clippy::indexing_slicing,
    reason = "`decide` builds a plan's `rows` and `decisions` together: `Accepted(i)` is the index of a row it pushed"
)]
pub fn process_batch(
    conn: &mut DbConn,
    scope: &PartnerScope,
    batch: &[ValidScan],
    planned: Option<Plan>,
    now: i64,
) -> AppResult<Vec<Outcome>> {
    let version = guard_version(conn)?;
    let Plan { mut decisions, rows, mut leads, .. } = match planned {
        Some(p) if p.version == version => p,
        _ => decide(conn, scope, batch, now, version)?,
    };

    // The constraint keeps the first row stored under a client_scan_id. Where a statement
    // stored fewer rows than it was given, a concurrent request stored some first: look up
    // whose rows those ids hold, and answer ours as their duplicates. (Counting instead of
    // RETURNING: SQLite buffers every returned row, and a conflict is rare.)
    let conflicts = match conn {
        DbConn::Pg(c) => left_out(&rows, |chunk| insert_scans_pg(c, chunk))?,
        DbConn::Sqlite(c) => {
            let mut conflicts = false;
            crate::in_fixed_chunks!(rows, |chunk| {
                let stored = diesel::insert_into(scans::table)
                    .values(chunk)
                    .on_conflict((scans::partner_id, scans::client_scan_id))
                    .do_nothing()
                    .execute(c)?;
                conflicts |= stored < chunk.len()
            });
            conflicts
        }
    };
    if conflicts {
        let client_ids: Vec<&str> = rows.iter().map(|r| r.client_scan_id.as_str()).collect();
        let stored = stored_by_client_id(conn, &scope.partner_id, &client_ids)?;
        for d in decisions.iter_mut() {
            if let Decision::Accepted(i) = *d {
                let first =
                    stored.get(&rows[i].client_scan_id).ok_or_else(|| AppError::internal("stored scan not found"))?;
                if first.scan_id != rows[i].id {
                    *d = Decision::Duplicate(first.clone());
                }
            }
        }
    }
    let won: Vec<&ScanRow> =
        decisions.iter().filter_map(|d| if let Decision::Accepted(i) = *d { Some(&rows[i]) } else { None }).collect();
    if won.len() < rows.len() {
        leads = new_leads(scope, &won, now);
    }
    let mut firsts = merge_into_leads(conn, scope, &won, &leads, now)?;

    let mut with_card: Vec<String> = Vec::new();
    for d in &decisions {
        match d {
            Decision::Accepted(i) => with_card.push(rows[*i].attendee_id.clone()),
            Decision::Duplicate(stored) => with_card.push(stored.attendee_id.clone()),
            Decision::Rejected { .. } => {}
        }
    }
    let cards = lead_cards(conn, scope, &with_card)?;
    let card_for = |a: &str| cards.get(a).cloned().unwrap_or(Card { lead: None, reason: Some(CardReason::Withdrawn) });

    // Duplicates of scans stored before this batch meet leads it did not touch.
    let untouched: Vec<&str> = with_card.iter().map(String::as_str).filter(|a| !firsts.contains_key(*a)).collect();
    firsts.extend(first_scans(conn, &scope.partner_id, &untouched)?);
    let earlier: Vec<Option<&FirstScan>> = decisions
        .iter()
        .map(|d| match d {
            Decision::Accepted(i) => earlier_than(firsts.get(&rows[*i].attendee_id), &Stored::of(&rows[*i])),
            Decision::Duplicate(stored) => earlier_than(firsts.get(&stored.attendee_id), stored),
            Decision::Rejected { .. } => None,
        })
        .collect();
    let emails = user_emails(conn, earlier.iter().flatten().map(|f| f.by.as_str()))?;
    let already = |first: Option<&FirstScan>| {
        first.map(|f| AlreadyScanned {
            by: emails.get(&f.by).cloned().unwrap_or_default(),
            by_you: f.by == scope.user_id,
            at: f.at,
        })
    };
    Ok(decisions
        .into_iter()
        .zip(earlier.iter().copied())
        .map(|(d, first)| match d {
            Decision::Accepted(i) => Outcome::Created {
                card: card_for(&rows[i].attendee_id),
                scan_id: rows[i].id.clone(),
                already_scanned: already(first),
            },
            Decision::Duplicate(stored) => Outcome::Duplicate {
                card: card_for(&stored.attendee_id),
                scan_id: stored.scan_id,
                already_scanned: already(first),
            },
            Decision::Rejected { reason, detail } => reject(reason, detail),
        })
        .collect())
}

/// A lead's first scan: when, and by which user.
#[derive(Debug, Clone)]
struct FirstScan {
    at: i64,
    by: String,
}

/// The lead's first scan when it came before `scan`. A scan at the very same millisecond
/// by another user counts as before; by the same user it is taken for `scan` itself.
fn earlier_than<'a>(first: Option<&'a FirstScan>, scan: &Stored) -> Option<&'a FirstScan> {
    first.filter(|f| f.at < scan.scanned_at || (f.at == scan.scanned_at && f.by != scan.user_id))
}

/// The first scans of the partner's leads of `attendee_ids`.
fn first_scans(conn: &mut DbConn, partner_id: &str, attendee_ids: &[&str]) -> AppResult<HashMap<String, FirstScan>> {
    let mut found = HashMap::new();
    for chunk in attendee_ids.chunks(500) {
        let rows: Vec<(String, i64, String)> = leads::table
            .filter(leads::partner_id.eq(partner_id))
            .filter(leads::attendee_id.eq_any(chunk))
            .select((leads::attendee_id, leads::first_scanned_at, leads::first_scanned_by))
            .load(conn)?;
        found.extend(rows.into_iter().map(|(a, at, by)| (a, FirstScan { at, by })));
    }
    Ok(found)
}

/// E-mail addresses of users, by id; one query, none when there are no ids.
fn user_emails<'a>(conn: &mut DbConn, ids: impl Iterator<Item = &'a str>) -> AppResult<HashMap<String, String>> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> =
            users::table.filter(users::id.eq_any(chunk)).select((users::id, users::email)).load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Accepted scans folded, in order, into one new lead per participant.
fn new_leads(scope: &PartnerScope, accepted: &[&ScanRow], now: i64) -> Vec<LeadRow> {
    let mut fresh: Vec<LeadRow> = Vec::new();
    let mut fresh_index: HashMap<&str, usize> = HashMap::new();
    for scan in accepted {
        if let Some(lead) = fresh_index.get(scan.attendee_id.as_str()).and_then(|&i| fresh.get_mut(i)) {
            merge(lead, scan, now);
        } else {
            fresh_index.insert(&scan.attendee_id, fresh.len());
            fresh.push(LeadRow {
                id: new_sequential_id(),
                event_id: scope.event_id.clone(),
                partner_id: scope.partner_id.clone(),
                attendee_id: scan.attendee_id.clone(),
                first_scanned_at: scan.scanned_at,
                first_scanned_by: scan.user_id.clone(),
                last_scanned_at: scan.scanned_at,
                notes: None,
                rating: None,
                answers: None,
                updated_at: now,
                notes_by: None,
                notes_at: None,
            });
        }
    }
    fresh
}

/// Applies accepted scans, in order, to their leads, and answers the first scan of each
/// lead they touched. Most synced scans meet no lead yet, so the new leads (`fresh`, from
/// [`new_leads`]) are inserted first; only when the unique (partner, participant) key kept
/// some out (a lead made earlier, or by a concurrent request) are those leads read and
/// their scan times moved.
fn merge_into_leads(
    conn: &mut DbConn,
    scope: &PartnerScope,
    accepted: &[&ScanRow],
    fresh: &[LeadRow],
    now: i64,
) -> AppResult<HashMap<String, FirstScan>> {
    let mut firsts: HashMap<String, FirstScan> = fresh
        .iter()
        .map(|l| (l.attendee_id.clone(), FirstScan { at: l.first_scanned_at, by: l.first_scanned_by.clone() }))
        .collect();
    let conflicts = match conn {
        DbConn::Pg(c) => left_out(fresh, |chunk| insert_leads_pg(c, chunk))?,
        DbConn::Sqlite(c) => {
            let mut conflicts = false;
            crate::in_fixed_chunks!(fresh, |chunk| {
                let stored = diesel::insert_into(leads::table)
                    .values(chunk)
                    .on_conflict((leads::partner_id, leads::attendee_id))
                    .do_nothing()
                    .execute(c)?;
                conflicts |= stored < chunk.len()
            });
            conflicts
        }
    };
    if !conflicts {
        return Ok(firsts);
    }
    let ours: HashSet<&str> = fresh.iter().map(|l| l.id.as_str()).collect();
    let attendee_ids: Vec<&str> = fresh.iter().map(|l| l.attendee_id.as_str()).collect();
    let mut existing: HashMap<String, LeadRow> = HashMap::new();
    for chunk in attendee_ids.chunks(500) {
        let query =
            leads::table.filter(leads::partner_id.eq(&scope.partner_id)).filter(leads::attendee_id.eq_any(chunk));
        // Row locks on PostgreSQL so concurrent merges of one lead run one after the other;
        // SQLite write transactions are already serial (BEGIN IMMEDIATE).
        let rows: Vec<LeadRow> = match conn {
            DbConn::Pg(c) => query.select(LeadRow::as_select()).order(leads::attendee_id).for_update().load(c)?,
            DbConn::Sqlite(c) => query.select(LeadRow::as_select()).load(c)?,
        };
        // A lead with our id is one this call just created; the others were there before.
        existing.extend(rows.into_iter().filter(|l| !ours.contains(l.id.as_str())).map(|l| (l.attendee_id.clone(), l)));
    }
    if existing.is_empty() {
        return Ok(firsts);
    }
    for scan in accepted {
        if let Some(lead) = existing.get_mut(&scan.attendee_id) {
            merge(lead, scan, now);
        }
    }
    for lead in existing.values() {
        // Only the scan columns: the admin's note, rating and answers are not the scans' to write.
        diesel::update(leads::table.find(&lead.id))
            .set((
                leads::first_scanned_at.eq(lead.first_scanned_at),
                leads::first_scanned_by.eq(&lead.first_scanned_by),
                leads::last_scanned_at.eq(lead.last_scanned_at),
                leads::updated_at.eq(lead.updated_at),
            ))
            .execute(conn)?;
        firsts.insert(
            lead.attendee_id.clone(),
            FirstScan { at: lead.first_scanned_at, by: lead.first_scanned_by.clone() },
        );
    }
    Ok(firsts)
}

/// PostgreSQL: inserts rows whose unique key may be taken already (`ON CONFLICT DO
/// NOTHING`) with one array-parameter statement per [`crate::db::PG_ARRAY_ROWS`] rows,
/// as the ledger does; answers whether some were left out.
fn left_out<R>(rows: &[R], mut insert: impl FnMut(&[R]) -> QueryResult<usize>) -> AppResult<bool> {
    let mut conflicts = false;
    for chunk in rows.chunks(crate::db::PG_ARRAY_ROWS) {
        conflicts |= insert(chunk)? < chunk.len();
    }
    Ok(conflicts)
}

/// Rows go in key order: two transactions inserting overlapping keys then wait for each
/// other in one order, never in a cycle (a deadlock would fail a whole group of scans).
fn insert_scans_pg(c: &mut diesel::PgConnection, rows: &[ScanRow]) -> QueryResult<usize> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
    let mut rows: Vec<&ScanRow> = rows.iter().collect();
    rows.sort_unstable_by(|a, b| a.client_scan_id.cmp(&b.client_scan_id));
    let text = |f: fn(&ScanRow) -> &str| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    diesel::sql_query(
        "INSERT INTO scans (id, event_id, partner_id, user_id, client_scan_id, badge_id, attendee_id, \
         scanned_at, received_at, notes, rating, answers, notes_updated_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::int8[], $9::int8[], $10::text[], $11::int4[], $12::text[], $13::int8[]) \
         ON CONFLICT (partner_id, client_scan_id) DO NOTHING",
    )
    .bind::<Array<Text>, _>(text(|r| &r.id))
    .bind::<Array<Text>, _>(text(|r| &r.event_id))
    .bind::<Array<Text>, _>(text(|r| &r.partner_id))
    .bind::<Array<Text>, _>(text(|r| &r.user_id))
    .bind::<Array<Text>, _>(text(|r| &r.client_scan_id))
    .bind::<Array<Text>, _>(text(|r| &r.badge_id))
    .bind::<Array<Text>, _>(text(|r| &r.attendee_id))
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.scanned_at).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.received_at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.notes.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Integer>>, _>(rows.iter().map(|r| r.rating).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.answers.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.notes_updated_at).collect::<Vec<_>>())
    .execute(c)
}

/// In key order, as [`insert_scans_pg`].
fn insert_leads_pg(c: &mut diesel::PgConnection, rows: &[LeadRow]) -> QueryResult<usize> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
    let mut rows: Vec<&LeadRow> = rows.iter().collect();
    rows.sort_unstable_by(|a, b| a.attendee_id.cmp(&b.attendee_id));
    let text = |f: fn(&LeadRow) -> &str| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let maybe = |f: fn(&LeadRow) -> Option<&str>| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    diesel::sql_query(
        "INSERT INTO leads (id, event_id, partner_id, attendee_id, first_scanned_at, first_scanned_by, \
         last_scanned_at, notes, rating, answers, updated_at, notes_by, notes_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], \
         $7::int8[], $8::text[], $9::int4[], $10::text[], $11::int8[], $12::text[], $13::int8[]) \
         ON CONFLICT (partner_id, attendee_id) DO NOTHING",
    )
    .bind::<Array<Text>, _>(text(|r| &r.id))
    .bind::<Array<Text>, _>(text(|r| &r.event_id))
    .bind::<Array<Text>, _>(text(|r| &r.partner_id))
    .bind::<Array<Text>, _>(text(|r| &r.attendee_id))
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.first_scanned_at).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(text(|r| &r.first_scanned_by))
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.last_scanned_at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(maybe(|r| r.notes.as_deref()))
    .bind::<Array<Nullable<Integer>>, _>(rows.iter().map(|r| r.rating).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(maybe(|r| r.answers.as_deref()))
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(maybe(|r| r.notes_by.as_deref()))
    .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.notes_at).collect::<Vec<_>>())
    .execute(c)
}

/// The merge rule: one lead per (partner, participant); `first_scanned_at` is the earliest
/// scan time seen (a later scan never moves it), `last_scanned_at` the latest. Notes, rating
/// and answers stay on each scan, so a colleague's scan never replaces another's.
fn merge(lead: &mut LeadRow, scan: &ScanRow, now: i64) {
    if scan.scanned_at < lead.first_scanned_at {
        lead.first_scanned_at = scan.scanned_at;
        lead.first_scanned_by = scan.user_id.clone();
    }
    lead.last_scanned_at = lead.last_scanned_at.max(scan.scanned_at);
    lead.updated_at = now;
}
