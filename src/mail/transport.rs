//! Turning a queued message into MIME and handing it over: to an SMTP server when
//! `BADGEGATE_SMTP_URL` is set, otherwise as an RFC 5322 `.eml` file in `DATA_DIR/outbox/`.
//!
//! SMTP URLs:
//! - `smtps://user:pass@host[:465]`: TLS from the first byte;
//! - `smtp://user:pass@host[:587]`: STARTTLS, required (never falls back to plain text);
//! - `smtp://host:port?tls=none`: no TLS at all, for a server on the same machine.
//!
//! User and password are percent-decoded. Neither the URL nor any message body is ever
//! logged; an SMTP error is recorded by its reply code and class only.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::{PoolConfig, SmtpTransport};
use lettre::{Message, Transport as _};

use super::message::MailKind;
use super::rendered::Rendered;

/// Messages of a batch in flight at once, each on its own pooled SMTP connection. One
/// connection alone manages about 20 messages a second: lettre writes the final `.` of
/// each message as its own small packet, which Nagle's algorithm holds until the server's
/// delayed acknowledgement (about 40 ms) arrives, and lettre offers no `TCP_NODELAY`.
pub const SENDERS: usize = 16;

/// Messages rendered at once into the outbox directory. A file needs no network round
/// trip to wait for, so more writers would only queue on the directory's lock.
const DIRECTORY_WRITERS: usize = 2;

/// The mail settings the core needs (the CLI fills them from `BADGEGATE_*`).
#[derive(Clone, Default)]
pub struct MailConfig {
    pub smtp_url: Option<String>,
    pub from: String,
    /// First retry delay; each further retry waits twice as long (capped at an hour).
    pub retry_base: Duration,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may hold a password.
        f.debug_struct("MailConfig")
            .field("smtp", &self.smtp_url.as_ref().map(|_| "(set)"))
            .field("from", &self.from)
            .field("retry_base", &self.retry_base)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// `smtps://`: implicit TLS.
    Wrapper,
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtp://…?tls=none`: plain text, for a local server.
    None,
}

/// An SMTP URL taken apart. Its `Debug` leaves out the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub tls: Tls,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn decode(part: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "the SMTP URL's user or password is not UTF-8".to_string())
}

impl SmtpUrl {
    /// Errors never quote the URL: it may hold a password.
    pub fn parse(url: &str) -> Result<SmtpUrl, String> {
        let (scheme, rest) = url.split_once("://").ok_or("the SMTP URL must start with smtp:// or smtps://")?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let mut tls = match scheme {
            "smtps" => Tls::Wrapper,
            "smtp" => Tls::StartTls,
            _ => return Err("the SMTP URL must start with smtp:// or smtps://".into()),
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match (key.as_ref(), value.as_ref(), tls) {
                ("tls", "none", Tls::StartTls) => tls = Tls::None,
                ("tls", "required", Tls::StartTls) => {}
                _ => return Err("the SMTP URL takes only `?tls=none` (with smtp://)".into()),
            }
        }
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(decode(user)?), Some(decode(pass)?)),
                None => (Some(decode(u)?), None),
            },
            None => (None, None),
        };
        let default_port = match tls {
            Tls::Wrapper => 465,
            Tls::StartTls => 587,
            Tls::None => 25,
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || p.chars().all(|c| c.is_ascii_digit()) => {
                (h, p.parse::<u16>().map_err(|_| "the SMTP URL's port is not a number from 1 to 65535")?)
            }
            _ => (hostport, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("the SMTP URL has no host".into());
        }
        Ok(SmtpUrl { tls, host: host.to_string(), port, user, password })
    }

    fn transport(&self) -> Result<SmtpTransport, String> {
        let builder = match self.tls {
            Tls::Wrapper => SmtpTransport::relay(&self.host),
            Tls::StartTls => SmtpTransport::starttls_relay(&self.host),
            Tls::None => Ok(SmtpTransport::builder_dangerous(&self.host)),
        }
        .map_err(|e| format!("SMTP TLS setup: {e}"))?;
        let builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(PoolConfig::new().max_size(u32::try_from(SENDERS).unwrap_or(16)));
        let builder = match (&self.user, &self.password) {
            (Some(user), password) => {
                builder.credentials(Credentials::new(user.clone(), password.clone().unwrap_or_default()))
            }
            (None, _) => builder,
        };
        Ok(builder.build())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no auto-replies to transactional mail.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// `List-Unsubscribe: <url>` (RFC 2369), on marketing mail only.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.trim().trim_start_matches('<').trim_end_matches('>').to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the mail program may
/// unsubscribe with one POST to the `List-Unsubscribe` URL, which `/u/{token}` accepts.
#[derive(Debug, Clone, Copy)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// Why a delivery did not happen. `detail` never holds the body or the password.
#[derive(Debug, Clone)]
pub struct DeliveryError {
    /// Retrying cannot help (a refused address, a message that cannot be built).
    pub permanent: bool,
    pub detail: String,
}

impl DeliveryError {
    fn permanent(detail: impl Into<String>) -> DeliveryError {
        DeliveryError { permanent: true, detail: detail.into() }
    }

    fn transient(detail: impl Into<String>) -> DeliveryError {
        DeliveryError { permanent: false, detail: detail.into() }
    }
}

enum Sink {
    Smtp(Box<SmtpTransport>),
    /// The outbox directory, and a handle on it kept open from start-up: `syncfs` reports
    /// a write error only when it happened after the handle it is given was opened
    /// (Linux 5.8 and later), so a handle opened per batch could miss one that the
    /// kernel's own writeback met between a file's write and the batch's sync.
    Directory(PathBuf, std::fs::File),
}

/// One queued message, as the worker hands it to [`Mailer::deliver`].
pub struct Outgoing<'a> {
    pub id: &'a str,
    pub kind: MailKind,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a Rendered,
    /// When the message was queued (ms since the epoch): its `Date`. Sent later (a retry, a
    /// worker that caught up), it keeps the time it was written, so mail programs sort a
    /// newer reminder (whose link replaced the older one's) after the older, whichever
    /// arrived first (to the second: `Date` has no finer unit).
    pub queued_at: i64,
}

pub struct Mailer {
    sink: Sink,
    from: Mailbox,
    domain: String,
}

impl Mailer {
    pub fn new(config: &MailConfig, data_dir: &Path) -> Result<Mailer, String> {
        let from: Mailbox =
            config.from.parse().map_err(|e| format!("BADGEGATE_MAIL_FROM is not a mail address: {e}"))?;
        let domain = from.email.domain().to_string();
        let sink = match &config.smtp_url {
            Some(url) => Sink::Smtp(Box::new(SmtpUrl::parse(url)?.transport()?)),
            None => {
                let dir = data_dir.join("outbox");
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let handle = std::fs::File::open(&dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
                Sink::Directory(dir, handle)
            }
        };
        Ok(Mailer { sink, from, domain })
    }

    /// The `Message-ID` of an outbox row: the same on every attempt, so a copy sent again
    /// after a crash can be recognised.
    pub fn message_id(&self, id: &str) -> String {
        format!("<{id}@{}>", self.domain)
    }

    /// The RFC 5322 message: `multipart/alternative` of the text and a
    /// `multipart/related` HTML part that carries the badge as an inline PNG (`cid:badge`).
    pub fn render(&self, mail: &Outgoing<'_>) -> Result<Message, DeliveryError> {
        let to: Mailbox =
            mail.to.parse().map_err(|_| DeliveryError::permanent("the recipient address is not valid"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(self.message_id(mail.id)))
            .date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(mail.queued_at).unwrap_or(0)))
            .user_agent("badgegate".to_string());
        if mail.kind.is_transactional() {
            builder = builder.header(AutoSubmitted);
        } else {
            // Marketing mail without its unsubscribe link is never sent.
            let url = mail
                .body
                .list_unsubscribe
                .as_deref()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .ok_or_else(|| DeliveryError::permanent("marketing mail without an unsubscribe link"))?;
            builder = builder.header(ListUnsubscribe(url.to_string())).header(ListUnsubscribePost);
        }
        let html = match &mail.body.badge_payload {
            Some(payload) => {
                let png = crate::badges::render_png(payload)
                    .map_err(|_| DeliveryError::permanent("the badge image cannot be drawn"))?;
                let png_type =
                    ContentType::parse("image/png").map_err(|_| DeliveryError::permanent("image/png content type"))?;
                MultiPart::related()
                    .singlepart(SinglePart::html(mail.body.html.clone()))
                    .singlepart(Attachment::new_inline("badge".to_string()).body(png, png_type))
            }
            None => MultiPart::related().singlepart(SinglePart::html(mail.body.html.clone())),
        };
        builder
            .multipart(MultiPart::alternative().singlepart(SinglePart::plain(mail.body.text.clone())).multipart(html))
            .map_err(|e| DeliveryError::permanent(format!("the message cannot be built: {e}")))
    }

    /// How many messages of a batch [`Mailer::deliver`] may take at once.
    pub fn senders(&self) -> usize {
        match self.sink {
            Sink::Smtp(_) => SENDERS,
            Sink::Directory(..) => DIRECTORY_WRITERS,
        }
    }

    /// Makes every message delivered since the last call durable; the worker calls it
    /// before it records a batch as sent. SMTP needs nothing: a server that accepted a
    /// message holds it. On Linux the outbox directory's file system is synced once per
    /// batch (`syncfs`: the files' contents and their renames), where an `fsync` per file
    /// made each message wait for its own journal commit and slowed the database's
    /// commits on the same disk. Elsewhere each file was synced when written, and the
    /// directory (the renames) is synced here.
    pub fn flush(&self) -> Result<(), DeliveryError> {
        match &self.sink {
            Sink::Smtp(_) => Ok(()),
            Sink::Directory(_, handle) => sync_directory(handle).map_err(|e| {
                let code = e.raw_os_error().map(|c| format!("os error {c}")).unwrap_or_else(|| e.kind().to_string());
                DeliveryError::transient(format!("cannot sync the outbox directory: {code}"))
            }),
        }
    }

    /// Hands one message to the SMTP server, or writes it into the outbox directory; a
    /// written file is durable only after [`Mailer::flush`].
    pub fn deliver(&self, mail: &Outgoing<'_>) -> Result<(), DeliveryError> {
        let message = self.render(mail)?;
        match &self.sink {
            Sink::Smtp(transport) => transport.send(&message).map(|_| ()).map_err(|e| {
                let code = e.status().map(|c| c.to_string()).unwrap_or_else(|| "no reply".to_string());
                let class = if e.is_permanent() {
                    "refused permanently"
                } else if e.is_transient() {
                    "refused for now"
                } else {
                    "connection or TLS failure"
                };
                DeliveryError { permanent: e.is_permanent(), detail: format!("SMTP {class} ({code})") }
            }),
            Sink::Directory(dir, _) => write_eml(dir, mail.id, &message.formatted())
                .map_err(|e| DeliveryError::transient(format!("cannot write to the outbox directory: {}", e.kind()))),
        }
    }
}

/// Writes `<id>.eml` owner-only, whole or not at all (a temporary file renamed into
/// place), so a mail program never opens half a message and a second delivery of the
/// same message replaces the file instead of adding a copy. On Linux not synced here: see
/// [`Mailer::flush`].
fn write_eml(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{id}.tmp"));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    if !cfg!(target_os = "linux") {
        file.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(format!("{id}.eml")))
}

#[cfg(target_os = "linux")]
fn sync_directory(handle: &std::fs::File) -> std::io::Result<()> {
    rustix::fs::syncfs(handle).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn sync_directory(handle: &std::fs::File) -> std::io::Result<()> {
    handle.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn smtp_urls_choose_tls_and_keep_the_password_out_of_debug() {
        let u = SmtpUrl::parse("smtps://me%40x.org:p%3Ass@mail.example.org").unwrap();
        assert_eq!((u.tls, u.port, u.host.as_str()), (Tls::Wrapper, 465, "mail.example.org"));
        assert_eq!((u.user.as_deref(), u.password.as_deref()), (Some("me@x.org"), Some("p:ss")));
        assert!(!format!("{u:?}").contains("p:ss"));
        let u = SmtpUrl::parse("smtp://mail.example.org").unwrap();
        assert_eq!((u.tls, u.port), (Tls::StartTls, 587));
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((u.tls, u.port, u.user), (Tls::None, 2525, None));
        assert!(SmtpUrl::parse("smtps://h?tls=none").is_err());
        assert!(SmtpUrl::parse("http://h").is_err());
        let err = SmtpUrl::parse("smtp://u:secret@h:99999").unwrap_err();
        assert!(!err.contains("secret"));
    }

    fn mailer(dir: &Path) -> Mailer {
        let config = MailConfig { smtp_url: None, from: "Expo <noreply@expo.example>".into(), ..Default::default() };
        Mailer::new(&config, dir).unwrap()
    }

    fn headers_of(mailer: &Mailer, kind: MailKind, body: &Rendered) -> Result<String, DeliveryError> {
        let out = Outgoing { id: "m1", kind, to: "ann@example.org", subject: "News", body, queued_at: 0 };
        let formatted = mailer.render(&out)?.formatted();
        let text = String::from_utf8(formatted).unwrap();
        Ok(text.split("\r\n\r\n").next().unwrap().to_string())
    }

    #[test]
    fn marketing_mail_carries_one_click_unsubscribe_and_transactional_mail_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = mailer(dir.path());
        let body = Rendered {
            text: "News".into(),
            html: "<p>News</p>".into(),
            badge_payload: None,
            list_unsubscribe: Some("https://expo.example/u/tok123".into()),
        };
        let head = headers_of(&mailer, MailKind::Marketing, &body).unwrap();
        assert!(head.contains("List-Unsubscribe: <https://expo.example/u/tok123>\r\n"), "{head}");
        assert!(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{head}");
        assert!(!head.contains("Auto-Submitted"), "{head}");

        // Without its link, marketing mail is refused for good rather than sent.
        let bare = Rendered { list_unsubscribe: None, ..body.clone() };
        assert!(headers_of(&mailer, MailKind::Marketing, &bare).unwrap_err().permanent);

        for kind in [MailKind::Confirmation, MailKind::Reminder] {
            let head = headers_of(&mailer, kind, &body).unwrap();
            assert!(!head.contains("List-Unsubscribe"), "{kind}: {head}");
            assert!(head.contains("Auto-Submitted: auto-generated\r\n"), "{kind}: {head}");
        }
    }
}
