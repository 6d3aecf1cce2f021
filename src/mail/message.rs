//! What a message is before it is stored: its kind, its facts, its recipient; and the
//! statuses a stored message goes through.

use serde::{Deserialize, Serialize};

use super::rendered::Rendered;
use super::{breach, confirmation, reminder};
use crate::db::text_enum;

text_enum! {
    #[derive(utoipa::ToSchema)]
    pub enum MailStatus {
        /// Waiting for its first or next attempt (`next_attempt_at`).
        Queued = "queued",
        /// Claimed by a worker, whose lease has not expired yet.
        Sending = "sending",
        /// Accepted by the SMTP server (or written to the outbox directory).
        Sent = "sent",
        /// Refused permanently, or still failing after the last retry.
        Failed = "failed",
    }
}

text_enum! {
    /// Why a message was sent; tells staff what it is without showing its body.
    #[derive(utoipa::ToSchema)]
    pub enum MailKind {
        /// The participant's badge and privacy link, after registration.
        Confirmation = "confirmation",
        /// The badge and a new privacy link again: asked for on the resend form, or the
        /// registration form was sent again for a registered address.
        Reminder = "reminder",
        /// The notice of a security incident to a participant whose data it exposed.
        BreachNotice = "breach_notice",
        /// News about future events, to participants who asked for it. Nothing sends it yet;
        /// the transport already gives it the RFC 8058 one-click unsubscribe headers.
        Marketing = "marketing",
    }
}

impl MailKind {
    /// Transactional mail is sent because of something the recipient did (or must be told),
    /// whatever their marketing choice; its text says so. Marketing mail carries
    /// `List-Unsubscribe` instead.
    pub fn is_transactional(self) -> bool {
        match self {
            MailKind::Confirmation | MailKind::Reminder | MailKind::BreachNotice => true,
            MailKind::Marketing => false,
        }
    }
}

/// What a message says, as the facts its template needs (not as rendered text): sealed
/// in `mail_outbox.body`, where a few hundred bytes fit in the row's page, and rendered to
/// text, HTML and the badge image only by the worker at delivery. Storing the rendered
/// message instead (about 6 KB with its HTML) cost registrations 40 % of their throughput
/// on SQLite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Body {
    Confirmation(confirmation::Facts),
    Reminder(reminder::Facts),
    BreachNotice(breach::Facts),
}

impl Body {
    pub fn render(&self) -> Rendered {
        match self {
            Body::Confirmation(facts) => confirmation::render(facts),
            Body::Reminder(facts) => reminder::render(facts),
            Body::BreachNotice(facts) => breach::render(facts),
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: MailKind,
    pub event_id: Option<String>,
    /// The participant the message is about, so erasure finds it.
    pub attendee_id: Option<String>,
    pub to: String,
    /// Nothing personal: subjects show in notifications and server logs.
    pub subject: String,
    pub body: Body,
}
