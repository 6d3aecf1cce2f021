//! Deletion notices: when a participant whose data a partner received is erased, or
//! withdraws from that partner (or from all), the partner is told to delete what it holds.
//! One notice row per partner, written in the transaction of the erasure or withdrawal,
//! and one mail per partner admin of that partner through the outbox.
//!
//! A notice names the participant only by what the partner already holds: the lead id
//! (when the partner has a lead) and the name, only if the disclosure ledger shows the
//! name was released to that partner. The name is kept on the notice, sealed with the
//! outbox key (the participant's row no longer holds it, and a copy of the database must
//! not reveal it), until the partner acknowledges the notice; then it is cleared.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Role;
use crate::db::schema::{deletion_notices, disclosures, leads, partners, users};
use crate::db::{DbConn, ms_to_rfc3339, new_id, now_ms, text_enum};
use crate::error::{AppError, AppResult};
use crate::mail::{self, OutboxKey};
use crate::paging::{Page, PageQuery};

pub mod handlers;

/// Staff are shown notices left unacknowledged this long.
pub const OVERDUE_AFTER_MS: i64 = 7 * 24 * 60 * 60 * 1000;

text_enum! {
    #[derive(ToSchema)]
    pub enum NoticeReason {
        /// The participant's data was erased.
        Erasure = "erasure",
        /// The participant withdrew from this partner, or from all partners.
        Withdrawal = "withdrawal",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = deletion_notices)]
pub struct NoticeRow {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub attendee_id: String,
    pub lead_id: Option<String>,
    pub released_name: Option<String>,
    pub reason: NoticeReason,
    pub created_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
}

/// A notice as its partner and staff see it: the participant only as the partner knows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeView {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    /// The partner's lead for this participant, if it has one.
    pub lead_id: Option<String>,
    /// The name as released to the partner; absent if it never received the name, and
    /// cleared once the notice is acknowledged.
    pub released_name: Option<String>,
    pub reason: NoticeReason,
    pub created_at: String,
    pub acknowledged_at: Option<String>,
}

impl NoticeView {
    fn open(key: &OutboxKey, r: NoticeRow) -> AppResult<NoticeView> {
        Ok(NoticeView {
            released_name: r.released_name.as_deref().map(|sealed| key.open_text(sealed)).transpose()?,
            id: r.id,
            event_id: r.event_id,
            partner_id: r.partner_id,
            lead_id: r.lead_id,
            reason: r.reason,
            created_at: ms_to_rfc3339(r.created_at),
            acknowledged_at: r.acknowledged_at.map(ms_to_rfc3339),
        })
    }
}

fn open_all(key: &OutboxKey, rows: Vec<NoticeRow>) -> AppResult<Vec<NoticeView>> {
    rows.into_iter().map(|r| NoticeView::open(key, r)).collect()
}

/// A partner told to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerTold {
    pub id: String,
    pub name: String,
}

/// The participant, as the erasure or withdrawal found them (before any overwrite).
pub struct Subject<'a> {
    pub event_id: &'a str,
    pub attendee_id: &'a str,
    pub name: &'a str,
}

/// Writes a notice for each partner that received `subject`'s data (only `partner` when
/// given) and has not been told since its last release, and queues a mail to each of its
/// partner admins; in the caller's transaction. Answers the partners told.
pub fn notify(
    conn: &mut DbConn,
    key: &OutboxKey,
    subject: &Subject<'_>,
    partner: Option<&str>,
    reason: NoticeReason,
) -> AppResult<Vec<PartnerTold>> {
    let mut query = disclosures::table
        .inner_join(partners::table.on(disclosures::partner_id.eq(partners::id.nullable())))
        .filter(disclosures::attendee_id.eq(subject.attendee_id))
        .into_boxed();
    if let Some(p) = partner {
        query = query.filter(partners::id.eq(p));
    }
    let released: Vec<(String, String, String, i64)> = query
        .order((disclosures::occurred_at, disclosures::id))
        .select((partners::id, partners::name, disclosures::fields, disclosures::occurred_at))
        .load(conn)?;
    // Per partner, in order of first release: did it receive the name, and when last.
    let mut per_partner: Vec<(String, String, bool, i64)> = Vec::new();
    for (id, name, fields, at) in released {
        let got_name = fields.split(',').any(|f| f == "name");
        match per_partner.iter_mut().find(|p| p.0 == id) {
            Some(p) => {
                p.2 |= got_name;
                p.3 = p.3.max(at);
            }
            None => per_partner.push((id, name, got_name, at)),
        }
    }
    let event = crate::events::find(conn, subject.event_id)?;
    let now = now_ms();
    let mut told = Vec::new();
    for (partner_id, partner_name, got_name, last_release) in per_partner {
        let already: i64 = deletion_notices::table
            .filter(deletion_notices::partner_id.eq(&partner_id))
            .filter(deletion_notices::attendee_id.eq(subject.attendee_id))
            .filter(deletion_notices::created_at.ge(last_release))
            .count()
            .get_result(conn)?;
        if already > 0 {
            told.push(PartnerTold { id: partner_id, name: partner_name });
            continue;
        }
        let lead_id: Option<String> = leads::table
            .filter(leads::partner_id.eq(&partner_id))
            .filter(leads::attendee_id.eq(subject.attendee_id))
            .select(leads::id)
            .first(conn)
            .optional()?;
        let row = NoticeRow {
            id: new_id(),
            event_id: subject.event_id.to_string(),
            partner_id: partner_id.clone(),
            attendee_id: subject.attendee_id.to_string(),
            lead_id,
            released_name: got_name.then(|| key.seal_text(subject.name)).transpose()?,
            reason,
            created_at: now,
            acknowledged_at: None,
            acknowledged_by: None,
        };
        diesel::insert_into(deletion_notices::table).values(&row).execute(conn)?;
        let admins: Vec<String> = users::table
            .filter(users::partner_id.eq(&partner_id))
            .filter(users::role.eq(Role::PartnerAdmin))
            .filter(users::disabled.eq(false))
            // Not an invitation still unanswered: nobody has shown that address to be the
            // partner's (a mistyped one would send the participant's name to a stranger),
            // and its holder could not sign in to acknowledge.
            .filter(users::password_hash.ne(crate::auth::links::NO_PASSWORD))
            .order(users::email)
            .select(users::email)
            .load(conn)?;
        let facts = mail::accounts::DeletionFacts {
            event: event.name.clone(),
            partner: partner_name.clone(),
            notice_id: row.id.clone(),
            lead_id: row.lead_id.clone(),
            released_name: got_name.then(|| subject.name.to_string()),
            reason: reason.as_str().to_string(),
        };
        let mails: Vec<mail::NewMail> = admins
            .into_iter()
            .map(|to| mail::NewMail {
                kind: mail::MailKind::DeletionNotice,
                event_id: Some(subject.event_id.to_string()),
                // Not the participant's mail: it is addressed to the partner, and must
                // survive the erasure that caused it.
                attendee_id: None,
                to,
                subject: mail::accounts::DELETION_SUBJECT.to_string(),
                body: mail::Body::DeletionNotice(facts.clone()),
            })
            .collect();
        mail::enqueue_many(conn, key, &mails)?;
        told.push(PartnerTold { id: partner_id, name: partner_name });
    }
    Ok(told)
}

/// A page of the caller's partner's notices, newest first.
pub fn for_partner(
    conn: &mut DbConn,
    key: &OutboxKey,
    partner_id: &str,
    paging: &PageQuery,
) -> AppResult<Page<NoticeView>> {
    let (page, per_page) = paging.resolve()?;
    let mine = || deletion_notices::table.filter(deletion_notices::partner_id.eq(partner_id));
    let total: i64 = mine().count().get_result(conn)?;
    let rows: Vec<NoticeRow> = mine()
        .order((deletion_notices::created_at.desc(), deletion_notices::id.desc()))
        .offset((page - 1) * per_page)
        .limit(per_page)
        .select(NoticeRow::as_select())
        .load(conn)?;
    Ok(Page { items: open_all(key, rows)?, total, page, per_page })
}

/// The partner acknowledges it has deleted the data; the released name is cleared. Another
/// partner's notice is not found. Acknowledging twice keeps the first acknowledgement.
pub fn acknowledge(
    conn: &mut DbConn,
    key: &OutboxKey,
    partner_id: &str,
    notice_id: &str,
    by: &str,
) -> AppResult<NoticeView> {
    let row: NoticeRow = deletion_notices::table
        .find(notice_id)
        .filter(deletion_notices::partner_id.eq(partner_id))
        .select(NoticeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    if row.acknowledged_at.is_none() {
        diesel::update(deletion_notices::table.find(notice_id))
            .set((
                deletion_notices::acknowledged_at.eq(Some(now_ms())),
                deletion_notices::acknowledged_by.eq(Some(by)),
                deletion_notices::released_name.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    let row: NoticeRow = deletion_notices::table.find(notice_id).select(NoticeRow::as_select()).first(conn)?;
    NoticeView::open(key, row)
}

text_enum! {
    /// The staff list's `?status=`.
    #[derive(ToSchema)]
    pub enum NoticeFilter {
        /// Unacknowledged for more than 7 days.
        Unacknowledged = "unacknowledged",
        All = "all",
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// `unacknowledged` (the default: unacknowledged for more than 7 days) or `all`.
    #[param(pattern = "^(unacknowledged|all)$")]
    pub status: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Items per page (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// A page of an event's notices for staff, oldest first: those unacknowledged for more
/// than 7 days, or all.
pub fn for_event(
    conn: &mut DbConn,
    key: &OutboxKey,
    event_id: &str,
    query: &NoticeQuery,
) -> AppResult<Page<NoticeView>> {
    let filter = match query.status.as_deref() {
        None => NoticeFilter::Unacknowledged,
        Some(s) => s.parse::<NoticeFilter>().map_err(|_| AppError::field("status", "must be unacknowledged or all"))?,
    };
    let (page, per_page) = PageQuery { page: query.page, per_page: query.per_page }.resolve()?;
    crate::events::find(conn, event_id)?;
    let overdue_before = now_ms() - OVERDUE_AFTER_MS;
    let selected = || {
        let mut q = deletion_notices::table.filter(deletion_notices::event_id.eq(event_id)).into_boxed();
        if filter == NoticeFilter::Unacknowledged {
            q = q
                .filter(deletion_notices::acknowledged_at.is_null())
                .filter(deletion_notices::created_at.lt(overdue_before));
        }
        q
    };
    let total: i64 = selected().count().get_result(conn)?;
    let rows: Vec<NoticeRow> = selected()
        .order((deletion_notices::created_at, deletion_notices::id))
        .offset((page - 1) * per_page)
        .limit(per_page)
        .select(NoticeRow::as_select())
        .load(conn)?;
    Ok(Page { items: open_all(key, rows)?, total, page, per_page })
}
