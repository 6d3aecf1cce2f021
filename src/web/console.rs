//! The staff console (`/console/…`): admins and registrars, by the same policies as the
//! API (`Registration` to read events and attendees, `AdminOnly` for the registers of
//! requests and incidents). Each page calls the core function its API twin calls.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::layout::{self, Chrome, NavLink};
use crate::auth::{AdminOnly, Policy, Registration};
use crate::db::{Db, now_ms, text_enum};
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
    // The registers are an admin's: a registrar shown them met only "Not allowed".
    let nav = if AdminOnly::allows(s.caller.role) { NAV } else { NAV.get(..1).unwrap_or(NAV) };
    let chrome = Chrome::SignedIn { nav, current, user: &s.email, csrf: &s.csrf };
    super::html(StatusCode::OK, layout::render(&format!("{title} — badgegate console"), &chrome, content))
}

/// A date as staff read it where no event gives a zone: `YYYY-MM-DD HH:MM UTC`.
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
            (layout::table_wrap(html! { table {
                thead { tr { th { "Event" } th { "Starts" } th { "Ends" } th { "Venue" } } }
                tbody { @for e in &list.items { tr {
                    td { a href={ "/console/events/" (e.id) } { (e.name) } }
                    td { (e.display_time(e.starts_at)) }
                    td { (e.display_time(e.ends_at)) }
                    td { (e.venue.as_deref().unwrap_or("")) }
                } } }
            } }))
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
    public_url: web::Data<crate::config::PublicUrl>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let admin = AdminOnly::allows(s.caller.role);
    let d = db.read(move |conn| events::dashboard::dashboard(conn, &event_id, admin, now_ms())).await?;
    let e = &d.event;
    let content = html! {
        h1 { (e.name) }
        (event_links(&e.id, "Dashboard", s.caller.role))
        @if admin { p { a href={ "/console/events/" (e.id) "/edit" } { "Edit the event's settings" } } }
        p { (e.display_time(e.starts_at)) " – " (e.display_time(e.ends_at))
            @if let Some(v) = &e.venue { " · " (v) } }
        p { "Registration closes " (e.display_time(e.registration_closes_at())) "." }
        // Staff hand this address out (event site, invitation mail): nothing else shows it.
        @let form = format!("{}/e/{}/register", public_url.0, e.slug);
        p { "Participants register at " a href=(form) { code { (form) } } "." }
        div.cards {
            div.card { b { (d.registrations) } "registrations" }
            div.card { b { (d.scans_today) } "scans today (" (d.today) ", " (e.time_zone) ")" }
            @if let Some(r) = &d.overdue_requests {
                div.card.overdue[!r.is_empty()] { b { (r.len()) } "overdue requests" }
            }
            @if let Some(i) = &d.open_incidents {
                div.card.overdue[i.iter().any(|i| i.overdue)] { b { (i.len()) } "open incidents" }
            }
            div.card.overdue[d.failed_mail > 0] {
                b { (d.failed_mail) } a href={ "/console/events/" (e.id) "/mail?status=failed" } { "messages that could not be delivered" }
            }
            div.card.overdue[d.overdue_notices > 0] {
                b { (d.overdue_notices) }
                a href={ "/console/events/" (e.id) "/deletion-notices" } { "deletion notices unacknowledged after 7 days" }
            }
        }
        h2 { "Leads per partner" }
        @if d.leads_per_partner.is_empty() {
            p { "No partners yet." }
        } @else {
            (layout::table_wrap(html! { table {
                thead { tr { th { "Partner" } th { "Leads" } } }
                tbody { @for p in &d.leads_per_partner { tr { td { (p.name) } td { (p.leads) } } } }
            } }))
        }
        @if let Some(requests) = &d.overdue_requests {
            h2 { "Overdue requests" }
            @if requests.is_empty() { p { "None: every open request is within its 30 days." } }
            @else {
                (layout::table_wrap(html! { table {
                    thead { tr { th { "Request" } th { "Kind" } th { "Due" } } }
                    tbody { @for r in requests { tr.overdue {
                        td { code { (r.id) } } td { (r.kind.as_str()) } td { (e.display_rfc3339(&r.due_at)) }
                    } } }
                } }))
            }
        }
        @if let Some(incidents) = &d.open_incidents {
            h2 { "Open incidents" }
            @if incidents.is_empty() { p { "None." } }
            @else {
                (layout::table_wrap(html! { table {
                    thead { tr { th { "Incident" } th { "Next deadline" } } }
                    tbody { @for i in incidents { tr.overdue[i.overdue] {
                        td { (i.title) }
                        td {
                            (i.next_deadline.as_deref().map_or_else(|| "—".to_string(), |t| e.display_rfc3339(t)))
                            @if i.overdue { " " strong { "(passed)" } }
                        }
                    } } }
                } }))
            }
        }
    };
    Ok(console_page(&s, &d.event.name, "", content))
}

/// The links of one event's pages, above each of them.
/// The ledger is an admin's: a registrar is not shown the link that would answer "Not allowed".
pub(crate) fn event_links(event_id: &str, current: &str, role: crate::auth::Role) -> Markup {
    // (path under the event, label, admin only)
    const LINKS: [(&str, &str, bool); 8] = [
        ("", "Dashboard", false),
        ("/attendees", "Attendees", false),
        ("/attendees/import", "Import", false),
        ("/badges/print", "Print badges", false),
        ("/partners", "Partners", false),
        ("/mail", "Mail", false),
        ("/deletion-notices", "Deletion notices", false),
        ("/ledger", "Ledger", true),
    ];
    let admin = AdminOnly::allows(role);
    let links = LINKS.iter().filter(|(_, _, admin_only)| admin || !admin_only);
    html! {
        nav.filters aria-label="This event" {
            @for (path, label, _) in links {
                @let href = format!("/console/events/{event_id}{path}");
                a href=(href) aria-current=[(*label == current).then_some("page")] { (label) }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct AttendeeQuery {
    q: Option<String>,
    page: Option<i64>,
    /// Set by the import's redirect: how many participants it stored.
    imported: Option<u32>,
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
    let AttendeeQuery { q, page, imported } = query.into_inner();
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
        (event_links(&event_id, "Attendees", s.caller.role))
        @if let Some(n) = imported {
            p.notice role="status" { (n) " participant" @if n != 1 { "s" } " imported." }
        }
        p { a href={ "/console/events/" (event_id) "/attendees/new" } { "Register a participant" } " · "
            a href={ "/console/events/" (event_id) "/attendees/import" } { "Import from CSV" } }
        form.filters method="get" role="search" {
            div {
                label for="q" { "Search name, e-mail or company" }
                input type="search" id="q" name="q" value=(q);
            }
            button type="submit" { "Search" }
        }
        p { (list.total) " participant" @if list.total != 1 { "s" } @if !q.is_empty() { " found" } "." }
        @if !list.items.is_empty() {
            (layout::table_wrap(html! { table {
                thead { tr { th { "Name" } th { "Company" } th { "E-mail" } th { "Registered" } } }
                tbody { @for a in &list.items { tr {
                    td { a href={ "/console/events/" (event_id) "/attendees/" (a.attendee_id) } {
                        @if a.erased { "(erased)" } @else { (a.contact.name.as_deref().unwrap_or("")) } } }
                    td { (a.contact.company.as_deref().unwrap_or("")) }
                    td { (a.contact.email.as_deref().unwrap_or("")) }
                    td { (event.display_time(a.created_at)) }
                } } }
            } }))
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
    retention_days: String,
    time_zone: String,
    privacy_notice_url: String,
    organiser_contact: String,
    registration_closes_at: String,
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
                "retention_days" => f.retention_days = value,
                "time_zone" => f.time_zone = value,
                "privacy_notice_url" => f.privacy_notice_url = value,
                "organiser_contact" => f.organiser_contact = value,
                "registration_closes_at" => f.registration_closes_at = value,
                "csrf" => f.csrf = value,
                _ => {}
            }
        }
        Ok(f)
    }

    fn of(e: &events::EventRow) -> EventForm {
        EventForm {
            name: e.name.clone(),
            starts_at: e.local_input(e.starts_at),
            ends_at: e.local_input(e.ends_at),
            venue: e.venue.clone().unwrap_or_default(),
            slug: e.slug.clone(),
            privacy_notice_version: e.privacy_notice_version.clone(),
            released_fields: e.released_fields(),
            scan_grace_hours: e.scan_grace_hours.to_string(),
            retention_days: e.retention_days.to_string(),
            time_zone: e.time_zone.clone(),
            privacy_notice_url: e.privacy_notice_url.clone().unwrap_or_default(),
            organiser_contact: e.organiser_contact.clone().unwrap_or_default(),
            registration_closes_at: e.registration_closes_at.map(|ms| e.local_input(ms)).unwrap_or_default(),
            csrf: String::new(),
        }
    }

    /// The zone the form's times are typed in: the one it names, or UTC.
    fn zone(&self) -> &str {
        let zone = self.time_zone.trim();
        if zone.is_empty() { "UTC" } else { zone }
    }

    /// A typed wall-clock time as the RFC 3339 instant the core reads. With a zone the
    /// core will refuse anyway, read as UTC so that only the zone is marked; a value that
    /// is no date goes through for the core to refuse beside its field.
    fn instant(&self, input: &str) -> String {
        events::local_to_rfc3339(self.zone(), input)
            .or_else(|| events::local_to_rfc3339("UTC", input))
            .unwrap_or_else(|| input.trim().to_string())
    }

    /// The registration close date, when one is typed (empty: the event's end on create,
    /// unchanged on edit).
    fn closes_at(&self) -> Option<String> {
        Some(self.registration_closes_at.trim()).filter(|v| !v.is_empty()).map(|v| self.instant(v))
    }

    fn grace(&self, errors: &mut Vec<FieldError>) -> Option<i64> {
        let v = self.scan_grace_hours.trim();
        if v.is_empty() {
            return None;
        }
        v.parse().map_err(|_| errors.push(FieldError::new("scan_grace_hours", "must be a whole number of hours"))).ok()
    }

    fn retention(&self, errors: &mut Vec<FieldError>) -> Option<i64> {
        let v = self.retention_days.trim();
        if v.is_empty() {
            return None;
        }
        v.parse().map_err(|_| errors.push(FieldError::new("retention_days", "must be a whole number of days"))).ok()
    }
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
        "retention_days" => "Days after the end until partners' notes and the ledger's detail are purged",
        "time_zone" => "Time zone",
        "privacy_notice_url" => "Privacy notice address",
        "organiser_contact" => "Organiser contact",
        "registration_closes_at" => "Registration closes",
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
        "retention_days",
        "time_zone",
        "privacy_notice_url",
        "organiser_contact",
        "registration_closes_at",
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
            (text("time_zone", "text", &f.time_zone, Some("(IANA name such as Europe/Madrid; UTC when empty; the times below are in this zone)")))
            @if !editing {
                (text("name", "text", &f.name, None))
                (text("starts_at", "datetime-local", &f.starts_at, Some("(in the event's time zone)")))
                (text("ends_at", "datetime-local", &f.ends_at, Some("(in the event's time zone)")))
                (text("venue", "text", &f.venue, Some("(optional)")))
                (text("slug", "text", &f.slug, Some("(optional: lower-case letters, digits and hyphens; made from the name when empty)")))
            }
            (text("registration_closes_at", "datetime-local", &f.registration_closes_at,
                Some(if editing { "(empty: unchanged; the event's end unless set)" } else { "(optional: the event's end when empty)" })))
            (text("privacy_notice_version", "text", &f.privacy_notice_version, Some("(optional when creating: 1)")))
            (text("privacy_notice_url", "url", &f.privacy_notice_url, Some("(https://…; shown on the registration form; empty removes it)")))
            (text("organiser_contact", "text", &f.organiser_contact, Some("(who participants contact about their data, e.g. a name and an e-mail; empty removes it)")))
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
            (text("retention_days", "number", &f.retention_days, Some("(1–3650, default 180; also the date partners must delete their exports by)")))
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
    let retention = form.retention(&mut errors);
    let input = events::CreateEvent {
        name: form.name.clone(),
        starts_at: form.instant(&form.starts_at),
        ends_at: form.instant(&form.ends_at),
        venue: Some(form.venue.clone()).filter(|v| !v.trim().is_empty()),
        slug: Some(form.slug.trim().to_string()).filter(|v| !v.is_empty()),
        privacy_notice_version: Some(form.privacy_notice_version.clone()).filter(|v| !v.trim().is_empty()),
        released_fields: Some(form.released_fields.clone()),
        scan_grace_hours: grace,
        time_zone: Some(form.zone().to_string()),
        privacy_notice_url: Some(form.privacy_notice_url.clone()),
        organiser_contact: Some(form.organiser_contact.clone()),
        registration_closes_at: form.closes_at(),
        retention_days: retention,
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
        (event_links(&event_id, "", s.caller.role))
        p { "Runs " (event.display_time(event.starts_at)) " – " (event.display_time(event.ends_at))
            " (dates are set when the event is created)." }
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
    let retention = form.retention(&mut errors);
    let input = events::UpdateEvent {
        released_fields: Some(form.released_fields.clone()),
        privacy_notice_version: Some(form.privacy_notice_version.clone()),
        scan_grace_hours: grace,
        time_zone: Some(form.zone().to_string()),
        privacy_notice_url: Some(form.privacy_notice_url.clone()),
        organiser_contact: Some(form.organiser_contact.clone()),
        registration_closes_at: form.closes_at(),
        retention_days: retention,
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

text_enum! {
    /// The badge stock the print page lays out for: A6 (105 × 148 mm), 4 × 3 in, and the
    /// 3.5 × 2.25 in card of most badge printers.
    pub enum BadgeSize {
        A6 = "a6",
        FourByThree = "4x3",
        Cr80 = "cr80",
    }
}

/// One badge size's geometry, in CSS lengths.
struct Stock {
    label: &'static str,
    /// The printed page with cut marks: the badge plus an 8 mm margin on each side. On the
    /// stock itself the page is the badge.
    page: (&'static str, &'static str),
    badge: (&'static str, &'static str),
    qr: &'static str,
    /// The badge's base font size; every text size is in `em` of it.
    font: &'static str,
    /// Text beside the QR code (landscape cards) rather than above it.
    landscape: bool,
}

impl BadgeSize {
    const ALL: [BadgeSize; 3] = [BadgeSize::A6, BadgeSize::FourByThree, BadgeSize::Cr80];

    fn stock(self) -> Stock {
        match self {
            BadgeSize::A6 => Stock {
                label: "A6 (105 × 148 mm)",
                page: ("121mm", "164mm"),
                badge: ("105mm", "148mm"),
                qr: "58mm",
                font: "12pt",
                landscape: false,
            },
            BadgeSize::FourByThree => Stock {
                label: "4 × 3 in",
                page: ("117.6mm", "92.2mm"),
                badge: ("4in", "3in"),
                qr: "1.45in",
                font: "9pt",
                landscape: true,
            },
            BadgeSize::Cr80 => Stock {
                label: "3.5 × 2.25 in (card)",
                page: ("104.9mm", "73.15mm"),
                badge: ("3.5in", "2.25in"),
                qr: "1.2in",
                font: "6.5pt",
                landscape: true,
            },
        }
    }

    /// The print page's style sheet for this size: `@page` is the stock itself (badge
    /// stock in the printer's tray), or with `marks` the badge and a cut-mark margin
    /// (plain paper, cut afterwards); every badge box has the stock's exact size (its
    /// content clipped, never stretching it), and the code stays on one line.
    fn style(self, marks: bool) -> String {
        let s = self.stock();
        let (bw, bh) = s.badge;
        let ((pw, ph), inset) = if marks { (s.page, "8mm") } else { (s.badge, "0mm") };
        let (qr, font) = (s.qr, s.font);
        let layout = if s.landscape {
            "grid-template-columns:1fr auto;grid-template-rows:auto 1fr auto auto;\
             grid-template-areas:'event event' 'name qr' 'company qr' 'code code'"
        } else {
            "grid-template-columns:1fr;grid-template-rows:auto 1fr auto auto auto;\
             grid-template-areas:'event' 'name' 'company' 'qr' 'code'"
        };
        format!(
            "@page{{size:{pw} {ph};margin:0}}*{{box-sizing:border-box}}\
             body{{margin:0;font-family:system-ui,sans-serif;color:#000;background:#eee}}\
             .screen{{padding:1rem;background:#fff;font-size:1rem;line-height:1.4;max-width:100%}}\
             .screen h1{{font-size:1.3rem;margin:0 0 .5rem}}.screen p{{margin:.3rem 0}}\
             .screen a{{color:#0b57d0}}.screen nav{{display:flex;flex-wrap:wrap;gap:.3rem 1rem}}\
             .screen a[aria-current=page]{{font-weight:700;text-decoration:none}}\
             .sheet{{display:flex;flex-wrap:wrap;gap:4mm;padding:4mm;justify-content:center;overflow-x:auto}}\
             @media screen and (max-width:600px){{.page{{zoom:.75}}}}\
             .page{{position:relative;width:{pw};height:{ph};background:#fff;flex:none;break-after:page;overflow:hidden}}\
             .badge{{position:absolute;left:{inset};top:{inset};width:{bw};height:{bh};overflow:hidden;\
             display:grid;{layout};gap:1mm 3mm;padding:5mm;font-size:{font};text-align:center;align-items:center}}\
             .cut{{position:absolute;width:6mm;height:6mm;border:0 solid #000}}\
             .cut.tl{{left:2mm;top:2mm;border-right-width:.2mm;border-bottom-width:.2mm}}\
             .cut.tr{{right:2mm;top:2mm;border-left-width:.2mm;border-bottom-width:.2mm}}\
             .cut.bl{{left:2mm;bottom:2mm;border-right-width:.2mm;border-top-width:.2mm}}\
             .cut.br{{right:2mm;bottom:2mm;border-left-width:.2mm;border-top-width:.2mm}}\
             .event{{grid-area:event;font-size:1em;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;\
             border-bottom:.3mm solid #000;padding-bottom:1mm}}\
             .name{{grid-area:name;font-weight:700;line-height:1.1;overflow-wrap:anywhere;hyphens:auto;\
             max-height:100%;overflow:hidden;align-self:center}}\
             .name.n1{{font-size:2.6em}}.name.n2{{font-size:2em}}.name.n3{{font-size:1.5em}}.name.n4{{font-size:1.15em}}\
             .company{{grid-area:company;font-size:1.2em;overflow-wrap:anywhere;max-height:2.6em;overflow:hidden}}\
             .qr{{grid-area:qr;justify-self:center;width:{qr};height:{qr}}}.qr svg{{width:{qr};height:{qr};display:block}}\
             .code{{grid-area:code;font-family:monospace;font-size:.95em;white-space:nowrap;letter-spacing:.02em}}\
             @media print{{body{{background:#fff}}.screen{{display:none}}.sheet{{display:block;padding:0}}}}"
        )
    }
}

/// The name's size class: a longer name gets a smaller type so it wraps within its box
/// (the box itself never grows).
fn name_class(name: &str) -> &'static str {
    match name.chars().count() {
        0..=14 => "name n1",
        15..=26 => "name n2",
        27..=48 => "name n3",
        _ => "name n4",
    }
}

#[derive(serde::Deserialize)]
pub struct PrintQuery {
    size: Option<String>,
    page: Option<i64>,
    /// `1`: on plain paper, each badge with a margin and cut marks to cut it out.
    marks: Option<String>,
    /// One participant's badge only (printed again after a reissue).
    attendee_id: Option<String>,
}

/// `GET /console/events/{event_id}/badges/print?size=a6|4x3|cr80&page=&marks=1&attendee_id=`:
/// print-ready badges, one per printed page: the stock's size (badge stock in the
/// printer), or with `marks=1` the badge with cut marks around it (plain paper); with
/// `attendee_id`, that participant's current badge only (404 if none). The same
/// core read as the API's badge sheet (`badging::sheet`), so each badge is ledgered
/// (channel `staff`) exactly as there.
pub async fn print_badges(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<String>,
    query: web::Query<PrintQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let PrintQuery { size, page, marks, attendee_id } = query.into_inner();
    let only = attendee_id.filter(|a| !a.is_empty());
    let marks = match marks.as_deref() {
        None | Some("" | "0") => false,
        Some("1") => true,
        Some(_) => return Err(AppError::field("marks", "must be 1 (cut marks) or 0")),
    };
    let size: BadgeSize = match size.as_deref() {
        None | Some("") => BadgeSize::A6,
        Some(v) => v.parse().map_err(|_| AppError::field("size", "must be a6, 4x3 or cr80"))?,
    };
    let page = page.unwrap_or(1);
    let (staff, id) = (s.caller.user_id.clone(), event_id.clone());
    let one = only.clone();
    let (event, rows) =
        db.write(move |conn| crate::attendees::badging::sheet(conn, &staff, &id, page, one.as_deref())).await?;
    let mut badges = Vec::with_capacity(rows.len());
    for a in rows {
        let badge_id = a.badge_id.as_deref().ok_or_else(|| AppError::internal("badge read without a badge"))?;
        let code = badge_key.code_for(badge_id)?;
        let svg = crate::badges::render_svg(&code.payload())?;
        let svg = svg.trim_start_matches("<?xml version=\"1.0\" standalone=\"yes\"?>").to_string();
        badges.push((a.contact.name.unwrap_or_default(), a.contact.company.unwrap_or_default(), svg, code.fallback()));
    }
    // One participant asked for, and no current badge of theirs in this event: say so.
    if only.is_some() && badges.is_empty() {
        return Err(AppError::NotFound);
    }
    let style = size.style(marks);
    let stock = size.stock();
    let link_marked = |sz: BadgeSize, p: i64, m: bool| {
        let m = if m { "&marks=1" } else { "" };
        let one = only
            .as_deref()
            .map(|a| format!("&attendee_id={}", form_urlencoded::byte_serialize(a.as_bytes()).collect::<String>()))
            .unwrap_or_default();
        format!("/console/events/{event_id}/badges/print?size={}&page={p}{m}{one}", sz.as_str())
    };
    let link = |sz: BadgeSize, p: i64| link_marked(sz, p, marks);
    let full = i64::try_from(badges.len()).is_ok_and(|n| n == crate::attendees::badging::SHEET_PAGE);
    let doc = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Badges — " (event.name) " — " (stock.label) }
                style { (maud::PreEscaped(&style)) }
            }
            body {
                header.screen {
                    h1 { "Badges — " (event.name) }
                    nav aria-label="Badge size" {
                        @for sz in BadgeSize::ALL {
                            a href=(link(sz, page)) aria-current=[(sz == size).then_some("page")] { (sz.stock().label) }
                        }
                    }
                    nav aria-label="Paper" {
                        a href=(link_marked(size, page, false)) aria-current=[(!marks).then_some("page")] { "On badge stock" }
                        a href=(link_marked(size, page, true)) aria-current=[marks.then_some("page")] { "On plain paper, with cut marks" }
                    }
                    p { (badges.len()) " badge" @if badges.len() != 1 { "s" } " on this page, one per printed page "
                        @if marks { "(" (stock.label) " and a margin with cut marks: cut along them)" }
                        @else { "of " (stock.label) " stock: load it in the printer's tray" }
                        ". Print at 100 % (no scaling), margins none." }
                    p {
                        @if page > 1 { a href=(link(size, page - 1)) { "Previous badges" } " · " }
                        @if full { a href=(link(size, page + 1)) { "Next badges" } " · " }
                        a href={ "/console/events/" (event_id) } { "Back to the console" }
                    }
                }
                main.sheet {
                    @for (name, company, svg, code) in &badges {
                        div.page {
                            @if marks { span.cut.tl {} span.cut.tr {} span.cut.bl {} span.cut.br {} }
                            div.badge {
                                div.event { (event.name) }
                                div class=(name_class(name)) { (name) }
                                div.company { (company) }
                                div.qr role="img" aria-label="Badge QR code" { (maud::PreEscaped(svg)) }
                                div.code { (code) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Content-Security-Policy", crate::web::policy_for_style(&style)))
        .body(doc.into_string()))
}

/// What the import form sends: the file's text, the confirmation choice, and whether
/// staff ask for the preview or confirm the import.
#[derive(Default)]
struct ImportForm {
    csv: String,
    send_confirmation: bool,
    confirm: bool,
    csrf: String,
    /// The text came from a chosen file: a page shown again does not echo it into the text
    /// box too (a 100,000-row file would make the page twice its size).
    from_file: bool,
    /// Text was pasted as well as a file chosen: the file was used, and the page says so.
    also_pasted: bool,
    /// The chosen file could not be read as text: said on the import page, which keeps
    /// the rest of the form as sent.
    file_error: Option<FieldError>,
}

impl ImportForm {
    /// Reads the form as the browser sent it: `multipart/form-data` from the form with its
    /// file chooser, urlencoded from the preview's "Import" button (the text travels in a
    /// hidden field). A chosen file takes the place of pasted text.
    async fn read(req: &actix_web::HttpRequest, payload: web::Payload) -> Result<ImportForm, AppError> {
        use futures_util::StreamExt as _;
        let limit = crate::attendees::import::IMPORT_BODY_LIMIT;
        let body = crate::http::json::read_body(req, &mut payload.into_inner(), limit).await?;
        let multipart = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
        if !multipart {
            return ImportForm::parse(&body).map_err(AppError::Validation);
        }
        let unreadable =
            |e: actix_multipart::MultipartError| AppError::BadRequest(format!("the form could not be read: {e}"));
        let whole = futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body.freeze()) });
        let mut parts = actix_multipart::Multipart::new(req.headers(), whole);
        let (mut f, mut file) = (ImportForm::default(), None);
        while let Some(part) = parts.next().await {
            let mut part = part.map_err(unreadable)?;
            let name = part.name().unwrap_or_default().to_string();
            let mut value = Vec::new();
            while let Some(chunk) = part.next().await {
                value.extend_from_slice(&chunk.map_err(unreadable)?);
            }
            if name == "file" {
                if !value.is_empty() {
                    file = Some(value);
                }
                continue;
            }
            let text = String::from_utf8(value).map_err(|_| AppError::field(name.clone(), "is not UTF-8 text"))?;
            // The edge's checks of a urlencoded form (`http::input::decode_form`), here.
            crate::text::check_text(&name, &text, crate::text::TextKind::of_field(&name))
                .map_err(|e| AppError::Validation(vec![e]))?;
            f.take(&name, text);
        }
        if let Some(bytes) = file {
            f.also_pasted = !f.csv.trim().is_empty();
            f.from_file = true;
            match String::from_utf8(bytes) {
                Ok(text) => match crate::text::check_text("file", &text, crate::text::TextKind::MultiLine) {
                    Ok(()) => f.csv = text,
                    Err(e) => f.file_error = Some(e),
                },
                Err(_) => {
                    f.file_error = Some(FieldError::new(
                        "file",
                        "is not UTF-8 text: save the spreadsheet as \"CSV UTF-8\" and choose it again",
                    ))
                }
            }
        }
        Ok(f)
    }

    fn take(&mut self, key: &str, value: String) {
        match key {
            "csv" => self.csv = value,
            "send_confirmation" => self.send_confirmation = value == "true",
            "step" => self.confirm = value == "import",
            "csrf" => self.csrf = value,
            _ => {}
        }
    }

    fn parse(body: &[u8]) -> Result<ImportForm, Vec<FieldError>> {
        let mut f = ImportForm::default();
        for (key, value) in crate::http::input::decode_form(body)? {
            f.take(&key, value);
        }
        Ok(f)
    }
}

/// Rows of the preview table shown in full; the rest are counted.
const PREVIEW_ROWS: usize = 100;

const IMPORT_HELP: &str = "Header line: name, email, is_adult, and optionally company, phone, address, \
share_with_all_partners, share_with_partners (partner ids), marketing_emails, in any order and case. \
Fields separated by , or ; as your spreadsheet saves them; yes/no columns take true/false, yes/no or 1/0 \
in any case. Choose the file saved as CSV (UTF-8), or paste its contents below.";

fn import_form(event_id: &str, partners: &[crate::partners::PartnerRow], f: &ImportForm, csrf: &str) -> Markup {
    html! {
        // The file names partners by id (as the API's import does); this is where staff
        // find them.
        @if !partners.is_empty() {
            details {
                summary { "Partner ids for the share_with_partners column" }
                p.hint { "Several partners in one cell: separate their ids with a comma or a semicolon (in a file separated by the same character, quote the cell)." }
                (layout::table_wrap(html! { table {
                    thead { tr { th scope="col" { "Partner" } th scope="col" { "Id" } } }
                    tbody { @for p in partners { tr { td { (p.name) } td { code { (p.id) } } } } }
                } }))
            }
        }
        form method="post" action={ "/console/events/" (event_id) "/attendees/import" } enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="step" value="preview";
            p.hint id="csv-hint" { (IMPORT_HELP) }
            label for="file" { "CSV file" }
            input type="file" id="file" name="file" accept=".csv,text/csv,text/plain" aria-describedby="csv-hint";
            label for="csv" { "Or paste its contents" }
            textarea id="csv" name="csv" rows="10" aria-describedby="csv-hint" spellcheck="false" {
                @if !f.from_file { (f.csv) }
            }
            label.check {
                input type="checkbox" name="send_confirmation" value="true" checked[f.send_confirmation];
                "Send each participant the registration confirmation (badge and privacy link)"
            }
            button type="submit" { "Preview the import" }
        }
    }
}

/// `GET /console/events/{event_id}/attendees/import`: paste a CSV file, then preview it.
pub async fn import_page(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let id = event_id.clone();
    let (event, partners) =
        db.read(move |conn| Ok((events::find(conn, &id)?, crate::partners::list_for_event(conn, &id)?))).await?;
    let form = ImportForm { send_confirmation: true, ..Default::default() };
    let content = html! {
        h1 { "Import participants — " (event.name) }
        (event_links(&event_id, "Import", s.caller.role))
        (import_form(&event_id, &partners, &form, &s.csrf))
    };
    Ok(console_page(&s, &format!("Import — {}", event.name), "", content))
}

/// A row error's place: "row 3, email" from the core's `rows[3].email`.
fn row_place(field: &str) -> (String, String) {
    match field.strip_prefix("rows[").and_then(|rest| rest.split_once(']')) {
        Some((row, rest)) => (format!("row {row}"), rest.trim_start_matches('.').to_string()),
        None => (field.to_string(), String::new()),
    }
}

/// `POST /console/events/{event_id}/attendees/import`: `step=preview` runs every check of
/// the API's import (`import::preview`) and shows the rows or their errors, storing
/// nothing; `step=import` is the API's import itself (`import::import`), all or nothing.
pub async fn import_submit(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public_url: web::Data<crate::config::PublicUrl>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    use crate::attendees::import;
    let event_id = path.into_inner();
    let read = ImportForm::read(&req, payload).await;
    let id = event_id.clone();
    let (event, partners) =
        db.read(move |conn| Ok((events::find(conn, &id)?, crate::partners::list_for_event(conn, &id)?))).await?;
    let form = read?;
    s.check_csrf(&form.csrf)?;
    // A file that is not text, or nothing at all: said on the import page, with the form
    // (and the confirmation choice as sent) to try again. Nothing was read, so nothing is done.
    let unreadable =
        form.file_error.as_ref().map(|e| format!("Nothing can be imported: the {} {}.", e.field, e.message));
    if unreadable.is_some() || form.csv.trim().is_empty() {
        let why = unreadable.unwrap_or_else(|| "Nothing to import: choose a CSV file, or paste its contents.".into());
        let content = html! {
            h1 { "Import participants — " (event.name) }
            (event_links(&event_id, "Import", s.caller.role))
            p.alert role="alert" { (why) }
            (import_form(&event_id, &partners, &ImportForm { send_confirmation: form.send_confirmation, ..Default::default() }, &s.csrf))
        };
        let mut res = console_page(&s, &format!("Import — {}", event.name), "", content);
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    }
    let csv = bytes::Bytes::from(form.csv.clone().into_bytes());
    if form.confirm {
        let (id, file) = (event_id.clone(), csv.clone());
        let send = form.send_confirmation;
        let outcome = db.blocking(move |db| import::import(db, &badge_key, &public_url, &id, &file, send)).await?;
        if let Ok(count) = outcome {
            tracing::info!(imported = count, by = %s.caller.user_id, "attendees imported from the console");
            return Ok(see_other(&format!("/console/events/{event_id}/attendees?imported={count}")));
        }
    }
    // A refused import shows the same checks' errors as the preview.
    let id = event_id.clone();
    let checked = db.read(move |conn| import::preview(conn, &id, &csv)).await?;
    let title = format!("Import preview — {}", event.name);
    let (status, content) = match checked {
        Ok(rows) => {
            let content = html! {
                h1 { "Import preview — " (event.name) }
                (event_links(&event_id, "Import", s.caller.role))
                p.notice role="status" { (rows.len()) " participant" @if rows.len() != 1 { "s" }
                    " ready to import; nothing is stored until you confirm." }
                @if form.also_pasted { p { "This is the chosen file; the pasted text was not used." } }
                (layout::table_wrap(html! { table {
                    thead { tr { th { "#" } th { "Name" } th { "E-mail" } th { "Company" } th { "Phone" }
                        th { "Shares with" } th { "Marketing" } } }
                    tbody { @for (i, r) in rows.iter().take(PREVIEW_ROWS).enumerate() { tr {
                        td { (i + 1) }
                        td { (r.contact.name) }
                        td { (r.contact.email) }
                        td { (r.contact.company.as_deref().unwrap_or("")) }
                        td { (r.contact.phone.as_deref().unwrap_or("")) }
                        td {
                            @if r.share_with_all_partners { "all partners" }
                            @else if r.share_with_partners.is_empty() { "nobody" }
                            @else {
                                @for (i, id) in r.share_with_partners.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (partners.iter().find(|p| &p.id == id).map_or(id.as_str(), |p| p.name.as_str()))
                                }
                            }
                        }
                        td { @if r.marketing_emails { "yes" } @else { "no" } }
                    } } }
                } }))
                @if rows.len() > PREVIEW_ROWS { p { "… and " (rows.len() - PREVIEW_ROWS) " more rows." } }
                // Multipart like the file form: urlencoded, the text would grow up to three
                // times (each `;`, `@` and line break) and could pass the preview yet
                // exceed the body limit here.
                form method="post" action={ "/console/events/" (event_id) "/attendees/import" } enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    input type="hidden" name="step" value="import";
                    input type="hidden" name="csv" value=(form.csv);
                    @if form.send_confirmation { input type="hidden" name="send_confirmation" value="true"; }
                    p { @if form.send_confirmation { "Each participant will be sent the registration confirmation." }
                        @else { "No confirmation will be sent." } }
                    button type="submit" { "Import " (rows.len()) " participant" @if rows.len() != 1 { "s" } }
                }
                h2 { "Change the file" }
                (import_form(&event_id, &partners, &form, &s.csrf))
            };
            (StatusCode::OK, content)
        }
        Err(refused) => {
            let content = html! {
                h1 { "Import preview — " (event.name) }
                (event_links(&event_id, "Import", s.caller.role))
                p.alert role="alert" { "Nothing can be imported: the file has " (refused.errors.len())
                    @if refused.stopped_early { " or more" } " error" @if refused.errors.len() != 1 { "s" }
                    ". Correct them and preview again." }
                (layout::table_wrap(html! { table {
                    thead { tr { th { "Where" } th { "Column" } th { "Problem" } } }
                    tbody { @for e in &refused.errors {
                        @let (place, column) = row_place(&e.field);
                        tr { td { (place) } td { (column) } td { (e.message) } }
                    } }
                } }))
                (import_form(&event_id, &partners, &form, &s.csrf))
            };
            (StatusCode::UNPROCESSABLE_ENTITY, content)
        }
    };
    let mut res = console_page(&s, &title, "", content);
    *res.status_mut() = status;
    Ok(res)
}

text_enum! {
    /// What an attendee action did, said on the page it redirects to.
    pub enum Done {
        Registered = "registered",
        Reissued = "reissued",
        LinkSent = "link-sent",
        LinkThrottled = "link-throttled",
        Erased = "erased",
        Under18 = "under-18",
        Corrected = "corrected",
        Unchanged = "unchanged",
    }
}

impl Done {
    /// Nothing was done: said as an alert, not as a confirmation.
    fn refused(self) -> bool {
        matches!(self, Done::LinkThrottled)
    }

    fn message(self) -> &'static str {
        match self {
            Done::Registered => {
                "Registered. The participant was sent the confirmation with the badge and privacy link."
            }
            Done::Reissued => {
                "A new badge was issued; the old one no longer scans, nor does the one in the participant's mail. \
                 Print it, or send it with \"E-mail a new privacy link\" below."
            }
            Done::LinkSent => "A new privacy link was e-mailed to the participant; the old link no longer works.",
            Done::LinkThrottled => {
                "Not sent: this address was sent its badge and link three times in the last hour. Try again later."
            }
            Done::Erased => "Erased: personal fields overwritten, badge and links revoked, partners told.",
            Done::Under18 => "Flagged as under 18 and erased at once.",
            Done::Corrected => "Corrected, and recorded as a completed correction request.",
            Done::Unchanged => "Nothing changed: the values given were the ones already stored.",
        }
    }
}

/// The registration form as typed.
#[derive(Default)]
struct AttendeeForm {
    name: String,
    email: String,
    company: String,
    phone: String,
    address: String,
    is_adult: bool,
    share_with_all_partners: bool,
    share_with_partners: Vec<String>,
    marketing_emails: bool,
    csrf: String,
}

impl AttendeeForm {
    fn parse(body: &[u8]) -> Result<AttendeeForm, Vec<FieldError>> {
        let mut f = AttendeeForm::default();
        for (key, value) in crate::http::input::decode_form(body)? {
            match key.as_str() {
                "name" => f.name = value,
                "email" => f.email = value,
                "company" => f.company = value,
                "phone" => f.phone = value,
                "address" => f.address = value,
                "is_adult" => f.is_adult = value == "true",
                "share_with_all_partners" => f.share_with_all_partners = value == "true",
                "share_with_partners" => f.share_with_partners.push(value),
                "marketing_emails" => f.marketing_emails = value == "true",
                "csrf" => f.csrf = value,
                _ => {}
            }
        }
        Ok(f)
    }

    /// As the API's `RegisterAttendee` becomes a registration: empty optional fields absent.
    fn input(&self) -> crate::attendees::RegistrationInput {
        let opt = |v: &str| Some(v.to_string()).filter(|v| !v.trim().is_empty());
        crate::attendees::RegistrationInput {
            contact: crate::contact::Contact {
                name: Some(self.name.clone()),
                email: Some(self.email.clone()),
                company: opt(&self.company),
                phone: opt(&self.phone),
                address: opt(&self.address),
            },
            is_adult: Some(self.is_adult),
            share_with_all_partners: self.share_with_all_partners,
            share_with_partners: self.share_with_partners.clone(),
            marketing_emails: self.marketing_emails,
        }
    }
}

fn attendee_label(field: &str) -> &'static str {
    match field {
        "name" => "Name",
        "email" => "E-mail",
        "company" => "Company",
        "phone" => "Phone",
        "address" => "Address",
        "is_adult" => "18 or older",
        "share_with_partners" => "Partners",
        _ => "Form",
    }
}

fn attendee_form(
    event_id: &str,
    partners: &[crate::partners::PartnerRow],
    f: &AttendeeForm,
    errors: &[FieldError],
    csrf: &str,
) -> Markup {
    let error_of = |field: &str| -> Option<String> {
        errors
            .iter()
            .find(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
            .map(|e| format!("{} {}", attendee_label(field), e.message))
    };
    let known = ["name", "email", "company", "phone", "address", "is_adult", "share_with_partners"];
    let other: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !known.iter().any(|k| e.field == *k || e.field.starts_with(&format!("{k}["))))
        .collect();
    let text = |name: &'static str, kind: &'static str, value: &str, hint: Option<&'static str>| {
        let err = error_of(name);
        html! {
            label for=(name) { (attendee_label(name)) @if let Some(h) = hint { " " span.hint { (h) } } }
            input type=(kind) id=(name) name=(name) value=(value)
                aria-invalid=[err.as_ref().map(|_| "true")]
                aria-describedby=[err.as_ref().map(|_| format!("{name}-error"))];
            @if let Some(e) = &err { div.error id={ (name) "-error" } { (e) } }
        }
    };
    let adult_error = error_of("is_adult");
    html! {
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        @for e in &other { p.error { (e.message) } }
        form method="post" action={ "/console/events/" (event_id) "/attendees/new" } novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (text("name", "text", &f.name, None))
            (text("email", "email", &f.email, None))
            (text("company", "text", &f.company, Some("(optional)")))
            (text("phone", "tel", &f.phone, Some("(optional)")))
            (text("address", "text", &f.address, Some("(optional)")))
            label.check {
                input type="checkbox" name="is_adult" value="true" checked[f.is_adult]
                    aria-invalid=[adult_error.as_ref().map(|_| "true")]
                    aria-describedby=[adult_error.as_ref().map(|_| "is_adult-error")];
                "The participant confirmed they are 18 or older"
            }
            @if let Some(e) = &adult_error { div.error id="is_adult-error" { (e) } }
            fieldset {
                legend { "Opt-ins the participant signed" }
                label.check {
                    input type="checkbox" name="share_with_all_partners" value="true" checked[f.share_with_all_partners];
                    "Share with all partners of the event"
                }
                @for p in partners {
                    label.check {
                        input type="checkbox" name="share_with_partners" value=(p.id)
                            checked[f.share_with_partners.contains(&p.id)];
                        "Share with " (p.name)
                    }
                }
                @if let Some(e) = error_of("share_with_partners") { div.error { (e) } }
                label.check {
                    input type="checkbox" name="marketing_emails" value="true" checked[f.marketing_emails];
                    "Marketing e-mails from the organiser"
                }
            }
            button type="submit" { "Register" }
        }
    }
}

/// `GET /console/events/{event_id}/attendees/new` (admin or registrar, as
/// `POST /api/v1/events/{event_id}/attendees`).
pub async fn new_attendee(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let id = event_id.clone();
    let (event, partners) =
        db.read(move |conn| Ok((events::find(conn, &id)?, crate::partners::list_for_event(conn, &id)?))).await?;
    let content = html! {
        h1 { "Register a participant — " (event.name) }
        (event_links(&event_id, "Attendees", s.caller.role))
        (attendee_form(&event_id, &partners, &AttendeeForm::default(), &[], &s.csrf))
    };
    Ok(console_page(&s, &format!("Register — {}", event.name), "", content))
}

/// `POST /console/events/{event_id}/attendees/new`: the API's registration, with
/// the staff source on its opt-ins; errors beside their fields, what was typed kept.
pub async fn register_attendee(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public_url: web::Data<crate::config::PublicUrl>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let event_id = path.into_inner();
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 64 * 1024).await?;
    let form = AttendeeForm::parse(&body).map_err(AppError::Validation)?;
    s.check_csrf(&form.csrf)?;
    let (id, input) = (event_id.clone(), form.input());
    let ready = db
        .read(move |conn| {
            crate::attendees::ready_registration(
                conn,
                &badge_key,
                &public_url,
                &id,
                input,
                crate::consent::Source::StaffApi,
            )
        })
        .await;
    let outcome = match ready {
        Ok(ready) => db.write(move |conn| crate::attendees::store_registration(conn, ready)).await,
        Err(e) => Err(e),
    };
    let (status, errors) = match outcome {
        Ok(done) => {
            return Ok(see_other(&format!(
                "/console/events/{event_id}/attendees/{}?done={}",
                done.attendee_id,
                Done::Registered.as_str()
            )));
        }
        Err(AppError::Validation(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Err(AppError::Conflict(message)) => (StatusCode::CONFLICT, vec![FieldError::new("email", message)]),
        Err(other) => return Err(other.into()),
    };
    let id = event_id.clone();
    let (event, partners) =
        db.read(move |conn| Ok((events::find(conn, &id)?, crate::partners::list_for_event(conn, &id)?))).await?;
    let content = html! {
        h1 { "Register a participant — " (event.name) }
        (event_links(&event_id, "Attendees", s.caller.role))
        (attendee_form(&event_id, &partners, &form, &errors, &s.csrf))
    };
    let mut res = console_page(&s, &format!("Register — {}", event.name), "", content);
    *res.status_mut() = status;
    Ok(res)
}

#[derive(serde::Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

/// `GET /console/events/{event_id}/attendees/{attendee_id}`: the API's `staff_detail`
/// (ledgered, channel `staff`), with the actions staff may take on this participant.
pub async fn attendee_detail(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<(String, String)>,
    query: web::Query<DetailQuery>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    // An unknown `done` says nothing rather than failing the page.
    let done: Option<Done> = query.into_inner().done.and_then(|d| d.parse().ok());
    let (staff, id, aid) = (s.caller.user_id.clone(), event_id.clone(), attendee_id.clone());
    let (event, partners, d) = db
        .write(move |conn| {
            let event = events::find(conn, &id)?;
            let partners = crate::partners::list_for_event(conn, &id)?;
            let d = crate::attendees::staff::staff_detail(conn, &staff, &id, &aid)?;
            Ok((event, partners, d))
        })
        .await?;
    let code = match &d.badge_id {
        Some(b) => Some(badge_key.code_for(b)?.fallback()),
        None => None,
    };
    let partner_name = |id: &Option<String>| match id {
        None => "all partners".to_string(),
        Some(id) => partners.iter().find(|p| &p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| id.clone()),
    };
    let r = &d.record;
    let name = if r.erased { "(erased)".to_string() } else { r.contact.name.clone().unwrap_or_default() };
    let admin = AdminOnly::allows(s.caller.role);
    let base = format!("/console/events/{event_id}/attendees/{attendee_id}");
    let content = html! {
        h1 { (name) }
        (event_links(&event_id, "Attendees", s.caller.role))
        @if let Some(done) = done {
            @if done.refused() { p.alert role="alert" { (done.message()) } }
            @else { p.notice role="status" { (done.message())
                @if done == Done::Reissued {
                    " " a href={ "/console/events/" (event_id) "/badges/print?attendee_id=" (r.attendee_id) } { "Print this badge" }
                } } }
        }
        (layout::table_wrap(html! { table {
            tbody {
                tr { th scope="row" { "E-mail" } td { (r.contact.email.as_deref().unwrap_or("")) } }
                tr { th scope="row" { "Company" } td { (r.contact.company.as_deref().unwrap_or("")) } }
                tr { th scope="row" { "Phone" } td { (r.contact.phone.as_deref().unwrap_or("")) } }
                tr { th scope="row" { "Address" } td { (r.contact.address.as_deref().unwrap_or("")) } }
                tr { th scope="row" { "Marketing e-mails" } td { @if r.marketing_emails { "yes" } @else { "no" } } }
                tr { th scope="row" { "Registered" } td { (event.display_time(r.created_at)) } }
                tr { th scope="row" { "Badge code" } td { @if let Some(c) = &code { code #badge-code { (c) } } @else { "none" } } }
            }
        } }))
        h2 { "Opt-ins" }
        @if d.opt_ins.is_empty() { p { "None." } }
        @else { ul { @for o in &d.opt_ins { li {
            "Share with " (partner_name(&o.partner_id)) ", " (event.display_time(o.granted_at)) " (" (o.source) ", notice " (o.notice_version) ")"
            @if o.confirmed_at.is_none() { " — awaiting the participant's confirmation" }
            @if o.ended_at.is_some() { " — ended" }
        } } } }
        h2 { "Withdrawals" }
        @if d.withdrawals.is_empty() { p { "None." } }
        @else { ul { @for w in &d.withdrawals { li {
            "From " (partner_name(&w.partner_id)) ", " (event.display_time(w.created_at)) " (" (w.source) ")"
        } } } }
        @if !r.erased {
            h2 { "Actions" }
            (danger_form(&base, &REISSUE, false, &s.csrf))
            form method="post" action={ (base) "/privacy-link" } {
                input type="hidden" name="csrf" value=(s.csrf);
                button type="submit" { "E-mail a new privacy link" }
            }
            (correction_form(&base, &CorrectionValues::of(r), &[], &s.csrf))
            @if admin {
                p { a href={ "/console/requests?event_id=" (event_id) "&attendee_id=" (r.attendee_id) "#file" } {
                    "Record a request from this participant" } " (access, correction, erasure or withdrawal, with its 30 days)" }
                (danger_form(&base, &UNDER_18, false, &s.csrf))
                (danger_form(&base, &ERASURE, false, &s.csrf))
            }
        }
    };
    Ok(console_page(&s, &name, "", content))
}

/// The correction form as shown or as typed.
#[derive(Default)]
struct CorrectionValues {
    channel: String,
    name: String,
    email: String,
    company: String,
    phone: String,
    address: String,
    csrf: String,
}

impl CorrectionValues {
    fn of(r: &crate::gate::StaffRecord) -> CorrectionValues {
        let c = &r.contact;
        CorrectionValues {
            channel: "email".into(),
            name: c.name.clone().unwrap_or_default(),
            email: c.email.clone().unwrap_or_default(),
            company: c.company.clone().unwrap_or_default(),
            phone: c.phone.clone().unwrap_or_default(),
            address: c.address.clone().unwrap_or_default(),
            csrf: String::new(),
        }
    }

    fn parse(body: &[u8]) -> Result<CorrectionValues, AppError> {
        let mut v = CorrectionValues::default();
        for (key, value) in crate::http::input::decode_form(body).map_err(AppError::Validation)? {
            match key.as_str() {
                "channel" => v.channel = value,
                "name" => v.name = value,
                "email" => v.email = value,
                "company" => v.company = value,
                "phone" => v.phone = value,
                "address" => v.address = value,
                "csrf" => v.csrf = value,
                _ => {}
            }
        }
        Ok(v)
    }
}

/// Staff correct a participant's data on their request (the API's
/// `PATCH /api/v1/events/{event_id}/attendees/{attendee_id}`).
fn correction_form(base: &str, v: &CorrectionValues, errors: &[FieldError], csrf: &str) -> Markup {
    let error_of = |field: &str| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
    let field = |name: &'static str, label: &'static str, kind: &'static str, auto: &'static str, value: &str| {
        let err = error_of(name);
        let id = format!("fix-{name}");
        html! {
            label for=(id) { (label) }
            input type=(kind) id=(id) name=(name) value=(value) autocomplete=(auto)
                aria-invalid=[err.as_ref().map(|_| "true")]
                aria-describedby=[err.as_ref().map(|_| format!("{id}-error"))];
            @if let Some(e) = &err { div.error id={ (id) "-error" } { (label) " " (e) } }
        }
    };
    let channels = [("email", "E-mail"), ("post", "Post"), ("phone", "Phone"), ("in_person", "In person")];
    html! {
        form method="post" action={ (base) "/correction" } {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { "Correct the data (on the participant's request)" }
                label for="fix-channel" { "The request came by" }
                select id="fix-channel" name="channel" {
                    @for (value, label) in channels {
                        option value=(value) selected[v.channel == value] { (label) }
                    }
                }
                (field("name", "Name", "text", "off", &v.name))
                (field("email", "E-mail", "email", "off", &v.email))
                (field("company", "Company", "text", "off", &v.company))
                (field("phone", "Phone", "tel", "off", &v.phone))
                label for="fix-address" { "Address" }
                textarea id="fix-address" name="address" rows="3"
                    aria-invalid=[error_of("address").map(|_| "true")]
                    aria-describedby=[error_of("address").map(|_| "fix-address-error")] { (v.address) }
                @if let Some(e) = error_of("address") { div.error id="fix-address-error" { "Address " (e) } }
                button type="submit" { "Save the correction" }
            }
        }
    }
}

/// `POST …/attendees/{attendee_id}/correction`: `rights::self_service::staff_correct`, as the
/// API's PATCH; errors come back beside their fields with what was typed.
pub async fn correct_attendee(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 16 * 1024).await?;
    let v = CorrectionValues::parse(&body)?;
    s.check_csrf(&v.csrf)?;
    let input = crate::rights::self_service::StaffCorrection {
        channel: v.channel.clone(),
        name: Some(v.name.clone()),
        email: Some(v.email.clone()),
        company: Some(v.company.clone()),
        phone: Some(v.phone.clone()),
        address: Some(v.address.clone()),
        marketing_emails: None,
    };
    let by = s.caller.user_id.clone();
    let (id, aid) = (event_id.clone(), attendee_id.clone());
    let outcome = db
        .write(move |conn| {
            let (channel, correction) = input.parts()?;
            crate::rights::self_service::staff_correct(conn, &id, &aid, channel, &by, &correction)
        })
        .await;
    let errors = match outcome {
        Ok(changed) => {
            let done = if changed { Done::Corrected } else { Done::Unchanged };
            return Ok(done_at(&event_id, &attendee_id, done));
        }
        Err(AppError::Validation(errors)) => errors,
        Err(AppError::Conflict(message)) => vec![FieldError::new("email", message)],
        Err(other) => return Err(other.into()),
    };
    let base = format!("/console/events/{event_id}/attendees/{attendee_id}");
    let content = html! {
        h1 { "Correct the data" }
        p.alert role="alert" { "Nothing was saved. Please correct the marked fields." }
        (correction_form(&base, &v, &errors, &s.csrf))
        p { a href=(base) { "Back to the participant" } }
    };
    let mut res = console_page(&s, "Correct the data", "", content);
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

/// An action on a participant that cannot be undone, asked for with a box to tick.
struct Danger {
    /// The path below the participant's page it posts to.
    action: &'static str,
    /// The checkbox's id is `confirm-{id}`.
    id: &'static str,
    /// The form's legend, and the heading of the page that asks again.
    legend: &'static str,
    button: &'static str,
    /// What ticking the box acknowledges.
    consequence: &'static str,
    /// Said when the box was not ticked: above the form, then beside the box.
    refused: &'static str,
    tick: &'static str,
}

const UNDER_18: Danger = Danger {
    action: "under-18",
    id: "under-18",
    legend: "Flag as under 18 (erases at once)",
    button: "Flag as under 18 (erases at once)",
    consequence: "I understand this cannot be undone",
    refused: "Nothing was erased: tick the box to confirm.",
    tick: "Tick this box to confirm; erasure cannot be undone.",
};

const ERASURE: Danger = Danger {
    action: "erasure",
    id: "erasure",
    legend: "Erase this participant",
    button: "Erase this participant",
    consequence: "I understand this cannot be undone",
    refused: "Nothing was erased: tick the box to confirm.",
    tick: "Tick this box to confirm; erasure cannot be undone.",
};

/// Reissuing a badge cannot be undone either: the printed badge dies with it.
const REISSUE: Danger = Danger {
    action: "badge/reissue",
    id: "reissue",
    legend: "Reissue the badge (lost or stolen)",
    button: "Reissue the badge",
    consequence: "The printed badge stops working at once; the participant needs the new one",
    refused: "No new badge was issued: tick the box to confirm.",
    tick: "Tick this box to confirm; the printed badge stops working.",
};

/// The form of a [`Danger`]; `ticked_not` after it came back without its box ticked.
fn danger_form(base: &str, d: &Danger, ticked_not: bool, csrf: &str) -> Markup {
    let id = format!("confirm-{}", d.id);
    let error = ticked_not.then_some(d.tick);
    html! {
        form method="post" action={ (base) "/" (d.action) } {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { (d.legend) }
                label.check {
                    input type="checkbox" id=(id) name="confirm" value="true"
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| format!("{id}-error"))];
                    (d.consequence)
                }
                @if let Some(e) = error { div.error id={ (id) "-error" } { (e) } }
                button type="submit" { (d.button) }
            }
        }
    }
}

/// The page that asks again for a [`Danger`] sent without its box ticked (422): nothing
/// was done.
fn danger_refused<P: Policy>(s: &SignedIn<P>, event_id: &str, attendee_id: &str, d: &Danger) -> HttpResponse {
    let base = format!("/console/events/{event_id}/attendees/{attendee_id}");
    let content = html! {
        h1 { (d.legend) }
        p.alert role="alert" { (d.refused) }
        (danger_form(&base, d, true, &s.csrf))
        p { a href=(base) { "Back to the participant" } }
    };
    let mut res = console_page(s, d.legend, "", content);
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    res
}

/// The `csrf` and `confirm` fields of an action form.
fn action_form(body: &[u8]) -> Result<(String, bool), AppError> {
    let mut csrf = String::new();
    let mut confirm = false;
    for (key, value) in crate::http::input::decode_form(body).map_err(AppError::Validation)? {
        match key.as_str() {
            "csrf" => csrf = value,
            "confirm" => confirm = value == "true",
            _ => {}
        }
    }
    Ok((csrf, confirm))
}

fn done_at(event_id: &str, attendee_id: &str, done: Done) -> HttpResponse {
    see_other(&format!("/console/events/{event_id}/attendees/{attendee_id}?done={}", done.as_str()))
}

/// `POST …/attendees/{attendee_id}/badge/reissue`: the API's `badging::reissue_for`.
pub async fn reissue_badge(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 4 * 1024).await?;
    let (csrf, confirm) = action_form(&body)?;
    s.check_csrf(&csrf)?;
    if !confirm {
        return Ok(danger_refused(&s, &event_id, &attendee_id, &REISSUE));
    }
    let (id, aid) = (event_id.clone(), attendee_id.clone());
    db.write(move |conn| crate::attendees::badging::reissue_for(conn, &badge_key, &id, &aid)).await?;
    tracing::info!(%attendee_id, by = %s.caller.user_id, "badge reissued from the console");
    Ok(done_at(&event_id, &attendee_id, Done::Reissued))
}

/// `POST …/attendees/{attendee_id}/privacy-link`: a new privacy link, e-mailed to the
/// participant (`attendees::staff::send_privacy_link`).
pub async fn send_privacy_link(
    s: SignedIn<Registration>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public_url: web::Data<crate::config::PublicUrl>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 4 * 1024).await?;
    let (csrf, _) = action_form(&body)?;
    s.check_csrf(&csrf)?;
    let (id, aid) = (event_id.clone(), attendee_id.clone());
    let sent = db
        .write(move |conn| crate::attendees::staff::send_privacy_link(conn, &badge_key, &public_url, &id, &aid))
        .await?;
    Ok(done_at(&event_id, &attendee_id, if sent { Done::LinkSent } else { Done::LinkThrottled }))
}

/// The two staff erasures, as the API's `erase_attendee` and `flag_under_18`: one core
/// function (`self_service::staff_erase`), admin only, and only with the box ticked.
async fn erase_confirmed(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    done: Done,
) -> actix_web::Result<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 4 * 1024).await?;
    let (csrf, confirm) = action_form(&body)?;
    s.check_csrf(&csrf)?;
    if !confirm {
        let danger = if done == Done::Under18 { &UNDER_18 } else { &ERASURE };
        return Ok(danger_refused(&s, &event_id, &attendee_id, danger));
    }
    let key = crate::mail::OutboxKey::from_badge_key(&badge_key)?;
    let (id, aid) = (event_id.clone(), attendee_id.clone());
    let result = db.write(move |conn| crate::rights::self_service::staff_erase(conn, &key, &id, &aid)).await?;
    match done {
        Done::Under18 => {
            tracing::warn!(by = %s.caller.user_id, "participant flagged under 18 and erased from the console")
        }
        _ => tracing::info!(by = %s.caller.user_id, partners_to_notify = result.recipients_to_notify.len(),
            "participant erased by staff from the console"),
    }
    Ok(done_at(&event_id, &attendee_id, done))
}

/// `POST …/attendees/{attendee_id}/erasure` (admin).
pub async fn erase_attendee(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    erase_confirmed(s, db, badge_key, path, req, payload, Done::Erased).await
}

/// `POST …/attendees/{attendee_id}/under-18` (admin).
pub async fn flag_under_18(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    erase_confirmed(s, db, badge_key, path, req, payload, Done::Under18).await
}
