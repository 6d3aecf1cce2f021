//! Form fields of the pages: a label, the control, and its error beside it, tied to the
//! control with `aria-invalid` and `aria-describedby`, so a screen reader announces it
//! with the field and a sighted reader finds it where they type.

use maud::{Markup, html};

use crate::error::FieldError;

/// The label people read for a form field's name (errors name fields as the API does).
pub fn label_of(field: &str) -> &str {
    match field {
        "name" => "Name",
        "email" => "E-mail",
        "company" => "Company",
        "phone" => "Phone",
        "address" => "Address",
        "is_adult" => "Age confirmation",
        "share_with_partners" | "share_with_all_partners" => "Sharing with partners",
        "marketing_emails" => "Marketing e-mails",
        "page" => "The page number",
        "per_page" => "Items per page",
        other => other,
    }
}

/// An error message of the core ("is required") as a sentence about the field
/// ("Name is required."); a message that is a sentence of its own is kept as one.
pub fn sentence(field: &str, message: &str) -> String {
    let field = field.split('[').next().unwrap_or(field);
    let starts_with_verb = ["is ", "must ", "may ", "contains ", "has "].iter().any(|v| message.starts_with(v));
    let mut text = if starts_with_verb && !field.is_empty() {
        format!("{} {message}", label_of(field))
    } else {
        let mut chars = message.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
    };
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// The errors of one field (and of its items, `share_with_partners[2]`), as sentences.
pub fn error_for(errors: &[FieldError], field: &str) -> Option<String> {
    let item = format!("{field}[");
    let found: Vec<String> = errors
        .iter()
        .filter(|e| e.field == field || e.field.starts_with(&item))
        .map(|e| sentence(&e.field, &e.message))
        .collect();
    (!found.is_empty()).then(|| found.join(" "))
}

/// One labelled input or text area.
pub struct Field<'a> {
    /// The element id; the error's id is this with `-error`.
    pub id: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    /// `text`, `email`, `tel`, … or `textarea`.
    pub kind: &'a str,
    pub value: &'a str,
    pub autocomplete: &'a str,
    pub required: bool,
    pub error: Option<String>,
}

impl Field<'_> {
    pub fn render(&self) -> Markup {
        let error_id = format!("{}-error", self.id);
        let invalid = self.error.is_some();
        html! {
            label for=(self.id) { (self.label) @if self.required { " (required)" } }
            @if self.kind == "textarea" {
                textarea id=(self.id) name=(self.name) rows="3" autocomplete=(self.autocomplete)
                    aria-invalid=[invalid.then_some("true")] aria-describedby=[invalid.then_some(&error_id)] { (self.value) }
            } @else {
                input type=(self.kind) id=(self.id) name=(self.name) value=(self.value) autocomplete=(self.autocomplete)
                    required[self.required] aria-invalid=[invalid.then_some("true")]
                    aria-describedby=[invalid.then_some(&error_id)];
            }
            @if let Some(error) = &self.error {
                div.error id=(error_id) { (error) }
            }
        }
    }
}
