//! An incident as staff handle it: opening, the narrative and milestones, daily updates,
//! the register, the written report and the affected list. Functions run inside the
//! caller's transaction.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Deadlines, Exposure, IncidentRow, UpdateRow, deadlines, exposure, find, updates};
use crate::csv_cells::csv_bytes;
use crate::db::schema::{incident_updates, incidents};
use crate::db::{DbConn, ms_to_rfc3339, new_id, now_ms, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::gate;
use crate::ledger::Channel;
use crate::paging::{Page, PageQuery};
use crate::text::clean_text;

const MAX_TEXT: usize = 20_000;

/// Exactly one of the three.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub partner_id: Option<String>,
    pub user_id: Option<String>,
    pub event_id: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// RFC 3339, inclusive.
    pub from: String,
    /// RFC 3339, inclusive.
    pub to: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    pub title: String,
    pub description: String,
    /// RFC 3339: the clock runs from here.
    pub discovered_at: String,
    pub scope: Scope,
    pub window: Window,
}

/// Narrative parts of the report and the clock's milestones.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PatchIncident {
    pub title: Option<String>,
    /// Section 1: the nature of the incident.
    pub nature: Option<String>,
    /// Section 4: steps taken to investigate.
    pub investigation: Option<String>,
    /// Section 5: steps taken to mitigate.
    pub mitigation: Option<String>,
    /// Section 6: point of contact.
    pub contact: Option<String>,
    /// RFC 3339: when the customer's security officer was notified.
    pub notified_at: Option<String>,
    /// RFC 3339: when the written report was delivered.
    pub reported_at: Option<String>,
    /// RFC 3339: investigation complete; daily updates stop.
    pub closed_at: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    pub perpetrators: String,
    pub data_abused: String,
    pub further_investigation: String,
    pub further_mitigation: String,
    pub corrective_action: String,
}

#[derive(Serialize, ToSchema)]
pub struct UpdateView {
    pub created_at: String,
    pub created_by: String,
    pub perpetrators: String,
    pub data_abused: String,
    pub further_investigation: String,
    pub further_mitigation: String,
    pub corrective_action: String,
}

impl From<UpdateRow> for UpdateView {
    fn from(u: UpdateRow) -> Self {
        UpdateView {
            created_at: ms_to_rfc3339(u.created_at),
            created_by: u.created_by,
            perpetrators: u.perpetrators,
            data_abused: u.data_abused,
            further_investigation: u.further_investigation,
            further_mitigation: u.further_mitigation,
            corrective_action: u.corrective_action,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub discovered_at: String,
    pub scope: Scope,
    pub window: Window,
    pub nature: Option<String>,
    pub investigation: Option<String>,
    pub mitigation: Option<String>,
    pub contact: Option<String>,
    pub notified_at: Option<String>,
    pub reported_at: Option<String>,
    pub closed_at: Option<String>,
    /// When the notice to the affected participants was queued; null until then.
    pub participants_notified_at: Option<String>,
    pub deadlines: Deadlines,
    pub exposure: Exposure,
    pub updates: Vec<UpdateView>,
}

pub fn view_by_id(conn: &mut DbConn, id: &str) -> AppResult<IncidentView> {
    let i = find(conn, id)?;
    view(conn, i)
}

fn view(conn: &mut DbConn, i: IncidentRow) -> AppResult<IncidentView> {
    let ups = updates(conn, &i.id)?;
    let (deadlines, _) = deadlines(&i, ups.last().map(|u| u.created_at), now_ms());
    let exposure = exposure(conn, &i)?;
    Ok(IncidentView {
        scope: Scope { partner_id: i.scope_partner_id, user_id: i.scope_user_id, event_id: i.scope_event_id },
        window: Window { from: ms_to_rfc3339(i.window_from), to: ms_to_rfc3339(i.window_to) },
        id: i.id,
        title: i.title,
        description: i.description,
        discovered_at: ms_to_rfc3339(i.discovered_at),
        nature: i.nature,
        investigation: i.investigation,
        mitigation: i.mitigation,
        contact: i.contact,
        notified_at: i.notified_at.map(ms_to_rfc3339),
        reported_at: i.reported_at.map(ms_to_rfc3339),
        closed_at: i.closed_at.map(ms_to_rfc3339),
        participants_notified_at: i.participants_notified_at.map(ms_to_rfc3339),
        deadlines,
        exposure,
        updates: ups.into_iter().map(Into::into).collect(),
    })
}

fn time_field(errors: &mut Vec<FieldError>, field: &str, value: &str) -> i64 {
    parse_rfc3339_ms(value).unwrap_or_else(|| {
        errors.push(FieldError::new(field, "must be an RFC 3339 date-time"));
        0
    })
}

/// The incident row `input` describes, checked as opening it checks it (fields, exactly
/// one scope, and that the scope exists); nothing is written.
fn checked_row(conn: &mut DbConn, actor: &str, input: &CreateIncident) -> AppResult<IncidentRow> {
    let mut errors = Vec::new();
    let title = clean_text(&mut errors, "title", &input.title, 200, false);
    if title.is_empty() {
        errors.push(FieldError::new("title", "is required"));
    }
    let description = clean_text(&mut errors, "description", &input.description, MAX_TEXT, true);
    let discovered_at = time_field(&mut errors, "discovered_at", &input.discovered_at);
    let from = time_field(&mut errors, "window.from", &input.window.from);
    let to = time_field(&mut errors, "window.to", &input.window.to);
    if to < from {
        errors.push(FieldError::new("window.to", "must not be before window.from"));
    }
    let s = &input.scope;
    let given = [s.partner_id.is_some(), s.user_id.is_some(), s.event_id.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        errors.push(FieldError::new("scope", "give exactly one of partner_id, user_id, event_id"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let row = IncidentRow {
        id: new_id(),
        title,
        description,
        discovered_at,
        scope_event_id: s.event_id.clone(),
        scope_partner_id: s.partner_id.clone(),
        scope_user_id: s.user_id.clone(),
        window_from: from,
        window_to: to,
        nature: None,
        investigation: None,
        mitigation: None,
        contact: None,
        notified_at: None,
        reported_at: None,
        closed_at: None,
        created_at: now_ms(),
        created_by: actor.to_string(),
        participants_notified_at: None,
    };
    let scope_exists = match (&row.scope_partner_id, &row.scope_user_id, &row.scope_event_id) {
        (Some(p), _, _) => crate::db::schema::partners::table.find(p).count().get_result::<i64>(conn)? > 0,
        (_, Some(u), _) => crate::db::schema::users::table.find(u).count().get_result::<i64>(conn)? > 0,
        (_, _, Some(e)) => crate::db::schema::events::table.find(e).count().get_result::<i64>(conn)? > 0,
        _ => false,
    };
    if !scope_exists {
        return Err(AppError::field("scope", "no such partner, user or event"));
    }
    Ok(row)
}

/// What an incident described by `input` would find its scope obtained in its window,
/// before it is opened (the console's scope preview): the same checks and the same
/// exposure as [`open`], nothing written.
pub fn preview(conn: &mut DbConn, actor: &str, input: &CreateIncident) -> AppResult<Exposure> {
    let row = checked_row(conn, actor, input)?;
    exposure(conn, &row)
}

/// Opens an incident for staff user `actor`; the answer already holds what the scope
/// obtained in the window.
pub fn open(conn: &mut DbConn, actor: &str, input: &CreateIncident) -> AppResult<IncidentView> {
    let row = checked_row(conn, actor, input)?;
    diesel::insert_into(incidents::table).values(&row).execute(conn)?;
    tracing::warn!(incident_id = %row.id, "incident opened");
    view(conn, row)
}

/// Enters the narrative sections and the clock's milestones.
pub fn patch(conn: &mut DbConn, id: &str, p: &PatchIncident) -> AppResult<IncidentView> {
    let mut errors = Vec::new();
    let text = |errors: &mut Vec<FieldError>, f: &str, v: &Option<String>| {
        v.as_deref().map(|v| clean_text(errors, f, v, MAX_TEXT, true))
    };
    let title = p.title.as_deref().map(|t| clean_text(&mut errors, "title", t, 200, false));
    let nature = text(&mut errors, "nature", &p.nature);
    let investigation = text(&mut errors, "investigation", &p.investigation);
    let mitigation = text(&mut errors, "mitigation", &p.mitigation);
    let contact = text(&mut errors, "contact", &p.contact);
    let notified = p.notified_at.as_deref().map(|v| time_field(&mut errors, "notified_at", v));
    let reported = p.reported_at.as_deref().map(|v| time_field(&mut errors, "reported_at", v));
    let closed = p.closed_at.as_deref().map(|v| time_field(&mut errors, "closed_at", v));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut i = find(conn, id)?;
    i.title = title.filter(|t| !t.is_empty()).unwrap_or(i.title);
    i.nature = nature.or(i.nature);
    i.investigation = investigation.or(i.investigation);
    i.mitigation = mitigation.or(i.mitigation);
    i.contact = contact.or(i.contact);
    i.notified_at = notified.or(i.notified_at);
    i.reported_at = reported.or(i.reported_at);
    i.closed_at = closed.or(i.closed_at);
    diesel::update(incidents::table.find(id))
        .set((
            incidents::title.eq(&i.title),
            incidents::nature.eq(&i.nature),
            incidents::investigation.eq(&i.investigation),
            incidents::mitigation.eq(&i.mitigation),
            incidents::contact.eq(&i.contact),
            incidents::notified_at.eq(i.notified_at),
            incidents::reported_at.eq(i.reported_at),
            incidents::closed_at.eq(i.closed_at),
        ))
        .execute(conn)?;
    view(conn, i)
}

/// Adds a daily status update (the five items of the promise) by staff user `actor`.
pub fn add_update(conn: &mut DbConn, actor: &str, id: &str, u: &NewUpdate) -> AppResult<IncidentView> {
    let mut errors = Vec::new();
    let mut field = |name: &str, v: &str| {
        let v = clean_text(&mut errors, name, v, MAX_TEXT, true);
        if v.is_empty() {
            errors.push(FieldError::new(name, "is required (write \"nothing new\" if so)"));
        }
        v
    };
    let row = UpdateRow {
        id: new_id(),
        incident_id: id.to_string(),
        created_at: now_ms(),
        created_by: actor.to_string(),
        perpetrators: field("perpetrators", &u.perpetrators),
        data_abused: field("data_abused", &u.data_abused),
        further_investigation: field("further_investigation", &u.further_investigation),
        further_mitigation: field("further_mitigation", &u.further_mitigation),
        corrective_action: field("corrective_action", &u.corrective_action),
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    find(conn, id)?;
    diesel::insert_into(incident_updates::table).values(&row).execute(conn)?;
    view_by_id(conn, id)
}

#[derive(Deserialize, IntoParams)]
pub struct IncidentQuery {
    /// `overdue`: incidents whose next deadline has passed.
    pub due: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: String,
    pub title: String,
    pub discovered_at: String,
    pub next_deadline: Option<String>,
    pub overdue: bool,
}

/// Incidents, newest first; `due = overdue` for those whose next deadline has passed.
pub fn list(conn: &mut DbConn, q: &IncidentQuery) -> AppResult<Page<IncidentSummary>> {
    let (page, per_page) = PageQuery { page: q.page, per_page: q.per_page }.resolve()?;
    let only_overdue = match q.due.as_deref() {
        None => false,
        Some("overdue") => true,
        Some(_) => return Err(AppError::field("due", "the only filter is `overdue`")),
    };
    // The deadline depends on updates and milestones; incidents are few, so it is computed
    // here rather than in SQL.
    let mut summaries = Vec::new();
    let rows: Vec<IncidentRow> =
        incidents::table.order(incidents::discovered_at.desc()).select(IncidentRow::as_select()).load(conn)?;
    let now = now_ms();
    for i in rows {
        let last = updates(conn, &i.id)?.last().map(|u| u.created_at);
        let (d, _) = deadlines(&i, last, now);
        if !only_overdue || d.overdue {
            summaries.push(IncidentSummary {
                id: i.id,
                title: i.title,
                discovered_at: ms_to_rfc3339(i.discovered_at),
                next_deadline: d.next_deadline,
                overdue: d.overdue,
            });
        }
    }
    let total = i64::try_from(summaries.len()).unwrap_or(i64::MAX);
    // `resolve` bounds both numbers above zero, so neither conversion falls back.
    let skip = usize::try_from((page - 1) * per_page).unwrap_or(usize::MAX);
    let items = summaries.into_iter().skip(skip).take(usize::try_from(per_page).unwrap_or(0)).collect();
    Ok(Page { items, total, page, per_page })
}

#[derive(Serialize, ToSchema)]
pub struct ReportSection {
    pub number: u8,
    pub title: &'static str,
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct Report {
    pub title: String,
    pub discovered_at: String,
    pub deadlines: Deadlines,
    pub sections: Vec<ReportSection>,
    pub updates: Vec<UpdateView>,
}

fn or_pending(v: &Option<String>) -> String {
    v.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "_Not yet entered._".to_string())
}

fn report(v: IncidentView) -> Report {
    let e = &v.exposure;
    let info = if e.records == 0 {
        "No contact data was released to the scope in the window, according to the disclosure ledger.".to_string()
    } else {
        format!(
            "Contact fields: {}. {} release record(s) concerning {} participant(s), through: {}. Source: the disclosure ledger, window {} to {}.",
            e.fields.join(", "),
            e.records,
            e.participants,
            join_channels(&e.channels),
            v.window.from,
            v.window.to
        )
    };
    let mut who = String::new();
    if e.recipients.is_empty() {
        who.push_str("Nobody in the scope obtained participant data in the window.");
    } else {
        who.push_str("| recipient | users | participants | records | fields | channels | first | last |\n|---|---|---|---|---|---|---|---|\n");
        for r in &e.recipients {
            who.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.partner_name.replace('|', "\\|"),
                r.user_ids.join(", "),
                r.participants,
                r.records,
                r.fields.join(", "),
                join_channels(&r.channels),
                r.first_at,
                r.last_at
            ));
        }
    }
    let nature = match &v.nature {
        Some(n) if !n.trim().is_empty() => n.clone(),
        _ => v.description.clone(),
    };
    Report {
        title: v.title.clone(),
        discovered_at: v.discovered_at.clone(),
        sections: vec![
            ReportSection { number: 1, title: "Nature of the incident", body: nature },
            ReportSection { number: 2, title: "Type of information involved", body: info },
            ReportSection { number: 3, title: "Who may have obtained it", body: who },
            ReportSection { number: 4, title: "Steps taken to investigate", body: or_pending(&v.investigation) },
            ReportSection { number: 5, title: "Steps taken to mitigate", body: or_pending(&v.mitigation) },
            ReportSection { number: 6, title: "Point of contact", body: or_pending(&v.contact) },
        ],
        deadlines: v.deadlines,
        updates: v.updates,
    }
}

pub fn markdown(r: &Report) -> String {
    let mut md = format!(
        "# Incident report: {}\n\nDiscovered: {}. Notify by: {}. Report by: {}.\n\n",
        r.title, r.discovered_at, r.deadlines.notify_by, r.deadlines.report_by
    );
    for s in &r.sections {
        md.push_str(&format!("## {}. {}\n\n{}\n\n", s.number, s.title, s.body.trim_end()));
    }
    if !r.updates.is_empty() {
        md.push_str("## Status updates\n\n");
        for (n, u) in r.updates.iter().enumerate() {
            md.push_str(&format!(
                "### Update {} — {}\n\n- Perpetrators: {}\n- Data abused: {}\n- Further investigation: {}\n- Further mitigation: {}\n- Corrective action: {}\n\n",
                n + 1,
                u.created_at,
                u.perpetrators,
                u.data_abused,
                u.further_investigation,
                u.further_mitigation,
                u.corrective_action
            ));
        }
    }
    md
}

#[derive(Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `markdown` (default) or `json`.
    #[param(pattern = "^(markdown|json)$")]
    pub format: Option<String>,
}

/// The written report of one incident: six sections in the promised order, then the
/// status updates.
pub fn report_of(conn: &mut DbConn, id: &str) -> AppResult<Report> {
    Ok(report(view_by_id(conn, id)?))
}

/// The affected participants with contact details, for the operator to inform them: a
/// staff read through the gate (basis `incident_notification`), ledgered.
pub fn affected_csv(conn: &mut DbConn, staff: &str, id: &str) -> AppResult<Vec<u8>> {
    let i = find(conn, id)?;
    let e = exposure(conn, &i)?;
    let people = gate::staff_read(conn, staff, gate::StaffSelection::Affected(&e.participant_ids))?;
    let header = ["attendee_id", "name", "email", "company", "phone", "address"].map(String::from).to_vec();
    let records = std::iter::once(header).chain(people.records.into_iter().map(|a| {
        vec![
            a.attendee_id,
            a.contact.name.unwrap_or_default(),
            a.contact.email.unwrap_or_default(),
            a.contact.company.unwrap_or_default(),
            a.contact.phone.unwrap_or_default(),
            a.contact.address.unwrap_or_default(),
        ]
    }));
    csv_bytes(records)
}

fn join_channels(channels: &[Channel]) -> String {
    channels.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}
