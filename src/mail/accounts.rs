//! Account mail: an invitation to set a password, a password reset link, and the notice
//! telling a partner admin to delete what their organisation received about a participant.

use html_escape::encode_text as esc;
use serde::{Deserialize, Serialize};

use super::rendered::Rendered;

const TRANSACTIONAL: &str = "This is a transactional message about your account; it is not marketing.";

/// A deletion notice is about a participant, not the recipient's account: it is sent
/// because the partner received the participant's data and must now delete it.
const TRANSACTIONAL_DELETION: &str = "This is a transactional message: your organisation received this \
    participant's data through the event, and we must pass on their decision; it is not marketing.";

/// An invitation: the invitee chooses their own password through the link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvitationFacts {
    pub event: String,
    pub partner: String,
    pub role: String,
    pub link: String,
    pub valid_hours: i64,
    /// Where the account is used once its password is chosen: the scanner app for booth
    /// staff, the sign-in page of the portal for partner admins. Absent in invitations
    /// sealed before it was added.
    #[serde(default)]
    pub use_at: Option<String>,
}

/// A password reset link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResetFacts {
    pub link: String,
    pub valid_minutes: i64,
}

/// A deletion notice: names the participant only by what the partner already holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeletionFacts {
    pub event: String,
    pub partner: String,
    pub notice_id: String,
    pub lead_id: Option<String>,
    /// The name as released to this partner; absent if the name was never released to it.
    pub released_name: Option<String>,
    /// `erasure` or `withdrawal`.
    pub reason: String,
}

pub const INVITATION_SUBJECT: &str = "You are invited to badgegate: choose your password";
pub const RESET_SUBJECT: &str = "Reset your badgegate password";
pub const DELETION_SUBJECT: &str = "Please delete a participant's data";

fn html_page(title: &str, paragraphs: &[String], footer: &str) -> String {
    let body: String = paragraphs.iter().filter(|p| !p.is_empty()).map(|p| format!("<p>{p}</p>")).collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title></head><body>{body}\
         <p><small>{footer}</small></p></body></html>",
        esc(title)
    )
}

fn link_html(link: &str) -> String {
    format!(
        "<a style=\"word-break:break-all\" href=\"{}\">{}</a>",
        html_escape::encode_double_quoted_attribute(link),
        esc(link)
    )
}

pub fn render_invitation(f: &InvitationFacts) -> Rendered {
    let use_at_text = f
        .use_at
        .as_deref()
        .map(|u| format!("Then sign in with this e-mail address and your password here:\n\n    {u}\n\n"))
        .unwrap_or_default();
    let text = format!(
        "Hello,\n\nyou have been given a {role} account for {partner} at {event}.\n\n\
         Choose your password here (the link works once and for {hours} hours):\n\n    {link}\n\n\
         {use_at_text}If you did not expect this message, ignore it: the account cannot be used without a password.\n\n\
         {TRANSACTIONAL}\n",
        role = f.role,
        partner = f.partner,
        event = f.event,
        hours = f.valid_hours,
        link = f.link,
    );
    let html = html_page(
        INVITATION_SUBJECT,
        &[
            "Hello,".to_string(),
            format!(
                "you have been given a {} account for <strong>{}</strong> at <strong>{}</strong>.",
                esc(&f.role),
                esc(&f.partner),
                esc(&f.event)
            ),
            format!(
                "Choose your password here (the link works once and for {} hours): {}",
                f.valid_hours,
                link_html(&f.link)
            ),
            f.use_at
                .as_deref()
                .map(|u| format!("Then sign in with this e-mail address and your password here: {}", link_html(u)))
                .unwrap_or_default(),
            "If you did not expect this message, ignore it: the account cannot be used without a password.".to_string(),
        ],
        TRANSACTIONAL,
    );
    Rendered { text, html, badge_payload: None, list_unsubscribe: None }
}

pub fn render_reset(f: &ResetFacts) -> Rendered {
    let text = format!(
        "Hello,\n\nsomeone asked to reset the password of your badgegate account.\n\n\
         Choose a new password here (the link works once and for {minutes} minutes); \
         every session of the account ends when you do:\n\n    {link}\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n\n{TRANSACTIONAL}\n",
        minutes = f.valid_minutes,
        link = f.link,
    );
    let html = html_page(
        RESET_SUBJECT,
        &[
            "Hello,".to_string(),
            "someone asked to reset the password of your badgegate account.".to_string(),
            format!(
                "Choose a new password here (the link works once and for {} minutes); every session of the \
                 account ends when you do: {}",
                f.valid_minutes,
                link_html(&f.link)
            ),
            "If you did not ask for this, ignore this message: your password stays as it is.".to_string(),
        ],
        TRANSACTIONAL,
    );
    Rendered { text, html, badge_payload: None, list_unsubscribe: None }
}

fn who(f: &DeletionFacts) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(lead) = &f.lead_id {
        lines.push(format!("Lead id: {lead}"));
    }
    if let Some(name) = &f.released_name {
        lines.push(format!("Name: {name}"));
    }
    if lines.is_empty() {
        lines.push(format!("Notice id: {}", f.notice_id));
    }
    lines
}

pub fn render_deletion(f: &DeletionFacts) -> Rendered {
    let why = if f.reason == "erasure" {
        "has had their data erased"
    } else {
        "has withdrawn their consent to share their data with you"
    };
    let who = who(f);
    let text = format!(
        "Hello,\n\na participant of {event} whose contact details {partner} received {why}. \
         Please delete everything your organisation holds about them (exports, CRM entries, notes), \
         then acknowledge this notice under \"Deletion notices\" in the partner portal (notice {id}).\n\n\
         {who}\n\n{TRANSACTIONAL_DELETION}\n",
        event = f.event,
        partner = f.partner,
        id = f.notice_id,
        who = who.join("\n"),
    );
    let html = html_page(
        DELETION_SUBJECT,
        &[
            "Hello,".to_string(),
            format!(
                "a participant of <strong>{}</strong> whose contact details {} received {why}. Please delete \
                 everything your organisation holds about them (exports, CRM entries, notes), then acknowledge \
                 this notice under “Deletion notices” in the partner portal (notice <code>{}</code>).",
                esc(&f.event),
                esc(&f.partner),
                esc(&f.notice_id)
            ),
            who.iter().map(|l| esc(l).to_string()).collect::<Vec<_>>().join("<br>"),
        ],
        TRANSACTIONAL_DELETION,
    );
    Rendered { text, html, badge_payload: None, list_unsubscribe: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(name: Option<&str>, lead: Option<&str>) -> DeletionFacts {
        DeletionFacts {
            event: "Expo".into(),
            partner: "Acme".into(),
            notice_id: "n-1".into(),
            lead_id: lead.map(str::to_string),
            released_name: name.map(str::to_string),
            reason: "erasure".into(),
        }
    }

    #[test]
    fn a_deletion_notice_names_only_what_the_partner_received() {
        let with = render_deletion(&facts(Some("Ann <Lee>"), Some("lead-7")));
        assert!(with.text.contains("Name: Ann <Lee>") && with.text.contains("Lead id: lead-7"));
        assert!(with.html.contains("Ann &lt;Lee&gt;"), "escaped in HTML");
        let without = render_deletion(&facts(None, Some("lead-7")));
        assert!(!without.text.contains("Name:") && !without.html.contains("Name:"));
        assert!(without.badge_payload.is_none());
    }
}
