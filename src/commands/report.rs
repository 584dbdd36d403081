//! `portal report [--from D] [--to D] [--json|--csv]`: the public statistics' figures
//! for any period, with the overdue tickets by MCO (staff only).

use std::io::Write;

use anyhow::{Result, bail};
use chrono::NaiveDate;

use super::access::Access;
use super::render::{self, or_dash};
use crate::config::Config;
use crate::statistics::{MonthFigures, Period, Report, Statistics, report};
use crate::today::today_in_illinois;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Text,
    Json,
    Csv,
}

/// The format the flags ask for (clap keeps them apart).
pub(super) fn format(json: bool, csv: bool) -> Format {
    match (json, csv) {
        (true, _) => Format::Json,
        (_, true) => Format::Csv,
        _ => Format::Text,
    }
}

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let today = today_in_illinois();
    let period = period(from, to, today)?;
    let store = access.store(config)?;
    let report = report(&store, config, period, today)?;
    drop(store);
    match format {
        Format::Json => render::json(out, &report),
        Format::Csv => Ok(out.write_all(report.statistics.to_csv().as_bytes())?),
        Format::Text => text(&report, out),
    }
}

/// The period asked for: through `--to` (default today), from `--from` (default the
/// first day of the month eleven months before `--to`'s, the statistics file's window).
fn period(from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> Result<Period> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(Period::twelve_months_to(to).from);
    match Period::new(from, to) {
        Some(period) => Ok(period),
        None => bail!("--from {from} is after --to {to}: the period must not end before it starts"),
    }
}

/// The report for people: the figures by month and MCO, the lines closed by reason,
/// the registrations, and the overdue tickets.
fn text(report: &Report, out: &mut dyn Write) -> Result<()> {
    let statistics = &report.statistics;
    writeln!(
        out,
        "Figures for tickets and registrations received {} to {} (overdue as of {}).",
        report.from, report.to, statistics.as_of
    )?;
    writeln!(
        out,
        "Months and MCOs with nothing received are left out here (--json and --csv have every one)."
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = statistics
        .months
        .iter()
        .filter(|figures| figures.complaints > 0)
        .map(figures_row)
        .collect();
    if rows.is_empty() {
        writeln!(out, "No complaints received.")?;
    } else {
        render::table(out, "", FIGURES, rows)?;
        writeln!(out)?;
        closed_by_reason(statistics, out)?;
    }
    writeln!(out)?;
    registrations(statistics, out)?;
    writeln!(out)?;
    overdue(report, out)
}

/// Registrations received, approved and denied, by month received.
fn registrations(statistics: &Statistics, out: &mut dyn Write) -> Result<()> {
    let rows: Vec<Vec<String>> = statistics
        .registrations
        .iter()
        .filter(|row| row.received > 0)
        .map(|row| {
            vec![
                row.month.clone(),
                row.received.to_string(),
                row.approved.to_string(),
                row.denied.to_string(),
            ]
        })
        .collect();
    if rows.is_empty() {
        writeln!(out, "No registrations received.")?;
        return Ok(());
    }
    let headers = &["MONTH", "REGISTRATIONS", "APPROVED", "DENIED"];
    render::table(out, "", headers, rows)
}

const FIGURES: &[&str] = &[
    "MONTH",
    "MCO",
    "COMPLAINTS",
    "LINES FORWARDED",
    "LINES CLOSED",
    "ON TIME",
    "LATE",
    "OVERDUE",
    "MEDIAN DAYS",
    "EXTENSIONS",
];

fn figures_row(figures: &MonthFigures) -> Vec<String> {
    vec![
        figures.month.clone(),
        mco(figures.mco.as_deref()),
        figures.complaints.to_string(),
        figures.lines_forwarded.to_string(),
        figures.lines_closed_total().to_string(),
        figures.proposals_on_time.to_string(),
        figures.proposals_late.to_string(),
        figures.overdue.to_string(),
        or_dash(
            figures
                .median_days_to_proposal
                .map(|median| format!("{median:.1}")),
        ),
        figures.extensions.to_string(),
    ]
}

/// `(none)` for the tickets closed before an MCO was known.
fn mco(code: Option<&str>) -> String {
    code.unwrap_or("(none)").to_owned()
}

/// Each month and MCO with lines closed, and how many for each reason.
fn closed_by_reason(statistics: &Statistics, out: &mut dyn Write) -> Result<()> {
    let rows: Vec<Vec<String>> = statistics
        .months
        .iter()
        .filter(|figures| figures.lines_closed_total() > 0)
        .map(|figures| {
            let reasons: Vec<String> = figures
                .lines_closed
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(reason, count)| format!("{reason} {count}"))
                .collect();
            vec![
                figures.month.clone(),
                mco(figures.mco.as_deref()),
                reasons.join(", "),
            ]
        })
        .collect();
    if rows.is_empty() {
        writeln!(out, "No lines closed.")?;
        return Ok(());
    }
    render::table(out, "", &["MONTH", "MCO", "LINES CLOSED BY REASON"], rows)
}

/// The overdue tickets, by MCO, with their due dates.
fn overdue(report: &Report, out: &mut dyn Write) -> Result<()> {
    let tickets = &report.overdue_tickets;
    if tickets.is_empty() {
        writeln!(out, "No overdue tickets.")?;
        return Ok(());
    }
    let rows = tickets
        .iter()
        .map(|ticket| {
            vec![
                mco(ticket.mco.as_deref()),
                ticket.id.to_string(),
                ticket.response_due.to_string(),
            ]
        })
        .collect();
    render::table(out, "", &["MCO", "OVERDUE TICKET", "RESPONSE DUE"], rows)?;
    writeln!(
        out,
        "{} overdue ticket{}.",
        tickets.len(),
        render::plural(tickets.len())
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_period_defaults_to_the_files_window_and_refuses_an_inverted_one() {
        let today = day("2026-11-18");
        assert_eq!(
            period(None, None, today).unwrap(),
            Period::new(day("2025-12-01"), today).unwrap()
        );
        assert_eq!(
            period(None, Some(day("2026-03-31")), today).unwrap(),
            Period::new(day("2025-04-01"), day("2026-03-31")).unwrap()
        );
        assert_eq!(
            period(Some(day("2026-11-01")), None, today).unwrap(),
            Period::new(day("2026-11-01"), today).unwrap()
        );
        let error = period(Some(day("2026-12-01")), Some(day("2026-11-01")), today)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--from 2026-12-01 is after --to 2026-11-01"),
            "{error}"
        );
    }
}
