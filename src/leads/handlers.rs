//! Partner API for leads (the CSV export is `exports::handlers`).

use actix_web::{get, patch, web};

use super::{LeadFilter, LeadQuery, LeadUpdate, LeadView};
use crate::auth::{AnyPartner, PartnerAdminOnly};
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;
use crate::paging::Page;

/// The caller's partner's leads, newest first (partner admin or scanner). A scanner gets
/// name and company only, as on the scan card; a partner admin the event's released fields.
/// Filters: `basis`, `rating`, `from`/`to` (days in the event's time zone), `q` (notes
/// and the contact fields the caller may receive), `mine` (leads the caller scanned first).
#[utoipa::path(tag = "leads", security(("bearer" = [])), params(LeadQuery),
    responses((status = 200, body = Page<LeadView>), (status = 422, body = Problem)))]
#[get("/leads")]
pub async fn list_leads(
    db: web::Data<Db>,
    auth: Auth<AnyPartner>,
    query: web::Query<LeadQuery>,
) -> AppResult<web::Json<Page<LeadView>>> {
    let scope = auth.caller.partner_scope()?;
    let filter = LeadFilter::parse(&query.into_inner())?;
    Ok(web::Json(db.write(move |conn| super::list(conn, &scope, &filter)).await?))
}

/// Change a lead's notes (an empty text clears them) and rating (partner admin). Answers
/// the lead as `GET` does, released and ledgered the same way.
#[utoipa::path(tag = "leads", security(("bearer" = [])), request_body = LeadUpdate,
    responses((status = 200, body = LeadView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
#[patch("/leads/{lead_id:[0-9a-fA-F-]+}")]
pub async fn update_lead(
    db: web::Data<Db>,
    auth: Auth<PartnerAdminOnly>,
    path: web::Path<String>,
    body: ApiJson<LeadUpdate>,
) -> AppResult<web::Json<LeadView>> {
    let scope = auth.caller.partner_scope()?;
    let lead_id = path.into_inner();
    let input = body.into_inner();
    Ok(web::Json(db.write(move |conn| super::update(conn, &scope, &lead_id, &input)).await?))
}

/// One lead of the caller's partner; another partner's lead id is a 404. Contact fields as
/// for the list: name and company for a scanner.
#[utoipa::path(tag = "leads", security(("bearer" = [])), responses((status = 200, body = LeadView), (status = 404, body = Problem)))]
// The id is a UUID: `/leads/export.csv` can never be taken for a lead, whatever the
// order in which the two routes are registered.
#[get("/leads/{lead_id:[0-9a-fA-F-]+}")]
pub async fn get_lead(
    db: web::Data<Db>,
    auth: Auth<AnyPartner>,
    path: web::Path<String>,
) -> AppResult<web::Json<LeadView>> {
    let scope = auth.caller.partner_scope()?;
    let lead_id = path.into_inner();
    Ok(web::Json(db.write(move |conn| super::get(conn, &scope, &lead_id)).await?))
}
