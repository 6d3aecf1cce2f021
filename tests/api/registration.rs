//! Step 2: events, partners, registration with consent capture, import, badges, the form.

use crate::common::{TestApp, problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    events_and_partners_are_created_and_listed,
    registration_records_exactly_the_opt_ins_given,
    invalid_registrations_name_the_field_and_store_nothing,
    under_18_registration_leaves_no_row,
    duplicate_email_in_one_event_is_a_conflict,
    attendees_are_searched_and_paginated,
    import_is_all_or_nothing,
    import_takes_files_as_excel_and_libreoffice_save_them,
    badge_png_decodes_to_an_opaque_payload,
    reissue_changes_the_badge_and_the_database_holds_no_codes,
    the_public_form_registers_with_csrf_and_keeps_input_on_error,
);

async fn count(app: &TestApp, token: &str, event: &str) -> i64 {
    let body: Value = app.get(token, &format!("/api/v1/events/{event}/attendees")).await.json().await.unwrap();
    body["total"].as_i64().unwrap()
}

async fn events_and_partners_are_created_and_listed(app: TestApp) {
    let admin = app.admin().await;
    let res = app
        .post(
            &admin,
            "/api/v1/events",
            &json!({"name": "RustConf Berlin", "starts_at": "2030-05-01T09:00:00+02:00",
            "ends_at": "2030-05-03T18:00:00+02:00", "venue": "Hall 4", "slug": "rustconf-berlin"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ev: Value = res.json().await.unwrap();
    assert_eq!(ev["slug"], "rustconf-berlin");
    assert_eq!(ev["privacy_notice_version"], "1");
    let id = ev["id"].as_str().unwrap();
    let again = app
        .post(
            &admin,
            "/api/v1/events",
            &json!({"name": "Other", "starts_at": "2030-05-01T09:00:00Z",
            "ends_at": "2030-05-03T18:00:00Z", "slug": "rustconf-berlin"}),
        )
        .await;
    assert_eq!(again.status(), 409);
    let list: Value = app.get(&admin, "/api/v1/events").await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    let one: Value = app.get(&admin, &format!("/api/v1/events/{id}")).await.json().await.unwrap();
    assert_eq!(one["venue"], "Hall 4");
    let bad = app
        .post(
            &admin,
            "/api/v1/events",
            &json!({"name": "Backwards", "starts_at": "2030-05-03T09:00:00Z", "ends_at": "2030-05-01T09:00:00Z"}),
        )
        .await;
    assert_eq!(problem(bad).await["errors"][0]["field"], "ends_at");

    let p = app.partner(&admin, id, "Acme").await;
    let partners: Value = app.get(&admin, &format!("/api/v1/events/{id}/partners")).await.json().await.unwrap();
    assert_eq!(partners["items"][0]["id"], p.as_str());
    assert_eq!(partners["items"][0]["name"], "Acme");
    assert_eq!(app.get(&admin, "/api/v1/events/nope").await.status(), 404);
}

async fn registration_records_exactly_the_opt_ins_given(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let none = app.register(&admin, &event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    assert!(none["privacy_url"].as_str().unwrap().contains("/me/"));
    assert!(none["badge"]["png_url"].as_str().unwrap().ends_with("/badge.png"));
    let detail: Value = app
        .get(&admin, &format!("/api/v1/events/{event}/attendees/{}", none["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["opt_ins"], json!([]), "opt-ins are off unless given");
    assert_eq!(detail["marketing_emails"], false);

    let both = app
        .register(
            &admin,
            &event,
            json!({"name": "Bo", "email": "bo@example.org", "is_adult": true,
            "share_with_all_partners": true, "share_with_partners": [acme], "marketing_emails": true}),
        )
        .await;
    let detail: Value = app
        .get(&admin, &format!("/api/v1/events/{event}/attendees/{}", both["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let opt_ins = detail["opt_ins"].as_array().unwrap();
    assert_eq!(opt_ins.len(), 2);
    assert!(opt_ins.iter().any(|o| o["scope"] == "all_partners" && o["partner_id"].is_null()));
    assert!(opt_ins.iter().any(|o| o["scope"] == "partner" && o["partner_id"] == acme.as_str()));
    assert!(
        opt_ins.iter().all(|o| o["source"] == "staff_api" && o["notice_version"] == "1" && o["granted_at"].is_string())
    );
}

async fn invalid_registrations_name_the_field_and_store_nothing(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let path = format!("/api/v1/events/{event}/attendees");
    let cases = [
        (json!({"name": "A", "email": "not-an-email", "is_adult": true}), "email"),
        (json!({"name": "A\u{0007}", "email": "a@example.org", "is_adult": true}), "name"),
        (json!({"name": "A", "email": "a@example.org", "is_adult": true, "nickname": "x"}), "nickname"),
        (
            json!({"name": "A", "email": "a@example.org", "is_adult": true, "share_with_partners": ["nope"]}),
            "share_with_partners[0]",
        ),
        (json!({"name": "x".repeat(201), "email": "a@example.org", "is_adult": true}), "name"),
        (json!({"name": "A", "email": "a@example.org", "is_adult": true, "phone": "call me"}), "phone"),
    ];
    for (body, field) in cases {
        let res = app.post(&admin, &path, &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let p = problem(res).await;
        assert!(p["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{p}");
    }
    assert_eq!(count(&app, &admin, &event).await, 0);
}

async fn under_18_registration_leaves_no_row(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let path = format!("/api/v1/events/{event}/attendees");
    for body in [
        json!({"name": "Kid", "email": "kid@example.org", "is_adult": false, "share_with_all_partners": true}),
        json!({"name": "Kid", "email": "kid@example.org"}),
    ] {
        let res = app.post(&admin, &path, &body).await;
        assert_eq!(res.status(), 422);
        assert_eq!(problem(res).await["errors"][0]["field"], "is_adult");
    }
    assert_eq!(count(&app, &admin, &event).await, 0);
    // Nothing at all: no attendee, badge or consent row.
    let db = app.db();
    let mut conn = db.get().unwrap();
    use badgegate::db::schema::{attendees, badges, consents};
    use diesel::prelude::*;
    assert_eq!(attendees::table.count().get_result::<i64>(&mut *conn).unwrap(), 0);
    assert_eq!(badges::table.count().get_result::<i64>(&mut *conn).unwrap(), 0);
    assert_eq!(consents::table.count().get_result::<i64>(&mut *conn).unwrap(), 0);
}

async fn duplicate_email_in_one_event_is_a_conflict(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let other = app.event(&admin).await;
    app.register(&admin, &event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let res = app
        .post(
            &admin,
            &format!("/api/v1/events/{event}/attendees"),
            &json!({"name": "Ann 2", "email": "ANN@example.org", "is_adult": true}),
        )
        .await;
    assert_eq!(res.status(), 409);
    problem(res).await;
    app.register(&admin, &other, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
}

async fn attendees_are_searched_and_paginated(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    for (name, company) in [
        ("Ada Lovelace", "Analytical"),
        ("Grace Hopper", "Navy"),
        ("Alan Turing", "Bletchley"),
        ("Zoë 100% Real", "Ü_Corp"),
    ] {
        let email = format!("{}@example.org", name.split(' ').next().unwrap().to_lowercase());
        app.register(&admin, &event, json!({"name": name, "email": email, "company": company, "is_adult": true})).await;
    }
    let q = |q: &str| format!("/api/v1/events/{event}/attendees?q={}", urlencode(q));
    let body: Value = app.get(&admin, &q("navy")).await.json().await.unwrap();
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["name"], "Grace Hopper");
    let body: Value = app.get(&admin, &q("ALAN@")).await.json().await.unwrap();
    assert_eq!(body["total"], 1);
    let body: Value = app.get(&admin, &q("100%")).await.json().await.unwrap();
    assert_eq!(body["total"], 1, "% is matched literally");
    let body: Value =
        app.get(&admin, &format!("/api/v1/events/{event}/attendees?per_page=3&page=2")).await.json().await.unwrap();
    assert_eq!(body["total"], 4);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let res = app.get(&admin, &format!("/api/v1/events/{event}/attendees?per_page=0")).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "per_page");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn import_is_all_or_nothing(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let globex = app.partner(&admin, &event, "Globex").await;
    let good = format!(
        "name,email,company,is_adult,share_with_all_partners,share_with_partners\r\n\
         \"Doe, Jane\",jane@example.org,\"Acme\nLabs\",true,false,{acme};{globex}\r\n\
         John,john@example.org,,true,true,\r\n"
    );
    let res = app.import_csv(&admin, &event, "", good).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["imported"], 2);
    let list: Value = app.get(&admin, &format!("/api/v1/events/{event}/attendees?q=jane")).await.json().await.unwrap();
    assert_eq!(list["items"][0]["name"], "Doe, Jane");
    assert_eq!(list["items"][0]["company"], "Acme\nLabs");
    let jane = list["items"][0]["id"].as_str().unwrap();
    let detail: Value =
        app.get(&admin, &format!("/api/v1/events/{event}/attendees/{jane}")).await.json().await.unwrap();
    assert_eq!(detail["opt_ins"].as_array().unwrap().len(), 2);
    assert!(detail["opt_ins"].as_array().unwrap().iter().all(|o| o["source"] == "import"));

    let bad = "name,email,is_adult\nOk,ok@example.org,true\nKid,kid@example.org,false\nBroken,not-an-email,true\nDup,john@example.org,true\n".to_string();
    let res = app.import_csv(&admin, &event, "", bad).await;
    assert_eq!(res.status(), 422);
    let p = problem(res).await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"rows[2].is_adult"), "{fields:?}");
    assert!(fields.contains(&"rows[3].email"), "{fields:?}");
    assert_eq!(count(&app, &admin, &event).await, 2, "a failed import leaves the count unchanged");

    let dup = "name,email,is_adult\nOk,ok@example.org,true\nDup,john@example.org,true\n".to_string();
    let res = app.import_csv(&admin, &event, "", dup).await;
    assert_eq!(res.status(), 422);
    assert_eq!(problem(res).await["errors"][0]["field"], "rows[2].email");
    assert_eq!(count(&app, &admin, &event).await, 2);

    let res = app.import_csv(&admin, &event, "", "name,email,is_adult,shoe_size\n").await;
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .post(format!("{}/api/v1/events/{event}/attendees/import", app.url))
        .bearer_auth(&admin)
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Excel's "CSV UTF-8" in a locale with a decimal comma: a byte order mark, `;` between
/// fields, `TRUE`/`FALSE`, CRLF, and rows of bare separators where cells were once touched.
async fn import_takes_files_as_excel_and_libreoffice_save_them(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let acme = app.partner(&admin, &event, "Acme").await;
    let globex = app.partner(&admin, &event, "Globex").await;
    let excel = format!(
        "\u{feff}Name;Email;Company;Phone;is_adult;share_with_all_partners;share_with_partners;marketing_emails\r\n\
         \"M\u{fc}ller, J\u{f6}rg\";joerg@example.de;\"Acme; GmbH\";+49 30 123;TRUE;FALSE;\"{acme};{globex}\";Yes\r\n\
         ;;;;;;;\r\n\
         Ana;ana@example.es;;;True;1;;no\r\n\
         Bea;bea@example.es;;;1;false;{acme},{globex};0\r\n"
    );
    let res = app.import_csv(&admin, &event, "", excel).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(res.json::<Value>().await.unwrap()["imported"], 3, "the row of bare separators is skipped");
    let detail = |q: &'static str| {
        let (app, admin, event) = (&app, &admin, &event);
        async move {
            let list: Value =
                app.get(admin, &format!("/api/v1/events/{event}/attendees?q={q}")).await.json().await.unwrap();
            let id = list["items"][0]["id"].as_str().unwrap().to_string();
            app.get(admin, &format!("/api/v1/events/{event}/attendees/{id}")).await.json::<Value>().await.unwrap()
        }
    };
    let joerg = detail("joerg").await;
    assert_eq!(joerg["name"], "Müller, Jörg");
    assert_eq!(joerg["company"], "Acme; GmbH");
    assert_eq!(joerg["phone"], "+49 30 123");
    assert_eq!(joerg["marketing_emails"], true);
    let partners = |d: &Value| {
        let mut p: Vec<String> = d["opt_ins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["partner_id"].as_str().unwrap_or("all").to_string())
            .collect();
        p.sort();
        p
    };
    let mut both = vec![acme.clone(), globex.clone()];
    both.sort();
    assert_eq!(partners(&joerg), both);
    let ana = detail("ana").await;
    assert_eq!(ana["marketing_emails"], false);
    assert_eq!(partners(&ana), vec!["all"]);
    assert_eq!(partners(&detail("bea").await), both, "ids separated by `,` in a `;` file");

    // Row errors still name the row (blank rows count) and the column, and the words allowed.
    let bad = "\u{feff}name;email;is_adult\r\nCy;cy@example.org;TRUE\r\n;;\r\nDi;di@example.org;WAHR\r\n";
    let res = app.import_csv(&admin, &event, "", bad).await;
    assert_eq!(res.status(), 422);
    let p = problem(res).await;
    assert_eq!(p["errors"][0]["field"], "rows[3].is_adult", "{p}");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("yes/no"), "{p}");
    assert_eq!(p["errors"].as_array().unwrap().len(), 1);
    // Excel's plain "CSV" is Windows-1252, not UTF-8: say how to save it.
    let mut cp1252 = b"name,email,is_adult\r\nJ".to_vec();
    cp1252.extend([0xF6]);
    cp1252.extend(b"rg,j2@example.de,true\r\n");
    let res = app.import_csv(&admin, &event, "", cp1252).await;
    let p = problem(res).await;
    assert_eq!(p["errors"][0]["field"], "rows[1]", "{p}");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("CSV UTF-8"), "{p}");
    assert_eq!(count(&app, &admin, &event).await, 3);
}

fn decode_qr(png: &[u8]) -> String {
    let (ecc_level, content) = crate::common::decode_qr_png(png);
    assert!(ecc_level <= 1, "error correction M or better");
    content
}

async fn badge_png(app: &TestApp, token: &str, url: &str) -> Vec<u8> {
    let res = app.client.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "image/png");
    res.bytes().await.unwrap().to_vec()
}

async fn badge_png_decodes_to_an_opaque_payload(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let reg = app
        .register(
            &admin,
            &event,
            json!({"name": "Zoë Ñuñez", "email": "zoe@example.org", "company": "Initech",
            "phone": "+49 30 1234567", "is_adult": true}),
        )
        .await;
    let payload = decode_qr(&badge_png(&app, &admin, reg["badge"]["png_url"].as_str().unwrap()).await);
    assert!(payload.starts_with("BG1-"));
    let code = &payload[4..];
    assert_eq!(code.len(), 26);
    assert!(code.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    for personal in ["Zo", "zoe", "Initech", "1234567", reg["id"].as_str().unwrap(), &event] {
        assert!(!payload.contains(personal), "payload leaks {personal}");
    }
    assert_eq!(reg["badge"]["fallback_code"].as_str().unwrap().replace('-', ""), code);

    let svg = app.client.get(reg["badge"]["svg_url"].as_str().unwrap()).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(svg.headers().get("content-type").unwrap(), "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    let sheet = app.get(&admin, &format!("/api/v1/events/{event}/badges/sheet")).await;
    let html = sheet.text().await.unwrap();
    assert!(html.contains("Zoë Ñuñez") && html.contains(reg["badge"]["fallback_code"].as_str().unwrap()));
}

async fn reissue_changes_the_badge_and_the_database_holds_no_codes(app: TestApp) {
    let admin = app.admin().await;
    let event = app.event(&admin).await;
    let reg = app.register(&admin, &event, json!({"name": "Ann", "email": "ann@example.org", "is_adult": true})).await;
    let old = decode_qr(&badge_png(&app, &admin, reg["badge"]["png_url"].as_str().unwrap()).await);
    let id = reg["id"].as_str().unwrap();
    let res = app.post(&admin, &format!("/api/v1/events/{event}/attendees/{id}/badge/reissue"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let links: Value = res.json().await.unwrap();
    let new = decode_qr(&badge_png(&app, &admin, links["png_url"].as_str().unwrap()).await);
    assert_ne!(old, new);
    // Resolving the old code finds only a revoked badge.
    let db = app.db();
    let mut conn = db.get().unwrap();
    let old_code = badgegate::badges::BadgeCode::readings(&old);
    assert_eq!(old_code.len(), 1, "a QR payload is read as it is");
    let old_badge = badgegate::badges::resolve(&mut conn, &old_code[0]).unwrap().unwrap();
    assert!(old_badge.revoked_at.is_some());
    if app.backend == crate::common::Backend::Sqlite {
        drop(conn);
        let bytes = std::fs::read(app.data_dir.path().join("test.db")).unwrap();
        let wal = std::fs::read(app.data_dir.path().join("test.db-wal")).unwrap_or_default();
        for code in [&old[4..], &new[4..]] {
            let hay = [bytes.as_slice(), wal.as_slice()].concat();
            assert!(!hay.windows(code.len()).any(|w| w == code.as_bytes()), "database file holds a badge code");
        }
    }
}

async fn the_public_form_registers_with_csrf_and_keeps_input_on_error(app: TestApp) {
    let admin = app.admin().await;
    let res = app
        .post(&admin, "/api/v1/events", &json!({"name": "Form Fair", "slug": "form-fair", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}))
        .await;
    let event: Value = res.json().await.unwrap();
    let event_id = event["id"].as_str().unwrap();
    let acme = app.partner(&admin, event_id, "Acme").await;
    let form_url = format!("{}/e/form-fair/register", app.url);
    let res = app.client.get(&form_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(
            "Share my contact details (name, company, address, phone, email) with all partners of this event"
        )
    );
    assert!(html.contains("Share my contact details with Acme"));
    assert!(!html.contains("checked"), "no opt-in is pre-ticked");
    assert!(html.contains("name=\"viewport\""));
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    let form = |fields: &[(&str, &str)]| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            s.append_pair(k, v);
        }
        s.finish()
    };
    // Without the cookie: refused, nothing stored.
    let res = app
        .client
        .post(&form_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &csrf), ("name", "Eve"), ("email", "eve@example.org"), ("is_adult", "true")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(count(&app, &admin, event_id).await, 0);

    // Missing 18+ confirmation: re-rendered with the message and what was typed.
    let res = app
        .client
        .post(&form_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie)
        .body(form(&[
            ("csrf", &csrf),
            ("name", "Kim <Lee>"),
            ("email", "kim@example.org"),
            ("share_with_partners", &acme),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let cookie2 = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"is_adult-error\""));
    assert!(html.contains("value=\"Kim &lt;Lee&gt;\""));
    assert!(html.contains(&format!("value=\"{acme}\" checked")));
    assert_eq!(count(&app, &admin, event_id).await, 0);
    let csrf2 = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    let res = app
        .client
        .post(&form_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie2)
        .body(form(&[
            ("csrf", &csrf2),
            ("name", "Kim Lee"),
            ("email", "kim@example.org"),
            ("is_adult", "true"),
            ("share_with_partners", &acme),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    // Badge and link arrive by mail only (tests/api/mail.rs): the page tells no one more.
    assert!(html.contains("Check your mail"));
    assert!(!html.contains("<svg") && !html.contains("/me/"));
    let list: Value = app.get(&admin, &format!("/api/v1/events/{event_id}/attendees")).await.json().await.unwrap();
    let id = list["items"][0]["id"].as_str().unwrap();
    let detail: Value =
        app.get(&admin, &format!("/api/v1/events/{event_id}/attendees/{id}")).await.json().await.unwrap();
    assert_eq!(detail["opt_ins"][0]["source"], "web_form");
    assert_eq!(detail["opt_ins"][0]["partner_id"], acme.as_str());
    assert!(detail["opt_ins"][0]["confirmed_at"].is_null(), "a form opt-in waits for the address's confirmation");
}
