//! What a message is before it is stored: its kind, its facts, its recipient; and the
//! statuses a stored message goes through.

use serde::{Deserialize, Serialize};

use super::rendered::Rendered;
use super::{accounts, confirmation};
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
        /// A partner user's invitation to choose their password.
        Invitation = "invitation",
        /// A password reset link.
        PasswordReset = "password_reset",
        /// A partner admin told to delete a participant's data.
        DeletionNotice = "deletion_notice",
    }
}

impl MailKind {
    /// Transactional mail is sent because of something the recipient did, whatever their
    /// marketing choice; every kind so far is.
    pub fn is_transactional(self) -> bool {
        match self {
            MailKind::Confirmation | MailKind::Invitation | MailKind::PasswordReset | MailKind::DeletionNotice => true,
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
    Invitation(accounts::InvitationFacts),
    PasswordReset(accounts::ResetFacts),
    DeletionNotice(accounts::DeletionFacts),
}

impl Body {
    pub fn render(&self) -> Rendered {
        match self {
            Body::Confirmation(facts) => confirmation::render(facts),
            Body::Invitation(facts) => accounts::render_invitation(facts),
            Body::PasswordReset(facts) => accounts::render_reset(facts),
            Body::DeletionNotice(facts) => accounts::render_deletion(facts),
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
