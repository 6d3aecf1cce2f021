//! The phone scanner app at `/scan`, served by the binary: its files and headers over
//! HTTP, and booth staff's path in headless Chromium — a fake camera showing a badge the
//! service rendered, twenty codes typed (as a keyboard-wedge scanner types them) with the
//! network cut, a reload, the network back, a replay; axe-core on each screen.

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::{Backend, PASSWORD, TestApp, accept_invitation, count_rows, invite, partner_user, world};

/// A scanner of Acme with a known e-mail, and its token.
async fn scanner(app: &TestApp) -> (crate::common::World, String, String) {
    let world = world(app).await;
    let email = format!("booth-{}@partner.example", uuid::Uuid::new_v4().simple());
    invite(app, &world.admin, &world.event, &world.acme, &email, "scanner").await;
    accept_invitation(app, &email, PASSWORD).await;
    let token = app.token(&email).await;
    (world, email, token)
}

async fn register(app: &TestApp, world: &crate::common::World, name: &str, company: &str) -> Value {
    let email = format!("{}@example.org", uuid::Uuid::new_v4().simple());
    app.register(
        &world.admin,
        &world.event,
        json!({"name": name, "email": email, "company": company, "is_adult": true}),
    )
    .await
}

async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn the_app_is_served_from_the_binary_with_its_own_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shell = fetch(&app, "/scan", &[]).await;
    assert_eq!(shell.status(), StatusCode::OK);
    let h = shell.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "worker-src 'self'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert!(h["permissions-policy"].to_str().unwrap().contains("camera=(self)"));
    assert_eq!(h["cache-control"], "no-cache");
    let html = shell.text().await.unwrap();
    assert!(html.contains("/scan/app.js") && !html.contains("<script>"), "no inline script");

    // The rest of the site keeps its own policy and grants no camera.
    let login = fetch(&app, "/login", &[]).await;
    assert!(!login.headers()["content-security-policy"].to_str().unwrap().contains("wasm"));
    assert!(login.headers().get("permissions-policy").is_none());

    for (path, kind) in [
        ("/scan/app.js", "text/javascript; charset=utf-8"),
        ("/scan/sw.js", "text/javascript; charset=utf-8"),
        ("/scan/manifest.webmanifest", "application/manifest+json"),
        ("/scan/icon-512.png", "image/png"),
        ("/scan/icon-maskable-512.png", "image/png"),
        ("/scan/vendor/zxing-wasm-3.1.3/zxing_reader.wasm", "application/wasm"),
        ("/scan/vendor/zxing-wasm-3.1.3/LICENSE", "text/plain; charset=utf-8"),
        ("/scan/vendor/barcode-detector-3.2.2/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let res = fetch(&app, path, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-type"], kind, "{path}");
    }
    let wasm = fetch(&app, "/scan/vendor/zxing-wasm-3.1.3/zxing_reader.wasm", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(wasm.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(wasm.headers()["content-encoding"], "gzip");

    let sw = fetch(&app, "/scan/sw.js", &[]).await;
    assert_eq!(sw.headers()["service-worker-allowed"], "/scan");
    let sw = sw.text().await.unwrap();
    assert!(!sw.contains("__SCANNER_VERSION__") && !sw.contains("/api/"), "versioned, and never caches the API");

    let manifest: Value = fetch(&app, "/scan/manifest.webmanifest", &[]).await.json().await.unwrap();
    assert_eq!(manifest["start_url"], "/scan");
    assert!(manifest["icons"].as_array().unwrap().iter().any(|i| i["purpose"] == "maskable"));

    // Revalidation: the same ETag answers 304 with no body.
    let first = fetch(&app, "/scan/app.css", &[]).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = fetch(&app, "/scan/app.css", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    assert_eq!(fetch(&app, "/scan/nothing.js", &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(fetch(&app, "/scan/../Cargo.toml", &[]).await.status(), StatusCode::NOT_FOUND);
    let post = app.client.post(format!("{}/scan", app.url)).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

fn ffmpeg_or_skip(test: &str) -> bool {
    use std::io::Write;
    let found = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !found {
        let _ = writeln!(std::io::stderr(), "SKIPPED {test} [ffmpeg]: not installed (apt-get install ffmpeg)");
    }
    found
}

/// A Y4M video of the badge PNG the service rendered, centred on white at 640×480.
fn badge_video(png: &[u8], dir: &Path) -> String {
    let input = dir.join("badge.png");
    let output = dir.join("badge.y4m");
    std::fs::write(&input, png).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-loop", "1", "-i"])
        .arg(&input)
        .args([
            "-t",
            "2",
            "-r",
            "10",
            "-pix_fmt",
            "yuv420p",
            "-vf",
            "scale=400:400:flags=neighbor,pad=640:480:(ow-iw)/2:(oh-ih)/2:white",
        ])
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not make the video");
    output.display().to_string()
}

async fn sign_in(browser: &Browser, base: &str, email: &str) {
    browser.visit(&format!("{base}/scan")).await;
    browser.wait_until("the app started", 15, "return document.documentElement.dataset.ready === '1'").await;
    browser.wait_for("#signin:not([hidden])").await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#scan:not([hidden])").await;
}

async fn pending(browser: &Browser) -> Value {
    browser.eval("return document.getElementById('pending').dataset.count", vec![]).await
}

async fn the_camera_reads_a_badge_and_the_lead_card_shows(backend: Backend) {
    if !ffmpeg_or_skip("the_camera_reads_a_badge_and_the_lead_card_shows") {
        return;
    }
    let app = TestApp::spawn(backend).await;
    let (world, email, token) = scanner(&app).await;
    let (_, acme_admin) = partner_user(&app, &world.admin, &world.event, &world.acme, "partner_admin").await;
    let questions = json!({"questions": [
        {"id": "product", "text": "Which product line?", "kind": "choice", "options": ["Engines", "Looms"]},
        {"id": "budget", "text": "Budget this year?", "kind": "text"},
    ]});
    let res = app
        .client
        .put(format!("{}/api/v1/partner/questions", app.url))
        .bearer_auth(&acme_admin)
        .json(&questions)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ada = register(&app, &world, "Ada Lovelace", "Analytical Ltd").await;
    let ada_id = ada["id"].as_str().unwrap();
    let png = app.get(&world.admin, &format!("/api/v1/events/{}/attendees/{ada_id}/badge.png", world.event)).await;
    assert_eq!(png.status(), StatusCode::OK);
    let dir = tempfile::tempdir().unwrap();
    let video = badge_video(&png.bytes().await.unwrap(), dir.path());
    let args = [
        "--use-fake-ui-for-media-stream".to_string(),
        "--use-fake-device-for-media-stream".to_string(),
        format!("--use-file-for-fake-video-capture={video}"),
    ];
    let Some(browser) = Browser::start_with("scanner_camera", 390, 900, &args).await else { return };
    let base = app.url.clone();

    browser.step("sign in", async { sign_in(&browser, &base, &email).await }).await;
    browser
        .step("scan with the camera", async {
            browser.check_page().await;
            browser.click("#camera-toggle").await;
            browser
                .wait_until(
                    "the lead card",
                    30,
                    "const n = document.querySelector('#result .name'); return !!n && n.textContent.length > 0",
                )
                .await;
            // The screen with the camera running passes axe too.
            browser.check_page().await;
            browser.screenshot("390-camera").await;
            assert_eq!(browser.text("#result .name").await, "Ada Lovelace");
            assert_eq!(browser.text("#result .company").await, "Analytical Ltd");
            assert_eq!(pending(&browser).await, json!("0"));
        })
        .await;
    browser
        .step("the scan is recorded once", async {
            let leads: Value = app.get(&token, "/api/v1/leads").await.json().await.unwrap();
            assert_eq!(leads["items"].as_array().unwrap().len(), 1, "{leads}");
            // The badge stays in view: the app does not record it again every frame.
            assert_eq!(count_rows(&app, "scans"), 1);
            browser.click("#camera-toggle").await;
        })
        .await;
    for width in [390, 1280] {
        browser
            .step(&format!("the scan screen at {width}"), async {
                browser.set_width(width, 900).await;
                browser.check_page().await;
                browser.screenshot(&format!("{width}-scan")).await;
            })
            .await;
    }
    browser
        .step("a note", async {
            browser.click("#result button").await;
            browser.wait_for("#note:not([hidden])").await;
            browser.check_page().await;
            // The partner's qualification questions, as the portal set them.
            let form = browser.text("#questions").await;
            assert!(form.contains("Which product line?") && form.contains("Budget this year?"), "{form}");
            browser.fill("#note-text", "Wants a demo on Tuesday").await;
            browser.set_value("#note-rating", "4").await;
            browser.set_value("#q-0", "Looms").await;
            browser.fill("#q-1", "About 20k").await;
            browser.screenshot("1280-note").await;
            browser.click("#note-form button[type=submit]").await;
            browser.wait_for("#scan:not([hidden])").await;
            // The card is redrawn as the note syncs: read it in the page, not by element.
            browser
                .wait_until(
                    "the card offers to edit the note",
                    10,
                    "const b = document.querySelector('#result button'); return !!b && b.textContent === 'Edit note'",
                )
                .await;
        })
        .await;
}

async fn twenty_scans_queue_offline_survive_a_reload_and_sync_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (world, email, token) = scanner(&app).await;
    let mut codes = Vec::new();
    for i in 0..20 {
        let registered = register(&app, &world, &format!("Guest {i}"), "Visitors Ltd").await;
        codes.push(registered["badge"]["fallback_code"].as_str().unwrap().to_string());
    }
    let Some(browser) = Browser::start("scanner_offline", 390, 900).await else { return };
    let base = app.url.clone();
    browser.step("sign in", async { sign_in(&browser, &base, &email).await }).await;
    browser
        .step("the service worker takes the page", async {
            browser.wait_until("a controlling service worker", 20, "return !!navigator.serviceWorker.controller").await;
        })
        .await;
    browser
        .step("twenty codes typed offline", async {
            browser.set_offline(true).await;
            for code in &codes {
                // A keyboard-wedge scanner types the code and Enter.
                browser.fill("#code", &format!("{code}\u{E007}")).await;
            }
            browser
                .wait_until("twenty pending", 10, "return document.getElementById('pending').dataset.count === '20'")
                .await;
            assert!(browser.text("#pending").await.contains("20 scans saved on phone"));
            assert_eq!(count_rows(&app, "scans"), 0);
            browser.check_page().await;
            browser.screenshot("390-offline").await;
        })
        .await;
    browser
        .step("a reload keeps them", async {
            browser.reload().await;
            browser.wait_until("the app restarted", 15, "return document.documentElement.dataset.ready === '1'").await;
            browser.wait_for("#scan:not([hidden])").await;
            assert_eq!(pending(&browser).await, json!("20"));
            assert_eq!(browser.eval("return navigator.onLine", vec![]).await, json!(false));
            assert_eq!(count_rows(&app, "scans"), 0);
        })
        .await;
    browser
        .step("the network back", async {
            browser.set_offline(false).await;
            browser
                .wait_until("all synced", 60, "return document.getElementById('pending').dataset.count === '0'")
                .await;
            assert_eq!(count_rows(&app, "scans"), 20);
            let leads: Value = app.get(&token, "/api/v1/leads?page=1").await.json().await.unwrap();
            assert_eq!(leads["total"], 20);
        })
        .await;
    browser
        .step("a replay creates nothing", async {
            // Put every scan back in the queue, as a lost answer would leave them, and let
            // the app's own sync loop send them again.
            let replay = "const done = arguments[arguments.length - 1];
                (async () => {
                  const db = await import('/scan/db.js');
                  const queue = await import('/scan/queue.js');
                  const scans = await db.all('scans');
                  await db.tx(['scans'], 'readwrite', (s) => { for (const x of scans) s.scans.put({...x, state: 'pending'}); });
                  queue.kick();
                  for (let i = 0; i < 300 && (await db.countState('scans', 'pending')) > 0; i++) {
                    await new Promise((r) => setTimeout(r, 100));
                  }
                  return (await db.all('scans')).map((s) => s.state + ' ' + s.status);
                })().then(done, (e) => done(String(e)));";
            let states = browser.eval_async(replay, vec![]).await;
            let states = states.as_array().unwrap_or_else(|| panic!("{states}"));
            assert_eq!(states.len(), 20);
            assert!(states.iter().all(|s| s == "done duplicate"), "{states:?}");
            assert_eq!(count_rows(&app, "scans"), 20);
        })
        .await;
    browser
        .step("sign-out clears the phone", async {
            browser.click("#signout").await;
            browser.wait_for("#signin:not([hidden])").await;
            let left = "const done = arguments[arguments.length - 1];
                import('/scan/db.js').then(async (db) => done([(await db.all('scans')).length, await db.session()]));";
            assert_eq!(browser.eval_async(left, vec![]).await, json!([0, null]));
            browser.check_page().await;
            browser.screenshot("390-signin").await;
        })
        .await;
}

async fn signing_out_is_refused_while_scans_wait(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_world, email, _token) = scanner(&app).await;
    let Some(browser) = Browser::start("scanner_signout", 390, 900).await else { return };
    let base = app.url.clone();
    browser.step("sign in", async { sign_in(&browser, &base, &email).await }).await;
    browser
        .step("an unsynced scan blocks sign-out", async {
            browser.set_offline(true).await;
            browser.fill("#code", "BG1-NOTAREALBADGE\u{E007}").await;
            browser
                .wait_until("one pending", 10, "return document.getElementById('pending').dataset.count === '1'")
                .await;
            browser.click("#signout").await;
            browser.wait_for("#signout-msg").await;
            assert!(browser.text("#signout-msg").await.contains("Not signed out"));
            assert_eq!(browser.eval("return document.getElementById('scan').hidden", vec![]).await, json!(false));
        })
        .await;
    browser
        .step("a rejected code leaves the queue with its reason", async {
            browser.set_offline(false).await;
            browser.wait_until("settled", 30, "return document.getElementById('pending').dataset.count === '0'").await;
            browser.wait_for("#result .card.bad").await;
            assert!(browser.text("#result").await.contains("Not recorded"));
        })
        .await;
}

/// The session as the app keeps it in IndexedDB.
async fn app_session(browser: &Browser) -> Value {
    let script = "const done = arguments[arguments.length - 1];
        import('/scan/db.js').then((db) => db.session()).then(done, (e) => done(String(e)));";
    browser.eval_async(script, vec![]).await
}

async fn a_revoked_phone_asks_to_sign_in_and_keeps_its_queue(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (world, email, token) = scanner(&app).await;
    let (_, admin) = partner_user(&app, &world.admin, &world.event, &world.acme, "partner_admin").await;
    let ada = register(&app, &world, "Ada Lovelace", "Analytical Ltd").await;
    let code = ada["badge"]["fallback_code"].as_str().unwrap().to_string();
    let Some(browser) = Browser::start("scanner_revoked", 390, 900).await else { return };
    let base = app.url.clone();
    browser.step("sign in", async { sign_in(&browser, &base, &email).await }).await;
    let session = app_session(&browser).await;
    let device = session["device_id"].as_str().expect("a device session").to_string();
    assert!(session["refresh_token"].is_string());
    browser
        .step("the partner admin revokes the phone", async {
            let res = app.post(&admin, &format!("/api/v1/devices/{device}/revoke"), &json!({})).await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        })
        .await;
    browser
        .step("the next scan meets the revocation", async {
            browser.fill("#code", &format!("{code}\u{E007}")).await;
            browser.wait_for("#signin:not([hidden])").await;
            assert!(browser.text("#signin-msg").await.contains("Sign in again"));
            assert_eq!(pending(&browser).await, json!("1"), "the scan stays on the phone");
            assert_eq!(count_rows(&app, "scans"), 0);
            let session = app_session(&browser).await;
            assert!(session["access_token"].is_null() && session["refresh_token"].is_null(), "{session}");
            browser.check_page().await;
        })
        .await;
    browser
        .step("signing in again syncs it", async {
            browser.fill("#password", PASSWORD).await;
            browser.click("#login-form button[type=submit]").await;
            browser.wait_for("#scan:not([hidden])").await;
            browser.wait_until("synced", 30, "return document.getElementById('pending').dataset.count === '0'").await;
            assert_eq!(count_rows(&app, "scans"), 1);
            let leads: Value = app.get(&token, "/api/v1/leads").await.json().await.unwrap();
            assert_eq!(leads["total"], 1);
        })
        .await;
}

async fn a_refresh_token_used_twice_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_world, email, _token) = scanner(&app).await;
    let Some(browser) = Browser::start("scanner_reuse", 390, 900).await else { return };
    let base = app.url.clone();
    browser.step("sign in", async { sign_in(&browser, &base, &email).await }).await;
    let stolen = app_session(&browser).await["refresh_token"].as_str().expect("a refresh token").to_string();
    let refresh = |t: String| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/api/v1/auth/refresh", app.url))
                .json(&json!({"refresh_token": t}))
                .send()
                .await
                .unwrap()
        }
    };
    // Someone else uses the phone's refresh token first.
    let thief = refresh(stolen.clone()).await;
    assert_eq!(thief.status(), StatusCode::OK);
    let thief: Value = thief.json().await.unwrap();
    browser
        .step("the phone presents it again", async {
            // The access token ends: the app refreshes with the token it holds, now used.
            let expire = "const done = arguments[arguments.length - 1];
                import('/scan/db.js').then(async (db) => {
                  const s = await db.session();
                  await db.saveSession({...s, access_token: 'expired', access_expires_at: 0});
                  (await import('/scan/queue.js')).kick();
                  done(true);
                });";
            browser.eval_async(expire, vec![]).await;
            browser.fill("#code", "BG1-ANYTHING\u{E007}").await;
            browser.wait_for("#signin:not([hidden])").await;
            assert_eq!(pending(&browser).await, json!("1"), "the scan stays on the phone");
        })
        .await;
    browser
        .step("the whole device session is over", async {
            let again = refresh(thief["refresh_token"].as_str().unwrap().to_string()).await;
            assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
            let res = app.get(thief["access_token"].as_str().unwrap(), "/api/v1/auth/me").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        })
        .await;
}

on_both_backends!(
    the_app_is_served_from_the_binary_with_its_own_policy,
    the_camera_reads_a_badge_and_the_lead_card_shows,
    twenty_scans_queue_offline_survive_a_reload_and_sync_once,
    signing_out_is_refused_while_scans_wait,
    a_revoked_phone_asks_to_sign_in_and_keeps_its_queue,
    a_refresh_token_used_twice_ends_the_session,
);
