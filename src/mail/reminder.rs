//! "Here is your link again": sent when someone asks for the badge and link on the resend
//! form, or submits the registration form again for an address already registered. It
//! always carries a new privacy link (the old one stops working) and the badge.

use html_escape::encode_text as esc;
use serde::{Deserialize, Serialize};

use super::confirmation::{Organiser, TRANSACTIONAL, confirm_paragraph, organiser_paragraph};
use super::rendered::Rendered;
use crate::badges::BadgeCode;

const IGNORE: &str = "If you did not ask for this, you can ignore this message; only this address received it.";

/// Why the reminder is sent; it changes the opening sentence (and, sent by staff, leaves
/// out "if you did not ask for this").
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The registration form was sent again for this address.
    AlreadyRegistered,
    /// Someone asked for the badge and link on the resend form.
    Requested,
    /// Staff sent them: the console's "E-mail a new privacy link", or a resend of an
    /// earlier confirmation or reminder, whose link no longer works.
    Organiser,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Facts {
    pub reason: Reason,
    pub name: String,
    pub event: String,
    pub privacy_url: String,
    /// `None` when the participant has no valid badge (staff revoked it).
    pub badge_payload: Option<String>,
    /// A fresh double opt-in link, while form opt-ins still await confirmation.
    pub confirm_url: Option<String>,
    /// Absent from bodies queued before it was added.
    #[serde(default)]
    pub organiser: Organiser,
}

/// Nothing personal in the subject.
pub fn subject(event_name: &str, reason: Reason) -> String {
    match reason {
        Reason::AlreadyRegistered => format!("You are already registered for {event_name}"),
        Reason::Requested | Reason::Organiser => format!("Your badge and privacy link for {event_name}"),
    }
}

pub fn render(f: &Facts) -> Rendered {
    let opening = match f.reason {
        Reason::AlreadyRegistered => format!(
            "someone (probably you) sent the registration form for {} again with this address. \
             You are already registered, so nothing was changed; here are your badge and your link.",
            f.event
        ),
        Reason::Requested => {
            format!("someone (probably you) asked for your badge and privacy link for {}.", f.event)
        }
        Reason::Organiser => format!("the organiser of {} sent you your badge and a new privacy link.", f.event),
    };
    let (ignore_text, ignore_html) = match f.reason {
        Reason::Organiser => (String::new(), String::new()),
        Reason::AlreadyRegistered | Reason::Requested => (format!("{IGNORE}\n\n"), format!("<p>{IGNORE}</p>")),
    };
    let fallback = f.badge_payload.as_deref().and_then(|p| BadgeCode::readings(p).first().map(BadgeCode::fallback));
    let link = &f.privacy_url;
    // One "ignore this" sentence: the reminder's own where it has one.
    let (confirm_text, confirm_html) = confirm_paragraph(f.confirm_url.as_deref(), f.reason == Reason::Organiser);
    let (organiser_text, organiser_html) = organiser_paragraph(&f.organiser);
    let badge_text = match &fallback {
        Some(code) => format!(
            "Your badge is the QR code in this message: show it at the entrance and at partners' booths. \
             If a camera cannot read it, the code is:\n\n    {code}\n\n"
        ),
        None => "You have no valid badge at the moment; please ask the organiser at the entrance.\n\n".to_string(),
    };
    let badge_html = match &fallback {
        Some(code) => format!(
            "<p>Show this badge at the entrance and at partners' booths:</p>\
             <p><img src=\"cid:badge\" alt=\"Your badge (QR code)\" width=\"240\" height=\"240\"></p>\
             <p>If a camera cannot read it, the code is <code>{}</code>.</p>",
            esc(code)
        ),
        None => "<p>You have no valid badge at the moment; please ask the organiser at the entrance.</p>".to_string(),
    };
    let text = format!(
        "Hello {name},\n\n{opening}\n\n{badge_text}\
         Your personal privacy page (keep this link private). This is a new link: any link we sent you \
         before no longer works.\n\n    {link}\n\n\
         {confirm_text}{ignore_text}{organiser_text}{TRANSACTIONAL}\n",
        name = f.name,
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head><body>\
         <p>Hello {name},</p><p>{opening}</p>{badge_html}\
         <p>Your personal privacy page (keep this link private): <a style=\"word-break:break-all\" href=\"{href}\">{link_text}</a>. \
         This is a new link: any link we sent you before no longer works.</p>{confirm_html}{ignore_html}{organiser_html}\
         <p><small>{TRANSACTIONAL}</small></p></body></html>",
        title = esc(&subject(&f.event, f.reason)),
        name = esc(&f.name),
        opening = esc(&opening),
        href = html_escape::encode_double_quoted_attribute(link),
        link_text = esc(link),
    );
    Rendered { text, html, badge_payload: f.badge_payload.clone(), list_unsubscribe: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(reason: Reason) -> Facts {
        Facts {
            reason,
            name: "Ann Lee".into(),
            event: "Expo".into(),
            privacy_url: "https://badges.example.org/me/abc".into(),
            badge_payload: None,
            confirm_url: Some("https://badges.example.org/e/expo/confirm/def".into()),
            organiser: Organiser::default(),
        }
    }

    #[test]
    fn a_reminder_with_a_confirmation_link_says_once_that_a_stranger_may_ignore_it() {
        for reason in [Reason::AlreadyRegistered, Reason::Requested, Reason::Organiser] {
            let r = render(&facts(reason));
            for body in [&r.text, &r.html] {
                assert_eq!(body.matches("ignore this message").count(), 1, "{reason:?}: {body}");
            }
        }
    }
}
