//! Inputs that the fuzz targets of `fuzz/` (run by `scripts/fuzz.sh`) found to break a
//! rule, kept as they were found and sent the way a user would send them.

use crate::common::{TestApp, problem};

both_backends!(a_csv_header_of_many_empty_columns_answers_a_bounded_list_of_errors);

/// `csv_import`, session 7: a header row of some hundred empty and repeated column names
/// answered one error per column, past the 100 the import promises (a 64 MiB upload of
/// commas would have answered millions).
const CSV_HEADER_CRASH: &str = "bmFtZTwAAAAsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsAWUnYWlsLG5hbWUsZTwAAAAsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLG1haWxpc2xhZHU=";

async fn a_csv_header_of_many_empty_columns_answers_a_bounded_list_of_errors(app: TestApp) {
    use base64::Engine;
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let found = base64::engine::general_purpose::STANDARD.decode(CSV_HEADER_CRASH).unwrap();
    let mut wide = b"name,email".to_vec();
    wide.extend(std::iter::repeat_n(b',', 200_000));
    wide.extend(b"\r\nAda,ada@example.org\r\n");
    for body in [found, wide] {
        let res = app
            .client
            .post(format!("{}/api/v1/events/{event}/attendees/import", app.url))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
        let p = problem(res).await;
        let errors = p["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 100, "{p}");
        assert!(errors.iter().all(|e| e["field"] == "header"), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("stopped after the first 100 errors"), "{p}");
    }
    let list = app.get(&admin, &format!("/api/v1/events/{event}/attendees")).await;
    let list: serde_json::Value = list.json().await.unwrap();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "nothing imported: {list}");
}
