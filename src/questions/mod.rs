//! Qualification questions: the short, ordered list a partner's scanner app asks after a
//! scan. Stored per partner as one JSON list (read and replaced whole); the phone keys its
//! scan answers by each question's `id`, which survives edits and reordering.

pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::PartnerScope;
use crate::db::schema::qualification_questions as qq;
use crate::db::{DbConn, now_ms, text_enum};
use crate::error::{AppError, AppResult, FieldError};
use crate::text::{TextKind, check_text};

pub const MAX_QUESTIONS: usize = 20;
pub const MAX_TEXT: usize = 200;
pub const MAX_OPTIONS: usize = 10;
pub const MAX_OPTION: usize = 100;

text_enum! {
    /// How the phone asks a question.
    #[derive(ToSchema)]
    pub enum QuestionKind {
        /// Free text.
        Text = "text",
        /// One of `options`.
        Choice = "choice",
        /// 0–5 stars.
        Rating = "rating",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable key of the answers (`[a-z0-9_-]`, at most 40). Left out on a new question:
    /// the server makes one.
    #[serde(default)]
    pub id: Option<String>,
    pub text: String,
    pub kind: QuestionKind,
    /// The choices of a `choice` question (2–10); empty for other kinds.
    #[serde(default)]
    pub options: Vec<String>,
}

/// The partner's questions, in the order the phone asks them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Questions {
    pub questions: Vec<Question>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Checks and normalises a new list: texts trimmed, ids kept or made, every error named by
/// its JSON path (`questions[2].options`).
pub fn validate(input: Questions) -> AppResult<Questions> {
    let mut errors = Vec::new();
    if input.questions.len() > MAX_QUESTIONS {
        errors.push(FieldError::new("questions", format!("at most {MAX_QUESTIONS} questions")));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, q) in input.questions.into_iter().enumerate() {
        let at = |f: &str| format!("questions[{i}].{f}");
        let text = q.text.trim().to_string();
        errors.extend(check_text(&at("text"), &text, TextKind::SingleLine).err());
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            errors.push(FieldError::new(at("text"), format!("must be 1 to {MAX_TEXT} characters")));
        }
        let id = match q.id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            Some(id) if valid_id(&id) => id,
            Some(_) => {
                errors.push(FieldError::new(at("id"), "must be 1 to 40 of a-z, 0-9, _ and -"));
                String::new()
            }
            None => format!("q-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        };
        if !id.is_empty() && !seen.insert(id.clone()) {
            errors.push(FieldError::new(at("id"), "is used by another question"));
        }
        let options: Vec<String> = q.options.iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
        for o in &options {
            errors.extend(check_text(&at("options"), o, TextKind::SingleLine).err());
        }
        match q.kind {
            QuestionKind::Choice
                if !(2..=MAX_OPTIONS).contains(&options.len())
                    || options.iter().any(|o| o.chars().count() > MAX_OPTION) =>
            {
                errors.push(FieldError::new(
                    at("options"),
                    format!("a choice needs 2 to {MAX_OPTIONS} options of at most {MAX_OPTION} characters"),
                ));
            }
            QuestionKind::Choice => {}
            _ if !options.is_empty() => {
                errors.push(FieldError::new(at("options"), "only a choice question has options"));
            }
            _ => {}
        }
        out.push(Question { id: Some(id), text, kind: q.kind, options });
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Questions { questions: out })
}

/// The partner's questions (an empty list until its admin writes some).
pub fn get(conn: &mut DbConn, scope: &PartnerScope) -> AppResult<Questions> {
    let stored: Option<String> = qq::table.find(&scope.partner_id).select(qq::questions).first(conn).optional()?;
    match stored {
        None => Ok(Questions::default()),
        Some(json) => serde_json::from_str(&json).map_err(AppError::internal),
    }
}

/// Replaces the partner's questions with a checked list (partner admin).
pub fn replace(conn: &mut DbConn, scope: &PartnerScope, input: Questions) -> AppResult<Questions> {
    let checked = validate(input)?;
    let json = serde_json::to_string(&checked).map_err(AppError::internal)?;
    // Delete and insert in the caller's write transaction: the same on both backends.
    diesel::delete(qq::table.find(&scope.partner_id)).execute(conn)?;
    diesel::insert_into(qq::table)
        .values((
            qq::partner_id.eq(&scope.partner_id),
            qq::questions.eq(json),
            qq::updated_at.eq(now_ms()),
            qq::updated_by.eq(&scope.user_id),
        ))
        .execute(conn)?;
    Ok(checked)
}
