//! Privacy links replaced by newer ones. A link carries no event, so a replaced one could
//! only answer "not valid"; its hash is kept with the event it was for, so that its page
//! can name the event and offer that event's "lost my badge or link" form
//! (`migrations/*/000024_retired_links`).

use diesel::prelude::*;

use super::AttendeeRow;
use crate::auth::secrets::sha256_hex;
use crate::db::DbConn;
use crate::db::schema::{events, retired_links};
use crate::error::AppResult;
use crate::events::EventRow;

/// Keeps the participant's current link (if any) as replaced at `now`, in the caller's
/// transaction, before the caller stores its successor.
pub fn retire_current(conn: &mut DbConn, a: &AttendeeRow, now: i64) -> AppResult<()> {
    let Some(hash) = &a.privacy_token_hash else { return Ok(()) };
    diesel::insert_into(retired_links::table)
        .values((
            retired_links::token_hash.eq(hash),
            retired_links::attendee_id.eq(&a.id),
            retired_links::event_id.eq(&a.event_id),
            retired_links::retired_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The event a replaced link was for, and when it was replaced; `None` for a token that
/// never was a link, or whose participant was erased since.
pub fn find(conn: &mut DbConn, token: &str) -> AppResult<Option<(EventRow, i64)>> {
    Ok(retired_links::table
        .inner_join(events::table.on(events::id.eq(retired_links::event_id)))
        .filter(retired_links::token_hash.eq(sha256_hex(token.as_bytes())))
        .select((EventRow::as_select(), retired_links::retired_at))
        .first(conn)
        .optional()?)
}

/// Forgets a participant's replaced links (erasure): afterwards they answer as any
/// unknown link.
pub fn forget(conn: &mut DbConn, attendee_id: &str) -> AppResult<usize> {
    Ok(diesel::delete(retired_links::table.filter(retired_links::attendee_id.eq(attendee_id))).execute(conn)?)
}
