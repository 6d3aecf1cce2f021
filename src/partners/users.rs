//! Partner users: booth staff who scan (`scanner`) and partner admins who also export and
//! manage their own scanners (`partner_admin`).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::find_in_event;
use crate::auth::links::{self, LinkPurpose};
use crate::auth::users::{self, NewAccount, check_email, normalise_email};
use crate::auth::{Caller, Role};
use crate::db::schema::users as users_t;
use crate::db::{DbConn, ms_to_rfc3339};
use crate::devices::{self, RevokeReason};
use crate::error::{AppError, AppResult};

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
    pub role: PartnerRole,
}

#[derive(Serialize, ToSchema)]
pub struct PartnerUserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    /// False until the invitee has chosen a password through the invitation link.
    pub password_set: bool,
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

/// What an invitation mail needs: the sealing key and the public base URL of its link.
pub struct InvitationMail {
    pub key: crate::mail::OutboxKey,
    pub public_url: String,
}

/// Queues the invitation mail of `user` with a fresh link, in the caller's transaction.
fn send_invitation(conn: &mut DbConn, mail: &InvitationMail, user: &users::UserRow, partner_id: &str) -> AppResult<()> {
    let event_id = user.event_id.clone().ok_or(AppError::NotFound)?;
    let partner = find_in_event(conn, &event_id, partner_id)?;
    let event = crate::events::find(conn, &event_id)?;
    let token = links::issue(conn, &user.id, LinkPurpose::Invitation)?;
    let (role, use_at) = match user.role {
        Role::PartnerAdmin => ("partner admin", "login"),
        _ => ("scanner", "scan"),
    };
    crate::mail::enqueue(
        conn,
        &mail.key,
        &crate::mail::NewMail {
            kind: crate::mail::MailKind::Invitation,
            event_id: Some(event_id),
            attendee_id: None,
            to: user.email.clone(),
            subject: crate::mail::accounts::INVITATION_SUBJECT.to_string(),
            body: crate::mail::Body::Invitation(crate::mail::accounts::InvitationFacts {
                event: event.name,
                partner: partner.name,
                role: role.to_string(),
                link: format!("{}/{}/{token}", mail.public_url, LinkPurpose::Invitation.page()),
                valid_hours: links::INVITATION_HOURS,
                use_at: Some(format!("{}/{use_at}", mail.public_url)),
            }),
        },
    )?;
    Ok(())
}

/// Invites a partner user (staff admin: any role; partner admin: scanners of its own
/// partner). The account exists without a usable password until the invitee chooses one
/// through the mailed link; nobody else ever chooses it.
pub fn create(
    conn: &mut DbConn,
    mail: &InvitationMail,
    caller: &Caller,
    event_id: &str,
    partner_id: &str,
    input: CreatePartnerUser,
) -> AppResult<PartnerUserView> {
    let role = match input.role {
        PartnerRole::PartnerAdmin => Role::PartnerAdmin,
        PartnerRole::Scanner => Role::Scanner,
    };
    may_manage(caller, event_id, partner_id, Some(role))?;
    let email = normalise_email(&input.email);
    check_email("email", &email).map_err(|e| AppError::Validation(vec![e]))?;
    find_in_event(conn, event_id, partner_id)?;
    let account = NewAccount {
        email: email.clone(),
        password_hash: links::NO_PASSWORD.to_string(),
        role,
        event_id: Some(event_id.to_string()),
        partner_id: Some(partner_id.to_string()),
    };
    let id = users::insert(conn, &account)?;
    let row = users::find(conn, &id)?.ok_or(AppError::NotFound)?;
    send_invitation(conn, mail, &row, partner_id)?;
    tracing::info!(user_id = %id, by = %caller.user_id, role = role.as_str(), "partner user invited");
    Ok(PartnerUserView {
        id,
        email,
        role,
        disabled: false,
        password_set: false,
        created_at: ms_to_rfc3339(row.created_at),
    })
}

/// Sends a new invitation link (the earlier one stops working); refused once the user has
/// chosen a password (they can use the password reset instead).
pub fn resend_invitation(
    conn: &mut DbConn,
    mail: &InvitationMail,
    caller: &Caller,
    event_id: &str,
    partner_id: &str,
    user_id: &str,
) -> AppResult<()> {
    may_manage(caller, event_id, partner_id, None)?;
    find_in_event(conn, event_id, partner_id)?;
    let target = users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
    if target.partner_id.as_deref() != Some(partner_id) {
        return Err(AppError::NotFound);
    }
    may_manage(caller, event_id, partner_id, Some(target.role))?;
    if target.disabled {
        return Err(AppError::Conflict("this user is disabled".into()));
    }
    if target.password_hash != links::NO_PASSWORD {
        return Err(AppError::Conflict("this user has already chosen a password".into()));
    }
    send_invitation(conn, mail, &target, partner_id)?;
    tracing::info!(user_id = %user_id, by = %caller.user_id, "invitation sent again");
    Ok(())
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
            password_set: r.password_hash != links::NO_PASSWORD,
            created_at: ms_to_rfc3339(r.created_at),
        })
        .collect())
}

/// Disables a partner user; all of its tokens end at once.
pub fn disable(conn: &mut DbConn, caller: &Caller, event_id: &str, partner_id: &str, user_id: &str) -> AppResult<()> {
    managed_user(conn, caller, event_id, partner_id, user_id)?;
    devices::end_for_users(conn, &[user_id.to_string()], RevokeReason::UserDisabled)?;
    users::set_disabled(conn, user_id, true)
}

/// Ends every session and token of a partner user (a lost phone) without disabling the
/// account: the user signs in again. The same rule as [`disable`] decides who may.
pub fn revoke_sessions(
    conn: &mut DbConn,
    caller: &Caller,
    event_id: &str,
    partner_id: &str,
    user_id: &str,
) -> AppResult<()> {
    managed_user(conn, caller, event_id, partner_id, user_id)?;
    devices::end_for_users(conn, &[user_id.to_string()], RevokeReason::SessionsRevoked)?;
    users::bump_token_version(conn, user_id)?;
    Ok(())
}

/// A user of `partner_id` that `caller` may manage; `NotFound` for anyone else's.
fn managed_user(conn: &mut DbConn, caller: &Caller, event_id: &str, partner_id: &str, user_id: &str) -> AppResult<()> {
    may_manage(caller, event_id, partner_id, None)?;
    find_in_event(conn, event_id, partner_id)?;
    let target = users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
    if target.partner_id.as_deref() != Some(partner_id) {
        return Err(AppError::NotFound);
    }
    may_manage(caller, event_id, partner_id, Some(target.role))
}
