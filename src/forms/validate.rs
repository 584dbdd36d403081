//! From a read workbook to typed records and every problem in them: identifying the
//! kind, mapping headers and labels, then the complaint rules (R1–R5, R8) and the
//! registration rules (R7). Every violation is collected, not just the first.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::cells::{self, Value};
use super::read::{Cell, Sheet, Workbook};
use super::report::{
    ComplaintReport, Completeness, LineOutcome, Problem, Reason, RegistrationReport, Status,
};
use super::schema::{
    self, COMPLAINT, COVERAGE_FEE_FOR_SERVICE, COVERAGE_MEDICARE_ONLY, Field, Kind, Layout,
    MARKER_SHEET, MARKER_TAG, PROVIDER_FIELDS, REGISTRANT_FIELDS, REGISTRATION, SheetSchema, claim,
    provider, registrant,
};
use crate::config::Mco;
use crate::rules::{FEE_FOR_SERVICE_PHONE, Window, WindowCheck};

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

/// A validated complaint template: its report and its claim lines (values by
/// [`schema::claim`] index).
#[derive(Debug, Clone)]
pub struct Complaint {
    pub report: ComplaintReport,
    pub lines: Vec<Record>,
}

/// A validated registration request.
#[derive(Debug, Clone)]
pub struct Registration {
    pub report: RegistrationReport,
    /// The registrant's fields, by [`schema::REGISTRANT_FIELDS`] index.
    pub registrant: Record,
    /// One record per provider, by [`schema::PROVIDER_FIELDS`] index.
    pub providers: Vec<Record>,
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
        });
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
                .map(|(field, cell)| read_value(cell, field, mcos, row, problems))
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
            Some(row) => read_value(sheet.get(*row, 1), field, &[], row + 1, problems),
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
    row: u32,
    problems: &mut Problems,
) -> Option<Value> {
    match cells::parse(cell, field, mcos) {
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

/// Validates a complaint template: ticket-level structure and completeness (R2–R4),
/// then each line against R1, R5 and R8.
pub fn validate_complaint(workbook: &Workbook, context: &Context<'_>) -> Complaint {
    let schema = &schema::sheets(Kind::Complaint)[0];
    let mut problems = Problems {
        sheet: schema.name,
        list: Vec::new(),
    };
    let lines = read_table(
        find_sheet(workbook, schema),
        schema,
        context.mcos,
        &mut problems,
    );
    let header = |index: usize| COMPLAINT[index].header;

    if lines.is_empty() {
        problems.add(
            None,
            None,
            Reason::Incomplete,
            "The template has no claim lines: fill in one row per claim, from row 2".to_owned(),
        );
    }
    let max_lines = context.max_lines as usize;
    if lines.len() > max_lines {
        problems.add(
            lines.get(max_lines).map(|line| line.row),
            None,
            Reason::Over100Lines,
            format!(
                "The template has {} claim lines; one template holds at most {max_lines}. Send the rest on another template",
                lines.len()
            ),
        );
    }
    // R4: one MCO per template; the first line's MCO sets it.
    let mco = lines.iter().find_map(|line| line.choice(claim::MCO));
    if let Some(first) = mco {
        for line in &lines {
            if let Some(other) = line.choice(claim::MCO).filter(|other| *other != first) {
                problems.add(
                    Some(line.row),
                    Some(header(claim::MCO)),
                    Reason::MixedMco,
                    format!(
                        "This line names {} but the template is for {}; send one template per MCO",
                        context.mcos[other].name, context.mcos[first].name
                    ),
                );
            }
        }
    }
    for line in &lines {
        check_line(line, context, &mut problems);
    }

    // Whole-template problems first, then by row, then in column order.
    let mut problems = problems.list;
    let column_order = |problem: &Problem| {
        problem
            .column
            .as_deref()
            .and_then(|column| schema.field(column))
            .unwrap_or(usize::MAX)
    };
    problems.sort_by_key(|problem| (problem.row.is_some(), problem.row, column_order(problem)));
    let ticket_reason = [
        Reason::Over100Lines,
        Reason::MixedMco,
        Reason::Incomplete,
        Reason::InvalidValue,
    ]
    .into_iter()
    .find(|reason| problems.iter().any(|problem| problem.reason == *reason));
    let outcomes: Vec<LineOutcome> = lines
        .iter()
        .map(|line| {
            let own = |ticket_level: bool| {
                problems
                    .iter()
                    .filter(|problem| {
                        problem.row == Some(line.row)
                            && problem.reason.closes_ticket() == ticket_level
                    })
                    .map(|problem| problem.reason)
                    .next()
            };
            let reason = match ticket_reason {
                Some(ticket) => Some(own(true).or(own(false)).unwrap_or(ticket)),
                None => own(false),
            };
            let status = if reason.is_some() {
                Status::Closed
            } else {
                Status::Forwarded
            };
            LineOutcome {
                row: line.row,
                status,
                reason,
            }
        })
        .collect();
    let any_forwarded = outcomes.iter().any(|line| line.status == Status::Forwarded);
    let mixed = problems
        .iter()
        .any(|problem| problem.reason == Reason::MixedMco);
    let report = ComplaintReport {
        status: if any_forwarded {
            Status::Forwarded
        } else {
            Status::Closed
        },
        mco: mco
            .filter(|_| !mixed)
            .map(|index| context.mcos[index].code.clone()),
        received_on: context.received_on,
        reason: ticket_reason,
        lines: outcomes,
        problems,
    };
    Complaint { report, lines }
}

/// The cross-field and line-level checks of one claim line.
fn check_line(line: &Record, context: &Context<'_>, problems: &mut Problems) {
    let header = |index: usize| Some(COMPLAINT[index].header);
    let received = context.received_on;
    if let Some(filed) = line.date(claim::FILED_WITH_MCO) {
        let message = |earliest: NaiveDate, latest: NaiveDate| {
            format!("Filed with the MCO on {filed}: submit from {earliest} to {latest}.")
        };
        match context.window.check(filed, received) {
            WindowCheck::InWindow => {}
            WindowCheck::FiledAfterReceived => problems.add(
                Some(line.row),
                header(claim::FILED_WITH_MCO),
                Reason::InvalidValue,
                format!("{filed} is in the future (HFS received the template on {received})"),
            ),
            WindowCheck::TooEarly { earliest, latest } => problems.add(
                Some(line.row),
                header(claim::FILED_WITH_MCO),
                Reason::TooEarly,
                message(earliest, latest),
            ),
            WindowCheck::TooLate { earliest, latest } => problems.add(
                Some(line.row),
                header(claim::FILED_WITH_MCO),
                Reason::TooLate,
                message(earliest, latest),
            ),
        }
    }
    let from = line.date(claim::SERVICE_FROM);
    if from.is_some_and(|from| from > received) {
        problems.add(
            Some(line.row),
            header(claim::SERVICE_FROM),
            Reason::InvalidValue,
            "The date of service is after the day HFS received the template".to_owned(),
        );
    }
    if let (Some(from), Some(to)) = (from, line.date(claim::SERVICE_TO))
        && to < from
    {
        problems.add(
            Some(line.row),
            header(claim::SERVICE_TO),
            Reason::InvalidValue,
            "The last date of service is before Date of Service From".to_owned(),
        );
    }
    if line.flag(claim::EXHAUSTED) == Some(false) {
        problems.add(
            Some(line.row),
            header(claim::EXHAUSTED),
            Reason::NotExhausted,
            "Finish the MCO's internal dispute process, including peer-to-peer review, before sending the complaint to HFS".to_owned(),
        );
    }
    match line.choice(claim::COVERAGE) {
        Some(COVERAGE_FEE_FOR_SERVICE) => problems.add(
            Some(line.row),
            header(claim::COVERAGE),
            Reason::FeeForService,
            format!("Fee-for-service claims are not handled by the portal: call HFS at {FEE_FOR_SERVICE_PHONE}"),
        ),
        Some(COVERAGE_MEDICARE_ONLY) => problems.add(
            Some(line.row),
            header(claim::COVERAGE),
            Reason::MedicareOnly,
            "Medicare-only claims are outside the portal's scope; contact Medicare or the plan".to_owned(),
        ),
        _ => {}
    }
}

/// Validates an individual registration form or a multiple registration template (R7).
pub fn validate_registration(workbook: &Workbook, kind: Kind, max_lines: u32) -> Registration {
    let sheets = schema::sheets(kind);
    let (registrant, providers, problems) = match kind {
        Kind::MultipleRegistration => {
            let mut problems = Problems {
                sheet: sheets[0].name,
                list: Vec::new(),
            };
            let registrant = read_form(
                find_sheet_named(workbook, &sheets[0]),
                &sheets[0],
                &mut problems,
            );
            let mut table = Problems {
                sheet: sheets[1].name,
                list: Vec::new(),
            };
            let providers = read_table(
                find_sheet_named(workbook, &sheets[1]),
                &sheets[1],
                &[],
                &mut table,
            );
            if providers.is_empty() {
                table.add(
                    None,
                    None,
                    Reason::Incomplete,
                    "List at least one provider or facility, one per row from row 2".to_owned(),
                );
            }
            if providers.len() > max_lines as usize {
                table.add(
                    None,
                    None,
                    Reason::InvalidValue,
                    format!(
                        "The sheet lists {} providers; at most {max_lines} fit on one template",
                        providers.len()
                    ),
                );
            }
            problems.list.append(&mut table.list);
            (registrant, providers, problems.list)
        }
        _ => {
            let mut problems = Problems {
                sheet: sheets[0].name,
                list: Vec::new(),
            };
            debug_assert_eq!(sheets[0].layout, Layout::Form);
            let form = read_form(find_sheet(workbook, &sheets[0]), &sheets[0], &mut problems);
            let split = REGISTRANT_FIELDS.len();
            let registrant = Record {
                row: form.row,
                values: form.values[..split].to_vec(),
            };
            let provider = Record {
                row: form.row,
                values: form.values[split..].to_vec(),
            };
            (registrant, vec![provider], problems.list)
        }
    };
    let mut npis: Vec<String> = Vec::new();
    for npi in providers
        .iter()
        .filter_map(|provider| provider.text(provider::NPI))
    {
        if !npis.iter().any(|known| known == npi) {
            npis.push(npi.to_owned());
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for problem in &problems {
        let what = match (kind, problem.row, &problem.column) {
            (Kind::MultipleRegistration, Some(row), Some(column))
                if problem.sheet.as_deref() == Some(sheets[1].name) =>
            {
                format!("{} row {row}: {column}", sheets[1].name)
            }
            (_, _, Some(column)) => column.clone(),
            (_, _, None) => problem.message.clone(),
        };
        if !missing.contains(&what) {
            missing.push(what);
        }
    }
    let report = RegistrationReport {
        kind,
        status: if problems.is_empty() {
            Completeness::Complete
        } else {
            Completeness::Incomplete
        },
        email: registrant.text(registrant::EMAIL).map(str::to_owned),
        npis,
        missing,
        problems,
    };
    Registration {
        report,
        registrant,
        providers,
    }
}

/// For the multiple registration template, both sheets must be found by name (a
/// workbook has two); a lone CSV cannot hold them.
fn find_sheet_named<'w>(workbook: &'w Workbook, schema: &SheetSchema) -> Option<&'w Sheet> {
    workbook.sheet(schema.name)
}
