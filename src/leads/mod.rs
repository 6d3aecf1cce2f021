//! A partner's leads through the API: only its own, contact fields only through the gate,
//! which also decides by the caller's role which fields leave.

use std::collections::HashMap;

use actix_web::{get, web};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{AnyPartner, Auth};
use crate::db::ms_to_rfc3339;
use crate::db::schema::leads;
use crate::error::{AppError, AppResult, Problem};
use crate::gate::{self, Channel, Contact, Selection};
use crate::http::{Page, PageQuery};
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

/// The caller's partner's leads, newest first (partner admin or scanner). A scanner gets
/// name and company only, as on the scan card; a partner admin the event's released fields.
#[utoipa::path(tag = "leads", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<LeadView>)))]
#[get("/leads")]
pub async fn list_leads(
    state: web::Data<AppState>,
    auth: Auth<AnyPartner>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<LeadView>>> {
    let scope = auth.caller.partner_scope()?;
    let (page, per_page) = query.resolve()?;
    let (rows, releases, total) = state
        .db
        .write(move |conn| {
            let total: i64 = leads::table.filter(leads::partner_id.eq(&scope.partner_id)).count().get_result(conn)?;
            let rows: Vec<LeadRow> = leads::table
                .filter(leads::partner_id.eq(&scope.partner_id))
                .order((leads::first_scanned_at.desc(), leads::id))
                .limit(per_page)
                .offset((page - 1) * per_page)
                .select(LeadRow::as_select())
                .load(conn)?;
            let ids: Vec<String> = rows.iter().map(|l| l.attendee_id.clone()).collect();
            let releases = gate::release(conn, &scope, Channel::Api, Selection::Many(&ids), None)?;
            Ok((rows, releases, total))
        })
        .await?;
    let mut by_attendee: HashMap<String, gate::Release> =
        releases.into_iter().map(|r| (r.attendee_id.clone(), r)).collect();
    let items = rows
        .into_iter()
        .map(|l| {
            let release = by_attendee.remove(&l.attendee_id);
            view(l, release)
        })
        .collect();
    Ok(web::Json(Page { items, total, page, per_page }))
}

/// One lead of the caller's partner; another partner's lead id is a 404. Contact fields as
/// for the list: name and company for a scanner.
#[utoipa::path(tag = "leads", security(("bearer" = [])), responses((status = 200, body = LeadView), (status = 404, body = Problem)))]
#[get("/leads/{lead_id}")]
pub async fn get_lead(
    state: web::Data<AppState>,
    auth: Auth<AnyPartner>,
    path: web::Path<String>,
) -> AppResult<web::Json<LeadView>> {
    let scope = auth.caller.partner_scope()?;
    let lead_id = path.into_inner();
    let (lead, release) = state
        .db
        .write(move |conn| {
            let lead: LeadRow = leads::table
                .find(&lead_id)
                .filter(leads::partner_id.eq(&scope.partner_id))
                .select(LeadRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)?;
            let release = gate::release(conn, &scope, Channel::Api, Selection::One(&lead.attendee_id), None)?;
            Ok((lead, release.into_iter().next()))
        })
        .await?;
    Ok(web::Json(view(lead, release)))
}

pub fn routes(cfg: &mut ServiceConfig) {
    // The export route is registered first: `/leads/{lead_id}` would otherwise take it.
    crate::exports::routes(cfg);
    cfg.service(list_leads).service(get_lead);
}
