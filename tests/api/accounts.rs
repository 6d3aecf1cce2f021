//! Step 9 (phase 2, accounts and partners): invitations instead of passwords chosen by
//! staff, password reset, and deletion notices to partners; mail goes to a real SMTP
//! server process (aiosmtpd).

use std::time::Duration;

use mailparse::{MailHeaderMap, ParsedMail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::smtp::SmtpServer;
use crate::common::{
    Backend, PASSWORD, TestApp, Who, World, invite, link_token, partner_user, payload, problem, scan_body,
};

on_both_backends!(
    an_invitation_link_works_once_and_expires_and_no_api_takes_a_chosen_password,
    the_invitation_page_sets_the_password,
    password_reset_answers_alike_for_unknown_addresses_works_once_and_ends_sessions,
    deletion_notices_reach_only_partners_that_received_the_data_and_name_only_what_they_received,
);

async fn with_smtp(backend: Backend) -> (SmtpServer, TestApp) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |s| {
        s.smtp_url = Some(url);
        s.mail_retry_ms = 100;
    })
    .await;
    (smtp, app)
}

fn text_of(mail: &ParsedMail<'_>) -> String {
    if mail.ctype.mimetype == "text/plain" {
        return mail.get_body().unwrap();
    }
    mail.subparts.iter().map(text_of).find(|t| !t.is_empty()).unwrap_or_default()
}

/// The text parts of the messages received so far for `to`, in order of arrival.
fn texts_to(smtp: &SmtpServer, to: &str) -> Vec<(String, String)> {
    smtp.messages()
        .iter()
        .filter_map(|raw| {
            let mail = mailparse::parse_mail(raw).unwrap();
            (mail.headers.get_first_value("To").as_deref() == Some(to))
                .then(|| (mail.headers.get_first_value("Subject").unwrap_or_default(), text_of(&mail)))
        })
        .collect()
}

/// Waits for the `n`th message to `to`; answers its text.
async fn nth_mail_to(smtp: &SmtpServer, to: &str, n: usize) -> String {
    crate::common::smtp::wait_until(Duration::from_secs(30), || texts_to(smtp, to).len() >= n).await;
    texts_to(smtp, to).get(n - 1).unwrap().1.clone()
}

/// The deletion notices received so far by `to` (their texts).
fn notices_to(smtp: &SmtpServer, to: &str) -> Vec<String> {
    texts_to(smtp, to)
        .into_iter()
        .filter(|(subject, _)| subject == badgegate::mail::accounts::DELETION_SUBJECT)
        .map(|(_, text)| text)
        .collect()
}

/// Waits for the `n`th deletion notice to `to`; answers its text.
async fn nth_notice_to(smtp: &SmtpServer, to: &str, n: usize) -> String {
    crate::common::smtp::wait_until(Duration::from_secs(30), || notices_to(smtp, to).len() >= n).await;
    notices_to(smtp, to).get(n - 1).unwrap().clone()
}

/// The link starting with `{url}/{page}/` in a message's text.
fn link_in(text: &str, url: &str, page: &str) -> String {
    let prefix = format!("{url}/{page}/");
    text.split_whitespace()
        .find(|w| w.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {page} link in {text}"))
        .to_string()
}

async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/invitations/accept", app.url))
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap()
}

fn sql(app: &TestApp, statement: &str) {
    use diesel::RunQueryDsl;
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(statement).execute(&mut *conn).unwrap();
}

async fn an_invitation_link_works_once_and_expires_and_no_api_takes_a_chosen_password(backend: Backend) {
    let (smtp, app) = with_smtp(backend).await;
    let w = World::builder().build(&app).await;
    let users = format!("/api/v1/events/{}/partners/{}/users", w.event, w.acme);

    // A password chosen by someone else is refused, naming the field.
    let res =
        app.post(&w.admin, &users, &json!({"email": "x@acme.example", "password": PASSWORD, "role": "scanner"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "password");

    let email = "invitee@acme.example";
    let id = invite(&app, &w.admin, &w.event, &w.acme, email, "scanner").await;
    let listed: Value = app.get(&w.admin, &users).await.json().await.unwrap();
    assert_eq!(listed[0]["password_set"], false);
    // The account exists but cannot log in: no password was ever chosen.
    assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    let text = nth_mail_to(&smtp, email, 1).await;
    assert!(text.contains("72 hours"), "{text}");
    let link = link_in(&text, &app.url, "invite");
    let token = link_token(&link);
    // The page shows a form while the link is valid.
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("type=\"password\""));
    // The password policy applies.
    let res = accept(&app, &token, "short").await;
    assert_eq!(problem(res).await["errors"][0]["field"], "password");
    assert_eq!(accept(&app, &token, PASSWORD).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::OK);
    let listed: Value = app.get(&w.admin, &users).await.json().await.unwrap();
    assert_eq!(listed[0]["password_set"], true);
    // Once only.
    let res = accept(&app, &token, "another long password").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "token");
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.login(email, "another long password").await.status(), StatusCode::UNAUTHORIZED);
    // An accepted invitation is not sent again.
    let again = app.post(&w.admin, &format!("{users}/{id}/invitation"), &json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // Expiry: a link past its 72 hours does nothing.
    let late = "late@acme.example";
    invite(&app, &w.admin, &w.event, &w.acme, late, "partner_admin").await;
    let late_token = link_token(&link_in(&nth_mail_to(&smtp, late, 1).await, &app.url, "invite"));
    sql(&app, "UPDATE account_links SET expires_at = 1");
    let res = accept(&app, &late_token, PASSWORD).await;
    assert_eq!(problem(res).await["errors"][0]["field"], "token");
    assert_eq!(app.login(late, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    // Staff resend: a new link, and the old one stops working.
    let late_id = {
        let listed: Value = app.get(&w.admin, &users).await.json().await.unwrap();
        listed.as_array().unwrap().iter().find(|u| u["email"] == late).unwrap()["id"].as_str().unwrap().to_string()
    };
    let res = app.post(&w.admin, &format!("{users}/{late_id}/invitation"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    nth_mail_to(&smtp, late, 2).await;
    // Maildir file names do not keep the order of arrival: take the link that is new.
    let tokens: Vec<String> =
        texts_to(&smtp, late).iter().map(|(_, text)| link_token(&link_in(text, &app.url, "invite"))).collect();
    let fresh = tokens.iter().find(|t| **t != late_token).expect("a new link").clone();
    assert_eq!(accept(&app, &fresh, PASSWORD).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login(late, PASSWORD).await.status(), StatusCode::OK);
}

async fn the_invitation_page_sets_the_password(backend: Backend) {
    let (smtp, app) = with_smtp(backend).await;
    let w = World::builder().build(&app).await;
    let email = "page@globex.example";
    invite(&app, &w.admin, &w.event, &w.globex, email, "partner_admin").await;
    let mail = nth_mail_to(&smtp, email, 1).await;
    // The invitation says where the account is used once its password is chosen.
    assert!(mail.contains(&format!("{}/login", app.url)), "{mail}");
    let link = link_in(&mail, &app.url, "invite");
    let post = |form: &'static [(&'static str, &'static str)]| app.client.post(&link).form(form).send();
    let res = post(&[("password", PASSWORD), ("password_again", "something else entirely")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = post(&[("password", PASSWORD), ("password_again", PASSWORD)]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let done = res.text().await.unwrap();
    assert!(done.contains("Your password is saved"), "{done}");
    // What next: the account's address and the way in.
    assert!(done.contains(email) && done.contains("href=\"/login\""), "{done}");
    assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::OK);
    let res = post(&[("password", PASSWORD), ("password_again", PASSWORD)]).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn password_reset_answers_alike_for_unknown_addresses_works_once_and_ends_sessions(backend: Backend) {
    let (smtp, app) = with_smtp(backend).await;
    let email = "staff@example.org";
    app.create_staff(email, badgegate::auth::Role::Admin).await;
    let session = app.token(email).await;
    assert_eq!(app.get(&session, "/api/v1/auth/me").await.status(), StatusCode::OK);

    let ask = |address: &'static str| {
        app.client.post(format!("{}/api/v1/auth/password-reset", app.url)).json(&json!({"email": address})).send()
    };
    let unknown = ask("nobody@example.org").await.unwrap();
    let known = ask(email).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    let strip = |r: &reqwest::Response| {
        let mut h: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(k, _)| !["date", "x-request-id"].contains(&k.as_str()))
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        h.sort();
        h
    };
    assert_eq!(strip(&unknown), strip(&known), "same headers");
    assert_eq!(unknown.bytes().await.unwrap(), known.bytes().await.unwrap(), "same body");

    let text = nth_mail_to(&smtp, email, 1).await;
    let link = link_in(&text, &app.url, "reset");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.messages().len(), 1, "nothing is sent for an address without an account");
    assert!(texts_to(&smtp, "nobody@example.org").is_empty());

    let confirm = |token: String, password: &'static str| {
        app.client
            .post(format!("{}/api/v1/auth/password-reset/confirm", app.url))
            .json(&json!({"token": token, "password": password}))
            .send()
    };
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::OK);
    let token = link_token(&link);
    let res = confirm(token.clone(), "a brand new passphrase").await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Every session ended; the old password is gone, the new one works.
    assert_eq!(app.get(&session, "/api/v1/auth/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login(email, "a brand new passphrase").await.status(), StatusCode::OK);
    // Once only.
    let res = confirm(token, "yet another passphrase").await.unwrap();
    assert_eq!(problem(res).await["errors"][0]["field"], "token");
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // A bad address is named; it says nothing about accounts.
    let res = ask("not an address").await.unwrap();
    assert_eq!(problem(res).await["errors"][0]["field"], "email");
}

async fn deletion_notices_reach_only_partners_that_received_the_data_and_name_only_what_they_received(
    backend: Backend,
) {
    let (smtp, app) = with_smtp(backend).await;
    let w = World::builder()
        .with(Who::AcmeAdmin)
        .with(Who::AcmeScanner)
        .with(Who::GlobexAdmin)
        .with(Who::GlobexScanner)
        .build(&app)
        .await;
    let initrode = app.partner(&w.admin, &w.event, "Initrode").await;
    let (_, initrode_admin) = partner_user(&app, &w.admin, &w.event, &initrode, "partner_admin").await;
    // A second Acme admin: each partner admin gets the notice.
    let second_acme = "second@acme.example";
    invite(&app, &w.admin, &w.event, &w.acme, second_acme, "partner_admin").await;
    crate::common::accept_invitation(&app, second_acme, PASSWORD).await;
    // A third, invited but not yet in: nobody has shown the address to be Acme's (it may be
    // mistyped), so it is told nothing about a participant.
    let pending_acme = "pending@acme.example";
    invite(&app, &w.admin, &w.event, &w.acme, pending_acme, "partner_admin").await;

    let reg = app
        .register(
            &w.admin,
            &w.event,
            json!({"name": "Ann Lee", "email": "ann@example.org", "company": "Initech", "phone": "+1 555 0100", "is_adult": true}),
        )
        .await;
    // Acme receives Ann's name; then the event stops releasing names, and Globex does not.
    assert_eq!(app.post(w.token(Who::AcmeScanner), "/api/v1/scans", &scan_body(&payload(&reg))).await.status(), 201);
    let res = app
        .patch(&w.admin, &format!("/api/v1/events/{}", w.event), &json!({"released_fields": ["company", "email"]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(app.post(w.globex_scanner(), "/api/v1/scans", &scan_body(&payload(&reg))).await.status(), 201);
    let acme_leads: Value = app.get(w.acme_admin(), "/api/v1/leads").await.json().await.unwrap();
    let acme_lead = acme_leads["items"][0]["lead_id"].as_str().unwrap().to_string();

    // Ann erases herself.
    let privacy = reg["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let res = app.post(&privacy, "/api/v1/me/erasure", &json!({"confirm": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["recipients_to_notify"].as_array().unwrap().len(), 2);

    // Mail: one per partner admin of Acme and of Globex, none to Initrode.
    let acme_admin_email = app.get(w.acme_admin(), "/api/v1/auth/me").await.json::<Value>().await.unwrap()["email"]
        .as_str()
        .unwrap()
        .to_string();
    let globex_admin_email = app.get(w.token(Who::GlobexAdmin), "/api/v1/auth/me").await.json::<Value>().await.unwrap()
        ["email"]
        .as_str()
        .unwrap()
        .to_string();
    let initrode_email = app.get(&initrode_admin, "/api/v1/auth/me").await.json::<Value>().await.unwrap()["email"]
        .as_str()
        .unwrap()
        .to_string();
    let to_acme = nth_notice_to(&smtp, &acme_admin_email, 1).await;
    let to_second = nth_notice_to(&smtp, second_acme, 1).await;
    let to_globex = nth_notice_to(&smtp, &globex_admin_email, 1).await;
    assert_eq!(to_acme, to_second);
    assert!(to_acme.contains(&acme_lead) && to_acme.contains("Ann Lee"), "{to_acme}");
    assert!(!to_globex.contains("Ann"), "Globex never received the name: {to_globex}");
    // The whole phone number: a fragment such as "555" also turns up in the notice's UUID.
    for text in [&to_acme, &to_globex] {
        assert!(
            !text.contains("ann@example.org") && !text.contains("Initech") && !text.contains("+1 555 0100"),
            "{text}"
        );
    }
    let subjects: Vec<String> = texts_to(&smtp, &acme_admin_email).into_iter().map(|m| m.0).collect();
    assert!(subjects.iter().all(|s| !s.contains("Ann")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(notices_to(&smtp, &initrode_email).is_empty(), "Initrode received nothing and is told nothing");
    assert!(notices_to(&smtp, pending_acme).is_empty(), "an invitation not yet accepted is told nothing");
    assert_eq!(notices_to(&smtp, &acme_admin_email).len(), 1, "one message per notice");

    // The partners' lists: their own notices only.
    let acme_list: Value =
        app.get(w.acme_admin(), "/api/v1/deletion-notices").await.json::<Value>().await.unwrap()["items"].clone();
    assert_eq!(acme_list.as_array().unwrap().len(), 1);
    assert_eq!(acme_list[0]["lead_id"], acme_lead.as_str());
    assert_eq!(acme_list[0]["released_name"], "Ann Lee");
    assert_eq!(acme_list[0]["reason"], "erasure");
    let globex_list: Value =
        app.get(w.token(Who::GlobexAdmin), "/api/v1/deletion-notices").await.json::<Value>().await.unwrap()["items"]
            .clone();
    assert_eq!(globex_list.as_array().unwrap().len(), 1);
    assert!(globex_list[0]["released_name"].is_null());
    let initrode_list: Value =
        app.get(&initrode_admin, "/api/v1/deletion-notices").await.json::<Value>().await.unwrap()["items"].clone();
    assert!(initrode_list.as_array().unwrap().is_empty());
    assert_eq!(app.get(w.token(Who::AcmeScanner), "/api/v1/deletion-notices").await.status(), StatusCode::FORBIDDEN);

    // Acknowledged by its own partner only; the name is then cleared.
    let acme_notice = acme_list[0]["id"].as_str().unwrap().to_string();
    let ack = format!("/api/v1/deletion-notices/{acme_notice}/ack");
    assert_eq!(app.post(w.token(Who::GlobexAdmin), &ack, &json!({})).await.status(), StatusCode::NOT_FOUND);
    let res = app.post(w.acme_admin(), &ack, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let acked: Value = res.json().await.unwrap();
    assert!(acked["acknowledged_at"].is_string());
    assert!(acked["released_name"].is_null());

    // The erasure's request record lists the partners told.
    let requests: Value = app.get(&w.admin, "/api/v1/requests").await.json().await.unwrap();
    let erasure = requests["items"].as_array().unwrap().iter().find(|r| r["kind"] == "erasure").unwrap().clone();
    let notes = erasure["notes"].as_str().unwrap();
    assert!(notes.contains("Acme") && notes.contains("Globex") && !notes.contains("Initrode"), "{notes}");

    // Staff: nothing is overdue yet; a week-old unacknowledged notice is.
    let staff = |status: &'static str| {
        let path = format!("/api/v1/events/{}/deletion-notices?status={status}", w.event);
        let (app, admin) = (&app, w.admin.clone());
        async move { app.get(&admin, &path).await }
    };
    assert!(staff("unacknowledged").await.json::<Value>().await.unwrap()["items"].as_array().unwrap().is_empty());
    let all: Value = staff("all").await.json().await.unwrap();
    assert_eq!(
        (all["items"].as_array().unwrap().len(), all["total"].as_i64()),
        (2, Some(2)),
        "the API's one list shape"
    );
    let eight_days_ago = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - 8 * 24 * 3_600_000;
    sql(&app, &format!("UPDATE deletion_notices SET created_at = {eight_days_ago}"));
    let overdue: Value = staff("unacknowledged").await.json::<Value>().await.unwrap()["items"].clone();
    assert_eq!(overdue.as_array().unwrap().len(), 1, "the acknowledged one is not listed");
    assert_eq!(overdue[0]["partner_id"], w.globex.as_str());
    assert_eq!(staff("bogus").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(w.acme_admin(), &format!("/api/v1/events/{}/deletion-notices", w.event)).await.status(),
        StatusCode::FORBIDDEN
    );

    // A withdrawal from one partner tells that partner only.
    let bob = app
        .register(&w.admin, &w.event, json!({"name": "Bob Ray", "email": "bob@example.org", "is_adult": true}))
        .await;
    assert_eq!(app.post(w.token(Who::AcmeScanner), "/api/v1/scans", &scan_body(&payload(&bob))).await.status(), 201);
    assert_eq!(app.post(w.globex_scanner(), "/api/v1/scans", &scan_body(&payload(&bob))).await.status(), 201);
    let bob_privacy = bob["privacy_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let res = app.post(&bob_privacy, "/api/v1/me/withdrawals", &json!({"partner_id": w.globex})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    nth_notice_to(&smtp, &globex_admin_email, 2).await;
    assert!(notices_to(&smtp, &globex_admin_email).iter().any(|t| t.contains("withdrawn")));
    let acme_list: Value =
        app.get(w.acme_admin(), "/api/v1/deletion-notices").await.json::<Value>().await.unwrap()["items"].clone();
    assert_eq!(acme_list.as_array().unwrap().len(), 1, "Acme is not told about Bob");
    let globex_list: Value =
        app.get(w.token(Who::GlobexAdmin), "/api/v1/deletion-notices").await.json::<Value>().await.unwrap()["items"]
            .clone();
    assert_eq!(globex_list.as_array().unwrap().len(), 2);
    assert_eq!(globex_list[0]["reason"], "withdrawal");
}
