//! Partners (exhibitors, sponsors) of one event.

pub mod users;

use actix_web::{HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{AdminOnly, Auth, Registration};
use crate::db::schema::partners;
use crate::db::{DbConn, new_id, now_ms};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::events::{self, clean_text};
use crate::http::{ApiJson, Page, PageQuery};

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

/// Add a partner to an event (admin).
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = CreatePartner,
    responses((status = 201, body = PartnerView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/partners")]
pub async fn create_partner(
    state: web::Data<AppState>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
    body: ApiJson<CreatePartner>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let mut errors = Vec::new();
    let name = clean_text(&mut errors, "name", &body.0.name, 200, false);
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let row = state
        .db
        .write(move |conn| {
            events::find(conn, &event_id)?;
            let row = PartnerRow { id: new_id(), event_id, name, leads_suspended: false, created_at: now_ms() };
            diesel::insert_into(partners::table).values(&row).execute(conn)?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(PartnerView { id: row.id, name: row.name }))
}

/// List an event's partners (staff).
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<PartnerView>), (status = 404, body = Problem)))]
#[get("/events/{event_id}/partners")]
pub async fn list_partners(
    state: web::Data<AppState>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<PartnerView>>> {
    let (page, per_page) = query.resolve()?;
    let event_id = path.into_inner();
    let (rows, total) = state
        .db
        .run(move |conn| {
            events::find(conn, &event_id)?;
            let total: i64 = partners::table.filter(partners::event_id.eq(&event_id)).count().get_result(conn)?;
            let rows = partners::table
                .filter(partners::event_id.eq(&event_id))
                .order((partners::name, partners::id))
                .limit(per_page)
                .offset((page - 1) * per_page)
                .select(PartnerRow::as_select())
                .load(conn)?;
            Ok((rows, total))
        })
        .await?;
    let items = rows.into_iter().map(|r| PartnerView { id: r.id, name: r.name }).collect();
    Ok(web::Json(Page { items, total, page, per_page }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_partner).service(list_partners);
    users::routes(cfg);
}
