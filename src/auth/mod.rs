//! Who is calling: passwords, tokens, accounts, and the access policies (the extractor
//! that applies them to a request is `http::auth::Auth`).

pub mod browser;
pub mod handlers;
pub mod links;
pub mod passwords;
pub mod secrets;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod users;

use utoipa::ToSchema;

use crate::db::text_enum;
use crate::error::{AppError, AppResult};

text_enum! {
    #[derive(ToSchema)]
    pub enum Role {
        Admin = "admin",
        Registrar = "registrar",
        PartnerAdmin = "partner_admin",
        Scanner = "scanner",
    }
}

impl Role {
    pub fn is_partner(self) -> bool {
        matches!(self, Role::PartnerAdmin | Role::Scanner)
    }
}

/// The authenticated caller, as stated by a verified token and confirmed by the database.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    pub event_id: Option<String>,
    pub partner_id: Option<String>,
}

/// A partner user's scope. Event and partner come from the token, never from the request.
#[derive(Debug, Clone)]
pub struct PartnerScope {
    pub user_id: String,
    pub role: Role,
    pub event_id: String,
    pub partner_id: String,
}

impl Caller {
    pub fn partner_scope(&self) -> AppResult<PartnerScope> {
        match (&self.event_id, &self.partner_id) {
            (Some(event_id), Some(partner_id)) if self.role.is_partner() => Ok(PartnerScope {
                user_id: self.user_id.clone(),
                role: self.role,
                event_id: event_id.clone(),
                partner_id: partner_id.clone(),
            }),
            _ => Err(AppError::Forbidden),
        }
    }
}

pub trait Policy {
    fn allows(role: Role) -> bool;
}

pub struct AdminOnly;
impl Policy for AdminOnly {
    fn allows(role: Role) -> bool {
        role == Role::Admin
    }
}

/// Registration and badges: admins and registrars.
pub struct Registration;
impl Policy for Registration {
    fn allows(role: Role) -> bool {
        matches!(role, Role::Admin | Role::Registrar)
    }
}

pub struct AnyPartner;
impl Policy for AnyPartner {
    fn allows(role: Role) -> bool {
        role.is_partner()
    }
}

pub struct PartnerAdminOnly;
impl Policy for PartnerAdminOnly {
    fn allows(role: Role) -> bool {
        role == Role::PartnerAdmin
    }
}

pub struct AnyUser;
impl Policy for AnyUser {
    fn allows(_: Role) -> bool {
        true
    }
}
