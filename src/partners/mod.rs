//! Partners (exhibitors, sponsors) of one event.

pub mod handlers;
pub mod users;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::partners;
use crate::db::{DbConn, new_id, now_ms};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;
use crate::paging::{Page, PageQuery};
use crate::text::clean_text;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = partners)]
pub struct PartnerRow {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub leads_suspended: bool,
    pub created_at: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartner {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PartnerView {
    pub id: String,
    pub name: String,
}

/// A partner of the given event, or 404 (a partner of another event does not exist here).
pub fn find_in_event(conn: &mut DbConn, event_id: &str, partner_id: &str) -> AppResult<PartnerRow> {
    partners::table
        .find(partner_id)
        .filter(partners::event_id.eq(event_id))
        .select(PartnerRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

pub fn list_for_event(conn: &mut DbConn, event_id: &str) -> AppResult<Vec<PartnerRow>> {
    Ok(partners::table
        .filter(partners::event_id.eq(event_id))
        .order((partners::name, partners::id))
        .select(PartnerRow::as_select())
        .load(conn)?)
}

/// Adds a partner to an event.
pub fn create(conn: &mut DbConn, event_id: &str, input: &CreatePartner) -> AppResult<PartnerRow> {
    let mut errors = Vec::new();
    let name = clean_text(&mut errors, "name", &input.name, 200, false);
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    events::find(conn, event_id)?;
    let row =
        PartnerRow { id: new_id(), event_id: event_id.to_string(), name, leads_suspended: false, created_at: now_ms() };
    diesel::insert_into(partners::table).values(&row).execute(conn)?;
    Ok(row)
}

/// Renames a partner of an event (the console's partner form); the name is checked as at
/// creation.
pub fn rename(conn: &mut DbConn, event_id: &str, partner_id: &str, input: &CreatePartner) -> AppResult<PartnerRow> {
    let mut errors = Vec::new();
    let name = clean_text(&mut errors, "name", &input.name, 200, false);
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    find_in_event(conn, event_id, partner_id)?;
    diesel::update(partners::table.find(partner_id)).set(partners::name.eq(&name)).execute(conn)?;
    find_in_event(conn, event_id, partner_id)
}

/// A page of an event's partners, by name.
pub fn list(conn: &mut DbConn, event_id: &str, paging: &PageQuery) -> AppResult<Page<PartnerView>> {
    let (page, per_page) = paging.resolve()?;
    events::find(conn, event_id)?;
    let total: i64 = partners::table.filter(partners::event_id.eq(event_id)).count().get_result(conn)?;
    let rows: Vec<PartnerRow> = partners::table
        .filter(partners::event_id.eq(event_id))
        .order((partners::name, partners::id))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(PartnerRow::as_select())
        .load(conn)?;
    let items = rows.into_iter().map(|r| PartnerView { id: r.id, name: r.name }).collect();
    Ok(Page { items, total, page, per_page })
}

/// An event by its public slug, with its partners (the registration form's opt-in list).
pub fn event_with_partners(conn: &mut DbConn, slug: &str) -> AppResult<(crate::events::EventRow, Vec<PartnerRow>)> {
    let event = crate::events::find_by_slug(conn, slug)?;
    let partners = list_for_event(conn, &event.id)?;
    Ok((event, partners))
}
