//! The staff console's incidents (task D2, admin): the register, opening one with a scope
//! preview (the exposure the ledger shows, computed before anything is written), the
//! incident's page with its deadline clocks (authority notified within 24 h, report within
//! 48 h, then an update a day), narrative and milestones, daily updates, the written
//! report, the affected list, and the participant notice's preview and sending. The core
//! functions are the API's (`incidents::records`, `incidents::notice`).
//!
//! Incidents are not of one event (a scope may be a user or a partner), so their times are
//! typed and shown in UTC, and say so.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

use super::console::{console_page, see_other, when};
use super::console_records::{DoneQuery, Form, clock, error_of, input, local_to_ms, ms_to_local, pager, with_status};
use crate::auth::AdminOnly;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::{Db, DbConn, ms_to_rfc3339, now_ms, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;
use crate::http::session::SignedIn;
use crate::incidents::records::{
    self, CreateIncident, IncidentQuery, IncidentView, NewUpdate, PatchIncident, Scope, Window,
};
use crate::incidents::{Exposure, notice};
use crate::paging::PageQuery;

const PER_PAGE: i64 = 50;
const UTC: jiff::tz::TimeZone = jiff::tz::TimeZone::UTC;

/// An RFC 3339 time of the core's views, as staff read it.
fn at(rfc3339: &str) -> String {
    parse_rfc3339_ms(rfc3339).map(when).unwrap_or_else(|| rfc3339.to_string())
}

/// One deadline as a clock: met (and when), or how long is left or since it passed.
fn deadline(label: &str, due: &str, met: Option<&str>, now: i64) -> Markup {
    let due_ms = parse_rfc3339_ms(due);
    let passed = met.is_none() && due_ms.is_some_and(|d| d < now);
    html! {
        div.card.overdue[passed] {
            strong { (label) } br;
            @if let Some(m) = met { "Done " (at(m)) " (due " (at(due)) ")" }
            @else if let Some(d) = due_ms {
                @if passed { strong { "Passed " (clock(d, now)) } } @else { "Due " (clock(d, now)) }
                br; "(" (at(due)) ")"
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    due: Option<String>,
    page: Option<i64>,
}

/// `GET /console/incidents?due=&page=`: `records::list`, as `GET /api/v1/incidents`.
pub async fn incidents_list(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let ListQuery { due, page } = query.into_inner();
    let due = due.filter(|d| !d.is_empty());
    let q = IncidentQuery { due: due.clone(), page, per_page: Some(PER_PAGE) };
    let list = db.read(move |conn| records::list(conn, &q)).await?;
    let now = now_ms();
    let only_overdue = due.is_some();
    let content = html! {
        h1 { "Incidents" }
        p { a href="/console/incidents/new" { "Open an incident" } }
        nav.filters aria-label="Which incidents" {
            a href="/console/incidents" aria-current=[(!only_overdue).then_some("page")] { "All" }
            a href="/console/incidents?due=overdue" aria-current=[only_overdue.then_some("page")] { "Deadline passed" }
        }
        @if list.items.is_empty() { p { "No incidents." } }
        @else {
            (super::layout::table_wrap(html! { table {
                thead { tr { th { "Incident" } th { "Discovered" } th { "Next deadline" } } }
                tbody { @for i in &list.items { tr.overdue[i.overdue] {
                    td { a href={ "/console/incidents/" (i.id) } { (i.title) } }
                    td { (at(&i.discovered_at)) }
                    td {
                        @match i.next_deadline.as_deref().and_then(parse_rfc3339_ms) {
                            Some(d) => { @if i.overdue { strong { "passed " (clock(d, now)) } } @else { (clock(d, now)) } }
                            None => "closed",
                        }
                    }
                } } }
            } }))
        }
        (pager(list.page, list.total, list.per_page, |p| match &due {
            Some(d) => format!("/console/incidents?due={d}&page={p}"),
            None => format!("/console/incidents?page={p}"),
        }))
    };
    Ok(console_page(&s, "Incidents", "/console/incidents", content))
}

/// The new-incident form, as typed.
#[derive(Default)]
struct NewForm {
    title: String,
    description: String,
    discovered_at: String,
    scope: String,
    user_id: String,
    from: String,
    to: String,
}

impl NewForm {
    fn of(form: &Form) -> NewForm {
        NewForm {
            title: form.get("title"),
            description: form.get("description"),
            discovered_at: form.get("discovered_at"),
            scope: form.get("scope"),
            user_id: form.get("user_id"),
            from: form.get("from"),
            to: form.get("to"),
        }
    }

    /// The API's input, with the times read as UTC; a time that is not one is an error
    /// of its field here, the rest is the core's to check.
    fn input(&self) -> Result<CreateIncident, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut time = |field: &str, v: &str| match local_to_ms(&UTC, v) {
            Some(ms) => ms_to_rfc3339(ms),
            None => {
                errors.push(FieldError::new(field, "must be a date and time"));
                String::new()
            }
        };
        let discovered_at = time("discovered_at", &self.discovered_at);
        let from = time("window.from", &self.from);
        let to = time("window.to", &self.to);
        let user = Some(self.user_id.trim().to_string()).filter(|u| !u.is_empty());
        let scope = match (self.scope.split_once(':'), user) {
            (None, Some(u)) => Scope { user_id: Some(u), partner_id: None, event_id: None },
            (Some(("event", id)), None) => Scope { event_id: Some(id.to_string()), partner_id: None, user_id: None },
            (Some(("partner", id)), None) => Scope { partner_id: Some(id.to_string()), event_id: None, user_id: None },
            _ => {
                errors.push(FieldError::new("scope", "give exactly one: an event, a partner, or a user id"));
                Scope { event_id: None, partner_id: None, user_id: None }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CreateIncident {
            title: self.title.clone(),
            description: self.description.clone(),
            discovered_at,
            scope,
            window: Window { from, to },
        })
    }
}

/// Events and their partners, the scopes an incident may name from a list.
type Scopes = Vec<(events::EventRow, Vec<crate::partners::PartnerRow>)>;

fn scopes(conn: &mut DbConn) -> AppResult<Scopes> {
    let list = events::list(conn, &PageQuery { page: Some(1), per_page: Some(crate::paging::MAX_PER_PAGE) })?;
    let mut out = Vec::new();
    for e in list.items {
        let partners = crate::partners::list_for_event(conn, &e.id)?;
        out.push((e, partners));
    }
    Ok(out)
}

fn exposure_table(e: &Exposure) -> Markup {
    html! {
        @if e.records == 0 {
            p { "The ledger shows no release of contact data to this scope in the window." }
        } @else {
            p { strong { (e.participants) " participant" @if e.participants != 1 { "s" } }
                " in " (e.records) " release record" @if e.records != 1 { "s" }
                "; fields: " (e.fields.join(", ")) "." }
            (super::layout::table_wrap(html! { table {
                thead { tr { th { "Recipient" } th { "Participants" } th { "Records" } th { "Fields" } th { "First" } th { "Last" } } }
                tbody { @for r in &e.recipients { tr {
                    td { (r.partner_name) }
                    td { (r.participants) }
                    td { (r.records) }
                    td { (r.fields.join(", ")) }
                    td { (at(&r.first_at)) }
                    td { (at(&r.last_at)) }
                } } }
            } }))
        }
    }
}

fn new_page(
    s: &SignedIn<AdminOnly>,
    scopes: &Scopes,
    f: &NewForm,
    errors: &[FieldError],
    preview: Option<&Exposure>,
) -> HttpResponse {
    let err = |field: &str, label: &str| error_of(errors, field, label);
    let content = html! {
        h1 { "Open an incident" }
        p { "The clock runs from the discovery: the authority is to be notified within 24 hours and the report sent within 48 hours." }
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        form method="post" action="/console/incidents/new" novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            (input("title", "Title", "text", &f.title, err("title", "The title")))
            (input("description", "What is known (the report's “Nature of the incident” until you write it out)", "textarea", &f.description, err("description", "The description")))
            (input("discovered_at", "Discovered (UTC)", "datetime-local", &f.discovered_at, err("discovered_at", "The discovery time")))
            fieldset {
                legend { "Scope: who may have obtained data" }
                label for="scope" { "An event's partners, or one partner" }
                select id="scope" name="scope" aria-describedby=[err("scope", "").map(|_| "scope-error")] {
                    option value="" { "(a user, below)" }
                    @for (e, partners) in scopes {
                        option value={ "event:" (e.id) } selected[f.scope == format!("event:{}", e.id)] { "Event: " (e.name) }
                        @for p in partners {
                            option value={ "partner:" (p.id) } selected[f.scope == format!("partner:{}", p.id)] { "Partner: " (p.name) " (" (e.name) ")" }
                        }
                    }
                }
                (input("user_id", "Or one user's id", "text", &f.user_id, None))
                @if let Some(e) = err("scope", "The scope") { div.error id="scope-error" { (e) } }
            }
            fieldset {
                legend { "Window to examine (UTC)" }
                (input("from", "From", "datetime-local", &f.from, err("window.from", "The start")))
                (input("to", "To (included)", "datetime-local", &f.to, err("window.to", "The end")))
            }
            button type="submit" name="action" value="preview" { "Preview the scope" } " "
            button type="submit" name="action" value="open" { "Open the incident" }
        }
        @if let Some(e) = preview {
            section aria-labelledby="preview" {
                h2 id="preview" { "What this scope obtained in the window" }
                (exposure_table(e))
                p.hint { "Nothing is saved yet: open the incident to start its clock." }
            }
        }
    };
    console_page(s, "Open an incident", "/console/incidents", content)
}

/// `GET /console/incidents/new`.
pub async fn incident_new(s: SignedIn<AdminOnly>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    let scopes = db.read(scopes).await?;
    let now = ms_to_local(&UTC, now_ms());
    let f = NewForm { discovered_at: now.clone(), to: now, ..Default::default() };
    Ok(new_page(&s, &scopes, &f, &[], None))
}

/// `POST /console/incidents/new`: with `action=preview`, `records::preview` (the exposure
/// with the checks of opening, nothing written); otherwise `records::open`, as
/// `POST /api/v1/incidents`.
pub async fn incident_create(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let f = NewForm::of(&form);
    let preview_only = form.get("action") == "preview";
    let actor = s.caller.user_id.clone();
    let outcome = match f.input() {
        Err(errors) => Err(AppError::Validation(errors)),
        Ok(input) if preview_only => db.read(move |conn| records::preview(conn, &actor, &input)).await.map(Err),
        Ok(input) => db.write(move |conn| records::open(conn, &actor, &input)).await.map(Ok),
    };
    let scopes = db.read(scopes).await?;
    match outcome {
        Ok(Ok(view)) => Ok(see_other(&format!("/console/incidents/{}?done=opened", view.id))),
        Ok(Err(exposure)) => Ok(new_page(&s, &scopes, &f, &[], Some(&exposure))),
        Err(AppError::Validation(errors)) => {
            Ok(with_status(new_page(&s, &scopes, &f, &errors, None), StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "opened" => "The incident is open; its clock runs from the discovery.",
        "saved" => "Saved.",
        "update" => "The status update was added.",
        "notified" => "The notice was queued to every affected participant.",
        _ => return None,
    })
}

/// The narrative and milestone form, as typed.
#[derive(Default)]
struct EditForm {
    title: String,
    nature: String,
    investigation: String,
    mitigation: String,
    contact: String,
    notified_at: String,
    reported_at: String,
    closed_at: String,
}

impl EditForm {
    fn of_view(v: &IncidentView) -> EditForm {
        let local = |t: &Option<String>| {
            t.as_deref().and_then(parse_rfc3339_ms).map(|ms| ms_to_local(&UTC, ms)).unwrap_or_default()
        };
        EditForm {
            title: v.title.clone(),
            // What staff typed when opening it is the report's section 1 until they write
            // the nature: shown there, so it does not seem lost.
            nature: v.nature.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| v.description.clone()),
            investigation: v.investigation.clone().unwrap_or_default(),
            mitigation: v.mitigation.clone().unwrap_or_default(),
            contact: v.contact.clone().unwrap_or_default(),
            notified_at: local(&v.notified_at),
            reported_at: local(&v.reported_at),
            closed_at: local(&v.closed_at),
        }
    }

    fn of(form: &Form) -> EditForm {
        EditForm {
            title: form.get("title"),
            nature: form.get("nature"),
            investigation: form.get("investigation"),
            mitigation: form.get("mitigation"),
            contact: form.get("contact"),
            notified_at: form.get("notified_at"),
            reported_at: form.get("reported_at"),
            closed_at: form.get("closed_at"),
        }
    }

    /// The API's patch: texts as typed, a milestone only when given (empty leaves it).
    fn patch(&self) -> Result<PatchIncident, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut time = |field: &str, v: &str| {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            match local_to_ms(&UTC, v) {
                Some(ms) => Some(ms_to_rfc3339(ms)),
                None => {
                    errors.push(FieldError::new(field, "must be a date and time"));
                    None
                }
            }
        };
        let notified_at = time("notified_at", &self.notified_at);
        let reported_at = time("reported_at", &self.reported_at);
        let closed_at = time("closed_at", &self.closed_at);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PatchIncident {
            title: Some(self.title.clone()),
            nature: Some(self.nature.clone()),
            investigation: Some(self.investigation.clone()),
            mitigation: Some(self.mitigation.clone()),
            contact: Some(self.contact.clone()),
            notified_at,
            reported_at,
            closed_at,
        })
    }
}

/// The update form, as typed.
#[derive(Default)]
struct UpdateForm([String; 5]);

const UPDATE_FIELDS: [(&str, &str); 5] = [
    ("perpetrators", "Perpetrators"),
    ("data_abused", "Data abused"),
    ("further_investigation", "Further investigation"),
    ("further_mitigation", "Further mitigation"),
    ("corrective_action", "Corrective action"),
];

/// The scope as staff read it: the event's or partner's name (a user stays an id).
fn scope_text(v: &IncidentView, scopes: &Scopes) -> String {
    let event = |id: &str| scopes.iter().find(|(e, _)| e.id == id).map(|(e, _)| e.name.clone());
    let partner = |id: &str| {
        scopes.iter().find_map(|(e, ps)| ps.iter().find(|p| p.id == id).map(|p| format!("{} ({})", p.name, e.name)))
    };
    match (&v.scope.event_id, &v.scope.partner_id, &v.scope.user_id) {
        (Some(e), _, _) => format!("every partner of {}", event(e).unwrap_or_else(|| e.clone())),
        (_, Some(p), _) => format!("partner {}", partner(p).unwrap_or_else(|| p.clone())),
        (_, _, Some(u)) => format!("user {u}"),
        _ => String::new(),
    }
}

fn incident_page(
    s: &SignedIn<AdminOnly>,
    v: &IncidentView,
    scope: &str,
    edit: &EditForm,
    update: &UpdateForm,
    errors: &[FieldError],
    done: Option<&str>,
) -> HttpResponse {
    let now = now_ms();
    let base = format!("/console/incidents/{}", v.id);
    let d = &v.deadlines;
    let err = |field: &str, label: &str| error_of(errors, field, label);
    let content = html! {
        h1 { (v.title) }
        @if let Some(m) = done_message(done) { p.notice role="status" { (m) } }
        @if !errors.is_empty() { p.alert role="alert" { "Please correct the marked fields." } }
        p { "Discovered " (at(&v.discovered_at)) ". Scope: " (scope) ". Window: " (at(&v.window.from)) " – " (at(&v.window.to)) "." }
        @if let Some(c) = &v.closed_at { p.notice { "Closed " (at(c)) "." } }
        h2 { "Deadlines" }
        div.cards {
            (deadline("Authority notified (24 h)", &d.notify_by, v.notified_at.as_deref(), now))
            (deadline("Report sent (48 h)", &d.report_by, v.reported_at.as_deref(), now))
            @if let Some(next) = &d.next_update_due { (deadline("Next daily update", next, None, now)) }
        }
        p { a href={ (base) "/report" } { "Read the report" } " · "
            a href={ (base) "/notice" } { "Participant notice" } " · "
            a href={ (base) "/affected.csv" } download { "Affected participants (CSV, recorded in the ledger)" } }
        h2 { "What the scope obtained" }
        (exposure_table(&v.exposure))
        h2 { "Narrative and milestones" }
        form method="post" action={ (base) "/edit" } novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            (input("title", "Title", "text", &edit.title, err("title", "The title")))
            (input("nature", "1. Nature of the incident", "textarea", &edit.nature, err("nature", "The nature")))
            (input("investigation", "4. Steps taken to investigate", "textarea", &edit.investigation, err("investigation", "The investigation")))
            (input("mitigation", "5. Steps taken to mitigate (also told to the participants in their notice)", "textarea", &edit.mitigation, err("mitigation", "The mitigation")))
            (input("contact", "6. Point of contact", "textarea", &edit.contact, err("contact", "The contact")))
            (input("notified_at", "Authority notified at (UTC)", "datetime-local", &edit.notified_at, err("notified_at", "The notification time")))
            (input("reported_at", "Report sent at (UTC)", "datetime-local", &edit.reported_at, err("reported_at", "The report time")))
            (input("closed_at", "Closed at (UTC)", "datetime-local", &edit.closed_at, err("closed_at", "The closing time")))
            button type="submit" { "Save" }
        }
        h2 { "Status updates" }
        @if v.updates.is_empty() { p { "None yet." } }
        @for (n, u) in v.updates.iter().enumerate() {
            section {
                h3 { "Update " (n + 1) " — " (at(&u.created_at)) }
                ul {
                    li { "Perpetrators: " (u.perpetrators) }
                    li { "Data abused: " (u.data_abused) }
                    li { "Further investigation: " (u.further_investigation) }
                    li { "Further mitigation: " (u.further_mitigation) }
                    li { "Corrective action: " (u.corrective_action) }
                }
            }
        }
        h3 { "Add an update" }
        form method="post" action={ (base) "/updates" } novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            @for ((name, label), value) in UPDATE_FIELDS.iter().zip(update.0.iter()) {
                (input(name, label, "textarea", value, err(name, label)))
            }
            button type="submit" { "Add the update" }
        }
        p { a href="/console/incidents" { "All incidents" } }
    };
    console_page(s, &v.title, "/console/incidents", content)
}

/// `GET /console/incidents/{incident_id}`: `records::view_by_id`, as `GET /api/v1/incidents/{id}`.
pub async fn incident_detail(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (v, scopes) = db.read(move |conn| Ok((records::view_by_id(conn, &id)?, scopes(conn)?))).await?;
    let scope = scope_text(&v, &scopes);
    Ok(incident_page(&s, &v, &scope, &EditForm::of_view(&v), &UpdateForm::default(), &[], query.done.as_deref()))
}

/// `POST /console/incidents/{incident_id}/edit`: `records::patch`, as `PATCH /api/v1/incidents/{id}`.
pub async fn incident_edit(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let edit = EditForm::of(&form);
    let rid = id.clone();
    let outcome = match edit.patch() {
        Ok(p) => db.write(move |conn| records::patch(conn, &rid, &p)).await,
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/console/incidents/{id}?done=saved"))),
        Err(AppError::Validation(errors)) => {
            let (v, scopes) = db.read(move |conn| Ok((records::view_by_id(conn, &id)?, scopes(conn)?))).await?;
            let scope = scope_text(&v, &scopes);
            let page = incident_page(&s, &v, &scope, &edit, &UpdateForm::default(), &errors, None);
            Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /console/incidents/{incident_id}/updates`: `records::add_update`, as
/// `POST /api/v1/incidents/{id}/updates`.
pub async fn incident_update(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let typed = UpdateForm(UPDATE_FIELDS.map(|(name, _)| form.get(name)));
    let [perpetrators, data_abused, further_investigation, further_mitigation, corrective_action] = typed.0.clone();
    let u = NewUpdate { perpetrators, data_abused, further_investigation, further_mitigation, corrective_action };
    let (actor, rid) = (s.caller.user_id.clone(), id.clone());
    match db.write(move |conn| records::add_update(conn, &actor, &rid, &u)).await {
        Ok(_) => Ok(see_other(&format!("/console/incidents/{id}?done=update"))),
        Err(AppError::Validation(errors)) => {
            let (v, scopes) = db.read(move |conn| Ok((records::view_by_id(conn, &id)?, scopes(conn)?))).await?;
            let scope = scope_text(&v, &scopes);
            let page = incident_page(&s, &v, &scope, &EditForm::of_view(&v), &typed, &errors, None);
            Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /console/incidents/{incident_id}/report`: `records::report_of`, as
/// `GET /api/v1/incidents/{id}/report`, on a page.
pub async fn incident_report(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let rid = id.clone();
    let r = db.read(move |conn| records::report_of(conn, &rid)).await?;
    let content = html! {
        h1 { "Incident report: " (r.title) }
        p { "Discovered " (at(&r.discovered_at)) ". Notify by " (at(&r.deadlines.notify_by))
            ". Report by " (at(&r.deadlines.report_by)) "." }
        @for sec in &r.sections {
            h2 { (sec.number) ". " (sec.title) }
            pre.report { (sec.body) }
        }
        @if !r.updates.is_empty() {
            h2 { "Status updates" }
            @for (n, u) in r.updates.iter().enumerate() {
                h3 { "Update " (n + 1) " — " (at(&u.created_at)) }
                ul {
                    li { "Perpetrators: " (u.perpetrators) }
                    li { "Data abused: " (u.data_abused) }
                    li { "Further investigation: " (u.further_investigation) }
                    li { "Further mitigation: " (u.further_mitigation) }
                    li { "Corrective action: " (u.corrective_action) }
                }
            }
        }
        p { a href={ "/console/incidents/" (id) "/report.md" } download { "Download as Markdown" } " · "
            a href={ "/console/incidents/" (id) } { "Back to the incident" } }
    };
    Ok(console_page(&s, &format!("Report: {}", r.title), "/console/incidents", content))
}

/// `GET /console/incidents/{incident_id}/report.md`: the API's Markdown report.
pub async fn incident_report_md(
    _s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let r = db.read(move |conn| records::report_of(conn, &id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"incident-report.md\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(records::markdown(&r)))
}

/// `GET /console/incidents/{incident_id}/affected.csv`: `records::affected_csv`, a staff
/// read written to the ledger, as `GET /api/v1/incidents/{id}/affected.csv`.
pub async fn incident_affected_csv(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let staff = s.caller.user_id.clone();
    let bytes = db.write(move |conn| records::affected_csv(conn, &staff, &id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"affected-participants.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}

fn notice_page(
    s: &SignedIn<AdminOnly>,
    id: &str,
    preview: Result<notice::NoticePreview, Vec<FieldError>>,
    sent: Option<&notice::NoticeSent>,
    conflict: Option<&str>,
) -> HttpResponse {
    let base = format!("/console/incidents/{id}");
    let content = html! {
        h1 { "Participant notice" }
        @if let Some(sent) = sent {
            p.notice role="status" { "The notice was queued to " (sent.queued) " participant" @if sent.queued != 1 { "s" } "." }
        }
        @if let Some(c) = conflict { p.alert role="alert" { (super::fields::sentence("", c)) } }
        @match &preview {
            Err(errors) => {
                p.alert role="alert" { "The notice cannot be written yet: " }
                ul { @for e in errors { li { (error_of(std::slice::from_ref(e), &e.field, &e.field).unwrap_or_default()) } } }
                p { "Fill in the nature of the incident and the point of contact on " a href=(base) { "the incident's page" } "." }
            }
            Ok(p) => {
                p { "It goes to " strong { (p.participants) " participant" @if p.participants != 1 { "s" } }
                    ", each listing only their own data and who received it." }
                @if let Some(at_) = &p.participants_notified_at { p.notice { "Sent " (at(at_)) "." } }
                @if let Some(sample) = &p.sample {
                    h2 { "As one participant receives it" }
                    p { strong { "Subject: " } (sample.subject) }
                    pre.report { (sample.text) }
                }
                @if p.participants_notified_at.is_none() && p.participants > 0 {
                    form method="post" action={ (base) "/notice" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button type="submit" { "Send the notice to " (p.participants) " participant" @if p.participants != 1 { "s" } }
                    }
                }
            }
        }
        p { a href=(base) { "Back to the incident" } }
    };
    console_page(s, "Participant notice", "/console/incidents", content)
}

/// `GET /console/incidents/{incident_id}/notice`: `notice::preview`, as
/// `GET /api/v1/incidents/{id}/participant-notice`.
pub async fn notice_preview(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let rid = id.clone();
    let preview = match db.read(move |conn| notice::preview(conn, &public_url, &rid)).await {
        Ok(p) => Ok(p),
        Err(AppError::Validation(errors)) => Err(errors),
        Err(other) => return Err(other),
    };
    let sent = query
        .done
        .as_deref()
        .and_then(|d| d.parse::<usize>().ok())
        .map(|queued| notice::NoticeSent { queued, participants_notified_at: String::new() });
    let res = notice_page(&s, &id, preview, sent.as_ref(), None);
    Ok(res)
}

/// `POST /console/incidents/{incident_id}/notice`: `notice::send`, as
/// `POST /api/v1/incidents/{id}/participant-notice` (once; 409 afterwards).
pub async fn notice_send(
    s: SignedIn<AdminOnly>,
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let id = path.into_inner();
    let form = Form::read(&req, payload).await?;
    form.check(&s)?;
    let (staff, rid, public) = (s.caller.user_id.clone(), id.clone(), public_url.clone());
    match db.write(move |conn| notice::send(conn, &badge_key, &public, &staff, &rid)).await {
        Ok(sent) => Ok(see_other(&format!("/console/incidents/{id}/notice?done={}", sent.queued))),
        Err(e @ (AppError::Conflict(_) | AppError::Validation(_))) => {
            let (status, conflict) = match &e {
                AppError::Conflict(m) => (StatusCode::CONFLICT, Some(m.clone())),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, None),
            };
            let rid = id.clone();
            let preview = match db.read(move |conn| notice::preview(conn, &public_url, &rid)).await {
                Ok(p) => Ok(p),
                Err(AppError::Validation(errors)) => Err(errors),
                Err(other) => return Err(other.into()),
            };
            Ok(with_status(notice_page(&s, &id, preview, None, conflict.as_deref()), status))
        }
        Err(other) => Err(other.into()),
    }
}
