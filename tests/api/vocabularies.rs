//! Step 8 (issue 12, point 6): reasons, bases, channels, roles and request kinds and
//! statuses are Rust enums now, but the database and the wire keep today's exact texts:
//! rows written by earlier versions read back, and what is written now reads as before.

use std::collections::BTreeSet;
use std::str::FromStr;

use crate::common::{TestApp, partner_user, payload, problem, scan_body};
use badgegate::auth::Role;
use badgegate::ledger::{Basis, Channel};
use badgegate::rights::requests::{RequestChannel, RequestKind, RequestStatus};
use badgegate::scans::{CardReason, RejectReason, ScanStatus};
use diesel::RunQueryDsl;
use serde_json::{Value, json};

both_backends!(
    every_release_and_staff_read_stores_its_basis_and_channel_as_text,
    accounts_and_requests_are_stored_as_text,
    ledger_and_request_rows_written_as_text_read_back_through_the_api,
    the_phone_reads_each_scan_outcome_by_its_text,
);

/// Each vocabulary, value by value, with the one text it has in the database and in JSON.
#[test]
fn every_value_has_one_text_in_json_and_in_the_database() {
    fn check<T>(pairs: &[(T, &str)])
    where
        T: Copy + PartialEq + std::fmt::Debug + FromStr + serde::Serialize + serde::de::DeserializeOwned,
        T: std::fmt::Display,
    {
        for (value, text) in pairs {
            assert_eq!(&value.to_string(), text);
            assert_eq!(serde_json::to_value(value).unwrap(), json!(text));
            assert_eq!(serde_json::from_value::<T>(json!(text)).unwrap(), *value);
            assert!(T::from_str(text).is_ok_and(|v| v == *value), "{text}");
        }
        for foreign in ["", "Scan", "SCAN", " scan", "opt_in ", "unknown"] {
            assert!(T::from_str(foreign).is_err() || pairs.iter().any(|(_, t)| *t == foreign), "{foreign:?}");
            assert!(serde_json::from_value::<T>(json!(foreign)).is_err() || pairs.iter().any(|(_, t)| *t == foreign));
        }
    }
    check(&[
        (RejectReason::UnknownBadge, "unknown_badge"),
        (RejectReason::OtherEvent, "other_event"),
        (RejectReason::BadgeRevoked, "badge_revoked"),
        (RejectReason::EventClosed, "event_closed"),
        (RejectReason::OutsideEventDates, "outside_event_dates"),
        (RejectReason::ScannedAtInFuture, "scanned_at_in_future"),
        (RejectReason::Invalid, "invalid"),
        (RejectReason::Throttled, "throttled"),
    ]);
    check(&[(CardReason::Withdrawn, "withdrawn"), (CardReason::PartnerSuspended, "partner_suspended")]);
    check(&[
        (ScanStatus::Created, "created"),
        (ScanStatus::Duplicate, "duplicate"),
        (ScanStatus::Rejected, "rejected"),
    ]);
    check(&[
        (Basis::OptIn, "opt_in"),
        (Basis::Scan, "scan"),
        (Basis::OptInScan, "opt_in+scan"),
        (Basis::StaffAccess, "staff_access"),
        (Basis::IncidentNotification, "incident_notification"),
    ]);
    check(&[(Channel::Scan, "scan"), (Channel::Api, "api"), (Channel::Export, "export"), (Channel::Staff, "staff")]);
    check(&[
        (Role::Admin, "admin"),
        (Role::Registrar, "registrar"),
        (Role::PartnerAdmin, "partner_admin"),
        (Role::Scanner, "scanner"),
    ]);
    check(&[
        (RequestKind::Access, "access"),
        (RequestKind::Correction, "correction"),
        (RequestKind::Erasure, "erasure"),
        (RequestKind::Withdrawal, "withdrawal"),
    ]);
    check(&[
        (RequestChannel::Email, "email"),
        (RequestChannel::Post, "post"),
        (RequestChannel::Phone, "phone"),
        (RequestChannel::InPerson, "in_person"),
        (RequestChannel::SelfService, "self_service"),
    ]);
    check(&[(RequestStatus::Open, "open"), (RequestStatus::Completed, "completed")]);
}

/// A refused text is not repeated in the error: it may come from a request body, and
/// errors reach the log.
#[test]
fn an_unknown_text_is_refused_without_repeating_it() {
    let err = Basis::from_str("alice@example.org").unwrap_err();
    assert!(!err.to_string().contains("alice"), "{err}");
    assert!(err.to_string().contains("Basis"), "{err}");
}

/// Channels sort by their text, as the `String`s they replaced did (incident exposure
/// lists them in that order).
#[test]
fn channels_sort_by_their_text() {
    let set: BTreeSet<Channel> = [Channel::Staff, Channel::Scan, Channel::Export, Channel::Api].into_iter().collect();
    let texts: Vec<&str> = set.iter().map(|c| c.as_str()).collect();
    assert_eq!(texts, ["api", "export", "scan", "staff"]);
}

#[derive(diesel::QueryableByName)]
struct Texts {
    #[diesel(sql_type = diesel::sql_types::Text)]
    a: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    b: String,
}

/// Two text columns straight from the database, as pairs.
fn raw_pairs(app: &TestApp, sql: &str) -> BTreeSet<(String, String)> {
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(sql).load::<Texts>(&mut *conn).unwrap().into_iter().map(|t| (t.a, t.b)).collect()
}

fn raw_execute(app: &TestApp, sql: &str) {
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(sql).execute(&mut *conn).unwrap();
}

/// One named column of a CSV document with a header row.
fn csv_column(text: &str, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let at = reader.headers().unwrap().iter().position(|h| h == name).unwrap();
    reader.records().map(|r| r.unwrap()[at].to_string()).collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Every basis and channel the service writes, read back raw from the ledger table.
async fn every_release_and_staff_read_stores_its_basis_and_channel_as_text(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let (_, acme_admin) = partner_user(&app, &admin, &event, &acme, "partner_admin").await;
    let shared = app
        .register(
            &admin,
            &event,
            json!({"name": "Shared", "email": "shared@example.org", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    let scanned =
        app.register(&admin, &event, json!({"name": "Scanned", "email": "s@example.org", "is_adult": true})).await;
    app.register(
        &admin,
        &event,
        json!({"name": "Opted", "email": "o@example.org", "is_adult": true, "share_with_partners": [acme]}),
    )
    .await;

    // Lead cards (channel scan): one opt-in + scan, one scan only.
    for p in [&shared, &scanned] {
        let res = app.post(&acme_admin, "/api/v1/scans", &scan_body(&payload(p))).await;
        assert_eq!(res.status(), 201);
    }
    // Lead reads (api), an export (export, all three bases), staff reads (staff).
    assert_eq!(app.get(&acme_admin, "/api/v1/leads").await.status(), 200);
    let res = app.get(&acme_admin, "/api/v1/leads/export.csv").await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let bases: BTreeSet<String> = csv_column(&csv, "basis").into_iter().collect();
    assert_eq!(bases, ["opt_in", "opt_in+scan", "scan"].map(String::from).into_iter().collect(), "{csv}");
    let res = app.get(&admin, &format!("/api/v1/events/{event}/attendees?per_page=100")).await;
    assert_eq!(res.status(), 200);
    let from = crate::common::now_rfc3339();
    let res = app
        .post(
            &admin,
            "/api/v1/incidents",
            &json!({"title": "Lost phone", "description": "A scanner phone was lost.", "discovered_at": from,
                    "scope": {"partner_id": acme}, "window": {"from": "2000-01-01T00:00:00Z", "to": from}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let incident: Value = res.json().await.unwrap();
    assert_eq!(incident["exposure"]["channels"], json!(["api", "export", "scan"]));
    let res = app.get(&admin, &format!("/api/v1/incidents/{}/affected.csv", incident["id"].as_str().unwrap())).await;
    assert_eq!(res.status(), 200);

    let stored = raw_pairs(&app, "SELECT DISTINCT basis AS a, channel AS b FROM disclosures");
    assert_eq!(
        stored,
        pairs(&[
            ("opt_in+scan", "scan"),
            ("scan", "scan"),
            ("opt_in+scan", "api"),
            ("scan", "api"),
            ("opt_in", "export"),
            ("opt_in+scan", "export"),
            ("scan", "export"),
            ("staff_access", "staff"),
            ("incident_notification", "staff"),
        ])
    );

    // The ledger API and its CSV answer the same texts.
    let page: Value =
        app.get(&admin, &format!("/api/v1/events/{event}/disclosures?per_page=100")).await.json().await.unwrap();
    let answered: BTreeSet<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["basis"].as_str().unwrap().to_string(), d["channel"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(answered, stored);
}

/// Roles of accounts and the kind, channel and status of requests, read back raw.
async fn accounts_and_requests_are_stored_as_text(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    partner_user(&app, &admin, &event, &acme, "partner_admin").await;
    partner_user(&app, &admin, &event, &acme, "scanner").await;
    app.create_staff("desk@example.org", Role::Registrar).await;
    let roles = raw_pairs(&app, "SELECT DISTINCT role AS a, role AS b FROM users");
    assert_eq!(
        roles,
        pairs(&[
            ("admin", "admin"),
            ("registrar", "registrar"),
            ("partner_admin", "partner_admin"),
            ("scanner", "scanner")
        ])
    );

    let ann = app.register(&admin, &event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let res = app
        .post(
            &admin,
            "/api/v1/requests",
            &json!({"event_id": event, "attendee_id": ann["id"], "kind": "erasure", "channel": "in_person"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let filed: Value = res.json().await.unwrap();
    assert_eq!(
        (&filed["kind"], &filed["channel"], &filed["status"]),
        (&json!("erasure"), &json!("in_person"), &json!("open"))
    );
    // A self-service action on the privacy page is recorded as a completed request.
    let token = ann["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let res = app.get(&token, "/api/v1/me/export").await;
    assert_eq!(res.status(), 200);

    let rows = raw_pairs(&app, "SELECT kind || ' ' || channel AS a, status AS b FROM requests");
    assert_eq!(rows, pairs(&[("erasure in_person", "open"), ("access self_service", "completed")]));

    let res =
        app.post(&admin, &format!("/api/v1/requests/{}/complete", filed["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(res.status(), 200);
    let rows = raw_pairs(&app, "SELECT kind AS a, status AS b FROM requests");
    assert_eq!(rows, pairs(&[("erasure", "completed"), ("access", "completed")]));

    // Self-service is what the privacy page records, not a way a request reaches staff.
    let res = app
        .post(
            &admin,
            "/api/v1/requests",
            &json!({"event_id": event, "attendee_id": ann["id"], "kind": "Access", "channel": "self_service"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let p = problem(res).await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["kind", "channel"]);
}

/// Rows as an earlier version wrote them (plain text) read back through the API, and the
/// register's status filters still match them.
async fn ledger_and_request_rows_written_as_text_read_back_through_the_api(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let ann = app.register(&admin, &event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let ann_id = ann["id"].as_str().unwrap();
    let mut expected = Vec::new();
    for (i, (basis, channel)) in [
        ("opt_in", "scan"),
        ("scan", "api"),
        ("opt_in+scan", "export"),
        ("staff_access", "staff"),
        ("incident_notification", "staff"),
    ]
    .into_iter()
    .enumerate()
    {
        let partner = if channel == "staff" { "NULL".to_string() } else { format!("'{acme}'") };
        raw_execute(
            &app,
            &format!(
                "INSERT INTO disclosures (id, occurred_at, event_id, partner_id, user_id, attendee_id, fields, basis, channel, export_id)
                 VALUES ('{}', {}, '{event}', {partner}, NULL, '{ann_id}', 'name', '{basis}', '{channel}', NULL)",
                uuid::Uuid::new_v4(),
                1_700_000_000_000_i64 + i as i64
            ),
        );
        expected.push((basis, channel));
    }
    let page: Value =
        app.get(&admin, &format!("/api/v1/events/{event}/disclosures?per_page=100")).await.json().await.unwrap();
    let got: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["basis"].as_str().unwrap(), d["channel"].as_str().unwrap()))
        .collect();
    assert_eq!(got, expected);
    let csv = app.get(&admin, &format!("/api/v1/events/{event}/disclosures?format=csv")).await.text().await.unwrap();
    let from_csv: Vec<(String, String)> =
        csv_column(&csv, "basis").into_iter().zip(csv_column(&csv, "channel")).collect();
    let expected_owned: Vec<(String, String)> = expected.iter().map(|(b, c)| (b.to_string(), c.to_string())).collect();
    assert_eq!(from_csv, expected_owned, "{csv}");
    // The participant's own page lists partner releases with their basis.
    let token = ann["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let record: Value = app.get(&token, "/api/v1/me/export").await.json().await.unwrap();
    let bases: Vec<&str> =
        record["recipients"].as_array().unwrap().iter().map(|r| r["basis"].as_str().unwrap()).collect();
    assert_eq!(bases, ["opt_in", "scan", "opt_in+scan"]);

    let due = 1_600_000_000_000_i64;
    for (kind, channel, status) in [("access", "post", "open"), ("correction", "email", "completed")] {
        raw_execute(
            &app,
            &format!(
                "INSERT INTO requests (id, event_id, attendee_id, kind, channel, received_at, due_at, status, completed_at, handled_by, notes)
                 VALUES ('{}', '{event}', '{ann_id}', '{kind}', '{channel}', {due}, {due}, '{status}', NULL, NULL, NULL)",
                uuid::Uuid::new_v4()
            ),
        );
    }
    for (filter, expected) in [
        ("open", vec![("access", "post", "open", true)]),
        ("overdue", vec![("access", "post", "open", true)]),
        ("completed", vec![("correction", "email", "completed", false)]),
    ] {
        let page: Value = app.get(&admin, &format!("/api/v1/requests?status={filter}")).await.json().await.unwrap();
        let got: Vec<(&str, &str, &str, bool)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["channel"] != "self_service")
            .map(|r| {
                (
                    r["kind"].as_str().unwrap(),
                    r["channel"].as_str().unwrap(),
                    r["status"].as_str().unwrap(),
                    r["overdue"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "?status={filter}");
    }
    let res = app.get(&admin, "/api/v1/requests?status=Open").await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "status");
}

/// The texts a phone keys on: statuses, rejection reasons and lead-card reasons.
async fn the_phone_reads_each_scan_outcome_by_its_text(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let other_event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let (_, scanner) = partner_user(&app, &admin, &event, &acme, "scanner").await;
    let ann = app.register(&admin, &event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let bo = app.register(&admin, &event, json!({"name": "Bo", "email": "bo@example.org", "is_adult": true})).await;
    let stranger =
        app.register(&admin, &other_event, json!({"name": "Cy", "email": "cy@example.org", "is_adult": true})).await;
    let res = app
        .post(
            &admin,
            &format!("/api/v1/events/{event}/attendees/{}/withdrawals", bo["id"].as_str().unwrap()),
            &json!({"partner_id": acme}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let first = scan_body(&payload(&ann));
    let res = app.post(&scanner, "/api/v1/scans", &first).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "created");
    let res = app.post(&scanner, "/api/v1/scans", &first).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "duplicate");
    let res = app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&stranger))).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["reason"], "other_event");

    let mut future = scan_body(&payload(&ann));
    future["scanned_at"] = json!("2999-01-01T00:00:00Z");
    let mut early = scan_body(&payload(&ann));
    early["scanned_at"] = json!("2001-01-01T00:00:00Z");
    let batch = json!({"scans": [
        scan_body(&payload(&bo)),
        scan_body("BG1-AAAAAAAAAAAAAAAAAAAAAAAAAA"),
        future,
        early,
        {"client_scan_id": "not a uuid", "badge": "x", "scanned_at": "now"},
    ]});
    let res = app.post(&scanner, "/api/v1/scans/batch", &batch).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let got: Vec<(&str, Option<&str>, Option<&str>)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["reason"].as_str(), r["lead_reason"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("created", None, Some("withdrawn")),
            ("rejected", Some("unknown_badge"), None),
            ("rejected", Some("scanned_at_in_future"), None),
            ("rejected", Some("outside_event_dates"), None),
            ("rejected", Some("invalid"), None),
        ]
    );
}
