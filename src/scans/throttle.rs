//! Slows down badge guessing: a user whose scans keep naming unknown badges is refused
//! for a while. Kept in memory per instance (the limit multiplies with instances).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const UNKNOWN_BADGE_LIMIT: u32 = 30;
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct UnknownBadgeThrottle {
    seen: Mutex<HashMap<String, (u32, Instant)>>,
}

impl UnknownBadgeThrottle {
    /// Seconds to wait when the user is over the limit.
    pub fn retry_after(&self, user_id: &str) -> Option<u64> {
        let seen = self.seen.lock().ok()?;
        let (count, since) = seen.get(user_id)?;
        let elapsed = since.elapsed();
        (*count >= UNKNOWN_BADGE_LIMIT && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    pub fn record_unknown(&self, user_id: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            let entry = seen.entry(user_id.to_string()).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
            if entry.0 == UNKNOWN_BADGE_LIMIT {
                tracing::warn!(user_id, "scanner throttled after repeated unknown badges");
            }
        }
    }
}
