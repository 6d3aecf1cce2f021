//! The XLSX form of an export: one sheet, a bold frozen header, every cell a text cell.
//!
//! Cells go in with `write_string` and a text (`@`) number format, never as numbers,
//! dates or formulas: a value that starts like `=1+1` or `@SUM(A1)` is stored as the
//! string it is, so no spreadsheet runs it and nothing needs the CSV's apostrophe. The
//! text format keeps it so when someone edits the cell and presses Enter.

use rust_xlsxwriter::{ColNum, Format, IgnoreError, RowNum, Workbook, Worksheet, XlsxError};

use crate::error::{AppError, AppResult};

/// Narrowest and widest column, in Excel's character widths: wide enough for a header
/// such as `rating`, narrow enough that a long note does not push the next column off
/// the screen.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 50;

fn internal(e: XlsxError) -> AppError {
    AppError::internal(format!("xlsx: {e}"))
}

pub struct Sheet {
    sheet: Worksheet,
    text: Format,
    /// The next row to write.
    row: RowNum,
    /// The widest line seen in each column, in characters.
    widths: Vec<usize>,
}

impl Sheet {
    pub fn new(header: &[String]) -> AppResult<Self> {
        let mut sheet = Worksheet::new();
        sheet.set_name("Leads").map_err(internal)?;
        let text = Format::new().set_num_format("@");
        let mut s = Sheet { sheet, text, row: 0, widths: vec![0; header.len()] };
        let bold = s.text.clone().set_bold();
        s.write(header, &bold)?;
        s.sheet.set_freeze_panes(1, 0).map_err(internal)?;
        Ok(s)
    }

    pub fn push(&mut self, record: &[String]) -> AppResult<()> {
        let text = self.text.clone();
        self.write(record, &text)
    }

    fn write(&mut self, record: &[String], format: &Format) -> AppResult<()> {
        for (col, (cell, width)) in record.iter().zip(self.widths.iter_mut()).enumerate() {
            let col = ColNum::try_from(col).map_err(AppError::internal)?;
            self.sheet.write_string_with_format(self.row, col, cell, format).map_err(internal)?;
            let longest = cell.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            *width = (*width).max(longest);
        }
        self.row = self.row.checked_add(1).ok_or_else(|| AppError::internal("xlsx: too many rows"))?;
        Ok(())
    }

    /// Sizes the columns, adds a filter on the header and answers the workbook's bytes.
    pub fn finish(mut self) -> AppResult<Vec<u8>> {
        let last_row = self.row.saturating_sub(1);
        let last_col = ColNum::try_from(self.widths.len().saturating_sub(1)).map_err(AppError::internal)?;
        for (col, width) in self.widths.iter().enumerate() {
            let col = ColNum::try_from(col).map_err(AppError::internal)?;
            // Room for the filter button beside each header.
            let chars = (width + 2).clamp(MIN_WIDTH, MAX_WIDTH);
            let chars = u16::try_from(chars).unwrap_or(u16::MAX);
            self.sheet.set_column_width(col, f64::from(chars)).map_err(internal)?;
        }
        self.sheet.autofilter(0, 0, last_row, last_col).map_err(internal)?;
        // Phone numbers, ratings and ids are text on purpose: no green "number stored
        // as text" triangle on each of them.
        self.sheet.ignore_error_range(0, 0, last_row, last_col, IgnoreError::NumberStoredAsText).map_err(internal)?;
        let mut book = Workbook::new();
        book.push_worksheet(self.sheet);
        book.save_to_buffer().map_err(internal)
    }
}
