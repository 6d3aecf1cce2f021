//! Issue 15, device sessions: a scanner phone signs in once (password or enrolment QR
//! code), renews its 15-minute token with a single-use refresh token, and is cut off at
//! once when a refresh token is replayed, when an admin revokes it, or when its user is
//! disabled or signed out everywhere.

use badgegate::auth::Role;
use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, World, accept_invitation, invite, problem};
use crate::portal::Browser;

both_backends!(
    a_device_login_answers_a_refresh_token_and_each_refresh_rotates_it,
    a_replayed_refresh_token_ends_the_device_and_every_token_of_it,
    a_phone_that_signs_out_ends_its_device,
    of_two_concurrent_refreshes_with_one_token_exactly_one_wins,
    a_device_ends_with_the_event_and_its_scan_grace_period,
    partner_admins_and_staff_admins_list_and_revoke_devices,
    scanners_and_registrars_may_not_list_or_revoke_devices,
    disabling_a_user_or_ending_its_sessions_ends_its_devices,
    an_enrolment_code_signs_one_phone_in_once_within_ten_minutes,
    enrolment_codes_are_only_for_active_scanners_of_the_callers_partner,
    staff_accounts_and_bad_device_names_are_refused_at_device_login,
    the_portal_lists_revokes_and_enrols_devices,
);

/// A partner user with a known e-mail (to sign in with); answers (id, e-mail).
async fn user(app: &TestApp, w: &World, partner: &str, role: &str) -> (String, String) {
    let email = format!("{role}-{}@partner.example", uuid::Uuid::new_v4().simple());
    let id = invite(app, &w.admin, &w.event, partner, &email, role).await;
    accept_invitation(app, &email, PASSWORD).await;
    (id, email)
}

async fn device_login(app: &TestApp, email: &str, name: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({"email": email, "password": PASSWORD, "device": {"name": name}}))
        .send()
        .await
        .unwrap()
}

/// A signed-in phone: the login answer.
async fn phone(app: &TestApp, email: &str) -> Value {
    let res = device_login(app, email, "Booth phone").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/refresh", app.url))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

async fn enrol(app: &TestApp, code: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/enrol", app.url))
        .json(&json!({"code": code, "device": {"name": "Enrolled phone"}}))
        .send()
        .await
        .unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

async fn me_status(app: &TestApp, access_token: &str) -> StatusCode {
    app.get(access_token, "/api/v1/auth/me").await.status()
}

async fn devices_of(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let res = app.get(token, &format!("/api/v1/devices{query}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

fn find<'a>(items: &'a [Value], device_id: &str) -> Option<&'a Value> {
    items.iter().find(|d| d["id"] == device_id)
}

/// Runs one SQL statement on the test database (to move a time into the past).
fn sql(app: &TestApp, statement: &str) {
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(statement).execute(&mut *conn).unwrap();
}

fn ms_ago(minutes: i64) -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp() - minutes * 60) * 1000
}

async fn a_device_login_answers_a_refresh_token_and_each_refresh_rotates_it(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (scanner_id, email) = user(&app, &w, &w.acme, "scanner").await;

    // Without `device` the answer is what it always was.
    let plain: Value = app.login(&email, PASSWORD).await.json().await.unwrap();
    assert!(plain.get("refresh_token").is_none() && plain.get("device_id").is_none(), "{plain}");

    let first = phone(&app, &email).await;
    assert_eq!(s(&first, "token_type"), "Bearer");
    assert_eq!(first["expires_in"], 900);
    assert_eq!(s(&first, "role"), "scanner");
    let device_id = s(&first, "device_id").to_string();
    assert!(s(&first, "refresh_token").len() >= 43 + device_id.len());
    // The event ends tomorrow and keeps scans 72 hours longer.
    let expires =
        time::OffsetDateTime::parse(s(&first, "refresh_expires_at"), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let hours = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((94..=96).contains(&hours), "{hours} h");
    let me: Value = app.get(s(&first, "access_token"), "/api/v1/auth/me").await.json().await.unwrap();
    assert_eq!(s(&me, "id"), scanner_id);

    let res = refresh(&app, s(&first, "refresh_token")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let second: Value = res.json().await.unwrap();
    assert_eq!(s(&second, "device_id"), device_id);
    assert_eq!(s(&second, "role"), "scanner");
    assert_eq!(second["expires_in"], 900);
    assert_ne!(s(&second, "refresh_token"), s(&first, "refresh_token"));
    assert_ne!(s(&second, "access_token"), s(&first, "access_token"));
    assert_eq!(me_status(&app, s(&second, "access_token")).await, StatusCode::OK);

    let third: Value = refresh(&app, s(&second, "refresh_token")).await.json().await.unwrap();
    assert_eq!(s(&third, "device_id"), device_id);
    assert_eq!(me_status(&app, s(&third, "access_token")).await, StatusCode::OK);

    // Nonsense is the same 401 as a used token, as problem+json.
    for junk in ["", "nothing", "a.b", &format!("{device_id}.wrong-but-well-formed")] {
        let res = refresh(&app, junk).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{junk:?}");
        problem(res).await;
    }
}

async fn a_replayed_refresh_token_ends_the_device_and_every_token_of_it(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (_, email) = user(&app, &w, &w.acme, "scanner").await;
    let (_, admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let admin = app.token(&admin_email).await;
    let other_phone = phone(&app, &email).await;

    let first = phone(&app, &email).await;
    let stolen = s(&first, "refresh_token").to_string();
    let second: Value = refresh(&app, &stolen).await.json().await.unwrap();
    assert_eq!(me_status(&app, s(&second, "access_token")).await, StatusCode::OK);

    // The copy is presented again: 401, and the whole device session is over.
    let res = refresh(&app, &stolen).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    problem(res).await;
    assert_eq!(refresh(&app, s(&second, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, s(&second, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, s(&first, "access_token")).await, StatusCode::UNAUTHORIZED);

    // Only that device: the same user's other phone and the user's password login go on.
    assert_eq!(me_status(&app, s(&other_phone, "access_token")).await, StatusCode::OK);
    assert_eq!(refresh(&app, s(&other_phone, "refresh_token")).await.status(), StatusCode::OK);
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);

    let items = devices_of(&app, &admin, "").await;
    let dead = find(&items, s(&first, "device_id")).unwrap();
    assert_eq!(dead["state"], "revoked");
    assert_eq!(dead["revoked_reason"], "refresh_reuse");
    assert!(dead["revoked_at"].is_string());
    assert_eq!(find(&items, s(&other_phone, "device_id")).unwrap()["state"], "active");

    // Staff see the replay among the security actions.
    let actions: Value = app.get(&w.admin, "/api/v1/security/actions").await.json().await.unwrap();
    assert!(
        actions["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "device_refresh_reuse" && a["target"] == first["device_id"]),
        "{actions}"
    );
}

async fn sign_out(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/sign-out", app.url))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

/// The scanner's "Sign out" ends its device on the server: its tokens stop working and the
/// partner's device list shows it signed out on the phone, not active until the event ends.
async fn a_phone_that_signs_out_ends_its_device(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (_, email) = user(&app, &w, &w.acme, "scanner").await;
    let (_, admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let admin = app.token(&admin_email).await;
    let other_phone = phone(&app, &email).await;
    let p = phone(&app, &email).await;

    // Only its own current refresh token signs a phone out.
    assert_eq!(sign_out(&app, "not-a-token").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sign_out(&app, &format!("{}.forged", s(&p, "device_id"))).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, s(&p, "access_token")).await, StatusCode::OK);

    assert_eq!(sign_out(&app, s(&p, "refresh_token")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, s(&p, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, s(&p, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    // Sent again (the phone did not hear the answer): nothing more happens.
    assert_eq!(sign_out(&app, s(&p, "refresh_token")).await.status(), StatusCode::NO_CONTENT);

    let items = devices_of(&app, &admin, "").await;
    let gone = find(&items, s(&p, "device_id")).unwrap();
    assert_eq!(gone["state"], "signed_out", "{gone}");
    assert_eq!(gone["revoked_reason"], "signed_out_on_device");
    assert_eq!(find(&items, s(&other_phone, "device_id")).unwrap()["state"], "active");
    assert_eq!(me_status(&app, s(&other_phone, "access_token")).await, StatusCode::OK);
}

async fn of_two_concurrent_refreshes_with_one_token_exactly_one_wins(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (_, email) = user(&app, &w, &w.acme, "scanner").await;
    for _ in 0..3 {
        let p = phone(&app, &email).await;
        let token = s(&p, "refresh_token");
        let (a, b) = tokio::join!(refresh(&app, token), refresh(&app, token));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    }
}

async fn a_device_ends_with_the_event_and_its_scan_grace_period(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (_, email) = user(&app, &w, &w.acme, "scanner").await;
    let p = phone(&app, &email).await;
    let q = phone(&app, &email).await;

    // The device row's end passes: its access tokens stop at once.
    sql(&app, &format!("UPDATE devices SET expires_at = {} WHERE id = '{}'", ms_ago(1), s(&p, "device_id")));
    assert_eq!(me_status(&app, s(&p, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, s(&q, "access_token")).await, StatusCode::OK);

    // The event ended and its grace period is over: no refresh, no new device.
    sql(&app, &format!("UPDATE events SET ends_at = {}, scan_grace_hours = 0 WHERE id = '{}'", ms_ago(10), w.event));
    assert_eq!(refresh(&app, s(&q, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    let res = device_login(&app, &email, "Late phone").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "device");

    // A grace period that still runs keeps the device going.
    sql(&app, &format!("UPDATE events SET scan_grace_hours = 1 WHERE id = '{}'", w.event));
    let renewed = refresh(&app, s(&q, "refresh_token")).await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let renewed: Value = renewed.json().await.unwrap();
    let expires =
        time::OffsetDateTime::parse(s(&renewed, "refresh_expires_at"), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(expires < time::OffsetDateTime::now_utc() + time::Duration::hours(1));
}

async fn partner_admins_and_staff_admins_list_and_revoke_devices(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (scanner_id, email) = user(&app, &w, &w.acme, "scanner").await;
    let (_, acme_admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let (_, globex_admin_email) = user(&app, &w, &w.globex, "partner_admin").await;
    let (_, globex_scanner_email) = user(&app, &w, &w.globex, "scanner").await;
    let acme_admin = app.token(&acme_admin_email).await;
    let globex_admin = app.token(&globex_admin_email).await;
    let p = phone(&app, &email).await;
    let q = phone(&app, &email).await;
    let g = phone(&app, &globex_scanner_email).await;
    let (p_id, g_id) = (s(&p, "device_id"), s(&g, "device_id"));
    assert!(!s(&q, "device_id").is_empty());

    let items = devices_of(&app, &acme_admin, "").await;
    assert_eq!(items.len(), 2, "Acme sees its own two phones only");
    let listed = find(&items, p_id).unwrap();
    assert_eq!(s(listed, "user_id"), scanner_id);
    assert_eq!(s(listed, "user_email"), email);
    assert_eq!(s(listed, "name"), "Booth phone");
    assert_eq!(s(listed, "state"), "active");
    for key in ["created_at", "last_used_at", "expires_at"] {
        assert!(listed[key].is_string(), "{key}");
    }
    assert!(listed.get("revoked_at").is_none());
    assert!(find(&items, g_id).is_none());

    // Another partner's device does not exist for Globex.
    let res = app.post(&globex_admin, &format!("/api/v1/devices/{p_id}/revoke"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(me_status(&app, s(&p, "access_token")).await, StatusCode::OK);
    let res = app.post(&acme_admin, "/api/v1/devices/no-such-device/revoke", &json!({})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Acme's admin revokes one phone: its tokens die at once, the other phone goes on.
    let visitor = app
        .register(&w.admin, &w.event, json!({"name": "Vi Sitor", "email": "visitor@example.org", "is_adult": true}))
        .await;
    let res = app.post(&acme_admin, &format!("/api/v1/devices/{p_id}/revoke"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, s(&p, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, s(&p, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, s(&q, "access_token")).await, StatusCode::OK);
    // Single scans are confirmed in the scan writer's transaction, not by the request's
    // own read: the revoked phone's scan is refused there and leaves no row.
    let scan = crate::common::scan_body(&crate::common::payload(&visitor));
    let res = app.post(s(&p, "access_token"), "/api/v1/scans", &scan).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(crate::common::count_rows(&app, "scans"), 0);
    let res = app.post(s(&q, "access_token"), "/api/v1/scans", &scan).await;
    assert_eq!(res.status(), StatusCode::CREATED, "the other phone scans on");
    let res = app.post(&acme_admin, &format!("/api/v1/devices/{p_id}/revoke"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "revoking twice is no error");
    let listed = devices_of(&app, &acme_admin, "").await;
    let revoked = find(&listed, p_id).unwrap();
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(revoked["revoked_reason"], "revoked");
    assert!(revoked["revoked_at"].is_string());

    // A staff admin names the event, sees every partner's phones, and revokes any.
    let res = app.get(&w.admin, "/api/v1/devices").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "event_id");
    assert_eq!(app.get(&w.admin, "/api/v1/devices?event_id=nope").await.status(), StatusCode::NOT_FOUND);
    let all = devices_of(&app, &w.admin, &format!("?event_id={}", w.event)).await;
    assert_eq!(all.len(), 3);
    let res = app.post(&w.admin, &format!("/api/v1/devices/{g_id}/revoke"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(refresh(&app, s(&g, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, s(&g, "access_token")).await, StatusCode::UNAUTHORIZED);
    let actions: Value = app.get(&w.admin, "/api/v1/security/actions").await.json().await.unwrap();
    let revocations = actions["items"].as_array().unwrap().iter().filter(|a| a["action"] == "revoke_device").count();
    assert_eq!(revocations, 2, "{actions}");
}

async fn scanners_and_registrars_may_not_list_or_revoke_devices(app: TestApp) {
    let w = World::builder().with(crate::common::Who::Registrar).build(&app).await;
    let (_, email) = user(&app, &w, &w.acme, "scanner").await;
    let p = phone(&app, &email).await;
    let scanner = s(&p, "access_token");
    let registrar = w.token(crate::common::Who::Registrar);
    for token in [scanner, registrar] {
        assert_eq!(app.get(token, "/api/v1/devices").await.status(), StatusCode::FORBIDDEN);
        let res = app.post(token, &format!("/api/v1/devices/{}/revoke", s(&p, "device_id")), &json!({})).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(me_status(&app, scanner).await, StatusCode::OK);
    assert_eq!(app.get("", "/api/v1/devices").await.status(), StatusCode::UNAUTHORIZED);
}

async fn disabling_a_user_or_ending_its_sessions_ends_its_devices(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (_, acme_admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let acme_admin = app.token(&acme_admin_email).await;
    let users_path = format!("/api/v1/events/{}/partners/{}/users", w.event, w.acme);

    // A partner admin signs a scanner out everywhere.
    let (a_id, a_email) = user(&app, &w, &w.acme, "scanner").await;
    let a = phone(&app, &a_email).await;
    let res = app.post(&acme_admin, &format!("{users_path}/{a_id}/revoke-sessions"), &json!({})).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(me_status(&app, s(&a, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, s(&a, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    // The user may sign a phone in again.
    let again = phone(&app, &a_email).await;
    assert_eq!(refresh(&app, s(&again, "refresh_token")).await.status(), StatusCode::OK);

    // A partner admin disables a scanner.
    let (b_id, b_email) = user(&app, &w, &w.acme, "scanner").await;
    let b = phone(&app, &b_email).await;
    let res = app.post(&acme_admin, &format!("{users_path}/{b_id}/disable"), &json!({})).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(refresh(&app, s(&b, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(device_login(&app, &b_email, "x").await.status(), StatusCode::UNAUTHORIZED);

    let items = devices_of(&app, &acme_admin, "").await;
    assert_eq!(find(&items, s(&a, "device_id")).unwrap()["revoked_reason"], "sessions_revoked");
    assert_eq!(find(&items, s(&b, "device_id")).unwrap()["revoked_reason"], "user_disabled");

    // Staff containment: one user, the partner, the event's partners, the token key.
    let (c_id, c_email) = user(&app, &w, &w.acme, "scanner").await;
    let c = phone(&app, &c_email).await;
    let res = app.post(&w.admin, &format!("/api/v1/users/{c_id}/revoke-sessions"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(refresh(&app, s(&c, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);

    let (_, d_email) = user(&app, &w, &w.globex, "scanner").await;
    let d = phone(&app, &d_email).await;
    let res = app
        .post(&w.admin, &format!("/api/v1/events/{}/partners/{}/revoke-sessions", w.event, w.globex), &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(refresh(&app, s(&d, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);

    let e = phone(&app, &c_email).await;
    let res = app.post(&w.admin, &format!("/api/v1/events/{}/revoke-sessions", w.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(refresh(&app, s(&e, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);

    let f = phone(&app, &c_email).await;
    let res = app.post(&w.admin, "/api/v1/security/rotate-token-key", &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(refresh(&app, s(&f, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);

    // A password change ends the user's phones too (no admin involved).
    let g = phone(&app, &c_email).await;
    let pw = json!({"current_password": PASSWORD, "new_password": "another horse battery staple"});
    let res = app.post(s(&g, "access_token"), "/api/v1/auth/password", &pw).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(refresh(&app, s(&g, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);
}

async fn an_enrolment_code_signs_one_phone_in_once_within_ten_minutes(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (scanner_id, _) = user(&app, &w, &w.acme, "scanner").await;
    let (_, admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let admin = app.token(&admin_email).await;
    let make = || async {
        let res = app.post(&admin, "/api/v1/devices/enrolments", &json!({"user_id": scanner_id})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()
    };

    let made = make().await;
    let code = s(&made, "code");
    assert_eq!(s(&made, "payload"), format!("BGENROL1-{code}"));
    assert_eq!(s(&made, "user_id"), scanner_id);
    assert!(code.len() >= 26, "at least 128 bits: {code}");
    let expires =
        time::OffsetDateTime::parse(s(&made, "expires_at"), &time::format_description::well_known::Rfc3339).unwrap();
    let minutes = (expires - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((540..=600).contains(&minutes), "{minutes} s");
    // Only its hash is stored.
    assert_eq!(crate::common::count_rows(&app, &format!("device_enrolments WHERE code_hash = '{code}'")), 0);

    // The phone scans the QR code: signed in as the scanner, with a device of its own.
    let res = enrol(&app, s(&made, "payload")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let session: Value = res.json().await.unwrap();
    assert_eq!(s(&session, "role"), "scanner");
    assert!(session["refresh_token"].is_string() && session["refresh_expires_at"].is_string());
    let me: Value = app.get(s(&session, "access_token"), "/api/v1/auth/me").await.json().await.unwrap();
    assert_eq!(s(&me, "id"), scanner_id);
    assert_eq!(refresh(&app, s(&session, "refresh_token")).await.status(), StatusCode::OK);
    let items = devices_of(&app, &admin, "").await;
    assert_eq!(s(find(&items, s(&session, "device_id")).unwrap(), "name"), "Enrolled phone");

    // Once only.
    let res = enrol(&app, s(&made, "payload")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    problem(res).await;
    assert_eq!(enrol(&app, "BGENROL1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await.status(), StatusCode::UNAUTHORIZED);

    // Typed by hand: lower case, in groups, without the prefix.
    let typed = make().await;
    let by_hand: String = s(&typed, "code")
        .to_lowercase()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    assert_eq!(enrol(&app, &by_hand).await.status(), StatusCode::OK);

    // Ten minutes later it no longer works.
    let late = make().await;
    sql(
        &app,
        &format!(
            "UPDATE device_enrolments SET expires_at = {} WHERE user_id = '{scanner_id}' AND used_at IS NULL",
            ms_ago(1)
        ),
    );
    assert_eq!(enrol(&app, s(&late, "code")).await.status(), StatusCode::UNAUTHORIZED);

    // Signing the scanner out everywhere also ends codes made before.
    let pending = make().await;
    let users_path = format!("/api/v1/events/{}/partners/{}/users", w.event, w.acme);
    app.post(&admin, &format!("{users_path}/{scanner_id}/revoke-sessions"), &json!({})).await;
    assert_eq!(enrol(&app, s(&pending, "code")).await.status(), StatusCode::UNAUTHORIZED);

    // A bad device name is named.
    let fresh = make().await;
    let res = app
        .client
        .post(format!("{}/api/v1/auth/enrol", app.url))
        .json(&json!({"code": s(&fresh, "code"), "device": {"name": "  "}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "device.name");
}

async fn enrolment_codes_are_only_for_active_scanners_of_the_callers_partner(app: TestApp) {
    let w = World::builder().with(crate::common::Who::Registrar).build(&app).await;
    let (scanner_id, scanner_email) = user(&app, &w, &w.acme, "scanner").await;
    let (admin_id, admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let (globex_scanner, _) = user(&app, &w, &w.globex, "scanner").await;
    let admin = app.token(&admin_email).await;
    let create = |user_id: String| {
        let admin = admin.clone();
        let app = &app;
        async move { app.post(&admin, "/api/v1/devices/enrolments", &json!({"user_id": user_id})).await }
    };

    assert_eq!(create(globex_scanner).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(create(w.user_id(crate::common::Who::Registrar).to_string()).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(create("no-such-user".into()).await.status(), StatusCode::NOT_FOUND);
    let res = create(admin_id).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "user_id");

    // A scanner may not make codes, nor may staff (they belong to no partner).
    let scanner = app.token(&scanner_email).await;
    let res = app.post(&scanner, "/api/v1/devices/enrolments", &json!({"user_id": scanner_id})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.post(&w.admin, "/api/v1/devices/enrolments", &json!({"user_id": scanner_id})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A disabled scanner gets no code, and a code made before it was disabled is dead.
    let made: Value = create(scanner_id.clone()).await.json().await.unwrap();
    let users_path = format!("/api/v1/events/{}/partners/{}/users", w.event, w.acme);
    app.post(&admin, &format!("{users_path}/{scanner_id}/disable"), &json!({})).await;
    assert_eq!(enrol(&app, s(&made, "code")).await.status(), StatusCode::UNAUTHORIZED);
    let res = create(scanner_id).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "user_id");
}

async fn staff_accounts_and_bad_device_names_are_refused_at_device_login(app: TestApp) {
    let w = World::builder().build(&app).await;
    let staff = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
    app.create_staff(&staff, Role::Admin).await;
    let res = device_login(&app, &staff, "Laptop").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "device");
    assert_eq!(crate::common::count_rows(&app, "devices"), 0);

    let (_, email) = user(&app, &w, &w.acme, "scanner").await;
    for name in ["", "   ", &"x".repeat(81)] {
        let res = device_login(&app, &email, name).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert_eq!(problem(res).await["errors"][0]["field"], "device.name");
    }
    // A wrong password is the usual 401, device or not.
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({"email": email, "password": "wrong password here", "device": {"name": "Phone"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Unknown members of `device` are refused, as everywhere.
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({"email": email, "password": PASSWORD, "device": {"name": "Phone", "id": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16() / 100, 4);
    assert_eq!(crate::common::count_rows(&app, "devices"), 0);
    // A partner admin may sign a phone in too.
    let (_, admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    assert_eq!(s(&phone(&app, &admin_email).await, "role"), "partner_admin");
}

/// The grouped code shown under the QR code on the portal's enrolment page.
fn shown_code(page: &str) -> String {
    let at = page.find("class=\"enrol-code\">").expect("the page shows the code");
    let rest = &page[at + "class=\"enrol-code\">".len()..];
    rest[..rest.find('<').unwrap()].to_string()
}

fn hidden_csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("the page has a csrf field");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn the_portal_lists_revokes_and_enrols_devices(app: TestApp) {
    let w = World::builder().build(&app).await;
    let (scanner_id, scanner_email) = user(&app, &w, &w.acme, "scanner").await;
    let (_, admin_email) = user(&app, &w, &w.acme, "partner_admin").await;
    let (globex_scanner, _) = user(&app, &w, &w.globex, "scanner").await;
    let mut b = Browser::sign_in(&app, &admin_email).await;

    // The scanner list links to the enrolment of each scanner; the page explains first.
    let (status, scanners) = b.text("/portal/scanners").await;
    assert_eq!(status, StatusCode::OK);
    assert!(scanners.contains(&format!("/portal/scanners/{scanner_id}/enrol")));
    assert!(scanners.contains("href=\"/portal/devices\""), "the nav links to Devices");
    let (status, confirm) = b.text(&format!("/portal/scanners/{scanner_id}/enrol")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("Make an enrolment code"));
    assert_eq!(crate::common::count_rows(&app, "device_enrolments"), 0, "a page view makes no code");
    assert_eq!(b.get(&format!("/portal/scanners/{globex_scanner}/enrol")).await.status(), StatusCode::NOT_FOUND);

    // Without the form's CSRF token nothing is made.
    let res = b.post_form(&format!("/portal/scanners/{scanner_id}/enrol"), &[("csrf", "forged")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(crate::common::count_rows(&app, "device_enrolments"), 0);

    let csrf = hidden_csrf(&confirm);
    let res = b.post_form(&format!("/portal/scanners/{scanner_id}/enrol"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"), "{csp}");
    let shown = res.text().await.unwrap();
    assert!(shown.contains("<svg"), "the QR code is inline SVG");
    assert!(shown.contains("Valid 10 minutes, once"));
    assert!(shown.contains("id=\"print\""));
    let code = shown_code(&shown);
    assert_eq!(code.len(), 39, "32 characters in groups of four: {code}");
    assert!(shown.contains(&scanner_email));

    // The phone types the code as shown.
    let res = enrol(&app, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let session: Value = res.json().await.unwrap();

    // The devices page lists it, with a revoke button that works.
    let (status, list) = b.text("/portal/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Enrolled phone") && list.contains(&scanner_email) && list.contains("Active"));
    let device_id = s(&session, "device_id");
    assert!(list.contains(&format!("/portal/devices/{device_id}/revoke")));
    let csrf = hidden_csrf(&list);
    let res = b.post_form(&format!("/portal/devices/{device_id}/revoke"), &[("csrf", "forged")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(me_status(&app, s(&session, "access_token")).await, StatusCode::OK);
    let res = b.post_form(&format!("/portal/devices/{device_id}/revoke"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = res.text().await.unwrap();
    assert!(after.contains("The device is revoked"));
    assert!(!after.contains(&format!("/portal/devices/{device_id}/revoke")));
    assert_eq!(me_status(&app, s(&session, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, s(&session, "refresh_token")).await.status(), StatusCode::UNAUTHORIZED);

    // Scanners may not open the devices page.
    let mut sb = Browser::sign_in(&app, &scanner_email).await;
    assert_eq!(sb.get("/portal/devices").await.status(), StatusCode::FORBIDDEN);
}
