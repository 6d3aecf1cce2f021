//! Step 12: `/metrics` in Prometheus text format on its own listener
//! (`BADGEGATE_METRICS_BIND`, off by default), as a Prometheus server scrapes it: what the
//! service did shows up in the counters, and nothing about who did it.

use serde_json::json;

use crate::common::{Backend, TestApp, Who, World, payload, postgres_url_or_skip, scan_body};

#[actix_web::test]
async fn sqlite_metrics_tell_what_happened_and_nothing_personal() {
    metrics_tell_what_happened_and_nothing_personal(Backend::Sqlite).await;
}

#[actix_web::test]
async fn postgres_metrics_tell_what_happened_and_nothing_personal() {
    if postgres_url_or_skip("metrics_tell_what_happened_and_nothing_personal").is_none() {
        return;
    }
    metrics_tell_what_happened_and_nothing_personal(Backend::Postgres).await;
}

#[actix_web::test]
async fn metrics_are_off_unless_asked_for() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.metrics_port, None);
    let res = app.client.get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 404, "the public listener never answers /metrics");
}

async fn scrape(app: &TestApp, url: &str) -> String {
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    res.text().await.unwrap()
}

/// The value of the sample `name` whose labels include every one of `labels`; 0 when the
/// series does not exist yet (a counter nobody touched). Other tests of this process
/// record into the same registry, so callers compare before and after.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

fn looks_like_uuid(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() == 36
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { *b == b'-' } else { b.is_ascii_hexdigit() })
}

async fn metrics_tell_what_happened_and_nothing_personal(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let metrics_url = format!("http://127.0.0.1:{}/metrics", app.metrics_port.expect("a metrics listener"));
    let before = scrape(&app, &metrics_url).await;

    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let email = format!("ada.{}@example.org", uuid::Uuid::new_v4().simple());
    let registered = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Ada Lovelace", "email": email, "company": "Analytical Engines",
                   "phone": "+44 20 7946 0000", "is_adult": true}),
        )
        .await;
    let badge = payload(&registered);
    let scanner = w.token(Who::AcmeScanner);
    let first = scan_body(&badge);
    assert_eq!(app.post(scanner, "/api/v1/scans", &first).await.status(), 201);
    assert_eq!(app.post(scanner, "/api/v1/scans", &first).await.status(), 200);
    let forged = scan_body(&format!("BG1-{}", "A".repeat(26)));
    assert_eq!(app.post(scanner, "/api/v1/scans", &forged).await.status(), 422);
    let batch = json!({"scans": [scan_body(&badge), {"client_scan_id": "not a uuid"}]});
    assert_eq!(app.post(scanner, "/api/v1/scans/batch", &batch).await.status(), 200);

    let after = scrape(&app, &metrics_url).await;
    let grew = |name: &str, labels: &[(&str, &str)]| sample(&after, name, labels) - sample(&before, name, labels);

    // Scans by outcome: two created (one single, one batch item), one duplicate, one
    // unknown badge, one invalid batch item.
    assert!(grew("badgegate_scans_total", &[("outcome", "created")]) >= 2.0, "{after}");
    assert!(grew("badgegate_scans_total", &[("outcome", "duplicate")]) >= 1.0);
    assert!(grew("badgegate_scans_total", &[("outcome", "rejected"), ("reason", "unknown_badge")]) >= 1.0);
    assert!(grew("badgegate_scans_total", &[("outcome", "rejected"), ("reason", "invalid")]) >= 1.0);
    // The lead cards answered to the phone were releases on the basis of the scan.
    assert!(grew("badgegate_releases_total", &[("channel", "scan"), ("basis", "scan")]) >= 1.0);
    // Latency by route pattern, not by path.
    let scans_route = [("route", "/api/v1/scans"), ("method", "POST"), ("status", "201")];
    assert!(grew("badgegate_http_request_duration_seconds_count", &scans_route) >= 1.0);
    assert!(
        sample(&after, "badgegate_http_request_duration_seconds_bucket", &[("route", "/api/v1/scans"), ("le", "0.05")])
            >= 1.0
    );
    assert!(after.contains("route=\"/api/v1/events/{event_id}/attendees\""), "{after}");
    // Database pool waits, and the gauges read at scrape time.
    assert!(grew("badgegate_db_pool_wait_seconds_count", &[("pool", "pool")]) >= 1.0);
    assert!(after.contains("badgegate_outbox_messages{status=\"queued\"}"), "{after}");
    assert!(after.contains("badgegate_db_pool_connections{state=\"in_use\"}"), "{after}");
    assert!(after.contains("# HELP badgegate_releases_total"));

    // Nothing that names a person, an account or a record.
    let registered_id = registered["id"].as_str().unwrap();
    for personal in [
        email.as_str(),
        "Ada",
        "Lovelace",
        "Analytical",
        "7946",
        badge.as_str(),
        &w.event,
        &w.acme,
        registered_id,
        scanner,
    ] {
        assert!(!after.contains(personal), "the scrape shows {personal}");
    }
    let ids: Vec<&str> =
        after.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).filter(|w| looks_like_uuid(w)).collect();
    assert!(ids.is_empty(), "ids in the scrape: {ids:?}");
}
