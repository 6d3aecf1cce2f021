//! Step 7 (issue 11, points 3 and 4): staff reads of contact fields are ledgered, an
//! incident scoped to a staff user says what that user obtained, and scanners get the scan
//! card (name, company) through the API too.

use crate::common::{Backend, TestApp, Who, World, partner_user, payload, scan_body};
use serde_json::{Value, json};

both_backends!(
    every_staff_read_of_contact_fields_appends_one_staff_row_per_participant,
    a_registrar_who_downloaded_everyone_is_reported_as_having_obtained_them,
    a_failed_ledger_write_fails_the_staff_read,
    scanners_read_leads_as_the_scan_card_and_partner_admins_get_the_released_fields,
);

const ALL: [&str; 5] = ["name", "company", "address", "phone", "email"];

fn rfc(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

struct Desk {
    admin: String,
    event: String,
    registrar_id: String,
    registrar: String,
    /// Ann, Bo, Cy in name order.
    ids: Vec<String>,
    /// Their privacy-page tokens.
    privacy: Vec<String>,
}

/// An event with three participants and a registrar; nobody has read anything yet.
async fn desk(app: &TestApp) -> Desk {
    let w = World::builder().with(Who::Registrar).build(app).await;
    let (registrar_id, registrar) = (w.user_id(Who::Registrar).to_string(), w.token(Who::Registrar).to_string());
    let World { admin, event, .. } = w;
    let (mut ids, mut privacy) = (Vec::new(), Vec::new());
    for (name, phone) in [("Ann", Some("555 0101")), ("Bo", None), ("Cy", Some("555 0103"))] {
        let r = app
            .register(
                &admin,
                &event,
                json!({"name": name, "email": format!("{}@example.org", name.to_lowercase()), "company": "Initech",
                       "phone": phone, "address": "1 Main St", "is_adult": true}),
            )
            .await;
        ids.push(r["id"].as_str().unwrap().to_string());
        privacy.push(r["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string());
    }
    Desk { admin, event, registrar_id, registrar, ids, privacy }
}

/// The event's whole ledger in order (admin reads of the ledger carry no contact fields).
async fn ledger(app: &TestApp, d: &Desk) -> Vec<Value> {
    let res = app.get(&d.admin, &format!("/api/v1/events/{}/disclosures?per_page=100", d.event)).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Runs `read`, asserts it answered 200 and returns the ledger rows it appended.
async fn appended(app: &TestApp, d: &Desk, path: &str) -> Vec<Value> {
    let before = ledger(app, d).await.len();
    let res = app.get(&d.registrar, path).await;
    assert_eq!(res.status(), 200, "{path}");
    drop(res.bytes().await.unwrap());
    ledger(app, d).await.split_off(before)
}

fn check_staff_rows(rows: &[Value], d: &Desk, people: &[&str], fields: &[&str]) {
    let mut got: Vec<&str> = rows.iter().map(|r| r["attendee_id"].as_str().unwrap()).collect();
    got.sort_unstable();
    let mut want = people.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "one row per participant the response carried");
    for r in rows {
        assert_eq!(r["channel"], "staff");
        assert_eq!(r["basis"], "staff_access");
        assert_eq!(r["user_id"], d.registrar_id.as_str());
        assert_eq!(r["partner_id"], Value::Null);
        assert_eq!(r["partner_name"], "operator staff");
        assert_eq!(r["fields"], json!(fields));
    }
}

async fn every_staff_read_of_contact_fields_appends_one_staff_row_per_participant(app: TestApp) {
    let d = desk(&app).await;
    let (ann, bo, cy) = (d.ids[0].as_str(), d.ids[1].as_str(), d.ids[2].as_str());
    assert!(ledger(&app, &d).await.is_empty(), "registration releases nothing");

    // A list page of two carries two people; a search carries what it found.
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/attendees?per_page=2", d.event)).await;
    check_staff_rows(&rows, &d, &[ann, bo], &ALL);
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/attendees?q=cy", d.event)).await;
    check_staff_rows(&rows, &d, &[cy], &ALL);
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/attendees/{bo}", d.event)).await;
    check_staff_rows(&rows, &d, &[bo], &ALL);

    // Badges carry name and company only, and the ledger says exactly that.
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/badges.csv", d.event)).await;
    check_staff_rows(&rows, &d, &[ann, bo, cy], &["name", "company"]);
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/badges/sheet", d.event)).await;
    check_staff_rows(&rows, &d, &[ann, bo, cy], &["name", "company"]);

    // An erased participant's row holds no personal data any more: listed, not ledgered.
    let res = app.post(&d.admin, &format!("/api/v1/events/{}/attendees/{ann}/under-18", d.event), &json!({})).await;
    assert!(res.status().is_success(), "under-18 flag: {}", res.status());
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/attendees", d.event)).await;
    check_staff_rows(&rows, &d, &[bo, cy], &ALL);
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/attendees/{ann}", d.event)).await;
    assert!(rows.is_empty());

    // Reads that carry no contact field append nothing.
    let rows = appended(&app, &d, &format!("/api/v1/events/{}/attendees/{bo}/badge.svg", d.event)).await;
    assert!(rows.is_empty());

    // The operator's own staff are not "partners that received your data" on the
    // participant's page; the security officer finds them in the ledger.
    let by_bo: Value = app
        .get(&d.admin, &format!("/api/v1/events/{}/disclosures?attendee_id={bo}", d.event))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_bo["total"], 5, "list, detail, badges.csv, sheet, list");
    let own: Value = app.get(&d.privacy[1], "/api/v1/me").await.json().await.unwrap();
    assert_eq!(own["recipients"], json!([]));
}

async fn a_registrar_who_downloaded_everyone_is_reported_as_having_obtained_them(app: TestApp) {
    let d = desk(&app).await;
    let from = rfc(time::OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let res = app.get(&d.registrar, &format!("/api/v1/events/{}/attendees?per_page=100", d.event)).await;
    assert_eq!(res.status(), 200);
    let res = app.get(&d.registrar, &format!("/api/v1/events/{}/badges.csv", d.event)).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Cy"));
    let to = rfc(time::OffsetDateTime::now_utc() + time::Duration::seconds(1));

    let res = app
        .post(
            &d.admin,
            "/api/v1/incidents",
            &json!({"title": "Registrar account misused", "description": "Exported the attendee list.",
                    "discovered_at": to, "scope": {"user_id": d.registrar_id}, "window": {"from": from, "to": to}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let inc: Value = res.json().await.unwrap();
    let e = &inc["exposure"];
    let mut ids: Vec<String> =
        e["participant_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    ids.sort();
    let mut expected = d.ids.clone();
    expected.sort();
    assert_eq!(ids, expected, "every participant the registrar downloaded");
    assert_eq!(e["participants"], 3);
    assert_eq!(e["records"], 6, "three from the list, three from badges.csv");
    assert_eq!(e["fields"], json!(ALL));
    assert_eq!(e["channels"], json!(["staff"]));
    let recipients = e["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 1);
    assert_eq!(recipients[0]["partner_id"], Value::Null);
    assert_eq!(recipients[0]["partner_name"], "operator staff");
    assert_eq!(recipients[0]["user_ids"], json!([d.registrar_id]));

    // The written report says so rather than "nothing was released".
    let id = inc["id"].as_str().unwrap();
    let report = app.get(&d.admin, &format!("/api/v1/incidents/{id}/report")).await.text().await.unwrap();
    assert!(!report.contains("No contact data was released"), "{report}");
    assert!(report.contains("operator staff"), "{report}");

    // An incident about the event (say, a partner's leak) does not count the operator's own
    // staff reads as exposure: only a staff-user scope does.
    let res = app
        .post(
            &d.admin,
            "/api/v1/incidents",
            &json!({"title": "Event-wide check", "description": "No partner involved.",
                    "discovered_at": to, "scope": {"event_id": d.event}, "window": {"from": from, "to": to}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let inc: Value = res.json().await.unwrap();
    assert_eq!(inc["exposure"]["records"], 0, "{inc}");
    assert_eq!(inc["exposure"]["recipients"], json!([]));
}

/// Makes every ledger insert fail, as a full disk or a broken constraint would.
fn break_the_ledger(app: &TestApp) {
    use diesel::connection::SimpleConnection;
    let db = app.db();
    let mut conn = db.get().unwrap();
    let sql = match app.backend {
        Backend::Sqlite => {
            "CREATE TRIGGER test_ledger_down BEFORE INSERT ON disclosures BEGIN SELECT RAISE(ABORT, 'ledger down'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION test_ledger_down() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'ledger down'; END $$; \
             CREATE TRIGGER test_ledger_down BEFORE INSERT ON disclosures \
             FOR EACH ROW EXECUTE FUNCTION test_ledger_down();"
        }
    };
    conn.batch_execute(sql).unwrap();
}

async fn a_failed_ledger_write_fails_the_staff_read(app: TestApp) {
    let d = desk(&app).await;
    break_the_ledger(&app);
    for path in [
        format!("/api/v1/events/{}/attendees", d.event),
        format!("/api/v1/events/{}/attendees/{}", d.event, d.ids[0]),
        format!("/api/v1/events/{}/badges.csv", d.event),
        format!("/api/v1/events/{}/badges/sheet", d.event),
    ] {
        let res = app.get(&d.registrar, &path).await;
        assert_eq!(res.status(), 500, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Ann") && !body.contains("ann@example.org"), "{path} leaked: {body}");
    }
}

async fn scanners_read_leads_as_the_scan_card_and_partner_admins_get_the_released_fields(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let (scanner_id, scanner) = partner_user(&app, &admin, &event, &acme, "scanner").await;
    let (acme_admin_id, acme_admin) = partner_user(&app, &admin, &event, &acme, "partner_admin").await;
    let ann = app
        .register(
            &admin,
            &event,
            json!({"name": "Ann Lee", "email": "ann.lee@example.org", "company": "Initech", "phone": "+1 555 0101",
                   "address": "1 Main St", "is_adult": true}),
        )
        .await;
    let ann_id = ann["id"].as_str().unwrap();
    assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&ann))).await.status(), 201);
    let card = json!({"name": "Ann Lee", "company": "Initech"});
    let ledger = || async {
        let page: Value = app
            .get(&admin, &format!("/api/v1/events/{event}/disclosures?attendee_id={ann_id}&per_page=100"))
            .await
            .json()
            .await
            .unwrap();
        page["items"].as_array().unwrap().clone()
    };
    let last_row = |rows: Vec<Value>| rows.last().cloned().unwrap();

    // The scanner: the list and the single lead carry what the scan card carried.
    let leads: Value = app.get(&scanner, "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(leads["items"][0]["contact"], card);
    let row = last_row(ledger().await);
    assert_eq!((row["channel"].as_str(), row["user_id"].as_str()), (Some("api"), Some(scanner_id.as_str())));
    assert_eq!(row["fields"], json!(["name", "company"]));
    let lead_id = leads["items"][0]["lead_id"].as_str().unwrap().to_string();
    let one: Value = app.get(&scanner, &format!("/api/v1/leads/{lead_id}")).await.json().await.unwrap();
    assert_eq!(one["contact"], card);
    assert_eq!(last_row(ledger().await)["fields"], json!(["name", "company"]));

    // The partner admin keeps the event's released fields, and the ledger says which.
    let full = json!({"name": "Ann Lee", "company": "Initech", "address": "1 Main St", "phone": "+1 555 0101",
                      "email": "ann.lee@example.org"});
    let leads: Value = app.get(&acme_admin, "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(leads["items"][0]["contact"], full);
    let row = last_row(ledger().await);
    assert_eq!(row["user_id"], acme_admin_id.as_str());
    assert_eq!(row["fields"], json!(ALL));
    let one: Value = app.get(&acme_admin, &format!("/api/v1/leads/{lead_id}")).await.json().await.unwrap();
    assert_eq!(one["contact"], full);
    assert_eq!(last_row(ledger().await)["fields"], json!(ALL));
    assert_eq!(ledger().await.len(), 5, "one scan card and four lead reads");
}
