//! The staff console (`/console/…`): admins and registrars, by the same policies as the
//! API (`Registration` to read events and attendees, `AdminOnly` for the registers of
//! requests and incidents). Each page calls the core function its API twin calls.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::layout::{self, Chrome, NavLink};
use crate::auth::{AdminOnly, Policy, Registration};
use crate::db::{Db, now_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;
use crate::http::session::SignedIn;
use crate::paging::PageQuery;

pub const NAV: &[NavLink<'static>] = &[
    NavLink { href: "/console/", label: "Events" },
    // Task D2's registers (admin).
    NavLink { href: "/console/requests", label: "Requests" },
    NavLink { href: "/console/incidents", label: "Incidents" },
];

/// A console page in the one layout, with the session's sign-out form.
pub fn console_page<P: Policy>(s: &SignedIn<P>, title: &str, current: &str, content: Markup) -> HttpResponse {
    let chrome = Chrome::SignedIn { nav: NAV, current, user: &s.email, csrf: &s.csrf };
    super::html(StatusCode::OK, layout::render(&format!("{title} — badgegate console"), &chrome, content))
}

/// A date as staff read it: `YYYY-MM-DD HH:MM UTC` (until events carry a time zone).
pub fn when(ms: i64) -> String {
    let t = crate::db::ms_to_rfc3339(ms);
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(h)) => format!("{d} {h} UTC"),
        _ => t,
    }
}

/// `GET /console/`: the events staff can see (all of them, as `GET /api/v1/events`).
pub async fn events_list(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let paging = query.into_inner();
    let list = db.read(move |conn| events::list(conn, &paging)).await?;
    let last_page = (list.total + list.per_page - 1) / list.per_page;
    let content = html! {
        h1 { "Events" }
        @if AdminOnly::allows(s.caller.role) { p { a href="/console/events/new" { "New event" } } }
        @if list.items.is_empty() {
            p { "No events yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Event" } th { "Starts" } th { "Ends" } th { "Venue" } } }
                tbody { @for e in &list.items { tr {
                    td { a href={ "/console/events/" (e.id) } { (e.name) } }
                    td { (when(e.starts_at)) }
                    td { (when(e.ends_at)) }
                    td { (e.venue.as_deref().unwrap_or("")) }
                } } }
            } }
            @if last_page > 1 {
                nav aria-label="Pages" { p {
                    @if list.page > 1 { a href={ "/console/?page=" (list.page - 1) } { "Previous" } " " }
                    "Page " (list.page) " of " (last_page)
                    @if list.page < last_page { " " a href={ "/console/?page=" (list.page + 1) } { "Next" } }
                } }
            }
        }
    };
    Ok(console_page(&s, "Events", "/console/", content))
}

/// `GET /console/events/{event_id}`: registrations, scans today, leads per partner, and
/// for admins the overdue requests and open incidents with their deadline clocks.
pub async fn event_dashboard(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let admin = AdminOnly::allows(s.caller.role);
    let d = db.read(move |conn| events::dashboard::dashboard(conn, &event_id, admin, now_ms())).await?;
    let e = &d.event;
    let content = html! {
        h1 { (e.name) }
        (event_links(&e.id, "Dashboard"))
        @if admin { p { a href={ "/console/events/" (e.id) "/edit" } { "Edit the event's settings" } } }
        p { (when(e.starts_at)) " – " (when(e.ends_at))
            @if let Some(v) = &e.venue { " · " (v) } }
        div.cards {
            div.card { b { (d.registrations) } "registrations" }
            div.card { b { (d.scans_today) } "scans today (" (d.today) ", UTC)" }
            @if let Some(r) = &d.overdue_requests {
                div.card.overdue[!r.is_empty()] { b { (r.len()) } "overdue requests" }
            }
            @if let Some(i) = &d.open_incidents {
                div.card.overdue[i.iter().any(|i| i.overdue)] { b { (i.len()) } "open incidents" }
            }
        }
        h2 { "Leads per partner" }
        @if d.leads_per_partner.is_empty() {
            p { "No partners yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Partner" } th { "Leads" } } }
                tbody { @for p in &d.leads_per_partner { tr { td { (p.name) } td { (p.leads) } } } }
            } }
        }
        @if let Some(requests) = &d.overdue_requests {
            h2 { "Overdue requests" }
            @if requests.is_empty() { p { "None: every open request is within its 30 days." } }
            @else {
                div.table-wrap { table {
                    thead { tr { th { "Request" } th { "Kind" } th { "Due" } } }
                    tbody { @for r in requests { tr.overdue {
                        td { code { (r.id) } } td { (r.kind.as_str()) } td { (r.due_at) }
                    } } }
                } }
            }
        }
        @if let Some(incidents) = &d.open_incidents {
            h2 { "Open incidents" }
            @if incidents.is_empty() { p { "None." } }
            @else {
                div.table-wrap { table {
                    thead { tr { th { "Incident" } th { "Next deadline" } } }
                    tbody { @for i in incidents { tr.overdue[i.overdue] {
                        td { (i.title) }
                        td {
                            (i.next_deadline.as_deref().unwrap_or("—"))
                            @if i.overdue { " " strong { "(passed)" } }
                        }
                    } } }
                } }
            }
        }
    };
    Ok(console_page(&s, &d.event.name, "", content))
}

/// The links of one event's pages, above each of them.
pub(crate) fn event_links(event_id: &str, current: &str) -> Markup {
    let links = [
        (format!("/console/events/{event_id}"), "Dashboard"),
        (format!("/console/events/{event_id}/attendees"), "Attendees"),
        (format!("/console/events/{event_id}/badges/sheet"), "Print badges"),
        // Task D2's pages.
        (format!("/console/events/{event_id}/partners"), "Partners"),
        (format!("/console/events/{event_id}/ledger"), "Ledger"),
    ];
    html! {
        nav.filters aria-label="This event" {
            @for (href, label) in &links {
                a href=(href) aria-current=[(*label == current).then_some("page")] { (label) }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct AttendeeQuery {
    q: Option<String>,
    page: Option<i64>,
}

const ATTENDEES_PER_PAGE: i64 = 50;

/// `GET /console/events/{event_id}/attendees?q=&page=`: the same core read as
/// `GET /api/v1/events/{event_id}/attendees`, so every participant shown is ledgered
/// (channel `staff`) exactly as the API's list is.
pub async fn attendees(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<AttendeeQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let AttendeeQuery { q, page } = query.into_inner();
    let q = q.unwrap_or_default();
    let paging = PageQuery { page, per_page: Some(ATTENDEES_PER_PAGE) };
    let (staff, id, search) = (s.caller.user_id.clone(), event_id.clone(), q.clone());
    let (event, list) = db
        .write(move |conn| {
            let event = events::find(conn, &id)?;
            let list = crate::attendees::staff::staff_list(conn, &staff, &id, Some(&search), &paging)?;
            Ok((event, list))
        })
        .await?;
    let last_page = ((list.total + list.per_page - 1) / list.per_page).max(1);
    let link = |p: i64| {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .append_pair("page", &p.to_string())
            .finish();
        format!("/console/events/{event_id}/attendees?{query}")
    };
    let content = html! {
        h1 { "Attendees — " (event.name) }
        (event_links(&event_id, "Attendees"))
        form.filters method="get" role="search" {
            div {
                label for="q" { "Search name, e-mail or company" }
                input type="search" id="q" name="q" value=(q);
            }
            button type="submit" { "Search" }
        }
        p { (list.total) " participant" @if list.total != 1 { "s" } @if !q.is_empty() { " found" } "." }
        @if !list.items.is_empty() {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Company" } th { "E-mail" } th { "Registered" } } }
                tbody { @for a in &list.items { tr {
                    td { @if a.erased { em { "(erased)" } } @else { (a.contact.name.as_deref().unwrap_or("")) } }
                    td { (a.contact.company.as_deref().unwrap_or("")) }
                    td { (a.contact.email.as_deref().unwrap_or("")) }
                    td { (when(a.created_at)) }
                } } }
            } }
        }
        @if last_page > 1 {
            nav aria-label="Pages" { p {
                @if list.page > 1 { a href=(link(list.page - 1)) { "Previous" } " " }
                "Page " (list.page) " of " (last_page)
                @if list.page < last_page { " " a href=(link(list.page + 1)) { "Next" } }
            } }
        }
    };
    Ok(console_page(&s, &format!("Attendees — {}", event.name), "", content))
}

#[derive(serde::Deserialize)]
pub struct SheetQuery {
    page: Option<i64>,
}

/// `GET /console/events/{event_id}/badges/sheet`: the API's print-ready badge sheet, for a
/// browser signed in with its session (the API's route needs a bearer token).
pub async fn badge_sheet(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<String>,
    query: web::Query<SheetQuery>,
) -> AppResult<HttpResponse> {
    crate::badges::handlers::sheet_response(
        &db,
        &badge_key,
        s.caller.user_id,
        path.into_inner(),
        query.into_inner().page.unwrap_or(1),
    )
    .await
}

/// What an event form holds, as typed (kept when the form comes back with errors).
#[derive(Default)]
struct EventForm {
    name: String,
    starts_at: String,
    ends_at: String,
    venue: String,
    slug: String,
    privacy_notice_version: String,
    released_fields: Vec<String>,
    scan_grace_hours: String,
    csrf: String,
}

impl EventForm {
    fn parse(body: &[u8]) -> Result<EventForm, Vec<FieldError>> {
        let mut f = EventForm::default();
        for (key, value) in crate::http::input::decode_form(body)? {
            match key.as_str() {
                "name" => f.name = value,
                "starts_at" => f.starts_at = value,
                "ends_at" => f.ends_at = value,
                "venue" => f.venue = value,
                "slug" => f.slug = value,
                "privacy_notice_version" => f.privacy_notice_version = value,
                "released_fields" => f.released_fields.push(value),
                "scan_grace_hours" => f.scan_grace_hours = value,
                "csrf" => f.csrf = value,
                _ => {}
            }
        }
        Ok(f)
    }

    fn of(e: &events::EventRow) -> EventForm {
        EventForm {
            name: e.name.clone(),
            starts_at: local_input(e.starts_at),
            ends_at: local_input(e.ends_at),
            venue: e.venue.clone().unwrap_or_default(),
            slug: e.slug.clone(),
            privacy_notice_version: e.privacy_notice_version.clone(),
            released_fields: e.released_fields(),
            scan_grace_hours: e.scan_grace_hours.to_string(),
            csrf: String::new(),
        }
    }

    fn grace(&self, errors: &mut Vec<FieldError>) -> Option<i64> {
        let v = self.scan_grace_hours.trim();
        if v.is_empty() {
            return None;
        }
        v.parse().map_err(|_| errors.push(FieldError::new("scan_grace_hours", "must be a whole number of hours"))).ok()
    }
}

/// A `datetime-local` value (`2026-05-04T09:00`, read as UTC until events carry a time
/// zone) as the RFC 3339 the core reads; anything else goes through for the core to refuse.
fn rfc3339_of(input: &str) -> String {
    let v = input.trim();
    match v.len() {
        16 => format!("{v}:00Z"),
        19 => format!("{v}Z"),
        _ => v.to_string(),
    }
}

/// An instant as a `datetime-local` value (UTC).
fn local_input(ms: i64) -> String {
    crate::db::ms_to_rfc3339(ms).chars().take(16).collect()
}

fn label_of(field: &str) -> &'static str {
    match field {
        "name" => "Name",
        "starts_at" => "Starts",
        "ends_at" => "Ends",
        "venue" => "Venue",
        "slug" => "Address slug",
        "privacy_notice_version" => "Privacy notice version",
        "released_fields" => "Fields partners may receive",
        "scan_grace_hours" => "Hours after the end during which scans are accepted",
        _ => "Form",
    }
}

/// The form of a new event (`edit` = None) or of an existing one, whose name, dates, venue
/// and slug the API does not change.
fn event_form(action: &str, f: &EventForm, errors: &[FieldError], csrf: &str, editing: bool) -> Markup {
    let error_of = |field: &str| -> Option<String> {
        errors
            .iter()
            .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
            // The core's messages name other fields by their API names.
            .map(|e| format!("{} {}", label_of(field), e.message.replace("starts_at", "the start")))
            .next()
    };
    let known = [
        "name",
        "starts_at",
        "ends_at",
        "venue",
        "slug",
        "privacy_notice_version",
        "released_fields",
        "scan_grace_hours",
    ];
    let other: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !known.iter().any(|k| e.field == *k || e.field.starts_with(&format!("{k}["))))
        .collect();
    let text = |name: &'static str, kind: &'static str, value: &str, hint: Option<&'static str>| {
        let err = error_of(name);
        html! {
            label for=(name) { (label_of(name)) @if let Some(h) = hint { " " span.hint { (h) } } }
            input type=(kind) id=(name) name=(name) value=(value)
                aria-invalid=[err.as_ref().map(|_| "true")]
                aria-describedby=[err.as_ref().map(|_| format!("{name}-error"))];
            @if let Some(e) = &err { div.error id={ (name) "-error" } { (e) } }
        }
    };
    html! {
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        @for e in &other { p.error { (e.field) ": " (e.message) } }
        form method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(csrf);
            @if !editing {
                (text("name", "text", &f.name, None))
                (text("starts_at", "datetime-local", &f.starts_at, Some("(UTC)")))
                (text("ends_at", "datetime-local", &f.ends_at, Some("(UTC)")))
                (text("venue", "text", &f.venue, Some("(optional)")))
                (text("slug", "text", &f.slug, Some("(optional: lower-case letters, digits and hyphens; made from the name when empty)")))
            }
            (text("privacy_notice_version", "text", &f.privacy_notice_version, Some("(optional when creating: 1)")))
            fieldset {
                legend { (label_of("released_fields")) }
                @for field in crate::contact::FIELDS {
                    label.check {
                        input type="checkbox" name="released_fields" value=(field)
                            checked[f.released_fields.iter().any(|r| r == field)];
                        (field)
                    }
                }
                @if let Some(e) = error_of("released_fields") { div.error id="released_fields-error" { (e) } }
            }
            (text("scan_grace_hours", "number", &f.scan_grace_hours, Some("(0–720, default 72)")))
            button type="submit" { @if editing { "Save changes" } @else { "Create the event" } }
        }
    }
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location.to_string())).finish()
}

/// `GET /console/events/new` (admin, as `POST /api/v1/events`).
pub async fn new_event(s: SignedIn<AdminOnly>) -> HttpResponse {
    let form = EventForm {
        released_fields: crate::contact::FIELDS.iter().map(|f| f.to_string()).collect(),
        ..Default::default()
    };
    let content = html! { h1 { "New event" } (event_form("/console/events/new", &form, &[], &s.csrf, false)) };
    console_page(&s, "New event", "", content)
}

/// `POST /console/events/new`: the API's `events::create`; errors come back beside their
/// fields with what was typed.
pub async fn create_event(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 64 * 1024).await?;
    let form = EventForm::parse(&body).map_err(AppError::Validation)?;
    s.check_csrf(&form.csrf)?;
    let mut errors = Vec::new();
    let grace = form.grace(&mut errors);
    let input = events::CreateEvent {
        name: form.name.clone(),
        starts_at: rfc3339_of(&form.starts_at),
        ends_at: rfc3339_of(&form.ends_at),
        venue: Some(form.venue.clone()).filter(|v| !v.trim().is_empty()),
        slug: Some(form.slug.trim().to_string()).filter(|v| !v.is_empty()),
        privacy_notice_version: Some(form.privacy_notice_version.clone()).filter(|v| !v.trim().is_empty()),
        released_fields: Some(form.released_fields.clone()),
        scan_grace_hours: grace,
        // The form does not show these yet: their defaults apply.
        time_zone: None,
        privacy_notice_url: None,
        organiser_contact: None,
        registration_closes_at: None,
    };
    let outcome = if errors.is_empty() {
        db.write(move |conn| events::create(conn, &input)).await
    } else {
        Err(AppError::Validation(errors))
    };
    match outcome {
        Ok(row) => Ok(see_other(&format!("/console/events/{}", row.id))),
        Err(AppError::Validation(errors)) => {
            let content =
                html! { h1 { "New event" } (event_form("/console/events/new", &form, &errors, &s.csrf, false)) };
            let mut res = console_page(&s, "New event", "", content);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(AppError::Conflict(message)) => {
            let errors = [FieldError::new("slug", message)];
            let content =
                html! { h1 { "New event" } (event_form("/console/events/new", &form, &errors, &s.csrf, false)) };
            let mut res = console_page(&s, "New event", "", content);
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /console/events/{event_id}/edit` (admin, as `PATCH /api/v1/events/{event_id}`).
pub async fn edit_event(s: SignedIn<AdminOnly>, db: web::Data<Db>, path: web::Path<String>) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let id = event_id.clone();
    let event = db.read(move |conn| events::find(conn, &id)).await?;
    let action = format!("/console/events/{event_id}/edit");
    let content = html! {
        h1 { "Edit " (event.name) }
        (event_links(&event_id, ""))
        (event_form(&action, &EventForm::of(&event), &[], &s.csrf, true))
    };
    Ok(console_page(&s, &format!("Edit {}", event.name), "", content))
}

/// `POST /console/events/{event_id}/edit`: the API's `events::update`.
pub async fn update_event(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let event_id = path.into_inner();
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 64 * 1024).await?;
    let form = EventForm::parse(&body).map_err(AppError::Validation)?;
    s.check_csrf(&form.csrf)?;
    let mut errors = Vec::new();
    let grace = form.grace(&mut errors);
    let input = events::UpdateEvent {
        released_fields: Some(form.released_fields.clone()),
        privacy_notice_version: Some(form.privacy_notice_version.clone()),
        scan_grace_hours: grace,
        // The form does not show these yet: left as they are.
        time_zone: None,
        privacy_notice_url: None,
        organiser_contact: None,
        registration_closes_at: None,
    };
    let id = event_id.clone();
    let outcome = if errors.is_empty() {
        db.write(move |conn| events::update(conn, &id, &input)).await
    } else {
        Err(AppError::Validation(errors))
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/console/events/{event_id}"))),
        Err(AppError::Validation(errors)) => {
            let id = event_id.clone();
            let event = db.read(move |conn| events::find(conn, &id)).await?;
            let action = format!("/console/events/{event_id}/edit");
            let content = html! {
                h1 { "Edit " (event.name) }
                (event_form(&action, &form, &errors, &s.csrf, true))
            };
            let mut res = console_page(&s, &format!("Edit {}", event.name), "", content);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(other) => Err(other.into()),
    }
}
