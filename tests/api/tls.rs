//! With --tls-cert and --tls-key the service speaks HTTPS only.

use badgegate::config::Settings;
use badgegate::http::server::Application;

#[actix_web::test]
async fn with_a_certificate_the_service_speaks_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let settings = with_self_signed_certificate(dir.path(), Settings::for_data_dir(dir.path().to_path_buf()));
    let app = Application::build(settings).await.unwrap();
    let url = app.public_url().to_string();
    assert!(url.starts_with("https://"));
    let port = app.port();
    actix_web::rt::spawn(app.into_server());

    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let res = client.get(format!("https://localhost:{port}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain HTTP must not be served");
}

/// Settings that serve HTTPS with a fresh self-signed certificate for `localhost`, its PEM
/// files written to `dir`.
pub fn with_self_signed_certificate(dir: &std::path::Path, mut settings: Settings) -> Settings {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    settings.tls_cert = Some(cert_path);
    settings.tls_key = Some(key_path);
    settings
}
