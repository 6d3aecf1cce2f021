//! Badge images, the printable sheet, and reissue.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{BadgeKey, render_png, render_svg};
use crate::attendees::BadgeLinks;
use crate::auth::Registration;
use crate::config::PublicUrl;
use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::auth::Auth;

fn image(content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).insert_header(("Cache-Control", "no-store")).body(body)
}

/// The badge QR code as PNG (error correction M, quiet zone of 4 modules).
#[utoipa::path(tag = "badges", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees/{attendee_id}/badge.png")]
pub async fn badge_png(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let payload = db
        .read(move |conn| crate::attendees::badging::current_code(conn, &badge_key, &event_id, &attendee_id))
        .await?
        .payload();
    let png = web::block(move || render_png(&payload)).await??;
    Ok(image("image/png", png))
}

/// The badge QR code as SVG.
#[utoipa::path(tag = "badges", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees/{attendee_id}/badge.svg")]
pub async fn badge_svg(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (event_id, attendee_id) = path.into_inner();
    let payload = db
        .read(move |conn| crate::attendees::badging::current_code(conn, &badge_key, &event_id, &attendee_id))
        .await?
        .payload();
    Ok(image("image/svg+xml", render_svg(&payload)?.into_bytes()))
}

/// Revoke the current badge and issue a new one (lost or stolen badge).
#[utoipa::path(tag = "badges", security(("bearer" = [])), responses((status = 200, body = BadgeLinks), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/badge/reissue")]
pub async fn reissue_badge(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<BadgeLinks>> {
    let (event_id, attendee_id) = path.into_inner();
    let code =
        db.write(move |conn| crate::attendees::badging::reissue_for(conn, &badge_key, &event_id, &attendee_id)).await?;
    tracing::info!(attendee_id = %code.attendee_id, by = %auth.caller.user_id, "badge reissued");
    Ok(web::Json(BadgeLinks::new(&public_url.0, &code.event_id, &code.attendee_id, &code.code)))
}

#[derive(Deserialize, IntoParams)]
pub struct SheetQuery {
    /// 1-based page of 200 badges.
    pub page: Option<i64>,
}

/// A print-ready HTML sheet of badges: name, company, QR code and the typed fallback code.
/// Each badge on the page is written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "badges", security(("bearer" = [])), params(SheetQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Problem)))]
#[get("/events/{event_id}/badges/sheet")]
pub async fn badge_sheet(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<SheetQuery>,
) -> AppResult<HttpResponse> {
    sheet_response(&db, &badge_key, auth.caller.user_id, path.into_inner(), query.page.unwrap_or(1)).await
}

/// The badge sheet for staff user `staff`, shared by the API route and the console's (which
/// signs in with the session cookie): one core read, ledgered alike.
pub async fn sheet_response(
    db: &Db,
    badge_key: &web::Data<BadgeKey>,
    staff: String,
    event_id: String,
    page: i64,
) -> AppResult<HttpResponse> {
    let (event, rows) =
        db.write(move |conn| crate::attendees::badging::sheet(conn, &staff, &event_id, page, None)).await?;
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Badges — {}</title>\
         <style>{SHEET_STYLE}</style></head><body><div class=\"sheet\">",
        esc(&event.name)
    );
    for a in rows {
        let code = badge_key
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
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    auth: Auth<Registration>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let staff = auth.caller.user_id;
    let rows = db.write(move |conn| crate::attendees::badging::print_shop_rows(conn, &staff, &event_id)).await?;
    // The CSV is built after the commit: the write lock is held for the read and the ledger only.
    let bytes = web::block(move || crate::attendees::badging::print_shop_csv(&badge_key, rows)).await??;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"badges.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}
