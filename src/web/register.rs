//! The public registration form at `/e/{slug}/register`: every opt-in unticked, an 18+
//! confirmation, CSRF protection by a double-submit cookie, errors shown next to fields.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use maud::{Markup, html};

use super::fields::{Field, error_for};
use super::{error_answer, layout, public_chrome};
use crate::attendees::RegistrationInput;
use crate::auth::secrets::random_token;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::{Db, now_ms};
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

/// The fields the event releases to partners, as the opt-ins name them.
fn released_list(event: &events::EventRow) -> String {
    event.released_fields().join(", ")
}

/// When and where, in the event's zone.
pub(super) fn event_facts(event: &events::EventRow) -> Markup {
    html! {
        p.facts {
            (event.display_time(event.starts_at)) " – " (event.display_time(event.ends_at))
            @if let Some(venue) = &event.venue { br; (venue) }
        }
    }
}

/// Who is responsible and where their notice is, above the form (the footer repeats it).
fn privacy_facts(event: &events::EventRow) -> Markup {
    html! {
        @if event.privacy_notice_url.is_some() || event.organiser_contact.is_some() {
            p {
                @if let Some(url) = &event.privacy_notice_url {
                    "How the organiser handles your data: " a href=(url) { "privacy notice" } "."
                }
                @if let Some(contact) = &event.organiser_contact {
                    @if event.privacy_notice_url.is_some() { " " }
                    "Questions about your data: " (contact) "."
                }
            }
        }
    }
}

fn render_form(event: &events::EventRow, partners: &[PartnerRow], state: &FormState, csrf: &str) -> String {
    let i = &state.input;
    let c = &i.contact;
    let error = |field: &str| error_for(&state.errors, field);
    let text = |name: &'static str,
                label: &'static str,
                kind: &'static str,
                autocomplete: &'static str,
                value: &Option<String>,
                required: bool| {
        Field {
            id: name,
            name,
            label,
            kind,
            value: value.as_deref().unwrap_or(""),
            autocomplete,
            required,
            error: error(name),
        }
        .render()
    };
    let released = released_list(event);
    let sharing_error = error("share_with_partners");
    let adult_error = error("is_adult");
    let markup = html! {
        h1 { "Register for " (event.name) }
        (event_facts(event))
        (privacy_facts(event))
        @if let Some(general) = &state.general {
            div.alert role="alert" { (general) }
        }
        form method="post" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (text("name", "Name", "text", "name", &c.name, true))
            (text("email", "E-mail", "email", "email", &c.email, true))
            (text("company", "Company", "text", "organization", &c.company, false))
            (text("phone", "Phone", "tel", "tel", &c.phone, false))
            (text("address", "Address", "textarea", "street-address", &c.address, false))
            @if !released.is_empty() {
                fieldset aria-describedby=[sharing_error.is_some().then_some("share_with_partners-error")] {
                    legend { "Sharing with partners (optional)" }
                    label.check {
                        input type="checkbox" name="share_with_all_partners" value="true" checked[i.share_with_all_partners];
                        " Share my contact details (" (released) ") with all partners of this event"
                    }
                    @for p in partners {
                        label.check {
                            input type="checkbox" name="share_with_partners" value=(p.id) checked[i.share_with_partners.contains(&p.id)];
                            " Share my contact details with " (p.name) " (" (released) ")"
                        }
                    }
                    @if let Some(e) = &sharing_error {
                        div.error id="share_with_partners-error" { (e) }
                    }
                }
            }
            label.check {
                input type="checkbox" name="marketing_emails" value="true" checked[i.marketing_emails];
                " Send me e-mails about future events"
            }
            label.check {
                input type="checkbox" name="is_adult" value="true" checked[i.is_adult == Some(true)]
                    aria-invalid=[adult_error.is_some().then_some("true")]
                    aria-describedby=[adult_error.is_some().then_some("is_adult-error")];
                " I am 18 or older (required)"
            }
            @if let Some(e) = &adult_error {
                div.error id="is_adult-error" { (e) }
            }
            @if released.is_empty() {
                p { "This event passes no contact details to partners." }
            } @else {
                p { "A partner who scans your badge at the event receives your contact details (" (released) "). You can withdraw at any time from your personal privacy page." }
            }
            button type="submit" { "Register" }
        }
    };
    layout::render(&format!("Register — {}", event.name), &public_chrome(event), markup)
}

/// The form's answer once `registration_closes_at` has passed.
fn closed_page(event: &events::EventRow, status: StatusCode) -> HttpResponse {
    let markup = html! {
        h1 { "Registration for " (event.name) " is closed" }
        (event_facts(event))
        p { "Registration closed on " (event.display_time(event.registration_closes_at())) ". No registration was made." }
        p { "Already registered? " a href={ "/e/" (event.slug) "/resend" } { "Get your badge and privacy link again" } "." }
        (privacy_facts(event))
    };
    super::html(status, layout::render(&format!("Registration closed — {}", event.name), &public_chrome(event), markup))
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

/// `GET /e/{slug}`: the address people shorten the form's to, sent on to the form (an
/// address that cannot be a slug gets the form's own "not found" page).
pub async fn to_form(req: HttpRequest, db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let slug = path.into_inner();
    if crate::events::valid_slug(&slug) {
        return HttpResponse::SeeOther().insert_header(("Location", format!("/e/{slug}/register"))).finish();
    }
    form(req, db, web::Path::from(slug)).await
}

pub async fn form(req: HttpRequest, db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let slug = path.into_inner();
    show_form(&req, &db, slug).await.unwrap_or_else(|e| error_answer(&req, &e, true))
}

async fn show_form(req: &HttpRequest, db: &Db, slug: String) -> AppResult<HttpResponse> {
    let (event, partners) = load(db, slug.clone()).await?;
    if !event.registration_open(now_ms()) {
        return Ok(closed_page(&event, StatusCode::OK));
    }
    let csrf = random_token(32).map_err(AppError::internal)?;
    let mut res = super::html(StatusCode::OK, render_form(&event, &partners, &FormState::default(), &csrf));
    res.add_cookie(&csrf_cookie(req, &csrf, &slug)).map_err(AppError::internal)?;
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
) -> HttpResponse {
    let slug = path.into_inner();
    match submit_form(db, badge_key, public_url, &req, slug, payload).await {
        Ok(res) => res,
        Err(e) => error_answer(&req, &e, true),
    }
}

/// How long after it went to be stored (its checks passed) an accepted registration form
/// is answered at the earliest: well above the few milliseconds either kind of write
/// takes, and short for a person.
pub const FORM_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

async fn submit_form(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    req: &HttpRequest,
    slug: String,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let body = http::json::read_body(req, &mut payload.into_inner(), 64 * 1024).await?;
    let parsed = parse_form(&body);
    let (event, partners) = load(&db, slug.clone()).await?;
    // The core refuses a late registration too; answering first spares the reader a
    // CSRF or validation message about a form that could not succeed anyway.
    if !event.registration_open(now_ms()) {
        return Ok(closed_page(&event, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let cookie = req.cookie(csrf_cookie_name(req)).map(|c| c.value().to_string()).unwrap_or_default();
    let fresh_csrf = random_token(32).map_err(AppError::internal)?;
    let (input, csrf) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            // Nothing is stored, so the form is answered again without the CSRF check.
            let form_state =
                FormState { errors, general: Some("Please correct the marked fields.".into()), ..Default::default() };
            let mut res =
                super::html(StatusCode::UNPROCESSABLE_ENTITY, render_form(&event, &partners, &form_state, &fresh_csrf));
            res.add_cookie(&csrf_cookie(req, &fresh_csrf, &slug)).map_err(AppError::internal)?;
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
        let mut res = super::html(StatusCode::FORBIDDEN, render_form(&event, &partners, &form_state, &fresh_csrf));
        res.add_cookie(&csrf_cookie(req, &fresh_csrf, &slug)).map_err(AppError::internal)?;
        return Ok(res);
    }
    let (event_id, registration) = (event.id.clone(), input.clone());
    let url = public_url.clone();
    let register = move |conn: &mut crate::db::DbConn| {
        crate::attendees::public::register_from_form(conn, &badge_key, &url, &event_id, registration.clone())
    };
    // A new address is stored with its confirmation, a known one gets a reminder: different
    // work, so the answer waits until a fixed time after the write began. Answered as soon
    // as the write was done, one walk measured 6.4 ms for a new address against 4.9 ms for
    // a registered one (medians; `scripts/form_timing.py` compares them). Unlike the resend
    // form, the write stays in the request: "check your mail" is said only once the
    // registration is stored.
    let answer_at = tokio::time::Instant::now() + FORM_ANSWER_FLOOR;
    let registered = match db.write(register.clone()).await {
        // Two submissions of one new address at once: the second finds the first's row.
        Err(AppError::Conflict(_)) => db.write(register).await,
        other => other,
    };
    tokio::time::sleep_until(answer_at).await;
    match registered {
        Ok(()) => Ok(check_your_mail(&event)),
        Err(AppError::Rejected { reason: "registration_closed", .. }) => {
            Ok(closed_page(&event, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(AppError::Validation(errors)) => {
            let form_state = FormState { input, errors, general: Some("Please correct the marked fields.".into()) };
            let mut res =
                super::html(StatusCode::UNPROCESSABLE_ENTITY, render_form(&event, &partners, &form_state, &fresh_csrf));
            res.add_cookie(&csrf_cookie(req, &fresh_csrf, &slug)).map_err(AppError::internal)?;
            Ok(res)
        }
        Err(other) => Err(other),
    }
}

/// The answer to an accepted form, the same whether the address was new or already
/// registered (a new registration gets its confirmation, a known one a reminder with a new
/// link): it shows neither badge nor link, so it tells nobody whether the address is known.
fn check_your_mail(event: &events::EventRow) -> HttpResponse {
    let markup = html! {
        h1 { "Check your mail" }
        p { "We sent a message about " (event.name) " to the address you gave. It holds your badge and your personal privacy link." }
        p { "If you opted in to sharing your contact details with partners, open the confirmation link in that message: nothing is shared before you do." }
        p { "Nothing arrived after a few minutes? Look in your spam folder, or " a href={ "/e/" (event.slug) "/resend" } { "ask for your badge and link again" } "." }
    };
    super::html(StatusCode::OK, layout::render("Check your mail", &public_chrome(event), markup))
}
