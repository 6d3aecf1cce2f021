//! `GET /api/v1/deletion-notices`, `POST /api/v1/deletion-notices/{notice_id}/ack` (partner
//! admins, their own partner only) and the staff list of an event's notices.

use actix_web::{get, post, web};

use super::{NoticeQuery, NoticeView};
use crate::auth::{PartnerAdminOnly, Registration};
use crate::badges::BadgeKey;
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::auth::Auth;
use crate::mail::OutboxKey;
use crate::paging::{Page, PageQuery};

/// The deletion notices of the caller's partner, newest first, a page at a time (partner
/// admin).
#[utoipa::path(tag = "deletion-notices", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<NoticeView>), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
#[get("/deletion-notices")]
pub async fn list_own(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<PartnerAdminOnly>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<NoticeView>>> {
    let scope = auth.caller.partner_scope()?;
    let key = OutboxKey::from_badge_key(&badge_key)?;
    let paging = query.into_inner();
    Ok(web::Json(db.read(move |conn| super::for_partner(conn, &key, &scope.partner_id, &paging)).await?))
}

/// Acknowledge a deletion notice once the partner has deleted the participant's data; the
/// name on the notice is cleared (partner admin, own partner's notices only).
#[utoipa::path(tag = "deletion-notices", security(("bearer" = [])),
    responses((status = 200, body = NoticeView), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/deletion-notices/{notice_id}/ack")]
pub async fn acknowledge(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<PartnerAdminOnly>,
    path: web::Path<String>,
) -> AppResult<web::Json<NoticeView>> {
    let scope = auth.caller.partner_scope()?;
    let notice_id = path.into_inner();
    let key = OutboxKey::from_badge_key(&badge_key)?;
    let view =
        db.write(move |conn| super::acknowledge(conn, &key, &scope.partner_id, &notice_id, &scope.user_id)).await?;
    Ok(web::Json(view))
}

/// An event's deletion notices (staff): `status=unacknowledged` (default) lists those left
/// unacknowledged for more than 7 days, `status=all` every one.
#[utoipa::path(tag = "deletion-notices", security(("bearer" = [])), params(NoticeQuery),
    responses((status = 200, body = Page<NoticeView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/events/{event_id}/deletion-notices")]
pub async fn list_for_event(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> AppResult<web::Json<Page<NoticeView>>> {
    let event_id = path.into_inner();
    let query = query.into_inner();
    let key = OutboxKey::from_badge_key(&badge_key)?;
    Ok(web::Json(db.read(move |conn| super::for_event(conn, &key, &event_id, &query)).await?))
}
