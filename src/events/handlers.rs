//! Staff API for events.

use actix_web::{HttpResponse, get, patch, post, web};

use super::{CreateEvent, EventView, UpdateEvent};
use crate::auth::{AdminOnly, Registration};
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;
use crate::paging::{Page, PageQuery};

/// Create an event (admin).
#[utoipa::path(tag = "events", security(("bearer" = [])), request_body = CreateEvent,
    responses((status = 201, body = EventView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/events")]
pub async fn create_event(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<AdminOnly>,
    body: ApiJson<CreateEvent>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner();
    let row = db.write(move |conn| super::create(conn, &input)).await?;
    Ok(HttpResponse::Created().json(EventView::new(row, &public_url.0)))
}

/// List events (staff).
#[utoipa::path(tag = "events", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<EventView>)))]
#[get("/events")]
pub async fn list_events(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<Registration>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<EventView>>> {
    let paging = query.into_inner();
    let page = db.read(move |conn| super::list(conn, &paging)).await?;
    let items = page.items.into_iter().map(|r| EventView::new(r, &public_url.0)).collect();
    Ok(web::Json(Page { items, total: page.total, page: page.page, per_page: page.per_page }))
}

/// One event (staff).
#[utoipa::path(tag = "events", security(("bearer" = [])), responses((status = 200, body = EventView), (status = 404, body = Problem)))]
#[get("/events/{event_id}")]
pub async fn get_event(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
) -> AppResult<web::Json<EventView>> {
    let event_id = path.into_inner();
    let row = db.read(move |conn| super::find(conn, &event_id)).await?;
    Ok(web::Json(EventView::new(row, &public_url.0)))
}

/// Change which contact fields partners may receive, the privacy-notice version and URL,
/// the organiser contact, the time zone, when registration closes, or how long after the
/// event scans are still accepted (admin).
#[utoipa::path(tag = "events", security(("bearer" = [])), request_body = UpdateEvent,
    responses((status = 200, body = EventView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/events/{event_id}")]
pub async fn update_event(
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
    body: ApiJson<UpdateEvent>,
) -> AppResult<web::Json<EventView>> {
    let event_id = path.into_inner();
    let input = body.into_inner();
    let row = db.write(move |conn| super::update(conn, &event_id, &input)).await?;
    Ok(web::Json(EventView::new(row, &public_url.0)))
}
