//! Step 9 (phase 2, participants): double opt-in, the same answer on the public forms for
//! known and unknown addresses, the resend form and its per-address limit, the badge on
//! `/me`, and breach notices; mail delivered to a real SMTP server process (aiosmtpd).

use badgegate::config::Settings;
use mailparse::{MailHeaderMap, ParsedMail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::smtp::SmtpServer;
use crate::common::{Backend, TestApp, Who, World};

on_both_backends!(
    the_public_forms_answer_alike_for_known_and_unknown_addresses_and_mail_the_difference,
    an_unconfirmed_form_opt_in_releases_nothing_until_the_address_is_confirmed,
    the_breach_notice_reaches_each_affected_participant_once_with_only_their_data,
);

fn via(url: String) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.smtp_url = Some(url);
        s.mail_retry_ms = 100;
    }
}

pub(crate) async fn slug_of(app: &TestApp, admin: &str, event: &str) -> String {
    let e: Value = app.get(admin, &format!("/api/v1/events/{event}")).await.json().await.unwrap();
    e["slug"].as_str().unwrap().to_string()
}

/// A form page's CSRF cookie (`name=value`) and token.
async fn open_form(app: &TestApp, path: &str) -> (String, String) {
    let res = app.client.get(format!("{}{path}", app.url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    (cookie, csrf)
}

/// Posts a form (with a fresh CSRF cookie and token); the status, the headers that matter
/// for an oracle, and the body with any CSRF token masked.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let (cookie, csrf) = open_form(app, path).await;
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("csrf", &csrf);
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    let res = app
        .client
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let set_cookie =
        res.headers().get("set-cookie").map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string());
    let html = res.text().await.unwrap();
    (status, set_cookie, mask_csrf(&html))
}

fn mask_csrf(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("name=\"csrf\" value=\"") {
        let start = at + "name=\"csrf\" value=\"".len();
        out.push_str(&rest[..start]);
        out.push_str("MASKED");
        rest = &rest[start..];
        rest = &rest[rest.find('"').unwrap()..];
    }
    out.push_str(rest);
    out
}

fn text_of(raw: &[u8]) -> (String, String, String) {
    let mail = mailparse::parse_mail(raw).unwrap();
    let to = mail.headers.get_first_value("To").unwrap();
    let subject = mail.headers.get_first_value("Subject").unwrap();
    fn plain(m: &ParsedMail<'_>) -> Option<String> {
        if m.ctype.mimetype == "text/plain" {
            return m.get_body().ok();
        }
        m.subparts.iter().find_map(plain)
    }
    (to, subject, plain(&mail).unwrap())
}

/// The messages received so far, as (to, subject, text).
fn inbox(smtp: &SmtpServer) -> Vec<(String, String, String)> {
    smtp.messages().iter().map(|m| text_of(m)).collect()
}

/// The path of the first link in `text` whose URL contains `marker`.
fn link_in(text: &str, marker: &str) -> String {
    let url = text
        .split_whitespace()
        .find(|t| t.starts_with("http") && t.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in {text}"));
    let at = url.find("/me/").or_else(|| url.find("/e/")).unwrap();
    url[at..].to_string()
}

async fn wait_mails(smtp: &SmtpServer, n: usize) -> Vec<(String, String, String)> {
    smtp.wait_for(n).await;
    inbox(smtp)
}

async fn the_public_forms_answer_alike_for_known_and_unknown_addresses_and_mail_the_difference(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, via(smtp.url())).await;
    let w = World::builder().build(&app).await;
    let slug = slug_of(&app, &w.admin, &w.event).await;
    let register = format!("/e/{slug}/register");
    let person = |email: &'static str| [("name", "Ann Lee"), ("email", email), ("is_adult", "true")];

    // A first registration: the page says "check your mail"; the confirmation arrives.
    let (status, cookie, first) = post_form(&app, &register, &person("ann@example.org")).await;
    assert_eq!((status, cookie), (StatusCode::OK, None));
    assert!(first.contains("Check your mail") && !first.contains("<svg") && !first.contains("/me/"), "{first}");
    let mails = wait_mails(&smtp, 1).await;
    let old_link = link_in(&mails[0].2, "/me/");

    // The same address again and a new one: byte-identical answers (CSRF masked).
    // And neither is answered before a fixed time: a reminder and a new registration are
    // different work, whose lengths would tell them apart.
    let started = std::time::Instant::now();
    let (known_status, known_cookie, known) = post_form(&app, &register, &person("ann@example.org")).await;
    let known_took = started.elapsed();
    let started = std::time::Instant::now();
    let (new_status, new_cookie, new) = post_form(&app, &register, &person("bob@example.org")).await;
    let new_took = started.elapsed();
    let floor = badgegate::web::register::FORM_ANSWER_FLOOR;
    assert!(known_took >= floor && new_took >= floor, "{known_took:?} {new_took:?}");
    assert_eq!((known_status, known_cookie), (new_status, new_cookie));
    assert_eq!(known, new, "the registration form tells nobody whether an address is registered");
    assert_eq!(known, first);

    // Ann gets "already registered" with a new link; the old link stops working.
    let mails = wait_mails(&smtp, 3).await;
    let reminder =
        mails.iter().find(|m| m.1.starts_with("You are already registered")).expect("already-registered mail");
    assert_eq!(reminder.0, "ann@example.org");
    assert!(reminder.2.contains("no longer works"), "{}", reminder.2);
    let new_link = link_in(&reminder.2, "/me/");
    assert!(new_link.starts_with("/me/"), "{new_link}");
    let old = app.client.get(format!("{}{old_link}", app.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(old.status(), StatusCode::NOT_FOUND, "the old privacy link stopped working");
    let old = old.text().await.unwrap();
    assert!(old.contains("replaced by a newer link") && old.contains(&format!("href=\"/e/{slug}/resend\"")), "{old}");
    let me = app.client.get(format!("{}{new_link}", app.url)).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let page = me.text().await.unwrap();
    // /me shows the badge: the QR code inline and the code to type.
    assert!(page.contains("<div id=\"badge\"><svg"), "{page}");
    let fallback = page.split("<code id=\"fallback\">").nth(1).unwrap().split('<').next().unwrap();
    assert!(fallback.len() >= 20 && reminder.2.contains(fallback), "the page shows the badge the mail carries");
    assert_eq!(mails.iter().filter(|m| m.0 == "bob@example.org").count(), 1, "Bob got his confirmation");

    // The resend form: the same answer for a registered and an unknown address.
    let resend = format!("/e/{slug}/resend");
    let (s1, c1, known) = post_form(&app, &resend, &[("email", "Ann@Example.org")]).await;
    let (s2, c2, unknown) = post_form(&app, &resend, &[("email", "nobody@example.org")]).await;
    assert_eq!((s1, c1), (StatusCode::OK, None));
    assert_eq!((s2, c2), (StatusCode::OK, None));
    assert_eq!(known, unknown, "the resend form tells nobody whether an address is registered");
    let mails = wait_mails(&smtp, 4).await;
    let sent = mails.iter().filter(|m| m.1.starts_with("Your badge and privacy link")).collect::<Vec<_>>();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "ann@example.org");
    let newest = link_in(&sent[0].2, "/me/");
    assert_eq!(app.client.get(format!("{}{newest}", app.url)).send().await.unwrap().status(), StatusCode::OK);
    let replaced = app.client.get(format!("{}{new_link}", app.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(replaced.status(), StatusCode::NOT_FOUND);
    let replaced = replaced.text().await.unwrap();
    assert!(replaced.contains(&format!("href=\"/e/{slug}/resend\"")), "replaced through the resend form: {replaced}");
    assert!(mails.iter().all(|m| m.0 != "nobody@example.org"));

    // At most three reminders an hour per address, however often the forms are sent.
    for _ in 0..3 {
        let (status, _, body) = post_form(&app, &resend, &[("email", "ann@example.org")]).await;
        assert_eq!((status, body), (StatusCode::OK, unknown.clone()));
    }
    // The form answers before the reminder is queued (its timing tells nothing either).
    let reminders = || async {
        let listed: Value =
            app.get(&w.admin, &format!("/api/v1/events/{}/mail?per_page=100", w.event)).await.json().await.unwrap();
        listed["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "reminder").count()
    };
    for _ in 0..50 {
        if reminders().await >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(reminders().await, 3);
    // The staff API keeps its 409.
    let res = app
        .post(
            &w.admin,
            &format!("/api/v1/events/{}/attendees", w.event),
            &json!({"name": "Ann", "email": "ann@example.org", "is_adult": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

/// The e-mail addresses in a partner's CSV export.
async fn exported(app: &TestApp, token: &str) -> String {
    let res = app.get(token, "/api/v1/leads/export.csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

async fn an_unconfirmed_form_opt_in_releases_nothing_until_the_address_is_confirmed(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, via(smtp.url())).await;
    let w = World::builder().with(Who::AcmeAdmin).build(&app).await;
    let slug = slug_of(&app, &w.admin, &w.event).await;
    // Someone types a stranger's address and opts it in to all partners.
    let (status, _, _) = post_form(
        &app,
        &format!("/e/{slug}/register"),
        &[
            ("name", "Cy Stranger"),
            ("email", "cy@example.org"),
            ("is_adult", "true"),
            ("share_with_all_partners", "true"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Staff-entered opt-ins count at once (signed paper form).
    app.register(
        &w.admin,
        &w.event,
        json!({"name": "Di Staff", "email": "di@example.org", "is_adult": true, "share_with_partners": [w.acme]}),
    )
    .await;

    let csv = exported(&app, w.acme_admin()).await;
    assert!(csv.contains("di@example.org"), "{csv}");
    assert!(!csv.contains("cy@example.org"), "an unconfirmed form opt-in releases nothing: {csv}");
    let leads: Value = app.get(w.acme_admin(), "/api/v1/leads").await.json().await.unwrap();
    assert!(!leads.to_string().contains("cy@example.org"));

    // The confirmation mail carries the link; a GET (a mail scanner) changes nothing.
    // Wait for Cy's own mail: the partner admin's invitation shares the server and may
    // arrive first.
    smtp.wait_for_to("cy@example.org", 1).await;
    let mails = inbox(&smtp);
    let cy = mails.iter().find(|m| m.0 == "cy@example.org").unwrap();
    let confirm = link_in(&cy.2, "/confirm/");
    assert!(confirm.starts_with(&format!("/e/{slug}/confirm/")), "{confirm}");
    let page = app.client.get(format!("{}{confirm}", app.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\"") && !html.contains("<script"));
    assert!(!exported(&app, w.acme_admin()).await.contains("cy@example.org"), "a GET confirms nothing");

    // The participant presses the button: now the opt-in counts, with its time recorded.
    let res = app.client.post(format!("{}{confirm}", app.url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(exported(&app, w.acme_admin()).await.contains("cy@example.org"));
    let list: Value =
        app.get(&w.admin, &format!("/api/v1/events/{}/attendees?q=Cy", w.event)).await.json().await.unwrap();
    let id = list["items"][0]["id"].as_str().unwrap();
    let detail: Value =
        app.get(&w.admin, &format!("/api/v1/events/{}/attendees/{id}", w.event)).await.json().await.unwrap();
    assert!(detail["opt_ins"][0]["confirmed_at"].is_string(), "{detail}");
    // Single use.
    let again = app.client.post(format!("{}{confirm}", app.url)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

async fn the_breach_notice_reaches_each_affected_participant_once_with_only_their_data(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, via(smtp.url())).await;
    let w = World::builder().with(Who::AcmeAdmin).with(Who::GlobexAdmin).build(&app).await;
    let before = crate::common::now_rfc3339();
    for (name, email, partner) in [
        ("Ann Lee", "ann@example.org", &w.acme),
        ("Bob Ray", "bob@example.org", &w.acme),
        ("Cy Fox", "cy@example.org", &w.globex),
    ] {
        app.register(
            &w.admin,
            &w.event,
            json!({"name": name, "email": email, "company": "Initech", "phone": "+44 20 7946 0000", "is_adult": true, "share_with_partners": [partner]}),
        )
        .await;
    }
    // Acme obtains Ann and Bob; Globex obtains Cy.
    exported(&app, w.acme_admin()).await;
    exported(&app, w.token(Who::GlobexAdmin)).await;
    let after = crate::common::now_rfc3339();
    // The three confirmations, and the two partner admins' invitations.
    wait_mails(&smtp, 5).await;
    let to_participants =
        |smtp: &SmtpServer| inbox(smtp).into_iter().filter(|m| !m.0.ends_with("@partner.example")).count();

    let res = app
        .post(
            &w.admin,
            "/api/v1/incidents",
            &json!({"title": "Acme laptop", "description": "Stolen.", "discovered_at": after,
                    "scope": {"partner_id": w.acme}, "window": {"from": before, "to": after}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let notice = format!("/api/v1/incidents/{id}/participant-notice");
    // No nature or contact yet: refused, naming the fields.
    let res = app.get(&w.admin, &notice).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .patch(
            &w.admin,
            &format!("/api/v1/incidents/{id}"),
            &json!({
                "nature": "A laptop of a partner was stolen.",
                "contact": "privacy@expo.example",
                "mitigation": "The laptop's disk was wiped remotely.",
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let preview: Value = app.get(&w.admin, &notice).await.json().await.unwrap();
    assert_eq!(preview["participants"], 2, "{preview}");
    let sample = preview["sample"]["text"].as_str().unwrap();
    assert!(sample.contains("[participant's name]") && sample.contains("Acme") && sample.contains("laptop"));
    assert!(sample.contains("What we have done about it:\nThe laptop's disk was wiped remotely."), "{sample}");
    for personal in ["Ann", "Bob", "Cy", "ann@example", "bob@example", "cy@example", "7946"] {
        assert!(!sample.contains(personal), "the preview shows nothing personal ({personal})");
    }
    assert_eq!(to_participants(&smtp), 3, "a preview sends nothing");

    let res = app.post(&w.admin, &notice, &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.json::<Value>().await.unwrap()["queued"], 2);
    let res = app.post(&w.admin, &notice, &json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "sent once");
    let incident: Value = app.get(&w.admin, &format!("/api/v1/incidents/{id}")).await.json().await.unwrap();
    assert!(incident["participants_notified_at"].is_string(), "{incident}");

    let mails = wait_mails(&smtp, 7).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let notices: Vec<_> = inbox(&smtp).into_iter().filter(|m| m.1.starts_with("Security incident")).collect();
    assert_eq!(notices.len(), 2, "{mails:?}");
    for (to, own, other) in [
        ("ann@example.org", "Ann Lee", ["Bob", "bob@example", "Cy", "cy@example"]),
        ("bob@example.org", "Bob Ray", ["Ann", "ann@example", "Cy", "cy@example"]),
    ] {
        let mine: Vec<_> = notices.iter().filter(|m| m.0 == to).collect();
        assert_eq!(mine.len(), 1, "{to} is notified once");
        let text = &mine[0].2;
        assert!(text.contains(own) && text.contains("Acme") && text.contains("privacy@expo.example"), "{text}");
        assert!(text.contains("e-mail address") && text.contains("phone number"), "{text}");
        assert!(!text.contains("Globex"), "{text}");
        for other in other {
            assert!(!text.contains(other), "{to}'s notice carries {other}: {text}");
        }
        assert!(text.contains("transactional"), "{text}");
    }
}
