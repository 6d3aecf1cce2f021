//! The staff console's records (issue 14, task D2): the request register and the ledger
//! search here; partners and their users in `console_partners.rs`; incidents in
//! `console_incidents.rs`. Admin only, as the API's twins are (`AdminOnly`), except the
//! partner list that registrars read too. Each page calls the core function its API twin
//! calls, so role rules, the gate and the ledger are the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

use super::console::{console_page, event_links, see_other};
use crate::auth::AdminOnly;
use crate::db::{Db, now_ms, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::events::{self, EventRow};
use crate::http::session::SignedIn;
use crate::ledger::{self, DisclosureFilter};
use crate::rights::requests::{self, CompleteRequest, RequestQuery, RequestView};

/// A submitted urlencoded form, as typed.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Reads and decodes the body (64 KiB at most: the longest form is an incident's text).
    pub(crate) async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Form, AppError> {
        let body = crate::http::json::read_body(req, &mut payload.into_inner(), 64 * 1024).await?;
        crate::http::input::decode_form(&body).map(Form).map_err(AppError::Validation)
    }

    /// The first value of a field, or empty.
    pub(crate) fn get(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// A field's value, `None` when empty or blank.
    pub(crate) fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|v| !v.trim().is_empty())
    }

    /// The CSRF check every signed-in form passes before anything else is done.
    pub(crate) fn check<P: crate::auth::Policy>(&self, s: &SignedIn<P>) -> Result<(), actix_web::Error> {
        s.check_csrf(&self.get("csrf"))
    }
}

/// A page with a status other than 200 (a form sent back with its errors).
pub(crate) fn with_status(mut res: HttpResponse, status: StatusCode) -> HttpResponse {
    *res.status_mut() = status;
    res
}

/// A `datetime-local` value (`2027-05-12T14:30`) read as the wall clock of `zone`, in
/// milliseconds (a wall time the zone skips at a change of clocks moves forward, as the
/// clocks do); `None` when it is not one.
pub(crate) fn local_to_ms(zone: &jiff::tz::TimeZone, input: &str) -> Option<i64> {
    let civil: jiff::civil::DateTime = input.trim().parse().ok()?;
    Some(civil.to_zoned_datetime(zone.clone()).ok()?.timestamp().as_millisecond())
}

/// An instant as a `datetime-local` value in `zone`; empty when out of the calendar.
pub(crate) fn ms_to_local(zone: &jiff::tz::TimeZone, ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// How far a deadline is from now, as people say it: "in 5 h 12 min", "2 d 3 h ago".
pub(crate) fn clock(deadline_ms: i64, now: i64) -> String {
    let diff = (deadline_ms - now).abs() / 60_000;
    let (d, h, m) = (diff / (24 * 60), diff / 60 % 24, diff % 60);
    let span = if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    };
    if deadline_ms >= now { format!("in {span}") } else { format!("{span} ago") }
}

/// A labelled single-line input with its error beside it.
pub(crate) fn input(id: &str, label: &str, kind: &str, value: &str, error: Option<String>) -> Markup {
    super::fields::Field { id, name: id, label, kind, value, autocomplete: "off", required: false, error }.render()
}

/// The errors of a field, as sentences naming it by `label`.
pub(crate) fn error_of(errors: &[FieldError], field: &str, label: &str) -> Option<String> {
    let found: Vec<String> = errors
        .iter()
        .filter(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
        .map(|e| format!("{label} {}.", e.message.trim_end_matches('.')))
        .collect();
    (!found.is_empty()).then(|| found.join(" "))
}

/// "Previous · Page 2 of 5 · Next", with `link(page)` for the targets.
pub(crate) fn pager(page: i64, total: i64, per_page: i64, link: impl Fn(i64) -> String) -> Markup {
    let last = ((total + per_page - 1) / per_page).max(1);
    html! {
        @if last > 1 {
            nav aria-label="Pages" { p {
                @if page > 1 { a href=(link(page - 1)) { "Previous" } " " }
                "Page " (page) " of " (last)
                @if page < last { " " a href=(link(page + 1)) { "Next" } }
            } }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests

#[derive(serde::Deserialize)]
pub struct RequestsQuery {
    status: Option<String>,
    page: Option<i64>,
    /// Set by a participant's page ("Record a request from this participant"): the filing
    /// form comes filled in with the participant, so nobody copies an id by hand.
    event_id: Option<String>,
    attendee_id: Option<String>,
}

const PER_PAGE: i64 = 50;

/// The event of each request, for its name and its zone (requests are few per page).
fn events_of(conn: &mut crate::db::DbConn, items: &[RequestView]) -> AppResult<Vec<EventRow>> {
    let mut found: Vec<EventRow> = Vec::new();
    for r in items {
        if !found.iter().any(|e| e.id == r.event_id) {
            found.push(events::find(conn, &r.event_id)?);
        }
    }
    Ok(found)
}

fn when_in(events: &[EventRow], event_id: &str, rfc3339: &str) -> String {
    match events.iter().find(|e| e.id == event_id) {
        Some(e) => e.display_rfc3339(rfc3339),
        None => rfc3339.to_string(),
    }
}

/// Days left on the 30-day clock, or how long ago it ran out.
fn due_clock(r: &RequestView, now: i64) -> String {
    match (r.status, parse_rfc3339_ms(&r.due_at)) {
        (requests::RequestStatus::Completed, _) => "answered".to_string(),
        (_, Some(due)) if r.overdue => format!("overdue: due {}", clock(due, now)),
        (_, Some(due)) => format!("due {}", clock(due, now)),
        (_, None) => String::new(),
    }
}

/// `GET /console/requests?status=&page=`: the request register, oldest due first, the
/// overdue ones highlighted (`requests::list`, as `GET /api/v1/requests`).
pub async fn requests_list(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    query: web::Query<RequestsQuery>,
) -> AppResult<HttpResponse> {
    let RequestsQuery { status, page, event_id, attendee_id } = query.into_inner();
    let filing = FileForm {
        event_id: event_id.unwrap_or_default(),
        attendee_id: attendee_id.unwrap_or_default(),
        ..FileForm::default()
    };
    requests_page(&s, &db, status, page, &filing, &[]).await
}

/// A request that arrived by e-mail, post, phone or in person, as typed.
#[derive(Default)]
struct FileForm {
    event_id: String,
    attendee_id: String,
    kind: String,
    channel: String,
    received_at: String,
    notes: String,
}

async fn requests_page(
    s: &SignedIn<AdminOnly>,
    db: &Db,
    status: Option<String>,
    page: Option<i64>,
    filing: &FileForm,
    errors: &[FieldError],
) -> AppResult<HttpResponse> {
    let status = status.filter(|v| !v.is_empty());
    let q = RequestQuery { status: status.clone(), page, per_page: Some(PER_PAGE) };
    let (list, events, all_events) = db
        .read(move |conn| {
            let list = requests::list(conn, &q)?;
            let events = events_of(conn, &list.items)?;
            let all = events::list(
                conn,
                &crate::paging::PageQuery { page: Some(1), per_page: Some(crate::paging::MAX_PER_PAGE) },
            )?;
            Ok((list, events, all.items))
        })
        .await?;
    let now = now_ms();
    let current = status.clone().unwrap_or_default();
    let link = |p: i64| {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &current)
            .append_pair("page", &p.to_string())
            .finish();
        format!("/console/requests?{query}")
    };
    let content = html! {
        h1 { "Requests" }
        p { "Participants' access, correction, erasure and withdrawal requests. Each must be answered within 30 days of its receipt." }
        form.filters method="get" {
            div {
                label for="status" { "Show" }
                select id="status" name="status" {
                    @for (value, label) in [("", "All"), ("open", "Open"), ("overdue", "Overdue"), ("completed", "Answered")] {
                        option value=(value) selected[current == value] { (label) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        p { (list.total) " request" @if list.total != 1 { "s" } "." }
        @if !list.items.is_empty() {
            (super::layout::table_wrap(html! { table {
                thead { tr { th { "Kind" } th { "Status" } th { "Event" } th { "Received" } th { "Due" } } }
                tbody { @for r in &list.items { tr.overdue[r.overdue] {
                    td { a href={ "/console/requests/" (r.id) } { (r.kind.as_str()) } }
                    td { @if r.overdue { strong { (due_clock(r, now)) } } @else { (due_clock(r, now)) } }
                    td { (events.iter().find(|e| e.id == r.event_id).map(|e| e.name.as_str()).unwrap_or("")) }
                    td { (when_in(&events, &r.event_id, &r.received_at)) }
                    td { (when_in(&events, &r.event_id, &r.due_at)) }
                } } }
            } }))
        }
        (pager(list.page, list.total, list.per_page, link))
        h2 id="file" { "Record a request" }
        p.hint { "One that arrived by e-mail, post, phone or in person; its 30 days run from its receipt." }
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        form method="post" action="/console/requests" novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            label for="event_id" { "Event" }
            select id="event_id" name="event_id" {
                @for e in &all_events { option value=(e.id) selected[filing.event_id == e.id] { (e.name) } }
            }
            @if let Some(e) = error_of(errors, "event_id", "The event") { div.error { (e) } }
            (input("attendee_id", "Participant id", "text", &filing.attendee_id, error_of(errors, "attendee_id", "The participant id")))
            @if !filing.attendee_id.is_empty() && !filing.event_id.is_empty() && errors.iter().all(|e| e.field != "attendee_id") {
                p.hint { a href={ "/console/events/" (filing.event_id) "/attendees/" (filing.attendee_id) } { "Check who this is" } }
            }
            p.hint { "Easier from the participant's page (the event's Attendees, then the participant): "
                "“Record a request from this participant” fills in the event and the id." }
            label for="kind" { "Asked for" }
            select id="kind" name="kind" {
                @for k in ["access", "correction", "erasure", "withdrawal"] { option value=(k) selected[filing.kind == k] { (k) } }
            }
            @if let Some(e) = error_of(errors, "kind", "What was asked for") { div.error { (e) } }
            label for="channel" { "Arrived by" }
            select id="channel" name="channel" {
                @for (v, l) in [("email", "e-mail"), ("post", "post"), ("phone", "phone"), ("in_person", "in person")] {
                    option value=(v) selected[filing.channel == v] { (l) }
                }
            }
            @if let Some(e) = error_of(errors, "channel", "How it arrived") { div.error { (e) } }
            (input("received_at", "Received (the event's time zone; empty: now)", "datetime-local", &filing.received_at,
                error_of(errors, "received_at", "The receipt time")))
            (input("notes", "Notes (optional)", "textarea", &filing.notes, error_of(errors, "notes", "The notes")))
            button type="submit" { "Record the request" }
        }
    };
    let res = console_page(s, "Requests", "/console/requests", content);
    Ok(if errors.is_empty() { res } else { with_status(res, StatusCode::UNPROCESSABLE_ENTITY) })
}

/// `POST /console/requests`: `requests::file`, as `POST /api/v1/requests`; the receipt
/// time is typed in the event's zone.
pub async fn request_file(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let f = FileForm {
        event_id: form.get("event_id"),
        attendee_id: form.get("attendee_id").trim().to_string(),
        kind: form.get("kind"),
        channel: form.get("channel"),
        received_at: form.get("received_at"),
        notes: form.get("notes"),
    };
    let (event_id, attendee_id, kind, channel, received, notes) = (
        f.event_id.clone(),
        f.attendee_id.clone(),
        f.kind.clone(),
        f.channel.clone(),
        f.received_at.clone(),
        f.notes.clone(),
    );
    let outcome = db
        .write(move |conn| {
            let event = events::find(conn, &event_id)
                .map_err(|_| AppError::Validation(vec![FieldError::new("event_id", "must be chosen from the list")]))?;
            let received_at = match received.trim() {
                "" => None,
                v => Some(
                    local_to_ms(&event.zone(), v)
                        .map(crate::db::ms_to_rfc3339)
                        .ok_or_else(|| AppError::field("received_at", "must be a date and time"))?,
                ),
            };
            if attendee_id.is_empty() {
                return Err(AppError::field("attendee_id", "is required"));
            }
            let input = requests::FileRequest {
                event_id,
                attendee_id,
                kind,
                channel,
                received_at,
                notes: Some(notes).filter(|n| !n.trim().is_empty()),
            };
            requests::file(conn, input)
        })
        .await;
    let errors = match outcome {
        Ok(row) => return Ok(see_other(&format!("/console/requests/{}", row.id))),
        Err(AppError::Validation(errors)) => errors,
        // A participant id that is not one of the event's.
        Err(AppError::NotFound) => vec![FieldError::new("attendee_id", "is not a participant of this event")],
        Err(other) => return Err(other.into()),
    };
    Ok(requests_page(&s, &db, None, None, &f, &errors).await?)
}

fn request_page(
    s: &SignedIn<AdminOnly>,
    r: &RequestView,
    event: &EventRow,
    notes: &str,
    errors: &[FieldError],
    done: bool,
) -> HttpResponse {
    let now = now_ms();
    let content = html! {
        h1 { "Request: " (r.kind.as_str()) }
        @if done { p.notice role="status" { "The request is marked answered." } }
        @if let Some(e) = errors.iter().find(|e| e.field == "request") { p.alert role="alert" { (e.message) } }
        (super::layout::table_wrap(html! { table {
            tbody {
                tr { th { "Event" } td { a href={ "/console/events/" (event.id) } { (event.name) } } }
                tr { th { "Participant" } td { code { (r.attendee_id) } " · "
                    // Their page is a staff read (ledgered); the register itself shows no name.
                    a href={ "/console/events/" (event.id) "/attendees/" (r.attendee_id) } { "open the participant" } " · "
                    a href={ "/console/events/" (event.id) "/ledger?attendee_id=" (r.attendee_id) } { "who received their data" } } }
                tr { th { "Arrived by" } td { (r.channel.as_str()) } }
                tr { th { "Received" } td { (event.display_rfc3339(&r.received_at)) } }
                tr.overdue[r.overdue] { th { "Due" } td { (event.display_rfc3339(&r.due_at)) " (" (due_clock(r, now)) ")" } }
                tr { th { "Status" } td { @if r.status == requests::RequestStatus::Open { "open" } @else { "answered" } } }
                @if let Some(at) = &r.completed_at { tr { th { "Answered" } td { (event.display_rfc3339(at)) } } }
                @if let Some(by) = &r.handled_by { tr { th { "Handled by" } td { code { (by) } } } }
                @if let Some(n) = &r.notes { tr { th { "Notes" } td { (n) } } }
            }
        } }))
        @if r.status == requests::RequestStatus::Open {
            h2 { "Mark as answered" }
            form method="post" action={ "/console/requests/" (r.id) "/complete" } novalidate {
                input type="hidden" name="csrf" value=(s.csrf);
                (input("notes", "What was done (optional; replaces the notes above when given)", "textarea", notes,
                    error_of(errors, "notes", "Notes")))
                button type="submit" { "Mark as answered" }
            }
        }
        p { a href="/console/requests" { "All requests" } }
    };
    console_page(s, "Request", "/console/requests", content)
}

#[derive(serde::Deserialize)]
pub struct DoneQuery {
    pub(crate) done: Option<String>,
}

/// `GET /console/requests/{request_id}`: one request, with the form that answers it.
pub async fn request_detail(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (r, event) = db
        .read(move |conn| {
            let r = requests::find(conn, &id)?;
            let event = events::find(conn, &r.event_id)?;
            Ok((r, event))
        })
        .await?;
    Ok(request_page(&s, &r, &event, "", &[], query.done.is_some()))
}

/// `POST /console/requests/{request_id}/complete`: `requests::complete`, as
/// `POST /api/v1/requests/{request_id}/complete`.
pub async fn request_complete(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let notes = form.opt("notes");
    let (by, rid) = (s.caller.user_id.clone(), id.clone());
    let input = CompleteRequest { notes: notes.clone() };
    let outcome = db.write(move |conn| requests::complete(conn, &rid, &by, &input)).await;
    let (errors, status) = match outcome {
        Ok(_) => return Ok(see_other(&format!("/console/requests/{id}?done=completed"))),
        Err(AppError::Validation(errors)) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(AppError::Conflict(message)) => (vec![FieldError::new("request", message)], StatusCode::CONFLICT),
        Err(other) => return Err(other.into()),
    };
    let rid = id.clone();
    let (r, event) = db
        .read(move |conn| {
            let r = requests::find(conn, &rid)?;
            let event = events::find(conn, &r.event_id)?;
            Ok((r, event))
        })
        .await?;
    let page = request_page(&s, &r, &event, &notes.unwrap_or_default(), &errors, false);
    Ok(with_status(page, status))
}

// ---------------------------------------------------------------------------------------
// Ledger search

#[derive(serde::Deserialize, Default, Clone)]
pub struct LedgerQuery {
    attendee_id: Option<String>,
    partner_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
}

impl LedgerQuery {
    /// The filter of the core's search, with times read in the event's zone; errors name
    /// the fields of the form.
    fn filter(&self, event: &EventRow) -> Result<DisclosureFilter, Vec<FieldError>> {
        let zone = event.zone();
        let mut errors = Vec::new();
        let mut time = |field: &str, v: &Option<String>| {
            let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            local_to_ms(&zone, v).or_else(|| {
                errors.push(FieldError::new(field, "must be a date and time"));
                None
            })
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            errors.push(FieldError::new("to", "must be after the start of the window"));
        }
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        if errors.is_empty() {
            Ok(DisclosureFilter { attendee_id: text(&self.attendee_id), partner_id: text(&self.partner_id), from, to })
        } else {
            Err(errors)
        }
    }

    fn query_string(&self, page: Option<i64>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("attendee_id", &self.attendee_id),
            ("partner_id", &self.partner_id),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                q.append_pair(k, v);
            }
        }
        if let Some(p) = page {
            q.append_pair("page", &p.to_string());
        }
        q.finish()
    }
}

/// `GET /console/events/{event_id}/ledger?attendee_id=&partner_id=&from=&to=&page=`: who
/// received which fields, when (`ledger::search`, as `GET /api/v1/events/{event_id}/disclosures`);
/// the window is typed and shown in the event's time zone.
pub async fn ledger_search(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let q = query.into_inner();
    let page = q.page.unwrap_or(1);
    crate::paging::check_page(page)?;
    let (id, qq) = (event_id.clone(), q.clone());
    let (event, partners, result) = db
        .read(move |conn| {
            let event = events::find(conn, &id)?;
            let partners = crate::partners::list_for_event(conn, &id)?;
            let result = match qq.filter(&event) {
                Ok(filter) => Ok(ledger::search(conn, &id, &filter, Some((page, PER_PAGE)))?),
                Err(errors) => Err(errors),
            };
            Ok((event, partners, result))
        })
        .await?;
    let errors = result.as_ref().err().cloned().unwrap_or_default();
    let zone_name = event.time_zone.clone();
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let chosen = value(&q.partner_id);
    let content = html! {
        h1 { "Ledger — " (event.name) }
        (event_links(&event_id, "Ledger", s.caller.role))
        p { "Every release of participants' contact fields: to partners (scans, lead reads, exports) and to the operator's staff." }
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        form method="get" role="search" novalidate {
            div.filters {
                div { (input("attendee_id", "Participant id", "text", &value(&q.attendee_id), error_of(&errors, "attendee_id", "Participant id"))) }
                div {
                    label for="partner_id" { "Recipient" }
                    select id="partner_id" name="partner_id" {
                        option value="" { "Anyone" }
                        @for p in &partners { option value=(p.id) selected[chosen == p.id] { (p.name) } }
                    }
                }
            }
            div.filters {
                div { (input("from", &format!("From ({zone_name})"), "datetime-local", &value(&q.from), error_of(&errors, "from", "From"))) }
                div { (input("to", &format!("Until ({zone_name}, not included)"), "datetime-local", &value(&q.to), error_of(&errors, "to", "Until"))) }
            }
            button type="submit" { "Search" }
        }
        @if let Ok((rows, total)) = &result {
            p {
                (total) " release" @if *total != 1 { "s" } "."
                @if *total > 0 { " " a href={ "/console/events/" (event_id) "/ledger.csv?" (q.query_string(None)) } download { "Download as CSV" } }
            }
            @if !rows.is_empty() {
                (super::layout::table_wrap(html! { table {
                    thead { tr { th { "When" } th { "Recipient" } th { "Participant" } th { "Fields" } th { "Basis" } th { "Channel" } } }
                    tbody { @for (row, name) in rows {
                        tr {
                            td { (event.display_time(row.occurred_at)) }
                            td { (name.as_deref().unwrap_or("operator staff")) }
                            td { a href={ "/console/events/" (event_id) "/ledger?attendee_id=" (row.attendee_id) } { code { (row.attendee_id) } } }
                            td { (row.fields.replace(',', ", ")) }
                            td { (row.basis.as_str()) }
                            td { (row.channel.as_str()) }
                        }
                    } }
                } }))
            }
            (pager(page, *total, PER_PAGE, |p| format!("/console/events/{event_id}/ledger?{}", q.query_string(Some(p)))))
        }
    };
    let res = console_page(&s, &format!("Ledger — {}", event.name), "", content);
    Ok(if errors.is_empty() { res } else { with_status(res, StatusCode::UNPROCESSABLE_ENTITY) })
}

/// `GET /console/events/{event_id}/ledger.csv?…`: every row of the search, as the API's
/// `?format=csv` writes it (`ledger::csv_of`).
pub async fn ledger_csv(
    _s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let q = query.into_inner();
    let bytes = db
        .read(move |conn| {
            let event = events::find(conn, &event_id)?;
            let filter = q.filter(&event).map_err(AppError::Validation)?;
            let (rows, _) = ledger::search(conn, &event_id, &filter, None)?;
            ledger::csv_of(rows.into_iter().map(|(r, name)| ledger::view(r, name)).collect())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"disclosures.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}
