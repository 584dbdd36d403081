//! Hostile files: each ends in a clear error, never a panic or a blown memory.
//!
//! Every hostile case goes through the library (the exact [`ReadError`]) and through
//! `portal check FILE` run under a 1 GiB address-space limit, which must exit 2 with the
//! error's sentence as the first line of its output. The files are made here, at test
//! time; the few that only LibreOffice or msoffcrypto-tool can make are committed under
//! `tests/fixtures/hostile/`, and `make.sh` there makes them again.

use std::io::{Cursor, Read, Write};
use std::time::Duration;

use portal::forms::read::{
    MAX_COLUMNS, MAX_FILE_BYTES, MAX_ROWS, MAX_UNCOMPRESSED_BYTES, column_name,
};
use portal::forms::samples::{self, Sample};
use portal::forms::schema::{COMPLAINT, COVERAGE, ISSUE_CATEGORIES, claim};
use portal::forms::{
    self, Kind, ReadError, Submission, Unusable, Value, neutralise_formula, read_workbook,
};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::common::BoundedRun as Run;
use crate::common::{check_bytes, config, date, fixture, portal_bounded};
use crate::zipkit::{RawPart, crc32, crc32_of_zeros, deflated_zeros, parts, raw_zip, stored_parts};

/// The day every case is checked as received.
const RECEIVED: &str = "2026-11-25";

/// The address space `portal check` may take (1 GiB): a blown memory fails the test
/// instead of the machine.
const MEMORY_BYTES: u64 = 1 << 30;
/// The CPU seconds it may take; and the generous wall-clock wait for it to finish.
const CPU_SECONDS: u64 = 60;
const WAIT: Duration = Duration::from_secs(180);

/// The complaint template's sheet, which out-of-bounds errors name.
const CLAIMS: &str = "Claims";

// ---------------------------------------------------------------------------------
// Running a case: the CLI under limits, then the library.
// ---------------------------------------------------------------------------------

/// Runs `portal check FILE --received 2026-11-25` on `bytes` saved as `name`, under the
/// memory and CPU limits (prlimit, from util-linux), and waits for it.
fn run_check(bytes: &[u8], name: &str) -> Run {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("the file is written");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/portal.toml");
    let args: [&std::ffi::OsStr; 6] = [
        "--config".as_ref(),
        config.as_ref(),
        "check".as_ref(),
        path.as_os_str(),
        "--received".as_ref(),
        RECEIVED.as_ref(),
    ];
    portal_bounded(MEMORY_BYTES, CPU_SECONDS, WAIT, None, &args)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Checks `bytes` (named `name`) through the CLI, then the library: both refuse it, for
/// the same reason, given as a sentence. Returns the library's error.
///
/// The CLI goes first: it runs under the memory limit, so a case that would blow the
/// memory fails there rather than in the test process.
fn refused(bytes: &[u8], name: &str) -> ReadError {
    let run = run_check(bytes, name);
    assert_eq!(run.code, Some(2), "{name}\n{run}");
    assert!(!run.stderr.contains("panicked"), "{name}\n{run}");
    let error = match check_bytes(bytes, name, date(RECEIVED)) {
        Err(Unusable::Unreadable(error)) => error,
        Err(Unusable::UnknownTemplate | Unusable::McoResponse) => {
            panic!("{name}: read, but taken for no known workbook")
        }
        Ok(_) => panic!("{name}: read and checked as a workbook"),
    };
    let sentence = capitalised(&error.to_string());
    // The first line names the file (perhaps), then gives the sentence and the code.
    let first_line = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first_line.ends_with(&format!("{sentence} [unknown_template]")),
        "{name}: {sentence}\n{run}"
    );
    // A sentence: a capital, words, and no debugging noise.
    assert!(sentence.starts_with(char::is_uppercase), "{sentence}");
    assert!(sentence.split_whitespace().count() >= 4, "{sentence}");
    assert!(
        !sentence.contains("Error") && !sentence.contains('{'),
        "{sentence}"
    );
    error
}

fn hostile(name: &str) -> Vec<u8> {
    let path = fixture(&format!("hostile/{name}"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn blank(kind: Kind) -> Vec<u8> {
    let config = config();
    forms::write::blank(kind, &config.mcos, &config.rules).expect("the template is written")
}

fn out_of_bounds(sheet: &str, cell: &str) -> ReadError {
    ReadError::OutOfBounds {
        sheet: sheet.to_owned(),
        cell: cell.to_owned(),
        max_rows: MAX_ROWS,
        max_column: column_name(MAX_COLUMNS - 1),
    }
}

// ---------------------------------------------------------------------------------
// Making zip archives, honest or not.
// ---------------------------------------------------------------------------------

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
}

/// A zip archive of `parts`, deflated, by the zip crate.
fn zip_of<N: AsRef<str>, D: AsRef<[u8]>>(parts: impl IntoIterator<Item = (N, D)>) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in parts {
        let options = if name.as_ref() == "mimetype" {
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
        } else {
            deflated()
        };
        writer
            .start_file(name.as_ref(), options)
            .expect("a part starts");
        writer
            .write_all(data.as_ref())
            .expect("the part is written");
    }
    writer
        .finish()
        .expect("the archive is finished")
        .into_inner()
}

/// The XML of an .xlsx file's first worksheet.
fn first_sheet_xml(xlsx: &[u8]) -> String {
    let (_, xml) = parts(xlsx)
        .into_iter()
        .find(|(name, _)| name == "xl/worksheets/sheet1.xml")
        .expect("a first worksheet");
    String::from_utf8(xml).expect("the worksheet is text")
}

/// The blank complaint template's parts, stored, then `extra`.
fn template_with(extra: Vec<RawPart>) -> Vec<u8> {
    let mut all = stored_parts(&blank(Kind::Complaint));
    all.extend(extra);
    raw_zip(&all)
}

/// A part of ~200 MiB of zeros, deflated to 1.3 MB, declaring `declared` bytes (its true
/// size when `None`).
fn zeros_part(name: &str, declared: Option<u32>) -> RawPart {
    let (data, size) = deflated_zeros(812_850);
    assert!(size > 200 * 1024 * 1024);
    RawPart {
        name: name.to_owned(),
        method: 8,
        flags: 0,
        crc: crc32_of_zeros(size),
        data,
        declared: declared.unwrap_or(size as u32),
    }
}

#[test]
fn the_handmade_deflate_stream_is_sound() {
    let (data, size) = deflated_zeros(10);
    let part = RawPart {
        name: "zeros".into(),
        method: 8,
        flags: 0,
        crc: crc32_of_zeros(size),
        data,
        declared: size as u32,
    };
    let unpacked = parts(&raw_zip(&[
        part,
        RawPart::stored("text", b"hello".to_vec()),
    ]));
    assert_eq!(unpacked[0].1, vec![0u8; 2581]);
    assert_eq!(unpacked[1], ("text".to_owned(), b"hello".to_vec()));
    assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
}

// ---------------------------------------------------------------------------------
// Zip bombs.
// ---------------------------------------------------------------------------------

#[test]
fn a_zip_bomb_with_honest_headers_is_refused_unopened() {
    let bomb = template_with(vec![zeros_part("xl/media/image1.png", None)]);
    assert!(
        bomb.len() < 2 * 1024 * 1024,
        "the bomb itself is small: {}",
        bomb.len()
    );
    let error = refused(&bomb, "claims.xlsx");
    assert_eq!(
        error,
        ReadError::ZipBomb {
            limit: MAX_UNCOMPRESSED_BYTES
        }
    );
}

#[test]
fn a_zip_bomb_whose_headers_lie_ends_in_an_error() {
    // 200 MiB of zeros, declared as 1,000 bytes in the local header and in the central
    // directory: the declared total passes, so only the inflating can tell.
    for name in [
        "xl/media/image1.png",
        "xl/worksheets/sheet1.xml",
        "xl/sharedStrings.xml",
    ] {
        let mut parts: Vec<RawPart> = parts(&blank(Kind::Complaint))
            .into_iter()
            .filter(|(part, _)| part != name)
            .map(|(part, data)| RawPart::stored(&part, data))
            .collect();
        parts.push(zeros_part(name, Some(1_000)));
        let error = refused(&raw_zip(&parts), "claims.xlsx");
        match &error {
            ReadError::Damaged(why) => {
                assert!(why.contains("larger than its declared"), "{name}: {why}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_zip_bomb_of_many_small_parts_is_refused() {
    // One part past the reader's limit of 2,000, each of one byte: nothing a total
    // size could catch.
    let mut parts = parts(&blank(Kind::Complaint));
    let count = parts.len() + 2_001;
    parts.extend((0..2_001).map(|n| (format!("xl/media/image{n}.png"), vec![0u8; 1])));
    let error = refused(&zip_of(parts), "claims.xlsx");
    assert_eq!(
        error,
        ReadError::TooManyParts {
            parts: count,
            limit: 2_000
        }
    );
}

// ---------------------------------------------------------------------------------
// Cut short.
// ---------------------------------------------------------------------------------

#[test]
fn a_damaged_cell_is_not_quoted_back() {
    // Cells whose value does not fit their type: calamine refuses them and its message
    // carries the value, quoted (an error cell) or not (a boolean, a number), which may
    // be anything a person typed (R10).
    for kind in ["e", "b", "n"] {
        let parts: Vec<RawPart> = parts(&blank(Kind::Complaint))
            .into_iter()
            .map(|(name, data)| {
                if name != "xl/worksheets/sheet1.xml" {
                    return RawPart::stored(&name, data);
                }
                let cell = format!(
                    r#"<row r="2"><c r="A2" t="{kind}"><v>ZELDA QUIMBY 1961-04-02</v></c></row></sheetData>"#
                );
                let xml = String::from_utf8(data)
                    .unwrap()
                    .replace("</sheetData>", &cell);
                RawPart::stored(&name, xml.into_bytes())
            })
            .collect();
        let error = refused(&raw_zip(&parts), "claims.xlsx");
        assert!(
            matches!(error, ReadError::Damaged(_)),
            "t={kind}: {error:?}"
        );
        let sentence = error.to_string();
        for typed in ["ZELDA", "QUIMBY", "1961-04-02"] {
            assert!(!sentence.contains(typed), "t={kind}: {sentence}");
        }
    }
}

#[test]
fn a_truncated_template_is_damaged() {
    let cases = [
        ("xlsx", blank(Kind::Complaint)),
        ("xlsx", blank(Kind::RegistrationForm)),
        ("xls", hostile("template.xls")),
        ("ods", hostile("template.ods")),
    ];
    for (extension, whole) in cases {
        for cut in [whole.len() / 2, 100] {
            let name = format!("cut-at-{cut}.{extension}");
            let error = refused(&whole[..cut], &name);
            assert!(matches!(error, ReadError::Damaged(_)), "{name}: {error:?}");
        }
    }
}

// ---------------------------------------------------------------------------------
// Passwords.
// ---------------------------------------------------------------------------------

#[test]
fn a_password_protected_workbook_is_named_as_such() {
    // Encrypted by msoffcrypto-tool (an OLE file holding EncryptedPackage), and by
    // LibreOffice as .xls (a FILEPASS record) and as .ods (encrypted content.xml).
    for name in ["encrypted.xlsx", "encrypted.xls", "encrypted.ods"] {
        assert_eq!(
            refused(&hostile(name), name),
            ReadError::Encrypted,
            "{name}"
        );
    }
    // The same file under another extension is still told by its content.
    assert_eq!(
        refused(&hostile("encrypted.xlsx"), "claims.csv"),
        ReadError::Encrypted
    );
}

#[test]
fn a_zip_encrypted_part_is_password_protected() {
    // The template with its parts flagged as encrypted (general purpose bit 0), as a
    // zip tool's password makes them.
    let parts: Vec<RawPart> = stored_parts(&blank(Kind::Complaint))
        .into_iter()
        .map(|part| RawPart { flags: 1, ..part })
        .collect();
    assert_eq!(
        refused(&raw_zip(&parts), "claims.xlsx"),
        ReadError::Encrypted
    );
}

// ---------------------------------------------------------------------------------
// Not a spreadsheet at all, or far too big.
// ---------------------------------------------------------------------------------

#[test]
fn a_pdf_named_xlsx_is_a_pdf() {
    let pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    assert_eq!(refused(pdf, "claims.xlsx"), ReadError::Pdf);
}

#[test]
fn random_binary_named_xlsx_is_no_spreadsheet() {
    // A fixed pseudo-random stream (xorshift), with a NUL so it is no text.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    for (name, bytes) in [
        ("claims.xlsx", &bytes[..]),
        ("claims.xls", &bytes[..]),
        ("nul.xlsx", &b"\0\0\0\0"[..]),
    ] {
        assert_eq!(refused(bytes, name), ReadError::NotSpreadsheet, "{name}");
    }
}

#[test]
fn an_empty_file_is_empty() {
    for name in ["claims.xlsx", "claims.csv", "claims.xls"] {
        assert_eq!(refused(b"", name), ReadError::Empty, "{name}");
    }
}

#[test]
fn a_file_over_the_raw_cap_is_too_large_in_any_format() {
    let size = MAX_FILE_BYTES as usize + 1;
    let too_large = ReadError::TooLarge {
        bytes: size as u64,
        limit: MAX_FILE_BYTES,
    };
    let mut xls = vec![0u8; size];
    xls[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let mut xlsx = vec![0u8; size];
    xlsx[..4].copy_from_slice(b"PK\x03\x04");
    let csv: Vec<u8> = b"a,b\n".iter().copied().cycle().take(size).collect();
    for (name, bytes) in [
        ("claims.xls", xls),
        ("claims.xlsx", xlsx),
        ("claims.csv", csv),
    ] {
        assert_eq!(refused(&bytes, name), too_large, "{name}");
    }
    // At the cap itself the size is no reason to refuse.
    let csv: Vec<u8> = b"a,b\n"
        .iter()
        .copied()
        .cycle()
        .take(MAX_FILE_BYTES as usize)
        .collect();
    assert!(!matches!(
        read_workbook(&csv, Some("claims.csv")),
        Err(ReadError::TooLarge { .. })
    ));
}

// ---------------------------------------------------------------------------------
// A million rows, or one cell at the far corner.
// ---------------------------------------------------------------------------------

/// The blank complaint template with its Claims sheet replaced by `rows` rows below the
/// header, each holding the number 1, streamed into the archive.
fn xlsx_with_rows(rows: u32) -> Vec<u8> {
    let sheet = "xl/worksheets/sheet1.xml";
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in parts(&blank(Kind::Complaint)) {
        writer.start_file(name.as_str(), deflated()).unwrap();
        if name != sheet {
            writer.write_all(&data).unwrap();
            continue;
        }
        let mut head = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">"#,
        );
        for (index, field) in COMPLAINT.iter().enumerate() {
            let cell = format!("{}1", column_name(index as u32));
            head.push_str(&format!(
                r#"<c r="{cell}" t="inlineStr"><is><t>{}</t></is></c>"#,
                field.header
            ));
        }
        head.push_str("</row>");
        writer.write_all(head.as_bytes()).unwrap();
        // No `r` attributes: each row is the one after the last, 26 bytes a row.
        let chunk = "<row><c><v>1</v></c></row>".repeat(10_000);
        for _ in 0..rows / 10_000 {
            writer.write_all(chunk.as_bytes()).unwrap();
        }
        writer.write_all(b"</sheetData></worksheet>").unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn a_million_rows_in_xlsx_stop_at_the_row_limit() {
    let bytes = xlsx_with_rows(1_000_000);
    assert!(
        bytes.len() < 1024 * 1024,
        "compressed it stays small: {}",
        bytes.len()
    );
    let error = refused(&bytes, "claims.xlsx");
    assert_eq!(error, out_of_bounds(CLAIMS, &format!("A{}", MAX_ROWS + 1)));
}

#[test]
fn a_million_lines_of_csv_stop_at_the_row_limit() {
    let mut csv = COMPLAINT
        .iter()
        .map(|field| field.header)
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    csv.push_str(&"x\n".repeat(1_000_000));
    let error = refused(csv.as_bytes(), "claims.csv");
    assert_eq!(error, out_of_bounds("", &format!("A{}", MAX_ROWS + 1)));
}

#[test]
fn one_cell_at_xfd1048576_in_xlsx_is_refused() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(CLAIMS).unwrap();
    for (index, field) in COMPLAINT.iter().enumerate() {
        sheet.write_string(0, index as u16, field.header).unwrap();
    }
    sheet.write_string(1_048_575, 16_383, "far away").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    assert_eq!(
        refused(&bytes, "claims.xlsx"),
        out_of_bounds(CLAIMS, "XFD1048576")
    );
}

/// An .ods workbook of one sheet, Claims, whose rows are `rows` (content.xml's
/// `table:table-row` elements).
fn ods(rows: &str) -> Vec<u8> {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="{CLAIMS}">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    zip_of([
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("META-INF/manifest.xml", manifest),
        ("content.xml", content.as_str()),
    ])
}

const ODS_TEXT_CELL: &str =
    r#"<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>"#;

#[test]
fn the_handmade_ods_reads() {
    let bytes = ods(&format!(
        r#"<table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="5"/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="2"/>{ODS_TEXT_CELL}</table:table-row><table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>"#
    ));
    let workbook = read_workbook(&bytes, Some("claims.ods")).expect("a plain .ods reads");
    let sheet = workbook.sheet(CLAIMS).expect("the sheet");
    assert_eq!(sheet.text(3, 2), Some("x"));
    assert_eq!(sheet.cells.len(), 1, "the empty repeated rows are no cells");
}

#[test]
fn a_million_repeated_rows_in_ods_are_refused() {
    let bytes = ods(&format!(
        r#"<table:table-row table:number-rows-repeated="1000000">{ODS_TEXT_CELL}</table:table-row>"#
    ));
    assert_eq!(
        refused(&bytes, "claims.ods"),
        out_of_bounds(CLAIMS, "A1000000")
    );
    // The same, each row holding only a formula, across 90 columns: calamine would lay
    // out 90 million formula strings.
    let bytes = ods(
        r#"<table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="90" table:formula="of:=1"/></table:table-row>"#,
    );
    assert_eq!(
        refused(&bytes, "claims.ods"),
        out_of_bounds(CLAIMS, "CL1000000")
    );
}

#[test]
fn one_cell_at_xfd1048576_in_ods_is_refused() {
    let bytes = ods(&format!(
        r#"<table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="16384"/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="16383"/>{ODS_TEXT_CELL}</table:table-row>"#
    ));
    assert_eq!(
        refused(&bytes, "claims.ods"),
        out_of_bounds(CLAIMS, "XFD1048576")
    );
}

/// The records of a .xls file's Workbook stream: `patch` sees each record's offset,
/// type and body and may change the body in place; the file is written back.
fn patch_xls(bytes: &[u8], mut patch: impl FnMut(usize, u16, &mut [u8])) -> Vec<u8> {
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes.to_vec())).expect("an OLE file");
    let mut data = Vec::new();
    file.open_stream("/Workbook")
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let mut at = 0;
    while at + 4 <= data.len() {
        let kind = u16::from_le_bytes([data[at], data[at + 1]]);
        let length = usize::from(u16::from_le_bytes([data[at + 2], data[at + 3]]));
        patch(at, kind, &mut data[at + 4..at + 4 + length]);
        at += 4 + length;
    }
    let mut stream = file.open_stream("/Workbook").unwrap();
    stream.write_all(&data).unwrap();
    stream.flush().unwrap();
    drop(stream);
    file.flush().unwrap();
    file.into_inner().into_inner()
}

#[test]
fn the_xls_and_ods_templates_read() {
    // The controls: LibreOffice's .xls and .ods of the blank template read as it.
    for name in ["template.xls", "template.ods"] {
        let workbook = read_workbook(&hostile(name), Some(name)).expect(name);
        assert_eq!(forms::identify(&workbook), Some(Kind::Complaint), "{name}");
    }
    // And patching a .xls without changing it keeps it readable.
    let same = patch_xls(&hostile("template.xls"), |_, _, _| {});
    assert!(read_workbook(&same, None).is_ok());
}

#[test]
fn one_cell_at_iv65536_in_xls_is_refused() {
    // LibreOffice's .xls of the template with "far away" typed at IV65536 on Claims.
    assert_eq!(
        refused(&hostile("far-cell.xls"), "claims.xls"),
        out_of_bounds(CLAIMS, "IV65536")
    );
}

#[test]
fn an_xls_whose_dimensions_lie_is_refused() {
    // The Claims sheet's DIMENSIONS record claims rows up to 2^32 - 1 and 256 columns,
    // while its cells stay in the first row: calamine would reserve room for them all.
    let mut sheets = 0;
    let bytes = patch_xls(&hostile("template.xls"), |_, kind, body| {
        if kind == 0x0200 && body.len() == 14 {
            sheets += 1;
            if sheets == 1 {
                body[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
                body[10..12].copy_from_slice(&256u16.to_le_bytes());
            }
        }
    });
    assert_eq!(
        refused(&bytes, "claims.xls"),
        out_of_bounds(CLAIMS, "IV4294967295")
    );
    // First row past the last one: calamine's arithmetic would underflow.
    let mut sheets = 0;
    let bytes = patch_xls(&hostile("template.xls"), |_, kind, body| {
        if kind == 0x0200 && body.len() == 14 {
            sheets += 1;
            if sheets == 1 {
                body[0..4].copy_from_slice(&5u32.to_le_bytes());
                body[4..8].copy_from_slice(&1u32.to_le_bytes());
            }
        }
    });
    let error = refused(&bytes, "claims.xls");
    assert!(matches!(error, ReadError::Damaged(_)), "{error:?}");
}

#[test]
fn an_xls_whose_sheet_starts_past_the_end_is_damaged() {
    let mut first = true;
    let bytes = patch_xls(&hostile("template.xls"), |_, kind, body| {
        if kind == 0x0085 && first {
            first = false;
            body[0..4].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        }
    });
    let error = refused(&bytes, "claims.xls");
    assert!(matches!(error, ReadError::Damaged(_)), "{error:?}");
}

#[test]
fn an_xlsx_whose_shared_string_count_lies_is_refused() {
    // calamine reserves room for `uniqueCount` strings before reading one.
    for count in ["1000000000000", "18446744073709551615"] {
        let parts: Vec<(String, Vec<u8>)> = parts(&blank(Kind::Complaint))
            .into_iter()
            .map(|(name, data)| {
                if name != "xl/sharedStrings.xml" {
                    return (name, data);
                }
                let text = String::from_utf8(data).unwrap();
                let start =
                    text.find("uniqueCount=\"").expect("a uniqueCount") + "uniqueCount=\"".len();
                let end = start + text[start..].find('"').unwrap();
                (
                    name,
                    format!("{}{count}{}", &text[..start], &text[end..]).into_bytes(),
                )
            })
            .collect();
        let error = refused(&zip_of(parts), "claims.xlsx");
        assert!(matches!(error, ReadError::Damaged(_)), "{count}: {error:?}");
    }
}

// ---------------------------------------------------------------------------------
// Formulas: the cached value, never evaluated.
// ---------------------------------------------------------------------------------

/// A complaint in the template layout, one line, written cell by cell so some cells can
/// be formulas; `formula(field)` gives the formula for a cell, if any.
fn complaint_with_formulas(formula: impl Fn(usize) -> Option<Formula>) -> Vec<u8> {
    let config = config();
    let mco = config
        .mcos
        .iter()
        .position(|mco| mco.code == "MOLINA")
        .unwrap_or(0);
    let line = &samples::complaint_lines(Sample::Good, date(RECEIVED), mco, 1)[0];
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(CLAIMS).unwrap();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    for (index, field) in COMPLAINT.iter().enumerate() {
        let column = index as u16;
        sheet.write_string(0, column, field.header).unwrap();
        if let Some(formula) = formula(index) {
            let format = if index == claim::FILED_WITH_MCO {
                &date_format
            } else {
                &Format::new()
            };
            sheet
                .write_formula_with_format(1, column, formula, format)
                .unwrap();
            continue;
        }
        match &line.values[index] {
            Some(Value::Text(text)) => sheet.write_string(1, column, text),
            Some(Value::Date(day)) => {
                let day = ExcelDateTime::parse_from_str(&day.to_string()).unwrap();
                sheet.write_datetime_with_format(1, column, &day, &date_format)
            }
            Some(Value::Money(money)) => sheet.write_number(1, column, money.as_f64()),
            Some(Value::Bool(flag)) => {
                sheet.write_string(1, column, if *flag { "Yes" } else { "No" })
            }
            Some(Value::Choice(choice)) => {
                let text = match index {
                    claim::MCO => config.mcos[*choice].name.as_str(),
                    claim::COVERAGE => COVERAGE[*choice],
                    _ => ISSUE_CATEGORIES[*choice],
                };
                sheet.write_string(1, column, text)
            }
            None => continue,
        }
        .unwrap();
    }
    workbook.save_to_buffer().unwrap()
}

fn complaint(bytes: &[u8], name: &str) -> forms::Complaint {
    match check_bytes(bytes, name, date(RECEIVED)) {
        Ok(Submission::Complaint(complaint)) => complaint,
        other => panic!("{name}: not a complaint: {other:?}"),
    }
}

#[test]
fn formulas_give_their_cached_values_and_are_never_evaluated() {
    // 2026-10-11 is 45 days before receipt: inside the 30–60 day window. Evaluated,
    // NOW() would be today and the line would close.
    let filed = date("2026-10-11");
    let serial = (filed - date("1899-12-30")).num_days();
    let bytes = complaint_with_formulas(|field| match field {
        claim::FILED_WITH_MCO => Some(Formula::new("=NOW()").set_result(serial.to_string())),
        claim::BILLED => Some(Formula::new("=1/0").set_result("1250.5")),
        claim::CLAIM_NUMBER => {
            Some(Formula::new(r#"=CONCAT("CLM","999")"#).set_result("CLM0004200"))
        }
        claim::PROVIDER_NAME => Some(
            Formula::new(r#"=WEBSERVICE("http://example.invalid/")"#)
                .set_result("Prairie Example Clinic"),
        ),
        _ => None,
    });
    // The formulas are in the file, with their cached results.
    let sheet = first_sheet_xml(&bytes);
    assert!(
        sheet.contains("<f>NOW()</f>") && sheet.contains(&format!("<v>{serial}</v>")),
        "{sheet}"
    );

    let complaint = complaint(&bytes, "formulas.xlsx");
    assert!(complaint.report.all_forwarded(), "{:#?}", complaint.report);
    let line = &complaint.lines[0];
    assert_eq!(line.date(claim::FILED_WITH_MCO), Some(filed));
    assert_eq!(
        line.money(claim::BILLED).map(|money| money.cents),
        Some(125_050)
    );
    assert_eq!(line.text(claim::CLAIM_NUMBER), Some("CLM0004200"));
    assert_eq!(
        line.text(claim::PROVIDER_NAME),
        Some("Prairie Example Clinic")
    );

    let run = run_check(&bytes, "formulas.xlsx");
    assert_eq!(run.code, Some(0), "{run}");
}

#[test]
fn a_formula_with_an_error_result_is_reported_not_evaluated() {
    let bytes = complaint_with_formulas(|field| {
        (field == claim::BILLED).then(|| Formula::new("=1/0").set_result("#DIV/0!"))
    });
    let complaint = complaint(&bytes, "error.xlsx");
    let problem = complaint
        .report
        .problems
        .iter()
        .find(|problem| problem.column.as_deref() == Some("Billed Amount"));
    let problem = problem.expect("a problem in Billed Amount");
    assert!(problem.message.contains("#DIV/0!"), "{problem}");
}

// ---------------------------------------------------------------------------------
// Text that looks like a formula stays text.
// ---------------------------------------------------------------------------------

const FORMULA_TEXT: [&str; 5] = [
    "=1+1",
    "+1",
    "-2",
    "@SUM(A1:A2)",
    r#"=HYPERLINK("http://example.invalid","x")"#,
];

/// A good complaint with one line per formula-looking description.
fn formula_text_lines() -> Vec<forms::Record> {
    let mut lines = samples::complaint_lines(Sample::Good, date(RECEIVED), 0, FORMULA_TEXT.len());
    for (line, text) in lines.iter_mut().zip(FORMULA_TEXT) {
        line.values[claim::ISSUE_DESCRIPTION] = Some(Value::Text(text.to_owned()));
    }
    lines
}

#[test]
fn text_starting_like_a_formula_reads_as_text() {
    // Typed as strings in a workbook (shared strings), and as CSV fields.
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (index, field) in COMPLAINT.iter().enumerate() {
        sheet.write_string(0, index as u16, field.header).unwrap();
    }
    let column = claim::ISSUE_DESCRIPTION as u16;
    for (row, text) in FORMULA_TEXT.iter().enumerate() {
        sheet.write_string(row as u32 + 1, column, *text).unwrap();
    }
    let bytes = workbook.save_to_buffer().unwrap();
    let read = read_workbook(&bytes, Some("text.xlsx")).unwrap();
    for (row, text) in FORMULA_TEXT.iter().enumerate() {
        assert_eq!(
            read.sheets[0].text(row as u32 + 1, u32::from(column)),
            Some(*text)
        );
    }

    let mut csv = COMPLAINT
        .iter()
        .map(|field| field.header)
        .collect::<Vec<_>>()
        .join(",");
    for text in FORMULA_TEXT {
        csv.push('\n');
        csv.push_str(&",".repeat(claim::ISSUE_DESCRIPTION));
        csv.push_str(&format!("\"{}\"", text.replace('"', "\"\"")));
    }
    let read = read_workbook(csv.as_bytes(), Some("text.csv")).unwrap();
    for (row, text) in FORMULA_TEXT.iter().enumerate() {
        assert_eq!(
            read.sheets[0].text(row as u32 + 1, u32::from(column)),
            Some(*text)
        );
    }
}

#[test]
fn formula_text_is_written_back_as_text() {
    let config = config();
    let bytes =
        forms::write::complaint_with_lines(&config.mcos, &config.rules, &formula_text_lines())
            .unwrap();
    // The sheet has no formula at all: every description is a string cell.
    let sheet = first_sheet_xml(&bytes);
    assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "{sheet}");
    // And it reads back as the same text, every line forwarded.
    let complaint = complaint(&bytes, "written.xlsx");
    assert!(complaint.report.all_forwarded(), "{:#?}", complaint.report);
    let descriptions: Vec<&str> = complaint
        .lines
        .iter()
        .filter_map(|line| line.text(claim::ISSUE_DESCRIPTION))
        .collect();
    assert_eq!(descriptions, FORMULA_TEXT);
}

#[test]
fn formula_text_is_neutralised_for_plain_output() {
    for text in FORMULA_TEXT {
        assert_eq!(neutralise_formula(text), format!("'{text}"));
    }
    assert_eq!(neutralise_formula("\tx"), "'\tx");
    assert_eq!(neutralise_formula("Claim denied"), "Claim denied");
}
