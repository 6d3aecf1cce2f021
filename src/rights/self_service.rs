//! What a participant does through their personal link (the API's `/me` and the privacy
//! page alike): correct, withdraw, download, erase; and what staff do on a participant's
//! behalf. Every function runs inside the caller's write transaction.

use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use super::requests::{self, RequestKind};
use super::{ErasureResult, Links, ParticipantRecord, by_privacy_token, erase, record};
use crate::attendees::AttendeeRow;
use crate::attendees::{self, search_text};
use crate::auth::secrets::{random_token, sha256_hex};
use crate::consent::{Source, WithdrawalView, withdraw};
use crate::contact;
use crate::db::schema::attendees as attendees_t;
use crate::db::{DbConn, now_ms, savepoint};
use crate::error::{AppError, AppResult, is_unique_violation};
use crate::mail::OutboxKey;
use crate::partners;

/// Corrections; an empty string clears an optional field.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub marketing_emails: Option<bool>,
}

/// Applies a correction with the same checks as registration; records a completed
/// correction request when contact fields changed.
pub fn apply_correction(conn: &mut DbConn, token: &str, c: Correction) -> AppResult<()> {
    savepoint(conn, |conn| {
        let a = by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
        let changed = correct_row(conn, a.clone(), &c).map_err(|e| match e {
            AppError::NotFound => AppError::Unauthorized,
            other => other,
        })?;
        if changed {
            requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Correction)?;
        }
        Ok(())
    })
}

/// A correction staff make on a participant's request: the fields to change (as in
/// [`Correction`]) and how the request arrived.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct StaffCorrection {
    /// How the participant asked: `email`, `post`, `phone` or `in_person`.
    #[schema(example = "email")]
    pub channel: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub marketing_emails: Option<bool>,
}

impl StaffCorrection {
    /// The request's channel (self-service is the participant's own page, not staff's).
    pub fn parts(&self) -> AppResult<(requests::RequestChannel, Correction)> {
        let channel = match self.channel.parse::<requests::RequestChannel>() {
            Ok(requests::RequestChannel::SelfService) | Err(_) => {
                return Err(AppError::field("channel", "must be email, post, phone or in_person"));
            }
            Ok(c) => c,
        };
        let c = Correction {
            name: self.name.clone(),
            email: self.email.clone(),
            company: self.company.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            marketing_emails: self.marketing_emails,
        };
        Ok((channel, c))
    }
}

/// Staff correct a participant's data on their request (which came by `channel`): the same
/// checks as the participant's own correction; recorded as a completed correction request
/// handled by `by`. Answers whether anything changed.
pub fn staff_correct(
    conn: &mut DbConn,
    event_id: &str,
    attendee_id: &str,
    channel: requests::RequestChannel,
    by: &str,
    c: &Correction,
) -> AppResult<bool> {
    savepoint(conn, |conn| {
        let a = attendees::find_in_event(conn, event_id, attendee_id)?;
        if a.erased_at.is_some() {
            return Err(AppError::NotFound);
        }
        let changed = correct_row(conn, a, c)?;
        if changed {
            requests::record_completed(conn, event_id, attendee_id, RequestKind::Correction, channel, by)?;
        }
        Ok(changed)
    })
}

/// Applies `c` to `a` with the registration's checks; `NotFound` if it was erased meanwhile.
/// Answers whether a contact field changed.
fn correct_row(conn: &mut DbConn, mut a: AttendeeRow, c: &Correction) -> AppResult<bool> {
    {
        let mut errors = Vec::new();
        let mut changed = false;
        // The same checks as registration, on the fields given; an empty optional field
        // clears it, an empty name or e-mail is refused.
        let given = [
            ("name", &c.name),
            ("email", &c.email),
            ("company", &c.company),
            ("phone", &c.phone),
            ("address", &c.address),
        ];
        for (field, value) in given {
            let Some(value) = value else { continue };
            let cleaned = contact::clean_field(&mut errors, field, value);
            let slot = match field {
                "name" => {
                    let Some(name) = cleaned else { continue };
                    changed |= name != a.name;
                    a.name = name;
                    continue;
                }
                "email" => {
                    let Some(email) = cleaned else { continue };
                    changed |= email != a.email;
                    a.email = email;
                    continue;
                }
                "company" => &mut a.company,
                "phone" => &mut a.phone,
                _ => &mut a.address,
            };
            changed |= cleaned != *slot;
            *slot = cleaned;
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        // Only while not erased: on PostgreSQL an erasure may commit between the read above
        // and this write, which must not bring the erased values back.
        let result = diesel::update(attendees_t::table.find(&a.id).filter(attendees_t::erased_at.is_null()))
            .set((
                attendees_t::name.eq(&a.name),
                attendees_t::email.eq(&a.email),
                attendees_t::company.eq(&a.company),
                attendees_t::phone.eq(&a.phone),
                attendees_t::address.eq(&a.address),
                attendees_t::search_text.eq(search_text(&a.name, &a.email, a.company.as_deref())),
                attendees_t::marketing_emails.eq(c.marketing_emails.unwrap_or(a.marketing_emails)),
                attendees_t::updated_at.eq(now_ms()),
            ))
            .execute(conn);
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict("this e-mail is already registered for this event".into()));
            }
            Ok(0) => return Err(AppError::NotFound),
            other => other?,
        };
        Ok(changed)
    }
}

/// A correction, then the record as it now stands.
pub fn correct(links: &Links, conn: &mut DbConn, token: &str, c: Correction) -> AppResult<ParticipantRecord> {
    apply_correction(conn, token, c)?;
    let a = super::participant(conn, token)?;
    record(links, conn, a)
}

pub fn self_withdraw(
    conn: &mut DbConn,
    key: &OutboxKey,
    token: &str,
    partner: Option<String>,
) -> AppResult<WithdrawalView> {
    savepoint(conn, |conn| {
        let a = by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
        if let Some(p) = &partner {
            partners::find_in_event(conn, &a.event_id, p)
                .map_err(|_| AppError::field("partner_id", "is not a partner of this event"))?;
        }
        let row = withdraw(conn, &a.event_id, &a.id, partner.as_deref(), Source::Participant, None)?;
        let told = tell_partners(conn, key, &a, partner.as_deref())?;
        let request = requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Withdrawal)?;
        requests::note_partners_told(conn, &request, &told)?;
        Ok(row.into())
    })
}

/// The participant's download of their record, recorded as a completed access request.
pub fn export_record(links: &Links, conn: &mut DbConn, token: &str) -> AppResult<ParticipantRecord> {
    let a = by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
    requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Access)?;
    record(links, conn, a)
}

pub fn self_erase(conn: &mut DbConn, key: &OutboxKey, token: &str) -> AppResult<ErasureResult> {
    savepoint(conn, |conn| {
        let a = by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
        let request = requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Erasure)?;
        let result = erase(conn, key, &a.id)?;
        let told: Vec<String> = result.recipients_to_notify.iter().map(|p| p.name.clone()).collect();
        requests::note_partners_told(conn, &request, &told)?;
        Ok(result)
    })
}

/// A withdrawal from one partner (or all): each partner concerned that received the data
/// gets a deletion notice. Answers the names of the partners told.
fn tell_partners(conn: &mut DbConn, key: &OutboxKey, a: &AttendeeRow, partner: Option<&str>) -> AppResult<Vec<String>> {
    let subject = crate::notices::Subject { event_id: &a.event_id, attendee_id: &a.id, name: &a.name };
    let told = crate::notices::notify(conn, key, &subject, partner, crate::notices::NoticeReason::Withdrawal)?;
    Ok(told.into_iter().map(|p| p.name).collect())
}

/// A new personal link for a participant; the old one stops working at once. Answers the
/// token, which only the caller sees.
pub fn reissue_privacy_link(conn: &mut DbConn, event_id: &str, attendee_id: &str) -> AppResult<String> {
    let token = random_token(32).map_err(AppError::internal)?;
    let a = attendees::find_in_event(conn, event_id, attendee_id)?;
    // Read again under its lock: two replacements at once, or one beside an erasure, each
    // see what the other committed.
    let a = attendees::locked(conn, &a.id)?;
    attendees::retired::replace(conn, &a, sha256_hex(token.as_bytes()), crate::db::now_ms())?;
    Ok(token)
}

/// Staff erase a participant of their event (on a request by mail, or an under-18 flag).
pub fn staff_erase(conn: &mut DbConn, key: &OutboxKey, event_id: &str, attendee_id: &str) -> AppResult<ErasureResult> {
    let a = attendees::find_in_event(conn, event_id, attendee_id)?;
    erase(conn, key, &a.id)
}

/// One-request unsubscribe from marketing e-mails (RFC 8058).
pub fn unsubscribe(conn: &mut DbConn, token: &str) -> AppResult<()> {
    let a = super::by_unsubscribe_token(conn, token)?;
    diesel::update(attendees_t::table.find(&a.id)).set(attendees_t::marketing_emails.eq(false)).execute(conn)?;
    Ok(())
}

/// Staff record a participant's withdrawal that arrived by mail or post: from one partner
/// of the event, or from all when `partner_id` is absent.
pub fn staff_withdraw(
    conn: &mut DbConn,
    key: &OutboxKey,
    event_id: &str,
    attendee_id: &str,
    partner_id: Option<String>,
    by: &str,
) -> AppResult<crate::consent::WithdrawalRow> {
    let a = attendees::find_in_event(conn, event_id, attendee_id)?;
    if let Some(p) = &partner_id {
        partners::find_in_event(conn, event_id, p)
            .map_err(|_| AppError::field("partner_id", "is not a partner of this event"))?;
    }
    let row = withdraw(conn, &a.event_id, &a.id, partner_id.as_deref(), Source::StaffApi, Some(by))?;
    tell_partners(conn, key, &a, partner_id.as_deref())?;
    Ok(row)
}
