//! Bulk registration from CSV: every row is checked first, and either all rows are stored
//! in one transaction or none is.

use std::collections::HashSet;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Prepared, RegistrationInput, prepare, store, validate};
use crate::app::AppState;
use crate::auth::{Auth, Registration};
use crate::consent::Source;
use crate::db::schema::attendees;
use crate::db::{DbConn, write_tx};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::{events, mail, partners};

pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;
const COLUMNS: [&str; 9] = [
    "name",
    "email",
    "company",
    "phone",
    "address",
    "is_adult",
    "share_with_all_partners",
    "share_with_partners",
    "marketing_emails",
];
const REQUIRED: [&str; 3] = ["name", "email", "is_adult"];
/// Row errors reported before the check stops: enough to see what is wrong with a file,
/// and a bounded answer however large and broken the upload.
pub const MAX_ROW_ERRORS: usize = 100;

/// Why a file was refused: its errors, and whether the check stopped at `MAX_ROW_ERRORS`.
struct Refused {
    errors: Vec<FieldError>,
    stopped_early: bool,
}

impl From<Vec<FieldError>> for Refused {
    fn from(errors: Vec<FieldError>) -> Refused {
        Refused { errors, stopped_early: false }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `false`: queue no confirmation mail (the participants were told otherwise). Default `true`.
    #[param(value_type = Option<bool>)]
    pub send_confirmation: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "true" => Some(true),
        "false" | "" => Some(false),
        _ => None,
    }
}

/// Parses and checks every row. Row numbers count data rows from 1 (the header is row 0).
fn parse(body: &[u8], partner_ids: &[String]) -> Result<Vec<super::ValidRegistration>, Refused> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(body);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![FieldError::new("header", format!("cannot read the header row: {e}"))].into()),
    };
    let mut index = [None; COLUMNS.len()];
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        match COLUMNS.iter().position(|c| *c == h).and_then(|pos| index.get_mut(pos)) {
            Some(slot) if slot.is_none() => *slot = Some(i),
            Some(_) => errors.push(FieldError::new("header", format!("column `{h}` appears twice"))),
            None => errors.push(FieldError::new("header", format!("unknown column `{h}`"))),
        }
    }
    for required in REQUIRED {
        if let Some(pos) = COLUMNS.iter().position(|c| *c == required)
            && index.get(pos) == Some(&None)
        {
            errors.push(FieldError::new("header", format!("missing column `{required}`")));
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let mut valid = Vec::new();
    let mut seen = HashSet::new();
    for (n, record) in reader.records().enumerate() {
        if errors.len() > MAX_ROW_ERRORS {
            break;
        }
        let row = n + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new(format!("rows[{row}]"), format!("malformed CSV: {e}")));
                continue;
            }
        };
        let get = |col: usize| index.get(col).copied().flatten().and_then(|i| record.get(i)).unwrap_or("");
        let opt = |col: usize| Some(get(col).to_string()).filter(|v| !v.trim().is_empty());
        let mut row_errors = Vec::new();
        let mut flag = |col: usize| {
            parse_bool(get(col)).unwrap_or_else(|| {
                row_errors
                    .push(FieldError::new(COLUMNS.get(col).copied().unwrap_or_default(), "must be true or false"));
                false
            })
        };
        let input = RegistrationInput {
            is_adult: Some(flag(5)),
            share_with_all_partners: flag(6),
            marketing_emails: flag(8),
            name: get(0).to_string(),
            email: get(1).to_string(),
            company: opt(2),
            phone: opt(3),
            address: opt(4),
            share_with_partners: get(7)
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        };
        match validate(&input, partner_ids) {
            Ok(v) if row_errors.is_empty() => {
                if !seen.insert(v.email.clone()) {
                    row_errors.push(FieldError::new("email", "appears more than once in this file"));
                } else {
                    valid.push(v);
                }
            }
            Ok(_) => {}
            // One error per field and row: an unreadable `is_adult` is not also "not confirmed".
            Err(e) => {
                for e in e {
                    if !row_errors.iter().any(|r| r.field == e.field) {
                        row_errors.push(e);
                    }
                }
            }
        }
        for e in row_errors {
            errors.push(FieldError::new(format!("rows[{row}].{}", e.field), e.message));
        }
    }
    if errors.is_empty() {
        return Ok(valid);
    }
    let stopped_early = errors.len() > MAX_ROW_ERRORS;
    errors.truncate(MAX_ROW_ERRORS);
    Err(Refused { errors, stopped_early })
}

fn existing_emails(conn: &mut DbConn, event_id: &str, emails: &[&str]) -> AppResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in emails.chunks(500) {
        let rows: Vec<String> = attendees::table
            .filter(attendees::event_id.eq(event_id))
            .filter(attendees::email.eq_any(chunk))
            .select(attendees::email)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Import participants from CSV (admin or registrar). All or nothing; each participant is
/// sent the registration confirmation unless `send_confirmation=false`.
#[utoipa::path(tag = "attendees", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "Header: name,email,company,phone,address,is_adult,share_with_all_partners,share_with_partners,marketing_emails (optional columns may be left out; partner ids separated by `;`)"),
    responses((status = 201, body = ImportResult), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, description = "Row errors; nothing imported", body = Problem)))]
#[post("/events/{event_id}/attendees/import")]
pub async fn import(
    state: web::Data<AppState>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let send_confirmation = match query.send_confirmation.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(AppError::field("send_confirmation", "must be true or false")),
    };
    let is_csv = req.mime_type().ok().flatten().is_some_and(|m| m.essence_str() == "text/csv");
    if !is_csv {
        return Err(AppError::UnsupportedMediaType("the body must be text/csv".into()));
    }
    let mut raw = payload.into_inner();
    let body = crate::http::json::read_body(&req, &mut raw, IMPORT_BODY_LIMIT).await?.freeze();
    let event_id = path.into_inner();
    let state2 = state.clone();
    let imported = state
        .db
        .run(move |conn| {
            let event = events::find(conn, &event_id)?;
            let partner_ids: Vec<String> =
                partners::list_for_event(conn, &event.id)?.into_iter().map(|p| p.id).collect();
            let rows = match parse(&body, &partner_ids) {
                Ok(rows) => rows,
                Err(refused) => return Ok(Err(refused)),
            };
            let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
            let taken = existing_emails(conn, &event.id, &emails)?;
            if !taken.is_empty() {
                let mut errors: Vec<FieldError> = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| taken.contains(&r.email))
                    .map(|(i, _)| {
                        FieldError::new(format!("rows[{}].email", i + 1), "is already registered for this event")
                    })
                    .take(MAX_ROW_ERRORS + 1)
                    .collect();
                let stopped_early = errors.len() > MAX_ROW_ERRORS;
                errors.truncate(MAX_ROW_ERRORS);
                return Ok(Err(Refused { errors, stopped_early }));
            }
            let partner_rows = partners::list_for_event(conn, &event.id)?;
            let prepared: Vec<Prepared> = rows
                .into_iter()
                .map(|r| prepare(&state2.badge_key, &event, r, Source::Import))
                .collect::<AppResult<_>>()?;
            let count = prepared.len();
            let confirmations: Vec<mail::NewMail> = if send_confirmation {
                prepared
                    .iter()
                    .map(|p| mail::confirmation::message(&state2.public_url, &event, &partner_rows, p))
                    .collect()
            } else {
                Vec::new()
            };
            let outbox_key = mail::OutboxKey::from_badge_key(&state2.badge_key)?;
            write_tx(conn, |conn| {
                store(conn, &prepared)?;
                mail::enqueue_many(conn, &outbox_key, &confirmations)
            })?;
            // PostgreSQL plans the gate's queries from table statistics; after a bulk load
            // they are stale (or absent) until autovacuum runs, and the first export would
            // take minutes instead of seconds.
            if matches!(conn, crate::db::DbConn::Pg(_)) {
                diesel::connection::SimpleConnection::batch_execute(conn, "ANALYZE attendees, badges, consents")?;
            }
            Ok(Ok(count))
        })
        .await?;
    let imported = match imported {
        Ok(count) => count,
        Err(refused) => return Ok(refused_response(refused)),
    };
    tracing::info!(imported, "attendees imported");
    Ok(HttpResponse::Created().json(ImportResult { imported }))
}

/// The 422 for a refused file; its detail says when the list of errors is not complete.
fn refused_response(refused: Refused) -> HttpResponse {
    let count = refused.errors.len();
    let error = AppError::Validation(refused.errors);
    let mut problem = error.problem();
    problem.detail = if refused.stopped_early {
        format!(
            "nothing imported; the check stopped after the first {MAX_ROW_ERRORS} errors, fix these and send the file again"
        )
    } else {
        format!("nothing imported; {count} error(s) in the file")
    };
    HttpResponse::build(actix_web::ResponseError::status_code(&error))
        .content_type("application/problem+json")
        .insert_header(("Cache-Control", "no-store"))
        .body(serde_json::to_vec(&problem).unwrap_or_default())
}
