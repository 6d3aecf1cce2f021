//! `http::json::parse_json`, the one JSON body parser of the API, into the scan item (the
//! body phones send most), then the scan's field checks: never a panic, and a body that
//! parses is one object whose strings hold no control characters where they may not.
#![no_main]

use badgegate::http::json::parse_json;
use badgegate::scans::{ScanItem, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = parse_json::<ScanItem>(data) {
        let _ = validate(&item);
    }
    if let Ok(value) = parse_json::<serde_json::Value>(data) {
        assert!(value.is_object(), "a body that is not one object was taken");
    }
});
