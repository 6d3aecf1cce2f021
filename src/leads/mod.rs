//! A partner's leads through the API: only its own, contact fields only through the gate,
//! which also decides by the caller's role which fields leave.

use std::collections::HashMap;

pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::PartnerScope;
use crate::contact::Contact;
use crate::db::schema::{attendees, leads, scans};
use crate::db::{DbConn, ms_to_rfc3339, now_ms, text_enum};
use crate::error::{AppError, AppResult, FieldError};
use crate::gate::{self, Channel, Selection};
use crate::paging::{Page, PageQuery};
use crate::scans::LeadRow;
use crate::scans::notes::{self as scan_notes, ScanNote};

#[derive(Serialize, ToSchema)]
pub struct ContactView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        ContactView { name: c.name, company: c.company, address: c.address, phone: c.phone, email: c.email }
    }
}

/// One scan's note, rating and answers on a lead, under its scanner.
#[derive(Serialize, ToSchema)]
pub struct ScanNoteView {
    /// The scanner's e-mail.
    pub by: String,
    /// RFC 3339: the scan's `scanned_at`.
    pub at: String,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub answers: Option<std::collections::BTreeMap<String, String>>,
}

impl From<ScanNote> for ScanNoteView {
    fn from(n: ScanNote) -> Self {
        ScanNoteView { by: n.by, at: ms_to_rfc3339(n.scanned_at), notes: n.notes, rating: n.rating, answers: n.answers }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LeadView {
    pub lead_id: String,
    pub first_scanned_at: String,
    pub last_scanned_at: String,
    /// The partner admin's own note (`PATCH`); scans never change it.
    pub notes: Option<String>,
    /// The partner admin's own rating (`PATCH`).
    pub rating: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Value>,
    /// Each scan's own note, rating and answers, oldest scan first; only scans that carry
    /// one of them.
    pub scan_notes: Vec<ScanNoteView>,
    /// `scan` or `opt_in+scan` when contact data is released; null otherwise.
    #[schema(value_type = Option<String>)]
    pub basis: Option<gate::Basis>,
    /// Null when the participant withdrew for this partner or was erased.
    pub contact: Option<ContactView>,
}

fn view(lead: LeadRow, release: Option<gate::Release>, notes: Vec<ScanNote>) -> LeadView {
    LeadView {
        scan_notes: notes.into_iter().map(Into::into).collect(),
        lead_id: lead.id,
        first_scanned_at: ms_to_rfc3339(lead.first_scanned_at),
        last_scanned_at: ms_to_rfc3339(lead.last_scanned_at),
        notes: lead.notes,
        rating: lead.rating,
        answers: lead.answers.as_deref().and_then(|a| serde_json::from_str(a).ok()),
        basis: release.as_ref().map(|r| r.basis),
        contact: release.map(|r| r.contact.into()),
    }
}

text_enum! {
    /// What a lead list can be narrowed to by what the gate releases now.
    pub enum BasisFilter {
        /// Released on the strength of the partner's scan alone.
        Scan = "scan",
        /// Released with an opt-in as well as a scan.
        OptInScan = "opt_in+scan",
        /// Nothing released: the participant withdrew or was erased.
        Withdrawn = "none",
    }
}

/// `?basis=&rating=&from=&to=&q=&mine=` of the lead list: all optional, all typed text as
/// a browser form or a query string sends it, checked by [`LeadFilter::parse`].
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct LeadQuery {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1–500, default 50).
    pub per_page: Option<i64>,
    /// `scan`, `opt_in+scan` or `none`.
    pub basis: Option<String>,
    /// 0–5: leads rated exactly so, by the partner admin or on any of the partner's scans.
    pub rating: Option<String>,
    /// `YYYY-MM-DD`, first scan on or after that day, in the event's time zone.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, first scan on or before that day, in the event's time zone.
    pub to: Option<String>,
    /// Text searched in the notes and in the contact fields the caller may receive.
    pub q: Option<String>,
    /// `true`: only leads first scanned by the caller.
    pub mine: Option<String>,
}

/// A checked [`LeadQuery`].
#[derive(Debug, Default, Clone)]
pub struct LeadFilter {
    pub basis: Option<BasisFilter>,
    pub rating: Option<i32>,
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
    pub q: Option<String>,
    pub mine: bool,
    pub paging: PageQuery,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl LeadFilter {
    /// Every field error at once, each naming its parameter.
    pub fn parse(q: &LeadQuery) -> AppResult<LeadFilter> {
        let mut errors = Vec::new();
        let basis = blank(&q.basis).and_then(|b| match b.parse::<BasisFilter>() {
            Ok(b) => Some(b),
            Err(_) => {
                errors.push(FieldError::new("basis", "must be scan, opt_in+scan or none"));
                None
            }
        });
        let rating = blank(&q.rating).and_then(|r| match r.parse::<i32>() {
            Ok(r @ 0..=5) => Some(r),
            _ => {
                errors.push(FieldError::new("rating", "must be a whole number from 0 to 5"));
                None
            }
        });
        let mut date = |field: &str, v: &Option<String>| {
            blank(v).and_then(|d| match d.parse::<jiff::civil::Date>() {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(field, "must be a date as YYYY-MM-DD"));
                    None
                }
            })
        };
        let from = date("from", &q.from);
        let to = date("to", &q.to);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.push(FieldError::new("to", "must not be before the start date"));
        }
        let search = blank(&q.q).map(str::to_string);
        if let Some(s) = &search {
            errors.extend(crate::text::check_text("q", s, crate::text::TextKind::SingleLine).err());
            if s.chars().count() > 200 {
                errors.push(FieldError::new("q", "must be at most 200 characters"));
            }
        }
        let mine = match blank(&q.mine) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                errors.push(FieldError::new("mine", "must be true or false"));
                false
            }
        };
        let paging = PageQuery { page: q.page, per_page: q.per_page };
        if let Err(AppError::Validation(e)) = paging.resolve() {
            errors.extend(e);
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(LeadFilter { basis, rating, from, to, q: search, mine, paging })
    }
}

/// The first instant of `date` in the event's zone, as ms.
fn day_start(event: &crate::events::EventRow, date: jiff::civil::Date) -> AppResult<i64> {
    let zoned = date
        .to_zoned_datetime(event.zone())
        .map_err(|_| AppError::field("from", "is not a day in the event's zone"))?;
    Ok(zoned.timestamp().as_millisecond())
}

/// The partner's leads, newest first, narrowed by `filter`, with what the gate releases
/// of each (ledgered: only the page shown is released).
pub fn list(conn: &mut DbConn, scope: &PartnerScope, filter: &LeadFilter) -> AppResult<Page<LeadView>> {
    let (page, per_page) = filter.paging.resolve()?;
    let event = crate::events::find(conn, &scope.event_id)?;
    let from = filter.from.map(|d| day_start(&event, d)).transpose()?;
    let until = match filter.to {
        Some(d) => Some(day_start(&event, d.tomorrow().map_err(|_| AppError::field("to", "is out of range"))?)?),
        None => None,
    };
    // The lead-column filters, built afresh for the count and for the rows.
    let query = || {
        let mut q = leads::table.filter(leads::partner_id.eq(&scope.partner_id)).into_boxed();
        if let Some(r) = filter.rating {
            let rated_on_a_scan = scans::table
                .filter(scans::partner_id.eq(&scope.partner_id))
                .filter(scans::rating.eq(r))
                .select(scans::attendee_id);
            q = q.filter(leads::rating.eq(r).or(leads::attendee_id.eq_any(rated_on_a_scan)));
        }
        if let Some(f) = from {
            q = q.filter(leads::first_scanned_at.ge(f));
        }
        if let Some(u) = until {
            q = q.filter(leads::first_scanned_at.lt(u));
        }
        if filter.mine {
            q = q.filter(leads::first_scanned_by.eq(&scope.user_id));
        }
        q
    };
    // Basis and contact search need the gate's verdict per lead: the ids are narrowed in
    // memory (a partner's leads, not the event's participants), then one page is released.
    let rows: Vec<LeadRow> = if filter.basis.is_some() || filter.q.is_some() {
        let all: Vec<LeadRow> =
            query().order((leads::first_scanned_at.desc(), leads::id)).select(LeadRow::as_select()).load(conn)?;
        let ids: Vec<String> = all.iter().map(|l| l.attendee_id.clone()).collect();
        let allowed = gate::matching(conn, scope, Channel::Api, &ids, None)?;
        let hits = match &filter.q {
            Some(q) => gate::matching(conn, scope, Channel::Api, &ids, Some(q))?,
            None => Default::default(),
        };
        let needle = filter.q.as_deref().map(str::to_lowercase);
        let noted = match &needle {
            Some(n) => scan_notes::matching(conn, &scope.partner_id, n)?,
            None => Default::default(),
        };
        all.into_iter()
            .filter(|l| match filter.basis {
                None => true,
                Some(BasisFilter::Withdrawn) => !allowed.contains_key(&l.attendee_id),
                Some(BasisFilter::Scan) => allowed.get(&l.attendee_id) == Some(&gate::Basis::Scan),
                Some(BasisFilter::OptInScan) => allowed.get(&l.attendee_id) == Some(&gate::Basis::OptInScan),
            })
            .filter(|l| match &needle {
                None => true,
                Some(n) => {
                    hits.contains_key(&l.attendee_id)
                        || noted.contains(&l.attendee_id)
                        || l.notes.as_deref().is_some_and(|t| t.to_lowercase().contains(n.as_str()))
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let (total, rows) = if filter.basis.is_some() || filter.q.is_some() {
        let total = i64::try_from(rows.len()).map_err(AppError::internal)?;
        let skip = usize::try_from((page - 1) * per_page).map_err(AppError::internal)?;
        let take = usize::try_from(per_page).map_err(AppError::internal)?;
        (total, rows.into_iter().skip(skip).take(take).collect::<Vec<_>>())
    } else {
        let total: i64 = query().count().get_result(conn)?;
        let rows: Vec<LeadRow> = query()
            .order((leads::first_scanned_at.desc(), leads::id))
            .limit(per_page)
            .offset((page - 1) * per_page)
            .select(LeadRow::as_select())
            .load(conn)?;
        (total, rows)
    };
    let ids: Vec<String> = rows.iter().map(|l| l.attendee_id.clone()).collect();
    let releases = gate::release(conn, scope, Channel::Api, Selection::Many(&ids), None)?;
    let mut by_attendee: HashMap<String, gate::Release> =
        releases.into_iter().map(|r| (r.attendee_id.clone(), r)).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut notes = scan_notes::for_leads(conn, &scope.partner_id, &id_refs)?;
    let items = rows
        .into_iter()
        .map(|l| {
            let release = by_attendee.remove(&l.attendee_id);
            let notes = notes.remove(&l.attendee_id).unwrap_or_default();
            view(l, release, notes)
        })
        .collect();
    Ok(Page { items, total, page, per_page })
}

/// A partner admin's change to a lead: notes (empty clears them) and rating (0–5).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadUpdate {
    /// Replaces the notes; an empty text clears them.
    pub notes: Option<String>,
    /// 0–5.
    pub rating: Option<i64>,
}

/// Changes a lead's notes and rating, the admin's own (the note keeps who wrote it and
/// when); answers the lead as [`get`] does (released and ledgered like any read). Another
/// partner's lead does not exist here, nor does an erased participant's: nothing new is
/// kept about them.
pub fn update(conn: &mut DbConn, scope: &PartnerScope, lead_id: &str, input: &LeadUpdate) -> AppResult<LeadView> {
    let mut errors = Vec::new();
    let notes = input.notes.as_deref().map(|n| {
        errors.extend(crate::text::check_text("notes", n, crate::text::TextKind::MultiLine).err());
        if n.trim().chars().count() > crate::scans::MAX_NOTES {
            errors.push(FieldError::new("notes", format!("must be at most {} characters", crate::scans::MAX_NOTES)));
        }
        Some(n.trim().to_string()).filter(|n| !n.is_empty())
    });
    let rating = match input.rating {
        None => None,
        Some(r @ 0..=5) => i32::try_from(r).ok(),
        Some(_) => {
            errors.push(FieldError::new("rating", "must be between 0 and 5"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let exists: i64 = leads::table
        .inner_join(attendees::table.on(attendees::id.eq(leads::attendee_id)))
        .filter(leads::id.eq(lead_id))
        .filter(leads::partner_id.eq(&scope.partner_id))
        .filter(attendees::erased_at.is_null())
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Err(AppError::NotFound);
    }
    let target = leads::table.find(lead_id).filter(leads::partner_id.eq(&scope.partner_id));
    if let Some(notes) = notes {
        let now = now_ms();
        let by = notes.as_ref().map(|_| scope.user_id.clone());
        let at = notes.as_ref().map(|_| now);
        diesel::update(target)
            .set((leads::notes.eq(notes), leads::notes_by.eq(by), leads::notes_at.eq(at), leads::updated_at.eq(now)))
            .execute(conn)?;
    }
    if let Some(rating) = rating {
        diesel::update(target).set((leads::rating.eq(rating), leads::updated_at.eq(now_ms()))).execute(conn)?;
    }
    get(conn, scope, lead_id)
}

/// Scans the partner recorded, counted per hour of the event's local time, oldest first;
/// hours without a scan between the first and the last are listed with 0. No contact data.
pub fn scans_per_hour(conn: &mut DbConn, scope: &PartnerScope) -> AppResult<Vec<(String, i64)>> {
    use crate::db::schema::scans;
    let event = crate::events::find(conn, &scope.event_id)?;
    let times: Vec<i64> = scans::table
        .filter(scans::partner_id.eq(&scope.partner_id))
        .select(scans::scanned_at)
        .order(scans::scanned_at)
        .load(conn)?;
    let zone = event.zone();
    let mut hours: Vec<(jiff::civil::DateTime, i64)> = Vec::new();
    for ms in times {
        let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else { continue };
        let local = ts.to_zoned_datetime(zone.clone()).datetime();
        let hour = local.date().at(local.hour(), 0, 0, 0);
        match hours.last_mut() {
            Some((h, n)) if *h == hour => *n += 1,
            _ => {
                // Fill the hours between with zeros, so the chart's axis is time (capped:
                // a stray scan weeks apart must not make thousands of bars).
                if let Some((last, _)) = hours.last().copied() {
                    let mut next = last.checked_add(jiff::Span::new().hours(1)).ok();
                    let mut filled = 0;
                    while let Some(n) = next
                        && n < hour
                        && filled < 48
                    {
                        hours.push((n, 0));
                        filled += 1;
                        next = n.checked_add(jiff::Span::new().hours(1)).ok();
                    }
                }
                hours.push((hour, 1));
            }
        }
    }
    Ok(hours.into_iter().map(|(h, n)| (h.strftime("%Y-%m-%d %H:00").to_string(), n)).collect())
}

/// One lead of the partner; another partner's lead id does not exist here.
pub fn get(conn: &mut DbConn, scope: &PartnerScope, lead_id: &str) -> AppResult<LeadView> {
    let lead: LeadRow = leads::table
        .find(lead_id)
        .filter(leads::partner_id.eq(&scope.partner_id))
        .select(LeadRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    let release = gate::release(conn, scope, Channel::Api, Selection::One(&lead.attendee_id), None)?;
    let notes = scan_notes::for_leads(conn, &scope.partner_id, &[lead.attendee_id.as_str()])?
        .remove(&lead.attendee_id)
        .unwrap_or_default();
    Ok(view(lead, release.into_iter().next(), notes))
}
