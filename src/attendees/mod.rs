//! Participants ("attendees" in the API): registration by API, web form and CSV import,
//! with opt-ins captured exactly as given and a badge issued in the same transaction.

pub mod badging;
pub mod handlers;
pub mod import;
pub mod public;
pub mod retired;
pub mod staff;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::secrets::{random_token, sha256_hex};
use crate::badges::{self, BadgeCode, BadgeKey};
use crate::config::PublicUrl;
use crate::consent::{self, Source};
use crate::contact::{self, Contact, ValidContact};
use crate::db::schema::{attendees, badges as badges_t, consents};
use crate::db::{DbConn, new_sequential_id, now_ms};
use crate::error::{AppError, AppResult, FieldError, is_unique_violation};
use crate::events::EventRow;
use crate::mail;
use crate::partners::PartnerRow;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attendees, treat_none_as_default_value = false)]
pub struct AttendeeRow {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub marketing_emails: bool,
    pub search_text: String,
    pub privacy_token_hash: Option<String>,
    pub erased_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub unsubscribe_token_hash: Option<String>,
    /// The import that brought the participant; see [`crate::db::settled`].
    pub import_run: Option<String>,
}

/// Registration input as any channel (API, form, import) delivers it.
#[derive(Debug, Default, Clone)]
pub struct RegistrationInput {
    pub contact: Contact,
    pub is_adult: Option<bool>,
    pub share_with_all_partners: bool,
    pub share_with_partners: Vec<String>,
    pub marketing_emails: bool,
}

/// Input that passed every check; only this can be stored.
#[derive(Debug, Clone)]
pub struct ValidRegistration {
    pub contact: ValidContact,
    pub share_with_all_partners: bool,
    pub share_with_partners: Vec<String>,
    pub marketing_emails: bool,
}

/// Field checks shared by every registration channel. `partner_ids` are the event's partners.
pub fn validate(input: &RegistrationInput, partner_ids: &[String]) -> Result<ValidRegistration, Vec<FieldError>> {
    let mut errors = Vec::new();
    let contact = contact::validate(&mut errors, &input.contact);
    if input.is_adult != Some(true) {
        errors.push(FieldError::new("is_adult", "participants must confirm they are 18 or older"));
    }
    let mut shared = Vec::new();
    for (i, p) in input.share_with_partners.iter().enumerate() {
        if !partner_ids.contains(p) {
            errors.push(FieldError::new(format!("share_with_partners[{i}]"), "is not a partner of this event"));
        } else if !shared.contains(p) {
            shared.push(p.clone());
        }
    }
    let (Some(contact), true) = (contact, errors.is_empty()) else { return Err(errors) };
    Ok(ValidRegistration {
        contact,
        share_with_all_partners: input.share_with_all_partners,
        share_with_partners: shared,
        marketing_emails: input.marketing_emails,
    })
}

pub fn search_text(name: &str, email: &str, company: Option<&str>) -> String {
    format!("{} {} {}", name, email, company.unwrap_or("")).to_lowercase()
}

/// Everything one registration writes, built before anything is stored.
pub struct Prepared {
    pub attendee: AttendeeRow,
    pub badge: badges::BadgeRow,
    pub code: BadgeCode,
    pub consents: Vec<consent::ConsentRow>,
    pub privacy_token: String,
    /// The double opt-in link's token, when opt-ins await confirmation (form only).
    pub confirm_token: Option<String>,
}

pub fn prepare(key: &BadgeKey, event: &EventRow, reg: ValidRegistration, source: Source) -> AppResult<Prepared> {
    let now = now_ms();
    let id = new_sequential_id();
    let privacy_token = random_token(32).map_err(AppError::internal)?;
    let unsubscribe_hash = sha256_hex(key.unsubscribe_token(&id)?.as_bytes());
    let (badge, code) = badges::new_badge(key, &event.id, &id)?;
    let consents = consent::opt_in_rows(
        &event.id,
        &id,
        reg.share_with_all_partners,
        &reg.share_with_partners,
        source,
        &event.privacy_notice_version,
        now,
    );
    let c = reg.contact;
    let attendee = AttendeeRow {
        search_text: search_text(&c.name, &c.email, c.company.as_deref()),
        id,
        event_id: event.id.clone(),
        name: c.name,
        email: c.email,
        company: c.company,
        phone: c.phone,
        address: c.address,
        marketing_emails: reg.marketing_emails,
        privacy_token_hash: Some(sha256_hex(privacy_token.as_bytes())),
        erased_at: None,
        created_at: now,
        updated_at: now,
        unsubscribe_token_hash: Some(unsubscribe_hash),
        import_run: None,
    };
    let confirm_token = if consents.iter().any(|c| c.confirmed_at.is_none()) {
        Some(random_token(32).map_err(AppError::internal)?)
    } else {
        None
    };
    Ok(Prepared { attendee, badge, code, consents, privacy_token, confirm_token })
}

/// Stores many prepared registrations in the caller's transaction, in multi-row inserts.
pub fn store(conn: &mut DbConn, prepared: &[Prepared]) -> AppResult<()> {
    // SQLite inserts at most 100 rows a statement (see `in_fixed_chunks!`); PostgreSQL takes a
    // chunk's rows by `COPY`, and a few rows (a registration through the API, the form or
    // the console) by an `INSERT` (see `pg_insert_rows!`).
    let size = if matches!(conn, DbConn::Pg(_)) { crate::db::PG_ARRAY_ROWS } else { 500 };
    for chunk in prepared.chunks(size) {
        let people: Vec<&AttendeeRow> = chunk.iter().map(|p| &p.attendee).collect();
        let cards: Vec<&badges::BadgeRow> = chunk.iter().map(|p| &p.badge).collect();
        let opt_ins: Vec<&consent::ConsentRow> = chunk.iter().flat_map(|p| p.consents.iter()).collect();
        let result = match conn {
            DbConn::Pg(c) => crate::pg_insert_rows!(c, attendees::table, &people[..]).map(drop),
            DbConn::Sqlite(c) => insert_attendees_sqlite(c, &people),
        };
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict(
                    "a participant with this e-mail is already registered for this event".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        match conn {
            DbConn::Pg(c) => {
                crate::pg_insert_rows!(c, badges_t::table, &cards[..])?;
            }
            DbConn::Sqlite(c) => {
                crate::in_fixed_chunks!(cards, |rows| diesel::insert_into(badges_t::table)
                    .values(&rows.map(|b| b.clone()))
                    .execute(c)?)
            }
        };
        match conn {
            DbConn::Pg(c) => {
                crate::pg_insert_rows!(c, consents::table, &opt_ins[..])?;
            }
            DbConn::Sqlite(c) => {
                crate::in_fixed_chunks!(opt_ins, |rows| diesel::insert_into(consents::table)
                    .values(&rows.map(|o| o.clone()))
                    .execute(c)?)
            }
        }
        for p in chunk {
            if let Some(token) = &p.confirm_token {
                consent::store_confirmation_token(conn, &p.attendee.id, token, p.attendee.created_at)?;
            }
        }
    }
    Ok(())
}

/// Participants on SQLite; the caller tells a unique violation (a second registration
/// of the address) from other errors.
fn insert_attendees_sqlite(c: &mut diesel::SqliteConnection, rows: &[&AttendeeRow]) -> QueryResult<()> {
    crate::in_fixed_chunks!(rows, |chunk| diesel::insert_into(attendees::table)
        .values(&chunk.map(|a| a.clone()))
        .execute(c)?);
    Ok(())
}

/// The participant's row read under its lock on PostgreSQL, for a change that depends on
/// what it holds: a link replaced, or mail to its address. An erasure or another
/// replacement that committed while this waited is then seen, not undone. (SQLite writes
/// one transaction at a time, so the plain read is already current.)
pub fn locked(conn: &mut DbConn, attendee_id: &str) -> AppResult<AttendeeRow> {
    let row = match conn {
        DbConn::Pg(c) => {
            attendees::table.find(attendee_id).select(AttendeeRow::as_select()).for_update().first(c).optional()?
        }
        DbConn::Sqlite(c) => attendees::table.find(attendee_id).select(AttendeeRow::as_select()).first(c).optional()?,
    };
    row.ok_or(AppError::NotFound)
}

/// A participant of the event, or 404 (including participants of other events).
pub fn find_in_event(conn: &mut DbConn, event_id: &str, attendee_id: &str) -> AppResult<AttendeeRow> {
    attendees::table
        .find(attendee_id)
        .filter(attendees::event_id.eq(event_id))
        .filter(crate::db::settled::settled())
        .select(AttendeeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeLinks {
    pub png_url: String,
    pub svg_url: String,
    /// The badge code grouped for manual entry when a camera fails.
    pub fallback_code: String,
}

impl BadgeLinks {
    pub fn new(base: &str, event_id: &str, attendee_id: &str, code: &BadgeCode) -> BadgeLinks {
        let prefix = format!("{base}/api/v1/events/{event_id}/attendees/{attendee_id}");
        BadgeLinks {
            png_url: format!("{prefix}/badge.png"),
            svg_url: format!("{prefix}/badge.svg"),
            fallback_code: code.fallback(),
        }
    }
}

pub fn privacy_url(base: &str, token: &str) -> String {
    format!("{base}/me/{token}")
}

/// The double opt-in link: a page whose button confirms (a GET changes nothing, as mail
/// scanners open links).
pub fn confirm_url(base: &str, slug: &str, token: &str) -> String {
    format!("{base}/e/{slug}/confirm/{token}")
}

/// What registering one participant returns, for the API and the web form alike.
pub struct RegistrationOutcome {
    pub event_id: String,
    pub attendee_id: String,
    pub code: BadgeCode,
    pub privacy_token: String,
}

/// A registration checked and made ready to store: its rows, and its confirmation built
/// and sealed. Made before the write transaction ([`ready_registration`]), because on
/// SQLite every write of the process waits for the one writer: what a registration does
/// under it is what bounds registrations per second.
pub struct ReadyRegistration {
    prepared: Prepared,
    confirmation: Vec<mail::MailRow>,
}

/// Validates one registration and prepares it, in a read transaction; nothing is stored,
/// and nothing will be when a check fails (an under-18 registration leaves no row).
/// [`store_registration`] stores it. A second registration of the same address that got
/// in between is refused there by the unique key (409), as before.
pub fn ready_registration(
    conn: &mut DbConn,
    key: &BadgeKey,
    public_url: &PublicUrl,
    event_id: &str,
    input: RegistrationInput,
    source: Source,
) -> AppResult<ReadyRegistration> {
    let event = crate::events::find(conn, event_id)?;
    let partners = crate::partners::list_for_event(conn, &event.id)?;
    let partner_ids: Vec<String> = partners.iter().map(|p| p.id.clone()).collect();
    let valid = validate(&input, &partner_ids).map_err(AppError::Validation)?;
    ready_valid(key, public_url, &event, &partners, valid, source)
}

/// [`ready_registration`] for input already validated against the event's partners.
pub fn ready_valid(
    key: &BadgeKey,
    public_url: &PublicUrl,
    event: &EventRow,
    partners: &[PartnerRow],
    valid: ValidRegistration,
    source: Source,
) -> AppResult<ReadyRegistration> {
    let prepared = prepare(key, event, valid, source)?;
    let confirmation = confirmation_mail(public_url, event, partners, &prepared);
    let confirmation = mail::sealed(&mail::OutboxKey::from_badge_key(key)?, std::slice::from_ref(&confirmation))?;
    Ok(ReadyRegistration { prepared, confirmation })
}

/// Stores a ready registration and queues its confirmation, in the caller's transaction:
/// a registration is never stored without its confirmation.
pub fn store_registration(conn: &mut DbConn, ready: ReadyRegistration) -> AppResult<RegistrationOutcome> {
    let ReadyRegistration { mut prepared, confirmation } = ready;
    if !prepared.consents.is_empty() {
        // The opt-ins name the privacy notice in force when they are stored, as they did
        // when one transaction read the event and stored them: staff may have published
        // a new version since the registration was prepared.
        let current = crate::events::find(conn, &prepared.attendee.event_id)?.privacy_notice_version;
        for consent in &mut prepared.consents {
            consent.notice_version.clone_from(&current);
        }
    }
    store(conn, std::slice::from_ref(&prepared))?;
    mail::enqueue_sealed(conn, &confirmation)?;
    Ok(RegistrationOutcome {
        event_id: prepared.attendee.event_id,
        attendee_id: prepared.attendee.id,
        code: prepared.code,
        privacy_token: prepared.privacy_token,
    })
}

/// The confirmation mail of one registration, from the opt-ins stored with it: the badge,
/// the privacy link, and what the participant chose.
pub fn confirmation_mail(
    public_url: &PublicUrl,
    event: &EventRow,
    partners: &[PartnerRow],
    prepared: &Prepared,
) -> mail::NewMail {
    let a = &prepared.attendee;
    let facts = mail::confirmation::Facts {
        name: a.name.clone(),
        event: event.name.clone(),
        privacy_url: privacy_url(&public_url.0, &prepared.privacy_token),
        badge_payload: prepared.code.payload(),
        share_with_all: prepared.consents.iter().any(|c| c.partner_id.is_none()),
        share_with: prepared
            .consents
            .iter()
            .filter_map(|c| c.partner_id.as_deref())
            .filter_map(|id| partners.iter().find(|p| p.id == id).map(|p| p.name.clone()))
            .collect(),
        marketing_emails: a.marketing_emails,
        confirm_url: prepared.confirm_token.as_deref().map(|t| confirm_url(&public_url.0, &event.slug, t)),
        organiser: mail::confirmation::Organiser::of(event),
    };
    mail::NewMail {
        kind: mail::MailKind::Confirmation,
        event_id: Some(event.id.clone()),
        attendee_id: Some(a.id.clone()),
        to: a.email.clone(),
        subject: mail::confirmation::subject(&event.name),
        body: mail::Body::Confirmation(facts),
    }
}
