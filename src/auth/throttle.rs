//! The login throttle, per normalised e-mail address whether or not an account has it.
//!
//! Kept in the database, so every instance behind one PostgreSQL counts the same attempts,
//! and for unknown addresses too, so a stranger cannot tell a registered address by the
//! moment it starts answering 429. An attempt is reserved before the password is hashed:
//! parallel guesses cannot all pass a check made before any of them failed.

use std::sync::atomic::{AtomicI64, Ordering};

use diesel::prelude::*;
use hmac::{Hmac, Mac};

use crate::db::schema::login_throttle;
use crate::db::{DbConn, now_ms};
use crate::error::{AppError, AppResult};
use crate::on_backend;

/// Failures after which an address is locked.
pub const THROTTLE_AFTER_FAILURES: i32 = 5;
/// First lock length; it doubles with every further failure, up to the cap.
pub const THROTTLE_BASE_SECS: i64 = 30;
pub const THROTTLE_MAX_SECS: i64 = 15 * 60;
/// A count nobody added to for this long is forgotten, known account or not.
pub const FORGET_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// How often one instance sweeps forgotten rows (a cheap indexed delete).
const SWEEP_EVERY_MS: i64 = 10 * 60 * 1000;

pub fn lock_seconds(failures: i32) -> i64 {
    let over = u32::try_from((failures - THROTTLE_AFTER_FAILURES).clamp(0, 20)).unwrap_or(0);
    (THROTTLE_BASE_SECS.saturating_mul(1i64 << over)).min(THROTTLE_MAX_SECS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password may be verified. `failures` counts this attempt as failed until a
    /// success clears it; `locked_secs` is set when this attempt started a lock.
    Allowed {
        failures: i32,
        locked_secs: Option<i64>,
    },
    Locked {
        retry_after_secs: u64,
    },
}

impl Attempt {
    pub fn into_result(self) -> AppResult<Attempt> {
        match self {
            Attempt::Locked { retry_after_secs } => Err(AppError::TooManyRequests { retry_after_secs }),
            allowed => Ok(allowed),
        }
    }
}

pub struct LoginThrottle {
    /// HMAC key for the row keys: a plain hash of an address could be confirmed by anyone
    /// holding a copy of the table and a list of guesses.
    key: Vec<u8>,
    last_sweep_ms: AtomicI64,
}

impl LoginThrottle {
    /// Derives its key from the token secret, which every instance of one deployment shares.
    pub fn new(token_secret: &[u8]) -> Result<LoginThrottle, String> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(token_secret).map_err(|e| e.to_string())?;
        mac.update(b"badgegate login throttle v1\0");
        Ok(LoginThrottle { key: mac.finalize().into_bytes().to_vec(), last_sweep_ms: AtomicI64::new(0) })
    }

    /// The row key of a normalised e-mail address.
    pub fn key_for(&self, normalised_email: &str) -> AppResult<String> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key).map_err(AppError::internal)?;
        mac.update(normalised_email.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Reserves one password verification for `key_hash`, inside the caller's write
    /// transaction. The upsert locks the row on PostgreSQL until commit (SQLite's write
    /// lock serialises the same way), so concurrent attempts on one address queue here and
    /// each sees the count the previous one left.
    pub fn reserve(&self, conn: &mut DbConn, key_hash: &str) -> AppResult<Attempt> {
        let now = now_ms();
        self.sweep(conn, now)?;
        let (failures, locked_until): (i32, Option<i64>) = on_backend!(conn, |c| {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::key_hash.eq(key_hash),
                    login_throttle::failures.eq(0),
                    login_throttle::locked_until.eq(None::<i64>),
                    login_throttle::updated_at.eq(now),
                ))
                .on_conflict(login_throttle::key_hash)
                .do_update()
                .set(login_throttle::updated_at.eq(now))
                .returning((login_throttle::failures, login_throttle::locked_until))
                .get_result(c)?
        });
        if let Some(until) = locked_until
            && until > now
        {
            return Ok(Attempt::Locked { retry_after_secs: (until - now).unsigned_abs().div_ceil(1000) });
        }
        let failures = failures.saturating_add(1);
        let locked_secs = (failures >= THROTTLE_AFTER_FAILURES).then(|| lock_seconds(failures));
        diesel::update(login_throttle::table.find(key_hash))
            .set((
                login_throttle::failures.eq(failures),
                login_throttle::locked_until.eq(locked_secs.map(|secs| now + secs * 1000)),
            ))
            .execute(conn)?;
        Ok(Attempt::Allowed { failures, locked_secs })
    }

    /// A verified password clears the count and any lock.
    pub fn clear(&self, conn: &mut DbConn, key_hash: &str) -> AppResult<()> {
        diesel::delete(login_throttle::table.find(key_hash)).execute(conn)?;
        Ok(())
    }

    /// Deletes counts untouched for a day, at most once per interval per instance, so the
    /// rows of addresses nobody has an account for do not pile up.
    fn sweep(&self, conn: &mut DbConn, now: i64) -> AppResult<()> {
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now - last < SWEEP_EVERY_MS
            || self.last_sweep_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return Ok(());
        }
        diesel::delete(login_throttle::table.filter(login_throttle::updated_at.lt(now - FORGET_AFTER_MS)))
            .execute(conn)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_from_thirty_seconds_up_to_fifteen_minutes() {
        assert_eq!(lock_seconds(5), 30);
        assert_eq!(lock_seconds(6), 60);
        assert_eq!(lock_seconds(9), 480);
        assert_eq!(lock_seconds(10), 900);
        assert_eq!(lock_seconds(1000), 900);
    }
}
