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
pub fn page<P: Policy>(s: &SignedIn<P>, title: &str, current: &str, content: Markup) -> HttpResponse {
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
    Ok(page(&s, "Events", "/console/", content))
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
    Ok(page(&s, &d.event.name, "", content))
}
