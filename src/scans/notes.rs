//! Each scanner's own notes, rating and answers, kept on its scan: a colleague's later scan
//! of the same participant adds its own beside them and never replaces them. The lead shows
//! them all, oldest scan first, under their authors; the lead's own note is the partner
//! admin's.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ScanNotes, check_notes};
use crate::auth::PartnerScope;
use crate::db::schema::{attendees, scans, users};
use crate::db::{DbConn, ms_to_rfc3339, now_ms};
use crate::error::{AppError, AppResult, FieldError};

/// `PUT /api/v1/scans/{client_scan_id}/notes`: the whole of a scan's notes, rating and
/// answers; a field left out or null is cleared.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotesInput {
    pub notes: Option<String>,
    /// 0–5, or null for none.
    pub rating: Option<i64>,
    /// Question → answer.
    pub answers: Option<BTreeMap<String, String>>,
}

/// One scan's notes, rating and answers as its author last set them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanNotesView {
    pub client_scan_id: String,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub answers: Option<BTreeMap<String, String>>,
    /// RFC 3339: when they were last set (the scan's arrival when never replaced).
    pub updated_at: String,
}

/// Replaces the notes, rating and answers of the caller's own scan `client_scan_id`. The
/// same text again changes nothing but `updated_at`. A scan of another user (a colleague's
/// included), one not synced yet, and one whose participant was erased are all not found
/// here: erased means no notes are kept about them, and the answer must not tell a partner
/// that someone erased themselves.
pub fn replace(
    conn: &mut DbConn,
    scope: &PartnerScope,
    client_scan_id: &str,
    input: &NotesInput,
) -> AppResult<ScanNotesView> {
    let mut errors: Vec<FieldError> = Vec::new();
    let client_scan_id = match uuid::Uuid::parse_str(client_scan_id.trim()) {
        Ok(u) => u.hyphenated().to_string(),
        Err(_) => {
            errors.push(FieldError::new("client_scan_id", "must be a UUID"));
            String::new()
        }
    };
    let own = check_notes(&mut errors, input.notes.as_deref(), input.rating, input.answers.as_ref());
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let scan_id: String = scans::table
        .inner_join(attendees::table.on(attendees::id.eq(scans::attendee_id)))
        .filter(scans::partner_id.eq(&scope.partner_id))
        .filter(scans::client_scan_id.eq(&client_scan_id))
        .filter(scans::user_id.eq(&scope.user_id))
        .filter(attendees::erased_at.is_null())
        .select(scans::id)
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    let now = now_ms();
    let answers = own.answers.as_ref().map(serde_json::to_string).transpose().map_err(AppError::internal)?;
    diesel::update(scans::table.find(&scan_id))
        .set((
            scans::notes.eq(&own.notes),
            scans::rating.eq(own.rating),
            scans::answers.eq(answers),
            scans::notes_updated_at.eq(Some(now)),
        ))
        .execute(conn)?;
    let ScanNotes { notes, rating, answers } = own;
    Ok(ScanNotesView { client_scan_id, notes, rating, answers, updated_at: ms_to_rfc3339(now) })
}

/// One scan's note, rating and answers as a lead shows them, with the scanner and the
/// scan's time.
#[derive(Debug, Clone)]
pub struct ScanNote {
    pub attendee_id: String,
    /// The scanner's e-mail.
    pub by: String,
    pub user_id: String,
    pub scanned_at: i64,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<BTreeMap<String, String>>,
}

type NoteRow = (String, String, String, i64, Option<String>, Option<i32>, Option<String>);

/// The partner's scans of `attendee_ids` that carry a note, a rating or answers, oldest
/// first per participant: one query per 500 participants, so a page of leads or of an
/// export costs one.
pub fn for_leads(
    conn: &mut DbConn,
    partner_id: &str,
    attendee_ids: &[&str],
) -> AppResult<HashMap<String, Vec<ScanNote>>> {
    let mut found: HashMap<String, Vec<ScanNote>> = HashMap::new();
    for chunk in attendee_ids.chunks(500) {
        let rows: Vec<NoteRow> = scans::table
            .inner_join(users::table.on(users::id.eq(scans::user_id)))
            .filter(scans::partner_id.eq(partner_id))
            .filter(scans::attendee_id.eq_any(chunk))
            .filter(scans::notes.is_not_null().or(scans::rating.is_not_null()).or(scans::answers.is_not_null()))
            .order((scans::scanned_at, scans::id))
            .select((
                scans::attendee_id,
                users::email,
                scans::user_id,
                scans::scanned_at,
                scans::notes,
                scans::rating,
                scans::answers,
            ))
            .load(conn)?;
        for (attendee_id, by, user_id, scanned_at, notes, rating, answers) in rows {
            let answers = answers.as_deref().and_then(|a| serde_json::from_str(a).ok());
            found.entry(attendee_id.clone()).or_default().push(ScanNote {
                attendee_id,
                by,
                user_id,
                scanned_at,
                notes,
                rating,
                answers,
            });
        }
    }
    Ok(found)
}

/// The partner's participants whose scan notes contain `needle` (lower case), for the lead
/// search: one query over the partner's noted scans.
pub fn matching(conn: &mut DbConn, partner_id: &str, needle: &str) -> AppResult<std::collections::HashSet<String>> {
    let rows: Vec<(String, Option<String>)> = scans::table
        .filter(scans::partner_id.eq(partner_id))
        .filter(scans::notes.is_not_null())
        .select((scans::attendee_id, scans::notes))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, n)| n.as_deref().is_some_and(|n| n.to_lowercase().contains(needle)))
        .map(|(a, _)| a)
        .collect())
}

/// One rating for a lead where a single value is wanted (the export's `rating` column):
/// the admin's when set, else that of the latest scan that carries one.
pub fn summary_rating(admin: Option<i32>, notes: &[ScanNote]) -> Option<i32> {
    admin.or_else(|| notes.iter().rev().find_map(|n| n.rating))
}

/// One answer per question where a single set is wanted (the export's `answers` column):
/// per question, the latest scan's answer.
pub fn summary_answers(notes: &[ScanNote]) -> Option<BTreeMap<String, String>> {
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for n in notes {
        for (k, v) in n.answers.iter().flatten() {
            merged.insert(k.clone(), v.clone());
        }
    }
    Some(merged).filter(|m| !m.is_empty())
}
