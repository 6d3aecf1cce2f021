//! The partner portal (`/portal/…`). A partner admin reads and edits its leads, downloads
//! them, manages its scanner users and the scanner app's questions, sees its scans per
//! hour and acknowledges deletion notices; a scanner user sees only the leads it scanned,
//! with what the API gives a scanner (name and company). Every page calls the core
//! function of its API twin, with the role policy of that API, so the gate, the ledger and
//! the role rules are the API's: a lead table shown is a lead list released and ledgered,
//! a download is the API's export.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

use super::fields::{Field, error_for};
use super::layout::{self, Chrome, NavLink};
use crate::auth::{AnyPartner, Caller, PartnerAdminOnly, Policy, Role};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::session::SignedIn;
use crate::leads::{self, LeadFilter, LeadQuery, LeadUpdate, LeadView};
use crate::mail::OutboxKey;
use crate::partners::users::{self, CreatePartnerUser, PartnerRole};
use crate::questions::{self, Question, QuestionKind, Questions};
use crate::{events, notices};

const ADMIN_NAV: &[NavLink<'static>] = &[
    NavLink { href: "/portal/", label: "Leads" },
    NavLink { href: "/portal/activity", label: "Scans per hour" },
    NavLink { href: "/portal/scanners", label: "Scanner users" },
    NavLink { href: "/portal/questions", label: "Questions" },
    NavLink { href: "/portal/notices", label: "Deletion notices" },
    NavLink { href: "/portal/devices", label: "Devices" },
];
const SCANNER_NAV: &[NavLink<'static>] = &[NavLink { href: "/portal/", label: "My scans" }];

/// A portal page in the one layout, with the navigation of the user's role.
pub(super) fn page<P: Policy>(s: &SignedIn<P>, title: &str, current: &str, content: Markup) -> HttpResponse {
    let nav = if s.caller.role == Role::PartnerAdmin { ADMIN_NAV } else { SCANNER_NAV };
    let chrome = Chrome::SignedIn { nav, current, user: &s.email, csrf: &s.csrf };
    super::html(StatusCode::OK, layout::render(&format!("{title} — badgegate portal"), &chrome, content))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location.to_string())).finish()
}

/// A form's fields, read from its urlencoded body (as the console reads its forms).
pub(super) async fn form_fields(req: &HttpRequest, payload: web::Payload) -> AppResult<Vec<(String, String)>> {
    let body = crate::http::json::read_body(req, &mut payload.into_inner(), 64 * 1024).await?;
    crate::http::input::decode_form(&body).map_err(AppError::Validation)
}

pub(super) fn value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// Errors the page has no field for, in a list above the form.
fn other_errors(errors: &[FieldError], known: &[&str]) -> Markup {
    let other: Vec<&FieldError> = errors
        .iter()
        .filter(|e| !known.iter().any(|k| e.field == *k || e.field.starts_with(&format!("{k}["))))
        .collect();
    html! {
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        @for e in other { p.error { (super::fields::sentence(&e.field, &e.message)) } }
    }
}

// ---------------------------------------------------------------------------------------
// Leads

/// `GET /portal/`: a partner admin's lead table with filters, search and paging (the core
/// of `GET /api/v1/leads`, so every contact field shown is released and ledgered); a
/// scanner's own recent scans (the same core with the scanner's role: name and company).
pub async fn home(
    req: HttpRequest,
    s: SignedIn<AnyPartner>,
    db: web::Data<Db>,
    query: web::Query<LeadQuery>,
) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let admin = s.caller.role == Role::PartnerAdmin;
    let mut q = query.into_inner();
    if !admin {
        // A scanner's page is its own scans, newest first; the API lets it see no more.
        q = LeadQuery { page: q.page, mine: Some("true".into()), ..LeadQuery::default() };
    }
    let event_scope = scope.clone();
    let event = db.read(move |conn| events::find(conn, &event_scope.event_id)).await?;
    // A partner admin's export also holds those who opted in but were never scanned; the
    // table lists leads only, so say how many more the download has.
    let opted_in = if admin {
        let count_scope = scope.clone();
        db.read(move |conn| crate::gate::opted_in_without_lead(conn, &count_scope)).await?
    } else {
        0
    };
    let (list, errors) = match LeadFilter::parse(&q) {
        Ok(filter) => (Some(db.write(move |conn| leads::list(conn, &scope, &filter)).await?), Vec::new()),
        Err(AppError::Validation(errors)) => (None, errors),
        Err(e) => return Err(e),
    };
    let title = if admin { "Leads" } else { "My scans" };
    // The edit form comes back here; say that its change was kept.
    let saved = req.query_string().split('&').any(|p| p == "saved=1");
    let content = html! {
        h1 { (title) }
        @if saved { p.notice role="status" { "The lead's notes and rating are saved." } }
        @if admin {
            p { "Download every lead the event lets you receive: "
                a href="/portal/export.csv" { "CSV" } " · "
                a href="/portal/export.csv?dialect=excel" { "CSV for Excel" } " · "
                a href="/portal/export.csv?dialect=excel-semicolon" { "CSV for Excel with ; (German, Spanish, French settings)" } " · "
                a href="/portal/export.xlsx" { "Excel workbook (XLSX)" }
                " " span.hint { "(downloads ignore the filters; each is recorded in the disclosure ledger)" } }
            @if opted_in > 0 {
                p #opted-in {
                    (opted_in) " " @if opted_in == 1 { "participant" } @else { "participants" }
                    " opted in to share their details with you without your scanning their badge. "
                    "The downloads hold them (basis “opt_in”); this table lists the badges you scanned."
                }
            }
            (filter_form(&q, &errors))
        } @else {
            p { "The badges you scanned, newest first. Contact details beyond name and company are for your partner's administrators." }
        }
        @if let Some(list) = &list {
            p { (list.total) " " @if list.total == 1 { "lead" } @else { "leads" } }
            @if !list.items.is_empty() { (lead_table(&list.items, &event, admin)) }
            (pager(&q, list.page, list.per_page, list.total))
        }
    };
    Ok(page(&s, title, "/portal/", content))
}

fn filter_form(q: &LeadQuery, errors: &[FieldError]) -> Markup {
    let err = |f: &str| error_for(errors, f);
    let described = |f: &str| err(f).map(|_| format!("{f}-error"));
    let selected = |v: &Option<String>, o: &str| v.as_deref() == Some(o);
    html! {
        (other_errors(errors, &["basis", "rating", "from", "to", "q"]))
        form.filters method="get" action="/portal/" role="search" {
            div {
                label for="q" { "Search" span.hint { " (name, company, e-mail, notes)" } }
                input type="search" id="q" name="q" value=(q.q.as_deref().unwrap_or(""))
                    aria-invalid=[err("q").map(|_| "true")] aria-describedby=[described("q")];
                @if let Some(e) = err("q") { div.error id="q-error" { (e) } }
            }
            div {
                label for="basis" { "Basis" }
                select id="basis" name="basis" aria-invalid=[err("basis").map(|_| "true")] aria-describedby=[described("basis")] {
                    option value="" { "Any" }
                    option value="scan" selected[selected(&q.basis, "scan")] { "Scan" }
                    option value="opt_in+scan" selected[selected(&q.basis, "opt_in+scan")] { "Opt-in and scan" }
                    option value="none" selected[selected(&q.basis, "none")] { "Nothing released (withdrawn)" }
                }
                @if let Some(e) = err("basis") { div.error id="basis-error" { (e) } }
            }
            div {
                label for="rating" { "Rating" }
                select id="rating" name="rating" aria-invalid=[err("rating").map(|_| "true")] aria-describedby=[described("rating")] {
                    option value="" { "Any" }
                    @for r in 0..=5 {
                        option value=(r) selected[selected(&q.rating, &r.to_string())] { (r) }
                    }
                }
                @if let Some(e) = err("rating") { div.error id="rating-error" { (e) } }
            }
            div {
                label for="from" { "First scan from" span.hint { " (event's time zone)" } }
                input type="date" id="from" name="from" value=(q.from.as_deref().unwrap_or(""))
                    aria-invalid=[err("from").map(|_| "true")] aria-describedby=[described("from")];
                @if let Some(e) = err("from") { div.error id="from-error" { (e) } }
            }
            div {
                label for="to" { "First scan until" }
                input type="date" id="to" name="to" value=(q.to.as_deref().unwrap_or(""))
                    aria-invalid=[err("to").map(|_| "true")] aria-describedby=[described("to")];
                @if let Some(e) = err("to") { div.error id="to-error" { (e) } }
            }
            div { button type="submit" { "Filter" } " " a href="/portal/" { "Clear" } }
        }
    }
}

fn basis_label(lead: &LeadView) -> &'static str {
    match lead.basis {
        Some(crate::gate::Basis::OptInScan) => "Opt-in and scan",
        Some(crate::gate::Basis::Scan) => "Scan",
        Some(crate::gate::Basis::OptIn) => "Opt-in",
        Some(_) => "Other",
        None => "Nothing released",
    }
}

fn lead_table(items: &[LeadView], event: &events::EventRow, admin: bool) -> Markup {
    let at = |t: &str| event.display_rfc3339(t);
    html! {
        (layout::table_wrap(html! { table {
            caption.hint { "Times in " (event.time_zone) }
            thead { tr {
                th scope="col" { "Contact" } th scope="col" { "Basis" } th scope="col" { "First scan" }
                th scope="col" { "Rating" }
                @if admin { th scope="col" { "Notes" } th scope="col" { span.hint { "Action" } } }
            } }
            tbody { @for l in items { tr {
                td {
                    @match &l.contact {
                        Some(c) => {
                            strong { (c.name.as_deref().unwrap_or("—")) }
                            @if let Some(v) = &c.company { br; (v) }
                            @if let Some(v) = &c.email { br; (v) }
                            @if let Some(v) = &c.phone { br; (v) }
                            @if let Some(v) = &c.address { br; (v) }
                        }
                        None => { em { "Withdrawn or erased: nothing released" } }
                    }
                }
                td { (basis_label(l)) }
                td { (at(&l.first_scanned_at)) }
                td {
                    @match (l.rating, l.scan_notes.iter().rev().find_map(|n| n.rating)) {
                        (Some(r), _) => (r),
                        (None, Some(r)) => { (r) " " span.hint { "(scan)" } }
                        (None, None) => "—",
                    }
                }
                @if admin {
                    td {
                        (l.notes.as_deref().unwrap_or(""))
                        @let noted = l.scan_notes.iter().filter(|n| n.notes.is_some()).count();
                        @if noted > 0 {
                            @if l.notes.is_some() { br; }
                            span.hint { "+ " (noted) " " @if noted == 1 { "scanner's note" } @else { "scanners' notes" } }
                        }
                    }
                    td { a href={ "/portal/leads/" (l.lead_id) } { "Edit notes and rating" } }
                }
            } } }
        } }))
    }
}

fn pager(q: &LeadQuery, page: i64, per_page: i64, total: i64) -> Markup {
    let last = ((total + per_page - 1) / per_page).max(1);
    let link = |p: i64| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("basis", &q.basis), ("rating", &q.rating), ("from", &q.from), ("to", &q.to), ("q", &q.q)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                ser.append_pair(k, v);
            }
        }
        if let Some(pp) = q.per_page {
            ser.append_pair("per_page", &pp.to_string());
        }
        ser.append_pair("page", &p.to_string());
        format!("/portal/?{}", ser.finish())
    };
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

/// `GET /portal/leads/{lead_id}`: one lead with its notes and rating to edit (the core of
/// `GET /api/v1/leads/{id}`, released and ledgered as the API's read).
pub async fn lead_form(
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let lead_id = path.into_inner();
    let (event, lead) =
        db.write(move |conn| Ok((events::find(conn, &scope.event_id)?, leads::get(conn, &scope, &lead_id)?))).await?;
    let notes = lead.notes.clone().unwrap_or_default();
    let rating = lead.rating.map(|r| r.to_string()).unwrap_or_default();
    Ok(page(&s, "Lead", "", lead_page(&s.csrf, &event, &lead, &notes, &rating, &[])))
}

/// Each scanner's own notes, rating and answers on the lead, oldest scan first: shown, not
/// edited here (each belongs to its scanner, who changes it from the app).
fn scan_notes_section(event: &events::EventRow, lead: &LeadView) -> Markup {
    html! {
        section aria-labelledby="scan-notes" {
            h2 id="scan-notes" { "Scanners' notes" }
            @if lead.scan_notes.is_empty() {
                p.hint { "No scanner left a note, rating or answer on this lead." }
            } @else {
                ol.scan-notes {
                    @for n in &lead.scan_notes { li {
                        p { strong { (n.by) } " · " (event.display_rfc3339(&n.at))
                            @if let Some(r) = n.rating { " · rating " (r) } }
                        @if let Some(text) = &n.notes { p.note { (text) } }
                        @if let Some(answers) = n.answers.as_ref().filter(|a| !a.is_empty()) {
                            dl { @for (q, a) in answers { dt { (q) } dd { (a) } } }
                        }
                    } }
                }
            }
        }
    }
}

fn lead_page(
    csrf: &str,
    event: &events::EventRow,
    lead: &LeadView,
    notes: &str,
    rating: &str,
    errors: &[FieldError],
) -> Markup {
    let rating_err = error_for(errors, "rating");
    html! {
        p { a href="/portal/" { "Back to the leads" } }
        h1 { "Lead" }
        @match &lead.contact {
            Some(c) => {
                dl {
                    @for (label, v) in [("Name", &c.name), ("Company", &c.company), ("E-mail", &c.email), ("Phone", &c.phone), ("Address", &c.address)] {
                        @if let Some(v) = v { dt { (label) } dd { (v) } }
                    }
                }
            }
            None => { p { em { "Withdrawn or erased: nothing released." } } }
        }
        (scan_notes_section(event, lead))
        h2 { "Your note and rating" }
        (other_errors(errors, &["notes", "rating"]))
        form method="post" action={ "/portal/leads/" (lead.lead_id) } novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (Field { id: "notes", name: "notes", label: "Notes", kind: "textarea", value: notes,
                autocomplete: "off", required: false, error: error_for(errors, "notes") }.render())
            label for="rating" { "Rating" span.hint { " (0–5, empty keeps it)" } }
            select id="rating" name="rating" aria-invalid=[rating_err.as_ref().map(|_| "true")]
                aria-describedby=[rating_err.as_ref().map(|_| "rating-error")] {
                option value="" { "—" }
                @for r in 0..=5 { option value=(r) selected[rating == r.to_string()] { (r) } }
            }
            @if let Some(e) = rating_err { div.error id="rating-error" { (e) } }
            button type="submit" { "Save" }
        }
    }
}

/// `POST /portal/leads/{lead_id}`: saves notes and rating through the core of
/// `PATCH /api/v1/leads/{id}`.
pub async fn lead_save(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let scope = s.caller.partner_scope()?;
    let lead_id = path.into_inner();
    let notes = value(&fields, "notes").to_string();
    let rating_text = value(&fields, "rating").trim().to_string();
    let rating = match rating_text.as_str() {
        "" => Ok(None),
        r => r.parse::<i64>().map(Some).map_err(|_| FieldError::new("rating", "must be a whole number from 0 to 5")),
    };
    let result = match rating {
        Ok(rating) => {
            let input = LeadUpdate { notes: Some(notes.clone()), rating };
            let (sc, id) = (scope.clone(), lead_id.clone());
            db.write(move |conn| leads::update(conn, &sc, &id, &input)).await
        }
        Err(e) => Err(AppError::Validation(vec![e])),
    };
    match result {
        Ok(_) => Ok(see_other("/portal/?saved=1")),
        Err(AppError::Validation(errors)) => {
            let (event, lead) = db
                .write(move |conn| Ok((events::find(conn, &scope.event_id)?, leads::get(conn, &scope, &lead_id)?)))
                .await?;
            let mut res = page(&s, "Lead", "", lead_page(&s.csrf, &event, &lead, &notes, &rating_text, &errors));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Downloads

#[derive(serde::Deserialize)]
pub struct DialectQuery {
    dialect: Option<String>,
}

/// `GET /portal/export.csv`: the API's CSV export (`?dialect=excel` as the API), with the
/// session cookie; ledgered by the same export core.
pub async fn export_csv(
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    query: web::Query<DialectQuery>,
) -> AppResult<HttpResponse> {
    crate::exports::handlers::csv_response(db, s.caller.partner_scope()?, query.dialect.as_deref()).await
}

/// `GET /portal/export.xlsx`: the API's XLSX export with the session cookie.
pub async fn export_xlsx(s: SignedIn<PartnerAdminOnly>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    crate::exports::handlers::xlsx_response(db, s.caller.partner_scope()?).await
}

// ---------------------------------------------------------------------------------------
// Scans per hour

/// `GET /portal/activity`: the partner's scans per hour of the event's local time, as an
/// SVG bar chart drawn here (no script) with a table of the same numbers.
pub async fn activity(s: SignedIn<PartnerAdminOnly>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let (event, hours) = db
        .read(move |conn| {
            let event = events::find(conn, &scope.event_id)?;
            Ok((event, leads::scans_per_hour(conn, &scope)?))
        })
        .await?;
    let total: i64 = hours.iter().map(|(_, n)| n).sum();
    let busiest = hours.iter().max_by_key(|(_, n)| *n);
    let content = html! {
        h1 { "Scans per hour" }
        @if hours.is_empty() {
            p { "No scans yet." }
        } @else {
            p id="chart-summary" {
                (total) " scans over " (hours.len()) " hours (" (event.time_zone) ")."
                @if let Some((h, n)) = busiest { " Busiest hour: " (h) ", " (n) " scans." }
            }
            (bar_chart(&hours, &event.time_zone))
            details {
                summary { "The numbers as a table" }
                (layout::table_wrap(html! { table {
                    thead { tr { th scope="col" { "Hour (" (event.time_zone) ")" } th scope="col" { "Scans" } } }
                    tbody { @for (h, n) in &hours { tr { td { (h) } td { (n) } } } }
                } }))
            }
        }
    };
    Ok(page(&s, "Scans per hour", "/portal/activity", content))
}

/// A bar per hour; the view box scales to the page width (the layout caps an SVG at 100%),
/// labels every few hours so they stay readable at 390 px.
fn bar_chart(hours: &[(String, i64)], zone: &str) -> Markup {
    const W: i64 = 600;
    const H: i64 = 240;
    const LEFT: i64 = 36;
    const BOTTOM: i64 = 40;
    let n = i64::try_from(hours.len()).unwrap_or(1).max(1);
    let max = hours.iter().map(|(_, c)| *c).max().unwrap_or(1).max(1);
    let plot_w = W - LEFT - 8;
    let plot_h = H - BOTTOM - 12;
    // At most 48 units a bar, so a few hours do not draw as one block.
    let bar = (plot_w / n).min(48);
    let gap = if bar > 6 { 2 } else { 0 };
    let label_every = (n / 6).max(1);
    let label = format!("Bar chart of scans per hour in {zone}; the busiest hour has {max} scans.");
    html! {
        svg role="img" aria-labelledby="chart-title" aria-describedby="chart-summary"
            viewBox={ "0 0 " (W) " " (H) } width=(W) height=(H) {
            title id="chart-title" { (label) }
            line x1=(LEFT) y1=(H - BOTTOM) x2=(W - 8) y2=(H - BOTTOM) stroke="#444" {}
            text x=(LEFT - 4) y=(H - BOTTOM) text-anchor="end" font-size="12" { "0" }
            text x=(LEFT - 4) y="20" text-anchor="end" font-size="12" { (max) }
            @for (i, (hour, count)) in hours.iter().enumerate() {
                @let i = i64::try_from(i).unwrap_or(0);
                @let h = count * plot_h / max;
                @let x = LEFT + i * bar;
                rect x=(x + gap / 2) y=(H - BOTTOM - h) width=((bar - gap).max(1)) height=(h) fill="#1d3557" {
                    title { (hour) ": " (count) }
                }
                @if i % label_every == 0 {
                    text x=(x) y=(H - BOTTOM + 16) font-size="12" { (hour.get(11..).unwrap_or(hour)) }
                    @if i == 0 || hour.get(11..13) == Some("00") {
                        text x=(x) y=(H - BOTTOM + 32) font-size="11" fill="#444" { (hour.get(..10).unwrap_or("")) }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scanner users

/// `GET /portal/scanners`: the partner's users (core of the API's user list), the
/// invitation form and a disable button per scanner.
pub async fn scanners(s: SignedIn<PartnerAdminOnly>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    scanners_page(&s, &db, "", &[], None, StatusCode::OK).await
}

async fn scanners_page(
    s: &SignedIn<PartnerAdminOnly>,
    db: &Db,
    email: &str,
    errors: &[FieldError],
    notice: Option<&str>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let caller = s.caller.clone();
    let list = db.read(move |conn| users::list(conn, &caller, &scope.event_id, &scope.partner_id)).await?;
    let content = html! {
        h1 { "Scanner users" }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p { "Scanner users sign in to the phone app and scan badges; they see name and company only. "
            "Signing one out everywhere (a lost phone) ends its phone's and browser's sessions; \
            disabling it also stops it signing in again." }
        @if list.is_empty() { p { "No users yet." } } @else {
            // A list, not a table: its actions fit a phone's width without scrolling sideways
            // (as the console's partner users). Each control names its user for screen readers.
            ul.people { @for u in &list { li {
                strong { (u.email) } br;
                @if u.role == Role::Scanner { "Scanner" } @else { "Administrator" }
                " · "
                @if u.disabled { "Disabled" } @else if !u.password_set { "Invited" } @else { "Active" }
                @if u.role == Role::Scanner && !u.disabled { div {
                    a href={ "/portal/scanners/" (u.id) "/enrol" } aria-label={ "Enrol a phone for " (u.email) } { "Enrol a phone" }
                    " "
                    form.inline method="post" action={ "/portal/scanners/" (u.id) "/revoke-sessions" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button type="submit" aria-label={ "Sign out everywhere " (u.email) } { "Sign out everywhere" }
                    }
                    " "
                    (layout::confirm_action(
                        html! { "Disable…" },
                        &format!("Disable {}…", u.email),
                        "The user is signed out everywhere and can never sign in again. This cannot be undone.",
                        html! { form.inline method="post" action={ "/portal/scanners/" (u.id) "/disable" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Disable " (u.email) }
                        } },
                    ))
                } }
            } } }
        }
        h2 { "Invite a scanner user" }
        (other_errors(errors, &["email"]))
        form method="post" action="/portal/scanners" novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            (Field { id: "email", name: "email", label: "E-mail", kind: "email", value: email,
                autocomplete: "off", required: true, error: error_for(errors, "email") }.render())
            button type="submit" { "Send the invitation" }
        }
    };
    let mut res = page(s, "Scanner users", "/portal/scanners", content);
    *res.status_mut() = status;
    Ok(res)
}

/// `POST /portal/scanners`: invites a scanner by e-mail (core of the API's invitation).
pub async fn invite(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let scope = s.caller.partner_scope()?;
    let email = value(&fields, "email").trim().to_string();
    let mail = crate::partners::handlers::invitation_mail(&badge_key, &public)?;
    let caller = s.caller.clone();
    let input = CreatePartnerUser { email: email.clone(), role: PartnerRole::Scanner };
    let result =
        db.write(move |conn| users::create(conn, &mail, &caller, &scope.event_id, &scope.partner_id, input)).await;
    Ok(match result {
        Ok(view) => {
            let text = format!("Invitation sent to {}.", view.email);
            scanners_page(&s, &db, "", &[], Some(&text), StatusCode::OK).await?
        }
        Err(AppError::Validation(errors)) => {
            scanners_page(&s, &db, &email, &errors, None, StatusCode::UNPROCESSABLE_ENTITY).await?
        }
        Err(AppError::Conflict(message)) => {
            let errors = [FieldError::new("email", message)];
            scanners_page(&s, &db, &email, &errors, None, StatusCode::CONFLICT).await?
        }
        Err(e) => return Err(e.into()),
    })
}

/// A partner-user action of the scanner list: `users::disable` or `users::revoke_sessions`,
/// the API's core for each, then the list with what was done.
type UserAction = fn(&mut crate::db::DbConn, &Caller, &str, &str, &str) -> AppResult<()>;

async fn scanner_action(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    user_id: String,
    payload: web::Payload,
    action: UserAction,
    done: &str,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let scope = s.caller.partner_scope()?;
    let caller = s.caller.clone();
    db.write(move |conn| action(conn, &caller, &scope.event_id, &scope.partner_id, &user_id)).await?;
    Ok(scanners_page(&s, &db, "", &[], Some(done), StatusCode::OK).await?)
}

/// `POST /portal/scanners/{user_id}/disable`: the API's disable (its tokens and browser
/// sessions end with its token version).
pub async fn disable(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let done = "The user is disabled and signed out everywhere.";
    scanner_action(req, s, db, path.into_inner(), payload, users::disable, done).await
}

/// `POST /portal/scanners/{user_id}/revoke-sessions`: a lost phone; the core of
/// `POST /api/v1/events/{event_id}/partners/{partner_id}/users/{user_id}/revoke-sessions`.
pub async fn revoke_sessions(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let done = "The user is signed out everywhere; the account stays active and can sign in again.";
    scanner_action(req, s, db, path.into_inner(), payload, users::revoke_sessions, done).await
}

// ---------------------------------------------------------------------------------------
// Qualification questions

/// Rows the form offers beyond the stored questions, for new ones.
const NEW_ROWS: usize = 2;

/// `GET /portal/questions`: the scanner app's questions (core of `GET /api/v1/partner/questions`).
pub async fn questions_form(s: SignedIn<PartnerAdminOnly>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let stored = db.read(move |conn| questions::get(conn, &scope)).await?;
    Ok(page(&s, "Questions", "/portal/questions", questions_page(&s.csrf, &stored.questions, &[], None)))
}

fn questions_page(csrf: &str, list: &[Question], errors: &[FieldError], notice: Option<&str>) -> Markup {
    let rows = list.len() + NEW_ROWS;
    html! {
        h1 { "Qualification questions" }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p { "The phone app asks these after a scan, in this order. Leave a question's text empty to remove it; "
            "a choice question lists its options one per line." }
        (other_errors(errors, &["questions"]))
        form method="post" action="/portal/questions" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            @for i in 0..rows {
                @let q = list.get(i);
                @let at = |f: &str| format!("questions[{i}].{f}");
                @let err = |f: &str| error_for(errors, &at(f));
                fieldset {
                    legend { "Question " (i + 1) @if q.is_none() { span.hint { " (new)" } } }
                    input type="hidden" name={ "id_" (i) } value=(q.and_then(|q| q.id.as_deref()).unwrap_or(""));
                    (Field { id: &format!("text_{i}"), name: &format!("text_{i}"), label: "Text", kind: "text",
                        value: q.map(|q| q.text.as_str()).unwrap_or(""), autocomplete: "off", required: false,
                        error: err("text").or_else(|| err("id")) }.render())
                    label for={ "kind_" (i) } { "Kind" }
                    select id={ "kind_" (i) } name={ "kind_" (i) } {
                        @for (k, l) in [(QuestionKind::Text, "Text answer"), (QuestionKind::Choice, "One of the options"), (QuestionKind::Rating, "Rating 0–5")] {
                            option value=(k.as_str()) selected[q.is_some_and(|q| q.kind == k)] { (l) }
                        }
                    }
                    (Field { id: &format!("options_{i}"), name: "options", label: "Options (one per line, for a choice)",
                        kind: "textarea", value: &q.map(|q| q.options.join("\n")).unwrap_or_default(), autocomplete: "off",
                        required: false, error: err("options") }.render())
                    label for={ "position_" (i) } { "Position" }
                    input type="number" id={ "position_" (i) } name={ "position_" (i) } min="1" value=(i + 1);
                }
            }
            button type="submit" { "Save the questions" }
        }
    }
}

/// `POST /portal/questions`: replaces the questions through the core of
/// `PUT /api/v1/partner/questions`.
pub async fn questions_save(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let scope = s.caller.partner_scope()?;
    // Each row's options area is sent, empty or not, in the rows' order under one name
    // (the input checks allow line breaks in a field by its name).
    let options_of: Vec<&str> = fields.iter().filter(|(k, _)| k == "options").map(|(_, v)| v.as_str()).collect();
    let mut rows: Vec<(i64, usize, Question)> = Vec::new();
    for i in 0..=questions::MAX_QUESTIONS + NEW_ROWS {
        let text = value(&fields, &format!("text_{i}"));
        if text.trim().is_empty() {
            continue;
        }
        let kind = value(&fields, &format!("kind_{i}")).parse::<QuestionKind>().unwrap_or(QuestionKind::Text);
        let options = options_of.get(i).copied().unwrap_or("").lines().map(str::to_string).collect();
        let position = value(&fields, &format!("position_{i}")).trim().parse::<i64>().unwrap_or(i64::MAX);
        let id = Some(value(&fields, &format!("id_{i}")).to_string()).filter(|s| !s.is_empty());
        rows.push((position, i, Question { id, text: text.to_string(), kind, options }));
    }
    rows.sort_by_key(|(p, i, _)| (*p, *i));
    let list: Vec<Question> = rows.into_iter().map(|(_, _, q)| q).collect();
    let input = Questions { questions: list.clone() };
    match db.write(move |conn| questions::replace(conn, &scope, input)).await {
        Ok(saved) => Ok(page(
            &s,
            "Questions",
            "/portal/questions",
            questions_page(
                &s.csrf,
                &saved.questions,
                &[],
                Some("Questions saved: the phones get them at their next sync."),
            ),
        )),
        Err(AppError::Validation(errors)) => {
            let mut res = page(&s, "Questions", "/portal/questions", questions_page(&s.csrf, &list, &errors, None));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Deletion notices

/// `GET /portal/notices`: deletion notices (core of `GET /api/v1/deletion-notices`) with an
/// acknowledge button on each open one.
pub async fn notices_list(
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    query: web::Query<crate::paging::PageQuery>,
) -> AppResult<HttpResponse> {
    let paging = crate::paging::PageQuery { page: query.into_inner().page, per_page: Some(50) };
    notices_page(&s, &db, &badge_key, None, paging).await
}

async fn notices_page(
    s: &SignedIn<PartnerAdminOnly>,
    db: &Db,
    badge_key: &BadgeKey,
    notice: Option<&str>,
    paging: crate::paging::PageQuery,
) -> AppResult<HttpResponse> {
    let scope = s.caller.partner_scope()?;
    let key = OutboxKey::from_badge_key(badge_key)?;
    let event_id = scope.event_id.clone();
    let (event, list) = db
        .read(move |conn| {
            Ok((events::find(conn, &event_id)?, notices::for_partner(conn, &key, &scope.partner_id, &paging)?))
        })
        .await?;
    let content = html! {
        h1 { "Deletion notices" }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p { "A participant whose data you received was erased or withdrew. Delete their data from your own systems "
            "(CRM, spreadsheets, downloads), then acknowledge the notice." }
        @if list.items.is_empty() && list.total > 0 {
            p { "No notices on this page. " a href="/portal/notices" { "Back to the newest" } }
        } @else if list.items.is_empty() { p { "No notices." } } @else {
            (layout::table_wrap(html! { table {
                thead { tr { th scope="col" { "Participant" } th scope="col" { "Reason" } th.narrow-hide scope="col" { "Received" } th scope="col" { "State" } } }
                tbody { @for n in &list.items { tr.overdue[n.acknowledged_at.is_none()] {
                    td { (n.released_name.as_deref().unwrap_or("(name not kept)"))
                        @if let Some(l) = &n.lead_id { br; span.hint { "lead " code { (l) } } } }
                    td { @match n.reason {
                        notices::NoticeReason::Erasure => "Erased their data",
                        notices::NoticeReason::Withdrawal => "Withdrew from sharing with you",
                    } }
                    td.narrow-hide { (event.display_rfc3339(&n.created_at)) }
                    td {
                        @if let Some(a) = &n.acknowledged_at { "Acknowledged " (event.display_rfc3339(a)) }
                        @else {
                            form.inline method="post" action={ "/portal/notices/" (n.id) "/ack" } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                input type="hidden" name="page" value=(list.page);
                                button type="submit" { "Acknowledge: data deleted" }
                            }
                        }
                    }
                } } }
            } }))
        }
        (super::console_records::pager(list.page, list.total, list.per_page, |p| format!("/portal/notices?page={p}")))
    };
    Ok(page(s, "Deletion notices", "/portal/notices", content))
}

/// `POST /portal/notices/{notice_id}/ack`: the API's acknowledgement.
pub async fn notice_ack(
    req: HttpRequest,
    s: SignedIn<PartnerAdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    path: web::Path<String>,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let fields = form_fields(&req, payload).await?;
    s.check_csrf(value(&fields, "csrf"))?;
    let scope = s.caller.partner_scope()?;
    let notice_id = path.into_inner();
    let key = OutboxKey::from_badge_key(&badge_key)?;
    db.write(move |conn| notices::acknowledge(conn, &key, &scope.partner_id, &notice_id, &scope.user_id)).await?;
    // Back on the page the notice was on.
    let page = value(&fields, "page").parse().ok();
    let paging = crate::paging::PageQuery { page, per_page: Some(50) };
    Ok(notices_page(&s, &db, &badge_key, Some("Notice acknowledged."), paging).await?)
}
