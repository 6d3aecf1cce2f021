//! `POST /api/v1/scans`, `POST /api/v1/scans/batch` and `PUT /api/v1/scans/{client_scan_id}/notes`.

use actix_web::{HttpResponse, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::coalesce::ScanWriter;
use super::notes::{NotesInput, ScanNotesView};
use super::throttle::UnknownBadgeThrottle;
use super::{
    AlreadyScanned, Card, CardReason, LeadCard, MAX_BATCH, Outcome, RejectReason, ScanItem, ScanStatus, ValidScan,
    validate,
};
use crate::auth::AnyPartner;
use crate::db::{Db, ms_to_rfc3339};
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::ApiJson;
use crate::http::auth::{Auth, Presented};
use crate::http::json::parse_json;

const BATCH_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// This partner scanned the participant before this scan: the earliest such scan.
#[derive(Serialize, ToSchema)]
pub struct AlreadyScannedView {
    /// The e-mail of the user who made that scan.
    pub by: String,
    /// Whether that was the caller.
    pub by_you: bool,
    /// RFC 3339: that scan's `scanned_at`.
    pub at: String,
}

impl From<AlreadyScanned> for AlreadyScannedView {
    fn from(a: AlreadyScanned) -> Self {
        AlreadyScannedView { by: a.by, by_you: a.by_you, at: ms_to_rfc3339(a.at) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScanResponse {
    pub scan_id: String,
    /// `created` or `duplicate`.
    #[schema(value_type = String)]
    pub status: ScanStatus,
    /// Name and company when the participant's data may be released to this partner.
    pub lead: Option<LeadCard>,
    /// Why `lead` is null: `withdrawn` or `partner_suspended`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub lead_reason: Option<CardReason>,
    /// Set when this partner has an earlier accepted scan of the same participant (another
    /// `client_scan_id`, earlier `scanned_at`): the earliest one. Null otherwise.
    pub already_scanned: Option<AlreadyScannedView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 500 scans (more: 413). Each stands alone: an item that breaks the `ScanItem`
    /// schema or a scan rule does not fail the batch; it gets its own result with status
    /// `rejected`, its `errors` (field checks) or `reason` (scan rules), and the other items
    /// are stored. So the answer is 200 whenever the body is one object with a `scans`
    /// array; only its items' results say what was stored.
    #[schema(value_type = Vec<ScanItem>, max_items = 500)]
    pub scans: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchItemResult {
    pub client_scan_id: Option<String>,
    /// `created`, `duplicate` or `rejected`.
    #[schema(value_type = String)]
    pub status: ScanStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<RejectReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<LeadCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub lead_reason: Option<CardReason>,
    /// For `created` and `duplicate` (null or the earlier scan), as in the single scan's
    /// answer; left out for `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AlreadyScannedView>)]
    pub already_scanned: Option<Option<AlreadyScannedView>>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItemResult>,
}

/// Record one badge scan (partner admin or scanner).
#[utoipa::path(tag = "scans", security(("bearer" = [])), request_body = ScanItem,
    responses(
        (status = 201, description = "Stored", body = ScanResponse),
        (status = 200, description = "This client_scan_id was already stored; same outcome", body = ScanResponse),
        (status = 422, description = "Rejected; see `reason`", body = Problem),
        (status = 429, description = "Too many unknown badges", body = Problem),
    ))]
#[post("/scans")]
pub async fn record_scan(
    scan_writer: web::Data<ScanWriter>,
    scan_throttle: web::Data<UnknownBadgeThrottle>,
    auth: Presented<AnyPartner>,
    body: ApiJson<ScanItem>,
) -> AppResult<HttpResponse> {
    // The signed user id: the throttle counts per scanner before the account is confirmed.
    let user_id = auth.claims.sub.clone();
    if let Some(retry_after_secs) = scan_throttle.retry_after(&user_id) {
        count_scan(ScanStatus::Rejected, Some(RejectReason::Throttled));
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let valid = validate(&body.into_inner()).map_err(AppError::Validation)?;
    let outcome = scan_writer.submit(auth.claims, auth.generation, valid).await?;
    match &outcome {
        Outcome::Created { .. } => count_scan(ScanStatus::Created, None),
        Outcome::Duplicate { .. } => count_scan(ScanStatus::Duplicate, None),
        Outcome::Rejected { reason, .. } => count_scan(ScanStatus::Rejected, Some(*reason)),
    }
    match outcome {
        Outcome::Created { scan_id, card, already_scanned } => Ok(HttpResponse::Created().json(ScanResponse {
            scan_id,
            status: ScanStatus::Created,
            lead: card.lead,
            lead_reason: card.reason,
            already_scanned: already_scanned.map(Into::into),
        })),
        Outcome::Duplicate { scan_id, card, already_scanned } => Ok(HttpResponse::Ok().json(ScanResponse {
            scan_id,
            status: ScanStatus::Duplicate,
            lead: card.lead,
            lead_reason: card.reason,
            already_scanned: already_scanned.map(Into::into),
        })),
        Outcome::Rejected { reason, detail } => {
            if reason == RejectReason::UnknownBadge {
                scan_throttle.record_unknown(&user_id);
            }
            Err(AppError::Rejected { reason: reason.as_str(), detail })
        }
    }
}

enum Item {
    Valid(ValidScan),
    Invalid { client_scan_id: Option<String>, errors: Vec<FieldError> },
}

/// Sync scans queued offline (partner admin or scanner). Results are keyed by
/// `client_scan_id`; the whole batch is committed before the answer, so an answer means
/// stored. Replays, in any order or split, create nothing new. A scanner already over the
/// unknown-badge limit gets `throttled` for every scan of the batch.
#[utoipa::path(tag = "scans", security(("bearer" = [])), request_body = BatchRequest,
    responses(
        (status = 200, body = BatchResponse),
        (status = 413, description = "More than 500 scans or a body over 4 MiB", body = Problem),
    ))]
#[post("/scans/batch")]
pub async fn sync_batch(
    db: web::Data<Db>,
    scan_throttle: web::Data<UnknownBadgeThrottle>,
    auth: Auth<AnyPartner>,
    body: ApiJson<BatchRequest, BATCH_BODY_LIMIT>,
) -> AppResult<web::Json<BatchResponse>> {
    let scope = auth.caller.partner_scope()?;
    let request = body.into_inner();
    if request.scans.len() > MAX_BATCH {
        return Err(AppError::PayloadTooLarge(format!("a batch holds at most {MAX_BATCH} scans")));
    }
    let items: Vec<Item> = request
        .scans
        .into_iter()
        .map(|value| {
            let client_scan_id = value.get("client_scan_id").and_then(|v| v.as_str()).map(str::to_string);
            match parse_json::<ScanItem>(value.to_string().as_bytes()) {
                Ok(item) => match validate(&item) {
                    Ok(v) => Item::Valid(v),
                    Err(errors) => Item::Invalid { client_scan_id, errors },
                },
                Err(AppError::Validation(errors)) => Item::Invalid { client_scan_id, errors },
                Err(_) => Item::Invalid { client_scan_id, errors: vec![FieldError::new(".", "not a scan object")] },
            }
        })
        .collect();
    let throttled = scan_throttle.retry_after(&scope.user_id).is_some();
    let valid: Vec<ValidScan> = if throttled {
        Vec::new()
    } else {
        items.iter().filter_map(|i| if let Item::Valid(v) = i { Some(v.clone()) } else { None }).collect()
    };
    let outcomes = super::record_batch(&db, scope.clone(), valid).await?;
    let mut outcomes = outcomes.into_iter();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let scan = match item {
            Item::Invalid { client_scan_id, errors } => {
                results.push(rejected(
                    client_scan_id,
                    RejectReason::Invalid,
                    "the item has invalid fields".into(),
                    errors,
                ));
                continue;
            }
            Item::Valid(scan) => scan,
        };
        let id = Some(scan.client_scan_id);
        if throttled {
            let detail = "too many unknown badges; send this scan again later".to_string();
            results.push(rejected(id, RejectReason::Throttled, detail, Vec::new()));
            continue;
        }
        let outcome = outcomes.next().ok_or_else(|| AppError::internal("batch outcome missing"))?;
        results.push(match outcome {
            Outcome::Created { scan_id, card, already_scanned } => {
                accepted(id, ScanStatus::Created, scan_id, card, already_scanned)
            }
            Outcome::Duplicate { scan_id, card, already_scanned } => {
                accepted(id, ScanStatus::Duplicate, scan_id, card, already_scanned)
            }
            Outcome::Rejected { reason, detail } => {
                if reason == RejectReason::UnknownBadge {
                    scan_throttle.record_unknown(&scope.user_id);
                }
                rejected(id, reason, detail, Vec::new())
            }
        });
    }
    Ok(web::Json(BatchResponse { results }))
}

fn count_scan(status: ScanStatus, reason: Option<RejectReason>) {
    crate::measure::scan(status.as_str(), reason.map_or("", RejectReason::as_str));
}

fn rejected(
    client_scan_id: Option<String>,
    reason: RejectReason,
    detail: String,
    errors: Vec<FieldError>,
) -> BatchItemResult {
    count_scan(ScanStatus::Rejected, Some(reason));
    BatchItemResult {
        client_scan_id,
        status: ScanStatus::Rejected,
        reason: Some(reason),
        detail: Some(detail),
        errors,
        scan_id: None,
        lead: None,
        lead_reason: None,
        already_scanned: None,
    }
}

fn accepted(
    client_scan_id: Option<String>,
    status: ScanStatus,
    scan_id: String,
    card: Card,
    already_scanned: Option<AlreadyScanned>,
) -> BatchItemResult {
    count_scan(status, None);
    BatchItemResult {
        client_scan_id,
        status,
        reason: None,
        detail: None,
        errors: Vec::new(),
        scan_id: Some(scan_id),
        lead: card.lead,
        lead_reason: card.reason,
        already_scanned: Some(already_scanned.map(Into::into)),
    }
}

/// Replace the notes, rating and answers of one of the caller's own scans (partner admin
/// or scanner): the whole set, a field left out or null is cleared; the same body again
/// changes nothing. Send it once the scan has synced. 404 while this user has no such scan:
/// not synced yet (retry later), or a colleague's scan (each scanner keeps only its own
/// notes), or one that can no longer carry notes; a scan that has synced and still answers
/// 404 will not take notes.
#[utoipa::path(tag = "scans", security(("bearer" = [])), request_body = NotesInput,
    params(("client_scan_id" = String, Path, description = "The scan's client_scan_id (a UUID)")),
    responses(
        (status = 200, body = ScanNotesView),
        (status = 404, description = "No scan of the caller with this client_scan_id", body = Problem),
        (status = 422, body = Problem),
    ))]
#[put("/scans/{client_scan_id}/notes")]
pub async fn put_scan_notes(
    db: web::Data<Db>,
    auth: Auth<AnyPartner>,
    path: web::Path<String>,
    body: ApiJson<NotesInput>,
) -> AppResult<web::Json<ScanNotesView>> {
    let scope = auth.caller.partner_scope()?;
    let client_scan_id = path.into_inner();
    let input = body.into_inner();
    Ok(web::Json(db.write(move |conn| super::notes::replace(conn, &scope, &client_scan_id, &input)).await?))
}
