//! `GET /api/v1/leads/export.csv`: the partner admin's download, streamed.

use actix_web::{HttpResponse, get, web};

use super::ExportQuery;
use crate::auth::PartnerAdminOnly;
use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};
use crate::http::auth::Auth;

/// Download the leads the gate allows for the caller's partner as CSV (partner admin).
#[utoipa::path(tag = "leads", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String,
        description = "RFC 4180, CRLF, every field quoted; header X-Export-Id names the export record"),
        (status = 403, body = Problem)))]
#[get("/leads/export.csv")]
pub async fn export_csv(
    db: web::Data<Db>,
    auth: Auth<PartnerAdminOnly>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let scope = auth.caller.partner_scope()?;
    let excel = match query.dialect.as_deref() {
        None => false,
        Some("excel") => true,
        Some(_) => return Err(AppError::field("dialect", "the only dialect is `excel`")),
    };
    let preflight = scope.clone();
    let (slug, export) = db.write(move |conn| super::start(conn, &preflight)).await?;
    let export_id = export.id.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    let db = db.into_inner();
    let id = export_id.clone();
    actix_web::rt::spawn(async move {
        let failed = tx.clone();
        let send = move |bytes: Vec<u8>| tx.blocking_send(Ok(bytes.into())).is_ok();
        match web::block(move || super::stream(&db, &scope, &id, excel, send)).await {
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
    let stamp = time::OffsetDateTime::now_utc();
    let filename = format!(
        "leads-{slug}-{:04}{:02}{:02}-{:02}{:02}{:02}.csv",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Export-Id", export_id))
        .streaming(body))
}
