//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use diesel::connection::SimpleConnection;

use crate::db::Db;
use crate::error::{AppError, AppResult, Problem};

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The database answers.
#[utoipa::path(tag = "operations", responses((status = 200, description = "ready"), (status = 503, body = Problem)))]
#[get("/readyz")]
pub async fn readyz(db: web::Data<Db>) -> AppResult<HttpResponse> {
    db.read(|conn| conn.batch_execute("SELECT 1").map_err(|_| AppError::Unavailable))
        .await
        .map_err(|_| AppError::Unavailable)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}
