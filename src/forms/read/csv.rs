//! CSV files, as spreadsheets save them. Excel on Windows writes Windows-1252 unless
//! told "CSV UTF-8", and where the decimal mark is a comma it separates values with
//! semicolons. So the text is UTF-8 (with or without a byte order mark), UTF-16 with
//! one, or else Windows-1252 (which also reads Latin-1 text); values are separated by
//! commas or semicolons, whichever the file uses more; and a CSV's cells are all text
//! ([`Typing::Text`]).

use std::borrow::Cow;

use encoding_rs::{Encoding, WINDOWS_1252};

use super::{Collector, Format, ReadError, Typing, Workbook, damaged, text_cell};

/// Reads a file that is no binary workbook as CSV. `name` (the file name, if any) says
/// whether it is meant as one: a file named `.csv` that cannot be read as text is
/// refused with what to do about it; one not named `.csv` or `.txt` must at least
/// separate its first line's values.
pub(super) fn read(bytes: &[u8], name: Option<&str>) -> Result<Workbook, ReadError> {
    let lower = name.map(str::to_ascii_lowercase).unwrap_or_default();
    let csv = lower.ends_with(".csv");
    let text = decode(bytes, csv)?;
    let separator = separator(&text);
    let first_line = text.lines().next().unwrap_or_default();
    if !csv && !lower.ends_with(".txt") && !first_line.contains(char::from(separator)) {
        return Err(ReadError::NotSpreadsheet);
    }
    parse(&text, separator)
}

/// The file's text: by its byte order mark (UTF-8, UTF-16), else UTF-8, else
/// Windows-1252. Text with NULs or other control characters is no CSV: refused as
/// unreadable when it was meant as one (named `.csv`, or a byte order mark says it is
/// text), as no spreadsheet otherwise.
fn decode(bytes: &[u8], named: bool) -> Result<Cow<'_, str>, ReadError> {
    let text = match Encoding::for_bom(bytes) {
        Some((encoding, bom)) => encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .filter(|text| !text.contains('\0'))
            .ok_or(ReadError::CsvUnreadable)?,
        None => match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            // Every byte is a character in Windows-1252; the five it leaves undefined
            // come out as control characters, caught below.
            Err(_) => WINDOWS_1252.decode_without_bom_handling(bytes).0,
        },
    };
    let control = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    let binary = match &text {
        Cow::Borrowed(utf8) => utf8.contains('\0'),
        Cow::Owned(decoded) => decoded.contains(control),
    };
    match (binary, named) {
        (false, _) => Ok(text),
        (true, true) => Err(ReadError::CsvUnreadable),
        (true, false) => Err(ReadError::NotSpreadsheet),
    }
}

/// `;` when the text has more semicolons than commas outside quoted values, else `,`.
fn separator(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for byte in text.bytes() {
        match byte {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

/// The records of `text`, one row each, at the row a spreadsheet shows them on.
fn parse(text: &str, separator: u8) -> Result<Workbook, ReadError> {
    let bytes = text.as_bytes();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .from_reader(bytes);
    let mut collector = Collector::new("", true);
    collector.sheet.typing = Typing::Text {
        decimal_comma: separator == b';',
    };
    let mut record = ::csv::StringRecord::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::read::Cell;

    fn first_row(bytes: &[u8], name: Option<&str>) -> Vec<String> {
        let workbook = read(bytes, name).unwrap();
        let sheet = &workbook.sheets[0];
        (0..3)
            .filter_map(|column| match sheet.get(0, column) {
                Some(Cell::Text(text)) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn encodings_by_byte_order_mark_then_utf8_then_windows_1252() {
        let expected = ["Caf\u{e9}", "MCO\u{2019}s", "x"];
        assert_eq!(first_row(b"Caf\xE9,MCO\x92s,x\r\n", None), expected);
        assert_eq!(
            first_row("\u{feff}Caf\u{e9},MCO\u{2019}s,x".as_bytes(), None),
            expected
        );
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "Caf\u{e9};MCO\u{2019}s;x"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(first_row(&utf16le, None), expected);
    }

    #[test]
    fn semicolons_when_they_outnumber_commas_and_then_a_decimal_comma() {
        assert_eq!(separator("a;b;\"c,d,e\"\n1,5;2;3"), b';');
        assert_eq!(separator("a,b,c\nx;y,z"), b',');
        let workbook = read(b"a;b\n125,50;2\n", Some("x.csv")).unwrap();
        assert_eq!(
            workbook.sheets[0].typing,
            Typing::Text {
                decimal_comma: true
            }
        );
        assert_eq!(
            workbook.sheets[0].get(1, 0),
            Some(&Cell::Text("125,50".into()))
        );
    }

    #[test]
    fn what_cannot_be_text_is_refused() {
        // UTF-16 without its mark, named as a CSV: unreadable, with what to do.
        let no_bom: Vec<u8> = "a,b".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(
            read(&no_bom, Some("x.csv")).unwrap_err(),
            ReadError::CsvUnreadable
        );
        for name in [None, Some("notes.txt")] {
            assert_eq!(read(&no_bom, name).unwrap_err(), ReadError::NotSpreadsheet);
        }
        // A UTF-16 mark before an odd number of bytes.
        assert_eq!(
            read(b"\xFF\xFEa\x00,", None).unwrap_err(),
            ReadError::CsvUnreadable
        );
        // Bytes that are not text in any encoding, and text with no separator.
        assert_eq!(
            read(b"\x01\x02,\x81", None).unwrap_err(),
            ReadError::NotSpreadsheet
        );
        assert_eq!(
            read(b"just words\n", None).unwrap_err(),
            ReadError::NotSpreadsheet
        );
    }
}
