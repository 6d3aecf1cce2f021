//! Staff API for partners, and for partner users (staff admins, and partner admins for
//! their own scanners).

use actix_web::{HttpResponse, get, post, web};

use super::users::{self, CreatePartnerUser, InvitationMail, PartnerUserView};
use super::{CreatePartner, PartnerView};
use crate::auth::{AdminOnly, AnyUser, Registration};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
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

/// The invitation mail's key and link base (the portal's invitation form uses it too).
pub fn invitation_mail(badge_key: &BadgeKey, public: &PublicUrl) -> AppResult<InvitationMail> {
    Ok(InvitationMail { key: crate::mail::OutboxKey::from_badge_key(badge_key)?, public_url: public.0.clone() })
}

/// Invite a partner user by e-mail (staff admin: any role; partner admin: scanners of its
/// own partner). No password is taken (a body with `password` is refused): the invitee
/// chooses it through a one-time link mailed to them (72 h), and cannot log in before.
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = CreatePartnerUser,
    responses((status = 201, body = PartnerUserView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users")]
pub async fn create_user(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String)>,
    body: ApiJson<CreatePartnerUser>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let mail = invitation_mail(&badge_key, &public)?;
    let caller = auth.caller;
    let input = body.into_inner();
    let view = db.write(move |conn| users::create(conn, &mail, &caller, &event_id, &partner_id, input)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Send a partner user's invitation again, with a new link (the earlier one stops working).
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 202), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "The user is disabled or has already chosen a password", body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users/{user_id}/invitation")]
pub async fn resend_invitation(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public: web::Data<PublicUrl>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id, user_id) = path.into_inner();
    let mail = invitation_mail(&badge_key, &public)?;
    let caller = auth.caller;
    db.write(move |conn| users::resend_invitation(conn, &mail, &caller, &event_id, &partner_id, &user_id)).await?;
    Ok(HttpResponse::Accepted().finish())
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

/// End every session and token of a partner user (a lost phone) without disabling it
/// (staff admins, or the partner's own admin for its scanners).
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users/{user_id}/revoke-sessions")]
pub async fn revoke_user_sessions(
    db: web::Data<Db>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id, user_id) = path.into_inner();
    let caller = auth.caller.clone();
    db.write(move |conn| users::revoke_sessions(conn, &caller, &event_id, &partner_id, &user_id)).await?;
    tracing::info!(by = %auth.caller.user_id, "partner user's sessions revoked");
    Ok(HttpResponse::NoContent().finish())
}
