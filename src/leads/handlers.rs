//! Partner API for leads (the CSV export is `exports::handlers`).

use actix_web::{get, web};

use super::LeadView;
use crate::auth::AnyPartner;
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::auth::Auth;
use crate::paging::{Page, PageQuery};

/// The caller's partner's leads, newest first (partner admin or scanner). A scanner gets
/// name and company only, as on the scan card; a partner admin the event's released fields.
#[utoipa::path(tag = "leads", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<LeadView>)))]
#[get("/leads")]
pub async fn list_leads(
    db: web::Data<Db>,
    auth: Auth<AnyPartner>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<LeadView>>> {
    let scope = auth.caller.partner_scope()?;
    let paging = query.into_inner();
    Ok(web::Json(db.write(move |conn| super::list(conn, &scope, &paging)).await?))
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
