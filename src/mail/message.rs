//! What a message is before it is stored: its kind, its facts, its recipient; and the
//! statuses a stored message goes through.

use serde::{Deserialize, Serialize};

use super::rendered::Rendered;
use super::{accounts, breach, confirmation, reminder};
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
            MailKind::Confirmation
            | MailKind::Reminder
            | MailKind::BreachNotice
            | MailKind::Invitation
            | MailKind::PasswordReset
            | MailKind::DeletionNotice => true,
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
    Invitation(accounts::InvitationFacts),
    PasswordReset(accounts::ResetFacts),
    DeletionNotice(accounts::DeletionFacts),
    Reminder(reminder::Facts),
    BreachNotice(breach::Facts),
}

impl Body {
    pub fn render(&self) -> Rendered {
        match self {
            Body::Confirmation(facts) => confirmation::render(facts),
            Body::Invitation(facts) => accounts::render_invitation(facts),
            Body::PasswordReset(facts) => accounts::render_reset(facts),
            Body::DeletionNotice(facts) => accounts::render_deletion(facts),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One body of every template.
    fn every_body() -> Vec<(MailKind, Body)> {
        vec![
            (
                MailKind::Confirmation,
                Body::Confirmation(confirmation::Facts {
                    name: "Ann".into(),
                    event: "Expo".into(),
                    privacy_url: "https://x/me/t".into(),
                    badge_payload: "BG1-X".into(),
                    share_with_all: true,
                    share_with: Vec::new(),
                    marketing_emails: false,
                    confirm_url: Some("https://x/e/expo/confirm/c".into()),
                    organiser: confirmation::Organiser {
                        contact: Some("Expo Ltd, privacy@expo.example".into()),
                        privacy_notice_url: Some("https://expo.example/privacy".into()),
                    },
                }),
            ),
            (
                MailKind::Reminder,
                Body::Reminder(reminder::Facts {
                    reason: reminder::Reason::Requested,
                    name: "Ann".into(),
                    event: "Expo".into(),
                    privacy_url: "https://x/me/t".into(),
                    badge_payload: None,
                    confirm_url: None,
                    organiser: confirmation::Organiser::default(),
                }),
            ),
            (
                MailKind::BreachNotice,
                Body::BreachNotice(breach::Facts {
                    name: "Ann".into(),
                    event: "Expo".into(),
                    what_happened: "A laptop was stolen.".into(),
                    exposed: vec![breach::Exposed { recipient: "Acme".into(), fields: vec!["email".into()] }],
                    contact: "privacy@x".into(),
                    resend_url: "https://x/e/expo/resend".into(),
                    measures: Some("We changed every password.".into()),
                }),
            ),
        ]
    }

    #[test]
    fn transactional_mail_says_it_is_transactional_in_text_and_html() {
        for (kind, body) in every_body() {
            assert!(kind.is_transactional(), "{kind}");
            let r = body.render();
            assert!(r.text.contains("This is a transactional message"), "{kind}: {}", r.text);
            assert!(r.html.contains("This is a transactional message"), "{kind}");
            assert!(r.list_unsubscribe.is_none(), "{kind}");
        }
        assert!(!MailKind::Marketing.is_transactional());
    }

    #[test]
    fn participants_are_told_who_the_organiser_is_where_the_event_says() {
        let (_, with) = every_body().remove(0);
        let r = with.render();
        for part in [&r.text, &r.html] {
            assert!(part.contains("Organiser: Expo Ltd, privacy@expo.example"), "{part}");
            assert!(part.contains("https://expo.example/privacy"), "{part}");
        }
        let (_, without) = every_body().remove(1);
        assert!(!without.render().text.contains("Organiser:"));
    }

    #[test]
    fn the_confirmation_carries_the_double_opt_in_link_only_when_needed() {
        let (_, body) = every_body().remove(0);
        assert!(body.render().text.contains("https://x/e/expo/confirm/c"));
        let Body::Confirmation(mut facts) = body else { return };
        facts.confirm_url = None;
        assert!(!Body::Confirmation(facts).render().text.contains("/confirm/"));
    }
}
