//! Reading a submitted spreadsheet into sparse cells, safely.
//!
//! The format is told from the bytes, never from the file name. Before calamine sees
//! a file, its raw size, a zip archive's real uncompressed sizes, and the extent of the
//! used cells are checked, so a zip bomb, a password-protected file, a PDF in
//! disguise or a cell at XFD1048576 ends in a [`ReadError`] that a provider can act
//! on, not in a panic or a blown memory. Formula cells give their cached value;
//! nothing is ever evaluated.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, DataRef, Ods, Reader, SheetVisible, Xls, Xlsb, Xlsx};
use chrono::NaiveDate;

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

/// A sheet's non-empty cells, keyed by zero-based (row, column).
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub name: String,
    pub visible: bool,
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

/// Where an out-of-bounds entry is: the sheet by name, or the file.
fn place(sheet: &str) -> String {
    if sheet.is_empty() {
        "the file".to_owned()
    } else {
        format!("sheet '{sheet}'")
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
    let format = sniff(bytes, name)?;
    // The pre-scans below stop every malformed structure known to trip calamine; should
    // another one make it panic, the file is still only damaged.
    std::panic::catch_unwind(|| match format {
        Format::Xlsx => read_xlsx(bytes),
        Format::Xlsb => read_xlsb(bytes),
        Format::Xls => read_xls(bytes),
        Format::Ods => read_ods(bytes),
        Format::Csv => read_csv(bytes),
    })
    .unwrap_or_else(|_| Err(ReadError::Damaged("a part of it is malformed".to_owned())))
}

/// Tells the format from the content.
fn sniff(bytes: &[u8], name: Option<&str>) -> Result<Format, ReadError> {
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
    let named_csv = name.is_some_and(|name| {
        let lower = name.to_ascii_lowercase();
        lower.ends_with(".csv") || lower.ends_with(".txt")
    });
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    match text {
        Ok(text)
            if !text.contains('\0')
                && (named_csv || text.lines().next().is_some_and(|l| l.contains(','))) =>
        {
            Ok(Format::Csv)
        }
        _ => Err(ReadError::NotSpreadsheet),
    }
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
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer).map_err(damaged)? {
            Event::Start(ref start) | Event::Empty(ref start)
                if start.local_name().as_ref() == "sst" =>
            {
                let count = start
                    .try_get_attribute("uniqueCount")
                    .ok()
                    .flatten()
                    .and_then(|value| value.value.parse::<u64>().ok());
                return match count {
                    Some(count) if count > size / 5 => Err(ReadError::Damaged(format!(
                        "its shared-string table claims {count} strings in {size} bytes"
                    ))),
                    _ => Ok(()),
                };
            }
            Event::Eof => return Ok(()),
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
    // Keep the library's words short: they name a structure, never cell content.
    let text = error.to_string();
    let short: String = text.chars().take(120).collect();
    ReadError::Damaged(short)
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
        if row >= MAX_ROWS || column >= MAX_COLUMNS {
            return Err(ReadError::OutOfBounds {
                sheet: self.sheet.name.clone(),
                cell: cell_name(row, column),
                max_rows: MAX_ROWS,
                max_column: column_name(MAX_COLUMNS - 1),
            });
        }
        self.sheet.cells.insert((row, column), cell);
        Ok(())
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

fn read_xls(bytes: &[u8]) -> Result<Workbook, ReadError> {
    check_xls_extent(bytes)?;
    let workbook: Xls<_> = Xls::new(Cursor::new(bytes.to_vec())).map_err(calamine_error)?;
    read_dense(workbook, Format::Xls)
}

fn read_ods(bytes: &[u8]) -> Result<Workbook, ReadError> {
    check_ods_extent(bytes)?;
    let workbook: Ods<_> = Ods::new(Cursor::new(bytes.to_vec())).map_err(calamine_error)?;
    read_dense(workbook, Format::Ods)
}

fn out_of_bounds(sheet: &str, row: u32, column: u32) -> ReadError {
    ReadError::OutOfBounds {
        sheet: sheet.to_owned(),
        cell: cell_name(row, column),
        max_rows: MAX_ROWS,
        max_column: column_name(MAX_COLUMNS - 1),
    }
}

/// Walks the BIFF records of every sheet and refuses, before calamine reads them, a
/// password (FILEPASS: the records after it are encrypted), a sheet said to start past
/// the end of the stream, a value cell outside the bounds, and a DIMENSIONS record whose
/// extent calamine would reserve memory for (or underflow on).
fn check_xls_extent(bytes: &[u8]) -> Result<(), ReadError> {
    let mut compound = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(damaged)?;
    let stream = if compound.exists("/Workbook") {
        "/Workbook"
    } else {
        "/Book"
    };
    let mut data = Vec::new();
    compound
        .open_stream(stream)
        .and_then(|stream| stream.take(MAX_FILE_BYTES).read_to_end(&mut data))
        .map_err(damaged)?;
    let u16_at = |body: &[u8], at: usize| u32::from(u16::from_le_bytes([body[at], body[at + 1]]));
    let u32_at = |body: &[u8], at: usize| {
        u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]])
    };
    // Sheet names by the offset of their BOF record, for the messages.
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    let mut biff8 = true;
    let mut sheet = String::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let here = at;
        let kind = u16_at(&data, at);
        let length = u16_at(&data, at + 2) as usize;
        let body = &data[at + 4..(at + 4 + length).min(data.len())];
        at += 4 + length;
        match kind {
            // BOF: the workbook globals (whose version tells BIFF8), or a sheet.
            0x0809 => {
                if here == 0 && body.len() >= 2 {
                    biff8 = u16_at(body, 0) == 0x0600;
                }
                if let Some(name) = names.get(&here) {
                    sheet.clone_from(name);
                }
            }
            0x002F => return Err(ReadError::Encrypted),
            // BOUNDSHEET: where a sheet starts, and its name.
            0x0085 => {
                if body.len() < 8 {
                    return Err(ReadError::Damaged(
                        "a sheet's entry is cut short".to_owned(),
                    ));
                }
                let start = u32_at(body, 0) as usize;
                if start > data.len() {
                    return Err(ReadError::Damaged(
                        "a sheet starts past the end of the workbook".to_owned(),
                    ));
                }
                let count = usize::from(body[6]);
                let name = match (biff8, body[7]) {
                    (true, 0) => body[8..]
                        .iter()
                        .take(count)
                        .map(|b| char::from(*b))
                        .collect(),
                    (true, _) => {
                        let units: Vec<u16> = body[8..]
                            .chunks_exact(2)
                            .take(count)
                            .map(|c| u16::from_le_bytes([c[0], c[1]]))
                            .collect();
                        String::from_utf16_lossy(&units)
                    }
                    (false, _) => body[7..]
                        .iter()
                        .take(count)
                        .map(|b| char::from(*b))
                        .collect(),
                };
                names.insert(start, name);
            }
            // DIMENSIONS, read as calamine reads it, which reserves rows × columns cells.
            0x0200 if matches!(body.len(), 10 | 14 | 16) => {
                let (first_row, end_row, mut first_column, end_column) = if body.len() == 10 {
                    (
                        u16_at(body, 0),
                        u16_at(body, 2),
                        u16_at(body, 4),
                        u16_at(body, 6),
                    )
                } else {
                    (
                        u32_at(body, 0),
                        u32_at(body, 4),
                        u16_at(body, 8),
                        u16_at(body, 10),
                    )
                };
                if first_column > 0xFF || end_column < first_column {
                    first_column = 0;
                }
                if end_row >= 1 && end_column >= 1 {
                    let (last_row, last_column) = (end_row - 1, end_column - 1);
                    if last_row < first_row || last_column < first_column {
                        return Err(ReadError::Damaged(
                            "a sheet's recorded size is impossible".to_owned(),
                        ));
                    }
                    let cells = u64::from(last_row - first_row + 1)
                        * u64::from(last_column - first_column + 1);
                    if cells > u64::from(MAX_ROWS) * u64::from(MAX_COLUMNS) {
                        return Err(out_of_bounds(&sheet, last_row, last_column));
                    }
                }
            }
            // NUMBER, RK, LABELSST, LABEL, BOOLERR, FORMULA, RSTRING, and MULRK's last column.
            0x0203 | 0x027E | 0x00FD | 0x0204 | 0x0205 | 0x0006 | 0x00D6 | 0x00BD
                if body.len() >= 6 =>
            {
                let row = u16_at(body, 0);
                let column = if kind == 0x00BD {
                    u16_at(body, body.len() - 2)
                } else {
                    u16_at(body, 2)
                };
                if row >= MAX_ROWS || column >= MAX_COLUMNS {
                    return Err(out_of_bounds(&sheet, row, column));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Streams `content.xml` and refuses a non-empty cell outside the bounds, counting
/// repeated rows and columns as calamine would expand them.
fn check_ods_extent(bytes: &[u8]) -> Result<(), ReadError> {
    use quick_xml::events::Event;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(damaged)?;
    // A password encrypts content.xml, and the manifest says so.
    if let Ok(manifest) = archive.by_name("META-INF/manifest.xml") {
        let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(manifest));
        let mut buffer = Vec::new();
        loop {
            match reader.read_event_into(&mut buffer).map_err(damaged)? {
                Event::Start(ref start) | Event::Empty(ref start)
                    if start.local_name().as_ref() == "encryption-data" =>
                {
                    return Err(ReadError::Encrypted);
                }
                Event::Eof => break,
                _ => {}
            }
            buffer.clear();
        }
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
    let mut table = String::new();
    let (mut row, mut column): (u64, u64) = (0, 0);
    let mut row_repeat: u64 = 1;
    // The open cell: its repeat count and whether it holds anything.
    let mut cell: Option<(u64, bool)> = None;
    let repeat = |event: &quick_xml::events::BytesStart<'_>, name: &str| -> u64 {
        event
            .try_get_attribute(name)
            .ok()
            .flatten()
            .and_then(|value| value.value.parse().ok())
            .unwrap_or(1)
            .max(1)
    };
    let close_cell = |cell: &mut Option<(u64, bool)>,
                      row: u64,
                      column: &mut u64,
                      row_repeat: u64,
                      table: &str| {
        if let Some((repeats, filled)) = cell.take() {
            if filled {
                let last_row = row + row_repeat - 1;
                let last_column = *column + repeats - 1;
                if last_row >= u64::from(MAX_ROWS) || last_column >= u64::from(MAX_COLUMNS) {
                    return Err(out_of_bounds(
                        table,
                        last_row.min(u64::from(u32::MAX)) as u32,
                        last_column.min(u64::from(u32::MAX)) as u32,
                    ));
                }
            }
            *column += repeats;
        }
        Ok(())
    };
    loop {
        let event = reader.read_event_into(&mut buffer).map_err(damaged)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                match start.name().as_ref() {
                    "table:table" => {
                        table = start
                            .try_get_attribute("table:name")
                            .ok()
                            .flatten()
                            .map(|value| value.value.into_owned())
                            .unwrap_or_default();
                        row = 0;
                    }
                    "table:table-row" => {
                        column = 0;
                        row_repeat = repeat(start, "table:number-rows-repeated");
                        if empty {
                            row += row_repeat;
                        }
                    }
                    "table:table-cell" | "table:covered-table-cell" => {
                        // calamine keeps a formula even without a value, in a range
                        // of its own.
                        let has_value = ["office:value-type", "table:formula"]
                            .into_iter()
                            .any(|name| start.try_get_attribute(name).ok().flatten().is_some());
                        cell = Some((repeat(start, "table:number-columns-repeated"), has_value));
                        if empty {
                            close_cell(&mut cell, row, &mut column, row_repeat, &table)?;
                        }
                    }
                    "text:p" | "text:span" | "text:s" => {
                        if let Some((_, filled)) = cell.as_mut() {
                            *filled = true;
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(ref text) if !text.is_empty() => {
                if let Some((_, filled)) = cell.as_mut() {
                    *filled = true;
                }
            }
            Event::End(ref end) => match end.name().as_ref() {
                "table:table-cell" | "table:covered-table-cell" => {
                    close_cell(&mut cell, row, &mut column, row_repeat, &table)?;
                }
                "table:table-row" => row += row_repeat,
                _ => {}
            },
            Event::Eof => return Ok(()),
            _ => {}
        }
        buffer.clear();
    }
}

fn read_csv(bytes: &[u8]) -> Result<Workbook, ReadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut collector = Collector::new("", true);
    let mut record = csv::StringRecord::new();
    // The csv reader skips blank lines; rows are counted from the bytes instead, so
    // they match what a spreadsheet shows: the record ends on the line of the last
    // newline read, less the newlines inside its quoted fields.
    let (mut counted_to, mut newlines) = (0usize, 0usize);
    while reader.read_record(&mut record).map_err(damaged)? {
        let end = (reader.position().byte() as usize).min(bytes.len());
        newlines += bytes[counted_to.min(end)..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = end;
        let terminated = usize::from(end > 0 && bytes[end - 1] == b'\n');
        let embedded: usize = record.iter().map(|field| field.matches('\n').count()).sum();
        let line = newlines.saturating_sub(terminated + embedded);
        let row = u32::try_from(line).unwrap_or(u32::MAX);
        for (column, value) in record.iter().enumerate() {
            let column = u32::try_from(column).unwrap_or(u32::MAX);
            collector.push(row, column, text_cell(value))?;
        }
    }
    Ok(Workbook {
        format: Format::Csv,
        sheets: vec![collector.sheet],
    })
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
