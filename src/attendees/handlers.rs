//! Staff API for participants.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{BadgeLinks, RegistrationInput, prepare, privacy_url, store, validate};
use crate::app::AppState;
use crate::auth::{Auth, Registration};
use crate::consent::{self, ConsentView, Source, WithdrawalView};
use crate::db::{like_pattern, ms_to_rfc3339};
use crate::error::{AppError, AppResult, Problem};
use crate::http::{ApiJson, Page, PageQuery};
use crate::{badges, events, gate, mail, partners};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAttendee {
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Must be `true`: participants under 18 are not registered.
    pub is_adult: Option<bool>,
    #[serde(default)]
    pub share_with_all_partners: bool,
    #[serde(default)]
    pub share_with_partners: Vec<String>,
    #[serde(default)]
    pub marketing_emails: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    pub id: String,
    pub event_id: String,
    pub badge: BadgeLinks,
    /// The participant's personal privacy page; shown once, keep it private.
    pub privacy_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttendeeView {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub marketing_emails: bool,
    pub registered_at: String,
    pub erased: bool,
}

impl From<gate::StaffRecord> for AttendeeView {
    fn from(r: gate::StaffRecord) -> Self {
        AttendeeView {
            erased: r.erased,
            id: r.attendee_id,
            event_id: r.event_id,
            name: r.contact.name.unwrap_or_default(),
            email: r.contact.email.unwrap_or_default(),
            company: r.contact.company,
            phone: r.contact.phone,
            address: r.contact.address,
            marketing_emails: r.marketing_emails,
            registered_at: ms_to_rfc3339(r.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttendeeDetail {
    #[serde(flatten)]
    pub attendee: AttendeeView,
    pub opt_ins: Vec<ConsentView>,
    pub withdrawals: Vec<WithdrawalView>,
    pub badge: Option<BadgeLinks>,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Case-insensitive search in name, e-mail and company.
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl From<RegisterAttendee> for RegistrationInput {
    fn from(r: RegisterAttendee) -> Self {
        RegistrationInput {
            name: r.name,
            email: r.email,
            company: r.company,
            phone: r.phone,
            address: r.address,
            is_adult: r.is_adult,
            share_with_all_partners: r.share_with_all_partners,
            share_with_partners: r.share_with_partners,
            marketing_emails: r.marketing_emails,
        }
    }
}

/// What registering one participant returns, for the API and the web form alike.
pub struct RegistrationOutcome {
    pub attendee_id: String,
    pub code: badges::BadgeCode,
    pub privacy_token: String,
}

/// Validates and stores one registration in one transaction, with its confirmation mail
/// queued in the same transaction: nothing is stored when any check fails (an under-18
/// registration leaves no row).
pub async fn register_one(
    state: &web::Data<AppState>,
    event: events::EventRow,
    input: RegistrationInput,
    source: Source,
) -> AppResult<RegistrationOutcome> {
    let state2 = state.clone();
    state
        .db
        .write(move |conn| {
            let partner_rows = partners::list_for_event(conn, &event.id)?;
            let partner_ids: Vec<String> = partner_rows.iter().map(|p| p.id.clone()).collect();
            let valid = validate(&input, &partner_ids).map_err(AppError::Validation)?;
            let prepared = prepare(&state2.badge_key, &event, valid, source)?;
            store(conn, std::slice::from_ref(&prepared))?;
            let confirmation = mail::confirmation::message(&state2.public_url, &event, &partner_rows, &prepared);
            mail::enqueue(conn, &mail::OutboxKey::from_badge_key(&state2.badge_key)?, &confirmation)?;
            Ok(RegistrationOutcome {
                attendee_id: prepared.attendee.id,
                code: prepared.code,
                privacy_token: prepared.privacy_token,
            })
        })
        .await
}

/// Register a participant (admin or registrar).
#[utoipa::path(tag = "attendees", security(("bearer" = [])), request_body = RegisterAttendee,
    responses((status = 201, body = Registered), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/attendees")]
pub async fn register(
    state: web::Data<AppState>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    body: ApiJson<RegisterAttendee>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let event = state.db.run(move |conn| events::find(conn, &event_id)).await?;
    let event_id = event.id.clone();
    let outcome = register_one(&state, event, body.into_inner().into(), Source::StaffApi).await?;
    Ok(HttpResponse::Created().json(Registered {
        badge: BadgeLinks::new(&state.public_url, &event_id, &outcome.attendee_id, &outcome.code),
        privacy_url: privacy_url(&state.public_url, &outcome.privacy_token),
        id: outcome.attendee_id,
        event_id,
    }))
}

/// One participant with opt-ins, withdrawals and badge links (admin or registrar). The
/// read is written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "attendees", security(("bearer" = [])), responses((status = 200, body = AttendeeDetail), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees/{attendee_id}")]
pub async fn get_attendee(
    state: web::Data<AppState>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<AttendeeDetail>> {
    let (event_id, attendee_id) = path.into_inner();
    let staff = auth.caller.user_id;
    let (row, opt_ins, withdrawn, badge) = state
        .db
        .write(move |conn| {
            let selection = gate::StaffSelection::Attendee { event_id: &event_id, attendee_id: &attendee_id };
            let row =
                gate::staff_read(conn, &staff, selection)?.records.into_iter().next().ok_or(AppError::NotFound)?;
            let (opt_ins, withdrawn) = consent::for_attendee(conn, &attendee_id)?;
            let badge = badges::current(conn, &attendee_id)?;
            Ok((row, opt_ins, withdrawn, badge))
        })
        .await?;
    let badge = match badge {
        Some(b) => {
            Some(BadgeLinks::new(&state.public_url, &row.event_id, &row.attendee_id, &state.badge_key.code_for(&b.id)?))
        }
        None => None,
    };
    Ok(web::Json(AttendeeDetail {
        attendee: row.into(),
        opt_ins: opt_ins.into_iter().map(Into::into).collect(),
        withdrawals: withdrawn.into_iter().map(Into::into).collect(),
        badge,
    }))
}

/// List and search participants (admin or registrar). Each participant on the page is
/// written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "attendees", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<AttendeeView>), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees")]
pub async fn list_attendees(
    state: web::Data<AppState>,
    auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<AttendeeView>>> {
    let staff = auth.caller.user_id;
    let query = query.into_inner();
    let (page, per_page) = PageQuery { page: query.page, per_page: query.per_page }.resolve()?;
    let event_id = path.into_inner();
    let pattern = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(like_pattern);
    let read = state
        .db
        .write(move |conn| {
            events::find(conn, &event_id)?;
            let selection = gate::StaffSelection::Attendees {
                event_id: &event_id,
                search: pattern.as_deref(),
                offset: (page - 1) * per_page,
                limit: per_page,
            };
            gate::staff_read(conn, &staff, selection)
        })
        .await?;
    Ok(web::Json(Page { items: read.records.into_iter().map(Into::into).collect(), total: read.total, page, per_page }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(register).service(get_attendee).service(list_attendees).service(super::import::import);
}
