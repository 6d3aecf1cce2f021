//! `GET /api/v1/leads/export.csv` and `export.xlsx`: the partner admin's downloads.

use actix_web::{HttpResponse, get, web};

use super::ExportQuery;
use crate::auth::{PartnerAdminOnly, PartnerScope};
use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::auth::Auth;

/// Download the leads the gate allows for the caller's partner as CSV (partner admin).
#[utoipa::path(tag = "leads", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String,
        description = "RFC 4180, CRLF, every field quoted; the last column, delete_by, is the date by which the partner must delete the file",
        headers(("X-Export-Id" = String, description = "The export record (disclosure ledger) of this download"),
            ("X-Delete-After" = String, description = "The event's retention end (YYYY-MM-DD): delete the file and every copy by then"),
            ("Content-Disposition" = String, description = "attachment; filename=\"leads-{slug}-{UTC time}.csv\""))),
        (status = 403, body = Problem)))]
#[get("/leads/export.csv")]
pub async fn export_csv(
    db: web::Data<Db>,
    auth: Auth<PartnerAdminOnly>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    csv_response(db, auth.caller.partner_scope()?, query.dialect.as_deref()).await
}

/// The CSV download for a partner scope: the API's handler and the portal's download page
/// (signed in with the session cookie) both answer with it, so both are ledgered alike.
pub async fn csv_response(db: web::Data<Db>, scope: PartnerScope, dialect: Option<&str>) -> AppResult<HttpResponse> {
    let dialect = super::Dialect::parse(dialect)?;
    let preflight = scope.clone();
    let (event, export) = db.write(move |conn| super::start(conn, &preflight)).await?;
    let export_id = export.id.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    let db = db.into_inner();
    let id = export_id.clone();
    actix_web::rt::spawn(async move {
        let failed = tx.clone();
        let send = move |bytes: Vec<u8>| tx.blocking_send(Ok(bytes.into())).is_ok();
        match web::block(move || super::stream(&db, &scope, &id, dialect, send)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "export failed");
                // Ends the response with an error: a partial CSV must not look complete.
                let _ = failed.send(Err(std::io::Error::other("export failed"))).await;
            }
            Err(e) => tracing::error!(error = %e, "export task failed"),
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", disposition(&event.slug, "csv")))
        .insert_header(("X-Delete-After", super::delete_by(&event)))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Export-Id", export_id))
        .streaming(body))
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Download the same leads, columns and ledger rows as the CSV, as an Excel workbook
/// (partner admin). Every cell is a text cell, so nothing in it runs as a formula.
#[utoipa::path(tag = "leads", security(("bearer" = [])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        body = Vec<u8>,
        description = "One sheet, bold frozen header, the CSV's columns",
        headers(("X-Export-Id" = String, description = "The export record (disclosure ledger) of this download"),
            ("X-Delete-After" = String, description = "The event's retention end (YYYY-MM-DD): delete the file and every copy by then"),
            ("Content-Disposition" = String, description = "attachment; filename=\"leads-{slug}-{UTC time}.xlsx\""))),
        (status = 403, body = Problem)))]
#[get("/leads/export.xlsx")]
pub async fn export_xlsx(db: web::Data<Db>, auth: Auth<PartnerAdminOnly>) -> AppResult<HttpResponse> {
    xlsx_response(db, auth.caller.partner_scope()?).await
}

/// The XLSX download for a partner scope (the API's and the portal's, see [`csv_response`]).
pub async fn xlsx_response(db: web::Data<Db>, scope: PartnerScope) -> AppResult<HttpResponse> {
    let preflight = scope.clone();
    let (event, export) = db.write(move |conn| super::start(conn, &preflight)).await?;
    let export_id = export.id.clone();
    let db = db.into_inner();
    let id = export_id.clone();
    // A zip cannot go out before its last row is written: build it whole, off the
    // async workers (see `exports::xlsx` for what that costs in memory).
    let bytes = web::block(move || super::xlsx(&db, &scope, &id)).await.map_err(AppError::internal)??;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(("Content-Disposition", disposition(&event.slug, "xlsx")))
        .insert_header(("X-Delete-After", super::delete_by(&event)))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Export-Id", export_id))
        .body(bytes))
}

/// `attachment; filename="leads-{slug}-{UTC timestamp}.{ext}"`.
fn disposition(slug: &str, ext: &str) -> String {
    let stamp = time::OffsetDateTime::now_utc();
    format!(
        "attachment; filename=\"leads-{slug}-{:04}{:02}{:02}-{:02}{:02}{:02}.{ext}\"",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    )
}
