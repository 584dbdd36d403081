//! OpenDocument spreadsheets: `content.xml` in a zip archive. calamine expands
//! repeated rows and columns into a dense range, so `content.xml` is streamed first,
//! counting the repeats as calamine would expand them, and a non-empty cell outside
//! the bounds is refused; so is a password, which the manifest declares.

use std::io::{Cursor, Read};

use calamine::{Ods, Reader};
use quick_xml::events::{BytesStart, Event};

use super::{
    Format, MAX_UNCOMPRESSED_BYTES, ReadError, Workbook, calamine_error, damaged, first_element,
    read_dense, within_bounds,
};

/// Reads an .ods workbook once `content.xml` passed [`check_extent`].
pub(super) fn read(bytes: &[u8]) -> Result<Workbook, ReadError> {
    check_extent(bytes)?;
    let workbook: Ods<_> = Ods::new(Cursor::new(bytes.to_vec())).map_err(calamine_error)?;
    read_dense(workbook, Format::Ods)
}

/// Streams `content.xml` and refuses a non-empty cell outside the bounds.
fn check_extent(bytes: &[u8]) -> Result<(), ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(damaged)?;
    // A password encrypts content.xml, and the manifest says so.
    if let Ok(manifest) = archive.by_name("META-INF/manifest.xml")
        && first_element(manifest, "encryption-data", |_| ())?.is_some()
    {
        return Err(ReadError::Encrypted);
    }
    let mut xml = Vec::new();
    archive
        .by_name("content.xml")
        .map_err(damaged)?
        .take(MAX_UNCOMPRESSED_BYTES)
        .read_to_end(&mut xml)
        .map_err(damaged)?;
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut buffer = Vec::new();
    let mut walk = Walk::new();
    loop {
        match reader.read_event_into(&mut buffer).map_err(damaged)? {
            Event::Start(ref start) => walk.open(start, false)?,
            Event::Empty(ref start) => walk.open(start, true)?,
            Event::Text(ref text) if !text.is_empty() => walk.fill(),
            Event::End(ref end) => walk.close(end.name().as_ref())?,
            Event::Eof => return Ok(()),
            _ => {}
        }
        buffer.clear();
    }
}

/// Where the walk through `content.xml` stands, in rows and columns as calamine
/// expands them (zero-based).
struct Walk {
    /// The table's name, for the message.
    table: String,
    row: u64,
    column: u64,
    /// How many rows the open row stands for.
    row_repeat: u64,
    cell: Option<OpenCell>,
}

/// The cell being read.
struct OpenCell {
    /// How many columns it stands for.
    repeats: u64,
    /// Whether it holds anything.
    filled: bool,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            table: String::new(),
            row: 0,
            column: 0,
            row_repeat: 1,
            cell: None,
        }
    }

    /// A start tag, or an empty element (`empty`), which also ends where it starts.
    fn open(&mut self, start: &BytesStart<'_>, empty: bool) -> Result<(), ReadError> {
        match start.name().as_ref() {
            "table:table" => {
                self.table = start
                    .try_get_attribute("table:name")
                    .ok()
                    .flatten()
                    .map(|value| value.value.into_owned())
                    .unwrap_or_default();
                self.row = 0;
            }
            "table:table-row" => {
                self.column = 0;
                self.row_repeat = repeat(start, "table:number-rows-repeated");
                if empty {
                    self.row += self.row_repeat;
                }
            }
            "table:table-cell" | "table:covered-table-cell" => {
                // calamine keeps a formula even without a value, in a range of its own.
                let has_value = ["office:value-type", "table:formula"]
                    .into_iter()
                    .any(|name| start.try_get_attribute(name).ok().flatten().is_some());
                self.cell = Some(OpenCell {
                    repeats: repeat(start, "table:number-columns-repeated"),
                    filled: has_value,
                });
                if empty {
                    self.close_cell()?;
                }
            }
            "text:p" | "text:span" | "text:s" => self.fill(),
            _ => {}
        }
        Ok(())
    }

    /// The open cell holds something.
    fn fill(&mut self) {
        if let Some(cell) = self.cell.as_mut() {
            cell.filled = true;
        }
    }

    fn close(&mut self, name: &str) -> Result<(), ReadError> {
        match name {
            "table:table-cell" | "table:covered-table-cell" => self.close_cell()?,
            "table:table-row" => self.row += self.row_repeat,
            _ => {}
        }
        Ok(())
    }

    /// Ends the open cell: a filled one must lie, repeats and all, within the bounds.
    fn close_cell(&mut self) -> Result<(), ReadError> {
        if let Some(cell) = self.cell.take() {
            if cell.filled {
                let last_row = self.row + self.row_repeat - 1;
                let last_column = self.column + cell.repeats - 1;
                within_bounds(&self.table, last_row, last_column)?;
            }
            self.column += cell.repeats;
        }
        Ok(())
    }
}

/// A `number-…-repeated` attribute: 1 when absent, unreadable or 0.
fn repeat(start: &BytesStart<'_>, name: &str) -> u64 {
    start
        .try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|value| value.value.parse().ok())
        .unwrap_or(1)
        .max(1)
}
