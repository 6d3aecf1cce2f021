//! Security incidents: scope, what the scope obtained (computed from the disclosure
//! ledger), the promised clock (notify within 24 h, report within 48 h, then daily), the
//! written report, and the list of affected participants to inform.

pub mod handlers;
pub mod notice;
pub mod records;

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{disclosures, incident_updates, incidents, partners};
use crate::db::{DbConn, ms_to_rfc3339};
use crate::error::{AppError, AppResult};
use crate::ledger::Channel;

pub const HOUR_MS: i64 = 60 * 60 * 1000;
pub const NOTIFY_WITHIN_MS: i64 = 24 * HOUR_MS;
pub const REPORT_WITHIN_MS: i64 = 48 * HOUR_MS;
pub const UPDATE_EVERY_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incidents, treat_none_as_default_value = false)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub discovered_at: i64,
    pub scope_event_id: Option<String>,
    pub scope_partner_id: Option<String>,
    pub scope_user_id: Option<String>,
    pub window_from: i64,
    pub window_to: i64,
    pub nature: Option<String>,
    pub investigation: Option<String>,
    pub mitigation: Option<String>,
    pub contact: Option<String>,
    pub notified_at: Option<i64>,
    pub reported_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
    /// When the participant notice was queued (see [`notice`]).
    pub participants_notified_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_updates)]
pub struct UpdateRow {
    pub id: String,
    pub incident_id: String,
    pub created_at: i64,
    pub created_by: String,
    pub perpetrators: String,
    pub data_abused: String,
    pub further_investigation: String,
    pub further_mitigation: String,
    pub corrective_action: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deadlines {
    /// discovered_at + 24 h.
    pub notify_by: String,
    /// discovered_at + 48 h.
    pub report_by: String,
    /// After the report, a status update every 24 h until the incident is closed.
    pub next_update_due: Option<String>,
    /// The first of these not yet met; null once closed.
    pub next_deadline: Option<String>,
    pub overdue: bool,
}

/// The deadlines follow from `discovered_at` and what has been done so far.
pub fn deadlines(i: &IncidentRow, last_update: Option<i64>, now: i64) -> (Deadlines, Option<i64>) {
    let notify_by = i.discovered_at + NOTIFY_WITHIN_MS;
    let report_by = i.discovered_at + REPORT_WITHIN_MS;
    let next_update = i.reported_at.map(|r| last_update.unwrap_or(r).max(r) + UPDATE_EVERY_MS);
    let next = if i.closed_at.is_some() {
        None
    } else if i.notified_at.is_none() {
        Some(notify_by)
    } else if i.reported_at.is_none() {
        Some(report_by)
    } else {
        next_update
    };
    (
        Deadlines {
            notify_by: ms_to_rfc3339(notify_by),
            report_by: ms_to_rfc3339(report_by),
            next_update_due: next_update.filter(|_| i.closed_at.is_none()).map(ms_to_rfc3339),
            next_deadline: next.map(ms_to_rfc3339),
            overdue: next.is_some_and(|n| n < now),
        },
        next,
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientExposure {
    /// Null for the operator's own staff.
    pub partner_id: Option<String>,
    pub partner_name: String,
    pub user_ids: Vec<String>,
    pub participants: usize,
    pub records: usize,
    pub fields: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub channels: Vec<Channel>,
    pub first_at: String,
    pub last_at: String,
}

/// What the incident's scope obtained inside its window, from the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct Exposure {
    pub records: usize,
    pub participants: usize,
    pub fields: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub channels: Vec<Channel>,
    pub recipients: Vec<RecipientExposure>,
    /// Pseudonymous participant ids (attendee ids).
    pub participant_ids: Vec<String>,
}

/// partner id, partner name, user id, attendee id, fields, channel, time.
pub(crate) type LedgerHit = (Option<String>, Option<String>, Option<String>, String, String, Channel, i64);

/// The ledger rows that make up the incident's exposure, oldest first.
pub(crate) fn ledger_hits(conn: &mut DbConn, i: &IncidentRow) -> AppResult<Vec<LedgerHit>> {
    let mut q = disclosures::table
        .left_join(partners::table)
        .filter(disclosures::occurred_at.ge(i.window_from))
        .filter(disclosures::occurred_at.le(i.window_to))
        .into_boxed();
    if let Some(p) = &i.scope_partner_id {
        q = q.filter(disclosures::partner_id.eq(p.clone()));
    }
    if let Some(u) = &i.scope_user_id {
        q = q.filter(disclosures::user_id.eq(u.clone()));
    } else {
        // Staff reads (attendee lists, badge sheets, the affected-list itself) are the
        // operator's own use, not an exposure, unless the incident is about a staff user.
        q = q.filter(disclosures::channel.ne("staff"));
    }
    if let Some(e) = &i.scope_event_id {
        q = q.filter(disclosures::event_id.eq(e.clone()));
    }
    let hits: Vec<LedgerHit> = q
        .order((disclosures::occurred_at, disclosures::id))
        .select((
            disclosures::partner_id,
            partners::name.nullable(),
            disclosures::user_id,
            disclosures::attendee_id,
            disclosures::fields,
            disclosures::channel,
            disclosures::occurred_at,
        ))
        .load(conn)?;
    Ok(hits)
}

pub fn exposure(conn: &mut DbConn, i: &IncidentRow) -> AppResult<Exposure> {
    let hits = ledger_hits(conn, i)?;
    struct Acc {
        name: String,
        users: BTreeSet<String>,
        people: BTreeSet<String>,
        records: usize,
        fields: BTreeSet<String>,
        channels: BTreeSet<Channel>,
        first: i64,
        last: i64,
    }
    let mut by_recipient: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    let mut people = BTreeSet::new();
    let mut fields = BTreeSet::new();
    let mut channels = BTreeSet::new();
    for (partner_id, partner_name, user_id, attendee_id, f, channel, at) in &hits {
        let acc = by_recipient.entry(partner_id.clone()).or_insert_with(|| Acc {
            name: partner_name.clone().unwrap_or_else(|| "operator staff".into()),
            users: BTreeSet::new(),
            people: BTreeSet::new(),
            records: 0,
            fields: BTreeSet::new(),
            channels: BTreeSet::new(),
            first: *at,
            last: *at,
        });
        if let Some(u) = user_id {
            acc.users.insert(u.clone());
        }
        acc.people.insert(attendee_id.clone());
        acc.records += 1;
        for field in f.split(',').filter(|x| !x.is_empty()) {
            acc.fields.insert(field.to_string());
            fields.insert(field.to_string());
        }
        acc.channels.insert(*channel);
        acc.last = *at;
        people.insert(attendee_id.clone());
        channels.insert(*channel);
    }
    let order = |f: &String| crate::contact::FIELDS.iter().position(|c| c == f).unwrap_or(usize::MAX);
    let sorted = |set: BTreeSet<String>| {
        let mut v: Vec<String> = set.into_iter().collect();
        v.sort_by_key(order);
        v
    };
    Ok(Exposure {
        records: hits.len(),
        participants: people.len(),
        fields: sorted(fields),
        channels: channels.into_iter().collect(),
        recipients: by_recipient
            .into_iter()
            .map(|(partner_id, a)| RecipientExposure {
                partner_id,
                partner_name: a.name,
                user_ids: a.users.into_iter().collect(),
                participants: a.people.len(),
                records: a.records,
                fields: sorted(a.fields),
                channels: a.channels.into_iter().collect(),
                first_at: ms_to_rfc3339(a.first),
                last_at: ms_to_rfc3339(a.last),
            })
            .collect(),
        participant_ids: people.into_iter().collect(),
    })
}

pub fn find(conn: &mut DbConn, id: &str) -> AppResult<IncidentRow> {
    incidents::table.find(id).select(IncidentRow::as_select()).first(conn).optional()?.ok_or(AppError::NotFound)
}

pub fn updates(conn: &mut DbConn, id: &str) -> AppResult<Vec<UpdateRow>> {
    Ok(incident_updates::table
        .filter(incident_updates::incident_id.eq(id))
        .order((incident_updates::created_at, incident_updates::id))
        .select(UpdateRow::as_select())
        .load(conn)?)
}

/// What erasure writes where an incident narrative named the participant.
pub const REDACTED: &str = "(erased)";

/// Erasure: replaces every occurrence (case-insensitive) of the participant's identifying
/// values in incident narratives and daily updates with "(erased)"; the rest of the text
/// stays, as the report must. Returns (incidents changed, updates changed).
pub fn redact_participant(conn: &mut DbConn, needles: &[&str]) -> AppResult<(usize, usize)> {
    // A very short value (a two-letter name) would cut words apart; such a name is no
    // identifier on its own.
    let needles: Vec<&str> = needles.iter().map(|n| n.trim()).filter(|n| n.chars().count() >= 3).collect();
    if needles.is_empty() {
        return Ok((0, 0));
    }
    let redact = |text: &str| -> Option<String> {
        let mut out = text.to_string();
        let mut changed = false;
        for n in &needles {
            if let Some(r) = replace_case_insensitive(&out, n, REDACTED) {
                out = r;
                changed = true;
            }
        }
        changed.then_some(out)
    };
    let redact_opt = |text: &Option<String>| -> Option<Option<String>> { text.as_deref().and_then(redact).map(Some) };
    let mut incidents_changed = 0;
    let rows: Vec<IncidentRow> = incidents::table.select(IncidentRow::as_select()).load(conn)?;
    for i in rows {
        let title = redact(&i.title);
        let description = redact(&i.description);
        let nature = redact_opt(&i.nature);
        let investigation = redact_opt(&i.investigation);
        let mitigation = redact_opt(&i.mitigation);
        let contact = redact_opt(&i.contact);
        if title.is_none()
            && description.is_none()
            && nature.is_none()
            && investigation.is_none()
            && mitigation.is_none()
            && contact.is_none()
        {
            continue;
        }
        diesel::update(incidents::table.find(&i.id))
            .set((
                incidents::title.eq(title.unwrap_or(i.title)),
                incidents::description.eq(description.unwrap_or(i.description)),
                incidents::nature.eq(nature.unwrap_or(i.nature)),
                incidents::investigation.eq(investigation.unwrap_or(i.investigation)),
                incidents::mitigation.eq(mitigation.unwrap_or(i.mitigation)),
                incidents::contact.eq(contact.unwrap_or(i.contact)),
            ))
            .execute(conn)?;
        incidents_changed += 1;
    }
    let mut updates_changed = 0;
    let rows: Vec<UpdateRow> = incident_updates::table.select(UpdateRow::as_select()).load(conn)?;
    for u in rows {
        let fields = [
            redact(&u.perpetrators),
            redact(&u.data_abused),
            redact(&u.further_investigation),
            redact(&u.further_mitigation),
            redact(&u.corrective_action),
        ];
        if fields.iter().all(Option::is_none) {
            continue;
        }
        let [perpetrators, data_abused, further_investigation, further_mitigation, corrective_action] = fields;
        diesel::update(incident_updates::table.find(&u.id))
            .set((
                incident_updates::perpetrators.eq(perpetrators.unwrap_or(u.perpetrators)),
                incident_updates::data_abused.eq(data_abused.unwrap_or(u.data_abused)),
                incident_updates::further_investigation.eq(further_investigation.unwrap_or(u.further_investigation)),
                incident_updates::further_mitigation.eq(further_mitigation.unwrap_or(u.further_mitigation)),
                incident_updates::corrective_action.eq(corrective_action.unwrap_or(u.corrective_action)),
            ))
            .execute(conn)?;
        updates_changed += 1;
    }
    Ok((incidents_changed, updates_changed))
}

/// `text` with every case-insensitive occurrence of `needle` replaced; None when there is none.
fn replace_case_insensitive(text: &str, needle: &str, with: &str) -> Option<String> {
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    // Whole values only: a participant called "Ann" must not turn "annual" in an unrelated
    // report into "(erased)ual".
    let mut after_word = false;
    while let Some(ch) = rest.chars().next() {
        let whole = |len: usize| !rest.get(len..).and_then(|r| r.chars().next()).is_some_and(char::is_alphanumeric);
        match match_len(rest, &needle) {
            Some(len) if !after_word && whole(len) => {
                out.push_str(with);
                rest = rest.get(len..).unwrap_or_default();
                changed = true;
                after_word = false;
            }
            _ => {
                out.push(ch);
                rest = rest.get(ch.len_utf8()..).unwrap_or_default();
                after_word = ch.is_alphanumeric();
            }
        }
    }
    changed.then_some(out)
}

/// Byte length of the prefix of `s` that equals `needle` (already lower-cased), if any.
fn match_len(s: &str, needle: &[char]) -> Option<usize> {
    let mut i = 0;
    for (pos, ch) in s.char_indices() {
        for lower in ch.to_lowercase() {
            if needle.get(i) != Some(&lower) {
                return None;
            }
            i += 1;
        }
        if i == needle.len() {
            return Some(pos + ch.len_utf8());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::replace_case_insensitive;

    #[test]
    fn names_are_replaced_whatever_their_case() {
        assert_eq!(
            replace_case_insensitive("Zoë QUIXOTIC called; zoë quixotic again", "Zoë Quixotic", "(erased)").as_deref(),
            Some("(erased) called; (erased) again")
        );
        assert_eq!(replace_case_insensitive("nobody here", "Zoë", "(erased)"), None);
    }

    #[test]
    fn only_whole_values_are_replaced() {
        assert_eq!(replace_case_insensitive("annual report by Joann", "Ann", "(erased)"), None);
        assert_eq!(
            replace_case_insensitive("Ann's badge, (ann) and ANN.", "Ann", "(erased)").as_deref(),
            Some("(erased)'s badge, ((erased)) and (erased).")
        );
    }
}
