//! The public registration form at `/e/{slug}/register`: every opt-in unticked, an 18+
//! confirmation, CSRF protection by a double-submit cookie, errors shown next to fields.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::{esc, html, page};
use crate::attendees::RegistrationInput;
use crate::auth::secrets::random_token;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::headers::HeaderPolicy;
use crate::partners::{self, PartnerRow};
use crate::{events, http};

const CSRF_COOKIE: &str = "bg_csrf";

#[derive(Default)]
struct FormState {
    input: RegistrationInput,
    errors: Vec<FieldError>,
    general: Option<String>,
}

fn field_error(state: &FormState, field: &str) -> String {
    state
        .errors
        .iter()
        .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
        .map(|e| format!("<div class=\"error\" id=\"{field}-error\">{}</div>", esc(&e.message)))
        .collect()
}

fn render_form(event: &events::EventRow, partners: &[PartnerRow], state: &FormState, csrf: &str) -> String {
    let text = |name: &str, label: &str, kind: &str, value: &str, required: bool| {
        format!(
            "<label for=\"{name}\">{label}{}</label><input type=\"{kind}\" id=\"{name}\" name=\"{name}\" value=\"{}\"{}>{}",
            if required { " (required)" } else { "" },
            esc(value),
            if required { " required" } else { "" },
            field_error(state, name)
        )
    };
    let i = &state.input;
    let c = &i.contact;
    let mut partner_boxes = String::new();
    for p in partners {
        let checked = if i.share_with_partners.contains(&p.id) { " checked" } else { "" };
        partner_boxes.push_str(&format!(
            "<label class=\"check\"><input type=\"checkbox\" name=\"share_with_partners\" value=\"{}\"{checked}> \
             Share my contact details with {}</label>",
            esc(&p.id),
            esc(&p.name)
        ));
    }
    let body = format!(
        "<h1>Register for {}</h1>{}\
         <form method=\"post\" novalidate>\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}{}{}{}\
         <label for=\"address\">Address</label><textarea id=\"address\" name=\"address\" rows=\"3\">{}</textarea>{}\
         <fieldset><legend>Sharing with partners (optional)</legend>\
         <label class=\"check\"><input type=\"checkbox\" name=\"share_with_all_partners\" value=\"true\"{}> \
         Share my contact details (name, company, address, phone, email) with all partners of this event</label>\
         {partner_boxes}{}</fieldset>\
         <label class=\"check\"><input type=\"checkbox\" name=\"marketing_emails\" value=\"true\"{}> Send me e-mails about future events</label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"is_adult\" value=\"true\"{}> I am 18 or older</label>{}\
         <p>A partner who scans your badge at the event receives your contact details. You can withdraw at any time from your personal privacy page.</p>\
         <button type=\"submit\">Register</button></form>",
        esc(&event.name),
        state.general.as_deref().map(|g| format!("<p class=\"error\">{}</p>", esc(g))).unwrap_or_default(),
        esc(csrf),
        text("name", "Name", "text", c.name.as_deref().unwrap_or(""), true),
        text("email", "E-mail", "email", c.email.as_deref().unwrap_or(""), true),
        text("company", "Company", "text", c.company.as_deref().unwrap_or(""), false),
        text("phone", "Phone", "tel", c.phone.as_deref().unwrap_or(""), false),
        esc(c.address.as_deref().unwrap_or("")),
        field_error(state, "address"),
        if i.share_with_all_partners { " checked" } else { "" },
        field_error(state, "share_with_partners"),
        if i.marketing_emails { " checked" } else { "" },
        if i.is_adult == Some(true) { " checked" } else { "" },
        field_error(state, "is_adult"),
    );
    page(&format!("Register — {}", event.name), &body)
}

/// Under TLS the cookie is `Secure` with the `__Host-` prefix, so neither a plain-HTTP
/// answer nor a sibling subdomain can plant one; a plain-HTTP local trial keeps working
/// with a scoped, unprefixed cookie.
const CSRF_COOKIE_TLS: &str = "__Host-bg_csrf";

pub(super) fn csrf_cookie_name(req: &HttpRequest) -> &'static str {
    if HeaderPolicy::tls(req) { CSRF_COOKIE_TLS } else { CSRF_COOKIE }
}

pub(super) fn csrf_cookie(req: &HttpRequest, token: &str, slug: &str) -> Cookie<'static> {
    let builder = Cookie::build(csrf_cookie_name(req), token.to_string()).http_only(true).same_site(SameSite::Strict);
    if HeaderPolicy::tls(req) {
        builder.path("/").secure(true).finish()
    } else {
        builder.path(format!("/e/{slug}/")).finish()
    }
}

async fn load(db: &Db, slug: String) -> AppResult<(events::EventRow, Vec<PartnerRow>)> {
    db.read(move |conn| partners::event_with_partners(conn, &slug)).await
}

pub async fn form(req: HttpRequest, db: web::Data<Db>, path: web::Path<String>) -> AppResult<HttpResponse> {
    let slug = path.into_inner();
    let (event, partners) = load(&db, slug.clone()).await?;
    let csrf = random_token(32).map_err(AppError::internal)?;
    let mut res = html(actix_web::http::StatusCode::OK, render_form(&event, &partners, &FormState::default(), &csrf));
    res.add_cookie(&csrf_cookie(&req, &csrf, &slug)).map_err(AppError::internal)?;
    Ok(res)
}

/// The form's fields, or the fields refused for bytes that are not UTF-8 or for control
/// characters (see `http::input`).
fn parse_form(body: &[u8]) -> Result<(RegistrationInput, String), Vec<FieldError>> {
    let mut input = RegistrationInput { is_adult: Some(false), ..Default::default() };
    let mut csrf = String::new();
    for (key, value) in http::input::decode_form(body)? {
        match key.as_str() {
            "name" => input.contact.name = Some(value),
            "email" => input.contact.email = Some(value),
            "company" => input.contact.company = Some(value),
            "phone" => input.contact.phone = Some(value),
            "address" => input.contact.address = Some(value),
            "is_adult" => input.is_adult = Some(value == "true"),
            "share_with_all_partners" => input.share_with_all_partners = value == "true",
            "share_with_partners" => input.share_with_partners.push(value),
            "marketing_emails" => input.marketing_emails = value == "true",
            "csrf" => csrf = value,
            _ => {}
        }
    }
    Ok((input, csrf))
}

pub async fn submit(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let slug = path.into_inner();
    let body = http::json::read_body(&req, &mut payload.into_inner(), 64 * 1024).await?;
    let parsed = parse_form(&body);
    let (event, partners) = load(&db, slug.clone()).await?;
    let cookie = req.cookie(csrf_cookie_name(&req)).map(|c| c.value().to_string()).unwrap_or_default();
    let fresh_csrf = random_token(32).map_err(AppError::internal)?;
    let (input, csrf) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            // Nothing is stored, so the form is answered again without the CSRF check.
            let form_state =
                FormState { errors, general: Some("Please correct the marked fields.".into()), ..Default::default() };
            let mut res = html(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                render_form(&event, &partners, &form_state, &fresh_csrf),
            );
            res.add_cookie(&csrf_cookie(&req, &fresh_csrf, &slug)).map_err(AppError::internal)?;
            return Ok(res);
        }
    };
    let csrf_ok = !cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(csrf.as_bytes()));
    if !csrf_ok {
        let form_state = FormState {
            input,
            general: Some("Your session expired. Please check the form and send it again.".into()),
            ..Default::default()
        };
        let mut res =
            html(actix_web::http::StatusCode::FORBIDDEN, render_form(&event, &partners, &form_state, &fresh_csrf));
        res.add_cookie(&csrf_cookie(&req, &fresh_csrf, &slug)).map_err(AppError::internal)?;
        return Ok(res);
    }
    let (event_id, registration) = (event.id.clone(), input.clone());
    let url = public_url.clone();
    let register = move |conn: &mut crate::db::DbConn| {
        crate::attendees::public::register_from_form(conn, &badge_key, &url, &event_id, registration.clone())
    };
    let registered = match db.write(register.clone()).await {
        // Two submissions of one new address at once: the second finds the first's row.
        Err(AppError::Conflict(_)) => db.write(register).await,
        other => other,
    };
    match registered {
        Ok(()) => Ok(check_your_mail(&event)),
        Err(AppError::Validation(errors)) => {
            let form_state = FormState { input, errors, general: Some("Please correct the marked fields.".into()) };
            let mut res = html(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                render_form(&event, &partners, &form_state, &fresh_csrf),
            );
            res.add_cookie(&csrf_cookie(&req, &fresh_csrf, &slug)).map_err(AppError::internal)?;
            Ok(res)
        }
        Err(other) => Err(other),
    }
}

/// The answer to an accepted form, the same whether the address was new or already
/// registered (a new registration gets its confirmation, a known one a reminder with a new
/// link): it shows neither badge nor link, so it tells nobody whether the address is known.
fn check_your_mail(event: &events::EventRow) -> HttpResponse {
    let body = format!(
        "<h1>Check your mail</h1><p>We sent a message about {} to the address you gave. It holds your badge and \
         your personal privacy link.</p><p>If you opted in to sharing your contact details with partners, open \
         the confirmation link in that message: nothing is shared before you do.</p>\
         <p>Nothing arrived after a few minutes? Look in your spam folder, or \
         <a href=\"/e/{}/resend\">ask for your badge and link again</a>.</p>",
        esc(&event.name),
        esc(&event.slug),
    );
    html(actix_web::http::StatusCode::OK, page("Check your mail", &body))
}
