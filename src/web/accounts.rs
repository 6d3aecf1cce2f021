//! The pages of the one-time account links: `/invite/{token}` (a partner user chooses
//! their password) and `/reset/{token}` (a forgotten password). Both post back to the same
//! link and call the same core function as `POST /api/v1/auth/invitations/accept` and
//! `POST /api/v1/auth/password-reset/confirm`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Chrome};
use super::{html, link_not_valid};
use crate::auth::Role;
use crate::auth::links::{self, LinkPurpose};
use crate::auth::passwords::Passwords;
use crate::auth::session::{self, LoginServices};
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::db::Db;
use crate::error::AppError;

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

fn wording(purpose: LinkPurpose) -> (&'static str, &'static str) {
    match purpose {
        LinkPurpose::Invitation => ("Choose your password", "Welcome. Choose the password of your new account."),
        LinkPurpose::PasswordReset => {
            ("Choose a new password", "Choose a new password. Every session of your account ends when you do.")
        }
    }
}

fn form_page(purpose: LinkPurpose, token: &str, error: Option<&str>) -> String {
    let (title, intro) = wording(purpose);
    let describe = error.map(|_| "password-error");
    let markup = html! {
        h1 { (title) }
        p { (intro) }
        form method="post" action={ "/" (purpose.page()) "/" (token) } {
            label for="password" { "Password (at least " (crate::auth::passwords::MIN_PASSWORD_CHARS) " characters)" }
            input type="password" id="password" name="password" autocomplete="new-password" required
                aria-invalid=[error.map(|_| "true")] aria-describedby=[describe];
            @if let Some(error) = error {
                div.error id="password-error" role="alert" { (error) }
            }
            label for="password_again" { "The same password again" }
            input type="password" id="password_again" name="password_again" autocomplete="new-password" required;
            button type="submit" { "Save the password" }
        }
    };
    layout::render(title, &Chrome::PLAIN, markup)
}

fn invalid_link() -> HttpResponse {
    link_not_valid("It has been used already, has expired or was replaced by a newer one. Ask for a new one.")
}

async fn show(db: web::Data<Db>, purpose: LinkPurpose, token: String) -> HttpResponse {
    let t = token.clone();
    match db.read(move |conn| links::is_valid(conn, &t, purpose)).await {
        Ok(true) => html(StatusCode::OK, form_page(purpose, &token, None)),
        Ok(false) => invalid_link(),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

/// The services the form's submission needs.
pub struct SetPasswordData {
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
}

impl actix_web::FromRequest for SetPasswordData {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let data = (|| {
            Some(SetPasswordData {
                db: req.app_data::<web::Data<Db>>()?.clone(),
                throttle: req.app_data::<web::Data<LoginThrottle>>()?.clone(),
                passwords: req.app_data::<web::Data<Passwords>>()?.clone(),
                tokens: req.app_data::<web::Data<TokenKeys>>()?.clone(),
            })
        })();
        std::future::ready(data.ok_or_else(|| AppError::internal("application data missing")))
    }
}

async fn submit(data: SetPasswordData, purpose: LinkPurpose, token: String, form: PasswordForm) -> HttpResponse {
    if form.password != form.password_again {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(purpose, &token, Some("The two passwords are not the same.")),
        );
    }
    let services = LoginServices {
        db: &data.db,
        throttle: data.throttle.clone().into_inner(),
        passwords: &data.passwords,
        tokens: &data.tokens,
    };
    match session::set_password_by_link(&services, purpose, token.clone(), form.password).await {
        // Where to go next, for the account's role: an invitee has never seen the service.
        Ok((email, role)) => html(
            StatusCode::OK,
            layout::render(
                "Password saved",
                &Chrome::PLAIN,
                html! {
                    h1 { "Your password is saved" }
                    p { "Your account is " strong { (email) } "." }
                    @match role {
                        Role::Scanner => {
                            p { "Open the scanner on the phone you will use at the booth and sign in there:" }
                            p { a href="/scan" { "Open the scanner" } }
                        }
                        Role::PartnerAdmin => {
                            p { "Sign in to the partner portal to see your leads and download them. Booth staff scan badges with the scanner app." }
                            p { a href="/login" { "Sign in to the portal" } " · " a href="/scan" { "Open the scanner" } }
                        }
                        Role::Admin | Role::Registrar => {
                            p { a href="/login" { "Sign in" } }
                        }
                    }
                },
            ),
        ),
        Err(AppError::Validation(errors)) if errors.iter().any(|e| e.field == "token") => invalid_link(),
        Err(AppError::Validation(errors)) => {
            let message = errors.iter().map(|e| format!("The password {}.", e.message)).collect::<Vec<_>>().join(" ");
            html(StatusCode::UNPROCESSABLE_ENTITY, form_page(purpose, &token, Some(&message)))
        }
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

pub async fn invite_form(db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    show(db, LinkPurpose::Invitation, path.into_inner()).await
}

pub async fn invite_submit(
    data: SetPasswordData,
    path: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    submit(data, LinkPurpose::Invitation, path.into_inner(), form.into_inner()).await
}

pub async fn reset_form(db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    show(db, LinkPurpose::PasswordReset, path.into_inner()).await
}

pub async fn reset_submit(
    data: SetPasswordData,
    path: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    submit(data, LinkPurpose::PasswordReset, path.into_inner(), form.into_inner()).await
}
