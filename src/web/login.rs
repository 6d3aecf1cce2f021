//! Signing in and out of the console and the portal: `/login`, `POST /logout`, and `/`,
//! which sends a browser to its landing page or to the sign-in form. The form calls the
//! same core function and throttle as `POST /api/v1/auth/login`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use subtle::ConstantTimeEq;

use super::layout::{self, Chrome};
use crate::auth::passwords::Passwords;
use crate::auth::secrets::random_token;
use crate::auth::session::{self, LoginServices};
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::auth::{AnyPartner, AnyUser, Policy, Registration, Role, browser};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::http::headers::HeaderPolicy;
use crate::http::session::{self as http_session, SignedIn};

/// The anonymous form's CSRF token travels in a cookie and a hidden field (double submit):
/// there is no session yet to hold it.
const CSRF_COOKIE: &str = "bg_login_csrf";
const CSRF_COOKIE_TLS: &str = "__Host-bg_login_csrf";

fn csrf_cookie_name(req: &HttpRequest) -> &'static str {
    if HeaderPolicy::tls(req) { CSRF_COOKIE_TLS } else { CSRF_COOKIE }
}

fn csrf_cookie(req: &HttpRequest, token: &str) -> Cookie<'static> {
    let builder = Cookie::build(csrf_cookie_name(req), token.to_string()).http_only(true).same_site(SameSite::Strict);
    if HeaderPolicy::tls(req) { builder.path("/").secure(true).finish() } else { builder.path("/login").finish() }
}

/// Where a role lands after signing in: staff in the console, partner users in the portal.
pub fn landing(role: Role) -> &'static str {
    if Registration::allows(role) {
        "/console/"
    } else if AnyPartner::allows(role) {
        "/portal/"
    } else {
        "/login"
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location.to_string())).finish()
}

#[derive(Default)]
struct FormState {
    email: String,
    next: String,
    email_error: Option<&'static str>,
    password_error: Option<&'static str>,
    general: Option<&'static str>,
}

fn field_error(id: &str, message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { div.error id=(format!("{id}-error")) { (m) } } }
}

fn render(state: &FormState, csrf: &str) -> String {
    let content = html! {
        h1 { "Sign in" }
        p { "For event staff and partners. Participants find their badge and privacy page through the link in their e-mail." }
        @if let Some(g) = state.general { p.alert role="alert" { (g) } }
        form method="post" action="/login" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            @if !state.next.is_empty() { input type="hidden" name="next" value=(state.next); }
            label for="email" { "E-mail address" }
            input type="email" id="email" name="email" value=(state.email) autocomplete="username" required
                aria-invalid=[state.email_error.map(|_| "true")]
                aria-describedby=[state.email_error.map(|_| "email-error")];
            (field_error("email", state.email_error))
            label for="password" { "Password" }
            input type="password" id="password" name="password" autocomplete="current-password" required
                aria-invalid=[state.password_error.map(|_| "true")]
                aria-describedby=[state.password_error.map(|_| "password-error")];
            (field_error("password", state.password_error))
            button type="submit" { "Sign in" }
        }
        p { a href="/login/forgot" { "Forgot your password?" } }
    };
    layout::render("Sign in", &Chrome::PLAIN, content)
}

fn render_forgot(email: &str, error: Option<&str>, general: Option<&str>, csrf: &str) -> String {
    let content = html! {
        h1 { "Forgot your password?" }
        p { "Enter the e-mail address of your account. We send it a link to choose a new password; every session of the account ends when you do." }
        @if let Some(g) = general { p.alert role="alert" { (g) } }
        form method="post" action="/login/forgot" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            label for="email" { "E-mail address" }
            input type="email" id="email" name="email" value=(email) autocomplete="username" required
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| "email-error")];
            (field_error("email", error))
            button type="submit" { "Send the link" }
        }
        p { a href="/login" { "Back to sign in" } }
    };
    layout::render("Forgot your password?", &Chrome::PLAIN, content)
}

fn forgot_response(
    req: &HttpRequest,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    general: Option<&str>,
) -> AppResult<HttpResponse> {
    let csrf = random_token(32).map_err(AppError::internal)?;
    let mut res = super::html(status, render_forgot(email, error, general, &csrf));
    res.add_cookie(&csrf_cookie(req, &csrf)).map_err(AppError::internal)?;
    Ok(res)
}

/// `GET /login/forgot`: asks for the address to send a password reset link to.
pub async fn forgot_form(req: HttpRequest) -> AppResult<HttpResponse> {
    forgot_response(&req, StatusCode::OK, "", None, None)
}

/// `POST /login/forgot`: the API's password reset request (same throttle), answered the
/// same whether or not the address has an account, before it is looked up.
pub async fn forgot_submit(
    req: HttpRequest,
    data: SignInData,
    badge_key: web::Data<crate::badges::BadgeKey>,
    public: web::Data<crate::config::PublicUrl>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 16 * 1024).await?;
    let fields = crate::http::input::decode_form(&body).map_err(AppError::Validation)?;
    let (mut email, mut csrf) = (String::new(), String::new());
    for (key, value) in fields {
        match key.as_str() {
            "email" => email = value,
            "csrf" => csrf = value,
            _ => {}
        }
    }
    let cookie = req.cookie(csrf_cookie_name(&req)).map(|c| c.value().to_string()).unwrap_or_default();
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(csrf.as_bytes())) {
        let general = Some("The form expired. Please send it again.");
        return forgot_response(&req, StatusCode::FORBIDDEN, &email, None, general);
    }
    let services = LoginServices {
        db: &data.db,
        throttle: data.throttle.clone().into_inner(),
        passwords: &data.passwords,
        tokens: &data.tokens,
    };
    let mail =
        session::ResetMail { key: crate::mail::OutboxKey::from_badge_key(&badge_key)?, public_url: public.0.clone() };
    match session::request_password_reset(&services, mail, &email).await {
        Ok(()) => {
            let content = html! {
                h1 { "Check your mail" }
                p { "If an account uses this address, we sent it a link to choose a new password. The link works once, for one hour. Look in your spam folder if nothing arrives within a few minutes." }
                p { a href="/login" { "Back to sign in" } }
            };
            Ok(super::html(StatusCode::OK, layout::render("Check your mail", &Chrome::PLAIN, content)))
        }
        Err(AppError::Validation(_)) => forgot_response(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            &email,
            Some("Enter the e-mail address of your account."),
            None,
        ),
        Err(AppError::TooManyRequests { retry_after_secs }) => {
            let general = Some("Too many requests for this address. Wait a little, then try again.");
            let mut res = forgot_response(&req, StatusCode::TOO_MANY_REQUESTS, &email, None, general)?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after_secs),
            );
            Ok(res)
        }
        Err(other) => Err(other),
    }
}

fn form_response(req: &HttpRequest, status: StatusCode, state: &FormState) -> AppResult<HttpResponse> {
    let csrf = random_token(32).map_err(AppError::internal)?;
    let mut res = super::html(status, render(state, &csrf));
    res.add_cookie(&csrf_cookie(req, &csrf)).map_err(AppError::internal)?;
    Ok(res)
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /login`: the form, or the landing page for a browser already signed in.
pub async fn form(req: HttpRequest, db: web::Data<Db>, query: web::Query<NextQuery>) -> AppResult<HttpResponse> {
    if let Some(current) = http_session::current(&db, &req).await? {
        return Ok(see_other(landing(current.caller.role)));
    }
    let next = query.into_inner().next.as_deref().and_then(http_session::local_path).unwrap_or("").to_string();
    form_response(&req, StatusCode::OK, &FormState { next, ..Default::default() })
}

/// The services the sign-in needs: those of the API's login.
pub struct SignInData {
    db: web::Data<Db>,
    throttle: web::Data<LoginThrottle>,
    passwords: web::Data<Passwords>,
    tokens: web::Data<TokenKeys>,
}

impl actix_web::FromRequest for SignInData {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        fn get<T: 'static>(req: &HttpRequest) -> AppResult<web::Data<T>> {
            req.app_data::<web::Data<T>>().cloned().ok_or_else(|| AppError::internal("application data missing"))
        }
        std::future::ready((|| {
            Ok(SignInData { db: get(req)?, throttle: get(req)?, passwords: get(req)?, tokens: get(req)? })
        })())
    }
}

/// `POST /login`: the same credential check, throttle and answers as the API's login; a
/// success opens a session and goes to `next` (a local path) or the role's landing page.
pub async fn submit(req: HttpRequest, data: SignInData, payload: web::Payload) -> AppResult<HttpResponse> {
    let body = crate::http::json::read_body(&req, &mut payload.into_inner(), 16 * 1024).await?;
    let fields = crate::http::input::decode_form(&body).map_err(AppError::Validation)?;
    let mut state = FormState::default();
    let (mut password, mut csrf) = (String::new(), String::new());
    for (key, value) in fields {
        match key.as_str() {
            "email" => state.email = value,
            "password" => password = value,
            "csrf" => csrf = value,
            "next" => state.next = http_session::local_path(&value).unwrap_or("").to_string(),
            _ => {}
        }
    }
    let cookie = req.cookie(csrf_cookie_name(&req)).map(|c| c.value().to_string()).unwrap_or_default();
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(csrf.as_bytes())) {
        state.general = Some("The form expired. Please sign in again.");
        return form_response(&req, StatusCode::FORBIDDEN, &state);
    }
    if state.email.trim().is_empty() {
        state.email_error = Some("Enter your e-mail address.");
    }
    if password.is_empty() {
        state.password_error = Some("Enter your password.");
    }
    if state.email_error.is_some() || state.password_error.is_some() {
        return form_response(&req, StatusCode::UNPROCESSABLE_ENTITY, &state);
    }
    let services = LoginServices {
        db: &data.db,
        throttle: data.throttle.clone().into_inner(),
        passwords: &data.passwords,
        tokens: &data.tokens,
    };
    match session::sign_in(&services, &state.email, password).await {
        Ok(opened) => {
            // A session this browser held before ends: signing in never keeps a token
            // that existed before the password was checked.
            if let Some(old) = http_session::session_token(&req) {
                data.db.write(move |conn| browser::end(conn, &old)).await?;
            }
            let target = if state.next.is_empty() { landing(opened.role).to_string() } else { state.next.clone() };
            let mut res = see_other(&target);
            res.add_cookie(&http_session::session_cookie(&req, &opened.token)).map_err(AppError::internal)?;
            let mut spent = csrf_cookie(&req, "");
            spent.make_removal();
            res.add_cookie(&spent).map_err(AppError::internal)?;
            Ok(res)
        }
        // One answer for an unknown address and a wrong password, as the API gives.
        Err(AppError::Unauthorized) => {
            state.general = Some("The e-mail address or the password is not correct.");
            form_response(&req, StatusCode::UNAUTHORIZED, &state)
        }
        Err(AppError::TooManyRequests { retry_after_secs }) => {
            state.general = Some("Too many failed attempts for this address. Wait a little, then try again.");
            let mut res = form_response(&req, StatusCode::TOO_MANY_REQUESTS, &state)?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after_secs),
            );
            Ok(res)
        }
        Err(other) => Err(other),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (CSRF-checked, so another site cannot sign a user out)
/// and deletes the cookie.
pub async fn logout(
    req: HttpRequest,
    db: web::Data<Db>,
    signed_in: SignedIn<AnyUser>,
    form: web::Form<CsrfOnly>,
) -> actix_web::Result<HttpResponse> {
    signed_in.check_csrf(&form.csrf)?;
    if let Some(token) = http_session::session_token(&req) {
        db.write(move |conn| browser::end(conn, &token)).await?;
    }
    tracing::info!(user_id = %signed_in.caller.user_id, "browser sign-out");
    let mut res = see_other("/login");
    res.add_cookie(&http_session::removal_cookie(&req)).map_err(AppError::internal)?;
    Ok(res)
}

/// `GET /`: the landing page of a signed-in browser, else the sign-in form.
pub async fn root(req: HttpRequest, db: web::Data<Db>) -> AppResult<HttpResponse> {
    Ok(match http_session::current(&db, &req).await? {
        Some(current) => see_other(landing(current.caller.role)),
        None => see_other("/login"),
    })
}
