//! From a read workbook to typed records and every problem in them: identifying the
//! kind, mapping headers and labels, and reading each cell through its field's type
//! (an empty required cell or a value of the wrong type is a problem: R2, R3, R7).
//! The rules of each kind have a file of their own: `validate/complaint.rs`
//! ([`validate_complaint`]: R1–R5, R8) and `validate/registration.rs`
//! ([`validate_registration`]: R7). Every violation is collected, not just the first.

mod complaint;
mod registration;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::cells::{self, Value};
use super::read::{Cell, Sheet, Typing, Workbook};
use super::report::{Problem, Reason};
use super::schema::{
    COMPLAINT, Field, Kind, Layout, MARKER_SHEET, MARKER_TAG, PROVIDER_FIELDS, REGISTRANT_FIELDS,
    REGISTRATION, SheetSchema,
};
use crate::config::Mco;
use crate::rules::Window;

pub use complaint::{Complaint, validate_complaint};
pub use registration::{Registration, validate_registration};

/// What the checks need besides the workbook: the rules' numbers, the MCOs and the day
/// HFS received the mail.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub received_on: NaiveDate,
    pub window: Window,
    pub max_lines: u32,
    pub mcos: &'a [Mco],
}

/// One record (a claim row, or a form) with its typed values by field index.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The spreadsheet's 1-based row number (for forms, the first field's row).
    pub row: u32,
    pub values: Vec<Option<Value>>,
}

impl Record {
    pub fn text(&self, field: usize) -> Option<&str> {
        match self.values.get(field)? {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        }
    }

    pub fn date(&self, field: usize) -> Option<NaiveDate> {
        match self.values.get(field)? {
            Some(Value::Date(date)) => Some(*date),
            _ => None,
        }
    }

    pub fn choice(&self, field: usize) -> Option<usize> {
        match self.values.get(field)? {
            Some(Value::Choice(index)) => Some(*index),
            _ => None,
        }
    }

    pub fn flag(&self, field: usize) -> Option<bool> {
        match self.values.get(field)? {
            Some(Value::Bool(flag)) => Some(*flag),
            _ => None,
        }
    }

    pub fn money(&self, field: usize) -> Option<crate::rules::Money> {
        match self.values.get(field)? {
            Some(Value::Money(money)) => Some(*money),
            _ => None,
        }
    }
}

/// Tells which spreadsheet a workbook is: by the marker sheet first, then by its
/// header row or labels.
pub fn identify(workbook: &Workbook) -> Option<Kind> {
    if let Some(marker) = workbook.sheet(MARKER_SHEET) {
        let tagged = marker
            .text(0, 0)
            .is_some_and(|tag| tag.eq_ignore_ascii_case(MARKER_TAG));
        if let Some(kind) = marker
            .text(0, 1)
            .filter(|_| tagged)
            .and_then(Kind::from_marker)
        {
            return Some(kind);
        }
    }
    let data_sheets = || {
        workbook
            .sheets
            .iter()
            .filter(|sheet| sheet.name != MARKER_SHEET)
    };
    let header_hits = |sheet: &Sheet, fields: &[Field]| {
        let headers = header_map(sheet, fields);
        headers.iter().filter(|column| column.is_some()).count()
    };
    let label_hits = |sheet: &Sheet, fields: &[Field]| {
        label_map(sheet, fields)
            .iter()
            .filter(|row| row.is_some())
            .count()
    };
    if data_sheets().any(|sheet| header_hits(sheet, &COMPLAINT) >= COMPLAINT.len() / 2) {
        return Some(Kind::Complaint);
    }
    let providers =
        data_sheets().any(|sheet| header_hits(sheet, PROVIDER_FIELDS) > PROVIDER_FIELDS.len() / 2);
    let registrant = data_sheets()
        .any(|sheet| label_hits(sheet, REGISTRANT_FIELDS) > REGISTRANT_FIELDS.len() / 2);
    if providers && registrant {
        return Some(Kind::MultipleRegistration);
    }
    if data_sheets().any(|sheet| label_hits(sheet, &REGISTRATION) >= REGISTRATION.len() / 2) {
        return Some(Kind::RegistrationForm);
    }
    None
}

/// Header and label text compared loosely: case, spacing, a trailing `*` or `:`.
fn normalise(text: &str) -> String {
    let text = text.trim().trim_end_matches([':', '*']).trim();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// For each field, the zero-based column whose row-1 header names it.
fn header_map(sheet: &Sheet, fields: &[Field]) -> Vec<Option<u32>> {
    let headers: Vec<(u32, String)> = sheet
        .cells
        .range((0, 0)..(1, 0))
        .map(|(&(_, column), cell)| (column, normalise(&cells::cell_text(cell))))
        .collect();
    fields
        .iter()
        .map(|field| {
            let wanted = normalise(field.header);
            headers
                .iter()
                .find(|(_, header)| *header == wanted)
                .map(|(column, _)| *column)
        })
        .collect()
}

/// For each field, the zero-based row whose column-A label names it.
fn label_map(sheet: &Sheet, fields: &[Field]) -> Vec<Option<u32>> {
    let labels: Vec<(u32, String)> = sheet
        .cells
        .iter()
        .filter(|((_, column), _)| *column == 0)
        .map(|(&(row, _), cell)| (row, normalise(&cells::cell_text(cell))))
        .collect();
    fields
        .iter()
        .map(|field| {
            let wanted = normalise(field.header);
            labels
                .iter()
                .find(|(_, label)| *label == wanted)
                .map(|(row, _)| *row)
        })
        .collect()
}

/// The sheet a schema sheet is read from: by name, else (a CSV, or a renamed sheet)
/// the first visible sheet that is not the marker.
fn find_sheet<'w>(workbook: &'w Workbook, schema: &SheetSchema) -> Option<&'w Sheet> {
    workbook.sheet(schema.name).or_else(|| {
        let mut candidates = workbook
            .sheets
            .iter()
            .filter(|sheet| sheet.name != MARKER_SHEET);
        if workbook.sheets.len() == 1 {
            candidates.next()
        } else {
            candidates.find(|sheet| sheet.visible && !sheet.cells.is_empty())
        }
    })
}

/// Collects problems for one sheet.
struct Problems {
    sheet: &'static str,
    list: Vec<Problem>,
}

impl Problems {
    fn add(&mut self, row: Option<u32>, column: Option<&str>, reason: Reason, mut message: String) {
        if !message.ends_with(['.', '!', '?']) {
            message.push('.');
        }
        self.list.push(Problem {
            sheet: Some(self.sheet.to_owned()),
            row,
            column: column.map(str::to_owned),
            reason,
            message,
            value: None,
        });
    }

    /// Gives each problem of a cell that holds something the cell's own text as its
    /// `value`, for `portal check --json`; the message never repeats it (R10).
    fn attach_values(&mut self, sheet: Option<&Sheet>, schema: &SheetSchema) {
        let Some(sheet) = sheet.filter(|_| !self.list.is_empty()) else {
            return;
        };
        // Where each field is: its column in a table, its row in a form.
        let places = match schema.layout {
            Layout::Table => header_map(sheet, schema.fields),
            Layout::Form => label_map(sheet, schema.fields),
        };
        for problem in &mut self.list {
            let field = problem
                .column
                .as_deref()
                .and_then(|name| schema.field(name));
            let (Some(row), Some(Some(place))) = (problem.row, field.map(|field| places[field]))
            else {
                continue;
            };
            let cell = match schema.layout {
                Layout::Table if row > 1 => sheet.get(row - 1, place),
                Layout::Form if row == place + 1 => sheet.get(place, 1),
                _ => None,
            };
            problem.value = cell.map(cells::cell_text).filter(|text| !text.is_empty());
        }
    }
}

/// Reads a table sheet: the header row, then one record per non-empty row.
fn read_table(
    sheet: Option<&Sheet>,
    schema: &SheetSchema,
    mcos: &[Mco],
    problems: &mut Problems,
) -> Vec<Record> {
    let Some(sheet) = sheet else {
        problems.add(
            None,
            None,
            Reason::Incomplete,
            format!("The sheet '{}' is missing from the workbook", schema.name),
        );
        return Vec::new();
    };
    let columns = header_map(sheet, schema.fields);
    for (field, column) in schema.fields.iter().zip(&columns) {
        if column.is_none() {
            problems.add(
                Some(1),
                Some(field.header),
                Reason::Incomplete,
                "This column is missing from the header row; download a fresh template".to_owned(),
            );
        }
    }
    // One pass over the sheet: each cell goes to its field by column.
    let mut field_of_column: Vec<Option<usize>> = Vec::new();
    for (index, column) in columns.iter().enumerate() {
        if let Some(column) = column.map(|column| column as usize) {
            if field_of_column.len() <= column {
                field_of_column.resize(column + 1, None);
            }
            field_of_column[column] = Some(index);
        }
    }
    // The reader keeps only non-empty cells, so every row found here has content.
    let mut rows: BTreeMap<u32, Vec<Option<&Cell>>> = BTreeMap::new();
    for (&(row, column), cell) in sheet.cells.range((1, 0)..) {
        if let Some(&Some(index)) = field_of_column.get(column as usize) {
            rows.entry(row)
                .or_insert_with(|| vec![None; schema.fields.len()])[index] = Some(cell);
        }
    }
    rows.into_iter()
        .map(|(row, cells)| {
            let row = row + 1;
            let values = schema
                .fields
                .iter()
                .zip(cells)
                .map(|(field, cell)| read_value(cell, field, mcos, sheet.typing, row, problems))
                .collect();
            Record { row, values }
        })
        .collect()
}

/// Reads a form sheet: each field's value from column B of the row labelled with it.
fn read_form(sheet: Option<&Sheet>, schema: &SheetSchema, problems: &mut Problems) -> Record {
    let Some(sheet) = sheet else {
        problems.add(
            None,
            None,
            Reason::Incomplete,
            format!("The sheet '{}' is missing from the workbook", schema.name),
        );
        return Record {
            row: 1,
            values: vec![None; schema.fields.len()],
        };
    };
    let rows = label_map(sheet, schema.fields);
    let values = schema
        .fields
        .iter()
        .zip(&rows)
        .map(|(field, row)| match row {
            Some(row) => read_value(
                sheet.get(*row, 1),
                field,
                &[],
                sheet.typing,
                row + 1,
                problems,
            ),
            None => {
                problems.add(
                    None,
                    Some(field.header),
                    Reason::Incomplete,
                    "This field is missing from the form".to_owned(),
                );
                None
            }
        })
        .collect();
    // R7: no password is ever accepted by mail.
    for (&(row, column), cell) in &sheet.cells {
        if column == 0 && normalise(&cells::cell_text(cell)).contains("password") {
            problems.add(
                Some(row + 1),
                Some("Password"),
                Reason::InvalidValue,
                "Never send a password by mail: delete this row, and change the password if it was real".to_owned(),
            );
        }
    }
    let row = rows.iter().flatten().min().map_or(1, |row| row + 1);
    Record { row, values }
}

/// One cell through its field's type; a problem for a missing required value or an
/// invalid one.
fn read_value(
    cell: Option<&Cell>,
    field: &Field,
    mcos: &[Mco],
    typing: Typing,
    row: u32,
    problems: &mut Problems,
) -> Option<Value> {
    match cells::parse(cell, field, mcos, typing) {
        Ok(Some(value)) => Some(value),
        Ok(None) => {
            if field.required {
                problems.add(
                    Some(row),
                    Some(field.header),
                    Reason::Incomplete,
                    "This required cell is empty".to_owned(),
                );
            }
            None
        }
        Err(cells::Invalid(message)) => {
            problems.add(Some(row), Some(field.header), Reason::InvalidValue, message);
            None
        }
    }
}
