//! Text as the service accepts it: which fields may span lines, and which characters no
//! field may hold. One copy, used by the input middleware and by the core's validation.

use crate::error::FieldError;

/// Field names (JSON keys at any depth, form fields) whose text may span lines. A string
/// below one of these keys (e.g. `answers.q1`) is multi-line too.
pub const MULTILINE_FIELDS: &[&str] = &[
    "address",
    "answers",
    // A department under a firm name (see `attendees::validate`).
    "company",
    "contact",
    "corrective_action",
    // A choice question's options in the portal's form, one per line.
    "options",
    // The console's CSV import: a pasted file, one participant a line.
    "csv",
    "data_abused",
    "description",
    "further_investigation",
    "further_mitigation",
    "investigation",
    "mitigation",
    "nature",
    "notes",
    "perpetrators",
    "venue",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    SingleLine,
    MultiLine,
}

impl TextKind {
    pub fn of_field(name: &str) -> TextKind {
        if MULTILINE_FIELDS.contains(&name) { TextKind::MultiLine } else { TextKind::SingleLine }
    }
}

/// The message for a refused text, or `None` when the text is acceptable.
pub fn text_problem(text: &str, kind: TextKind) -> Option<&'static str> {
    let allowed = |c: char| kind == TextKind::MultiLine && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        Some(match kind {
            TextKind::SingleLine => "must not contain control characters",
            TextKind::MultiLine => "must not contain control characters other than line breaks and tabs",
        })
    } else {
        None
    }
}

pub fn check_text(field: &str, text: &str, kind: TextKind) -> Result<(), FieldError> {
    match text_problem(text, kind) {
        Some(message) => Err(FieldError::new(field, message)),
        None => Ok(()),
    }
}

/// A name fit for an error message: control characters shown escaped, never raw.
pub fn printable(name: &str) -> String {
    name.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}

/// Checks and renders a text field: trimmed, length-limited, no control characters.
pub fn clean_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize, allow_newlines: bool) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    } else if value.chars().any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\r'))) {
        errors.push(FieldError::new(field, "must not contain control characters"));
    }
    value.to_string()
}
