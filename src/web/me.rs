//! The participant's personal privacy page at `/me/{token}`, and one-request unsubscribe
//! at `/u/{token}` (RFC 8058 List-Unsubscribe-Post). The token in the path is the
//! capability: forms post back to the same link, so another site cannot forge them
//! without knowing it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use maud::{Markup, PreEscaped, html};

use super::fields::{Field, error_for, sentence};
use super::layout::{self, Chrome};
use super::{html, link_not_valid_then, prefers_html, public_chrome};
use crate::attendees::retired;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult, FieldError};
use crate::events::{self, EventRow};
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

/// Everything the page shows: the record, the event (its zone, notice and contact), and
/// the QR payload of the current badge (none once revoked or erased).
struct Shown {
    record: ParticipantRecord,
    event: EventRow,
    badge: Option<String>,
}

impl PageData {
    async fn shown(&self, token: String) -> AppResult<Shown> {
        let (public_url, badge_key) = (self.public_url.clone(), self.badge_key.clone());
        self.db
            .read(move |conn| {
                let links = Links { public_url: &public_url, badge_key: &badge_key };
                let record = crate::rights::load_record(conn, &links, &token)?;
                let event = events::find(conn, &record.data.event_id)?;
                let attendee = crate::rights::by_privacy_token(conn, &token)?;
                let badge = match crate::badges::current(conn, &attendee.id)? {
                    Some(b) => Some(badge_key.code_for(&b.id)?.payload()),
                    None => None,
                };
                Ok(Shown { record, event, badge })
            })
            .await
    }
}

/// The badge as the participant shows it at the entrance: the QR code (inline SVG, no
/// request for an image) and the code to type when a camera cannot read it. Without the
/// image if it cannot be drawn: the typed code still gets them in.
fn badge_section(payload: Option<&str>) -> Markup {
    let Some(payload) = payload else {
        return html! {
            h2 { "Your badge" }
            p { "You have no valid badge at the moment; please ask the organiser." }
        };
    };
    let svg = crate::badges::render_svg(payload).ok();
    let svg = svg.as_deref().map(|s| s.trim_start_matches("<?xml version=\"1.0\" standalone=\"yes\"?>"));
    let fallback = crate::badges::BadgeCode::readings(payload).first().map(crate::badges::BadgeCode::fallback);
    html! {
        h2 { "Your badge" }
        p { "Show it at the entrance and at partners' booths." }
        @if let Some(svg) = svg {
            // The SVG is drawn by the qrcode crate from the payload alone: no participant text.
            div #badge { (PreEscaped(svg)) }
        }
        p { "If a camera cannot read it, the code is " code #fallback { (fallback.unwrap_or_default()) } "." }
    }
}

/// A personal link that does not work (replaced, revoked, or its participant erased): a
/// page for a browser, problem+json for an API client.
///
/// A privacy link replaced by a newer one (`token`) names its event and offers that
/// event's "lost my badge or link" form: its holder can get the current link without
/// asking the organiser by hand.
async fn dead_link(req: &HttpRequest, db: &Db, token: Option<String>) -> HttpResponse {
    if !prefers_html(req, true) {
        return actix_web::ResponseError::error_response(&AppError::NotFound);
    }
    // Without the event (an unknown token, or the database unavailable) the page still
    // says what happened.
    let replaced = match token {
        Some(token) => db.read(move |conn| retired::find(conn, &token)).await.ok().flatten(),
        None => None,
    };
    match replaced {
        Some((event, at)) => link_not_valid_then(
            &format!("It was replaced by a newer link on {}.", event.display_time(at)),
            html! {
                p {
                    "Cannot find the newer one? "
                    a href={ "/e/" (event.slug) "/resend" } { "Get your badge and a new link for " (event.name) }
                    " by e-mail, at the address we have for you."
                }
            },
            &public_chrome(&event),
        ),
        None => link_not_valid_then(
            "Check that the whole link was copied. If you asked for your data to be deleted, the link no longer \
             works; otherwise ask the organiser for a new one.",
            html! {},
            &Chrome::PLAIN,
        ),
    }
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).insert_header(("Cache-Control", "no-store")).finish()
}

/// What the page says above everything else after an action.
enum Notice {
    /// The action was done (shown after the redirect, `?done=…`).
    Done(String),
    /// The action was refused, with why.
    Refused(String),
}

/// The correction form as the participant last sent it, with its errors.
struct Typed {
    correction: Correction,
    errors: Vec<FieldError>,
}

/// The erase form's error (the box was not ticked).
const ERASE_UNCONFIRMED: &str = "Tick the box to confirm the deletion.";

/// The releases to one partner, as one line of "Who received your data".
struct Received<'a> {
    partner_id: &'a str,
    partner: &'a str,
    first: &'a str,
    last: &'a str,
    times: usize,
    fields: Vec<&'a str>,
    bases: Vec<&'static str>,
    channels: Vec<&'static str>,
}

/// Every lead card a partner's phone showed and every page of its portal is a row of the
/// ledger: after a few minutes of a partner's browsing the page listed some twenty
/// near-identical rows, which hid who had what. One line per partner instead, in the order
/// the partners first received something; the JSON download keeps every row.
fn by_partner(recipients: &[crate::rights::Recipient]) -> Vec<Received<'_>> {
    use crate::ledger::{Basis, Channel};
    let mut out: Vec<Received<'_>> = Vec::new();
    for rc in recipients {
        let basis = match rc.basis {
            Basis::OptIn => "you opted in",
            Basis::Scan => "they scanned your badge",
            Basis::OptInScan => "you opted in and they scanned your badge",
            Basis::StaffAccess => "the organiser's staff",
            Basis::IncidentNotification => "to tell you of an incident",
        };
        let channel = match rc.channel {
            Channel::Scan => "on their scanning phone",
            Channel::Api => "through their software",
            Channel::Export => "in a download",
            Channel::Staff => "read by staff",
        };
        // By id: two partners of an event may bear the same name.
        let i = match out.iter().position(|g| g.partner_id == rc.partner_id) {
            Some(i) => i,
            None => {
                out.push(Received {
                    partner_id: &rc.partner_id,
                    partner: &rc.partner_name,
                    first: &rc.occurred_at,
                    last: &rc.occurred_at,
                    times: 0,
                    fields: Vec::new(),
                    bases: Vec::new(),
                    channels: Vec::new(),
                });
                out.len() - 1
            }
        };
        let Some(g) = out.get_mut(i) else { continue };
        g.times += 1;
        // RFC 3339 in UTC: the text orders as the time.
        if rc.occurred_at.as_str() < g.first {
            g.first = &rc.occurred_at;
        }
        if rc.occurred_at.as_str() > g.last {
            g.last = &rc.occurred_at;
        }
        for f in &rc.fields {
            if !g.fields.contains(&f.as_str()) {
                g.fields.push(f);
            }
        }
        if !g.bases.contains(&basis) {
            g.bases.push(basis);
        }
        if !g.channels.contains(&channel) {
            g.channels.push(channel);
        }
    }
    out
}

fn partner_name(r: &ParticipantRecord, id: Option<&str>) -> String {
    match id {
        None => "all partners".to_string(),
        Some(id) => r.partners.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string()),
    }
}

/// The confirmation a `?done=` asks for, in words about this participant's partners.
fn done_notice(r: &ParticipantRecord, query: &str) -> Option<Notice> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let text = match get("done")? {
        "withdrawn" => format!(
            "Done: you stopped sharing your contact details with {}. From now on they receive nothing more.",
            partner_name(r, get("from"))
        ),
        "marketing_on" => "Done: marketing e-mails are switched on.".to_string(),
        "marketing_off" => "Done: marketing e-mails are switched off.".to_string(),
        "saved" => "Done: your details are saved.".to_string(),
        _ => return None,
    };
    Some(Notice::Done(text))
}

fn render(token: &str, shown: &Shown, notice: Option<&Notice>, typed: Option<&Typed>, erase_error: bool) -> String {
    let r = &shown.record;
    let event = &shown.event;
    let d = &r.data;
    let base = format!("/me/{token}");
    let when = |t: &str| event.display_rfc3339(t);
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
    // The correction form shows what was typed after an error, else what is held.
    let held = Correction {
        name: Some(d.name.clone()),
        email: Some(d.email.clone()),
        company: d.company.clone(),
        phone: d.phone.clone(),
        address: d.address.clone(),
        marketing_emails: None,
    };
    let (values, errors): (&Correction, &[FieldError]) = match typed {
        Some(t) => (&t.correction, &t.errors),
        None => (&held, &[]),
    };
    let correction_field =
        |name: &'static str, kind: &'static str, autocomplete: &'static str, value: &Option<String>| {
            let id = format!("c-{name}");
            Field {
                id: &id,
                name,
                label: super::fields::label_of(name),
                kind,
                value: value.as_deref().unwrap_or(""),
                autocomplete,
                required: false,
                error: error_for(errors, name),
            }
            .render()
        };
    let markup = html! {
        h1 { "Your data for " (d.event_name) }
        @match notice {
            Some(Notice::Done(text)) => div.notice role="status" { (text) },
            Some(Notice::Refused(text)) => div.alert role="alert" { (text) },
            None => {},
        }
        (badge_section(shown.badge.as_deref()))
        h2 { "What we hold" }
        dl {
            dt { "Name" } dd #name { (d.name) }
            dt { "E-mail" } dd { (d.email) }
            dt { "Company" } dd { (or_dash(&d.company)) }
            dt { "Phone" } dd { (or_dash(&d.phone)) }
            dt { "Address" } dd { (or_dash(&d.address)) }
            dt { "Marketing e-mails" } dd { @if d.marketing_emails { "on" } @else { "off" } }
        }
        h2 { "Your choices about partners" }
        ul {
            @for o in &r.opt_ins {
                li {
                    "Shared with " (partner_name(r, o.partner_id.as_deref())) " since " (when(&o.granted_at))
                    @if o.confirmed_at.is_none() && o.ended_at.is_none() {
                        " (not in effect until you confirm your address with the link in your confirmation mail)"
                    }
                    @if let Some(ended) = &o.ended_at { ", ended " (when(ended)) }
                }
            }
            @for w in &r.withdrawals {
                li { "Withdrawn from " (partner_name(r, w.partner_id.as_deref())) " on " (when(&w.created_at)) }
            }
            @if r.opt_ins.is_empty() && r.withdrawals.is_empty() {
                li { "You did not opt in to sharing with any partner." }
            }
        }
        h2 { "Partners who scanned your badge" }
        ul {
            @for sc in &r.scans { li { (sc.partner_name) " at " (when(&sc.scanned_at)) } }
            @if r.scans.is_empty() { li { "None." } }
        }
        h2 { "Who received your data" }
        @if r.recipients.is_empty() {
            p { "No partner has received your data." }
        } @else {
            p { "One line per partner; the download below lists every single release." }
            (layout::table_wrap(html! {
                table #recipients {
                    tr { th { "Partner" } th { "When" } th { "Which data" } th { "Why and how" } }
                    @for g in by_partner(&r.recipients) {
                        tr {
                            td { (g.partner) }
                            td {
                                @let (first, last) = (when(g.first), when(g.last));
                                (first)
                                @if last != first { " to " (last) }
                                @if g.times > 1 { " (" (g.times) " times)" }
                            }
                            td { (g.fields.join(", ")) }
                            td { (g.bases.join("; ")) " — " (g.channels.join(", ")) }
                        }
                    }
                }
            }))
        }
        h2 { "Stop sharing" }
        // A withdrawal holds for good: offering it again for a partner already stopped read
        // as if it had not worked.
        @let stopped_all = r.withdrawals.iter().any(|w| w.partner_id.is_none());
        @if stopped_all {
            p { "You stopped sharing with every partner of this event." }
        } @else {
            form method="post" action={ (base) "/withdraw" } {
                input type="hidden" name="all_partners" value="true";
                button type="submit" { "Stop sharing with all partners" }
            }
            @for p in r.partners.iter().filter(|p| !r.withdrawals.iter().any(|w| w.partner_id.as_deref() == Some(p.id.as_str()))) {
                form method="post" action={ (base) "/withdraw" } {
                    input type="hidden" name="partner_id" value=(p.id);
                    button type="submit" { "Stop sharing with " (p.name) }
                }
            }
        }
        h2 { "Marketing e-mails" }
        form method="post" action={ (base) "/marketing" } {
            input type="hidden" name="marketing_emails" value=(!d.marketing_emails);
            button type="submit" { "Switch marketing e-mails " @if d.marketing_emails { "off" } @else { "on" } }
        }
        h2 { "Correct your details" }
        form method="post" action={ (base) "/correct" } novalidate {
            (correction_field("name", "text", "name", &values.name))
            (correction_field("email", "email", "email", &values.email))
            (correction_field("company", "text", "organization", &values.company))
            (correction_field("phone", "tel", "tel", &values.phone))
            (correction_field("address", "textarea", "street-address", &values.address))
            button type="submit" { "Save" }
        }
        h2 { "Your data as a file" }
        p { a href={ (base) "/export.json" } { "Download everything we hold (JSON)" } }
        h2 { "Delete your data" }
        form method="post" action={ (base) "/erase" } {
            label.check {
                input type="checkbox" name="confirm" value="true" required
                    aria-invalid=[erase_error.then_some("true")] aria-describedby=[erase_error.then_some("confirm-error")];
                " I understand my data will be deleted and my badge will stop working."
            }
            @if erase_error { div.error id="confirm-error" { (ERASE_UNCONFIRMED) } }
            button type="submit" { "Delete my data" }
        }
    };
    layout::render("Your data", &public_chrome(event), markup)
}

pub async fn show(req: HttpRequest, data: PageData, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    match data.shown(token.clone()).await {
        Ok(shown) => {
            let notice = done_notice(&shown.record, req.query_string());
            html(StatusCode::OK, render(&token, &shown, notice.as_ref(), None, false))
        }
        Err(_) => dead_link(&req, &data.db, Some(token)).await,
    }
}

/// The page again with a notice or the typed correction (after a refused action).
async fn again(
    req: &HttpRequest,
    data: &PageData,
    token: &str,
    status: StatusCode,
    notice: Option<Notice>,
    typed: Option<Typed>,
    erase_error: bool,
) -> HttpResponse {
    match data.shown(token.to_string()).await {
        Ok(shown) => html(status, render(token, &shown, notice.as_ref(), typed.as_ref(), erase_error)),
        Err(_) => dead_link(req, &data.db, Some(token.to_string())).await,
    }
}

async fn form(req: &HttpRequest, payload: web::Payload) -> AppResult<Vec<(String, String)>> {
    let body = crate::http::json::read_body(req, &mut payload.into_inner(), 16 * 1024).await?;
    crate::http::input::decode_form(&body).map_err(AppError::Validation)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs a page action; when done, redirects to the page with `?done=` (and `extra`
/// query pairs) so it confirms what happened and a reload does not repeat it. A refused
/// action shows the page again with why; a refused correction keeps what was typed.
async fn act(
    req: &HttpRequest,
    data: PageData,
    token: String,
    action: impl FnOnce(&mut crate::db::DbConn, &str) -> AppResult<()> + Send + 'static,
    done: &[(&str, &str)],
    typed: Option<Correction>,
) -> HttpResponse {
    let t = token.clone();
    match data.db.write(move |conn| action(conn, &t)).await {
        Ok(()) => {
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(done).finish();
            see_other(format!("/me/{token}?{query}"))
        }
        Err(AppError::Unauthorized | AppError::NotFound) => dead_link(req, &data.db, Some(token)).await,
        Err(AppError::Validation(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            match typed {
                Some(correction) => {
                    let notice = Notice::Refused("Nothing was saved: please correct the marked fields.".into());
                    again(req, &data, &token, status, Some(notice), Some(Typed { correction, errors }), false).await
                }
                None => {
                    let text = errors.iter().map(|e| sentence(&e.field, &e.message)).collect::<Vec<_>>().join(" ");
                    again(req, &data, &token, status, Some(Notice::Refused(text)), None, false).await
                }
            }
        }
        Err(AppError::Conflict(msg)) => {
            let notice = Notice::Refused(sentence("", &msg));
            let typed = typed.map(|correction| Typed { correction, errors: Vec::new() });
            again(req, &data, &token, StatusCode::CONFLICT, Some(notice), typed, false).await
        }
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
    let mut done = vec![("done", "withdrawn".to_string())];
    if let Some(p) = &scope {
        done.push(("from", p.clone()));
    }
    let done: Vec<(&str, &str)> = done.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let token = path.into_inner();
    Ok(act(
        &req,
        data,
        token,
        move |conn, t| self_service::self_withdraw(conn, &key, t, scope).map(|_| ()),
        &done,
        None,
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
    let done = [("done", if on { "marketing_on" } else { "marketing_off" })];
    Ok(act(&req, data, path.into_inner(), move |conn, t| apply_correction(conn, t, c), &done, None).await)
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
    let typed = c.clone();
    let done = [("done", "saved")];
    Ok(act(&req, data, path.into_inner(), move |conn, t| apply_correction(conn, t, c), &done, Some(typed)).await)
}

pub async fn export(req: HttpRequest, data: PageData, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let held = token.clone();
    let PageData { db, public_url, badge_key } = data;
    let links = move |conn: &mut crate::db::DbConn| {
        self_service::export_record(&Links { public_url: &public_url, badge_key: &badge_key }, conn, &token)
    };
    match db.write(links).await {
        Ok(r) => HttpResponse::Ok()
            .insert_header(("Content-Disposition", "attachment; filename=\"my-data.json\""))
            .insert_header(("Cache-Control", "no-store"))
            .json(r),
        Err(_) => dead_link(&req, &db, Some(held)).await,
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
        let notice = Some(Notice::Refused("Nothing was deleted. ".to_string() + ERASE_UNCONFIRMED));
        return Ok(again(&req, &data, &token, StatusCode::UNPROCESSABLE_ENTITY, notice, None, true).await);
    }
    let key = crate::mail::OutboxKey::from_badge_key(&data.badge_key)?;
    // The event is read first: after the erasure the link no longer finds the participant.
    let t = token.clone();
    let held = token.clone();
    let event = data
        .db
        .read(move |conn| {
            let attendee = crate::rights::by_privacy_token(conn, &t)?;
            events::find(conn, &attendee.event_id)
        })
        .await
        .ok();
    Ok(match data.db.write(move |conn| self_service::self_erase(conn, &key, &token)).await {
        Ok(result) => {
            let names: Vec<&str> = result.recipients_to_notify.iter().map(|p| p.name.as_str()).collect();
            let markup = html! {
                h1 { "Your data was deleted" }
                div.notice role="status" {
                    @if names.is_empty() {
                        "No partner had received your data."
                    } @else {
                        "These partners had received your data and will be told to delete it: " (names.join(", ")) "."
                    }
                }
            };
            let chrome = event.as_ref().map(public_chrome).unwrap_or(Chrome::PLAIN);
            html(StatusCode::OK, layout::render("Deleted", &chrome, markup))
        }
        Err(_) => dead_link(&req, &data.db, Some(held)).await,
    })
}

fn unsubscribe_page(token: &str, done: bool) -> String {
    let markup = if done {
        html! {
            h1 { "You are unsubscribed" }
            div.notice role="status" { "You will receive no more marketing e-mails." }
        }
    } else {
        html! {
            h1 { "Unsubscribe from marketing e-mails" }
            form method="post" action={ "/u/" (token) } {
                button type="submit" { "Unsubscribe" }
            }
        }
    };
    layout::render(if done { "Unsubscribed" } else { "Unsubscribe" }, &Chrome::PLAIN, markup)
}

pub async fn unsubscribe_form(req: HttpRequest, db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let t = token.clone();
    match db.read(move |conn| by_unsubscribe_token(conn, &t)).await {
        Ok(_) => html(StatusCode::OK, unsubscribe_page(&token, false)),
        Err(_) => dead_link(&req, &db, None).await,
    }
}

/// One POST switches marketing e-mails off, whatever the body (RFC 8058 sends
/// `List-Unsubscribe=One-Click`).
pub async fn unsubscribe(req: HttpRequest, db: web::Data<Db>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let t = token.clone();
    let result = db.write(move |conn| self_service::unsubscribe(conn, &t)).await;
    match result {
        Ok(()) => html(StatusCode::OK, unsubscribe_page(&token, true)),
        Err(_) => dead_link(&req, &db, None).await,
    }
}
