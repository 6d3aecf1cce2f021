//! Password hashing with argon2id, bounded so a login storm cannot take every thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult, FieldError};

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

fn argon2() -> AppResult<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(AppError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash_blocking(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AppError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    Ok(argon2()?.hash_password(password.as_bytes(), &salt).map_err(AppError::internal)?.to_string())
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    match argon2() {
        Ok(a) => a.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Length only: no composition rules, no truncation (argon2 hashes every byte).
pub fn check_policy(field: &str, password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(field, format!("must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldError::new(field, format!("must be at most {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

pub struct Passwords {
    permits: Semaphore,
    /// Verified against when the account does not exist, so both failures cost the same.
    dummy_hash: String,
}

impl Passwords {
    pub fn new(concurrency: usize) -> AppResult<Passwords> {
        let mut dummy = [0u8; 24];
        getrandom::fill(&mut dummy).map_err(AppError::internal)?;
        Ok(Passwords { permits: Semaphore::new(concurrency.max(1)), dummy_hash: hash_blocking(&hex::encode(dummy))? })
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is no account.
    pub async fn verify(&self, hash: Option<String>, password: String) -> AppResult<bool> {
        let exists = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&hash, &password)).await?;
        Ok(ok && exists)
    }
}
