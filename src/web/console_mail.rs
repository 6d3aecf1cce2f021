//! The console's view of the mail channel (issue 13): each message of an event with its
//! status and a "send again" button, and the deletion notices partners have left
//! unacknowledged. Admins and registrars, as the API's twins (`GET …/mail`,
//! `POST …/mail/{id}/resend`, `GET …/deletion-notices`) are; each page calls the core
//! function its twin calls. Neither page shows an address, a body or a participant's name:
//! staff open the participant's page (a ledgered staff read) when they need more.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::console::{console_page, event_links, see_other};
use super::console_records::{Form, clock, pager, with_status};
use super::layout;
use crate::auth::{Policy, Registration};
use crate::db::{Db, now_ms, parse_rfc3339_ms};
use crate::error::{AppError, AppResult};
use crate::events::{self, EventRow};
use crate::http::session::SignedIn;
use crate::mail::{MailKind, MailStatus, MailSummary};
use crate::notices::{NoticeQuery, NoticeReason, NoticeView};
use crate::paging::{Page, PageQuery};

#[derive(Deserialize, Default)]
pub struct MailPageQuery {
    pub status: Option<String>,
    pub page: Option<i64>,
    /// Set by the redirect after a resend: which message went out again.
    pub resent: Option<String>,
}

fn kind_label(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Confirmation => "Registration confirmation",
        MailKind::Invitation => "Partner user invitation",
        MailKind::PasswordReset => "Password reset",
        MailKind::DeletionNotice => "Deletion notice to a partner",
        MailKind::Reminder => "Badge and new privacy link",
        MailKind::BreachNotice => "Incident notice",
        MailKind::Marketing => "Marketing",
    }
}

fn status_label(status: MailStatus) -> &'static str {
    match status {
        MailStatus::Queued => "Queued",
        MailStatus::Sending => "Sending",
        MailStatus::Sent => "Sent",
        MailStatus::Failed => "Failed",
    }
}

/// Whether the page offers "send again", by the core's rules (`attendees::staff::resend_mail`):
/// not while it waits, and not for one-time links, whose new copy staff make elsewhere.
fn resendable(m: &MailSummary, replaced: &HashSet<String>) -> bool {
    !matches!(m.status, MailStatus::Queued | MailStatus::Sending)
        && !replaced.contains(&m.id)
        && !matches!(m.kind, MailKind::Invitation | MailKind::PasswordReset)
        && !m.content_erased
}

/// What the page says above the table after an action.
enum Outcome {
    Resent(MailKind),
    Refused(String),
}

fn mail_page<P: Policy>(
    s: &SignedIn<P>,
    event: &EventRow,
    status: Option<MailStatus>,
    list: &Page<MailSummary>,
    replaced: &HashSet<String>,
    outcome: Option<Outcome>,
) -> HttpResponse {
    let base = format!("/console/events/{}/mail", event.id);
    let filters = [
        (None, "All"),
        (Some(MailStatus::Queued), "Queued"),
        (Some(MailStatus::Sent), "Sent"),
        (Some(MailStatus::Failed), "Failed"),
    ];
    let link = |st: Option<MailStatus>, page: i64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(st) = st {
            q.append_pair("status", st.as_str());
        }
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        let q = q.finish();
        if q.is_empty() { base.clone() } else { format!("{base}?{q}") }
    };
    let content = html! {
        h1 { "Mail" }
        (event_links(&event.id, "Mail", s.caller.role))
        p { "Every message the event sent or will send: confirmations, reminders, invitations, deletion notices to partners and incident notices. "
            "Addresses and contents are not shown; open the participant for their details." }
        @match &outcome {
            Some(Outcome::Resent(MailKind::Confirmation | MailKind::Reminder)) => p.notice role="status" {
                "A new message with a new privacy link and the current badge is queued for the participant. The link in the earlier message no longer works." }
            Some(Outcome::Resent(_)) => p.notice role="status" { "The message is queued to be sent again." }
            Some(Outcome::Refused(why)) => p.alert role="alert" { "Not sent again: " (why) "." }
            None => {}
        }
        nav.filters aria-label="Status" {
            @for (st, label) in filters {
                a href=(link(st, 1)) aria-current=[(st == status).then_some("page")] { (label) }
            }
        }
        p { (list.total) " " @if list.total == 1 { "message" } @else { "messages" } }
        @if !list.items.is_empty() {
            (layout::table_wrap(html! { table {
                caption.hint { "Newest first; times in " (event.time_zone) }
                thead { tr {
                    // On a phone the queue time and the subject give way, so that the
                    // action stays in view.
                    th scope="col" { "Status" } th scope="col" { "Kind" } th.narrow-hide scope="col" { "Queued" }
                    th.narrow-hide scope="col" { "Subject" } th scope="col" { span.hint { "Action" } }
                } }
                tbody { @for (row, m) in list.items.iter().enumerate() { tr.overdue[m.status == MailStatus::Failed && !replaced.contains(&m.id)] {
                    td {
                        (status_label(m.status))
                        @match m.status {
                            MailStatus::Sent => { @if let Some(at) = m.sent_at { br; span.hint { (event.display_time(at)) } } }
                            MailStatus::Queued if m.attempts > 0 => {
                                br; span.hint { (m.attempts) " failed " @if m.attempts == 1 { "attempt" } @else { "attempts" }
                                    "; next " (clock(m.next_attempt_at, now_ms())) }
                            }
                            _ => {}
                        }
                        @if m.status != MailStatus::Sent { @if let Some(e) = &m.last_error { br; span.hint { (e) } } }
                        // A confirmation or reminder goes to the participant's current address;
                        // other messages are sent again as they were.
                        @if m.status == MailStatus::Failed && !replaced.contains(&m.id)
                            && m.attendee_id.is_some() && matches!(m.kind, MailKind::Confirmation | MailKind::Reminder) {
                            br; span.hint { "Was the address wrong? Correct it on the participant's page first." }
                        }
                    }
                    td {
                        (kind_label(m.kind))
                        @if let (Some(a), MailKind::Confirmation | MailKind::Reminder | MailKind::BreachNotice) = (&m.attendee_id, m.kind) {
                            br; a href={ "/console/events/" (event.id) "/attendees/" (a) } { "Open the participant" }
                        }
                    }
                    td.narrow-hide { (event.display_time(m.created_at)) }
                    td.narrow-hide { (m.subject) }
                    td {
                        @if replaced.contains(&m.id) {
                            span.hint { "A later message to the participant replaces it" }
                        } @else if resendable(m, replaced) {
                            form method="post" action={ (base) "/" (m.id) "/resend" } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                // A refusal answers this same view.
                                @if let Some(st) = status { input type="hidden" name="status" value=(st.as_str()); }
                                input type="hidden" name="page" value=(list.page);
                                button type="submit" aria-label={ "Send again: message " (row + 1) " of this page, " (kind_label(m.kind)) } { "Send again" }
                            }
                        } @else if m.content_erased {
                            span.hint { "Erased with the participant" }
                        } @else if m.kind == MailKind::Invitation {
                            span.hint { "One-time link: an admin invites again from the partner's page" }
                        } @else if m.kind == MailKind::PasswordReset {
                            span.hint { "One-time link: the user asks again on the sign-in page" }
                        }
                    }
                } } }
            } }))
        }
        (pager(list.page, list.total, list.per_page, |p| link(status, p)))
    };
    console_page(s, &format!("Mail — {}", event.name), "", content)
}

fn parse_status(value: Option<&str>) -> AppResult<Option<MailStatus>> {
    value
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| AppError::field("status", "must be one of queued, sending, sent, failed")))
        .transpose()
}

async fn load(
    db: &Db,
    event_id: String,
    status: Option<MailStatus>,
    page: Option<i64>,
) -> AppResult<(EventRow, Page<MailSummary>, HashSet<String>)> {
    db.read(move |conn| {
        let event = events::find(conn, &event_id)?;
        let list = crate::mail::list_page(conn, &event.id, status, &PageQuery { page, per_page: Some(50) })?;
        let failed: Vec<&str> =
            list.items.iter().filter(|m| m.status == MailStatus::Failed).map(|m| m.id.as_str()).collect();
        let replaced = crate::mail::replaced_later(conn, &failed)?;
        Ok((event, list, replaced))
    })
    .await
}

/// `GET /console/events/{event_id}/mail`: the event's messages, newest first, by status.
pub async fn mail_list(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<MailPageQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let status = parse_status(q.status.as_deref())?;
    let (event, list, replaced) = load(&db, path.into_inner(), status, q.page).await?;
    let outcome = q.resent.as_deref().and_then(|k| k.parse::<MailKind>().ok()).map(Outcome::Resent);
    Ok(mail_page(&s, &event, status, &list, &replaced, outcome))
}

/// `POST /console/events/{event_id}/mail/{message_id}/resend`: as the API's resend. A
/// participant's confirmation or reminder becomes a new reminder; a refusal (still waiting,
/// erased, three reminders this hour) is said on the page.
pub async fn mail_resend(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public_url: web::Data<crate::config::PublicUrl>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, message_id) = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let (eid, mid) = (event_id.clone(), message_id.clone());
    let queued =
        db.write(move |conn| crate::attendees::staff::resend_mail(conn, &badge_key, &public_url, &eid, &mid)).await;
    match queued {
        Ok(m) => Ok(see_other(&format!("/console/events/{event_id}/mail?resent={}", m.kind.as_str()))),
        Err(AppError::Conflict(why)) => {
            let status = parse_status(form.opt("status").as_deref())?;
            let page = form.opt("page").and_then(|p| p.parse().ok());
            let (event, list, replaced) = load(&db, event_id, status, page).await?;
            let refused = mail_page(&s, &event, status, &list, &replaced, Some(Outcome::Refused(why)));
            Ok(with_status(refused, StatusCode::CONFLICT))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct NoticePageQuery {
    pub status: Option<String>,
    pub page: Option<i64>,
}

fn reason_label(reason: NoticeReason) -> &'static str {
    match reason {
        NoticeReason::Erasure => "Participant erased",
        NoticeReason::Withdrawal => "Participant withdrew",
    }
}

/// `GET /console/events/{event_id}/deletion-notices`: notices partners left unacknowledged
/// for more than 7 days (the default), or all of them. The participant's name as the
/// partner received it is not shown: staff chase the partner, not the person.
pub async fn notices_list(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<String>,
    query: web::Query<NoticePageQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let NoticePageQuery { status, page } = query.into_inner();
    let all = match status.as_deref() {
        None | Some("") | Some("unacknowledged") => false,
        Some("all") => true,
        Some(_) => return Err(AppError::field("status", "must be unacknowledged or all")),
    };
    let key = crate::mail::OutboxKey::from_badge_key(&badge_key)?;
    let (event, partners, notices) = db
        .read(move |conn| {
            let event = events::find(conn, &event_id)?;
            let partners = crate::partners::list_for_event(conn, &event.id)?;
            let status = Some(if all { "all" } else { "unacknowledged" }.into());
            let query = NoticeQuery { status, page, per_page: Some(50) };
            let notices = crate::notices::for_event(conn, &key, &event.id, &query)?;
            Ok((event, partners, notices))
        })
        .await?;
    let partner_name =
        |id: &str| partners.iter().find(|p| p.id == id).map_or_else(|| id.to_string(), |p| p.name.clone());
    let base = format!("/console/events/{}/deletion-notices", event.id);
    let admin = crate::auth::AdminOnly::allows(s.caller.role);
    let content = html! {
        h1 { "Deletion notices" }
        (event_links(&event.id, "Deletion notices", s.caller.role))
        p { "When a participant whose data a partner received is erased or withdraws, each of the partner's administrators is told to delete it, "
            "by mail and in the partner portal, where they acknowledge it once done." }
        nav.filters aria-label="Which notices" {
            a href=(base) aria-current=[(!all).then_some("page")] { "Unacknowledged after 7 days" }
            a href={ (base) "?status=all" } aria-current=[all.then_some("page")] { "All" }
        }
        @if notices.items.is_empty() {
            p { @if all { "No deletion notices yet." } @else { "None: every partner acknowledged its notices within 7 days, or has 7 days still." } }
        } @else {
            (layout::table_wrap(html! { table {
                caption.hint { "Oldest first; times in " (event.time_zone) }
                thead { tr {
                    th scope="col" { "Sent" } th scope="col" { "Partner" } th scope="col" { "Why" } th scope="col" { "Acknowledged" }
                } }
                tbody { @for n in &notices.items { tr.overdue[notice_overdue(n)] {
                    td { (event.display_rfc3339(&n.created_at)) }
                    td {
                        // The partner's page is an admin's; a registrar reads the name.
                        @if admin { a href={ "/console/events/" (event.id) "/partners/" (n.partner_id) } { (partner_name(&n.partner_id)) } }
                        @else { (partner_name(&n.partner_id)) }
                    }
                    td { (reason_label(n.reason)) }
                    td {
                        @match &n.acknowledged_at {
                            Some(at) => (event.display_rfc3339(at)),
                            None => { "Not yet" @if notice_overdue(n) { " " strong { "(over 7 days)" } } }
                        }
                    }
                } } }
            } }))
        }
        (pager(notices.page, notices.total, notices.per_page, |p| {
            format!("{base}?status={}&page={p}", if all { "all" } else { "unacknowledged" })
        }))
    };
    Ok(console_page(&s, &format!("Deletion notices — {}", event.name), "", content))
}

fn notice_overdue(n: &NoticeView) -> bool {
    n.acknowledged_at.is_none()
        && parse_rfc3339_ms(&n.created_at).is_some_and(|t| t < now_ms() - crate::notices::OVERDUE_AFTER_MS)
}
