//! `/api/v1/me*` for participants (the personal link's token as bearer), and the staff
//! side of rights: new privacy links, erasure on request, the under-18 flag.

use actix_web::{HttpResponse, get, patch, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::requests::RequestKind;
use super::{ErasureResult, Participant, ParticipantRecord, erase, record, requests};
use crate::app::AppState;
use crate::attendees::{self, MAX_ADDRESS, MAX_COMPANY, MAX_NAME, MAX_PHONE, privacy_url, search_text};
use crate::auth::secrets::{random_token, sha256_hex};
use crate::auth::users::{check_email, normalise_email};
use crate::auth::{AdminOnly, Auth, Registration};
use crate::consent::handlers::WithdrawalRequest;
use crate::consent::{Source, WithdrawalView, withdraw};
use crate::db::schema::attendees as attendees_t;
use crate::db::{DbConn, now_ms, write_tx};
use crate::error::{AppError, AppResult, FieldError, Problem, is_unique_violation};
use crate::events::clean_text;
use crate::http::ApiJson;
use crate::partners;

/// What the service holds about me, my opt-ins and withdrawals, scans of my badge, and
/// every partner that received my data.
#[utoipa::path(tag = "me", security(("privacy_link" = [])),
    responses((status = 200, body = ParticipantRecord), (status = 401, body = Problem)))]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, who: Participant) -> AppResult<web::Json<ParticipantRecord>> {
    let s = state.clone();
    let rec = state
        .db
        .run(move |conn| {
            let a = who.resolve(conn)?;
            record(&s, conn, a)
        })
        .await?;
    Ok(web::Json(rec))
}

/// Corrections; an empty string clears an optional field.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub marketing_emails: Option<bool>,
}

/// Applies a correction with the same checks as registration; records a completed
/// correction request when contact fields changed.
pub fn apply_correction(conn: &mut DbConn, token: &str, c: Correction) -> AppResult<()> {
    write_tx(conn, |conn| {
        let mut a = super::by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
        let mut errors = Vec::new();
        let mut changed = false;
        if let Some(name) = &c.name {
            let n = clean_text(&mut errors, "name", name, MAX_NAME, false);
            if n.is_empty() {
                errors.push(FieldError::new("name", "is required"));
            }
            changed |= n != a.name;
            a.name = n;
        }
        if let Some(email) = &c.email {
            let e = normalise_email(email);
            if let Err(err) = check_email("email", &e) {
                errors.push(err);
            }
            changed |= e != a.email;
            a.email = e;
        }
        let mut optional =
            |field: &str, value: &Option<String>, max: usize, newlines: bool, slot: &mut Option<String>| {
                if let Some(v) = value {
                    let v = clean_text(&mut errors, field, v, max, newlines);
                    let v = (!v.is_empty()).then_some(v);
                    changed |= v != *slot;
                    *slot = v;
                }
            };
        optional("company", &c.company, MAX_COMPANY, true, &mut a.company);
        optional("phone", &c.phone, MAX_PHONE, false, &mut a.phone);
        optional("address", &c.address, MAX_ADDRESS, true, &mut a.address);
        if let Some(p) = &a.phone
            && !p.chars().all(|ch| ch.is_ascii_digit() || " +-().".contains(ch))
        {
            errors.push(FieldError::new("phone", "may hold only digits, spaces and + - ( ) ."));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        // Only while not erased: on PostgreSQL an erasure may commit between the read above
        // and this write, which must not bring the erased values back.
        let result = diesel::update(attendees_t::table.find(&a.id).filter(attendees_t::erased_at.is_null()))
            .set((
                attendees_t::name.eq(&a.name),
                attendees_t::email.eq(&a.email),
                attendees_t::company.eq(&a.company),
                attendees_t::phone.eq(&a.phone),
                attendees_t::address.eq(&a.address),
                attendees_t::search_text.eq(search_text(&a.name, &a.email, a.company.as_deref())),
                attendees_t::marketing_emails.eq(c.marketing_emails.unwrap_or(a.marketing_emails)),
                attendees_t::updated_at.eq(now_ms()),
            ))
            .execute(conn);
        match result {
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict("this e-mail is already registered for this event".into()));
            }
            Ok(0) => return Err(AppError::Unauthorized),
            other => other?,
        };
        if changed {
            requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Correction)?;
        }
        Ok(())
    })
}

/// Correct contact details or switch marketing e-mails on or off.
#[utoipa::path(tag = "me", security(("privacy_link" = [])), request_body = Correction,
    responses((status = 200, body = ParticipantRecord), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/me")]
pub async fn patch_me(
    state: web::Data<AppState>,
    who: Participant,
    body: ApiJson<Correction>,
) -> AppResult<web::Json<ParticipantRecord>> {
    let s = state.clone();
    let c = body.into_inner();
    let rec = state
        .db
        .run(move |conn| {
            apply_correction(conn, &who.token, c)?;
            let a = who.resolve(conn)?;
            record(&s, conn, a)
        })
        .await?;
    Ok(web::Json(rec))
}

pub fn self_withdraw(conn: &mut DbConn, token: &str, partner: Option<String>) -> AppResult<WithdrawalView> {
    write_tx(conn, |conn| {
        let a = super::by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
        if let Some(p) = &partner {
            partners::find_in_event(conn, &a.event_id, p)
                .map_err(|_| AppError::field("partner_id", "is not a partner of this event"))?;
        }
        let row = withdraw(conn, &a.event_id, &a.id, partner.as_deref(), Source::Participant, None)?;
        requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Withdrawal)?;
        Ok(row.into())
    })
}

/// Withdraw from one partner or from all; effective for the next export and scan.
#[utoipa::path(tag = "me", security(("privacy_link" = [])), request_body = WithdrawalRequest,
    responses((status = 201, body = WithdrawalView), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[post("/me/withdrawals")]
pub async fn withdraw_me(
    state: web::Data<AppState>,
    who: Participant,
    body: ApiJson<WithdrawalRequest>,
) -> AppResult<HttpResponse> {
    let partner = body.0.scope()?;
    let row = state.db.run(move |conn| self_withdraw(conn, &who.token, partner)).await?;
    Ok(HttpResponse::Created().json(row))
}

pub fn export_record(state: &AppState, conn: &mut DbConn, token: &str) -> AppResult<ParticipantRecord> {
    let a = super::by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
    write_tx(conn, |conn| requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Access))?;
    record(state, conn, a)
}

/// Download everything held about me as JSON (recorded as a completed access request).
#[utoipa::path(tag = "me", security(("privacy_link" = [])),
    responses((status = 200, body = ParticipantRecord), (status = 401, body = Problem)))]
#[get("/me/export")]
pub async fn export_me(state: web::Data<AppState>, who: Participant) -> AppResult<HttpResponse> {
    let s = state.clone();
    let rec = state.db.run(move |conn| export_record(&s, conn, &who.token)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Disposition", "attachment; filename=\"my-data.json\""))
        .insert_header(("Cache-Control", "no-store"))
        .json(rec))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Must be `true`: erasure cannot be undone.
    pub confirm: Option<bool>,
}

pub fn self_erase(conn: &mut DbConn, token: &str) -> AppResult<ErasureResult> {
    write_tx(conn, |conn| {
        let a = super::by_privacy_token(conn, token).map_err(|_| AppError::Unauthorized)?;
        requests::record_self_service(conn, &a.event_id, &a.id, RequestKind::Erasure)?;
        erase(conn, &a.id)
    })
}

/// Erase my data (confirm: true). The answer lists the partners that had received it.
#[utoipa::path(tag = "me", security(("privacy_link" = [])), request_body = ErasureRequest,
    responses((status = 200, body = ErasureResult), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[post("/me/erasure")]
pub async fn erase_me(
    state: web::Data<AppState>,
    who: Participant,
    body: ApiJson<ErasureRequest>,
) -> AppResult<web::Json<ErasureResult>> {
    if body.0.confirm != Some(true) {
        return Err(AppError::field("confirm", "must be true to erase; this cannot be undone"));
    }
    let result = state.db.run(move |conn| self_erase(conn, &who.token)).await?;
    tracing::info!(partners_to_notify = result.recipients_to_notify.len(), "participant erased on request");
    Ok(web::Json(result))
}

#[derive(Serialize, ToSchema)]
pub struct PrivacyLink {
    pub privacy_url: String,
}

/// Issue a new personal privacy link; the old one stops working at once (admin or registrar).
#[utoipa::path(tag = "me", security(("bearer" = [])),
    responses((status = 200, body = PrivacyLink), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/privacy-link")]
pub async fn reissue_privacy_link(
    state: web::Data<AppState>,
    _auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<PrivacyLink>> {
    let (event_id, attendee_id) = path.into_inner();
    let token = random_token(32).map_err(AppError::internal)?;
    let hash = sha256_hex(token.as_bytes());
    state
        .db
        .write(move |conn| {
            let a = attendees::find_in_event(conn, &event_id, &attendee_id)?;
            if a.erased_at.is_some() {
                return Err(AppError::NotFound);
            }
            diesel::update(attendees_t::table.find(&a.id))
                .set(attendees_t::privacy_token_hash.eq(Some(hash)))
                .execute(conn)?;
            Ok(())
        })
        .await?;
    Ok(web::Json(PrivacyLink { privacy_url: privacy_url(&state.public_url, &token) }))
}

/// Why staff erased a participant. The two staff routes stay apart for their documents
/// and their log line; the erasure itself is one.
#[derive(Clone, Copy)]
enum StaffErasure {
    OnRequest,
    UnderAge,
}

async fn staff_erase(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
    cause: StaffErasure,
) -> AppResult<web::Json<ErasureResult>> {
    let (event_id, attendee_id) = path.into_inner();
    let result = state
        .db
        .run(move |conn| {
            let a = attendees::find_in_event(conn, &event_id, &attendee_id)?;
            erase(conn, &a.id)
        })
        .await?;
    match cause {
        StaffErasure::OnRequest => tracing::info!(by = %auth.caller.user_id, "participant erased by staff"),
        StaffErasure::UnderAge => {
            tracing::warn!(by = %auth.caller.user_id, "participant flagged under 18 and erased")
        }
    }
    Ok(web::Json(result))
}

/// Erase a participant on a request that arrived by mail or post (admin).
#[utoipa::path(tag = "me", security(("bearer" = [])),
    responses((status = 200, body = ErasureResult), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/erasure")]
pub async fn erase_attendee(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<ErasureResult>> {
    staff_erase(state, auth, path, StaffErasure::OnRequest).await
}

/// Flag a participant as under 18: erased at once, like an erasure (admin).
#[utoipa::path(tag = "me", security(("bearer" = [])),
    responses((status = 200, body = ErasureResult), (status = 404, body = Problem)))]
#[post("/events/{event_id}/attendees/{attendee_id}/under-18")]
pub async fn flag_under_18(
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<ErasureResult>> {
    staff_erase(state, auth, path, StaffErasure::UnderAge).await
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_me)
        .service(patch_me)
        .service(withdraw_me)
        .service(export_me)
        .service(erase_me)
        .service(reissue_privacy_link)
        .service(erase_attendee)
        .service(flag_under_18);
    requests::routes(cfg);
}
