//! Staff API for participants.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::import::{IMPORT_BODY_LIMIT, ImportQuery, ImportResult, MAX_ROW_ERRORS, Refused};
use super::{BadgeLinks, RegistrationInput, privacy_url};
use crate::auth::Registration;
use crate::badges::BadgeKey;
use crate::config::PublicUrl;
use crate::consent::{ConsentView, Source, WithdrawalView};
use crate::contact::Contact;
use crate::db::{Db, ms_to_rfc3339};
use crate::error::{AppError, AppResult, Problem};
use crate::gate;
use crate::http::ApiJson;
use crate::http::auth::Auth;
use crate::paging::{Page, PageQuery};

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
            contact: Contact {
                name: Some(r.name),
                email: Some(r.email),
                company: r.company,
                phone: r.phone,
                address: r.address,
            },
            is_adult: r.is_adult,
            share_with_all_partners: r.share_with_all_partners,
            share_with_partners: r.share_with_partners,
            marketing_emails: r.marketing_emails,
        }
    }
}

/// Register a participant (admin or registrar).
#[utoipa::path(tag = "attendees", security(("bearer" = [])), request_body = RegisterAttendee,
    responses((status = 201, body = Registered), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/events/{event_id}/attendees")]
pub async fn register(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    body: ApiJson<RegisterAttendee>,
) -> AppResult<HttpResponse> {
    let event_id = path.into_inner();
    let input = body.into_inner().into();
    let url = public_url.clone();
    let ready = db
        .read(move |conn| super::ready_registration(conn, &badge_key, &url, &event_id, input, Source::StaffApi))
        .await?;
    let outcome = db.write(move |conn| super::store_registration(conn, ready)).await?;
    Ok(HttpResponse::Created().json(Registered {
        badge: BadgeLinks::new(&public_url.0, &outcome.event_id, &outcome.attendee_id, &outcome.code),
        privacy_url: privacy_url(&public_url.0, &outcome.privacy_token),
        id: outcome.attendee_id,
        event_id: outcome.event_id,
    }))
}

/// One participant with opt-ins, withdrawals and badge links (admin or registrar). The
/// read is written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "attendees", security(("bearer" = [])), responses((status = 200, body = AttendeeDetail), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees/{attendee_id}")]
pub async fn get_attendee(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    auth: Auth<Registration>,
    path: web::Path<(String, String)>,
) -> AppResult<web::Json<AttendeeDetail>> {
    let (event_id, attendee_id) = path.into_inner();
    let staff = auth.caller.user_id;
    let d = db.write(move |conn| super::staff::staff_detail(conn, &staff, &event_id, &attendee_id)).await?;
    let badge = match d.badge_id {
        Some(id) => {
            Some(BadgeLinks::new(&public_url.0, &d.record.event_id, &d.record.attendee_id, &badge_key.code_for(&id)?))
        }
        None => None,
    };
    Ok(web::Json(AttendeeDetail {
        attendee: d.record.into(),
        opt_ins: d.opt_ins.into_iter().map(Into::into).collect(),
        withdrawals: d.withdrawals.into_iter().map(Into::into).collect(),
        badge,
    }))
}

/// List and search participants (admin or registrar). Each participant on the page is
/// written to the disclosure ledger (channel `staff`).
#[utoipa::path(tag = "attendees", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<AttendeeView>), (status = 404, body = Problem)))]
#[get("/events/{event_id}/attendees")]
pub async fn list_attendees(
    db: web::Data<Db>,
    auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<AttendeeView>>> {
    let staff = auth.caller.user_id;
    let ListQuery { q, page, per_page } = query.into_inner();
    let paging = PageQuery { page, per_page };
    let event_id = path.into_inner();
    let page = db.write(move |conn| super::staff::staff_list(conn, &staff, &event_id, q.as_deref(), &paging)).await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Import participants from CSV (admin or registrar). All or nothing; each participant is
/// sent the registration confirmation unless `send_confirmation=false`.
#[utoipa::path(tag = "attendees", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "Header: name,email,company,phone,address,is_adult,share_with_all_partners,share_with_partners,marketing_emails (optional columns may be left out, names in any case; partner ids separated by `;` or `,`). UTF-8, a byte order mark allowed; fields separated by `,` or `;` (read off the header line); yes/no columns take true/false, yes/no or 1/0 in any case, empty for no; rows of nothing but separators are skipped"),
    responses((status = 201, body = ImportResult), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, description = "Row errors; nothing imported", body = Problem)))]
#[post("/events/{event_id}/attendees/import")]
#[expect(clippy::too_many_arguments, reason = "a handler names each extractor it uses; a struct would hide them")]
pub async fn import(
    db: web::Data<Db>,
    badge_key: web::Data<BadgeKey>,
    public_url: web::Data<PublicUrl>,
    _auth: Auth<Registration>,
    path: web::Path<String>,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let send_confirmation = query.send_confirmation()?;
    let is_csv = req.mime_type().ok().flatten().is_some_and(|m| m.essence_str() == "text/csv");
    if !is_csv {
        return Err(AppError::UnsupportedMediaType("the body must be text/csv".into()));
    }
    let mut raw = payload.into_inner();
    let body = crate::http::json::read_body(&req, &mut raw, IMPORT_BODY_LIMIT).await?.freeze();
    let event_id = path.into_inner();
    let imported = db
        .blocking(move |db| super::import::import(db, &badge_key, &public_url, &event_id, &body, send_confirmation))
        .await?;
    let imported = match imported {
        Ok(imported) => imported,
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
