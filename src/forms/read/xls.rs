//! Legacy .xls workbooks: BIFF records in an OLE compound file. calamine reserves a
//! sheet's cells from its DIMENSIONS record before reading them, so the workbook
//! stream's records are walked first, and a password (FILEPASS: the records after it
//! are encrypted), a sheet said to start past the end of the stream, a value cell
//! outside the bounds, and a DIMENSIONS record whose extent calamine would reserve
//! memory for (or underflow on) are refused.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Reader, Xls};

use super::{
    Format, MAX_COLUMNS, MAX_FILE_BYTES, MAX_ROWS, ReadError, Workbook, calamine_error, damaged,
    out_of_bounds, read_dense, within_bounds,
};

/// Beginning of the workbook globals or of a sheet.
const BOF: u32 = 0x0809;
/// The records after it are encrypted.
const FILEPASS: u32 = 0x002F;
/// Where a sheet starts, and its name.
const BOUNDSHEET: u32 = 0x0085;
/// A sheet's used extent.
const DIMENSIONS: u32 = 0x0200;
/// The records that hold one cell's value: NUMBER, RK, LABELSST, LABEL, BOOLERR,
/// FORMULA and RSTRING (row, then column, first), and MULRK (its last column last).
const NUMBER: u32 = 0x0203;
const RK: u32 = 0x027E;
const LABELSST: u32 = 0x00FD;
const LABEL: u32 = 0x0204;
const BOOLERR: u32 = 0x0205;
const FORMULA: u32 = 0x0006;
const RSTRING: u32 = 0x00D6;
const MULRK: u32 = 0x00BD;

/// Reads an .xls workbook once its records passed [`check_extent`].
pub(super) fn read(bytes: &[u8]) -> Result<Workbook, ReadError> {
    check_extent(bytes)?;
    let workbook: Xls<_> = Xls::new(Cursor::new(bytes.to_vec())).map_err(calamine_error)?;
    read_dense(workbook, Format::Xls)
}

/// Walks the BIFF records of every sheet and refuses what the module's doc lists.
fn check_extent(bytes: &[u8]) -> Result<(), ReadError> {
    let data = workbook_stream(bytes)?;
    // Sheet names by the offset of their BOF record, for the messages.
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    let mut biff8 = true;
    let mut sheet = String::new();
    for Record { at, kind, body } in records(&data) {
        match kind {
            // The workbook globals (whose version tells BIFF8), or a sheet.
            BOF => {
                if at == 0 && body.len() >= 2 {
                    biff8 = u16_at(body, 0) == 0x0600;
                }
                if let Some(name) = names.get(&at) {
                    sheet.clone_from(name);
                }
            }
            FILEPASS => return Err(ReadError::Encrypted),
            BOUNDSHEET => {
                let (start, name) = boundsheet(body, biff8, data.len())?;
                names.insert(start, name);
            }
            DIMENSIONS if matches!(body.len(), 10 | 14 | 16) => check_dimensions(body, &sheet)?,
            NUMBER | RK | LABELSST | LABEL | BOOLERR | FORMULA | RSTRING | MULRK
                if body.len() >= 6 =>
            {
                let row = u16_at(body, 0);
                let column = if kind == MULRK {
                    u16_at(body, body.len() - 2)
                } else {
                    u16_at(body, 2)
                };
                within_bounds(&sheet, row.into(), column.into())?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The workbook stream (`/Workbook`, or `/Book` in BIFF5), at most [`MAX_FILE_BYTES`].
fn workbook_stream(bytes: &[u8]) -> Result<Vec<u8>, ReadError> {
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
    Ok(data)
}

/// One BIFF record.
struct Record<'a> {
    /// Its offset in the stream, which BOUNDSHEET records point at.
    at: usize,
    kind: u32,
    /// Cut short where the stream ends.
    body: &'a [u8],
}

/// The records of a workbook stream, in order, up to the last whole header.
fn records(data: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + 4 > data.len() {
            return None;
        }
        let here = at;
        let kind = u16_at(data, at);
        let length = u16_at(data, at + 2) as usize;
        let body = &data[at + 4..(at + 4 + length).min(data.len())];
        at += 4 + length;
        Some(Record {
            at: here,
            kind,
            body,
        })
    })
}

/// A BOUNDSHEET record's sheet start (the offset of its BOF) and name; a start past
/// the end of the stream (`stream_len`) is refused.
fn boundsheet(body: &[u8], biff8: bool, stream_len: usize) -> Result<(usize, String), ReadError> {
    if body.len() < 8 {
        return Err(ReadError::Damaged(
            "a sheet's entry is cut short".to_owned(),
        ));
    }
    let start = u32_at(body, 0) as usize;
    if start > stream_len {
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
    Ok((start, name))
}

/// A DIMENSIONS record (of 10, 14 or 16 bytes), read as calamine reads it, which
/// reserves rows × columns cells: an impossible extent is damage, one larger than the
/// template's bounds is refused.
fn check_dimensions(body: &[u8], sheet: &str) -> Result<(), ReadError> {
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
        let cells = u64::from(last_row - first_row + 1) * u64::from(last_column - first_column + 1);
        if cells > u64::from(MAX_ROWS) * u64::from(MAX_COLUMNS) {
            return Err(out_of_bounds(sheet, last_row, last_column));
        }
    }
    Ok(())
}

fn u16_at(body: &[u8], at: usize) -> u32 {
    u32::from(u16::from_le_bytes([body[at], body[at + 1]]))
}

fn u32_at(body: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]])
}
