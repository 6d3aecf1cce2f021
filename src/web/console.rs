//! The staff console (`/console/…`): admins and registrars, by the same policies as the
//! API (`Registration` to read events and attendees, `AdminOnly` for the registers of
//! requests and incidents). Each page calls the core function its API twin calls.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::layout::{self, Chrome, NavLink};
use crate::auth::{AdminOnly, Policy, Registration};
use crate::db::{Db, now_ms};
use crate::error::AppResult;
use crate::events;
use crate::http::session::SignedIn;
use crate::paging::PageQuery;

pub const NAV: &[NavLink<'static>] = &[NavLink { href: "/console/", label: "Events" }];

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
fn event_links(event_id: &str, current: &str) -> Markup {
    let links = [
        (format!("/console/events/{event_id}"), "Dashboard"),
        (format!("/console/events/{event_id}/attendees"), "Attendees"),
        (format!("/console/events/{event_id}/badges/sheet"), "Print badges"),
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
