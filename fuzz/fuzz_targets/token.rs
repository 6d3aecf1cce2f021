//! The token parsers: `TokenKeys::verify` (the bearer JWT of every API call) and the
//! outbox's sealed bodies. The first byte picks the mode: a token as sent; a genuine
//! token with the input spliced into it; or a sealed body. Nothing panics, a random or
//! altered token is refused, and a token that verifies carries the claims it was issued
//! with.
#![no_main]

use badgegate::auth::Role;
use badgegate::auth::tokens::{Subject, TokenKeys};
use badgegate::badges::BadgeKey;
use badgegate::mail::OutboxKey;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzzing secret, at least thirty-two bytes long";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let keys = TokenKeys::new(SECRET).unwrap();
    match mode % 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            assert!(keys.verify(&text, 1).is_err(), "a token nobody issued verified: {text:?}");
        }
        1 => {
            let subject = Subject {
                user_id: "user-1",
                role: Role::Scanner,
                version: 3,
                event_id: Some("event-1".into()),
                partner_id: Some("partner-1".into()),
                device_id: Some("device-1".into()),
            };
            let genuine = keys.issue(1, subject).unwrap();
            let Some((&at, splice)) = rest.split_first() else { return };
            let at = usize::from(at) % (genuine.len() + 1);
            let mut altered = genuine.as_bytes()[..at].to_vec();
            altered.extend_from_slice(splice);
            altered.extend_from_slice(&genuine.as_bytes()[at..]);
            let altered = String::from_utf8_lossy(&altered);
            if let Ok(claims) = keys.verify(&altered, 1) {
                assert_eq!(claims.sub, "user-1");
                assert_eq!((claims.evt.as_deref(), claims.ptn.as_deref()), (Some("event-1"), Some("partner-1")));
                assert_eq!(claims.ver, 3);
                assert_eq!(claims.dev.as_deref(), Some("device-1"));
            }
            assert!(keys.verify(&genuine, 2).is_err(), "a token of another key generation verified");
        }
        _ => {
            let key = OutboxKey::from_badge_key(&BadgeKey::new(SECRET)).unwrap();
            let text = String::from_utf8_lossy(rest);
            assert!(key.open(&text).is_err() && key.open_text(&text).is_err(), "a forged sealed body opened");
        }
    }
});
