//! `portal tickets export --csv`: every ticket, one row per claim line, safe to open
//! in a spreadsheet.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::forms::{Problem, neutralise_formula};
use crate::store::Ticket;

/// The columns of `portal tickets export --csv`.
pub const CSV_HEADER: [&str; 12] = [
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
];

/// Every ticket as CSV, one row per claim line (plus one row for a ticket's problems
/// that belong to no line, or for a ticket without lines). Every cell a spreadsheet
/// would take for a formula is neutralised.
pub fn write_tickets_csv(tickets: &[Ticket], out: &mut dyn Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for ticket in tickets {
        let ticket_cells = [
            ticket.id.to_string(),
            ticket.status.to_string(),
            ticket
                .reason
                .map(|reason| reason.to_string())
                .unwrap_or_default(),
            ticket.mco.clone().unwrap_or_default(),
            ticket.received_on.to_string(),
            ticket.sender.clone(),
            ticket
                .presented_by
                .map(|day| day.to_string())
                .unwrap_or_default(),
            ticket
                .response_due
                .map(|day| day.to_string())
                .unwrap_or_default(),
        ];
        let mut rows: Vec<[String; 4]> = ticket
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
                    line.reason
                        .map(|reason| reason.to_string())
                        .unwrap_or_default(),
                    join_problems(problems),
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
            rows.push([
                String::new(),
                String::new(),
                String::new(),
                join_problems(unplaced.into_iter()),
            ]);
        }
        for line_cells in rows {
            let record = ticket_cells
                .iter()
                .chain(line_cells.iter())
                .map(|cell| neutralise_formula(cell).into_owned());
            writer.write_record(record.collect::<Vec<_>>())?;
        }
    }
    writer.flush().context("cannot write the CSV")?;
    Ok(())
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
