//! `GET /metrics` on a listener of its own (`BADGEGATE_METRICS_BIND`, off by default): the
//! Prometheus text of what `crate::measure` records, plus gauges read when scraped (the
//! outbox from the shared database, this instance's pool). It has no authentication and
//! no personal data; keep it on the monitoring network.

use std::net::{SocketAddr, TcpListener};
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Db;
use crate::error::AppResult;
use crate::mail::MailStatus;

/// The process-wide recorder: `metrics` has one global recorder, so every server of the
/// process (tests start several) records into and renders the same registry.
fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), crate::measure::LATENCY_BUCKETS)
                .map_err(|e| format!("metrics buckets: {e}"))?
                .install_recorder()
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
            crate::measure::describe();
            // Histogram samples wait in per-thread buffers until upkeep folds them into
            // the buckets; between scrapes (or with no scraper at all) they would pile up.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
            Ok(handle)
        })
        .clone()
}

/// The metrics listener, started on the current runtime; returns its handle (stop it with
/// the service) and its port.
pub fn start(bind: SocketAddr, db: web::Data<Db>) -> Result<(ServerHandle, u16), String> {
    let handle = web::Data::new(recorder()?);
    let listener = TcpListener::bind(bind).map_err(|e| format!("cannot bind the metrics listener {bind}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let server = HttpServer::new(move || {
        App::new().app_data(handle.clone()).app_data(db.clone()).route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .map_err(|e| format!("cannot listen for metrics: {e}"))?
    .run();
    let server_handle = server.handle();
    actix_web::rt::spawn(server);
    Ok((server_handle, port))
}

async fn scrape(handle: web::Data<PrometheusHandle>, db: web::Data<Db>) -> AppResult<HttpResponse> {
    let (idle, in_use) = db.pool_state();
    crate::measure::pool_connections(idle, in_use);
    let unsent = db.read(crate::mail::unsent_by_status).await?;
    for status in [MailStatus::Queued, MailStatus::Sending, MailStatus::Failed] {
        let count = unsent.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
        crate::measure::outbox_messages(status.as_str(), count);
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render()))
}
