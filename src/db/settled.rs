//! Participants whose import is still going in. An import on SQLite goes in by chunks
//! (`crate::attendees::import`); until its last chunk is in, its participants must not be
//! released, shown, scanned or counted (`migrations/*/000020_import_runs`). The tests are
//! SQL text because they apply inside joins of several shapes; `attendees` and `badges`
//! are the tables' own names.

/// True for a participant whose import is complete, or who was not imported.
pub const SETTLED: &str = "(attendees.import_run IS NULL OR attendees.import_run NOT IN (SELECT id FROM import_runs))";

/// [`SETTLED`] for a query on `badges`: the badge's participant is settled. Looked up per
/// badge: a list of the unfinished imports' participants, built for each scan, cost a
/// scan 100,000 rows in the middle of a large import.
pub const SETTLED_BADGE: &str = "NOT EXISTS (SELECT 1 FROM attendees a WHERE a.id = badges.attendee_id \
     AND a.import_run IN (SELECT id FROM import_runs))";

/// [`SETTLED`] as a filter expression.
pub fn settled() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(SETTLED)
}

/// [`SETTLED_BADGE`] as a filter expression.
pub fn settled_badge() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(SETTLED_BADGE)
}
