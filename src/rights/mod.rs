//! Participants' rights: what is held about them and who received it, self-service
//! withdrawal, correction, export and erasure, and the 30-day request register.

pub mod handlers;
pub mod requests;
pub mod self_service;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::attendees::AttendeeRow;
use crate::auth::secrets::sha256_hex;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::consent::{self, ConsentView, WithdrawalView};
use crate::db::schema::{attendees, badges, consents, disclosures, leads, partners, scans};
use crate::db::{DbConn, PersonalTable, ms_to_rfc3339, now_ms, savepoint};
use crate::error::{AppError, AppResult};
use crate::events;
use crate::ledger::{Basis, Channel};

/// The participant a personal link belongs to; revoked links and erased participants
/// resolve to nothing.
pub fn by_privacy_token(conn: &mut DbConn, token: &str) -> AppResult<AttendeeRow> {
    attendees::table
        .filter(attendees::privacy_token_hash.eq(sha256_hex(token.as_bytes())))
        .filter(attendees::erased_at.is_null())
        .select(AttendeeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

pub fn by_unsubscribe_token(conn: &mut DbConn, token: &str) -> AppResult<AttendeeRow> {
    attendees::table
        .filter(attendees::unsubscribe_token_hash.eq(sha256_hex(token.as_bytes())))
        .filter(attendees::erased_at.is_null())
        .select(AttendeeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// The participant behind a personal-link token; a dead link is a 401, as the extractor
/// that checked it already answered.
pub fn participant(conn: &mut DbConn, token: &str) -> AppResult<AttendeeRow> {
    by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeldData {
    pub id: String,
    pub event_id: String,
    pub event_name: String,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub marketing_emails: bool,
    pub registered_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanSeen {
    pub partner_id: String,
    pub partner_name: String,
    pub scanned_at: String,
}

#[derive(Debug, Serialize, ToSchema, Clone)]
pub struct Recipient {
    pub partner_id: String,
    pub partner_name: String,
    pub occurred_at: String,
    pub fields: Vec<String>,
    #[schema(value_type = String)]
    pub basis: Basis,
    #[schema(value_type = String)]
    pub channel: Channel,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerNote {
    pub partner_name: String,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeHistory {
    pub issued_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerOption {
    pub id: String,
    pub name: String,
}

/// Everything the service holds about one participant, and who received it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantRecord {
    pub data: HeldData,
    pub opt_ins: Vec<ConsentView>,
    pub withdrawals: Vec<WithdrawalView>,
    pub scans: Vec<ScanSeen>,
    /// Every release of this participant's data, from the disclosure ledger.
    pub recipients: Vec<Recipient>,
    pub partner_notes: Vec<PartnerNote>,
    pub badges: Vec<BadgeHistory>,
    pub requests: Vec<requests::RequestView>,
    pub partners: Vec<PartnerOption>,
    pub unsubscribe_url: String,
}

pub fn recipients(conn: &mut DbConn, attendee_id: &str) -> AppResult<Vec<Recipient>> {
    // Partners only: the operator's own staff releases are not third-party recipients.
    let rows: Vec<(String, String, i64, String, Basis, Channel)> = disclosures::table
        .inner_join(partners::table.on(disclosures::partner_id.eq(partners::id.nullable())))
        .filter(disclosures::attendee_id.eq(attendee_id))
        .order((disclosures::occurred_at, disclosures::id))
        .select((
            partners::id,
            partners::name,
            disclosures::occurred_at,
            disclosures::fields,
            disclosures::basis,
            disclosures::channel,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(partner_id, partner_name, at, fields, basis, channel)| Recipient {
            partner_id,
            partner_name,
            occurred_at: ms_to_rfc3339(at),
            fields: fields.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
            basis,
            channel,
        })
        .collect())
}

/// Partner name, notes, rating, answers (JSON).
type NoteRow = (String, Option<String>, Option<i32>, Option<String>);

pub fn record(links: &Links, conn: &mut DbConn, a: AttendeeRow) -> AppResult<ParticipantRecord> {
    let event = events::find(conn, &a.event_id)?;
    let (opt_ins, withdrawn) = consent::for_attendee(conn, &a.id)?;
    let scans_seen: Vec<(String, String, i64)> = scans::table
        .inner_join(partners::table.on(partners::id.eq(scans::partner_id)))
        .filter(scans::attendee_id.eq(&a.id))
        .order(scans::scanned_at)
        .select((scans::partner_id, partners::name, scans::scanned_at))
        .load(conn)?;
    let mut notes: Vec<NoteRow> = leads::table
        .inner_join(partners::table.on(partners::id.eq(leads::partner_id)))
        .filter(leads::attendee_id.eq(&a.id))
        .select((partners::name, leads::notes, leads::rating, leads::answers))
        .load(conn)?;
    // Each scanner's own notes about them are held too (kept per scan since migration 000016).
    let scan_notes: Vec<NoteRow> = scans::table
        .inner_join(partners::table.on(partners::id.eq(scans::partner_id)))
        .filter(scans::attendee_id.eq(&a.id))
        .order(scans::scanned_at)
        .select((partners::name, scans::notes, scans::rating, scans::answers))
        .load(conn)?;
    notes.extend(scan_notes);
    let badge_rows: Vec<(i64, Option<i64>)> = badges::table
        .filter(badges::attendee_id.eq(&a.id))
        .order(badges::created_at)
        .select((badges::created_at, badges::revoked_at))
        .load(conn)?;
    let partner_options = crate::partners::list_for_event(conn, &a.event_id)?
        .into_iter()
        .map(|p| PartnerOption { id: p.id, name: p.name })
        .collect();
    let unsubscribe_url = format!("{}/u/{}", links.public_url.0, links.badge_key.unsubscribe_token(&a.id)?);
    Ok(ParticipantRecord {
        recipients: recipients(conn, &a.id)?,
        requests: requests::for_attendee(conn, &a.id)?,
        opt_ins: opt_ins.into_iter().map(Into::into).collect(),
        withdrawals: withdrawn.into_iter().map(Into::into).collect(),
        scans: scans_seen
            .into_iter()
            .map(|(partner_id, partner_name, at)| ScanSeen { partner_id, partner_name, scanned_at: ms_to_rfc3339(at) })
            .collect(),
        partner_notes: notes
            .into_iter()
            .filter(|(_, n, r, a)| n.is_some() || r.is_some() || a.is_some())
            .map(|(partner_name, notes, rating, answers)| PartnerNote {
                partner_name,
                notes,
                rating,
                answers: answers.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            })
            .collect(),
        badges: badge_rows
            .into_iter()
            .map(|(issued, revoked)| BadgeHistory {
                issued_at: ms_to_rfc3339(issued),
                revoked_at: revoked.map(ms_to_rfc3339),
            })
            .collect(),
        partners: partner_options,
        unsubscribe_url,
        data: HeldData {
            id: a.id,
            event_id: event.id,
            event_name: event.name,
            name: a.name,
            email: a.email,
            company: a.company,
            phone: a.phone,
            address: a.address,
            marketing_emails: a.marketing_emails,
            registered_at: ms_to_rfc3339(a.created_at),
        },
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureResult {
    pub erased: bool,
    /// Partners that had received this participant's data and must be told.
    pub recipients_to_notify: Vec<PartnerOption>,
}

/// Erases a participant: personal fields overwritten, badge and links revoked, opt-ins
/// ended, partners' notes about them removed, staff notes on their requests cleared and
/// their name, e-mail and phone replaced with "(erased)" in incident narratives. Scans,
/// leads and ledger rows stay as skeletons under the pseudonymous id, so the history of
/// disclosures survives. After the commit the old row versions leave the database files
/// (see `db::scrub_after_commit`), whichever path erased. Every partner that received the
/// data gets a deletion notice (see `notices`), mailed through `key`'s outbox.
pub fn erase(conn: &mut DbConn, key: &crate::mail::OutboxKey, attendee_id: &str) -> AppResult<ErasureResult> {
    savepoint(conn, |conn| {
        let now = now_ms();
        let a: AttendeeRow = attendees::table
            .find(attendee_id)
            .select(AttendeeRow::as_select())
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound)?;
        if a.erased_at.is_some() {
            return Err(AppError::NotFound);
        }
        diesel::update(attendees::table.find(attendee_id))
            .set((
                attendees::name.eq("(erased)"),
                // Keeps the (event, email) constraint satisfied without any personal value.
                attendees::email.eq(format!("erased-{attendee_id}@invalid")),
                attendees::company.eq(None::<String>),
                attendees::phone.eq(None::<String>),
                attendees::address.eq(None::<String>),
                attendees::marketing_emails.eq(false),
                attendees::search_text.eq(""),
                attendees::privacy_token_hash.eq(None::<String>),
                attendees::unsubscribe_token_hash.eq(None::<String>),
                attendees::erased_at.eq(Some(now)),
                attendees::updated_at.eq(now),
            ))
            .execute(conn)?;
        crate::badges::revoke_all(conn, attendee_id)?;
        // Only hashes of random tokens: nothing personal, no scrub needed.
        crate::consent::forget_confirmation_tokens(conn, attendee_id)?;
        crate::attendees::retired::forget(conn, &[attendee_id.to_string()])?;
        diesel::update(
            consents::table.filter(consents::attendee_id.eq(attendee_id)).filter(consents::ended_at.is_null()),
        )
        .set(consents::ended_at.eq(Some(now)))
        .execute(conn)?;
        let mut touched = vec![PersonalTable::Attendees];
        // Only rows that carry something are rewritten, so a table is compacted only when
        // it held something about this person.
        let scans_cleared = diesel::update(
            scans::table
                .filter(scans::attendee_id.eq(attendee_id))
                .filter(scans::notes.is_not_null().or(scans::rating.is_not_null()).or(scans::answers.is_not_null())),
        )
        .set((scans::notes.eq(None::<String>), scans::rating.eq(None::<i32>), scans::answers.eq(None::<String>)))
        .execute(conn)?;
        if scans_cleared > 0 {
            touched.push(PersonalTable::Scans);
        }
        let leads_cleared = diesel::update(
            leads::table
                .filter(leads::attendee_id.eq(attendee_id))
                .filter(leads::notes.is_not_null().or(leads::rating.is_not_null()).or(leads::answers.is_not_null())),
        )
        .set((
            leads::notes.eq(None::<String>),
            leads::rating.eq(None::<i32>),
            leads::answers.eq(None::<String>),
            leads::notes_by.eq(None::<String>),
            leads::notes_at.eq(None::<i64>),
        ))
        .execute(conn)?;
        if leads_cleared > 0 {
            touched.push(PersonalTable::Leads);
        }
        if requests::clear_notes(conn, attendee_id)? > 0 {
            touched.push(PersonalTable::Requests);
        }
        if crate::mail::forget_attendee(conn, attendee_id)? > 0 {
            touched.push(PersonalTable::MailOutbox);
        }
        let needles = [a.name.as_str(), a.email.as_str(), a.phone.as_deref().unwrap_or("")];
        let (incidents_changed, updates_changed) = crate::incidents::redact_participant(conn, &needles)?;
        if incidents_changed > 0 {
            touched.push(PersonalTable::Incidents);
        }
        if updates_changed > 0 {
            touched.push(PersonalTable::IncidentUpdates);
        }
        crate::db::scrub_after_commit(&touched);
        // Each partner that received the data is told to delete it, in this transaction.
        let subject = crate::notices::Subject { event_id: &a.event_id, attendee_id, name: &a.name };
        crate::notices::notify(conn, key, &subject, None, crate::notices::NoticeReason::Erasure)?;
        let mut to_notify: Vec<PartnerOption> = Vec::new();
        for r in recipients(conn, attendee_id)? {
            if !to_notify.iter().any(|p| p.id == r.partner_id) {
                to_notify.push(PartnerOption { id: r.partner_id, name: r.partner_name });
            }
        }
        Ok(ErasureResult { erased: true, recipients_to_notify: to_notify })
    })
}

/// What a participant's record needs to print their links.
pub struct Links<'a> {
    pub public_url: &'a PublicUrl,
    pub badge_key: &'a BadgeKey,
}

pub fn load_record(conn: &mut DbConn, links: &Links, token: &str) -> AppResult<ParticipantRecord> {
    let a = by_privacy_token(conn, token)?;
    record(links, conn, a)
}
