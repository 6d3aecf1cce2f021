//! A partner's leads through the API: only its own, contact fields only through the gate,
//! which also decides by the caller's role which fields leave.

use std::collections::HashMap;

pub mod handlers;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::PartnerScope;
use crate::contact::Contact;
use crate::db::schema::leads;
use crate::db::{DbConn, ms_to_rfc3339};
use crate::error::{AppError, AppResult};
use crate::gate::{self, Channel, Selection};
use crate::paging::{Page, PageQuery};
use crate::scans::LeadRow;

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

#[derive(Serialize, ToSchema)]
pub struct LeadView {
    pub lead_id: String,
    pub first_scanned_at: String,
    pub last_scanned_at: String,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub answers: Option<serde_json::Value>,
    /// `scan` or `opt_in+scan` when contact data is released; null otherwise.
    #[schema(value_type = Option<String>)]
    pub basis: Option<gate::Basis>,
    /// Null when the participant withdrew for this partner or was erased.
    pub contact: Option<ContactView>,
}

fn view(lead: LeadRow, release: Option<gate::Release>) -> LeadView {
    LeadView {
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

/// The partner's leads, newest first, with what the gate releases of each (ledgered).
pub fn list(conn: &mut DbConn, scope: &PartnerScope, paging: &PageQuery) -> AppResult<Page<LeadView>> {
    let (page, per_page) = paging.resolve()?;
    let total: i64 = leads::table.filter(leads::partner_id.eq(&scope.partner_id)).count().get_result(conn)?;
    let rows: Vec<LeadRow> = leads::table
        .filter(leads::partner_id.eq(&scope.partner_id))
        .order((leads::first_scanned_at.desc(), leads::id))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(LeadRow::as_select())
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|l| l.attendee_id.clone()).collect();
    let releases = gate::release(conn, scope, Channel::Api, Selection::Many(&ids), None)?;
    let mut by_attendee: HashMap<String, gate::Release> =
        releases.into_iter().map(|r| (r.attendee_id.clone(), r)).collect();
    let items = rows
        .into_iter()
        .map(|l| {
            let release = by_attendee.remove(&l.attendee_id);
            view(l, release)
        })
        .collect();
    Ok(Page { items, total, page, per_page })
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
    Ok(view(lead, release.into_iter().next()))
}
