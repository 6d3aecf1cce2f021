//! The partner admin's path in a real browser: sign in, see the leads, download CSV and
//! XLSX with the browser's own session cookie (read through WebDriver, fetched with
//! reqwest), open the XLSX with calamine and check it cell by cell; every portal page
//! passes axe-core and fits a 390 px phone and a 1280 px desktop.

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use reqwest::StatusCode;

use crate::common::browser::Browser;
use crate::common::{Backend, PASSWORD, TestApp};
use crate::portal::booth;

const PAGES: [&str; 6] =
    ["/portal/", "/portal/activity", "/portal/scanners", "/portal/questions", "/portal/notices", "/portal/devices"];

async fn a_partner_admin_signs_in_sees_leads_and_downloads_csv_and_xlsx(backend: Backend) {
    let Some(browser) = Browser::start("portal_path", 390, 1000).await else { return };
    let app = TestApp::spawn(backend).await;
    let booth = booth(&app).await;
    let base = app.url.clone();

    browser
        .step("sign in", async {
            browser.visit(&format!("{base}/login")).await;
            browser.fill("#email", &booth.admin_email).await;
            browser.fill("#password", PASSWORD).await;
            browser.click("button[type=submit]").await;
            browser.wait_for("table").await;
            assert!(browser.url().await.ends_with("/portal/"));
            browser.check_page().await;
            let page = browser.source().await;
            assert!(page.contains("Ada Lovelace") && page.contains("bob@example.org"));
        })
        .await;

    browser
        .step("filter and edit", async {
            browser.fill("#q", "analytical").await;
            browser.click("form.filters button[type=submit]").await;
            browser.wait_for_url("q=analytical").await;
            browser.wait_for("a[href^='/portal/leads/']").await;
            let page = browser.source().await;
            assert!(page.contains("Ada Lovelace") && !page.contains("Bob Builder"));
            browser.check_page().await;
            browser.click("a[href^='/portal/leads/']").await;
            browser.wait_for("#notes").await;
            browser.check_page().await;
            browser.fill("#notes", "Met at the booth; wants a quote").await;
            browser.click("main button[type=submit]").await;
            browser.wait_for("form.filters").await;
            assert!(browser.source().await.contains("wants a quote"));
        })
        .await;

    let cookie = browser.cookie("bg_session").await.expect("the session cookie");
    let client = reqwest::Client::new();
    let download = |path: &'static str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let cookie = cookie.clone();
        async move {
            let res = client.get(url).header("Cookie", format!("bg_session={cookie}")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            res.bytes().await.unwrap().to_vec()
        }
    };

    browser
        .step("downloads", async {
            let csv_bytes = download("/portal/export.csv").await;
            let mut csv = csv::ReaderBuilder::new().has_headers(false).from_reader(csv_bytes.as_slice());
            let csv_rows: Vec<Vec<String>> =
                csv.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
            assert_eq!(csv_rows.len(), 3, "header and two leads");
            assert!(download("/portal/export.csv?dialect=excel").await.starts_with(b"\xEF\xBB\xBF"));

            let xlsx = download("/portal/export.xlsx").await;
            let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
            let range = book.worksheet_range("Leads").unwrap();
            let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
            assert_eq!(rows.len(), csv_rows.len());
            // Cell by cell: the same text as the CSV, every cell a string (or empty).
            for (r, (xrow, crow)) in rows.iter().zip(&csv_rows).enumerate() {
                for (c, text) in crow.iter().enumerate() {
                    let cell = xrow.get(c).cloned().unwrap_or(Data::Empty);
                    match cell {
                        Data::String(s) => assert_eq!(&s, text, "row {r} column {c}"),
                        Data::Empty => assert!(text.is_empty(), "row {r} column {c}: {text}"),
                        other => panic!("row {r} column {c} is not text: {other:?}"),
                    }
                }
            }
            let header: Vec<String> = rows[0].iter().map(|d| d.to_string()).collect();
            assert_eq!(&header[..5], ["name", "company", "address", "phone", "email"]);
            let ada = rows.iter().find(|r| r[4] == Data::String("ada@example.org".into())).unwrap();
            assert_eq!(ada[0], Data::String("Ada Lovelace".into()));
            assert_eq!(ada[3], Data::String("+34 600 000 000".into()), "a phone number arrives as dialled");
            let notes_at = header.iter().position(|h| h == "notes").unwrap();
            // The admin's note as its line of the notes column: `time author: text`.
            assert!(ada[notes_at].to_string().ends_with(": Met at the booth; wants a quote"), "{:?}", ada[notes_at]);
            let formulas = book.worksheet_formula("Leads").unwrap();
            assert!(!formulas.used_cells().any(|(_, _, f)| !f.is_empty()), "no formula anywhere");
            assert_eq!(crate::common::count_rows(&app, "disclosures WHERE channel = 'export'"), 6);
        })
        .await;

    for width in [390, 1280] {
        browser.set_width(width, 1000).await;
        for path in PAGES {
            browser
                .step(&format!("{path} at {width}"), async {
                    browser.visit(&format!("{base}{path}")).await;
                    if std::env::var_os("BADGEGATE_PORTAL_SCREENSHOTS").is_some() {
                        browser.screenshot(&format!("{width}-{}", path.trim_matches('/').replace('/', "-"))).await;
                    }
                })
                .await;
        }
        // A scanner's enrolment: the page that explains, then the printable one-time code.
        browser
            .step(&format!("enrolment at {width}"), async {
                browser.visit(&format!("{base}/portal/scanners")).await;
                browser.click("a[href$='/enrol']").await;
                browser.wait_for("main form button[type=submit]").await;
                browser.check_page().await;
                browser.click("main form button[type=submit]").await;
                browser.wait_for("main svg").await;
                browser.check_page().await;
                assert!(browser.source().await.contains("Valid 10 minutes, once"));
                if std::env::var_os("BADGEGATE_PORTAL_SCREENSHOTS").is_some() {
                    browser.screenshot(&format!("{width}-enrolment-code")).await;
                }
            })
            .await;
    }

    browser
        .step("scanner", async {
            browser.click("header.top button[type=submit]").await;
            browser.wait_for("#password").await;
            browser.fill("#email", &booth.scanner_email).await;
            browser.fill("#password", PASSWORD).await;
            browser.click("main button[type=submit]").await;
            browser.wait_for("table").await;
            browser.check_page().await;
            let page = browser.source().await;
            assert!(page.contains("My scans") && page.contains("Ada Lovelace") && !page.contains("ada@example.org"));
            if std::env::var_os("BADGEGATE_PORTAL_SCREENSHOTS").is_some() {
                browser.screenshot("scanner").await;
            }
        })
        .await;
}

on_both_backends!(a_partner_admin_signs_in_sees_leads_and_downloads_csv_and_xlsx);
