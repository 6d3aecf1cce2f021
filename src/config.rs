//! Command line and environment configuration.
//!
//! Every option is global so that every subcommand (`serve`, `admin create`,
//! `openapi`) reads the same variables: an operator sets them once.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "badgegate", version, about = "Consent-gated badge scanning and lead retrieval for events")]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "BADGEGATE_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,

    /// Database URL: `sqlite://PATH`, `sqlite::memory:`, `postgres://…` or `postgresql://…`.
    /// Defaults to a SQLite file in the data directory.
    #[arg(long, env = "BADGEGATE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Directory for the SQLite database and generated secrets.
    #[arg(long, env = "BADGEGATE_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Token signing secret (at least 32 bytes). Generated and kept in the data dir when absent.
    #[arg(long, env = "BADGEGATE_TOKEN_SECRET", global = true, hide_env_values = true)]
    pub token_secret: Option<String>,

    /// Key from which badge codes are derived (at least 32 bytes). Generated and kept in the
    /// data dir when absent. Instances sharing one PostgreSQL must share this key.
    #[arg(long, env = "BADGEGATE_BADGE_SECRET", global = true, hide_env_values = true)]
    pub badge_secret: Option<String>,

    /// PEM certificate chain; with --tls-key the service speaks HTTPS only.
    #[arg(long, env = "BADGEGATE_TLS_CERT", global = true, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "BADGEGATE_TLS_KEY", global = true, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Log output format.
    #[arg(long, env = "BADGEGATE_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Base URL printed in participants' links; defaults to the bound address.
    #[arg(long, env = "BADGEGATE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// How many password hashes may run at once (defaults to the number of cores minus one,
    /// at least one).
    #[arg(long, env = "BADGEGATE_HASH_CONCURRENCY", global = true)]
    pub hash_concurrency: Option<usize>,

    /// Database connection pool size.
    #[arg(long, env = "BADGEGATE_DB_POOL_SIZE", default_value_t = 8, global = true)]
    pub db_pool_size: u32,

    /// HTTP worker threads (defaults to the number of cores).
    #[arg(long, env = "BADGEGATE_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Reverse proxies whose `X-Forwarded-For` entry names the client (comma-separated IP
    /// addresses or CIDR networks). The header of any other peer is ignored.
    #[arg(long, env = "BADGEGATE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy, global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Logins and password changes per client IP per minute, per instance (0: no limit).
    #[arg(long, env = "BADGEGATE_LOGIN_LIMIT", default_value_t = DEFAULT_LOGIN_LIMIT, global = true)]
    pub login_limit: u32,

    /// Public registration form submissions per client IP per minute, per instance (0: no limit).
    #[arg(long, env = "BADGEGATE_REGISTER_LIMIT", default_value_t = DEFAULT_REGISTER_LIMIT, global = true)]
    pub register_limit: u32,

    /// Privacy-page actions (and one-click unsubscribes) per client IP per minute, per
    /// instance (0: no limit).
    #[arg(long, env = "BADGEGATE_PRIVACY_LIMIT", default_value_t = DEFAULT_PRIVACY_LIMIT, global = true)]
    pub privacy_limit: u32,

    /// SMTP server for outgoing mail: `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587`
    /// (STARTTLS, required) or `smtp://127.0.0.1:PORT?tls=none` (a local server, no TLS).
    /// Without it, every message is written as an `.eml` file into DATA_DIR/outbox/.
    #[arg(long, env = "BADGEGATE_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail, e.g. `Expo Registration <registration@example.org>`.
    #[arg(long, env = "BADGEGATE_MAIL_FROM", default_value = DEFAULT_MAIL_FROM, global = true)]
    pub mail_from: String,

    /// Address of a second listener that answers `GET /metrics` (Prometheus text format);
    /// off when unset. It has no authentication: bind it to an address only the
    /// monitoring network reaches, never the public one.
    #[arg(long, env = "BADGEGATE_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// Milliseconds before the first retry of a message that could not be delivered; each
    /// further retry waits twice as long, at most an hour.
    #[arg(long, env = "BADGEGATE_MAIL_RETRY_MS", default_value_t = 10_000, global = true)]
    pub mail_retry_ms: u64,
}

pub const DEFAULT_MAIL_FROM: &str = "badgegate <noreply@localhost>";

// Sized for a venue where a whole hall shares one NAT address: every scanner phone signs
// in when the doors open, a registration desk sends the public form for walk-ins, and
// attendees on the venue Wi-Fi use their privacy pages.
pub const DEFAULT_LOGIN_LIMIT: u32 = 60;
pub const DEFAULT_REGISTER_LIMIT: u32 = 60;
pub const DEFAULT_PRIVACY_LIMIT: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve,
    /// Manage staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the OpenAPI document of the API.
    Openapi,
    /// Purge every event past its retention period (`retention_days` after its end) and
    /// rewrite the tables it changed; run while the service runs (it also runs daily).
    Purge {
        /// Also rewrite every table that ever held personal data when no event was due
        /// (VACUUM FULL on PostgreSQL; VACUUM and an emptied WAL on SQLite), so erasures'
        /// old row versions leave the files. Takes each table's lock for its rewrite.
        #[arg(long)]
        compact: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a staff account; the password is read from standard input (one line).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value = "admin")]
        role: StaffRoleArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffRoleArg {
    Admin,
    Registrar,
}

impl Settings {
    /// Settings for tests and embedding: everything default except what is given.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            data_dir,
            token_secret: None,
            badge_secret: None,
            tls_cert: None,
            tls_key: None,
            log_format: LogFormat::Text,
            public_url: None,
            hash_concurrency: None,
            db_pool_size: 8,
            workers: Some(2),
            trusted_proxies: Vec::new(),
            login_limit: DEFAULT_LOGIN_LIMIT,
            register_limit: DEFAULT_REGISTER_LIMIT,
            privacy_limit: DEFAULT_PRIVACY_LIMIT,
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.to_string(),
            mail_retry_ms: 10_000,
            metrics_bind: None,
        }
    }

    pub fn mail(&self) -> crate::mail::transport::MailConfig {
        crate::mail::transport::MailConfig {
            smtp_url: self.smtp_url.clone(),
            from: self.mail_from.clone(),
            retry_base: std::time::Duration::from_millis(self.mail_retry_ms),
        }
    }

    pub fn ip_limits(&self) -> IpLimitSettings {
        IpLimitSettings {
            sign_in_per_minute: self.login_limit,
            registration_per_minute: self.register_limit,
            privacy_page_per_minute: self.privacy_limit,
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("badgegate.db").display()),
        }
    }
}

/// Base of the links handed to participants (privacy page, badge images), without a
/// trailing slash.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub String);

/// Requests per minute per client IP for each class; 0 switches a limit off.
#[derive(Debug, Clone, Copy)]
pub struct IpLimitSettings {
    pub sign_in_per_minute: u32,
    pub registration_per_minute: u32,
    pub privacy_page_per_minute: u32,
}

/// A `--trusted-proxies` entry: an address or a CIDR network.
pub fn parse_proxy(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{value}` is neither an IP address nor a CIDR network"))
}
