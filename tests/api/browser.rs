//! The participant's path in a real browser at phone width (390 px): register (with one
//! mistake first), read the mail, confirm, open the privacy page, withdraw from a partner
//! and see the confirmation. Every page visited passes axe-core (no serious or critical
//! violation) and fits the window. Helpers: `common::browser`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::smtp::{eml_files, wait_until};
use crate::common::{Backend, TestApp};

/// Long and without hyphens, so nothing but the layout's word breaking keeps it on screen.
const EMAIL: &str = "zoe.nunezbartholomew.averyverylongmailbox@someveryverylongdomainnameforparticipants.example";

/// The plain-text part of the newest `.eml` the outbox wrote to `to`.
fn mail_text_to(app: &TestApp, to: &str) -> Option<String> {
    use mailparse::MailHeaderMap;
    fn plain(m: &mailparse::ParsedMail<'_>) -> Option<String> {
        if m.ctype.mimetype == "text/plain" {
            return m.get_body().ok();
        }
        m.subparts.iter().find_map(plain)
    }
    eml_files(app.data_dir.path()).iter().rev().find_map(|path| {
        let raw = std::fs::read(path).ok()?;
        let mail = mailparse::parse_mail(&raw).ok()?;
        (mail.headers.get_first_value("To").as_deref() == Some(to)).then(|| plain(&mail)).flatten()
    })
}

/// The first link in `text` whose address contains `marker`, as a path.
fn link(text: &str, marker: &str) -> String {
    let url = text
        .split_whitespace()
        .find(|t| t.starts_with("http") && t.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in {text}"));
    let at = url.find("/me/").or_else(|| url.find("/e/")).unwrap();
    url[at..].to_string()
}

async fn a_participant_registers_confirms_and_withdraws_on_a_phone(backend: Backend) {
    let Some(browser) = Browser::start("participant_path", 390, 1000).await else { return };
    let app = TestApp::spawn(backend).await;
    let admin = app.admin().await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = &time::format_description::well_known::Rfc3339;
    let res = app
        .post(
            &admin,
            "/api/v1/events",
            &json!({
                "name": "Phone Fair", "slug": "phone-fair", "venue": "Hall 7, Feria de Madrid",
                "starts_at": (now - time::Duration::days(1)).format(fmt).unwrap(),
                "ends_at": (now + time::Duration::days(1)).format(fmt).unwrap(),
                "time_zone": "Europe/Madrid",
                "privacy_notice_url": "https://phone-fair.example/privacy",
                "organiser_contact": "Phone Fair Ltd, privacy@phone-fair.example",
                "released_fields": ["name", "company", "email"],
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let event: Value = res.json().await.unwrap();
    let acme = app.partner(&admin, event["id"].as_str().unwrap(), "Acme Industrial Fasteners and Fixings").await;
    let base = &app.url;

    browser
        .step("form", async {
            browser.visit(&format!("{base}/e/phone-fair/register")).await;
            let page = browser.source().await;
            assert!(page.contains("href=\"https://phone-fair.example/privacy\""), "{page}");
            assert!(page.contains("privacy@phone-fair.example"));
            assert!(page.contains("with all partners of this event") && page.contains("(name, company, email)"));
            browser.fill("#name", "Zoë Ñuñez-Bartholomew").await;
            browser.fill("#email", EMAIL).await;
            browser.fill("#company", "Very Long Company Name Incorporated International").await;
            browser.fill("#phone", "+34 600 000 000").await;
            browser.fill("#address", "Calle Mayor 1\n28013 Madrid").await;
            browser.tick(&format!("input[name=share_with_partners][value='{acme}']")).await;
            browser.click("button[type=submit]").await;
        })
        .await;

    browser
        .step("error beside its field", async {
            browser.wait_for("#is_adult-error").await;
            browser.check_page().await;
            assert_eq!(browser.value("#name").await, "Zoë Ñuñez-Bartholomew", "what was typed is kept");
            let page = browser.source().await;
            assert!(page.contains("aria-describedby=\"is_adult-error\""), "{page}");
            browser.screenshot("form-with-an-error").await;
            browser.tick("input[name=is_adult]").await;
            browser.click("button[type=submit]").await;
        })
        .await;

    browser
        .step("check your mail", async {
            browser.wait_for("a[href$='/resend']").await;
            assert!(browser.text("h1").await.contains("Check your mail"));
            browser.check_page().await;
        })
        .await;

    let mail = browser
        .step("the mail arrives", async {
            wait_until(Duration::from_secs(20), || mail_text_to(&app, EMAIL).is_some()).await;
            mail_text_to(&app, EMAIL).unwrap()
        })
        .await;
    let confirm = link(&mail, "/confirm/");
    let me = link(&mail, "/me/");

    browser
        .step("confirm", async {
            browser.visit(&format!("{base}{confirm}")).await;
            browser.click("button[type=submit]").await;
            browser.wait_for("div.notice").await;
            assert!(browser.text("div.notice").await.contains("now in effect"));
            browser.check_page().await;
        })
        .await;

    browser
        .step("privacy page", async {
            browser.visit(&format!("{base}{me}")).await;
            assert_eq!(browser.text("#name").await, "Zoë Ñuñez-Bartholomew");
            let text = browser.text("main").await;
            assert!(text.contains(" CET") || text.contains(" CEST"), "times in the event's zone: {text}");
            browser.screenshot("privacy-page").await;
            browser.click(&format!("form:has(input[name=partner_id][value='{acme}']) button")).await;
        })
        .await;

    browser
        .step("withdrawal confirmed", async {
            browser.wait_for("div.notice[role=status]").await;
            let notice = browser.text("div.notice[role=status]").await;
            assert!(notice.contains("stopped sharing") && notice.contains("Acme Industrial"), "{notice}");
            browser.check_page().await;
        })
        .await;

    browser
        .step("resend form and a wrong address", async {
            browser.visit(&format!("{base}/e/phone-fair/resend")).await;
            browser.visit(&format!("{base}/e/no-such-fair/register")).await;
            assert_eq!(browser.text("h1").await, "Page not found");
            browser.visit(&format!("{base}/me/not-a-valid-link")).await;
            assert_eq!(browser.text("h1").await, "This link is not valid");
        })
        .await;

    // The smallest phones in use: every public page still fits a 360 px window.
    browser
        .step("the public pages at 360 px", async {
            browser.set_width(360, 800).await;
            assert_eq!(browser.eval("return window.innerWidth", vec![]).await, serde_json::json!(360));
            for page in ["/e/phone-fair/register", "/e/phone-fair/resend", me.as_str(), "/e/no-such-fair/register"] {
                browser.visit(&format!("{base}{page}")).await;
            }
        })
        .await;
}

on_both_backends!(a_participant_registers_confirms_and_withdraws_on_a_phone);
