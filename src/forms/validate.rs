//! From a read workbook to typed records and every problem in them: identifying the
//! kind, mapping headers and labels, and reading each cell through its field's type
//! (an empty required cell or a value of the wrong type is a problem: R2, R3, R7).
//! The rules of each kind have a file of their own: `validate/complaint.rs`
//! ([`validate_complaint`]: R1–R5, R8), `validate/registration.rs`
//! ([`validate_registration`]: R7) and `validate/response.rs` ([`validate_response`]:
//! the MCO's returned workbook). Every violation is collected, not just the first.

mod complaint;
mod registration;
mod response;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::cells::{self, Value};
use super::read::{Cell, Sheet, Typing, Workbook};
use super::report::{Problem, Reason};
use super::schema::{
    COMPLAINT, Field, Kind, Layout, MARKER_SHEET, MARKER_TAG, PROVIDER_FIELDS, REGISTRANT_FIELDS,
    REGISTRATION, RESPONSE, SheetSchema, response as response_columns,
};
use crate::config::Mco;
use crate::rules::Window;

pub use complaint::{Complaint, validate_complaint};
pub use registration::{Registration, validate_registration};
pub use response::{ResponseContext, ResponseReport, ResponseRow, ticket_of, validate_response};

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
/// header row or labels. A sheet with the `Ticket`, `Row` and `MCO Decision` headers is
/// an MCO's response, though it also has the complaint's headers.
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
    let response_fields = [
        RESPONSE[response_columns::TICKET],
        RESPONSE[response_columns::ROW],
        RESPONSE[response_columns::DECISION],
    ];
    if data_sheets().any(|sheet| header_hits(sheet, &response_fields) == response_fields.len()) {
        return Some(Kind::McoResponse);
    }
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
/// the visible sheet that holds the most of its headers (or labels) — a renamed data
/// sheet moved behind the instructions is still found — else the first visible sheet
/// with anything in it that is not the marker.
fn find_sheet<'w>(workbook: &'w Workbook, schema: &SheetSchema) -> Option<&'w Sheet> {
    workbook.sheet(schema.name).or_else(|| {
        let candidates = || {
            workbook
                .sheets
                .iter()
                .filter(|sheet| sheet.name != MARKER_SHEET)
        };
        if workbook.sheets.len() == 1 {
            return candidates().next();
        }
        let hits = |sheet: &Sheet| {
            let places = match schema.layout {
                Layout::Table => header_map(sheet, schema.fields),
                Layout::Form => label_map(sheet, schema.fields),
            };
            places.iter().flatten().count()
        };
        let visible = || candidates().filter(|sheet| sheet.visible && !sheet.cells.is_empty());
        // The first of the sheets with the most hits (`max_by_key` keeps the last).
        let best = visible()
            .rev()
            .max_by_key(|sheet| hits(sheet))
            .filter(|sheet| hits(sheet) > 0);
        best.or_else(|| visible().next())
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

/// Whole-sheet problems first, then by row, then in the schema's column order.
fn in_report_order(mut problems: Vec<Problem>, schema: &SheetSchema) -> Vec<Problem> {
    let column_order = |problem: &Problem| {
        problem
            .column
            .as_deref()
            .and_then(|column| schema.field(column))
            .unwrap_or(usize::MAX)
    };
    problems.sort_by_key(|problem| (problem.row.is_some(), problem.row, column_order(problem)));
    problems
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
    // A field's label twice (a second NPI added below the first, say): only the first
    // would be read, so the form says which row it cannot take.
    for (field, first) in schema.fields.iter().zip(&rows) {
        let Some(first) = first else { continue };
        let wanted = normalise(field.header);
        for (&(row, column), cell) in &sheet.cells {
            if column == 0 && row > *first && normalise(&cells::cell_text(cell)) == wanted {
                problems.add(
                    Some(row + 1),
                    Some(field.header),
                    Reason::InvalidValue,
                    format!(
                        "This field is already on row {}; a form takes one value for it (for several providers, use the multiple registration template)",
                        first + 1
                    ),
                );
            }
        }
    }
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

/// Each claim row of a complaint workbook with its Provider NPI and MCO Tracking
/// Number as typed (the cell's text, trimmed; `None` when empty), nothing validated:
/// what a ticket's lines keep for staff to find them by, read again from the kept
/// mail for tickets filed before lines kept it. Rows are the spreadsheet's 1-based
/// numbers, as [`Record::row`]; a row holding neither is left out.
pub fn claim_cells(workbook: &Workbook) -> Vec<(u32, Option<String>, Option<String>)> {
    use super::schema::claim;
    let schema = &super::schema::sheets(Kind::Complaint)[0];
    let Some(sheet) = find_sheet(workbook, schema) else {
        return Vec::new();
    };
    let columns = header_map(sheet, schema.fields);
    let text = |row: u32, field: usize| {
        columns[field]
            .and_then(|column| sheet.get(row, column))
            .map(cells::cell_text)
            .filter(|text| !text.is_empty())
    };
    let rows: std::collections::BTreeSet<u32> = sheet
        .cells
        .range((1, 0)..)
        .map(|(&(row, _), _)| row)
        .collect();
    rows.into_iter()
        .map(|row| {
            let npi = text(row, claim::PROVIDER_NPI);
            let tracking = text(row, claim::TRACKING_NUMBER);
            (row + 1, npi, tracking)
        })
        .filter(|(_, npi, tracking)| npi.is_some() || tracking.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Days;

    use super::*;
    use crate::config::Config;
    use crate::forms::read::Format;
    use crate::forms::report::{Completeness, Status};
    use crate::forms::samples::{Sample, complaint_lines, registration_values};
    use crate::forms::schema::{
        COVERAGE_FEE_FOR_SERVICE, COVERAGE_MEDICARE_ONLY, ValueType, claim,
    };
    use crate::rules::Money;

    /// The fixed day HFS received every template here (a Monday).
    fn received() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
    }

    fn days_before(days: u64) -> NaiveDate {
        received() - Days::new(days)
    }

    /// A typed value as the cell a provider's spreadsheet would hold.
    fn cell_of(field: &Field, value: &Value, mcos: &[Mco]) -> Cell {
        match (value, field.ty) {
            (Value::Text(text), _) => Cell::Text(text.clone()),
            (Value::Date(date), _) => Cell::Date(*date),
            (Value::Money(money), _) => Cell::Number(money.as_f64()),
            (Value::Bool(flag), _) => Cell::Bool(*flag),
            (Value::Choice(index), ValueType::Mco) => Cell::Text(mcos[*index].name.clone()),
            (Value::Choice(index), ValueType::Choice(choices)) => {
                Cell::Text(choices[*index].to_owned())
            }
            (Value::Choice(_), other) => panic!("no choices in {other:?}"),
        }
    }

    fn sheet(name: &str, cells: BTreeMap<(u32, u32), Cell>) -> Sheet {
        Sheet {
            name: name.to_owned(),
            visible: true,
            typing: Typing::Typed,
            cells,
        }
    }

    /// A table sheet: `fields`' headers in row 1, then each record at its own row.
    fn table(name: &str, fields: &[Field], records: &[Record], mcos: &[Mco]) -> Sheet {
        let mut cells = BTreeMap::new();
        for (column, field) in fields.iter().enumerate() {
            cells.insert((0, column as u32), Cell::Text(field.header.to_owned()));
        }
        for record in records {
            for (column, (field, value)) in fields.iter().zip(&record.values).enumerate() {
                if let Some(value) = value {
                    cells.insert((record.row - 1, column as u32), cell_of(field, value, mcos));
                }
            }
        }
        sheet(name, cells)
    }

    /// A form sheet: each field's label in column A, its value in column B.
    fn form(name: &str, fields: &[Field], values: &[Option<Value>]) -> Sheet {
        let mut cells = BTreeMap::new();
        for (row, (field, value)) in fields.iter().zip(values).enumerate() {
            cells.insert((row as u32, 0), Cell::Text(field.header.to_owned()));
            if let Some(value) = value {
                cells.insert((row as u32, 1), cell_of(field, value, &[]));
            }
        }
        sheet(name, cells)
    }

    fn workbook(sheets: Vec<Sheet>) -> Workbook {
        Workbook {
            format: Format::Xlsx,
            sheets,
        }
    }

    /// The hidden marker sheet of a generated workbook of `kind`.
    fn marker(kind: Kind) -> Sheet {
        let mut marker = sheet(
            MARKER_SHEET,
            BTreeMap::from([
                ((0, 0), Cell::Text(MARKER_TAG.to_owned())),
                ((0, 1), Cell::Text(kind.marker().to_owned())),
            ]),
        );
        marker.visible = false;
        marker
    }

    fn instructions() -> Sheet {
        sheet(
            "Instructions",
            BTreeMap::from([(
                (0, 0),
                Cell::Text("How to fill in this template".to_owned()),
            )]),
        )
    }

    /// `count` valid claim lines, filed 45 days before [`received`].
    fn good_lines(count: usize) -> Vec<Record> {
        complaint_lines(Sample::Good, received(), 0, count)
    }

    fn claims(lines: &[Record], config: &Config) -> Sheet {
        table("Claims", &COMPLAINT, lines, &config.mcos)
    }

    /// Validates `workbook` as the intake does, with the embedded rules.
    fn validate_in(workbook: &Workbook, config: &Config) -> Complaint {
        let context = Context {
            received_on: received(),
            window: Window {
                min_days: config.rules.window_min_days,
                max_days: config.rules.window_max_days,
            },
            max_lines: config.rules.max_lines,
            mcos: &config.mcos,
        };
        validate_complaint(workbook, &context)
    }

    fn validate_lines(lines: &[Record]) -> Complaint {
        let config = Config::embedded();
        validate_in(&workbook(vec![claims(lines, &config)]), &config)
    }

    fn statuses(complaint: &Complaint) -> Vec<(Status, Option<Reason>)> {
        complaint
            .report
            .lines
            .iter()
            .map(|line| (line.status, line.reason))
            .collect()
    }

    const FORWARDED: (Status, Option<Reason>) = (Status::Forwarded, None);

    /// The registrant sheet and a providers sheet of `count` providers, rows 2 on.
    fn multiple_registration(count: usize) -> Vec<Sheet> {
        let values = registration_values("pat@example.org", "1234567893").values;
        let (registrant, provider) = values.split_at(REGISTRANT_FIELDS.len());
        let providers: Vec<Record> = (0..count)
            .map(|index| Record {
                row: index as u32 + 2,
                values: provider.to_vec(),
            })
            .collect();
        vec![
            form("Registrant", REGISTRANT_FIELDS, registrant),
            table("Providers", PROVIDER_FIELDS, &providers, &[]),
        ]
    }

    /// Baseline: valid sample lines are forwarded to their one MCO with no problem.
    #[test]
    fn valid_lines_are_forwarded_to_their_mco() {
        let complaint = validate_lines(&good_lines(2));
        assert_eq!(complaint.report.problems, []);
        assert_eq!(complaint.report.status, Status::Forwarded);
        assert_eq!(complaint.report.reason, None);
        assert_eq!(
            complaint.report.mco.as_deref(),
            Some(Config::embedded().mcos[0].code.as_str())
        );
        assert_eq!(statuses(&complaint), [FORWARDED, FORWARDED]);
    }

    /// A claim repeated within the file (the same tracking and claim number, in any
    /// case) is closed as a duplicate naming the row it repeats; the first one goes.
    /// A repeat of a line closed for a reason of its own is judged on its own.
    #[test]
    fn a_claim_repeated_in_the_file_is_a_duplicate_of_its_first_row() {
        let mut lines = good_lines(4);
        lines[2].values = lines[0].values.clone();
        let lower = |value: &Option<Value>| match value {
            Some(Value::Text(text)) => Some(Value::Text(text.to_lowercase())),
            other => other.clone(),
        };
        lines[3].values[claim::CLAIM_NUMBER] = lower(&lines[1].values[claim::CLAIM_NUMBER]);
        lines[3].values[claim::TRACKING_NUMBER] = lower(&lines[1].values[claim::TRACKING_NUMBER]);
        let complaint = validate_lines(&lines);
        let duplicate = (Status::Closed, Some(Reason::Duplicate));
        assert_eq!(
            statuses(&complaint),
            [FORWARDED, FORWARDED, duplicate, duplicate]
        );
        let rows: Vec<(Option<u32>, bool)> = complaint
            .report
            .problems
            .iter()
            .map(|problem| (problem.row, problem.message.contains("repeats row")))
            .collect();
        assert_eq!(rows, [(Some(4), true), (Some(5), true)]);
        assert!(
            complaint.report.problems[0]
                .message
                .contains("repeats row 2 ")
        );
        assert!(
            complaint.report.problems[1]
                .message
                .contains("repeats row 3 ")
        );

        // The first carrier of the claim closed for its own reason: the repeat goes.
        let mut lines = good_lines(2);
        lines[1].values = lines[0].values.clone();
        lines[0].values[claim::EXHAUSTED] = Some(Value::Bool(false));
        let complaint = validate_lines(&lines);
        assert_eq!(
            statuses(&complaint),
            [(Status::Closed, Some(Reason::NotExhausted)), FORWARDED]
        );
    }

    /// R4: `max_lines` (100) lines fit on one template; one more closes the ticket,
    /// the problem pointing at the first line too many.
    #[test]
    fn at_most_max_lines_claim_lines() {
        assert_eq!(Config::embedded().rules.max_lines, 100);
        let complaint = validate_lines(&good_lines(100));
        assert_eq!(complaint.report.problems, []);
        assert_eq!(complaint.report.status, Status::Forwarded);

        let complaint = validate_lines(&good_lines(101));
        assert_eq!(complaint.report.status, Status::Closed);
        assert_eq!(complaint.report.reason, Some(Reason::Over100Lines));
        let over: Vec<_> = complaint
            .report
            .problems
            .iter()
            .filter(|problem| problem.reason == Reason::Over100Lines)
            .collect();
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].row, Some(102));
        assert!(
            over[0].message.contains("101 claim lines"),
            "{}",
            over[0].message
        );
        assert!(
            complaint
                .report
                .lines
                .iter()
                .all(|line| line.reason == Some(Reason::Over100Lines))
        );
        // The problem points at the first line too many, not the last.
        let complaint = validate_lines(&good_lines(103));
        let over = complaint.report.problems.iter();
        let over: Vec<_> = over
            .filter(|problem| problem.reason == Reason::Over100Lines)
            .collect();
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].row, Some(102));
        assert!(
            over[0].message.contains("103 claim lines"),
            "{}",
            over[0].message
        );
    }

    /// R3, R4: the ticket's reason is the gravest present: more than 100 lines, then
    /// mixed MCOs, then incomplete, then an invalid value.
    #[test]
    fn the_gravest_ticket_reason_wins() {
        let mut lines = good_lines(101);
        lines[1].values[claim::MCO] = Some(Value::Choice(1));
        lines[2].values[claim::TRACKING_NUMBER] = None;
        lines[3].values[claim::SERVICE_TO] = Some(Value::Date(days_before(200)));
        assert_eq!(
            validate_lines(&lines).report.reason,
            Some(Reason::Over100Lines)
        );
        lines.truncate(100);
        assert_eq!(validate_lines(&lines).report.reason, Some(Reason::MixedMco));
        lines[1].values[claim::MCO] = Some(Value::Choice(0));
        assert_eq!(
            validate_lines(&lines).report.reason,
            Some(Reason::Incomplete)
        );
        lines[2] = good_lines(3)[2].clone();
        assert_eq!(
            validate_lines(&lines).report.reason,
            Some(Reason::InvalidValue)
        );
    }

    /// Report order: whole-template problems first, then by row, then by column; a
    /// line's own ticket-level problem is its reason before a line-level one in an
    /// earlier column; a problem carries its cell's text as `value` (for `check
    /// --json`), none for an empty cell.
    #[test]
    fn problems_in_report_order_and_line_reasons() {
        let mut lines = good_lines(2);
        let from = days_before(90);
        lines[0].values[claim::EXHAUSTED] = Some(Value::Bool(false));
        lines[0].values[claim::SERVICE_FROM] = Some(Value::Date(from));
        lines[0].values[claim::SERVICE_TO] = Some(Value::Date(from - Days::new(1)));
        lines[1].values[claim::TRACKING_NUMBER] = None;
        let complaint = validate_lines(&lines);
        let found: Vec<_> = complaint
            .report
            .problems
            .iter()
            .map(|problem| (problem.row, problem.column.as_deref(), problem.reason))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some(2),
                    Some("Internal Process Exhausted"),
                    Reason::NotExhausted
                ),
                (Some(2), Some("Date of Service To"), Reason::InvalidValue),
                (Some(3), Some("MCO Tracking Number"), Reason::Incomplete),
            ]
        );
        assert_eq!(
            statuses(&complaint),
            [
                (Status::Closed, Some(Reason::InvalidValue)),
                (Status::Closed, Some(Reason::Incomplete)),
            ]
        );
        let values: Vec<_> = complaint
            .report
            .problems
            .iter()
            .map(|problem| problem.value.as_deref())
            .collect();
        assert_eq!(values, [Some("FALSE"), Some("2026-08-17"), None]);
    }

    /// R4: a template with no claim lines is incomplete.
    #[test]
    fn a_template_without_lines_is_incomplete() {
        let complaint = validate_lines(&[]);
        assert_eq!(complaint.report.status, Status::Closed);
        assert_eq!(complaint.report.reason, Some(Reason::Incomplete));
        assert_eq!(complaint.report.problems.len(), 1);
        assert_eq!(complaint.report.problems[0].row, None);
    }

    /// R4: a line naming another MCO than the first line's closes the whole ticket,
    /// the problem on that line's MCO cell, and the report names no MCO.
    #[test]
    fn mixed_mcos_close_the_ticket() {
        let mut lines = good_lines(3);
        lines[1].values[claim::MCO] = Some(Value::Choice(1));
        let complaint = validate_lines(&lines);
        assert_eq!(complaint.report.status, Status::Closed);
        assert_eq!(complaint.report.reason, Some(Reason::MixedMco));
        assert_eq!(complaint.report.mco, None);
        let [problem] = complaint.report.problems.as_slice() else {
            panic!("{:?}", complaint.report.problems)
        };
        assert_eq!(problem.reason, Reason::MixedMco);
        assert_eq!(problem.row, Some(3));
        assert_eq!(problem.column.as_deref(), Some("MCO"));
        assert_eq!(
            statuses(&complaint),
            [(Status::Closed, Some(Reason::MixedMco)); 3]
        );
    }

    /// R1: filed 29 days before receipt is too early, 30 and 60 are inside, 61 is too
    /// late; each closes only its own line.
    #[test]
    fn filing_window_bounds_30_and_60() {
        let mut lines = good_lines(4);
        for (line, days) in lines.iter_mut().zip([29, 30, 60, 61]) {
            line.values[claim::FILED_WITH_MCO] = Some(Value::Date(days_before(days)));
        }
        let complaint = validate_lines(&lines);
        assert_eq!(complaint.report.reason, None);
        assert_eq!(complaint.report.status, Status::Forwarded);
        assert_eq!(
            statuses(&complaint),
            [
                (Status::Closed, Some(Reason::TooEarly)),
                FORWARDED,
                FORWARDED,
                (Status::Closed, Some(Reason::TooLate)),
            ]
        );
        let early = &complaint.report.problems[0];
        assert_eq!(early.column.as_deref(), Some("Date Filed with MCO"));
        // Filed 2026-10-18: HFS takes it from day 30 to day 60 after.
        assert!(
            early
                .message
                .contains("2026-10-18: submit from 2026-11-17 to 2026-12-17"),
            "{}",
            early.message
        );
    }

    /// R1/R3: a filing date after the day received is an invalid value that closes the
    /// ticket; filed on the day received is merely too early.
    #[test]
    fn filing_date_after_receipt_is_invalid() {
        let mut lines = good_lines(2);
        lines[0].values[claim::FILED_WITH_MCO] = Some(Value::Date(received() + Days::new(1)));
        lines[1].values[claim::FILED_WITH_MCO] = Some(Value::Date(received()));
        let complaint = validate_lines(&lines);
        assert_eq!(complaint.report.reason, Some(Reason::InvalidValue));
        assert_eq!(
            statuses(&complaint),
            [
                (Status::Closed, Some(Reason::InvalidValue)),
                (Status::Closed, Some(Reason::TooEarly)),
            ]
        );
    }

    /// R3: a date of service after the day received is invalid; on that day it is
    /// accepted.
    #[test]
    fn service_after_the_day_received_is_invalid() {
        let mut on_the_day = good_lines(1);
        on_the_day[0].values[claim::SERVICE_FROM] = Some(Value::Date(received()));
        on_the_day[0].values[claim::SERVICE_TO] = Some(Value::Date(received()));
        let complaint = validate_lines(&on_the_day);
        assert_eq!(complaint.report.problems, []);
        assert_eq!(statuses(&complaint), [FORWARDED]);

        let mut after = on_the_day.clone();
        let next_day = Some(Value::Date(received() + Days::new(1)));
        after[0].values[claim::SERVICE_FROM] = next_day.clone();
        after[0].values[claim::SERVICE_TO] = next_day;
        let complaint = validate_lines(&after);
        assert_eq!(complaint.report.reason, Some(Reason::InvalidValue));
        let [problem] = complaint.report.problems.as_slice() else {
            panic!("{:?}", complaint.report.problems)
        };
        assert_eq!(problem.reason, Reason::InvalidValue);
        assert_eq!(problem.row, Some(2));
        assert_eq!(problem.column.as_deref(), Some("Date of Service From"));
    }

    /// R3: a one-day service (To = From) is accepted; To before From is invalid.
    #[test]
    fn service_to_may_equal_but_not_precede_service_from() {
        let from = days_before(90);
        let mut one_day = good_lines(1);
        one_day[0].values[claim::SERVICE_FROM] = Some(Value::Date(from));
        one_day[0].values[claim::SERVICE_TO] = Some(Value::Date(from));
        let complaint = validate_lines(&one_day);
        assert_eq!(complaint.report.problems, []);
        assert_eq!(statuses(&complaint), [FORWARDED]);

        let mut backwards = one_day.clone();
        backwards[0].values[claim::SERVICE_TO] = Some(Value::Date(from - Days::new(1)));
        let complaint = validate_lines(&backwards);
        assert_eq!(complaint.report.reason, Some(Reason::InvalidValue));
        let [problem] = complaint.report.problems.as_slice() else {
            panic!("{:?}", complaint.report.problems)
        };
        assert_eq!(problem.row, Some(2));
        assert_eq!(problem.column.as_deref(), Some("Date of Service To"));
    }

    /// R5 and R8: not exhausted, fee-for-service and Medicare-only close only their line.
    #[test]
    fn exhausted_and_coverage_close_their_line() {
        let mut lines = good_lines(4);
        lines[0].values[claim::EXHAUSTED] = Some(Value::Bool(false));
        lines[1].values[claim::COVERAGE] = Some(Value::Choice(COVERAGE_FEE_FOR_SERVICE));
        lines[2].values[claim::COVERAGE] = Some(Value::Choice(COVERAGE_MEDICARE_ONLY));
        let complaint = validate_lines(&lines);
        assert_eq!(complaint.report.reason, None);
        assert_eq!(complaint.report.status, Status::Forwarded);
        assert_eq!(
            statuses(&complaint),
            [
                (Status::Closed, Some(Reason::NotExhausted)),
                (Status::Closed, Some(Reason::FeeForService)),
                (Status::Closed, Some(Reason::MedicareOnly)),
                FORWARDED,
            ]
        );
    }

    /// R2: an empty required cell closes the ticket as incomplete, and a line with no
    /// problem of its own is closed with the ticket's reason.
    #[test]
    fn an_empty_required_cell_closes_every_line() {
        let mut lines = good_lines(2);
        lines[0].values[claim::TRACKING_NUMBER] = None;
        lines[1].values[claim::PAID] = None; // not required
        let complaint = validate_lines(&lines);
        assert_eq!(complaint.report.reason, Some(Reason::Incomplete));
        let [problem] = complaint.report.problems.as_slice() else {
            panic!("{:?}", complaint.report.problems)
        };
        assert_eq!(problem.row, Some(2));
        assert_eq!(problem.column.as_deref(), Some("MCO Tracking Number"));
        assert_eq!(
            statuses(&complaint),
            [(Status::Closed, Some(Reason::Incomplete)); 2]
        );
    }

    /// Finding the data sheet: a renamed data sheet is read wherever it stands among
    /// visible sheets, being the one with the schema's headers (hidden or empty sheets
    /// are skipped); a sheet with the schema's name wins wherever it stands, in any
    /// case.
    #[test]
    fn a_renamed_data_sheet_among_several() {
        let config = Config::embedded();
        let lines = good_lines(2);
        let mut renamed = claims(&lines, &config);
        renamed.name = "Claims Nov 2026".to_owned();
        let mut hidden = instructions();
        hidden.name = "Old".to_owned();
        hidden.visible = false;
        let empty = sheet("Sheet2", BTreeMap::new());

        for sheets in [
            vec![renamed.clone(), instructions(), marker(Kind::Complaint)],
            vec![marker(Kind::Complaint), hidden, empty, renamed.clone()],
        ] {
            let complaint = validate_in(&workbook(sheets), &config);
            assert_eq!(complaint.report.problems, []);
            assert_eq!(statuses(&complaint), [FORWARDED, FORWARDED]);
        }

        let mut by_name = claims(&lines, &config);
        by_name.name = "CLAIMS".to_owned();
        let complaint = validate_in(&workbook(vec![instructions(), by_name]), &config);
        assert_eq!(complaint.report.problems, []);
        assert_eq!(complaint.lines.len(), 2);

        // Renamed and after the Instructions sheet: still the one with the headers.
        let complaint = validate_in(&workbook(vec![instructions(), renamed]), &config);
        assert_eq!(complaint.report.problems, []);
        assert_eq!(statuses(&complaint), [FORWARDED, FORWARDED]);

        // No sheet with any header: the first visible one is read, and found wanting.
        let complaint = validate_in(
            &workbook(vec![
                instructions(),
                sheet(
                    "Notes",
                    BTreeMap::from([((0, 0), Cell::Text("Our notes".to_owned()))]),
                ),
            ]),
            &config,
        );
        assert_eq!(complaint.report.reason, Some(Reason::Incomplete));
        assert!(complaint.lines.is_empty());
    }

    /// Finding the data sheet: a workbook of one sheet (a CSV) is read whatever its
    /// name; with no sheet at all, the sheet is said to be missing.
    #[test]
    fn a_lone_sheet_is_the_data_sheet() {
        let config = Config::embedded();
        let mut lone = claims(&good_lines(1), &config);
        lone.name = "complaint".to_owned();
        lone.visible = false;
        let complaint = validate_in(&workbook(vec![lone]), &config);
        assert_eq!(complaint.report.problems, []);

        let complaint = validate_in(&workbook(vec![marker(Kind::Complaint)]), &config);
        assert_eq!(complaint.report.reason, Some(Reason::Incomplete));
        assert!(
            complaint.report.problems[0].message.contains("'Claims'"),
            "{}",
            complaint.report.problems[0].message
        );
    }

    /// Headers are matched loosely: case, inner spacing, a trailing `*` or `:`.
    #[test]
    fn headers_match_loosely() {
        let config = Config::embedded();
        let mut sheet = claims(&good_lines(1), &config);
        for column in 0..COMPLAINT.len() as u32 {
            let Some(Cell::Text(header)) = sheet.cells.get_mut(&(0, column)) else {
                panic!("no header in column {column}");
            };
            *header = format!("  {} *:", header.to_uppercase().replace(' ', "   "));
        }
        let complaint = validate_in(&workbook(vec![sheet]), &config);
        assert_eq!(complaint.report.problems, []);
        assert_eq!(statuses(&complaint), [FORWARDED]);
    }

    /// Identifying a complaint without the marker: half its headers (8 of 16) suffice,
    /// 7 do not.
    #[test]
    fn a_complaint_is_known_by_half_its_headers() {
        let config = Config::embedded();
        let with_headers = |count: u32| {
            let mut sheet = claims(&[], &config);
            sheet.cells.retain(|&(_, column), _| column < count);
            workbook(vec![sheet])
        };
        assert_eq!(COMPLAINT.len(), 16);
        assert_eq!(identify(&with_headers(8)), Some(Kind::Complaint));
        assert_eq!(identify(&with_headers(7)), None);
    }

    /// Identifying by the marker: a tagged marker names the kind whatever the sheets
    /// hold; an untagged one is ignored.
    #[test]
    fn the_marker_names_the_kind() {
        for kind in Kind::ALL {
            assert_eq!(identify(&workbook(vec![marker(kind)])), Some(kind));
        }
        let mut untagged = marker(Kind::Complaint);
        untagged
            .cells
            .insert((0, 0), Cell::Text("something else".to_owned()));
        assert_eq!(identify(&workbook(vec![untagged])), None);
    }

    /// A multiple registration is recognised by its Registrant labels and Providers
    /// headers without the marker sheet, and validates complete.
    #[test]
    fn a_multiple_registration_without_its_marker() {
        let both = workbook(multiple_registration(2));
        assert_eq!(identify(&both), Some(Kind::MultipleRegistration));
        let registration = validate_registration(&both, Kind::MultipleRegistration, 100);
        assert_eq!(registration.report.problems, []);
        assert_eq!(registration.report.status, Completeness::Complete);
        assert_eq!(registration.providers.len(), 2);
        assert_eq!(registration.report.npis, ["1234567893"]);

        // The Providers sheet alone is not one.
        let providers_only = multiple_registration(2).split_off(1);
        assert_eq!(identify(&workbook(providers_only)), None);
    }

    /// Identifying a multiple registration needs more than half of each sheet's
    /// fields: 4 of 7 provider headers and 4 of 6 registrant labels, not 3.
    #[test]
    fn a_multiple_registration_needs_more_than_half_its_fields() {
        let trimmed = |providers: u32, registrant: u32| {
            let mut sheets = multiple_registration(1);
            sheets[0].cells.retain(|&(row, _), _| row < registrant);
            sheets[1].cells.retain(|&(_, column), _| column < providers);
            workbook(sheets)
        };
        assert_eq!(identify(&trimmed(4, 4)), Some(Kind::MultipleRegistration));
        // (Six registrant labels alone are half an individual form's: not this kind.)
        assert_ne!(identify(&trimmed(3, 6)), Some(Kind::MultipleRegistration));
        assert_eq!(identify(&trimmed(7, 3)), None);
    }

    /// R7: a multiple registration lists at most `max_lines` providers: at the limit
    /// it is complete, one more is an invalid value on the Providers sheet.
    #[test]
    fn at_most_max_lines_providers() {
        let max_lines = Config::embedded().rules.max_lines;
        let at_limit = workbook(multiple_registration(max_lines as usize));
        let registration = validate_registration(&at_limit, Kind::MultipleRegistration, max_lines);
        assert_eq!(registration.report.problems, []);
        assert_eq!(registration.report.status, Completeness::Complete);

        let over = workbook(multiple_registration(max_lines as usize + 1));
        let registration = validate_registration(&over, Kind::MultipleRegistration, max_lines);
        assert_eq!(registration.report.status, Completeness::Incomplete);
        let [problem] = registration.report.problems.as_slice() else {
            panic!("{:?}", registration.report.problems)
        };
        assert_eq!(problem.reason, Reason::InvalidValue);
        assert_eq!(problem.sheet.as_deref(), Some("Providers"));
        assert!(
            problem.message.contains("101 providers"),
            "{}",
            problem.message
        );
    }

    /// R7: what is missing is listed once each; a provider's cell by sheet and row,
    /// a registrant's by its label.
    #[test]
    fn missing_fields_of_a_multiple_registration() {
        let mut sheets = multiple_registration(3);
        // Registrant Phone is the fourth label: empty its value.
        sheets[0].cells.remove(&(3, 1));
        // The NPI of the provider on row 3 is column B.
        sheets[1].cells.remove(&(2, 1));
        let registration =
            validate_registration(&workbook(sheets), Kind::MultipleRegistration, 100);
        assert_eq!(registration.report.status, Completeness::Incomplete);
        assert_eq!(
            registration.report.missing,
            ["Registrant Phone", "Providers row 3: Provider NPI"]
        );
        assert_eq!(
            registration.report.email.as_deref(),
            Some("pat@example.org")
        );
    }

    /// R7: an individual form is found by its labels; each row labelled with a
    /// password is refused, and listed once in what is missing.
    #[test]
    fn an_individual_form_and_a_password_row() {
        let values = registration_values("pat@example.org", "1234567893").values;
        let mut sheet = form("Registration", &REGISTRATION, &values);
        let complete = workbook(vec![sheet.clone()]);
        assert_eq!(identify(&complete), Some(Kind::RegistrationForm));
        let registration = validate_registration(&complete, Kind::RegistrationForm, 100);
        assert_eq!(registration.report.problems, []);
        assert_eq!(registration.providers.len(), 1);
        assert_eq!(registration.report.npis, ["1234567893"]);

        // Two password rows: two problems, one entry in what is missing.
        for row in [20, 22] {
            sheet
                .cells
                .insert((row, 0), Cell::Text("Password:".to_owned()));
            sheet
                .cells
                .insert((row, 1), Cell::Text("hunter2".to_owned()));
        }
        let registration =
            validate_registration(&workbook(vec![sheet]), Kind::RegistrationForm, 100);
        let problems = &registration.report.problems;
        assert_eq!(problems.len(), 2, "{problems:?}");
        for (problem, row) in problems.iter().zip([21, 23]) {
            assert_eq!(problem.reason, Reason::InvalidValue);
            assert_eq!(problem.row, Some(row));
            assert!(!problem.message.contains("hunter2"));
        }
        assert_eq!(registration.report.missing, ["Password"]);
    }

    /// The claim cells a store upgrade reads from kept mail: each row with an NPI or a
    /// tracking number (either alone is enough), as typed, by its spreadsheet row; a
    /// row with neither is left out.
    #[test]
    fn claim_cells_keep_a_row_with_either_the_npi_or_the_tracking_number() {
        let config = Config::embedded();
        let mut lines = good_lines(4);
        lines[1].values[claim::TRACKING_NUMBER] = None;
        lines[2].values[claim::PROVIDER_NPI] = None;
        lines[3].values[claim::PROVIDER_NPI] = None;
        lines[3].values[claim::TRACKING_NUMBER] = None;
        let cells = claim_cells(&workbook(vec![instructions(), claims(&lines, &config)]));
        let text = |line: &Record, field: usize| match &line.values[field] {
            Some(Value::Text(text)) => Some(text.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            cells,
            [
                (
                    2,
                    text(&lines[0], claim::PROVIDER_NPI),
                    text(&lines[0], claim::TRACKING_NUMBER)
                ),
                (3, text(&lines[1], claim::PROVIDER_NPI), None),
                (4, None, text(&lines[2], claim::TRACKING_NUMBER)),
            ]
        );
    }

    /// A label twice on a form (a second NPI added below the first): the first is read,
    /// the second is a problem on its row naming the first, never silently dropped.
    #[test]
    fn a_label_twice_on_a_form_is_a_problem_on_its_second_row() {
        let values = registration_values("pat@example.org", "1234567893").values;
        let mut sheet = form("Registration", &REGISTRATION, &values);
        let npi_row = REGISTRATION
            .iter()
            .position(|field| field.header == "Provider NPI")
            .unwrap() as u32;
        sheet
            .cells
            .insert((30, 0), Cell::Text("provider npi".to_owned()));
        sheet
            .cells
            .insert((30, 1), Cell::Text("1987654328".to_owned()));
        let registration =
            validate_registration(&workbook(vec![sheet]), Kind::RegistrationForm, 100);
        let problems = &registration.report.problems;
        let [problem] = problems.as_slice() else {
            panic!("{problems:?}")
        };
        assert_eq!(
            (problem.row, problem.column.as_deref(), problem.reason),
            (Some(31), Some("Provider NPI"), Reason::InvalidValue)
        );
        assert!(
            problem
                .message
                .contains(&format!("already on row {}", npi_row + 1)),
            "{}",
            problem.message
        );
        assert!(!problem.message.contains("1987654328"));
        assert_ne!(registration.report.status, Completeness::Complete);
    }

    /// A problem's message ends in one full stop, and `value` is the text of the very
    /// cell at fault — in a table by its row and column, in a form by its label's row
    /// (for `portal check --json` only).
    #[test]
    fn a_validated_line_reads_its_amounts_as_money_and_nothing_else_as_money() {
        let mut lines = good_lines(1);
        lines[0].values[claim::BILLED] = Some(Value::Money(Money { cents: 125_050 }));
        lines[0].values[claim::PAID] = None;
        let complaint = validate_lines(&lines);
        let [line] = complaint.lines.as_slice() else {
            panic!("{:?}", complaint.report)
        };
        assert_eq!(line.money(claim::BILLED), Some(Money { cents: 125_050 }));
        assert_eq!(line.money(claim::PAID), None, "an empty optional amount");
        assert_eq!(line.money(claim::TRACKING_NUMBER), None, "text is no money");
        assert_eq!(line.money(usize::MAX), None, "no such column");
    }

    #[test]
    fn a_problem_names_its_cell_and_carries_that_cell_as_value() {
        let mut lines = good_lines(2);
        lines[1].values[claim::RECIPIENT_ID] = Some(Value::Text("12".to_owned()));
        let complaint = validate_lines(&lines);
        let [problem] = complaint.report.problems.as_slice() else {
            panic!("{:?}", complaint.report.problems)
        };
        assert_eq!(problem.row, Some(3));
        assert_eq!(problem.column.as_deref(), Some("Recipient ID"));
        assert_eq!(problem.value.as_deref(), Some("12"));
        assert!(
            problem.message.ends_with('.') && !problem.message.ends_with(".."),
            "{}",
            problem.message
        );
        assert!(!problem.message.contains("12"), "{}", problem.message);

        let mut values = registration_values("pat@example.org", "1234567893").values;
        values[crate::forms::schema::registrant::PHONE] = Some(Value::Text("555".to_owned()));
        let sheet = form("Registration", &REGISTRATION, &values);
        let registration =
            validate_registration(&workbook(vec![sheet]), Kind::RegistrationForm, 100);
        let [problem] = registration.report.problems.as_slice() else {
            panic!("{:?}", registration.report.problems)
        };
        // The fourth label, on row 4.
        assert_eq!(problem.row, Some(4));
        assert_eq!(problem.column.as_deref(), Some("Registrant Phone"));
        assert_eq!(problem.value.as_deref(), Some("555"));
    }

    /// Identifying an individual form without the marker: half its labels (6 of 13)
    /// suffice, 5 do not.
    #[test]
    fn an_individual_form_is_known_by_half_its_labels() {
        let values = registration_values("pat@example.org", "1234567893").values;
        // Only provider rows (from Provider NPI on): no multiple registration either.
        let with_labels = |count: u32| {
            let mut sheet = form("Registration", &REGISTRATION, &values);
            sheet
                .cells
                .retain(|&(row, _), _| (7..7 + count).contains(&row));
            workbook(vec![sheet])
        };
        assert_eq!(REGISTRATION.len(), 13);
        assert_eq!(identify(&with_labels(6)), Some(Kind::RegistrationForm));
        assert_eq!(identify(&with_labels(5)), None);
    }

    /// R7: a multiple registration with no provider is incomplete.
    #[test]
    fn a_multiple_registration_needs_a_provider() {
        let registration = validate_registration(
            &workbook(multiple_registration(0)),
            Kind::MultipleRegistration,
            100,
        );
        assert_eq!(registration.report.status, Completeness::Incomplete);
        assert_eq!(registration.providers.len(), 0);
        assert_eq!(registration.report.problems.len(), 1);
    }
}
