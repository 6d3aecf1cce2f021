//! CSV as every download of the service writes it (RFC 4180, CRLF, every field quoted),
//! with cells that a spreadsheet would run as a formula made inert.

use crate::error::{AppError, AppResult};

/// Spreadsheet programs run cells that start like a formula; a leading apostrophe makes
/// them text (OWASP CSV injection).
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

pub fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
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
    let mut w = csv_writer();
    for record in records {
        let cells: Vec<String> = record.into_iter().map(|c| neutralise(&c)).collect();
        w.write_record(&cells).map_err(AppError::internal)?;
    }
    w.into_inner().map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_starts_are_neutralised_and_others_kept() {
        for bad in ["=1+1", "+49", "-2", "@SUM(A1)", "\tx", "\rx", "\nx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for good in ["Zoë", "山田太郎", "a=b", "", "1+1"] {
            assert_eq!(neutralise(good), good);
        }
    }
}
