//! Staff recording a participant's withdrawal that arrived by mail or post.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Source, WithdrawalView, withdraw};
use crate::app::AppState;
use crate::auth::{Auth, Registration};
use crate::error::{AppError, AppResult, Problem};
use crate::http::ApiJson;
use crate::{attendees, partners};

/// Exactly one of `partner_id` or `all_partners: true`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    pub partner_id: Option<String>,
    #[serde(default)]
    pub all_partners: bool,
}

impl WithdrawalRequest {
    /// `Some(partner)` for one partner, `None` for all.
    pub fn scope(&self) -> AppResult<Option<String>> {
        match (&self.partner_id, self.all_partners) {
            (Some(p), false) => Ok(Some(p.clone())),
            (None, true) => Ok(None),
            _ => Err(AppError::field("partner_id", "give either partner_id or all_partners: true")),
        }
    }
}

/// Record a withdrawal on a participant's behalf (admin or registrar). The next export and
/// the next scan of this participant by that partner release nothing.
#[utoipa::path(tag = "consent", security(("bearer" = [])), request_body = WithdrawalRequest,
    responses((status = 201, body = WithdrawalView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/withdrawals")]
pub async fn staff_withdrawal(
    state: web::Data<AppState>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
    body: ApiJson<WithdrawalRequest>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let partner = body.0.scope()?;
    let by = auth.caller.user_id.clone();
    let row = state
        .db
        .write(move |conn| {
            let a = attendees::find_in_event(conn, &event_id, &attendee_id)?;
            if let Some(p) = &partner {
                partners::find_in_event(conn, &event_id, p)
                    .map_err(|_| AppError::field("partner_id", "is not a partner of this event"))?;
            }
            withdraw(conn, &a.event_id, &a.id, partner.as_deref(), Source::StaffApi, Some(&by))
        })
        .await?;
    Ok(HttpResponse::Created().json(WithdrawalView::from(row)))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(staff_withdrawal);
}
