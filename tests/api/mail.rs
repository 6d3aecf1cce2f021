//! Step 9 (phase 1): the outbox and the registration confirmation, delivered to a real SMTP
//! server process (aiosmtpd) or, without one, into `.eml` files.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use badgegate::config::Settings;
use badgegate::http::server::Application;
use diesel::RunQueryDsl;
use mailparse::{DispositionType, MailHeaderMap, ParsedMail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::smtp::{SmtpServer, eml_files, free_port, smtp_url, wait_until};
use crate::common::{Backend, TestApp, Who, World, partner_user, payload, problem, scan_body};

on_both_backends!(
    the_confirmation_carries_the_badge_the_privacy_link_and_the_choices,
    smtp_down_keeps_the_message_queued_and_smtp_up_delivers_it_once,
    a_restart_between_failure_and_delivery_loses_nothing_and_sends_once,
    without_smtp_each_message_is_an_owner_only_eml_file,
    staff_list_and_resend_mail_of_their_event_only,
    form_api_and_import_queue_confirmations_unless_the_import_says_not_to,
    two_instances_sharing_the_database_send_each_message_once,
);

/// Sends to `server`, retrying after 100 ms instead of 10 s.
fn via(url: String) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.smtp_url = Some(url);
        s.mail_retry_ms = 100;
    }
}

async fn mail_list(app: &TestApp, token: &str, event: &str, status: &str) -> Vec<Value> {
    let res = app.get(token, &format!("/api/v1/events/{event}/mail?status={status}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Only the participants' confirmations: the partner users' invitations of the world
    // builder go through the same outbox.
    let items = res.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone();
    items.into_iter().filter(|m| m["kind"] == "confirmation").collect()
}

fn header(mail: &ParsedMail<'_>, name: &str) -> String {
    mail.headers.get_first_value(name).unwrap_or_else(|| panic!("no {name} header"))
}

fn decode_qr(png: &[u8]) -> String {
    crate::common::decode_qr_png(png).1
}

async fn ann(app: &TestApp, w: &World) -> Value {
    app.register(
        &w.admin,
        &w.event,
        json!({"name": "Ann Lee", "email": "ann@example.org", "company": "Initech", "is_adult": true,
               "share_with_partners": [w.acme], "marketing_emails": false}),
    )
    .await
}

/// Reads one column of the outbox straight from the database.
fn outbox_column(app: &TestApp, id: &str, column: &str) -> Option<String> {
    #[derive(diesel::QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        v: Option<String>,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query(format!("SELECT {column} AS v FROM mail_outbox WHERE id = '{id}'"))
        .get_result::<V>(&mut *conn)
        .unwrap()
        .v
}

async fn the_confirmation_carries_the_badge_the_privacy_link_and_the_choices(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, via(smtp.url())).await;
    let w = World::builder().with(Who::AcmeScanner).build(&app).await;
    let registered = ann(&app, &w).await;
    let raw = smtp.wait_for_to("ann@example.org", 1).await;
    let mail = mailparse::parse_mail(&raw[0]).unwrap();

    // The batch's outcome is recorded just after the server accepted it.
    let mut sent = mail_list(&app, &w.admin, &w.event, "sent").await;
    for _ in 0..100 {
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        sent = mail_list(&app, &w.admin, &w.event, "sent").await;
    }
    assert_eq!(sent.len(), 1);
    let id = sent[0]["id"].as_str().unwrap();
    assert_eq!(sent[0]["kind"], "confirmation");
    assert_eq!(sent[0]["attempts"], 1);
    assert!(sent[0].get("recipient").is_none() && sent[0].get("body").is_none(), "staff see no address or body");

    // Headers: clear sender, nothing personal in the subject, transactional, stable id.
    assert_eq!(header(&mail, "To"), "ann@example.org");
    assert!(header(&mail, "From").contains("noreply@localhost"));
    let subject = header(&mail, "Subject");
    assert!(subject.starts_with("Your badge for Expo "), "{subject}");
    assert!(!subject.contains("Ann") && !subject.contains("ann@"));
    assert_eq!(header(&mail, "Auto-Submitted"), "auto-generated");
    assert_eq!(header(&mail, "Message-ID"), format!("<{id}@localhost>"));

    // multipart/alternative: text, then multipart/related with the HTML and the inline PNG.
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    assert_eq!(mail.subparts.len(), 2);
    let text_part = &mail.subparts[0];
    assert_eq!(text_part.ctype.mimetype, "text/plain");
    let related = &mail.subparts[1];
    assert_eq!(related.ctype.mimetype, "multipart/related");
    assert_eq!(related.subparts.len(), 2);
    let html = related.subparts[0].get_body().unwrap();
    assert_eq!(related.subparts[0].ctype.mimetype, "text/html");
    assert!(html.contains("src=\"cid:badge\""));
    let image = &related.subparts[1];
    assert_eq!(image.ctype.mimetype, "image/png");
    assert_eq!(image.get_content_disposition().disposition, DispositionType::Inline);
    assert_eq!(header(image, "Content-ID"), "<badge>");

    let text = text_part.get_body().unwrap();
    let fallback = registered["badge"]["fallback_code"].as_str().unwrap();
    let privacy = registered["privacy_url"].as_str().unwrap();
    for needle in [fallback, privacy, "Ann Lee", "transactional", "these partners: Acme", "future events: no"] {
        assert!(text.contains(needle), "the text part lacks {needle:?}:\n{text}");
        assert!(html.contains(needle), "the HTML part lacks {needle:?}");
    }
    assert!(text.contains("all partners of this event: no"));

    // The inline badge is the participant's badge: a scanner's phone accepts it.
    let code = decode_qr(&image.get_body_raw().unwrap());
    assert_eq!(code, payload(&registered));
    let res = app.post(w.token(Who::AcmeScanner), "/api/v1/scans", &scan_body(&code)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "created");
    // And the privacy link in it works.
    assert_eq!(app.client.get(privacy).send().await.unwrap().status(), StatusCode::OK);

    // The stored body is sealed: neither the privacy link nor the code is readable in it.
    let stored = outbox_column(&app, id, "body").unwrap();
    let token = privacy.rsplit('/').next().unwrap();
    assert!(!stored.contains(token) && !stored.contains(&fallback.replace('-', "")));

    // Erasure keeps the skeleton of a sent message and removes its address and content.
    let attendee = registered["id"].as_str().unwrap();
    let res = app.post(&w.admin, &format!("/api/v1/events/{}/attendees/{attendee}/erasure", w.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(outbox_column(&app, id, "body"), None);
    assert_eq!(outbox_column(&app, id, "recipient").as_deref(), Some("(erased)"));
    assert_eq!(mail_list(&app, &w.admin, &w.event, "sent").await.len(), 1);
    let res = app.post(&w.admin, &format!("/api/v1/events/{}/mail/{id}/resend", w.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

async fn smtp_down_keeps_the_message_queued_and_smtp_up_delivers_it_once(backend: Backend) {
    let port = free_port();
    let app = TestApp::spawn_with(backend, via(smtp_url(port))).await;
    let w = World::builder().build(&app).await;
    ann(&app, &w).await;
    let mut queued = Vec::new();
    for _ in 0..200 {
        queued = mail_list(&app, &w.admin, &w.event, "queued").await;
        if queued.first().is_some_and(|m| m["attempts"].as_i64() >= Some(2)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(queued.len(), 1, "the message waits in the queue while SMTP is down");
    assert!(queued[0]["attempts"].as_i64() >= Some(2), "it was retried: {}", queued[0]);
    let error = queued[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("SMTP ") && !error.contains("ann@"), "{error}");

    let smtp = SmtpServer::start_on(port);
    smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once");
    let sent = mail_list(&app, &w.admin, &w.event, "sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["last_error"], Value::Null);
    assert!(mail_list(&app, &w.admin, &w.event, "queued").await.is_empty());
}

async fn a_restart_between_failure_and_delivery_loses_nothing_and_sends_once(backend: Backend) {
    // The first run sends to a port where no server ever listens.
    let mut app = TestApp::spawn_with(backend, via(smtp_url(free_port()))).await;
    let w = World::builder().build(&app).await;
    ann(&app, &w).await;
    let admin = w.admin.clone();
    let db_has_failed_once = || {
        let v = mail_listing_blocking(&app);
        v.iter().any(|(status, attempts)| status == "queued" && *attempts >= 1)
    };
    wait_until(Duration::from_secs(20), db_has_failed_once).await;

    let smtp = SmtpServer::start();
    app.restart_with(via(smtp.url())).await;
    smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once after the restart");
    let sent = mail_list(&app, &admin, &w.event, "sent").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0]["attempts"].as_i64() >= Some(2));
}

/// (status, attempts) of every outbox row, read from the database.
fn mail_listing_blocking(app: &TestApp) -> Vec<(String, i32)> {
    #[derive(diesel::QueryableByName)]
    struct R {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    let db = app.db();
    let mut conn = db.get().unwrap();
    diesel::sql_query("SELECT status, attempts FROM mail_outbox")
        .load::<R>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|r| (r.status, r.attempts))
        .collect()
}

async fn without_smtp_each_message_is_an_owner_only_eml_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = World::builder().build(&app).await;
    let registered = ann(&app, &w).await;
    let dir = app.data_dir.path().to_path_buf();
    wait_until(Duration::from_secs(20), || eml_files(&dir).len() == 1).await;
    let file = &eml_files(&dir)[0];
    assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(dir.join("outbox")).unwrap().permissions().mode() & 0o777, 0o700);
    // The file is written before the worker records the message as sent.
    let mut sent = Vec::new();
    for _ in 0..200 {
        sent = mail_list(&app, &w.admin, &w.event, "sent").await;
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = sent[0]["id"].as_str().unwrap();
    assert_eq!(file.file_name().unwrap().to_str().unwrap(), format!("{id}.eml"));
    let raw = std::fs::read(file).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(header(&mail, "To"), "ann@example.org");
    assert_eq!(header(&mail, "Message-ID"), format!("<{id}@localhost>"));
    let png = mail.subparts[1].subparts[1].get_body_raw().unwrap();
    assert_eq!(decode_qr(&png), payload(&registered));
}

async fn staff_list_and_resend_mail_of_their_event_only(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, via(smtp.url())).await;
    let w = World::builder().with(Who::AcmeAdmin).with(Who::Registrar).build(&app).await;
    ann(&app, &w).await;
    let first = smtp.wait_for_to("ann@example.org", 1).await;
    wait_until(Duration::from_secs(10), || mail_listing_blocking(&app).iter().all(|(s, _)| s == "sent")).await;
    let registrar = w.token(Who::Registrar);
    let sent = mail_list(&app, registrar, &w.event, "sent").await;
    let id = sent[0]["id"].as_str().unwrap().to_string();
    assert!(mail_list(&app, registrar, &w.event, "failed").await.is_empty());

    // A status outside the vocabulary is named in the problem.
    let res = app.get(registrar, &format!("/api/v1/events/{}/mail?status=lost", w.event)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "status");

    // Partner users (here of this very event) and users of another event see nothing.
    let res = app.get(w.acme_admin(), &format!("/api/v1/events/{}/mail", w.event)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let other = app.event(&w.admin).await;
    let other_partner = app.partner(&w.admin, &other, "Initrode").await;
    let (_, other_admin) = partner_user(&app, &w.admin, &other, &other_partner, "partner_admin").await;
    let res = app.post(&other_admin, &format!("/api/v1/events/{}/mail/{id}/resend", w.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Another event's path does not reach this event's message.
    assert!(mail_list(&app, registrar, &other, "sent").await.is_empty());
    let res = app.post(registrar, &format!("/api/v1/events/{other}/mail/{id}/resend"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(registrar, "/api/v1/events/nope/mail").await.status(), StatusCode::NOT_FOUND);

    // A participant's confirmation is not sent again as it was: its link may no longer
    // work. Staff's resend sends a new reminder: its own Message-ID, a new privacy link (the
    // first one stops working), the badge, and it says who sent it.
    let res = app.post(registrar, &format!("/api/v1/events/{}/mail/{id}/resend", w.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["status"], "queued");
    assert_eq!(again["kind"], "reminder");
    assert_ne!(again["id"], json!(id));
    let both = smtp.wait_for_to("ann@example.org", 2).await;
    assert_eq!(both.len(), 2);
    let ids: Vec<String> = both.iter().map(|m| header(&mailparse::parse_mail(m).unwrap(), "Message-ID")).collect();
    assert_ne!(ids[0], ids[1]);
    let text = |m: &[u8]| mailparse::parse_mail(m).unwrap().subparts[0].get_body().unwrap();
    let privacy_link = |t: &str| t.split_whitespace().find(|w| w.contains("/me/")).unwrap().to_string();
    // Maildir file names do not keep the order of arrival: the new one is the reminder.
    let before = text(&first[0]);
    let after = both.iter().map(|m| text(m)).find(|t| t.contains("the organiser of")).expect("the new reminder");
    assert!(!after.contains("probably you"), "{after}");
    assert!(after.contains(registered_fallback(&before)), "the badge again: {after}");
    let (old_link, new_link) = (privacy_link(&before), privacy_link(&after));
    assert_ne!(old_link, new_link);
    assert_eq!(app.client.get(&old_link).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.client.get(&new_link).send().await.unwrap().status(), StatusCode::OK);

    // An invitation's link works once: sent again as it was it would be dead.
    let res = app.get(registrar, &format!("/api/v1/events/{}/mail?status=sent", w.event)).await;
    let listed = res.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone();
    let invitation = listed.iter().find(|m| m["kind"] == "invitation").expect("the world's partner admin was invited");
    let invitation = invitation["id"].as_str().unwrap();
    let res = app.post(registrar, &format!("/api/v1/events/{}/mail/{invitation}/resend", w.event), &json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

/// The fallback code as a confirmation's text gives it (`XXXX-XXXX-…` after "the code is:").
fn registered_fallback(text: &str) -> &str {
    let after = text.split("the code is:").nth(1).unwrap();
    after.split_whitespace().next().unwrap()
}

async fn form_api_and_import_queue_confirmations_unless_the_import_says_not_to(backend: Backend) {
    // SMTP stays down: every message stays queued (or sending), so the rows can be
    // counted. The port stays bound, never accepting, for the whole test: a port only
    // found free was once taken by another test's SMTP server, which received these.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = TestApp::spawn_with(backend, via(smtp_url(silent.local_addr().unwrap().port()))).await;
    let admin = app.admin().await;
    let res = app
        .post(&admin, "/api/v1/events", &json!({"name": "Mail Fair", "slug": "mail-fair", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}))
        .await;
    let event = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let import = |csv: &'static str, query: &'static str| {
        app.client
            .post(format!("{}/api/v1/events/{event}/attendees/import{query}", app.url))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
    };
    let res =
        import("name,email,is_adult\nBo,bo@example.org,true\nCy,cy@example.org,true\n", "?send_confirmation=false")
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(crate::common::count_rows(&app, "mail_outbox"), 0, "the import asked for no mail");
    let res = import("name,email,is_adult\nDi,di@example.org,true\n", "?send_confirmation=maybe").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "send_confirmation");
    let res = import("name,email,is_adult\nDi,di@example.org,true\nEd,ed@example.org,true\n", "").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(crate::common::count_rows(&app, "mail_outbox"), 2);

    // The public form queues one too.
    let form_url = format!("{}/e/mail-fair/register", app.url);
    let res = app.client.get(&form_url).send().await.unwrap();
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("name", "Flo")
        .append_pair("email", "flo@example.org")
        .append_pair("is_adult", "true")
        .finish();
    let res = app
        .client
        .post(&form_url)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "check your mail");
    assert_eq!(crate::common::count_rows(&app, "mail_outbox"), 3);

    // Erasure removes a participant's unsent mail.
    // Unsent is `queued`, or `sending` while the worker tries the (absent) SMTP server.
    let mut listed = mail_list(&app, &admin, &event, "queued").await;
    listed.extend(mail_list(&app, &admin, &event, "sending").await);
    let someone = listed[0]["attendee_id"].as_str().unwrap();
    let res = app.post(&admin, &format!("/api/v1/events/{event}/attendees/{someone}/erasure"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(crate::common::count_rows(&app, "mail_outbox"), 2);
    drop(silent);
}

async fn two_instances_sharing_the_database_send_each_message_once(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, via(smtp.url())).await;
    // A second instance on the same database (and secrets), with its own worker.
    let mut settings = Settings::for_data_dir(app.data_dir.path().to_path_buf());
    settings.database_url = Some(app.database_url.clone());
    via(smtp.url())(&mut settings);
    let second = Application::build(settings).await.unwrap().into_server();
    let second_handle = second.handle();
    actix_web::rt::spawn(second);

    let w = World::builder().build(&app).await;
    let n = 150;
    let mut csv = String::from("name,email,is_adult\n");
    for i in 0..n {
        csv.push_str(&format!("P{i},p{i}@example.org,true\n"));
    }
    let res = app.import_csv(&w.admin, &w.event, "", csv).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    smtp.wait_for(n).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = smtp.messages();
    assert_eq!(received.len(), n, "each message delivered once by one of the two workers");
    let mut ids: Vec<String> =
        received.iter().map(|m| header(&mailparse::parse_mail(m).unwrap(), "Message-ID")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert!(mail_listing_blocking(&app).iter().all(|(s, a)| s == "sent" && *a == 1), "one attempt each");
    second_handle.stop(true).await;
}
