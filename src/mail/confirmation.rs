//! The confirmation a participant receives on registration: the badge inline, its
//! fallback code, the event, the privacy link and what they opted in to.

use html_escape::encode_text as esc;
use serde::{Deserialize, Serialize};

use super::rendered::Rendered;
use crate::badges::BadgeCode;

/// What the confirmation says, taken at registration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Facts {
    pub name: String,
    pub event: String,
    pub privacy_url: String,
    pub badge_payload: String,
    pub share_with_all: bool,
    /// Names of the partners opted in to one by one.
    pub share_with: Vec<String>,
    pub marketing_emails: bool,
    /// The double opt-in link, when the participant opted in to sharing on the public
    /// form: those choices take effect only once it is followed. Absent from bodies
    /// queued before double opt-in existed.
    #[serde(default)]
    pub confirm_url: Option<String>,
    /// Who runs the event and where its privacy notice is, as the event states them: the
    /// participant should know whom they registered with. Absent from bodies queued
    /// before they were added.
    #[serde(default)]
    pub organiser: Organiser,
}

/// The event's organiser contact and privacy notice, as the public pages show them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Organiser {
    pub contact: Option<String>,
    pub privacy_notice_url: Option<String>,
}

impl Organiser {
    pub fn of(event: &crate::events::EventRow) -> Organiser {
        Organiser { contact: event.organiser_contact.clone(), privacy_notice_url: event.privacy_notice_url.clone() }
    }
}

/// The organiser paragraph, text and HTML, shared with the reminder; empty when the event
/// states neither.
pub(crate) fn organiser_paragraph(o: &Organiser) -> (String, String) {
    let contact = o.contact.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let notice = o.privacy_notice_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    if contact.is_none() && notice.is_none() {
        return (String::new(), String::new());
    }
    let mut text = String::new();
    let mut html = String::from("<p>");
    if let Some(c) = contact {
        text.push_str(&format!("Organiser: {c}\n"));
        html.push_str(&format!("Organiser: {}", esc(c)));
    }
    if let Some(u) = notice {
        text.push_str(&format!("The organiser's privacy notice: {u}\n"));
        if contact.is_some() {
            html.push_str("<br>");
        }
        html.push_str(&format!(
            "The organiser's privacy notice: <a style=\"word-break:break-all\" href=\"{}\">{}</a>",
            html_escape::encode_double_quoted_attribute(u),
            esc(u)
        ));
    }
    text.push('\n');
    html.push_str("</p>");
    (text, html)
}

/// The subject names the event only: subjects show on lock screens and in server logs.
pub fn subject(event_name: &str) -> String {
    format!("Your badge for {event_name}")
}

/// For mail the law or the service requires, not caused by the recipient's own action.
pub(crate) const TRANSACTIONAL_NOTICE: &str = "This is a transactional message: we must inform you of this, \
    whatever you chose about e-mails on future events.";

pub(crate) const TRANSACTIONAL: &str = "This is a transactional message: it is sent because you registered, \
    whatever you chose about e-mails on future events.";

/// The double opt-in paragraph, text and HTML, shared with the reminder. `ignore`: say
/// that a stranger can ignore it (a reminder that says so itself passes `false`).
pub(crate) fn confirm_paragraph(url: Option<&str>, ignore: bool) -> (String, String) {
    let (ignore_text, ignore_html) = if ignore {
        (
            "If you did not register, ignore this message: nothing is shared.\n\n",
            "<p>If you did not register, ignore this message: nothing is shared.</p>",
        )
    } else {
        ("", "")
    };
    match url {
        None => (String::new(), String::new()),
        Some(url) => (
            format!(
                "You asked us to share your contact details with partners. This takes effect only \
                 once you confirm that this address is yours; open this link and press the button:\n\n    {url}\n\n\
                 {ignore_text}"
            ),
            format!(
                "<p>You asked us to share your contact details with partners. This takes effect only once you \
                 confirm that this address is yours: <a style=\"word-break:break-all\" href=\"{u}\">{t}</a> (open the link and press the button).</p>\
                 {ignore_html}",
                u = html_escape::encode_double_quoted_attribute(url),
                t = esc(url),
            ),
        ),
    }
}

fn choices(f: &Facts) -> Vec<String> {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    vec![
        format!("Share your contact details with all partners of this event: {}", yes_no(f.share_with_all)),
        format!(
            "Share your contact details with these partners: {}",
            if f.share_with.is_empty() { "none".to_string() } else { f.share_with.join(", ") }
        ),
        format!("E-mails about future events: {}", yes_no(f.marketing_emails)),
    ]
}

pub fn render(f: &Facts) -> Rendered {
    let fallback = BadgeCode::readings(&f.badge_payload).first().map(BadgeCode::fallback).unwrap_or_default();
    let link = &f.privacy_url;
    let choices = choices(f);
    let (confirm_text, confirm_html) = confirm_paragraph(f.confirm_url.as_deref(), true);
    let (organiser_text, organiser_html) = organiser_paragraph(&f.organiser);
    let text = format!(
        "Hello {name},\n\n\
         you are registered for {event}.\n\n\
         Your badge is the QR code in this message: show it at the entrance and at partners' booths. \
         If a camera cannot read it, the code is:\n\n    {fallback}\n\n\
         A partner who scans your badge at the event receives your contact details.\n\n\
         Your personal privacy page, where you can see who received your data, change your choices \
         and withdraw at any time (keep this link private):\n\n    {link}\n\n\
         What you chose:\n{choices}\n\n\
         {confirm_text}{organiser_text}{TRANSACTIONAL}\n",
        name = f.name,
        event = f.event,
        choices = choices.iter().map(|c| format!("- {c}")).collect::<Vec<_>>().join("\n"),
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head><body>\
         <p>Hello {name},</p><p>you are registered for <strong>{event}</strong>.</p>\
         <p>Show this badge at the entrance and at partners' booths:</p>\
         <p><img src=\"cid:badge\" alt=\"Your badge (QR code)\" width=\"240\" height=\"240\"></p>\
         <p>If a camera cannot read it, the code is <code>{fallback}</code>.</p>\
         <p>A partner who scans your badge at the event receives your contact details.</p>\
         <p>Your personal privacy page, where you can see who received your data, change your choices \
         and withdraw at any time (keep this link private): <a style=\"word-break:break-all\" href=\"{link}\">{link}</a></p>\
         <p>What you chose:</p><ul>{choices}</ul>{confirm_html}{organiser_html}<p><small>{TRANSACTIONAL}</small></p></body></html>",
        title = esc(&subject(&f.event)),
        name = esc(&f.name),
        event = esc(&f.event),
        fallback = esc(&fallback),
        link = html_escape::encode_double_quoted_attribute(link),
        choices = choices.iter().map(|c| format!("<li>{}</li>", esc(c))).collect::<String>(),
    );
    Rendered { text, html, badge_payload: Some(f.badge_payload.clone()), list_unsubscribe: None }
}
