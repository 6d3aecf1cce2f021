//! CSV lead exports, streamed from the database through the gate.
//!
//! Rows are read in pages of participants; each page is released (ledger rows written,
//! committed) before its bytes are sent, so the ledger never misses a delivered row and
//! memory stays flat however large the export. The export record keeps the row count and
//! the SHA-256 of the bytes delivered.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use diesel::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::auth::{Auth, PartnerAdminOnly, PartnerScope};
use crate::db::schema::{exports, users};
use crate::db::{Db, DbConn, ms_to_rfc3339, new_id, now_ms, write_tx};
use crate::error::{AppError, AppResult, Problem};
use crate::events;
use crate::gate::{self, Channel, Release, Selection};

const PAGE: i64 = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = exports)]
pub struct ExportRow {
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub row_count: Option<i64>,
    pub sha256: Option<String>,
}

/// Spreadsheet programs run cells that start like a formula; a leading apostrophe makes
/// them text (OWASP CSV injection).
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

pub fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

/// Writes records to bytes, every cell neutralised.
pub fn csv_bytes<I, R>(records: I) -> AppResult<Vec<u8>>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut w = csv_writer();
    for record in records {
        let cells: Vec<String> = record.into_iter().map(|c| neutralise(&c)).collect();
        w.write_record(&cells).map_err(AppError::internal)?;
    }
    w.into_inner().map_err(AppError::internal)
}

#[derive(Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `excel` prepends a UTF-8 byte order mark so Excel reads UTF-8.
    pub dialect: Option<String>,
}

/// Columns: the contact fields the event releases (of name, company, address, phone,
/// email), then basis, first_scanned_at, scanned_by, notes, rating, answers (JSON).
fn header(fields: &[&'static str]) -> Vec<String> {
    let mut h: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    h.extend(["basis", "first_scanned_at", "scanned_by", "notes", "rating", "answers"].map(String::from));
    h
}

fn record(r: &Release, fields: &[&'static str], scanners: &HashMap<String, String>) -> Vec<String> {
    let c = &r.contact;
    let mut cells: Vec<String> = fields
        .iter()
        .map(|f| {
            match *f {
                "name" => c.name.clone(),
                "company" => c.company.clone(),
                "address" => c.address.clone(),
                "phone" => c.phone.clone(),
                "email" => c.email.clone(),
                _ => None,
            }
            .unwrap_or_default()
        })
        .collect();
    let lead = r.lead.as_ref();
    cells.push(r.basis.as_str().to_string());
    cells.push(lead.map(|l| ms_to_rfc3339(l.first_scanned_at)).unwrap_or_default());
    cells.push(lead.and_then(|l| scanners.get(&l.first_scanned_by).cloned()).unwrap_or_default());
    cells.push(lead.and_then(|l| l.notes.clone()).unwrap_or_default());
    cells.push(lead.and_then(|l| l.rating).map(|r| r.to_string()).unwrap_or_default());
    cells.push(lead.and_then(|l| l.answers.clone()).unwrap_or_default());
    cells
}

type Sender = tokio::sync::mpsc::Sender<Result<web::Bytes, std::io::Error>>;

fn stream_export(db: Db, scope: PartnerScope, export_id: String, excel: bool, tx: Sender) -> AppResult<()> {
    let mut conn = db.get()?;
    let conn: &mut DbConn = &mut conn;
    let event = events::find(conn, &scope.event_id)?;
    let fields = gate::fields_for(Channel::Export, scope.role, &event);
    let scanners: HashMap<String, String> = users::table
        .filter(users::partner_id.eq(&scope.partner_id))
        .select((users::id, users::email))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();

    let mut hasher = Sha256::new();
    let mut rows = 0i64;
    let mut first = csv_bytes([header(&fields)])?;
    if excel {
        first.splice(0..0, [0xEF, 0xBB, 0xBF]);
    }
    hasher.update(&first);
    if tx.blocking_send(Ok(first.into())).is_err() {
        return Ok(());
    }
    let mut after: Option<String> = None;
    loop {
        let page = gate::release(
            conn,
            &scope,
            Channel::Export,
            Selection::After { after: after.as_deref(), limit: PAGE },
            Some(&export_id),
        )?;
        let Some(last) = page.last() else { break };
        after = Some(last.attendee_id.clone());
        let bytes = csv_bytes(page.iter().map(|r| record(r, &fields, &scanners)))?;
        hasher.update(&bytes);
        let page_rows = i64::try_from(page.len()).unwrap_or(i64::MAX);
        rows += page_rows;
        if tx.blocking_send(Ok(bytes.into())).is_err() {
            tracing::warn!(export_id, rows, "export client went away");
            break;
        }
        if page_rows < PAGE {
            break;
        }
    }
    let digest = hex::encode(hasher.finalize());
    write_tx(conn, |conn| {
        diesel::update(exports::table.find(&export_id))
            .set((
                exports::completed_at.eq(Some(now_ms())),
                exports::row_count.eq(Some(rows)),
                exports::sha256.eq(Some(digest)),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    tracing::info!(export_id, rows, "export delivered");
    Ok(())
}

/// Download the leads the gate allows for the caller's partner as CSV (partner admin).
#[utoipa::path(tag = "leads", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String,
        description = "RFC 4180, CRLF, every field quoted; header X-Export-Id names the export record"),
        (status = 403, body = Problem)))]
#[get("/leads/export.csv")]
pub async fn export_csv(
    state: web::Data<AppState>,
    auth: Auth<PartnerAdminOnly>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let scope = auth.caller.partner_scope()?;
    let excel = match query.dialect.as_deref() {
        None => false,
        Some("excel") => true,
        Some(_) => return Err(AppError::field("dialect", "the only dialect is `excel`")),
    };
    let export = ExportRow {
        id: new_id(),
        event_id: scope.event_id.clone(),
        partner_id: scope.partner_id.clone(),
        user_id: scope.user_id.clone(),
        started_at: now_ms(),
        completed_at: None,
        row_count: None,
        sha256: None,
    };
    let preflight = scope.clone();
    let (slug, export) = state
        .db
        .write(move |conn| {
            gate::ensure_not_suspended(conn, &preflight)?;
            let event = events::find(conn, &export.event_id)?;
            diesel::insert_into(exports::table).values(&export).execute(conn)?;
            Ok((event.slug, export))
        })
        .await?;
    let export_id = export.id.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = state.db.clone();
    let id = export_id.clone();
    actix_web::rt::spawn(async move {
        let failed = tx.clone();
        match web::block(move || stream_export(db, scope, id, excel, tx)).await {
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

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(export_csv);
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_starts_are_neutralised_and_others_kept() {
        for bad in ["=1+1", "+49", "-2", "@SUM(A1)", "\tx", "\rx", "\nx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for good in ["Zoë", "山田太郎", "a=b", "", "1+1"] {
            assert_eq!(neutralise(good), good);
        }
    }
}
