//! The five contact fields a partner may receive: their names and order, one value type,
//! and the one validation every channel that writes them uses (registration by API, form
//! and import; the participant's correction).

use serde::Serialize;

use crate::auth::users::{check_email, normalise_email};
use crate::error::FieldError;
use crate::text::clean_text;

/// The contact fields in the order they are shown, exported and stored in an event's
/// `released_fields`.
pub const FIELDS: [&str; 5] = ["name", "company", "address", "phone", "email"];

const MAX_NAME: usize = 200;
const MAX_COMPANY: usize = 200;
const MAX_PHONE: usize = 40;
const MAX_ADDRESS: usize = 500;

/// Contact details, each field present or not: what a participant typed, the fields of a
/// correction, or what one release carries (only the fields allowed to leave).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub name: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Contact {
    /// The fields named in `fields`, the others left out.
    pub fn only(self, fields: &[&str]) -> Contact {
        let has = |f: &str| fields.contains(&f);
        Contact {
            name: self.name.filter(|_| has("name")),
            company: self.company.filter(|_| has("company")),
            address: self.address.filter(|_| has("address")),
            phone: self.phone.filter(|_| has("phone")),
            email: self.email.filter(|_| has("email")),
        }
    }

    /// A participant's held details (name and e-mail always there).
    pub fn held(
        name: String,
        email: String,
        company: Option<String>,
        phone: Option<String>,
        address: Option<String>,
    ) -> Contact {
        Contact { name: Some(name), company, address, phone, email: Some(email) }
    }
}

/// Contact details that passed every check: what a participant's row holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidContact {
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// Cleans one field as it will be stored: trimmed, within its length, no control
/// characters (company and address may span lines: a department under a firm name), the
/// e-mail address normalised and checked, the phone number of phone characters only.
/// Answers `None` for an empty value; an empty name or e-mail is an error, as both are
/// required.
pub fn clean_field(errors: &mut Vec<FieldError>, field: &str, value: &str) -> Option<String> {
    let cleaned = match field {
        "email" => {
            let email = normalise_email(value);
            if let Err(e) = check_email(field, &email) {
                errors.push(e);
            }
            email
        }
        "name" => clean_text(errors, field, value, MAX_NAME, false),
        "company" => clean_text(errors, field, value, MAX_COMPANY, true),
        "address" => clean_text(errors, field, value, MAX_ADDRESS, true),
        "phone" => {
            let phone = clean_text(errors, field, value, MAX_PHONE, false);
            if !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
                errors.push(FieldError::new(field, "may hold only digits, spaces and + - ( ) ."));
            }
            phone
        }
        other => {
            errors.push(FieldError::new(other, "is not a contact field"));
            String::new()
        }
    };
    if cleaned.is_empty() && field == "name" {
        errors.push(FieldError::new(field, "is required"));
    }
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Checks a participant's contact details for registration: name and e-mail required,
/// the rest optional. Errors are added to `errors`; `None` when any field was refused.
pub fn validate(errors: &mut Vec<FieldError>, input: &Contact) -> Option<ValidContact> {
    let before = errors.len();
    let mut field = |name: &str, value: &Option<String>| clean_field(errors, name, value.as_deref().unwrap_or(""));
    let name = field("name", &input.name);
    let email = field("email", &input.email);
    let company = field("company", &input.company);
    let phone = field("phone", &input.phone);
    let address = field("address", &input.address);
    if errors.len() > before {
        return None;
    }
    Some(ValidContact { name: name?, email: email?, company, phone, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_requires_name_and_email_and_cleans_the_rest() {
        let mut errors = Vec::new();
        let input = Contact {
            name: Some("  Ann ".into()),
            email: Some(" Ann@Example.ORG".into()),
            phone: Some("".into()),
            ..Default::default()
        };
        let valid = validate(&mut errors, &input);
        assert_eq!(
            valid.map(|v| (v.name, v.email, v.phone)),
            Some(("Ann".to_string(), "ann@example.org".to_string(), None))
        );
        let mut errors = Vec::new();
        assert!(validate(&mut errors, &Contact::default()).is_none());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email"]);
    }

    #[test]
    fn a_release_carries_only_the_allowed_fields() {
        let c = Contact::held("Ann".into(), "a@b.c".into(), Some("Acme".into()), Some("1".into()), None);
        assert_eq!(
            c.only(&["name", "company"]),
            Contact { name: Some("Ann".into()), company: Some("Acme".into()), ..Default::default() }
        );
    }
}
