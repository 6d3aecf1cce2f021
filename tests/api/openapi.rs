//! The phone-facing contract cannot drift from the code.

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let generated = serde_json::to_string_pretty(&badgegate::http::routes::openapi()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/mobile-api/openapi.json");
    let checked_in = std::fs::read_to_string(path).unwrap();
    assert!(
        generated == checked_in,
        "mobile-api/openapi.json is stale: run `cargo run -- openapi > mobile-api/openapi.json` and commit it"
    );
}

#[test]
fn the_document_covers_the_phone_flow() {
    let doc = serde_json::to_value(badgegate::http::routes::openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/scans", "post"),
        ("/api/v1/scans/batch", "post"),
        ("/api/v1/leads", "get"),
        ("/api/v1/leads/{lead_id}", "get"),
        ("/api/v1/leads/export.csv", "get"),
        ("/api/v1/leads/export.xlsx", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
    }
}
