//! Events: dates, slug, the privacy-notice version in force, and which contact fields
//! partners may ever receive.

pub mod dashboard;
pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contact;
use crate::db::schema::events;
use crate::db::{DbConn, ms_to_rfc3339, new_id, now_ms, parse_rfc3339_ms};
use crate::error::{AppError, AppResult, FieldError, is_unique_violation};
use crate::paging::{Page, PageQuery};
use crate::text::clean_text;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub venue: Option<String>,
    pub privacy_notice_version: String,
    pub released_fields: String,
    pub created_at: i64,
    pub scan_grace_hours: i32,
    /// IANA name of the zone the event's times are shown in ("Europe/Madrid"); "UTC" by
    /// default.
    pub time_zone: String,
    pub privacy_notice_url: Option<String>,
    pub organiser_contact: Option<String>,
    /// When the public form stops taking registrations; `None` means at `ends_at`.
    pub registration_closes_at: Option<i64>,
    /// Days after `ends_at` after which the retention purge removes partners' notes, lead
    /// details and the ledger's per-release detail (see `crate::retention`).
    pub retention_days: i32,
    /// When the retention purge ran for this event.
    pub purged_at: Option<i64>,
}

/// Days after an event's end until the retention purge, unless the event says otherwise.
pub const DEFAULT_RETENTION_DAYS: i32 = 180;
/// Ten years: beyond that a retention period is a mistake, not a policy.
pub const MAX_RETENTION_DAYS: i64 = 3650;

/// Hours after the event's end during which the server still accepts scans (phones that
/// were offline at the show sync them later); after that a scan is no basis.
pub const DEFAULT_SCAN_GRACE_HOURS: i32 = 72;
pub const MAX_SCAN_GRACE_HOURS: i64 = 24 * 30;

impl EventRow {
    /// The moment after which the server accepts no new scan for this event.
    pub fn scans_close_at(&self) -> i64 {
        self.ends_at.saturating_add(i64::from(self.scan_grace_hours).saturating_mul(3_600_000))
    }

    /// When the retention purge is due: `retention_days` after the event's end. Partners'
    /// exports name this as the date after which they must delete what they downloaded.
    pub fn retention_ends_at(&self) -> i64 {
        self.ends_at.saturating_add(i64::from(self.retention_days).saturating_mul(86_400_000))
    }

    pub fn released_fields(&self) -> Vec<String> {
        self.released_fields.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect()
    }

    /// The moment after which the public form takes no registration.
    pub fn registration_closes_at(&self) -> i64 {
        self.registration_closes_at.unwrap_or(self.ends_at)
    }

    /// Whether the public form still takes registrations at `now_ms`.
    pub fn registration_open(&self, now_ms: i64) -> bool {
        now_ms < self.registration_closes_at()
    }

    /// The event's zone. A stored name is validated on the way in; should the bundled
    /// time-zone database ever stop knowing it, times fall back to UTC (and say so by
    /// their offset) rather than fail a page or an export.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    fn zoned(&self, ms: i64) -> Option<jiff::ZonedDateTime> {
        let zoned = jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned_datetime(self.zone());
        (0..=9999).contains(&zoned.year()).then_some(zoned)
    }

    /// The event's local day around `ms`: its first instant, the next day's first instant
    /// (23 or 25 hours later across a daylight-saving change), and its date.
    pub fn local_day(&self, ms: i64) -> Option<(i64, i64, String)> {
        let start = self.zoned(ms)?.start_of_day().ok()?;
        let end = start.tomorrow().ok()?.start_of_day().ok()?;
        Some((start.timestamp().as_millisecond(), end.timestamp().as_millisecond(), start.date().to_string()))
    }

    /// An instant as the event's wall clock shows it: RFC 3339 to the second, with the
    /// zone's offset at that instant (daylight saving can move it within one event), so a
    /// CRM reads the local time of the show and still the exact instant. Empty for an
    /// instant outside what RFC 3339 can write.
    pub fn local_time(&self, ms: i64) -> String {
        self.zoned(ms).map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()).unwrap_or_default()
    }

    /// An instant for people to read on a page: "12 May 2027, 14:30 CEST", in the
    /// event's zone. Empty for an instant outside the calendar.
    pub fn display_time(&self, ms: i64) -> String {
        self.zoned(ms).map(|z| z.strftime("%-d %B %Y, %H:%M %Z").to_string()).unwrap_or_default()
    }

    /// An instant as a `datetime-local` form value (`2027-05-12T14:30`) on the event's wall
    /// clock, so staff type and read the show's local times. Empty outside the calendar.
    pub fn local_input(&self, ms: i64) -> String {
        self.zoned(ms).map(|z| z.strftime("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
    }

    /// [`Self::display_time`] of an RFC 3339 string, as the core's views carry times;
    /// the string itself if it is not one.
    pub fn display_rfc3339(&self, value: &str) -> String {
        match parse_rfc3339_ms(value) {
            Some(ms) => self.display_time(ms),
            None => value.to_string(),
        }
    }
}

/// A wall-clock time as a `datetime-local` form field sends it (`2027-05-12T14:30`, seconds
/// optional), read in the IANA zone `zone`, as the RFC 3339 instant the core takes. `None`
/// when either is not valid (the caller then lets the core refuse the raw value). A time
/// that daylight saving skips or repeats resolves as calendars do (RFC 5545: a skipped time
/// moves forward by the gap, a repeated one is its first occurrence).
pub fn local_to_rfc3339(zone: &str, local: &str) -> Option<String> {
    let tz = jiff::tz::TimeZone::get(zone.trim()).ok()?;
    let civil: jiff::civil::DateTime = local.trim().parse().ok()?;
    let zoned = civil.to_zoned_datetime(tz).ok()?;
    Some(zoned.timestamp().to_string())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    pub name: String,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; after `starts_at`.
    pub ends_at: String,
    pub venue: Option<String>,
    /// Lowercase letters, digits and hyphens; derived from the name when absent.
    pub slug: Option<String>,
    /// Defaults to "1".
    pub privacy_notice_version: Option<String>,
    /// Contact fields partners may receive; defaults to all of name, company, address, phone, email.
    pub released_fields: Option<Vec<String>>,
    /// Hours after `ends_at` during which the server still accepts scans (0–720, default 72).
    #[schema(minimum = 0, maximum = 720)]
    pub scan_grace_hours: Option<i64>,
    /// IANA time-zone name ("Europe/Madrid") in which pages and exports show the event's
    /// times; "UTC" by default.
    #[schema(example = "Europe/Madrid")]
    pub time_zone: Option<String>,
    /// Where the event's privacy notice is published: an `https://` URL; "" removes it.
    #[schema(example = "https://expo.example/privacy")]
    pub privacy_notice_url: Option<String>,
    /// Who participants can contact about their data, e.g. a name and an e-mail address;
    /// "" removes it.
    #[schema(example = "Expo Ltd, privacy@expo.example")]
    pub organiser_contact: Option<String>,
    /// RFC 3339; after it the public form takes no registration. Defaults to `ends_at`.
    pub registration_closes_at: Option<String>,
    /// Days after `ends_at` until the retention purge removes partners' notes and answers,
    /// lead details and the ledger's per-release detail (1–3650, default 180).
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEvent {
    pub released_fields: Option<Vec<String>>,
    pub privacy_notice_version: Option<String>,
    /// Hours after `ends_at` during which the server still accepts scans (0–720).
    #[schema(minimum = 0, maximum = 720)]
    pub scan_grace_hours: Option<i64>,
    /// IANA time-zone name ("Europe/Madrid") in which pages and exports show the event's
    /// times; "UTC" by default.
    #[schema(example = "Europe/Madrid")]
    pub time_zone: Option<String>,
    /// Where the event's privacy notice is published: an `https://` URL; "" removes it.
    #[schema(example = "https://expo.example/privacy")]
    pub privacy_notice_url: Option<String>,
    /// Who participants can contact about their data, e.g. a name and an e-mail address;
    /// "" removes it.
    #[schema(example = "Expo Ltd, privacy@expo.example")]
    pub organiser_contact: Option<String>,
    /// RFC 3339; after it the public form takes no registration. Defaults to `ends_at`.
    pub registration_closes_at: Option<String>,
    /// Days after `ends_at` until the retention purge removes partners' notes and answers,
    /// lead details and the ledger's per-release detail (1–3650, default 180).
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: Option<i64>,
}

/// What participants see of an event besides its name and dates, as a create or a
/// change gives it. Absent leaves a value as it is (or at its default on create).
struct PublicFields<'a> {
    time_zone: Option<&'a str>,
    privacy_notice_url: Option<&'a str>,
    organiser_contact: Option<&'a str>,
    registration_closes_at: Option<&'a str>,
}

impl CreateEvent {
    fn public(&self) -> PublicFields<'_> {
        PublicFields {
            time_zone: self.time_zone.as_deref(),
            privacy_notice_url: self.privacy_notice_url.as_deref(),
            organiser_contact: self.organiser_contact.as_deref(),
            registration_closes_at: self.registration_closes_at.as_deref(),
        }
    }
}

impl UpdateEvent {
    fn public(&self) -> PublicFields<'_> {
        PublicFields {
            time_zone: self.time_zone.as_deref(),
            privacy_notice_url: self.privacy_notice_url.as_deref(),
            organiser_contact: self.organiser_contact.as_deref(),
            registration_closes_at: self.registration_closes_at.as_deref(),
        }
    }
}

/// [`PublicFields`] checked: each `Some` is a value to store (`Some(None)` clears).
struct CheckedPublic {
    time_zone: Option<String>,
    privacy_notice_url: Option<Option<String>>,
    organiser_contact: Option<Option<String>>,
    registration_closes_at: Option<i64>,
}

fn check_public(errors: &mut Vec<FieldError>, input: PublicFields<'_>) -> CheckedPublic {
    let time_zone = input.time_zone.and_then(|name| match jiff::tz::TimeZone::get(name) {
        // The database's own spelling, so "europe/madrid" is stored as "Europe/Madrid".
        Ok(tz) if !name.is_empty() => Some(tz.iana_name().unwrap_or(name).to_string()),
        _ => {
            errors.push(FieldError::new("time_zone", "must be an IANA time-zone name such as Europe/Madrid or UTC"));
            None
        }
    });
    let privacy_notice_url = input.privacy_notice_url.map(|url| {
        let url = url.trim();
        if url.is_empty() {
            None
        } else if is_https_url(url) {
            Some(url.to_string())
        } else {
            errors.push(FieldError::new("privacy_notice_url", "must be an https:// URL"));
            None
        }
    });
    let organiser_contact = input.organiser_contact.map(|v| {
        let v = clean_text(errors, "organiser_contact", v, 300, false);
        (!v.is_empty()).then_some(v)
    });
    let registration_closes_at = input.registration_closes_at.and_then(|v| {
        let ms = parse_rfc3339_ms(v);
        if ms.is_none() {
            errors.push(FieldError::new("registration_closes_at", "must be an RFC 3339 date-time"));
        }
        ms
    });
    CheckedPublic { time_zone, privacy_notice_url, organiser_contact, registration_closes_at }
}

/// An absolute `https://` URL with a host, at most 500 characters, nothing in it a page
/// would have to escape to keep it one link (spaces, quotes, angle brackets, controls).
fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_ok = !host.is_empty()
        && !host.contains('@')
        && host.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    host_ok
        && url.chars().count() <= 500
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\' | '`'))
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub starts_at: String,
    pub ends_at: String,
    pub venue: Option<String>,
    pub privacy_notice_version: String,
    pub released_fields: Vec<String>,
    pub registration_url: String,
    /// Hours after `ends_at` during which the server still accepts scans.
    pub scan_grace_hours: i32,
    /// IANA time-zone name in which pages and exports show the event's times.
    pub time_zone: String,
    pub privacy_notice_url: Option<String>,
    pub organiser_contact: Option<String>,
    /// When the public form stops taking registrations (the event's end unless set).
    pub registration_closes_at: String,
    /// Days after `ends_at` until the retention purge.
    pub retention_days: i32,
    /// `ends_at` plus `retention_days`: when the purge runs, and the date after which
    /// partners must have deleted what they exported.
    pub retention_ends_at: String,
    /// When the retention purge ran, if it has.
    pub purged_at: Option<String>,
}

impl EventView {
    fn new(row: EventRow, base: &str) -> EventView {
        EventView {
            registration_url: format!("{base}/e/{}/register", row.slug),
            released_fields: row.released_fields(),
            scan_grace_hours: row.scan_grace_hours,
            registration_closes_at: ms_to_rfc3339(row.registration_closes_at()),
            retention_days: row.retention_days,
            retention_ends_at: ms_to_rfc3339(row.retention_ends_at()),
            purged_at: row.purged_at.map(ms_to_rfc3339),
            time_zone: row.time_zone,
            privacy_notice_url: row.privacy_notice_url,
            organiser_contact: row.organiser_contact,
            id: row.id,
            name: row.name,
            slug: row.slug,
            starts_at: ms_to_rfc3339(row.starts_at),
            ends_at: ms_to_rfc3339(row.ends_at),
            venue: row.venue,
            privacy_notice_version: row.privacy_notice_version,
        }
    }
}

pub fn find(conn: &mut DbConn, event_id: &str) -> AppResult<EventRow> {
    events::table.find(event_id).select(EventRow::as_select()).first(conn).optional()?.ok_or(AppError::NotFound)
}

pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> AppResult<EventRow> {
    events::table
        .filter(events::slug.eq(slug))
        .select(EventRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

fn check_released_fields(errors: &mut Vec<FieldError>, fields: &[String]) -> String {
    let mut out = Vec::new();
    for f in fields {
        if !contact::FIELDS.contains(&f.as_str()) {
            errors.push(FieldError::new("released_fields", format!("unknown contact field `{f}`")));
        } else if !out.contains(&f.as_str()) {
            out.push(f.as_str());
        }
    }
    // Stored in the canonical order so exports keep a stable column order.
    contact::FIELDS.iter().filter(|f| out.contains(f)).copied().collect::<Vec<_>>().join(",")
}

fn check_scan_grace(errors: &mut Vec<FieldError>, hours: Option<i64>) -> Option<i32> {
    let hours = hours?;
    match i32::try_from(hours) {
        Ok(h) if (0..=MAX_SCAN_GRACE_HOURS).contains(&hours) => Some(h),
        _ => {
            errors.push(FieldError::new("scan_grace_hours", format!("must be between 0 and {MAX_SCAN_GRACE_HOURS}")));
            None
        }
    }
}

fn check_retention(errors: &mut Vec<FieldError>, days: Option<i64>) -> Option<i32> {
    let days = days?;
    match i32::try_from(days) {
        Ok(d) if (1..=MAX_RETENTION_DAYS).contains(&days) => Some(d),
        _ => {
            errors.push(FieldError::new("retention_days", format!("must be between 1 and {MAX_RETENTION_DAYS}")));
            None
        }
    }
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.to_lowercase().chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(48).collect();
    if slug.is_empty() { "event".to_string() } else { slug }
}

pub fn valid_slug(slug: &str) -> bool {
    (1..=64).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
}

/// Creates an event; without an explicit slug one is made from the name, numbered when
/// taken.
pub fn create(conn: &mut DbConn, input: &CreateEvent) -> AppResult<EventRow> {
    let mut errors = Vec::new();
    let name = clean_text(&mut errors, "name", &input.name, 200, false);
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    let starts = parse_rfc3339_ms(&input.starts_at);
    let ends = parse_rfc3339_ms(&input.ends_at);
    if starts.is_none() {
        errors.push(FieldError::new("starts_at", "must be an RFC 3339 date-time"));
    }
    if ends.is_none() {
        errors.push(FieldError::new("ends_at", "must be an RFC 3339 date-time"));
    }
    if let (Some(s), Some(e)) = (starts, ends)
        && e <= s
    {
        errors.push(FieldError::new("ends_at", "must be after starts_at"));
    }
    let venue = input.venue.as_deref().map(|v| clean_text(&mut errors, "venue", v, 200, false));
    let notice = input
        .privacy_notice_version
        .as_deref()
        .map(|v| clean_text(&mut errors, "privacy_notice_version", v, 32, false));
    if notice.as_deref() == Some("") {
        errors.push(FieldError::new("privacy_notice_version", "must not be empty"));
    }
    let released = match &input.released_fields {
        Some(fields) => check_released_fields(&mut errors, fields),
        None => contact::FIELDS.join(","),
    };
    let grace = check_scan_grace(&mut errors, input.scan_grace_hours);
    let retention = check_retention(&mut errors, input.retention_days);
    let public = check_public(&mut errors, input.public());
    let explicit_slug = input.slug.clone();
    if let Some(slug) = &explicit_slug
        && !valid_slug(slug)
    {
        errors.push(FieldError::new("slug", "must be 1-64 lowercase letters, digits or hyphens"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut row = EventRow {
        id: new_id(),
        slug: explicit_slug.clone().unwrap_or_else(|| slugify(&name)),
        name,
        starts_at: starts.unwrap_or_default(),
        ends_at: ends.unwrap_or_default(),
        venue: venue.filter(|v| !v.is_empty()),
        privacy_notice_version: notice.unwrap_or_else(|| "1".to_string()),
        released_fields: released,
        created_at: now_ms(),
        scan_grace_hours: grace.unwrap_or(DEFAULT_SCAN_GRACE_HOURS),
        time_zone: public.time_zone.unwrap_or_else(|| "UTC".to_string()),
        privacy_notice_url: public.privacy_notice_url.flatten(),
        organiser_contact: public.organiser_contact.flatten(),
        registration_closes_at: public.registration_closes_at,
        retention_days: retention.unwrap_or(DEFAULT_RETENTION_DAYS),
        purged_at: None,
    };
    let base = row.slug.clone();
    for attempt in 0..20 {
        // A savepoint per attempt: on PostgreSQL a refused insert aborts the transaction
        // it ran in, and the next attempt must still be able to run.
        let inserted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::insert_into(events::table).values(&row).execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(row),
            Err(e) if is_unique_violation(&e) && explicit_slug.is_none() => {
                row.slug = format!("{base}-{}", attempt + 2);
            }
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict("an event with this slug already exists".into()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("no free slug for this name; give one".into()))
}

/// A page of events, latest first.
pub fn list(conn: &mut DbConn, paging: &PageQuery) -> AppResult<Page<EventRow>> {
    let (page, per_page) = paging.resolve()?;
    let total: i64 = events::table.count().get_result(conn)?;
    let items = events::table
        .order((events::starts_at.desc(), events::id))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(EventRow::as_select())
        .load(conn)?;
    Ok(Page { items, total, page, per_page })
}

/// Changes which contact fields partners may receive, the privacy-notice version, or how
/// long after the event scans are still accepted.
pub fn update(conn: &mut DbConn, event_id: &str, input: &UpdateEvent) -> AppResult<EventRow> {
    let mut errors = Vec::new();
    let released = input.released_fields.as_ref().map(|f| check_released_fields(&mut errors, f));
    let notice = input
        .privacy_notice_version
        .as_deref()
        .map(|v| clean_text(&mut errors, "privacy_notice_version", v, 32, false));
    if notice.as_deref() == Some("") {
        errors.push(FieldError::new("privacy_notice_version", "must not be empty"));
    }
    let grace = check_scan_grace(&mut errors, input.scan_grace_hours);
    let retention = check_retention(&mut errors, input.retention_days);
    let public = check_public(&mut errors, input.public());
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    find(conn, event_id)?;
    let row = events::table.find(event_id);
    if let Some(zone) = public.time_zone {
        diesel::update(row).set(events::time_zone.eq(zone)).execute(conn)?;
    }
    if let Some(url) = public.privacy_notice_url {
        diesel::update(row).set(events::privacy_notice_url.eq(url)).execute(conn)?;
    }
    if let Some(contact) = public.organiser_contact {
        diesel::update(row).set(events::organiser_contact.eq(contact)).execute(conn)?;
    }
    if let Some(closes) = public.registration_closes_at {
        diesel::update(row).set(events::registration_closes_at.eq(closes)).execute(conn)?;
    }
    if let Some(released) = released {
        diesel::update(events::table.find(event_id)).set(events::released_fields.eq(released)).execute(conn)?;
    }
    if let Some(notice) = notice {
        diesel::update(events::table.find(event_id)).set(events::privacy_notice_version.eq(notice)).execute(conn)?;
    }
    if let Some(grace) = grace {
        diesel::update(events::table.find(event_id)).set(events::scan_grace_hours.eq(grace)).execute(conn)?;
    }
    if let Some(days) = retention {
        diesel::update(events::table.find(event_id)).set(events::retention_days.eq(days)).execute(conn)?;
    }
    find(conn, event_id)
}

#[cfg(test)]
mod tests {
    use super::EventRow;

    fn event() -> EventRow {
        EventRow {
            id: "e".into(),
            name: "Expo".into(),
            slug: "expo".into(),
            starts_at: 0,
            ends_at: 0,
            venue: None,
            privacy_notice_version: "1".into(),
            released_fields: String::new(),
            created_at: 0,
            scan_grace_hours: 0,
            time_zone: "UTC".into(),
            privacy_notice_url: None,
            organiser_contact: None,
            registration_closes_at: None,
            retention_days: 180,
            purged_at: None,
        }
    }

    #[test]
    fn local_time_is_rfc3339_to_the_second_with_the_offset_spelled_out() {
        let e = event();
        assert_eq!(e.local_time(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(e.local_time(1_893_456_061_999), "2030-01-01T00:01:01+00:00");
        assert_eq!(e.local_time(-1), "1969-12-31T23:59:59+00:00");
        assert_eq!(e.local_time(i64::MAX), "");
        assert_eq!(e.local_time(i64::MIN), "");
    }

    #[test]
    fn times_follow_the_zone_and_its_daylight_saving() {
        let e = EventRow { time_zone: "Europe/Madrid".into(), ..event() };
        // 2027-05-12T12:30:00Z is summer time in Madrid, 2027-01-12T12:30:00Z winter time.
        assert_eq!(e.local_time(1_810_125_000_000), "2027-05-12T14:30:00+02:00");
        assert_eq!(e.display_time(1_810_125_000_000), "12 May 2027, 14:30 CEST");
        assert_eq!(e.local_time(1_799_757_000_000), "2027-01-12T13:30:00+01:00");
        assert_eq!(e.display_rfc3339("2027-01-12T12:30:00.123Z"), "12 January 2027, 13:30 CET");
        assert_eq!(event().display_time(0), "1 January 1970, 00:00 UTC");
    }

    #[test]
    fn a_local_form_time_is_read_in_the_zone_and_shown_back_the_same() {
        assert_eq!(
            super::local_to_rfc3339("Europe/Madrid", "2027-05-12T14:30").as_deref(),
            Some("2027-05-12T12:30:00Z")
        );
        assert_eq!(super::local_to_rfc3339("UTC", "2027-01-12T13:30:00").as_deref(), Some("2027-01-12T13:30:00Z"));
        assert_eq!(super::local_to_rfc3339("Mars/Base", "2027-01-12T13:30"), None);
        assert_eq!(super::local_to_rfc3339("UTC", "12/01/2027"), None);
        let e = EventRow { time_zone: "Europe/Madrid".into(), ..event() };
        assert_eq!(e.local_input(1_810_125_000_000), "2027-05-12T14:30");
    }

    #[test]
    fn a_privacy_notice_url_is_https_with_a_host() {
        assert!(super::is_https_url("https://expo.example/privacy?v=2#data"));
        assert!(!super::is_https_url("http://expo.example/privacy"));
        assert!(!super::is_https_url("https:///privacy"));
        assert!(!super::is_https_url("https://user@evil.example/"));
        assert!(!super::is_https_url("https://expo.example/a b"));
        assert!(!super::is_https_url("javascript:alert(1)"));
    }
}
