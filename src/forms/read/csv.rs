//! CSV files, as spreadsheets save them. Excel on Windows writes Windows-1252 unless
//! told "CSV UTF-8", and where the decimal mark is a comma it separates values with
//! semicolons. So the text is UTF-8 (with or without a byte order mark), UTF-16 with
//! one, or else Windows-1252 (which also reads Latin-1 text); values are separated by
//! commas or semicolons, whichever the file uses more; and a CSV's cells are all text
//! ([`Typing::Text`]). Lines end in `\n`, `\r\n` or (an old Mac's) `\r`. Each record
//! is on the row a spreadsheet shows it on: one row however many lines its quoted
//! values span, a blank line an empty row. A quote that opens a value and never closes
//! would swallow every row after it, so such a file is refused as damaged.

use std::borrow::Cow;

use encoding_rs::{Encoding, WINDOWS_1252};

use super::{Collector, Format, ReadError, Typing, Workbook, damaged, text_cell, within_bounds};

/// Reads a file that is no binary workbook as CSV. `name` (the file name, if any) says
/// whether it is meant as one: a file named `.csv` that cannot be read as text is
/// refused with what to do about it; one not named `.csv` or `.txt` must at least
/// separate its first line's values.
pub(super) fn read(bytes: &[u8], name: Option<&str>) -> Result<Workbook, ReadError> {
    let lower = name.map(str::to_ascii_lowercase).unwrap_or_default();
    let csv = lower.ends_with(".csv");
    let text = one_line_end(decode(bytes, csv)?);
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

/// The text with every line end made `\n`: Windows ends lines with `\r\n`, and the
/// old "CSV (Macintosh)" with `\r` alone, which the csv reader takes as a line end too.
fn one_line_end(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        text
    }
}

/// The records of `text`, one row each, at the row a spreadsheet shows them on.
fn parse(text: &str, separator: u8) -> Result<Workbook, ReadError> {
    let rows = record_rows(text, separator)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .from_reader(text.as_bytes());
    let mut collector = Collector::new("", true);
    collector.sheet.typing = Typing::Text {
        decimal_comma: separator == b';',
    };
    let mut record = ::csv::StringRecord::new();
    let mut rows = rows.into_iter();
    while reader.read_record(&mut record).map_err(damaged)? {
        // The scan follows the reader's rules, so each record has its own row; should
        // they ever part, one record would overwrite another's row.
        let row = rows.next().ok_or_else(records_apart)?;
        for (column, value) in record.iter().enumerate() {
            let column = u32::try_from(column).unwrap_or(u32::MAX);
            collector.push(row, column, text_cell(value))?;
        }
    }
    if rows.next().is_some() {
        return Err(records_apart());
    }
    Ok(Workbook {
        format: Format::Csv,
        sheets: vec![collector.sheet],
    })
}

/// Where a field of a CSV record stands, as the csv reader reads RFC 4180.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Between records: a line end here is a blank line, an empty row.
    RecordStart,
    FieldStart,
    /// In a field that did not start with a quote: a quote there is just a character
    /// (`12" pipe`).
    Unquoted,
    /// In a quoted field, where separators and line ends are part of the value.
    Quoted,
    /// Just after a quote in a quoted field: a second quote is an escaped one (`""`),
    /// anything else closes the quotes.
    QuoteInQuoted,
}

/// The zero-based row each record of `text` (its line ends made `\n`) starts on, as a
/// spreadsheet shows it: a record is one row however many line ends its quoted values
/// hold, and a blank line, which the csv reader skips, is an empty row. The rows
/// strictly increase. A quote that opens a value and never closes swallows the rest
/// of the file, rows and all: such a file is refused as damaged, naming its row.
fn record_rows(text: &str, separator: u8) -> Result<Vec<u32>, ReadError> {
    let (mut scan, mut row, mut rows) = (Scan::RecordStart, 0u32, Vec::new());
    for byte in text.bytes() {
        if scan == Scan::RecordStart && byte != b'\n' {
            // A record past any template is refused here, before the scan holds a row
            // for every line of a file that is nothing but lines.
            within_bounds("", row.into(), 0)?;
            rows.push(row);
            scan = Scan::FieldStart;
        }
        scan = match (scan, byte) {
            (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
            (Scan::Quoted, _) => Scan::Quoted,
            (Scan::QuoteInQuoted, b'"') => Scan::Quoted,
            (_, b'\n') => {
                row = row.saturating_add(1);
                Scan::RecordStart
            }
            (_, byte) if byte == separator => Scan::FieldStart,
            (Scan::FieldStart, b'"') => Scan::Quoted,
            _ => Scan::Unquoted,
        };
    }
    match (scan, rows.last()) {
        (Scan::Quoted, Some(opened)) => Err(ReadError::Damaged(format!(
            "a quotation mark in row {} opens a value that is never closed",
            u64::from(*opened) + 1
        ))),
        _ => Ok(rows),
    }
}

/// The records the csv reader found are not the ones the row scan found.
fn records_apart() -> ReadError {
    ReadError::Damaged("its records cannot be told apart".to_owned())
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

    /// Each cell of a CSV's sheet: zero-based row and column, and its text.
    fn cells(text: &str) -> Vec<(u32, u32, String)> {
        let workbook = read(text.as_bytes(), Some("x.csv")).unwrap();
        let sheet = &workbook.sheets[0];
        sheet
            .cells
            .iter()
            .map(|(&(row, column), cell)| match cell {
                Cell::Text(text) => (row, column, text.clone()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn cell(row: u32, column: u32, text: &str) -> (u32, u32, String) {
        (row, column, text.to_owned())
    }

    #[test]
    fn a_multi_line_cell_is_one_row_and_the_rows_after_it_keep_theirs() {
        // Spreadsheet rows 1 to 4: the header, a cell of three lines in row 2, then
        // rows 3 and 4, with Unix and with Windows line ends.
        for end in ["\n", "\r\n"] {
            let text = ["h,d", "a,\"one", "two", "three\"", "b,x", "c,y", ""].join(end);
            assert_eq!(
                cells(&text),
                [
                    cell(0, 0, "h"),
                    cell(0, 1, "d"),
                    cell(1, 0, "a"),
                    cell(1, 1, "one\ntwo\nthree"),
                    cell(2, 0, "b"),
                    cell(2, 1, "x"),
                    cell(3, 0, "c"),
                    cell(3, 1, "y"),
                ],
                "{end:?}"
            );
        }
    }

    #[test]
    fn blank_lines_are_empty_rows_before_and_after_multi_line_cells() {
        for end in ["\n", "\r\n", "\r"] {
            let text = ["h,d", "", "a,\"1", "2\"", "", "", "b,\"3", "", "4\"", "c,z"].join(end);
            assert_eq!(
                cells(&text),
                [
                    cell(0, 0, "h"),
                    cell(0, 1, "d"),
                    cell(2, 0, "a"),
                    cell(2, 1, "1\n2"),
                    cell(5, 0, "b"),
                    cell(5, 1, "3\n\n4"),
                    cell(6, 0, "c"),
                    cell(6, 1, "z"),
                ],
                "{end:?}"
            );
        }
    }

    #[test]
    fn lone_carriage_returns_end_lines_as_in_an_old_mac_csv() {
        assert_eq!(
            cells("h,d\ra,1\rb,\"x\ry\"\r\rc,3\r"),
            [
                cell(0, 0, "h"),
                cell(0, 1, "d"),
                cell(1, 0, "a"),
                cell(1, 1, "1"),
                cell(2, 0, "b"),
                cell(2, 1, "x\ny"),
                cell(4, 0, "c"),
                cell(4, 1, "3"),
            ]
        );
    }

    #[test]
    fn quotes_inside_values_are_characters_as_rfc_4180_reads_them() {
        // A quote in the middle of an unquoted value, an escaped quote, and text after
        // a closing quote: no value is left open, every record keeps its row.
        let text = "h,d\na,12\" pipe\nb,\"say \"\"hi\"\"\nthere\"\nc,\"half\"way\"\nd,\"\"\n";
        assert_eq!(
            cells(text),
            [
                cell(0, 0, "h"),
                cell(0, 1, "d"),
                cell(1, 0, "a"),
                cell(1, 1, "12\" pipe"),
                cell(2, 0, "b"),
                cell(2, 1, "say \"hi\"\nthere"),
                cell(3, 0, "c"),
                cell(3, 1, "halfway\""),
                cell(4, 0, "d"),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_is_damage_named_by_the_row_it_opens_in() {
        let secret = "Jane Roe denied";
        for (text, row) in [
            (format!("h,d\na,1\nb,\"{secret}\nc,3\nd,4\n"), "row 3"),
            (format!("h,d\r\na,\"1\r\n2\"\r\nb,\"{secret}\r\n"), "row 3"),
            (format!("h;d\r\"{secret};x\r"), "row 2"),
            (format!("\"{secret},d\na,1\n"), "row 1"),
        ] {
            let error = read(text.as_bytes(), Some("x.csv")).unwrap_err();
            assert!(matches!(error, ReadError::Damaged(_)), "{error:?}");
            let sentence = error.to_string();
            assert!(sentence.contains(row), "{sentence}");
            assert!(sentence.contains("never closed"), "{sentence}");
            assert!(!sentence.contains("Jane"), "{sentence}");
        }
    }

    /// Every short text of separators, quotes, line ends and a letter: the row scan
    /// sees the records the csv reader reads, one row each, or an unclosed quote.
    #[test]
    fn the_row_scan_and_the_csv_reader_agree_on_the_records() {
        const ALPHABET: &[u8] = b"a,;\"\n\r";
        let mut checked = 0;
        for len in 1..=5u32 {
            for mut index in 0..ALPHABET.len().pow(len) {
                let mut bytes = Vec::new();
                for _ in 0..len {
                    bytes.push(ALPHABET[index % ALPHABET.len()]);
                    index /= ALPHABET.len();
                }
                let text = String::from_utf8(bytes).unwrap();
                let text = one_line_end(Cow::Borrowed(&text));
                for separator in [b',', b';'] {
                    let records = ::csv::ReaderBuilder::new()
                        .has_headers(false)
                        .flexible(true)
                        .delimiter(separator)
                        .from_reader(text.as_bytes())
                        .records()
                        .count();
                    match record_rows(&text, separator) {
                        Ok(rows) => {
                            assert_eq!(rows.len(), records, "{text:?}");
                            assert!(rows.windows(2).all(|w| w[0] < w[1]), "{text:?}");
                            checked += 1;
                        }
                        Err(error) => {
                            assert!(error.to_string().contains("never closed"), "{error}")
                        }
                    }
                }
            }
        }
        assert!(checked > 5_000, "{checked}");
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
