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

both_backends!(
    allow_lists_each_method_of_the_resource_once,
    a_method_the_literal_route_lacks_is_405_not_its_neighbours
);

use crate::common::TestApp;

/// The methods of each documented path, and a concrete path for it (parameters filled).
fn documented_paths() -> Vec<(String, Vec<String>)> {
    let doc = serde_json::to_value(badgegate::http::routes::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: Vec<String> = path
            .split('/')
            .map(
                |s| if s.starts_with('{') { "00000000-0000-4000-8000-000000000000".to_string() } else { s.to_string() },
            )
            .collect();
        let methods = ["get", "post", "put", "patch", "delete"]
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_uppercase())
            .collect();
        out.push((concrete.join("/"), methods));
    }
    out
}

fn allow_of(res: &reqwest::Response) -> Vec<String> {
    let allow = res.headers().get("allow").expect("a 405 names the allowed methods").to_str().unwrap();
    allow.split(", ").map(str::to_string).collect()
}

async fn allow_lists_each_method_of_the_resource_once(app: TestApp) {
    for (path, methods) in documented_paths() {
        let res = app.client.request(reqwest::Method::OPTIONS, format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(res.status(), 405, "OPTIONS {path}");
        let allow = allow_of(&res);
        assert_eq!(allow, methods, "OPTIONS {path}: Allow must list the documented methods, each once");
    }
}

async fn a_method_the_literal_route_lacks_is_405_not_its_neighbours(app: TestApp) {
    let admin = app.admin().await;
    let event_id = app.event(&admin).await;
    let import = format!("{}/api/v1/events/{event_id}/attendees/import", app.url);
    for method in [reqwest::Method::OPTIONS, reqwest::Method::GET, reqwest::Method::PATCH] {
        // `/attendees/{attendee_id}` matches the path too, but the path is the import.
        let res = app.client.request(method.clone(), &import).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 405, "{method} …/attendees/import");
        assert_eq!(allow_of(&res), ["POST"]);
        crate::common::problem(res).await;
    }
    let export = format!("{}/api/v1/leads/export.csv", app.url);
    let res = app.client.post(&export).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(allow_of(&res), ["GET"], "the export, not the lead `export.csv`");
    let res = app
        .client
        .delete(format!("{}/api/v1/leads/00000000-0000-4000-8000-000000000000", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(allow_of(&res), ["GET", "PATCH"]);
}

#[test]
fn every_operation_documents_what_the_shared_plumbing_answers() {
    let doc = serde_json::to_value(badgegate::http::routes::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            let at = format!("{} {path}", method.to_uppercase());
            let secured = op.get("security").and_then(|s| s.as_array()).is_some_and(|s| !s.is_empty());
            if secured {
                assert!(has("401"), "{at}: 401");
                assert!(responses["401"]["headers"].get("WWW-Authenticate").is_some(), "{at}: 401 WWW-Authenticate");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{at}: {status}");
                }
            }
            if path.contains('{') {
                assert!(has("404"), "{at}: 404");
            }
            assert!(responses["405"]["headers"].get("Allow").is_some(), "{at}: 405 with Allow");
            if has("429") {
                assert!(responses["429"]["headers"].get("Retry-After").is_some(), "{at}: 429 with Retry-After");
            }
            for (status, response) in responses {
                if status.as_str() >= "400" {
                    let content = response["content"].as_object().unwrap();
                    assert!(
                        content.keys().all(|k| k == "application/problem+json"),
                        "{at}: {status} must be application/problem+json"
                    );
                    assert_eq!(content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
                }
            }
        }
    }
    for export in ["/api/v1/leads/export.csv", "/api/v1/leads/export.xlsx"] {
        assert!(doc["paths"][export]["get"]["responses"]["200"]["headers"].get("X-Export-Id").is_some(), "{export}");
    }
    let batch = &doc["components"]["schemas"]["BatchRequest"]["properties"]["scans"];
    assert_eq!(batch["maxItems"], 500);
    assert!(batch["description"].as_str().unwrap().contains("rejected"), "the per-item tolerance is described");
}
