//! The notice to a participant whose data an incident exposed: what happened, which of
//! *their* data went to whom, what they can do, and whom to contact. Each message is built
//! from that participant's own ledger rows only.

use html_escape::encode_text as esc;
use serde::{Deserialize, Serialize};

use super::confirmation::TRANSACTIONAL_NOTICE;
use super::rendered::Rendered;

/// One recipient of the participant's data within the incident.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Exposed {
    pub recipient: String,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Facts {
    pub name: String,
    pub event: String,
    /// The incident's nature as staff described it.
    pub what_happened: String,
    pub exposed: Vec<Exposed>,
    pub contact: String,
    /// The resend form, where the participant gets a new privacy link by mail.
    pub resend_url: String,
    /// What the operator did about it (the incident's mitigation), once staff entered it.
    /// Absent in notices sealed before it was added.
    #[serde(default)]
    pub measures: Option<String>,
}

pub fn subject(event_name: &str) -> String {
    format!("Security incident affecting your data for {event_name}")
}

fn field_label(f: &str) -> &str {
    match f {
        "name" => "name",
        "company" => "company",
        "address" => "postal address",
        "phone" => "phone number",
        "email" => "e-mail address",
        other => other,
    }
}

fn lines(f: &Facts) -> Vec<String> {
    f.exposed
        .iter()
        .map(|e| format!("{}: {}", e.recipient, e.fields.iter().map(|x| field_label(x)).collect::<Vec<_>>().join(", ")))
        .collect()
}

const WHAT_YOU_CAN_DO: &str = "Be careful with unexpected messages or calls that mention this event or use the data \
    above, and do not give passwords or payment details in reply to them. On your personal privacy page you can see \
    every release of your data, stop sharing with partners, and delete your data. If you no longer have the link, \
    ask for a new one here:";

pub fn render(f: &Facts) -> Rendered {
    let lines = lines(f);
    let measures = f.measures.as_deref().map(str::trim).filter(|m| !m.is_empty());
    let measures_text = measures.map(|m| format!("What we have done about it:\n{m}\n\n")).unwrap_or_default();
    let measures_html =
        measures.map(|m| format!("<h2>What we have done about it</h2><p>{}</p>", esc(m))).unwrap_or_default();
    let text = format!(
        "Hello {name},\n\n\
         we are writing about a security incident that concerns the data you gave when registering for {event}.\n\n\
         What happened:\n{what}\n\n\
         Which of your data was concerned, and who obtained it:\n{list}\n\n\
         {measures_text}What you can do:\n{WHAT_YOU_CAN_DO}\n\n    {resend}\n\n\
         Contact for questions about this incident:\n{contact}\n\n\
         {TRANSACTIONAL_NOTICE}\n",
        name = f.name,
        event = f.event,
        what = f.what_happened,
        list = lines.iter().map(|l| format!("- {l}")).collect::<Vec<_>>().join("\n"),
        resend = f.resend_url,
        contact = f.contact,
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head><body>\
         <p>Hello {name},</p><p>we are writing about a security incident that concerns the data you gave when \
         registering for <strong>{event}</strong>.</p><h2>What happened</h2><p>{what}</p>\
         <h2>Which of your data was concerned, and who obtained it</h2><ul>{list}</ul>{measures_html}\
         <h2>What you can do</h2><p>{todo} <a style=\"word-break:break-all\" href=\"{href}\">{resend}</a></p>\
         <h2>Contact</h2><p>{contact}</p><p><small>{TRANSACTIONAL_NOTICE}</small></p></body></html>",
        title = esc(&subject(&f.event)),
        name = esc(&f.name),
        event = esc(&f.event),
        what = esc(&f.what_happened),
        list = lines.iter().map(|l| format!("<li>{}</li>", esc(l))).collect::<String>(),
        todo = esc(WHAT_YOU_CAN_DO),
        href = html_escape::encode_double_quoted_attribute(&f.resend_url),
        resend = esc(&f.resend_url),
        contact = esc(&f.contact),
    );
    Rendered { text, html, badge_payload: None, list_unsubscribe: None }
}
