DROP TABLE qualification_questions;
