//! Staff recording a participant's withdrawal that arrived by mail or post.

use actix_web::{HttpResponse, post, web};

use super::{WithdrawalRequest, WithdrawalView};
use crate::auth::Registration;
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;

/// Record a withdrawal on a participant's behalf (admin or registrar). The next export and
/// the next scan of this participant by that partner release nothing.
#[utoipa::path(tag = "consent", security(("bearer" = [])), request_body = WithdrawalRequest,
    responses((status = 201, body = WithdrawalView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/withdrawals")]
pub async fn staff_withdrawal(
    db: web::Data<Db>,
    badge_key: web::Data<crate::badges::BadgeKey>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
    body: ApiJson<WithdrawalRequest>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let partner = body.0.scope()?;
    let by = auth.caller.user_id.clone();
    let key = crate::mail::OutboxKey::from_badge_key(&badge_key)?;
    let row = db
        .write(move |conn| {
            crate::rights::self_service::staff_withdraw(conn, &key, &event_id, &attendee_id, partner, &by)
        })
        .await?;
    Ok(HttpResponse::Created().json(WithdrawalView::from(row)))
}
