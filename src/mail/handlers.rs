//! Staff API for the outbox: each message's status (never its body or recipient), and
//! resending.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{MailKind, MailStatus, MailSummary};
use crate::auth::Registration;
use crate::db::{Db, ms_to_rfc3339};
use crate::error::{AppError, AppResult, Problem};
use crate::http::auth::Auth;
use crate::paging::{Page, PageQuery};

#[derive(Deserialize, IntoParams)]
pub struct MailQuery {
    /// `queued`, `sending`, `sent` or `failed`; all when absent.
    #[param(pattern = "^(queued|sending|sent|failed)$")]
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MailView {
    pub id: String,
    /// The participant the message is about, if any.
    pub attendee_id: Option<String>,
    pub kind: MailKind,
    pub subject: String,
    pub status: MailStatus,
    pub attempts: i32,
    pub created_at: String,
    /// When a queued message is tried next.
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    /// The last failure's SMTP reply class and code; never the body.
    pub last_error: Option<String>,
}

impl From<MailSummary> for MailView {
    fn from(m: MailSummary) -> Self {
        MailView {
            next_attempt_at: (m.status == MailStatus::Queued).then(|| ms_to_rfc3339(m.next_attempt_at)),
            id: m.id,
            attendee_id: m.attendee_id,
            kind: m.kind,
            subject: m.subject,
            status: m.status,
            attempts: m.attempts,
            created_at: ms_to_rfc3339(m.created_at),
            sent_at: m.sent_at.map(ms_to_rfc3339),
            last_error: m.last_error,
        }
    }
}

fn parse_status(value: Option<&str>) -> AppResult<Option<MailStatus>> {
    value
        .map(|s| s.parse().map_err(|_| AppError::field("status", "must be one of queued, sending, sent, failed")))
        .transpose()
}

/// The event's outgoing mail, newest first, without bodies or addresses (admin or registrar).
#[utoipa::path(tag = "mail", security(("bearer" = [])), params(MailQuery),
    responses((status = 200, body = Page<MailView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/events/{event_id}/mail")]
pub async fn list_mail(
    db: web::Data<Db>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<MailQuery>,
) -> AppResult<web::Json<Page<MailView>>> {
    let event_id = path.into_inner();
    let q = query.into_inner();
    let status = parse_status(q.status.as_deref())?;
    let paging = PageQuery { page: q.page, per_page: q.per_page };
    let page = db.read(move |conn| super::list_page(conn, &event_id, status, &paging)).await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Send a message again (admin or registrar).
///
/// A failed message is queued again, a sent one is queued as a new copy. A participant's
/// confirmation or reminder is not sent as it was (its privacy link may no longer work,
/// its badge may have been replaced): the participant gets a new reminder instead, with a
/// new privacy link and the current badge, and the answer describes that new message. 409
/// while it is still waiting for delivery, once erasure removed its content, for an
/// invitation or a password reset (their links work once: send a new one), or after three
/// reminders to the participant in the hour.
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    responses((status = 202, body = MailView), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/events/{event_id}/mail/{message_id}/resend")]
pub async fn resend_mail(
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public_url: web::Data<crate::config::PublicUrl>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, message_id) = path.into_inner();
    let queued = db
        .write(move |conn| crate::attendees::staff::resend_mail(conn, &badge_key, &public_url, &event_id, &message_id))
        .await?;
    Ok(HttpResponse::Accepted().json(MailView::from(queued)))
}
