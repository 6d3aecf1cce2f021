//! The release gate: the one place that decides whether a partner may receive a
//! participant's contact fields, and the only code that reads them for a partner.
//!
//! Partner P may receive participant A's fields now if and only if
//! 1. A belongs to P's event and A is not erased; and
//! 2. A has an active, confirmed opt-in for P or for all partners of the event, or P has a
//!    lead for A (leads are created only by accepted scans of a valid badge); and
//! 3. A has no withdrawal for P or for all partners.
//!
//! An opt-in given on the public form is confirmed only when the participant follows the
//! link mailed to the address (double opt-in, `consents.confirmed_at`); until then it is
//! treated as absent, so nobody can opt a stranger's address into sharing. Opt-ins entered
//! by staff are confirmed when recorded (see `consent::Source::confirmed_on_entry`).
//!
//! Only the fields the event allows are released; a lead card on a phone, and any lead a
//! scanner reads through the API, carries name and company only. While the operator suspends a partner (incident containment), nothing is
//! released to it. Every release writes one ledger row per participant in the same
//! transaction as the read: if the ledger write fails, nothing is released.
//!
//! Staff reads of contact fields ([`staff_read`]: attendee views, badge sheets,
//! `badges.csv`, the incident affected-list) are ledgered the same way, channel `staff`,
//! so an incident scoped to a staff user can say what that user obtained.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use crate::attendees::AttendeeRow;
use crate::auth::{PartnerScope, Role};
use crate::contact::{self, Contact};
use crate::db::schema::{attendees, badges, consents, leads, withdrawals};
use crate::db::{DbConn, new_sequential_id, now_ms, savepoint};
use crate::error::{AppError, AppResult};
use crate::events;
use crate::ledger::{self, DisclosureRow};
pub use crate::ledger::{Basis, Channel};

/// What `channel` may carry at most to a partner user of `role`, before the event's own
/// switch. A scanner is booth staff with a phone: it gets what the scan card shows, however
/// it asks, so a lost phone or a scanner's token yields no address book.
fn channel_fields(channel: Channel, role: Role) -> &'static [&'static str] {
    match (channel, role) {
        (Channel::Scan, _) | (_, Role::Scanner) => &CARD_FIELDS,
        (Channel::Api | Channel::Export | Channel::Staff, _) => &contact::FIELDS,
    }
}

/// What a lead card (and a scanner) gets.
const CARD_FIELDS: [&str; 2] = ["name", "company"];

/// The contact fields a release through `channel` to a partner user of `role` carries for
/// `event`, in the canonical order: the channel's (and role's) limit, cut by the fields
/// the event releases. Exports take their columns from here, so no second copy of the
/// rule decides what a partner sees.
pub fn fields_for(channel: Channel, role: Role, event: &events::EventRow) -> Vec<&'static str> {
    let allowed_by_event = event.released_fields();
    channel_fields(channel, role).iter().copied().filter(|f| allowed_by_event.iter().any(|a| a == f)).collect()
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
    /// The participants with ids in `(after, upto]` (`upto` none: to the end), for export
    /// pages released side by side ([`page_bounds`] cuts them).
    Between {
        after: Option<&'a str>,
        upto: Option<&'a str>,
    },
}

#[derive(Debug, Clone)]
pub struct LeadInfo {
    pub id: String,
    pub first_scanned_at: i64,
    pub first_scanned_by: String,
    pub last_scanned_at: i64,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub answers: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub attendee_id: String,
    /// [`Basis::OptIn`], [`Basis::Scan`] or [`Basis::OptInScan`].
    pub basis: Basis,
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
    Option<i64>,
    Option<String>,
    Option<i32>,
    Option<String>,
    bool,
);

/// An active, confirmed opt-in of the participant for partner `$pid` or for all partners.
macro_rules! opted_in {
    ($pid:expr) => {
        exists(
            consents::table
                .filter(consents::attendee_id.eq(attendees::id))
                .filter(consents::ended_at.is_null())
                .filter(consents::confirmed_at.is_not_null())
                .filter(consents::partner_id.is_null().or(consents::partner_id.eq($pid)))
                // Repeats the outer filter, and changes no answer: a condition on the
                // participant alone keeps PostgreSQL from turning the test into a hash
                // of every opt-in of the event, built for each query, that it prefers
                // when it expects many participants (an export page of 1,000 at
                // 100,000 participants: 90 ms instead of 7). It looks up each
                // participant's own opt-ins instead.
                .filter(attendees::erased_at.is_null()),
        )
    };
}

/// The rule as one query's rows: participants of event `$ev` that partner `$pid` may
/// receive now, joined to the partner's lead (if any). [`allowed`] selects what a release
/// needs; [`opted_in_without_lead`] only counts.
macro_rules! allowed_rows {
    ($ev:expr, $pid:expr) => {{
        let withdrawn = exists(
            withdrawals::table
                .filter(withdrawals::attendee_id.eq(attendees::id))
                .filter(withdrawals::partner_id.is_null().or(withdrawals::partner_id.eq($pid))),
        );
        attendees::table
            .left_join(leads::table.on(leads::attendee_id.eq(attendees::id).and(leads::partner_id.eq($pid))))
            .filter(attendees::event_id.eq($ev))
            .filter(attendees::erased_at.is_null())
            .filter(crate::db::settled::settled())
            // The lead first: a scanned participant needs no opt-in lookup to pass.
            .filter(leads::id.is_not_null().or(opted_in!($pid)))
            .filter(not(withdrawn))
    }};
}

/// The rule as one query: participants of event `$ev` that partner `$pid` may receive now,
/// with their contact fields, the partner's lead (if any) and whether an opt-in exists.
macro_rules! allowed {
    ($ev:expr, $pid:expr) => {{
        allowed_rows!($ev, $pid).select((
            attendees::id,
            attendees::name,
            attendees::company,
            attendees::address,
            attendees::phone,
            attendees::email,
            leads::id.nullable(),
            leads::first_scanned_at.nullable(),
            leads::first_scanned_by.nullable(),
            leads::last_scanned_at.nullable(),
            leads::notes.nullable(),
            leads::rating.nullable(),
            leads::answers.nullable(),
            // Without a lead the filter above already proved an opt-in: only look again
            // for participants the partner scanned.
            diesel::dsl::case_when(leads::id.nullable().is_null(), true.into_sql::<diesel::sql_types::Bool>())
                .otherwise(opted_in!($pid)),
        ))
    }};
}

/// The last id of the next `size` participants of the event after `after`, whether or not
/// the rule lets the partner receive them (`None`: fewer are left). Only ids of the
/// event's participants leave this function, never a contact field: it cuts an export
/// into ranges that [`release`] then decides and ledgers ([`Selection::Between`]).
pub fn page_bounds(conn: &mut DbConn, event_id: &str, after: Option<&str>, size: i64) -> AppResult<Option<String>> {
    Ok(attendees::table
        .filter(attendees::event_id.eq(event_id))
        .filter(attendees::id.gt(after.unwrap_or("")))
        .order(attendees::id)
        .offset(size - 1)
        .select(attendees::id)
        .first(conn)
        .optional()?)
}

/// How many participants the partner may receive now by an opt-in alone, with no lead of
/// its own (it never scanned them). A count, never a contact field: nothing is released,
/// so nothing is ledgered. The portal's lead table lists leads; this says how many more
/// rows the export holds.
pub fn opted_in_without_lead(conn: &mut DbConn, to: &PartnerScope) -> AppResult<i64> {
    let (ev, pid) = (to.event_id.as_str(), to.partner_id.as_str());
    // The rule's own rows, less those the partner has a lead for: what is left passed by
    // an opt-in.
    Ok(allowed_rows!(ev, pid).filter(leads::id.is_null()).count().get_result(conn)?)
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
    if channel == Channel::Staff {
        return Err(AppError::internal("a release to a partner cannot use the staff channel"));
    }
    // Reads, then one write that is all or nothing by itself (`ledger::append`): no
    // savepoint needed for the caller to go on after a refusal.
    crate::db::require_transaction(conn)?;
    ensure_not_suspended(conn, to)?;
    let event = events::find(conn, &to.event_id)?;
    let fields = fields_for(channel, to.role, &event);

    let (ev, pid) = (to.event_id.as_str(), to.partner_id.as_str());
    // Three concrete queries instead of one boxed one: on SQLite diesel caches the
    // prepared statement of a query whose shape is known at compile time, and scans, lead
    // reads and export pages run it all day. (PostgreSQL's connections cache none: see
    // `Manager::connect`.)
    let rows: Vec<GateRow> = match selection {
        Selection::One(id) => allowed!(ev, pid).filter(attendees::id.eq(id)).load(conn)?,
        Selection::Many(ids) => allowed!(ev, pid).filter(attendees::id.eq_any(ids)).order(attendees::id).load(conn)?,
        Selection::After { after, limit } => allowed!(ev, pid)
            .filter(attendees::id.gt(after.unwrap_or("")))
            .order(attendees::id)
            .limit(limit)
            .load(conn)?,
        Selection::Between { after, upto: Some(upto) } => allowed!(ev, pid)
            .filter(attendees::id.gt(after.unwrap_or("")))
            .filter(attendees::id.le(upto))
            .order(attendees::id)
            .load(conn)?,
        Selection::Between { after, upto: None } => {
            allowed!(ev, pid).filter(attendees::id.gt(after.unwrap_or(""))).order(attendees::id).load(conn)?
        }
    };

    let now = now_ms();
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
                last_at,
                notes,
                rating,
                answers,
                opted,
            )| {
                let lead = match (lead_id, first_at, first_by, last_at) {
                    (Some(id), Some(first_scanned_at), Some(first_scanned_by), Some(last_scanned_at)) => {
                        Some(LeadInfo {
                            id,
                            first_scanned_at,
                            first_scanned_by,
                            last_scanned_at,
                            notes,
                            rating,
                            answers,
                        })
                    }
                    _ => None,
                };
                let basis = match (opted, lead.is_some()) {
                    (true, true) => Basis::OptInScan,
                    (true, false) => Basis::OptIn,
                    _ => Basis::Scan,
                };
                Release {
                    attendee_id: id,
                    basis,
                    fields: fields.clone(),
                    contact: Contact::held(name, email, company, phone, address).only(&fields),
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
            basis: r.basis,
            channel,
            export_id: export_id.map(str::to_string),
        })
        .collect();
    ledger::append(conn, &ledger_rows)?;
    Ok(releases)
}

/// Which of `ids` the rule lets `to` receive now through `channel`, each with its basis,
/// narrowed to those whose releasable fields contain `search` (case-insensitive). Only ids
/// and bases leave this function, never a contact field, so nothing is ledgered here: the
/// lead list filters with it, then releases (and ledgers) the one page it shows.
pub fn matching(
    conn: &mut DbConn,
    to: &PartnerScope,
    channel: Channel,
    ids: &[String],
    search: Option<&str>,
) -> AppResult<std::collections::HashMap<String, Basis>> {
    ensure_not_suspended(conn, to)?;
    let event = events::find(conn, &to.event_id)?;
    let fields = fields_for(channel, to.role, &event);
    let needle = search.map(str::to_lowercase);
    let (ev, pid) = (to.event_id.as_str(), to.partner_id.as_str());
    let mut found = std::collections::HashMap::new();
    // Chunks keep the `IN` list under every backend's bound-parameter limit.
    for chunk in ids.chunks(500) {
        let rows: Vec<GateRow> = allowed!(ev, pid).filter(attendees::id.eq_any(chunk)).load(conn)?;
        for (id, name, company, address, phone, email, lead_id, _, _, _, _, _, _, opted) in rows {
            if let Some(needle) = &needle {
                let contact = Contact::held(name, email, company, phone, address).only(&fields);
                let hit = [contact.name, contact.company, contact.address, contact.phone, contact.email]
                    .into_iter()
                    .flatten()
                    .any(|v| v.to_lowercase().contains(needle.as_str()));
                if !hit {
                    continue;
                }
            }
            let basis = match (opted, lead_id.is_some()) {
                (true, true) => Basis::OptInScan,
                (true, false) => Basis::OptIn,
                _ => Basis::Scan,
            };
            found.insert(id, basis);
        }
    }
    Ok(found)
}

/// What a staff read asks for. Each variant stands for one response shape, which decides
/// the contact fields read and ledgered.
pub enum StaffSelection<'a> {
    /// A page of an event's participants in name order, narrowed by a `LIKE` pattern on the
    /// search text; every contact field (the attendee list and search).
    Attendees { event_id: &'a str, search: Option<&'a str>, offset: i64, limit: i64 },
    /// One participant of an event; every contact field (the attendee detail).
    Attendee { event_id: &'a str, attendee_id: &'a str },
    /// An event's participants with a current badge, in name order, `limit: None` for all,
    /// or only `only` (one badge to print again after a reissue); name and company only
    /// (the badge sheet and `badges.csv`).
    Badges { event_id: &'a str, only: Option<&'a str>, offset: i64, limit: Option<i64> },
    /// Participants of any event, erased ones left out; every contact field (the incident
    /// affected-list).
    Affected(&'a [String]),
}

impl StaffSelection<'_> {
    fn fields(&self) -> &'static [&'static str] {
        match self {
            StaffSelection::Badges { .. } => &CARD_FIELDS,
            StaffSelection::Attendees { .. } | StaffSelection::Attendee { .. } | StaffSelection::Affected(_) => {
                &contact::FIELDS
            }
        }
    }

    /// Why staff read it; stored as the ledger row's basis.
    fn basis(&self) -> Basis {
        match self {
            StaffSelection::Affected(_) => Basis::IncidentNotification,
            _ => Basis::StaffAccess,
        }
    }
}

/// One participant as a staff read returns it: contact fields only where ledgered.
#[derive(Debug, Clone)]
pub struct StaffRecord {
    pub attendee_id: String,
    pub event_id: String,
    pub erased: bool,
    pub marketing_emails: bool,
    pub created_at: i64,
    /// Holds the erasure placeholders for an erased participant (no ledger row: nothing
    /// personal is left to read).
    pub contact: Contact,
    /// The current badge, for [`StaffSelection::Badges`] only.
    pub badge_id: Option<String>,
}

pub struct StaffRead {
    pub records: Vec<StaffRecord>,
    /// Matches before paging, for [`StaffSelection::Attendees`]; else the number of records.
    pub total: i64,
}

/// Reads contact fields for the operator's staff user `staff_user_id` and writes one ledger
/// row per participant carried (channel `staff`, no partner) in the same transaction: if
/// the ledger write fails, the read fails.
pub fn staff_read(conn: &mut DbConn, staff_user_id: &str, selection: StaffSelection<'_>) -> AppResult<StaffRead> {
    savepoint(conn, |conn| {
        let fields = selection.fields();
        let (rows, total): (Vec<(AttendeeRow, Option<String>)>, Option<i64>) = match &selection {
            StaffSelection::Attendees { event_id, search, offset, limit } => {
                let filtered = || {
                    let mut q = attendees::table
                        .filter(attendees::event_id.eq(*event_id))
                        .filter(crate::db::settled::settled())
                        .into_boxed();
                    if let Some(p) = search {
                        q = q.filter(attendees::search_text.like(*p).escape('\\'));
                    }
                    q
                };
                let total: i64 = filtered().count().get_result(conn)?;
                let rows: Vec<AttendeeRow> = filtered()
                    .order((attendees::name, attendees::id))
                    .limit(*limit)
                    .offset(*offset)
                    .select(AttendeeRow::as_select())
                    .load(conn)?;
                (rows.into_iter().map(|a| (a, None)).collect(), Some(total))
            }
            StaffSelection::Attendee { event_id, attendee_id } => {
                let rows: Vec<AttendeeRow> = attendees::table
                    .find(*attendee_id)
                    .filter(attendees::event_id.eq(*event_id))
                    .filter(crate::db::settled::settled())
                    .select(AttendeeRow::as_select())
                    .load(conn)?;
                (rows.into_iter().map(|a| (a, None)).collect(), None)
            }
            StaffSelection::Badges { event_id, only, offset, limit } => {
                let mut q = attendees::table
                    .inner_join(badges::table)
                    .filter(attendees::event_id.eq(*event_id))
                    .filter(attendees::erased_at.is_null())
                    .filter(crate::db::settled::settled())
                    .filter(badges::revoked_at.is_null())
                    .order((attendees::name, attendees::id))
                    .select((AttendeeRow::as_select(), badges::id))
                    .into_boxed();
                if let Some(id) = only {
                    q = q.filter(attendees::id.eq(*id));
                }
                if let Some(limit) = limit {
                    q = q.limit(*limit).offset(*offset);
                }
                let rows: Vec<(AttendeeRow, String)> = q.load(conn)?;
                (rows.into_iter().map(|(a, b)| (a, Some(b))).collect(), None)
            }
            StaffSelection::Affected(ids) => {
                let mut rows = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(500) {
                    let some: Vec<AttendeeRow> = attendees::table
                        .filter(attendees::id.eq_any(chunk))
                        .filter(attendees::erased_at.is_null())
                        .order(attendees::id)
                        .select(AttendeeRow::as_select())
                        .load(conn)?;
                    rows.extend(some.into_iter().map(|a| (a, None)));
                }
                (rows, None)
            }
        };

        let now = now_ms();
        let (basis, joined) = (selection.basis(), fields.join(","));
        let ledger_rows: Vec<DisclosureRow> = rows
            .iter()
            .filter(|(a, _)| a.erased_at.is_none())
            .map(|(a, _)| DisclosureRow {
                id: new_sequential_id(),
                occurred_at: now,
                event_id: a.event_id.clone(),
                partner_id: None,
                user_id: Some(staff_user_id.to_string()),
                attendee_id: a.id.clone(),
                fields: joined.clone(),
                basis,
                channel: Channel::Staff,
                export_id: None,
            })
            .collect();
        ledger::append(conn, &ledger_rows)?;

        let records: Vec<StaffRecord> = rows
            .into_iter()
            .map(|(a, badge_id)| StaffRecord {
                erased: a.erased_at.is_some(),
                marketing_emails: a.marketing_emails,
                created_at: a.created_at,
                contact: Contact::held(a.name, a.email, a.company, a.phone, a.address).only(fields),
                attendee_id: a.id,
                event_id: a.event_id,
                badge_id,
            })
            .collect();
        let total = total.unwrap_or(i64::try_from(records.len()).unwrap_or(i64::MAX));
        Ok(StaffRead { records, total })
    })
}
