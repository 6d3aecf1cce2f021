//! Partner users: booth staff who scan (`scanner`) and partner admins who also export and
//! manage their own scanners (`partner_admin`).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::find_in_event;
use crate::auth::passwords::{self, Passwords};
use crate::auth::users::{self, NewAccount, check_email, normalise_email};
use crate::auth::{Caller, Role};
use crate::db::schema::users as users_t;
use crate::db::{Db, DbConn, ms_to_rfc3339};
use crate::error::{AppError, AppResult, FieldError};

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

/// Creates a partner user (staff admin: any role; partner admin: scanners of its own
/// partner). The password is hashed off the database thread, bounded by `passwords`.
pub async fn create(
    db: &Db,
    passwords: &Passwords,
    caller: &Caller,
    event_id: String,
    partner_id: String,
    input: CreatePartnerUser,
) -> AppResult<PartnerUserView> {
    let role = match input.role {
        PartnerRole::PartnerAdmin => Role::PartnerAdmin,
        PartnerRole::Scanner => Role::Scanner,
    };
    may_manage(caller, &event_id, &partner_id, Some(role))?;
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
    db.read(move |conn| find_in_event(conn, &e2, &p2)).await?;
    let password_hash = passwords.hash(input.password).await?;
    let account = NewAccount {
        email: email.clone(),
        password_hash,
        role,
        event_id: Some(event_id),
        partner_id: Some(partner_id),
    };
    let id = db.write(move |conn| users::insert(conn, &account)).await?;
    tracing::info!(user_id = %id, by = %caller.user_id, role = role.as_str(), "partner user created");
    Ok(PartnerUserView { id, email, role, disabled: false, created_at: ms_to_rfc3339(crate::db::now_ms()) })
}

/// A partner's users, by e-mail.
pub fn list(conn: &mut DbConn, caller: &Caller, event_id: &str, partner_id: &str) -> AppResult<Vec<PartnerUserView>> {
    may_manage(caller, event_id, partner_id, None)?;
    find_in_event(conn, event_id, partner_id)?;
    let rows: Vec<users::UserRow> = users_t::table
        .filter(users_t::partner_id.eq(partner_id))
        .order(users_t::email)
        .select(users::UserRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| PartnerUserView {
            role: r.role,
            id: r.id,
            email: r.email,
            disabled: r.disabled,
            created_at: ms_to_rfc3339(r.created_at),
        })
        .collect())
}

/// Disables a partner user; all of its tokens end at once.
pub fn disable(conn: &mut DbConn, caller: &Caller, event_id: &str, partner_id: &str, user_id: &str) -> AppResult<()> {
    may_manage(caller, event_id, partner_id, None)?;
    find_in_event(conn, event_id, partner_id)?;
    let target = users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
    if target.partner_id.as_deref() != Some(partner_id) {
        return Err(AppError::NotFound);
    }
    may_manage(caller, event_id, partner_id, Some(target.role))?;
    users::set_disabled(conn, user_id, true)
}
