//! Accounts of staff and partner users.

use diesel::prelude::*;

use super::tokens::{Claims, Subject, TokenKeys};
use super::{Caller, Role, passwords};
use crate::db::schema::users;
use crate::db::{DbConn, new_id, now_ms};
use crate::error::{AppError, AppResult, FieldError, is_unique_violation};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub event_id: Option<String>,
    pub partner_id: Option<String>,
    pub token_version: i32,
    pub disabled: bool,
    // `failed_logins` and `locked_until` stay in the table but are not read: failures are
    // counted per address in `login_throttle`.
    pub created_at: i64,
}

impl UserRow {
    /// The account as a token's subject, bound to no device.
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            user_id: &self.id,
            role: self.role,
            version: self.token_version,
            event_id: self.event_id.clone(),
            partner_id: self.partner_id.clone(),
            device_id: None,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: &'a str,
    email: &'a str,
    password_hash: &'a str,
    role: Role,
    event_id: Option<&'a str>,
    partner_id: Option<&'a str>,
    token_version: i32,
    disabled: bool,
    failed_logins: i32,
    created_at: i64,
}

/// The one form in which e-mail addresses are stored and compared (uniqueness of accounts
/// and of participants per event, login): Unicode NFC, then lower case. `jörg@` typed with
/// a precomposed `ö` and with `o` + combining diaeresis is one address. Lower-casing after
/// NFC (rather than full case folding, which maps `ß` to `ss`) keeps every address a
/// mail server would deliver distinct.
pub fn normalise_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let lowered: String = email.trim().nfc().collect::<String>().to_lowercase();
    // Lower-casing can leave a string that is no longer NFC (rare, e.g. some Greek
    // letters), so normalise once more.
    lowered.nfc().collect()
}

/// Minimal syntax check: one `@`, a dotted domain, no spaces or control characters.
pub fn check_email(field: &str, email: &str) -> Result<(), FieldError> {
    let bad = |m: &str| Err(FieldError::new(field, m));
    if email.is_empty() {
        return bad("is required");
    }
    if email.chars().count() > 254 {
        return bad("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must not contain spaces or control characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else { return bad("is not an e-mail address") };
    if local.is_empty() || local.contains('@') || local.len() > 64 {
        return bad("is not an e-mail address");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return bad("is not an e-mail address");
    }
    Ok(())
}

pub struct NewAccount {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub event_id: Option<String>,
    pub partner_id: Option<String>,
}

/// Inserts an account; an e-mail already in use is a 409 found by the unique constraint.
pub fn insert(conn: &mut DbConn, account: &NewAccount) -> AppResult<String> {
    let id = new_id();
    let row = NewUser {
        id: &id,
        email: &account.email,
        password_hash: &account.password_hash,
        role: account.role,
        event_id: account.event_id.as_deref(),
        partner_id: account.partner_id.as_deref(),
        token_version: 0,
        disabled: false,
        failed_logins: 0,
        created_at: now_ms(),
    };
    match diesel::insert_into(users::table).values(&row).execute(conn) {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(AppError::Conflict(
            "an account with this e-mail already exists; an address is never given a second account, \
                 even once its account is disabled: invite another address"
                .into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> AppResult<Option<UserRow>> {
    Ok(users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(conn).optional()?)
}

pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Option<UserRow>> {
    Ok(users::table.find(id).select(UserRow::as_select()).first(conn).optional()?)
}

/// Ends every outstanding token of one user at once.
pub fn bump_token_version(conn: &mut DbConn, user_id: &str) -> AppResult<usize> {
    Ok(diesel::update(users::table.find(user_id))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?)
}

pub fn set_disabled(conn: &mut DbConn, user_id: &str, disabled: bool) -> AppResult<()> {
    diesel::update(users::table.find(user_id))
        .set((users::disabled.eq(disabled), users::token_version.eq(users::token_version + 1)))
        .execute(conn)?;
    Ok(())
}

/// Verifies the token, then confirms it with the database ([`confirm`]). With the token
/// generation this instance last read, that is one statement (two for a phone's token).
pub fn authenticate(conn: &mut DbConn, tokens: &TokenKeys, token: &str) -> AppResult<Caller> {
    let (claims, generation) = match tokens.verify_seen(token) {
        Some(verified) => verified,
        None => tokens.verify_current(token, super::tokens::token_generation(conn)?)?,
    };
    confirm(conn, &[(&claims, generation)])?.pop().unwrap_or(Err(AppError::Unauthorized))
}

/// Confirms tokens whose signatures were verified with the given generations: that
/// generation is still the database's, the account still exists, is enabled and has not
/// had its tokens revoked since the token was issued, its role, event and partner are the
/// token's, and a phone's device is still live. One answer per token, in order, from at
/// most two statements however many tokens: a group of single scans confirms all its
/// callers in the transaction that stores their scans.
pub fn confirm(conn: &mut DbConn, verified: &[(&Claims, i64)]) -> AppResult<Vec<AppResult<Caller>>> {
    use crate::db::schema::devices;
    use std::collections::{HashMap, HashSet};
    let mut ids: Vec<&str> = verified.iter().map(|(c, _)| c.sub.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut accounts: HashMap<String, UserRow> = HashMap::new();
    let mut current: Option<i64> = None;
    for chunk in ids.chunks(500) {
        // The generation rides along with the accounts: one round trip, not two. (A
        // constant text: diesel cannot put another table's subquery in a select list.)
        let generation = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(&format!(
            "(SELECT settings.value FROM settings WHERE settings.key = '{}')",
            super::tokens::TOKEN_GENERATION
        ));
        let rows: Vec<(UserRow, Option<String>)> =
            users::table.filter(users::id.eq_any(chunk)).select((UserRow::as_select(), generation)).load(conn)?;
        for (row, generation) in rows {
            current = generation.and_then(|g| g.parse().ok());
            accounts.insert(row.id.clone(), row);
        }
    }
    let mut device_ids: Vec<&str> = verified.iter().filter_map(|(c, _)| c.dev.as_deref()).collect();
    device_ids.sort_unstable();
    device_ids.dedup();
    let mut live: HashSet<(String, String)> = HashSet::new();
    // A phone's token ends with its device (revoked, or past the event's scan period) at
    // once, not 15 minutes later. The device's own rules live in `devices`; this is the
    // one read every request of a phone needs.
    for chunk in device_ids.chunks(500) {
        let rows: Vec<(String, String)> = devices::table
            .filter(devices::id.eq_any(chunk))
            .filter(devices::revoked_at.is_null())
            .filter(devices::expires_at.gt(now_ms()))
            .select((devices::id, devices::user_id))
            .load(conn)?;
        live.extend(rows);
    }
    Ok(verified
        .iter()
        .map(|(claims, generation)| {
            let row = accounts.get(&claims.sub).ok_or(AppError::Unauthorized)?;
            let device_live = claims.dev.as_ref().is_none_or(|d| live.contains(&(d.clone(), claims.sub.clone())));
            if current != Some(*generation)
                || row.disabled
                || row.token_version != claims.ver
                || row.role != claims.role
                || row.event_id != claims.evt
                || row.partner_id != claims.ptn
                || !device_live
            {
                return Err(AppError::Unauthorized);
            }
            Ok(Caller {
                user_id: claims.sub.clone(),
                role: claims.role,
                event_id: claims.evt.clone(),
                partner_id: claims.ptn.clone(),
            })
        })
        .collect())
}

/// Used by the CLI: validates and creates a staff account.
pub fn create_staff_blocking(conn: &mut DbConn, email: &str, password: &str, role: Role) -> AppResult<String> {
    let email = normalise_email(email);
    let mut errors = Vec::new();
    if let Err(e) = check_email("email", &email) {
        errors.push(e);
    }
    if let Err(e) = passwords::check_policy("password", password) {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let password_hash = passwords::hash_blocking(password)?;
    insert(conn, &NewAccount { email, password_hash, role, event_id: None, partner_id: None })
}
