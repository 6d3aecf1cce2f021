//! A real SMTP server for the mail tests: Debian's `python3-aiosmtpd`, run as its own
//! process, storing each received message as one file of a Maildir.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now (the tests start a server there later, or never).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `BADGEGATE_SMTP_URL` of a plain local server.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}?tls=none")
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        Self::start_on(free_port())
    }

    /// Starts aiosmtpd on `port` and waits until it accepts connections.
    pub fn start_on(port: u16) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3-aiosmtpd is not installed (apt-get install -y python3-aiosmtpd)");
        let server = SmtpServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received so far, as raw bytes.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(self.maildir().join(sub)).into_iter().flatten())
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// The messages received so far whose `To` is `to` (account mail to partner users
    /// shares the server with the participants' mail).
    pub fn messages_to(&self, to: &str) -> Vec<Vec<u8>> {
        use mailparse::MailHeaderMap;
        self.messages()
            .into_iter()
            .filter(|raw| mailparse::parse_mail(raw).unwrap().headers.get_first_value("To").as_deref() == Some(to))
            .collect()
    }

    /// Waits until at least `n` messages to `to` arrived; returns those.
    pub async fn wait_for_to(&self, to: &str, n: usize) -> Vec<Vec<u8>> {
        wait_until(Duration::from_secs(30), || self.messages_to(to).len() >= n).await;
        self.messages_to(to)
    }

    /// Waits until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        wait_until(Duration::from_secs(30), || self.messages().len() >= n).await;
        self.messages()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` every 50 ms until it holds; panics after `limit`.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "condition not met within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `.eml` files the no-SMTP default wrote into `DATA_DIR/outbox/`.
pub fn eml_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir.join("outbox"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}
