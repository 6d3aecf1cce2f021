//! The staff path in a real browser at phone width (390 px): sign in, create an event,
//! import a CSV saved by a spreadsheet (`;`, `TRUE`, a BOM) through its preview, and print
//! the badges. Every console page visited passes axe-core (no serious or critical
//! violation) and fits the window; each printed badge box has the stock's size whatever
//! the length of the name on it. Helpers: `common::browser`.

use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::{Backend, PASSWORD, TestApp};

const LONG_NAME: &str = "Maria Fernanda de la Concepción Ramírez-Villanueva y Santos-Oliveira";

/// Each badge box's size and whether its texts stay inside it, as the browser lays them out.
const MEASURE: &str = "return Array.from(document.querySelectorAll('.badge')).map(b => {
    const r = b.getBoundingClientRect();
    const name = b.querySelector('.name');
    const code = b.querySelector('.code');
    const range = document.createRange();
    range.selectNodeContents(code);
    return {w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10,
            name: name.textContent,
            name_fits: name.scrollHeight <= name.clientHeight + 1 && name.getBoundingClientRect().bottom <= r.bottom + 0.5,
            code_lines: range.getClientRects().length,
            code_fits: code.getBoundingClientRect().right <= r.right + 0.5};
})";

async fn staff_create_an_event_import_a_spreadsheet_and_print_badges(backend: Backend) {
    let Some(browser) = Browser::start("console_path", 390, 1100).await else { return };
    let app = TestApp::spawn(backend).await;
    let email = "registrar-admin@example.org";
    app.create_staff(email, badgegate::auth::Role::Admin).await;
    let base = &app.url;

    browser
        .step("sign in", async {
            browser.visit(&format!("{base}/login")).await;
            browser.fill("#email", email).await;
            browser.fill("#password", PASSWORD).await;
            browser.click("button[type=submit]").await;
            browser.wait_for("a[href='/console/events/new']").await;
            browser.check_page().await;
        })
        .await;

    let event_id = browser
        .step("create an event", async {
            browser.click("a[href='/console/events/new']").await;
            browser.wait_for("#time_zone").await;
            browser.check_page().await;
            browser.fill("#name", "Harbour Expo").await;
            browser.fill("#time_zone", "Europe/Madrid").await;
            browser.set_value("#starts_at", "2031-05-04T09:00").await;
            browser.set_value("#ends_at", "2031-05-06T18:00").await;
            browser.fill("#organiser_contact", "Harbour Expo Ltd, privacy@harbour.example").await;
            browser.screenshot("event-form").await;
            browser.click("main button[type=submit]").await;
            browser.wait_for("div.cards").await;
            let text = browser.text("main").await;
            assert!(text.contains("4 May 2031, 09:00 CEST"), "times in the event's zone: {text}");
            browser.check_page().await;
            browser.url().await.rsplit('/').next().unwrap().to_string()
        })
        .await;

    browser
        .step("preview a spreadsheet's CSV", async {
            browser.visit(&format!("{base}/console/events/{event_id}/attendees/import")).await;
            let csv = format!(
                "\u{feff}name;email;company;is_adult;share_with_all_partners\r\n\
                 Ada Li;ada@example.org;Analytical;TRUE;TRUE\r\n\
                 {LONG_NAME};maria@example.org;Compañía Internacional de Ferias y Congresos;TRUE;FALSE\r\n"
            );
            // Chosen as a file, as saved from a spreadsheet, not pasted.
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("participants.csv");
            std::fs::write(&file, csv).unwrap();
            browser.choose_file("#file", &file).await;
            browser.click("main form button[type=submit]").await;
            browser.wait_for("p.notice[role=status]").await;
            assert!(browser.text("p.notice").await.contains("2 participants ready to import"));
            assert!(browser.text("main table").await.contains(LONG_NAME));
            browser.check_page().await;
            browser.screenshot("import-preview").await;
            browser.click("form:has(input[name=step][value=import]) button").await;
        })
        .await;

    browser
        .step("imported", async {
            // The preview page has a notice too: wait for the new page's, not the old one's.
            browser
                .wait_until(
                    "the import's notice",
                    10,
                    "const n = document.querySelector('p.notice[role=status]'); \
                     return !!n && n.textContent.includes('imported');",
                )
                .await;
            assert_eq!(browser.text("p.notice").await, "2 participants imported.");
            assert!(browser.text("main table").await.contains("Ada Li"));
            browser.check_page().await;
        })
        .await;

    browser
        .step("participant page with the correction form", async {
            browser.click("main table a").await;
            browser.wait_for("#fix-channel").await;
            browser.check_page().await;
            browser.screenshot("attendee-detail").await;
        })
        .await;

    browser
        .step("a reissue asks for its box first", async {
            let code = browser.text("#badge-code").await;
            browser.click("form[action$='/badge/reissue'] button").await;
            browser.wait_for("#confirm-reissue-error").await;
            browser.check_page().await;
            browser.tick("#confirm-reissue").await;
            browser.click("form[action$='/badge/reissue'] button").await;
            browser.wait_for("p.notice[role=status]").await;
            assert!(browser.text("p.notice").await.contains("A new badge was issued"));
            assert_ne!(browser.text("#badge-code").await, code, "a new code");
        })
        .await;

    browser
        .step("the event's mail and deletion notices", async {
            browser.visit(&format!("{base}/console/events/{event_id}/mail")).await;
            let text = browser.text("main").await;
            assert!(text.contains("2 messages") && text.contains("Registration confirmation"), "{text}");
            assert!(!text.contains("ada@example.org"), "no addresses on the mail page");
            browser.screenshot("mail").await;
            browser.visit(&format!("{base}/console/events/{event_id}/deletion-notices?status=all")).await;
            assert!(browser.text("main").await.contains("No deletion notices yet."));
        })
        .await;

    for size in ["a6", "4x3", "cr80"] {
        browser
            .step(&format!("print {size}"), async {
                browser.visit(&format!("{base}/console/events/{event_id}/badges/print?size={size}")).await;
                let badges = browser.eval(MEASURE, vec![]).await;
                let badges = badges.as_array().unwrap();
                assert_eq!(badges.len(), 2, "{badges:?}");
                let (short, long) = (&badges[0], &badges[1]);
                assert!(long["name"].as_str().unwrap().starts_with("Maria"), "{badges:?}");
                assert_eq!((&short["w"], &short["h"]), (&long["w"], &long["h"]), "same box whatever the name");
                for b in badges {
                    assert_eq!(b["name_fits"], Value::Bool(true), "the name stays in its box: {b}");
                    assert_eq!(b["code_lines"], json!(1), "the code on one line: {b}");
                    assert_eq!(b["code_fits"], Value::Bool(true), "{b}");
                }
                browser.screenshot(&format!("badges-{size}")).await;
            })
            .await;
    }
}

on_both_backends!(staff_create_an_event_import_a_spreadsheet_and_print_badges);
