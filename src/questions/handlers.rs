//! `GET`/`PUT /api/v1/partner/questions`: the scanner app's qualification questions.

use actix_web::{get, put, web};

use super::Questions;
use crate::auth::{AnyPartner, PartnerAdminOnly};
use crate::db::Db;
use crate::error::{AppResult, Problem};
use crate::http::ApiJson;
use crate::http::auth::Auth;

/// The caller's partner's qualification questions, in order (any partner user: the phone
/// asks them after a scan and keys the scan's `answers` by each question's `id`).
#[utoipa::path(tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = Questions), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/partner/questions")]
pub async fn get_questions(db: web::Data<Db>, auth: Auth<AnyPartner>) -> AppResult<web::Json<Questions>> {
    let scope = auth.caller.partner_scope()?;
    Ok(web::Json(db.read(move |conn| super::get(conn, &scope)).await?))
}

/// Replace the caller's partner's questions (partner admin): at most 20, each with text and
/// kind (`text`, `choice` with 2–10 options, `rating`). Answers the stored list, with ids.
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = Questions,
    responses((status = 200, body = Questions), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[put("/partner/questions")]
pub async fn put_questions(
    db: web::Data<Db>,
    auth: Auth<PartnerAdminOnly>,
    body: ApiJson<Questions>,
) -> AppResult<web::Json<Questions>> {
    let scope = auth.caller.partner_scope()?;
    let input = body.into_inner();
    Ok(web::Json(db.write(move |conn| super::replace(conn, &scope, input)).await?))
}
