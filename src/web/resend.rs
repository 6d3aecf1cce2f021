//! "Lost my badge or link" at `/e/{slug}/resend`: one e-mail field. Every address gets the
//! same answer; a registered one receives its badge and a new privacy link by mail (at
//! most `attendees::public::REMINDERS_PER_HOUR` an hour).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::register::{csrf_cookie, csrf_cookie_name};
use super::{esc, html, page};
use crate::auth::secrets::random_token;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::{events, http};

fn render_form(event: &events::EventRow, email: &str, error: Option<&str>, csrf: &str) -> String {
    let body = format!(
        "<h1>Lost your badge or link for {}?</h1>{}<p>Give the address you registered with; we will mail your badge \
         and a new personal privacy link to it. The previous link stops working.</p>\
         <form method=\"post\" novalidate><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"email\">E-mail (required)</label><input type=\"email\" id=\"email\" name=\"email\" value=\"{}\" required>\
         <button type=\"submit\">Send</button></form>",
        esc(&event.name),
        error.map(|e| format!("<p class=\"error\">{}</p>", esc(e))).unwrap_or_default(),
        esc(csrf),
        esc(email),
    );
    page(&format!("Badge and link — {}", event.name), &body)
}

async fn event(db: &Db, slug: String) -> AppResult<events::EventRow> {
    db.read(move |conn| events::find_by_slug(conn, &slug)).await
}

fn with_cookie(req: &HttpRequest, mut res: HttpResponse, csrf: &str, slug: &str) -> AppResult<HttpResponse> {
    res.add_cookie(&csrf_cookie(req, csrf, slug)).map_err(AppError::internal)?;
    Ok(res)
}

pub async fn form(req: HttpRequest, db: web::Data<Db>, path: web::Path<String>) -> AppResult<HttpResponse> {
    let slug = path.into_inner();
    let event = event(&db, slug.clone()).await?;
    let csrf = random_token(32).map_err(AppError::internal)?;
    with_cookie(&req, html(StatusCode::OK, render_form(&event, "", None, &csrf)), &csrf, &slug)
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
    let body = http::json::read_body(&req, &mut payload.into_inner(), 16 * 1024).await?;
    let event = event(&db, slug.clone()).await?;
    let fresh_csrf = random_token(32).map_err(AppError::internal)?;
    let (mut email, mut csrf) = (String::new(), String::new());
    match http::input::decode_form(&body) {
        Ok(fields) => {
            for (key, value) in fields {
                match key.as_str() {
                    "email" => email = value,
                    "csrf" => csrf = value,
                    _ => {}
                }
            }
        }
        Err(_) => {
            let page =
                render_form(&event, "", Some("The address contains characters that are not allowed."), &fresh_csrf);
            return with_cookie(&req, html(StatusCode::UNPROCESSABLE_ENTITY, page), &fresh_csrf, &slug);
        }
    }
    let cookie = req.cookie(csrf_cookie_name(&req)).map(|c| c.value().to_string()).unwrap_or_default();
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(csrf.as_bytes())) {
        let page = render_form(&event, &email, Some("Your session expired. Please send the form again."), &fresh_csrf);
        return with_cookie(&req, html(StatusCode::FORBIDDEN, page), &fresh_csrf, &slug);
    }
    if email.trim().is_empty() || !email.contains('@') {
        let page =
            render_form(&event, &email, Some("Please give the e-mail address you registered with."), &fresh_csrf);
        return with_cookie(&req, html(StatusCode::UNPROCESSABLE_ENTITY, page), &fresh_csrf, &slug);
    }
    let event_id = event.id.clone();
    db.write(move |conn| crate::attendees::public::request_links(conn, &badge_key, &public_url, &event_id, &email))
        .await?;
    let body = format!(
        "<h1>Check your mail</h1><p>If this address is registered for {}, we sent it your badge and a new personal \
         privacy link. Look in your spam folder if nothing arrives within a few minutes.</p>",
        esc(&event.name)
    );
    Ok(html(StatusCode::OK, page("Check your mail", &body)))
}
