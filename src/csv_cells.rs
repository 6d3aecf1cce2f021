//! CSV as every download of the service writes it (RFC 4180, CRLF, every field quoted),
//! with cells that a spreadsheet would run as a formula made inert.

use crate::error::{AppError, AppResult};

/// What a spreadsheet reads as the start of a formula (or, for the control characters,
/// what lets a cell smuggle one past a check of the first visible character).
const FORMULA_TRIGGERS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\n'];

/// `+` then only digits, spaces, `(`, `)`, `-` and `.`, with at least one digit: an
/// international phone number as people write it. A spreadsheet that reads it as a
/// formula finds at most arithmetic on numbers: with no letter, `!`, `|`, `:`, `$` or
/// quote there is no function, no cell or sheet reference and no DDE call to reach.
pub fn is_phone_number(cell: &str) -> bool {
    cell.strip_prefix('+').is_some_and(|rest| {
        rest.chars().any(|c| c.is_ascii_digit())
            && rest.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-' | '.'))
    })
}

/// Spreadsheet programs run cells that start like a formula; a leading apostrophe makes
/// them text (OWASP CSV injection). Phone numbers pass unchanged: `'+34 600 000 000`
/// breaks CRM imports and dialling, and the number cannot carry a formula (see
/// [`is_phone_number`]).
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some(first) if FORMULA_TRIGGERS.contains(&first) && !is_phone_number(cell) => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

pub fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv_writer_with(b',')
}

fn csv_writer_with(delimiter: u8) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

/// Writes records to bytes, every cell neutralised.
pub fn csv_bytes<I, R>(records: I) -> AppResult<Vec<u8>>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    csv_bytes_with(b',', records)
}

/// [`csv_bytes`] with another field separator (`;` for spreadsheets set to a language
/// whose decimal mark is a comma).
pub fn csv_bytes_with<I, R>(delimiter: u8, records: I) -> AppResult<Vec<u8>>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut w = csv_writer_with(delimiter);
    for record in records {
        let cells: Vec<String> = record.into_iter().map(|c| neutralise(&c)).collect();
        w.write_record(&cells).map_err(AppError::internal)?;
    }
    w.into_inner().map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::{FORMULA_TRIGGERS, is_phone_number, neutralise};
    use proptest::prelude::*;

    #[test]
    fn formula_starts_are_neutralised_and_others_kept() {
        for bad in ["=1+1", "+49x", "-2", "@SUM(A1)", "\tx", "\rx", "\nx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for good in ["Zoë", "山田太郎", "a=b", "", "1+1"] {
            assert_eq!(neutralise(good), good);
        }
    }

    #[test]
    fn phone_numbers_pass_unchanged() {
        for phone in ["+34 600 000 000", "+49", "+1 (555) 010-0199", "+44 20.7946.0000", "+7(495)1234567", "+1-"] {
            assert!(is_phone_number(phone), "{phone}");
            assert_eq!(neutralise(phone), phone);
        }
    }

    #[test]
    fn look_alikes_of_phone_numbers_stay_neutralised() {
        for hostile in [
            "+1+cmd|' /C calc'!A0",
            "+1)*SUM(A1)",
            "+HYPERLINK(\"http://evil\")",
            "+1+1",
            "+1*2",
            "+1/2",
            "+1^2",
            "+1&A1",
            "+1 A1",
            "+1 $A$1",
            "+1:2",
            "+1,2",
            "+1;2",
            "+1%",
            "+1e5",
            "+1\n=cmd",
            "+1\t",
            "+1\r\n@SUM(A1)",
            "+",
            "+ ",
            "+()-.",
            "++1",
            "+１２３",
            "+٣",
            "-1 555",
            "=1",
            "@1",
            "\t+1",
            " +1\n=1",
        ] {
            let out = neutralise(hostile);
            if hostile.starts_with(FORMULA_TRIGGERS) {
                assert_eq!(out, format!("'{hostile}"), "{hostile:?}");
            } else {
                assert_eq!(out, hostile, "{hostile:?}");
            }
            assert!(!is_phone_number(hostile), "{hostile:?}");
        }
    }

    /// Phone-like text with the characters an attacker would reach for mixed in, so the
    /// phone branch and its borders are exercised, not only random noise.
    fn cells() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[=+\\-@\t\r\n][0-9 ()\\-.]{0,12}",
            "\\+[0-9 ()\\-.A-Za-z=+*/^&|!:$,;%\"'\t\r\n]{0,16}",
        ]
    }

    proptest! {
        #[test]
        fn output_is_an_unchanged_phone_number_or_starts_with_no_trigger(cell in cells()) {
            let out = neutralise(&cell);
            let phone = out == cell
                && out.strip_prefix('+').is_some_and(|rest| {
                    rest.bytes().any(|b| b.is_ascii_digit())
                        && rest.bytes().all(|b| b"0123456789 ()-.".contains(&b))
                });
            prop_assert!(phone || !out.starts_with(FORMULA_TRIGGERS), "{cell:?} -> {out:?}");
            // Nothing is lost: the output is the input, or the input behind one apostrophe.
            prop_assert!(out == cell || out.strip_prefix('\'') == Some(cell.as_str()));
        }
    }
}
