//! `portal check FILE`: one spreadsheet validated exactly as intake would; an MCO's
//! returned response workbook is checked against itself.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::NaiveDate;

use super::Outcome;
use crate::config::Config;
use crate::forms::{self, Kind, ResponseReport, Status, Submission, Unusable};

pub(super) fn run(
    config: &Config,
    file: &Path,
    received_on: NaiveDate,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let shown = file.display();
    // Never read a huge file into memory only to refuse it.
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > forms::read::MAX_FILE_BYTES {
        let unusable = Unusable::from(forms::ReadError::TooLarge {
            bytes: size,
            limit: forms::read::MAX_FILE_BYTES,
        });
        report_unusable(&shown.to_string(), &unusable, received_on, json, out)?;
        return Ok(Outcome::Unusable);
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    let name = file.file_name().and_then(|name| name.to_str());
    let context = forms::Context {
        received_on,
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    match forms::check(&bytes, name, &context) {
        Err(unusable) => {
            report_unusable(&shown.to_string(), &unusable, received_on, json, out)?;
            Ok(Outcome::Unusable)
        }
        Ok(Submission::Complaint(complaint)) => {
            let report = &complaint.report;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
            } else {
                writeln!(out, "{shown}: complaint template, received {received_on}")?;
                for problem in &report.problems {
                    writeln!(out, "  {problem}")?;
                }
                let forwarded = report
                    .lines
                    .iter()
                    .filter(|line| line.status == Status::Forwarded)
                    .count();
                let closed = report.lines.len() - forwarded;
                let mco = report
                    .mco
                    .as_deref()
                    .and_then(|code| config.mcos.iter().find(|mco| mco.code == code))
                    .map_or_else(|| "the MCO".to_owned(), |mco| mco.name.clone());
                let verdict = match (report.status, report.reason) {
                    (Status::Forwarded | Status::Responded | Status::Resolved, _) => format!(
                        "{forwarded} of {} lines would be forwarded to {mco}",
                        report.lines.len()
                    ),
                    (Status::Closed, Some(reason)) => {
                        format!("the ticket would be closed ({reason})")
                    }
                    (Status::Closed, None) => "every line would be closed".to_owned(),
                };
                writeln!(
                    out,
                    "Summary: {verdict}; {closed} closed; {} problem{}.",
                    report.problems.len(),
                    if report.problems.len() == 1 { "" } else { "s" }
                )?;
            }
            Ok(if report.all_forwarded() {
                Outcome::Done
            } else {
                Outcome::Closed
            })
        }
        Ok(Submission::Response(report)) => report_response(&shown.to_string(), &report, json, out),
        Ok(Submission::Registration(registration)) => {
            let report = &registration.report;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
            } else {
                let title = if report.kind == Kind::MultipleRegistration {
                    "multiple registration template"
                } else {
                    "registration form"
                };
                writeln!(out, "{shown}: {title}")?;
                let with_sheet = report.kind == Kind::MultipleRegistration;
                for problem in &report.problems {
                    writeln!(out, "  {}", problem.describe(with_sheet))?;
                }
                let verdict = match report.status {
                    forms::Completeness::Complete => format!(
                        "complete; would be stored as pending review for {} NPI{}",
                        report.npis.len(),
                        if report.npis.len() == 1 { "" } else { "s" }
                    ),
                    forms::Completeness::Incomplete => format!(
                        "incomplete; would be denied ({} field{} missing or wrong)",
                        report.missing.len(),
                        if report.missing.len() == 1 { "" } else { "s" }
                    ),
                };
                writeln!(out, "Summary: {verdict}.")?;
            }
            Ok(if report.status == forms::Completeness::Complete {
                Outcome::Done
            } else {
                Outcome::Closed
            })
        }
    }
}

/// An MCO's returned workbook: each row's decision and every problem (never the
/// comment); exit 0 only when nothing was altered and every row has its decision.
fn report_response(
    shown: &str,
    report: &ResponseReport,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome> {
    if json {
        let rows: Vec<_> = report
            .rows
            .iter()
            .map(|row| serde_json::json!({ "row": row.row, "decision": row.decision }))
            .collect();
        let shape = serde_json::json!({
            "kind": "mco_response",
            "ticket": report.ticket,
            "rows": rows,
            "problems": report.problems,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&shape)?)?;
    } else {
        let ticket = report.ticket.as_deref().unwrap_or("no ticket id");
        writeln!(out, "{shown}: MCO response workbook ({ticket})")?;
        if !report.rows.is_empty() {
            writeln!(out, "Decisions, by the row of the provider's template:")?;
        }
        for row in &report.rows {
            let decision = row
                .decision
                .map_or("no decision", |decision| decision.label());
            writeln!(out, "  row {}: {decision}", row.row)?;
        }
        if !report.problems.is_empty() {
            writeln!(out, "Problems, by the row of this workbook:")?;
        }
        for problem in &report.problems {
            writeln!(out, "  {problem}")?;
        }
        let decided = report
            .rows
            .iter()
            .filter(|row| row.decision.is_some())
            .count();
        writeln!(
            out,
            "Summary: {decided} of {} row{} decided; {} problem{}.",
            report.rows.len(),
            if report.rows.len() == 1 { "" } else { "s" },
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        )?;
    }
    Ok(if report.is_complete() {
        Outcome::Done
    } else {
        Outcome::Closed
    })
}

/// An unreadable or unknown file, in the same JSON shape as a closed ticket.
fn report_unusable(
    shown: &str,
    unusable: &Unusable,
    received_on: NaiveDate,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if json {
        let report = unusable.report(received_on);
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(
            out,
            "{shown}: {} [{}]",
            unusable.sentence(),
            unusable.reason()
        )?;
        writeln!(out, "Summary: the file cannot be checked.")?;
    }
    Ok(())
}
