//! The staff console's per-event dashboard: counts and the clocks staff watch. Only
//! numbers and ids: no contact field is read here, so nothing needs ledgering. Requests and
//! incidents are the API's admin-only registers; the caller says whether to include them.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::EventRow;
use crate::db::DbConn;
use crate::db::schema::{attendees, deletion_notices, incidents, leads, scans};
use crate::error::AppResult;
use crate::incidents::{IncidentRow, deadlines, updates};
use crate::paging::MAX_PER_PAGE;
use crate::rights::requests::{self, RequestQuery, RequestView};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct PartnerLeads {
    pub partner_id: String,
    pub name: String,
    pub leads: i64,
}

pub struct OpenIncident {
    pub id: String,
    pub title: String,
    pub next_deadline: Option<String>,
    pub overdue: bool,
}

pub struct Dashboard {
    pub event: EventRow,
    /// Participants not erased.
    pub registrations: i64,
    pub scans_today: i64,
    /// The event's local day the count covers, `YYYY-MM-DD`.
    pub today: String,
    pub leads_per_partner: Vec<PartnerLeads>,
    /// `None` when the caller may not read the request register.
    pub overdue_requests: Option<Vec<RequestView>>,
    /// `None` when the caller may not read incidents. Open ones scoped to this event or to
    /// no event.
    pub open_incidents: Option<Vec<OpenIncident>>,
    /// Messages of the event the worker gave up on that no later message replaced.
    pub failed_mail: i64,
    /// Deletion notices partners left unacknowledged for more than 7 days.
    pub overdue_notices: i64,
}

/// The dashboard of one event at `now`; "today" is the event's local day.
pub fn dashboard(conn: &mut DbConn, event_id: &str, admin_registers: bool, now: i64) -> AppResult<Dashboard> {
    let event = super::find(conn, event_id)?;
    let registrations: i64 = attendees::table
        .filter(attendees::event_id.eq(event_id))
        .filter(attendees::erased_at.is_null())
        .filter(crate::db::settled::settled())
        .select(count_star())
        .first(conn)?;
    let utc_day = now.div_euclid(DAY_MS) * DAY_MS;
    let (day_start, day_end, today) = event
        .local_day(now)
        .unwrap_or_else(|| (utc_day, utc_day + DAY_MS, crate::db::ms_to_rfc3339(utc_day).chars().take(10).collect()));
    let scans_today: i64 = scans::table
        .filter(scans::event_id.eq(event_id))
        .filter(scans::scanned_at.ge(day_start))
        .filter(scans::scanned_at.lt(day_end))
        .select(count_star())
        .first(conn)?;
    // An erased participant's lead stays as a skeleton for the ledger's history; it is no
    // longer a lead anyone can use.
    let counts: Vec<(String, i64)> = leads::table
        .inner_join(attendees::table.on(attendees::id.eq(leads::attendee_id)))
        .filter(leads::event_id.eq(event_id))
        .filter(attendees::erased_at.is_null())
        .group_by(leads::partner_id)
        .select((leads::partner_id, count_star()))
        .load(conn)?;
    let leads_per_partner = crate::partners::list_for_event(conn, event_id)?
        .into_iter()
        .map(|p| PartnerLeads {
            leads: counts.iter().find(|(id, _)| *id == p.id).map_or(0, |(_, n)| *n),
            partner_id: p.id,
            name: p.name,
        })
        .collect();
    let overdue_requests = if admin_registers {
        // The register's own "overdue" filter, so the rule stays in one place.
        let q = RequestQuery { status: Some("overdue".into()), page: Some(1), per_page: Some(MAX_PER_PAGE) };
        Some(requests::list(conn, &q)?.items.into_iter().filter(|r| r.event_id == event_id).collect())
    } else {
        None
    };
    let open_incidents = if admin_registers {
        let rows: Vec<IncidentRow> = incidents::table
            .filter(incidents::closed_at.is_null())
            .filter(incidents::scope_event_id.eq(event_id).or(incidents::scope_event_id.is_null()))
            .order(incidents::discovered_at.desc())
            .select(IncidentRow::as_select())
            .load(conn)?;
        let mut open = Vec::with_capacity(rows.len());
        for i in rows {
            let last = updates(conn, &i.id)?.last().map(|u| u.created_at);
            let (d, _) = deadlines(&i, last, now);
            open.push(OpenIncident { id: i.id, title: i.title, next_deadline: d.next_deadline, overdue: d.overdue });
        }
        Some(open)
    } else {
        None
    };
    let failed_mail = crate::mail::failed_unreplaced(conn, event_id)?;
    let overdue_notices: i64 = deletion_notices::table
        .filter(deletion_notices::event_id.eq(event_id))
        .filter(deletion_notices::acknowledged_at.is_null())
        .filter(deletion_notices::created_at.lt(now - crate::notices::OVERDUE_AFTER_MS))
        .select(count_star())
        .first(conn)?;
    Ok(Dashboard {
        event,
        registrations,
        scans_today,
        today,
        leads_per_partner,
        overdue_requests,
        open_incidents,
        failed_mail,
        overdue_notices,
    })
}
