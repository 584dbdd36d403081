//! Reading a submitted spreadsheet into sparse cells, safely.
//!
//! The format is told from the bytes, never from the file name. Before calamine sees
//! a file, its raw size, a zip archive's real uncompressed sizes, and the extent of the
//! used cells are checked, so a zip bomb, a password-protected file, a PDF in
//! disguise or a cell at XFD1048576 ends in a [`ReadError`] that a provider can act
//! on, not in a panic or a blown memory. Formula cells give their cached value;
//! nothing is ever evaluated.
//!
//! The two formats calamine reads into a dense range, .xls and .ods, have a file each
//! (`read/xls.rs`, `read/ods.rs`) for the pre-scan of their raw records that measures
//! the used extent before calamine reserves memory for it; CSV files, in the encodings
//! and separators spreadsheets save them with, have `read/csv.rs`.

mod csv;
mod ods;
mod xls;

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, DataRef, Reader, SheetVisible, Xlsb, Xlsx};
use chrono::NaiveDate;

use super::schema::{self, INSTRUCTIONS_SHEET, Kind, MARKER_SHEET};
use crate::rules::parse_date_text;

/// The largest file read at all, in any format.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// The most a zip-based workbook may hold once uncompressed.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 50 * 1024 * 1024;
/// The most entries in a zip-based workbook.
const MAX_ZIP_ENTRIES: usize = 2_000;
/// Cells past this row (1-based) mean the file is not a template being filled in.
pub const MAX_ROWS: u32 = 10_000;
/// Cells past this column (1-based; 64 is BL) likewise.
pub const MAX_COLUMNS: u32 = 64;

/// The file formats a submission may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
    Csv,
}

/// One cell's value, as the reader hands it on.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    /// A formula error such as `#DIV/0!`.
    Error(String),
}

/// How a sheet's cells carry their types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Typing {
    /// A workbook's cells: a number is a number cell, text is text as typed.
    #[default]
    Typed,
    /// A CSV file's cells, all text: a cell of digits only may be a number that lost
    /// its leading zeros, and with `decimal_comma` (a CSV separated by semicolons)
    /// `125,50` is 125.50.
    Text { decimal_comma: bool },
}

/// A sheet's non-empty cells, keyed by zero-based (row, column).
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub name: String,
    pub visible: bool,
    pub typing: Typing,
    pub cells: BTreeMap<(u32, u32), Cell>,
}

impl Sheet {
    pub fn get(&self, row: u32, column: u32) -> Option<&Cell> {
        self.cells.get(&(row, column))
    }

    /// The cell's text, trimmed, for cells holding text.
    pub fn text(&self, row: u32, column: u32) -> Option<&str> {
        match self.get(row, column) {
            Some(Cell::Text(text)) => Some(text.trim()),
            _ => None,
        }
    }

    /// The last row holding anything, zero-based.
    pub fn last_row(&self) -> Option<u32> {
        self.cells.keys().next_back().map(|(row, _)| *row)
    }
}

/// A workbook's sheets, in order.
#[derive(Debug, Clone)]
pub struct Workbook {
    pub format: Format,
    pub sheets: Vec<Sheet>,
}

impl Workbook {
    /// The sheet called `name`, ignoring case.
    pub fn sheet(&self, name: &str) -> Option<&Sheet> {
        self.sheets
            .iter()
            .find(|sheet| sheet.name.eq_ignore_ascii_case(name))
    }
}

/// Why a file could not be read. Each message is a sentence a provider can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {bytes} bytes; the portal reads spreadsheets of at most {limit} bytes")]
    TooLarge { bytes: u64, limit: u64 },
    #[error(
        "the file would unpack to more than {limit} bytes, far more than any template; \
         it may be a zip bomb and was not opened"
    )]
    ZipBomb { limit: u64 },
    #[error(
        "the file is an archive of {parts} parts, far more than any spreadsheet holds (at most \
         {limit}); it may be a zip bomb and was not opened"
    )]
    TooManyParts { parts: usize, limit: usize },
    #[error("the file is password-protected; remove the password, save it and send it again")]
    Encrypted,
    #[error("the file is a PDF document, not a spreadsheet; send the template as .xlsx")]
    Pdf,
    #[error("the file is not a spreadsheet the portal reads (.xlsx, .xls, .xlsb, .ods or .csv)")]
    NotSpreadsheet,
    #[error(
        "the file is a CSV file whose characters cannot be read; save it again as \
         \"CSV UTF-8\" (in Excel: Save As, CSV UTF-8) and send it again"
    )]
    CsvUnreadable,
    #[error("the file is damaged or cut short and cannot be read ({0}); save it again and resend")]
    Damaged(String),
    /// `sheet` is empty when the file has no sheet names (CSV) or the sheet's is unknown.
    #[error(
        "{} has an entry at {cell}, far outside the template (which ends by row {max_rows}, \
         column {max_column}); delete it and send the file again",
        place(.sheet)
    )]
    OutOfBounds {
        sheet: String,
        cell: String,
        max_rows: u32,
        max_column: String,
    },
}

/// Where an out-of-bounds entry is: the file, or a sheet of the portal's templates by
/// name. Any other sheet's name is something a person typed, so it is not repeated
/// (R10).
fn place(sheet: &str) -> String {
    let ours = Kind::ALL
        .into_iter()
        .flat_map(schema::sheets)
        .any(|known| known.name == sheet)
        || [INSTRUCTIONS_SHEET, MARKER_SHEET].contains(&sheet);
    if sheet.is_empty() {
        "the file".to_owned()
    } else if ours {
        format!("sheet '{sheet}'")
    } else {
        "a sheet of the file".to_owned()
    }
}

/// Reads a spreadsheet from its bytes. `name` (the file name, if any) only helps tell
/// a CSV file from other text.
pub fn read_workbook(bytes: &[u8], name: Option<&str>) -> Result<Workbook, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    let size = bytes.len() as u64;
    if size > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge {
            bytes: size,
            limit: MAX_FILE_BYTES,
        });
    }
    let format = sniff(bytes)?;
    // The pre-scans below stop every malformed structure known to trip calamine; should
    // another one make it panic, the file is still only damaged.
    std::panic::catch_unwind(|| match format {
        Format::Xlsx => read_xlsx(bytes),
        Format::Xlsb => read_xlsb(bytes),
        Format::Xls => xls::read(bytes),
        Format::Ods => ods::read(bytes),
        Format::Csv => csv::read(bytes, name),
    })
    .unwrap_or_else(|_| Err(ReadError::Damaged("a part of it is malformed".to_owned())))
}

/// Tells the format from the content; a file that is no binary workbook may be CSV,
/// which `read/csv.rs` decides.
fn sniff(bytes: &[u8]) -> Result<Format, ReadError> {
    const ZIP: &[u8] = b"PK\x03\x04";
    const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.starts_with(ZIP) || bytes.starts_with(b"PK\x05\x06") {
        return sniff_zip(bytes);
    }
    if bytes.starts_with(CFB) {
        return sniff_cfb(bytes);
    }
    if bytes.starts_with(b"%PDF") {
        return Err(ReadError::Pdf);
    }
    Ok(Format::Csv)
}

/// Checks a zip archive's entries (declared and real sizes) and tells which workbook
/// format it holds.
fn sniff_zip(bytes: &[u8]) -> Result<Format, ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(damaged)?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ReadError::TooManyParts {
            parts: archive.len(),
            limit: MAX_ZIP_ENTRIES,
        });
    }
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(damaged)?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > MAX_UNCOMPRESSED_BYTES {
        return Err(ReadError::ZipBomb {
            limit: MAX_UNCOMPRESSED_BYTES,
        });
    }
    // Declared sizes can lie: inflate everything once, counting, with a hard stop.
    let mut budget = MAX_UNCOMPRESSED_BYTES;
    let mut format = None;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|error| match error {
            zip::result::ZipError::UnsupportedArchive(text) if text.contains("assword") => {
                ReadError::Encrypted
            }
            other => damaged(other),
        })?;
        let entry_name = entry.name().map_err(damaged)?.into_owned();
        match entry_name.as_str() {
            "xl/workbook.xml" => format = format.or(Some(Format::Xlsx)),
            "xl/workbook.bin" => format = format.or(Some(Format::Xlsb)),
            "content.xml" => format = format.or(Some(Format::Ods)),
            _ => {}
        }
        let declared = entry.size();
        let mut counted = CountingReader {
            inner: (&mut entry).take(budget + 1),
            read: 0,
        };
        if entry_name
            .to_ascii_lowercase()
            .ends_with("sharedstrings.xml")
        {
            check_shared_strings(&mut counted, declared)?;
        }
        std::io::copy(&mut counted, &mut std::io::sink()).map_err(damaged)?;
        let read = counted.read;
        if read > budget {
            return Err(ReadError::ZipBomb {
                limit: MAX_UNCOMPRESSED_BYTES,
            });
        }
        budget -= read;
    }
    format.ok_or(ReadError::NotSpreadsheet)
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.read += read as u64;
        Ok(read)
    }
}

/// calamine reserves room for the `uniqueCount` strings an .xlsx shared-string table
/// announces before reading one. Each string takes at least 5 bytes (`<si/>`), so a
/// count the part's size cannot hold is a lie, refused before calamine trusts it.
fn check_shared_strings(part: &mut impl Read, size: u64) -> Result<(), ReadError> {
    let count = first_element(part, "sst", |sst| {
        sst.try_get_attribute("uniqueCount")
            .ok()
            .flatten()
            .and_then(|value| value.value.parse::<u64>().ok())
    })?;
    match count.flatten() {
        Some(count) if count > size / 5 => Err(ReadError::Damaged(format!(
            "its shared-string table claims {count} strings in {size} bytes"
        ))),
        _ => Ok(()),
    }
}

/// Streams an XML part up to the first element whose local name is `local_name` and
/// hands it to `inspect`; `None` when the part has no such element.
fn first_element<T>(
    part: impl Read,
    local_name: &str,
    inspect: impl FnOnce(&quick_xml::events::BytesStart<'_>) -> T,
) -> Result<Option<T>, ReadError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer).map_err(damaged)? {
            Event::Start(ref start) | Event::Empty(ref start)
                if start.local_name().as_ref() == local_name =>
            {
                return Ok(Some(inspect(start)));
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
        buffer.clear();
    }
}

/// An OLE compound file: an encrypted OOXML package, or a legacy .xls workbook.
fn sniff_cfb(bytes: &[u8]) -> Result<Format, ReadError> {
    let compound = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(damaged)?;
    if compound.exists("/EncryptedPackage") || compound.exists("/EncryptionInfo") {
        return Err(ReadError::Encrypted);
    }
    if compound.exists("/Workbook") || compound.exists("/Book") {
        Ok(Format::Xls)
    } else {
        Err(ReadError::NotSpreadsheet)
    }
}

fn damaged(error: impl std::fmt::Display) -> ReadError {
    // Keep the library's words short, and leave out what they quote: a quoted piece
    // may come from a cell (calamine quotes an error value it does not know), and a
    // person may have typed anything there (R10). calamine prints a value it cannot
    // read as a boolean without quotes (`Unrecognized boolean cell value: …`): what
    // follows its colon goes too.
    let text = error.to_string();
    let mut short = String::new();
    let mut open: Option<char> = None;
    let mut previous = ' ';
    for c in text.chars() {
        match open {
            Some(quote) if c == quote => {
                open = None;
                short.push('…');
                short.push(c);
            }
            Some(_) => {}
            None => {
                short.push(c);
                if matches!(c, '\'' | '"' | '`') && !previous.is_alphanumeric() {
                    open = Some(c);
                }
            }
        }
        previous = c;
    }
    if let Some(start) = short.find("Unrecognized ")
        && let Some(colon) = short[start..].find(':')
    {
        short.truncate(start + colon);
    }
    ReadError::Damaged(short.chars().take(120).collect())
}

fn calamine_error(error: impl std::fmt::Display) -> ReadError {
    let text = error.to_string();
    if text.contains("password") {
        ReadError::Encrypted
    } else {
        damaged(text)
    }
}

/// Collects one cell, refusing cells far outside any template.
struct Collector {
    sheet: Sheet,
}

impl Collector {
    fn new(name: &str, visible: bool) -> Collector {
        Collector {
            sheet: Sheet {
                name: name.to_owned(),
                visible,
                ..Sheet::default()
            },
        }
    }

    fn push(&mut self, row: u32, column: u32, cell: Option<Cell>) -> Result<(), ReadError> {
        let Some(cell) = cell else { return Ok(()) };
        within_bounds(&self.sheet.name, row.into(), column.into())?;
        self.sheet.cells.insert((row, column), cell);
        Ok(())
    }
}

/// Refuses an entry past [`MAX_ROWS`] or [`MAX_COLUMNS`] (zero-based `row` and
/// `column`), wherever it was found: a cell read, or one a pre-scan counted.
fn within_bounds(sheet: &str, row: u64, column: u64) -> Result<(), ReadError> {
    if row >= u64::from(MAX_ROWS) || column >= u64::from(MAX_COLUMNS) {
        return Err(out_of_bounds(
            sheet,
            row.min(u64::from(u32::MAX)) as u32,
            column.min(u64::from(u32::MAX)) as u32,
        ));
    }
    Ok(())
}

/// An entry at `row` and `column` (zero-based) outside the template.
fn out_of_bounds(sheet: &str, row: u32, column: u32) -> ReadError {
    ReadError::OutOfBounds {
        sheet: sheet.to_owned(),
        cell: cell_name(row, column),
        max_rows: MAX_ROWS,
        max_column: column_name(MAX_COLUMNS - 1),
    }
}

fn convert_ref(value: &DataRef<'_>) -> Option<Cell> {
    match value {
        DataRef::Int(number) => Some(Cell::Number(*number as f64)),
        DataRef::Float(number) => Some(Cell::Number(*number)),
        DataRef::String(text) => text_cell(text),
        DataRef::SharedString(text) => text_cell(text),
        DataRef::Bool(value) => Some(Cell::Bool(*value)),
        DataRef::DateTime(datetime) => datetime
            .as_datetime()
            .map(|moment| Cell::Date(moment.date()))
            .or_else(|| Some(Cell::Number(datetime.as_f64()))),
        DataRef::DateTimeIso(text) => iso_cell(text),
        DataRef::DurationIso(text) => text_cell(text),
        DataRef::Error(error) => Some(Cell::Error(error.to_string())),
        DataRef::Empty => None,
    }
}

fn convert(value: &Data) -> Option<Cell> {
    match value {
        Data::Int(number) => Some(Cell::Number(*number as f64)),
        Data::Float(number) => Some(Cell::Number(*number)),
        Data::String(text) => text_cell(text),
        Data::Bool(value) => Some(Cell::Bool(*value)),
        Data::DateTime(datetime) => datetime
            .as_datetime()
            .map(|moment| Cell::Date(moment.date()))
            .or_else(|| Some(Cell::Number(datetime.as_f64()))),
        Data::DateTimeIso(text) => iso_cell(text),
        Data::DurationIso(text) => text_cell(text),
        Data::Error(error) => Some(Cell::Error(error.to_string())),
        Data::Empty => None,
    }
}

fn text_cell(text: &str) -> Option<Cell> {
    (!text.trim().is_empty()).then(|| Cell::Text(text.to_owned()))
}

fn iso_cell(text: &str) -> Option<Cell> {
    parse_date_text(text)
        .map(Cell::Date)
        .or_else(|| text_cell(text))
}

fn read_xlsx(bytes: &[u8]) -> Result<Workbook, ReadError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(calamine_error)?;
    let metadata = workbook.sheets_metadata().to_vec();
    let mut sheets = Vec::with_capacity(metadata.len());
    for sheet in metadata {
        let mut collector = Collector::new(&sheet.name, sheet.visible == SheetVisible::Visible);
        let mut reader = workbook
            .worksheet_cells_reader(&sheet.name)
            .map_err(calamine_error)?;
        while let Some(cell) = reader.next_cell().map_err(calamine_error)? {
            let (row, column) = cell.get_position();
            collector.push(row, column, convert_ref(cell.get_value()))?;
        }
        sheets.push(collector.sheet);
    }
    Ok(Workbook {
        format: Format::Xlsx,
        sheets,
    })
}

fn read_xlsb(bytes: &[u8]) -> Result<Workbook, ReadError> {
    let mut workbook: Xlsb<_> = Xlsb::new(Cursor::new(bytes)).map_err(calamine_error)?;
    let metadata = workbook.sheets_metadata().to_vec();
    let mut sheets = Vec::with_capacity(metadata.len());
    for sheet in metadata {
        let mut collector = Collector::new(&sheet.name, sheet.visible == SheetVisible::Visible);
        let mut reader = workbook
            .worksheet_cells_reader(&sheet.name)
            .map_err(calamine_error)?;
        while let Some(cell) = reader.next_cell().map_err(calamine_error)? {
            let (row, column) = cell.get_position();
            collector.push(row, column, convert_ref(cell.get_value()))?;
        }
        sheets.push(collector.sheet);
    }
    Ok(Workbook {
        format: Format::Xlsb,
        sheets,
    })
}

/// .xls and .ods are read by calamine into a dense range, so their used extent is
/// measured first from the raw records and refused when far outside a template.
fn read_dense<R>(mut workbook: R, format: Format) -> Result<Workbook, ReadError>
where
    R: Reader<Cursor<Vec<u8>>, Error: std::fmt::Display>,
{
    let metadata = workbook.sheets_metadata().to_vec();
    let mut sheets = Vec::with_capacity(metadata.len());
    for sheet in metadata {
        let mut collector = Collector::new(&sheet.name, sheet.visible == SheetVisible::Visible);
        let range = workbook
            .worksheet_range(&sheet.name)
            .map_err(calamine_error)?;
        for (row, column, value) in range.used_cells() {
            let (Some(start_row), Some(start_column)) =
                (range.start().map(|s| s.0), range.start().map(|s| s.1))
            else {
                continue;
            };
            collector.push(
                start_row + row as u32,
                start_column + column as u32,
                convert(value),
            )?;
        }
        sheets.push(collector.sheet);
    }
    Ok(Workbook { format, sheets })
}

/// `A`, `Z`, `AA`, … for a zero-based column.
pub fn column_name(column: u32) -> String {
    let mut name = Vec::new();
    let mut n = u64::from(column) + 1;
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        name.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// `XFD1048576` for a zero-based (row, column).
pub fn cell_name(row: u32, column: u32) -> String {
    format!("{}{}", column_name(column), u64::from(row) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16383), "XFD");
        assert_eq!(cell_name(1_048_575, 16383), "XFD1048576");
    }

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(read_workbook(b"", None).unwrap_err(), ReadError::Empty);
        assert_eq!(
            read_workbook(b"%PDF-1.7\n...", Some("claims.xlsx")).unwrap_err(),
            ReadError::Pdf
        );
        assert_eq!(
            read_workbook(b"\x00\x01\x02binary", Some("claims.xlsx")).unwrap_err(),
            ReadError::NotSpreadsheet
        );
        let csv = read_workbook(b"a,b\n1,2\n", None).unwrap();
        assert_eq!(csv.format, Format::Csv);
        assert_eq!(csv.sheets[0].get(1, 1), Some(&Cell::Text("2".into())));
    }

    #[test]
    fn a_truncated_zip_is_damaged() {
        let error = read_workbook(b"PK\x03\x04\x14\x00\x00\x00", Some("x.xlsx")).unwrap_err();
        assert!(matches!(error, ReadError::Damaged(_)), "{error:?}");
    }

    #[test]
    fn a_csv_cell_far_away_is_refused() {
        let mut text = String::from("a\n");
        text.push_str(&"\n".repeat(20_000));
        text.push_str("x\n");
        let error = read_workbook(text.as_bytes(), Some("x.csv")).unwrap_err();
        assert!(matches!(error, ReadError::OutOfBounds { .. }), "{error:?}");
    }
}
