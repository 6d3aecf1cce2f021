//! Tests in a real browser: Debian's `chromedriver` driving headless `chromium`, through
//! fantoccini (WebDriver). Reusable by any page test (participant pages, console, portal).
//!
//! ```ignore
//! let Some(browser) = Browser::start("my_test", 390, 1000).await else { return }; // SKIPPED
//! browser.step("open the form", async {
//!     browser.visit(&format!("{}/e/{slug}/register", app.url)).await; // + axe and overflow checks
//!     browser.fill("#name", "Ann Lee").await;
//!     browser.click("button[type=submit]").await;
//!     browser.wait_for("h1").await;
//!     assert!(browser.text("h1").await.contains("Check your mail"));
//! }).await;
//! ```
//!
//! - [`Browser::start`] starts chromedriver on a free port and a fresh headless session of
//!   the given window size; without chromium or chromedriver it prints `SKIPPED` and
//!   answers `None`, so the test passes on a machine without them (`.ci/run` installs
//!   both, so CI runs it).
//! - [`Browser::visit`] loads a page and runs [`Browser::check_page`] on it: axe-core
//!   (vendored in `tests/browser/vendor/axe-core/`) finds no `serious` or `critical`
//!   violation ([`Browser::check_axe`]), and the page is no wider than the window
//!   ([`Browser::check_no_overflow`]). Call `check_page` yourself after a form submission
//!   lands on a new page.
//! - [`Browser::fill`], [`Browser::click`], [`Browser::tick`], [`Browser::text`],
//!   [`Browser::value`], [`Browser::wait_for`], [`Browser::source`], [`Browser::url`].
//! - [`Browser::step`] runs one step of a scenario; when it panics (a failed assertion or
//!   a WebDriver error), a screenshot is saved as
//!   `target/browser-screenshots/<test>-<n>-<step>.png` before the panic goes on.
//!   [`Browser::screenshot`] saves one on purpose.
//!
//! Every helper panics on a WebDriver error with what it was doing, so steps read as plain
//! sequences. The driver process is killed when the `Browser` drops.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const AXE: &str = include_str!("../../browser/vendor/axe-core/axe.min.js");

pub struct Browser {
    client: Client,
    driver: Child,
    port: u16,
    test: String,
    steps: AtomicUsize,
    profile: tempfile::TempDir,
}

/// Where failing steps leave their screenshots.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/browser-screenshots"))
}

impl Browser {
    /// A headless Chromium window of `width`×`height` CSS pixels, or `None` (after
    /// printing SKIPPED on the real stderr) when chromium or chromedriver is missing.
    pub async fn start(test: &str, width: u32, height: u32) -> Option<Browser> {
        Self::start_with(test, width, height, &[]).await
    }

    /// Like [`Browser::start`], with extra Chromium switches (a fake camera, say).
    pub async fn start_with(test: &str, width: u32, height: u32, extra: &[String]) -> Option<Browser> {
        use std::io::Write;
        let missing: Vec<&str> =
            [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !std::path::Path::new(p).exists()).collect();
        if !missing.is_empty() {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test} [browser]: {} not installed (apt-get install chromium chromium-driver)",
                missing.join(" and ")
            );
            return None;
        }
        let port = super::smtp::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver did not start");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().cloned());
        let args = json!(args);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
        // WebDriver runs over plain loopback HTTP.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("no WebDriver session");
        let browser = Browser { client, driver, port, test: test.to_string(), steps: AtomicUsize::new(0), profile };
        // The window's outer size includes no chrome in headless mode; make the page's
        // viewport the size asked for, whatever the platform adds.
        let inner = browser.client.execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
        if inner[0].as_u64() != Some(u64::from(width)) {
            let (w, h) = (inner[0].as_u64().unwrap_or(0), inner[1].as_u64().unwrap_or(0));
            let (dw, dh) = (u64::from(width).saturating_sub(w), u64::from(height).saturating_sub(h));
            let _ = browser
                .client
                .set_window_size(width + u32::try_from(dw).unwrap_or(0), height + u32::try_from(dh).unwrap_or(0))
                .await;
        }
        Some(browser)
    }

    /// Runs one step; if it panics, saves a screenshot first, then lets the panic go on.
    pub async fn step<T>(&self, name: &str, step: impl Future<Output = T>) -> T {
        let n = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        match std::panic::AssertUnwindSafe(step).catch_unwind().await {
            Ok(value) => value,
            Err(panic) => {
                let label = format!("{n:02}-{name}");
                let saved = self.screenshot(&label).await;
                eprintln!("browser step `{name}` failed; screenshot: {saved:?}");
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Saves a PNG of the window as `target/browser-screenshots/<test>-<label>.png`.
    pub async fn screenshot(&self, label: &str) -> Option<PathBuf> {
        let png = self.client.screenshot().await.ok()?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).ok()?;
        let safe: String = format!("{}-{label}", self.test)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        let path = dir.join(format!("{safe}.png"));
        std::fs::write(&path, png).ok()?;
        Some(path)
    }

    /// Loads `url` and checks the page (axe, overflow).
    pub async fn visit(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("could not load {url}: {e}"));
        self.check_page().await;
    }

    /// The page in view passes axe-core and fits the window's width.
    pub async fn check_page(&self) {
        self.check_axe().await;
        self.check_no_overflow().await;
    }

    /// axe-core finds no `serious` or `critical` violation on the page in view.
    pub async fn check_axe(&self) {
        // Injected through WebDriver, which the pages' Content-Security-Policy (no script)
        // does not govern; the pages themselves still run none.
        self.client.execute(AXE, vec![]).await.expect("axe-core could not be injected");
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then(r => done(r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.map(n => n.target.join(' '))}))))
              .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));";
        let found = self.client.execute_async(script, vec![]).await.expect("axe-core did not run");
        let url = self.url().await;
        assert_eq!(found, json!([]), "accessibility violations (serious or critical) on {url}");
    }

    /// Nothing on the page makes it wider than the window (no sideways scrolling).
    pub async fn check_no_overflow(&self) {
        let sizes = self
            .client
            .execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![])
            .await
            .unwrap();
        let (scroll, inner) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
        let url = self.url().await;
        assert!(scroll <= inner, "{url} is {scroll} px wide in a {inner} px window");
    }

    /// The current address.
    pub async fn url(&self) -> String {
        self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default()
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Waits (up to 10 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) {
        let found = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        if let Err(e) = found {
            panic!("no `{css}` on {} within 10 s: {e}", self.url().await);
        }
    }

    /// Waits until the address contains `part`: after a click that navigates to a page
    /// with the same elements as the one it leaves, `wait_for` would find the old page's.
    pub async fn wait_for_url(&self, part: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.url().await.contains(part) {
            assert!(std::time::Instant::now() < deadline, "the address never contained `{part}`: {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {}: {e}", self.url().await),
        }
    }

    /// Types `value` into the field `css` (after clearing it).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap_or_else(|e| panic!("could not type into `{css}`: {e}"));
    }

    /// Chooses the file at `path` in the file input `css`, as a person picking it would.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let input = self.find(css).await;
        input
            .send_keys(&path.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("could not choose a file in `{css}`: {e}"));
    }

    /// Clicks `css` (a button, link or checkbox).
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("could not click `{css}`: {e}"));
    }

    /// Ticks the checkbox `css` if it is not ticked yet.
    pub async fn tick(&self, css: &str) {
        let checked =
            self.client.execute("return document.querySelector(arguments[0]).checked", vec![json!(css)]).await;
        if checked.ok() != Some(Value::Bool(true)) {
            self.click(css).await;
        }
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The value of the browser's cookie `name` (HttpOnly ones too: WebDriver reads them),
    /// so a test can fetch what the signed-in browser may download.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client.get_named_cookie(name).await.ok().map(|c| c.value().to_string())
    }

    /// Makes the window `width` CSS pixels wide (keeping its height).
    pub async fn set_width(&self, width: u32, height: u32) {
        let inner = self.client.execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
        let (w, h) = (inner[0].as_u64().unwrap_or(0), inner[1].as_u64().unwrap_or(0));
        let (ow, oh) = self.client.get_window_size().await.unwrap_or((u64::from(width), u64::from(height)));
        let extra_w = ow.saturating_sub(w);
        let extra_h = oh.saturating_sub(h);
        let _ = self
            .client
            .set_window_size(width + u32::try_from(extra_w).unwrap_or(0), height + u32::try_from(extra_h).unwrap_or(0))
            .await;
    }

    /// The current value of the form field `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css).await.prop("value").await.unwrap().unwrap_or_default()
    }

    /// Runs `script` in the page (through WebDriver, which the pages' no-script policy does
    /// not govern) and answers what it returns.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Sets the form field `css` to `value` as if typed: for fields whose typing depends on
    /// the browser's locale (`datetime-local`) and for text with line breaks or a BOM.
    pub async fn set_value(&self, css: &str, value: &str) {
        let set = "const f = document.querySelector(arguments[0]); f.value = arguments[1]; return f.value";
        let got = self.eval(set, vec![json!(css), json!(value)]).await;
        // A text area holds line breaks as LF (and sends them as CRLF).
        assert_eq!(got, json!(value.replace("\r\n", "\n")), "`{css}` did not take the value");
    }
}

impl Browser {
    /// Sends one Chrome DevTools command to the page through chromedriver's
    /// `goog/cdp/execute` (e.g. `Network.emulateNetworkConditions`); answers its result.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let session = self.client.session_id().await.unwrap().expect("a WebDriver session");
        let url = format!("http://127.0.0.1:{}/session/{session}/goog/cdp/execute", self.port);
        let res = reqwest::Client::new().post(url).json(&json!({"cmd": cmd, "params": params})).send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{cmd} failed: {status} {body}");
        body["value"].clone()
    }

    /// Cuts the page's network (`true`) or gives it back, as DevTools' "Offline" does.
    pub async fn set_offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    /// Reloads the page in view.
    pub async fn reload(&self) {
        self.client.refresh().await.unwrap_or_else(|e| panic!("reload failed: {e}"));
    }

    /// Runs an async `script` (its last argument is the callback) and answers its result.
    pub async fn eval_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute_async(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Waits (up to `secs`) until `script` returns `true`.
    pub async fn wait_until(&self, what: &str, secs: u64, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: not within {secs} s on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium outlives a killed driver (it starts its own session), and every test
        // would leave one running for the rest of the run: kill the processes that use
        // this browser's profile directory. The profile directory goes with `profile`.
        kill_processes_using(&format!("--user-data-dir={}", self.profile.path().display()));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = &self.profile;
    }
}

/// Kills every process whose command line holds `needle` as one argument.
fn kill_processes_using(needle: &str) {
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if cmdline.split(|b| *b == 0).any(|arg| arg == needle.as_bytes())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}
