//! Badge images, the printable sheet, and reissue.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{current, reissue, render_png, render_svg};
use crate::app::AppState;
use crate::attendees::{self, BadgeLinks};
use crate::auth::{Auth, Registration};
use crate::error::{AppError, AppResult, Problem};
use crate::events;
use crate::gate::{self, StaffSelection};

/// The payload of an attendee's current badge; 404 when erased or revoked.
async fn current_payload(state: &web::Data<AppState>, event_id: String, attendee_id: String) -> AppResult<String> {
    let badge = state
        .db
        .run(move |conn| {
            let a = attendees::find_in_event(conn, &event_id, &attendee_id)?;
            if a.erased_at.is_some() {
                return Err(AppError::NotFound);
            }
            current(conn, &a.id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(state.badge_key.code_for(&badge.id)?.payload())
}

fn image(content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).insert_header(("Cache-Control", "no-store")).body(body)
}

/// The badge QR code as PNG (error correction M, quiet zone of 4 modules).
#[utoipa::path(tag = "badges", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees/{attendee_id}/badge.png")]
pub async fn badge_png(
    state: web::Data<AppState>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let payload = current_payload(&state, event_id, attendee_id).await?;
    let png = web::block(move || render_png(&payload)).await??;
    Ok(image("image/png", png))
}

/// The badge QR code as SVG.
#[utoipa::path(tag = "badges", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees/{attendee_id}/badge.svg")]
pub async fn badge_svg(
    state: web::Data<AppState>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let payload = current_payload(&state, event_id, attendee_id).await?;
    Ok(image("image/svg+xml", render_svg(&payload)?.into_bytes()))
}

/// Revoke the current badge and issue a new one (lost or stolen badge).
#[utoipa::path(tag = "badges", security(("bearer" = [])), responses((status = 200, body = BadgeLinks), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/badge/reissue")]
pub async fn reissue_badge(
    state: web::Data<AppState>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<BadgeLinks>> {
    let (event_id, attendee_id) = path.into_inner();
    let state2 = state.clone();
    let (event_id, attendee_id, code) = state
        .db
        .write(move |conn| {
            let a = attendees::find_in_event(conn, &event_id, &attendee_id)?;
            if a.erased_at.is_some() {
                return Err(AppError::NotFound);
            }
            let code = reissue(conn, &state2.badge_key, &a.event_id, &a.id)?;
            Ok((a.event_id, a.id, code))
        })
        .await?;
    tracing::info!(attendee_id = %attendee_id, by = %auth.caller.user_id, "badge reissued");
    Ok(web::Json(BadgeLinks::new(&state.public_url, &event_id, &attendee_id, &code)))
}

#[derive(Deserialize, IntoParams)]
pub struct SheetQuery {
    /// 1-based page of 200 badges.
    pub page: Option<i64>,
}

const SHEET_PAGE: i64 = 200;

/// A print-ready HTML sheet of badges: name, company, QR code and the typed fallback code.
/// Each badge on the page is written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "badges", security(("bearer" = [])), params(SheetQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Problem)))]
#[get("/events/{event_id}/badges/sheet")]
pub async fn badge_sheet(
    state: web::Data<AppState>,
    auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<SheetQuery>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let page = query.page.unwrap_or(1);
    crate::http::check_page(page)?;
    let staff = auth.caller.user_id;
    let (event, rows) = state
        .db
        .write(move |conn| {
            let event = events::find(conn, &event_id)?;
            let offset = (page - 1) * SHEET_PAGE;
            let selection = StaffSelection::Badges { event_id: &event.id, offset, limit: Some(SHEET_PAGE) };
            let records = gate::staff_read(conn, &staff, selection)?.records;
            Ok((event, records))
        })
        .await?;
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Badges — {}</title>\
         <style>{SHEET_STYLE}</style></head><body><div class=\"sheet\">",
        esc(&event.name)
    );
    for a in rows {
        let code = state
            .badge_key
            .code_for(a.badge_id.as_deref().ok_or_else(|| AppError::internal("badge read without a badge"))?)?;
        html.push_str(&format!(
            "<div class=\"badge\"><div class=\"name\">{}</div><div class=\"company\">{}</div>{}<div class=\"code\">{}</div></div>",
            esc(a.contact.name.as_deref().unwrap_or("")),
            esc(a.contact.company.as_deref().unwrap_or("")),
            render_svg(&code.payload())?.trim_start_matches("<?xml version=\"1.0\" standalone=\"yes\"?>"),
            code.fallback()
        ));
    }
    html.push_str("</div></body></html>");
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Content-Security-Policy", crate::web::policy_for_style(SHEET_STYLE)))
        .body(html))
}

/// The sheet's own print layout; its Content-Security-Policy allows exactly this style.
const SHEET_STYLE: &str = "@page{size:A4;margin:10mm}body{font-family:sans-serif;margin:0}\
.sheet{display:grid;grid-template-columns:repeat(2,1fr);gap:6mm}\
.badge{border:1px dashed #999;padding:6mm;break-inside:avoid;text-align:center}\
.name{font-size:18pt;font-weight:bold}.company{font-size:12pt}\
.code{font-family:monospace;font-size:10pt;letter-spacing:1px}svg{width:45mm;height:45mm}";

/// Every current badge of an event as CSV, for a print shop (admin or registrar):
/// attendee_id, name, company, badge_payload (what the QR code holds), fallback_code.
/// Each row is written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "badges", security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem)))]
#[get("/events/{event_id}/badges.csv")]
pub async fn badges_csv(
    state: web::Data<AppState>,
    auth: Auth<Registration>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let staff = auth.caller.user_id;
    let rows = state
        .db
        .write(move |conn| {
            let event = events::find(conn, &event_id)?;
            // One ledger row per badge: 100k participants make 100k rows, appended in
            // 100-row statements inside this one transaction.
            let selection = StaffSelection::Badges { event_id: &event.id, offset: 0, limit: None };
            Ok(gate::staff_read(conn, &staff, selection)?.records)
        })
        .await?;
    // The CSV is built after the commit: the write lock is held for the read and the ledger only.
    let key = state.clone();
    let bytes = web::block(move || {
        let header = ["attendee_id", "name", "company", "badge_payload", "fallback_code"].map(String::from).to_vec();
        let mut records = Vec::with_capacity(rows.len() + 1);
        records.push(header);
        for a in rows {
            let code = key
                .badge_key
                .code_for(a.badge_id.as_deref().ok_or_else(|| AppError::internal("badge read without a badge"))?)?;
            records.push(vec![
                a.attendee_id,
                a.contact.name.unwrap_or_default(),
                a.contact.company.unwrap_or_default(),
                code.payload(),
                code.fallback(),
            ]);
        }
        crate::exports::csv_bytes(records)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"badges.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(badge_png).service(badge_svg).service(reissue_badge).service(badge_sheet).service(badges_csv);
}
