//! The notice to participants whose data an incident exposed (issue 13, point 6): staff
//! preview it, then send it once to every participant in the computed exposure, through
//! the outbox. Each message lists only its recipient's own data: the fields and recipients
//! come from that participant's ledger rows within the incident's scope and window.
//!
//! Sending is refused (409) once done: the notice is a one-time act recorded on the
//! incident (`participants_notified_at`), and a second copy would only alarm people. A
//! message that failed to deliver is resent from the outbox (`POST …/mail/{id}/resend`).

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{IncidentRow, find, ledger_hits};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::schema::incidents;
use crate::db::{DbConn, ms_to_rfc3339, now_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::gate::{self, StaffSelection};
use crate::mail::{self, MailKind, breach};

/// Per participant: recipient name -> fields, from the incident's ledger rows.
type PerParticipant = BTreeMap<String, (String, BTreeMap<String, BTreeSet<String>>)>;

fn per_participant(conn: &mut DbConn, i: &IncidentRow) -> AppResult<PerParticipant> {
    let hits = ledger_hits(conn, i)?;
    let event_of: BTreeMap<String, String> = {
        use crate::db::schema::attendees;
        let ids: BTreeSet<&String> = hits.iter().map(|h| &h.3).collect();
        let mut map = BTreeMap::new();
        for chunk in ids.into_iter().collect::<Vec<_>>().chunks(500) {
            let rows: Vec<(String, String)> = attendees::table
                .filter(attendees::id.eq_any(chunk.iter().map(|s| s.as_str())))
                // Erased participants have no address left to notify.
                .filter(attendees::erased_at.is_null())
                .select((attendees::id, attendees::event_id))
                .load(conn)?;
            map.extend(rows);
        }
        map
    };
    let mut out: PerParticipant = BTreeMap::new();
    for (_, partner_name, _, attendee_id, fields, _, _) in hits {
        let Some(event_id) = event_of.get(&attendee_id) else { continue };
        let entry = out.entry(attendee_id).or_insert_with(|| (event_id.clone(), BTreeMap::new()));
        let recipient = partner_name.unwrap_or_else(|| "a member of the organiser's staff".to_string());
        let set = entry.1.entry(recipient).or_default();
        set.extend(fields.split(',').filter(|f| !f.is_empty()).map(str::to_string));
    }
    Ok(out)
}

fn exposed(by_recipient: &BTreeMap<String, BTreeSet<String>>) -> Vec<breach::Exposed> {
    let order = |f: &String| crate::contact::FIELDS.iter().position(|c| c == f).unwrap_or(usize::MAX);
    by_recipient
        .iter()
        .map(|(recipient, fields)| {
            let mut fields: Vec<String> = fields.iter().cloned().collect();
            fields.sort_by_key(order);
            breach::Exposed { recipient: recipient.clone(), fields }
        })
        .collect()
}

/// The notice needs the nature of the incident and a contact, entered with `PATCH`.
fn narrative(i: &IncidentRow) -> AppResult<(String, String)> {
    let mut errors = Vec::new();
    let nature = i.nature.clone().filter(|n| !n.trim().is_empty());
    let contact = i.contact.clone().filter(|c| !c.trim().is_empty());
    if nature.is_none() {
        errors.push(FieldError::new(
            "nature",
            "enter what happened (the nature of the incident) before notifying participants",
        ));
    }
    if contact.is_none() {
        errors.push(FieldError::new("contact", "enter a contact for questions before notifying participants"));
    }
    match (nature, contact) {
        (Some(n), Some(c)) => Ok((n, c)),
        _ => Err(AppError::Validation(errors)),
    }
}

fn facts(
    public_url: &PublicUrl,
    event: &crate::events::EventRow,
    name: String,
    nature: &str,
    contact: &str,
    by_recipient: &BTreeMap<String, BTreeSet<String>>,
    measures: Option<&str>,
) -> breach::Facts {
    breach::Facts {
        name,
        event: event.name.clone(),
        what_happened: nature.to_string(),
        exposed: exposed(by_recipient),
        contact: contact.to_string(),
        resend_url: format!("{}/e/{}/resend", public_url.0, event.slug),
        measures: measures.map(str::to_string),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeSample {
    pub subject: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticePreview {
    /// How many participants the notice goes to.
    pub participants: usize,
    /// The message for one of them, with the name replaced by a placeholder; null when the
    /// exposure holds nobody.
    pub sample: Option<NoticeSample>,
    pub participants_notified_at: Option<String>,
}

/// The notice as one participant would receive it (the first in the exposure, name
/// replaced): no contact field of anyone is read.
pub fn preview(conn: &mut DbConn, public_url: &PublicUrl, incident_id: &str) -> AppResult<NoticePreview> {
    let i = find(conn, incident_id)?;
    let (nature, contact) = narrative(&i)?;
    let per = per_participant(conn, &i)?;
    let sample = match per.values().next() {
        Some((event_id, by_recipient)) => {
            let event = crate::events::find(conn, event_id)?;
            let f = facts(
                public_url,
                &event,
                "[participant's name]".into(),
                &nature,
                &contact,
                by_recipient,
                i.mitigation.as_deref(),
            );
            Some(NoticeSample { subject: breach::subject(&event.name), text: breach::render(&f).text })
        }
        None => None,
    };
    Ok(NoticePreview {
        participants: per.len(),
        sample,
        participants_notified_at: i.participants_notified_at.map(ms_to_rfc3339),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeSent {
    /// Messages queued: participants in the exposure who are not erased.
    pub queued: usize,
    pub participants_notified_at: String,
}

/// Queues the notice for every participant in the exposure (erased ones have nothing left
/// to notify), in the caller's write transaction, and records when. Reading their names
/// and addresses is a staff read by `staff_user_id`, ledgered with basis
/// `incident_notification`.
pub fn send(
    conn: &mut DbConn,
    key: &BadgeKey,
    public_url: &PublicUrl,
    staff_user_id: &str,
    incident_id: &str,
) -> AppResult<NoticeSent> {
    let i = find(conn, incident_id)?;
    if i.participants_notified_at.is_some() {
        return Err(AppError::Conflict("the participants of this incident were notified already".into()));
    }
    let (nature, contact) = narrative(&i)?;
    let per = per_participant(conn, &i)?;
    let ids: Vec<String> = per.keys().cloned().collect();
    let read = gate::staff_read(conn, staff_user_id, StaffSelection::Affected(&ids))?;
    let mut events: BTreeMap<String, crate::events::EventRow> = BTreeMap::new();
    let mut mails = Vec::with_capacity(read.records.len());
    for r in read.records {
        let (Some((_, by_recipient)), Some(name), Some(email)) =
            (per.get(&r.attendee_id), r.contact.name.clone(), r.contact.email.clone())
        else {
            continue;
        };
        if !events.contains_key(&r.event_id) {
            let e = crate::events::find(conn, &r.event_id)?;
            events.insert(r.event_id.clone(), e);
        }
        let Some(event) = events.get(&r.event_id) else { continue };
        mails.push(mail::NewMail {
            kind: MailKind::BreachNotice,
            event_id: Some(event.id.clone()),
            attendee_id: Some(r.attendee_id.clone()),
            to: email,
            subject: breach::subject(&event.name),
            body: mail::Body::BreachNotice(facts(
                public_url,
                event,
                name,
                &nature,
                &contact,
                by_recipient,
                i.mitigation.as_deref(),
            )),
        });
    }
    mail::enqueue_many(conn, &mail::OutboxKey::from_badge_key(key)?, &mails)?;
    let now = now_ms();
    diesel::update(incidents::table.find(&i.id))
        .set(incidents::participants_notified_at.eq(Some(now)))
        .execute(conn)?;
    tracing::warn!(incident_id = %i.id, queued = mails.len(), "participant notice queued");
    Ok(NoticeSent { queued: mails.len(), participants_notified_at: ms_to_rfc3339(now) })
}
