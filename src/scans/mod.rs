//! Badge scans by partner users' phones, online or synced later in batches.
//!
//! A scan is identified by the phone's `client_scan_id`, unique per partner by a database
//! constraint, so replays create nothing. An accepted scan creates or updates the
//! partner's lead for that participant, and the lead card answered to the phone is a
//! release through the gate.

pub mod handlers;
pub mod throttle;

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::PartnerScope;
use crate::badges::{self, BadgeCode};
use crate::db::schema::{attendees, leads, scans};
use crate::db::{DbConn, new_id, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;
use crate::gate::{self, Channel, Selection};

pub use handlers::routes;

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
    /// UUID made on the phone; unique per partner.
    pub client_scan_id: String,
    /// The QR payload as read, or the typed fallback code.
    pub badge: String,
    /// RFC 3339, the phone's time of the scan.
    pub scanned_at: String,
    pub notes: Option<String>,
    /// 0–5.
    pub rating: Option<i64>,
    pub answers: Option<BTreeMap<String, String>>,
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
    let notes = item.notes.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    if notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES) {
        errors.push(FieldError::new("notes", format!("must be at most {MAX_NOTES} characters")));
    }
    let rating = match item.rating {
        None => None,
        Some(r @ 0..=5) => Some(r as i32),
        Some(_) => {
            errors.push(FieldError::new("rating", "must be between 0 and 5"));
            None
        }
    };
    let answers = item.answers.clone().filter(|a| !a.is_empty());
    if let Some(a) = &answers
        && (a.len() > MAX_ANSWERS
            || a.iter().any(|(k, v)| k.chars().count() > MAX_ANSWER_CHARS || v.chars().count() > MAX_ANSWER_CHARS))
    {
        errors.push(FieldError::new(
            "answers",
            format!("at most {MAX_ANSWERS} answers of at most {MAX_ANSWER_CHARS} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidScan { client_scan_id, badge: item.badge.clone(), scanned_at, notes, rating, answers })
}

/// The lead card answered for an accepted scan, or why there is none.
#[derive(Debug, Clone)]
pub struct Card {
    pub lead: Option<LeadCard>,
    /// `withdrawn` or `partner_suspended` when `lead` is `None`.
    pub reason: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Created { scan_id: String, card: Card },
    Duplicate { scan_id: String, card: Card },
    Rejected { reason: &'static str, detail: String },
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = scans)]
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
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = leads, treat_none_as_null = true)]
pub struct LeadRow {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub attendee_id: String,
    pub first_scanned_at: i64,
    pub first_scanned_by: String,
    pub last_scanned_at: i64,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<String>,
    pub updated_at: i64,
}

fn reject(reason: &'static str, detail: &str) -> Outcome {
    Outcome::Rejected { reason, detail: detail.to_string() }
}

/// The lead card for an accepted scan: a release through the gate, or nothing.
fn lead_card(conn: &mut DbConn, scope: &PartnerScope, attendee_id: &str) -> AppResult<Card> {
    match gate::release(conn, scope, Channel::Scan, Selection::One(attendee_id), None) {
        Ok(released) => Ok(match released.into_iter().next() {
            Some(r) => Card { lead: Some(LeadCard { name: r.contact.name, company: r.contact.company }), reason: None },
            // The scan was accepted, so the gate's only remaining reason is a withdrawal.
            None => Card { lead: None, reason: Some("withdrawn") },
        }),
        Err(AppError::Suspended) => Ok(Card { lead: None, reason: Some("partner_suspended") }),
        Err(e) => Err(e),
    }
}

/// Decides and records one scan. Call inside a write transaction.
pub fn process(conn: &mut DbConn, scope: &PartnerScope, scan: &ValidScan, now: i64) -> AppResult<Outcome> {
    let existing: Option<ScanRow> = scans::table
        .filter(scans::partner_id.eq(&scope.partner_id))
        .filter(scans::client_scan_id.eq(&scan.client_scan_id))
        .select(ScanRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(existing) = existing {
        let card = lead_card(conn, scope, &existing.attendee_id)?;
        return Ok(Outcome::Duplicate { scan_id: existing.id, card });
    }

    let Some(code) = BadgeCode::parse(&scan.badge) else {
        return Ok(reject("unknown_badge", "this is not a badge of this service"));
    };
    let Some(badge) = badges::resolve(conn, &code)? else {
        return Ok(reject("unknown_badge", "no such badge"));
    };
    if badge.event_id != scope.event_id {
        return Ok(reject("other_event", "the badge belongs to another event"));
    }
    let erased: Option<i64> = attendees::table.find(&badge.attendee_id).select(attendees::erased_at).first(conn)?;
    if erased.is_some() {
        return Ok(reject("participant_erased", "this participant's data was erased"));
    }
    if badge.revoked_at.is_some() {
        return Ok(reject("badge_revoked", "the badge was replaced; ask for the new one"));
    }
    if scan.scanned_at > now + FUTURE_SKEW_MS {
        return Ok(reject("scanned_at_in_future", "scanned_at is ahead of the server clock"));
    }
    let event = events::find(conn, &scope.event_id)?;
    if scan.scanned_at < event.starts_at - EVENT_SKEW_MS || scan.scanned_at > event.ends_at + EVENT_SKEW_MS {
        return Ok(reject("outside_event_dates", "scanned_at is outside the event's dates"));
    }

    let answers_json = scan.answers.as_ref().map(serde_json::to_string).transpose().map_err(AppError::internal)?;
    let row = ScanRow {
        id: new_id(),
        event_id: scope.event_id.clone(),
        partner_id: scope.partner_id.clone(),
        user_id: scope.user_id.clone(),
        client_scan_id: scan.client_scan_id.clone(),
        badge_id: badge.id.clone(),
        attendee_id: badge.attendee_id.clone(),
        scanned_at: scan.scanned_at,
        received_at: now,
        notes: scan.notes.clone(),
        rating: scan.rating,
        answers: answers_json,
    };
    let inserted = crate::on_backend!(conn, |c| {
        diesel::insert_into(scans::table)
            .values(&row)
            .on_conflict((scans::partner_id, scans::client_scan_id))
            .do_nothing()
            .execute(c)
    })?;
    if inserted == 0 {
        // Another request stored the same client_scan_id between our lookup and insert.
        let id: String = scans::table
            .filter(scans::partner_id.eq(&scope.partner_id))
            .filter(scans::client_scan_id.eq(&scan.client_scan_id))
            .select(scans::id)
            .first(conn)?;
        let card = lead_card(conn, scope, &badge.attendee_id)?;
        return Ok(Outcome::Duplicate { scan_id: id, card });
    }
    merge_into_lead(conn, scope, &badge.attendee_id, scan, now)?;
    let card = lead_card(conn, scope, &badge.attendee_id)?;
    Ok(Outcome::Created { scan_id: row.id, card })
}

/// One lead per (partner, participant). Merge rule: `first_scanned_at` is the earliest
/// scan time seen (a later scan never moves it); notes, rating and answers from the scan
/// with the latest `scanned_at` win when non-empty, answers merged per question; a scan
/// older than the lead's latest only fills what is still empty.
fn merge_into_lead(
    conn: &mut DbConn,
    scope: &PartnerScope,
    attendee_id: &str,
    scan: &ValidScan,
    now: i64,
) -> AppResult<()> {
    let fresh = LeadRow {
        id: new_id(),
        event_id: scope.event_id.clone(),
        partner_id: scope.partner_id.clone(),
        attendee_id: attendee_id.to_string(),
        first_scanned_at: scan.scanned_at,
        first_scanned_by: scope.user_id.clone(),
        last_scanned_at: scan.scanned_at,
        notes: scan.notes.clone(),
        rating: scan.rating,
        answers: scan.answers.as_ref().map(serde_json::to_string).transpose().map_err(AppError::internal)?,
        updated_at: now,
    };
    let inserted = crate::on_backend!(conn, |c| {
        diesel::insert_into(leads::table)
            .values(&fresh)
            .on_conflict((leads::partner_id, leads::attendee_id))
            .do_nothing()
            .execute(c)
    })?;
    if inserted == 1 {
        return Ok(());
    }
    let query = leads::table.filter(leads::partner_id.eq(&scope.partner_id)).filter(leads::attendee_id.eq(attendee_id));
    // Row lock on PostgreSQL so concurrent scans of one badge merge one after the other;
    // SQLite write transactions are already serial (BEGIN IMMEDIATE).
    let mut lead: LeadRow = match conn {
        DbConn::Pg(c) => query.select(LeadRow::as_select()).for_update().first(c)?,
        DbConn::Sqlite(c) => query.select(LeadRow::as_select()).first(c)?,
    };
    let newer = scan.scanned_at >= lead.last_scanned_at;
    lead.notes =
        if newer { scan.notes.clone().or(lead.notes.take()) } else { lead.notes.take().or(scan.notes.clone()) };
    lead.rating = if newer { scan.rating.or(lead.rating) } else { lead.rating.or(scan.rating) };
    if let Some(new_answers) = &scan.answers {
        let mut merged: BTreeMap<String, String> =
            lead.answers.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or_default();
        for (k, v) in new_answers {
            if newer || !merged.contains_key(k) {
                merged.insert(k.clone(), v.clone());
            }
        }
        lead.answers = Some(serde_json::to_string(&merged).map_err(AppError::internal)?);
    }
    if scan.scanned_at < lead.first_scanned_at {
        lead.first_scanned_at = scan.scanned_at;
        lead.first_scanned_by = scope.user_id.clone();
    }
    lead.last_scanned_at = lead.last_scanned_at.max(scan.scanned_at);
    lead.updated_at = now;
    diesel::update(leads::table.find(lead.id.clone())).set(&lead).execute(conn)?;
    Ok(())
}
