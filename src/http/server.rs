//! Building the service: application data, middleware, listener (port 0 in tests), TLS.
//! The routes are listed in `http::routes`; `http::cli` (the command line) starts it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, dev::Server, web};
use utoipa_actix_web::AppExt;

use crate::auth::passwords::Passwords;
use crate::auth::secrets;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::badges::BadgeKey;
use crate::config::{PublicUrl, Settings};
use crate::db::Db;
use crate::error::AppError;
use crate::http::fallback::{RouteTable, not_found_or_not_allowed};
use crate::http::routes;
use crate::scans::coalesce::ScanWriter;
use crate::scans::throttle::UnknownBadgeThrottle;

pub struct Application {
    server: Server,
    port: u16,
    public_url: String,
    /// The `/metrics` listener when `BADGEGATE_METRICS_BIND` is set: its handle and port.
    metrics: Option<(actix_web::dev::ServerHandle, u16)>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, String> {
        crate::datadir::prepare_data_dir(&settings)?;
        let url = settings.database_url();
        let pool_size = settings.db_pool_size;
        let db = web::block(move || Db::connect(&url, pool_size)).await.map_err(|e| e.to_string())??;
        if db.has_one_writer() {
            let check = db.clone();
            let undone = web::block(move || check.write_blocking(crate::attendees::import::recover))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot undo unfinished imports: {e}"))?;
            if undone > 0 {
                tracing::warn!(
                    imports = undone,
                    "imports cut short by a stop were undone; their callers had no answer"
                );
            }
        }

        let token_secret =
            secrets::load_or_create(&settings.data_dir, "token-secret", settings.token_secret.as_deref())?;
        let badge_secret =
            secrets::load_or_create(&settings.data_dir, "badge-secret", settings.badge_secret.as_deref())?;
        // One core is left to everything else: a login storm (every phone signing in when
        // the doors open) then slows logins, not scans (measured in BENCHMARKS.md).
        let concurrency = settings.hash_concurrency.unwrap_or_else(|| num_cpus::get().saturating_sub(1).max(1));
        let passwords = web::block(move || Passwords::new(concurrency))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;

        let listener = TcpListener::bind(settings.bind).map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let tls = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Some(load_tls(cert, key)?),
            _ => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = settings.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
        let public_url = public_url.trim_end_matches('/').to_string();

        // Each piece is its own application data, and each handler asks only for what it uses.
        let scan_writer = web::Data::new(ScanWriter::start(db.clone()).map_err(|e| e.to_string())?);
        let db = web::Data::new(db);
        let metrics = match settings.metrics_bind {
            Some(bind) => Some(crate::http::metrics::start(bind, db.clone())?),
            None => None,
        };
        let tokens = web::Data::new(TokenKeys::new(&token_secret)?);
        let passwords = web::Data::new(passwords);
        let badge_key = web::Data::new(BadgeKey::new(&badge_secret));
        let scan_throttle = web::Data::new(UnknownBadgeThrottle::default());
        let login_throttle = web::Data::new(LoginThrottle::new(&token_secret)?);
        let public = web::Data::new(PublicUrl(public_url.clone()));
        // It lives as long as the server's application data and stops when that is dropped.
        let mail_worker = web::Data::new(start_mail_worker(&settings, &db, &badge_secret)?);
        // The daily retention purge; like the mail worker, it stops with the application data.
        let retention = web::Data::new(
            crate::retention::job::RetentionJob::start(db.get_ref().clone())
                .map_err(|e| format!("cannot start the retention job: {e}"))?,
        );
        // PostgreSQL's table statistics, refreshed by the service when autovacuum lags; it
        // stops with the application data too.
        let analyzer = match crate::db::DbUrl::parse(&settings.database_url()) {
            Ok(url) if url.backend == crate::db::Backend::Postgres => Some(web::Data::new(
                crate::db::analyze::Analyzer::start(url.target)
                    .map_err(|e| format!("cannot start the statistics thread: {e}"))?,
            )),
            _ => None,
        };
        // Its own application data: the limiter middleware needs nothing else.
        let ip_limits = web::Data::new(crate::http::ip_limit::IpLimits::new(
            settings.ip_limits(),
            settings.trusted_proxies.clone(),
        ));
        let table = web::Data::new(RouteTable::new(&routes::openapi(), routes::PAGES));
        let header_policy = web::Data::new(crate::http::headers::HeaderPolicy {
            // Behind a TLS-terminating proxy the public URL says https: browsers still get
            // HSTS and the `__Host-` cookie.
            tls: tls.is_some() || public_url.starts_with("https://"),
            page_csp: actix_web::http::header::HeaderValue::from_str(&crate::web::page_policy())
                .map_err(|e| format!("page policy: {e}"))?,
        });

        let server = HttpServer::new(move || {
            let (app, _) = routes::documented(App::new().into_utoipa_app()).split_for_parts();
            app.app_data(db.clone())
                .app_data(tokens.clone())
                .app_data(passwords.clone())
                .app_data(badge_key.clone())
                .app_data(scan_writer.clone())
                .app_data(scan_throttle.clone())
                .app_data(login_throttle.clone())
                .app_data(public.clone())
                .app_data(mail_worker.clone())
                .app_data(retention.clone())
                .app_data(analyzer.clone())
                .app_data(table.clone())
                .app_data(header_policy.clone())
                .app_data(ip_limits.clone())
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, req| crate::http::query_error(&e, req.query_string()).into()),
                )
                .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .configure(routes::pages)
                .default_service(web::to(not_found_or_not_allowed))
                .wrap(from_fn(crate::web::signed_in_pages_answer_html))
                .wrap(from_fn(crate::http::fallback::refuse_unlisted_method))
                .wrap(from_fn(crate::http::input::refuse_hostile_uri))
                .wrap(from_fn(crate::http::ip_limit::limit_by_client_ip))
                .wrap(from_fn(crate::http::headers::security_headers))
                .wrap(from_fn(crate::http::middleware::request_span))
        })
        .workers(settings.workers.unwrap_or_else(num_cpus::get))
        .shutdown_timeout(10);
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config),
            None => server.listen(listener),
        }
        .map_err(|e| format!("cannot listen: {e}"))?
        .run();
        tracing::info!(url = %public_url, "badgegate listening");
        Ok(Application { server, port: addr.port(), public_url, metrics })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The port of the `/metrics` listener, when it runs.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// Runs until SIGTERM/SIGINT, then drains in-flight requests (actix's graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopped = self.server.await;
        if let Some((metrics, _)) = self.metrics {
            metrics.stop(true).await;
        }
        stopped
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

fn start_mail_worker(settings: &Settings, db: &Db, badge_secret: &[u8]) -> Result<crate::mail::worker::Worker, String> {
    let config = settings.mail();
    let mailer = crate::mail::transport::Mailer::new(&config, &settings.data_dir)?;
    let key = crate::mail::OutboxKey::from_badge_key(&BadgeKey::new(badge_secret)).map_err(|e| e.to_string())?;
    crate::mail::worker::Worker::start(db.clone(), mailer, key, config.retry_base)
        .map_err(|e| format!("cannot start the mail worker: {e}"))
}

fn load_tls(cert: &std::path::Path, key: &std::path::Path) -> Result<rustls::ServerConfig, String> {
    let open = |p: &std::path::Path| {
        std::fs::File::open(p).map(std::io::BufReader::new).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate {}: {e}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| format!("bad key {}: {e}", key.display()))?
        .ok_or_else(|| format!("no private key in {}", key.display()))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS configuration: {e}"))
}
