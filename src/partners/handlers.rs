//! Staff API for partners, and for partner users (staff admins, and partner admins for
//! their own scanners).

use actix_web::{HttpResponse, get, post, web};

use super::users::{self, CreatePartnerUser, PartnerUserView};
use super::{CreatePartner, PartnerView};
use crate::auth::passwords::Passwords;
use crate::auth::{AdminOnly, AnyUser, Registration};
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;
use crate::paging::{Page, PageQuery};

/// Add a partner to an event (admin).
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = CreatePartner,
    responses((status = 201, body = PartnerView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/partners")]
pub async fn create_partner(
    db: web::Data<Db>,
    _auth: Auth<AdminOnly>,
    path: web::Path<String>,
    body: ApiJson<CreatePartner>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let input = body.into_inner();
    let row = db.write(move |conn| super::create(conn, &event_id, &input)).await?;
    Ok(HttpResponse::Created().json(PartnerView { id: row.id, name: row.name }))
}

/// List an event's partners (staff).
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<PartnerView>), (status = 404, body = Problem)))]
#[get("/events/{event_id}/partners")]
pub async fn list_partners(
    db: web::Data<Db>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<PartnerView>>> {
    let event_id = path.into_inner();
    let paging = query.into_inner();
    Ok(web::Json(db.read(move |conn| super::list(conn, &event_id, &paging)).await?))
}

/// Create a partner user (staff admin: any role; partner admin: scanners of its own partner).
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = CreatePartnerUser,
    responses((status = 201, body = PartnerUserView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users")]
pub async fn create_user(
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String)>,
    body: ApiJson<CreatePartnerUser>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let view = users::create(&db, &passwords, &auth.caller, event_id, partner_id, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

/// List a partner's users.
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = Vec<PartnerUserView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/events/{event_id}/partners/{partner_id}/users")]
pub async fn list_users(
    db: web::Data<Db>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<Vec<PartnerUserView>>> {
    let (event_id, partner_id) = path.into_inner();
    let caller = auth.caller;
    Ok(web::Json(db.read(move |conn| users::list(conn, &caller, &event_id, &partner_id)).await?))
}

/// Disable a partner user; all of its tokens end at once.
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users/{user_id}/disable")]
pub async fn disable_user(
    db: web::Data<Db>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id, user_id) = path.into_inner();
    let caller = auth.caller.clone();
    db.write(move |conn| users::disable(conn, &caller, &event_id, &partner_id, &user_id)).await?;
    tracing::info!(by = %auth.caller.user_id, "partner user disabled");
    Ok(HttpResponse::NoContent().finish())
}
