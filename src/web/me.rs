//! The participant's personal privacy page at `/me/{token}`, and one-request unsubscribe
//! at `/u/{token}` (RFC 8058 List-Unsubscribe-Post). The token in the path is the
//! capability: forms post back to the same link, so another site cannot forge them
//! without knowing it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{esc, html, page};
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::rights::self_service::{self, Correction, apply_correction};
use crate::rights::{Links, ParticipantRecord, by_unsubscribe_token};

/// What the privacy page needs: the database, and what prints the participant's links.
#[derive(Clone)]
pub struct PageData {
    db: web::Data<Db>,
    public_url: web::Data<PublicUrl>,
    badge_key: web::Data<BadgeKey>,
}

impl actix_web::FromRequest for PageData {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let data = (|| {
            Some(PageData {
                db: req.app_data::<web::Data<Db>>()?.clone(),
                public_url: req.app_data::<web::Data<PublicUrl>>()?.clone(),
                badge_key: req.app_data::<web::Data<BadgeKey>>()?.clone(),
            })
        })();
        std::future::ready(data.ok_or_else(|| AppError::internal("application data missing")))
    }
}

impl PageData {
    async fn record(&self, token: String) -> AppResult<ParticipantRecord> {
        let (public_url, badge_key) = (self.public_url.clone(), self.badge_key.clone());
        self.db
            .read(move |conn| {
                crate::rights::load_record(conn, &Links { public_url: &public_url, badge_key: &badge_key }, &token)
            })
            .await
    }
}

impl PageData {
    /// The record and the QR payload of the current badge (none once revoked or erased).
    async fn record_with_badge(&self, token: String) -> AppResult<(ParticipantRecord, Option<String>)> {
        let (public_url, badge_key) = (self.public_url.clone(), self.badge_key.clone());
        self.db
            .read(move |conn| {
                let links = Links { public_url: &public_url, badge_key: &badge_key };
                let record = crate::rights::load_record(conn, &links, &token)?;
                let attendee = crate::rights::by_privacy_token(conn, &token)?;
                let badge = match crate::badges::current(conn, &attendee.id)? {
                    Some(b) => Some(badge_key.code_for(&b.id)?.payload()),
                    None => None,
                };
                Ok((record, badge))
            })
            .await
    }
}

/// The badge as the participant shows it at the entrance: the QR code (inline SVG, no
/// request for an image) and the code to type when a camera cannot read it.
fn badge_section(payload: Option<&str>) -> AppResult<String> {
    let Some(payload) = payload else {
        return Ok("<h2>Your badge</h2><p>You have no valid badge at the moment; please ask the organiser.</p>".into());
    };
    let svg = crate::badges::render_svg(payload)?;
    let svg = svg.trim_start_matches("<?xml version=\"1.0\" standalone=\"yes\"?>");
    let fallback = crate::badges::BadgeCode::readings(payload).first().map(crate::badges::BadgeCode::fallback);
    Ok(format!(
        "<h2>Your badge</h2><p>Show it at the entrance and at partners' booths.</p><div id=\"badge\">{svg}</div>\
         <p>If a camera cannot read it, the code is <code id=\"fallback\">{}</code>.</p>",
        esc(fallback.as_deref().unwrap_or(""))
    ))
}

fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        page(
            "Link not valid",
            "<h1>This link is not valid</h1><p>It may have been replaced or revoked. Ask the organiser for a new one.</p>",
        ),
    )
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).insert_header(("Cache-Control", "no-store")).finish()
}

fn opt(v: &Option<String>) -> String {
    esc(v.as_deref().unwrap_or("—"))
}

fn render(token: &str, r: &ParticipantRecord, message: Option<&str>) -> String {
    render_page(token, r, message, "")
}

fn render_page(token: &str, r: &ParticipantRecord, message: Option<&str>, badge: &str) -> String {
    let d = &r.data;
    let base = format!("/me/{}", esc(token));
    let partner_name = |id: &Option<String>| match id {
        None => "all partners".to_string(),
        Some(id) => r.partners.iter().find(|p| &p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| id.clone()),
    };
    let mut s = format!("<h1>Your data for {}</h1>", esc(&d.event_name));
    if let Some(m) = message {
        s.push_str(&format!("<p role=\"status\"><strong>{}</strong></p>", esc(m)));
    }
    s.push_str(badge);
    s.push_str(&format!(
        "<h2>What we hold</h2><dl><dt>Name</dt><dd id=\"name\">{}</dd><dt>E-mail</dt><dd>{}</dd><dt>Company</dt><dd>{}</dd>\
         <dt>Phone</dt><dd>{}</dd><dt>Address</dt><dd>{}</dd><dt>Marketing e-mails</dt><dd>{}</dd></dl>",
        esc(&d.name),
        esc(&d.email),
        opt(&d.company),
        opt(&d.phone),
        opt(&d.address),
        if d.marketing_emails { "on" } else { "off" }
    ));
    s.push_str("<h2>Your choices about partners</h2><ul>");
    for o in &r.opt_ins {
        s.push_str(&format!(
            "<li>Shared with {} since {}{}{}</li>",
            esc(&partner_name(&o.partner_id)),
            esc(&o.granted_at),
            if o.confirmed_at.is_none() && o.ended_at.is_none() {
                " (not in effect until you confirm your address with the link in your confirmation mail)"
            } else {
                ""
            },
            o.ended_at.as_deref().map(|e| format!(", ended {}", esc(e))).unwrap_or_default()
        ));
    }
    for w in &r.withdrawals {
        s.push_str(&format!("<li>Withdrawn from {} on {}</li>", esc(&partner_name(&w.partner_id)), esc(&w.created_at)));
    }
    if r.opt_ins.is_empty() && r.withdrawals.is_empty() {
        s.push_str("<li>You did not opt in to sharing with any partner.</li>");
    }
    s.push_str("</ul><h2>Partners who scanned your badge</h2><ul>");
    for sc in &r.scans {
        s.push_str(&format!("<li>{} at {}</li>", esc(&sc.partner_name), esc(&sc.scanned_at)));
    }
    if r.scans.is_empty() {
        s.push_str("<li>None.</li>");
    }
    s.push_str("</ul><h2>Who received your data</h2><table id=\"recipients\"><tr><th>Partner</th><th>When</th><th>Which data</th><th>Basis</th></tr>");
    for rc in &r.recipients {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&rc.partner_name),
            esc(&rc.occurred_at),
            esc(&rc.fields.join(", ")),
            esc(rc.basis.as_str())
        ));
    }
    s.push_str("</table>");
    if r.recipients.is_empty() {
        s.push_str("<p>No partner has received your data.</p>");
    }
    s.push_str(&format!(
        "<h2>Stop sharing</h2><form method=\"post\" action=\"{base}/withdraw\">\
         <input type=\"hidden\" name=\"all_partners\" value=\"true\"><button type=\"submit\">Stop sharing with all partners</button></form>"
    ));
    for p in &r.partners {
        s.push_str(&format!(
            "<form method=\"post\" action=\"{base}/withdraw\"><input type=\"hidden\" name=\"partner_id\" value=\"{}\">\
             <button type=\"submit\">Stop sharing with {}</button></form>",
            esc(&p.id),
            esc(&p.name)
        ));
    }
    s.push_str(&format!(
        "<h2>Marketing e-mails</h2><form method=\"post\" action=\"{base}/marketing\">\
         <input type=\"hidden\" name=\"marketing_emails\" value=\"{}\"><button type=\"submit\">Switch marketing e-mails {}</button></form>",
        !d.marketing_emails,
        if d.marketing_emails { "off" } else { "on" }
    ));
    s.push_str(&format!(
        "<h2>Correct your details</h2><form method=\"post\" action=\"{base}/correct\">\
         <label for=\"c-name\">Name</label><input type=\"text\" id=\"c-name\" name=\"name\" value=\"{}\">\
         <label for=\"c-email\">E-mail</label><input type=\"email\" id=\"c-email\" name=\"email\" value=\"{}\">\
         <label for=\"c-company\">Company</label><input type=\"text\" id=\"c-company\" name=\"company\" value=\"{}\">\
         <label for=\"c-phone\">Phone</label><input type=\"tel\" id=\"c-phone\" name=\"phone\" value=\"{}\">\
         <label for=\"c-address\">Address</label><textarea id=\"c-address\" name=\"address\">{}</textarea>\
         <button type=\"submit\">Save</button></form>",
        esc(&d.name),
        esc(&d.email),
        esc(d.company.as_deref().unwrap_or("")),
        esc(d.phone.as_deref().unwrap_or("")),
        esc(d.address.as_deref().unwrap_or(""))
    ));
    s.push_str(&format!(
        "<h2>Your data as a file</h2><p><a href=\"{base}/export.json\">Download everything we hold (JSON)</a></p>\
         <h2>Delete your data</h2><form method=\"post\" action=\"{base}/erase\">\
         <label class=\"check\"><input type=\"checkbox\" name=\"confirm\" value=\"true\" required> \
         I understand my data will be deleted and my badge will stop working.</label>\
         <button type=\"submit\">Delete my data</button></form>"
    ));
    page("Your data", &s)
}

pub async fn show(data: PageData, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    match data.record_with_badge(token.clone()).await {
        Ok((r, badge)) => match badge_section(badge.as_deref()) {
            Ok(section) => html(StatusCode::OK, render_page(&token, &r, None, &section)),
            Err(_) => html(StatusCode::OK, render(&token, &r, None)),
        },
        Err(_) => not_found(),
    }
}

async fn form(req: &HttpRequest, payload: web::Payload) -> AppResult<Vec<(String, String)>> {
    let body = crate::http::json::read_body(req, &mut payload.into_inner(), 16 * 1024).await?;
    crate::http::input::decode_form(&body).map_err(AppError::Validation)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs a page action and answers with the page again (or "not valid" for a dead link).
async fn act(
    data: PageData,
    token: String,
    action: impl FnOnce(&mut crate::db::DbConn, &str) -> AppResult<()> + Send + 'static,
    done: &'static str,
) -> HttpResponse {
    let t = token.clone();
    match data.db.write(move |conn| action(conn, &t)).await {
        Ok(()) => see_other(format!("/me/{token}?done={done}")),
        Err(AppError::Unauthorized | AppError::NotFound) => not_found(),
        Err(AppError::Validation(errors)) => {
            let msg = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
            match data.record(token.clone()).await {
                Ok(r) => html(StatusCode::UNPROCESSABLE_ENTITY, render(&token, &r, Some(&msg))),
                Err(_) => not_found(),
            }
        }
        Err(AppError::Conflict(msg)) => match data.record(token.clone()).await {
            Ok(r) => html(StatusCode::CONFLICT, render(&token, &r, Some(&msg))),
            Err(_) => not_found(),
        },
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

pub async fn withdraw(
    data: PageData,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let fields = form(&req, payload).await?;
    let partner = field(&fields, "partner_id").map(str::to_string);
    let all = field(&fields, "all_partners") == Some("true");
    let scope = match (partner, all) {
        (Some(p), false) => Some(p),
        _ => None,
    };
    let key = crate::mail::OutboxKey::from_badge_key(&data.badge_key)?;
    Ok(act(
        data,
        path.into_inner(),
        move |conn, t| self_service::self_withdraw(conn, &key, t, scope).map(|_| ()),
        "withdrawn",
    )
    .await)
}

pub async fn marketing(
    data: PageData,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let fields = form(&req, payload).await?;
    let on = field(&fields, "marketing_emails") == Some("true");
    let c = Correction { marketing_emails: Some(on), ..Default::default() };
    Ok(act(data, path.into_inner(), move |conn, t| apply_correction(conn, t, c), "saved").await)
}

pub async fn correct(
    data: PageData,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let fields = form(&req, payload).await?;
    let get = |n: &str| field(&fields, n).map(str::to_string);
    let c = Correction {
        name: get("name"),
        email: get("email"),
        company: get("company"),
        phone: get("phone"),
        address: get("address"),
        marketing_emails: None,
    };
    Ok(act(data, path.into_inner(), move |conn, t| apply_correction(conn, t, c), "saved").await)
}

pub async fn export(data: PageData, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let PageData { db, public_url, badge_key } = data;
    let links = move |conn: &mut crate::db::DbConn| {
        self_service::export_record(&Links { public_url: &public_url, badge_key: &badge_key }, conn, &token)
    };
    match db.write(links).await {
        Ok(r) => HttpResponse::Ok()
            .insert_header(("Content-Disposition", "attachment; filename=\"my-data.json\""))
            .insert_header(("Cache-Control", "no-store"))
            .json(r),
        Err(_) => not_found(),
    }
}

pub async fn erase(
    data: PageData,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let fields = form(&req, payload).await?;
    let token = path.into_inner();
    if field(&fields, "confirm") != Some("true") {
        return Ok(match data.record(token.clone()).await {
            Ok(r) => html(
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&token, &r, Some("Tick the box to confirm the deletion.")),
            ),
            Err(_) => not_found(),
        });
    }
    let key = crate::mail::OutboxKey::from_badge_key(&data.badge_key)?;
    Ok(match data.db.write(move |conn| self_service::self_erase(conn, &key, &token)).await {
        Ok(result) => {
            let names: Vec<String> = result.recipients_to_notify.iter().map(|p| esc(&p.name)).collect();
            let told = if names.is_empty() {
                "No partner had received your data.".to_string()
            } else {
                format!("These partners had received your data and will be told to delete it: {}.", names.join(", "))
            };
            html(StatusCode::OK, page("Deleted", &format!("<h1>Your data was deleted</h1><p>{told}</p>")))
        }
        Err(_) => not_found(),
    })
}

fn unsubscribe_page(token: &str, done: bool) -> String {
    if done {
        page("Unsubscribed", "<h1>You are unsubscribed</h1><p>You will receive no more marketing e-mails.</p>")
    } else {
        page(
            "Unsubscribe",
            &format!(
                "<h1>Unsubscribe from marketing e-mails</h1><form method=\"post\" action=\"/u/{}\">\
                 <button type=\"submit\">Unsubscribe</button></form>",
                esc(token)
            ),
        )
    }
}

pub async fn unsubscribe_form(db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let t = token.clone();
    match db.read(move |conn| by_unsubscribe_token(conn, &t)).await {
        Ok(_) => html(StatusCode::OK, unsubscribe_page(&token, false)),
        Err(_) => not_found(),
    }
}

/// One POST switches marketing e-mails off, whatever the body (RFC 8058 sends
/// `List-Unsubscribe=One-Click`).
pub async fn unsubscribe(db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let t = token.clone();
    let result = db.write(move |conn| self_service::unsubscribe(conn, &t)).await;
    match result {
        Ok(()) => html(StatusCode::OK, unsubscribe_page(&token, true)),
        Err(_) => not_found(),
    }
}
