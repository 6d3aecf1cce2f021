//! `BadgeCode::readings`: what a scan's `badge` field (a QR payload or a typed code) may
//! stand for. No input panics; a hostile input costs a bounded number of readings; every
//! reading is a real code whose payload and typed fallback read back as itself.
#![no_main]

use badgegate::badges::BadgeCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let readings = BadgeCode::readings(text);
    assert!(readings.len() <= 64, "{} readings of one input", readings.len());
    for code in &readings {
        assert!(BadgeCode::readings(&code.payload()).first() == Some(code), "a payload reads back as its code");
        assert!(BadgeCode::readings(&code.fallback()).contains(code), "a fallback reads back as its code");
    }
});
