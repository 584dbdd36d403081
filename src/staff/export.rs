//! `portal tickets export --csv`: every ticket, one row per claim line, safe to open
//! in a spreadsheet.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::forms::{Problem, neutralise_formula};
use crate::store::Ticket;

/// The columns of `portal tickets export --csv`: the ticket's, the line's, then (added
/// with the dispute's second half) the ticket's dates, extension and resolution and
/// the line's NPI, tracking number and the MCO's decision.
pub const CSV_HEADER: [&str; 27] = [
    "ticket_id",
    "status",
    "reason",
    "mco",
    "received_on",
    "sender",
    "presented_by",
    "response_due",
    "row",
    "line_status",
    "line_reason",
    "problems",
    "presented_on",
    "responded_on",
    "late",
    "extension_status",
    "extension_requested_by",
    "extension_requested_on",
    "extension_by",
    "extension_reason",
    "resolution_outcome",
    "resolution_on",
    "resolution_by",
    "resolution_note",
    "npi",
    "tracking_number",
    "decision",
];

/// Every ticket as CSV, one row per claim line (plus one row for a ticket's problems
/// that belong to no line, or for a ticket without lines). Every cell a spreadsheet
/// would take for a formula is neutralised.
pub fn write_tickets_csv(tickets: &[Ticket], out: &mut dyn Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for ticket in tickets {
        let (ticket_cells, dispute_cells) = (ticket_cells(ticket), dispute_cells(ticket));
        let mut rows: Vec<[String; 7]> = ticket
            .lines
            .iter()
            .map(|line| {
                let problems = ticket
                    .problems
                    .iter()
                    .filter(|problem| problem.row == Some(line.row));
                [
                    line.row.to_string(),
                    line.status.to_string(),
                    or_empty(line.reason),
                    join_problems(problems),
                    line.npi.clone().unwrap_or_default(),
                    line.tracking_number.clone().unwrap_or_default(),
                    or_empty(line.decision),
                ]
            })
            .collect();
        let unplaced: Vec<&Problem> = ticket
            .problems
            .iter()
            .filter(|problem| {
                !problem
                    .row
                    .is_some_and(|row| ticket.lines.iter().any(|line| line.row == row))
            })
            .collect();
        if rows.is_empty() || !unplaced.is_empty() {
            let mut cells: [String; 7] = Default::default();
            cells[3] = join_problems(unplaced.into_iter());
            rows.push(cells);
        }
        for [row, status, reason, problems, npi, tracking, decision] in rows {
            let record = ticket_cells
                .iter()
                .chain([&row, &status, &reason, &problems])
                .chain(dispute_cells.iter())
                .chain([&npi, &tracking, &decision])
                .map(|cell| neutralise_formula(cell).into_owned());
            writer.write_record(record.collect::<Vec<_>>())?;
        }
    }
    writer.flush().context("cannot write the CSV")?;
    Ok(())
}

/// The ticket's own columns, first in every row.
fn ticket_cells(ticket: &Ticket) -> [String; 8] {
    [
        ticket.id.to_string(),
        ticket.status.to_string(),
        or_empty(ticket.reason),
        ticket.mco.clone().unwrap_or_default(),
        ticket.received_on.to_string(),
        ticket.sender.clone(),
        or_empty(ticket.presented_by),
        or_empty(ticket.response_due),
    ]
}

/// The ticket's dates after the forward, its extension and its resolution.
fn dispute_cells(ticket: &Ticket) -> [String; 12] {
    let extension = ticket.extension.as_ref();
    let resolution = ticket.resolution.as_ref();
    [
        or_empty(ticket.presented_on),
        or_empty(ticket.responded_on),
        // Like the views: nothing for a ticket that never went to an MCO.
        or_empty(ticket.response_due.map(|_| ticket.late)),
        or_empty(extension.map(|extension| extension.status)),
        or_empty(extension.map(|extension| extension.requested_by)),
        or_empty(extension.map(|extension| extension.requested_on)),
        or_empty(extension.and_then(|extension| extension.by.as_deref())),
        or_empty(extension.and_then(|extension| extension.reason.as_deref())),
        or_empty(resolution.map(|resolution| resolution.outcome)),
        or_empty(resolution.map(|resolution| resolution.on)),
        or_empty(resolution.map(|resolution| resolution.by.as_str())),
        or_empty(resolution.and_then(|resolution| resolution.note.as_deref())),
    ]
}

/// The value as text, or an empty cell.
fn or_empty(value: Option<impl ToString>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

fn join_problems<'a>(problems: impl Iterator<Item = &'a Problem>) -> String {
    problems
        .map(|problem| match &problem.column {
            Some(column) => format!("{column}: {} [{}]", problem.message, problem.reason),
            None => format!("{} [{}]", problem.message, problem.reason),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
