//! Opt-ins and withdrawals: the participant's own choices about sharing with partners.
//! Only records live here; what they mean for a release is decided by the gate.

pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{consents, withdrawals};
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
        })
        .collect()
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
