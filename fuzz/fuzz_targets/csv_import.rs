//! The CSV import's parser (`attendees::import::parse`): any upload, of any encoding,
//! separator or shape, answers rows or a bounded list of row errors, never a panic.
#![no_main]

use badgegate::attendees::import::{MAX_ROW_ERRORS, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let partners = ["0190b6f6-0000-7000-8000-000000000001".to_string()];
    match parse(data, &partners) {
        Ok(rows) => {
            // Every accepted row has an address, and no address twice.
            let mut seen = std::collections::HashSet::new();
            for row in &rows {
                assert!(!row.contact.email.is_empty());
                assert!(seen.insert(row.contact.email.clone()), "an address accepted twice");
            }
        }
        Err(refused) => {
            assert!(!refused.errors.is_empty(), "refused without a reason");
            assert!(refused.errors.len() <= MAX_ROW_ERRORS);
        }
    }
});
