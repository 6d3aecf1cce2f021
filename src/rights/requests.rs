//! The request register: every access, correction, erasure or withdrawal request, due 30
//! days after it was received. Self-service actions are recorded as completed at once.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::requests;
use crate::db::{DbConn, ms_to_rfc3339, new_id, now_ms, parse_rfc3339_ms, text_enum};
use crate::error::{AppError, AppResult, FieldError};
use crate::paging::{Page, PageQuery};
use crate::text::clean_text;

pub const DUE_AFTER_MS: i64 = 30 * 24 * 60 * 60 * 1000;

text_enum! {
    /// What the participant asked for.
    pub enum RequestKind {
        Access = "access",
        Correction = "correction",
        Erasure = "erasure",
        Withdrawal = "withdrawal",
    }
}

text_enum! {
    /// How a request arrived.
    pub enum RequestChannel {
        Email = "email",
        Post = "post",
        Phone = "phone",
        InPerson = "in_person",
        /// The participant acted on their privacy page; recorded as completed at once.
        SelfService = "self_service",
    }
}

text_enum! {
    pub enum RequestStatus {
        Open = "open",
        Completed = "completed",
    }
}

text_enum! {
    /// The register's `?status=` filter: a status, or `overdue` (open and past due).
    enum StatusFilter {
        Open = "open",
        Overdue = "overdue",
        Completed = "completed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = requests)]
pub struct RequestRow {
    pub id: String,
    pub event_id: String,
    pub attendee_id: String,
    pub kind: RequestKind,
    pub channel: RequestChannel,
    pub received_at: i64,
    pub due_at: i64,
    pub status: RequestStatus,
    pub completed_at: Option<i64>,
    pub handled_by: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub event_id: String,
    pub attendee_id: String,
    #[schema(value_type = String)]
    pub kind: RequestKind,
    #[schema(value_type = String)]
    pub channel: RequestChannel,
    pub received_at: String,
    pub due_at: String,
    /// `open` or `completed`.
    #[schema(value_type = String)]
    pub status: RequestStatus,
    pub overdue: bool,
    pub completed_at: Option<String>,
    pub handled_by: Option<String>,
    pub notes: Option<String>,
}

impl From<RequestRow> for RequestView {
    fn from(r: RequestRow) -> Self {
        RequestView {
            overdue: r.status == RequestStatus::Open && r.due_at < now_ms(),
            id: r.id,
            event_id: r.event_id,
            attendee_id: r.attendee_id,
            kind: r.kind,
            channel: r.channel,
            received_at: ms_to_rfc3339(r.received_at),
            due_at: ms_to_rfc3339(r.due_at),
            status: r.status,
            completed_at: r.completed_at.map(ms_to_rfc3339),
            handled_by: r.handled_by,
            notes: r.notes,
        }
    }
}

/// A self-service action: received and completed now, handled by the participant.
pub fn record_self_service(
    conn: &mut DbConn,
    event_id: &str,
    attendee_id: &str,
    kind: RequestKind,
) -> AppResult<String> {
    record_completed(conn, event_id, attendee_id, kind, RequestChannel::SelfService, "participant")
}

/// A request handled at once, by the participant (self-service) or by staff on a request
/// that came by `channel`; recorded as completed.
pub fn record_completed(
    conn: &mut DbConn,
    event_id: &str,
    attendee_id: &str,
    kind: RequestKind,
    channel: RequestChannel,
    handled_by: &str,
) -> AppResult<String> {
    let now = now_ms();
    let row = RequestRow {
        id: new_id(),
        event_id: event_id.to_string(),
        attendee_id: attendee_id.to_string(),
        kind,
        channel,
        received_at: now,
        due_at: now + DUE_AFTER_MS,
        status: RequestStatus::Completed,
        completed_at: Some(now),
        handled_by: Some(handled_by.to_string()),
        notes: None,
    };
    diesel::insert_into(requests::table).values(&row).execute(conn)?;
    Ok(row.id)
}

/// Records on a request which partners were told to delete (partner names only; nothing
/// about the participant).
pub fn note_partners_told(conn: &mut DbConn, request_id: &str, partner_names: &[String]) -> AppResult<()> {
    let notes = if partner_names.is_empty() {
        "Partners told to delete: none (no partner had received this participant's data).".to_string()
    } else {
        format!("Partners told to delete: {}.", partner_names.join(", "))
    };
    diesel::update(requests::table.find(request_id)).set(requests::notes.eq(Some(notes))).execute(conn)?;
    Ok(())
}

/// Erasure: staff notes on the participant's requests may quote them, so they go too; the
/// requests themselves (kind, dates, who handled them) stay as proof they were answered.
pub fn clear_notes(conn: &mut DbConn, attendee_id: &str) -> AppResult<usize> {
    Ok(diesel::update(
        requests::table.filter(requests::attendee_id.eq(attendee_id)).filter(requests::notes.is_not_null()),
    )
    .set(requests::notes.eq(None::<String>))
    .execute(conn)?)
}

pub fn for_attendee(conn: &mut DbConn, attendee_id: &str) -> AppResult<Vec<RequestView>> {
    Ok(requests::table
        .filter(requests::attendee_id.eq(attendee_id))
        .order(requests::received_at)
        .select(RequestRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRequest {
    pub event_id: String,
    pub attendee_id: String,
    /// `access`, `correction`, `erasure` or `withdrawal`.
    #[schema(pattern = "^(access|correction|erasure|withdrawal)$")]
    pub kind: String,
    /// How it arrived: `email`, `post`, `phone` or `in_person`.
    #[schema(pattern = "^(email|post|phone|in_person)$")]
    pub channel: String,
    /// RFC 3339; defaults to now. The 30 days run from here.
    #[schema(format = DateTime)]
    pub received_at: Option<String>,
    pub notes: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub notes: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct RequestQuery {
    /// `open`, `overdue` (open and past due) or `completed`; all when absent.
    #[param(pattern = "^(open|overdue|completed)$")]
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Files a request that arrived by e-mail or post.
pub fn file(conn: &mut DbConn, input: FileRequest) -> AppResult<RequestRow> {
    let mut errors = Vec::new();
    let kind = input.kind.parse::<RequestKind>().ok();
    if kind.is_none() {
        errors.push(FieldError::new("kind", "must be access, correction, erasure or withdrawal"));
    }
    // Self-service is what the privacy page records, not a way a request reaches staff.
    let channel = input.channel.parse::<RequestChannel>().ok().filter(|c| *c != RequestChannel::SelfService);
    if channel.is_none() {
        errors.push(FieldError::new("channel", "must be email, post, phone or in_person"));
    }
    let received_at = match &input.received_at {
        Some(s) => parse_rfc3339_ms(s).unwrap_or_else(|| {
            errors.push(FieldError::new("received_at", "must be an RFC 3339 date-time"));
            0
        }),
        None => now_ms(),
    };
    if received_at > now_ms() + 60_000 {
        errors.push(FieldError::new("received_at", "must not be in the future"));
    }
    let notes = input.notes.as_deref().map(|n| clean_text(&mut errors, "notes", n, 2000, true));
    let (Some(kind), Some(channel), true) = (kind, channel, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let row = RequestRow {
        id: new_id(),
        event_id: input.event_id,
        attendee_id: input.attendee_id,
        kind,
        channel,
        received_at,
        due_at: received_at + DUE_AFTER_MS,
        status: RequestStatus::Open,
        completed_at: None,
        handled_by: None,
        notes,
    };
    crate::attendees::find_in_event(conn, &row.event_id, &row.attendee_id)?;
    diesel::insert_into(requests::table).values(&row).execute(conn)?;
    Ok(row)
}

/// Marks a request completed by staff user `by`.
pub fn complete(conn: &mut DbConn, id: &str, by: &str, input: &CompleteRequest) -> AppResult<RequestRow> {
    let mut errors = Vec::new();
    let notes = input.notes.as_deref().map(|n| clean_text(&mut errors, "notes", n, 2000, true));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let row: RequestRow = requests::table.find(id).select(RequestRow::as_select()).first(conn)?;
    if row.status == RequestStatus::Completed {
        return Err(AppError::Conflict("this request is already completed".into()));
    }
    diesel::update(requests::table.find(id))
        .set((
            requests::status.eq(RequestStatus::Completed),
            requests::completed_at.eq(Some(now_ms())),
            requests::handled_by.eq(Some(by)),
            requests::notes.eq(notes.or(row.notes)),
        ))
        .execute(conn)?;
    Ok(requests::table.find(id).select(RequestRow::as_select()).first(conn)?)
}

/// One request of the register, or 404.
pub fn find(conn: &mut DbConn, id: &str) -> AppResult<RequestView> {
    requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into)
        .ok_or(AppError::NotFound)
}

/// The request register, oldest due first.
pub fn list(conn: &mut DbConn, q: &RequestQuery) -> AppResult<Page<RequestView>> {
    let (page, per_page) = PageQuery { page: q.page, per_page: q.per_page }.resolve()?;
    let status = match q.status.as_deref().map(str::parse::<StatusFilter>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return Err(AppError::field("status", "must be open, overdue or completed")),
    };
    let now = now_ms();
    let filtered = || {
        let q = requests::table.into_boxed();
        match status {
            Some(StatusFilter::Open) => q.filter(requests::status.eq(RequestStatus::Open)),
            Some(StatusFilter::Overdue) => {
                q.filter(requests::status.eq(RequestStatus::Open)).filter(requests::due_at.lt(now))
            }
            Some(StatusFilter::Completed) => q.filter(requests::status.eq(RequestStatus::Completed)),
            None => q,
        }
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows: Vec<RequestRow> = filtered()
        .order((requests::due_at, requests::id))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(RequestRow::as_select())
        .load(conn)?;
    Ok(Page { items: rows.into_iter().map(Into::into).collect(), total, page, per_page })
}
