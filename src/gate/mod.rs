//! The release gate: the one place that decides whether a partner may receive a
//! participant's contact fields, and the only code that reads them for a partner.
//!
//! Partner P may receive participant A's fields now if and only if
//! 1. A belongs to P's event and A is not erased; and
//! 2. A has an active opt-in for P or for all partners of the event, or P has a lead for A
//!    (leads are created only by accepted scans of a valid badge); and
//! 3. A has no withdrawal for P or for all partners.
//!
//! Only the fields the event allows are released; a lead card on a phone carries name and
//! company only. While the operator suspends a partner (incident containment), nothing is
//! released to it. Every release writes one ledger row per participant in the same
//! transaction as the read: if the ledger write fails, nothing is released.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use crate::auth::PartnerScope;
use crate::db::schema::{attendees, consents, leads, withdrawals};
use crate::db::{DbConn, new_sequential_id, now_ms, write_tx};
use crate::error::{AppError, AppResult};
use crate::events::{self, CONTACT_FIELDS};
use crate::ledger::{self, DisclosureRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The lead card answered to a phone after a scan.
    Scan,
    /// A lead read through the API.
    Api,
    /// A row of a CSV export.
    Export,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Scan => "scan",
            Channel::Api => "api",
            Channel::Export => "export",
        }
    }

    /// What this channel may carry at most, before the event's own switch.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Channel::Scan => &["name", "company"],
            Channel::Api | Channel::Export => &CONTACT_FIELDS,
        }
    }
}

/// Which participants a caller asks about; the gate narrows it to those allowed.
pub enum Selection<'a> {
    One(&'a str),
    Many(&'a [String]),
    /// Keyset page over participant ids, for streaming exports.
    After {
        after: Option<&'a str>,
        limit: i64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub name: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LeadInfo {
    pub id: String,
    pub first_scanned_at: i64,
    pub first_scanned_by: String,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub attendee_id: String,
    /// `opt_in`, `scan` or `opt_in+scan`.
    pub basis: &'static str,
    pub fields: Vec<&'static str>,
    pub contact: Contact,
    pub lead: Option<LeadInfo>,
}

type GateRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
    bool,
);

/// The rule as one query: participants of event `$ev` that partner `$pid` may receive now,
/// with their contact fields, the partner's lead (if any) and whether an opt-in exists.
macro_rules! allowed {
    ($ev:expr, $pid:expr) => {{
        let opt_in = || {
            exists(
                consents::table
                    .filter(consents::attendee_id.eq(attendees::id))
                    .filter(consents::ended_at.is_null())
                    .filter(consents::partner_id.is_null().or(consents::partner_id.eq($pid))),
            )
        };
        let withdrawn = exists(
            withdrawals::table
                .filter(withdrawals::attendee_id.eq(attendees::id))
                .filter(withdrawals::partner_id.is_null().or(withdrawals::partner_id.eq($pid))),
        );
        attendees::table
            .left_join(leads::table.on(leads::attendee_id.eq(attendees::id).and(leads::partner_id.eq($pid))))
            .filter(attendees::event_id.eq($ev))
            .filter(attendees::erased_at.is_null())
            // The lead first: a scanned participant needs no opt-in lookup to pass.
            .filter(leads::id.is_not_null().or(opt_in()))
            .filter(not(withdrawn))
            .select((
                attendees::id,
                attendees::name,
                attendees::company,
                attendees::address,
                attendees::phone,
                attendees::email,
                leads::id.nullable(),
                leads::first_scanned_at.nullable(),
                leads::first_scanned_by.nullable(),
                leads::notes.nullable(),
                leads::rating.nullable(),
                leads::answers.nullable(),
                // Without a lead the filter above already proved an opt-in: only look again
                // for participants the partner scanned.
                diesel::dsl::case_when(leads::id.nullable().is_null(), true.into_sql::<diesel::sql_types::Bool>())
                    .otherwise(opt_in()),
            ))
    }};
}

/// Refuses while the operator suspends the partner. [`release`] checks it itself; a
/// streamed export also asks before its first byte, while it can still answer 403.
pub fn ensure_not_suspended(conn: &mut DbConn, to: &PartnerScope) -> AppResult<()> {
    if crate::partners::find_in_event(conn, &to.event_id, &to.partner_id)?.leads_suspended {
        return Err(AppError::Suspended);
    }
    Ok(())
}

/// Releases what the rule allows of `selection` to `to`, writing the ledger.
pub fn release(
    conn: &mut DbConn,
    to: &PartnerScope,
    channel: Channel,
    selection: Selection<'_>,
    export_id: Option<&str>,
) -> AppResult<Vec<Release>> {
    write_tx(conn, |conn| {
        ensure_not_suspended(conn, to)?;
        let event = events::find(conn, &to.event_id)?;
        let allowed_by_event = event.released_fields();
        let fields: Vec<&'static str> =
            channel.fields().iter().copied().filter(|f| allowed_by_event.iter().any(|a| a == f)).collect();

        let (ev, pid) = (to.event_id.as_str(), to.partner_id.as_str());
        // Three concrete queries instead of one boxed one: diesel caches the prepared
        // statement of a query whose shape is known at compile time, and scans, lead reads
        // and export pages run it all day.
        let rows: Vec<GateRow> = match selection {
            Selection::One(id) => allowed!(ev, pid).filter(attendees::id.eq(id)).load(conn)?,
            Selection::Many(ids) => {
                allowed!(ev, pid).filter(attendees::id.eq_any(ids)).order(attendees::id).load(conn)?
            }
            Selection::After { after, limit } => allowed!(ev, pid)
                .filter(attendees::id.gt(after.unwrap_or("")))
                .order(attendees::id)
                .limit(limit)
                .load(conn)?,
        };

        let now = now_ms();
        let has = |f: &str| fields.contains(&f);
        let releases: Vec<Release> = rows
            .into_iter()
            .map(
                |(
                    id,
                    name,
                    company,
                    address,
                    phone,
                    email,
                    lead_id,
                    first_at,
                    first_by,
                    notes,
                    rating,
                    answers,
                    opted,
                )| {
                    let lead = match (lead_id, first_at, first_by) {
                        (Some(id), Some(first_scanned_at), Some(first_scanned_by)) => {
                            Some(LeadInfo { id, first_scanned_at, first_scanned_by, notes, rating, answers })
                        }
                        _ => None,
                    };
                    let basis = match (opted, lead.is_some()) {
                        (true, true) => "opt_in+scan",
                        (true, false) => "opt_in",
                        _ => "scan",
                    };
                    Release {
                        attendee_id: id,
                        basis,
                        fields: fields.clone(),
                        contact: Contact {
                            name: has("name").then_some(name),
                            company: company.filter(|_| has("company")),
                            address: address.filter(|_| has("address")),
                            phone: phone.filter(|_| has("phone")),
                            email: has("email").then_some(email),
                        },
                        lead,
                    }
                },
            )
            .collect();

        let ledger_rows: Vec<DisclosureRow> = releases
            .iter()
            .map(|r| DisclosureRow {
                id: new_sequential_id(),
                occurred_at: now,
                event_id: to.event_id.clone(),
                partner_id: Some(to.partner_id.clone()),
                user_id: Some(to.user_id.clone()),
                attendee_id: r.attendee_id.clone(),
                fields: r.fields.join(","),
                basis: r.basis.to_string(),
                channel: channel.as_str().to_string(),
                export_id: export_id.map(str::to_string),
            })
            .collect();
        ledger::append(conn, &ledger_rows)?;
        Ok(releases)
    })
}
