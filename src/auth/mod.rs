//! Who is calling: passwords, tokens, accounts, and one extractor per access policy.

pub mod handlers;
pub mod passwords;
pub mod secrets;
pub mod throttle;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use utoipa::ToSchema;

use crate::app::AppState;
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

/// Extractor: a valid bearer token whose role the policy `P` admits. Handlers without one
/// are public, so every protected handler names its policy in its signature.
pub struct Auth<P: Policy> {
    pub caller: Caller,
    _policy: PhantomData<P>,
}

impl<P: Policy> FromRequest for Auth<P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let body_gate = crate::http::json::hold_body_until_authenticated(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let token = token.ok_or(AppError::Unauthorized)?;
            let caller = users::authenticate(&state, &token).await?;
            if !P::allows(caller.role) {
                return Err(AppError::Forbidden);
            }
            body_gate.open();
            Ok(Auth { caller, _policy: PhantomData })
        })
    }
}

pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}
