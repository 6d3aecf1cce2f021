//! Privacy links replaced by newer ones. A link carries no event, so a replaced one could
//! only answer "not valid"; its hash is kept with the event it was for, so that its page
//! can name the event and offer that event's "lost my badge or link" form
//! (`migrations/*/000024_retired_links`).

use diesel::prelude::*;

use super::AttendeeRow;
use crate::auth::secrets::sha256_hex;
use crate::db::DbConn;
use crate::db::schema::{attendees, events, retired_links};
use crate::error::{AppError, AppResult};
use crate::events::EventRow;

/// Gives the participant the link hashed `new_hash` and keeps the current one as replaced
/// at `now`, in the caller's transaction. `a` is the row as [`super::locked`] read it; an erased
/// participant gets no link (404).
pub fn replace(conn: &mut DbConn, a: &AttendeeRow, new_hash: String, now: i64) -> AppResult<()> {
    if a.erased_at.is_some() {
        return Err(AppError::NotFound);
    }
    if let Some(old) = &a.privacy_token_hash {
        let row = (
            retired_links::token_hash.eq(old),
            retired_links::attendee_id.eq(&a.id),
            retired_links::event_id.eq(&a.event_id),
            retired_links::retired_at.eq(now),
        );
        // Under the lock no second replacement reads the same hash; a conflict would only
        // mean it is kept already, which must not fail the new link.
        match conn {
            DbConn::Pg(c) => {
                diesel::insert_into(retired_links::table).values(row).on_conflict_do_nothing().execute(c)?
            }
            DbConn::Sqlite(c) => diesel::insert_or_ignore_into(retired_links::table).values(row).execute(c)?,
        };
    }
    diesel::update(attendees::table.find(&a.id)).set(attendees::privacy_token_hash.eq(Some(new_hash))).execute(conn)?;
    Ok(())
}

/// The event a replaced link was for, and when it was replaced; `None` for a token that
/// never was a link, or whose participant was erased since.
pub fn find(conn: &mut DbConn, token: &str) -> AppResult<Option<(EventRow, i64)>> {
    Ok(retired_links::table
        .inner_join(events::table.on(events::id.eq(retired_links::event_id)))
        .inner_join(attendees::table.on(attendees::id.eq(retired_links::attendee_id)))
        .filter(retired_links::token_hash.eq(sha256_hex(token.as_bytes())))
        .filter(attendees::erased_at.is_null())
        .select((EventRow::as_select(), retired_links::retired_at))
        .first(conn)
        .optional()?)
}

/// Forgets participants' replaced links (erasure, and what an erasure may have left to
/// the retention purge): afterwards they answer as any unknown link.
pub fn forget(conn: &mut DbConn, attendee_ids: &[String]) -> AppResult<usize> {
    Ok(diesel::delete(retired_links::table.filter(retired_links::attendee_id.eq_any(attendee_ids))).execute(conn)?)
}
