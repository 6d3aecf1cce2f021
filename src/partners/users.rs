//! Partner users: booth staff who scan (`scanner`) and partner admins who also export and
//! manage their own scanners (`partner_admin`).

use actix_web::{HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::find_in_event;
use crate::app::AppState;
use crate::auth::users::{self, NewAccount, check_email, normalise_email};
use crate::auth::{AnyUser, Auth, Caller, Role, passwords};
use crate::db::ms_to_rfc3339;
use crate::db::schema::users as users_t;
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::ApiJson;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PartnerRole {
    PartnerAdmin,
    Scanner,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartnerUser {
    pub email: String,
    pub password: String,
    pub role: PartnerRole,
}

#[derive(Serialize, ToSchema)]
pub struct PartnerUserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
}

/// Staff admins manage any partner's users; a partner admin manages only the scanners of
/// its own partner. Everyone else is refused.
fn may_manage(caller: &Caller, event_id: &str, partner_id: &str, role: Option<Role>) -> AppResult<()> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::PartnerAdmin
            if caller.event_id.as_deref() == Some(event_id) && caller.partner_id.as_deref() == Some(partner_id) =>
        {
            match role {
                None | Some(Role::Scanner) => Ok(()),
                _ => Err(AppError::Forbidden),
            }
        }
        _ => Err(AppError::Forbidden),
    }
}

/// Create a partner user (staff admin: any role; partner admin: scanners of its own partner).
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = CreatePartnerUser,
    responses((status = 201, body = PartnerUserView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String)>,
    body: ApiJson<CreatePartnerUser>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id) = path.into_inner();
    let input = body.into_inner();
    let role = match input.role {
        PartnerRole::PartnerAdmin => Role::PartnerAdmin,
        PartnerRole::Scanner => Role::Scanner,
    };
    may_manage(&auth.caller, &event_id, &partner_id, Some(role))?;
    let email = normalise_email(&input.email);
    let mut errors: Vec<FieldError> = Vec::new();
    if let Err(e) = check_email("email", &email) {
        errors.push(e);
    }
    if let Err(e) = passwords::check_policy("password", &input.password) {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let (e2, p2) = (event_id.clone(), partner_id.clone());
    state.db.run(move |conn| find_in_event(conn, &e2, &p2)).await?;
    let password_hash = state.passwords.hash(input.password).await?;
    let account = NewAccount {
        email: email.clone(),
        password_hash,
        role,
        event_id: Some(event_id),
        partner_id: Some(partner_id),
    };
    let id = state.db.write(move |conn| users::insert(conn, &account)).await?;
    tracing::info!(user_id = %id, by = %auth.caller.user_id, role = role.as_str(), "partner user created");
    Ok(HttpResponse::Created().json(PartnerUserView {
        id,
        email,
        role,
        disabled: false,
        created_at: ms_to_rfc3339(crate::db::now_ms()),
    }))
}

/// List a partner's users.
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = Vec<PartnerUserView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/events/{event_id}/partners/{partner_id}/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<Vec<PartnerUserView>>> {
    let (event_id, partner_id) = path.into_inner();
    may_manage(&auth.caller, &event_id, &partner_id, None)?;
    let rows = state
        .db
        .run(move |conn| {
            find_in_event(conn, &event_id, &partner_id)?;
            Ok(users_t::table
                .filter(users_t::partner_id.eq(&partner_id))
                .order(users_t::email)
                .select(users::UserRow::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| PartnerUserView {
                role: r.role,
                id: r.id,
                email: r.email,
                disabled: r.disabled,
                created_at: ms_to_rfc3339(r.created_at),
            })
            .collect(),
    ))
}

/// Disable a partner user; all of its tokens end at once.
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/events/{event_id}/partners/{partner_id}/users/{user_id}/disable")]
pub async fn disable_user(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    path: web::Path<(String, String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, partner_id, user_id) = path.into_inner();
    may_manage(&auth.caller, &event_id, &partner_id, None)?;
    let caller = auth.caller.clone();
    state
        .db
        .write(move |conn| {
            find_in_event(conn, &event_id, &partner_id)?;
            let target = users::find(conn, &user_id)?.ok_or(AppError::NotFound)?;
            if target.partner_id.as_deref() != Some(partner_id.as_str()) {
                return Err(AppError::NotFound);
            }
            may_manage(&caller, &event_id, &partner_id, Some(target.role))?;
            users::set_disabled(conn, &user_id, true)
        })
        .await?;
    tracing::info!(by = %auth.caller.user_id, "partner user disabled");
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_user).service(list_users).service(disable_user);
}
