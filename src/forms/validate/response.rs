//! The MCO's returned response workbook (PRODUCT.md, *After the forward*): which
//! forwarded rows it answers, with which decision, and every way it was altered — a row
//! added (its `Row` empty, not a whole number, or not one the ticket forwarded), a row
//! repeated, another ticket's rows, a decision that is not one of the words, a comment
//! over 2,000 characters. Only `Ticket`, `Row`, `MCO Decision` and `MCO Comment` are
//! read: the complaint's own cells are the provider's, validated when it was filed.
//! The valid rows count whatever else is wrong, and a problem describes a cell without
//! repeating it (R10).

use std::collections::{BTreeMap, BTreeSet};

use super::{Problems, find_sheet, header_map, in_report_order};
use crate::forms::cells::{self, Invalid, Value};
use crate::forms::read::{Cell, Sheet, Typing, Workbook};
use crate::forms::report::{McoDecision, Problem, Reason};
use crate::forms::schema::{self, Kind, MCO_DECISIONS, RESPONSE, SheetSchema, response};
use crate::ids::TicketId;

/// What a returned workbook is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ResponseContext<'a> {
    /// The ticket it answers. `None` (`portal check`, which has no store) checks the
    /// file against itself only: every `Ticket` cell the same, each `Row` once.
    pub ticket: Option<&'a str>,
    /// The rows of the provider's template the ticket forwarded; with a ticket, a row
    /// not among them was added.
    pub forwarded_rows: &'a [u32],
}

/// One valid row of a returned workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    /// The row in the provider's own template (the `Row` cell).
    pub row: u32,
    /// The MCO's decision; `None` when the cell is empty or not one of the words.
    pub decision: Option<McoDecision>,
    /// The MCO's comment, for the store only: never shown in a notice or by `check`.
    pub comment: Option<String>,
}

/// A returned workbook, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseReport {
    /// The ticket id the rows name (the first valid `Ticket` cell), for routing a
    /// message whose subject lost the id.
    pub ticket: Option<String>,
    /// The valid rows: a forwarded row of this ticket, with its decision (None when empty).
    pub rows: Vec<ResponseRow>,
    /// Every problem, by sheet, spreadsheet row and column (R10: described, never quoted).
    pub problems: Vec<Problem>,
}

impl ResponseReport {
    /// Nothing altered, at least one row, and a decision on every row: what `portal
    /// check` exits 0 for.
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
            && !self.rows.is_empty()
            && self.rows.iter().all(|row| row.decision.is_some())
    }
}

/// Reads a returned workbook's rows against `context`.
pub fn validate_response(workbook: &Workbook, context: &ResponseContext<'_>) -> ResponseReport {
    let schema = &schema::sheets(Kind::McoResponse)[0];
    let mut problems = Problems {
        sheet: schema.name,
        list: Vec::new(),
    };
    let sheet = find_sheet(workbook, schema);
    let lines = match sheet {
        Some(sheet) => read_lines(sheet, schema, &mut problems),
        None => {
            problems.add(
                None,
                None,
                Reason::Incomplete,
                format!("The sheet '{}' is missing from the workbook", schema.name),
            );
            Vec::new()
        }
    };
    let ticket = lines.iter().find_map(|line| line.ticket_id());
    let mut check = Check {
        context,
        first_ticket: lines.iter().find(|line| line.ticket.is_some()),
        seen: BTreeMap::new(),
    };
    let rows = lines
        .iter()
        .filter_map(|line| check.line(line, &mut problems))
        .collect();
    problems.attach_values(sheet, schema);
    for problem in &mut problems.list {
        // The comment may hold anything; `check --json` never shows it.
        if problem.column.as_deref() == Some(RESPONSE[response::COMMENT].header) {
            problem.value = None;
        }
    }
    ResponseReport {
        ticket,
        rows,
        problems: in_report_order(problems.list, schema),
    }
}

/// The ticket id of a returned workbook: the `Ticket` cells' id when every non-empty
/// one names the same ticket, else `None`.
pub fn ticket_of(workbook: &Workbook) -> Option<String> {
    let schema = &schema::sheets(Kind::McoResponse)[0];
    let sheet = find_sheet(workbook, schema)?;
    let column = header_map(sheet, &RESPONSE[..=response::TICKET])[0]?;
    let mut ids = sheet
        .cells
        .range((1, 0)..)
        .filter(|((_, at), _)| *at == column)
        .map(|(_, cell)| cells::cell_text(cell))
        .filter(|text| !text.is_empty())
        .map(|text| text.parse::<TicketId>().ok());
    let first = ids.next()??;
    ids.all(|id| id == Some(first)).then(|| first.to_string())
}

/// One non-empty row of the sheet, its four cells read.
struct Line {
    /// The spreadsheet's 1-based row.
    at: u32,
    /// The `Ticket` cell's text, when not empty.
    ticket: Option<String>,
    /// The `Row` cell: empty, a whole number, or neither.
    row: RowCell,
    decision: Option<McoDecision>,
    comment: Option<String>,
}

impl Line {
    fn ticket_id(&self) -> Option<String> {
        let id: TicketId = self.ticket.as_deref()?.parse().ok()?;
        Some(id.to_string())
    }
}

enum RowCell {
    Empty,
    Number(u32),
    Invalid,
}

/// Every row of the sheet below the header with anything in it (in any column), its
/// `Ticket`, `Row`, decision and comment read; a missing header is a problem, and an
/// unknown decision or an over-long comment a problem of its row.
fn read_lines(sheet: &Sheet, schema: &SheetSchema, problems: &mut Problems) -> Vec<Line> {
    let wanted = [
        response::TICKET,
        response::ROW,
        response::DECISION,
        response::COMMENT,
    ];
    let fields: Vec<_> = wanted.iter().map(|index| schema.fields[*index]).collect();
    let columns = header_map(sheet, &fields);
    for (field, column) in fields.iter().zip(&columns) {
        if column.is_none() && field.required {
            problems.add(
                Some(1),
                Some(field.header),
                Reason::Incomplete,
                "This column is missing from the header row; answer on the workbook HFS sent"
                    .to_owned(),
            );
        }
    }
    let rows: BTreeSet<u32> = sheet
        .cells
        .range((1, 0)..)
        .filter(|(_, cell)| !cells::cell_text(cell).is_empty())
        .map(|(&(row, _), _)| row)
        .collect();
    let cell = |row: u32, which: usize| columns[which].and_then(|column| sheet.get(row, column));
    rows.into_iter()
        .map(|row| {
            let at = row + 1;
            Line {
                at,
                ticket: cell(row, 0)
                    .map(cells::cell_text)
                    .filter(|text| !text.is_empty()),
                row: row_cell(cell(row, 1)),
                decision: decision(cell(row, 2), at, problems),
                comment: comment(cell(row, 3), at, problems),
            }
        })
        .collect()
}

/// A `Row` cell: a whole number from 1 on, as a number or as digits.
fn row_cell(cell: Option<&Cell>) -> RowCell {
    let Some(cell) = cell else {
        return RowCell::Empty;
    };
    let text = cells::cell_text(cell);
    if text.is_empty() {
        return RowCell::Empty;
    }
    let number = match cell {
        Cell::Number(number) if number.fract() == 0.0 => text.parse().ok(),
        Cell::Text(_) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        _ => None,
    };
    match number {
        Some(number) if number >= 1 => RowCell::Number(number),
        _ => RowCell::Invalid,
    }
}

/// The `MCO Decision` cell: empty, or one of the words (the label or the code, in any
/// case).
fn decision(cell: Option<&Cell>, at: u32, problems: &mut Problems) -> Option<McoDecision> {
    let text = cell.map(cells::cell_text).filter(|text| !text.is_empty())?;
    let decision = McoDecision::from_cell(&text);
    if decision.is_none() {
        problems.add(
            Some(at),
            Some(RESPONSE[response::DECISION].header),
            Reason::InvalidValue,
            format!(
                "The value is not one of the choices: {}",
                MCO_DECISIONS.join(", ")
            ),
        );
    }
    decision
}

/// The `MCO Comment` cell: free text of at most 2,000 characters.
fn comment(cell: Option<&Cell>, at: u32, problems: &mut Problems) -> Option<String> {
    let field = &RESPONSE[response::COMMENT];
    match cells::parse(cell, field, &[], Typing::Typed) {
        Ok(Some(Value::Text(text))) => Some(text),
        Ok(_) => None,
        Err(Invalid(message)) => {
            problems.add(Some(at), Some(field.header), Reason::InvalidValue, message);
            None
        }
    }
}

/// The checks across rows: the ticket each row names, and each row once.
struct Check<'c> {
    context: &'c ResponseContext<'c>,
    /// The first row naming a ticket: without a context ticket, every row must agree
    /// with it.
    first_ticket: Option<&'c Line>,
    /// Each valid `Row` number, with the spreadsheet row it was first found on.
    seen: BTreeMap<u32, u32>,
}

impl Check<'_> {
    /// The line as a valid row, or its problems: another ticket's row is that whatever
    /// its `Row` says; then a row HFS did not send; then a row without its ticket; then
    /// a row answered twice.
    fn line(&mut self, line: &Line, problems: &mut Problems) -> Option<ResponseRow> {
        let ticket_column = Some(RESPONSE[response::TICKET].header);
        if let Some(message) = self.another_ticket(line) {
            problems.add(Some(line.at), ticket_column, Reason::InvalidValue, message);
            return None;
        }
        let row = self.row(line, problems)?;
        if line.ticket.is_none() {
            problems.add(
                Some(line.at),
                ticket_column,
                Reason::Incomplete,
                "This required cell is empty; every row names its ticket".to_owned(),
            );
            return None;
        }
        if let Some(first) = self.seen.get(&row) {
            problems.add(
                Some(line.at),
                Some(RESPONSE[response::ROW].header),
                Reason::InvalidValue,
                format!(
                    "This row repeats the line of spreadsheet row {first}; answer each line once, on its own row"
                ),
            );
            return None;
        }
        self.seen.insert(row, line.at);
        Some(ResponseRow {
            row,
            decision: line.decision,
            comment: line.comment.clone(),
        })
    }

    /// Why the `Ticket` cell names another ticket than the one answered (the
    /// context's, or without one the first row's); `None` when it is the same or empty.
    /// The message names only the portal's own id or a spreadsheet row (R10).
    fn another_ticket(&self, line: &Line) -> Option<String> {
        let ticket = line.ticket.as_deref()?;
        let same = |expected: &str| ticket.trim().eq_ignore_ascii_case(expected.trim());
        match self.context.ticket {
            Some(expected) if same(expected) => None,
            Some(expected) => Some(format!(
                "This row names another ticket than {expected}; answer each ticket on the workbook sent with it"
            )),
            None => {
                let first = self.first_ticket?;
                (!first.ticket.as_deref().is_some_and(same)).then(|| {
                    format!(
                        "This row names another ticket than spreadsheet row {}; answer each ticket on the workbook sent with it",
                        first.at
                    )
                })
            }
        }
    }

    /// The `Row` cell as one of the ticket's forwarded rows.
    fn row(&self, line: &Line, problems: &mut Problems) -> Option<u32> {
        let column = Some(RESPONSE[response::ROW].header);
        let message = match line.row {
            RowCell::Number(row) if self.is_forwarded(row) => return Some(row),
            RowCell::Number(_) => {
                let rows: Vec<String> = self
                    .context
                    .forwarded_rows
                    .iter()
                    .map(u32::to_string)
                    .collect();
                format!(
                    "This row is not one HFS forwarded with {}, whose rows are {}; add no rows to the workbook",
                    self.context.ticket.unwrap_or("this ticket"),
                    rows.join(", ")
                )
            }
            RowCell::Invalid => "The value is not a row number (a whole number from 1, in digits \
                 only); Row is the line's row in the provider's template, as HFS wrote it"
                .to_owned(),
            RowCell::Empty => {
                "This row has no Row number, so it is not a line HFS sent; add no rows to the workbook"
                    .to_owned()
            }
        };
        let reason = match line.row {
            RowCell::Empty => Reason::Incomplete,
            _ => Reason::InvalidValue,
        };
        problems.add(Some(line.at), column, reason, message);
        None
    }

    /// A row the ticket forwarded; without a ticket (`portal check`), any row.
    fn is_forwarded(&self, row: u32) -> bool {
        self.context.ticket.is_none() || self.context.forwarded_rows.contains(&row)
    }
}

#[cfg(test)]
mod tests;
