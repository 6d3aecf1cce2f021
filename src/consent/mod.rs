//! Opt-ins and withdrawals: the participant's own choices about sharing with partners.
//! Only records live here; what they mean for a release is decided by the gate.

pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::secrets::sha256_hex;
use crate::db::schema::{attendees, consents, opt_in_confirmations, withdrawals};
use crate::db::{DbConn, ms_to_rfc3339, new_id, new_sequential_id, now_ms};
use crate::error::AppResult;

/// Where an opt-in was given.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    WebForm,
    StaffApi,
    Import,
    Participant,
}

impl Source {
    /// Whether an opt-in from this source counts from the moment it is recorded.
    ///
    /// Only the public form needs the participant to confirm the address first (double
    /// opt-in): anyone can type a stranger's address into it. Staff (API, import) enter
    /// opt-ins from a form the participant signed, and an opt-in given on the privacy
    /// page comes from someone holding the link mailed to that address, so both are
    /// confirmed at once.
    pub fn confirmed_on_entry(self) -> bool {
        match self {
            Source::WebForm => false,
            Source::StaffApi | Source::Import | Source::Participant => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::WebForm => "web_form",
            Source::StaffApi => "staff_api",
            Source::Import => "import",
            Source::Participant => "participant",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents, treat_none_as_default_value = false)]
pub struct ConsentRow {
    pub id: String,
    pub event_id: String,
    pub attendee_id: String,
    /// `None`: all partners of the event.
    pub partner_id: Option<String>,
    pub granted_at: i64,
    pub source: String,
    pub notice_version: String,
    pub ended_at: Option<i64>,
    /// When the participant confirmed the address (double opt-in); `None`: not yet, and the
    /// gate treats the opt-in as absent. See [`Source::confirmed_on_entry`].
    pub confirmed_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = withdrawals, treat_none_as_default_value = false)]
pub struct WithdrawalRow {
    pub id: String,
    pub event_id: String,
    pub attendee_id: String,
    pub partner_id: Option<String>,
    pub created_at: i64,
    pub source: String,
    pub recorded_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// `all_partners` or `partner`.
    pub scope: &'static str,
    pub partner_id: Option<String>,
    pub granted_at: String,
    pub source: String,
    pub notice_version: String,
    pub ended_at: Option<String>,
    /// When the address was confirmed; absent while a form opt-in awaits confirmation
    /// (it has no effect until then).
    pub confirmed_at: Option<String>,
}

impl From<ConsentRow> for ConsentView {
    fn from(r: ConsentRow) -> Self {
        ConsentView {
            scope: if r.partner_id.is_some() { "partner" } else { "all_partners" },
            partner_id: r.partner_id,
            granted_at: ms_to_rfc3339(r.granted_at),
            source: r.source,
            notice_version: r.notice_version,
            ended_at: r.ended_at.map(ms_to_rfc3339),
            confirmed_at: r.confirmed_at.map(ms_to_rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalView {
    pub scope: &'static str,
    pub partner_id: Option<String>,
    pub created_at: String,
    pub source: String,
}

impl From<WithdrawalRow> for WithdrawalView {
    fn from(r: WithdrawalRow) -> Self {
        WithdrawalView {
            scope: if r.partner_id.is_some() { "partner" } else { "all_partners" },
            partner_id: r.partner_id,
            created_at: ms_to_rfc3339(r.created_at),
            source: r.source,
        }
    }
}

/// The opt-in rows a registration produces: one for "all partners", one per named partner.
pub fn opt_in_rows(
    event_id: &str,
    attendee_id: &str,
    all_partners: bool,
    partner_ids: &[String],
    source: Source,
    notice_version: &str,
    at: i64,
) -> Vec<ConsentRow> {
    let scopes = all_partners.then_some(None).into_iter().chain(partner_ids.iter().map(|p| Some(p.clone())));
    scopes
        .map(|partner_id| ConsentRow {
            id: new_sequential_id(),
            event_id: event_id.to_string(),
            attendee_id: attendee_id.to_string(),
            partner_id,
            granted_at: at,
            source: source.as_str().to_string(),
            notice_version: notice_version.to_string(),
            ended_at: None,
            confirmed_at: source.confirmed_on_entry().then_some(at),
        })
        .collect()
}

/// Stores a double opt-in link's token (hashed) for the participant, in the caller's
/// transaction. Earlier unused links of the participant stay valid: any of the mails may
/// be the one they open.
pub fn store_confirmation_token(conn: &mut DbConn, attendee_id: &str, token: &str, at: i64) -> AppResult<()> {
    diesel::insert_into(opt_in_confirmations::table)
        .values((
            opt_in_confirmations::token_hash.eq(sha256_hex(token.as_bytes())),
            opt_in_confirmations::attendee_id.eq(attendee_id),
            opt_in_confirmations::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Does the participant have opt-ins still awaiting confirmation?
pub fn has_pending(conn: &mut DbConn, attendee_id: &str) -> AppResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        consents::table
            .filter(consents::attendee_id.eq(attendee_id))
            .filter(consents::confirmed_at.is_null())
            .filter(consents::ended_at.is_null()),
    ))
    .get_result(conn)?)
}

/// What following a double opt-in link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The link was valid: these many opt-ins took effect now.
    Confirmed(usize),
    /// Unknown, already used, of another event, or of an erased participant.
    Invalid,
}

/// Is this an unused double opt-in link of a participant of `event_id`? (The page's GET,
/// which must change nothing.)
pub fn confirmation_link_valid(conn: &mut DbConn, event_id: &str, token: &str) -> AppResult<bool> {
    Ok(pending_link(conn, event_id, token)?.is_some())
}

fn pending_link(conn: &mut DbConn, event_id: &str, token: &str) -> AppResult<Option<String>> {
    Ok(opt_in_confirmations::table
        .inner_join(attendees::table.on(attendees::id.eq(opt_in_confirmations::attendee_id)))
        .filter(opt_in_confirmations::token_hash.eq(sha256_hex(token.as_bytes())))
        .filter(opt_in_confirmations::used_at.is_null())
        .filter(attendees::event_id.eq(event_id))
        .filter(attendees::erased_at.is_null())
        .select(attendees::id)
        .first::<String>(conn)
        .optional()?)
}

/// Follows a double opt-in link, in the caller's write transaction: the link is used up
/// (single use) and the participant's pending opt-ins take effect, `confirmed_at` now.
pub fn confirm_by_token(conn: &mut DbConn, event_id: &str, token: &str) -> AppResult<Confirmation> {
    let Some(attendee_id) = pending_link(conn, event_id, token)? else {
        return Ok(Confirmation::Invalid);
    };
    let now = now_ms();
    let used = diesel::update(
        opt_in_confirmations::table
            .filter(opt_in_confirmations::token_hash.eq(sha256_hex(token.as_bytes())))
            .filter(opt_in_confirmations::used_at.is_null()),
    )
    .set(opt_in_confirmations::used_at.eq(Some(now)))
    .execute(conn)?;
    if used != 1 {
        return Ok(Confirmation::Invalid);
    }
    Ok(Confirmation::Confirmed(confirm_pending(conn, &attendee_id, now)?))
}

/// Erasure: the participant's confirmation links go with them.
pub fn forget_confirmation_tokens(conn: &mut DbConn, attendee_id: &str) -> AppResult<usize> {
    Ok(diesel::delete(opt_in_confirmations::table.filter(opt_in_confirmations::attendee_id.eq(attendee_id)))
        .execute(conn)?)
}

/// Confirms the participant's pending opt-ins (double opt-in), in the caller's
/// transaction; returns how many took effect.
pub fn confirm_pending(conn: &mut DbConn, attendee_id: &str, at: i64) -> AppResult<usize> {
    Ok(diesel::update(
        consents::table
            .filter(consents::attendee_id.eq(attendee_id))
            .filter(consents::confirmed_at.is_null())
            .filter(consents::ended_at.is_null()),
    )
    .set(consents::confirmed_at.eq(Some(at)))
    .execute(conn)?)
}

pub fn for_attendee(conn: &mut DbConn, attendee_id: &str) -> AppResult<(Vec<ConsentRow>, Vec<WithdrawalRow>)> {
    let opt_ins = consents::table
        .filter(consents::attendee_id.eq(attendee_id))
        .order(consents::granted_at)
        .select(ConsentRow::as_select())
        .load(conn)?;
    let withdrawn = withdrawals::table
        .filter(withdrawals::attendee_id.eq(attendee_id))
        .order(withdrawals::created_at)
        .select(WithdrawalRow::as_select())
        .load(conn)?;
    Ok((opt_ins, withdrawn))
}

/// Records a withdrawal for one partner (`Some`) or all (`None`). Matching opt-ins end too,
/// so the participant's consent history shows the change.
pub fn withdraw(
    conn: &mut DbConn,
    event_id: &str,
    attendee_id: &str,
    partner_id: Option<&str>,
    source: Source,
    recorded_by: Option<&str>,
) -> AppResult<WithdrawalRow> {
    let now = now_ms();
    let row = WithdrawalRow {
        id: new_id(),
        event_id: event_id.to_string(),
        attendee_id: attendee_id.to_string(),
        partner_id: partner_id.map(str::to_string),
        created_at: now,
        source: source.as_str().to_string(),
        recorded_by: recorded_by.map(str::to_string),
    };
    diesel::insert_into(withdrawals::table).values(&row).execute(conn)?;
    let active = consents::table.filter(consents::attendee_id.eq(attendee_id)).filter(consents::ended_at.is_null());
    match partner_id {
        Some(p) => diesel::update(active.filter(consents::partner_id.eq(p)))
            .set(consents::ended_at.eq(Some(now)))
            .execute(conn)?,
        None => diesel::update(active).set(consents::ended_at.eq(Some(now))).execute(conn)?,
    };
    Ok(row)
}

/// Exactly one of `partner_id` or `all_partners: true`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    pub partner_id: Option<String>,
    #[serde(default)]
    pub all_partners: bool,
}

impl WithdrawalRequest {
    /// `Some(partner)` for one partner, `None` for all.
    pub fn scope(&self) -> AppResult<Option<String>> {
        match (&self.partner_id, self.all_partners) {
            (Some(p), false) => Ok(Some(p.clone())),
            (None, true) => Ok(None),
            _ => Err(crate::error::AppError::field("partner_id", "give either partner_id or all_partners: true")),
        }
    }
}
