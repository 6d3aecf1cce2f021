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

/// The participants of unfinished imports, as a subquery: built whole for each statement,
/// so only for rare statements (releasing held mail at start), never per scan or row.
pub const PENDING_IDS: &str = "SELECT a.id FROM import_runs r JOIN attendees a ON a.import_run = r.id";

/// [`SETTLED`] as a filter expression.
pub fn settled() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(SETTLED)
}

/// [`SETTLED_BADGE`] as a filter expression.
pub fn settled_badge() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(SETTLED_BADGE)
}

/// Whether a participant with this `import_run` belongs to an import still going in.
pub fn is_pending(conn: &mut super::DbConn, import_run: Option<&str>) -> crate::error::AppResult<bool> {
    use diesel::prelude::*;
    let Some(run) = import_run else { return Ok(false) };
    let found: i64 = super::schema::import_runs::table.find(run).count().get_result(conn)?;
    Ok(found > 0)
}
