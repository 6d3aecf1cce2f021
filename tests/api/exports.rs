//! Step 4: consent-gated CSV and XLSX exports and the disclosure ledger, through the HTTP API.

use crate::common::{TestApp, Who, World, count_rows, partner_user, payload, problem, scan_body};
use serde_json::{Value, json};

both_backends!(
    exports_round_trip_unicode_and_neutralise_formulas,
    exports_suit_a_crm_phone_numbers_lead_ids_and_times_with_offset,
    a_withdrawn_participant_disappears_from_the_next_export,
    partner_b_never_receives_partner_a_scan_only_leads,
    every_exported_row_is_in_the_ledger_with_count_and_digest,
    switched_off_fields_are_never_released,
    staff_query_the_ledger_by_participant_and_partner_window,
    the_xlsx_export_matches_the_csv_cell_by_cell_as_text,
    the_xlsx_export_is_refused_to_scanners_and_suspended_partners,
    an_export_left_halfway_is_ledgered_for_every_row_sent_and_at_most_three_pages_more,
);

async fn world(app: &TestApp) -> World {
    World::builder().with(Who::AcmeAdmin).build(app).await
}

async fn export(app: &TestApp, token: &str, query: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let res = app.get(token, &format!("/api/v1/leads/export.csv{query}")).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    (headers, res.bytes().await.unwrap().to_vec())
}

fn parse(bytes: &[u8]) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new().has_headers(false).from_reader(bytes).records().map(|r| r.unwrap()).collect()
}

/// The name column, sorted (rows come in participant-id order).
fn names(bytes: &[u8]) -> Vec<String> {
    let mut n: Vec<String> = parse(bytes).into_iter().skip(1).map(|r| r[0].to_string()).collect();
    n.sort();
    n
}

async fn exports_round_trip_unicode_and_neutralise_formulas(app: TestApp) {
    let w = world(&app).await;
    let people = [
        ("Zoë Ñuñez", "Acme, Inc.\nResearch Labs", "zoe@example.org", "+49 30 123"),
        ("山田太郎", "株式会社テスト", "taro@example.jp", "03 1234"),
        ("=HYPERLINK(\"http://evil\")", "@SUM(A1)", "evil@example.org", "-1"),
    ];
    for (name, company, email, phone) in people {
        app.register(
            &w.admin,
            &w.event,
            json!({"name": name, "company": company, "email": email, "phone": phone,
            "address": "1 Main St\nSpringfield", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    }
    let (headers, bytes) = export(&app, w.acme_admin(), "").await;
    assert_eq!(headers.get("content-type").unwrap(), "text/csv; charset=utf-8");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let disposition = headers.get("content-disposition").unwrap().to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"leads-") && disposition.ends_with(".csv\""));
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("\"name\",\"company\",\"address\",\"phone\",\"email\",\"basis\""));
    assert!(text.ends_with("\r\n"));
    for line in
        text.split("\r\n").filter(|l| !l.is_empty() && !l.starts_with("Springfield") && !l.starts_with("Research"))
    {
        assert!(line.starts_with('"') && line.ends_with('"'), "every field quoted: {line}");
    }
    let rows = parse(&bytes);
    assert_eq!(rows.len(), 4);
    let find = |email: &str| rows.iter().find(|r| &r[4] == email).unwrap().clone();
    let zoe = find("zoe@example.org");
    assert_eq!(&zoe[0], "Zoë Ñuñez");
    assert_eq!(&zoe[1], "Acme, Inc.\nResearch Labs");
    assert_eq!(&zoe[2], "1 Main St\nSpringfield");
    // A phone number cannot carry a formula: it arrives as dialled, not as `'+49 30 123`.
    assert_eq!(&zoe[3], "+49 30 123");
    assert_eq!(&zoe[5], "opt_in");
    assert_eq!(&find("taro@example.jp")[0], "山田太郎");
    let evil = find("evil@example.org");
    assert_eq!(&evil[0], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(&evil[1], "'@SUM(A1)");
    assert_eq!(&evil[3], "'-1");

    let (_, excel) = export(&app, w.acme_admin(), "?dialect=excel").await;
    assert_eq!(&excel[..3], &[0xEF, 0xBB, 0xBF]);
    // Excel set to German, Spanish or French reads `;` between fields.
    let (_, semicolon) = export(&app, w.acme_admin(), "?dialect=excel-semicolon").await;
    assert_eq!(&semicolon[..3], &[0xEF, 0xBB, 0xBF]);
    let text = std::str::from_utf8(&semicolon[3..]).unwrap();
    assert!(text.starts_with("\"name\";\"company\";"), "{text}");
    let read = |bytes: &[u8], delimiter: u8| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    };
    assert_eq!(read(&semicolon[3..], b';'), read(&excel[3..], b','), "the same cells");
    let res = app.get(w.acme_admin(), "/api/v1/leads/export.csv?dialect=lotus").await;
    assert_eq!(problem(res).await["errors"][0]["field"], "dialect");
}

/// What a CRM import needs: phone numbers as dialled (look-alikes still neutralised), the
/// lead id to match a later export against, and times with their offset.
async fn exports_suit_a_crm_phone_numbers_lead_ids_and_times_with_offset(app: TestApp) {
    let w = world(&app).await;
    let people = [
        ("Ann", "ann@example.org", "+34 600 000 000", "Initech", true),
        ("Bo", "bo@example.org", "+1 (555) 010-0199", "+1)*SUM(A1)", false),
        ("Cy", "cy@example.org", "+1+1", "-Dash Ltd", true),
    ];
    let mut registered = Vec::new();
    for (name, email, phone, company, opted) in people {
        registered.push(
            app.register(
                &w.admin,
                &w.event,
                json!({"name": name, "email": email, "phone": phone, "company": company, "is_adult": true,
                "share_with_all_partners": opted}),
            )
            .await,
        );
    }
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let at = |t: &str| {
        let mut b = scan_body(&payload(&registered[1]));
        b["scanned_at"] = json!(t);
        b
    };
    // Scans inside the test event's dates, so the lead's two times differ.
    let event: Value = app.get(&w.admin, &format!("/api/v1/events/{}", w.event)).await.json().await.unwrap();
    let starts = time::OffsetDateTime::parse(
        event["starts_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let rfc = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let first = starts + time::Duration::milliseconds(61_250);
    let last = starts + time::Duration::minutes(30);
    for t in [first, last] {
        let res = app.post(&scanner, "/api/v1/scans", &at(&rfc(t))).await;
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    let (_, bytes) = export(&app, w.acme_admin(), "").await;
    let rows = parse(&bytes);
    let header: Vec<&str> = rows[0].iter().collect();
    assert_eq!(
        header,
        [
            "name",
            "company",
            "address",
            "phone",
            "email",
            "basis",
            "first_scanned_at",
            "scanned_by",
            "notes",
            "rating",
            "answers",
            "lead_id",
            "last_scanned_at",
            "delete_by"
        ],
        "new columns come after the old ones, in the old order"
    );
    let find = |name: &str| rows.iter().find(|r| &r[0] == name).unwrap().clone();
    let (ann, bo, cy) = (find("Ann"), find("Bo"), find("Cy"));
    assert_eq!(&ann[3], "+34 600 000 000");
    assert_eq!(&bo[3], "+1 (555) 010-0199");
    assert_eq!(&bo[1], "'+1)*SUM(A1)", "a look-alike of a phone number stays neutralised");
    assert_eq!(&cy[3], "'+1+1", "a sum is not a phone number");
    assert_eq!(&cy[1], "'-Dash Ltd");

    // Opt-in alone makes no lead: no id, no times.
    assert_eq!((&ann[5], &ann[6], &ann[11], &ann[12]), ("opt_in", "", "", ""));
    let leads: Value = app.get(w.acme_admin(), "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(leads["total"], 1);
    assert_eq!(&bo[5], "scan");
    assert_eq!(&bo[11], leads["items"][0]["lead_id"].as_str().unwrap());
    // The event's local time (UTC until events carry a zone), to the second, offset spelled out.
    let expect = |t: time::OffsetDateTime| {
        let t = t.replace_millisecond(0).unwrap();
        let f = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        );
        t.to_offset(time::UtcOffset::UTC).format(&f).unwrap()
    };
    assert_eq!(&bo[6], expect(first));
    assert!(bo[6].ends_with("+00:00"), "{}", &bo[6]);
    assert_eq!(&bo[12], expect(last));
    for t in [&bo[6], &bo[12]] {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
    }
}

async fn a_withdrawn_participant_disappears_from_the_next_export(app: TestApp) {
    let w = world(&app).await;
    let ann = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Ann", "email": "ann@example.org", "is_adult": true, "share_with_partners": [w.acme]}),
        )
        .await;
    let bo = app.register(&w.admin, &w.event, json!({"name": "Bo", "email": "bo@example.org", "is_adult": true})).await;
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&bo))).await.status(), 201);
    assert_eq!(names(&export(&app, w.acme_admin(), "").await.1), vec!["Ann", "Bo"]);
    for p in [&ann, &bo] {
        let res = app
            .post(
                &w.admin,
                &format!("/api/v1/events/{}/attendees/{}/withdrawals", w.event, p["id"].as_str().unwrap()),
                &json!({"all_partners": true}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    assert!(names(&export(&app, w.acme_admin(), "").await.1).is_empty(), "withdrawal beats opt-in and scan");
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{}/withdrawals", w.event, ann["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 422);
}

async fn partner_b_never_receives_partner_a_scan_only_leads(app: TestApp) {
    let w = world(&app).await;
    let scanned =
        app.register(&w.admin, &w.event, json!({"name": "Scanned", "email": "s@example.org", "is_adult": true})).await;
    let shared = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Shared", "email": "all@example.org", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    app.register(
        &w.admin,
        &w.event,
        json!({"name": "Acme only", "email": "acme@example.org", "is_adult": true, "share_with_partners": [w.acme]}),
    )
    .await;
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&scanned))).await.status(), 201);
    assert_eq!(app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&shared))).await.status(), 201);
    let (_, globex_admin) = partner_user(&app, &w.admin, &w.event, &w.globex, "partner_admin").await;
    assert_eq!(names(&export(&app, &globex_admin, "").await.1), vec!["Shared"]);
    let (_, acme_csv) = export(&app, w.acme_admin(), "").await;
    assert_eq!(names(&acme_csv), vec!["Acme only", "Scanned", "Shared"]);
    let basis: std::collections::BTreeMap<String, String> =
        parse(&acme_csv).into_iter().skip(1).map(|r| (r[0].to_string(), r[5].to_string())).collect();
    assert_eq!(basis["Acme only"], "opt_in");
    assert_eq!(basis["Scanned"], "scan");
    assert_eq!(basis["Shared"], "opt_in+scan");
}

async fn every_exported_row_is_in_the_ledger_with_count_and_digest(app: TestApp) {
    let w = world(&app).await;
    for i in 0..25 {
        app.register(&w.admin, &w.event, json!({"name": format!("P{i:02}"), "email": format!("p{i}@example.org"), "is_adult": true, "share_with_all_partners": true}))
            .await;
    }
    let (headers, bytes) = export(&app, w.acme_admin(), "").await;
    let export_id = headers.get("x-export-id").unwrap().to_str().unwrap().to_string();
    assert_eq!(names(&bytes).len(), 25);
    // The record is completed right after the last byte; give the writer a moment.
    let mut record = None;
    for _ in 0..50 {
        let db = app.db();
        let mut conn = db.get().unwrap();
        use badgegate::db::schema::exports;
        use diesel::prelude::*;
        let row: (Option<i64>, Option<String>) =
            exports::table.find(&export_id).select((exports::row_count, exports::sha256)).first(&mut *conn).unwrap();
        if row.0.is_some() {
            record = Some(row);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (rows, digest) = record.expect("export record completed");
    assert_eq!(rows, Some(25));
    assert_eq!(digest.unwrap(), badgegate::auth::secrets::sha256_hex(&bytes));
    let ledger: Value = app
        .get(&w.admin, &format!("/api/v1/events/{}/disclosures?partner_id={}&per_page=100", w.event, w.acme))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["total"], 25);
    let items = ledger["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|d| d["channel"] == "export" && d["export_id"] == export_id.as_str() && d["basis"] == "opt_in")
    );
    assert_eq!(items[0]["fields"], json!(["name", "company", "address", "phone", "email"]));
    assert_eq!(count_rows(&app, "disclosures"), 25);
}

async fn switched_off_fields_are_never_released(app: TestApp) {
    let w = world(&app).await;
    let res = app
        .patch(&w.admin, &format!("/api/v1/events/{}", w.event), &json!({"released_fields": ["email", "name"]}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["released_fields"], json!(["name", "email"]));
    let ann = app
        .register(&w.admin, &w.event, json!({"name": "Ann", "email": "ann@example.org", "phone": "555 1234", "company": "Initech", "is_adult": true, "share_with_all_partners": true}))
        .await;
    let (_, bytes) = export(&app, w.acme_admin(), "").await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("\"name\",\"email\",\"basis\""));
    assert!(!text.contains("555 1234") && !text.contains("Initech"));
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let card: Value = app.post(&scanner, "/api/v1/scans", &scan_body(&payload(&ann))).await.json().await.unwrap();
    assert_eq!(card["lead"], json!({"name": "Ann", "company": null}));
    // A scanner reads the lead as the card (name, company) cut by the event's switch.
    let lead: Value = app.get(&scanner, "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(lead["items"][0]["contact"], json!({"name": "Ann"}));
    let lead: Value = app.get(w.acme_admin(), "/api/v1/leads").await.json().await.unwrap();
    assert_eq!(lead["items"][0]["contact"], json!({"name": "Ann", "email": "ann@example.org"}));
    let ledger: Value =
        app.get(&w.admin, &format!("/api/v1/events/{}/disclosures", w.event)).await.json().await.unwrap();
    for d in ledger["items"].as_array().unwrap() {
        let fields: Vec<&str> = d["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert!(fields.iter().all(|f| *f == "name" || *f == "email"), "{fields:?}");
    }
}

async fn staff_query_the_ledger_by_participant_and_partner_window(app: TestApp) {
    let w = world(&app).await;
    let ann = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Ann", "email": "ann@example.org", "is_adult": true, "share_with_all_partners": true}),
        )
        .await;
    let ann_id = ann["id"].as_str().unwrap();
    let t0 = crate::common::now_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    export(&app, w.acme_admin(), "").await;
    let (_, globex_admin) = partner_user(&app, &w.admin, &w.event, &w.globex, "partner_admin").await;
    export(&app, &globex_admin, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let t1 = crate::common::now_rfc3339();

    let by_person: Value = app
        .get(&w.admin, &format!("/api/v1/events/{}/disclosures?attendee_id={ann_id}", w.event))
        .await
        .json()
        .await
        .unwrap();
    let mut partners: Vec<&str> =
        by_person["items"].as_array().unwrap().iter().map(|d| d["partner_name"].as_str().unwrap()).collect();
    partners.sort();
    assert_eq!(partners, vec!["Acme", "Globex"]);

    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let window =
        format!("/api/v1/events/{}/disclosures?partner_id={}&from={}&to={}", w.event, w.globex, enc(&t0), enc(&t1));
    let in_window: Value = app.get(&w.admin, &window).await.json().await.unwrap();
    assert_eq!(in_window["total"], 1);
    let later = format!("/api/v1/events/{}/disclosures?partner_id={}&from={}", w.event, w.globex, enc(&t1));
    let none: Value = app.get(&w.admin, &later).await.json().await.unwrap();
    assert_eq!(none["total"], 0);

    let csv =
        app.get(&w.admin, &format!("/api/v1/events/{}/disclosures?attendee_id={ann_id}&format=csv", w.event)).await;
    assert_eq!(csv.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
    let rows = parse(&csv.bytes().await.unwrap());
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][0], "occurred_at");

    // Only staff admins read the ledger.
    assert_eq!(app.get(w.acme_admin(), &format!("/api/v1/events/{}/disclosures", w.event)).await.status(), 403);
    let res = app.get(&w.admin, &format!("/api/v1/events/{}/disclosures?from=yesterday", w.event)).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "from");
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The workbook's one sheet as calamine reads it, and whether any cell holds a formula.
fn open_xlsx(bytes: &[u8]) -> (Vec<Vec<calamine::Data>>, bool) {
    use calamine::{Reader, Xlsx, open_workbook_from_rs};
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(book.sheet_names(), vec!["Leads".to_string()]);
    let range = book.worksheet_range("Leads").unwrap();
    assert_eq!(range.start(), Some((0, 0)));
    let rows = range.rows().map(|r| r.to_vec()).collect();
    let formulas = book.worksheet_formula("Leads").unwrap();
    (rows, formulas.used_cells().any(|(_, _, f)| !f.is_empty()))
}

async fn export_xlsx(app: &TestApp, token: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let res = app.get(token, "/api/v1/leads/export.xlsx").await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    (headers, res.bytes().await.unwrap().to_vec())
}

/// The export record, once completed.
async fn export_record(app: &TestApp, export_id: &str) -> (Option<i64>, Option<String>) {
    use badgegate::db::schema::exports;
    use diesel::prelude::*;
    for _ in 0..50 {
        let db = app.db();
        let mut conn = db.get().unwrap();
        let row: (Option<i64>, Option<String>) =
            exports::table.find(export_id).select((exports::row_count, exports::sha256)).first(&mut *conn).unwrap();
        if row.0.is_some() {
            return row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("export record {export_id} never completed");
}

async fn the_xlsx_export_matches_the_csv_cell_by_cell_as_text(app: TestApp) {
    use calamine::Data;
    let w = world(&app).await;
    let people = [
        ("Zoë Ñuñez", "Acme, Inc.\nResearch Labs", "zoe@example.org", "+49 30 123"),
        ("=1+1", "@SUM(A1)", "evil@example.org", "-1"),
        ("山田太郎", "=HYPERLINK(\"http://evil\")", "taro@example.jp", "0042"),
        ("Wendy Withdrawn", "Gone Ltd", "wendy@example.org", "+1 555 0100"),
    ];
    let mut registered = Vec::new();
    for (name, company, email, phone) in people {
        registered.push(
            app.register(
                &w.admin,
                &w.event,
                json!({"name": name, "company": company, "email": email, "phone": phone,
                "address": "1 Main St\nSpringfield", "is_adult": true, "share_with_all_partners": true}),
            )
            .await,
        );
    }
    // A scanned lead fills the lead columns: times, scanner, notes, rating.
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    let mut scan = scan_body(&payload(&registered[1]));
    scan["notes"] = json!("+CMD|' /C calc'!A0");
    scan["rating"] = json!(3);
    let res = app.post(&scanner, "/api/v1/scans", &scan).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let wendy = registered[3]["id"].as_str().unwrap();
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees/{wendy}/withdrawals", w.event),
            &json!({"all_partners": true}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let (_, csv_bytes) = export(&app, w.acme_admin(), "").await;
    let csv_rows = parse(&csv_bytes);
    let (headers, bytes) = export_xlsx(&app, w.acme_admin()).await;
    assert_eq!(headers.get("content-type").unwrap(), XLSX);
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let disposition = headers.get("content-disposition").unwrap().to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"leads-") && disposition.ends_with(".xlsx\""));
    let event: Value = app.get(&w.admin, &format!("/api/v1/events/{}", w.event)).await.json().await.unwrap();
    let slug = event["slug"].as_str().unwrap();
    assert!(disposition.starts_with(&format!("attachment; filename=\"leads-{slug}-")), "{disposition}");
    let export_id = headers.get("x-export-id").unwrap().to_str().unwrap().to_string();

    let (rows, has_formulas) = open_xlsx(&bytes);
    assert!(!has_formulas, "no cell of the workbook is a formula");
    assert_eq!(rows.len(), 4, "header and three participants; the withdrawn one is absent");
    assert_eq!(rows.len(), csv_rows.len());
    let text = |cell: &Data| match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("every cell is text, found {other:?}"),
    };
    // Same header, same rows, same order: each cell is the CSV's, less the apostrophe
    // the CSV needs and a text cell does not.
    for (xlsx_row, csv_row) in rows.iter().zip(&csv_rows) {
        assert_eq!(xlsx_row.len(), csv_row.len());
        for (cell, csv_cell) in xlsx_row.iter().zip(csv_row.iter()) {
            assert_eq!(badgegate::csv_cells::neutralise(&text(cell)), csv_cell, "{xlsx_row:?}");
        }
    }
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(header[..6], ["name", "company", "address", "phone", "email", "basis"]);
    let row = |email: &str| rows.iter().find(|r| r[4] == Data::String(email.into())).unwrap().clone();
    let evil = row("evil@example.org");
    assert_eq!(evil[0], Data::String("=1+1".into()), "stored as the string it is, not run");
    assert_eq!(evil[1], Data::String("@SUM(A1)".into()));
    assert_eq!(evil[3], Data::String("-1".into()));
    assert_eq!(evil[5], Data::String("opt_in+scan".into()));
    // The note is a line `time author: text`, so it can never start a formula.
    assert!(text(&evil[8]).ends_with(": +CMD|' /C calc'!A0"), "{:?}", evil[8]);
    assert_eq!(evil[9], Data::String("3".into()), "a rating is text too");
    assert_eq!(row("taro@example.jp")[3], Data::String("0042".into()), "leading zeros kept");
    assert_eq!(row("zoe@example.org")[1], Data::String("Acme, Inc.\nResearch Labs".into()));
    assert!(!rows.iter().flatten().any(|c| text(c).contains("Wendy")));

    let (count, digest) = export_record(&app, &export_id).await;
    assert_eq!(count, Some(3));
    assert_eq!(digest.unwrap(), badgegate::auth::secrets::sha256_hex(&bytes));
    let ledger: Value = app
        .get(&w.admin, &format!("/api/v1/events/{}/disclosures?partner_id={}&per_page=100", w.event, w.acme))
        .await
        .json()
        .await
        .unwrap();
    let mine: Vec<&Value> =
        ledger["items"].as_array().unwrap().iter().filter(|d| d["export_id"] == export_id.as_str()).collect();
    assert_eq!(mine.len(), 3, "one ledger row per exported participant");
    assert!(mine.iter().all(|d| d["channel"] == "export"));
    let mut ids: Vec<&str> = mine.iter().map(|d| d["attendee_id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(!ids.contains(&wendy));
}

async fn the_xlsx_export_is_refused_to_scanners_and_suspended_partners(app: TestApp) {
    let w = world(&app).await;
    let (_, scanner) = partner_user(&app, &w.admin, &w.event, &w.acme, "scanner").await;
    assert_eq!(app.get(&scanner, "/api/v1/leads/export.xlsx").await.status(), 403);
    // An empty export is still a workbook: the header alone.
    let (_, bytes) = export_xlsx(&app, w.acme_admin()).await;
    assert_eq!(open_xlsx(&bytes).0.len(), 1);
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/partners/{}/suspension", w.event, w.acme),
            &json!({"suspended": true}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app.get(w.acme_admin(), "/api/v1/leads/export.xlsx").await;
    assert_eq!(res.status(), 403);
    assert_eq!(problem(res).await["reason"], "partner_suspended");
}

/// Pages are released ahead of the page being sent (one on SQLite, up to three on
/// PostgreSQL, two at once): a client that goes away halfway leaves the ledger with every
/// row it may have received, and at most three pages that it did not.
async fn an_export_left_halfway_is_ledgered_for_every_row_sent_and_at_most_three_pages_more(app: TestApp) {
    let w = world(&app).await;
    let rows = 40_000;
    let mut csv = String::from("name,email,is_adult,share_with_all_partners\n");
    for i in 0..rows {
        csv.push_str(&format!("Guest {i},guest{i}@example.org,true,true\n"));
    }
    let res = app.import_csv(&w.admin, &w.event, "?send_confirmation=false", csv).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let mut res = app.get(w.acme_admin(), "/api/v1/leads/export.csv").await;
    assert_eq!(res.status(), 200);
    let export_id = res.headers().get("x-export-id").unwrap().to_str().unwrap().to_string();
    let mut read = 0;
    while read < 64 * 1024 {
        read += res.chunk().await.unwrap().expect("the export ended before 64 KiB").len();
    }
    drop(res);

    let (row_count, _) = export_record(&app, &export_id).await;
    let sent = row_count.unwrap();
    assert!(sent < i64::try_from(rows).unwrap(), "the export ended before the client left: {sent} rows");
    let ledgered = count_rows(&app, &format!("disclosures WHERE export_id = '{export_id}'"));
    assert!(ledgered >= sent, "{ledgered} ledgered, {sent} handed to the connection");
    assert!(ledgered <= sent + 3000, "{ledgered} ledgered, {sent} handed to the connection");
    assert_eq!(ledgered % 1000, 0, "whole pages: {ledgered}");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "export left after {read} bytes: {sent} of {rows} rows handed to the connection, {ledgered} ledgered\n"
        )
        .as_bytes(),
    );

    // Read to the end, the 40 pages (released side by side on PostgreSQL) hold every
    // participant once, and the ledger exactly what was sent.
    let (headers, bytes) = export(&app, w.acme_admin(), "").await;
    let export_id = headers.get("x-export-id").unwrap().to_str().unwrap().to_string();
    let all = names(&bytes);
    let mut distinct = all.clone();
    distinct.dedup();
    assert_eq!((all.len(), distinct.len()), (rows, rows));
    assert_eq!(export_record(&app, &export_id).await.0, Some(i64::try_from(rows).unwrap()));
    assert_eq!(count_rows(&app, &format!("disclosures WHERE export_id = '{export_id}'")), i64::try_from(rows).unwrap());
}
