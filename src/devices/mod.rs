//! Device sessions of the scanner app: a phone signs in once per event and then renews its
//! 15-minute access token with a refresh token bound to that device.
//!
//! The refresh token is `<device id>.<256 random bits>`; only its SHA-256 is stored. Each
//! refresh replaces it (single use, rotation) with a conditional UPDATE on the old hash, so
//! of two refreshes with one token exactly one wins. A token that names a live device but
//! is not its current one has been used before: someone holds a copy, so the device is
//! revoked and every token of it stops working. A device also ends with its event (end
//! plus scan grace), when revoked by a partner admin or staff admin, and, like a browser
//! session, whenever its user's token version or the token-key generation moves on
//! (disable, "sign out everywhere", password change, partner or event revocation, key
//! rotation).
//!
//! Enrolment: a partner admin makes a one-time code (10 minutes, single use, stored
//! hashed) for one of its scanners and shows it as a QR code; the phone that scans it is
//! signed in as that scanner without anyone typing a password.

pub mod handlers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::secrets::{random_token, sha256_hex};
use crate::auth::session::{self, LoginServices};
use crate::auth::tokens::{Subject, TokenKeys, token_generation};
use crate::auth::users::{self, UserRow};
use crate::auth::{Caller, PartnerScope, Policy, Role};
use crate::db::schema::{device_enrolments, devices, security_actions, users as users_t};
use crate::db::{Db, DbConn, ms_to_rfc3339, new_id, now_ms, text_enum};
use crate::error::{AppError, AppResult, FieldError};
use crate::events;

/// What a QR enrolment code starts with, so the app tells it from a badge.
pub const ENROL_PREFIX: &str = "BGENROL1-";
pub const ENROLMENT_MINUTES: i64 = 10;
pub const NAME_MAX: usize = 80;
/// Random bytes of an enrolment code: 160 bits, 32 base32 characters.
const ENROL_CODE_BYTES: usize = 20;
/// Random bytes of a refresh token's secret part.
const REFRESH_BYTES: usize = 32;
/// Longer than any token this module issues; longer input is refused unread.
const MAX_PRESENTED_LEN: usize = 256;

text_enum! {
    #[derive(ToSchema)]
    pub enum RevokeReason {
        /// A partner admin or staff admin revoked it.
        Revoked = "revoked",
        /// An already-used refresh token was presented: a copy exists.
        RefreshReuse = "refresh_reuse",
        UserDisabled = "user_disabled",
        /// "Sign out everywhere", a password change or reset, or a partner's or event's
        /// sessions revoked.
        SessionsRevoked = "sessions_revoked",
        TokenKeyRotated = "token_key_rotated",
        /// The phone signed itself out (the scanner's "Sign out").
        SignedOutOnDevice = "signed_out_on_device",
    }
}

text_enum! {
    #[derive(ToSchema)]
    pub enum DeviceState {
        Active = "active",
        Revoked = "revoked",
        /// Past the event's end plus its scan grace period.
        Expired = "expired",
        /// It signed itself out, its user was disabled or signed out everywhere, or the
        /// token key was rotated.
        SignedOut = "signed_out",
    }
}

/// Who may list and revoke devices: partner admins (their own partner's) and staff admins
/// (any event's).
pub struct DeviceAdmins;
impl Policy for DeviceAdmins {
    fn allows(role: Role) -> bool {
        matches!(role, Role::Admin | Role::PartnerAdmin)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: String,
    pub partner_id: String,
    pub event_id: String,
    pub name: String,
    pub refresh_hash: String,
    pub refresh_generation: i32,
    pub token_version: i32,
    pub token_generation: i64,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<RevokeReason>,
}

/// The phone's name for itself, as sent at login or enrolment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInput {
    /// 1 to 80 printable characters, e.g. "Booth 12 iPhone".
    pub name: String,
}

/// What a device sign-in or refresh hands out. Times in unix milliseconds.
pub struct DeviceSession {
    pub access_token: String,
    pub role: Role,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
    pub device_id: String,
}

/// A fresh enrolment code, shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Enrolment {
    /// The code, 32 characters (A–Z, 2–7); typing it is forgiving (case, spaces,
    /// hyphens, 0/O, 1/I, 8/B).
    pub code: String,
    /// The exact text of the QR code: `BGENROL1-` followed by the code.
    pub payload: String,
    pub expires_at: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub user_id: String,
    pub user_email: String,
    pub name: String,
    pub created_at: String,
    /// The last sign-in or refresh.
    pub last_used_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<RevokeReason>,
    /// Whether the device can still refresh, and if not, why.
    pub state: DeviceState,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceList {
    pub items: Vec<DeviceView>,
}

/// A device name: trimmed, 1 to 80 characters, no control characters.
pub fn check_name(field: &str, name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if name.chars().count() > NAME_MAX {
        return Err(FieldError::new(field, format!("must be at most {NAME_MAX} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(name.to_string())
}

fn record_action(conn: &mut DbConn, actor: &str, action: &str, target: &str) -> AppResult<()> {
    diesel::insert_into(security_actions::table)
        .values((
            security_actions::id.eq(new_id()),
            security_actions::occurred_at.eq(now_ms()),
            security_actions::actor_id.eq(actor),
            security_actions::action.eq(action),
            security_actions::target.eq(Some(target)),
        ))
        .execute(conn)?;
    Ok(())
}

fn new_refresh_token(device_id: &str) -> AppResult<String> {
    Ok(format!("{device_id}.{}", random_token(REFRESH_BYTES).map_err(AppError::internal)?))
}

/// Creates a device for `user` (a partner user whose credentials were just checked) in the
/// caller's write transaction; answers the row and its first refresh token.
fn create(conn: &mut DbConn, user: &UserRow, generation: i64, name: &str) -> AppResult<(DeviceRow, String)> {
    let (Some(event_id), Some(partner_id)) = (&user.event_id, &user.partner_id) else {
        return Err(AppError::field("device", "only partner users sign in a device"));
    };
    let event = events::find(conn, event_id)?;
    let now = now_ms();
    let expires_at = event.scans_close_at();
    if expires_at <= now {
        return Err(AppError::field("device", "scanning for this event has closed"));
    }
    let id = new_id();
    let refresh_token = new_refresh_token(&id)?;
    let row = DeviceRow {
        id,
        user_id: user.id.clone(),
        partner_id: partner_id.clone(),
        event_id: event_id.clone(),
        name: name.to_string(),
        refresh_hash: sha256_hex(refresh_token.as_bytes()),
        refresh_generation: 0,
        token_version: user.token_version,
        token_generation: generation,
        created_at: now,
        last_used_at: now,
        expires_at,
        revoked_at: None,
        revoked_reason: None,
    };
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(&row.id),
            devices::user_id.eq(&row.user_id),
            devices::partner_id.eq(&row.partner_id),
            devices::event_id.eq(&row.event_id),
            devices::name.eq(&row.name),
            devices::refresh_hash.eq(&row.refresh_hash),
            devices::refresh_generation.eq(row.refresh_generation),
            devices::token_version.eq(row.token_version),
            devices::token_generation.eq(row.token_generation),
            devices::created_at.eq(row.created_at),
            devices::last_used_at.eq(row.last_used_at),
            devices::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok((row, refresh_token))
}

/// `POST /api/v1/auth/login` with `device`: the password login (same throttle, same
/// answers), then a device for a partner user. Staff accounts get 422 naming `device`.
pub async fn sign_in(s: &LoginServices<'_>, email: &str, password: String, name: &str) -> AppResult<DeviceSession> {
    let name = check_name("device.name", name).map_err(|e| AppError::Validation(vec![e]))?;
    let (user, generation) = session::check_credentials(s, email, password).await?;
    if !user.role.is_partner() {
        return Err(AppError::field("device", "only partner users (scanner, partner_admin) sign in a device"));
    }
    let granted =
        s.db.write(move |conn| {
            let (device, refresh_token) = create(conn, &user, generation, &name)?;
            Ok(Granted { user, device, generation, refresh_token })
        })
        .await?;
    let session = granted.session(s.tokens)?;
    tracing::info!(device_id = %session.device_id, role = session.role.as_str(), "device signed in");
    Ok(session)
}

/// A device granted a new refresh token in a write transaction; its access token is
/// signed after the commit.
struct Granted {
    user: UserRow,
    device: DeviceRow,
    generation: i64,
    refresh_token: String,
}

impl Granted {
    fn session(self, tokens: &TokenKeys) -> AppResult<DeviceSession> {
        let subject = Subject { device_id: Some(self.device.id.clone()), ..self.user.subject() };
        Ok(DeviceSession {
            access_token: tokens.issue(self.generation, subject)?,
            role: self.user.role,
            refresh_token: self.refresh_token,
            refresh_expires_at: self.device.expires_at,
            device_id: self.device.id,
        })
    }
}

/// How a refresh or enrolment ended, decided inside the write transaction: a refusal that
/// revoked a device must still commit that revocation, so it is not an `Err`.
enum Outcome {
    Renewed(Box<Granted>),
    Refused,
}

/// `POST /api/v1/auth/refresh`: exchanges a refresh token for a new pair. Every refusal is
/// the same 401.
pub async fn refresh(db: &Db, tokens: &TokenKeys, presented: String) -> AppResult<DeviceSession> {
    match db.write(move |conn| refresh_in(conn, &presented)).await? {
        Outcome::Renewed(granted) => granted.session(tokens),
        Outcome::Refused => Err(AppError::Unauthorized),
    }
}

fn refresh_in(conn: &mut DbConn, presented: &str) -> AppResult<Outcome> {
    if presented.len() > MAX_PRESENTED_LEN {
        return Ok(Outcome::Refused);
    }
    let Some((device_id, _)) = presented.split_once('.') else { return Ok(Outcome::Refused) };
    let Some(device) = devices::table.find(device_id).select(DeviceRow::as_select()).first(conn).optional()? else {
        return Ok(Outcome::Refused);
    };
    if device.revoked_at.is_some() {
        return Ok(Outcome::Refused);
    }
    let presented_hash = sha256_hex(presented.as_bytes());
    if presented_hash != device.refresh_hash {
        end_reused(conn, &device)?;
        return Ok(Outcome::Refused);
    }
    let now = now_ms();
    // The event may have been moved since sign-in: its current end decides.
    let expires_at = events::find(conn, &device.event_id)?.scans_close_at();
    if expires_at <= now {
        return Ok(Outcome::Refused);
    }
    let generation = token_generation(conn)?;
    let Some(user) = users::find(conn, &device.user_id)? else { return Ok(Outcome::Refused) };
    if let Some(reason) = ended_by_account(&device, &user, generation) {
        revoke_rows(conn, Which::One(&device.id), reason)?;
        return Ok(Outcome::Refused);
    }
    let next = new_refresh_token(&device.id)?;
    // The old hash in the WHERE clause is what makes a refresh single use: of two
    // transactions presenting the same token, the second finds no row to update (on
    // PostgreSQL it waits for the first and then re-reads the row).
    let updated = diesel::update(
        devices::table
            .find(&device.id)
            .filter(devices::refresh_hash.eq(&presented_hash))
            .filter(devices::revoked_at.is_null()),
    )
    .set((
        devices::refresh_hash.eq(sha256_hex(next.as_bytes())),
        devices::refresh_generation.eq(devices::refresh_generation + 1),
        devices::last_used_at.eq(now),
        devices::expires_at.eq(expires_at),
    ))
    .execute(conn)?;
    if updated == 0 {
        end_reused(conn, &device)?;
        return Ok(Outcome::Refused);
    }
    let device = DeviceRow { expires_at, ..device };
    Ok(Outcome::Renewed(Box::new(Granted { user, device, generation, refresh_token: next })))
}

/// The phone signs itself out with its refresh token: the device ends, as if revoked, and
/// its list shows it signed out. Unknown, malformed or superseded tokens answer 401 (the
/// last refresh token is the phone's proof); a device already ended stays as it is.
pub fn sign_out(conn: &mut DbConn, presented: &str) -> AppResult<()> {
    if presented.len() > MAX_PRESENTED_LEN {
        return Err(AppError::Unauthorized);
    }
    let Some((device_id, _)) = presented.split_once('.') else { return Err(AppError::Unauthorized) };
    let Some(device) = devices::table.find(device_id).select(DeviceRow::as_select()).first(conn).optional()? else {
        return Err(AppError::Unauthorized);
    };
    if sha256_hex(presented.as_bytes()) != device.refresh_hash {
        return Err(AppError::Unauthorized);
    }
    if revoke_rows(conn, Which::One(&device.id), RevokeReason::SignedOutOnDevice)? > 0 {
        record_action(conn, &device.user_id, "device_sign_out", &device.id)?;
    }
    Ok(())
}

/// Whether the account side has ended the device since it signed in.
fn ended_by_account(device: &DeviceRow, user: &UserRow, generation: i64) -> Option<RevokeReason> {
    if user.disabled {
        Some(RevokeReason::UserDisabled)
    } else if user.token_version != device.token_version {
        Some(RevokeReason::SessionsRevoked)
    } else if generation != device.token_generation {
        Some(RevokeReason::TokenKeyRotated)
    } else {
        None
    }
}

/// A refresh token presented a second time: whoever else holds it must lose the session,
/// and so must the phone (it cannot be told apart from the copy).
fn end_reused(conn: &mut DbConn, device: &DeviceRow) -> AppResult<()> {
    revoke_rows(conn, Which::One(&device.id), RevokeReason::RefreshReuse)?;
    record_action(conn, &device.user_id, "device_refresh_reuse", &device.id)?;
    tracing::warn!(device_id = %device.id, user_id = %device.user_id, "refresh token reused; device revoked");
    Ok(())
}

/// Which devices a revocation applies to.
enum Which<'a> {
    One(&'a str),
    Users(&'a [String]),
    Partners(&'a [String]),
    All,
}

/// Marks the chosen devices revoked, those not revoked already; answers how many.
fn revoke_rows(conn: &mut DbConn, which: Which<'_>, reason: RevokeReason) -> AppResult<usize> {
    let set = (devices::revoked_at.eq(Some(now_ms())), devices::revoked_reason.eq(Some(reason)));
    let live = diesel::update(devices::table).filter(devices::revoked_at.is_null());
    Ok(match which {
        Which::One(id) => live.filter(devices::id.eq(id)).set(set).execute(conn)?,
        Which::Users(ids) => live.filter(devices::user_id.eq_any(ids)).set(set).execute(conn)?,
        Which::Partners(ids) => live.filter(devices::partner_id.eq_any(ids)).set(set).execute(conn)?,
        Which::All => live.set(set).execute(conn)?,
    })
}

/// Ends the devices of these users (they were disabled or signed out everywhere), in the
/// caller's transaction. The device's own check of the token version would refuse them
/// anyway; this records when and why for the device list.
pub fn end_for_users(conn: &mut DbConn, user_ids: &[String], reason: RevokeReason) -> AppResult<usize> {
    revoke_rows(conn, Which::Users(user_ids), reason)
}

/// Ends the devices of every user of these partners.
pub fn end_for_partners(conn: &mut DbConn, partner_ids: &[String], reason: RevokeReason) -> AppResult<usize> {
    revoke_rows(conn, Which::Partners(partner_ids), reason)
}

/// Ends every device (the token key was rotated).
pub fn end_all(conn: &mut DbConn, reason: RevokeReason) -> AppResult<usize> {
    revoke_rows(conn, Which::All, reason)
}

// ---------------------------------------------------------------------------------------
// Listing and revoking

/// The devices a caller may see: a partner admin its own partner's; a staff admin the
/// given event's (`event_id` is required for staff). Newest first.
pub fn list(conn: &mut DbConn, caller: &Caller, event_id: Option<&str>) -> AppResult<DeviceList> {
    let query = devices::table.inner_join(users_t::table).into_boxed();
    let query = match caller.role {
        Role::PartnerAdmin => {
            let scope = caller.partner_scope()?;
            query.filter(devices::partner_id.eq(scope.partner_id))
        }
        Role::Admin => {
            let event_id =
                event_id.filter(|e| !e.is_empty()).ok_or_else(|| AppError::field("event_id", "is required"))?;
            events::find(conn, event_id)?;
            query.filter(devices::event_id.eq(event_id.to_string()))
        }
        _ => return Err(AppError::Forbidden),
    };
    let rows: Vec<(DeviceRow, String, i32, bool)> = query
        .order((devices::created_at.desc(), devices::id))
        .select((DeviceRow::as_select(), users_t::email, users_t::token_version, users_t::disabled))
        .load(conn)?;
    let generation = token_generation(conn)?;
    let now = now_ms();
    let items = rows
        .into_iter()
        .map(|(d, email, version, disabled)| {
            let state = if d.revoked_reason == Some(RevokeReason::SignedOutOnDevice) {
                DeviceState::SignedOut
            } else if d.revoked_at.is_some() {
                DeviceState::Revoked
            } else if disabled || version != d.token_version || generation != d.token_generation {
                DeviceState::SignedOut
            } else if d.expires_at <= now {
                DeviceState::Expired
            } else {
                DeviceState::Active
            };
            DeviceView {
                id: d.id,
                user_id: d.user_id,
                user_email: email,
                name: d.name,
                created_at: ms_to_rfc3339(d.created_at),
                last_used_at: ms_to_rfc3339(d.last_used_at),
                expires_at: ms_to_rfc3339(d.expires_at),
                revoked_at: d.revoked_at.map(ms_to_rfc3339),
                revoked_reason: d.revoked_reason,
                state,
            }
        })
        .collect();
    Ok(DeviceList { items })
}

/// Revokes one device: a partner admin its own partner's, a staff admin any. Another
/// partner's device does not exist for the caller (404). Revoking twice is no error.
pub fn revoke(conn: &mut DbConn, caller: &Caller, device_id: &str) -> AppResult<()> {
    let device = devices::table.find(device_id).select(DeviceRow::as_select()).first(conn).optional()?;
    let device = match (caller.role, device) {
        (Role::Admin, Some(d)) => d,
        (Role::PartnerAdmin, Some(d)) if caller.partner_id.as_deref() == Some(d.partner_id.as_str()) => d,
        (Role::Admin | Role::PartnerAdmin, _) => return Err(AppError::NotFound),
        _ => return Err(AppError::Forbidden),
    };
    if revoke_rows(conn, Which::One(&device.id), RevokeReason::Revoked)? > 0 {
        record_action(conn, &caller.user_id, "revoke_device", &device.id)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Enrolment by QR code

/// Makes a one-time enrolment code for a scanner of the caller's own partner (a partner
/// admin). A user of another partner, or a staff user, does not exist here (404).
pub fn create_enrolment(conn: &mut DbConn, scope: &PartnerScope, user_id: &str) -> AppResult<Enrolment> {
    if scope.role != Role::PartnerAdmin {
        return Err(AppError::Forbidden);
    }
    let target = users::find(conn, user_id)?.ok_or(AppError::NotFound)?;
    if target.partner_id.as_deref() != Some(scope.partner_id.as_str()) {
        return Err(AppError::NotFound);
    }
    if target.role != Role::Scanner {
        return Err(AppError::field("user_id", "must be a scanner user"));
    }
    if target.disabled {
        return Err(AppError::field("user_id", "is disabled"));
    }
    let event = events::find(conn, &scope.event_id)?;
    let now = now_ms();
    if event.scans_close_at() <= now {
        return Err(AppError::field("user_id", "scanning for this event has closed"));
    }
    let mut bytes = [0u8; ENROL_CODE_BYTES];
    getrandom::fill(&mut bytes).map_err(AppError::internal)?;
    let code = data_encoding::BASE32_NOPAD.encode(&bytes);
    let expires_at = now + ENROLMENT_MINUTES * 60_000;
    diesel::insert_into(device_enrolments::table)
        .values((
            device_enrolments::code_hash.eq(sha256_hex(code.as_bytes())),
            device_enrolments::user_id.eq(&target.id),
            device_enrolments::partner_id.eq(&scope.partner_id),
            device_enrolments::event_id.eq(&scope.event_id),
            device_enrolments::created_by.eq(&scope.user_id),
            device_enrolments::token_version.eq(target.token_version),
            device_enrolments::created_at.eq(now),
            device_enrolments::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    tracing::info!(user_id = %target.id, by = %scope.user_id, "device enrolment code made");
    Ok(Enrolment {
        payload: format!("{ENROL_PREFIX}{code}"),
        code,
        expires_at: ms_to_rfc3339(expires_at),
        user_id: target.id,
    })
}

/// The code as typed or scanned: the QR payload's prefix dropped, spaces and hyphens
/// ignored, upper case, and the digits people type for look-alike letters read as those
/// letters (base32 has no 0, 1 or 8).
pub fn normalise_code(input: &str) -> String {
    let trimmed = input.trim();
    let rest = match trimmed.get(..ENROL_PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(ENROL_PREFIX) => trimmed.get(ENROL_PREFIX.len()..).unwrap_or(""),
        _ => trimmed,
    };
    rest.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '1' => 'I',
            '8' => 'B',
            other => other,
        })
        .collect()
}

/// `POST /api/v1/auth/enrol`: redeems an enrolment code and signs the phone in as the
/// scanner it was made for. An unknown, used or expired code is one 401.
pub async fn enrol(db: &Db, tokens: &TokenKeys, code: &str, name: &str) -> AppResult<DeviceSession> {
    let name = check_name("device.name", name).map_err(|e| AppError::Validation(vec![e]))?;
    if code.len() > MAX_PRESENTED_LEN {
        return Err(AppError::Unauthorized);
    }
    let code = normalise_code(code);
    let outcome = db.write(move |conn| enrol_in(conn, &code, &name, now_ms())).await?;
    match outcome {
        Outcome::Renewed(granted) => {
            let session = granted.session(tokens)?;
            tracing::info!(device_id = %session.device_id, "device enrolled by code");
            Ok(session)
        }
        Outcome::Refused => Err(AppError::Unauthorized),
    }
}

fn enrol_in(conn: &mut DbConn, code: &str, name: &str, now: i64) -> AppResult<Outcome> {
    let hash = sha256_hex(code.as_bytes());
    let found: Option<(String, String, i32)> = device_enrolments::table
        .find(&hash)
        .filter(device_enrolments::used_at.is_null())
        .filter(device_enrolments::expires_at.gt(now))
        .select((device_enrolments::user_id, device_enrolments::partner_id, device_enrolments::token_version))
        .first(conn)
        .optional()?;
    let Some((user_id, partner_id, version)) = found else { return Ok(Outcome::Refused) };
    // Used up before anything else is decided, and only if still unused: of two phones
    // with the same code, one gets a device.
    let taken = diesel::update(device_enrolments::table.find(&hash).filter(device_enrolments::used_at.is_null()))
        .set(device_enrolments::used_at.eq(Some(now)))
        .execute(conn)?;
    if taken == 0 {
        return Ok(Outcome::Refused);
    }
    let Some(user) = users::find(conn, &user_id)? else { return Ok(Outcome::Refused) };
    if user.disabled || user.token_version != version || user.partner_id.as_deref() != Some(partner_id.as_str()) {
        return Ok(Outcome::Refused);
    }
    let generation = token_generation(conn)?;
    let (device, refresh_token) = create(conn, &user, generation, name)?;
    diesel::update(device_enrolments::table.find(&hash))
        .set(device_enrolments::device_id.eq(Some(&device.id)))
        .execute(conn)?;
    Ok(Outcome::Renewed(Box::new(Granted { user, device, generation, refresh_token })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_code_forgives_case_spacing_the_prefix_and_look_alikes() {
        let code = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        assert_eq!(normalise_code(code), code);
        assert_eq!(normalise_code("bgenrol1-abcd-efgh ijkl mnop-qrst-uvwx-yz23-4567"), code);
        assert_eq!(normalise_code(" BGENROL1-ABCDEFGH1JKLMN0PQRSTUVWXYZ234567 "), code);
        assert_eq!(normalise_code("8"), "B");
    }

    #[test]
    fn device_names_are_one_to_eighty_printable_characters() {
        assert_eq!(check_name("n", "  Booth 12 ").ok().as_deref(), Some("Booth 12"));
        assert!(check_name("n", "   ").is_err());
        assert!(check_name("n", &"x".repeat(81)).is_err());
        assert!(check_name("n", &"é".repeat(80)).is_ok());
        assert!(check_name("n", "a\u{7}b").is_err());
    }
}
