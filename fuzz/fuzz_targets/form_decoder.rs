//! `http::input::decode_form`, the one decoder of `application/x-www-form-urlencoded`
//! bodies (every page's form): never a panic; what it accepts holds no control
//! character outside the multi-line fields, and encodes back to the same fields.
#![no_main]

use badgegate::http::input::decode_form;
use badgegate::text::{TextKind, check_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_form(data) {
        Ok(fields) => {
            for (name, value) in &fields {
                assert!(check_text("form", name, TextKind::SingleLine).is_ok());
                assert!(check_text(name, value, TextKind::of_field(name)).is_ok());
            }
            let encoded: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
            let again = decode_form(encoded.as_bytes()).unwrap_or_else(|e| panic!("re-encoded form refused: {e:?}"));
            assert!(again == fields, "a form does not survive encoding and decoding");
        }
        Err(errors) => assert!(!errors.is_empty(), "refused without a reason"),
    }
});
