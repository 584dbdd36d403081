//! The public statistics on the site: `[store] statistics_file` read — never the store,
//! which a running intake holds — and published beside the page `/statistics/` as
//! `statistics.json` (the file's bytes as read) and `statistics.csv`, and turned into
//! the `statistics` value of the Tera context: the rows of the page's tables and the
//! geometry of its charts ([`super::charts`]), with MCOs by their configured names and
//! closure reasons by their plain names.
//!
//! A missing file is no figures yet (`statistics` is null and the page says so); a
//! malformed one fails the build, naming it.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::charts::{self, Bars, Group, Item, PLAIN, Paint, Panels, Series};
use crate::config::Config;
use crate::forms::report::Reason;
use crate::statistics::{MonthFigures, Statistics};

/// The folder of the page and its downloads, below the site's root.
const FOLDER: &str = "statistics";
/// How the page names the MCO of tickets closed before an MCO was known.
const MCO_NOT_KNOWN: &str = "MCO not known";
/// The room on the left of the bar charts for their labels.
const REASON_LABEL_WIDTH: f64 = 250.0;
const PROPOSAL_LABEL_WIDTH: f64 = 90.0;
/// The bars of the proposals chart, in their order (and `kind`).
const PROPOSAL_KINDS: [&str; 3] = ["On time", "Late", "Overdue"];
/// How those bars are painted: plain, hatched and dotted (the patterns are defined in
/// `templates/partials/statistics/proposals.html`), so no meaning rests on colour.
const PROPOSAL_PAINTS: [Paint; 3] = [
    PLAIN,
    Paint {
        fill: "url(#proposals-late)",
        stroke: Some("#8a4b08"),
    },
    Paint {
        fill: "url(#proposals-overdue)",
        stroke: Some("#a4262c"),
    },
];

/// The template of the page the figures are given to (`content/statistics.md`'s).
pub(super) const TEMPLATE: &str = "statistics.html";

/// The statistics file as read: its figures and its text, published as it is.
pub(super) struct Published {
    statistics: Statistics,
    json: String,
}

/// Reads the statistics file at `path`, publishes its copies into `site_dir` and lays
/// out its page: `None` when there is no file (the page says no figures yet).
pub(super) fn publish(path: &Path, site_dir: &Path, config: &Config) -> Result<Option<Page>> {
    let Some(published) = read(path)? else {
        return Ok(None);
    };
    let written = write(&published, site_dir)?;
    Ok(Some(page(&published, &written, config)))
}

/// Reads the statistics file: `None` when there is none; an error naming it when it
/// cannot be read or is not a statistics file.
pub(super) fn read(path: &Path) -> Result<Option<Published>> {
    let json = match std::fs::read_to_string(path) {
        Ok(json) => json,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    // One read serves both the figures and the copy, so they cannot disagree even
    // when intake replaces the file meanwhile.
    let statistics = Statistics::parse(&json)
        .with_context(|| format!("{} is not a statistics file", path.display()))?;
    Ok(Some(Published { statistics, json }))
}

/// A published copy of the figures, as the page links to it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Download {
    /// Relative to the site folder, `/`-separated.
    pub path: String,
    pub url: String,
    pub size: String,
}

/// `statistics.json` and `statistics.csv`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Downloads {
    pub json: Download,
    pub csv: Download,
}

impl Downloads {
    /// Both files, relative to the site folder.
    pub fn paths(&self) -> [&str; 2] {
        [self.json.path.as_str(), self.csv.path.as_str()]
    }
}

/// Writes `statistics/statistics.json` and `statistics/statistics.csv` into the site.
pub(super) fn write(published: &Published, site_dir: &Path) -> Result<Downloads> {
    let dir = site_dir.join(FOLDER);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = |name: &str, text: &str| -> Result<Download> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Download {
            path: format!("{FOLDER}/{name}"),
            url: format!("/{FOLDER}/{name}"),
            size: super::context::human_size(text.len() as u64),
        })
    };
    Ok(Downloads {
        json: file("statistics.json", &published.json)?,
        csv: file("statistics.csv", &published.statistics.to_csv())?,
    })
}

/// A closure reason as the page names it.
pub fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::Incomplete => "Required cells left empty",
        Reason::InvalidValue => "A value that is not valid",
        Reason::Over100Lines => "Too many lines in one template",
        Reason::MixedMco => "More than one MCO in a template",
        Reason::UnknownTemplate => "Not a portal template",
        Reason::TooEarly => "Sent before the window opened",
        Reason::TooLate => "Sent after the window closed",
        Reason::NotExhausted => "MCO's own process not finished",
        Reason::FeeForService => "Fee-for-service claim",
        Reason::MedicareOnly => "Medicare-only claim",
        Reason::Duplicate => "Already sent to the MCO",
        Reason::NpiNotRegistered => "Provider's NPI not registered",
    }
}

/// A closure reason: its code (as in the files) and its plain name.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ReasonName {
    pub code: &'static str,
    pub name: &'static str,
}

/// Every closure reason, in the files' order: `closure_reasons` in the context, so
/// the page can explain them whether or not there are figures.
pub(super) fn reasons() -> Vec<ReasonName> {
    Reason::ALL
        .iter()
        .map(|reason| ReasonName {
            code: reason.as_str(),
            name: reason_name(*reason),
        })
        .collect()
}

/// The `statistics` value of the context: everything the page shows.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Page {
    pub as_of: String,
    pub as_of_long: String,
    /// The first and last month of the figures, `November 2026`; empty without months.
    pub first_month: String,
    pub last_month: String,
    pub downloads: Downloads,
    pub months: Vec<Month>,
    /// Every MCO of the figures in the file's (configuration) order, "MCO not
    /// known" last, by name.
    pub mcos: Vec<String>,
    /// The MCOs a complaint was forwarded to (not "MCO not known"), by name.
    pub forwarded_mcos: Vec<String>,
    pub complaints: Complaints,
    pub closed: Closed,
    pub proposals: Proposals,
    pub by_mco: Vec<McoTotals>,
    pub by_mco_total: McoTotals,
    pub medians: Vec<MedianRow>,
    pub registrations: Registrations,
}

/// A month as the page names it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Month {
    /// `2026-11`.
    pub month: String,
    /// `November 2026`.
    pub long: String,
    /// `Nov`.
    pub short: String,
}

/// Complaints per month (rows) and MCO (columns), and the chart of them.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Complaints {
    pub rows: Vec<CountRow>,
    /// Per MCO, all months.
    pub totals: Vec<u64>,
    pub total: u64,
    pub chart: Panels,
    /// The chart's marks as SVG ([`Panels::marks`]).
    pub marks: String,
}

/// A row of counts: its label, a count per column and their sum.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CountRow {
    pub label: String,
    pub values: Vec<u64>,
    pub total: u64,
}

/// Lines closed per reason over every month and MCO, most first, and their chart.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Closed {
    pub rows: Vec<ReasonCount>,
    pub total: u64,
    pub chart: Bars,
    /// The chart's marks as SVG ([`Bars::marks`]).
    pub marks: String,
}

/// Lines closed for one reason.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ReasonCount {
    pub code: &'static str,
    pub name: &'static str,
    pub lines: u64,
}

/// Proposals on time, late and overdue per MCO, and their chart.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Proposals {
    pub rows: Vec<ProposalRow>,
    pub total: ProposalRow,
    pub chart: Bars,
    /// The chart's marks as SVG ([`Bars::marks`]), painted by [`PROPOSAL_PAINTS`].
    pub marks: String,
}

/// One MCO's proposals and extensions over every month.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ProposalRow {
    pub name: String,
    pub on_time: u64,
    pub late: u64,
    pub overdue: u64,
    pub extensions: u64,
}

/// One MCO's complaints and lines over every month.
#[derive(Debug, Clone, Serialize)]
pub(super) struct McoTotals {
    pub name: String,
    pub complaints: u64,
    pub lines_forwarded: u64,
    pub lines_closed: u64,
}

/// One month's median days to a proposal, per forwarded MCO: `12.5`, or `None`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct MedianRow {
    pub label: String,
    pub values: Vec<Option<String>>,
}

/// Registrations per month.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Registrations {
    pub rows: Vec<RegistrationRow>,
    pub total: RegistrationRow,
}

/// One month's registrations, or all months'.
#[derive(Debug, Clone, Serialize)]
pub(super) struct RegistrationRow {
    pub label: String,
    pub received: u64,
    pub approved: u64,
    pub denied: u64,
}

/// One column of the tables: an MCO code (or none) and the name shown.
struct McoColumn {
    code: Option<String>,
    name: String,
}

/// The page's figures.
pub(super) fn page(published: &Published, downloads: &Downloads, config: &Config) -> Page {
    let statistics = &published.statistics;
    let months = months_of(statistics);
    let mcos = mcos_of(statistics, config);
    let forwarded: Vec<&McoColumn> = mcos.iter().filter(|mco| mco.code.is_some()).collect();
    let long = |index: Option<&Month>| index.map(|month| month.long.clone()).unwrap_or_default();
    Page {
        as_of: statistics.as_of.to_string(),
        as_of_long: statistics.as_of.format("%B %-d, %Y").to_string(),
        first_month: long(months.first()),
        last_month: long(months.last()),
        downloads: downloads.clone(),
        mcos: mcos.iter().map(|mco| mco.name.clone()).collect(),
        forwarded_mcos: forwarded.iter().map(|mco| mco.name.clone()).collect(),
        complaints: complaints(statistics, &months, &mcos),
        closed: closed(statistics),
        proposals: proposals(statistics, &forwarded),
        by_mco: mcos
            .iter()
            .map(|mco| mco_totals(&mco.name, of_mco(statistics, &mco.code)))
            .collect(),
        by_mco_total: mco_totals("All MCOs", statistics.months.iter()),
        medians: medians(statistics, &months, &forwarded),
        registrations: registrations(statistics),
        months,
    }
}

/// The months of the figures, oldest first.
fn months_of(statistics: &Statistics) -> Vec<Month> {
    let months: BTreeSet<&str> = statistics
        .months
        .iter()
        .map(|figures| figures.month.as_str())
        .chain(statistics.registrations.iter().map(|r| r.month.as_str()))
        .collect();
    months.into_iter().map(month).collect()
}

fn month(month: &str) -> Month {
    // The file's months were checked when it was read.
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").unwrap_or_default();
    Month {
        month: month.to_owned(),
        long: first.format("%B %Y").to_string(),
        short: first.format("%b").to_string(),
    }
}

/// The MCOs of the figures in the file's order, "MCO not known" last, each by its
/// configured name (its code when it is no longer configured).
fn mcos_of(statistics: &Statistics, config: &Config) -> Vec<McoColumn> {
    let mut codes: Vec<Option<&str>> = Vec::new();
    for figures in &statistics.months {
        let code = figures.mco.as_deref();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes.sort_by_key(|code| code.is_none());
    codes
        .into_iter()
        .map(|code| McoColumn {
            code: code.map(str::to_owned),
            name: match code {
                None => MCO_NOT_KNOWN.to_owned(),
                Some(code) => config
                    .mcos
                    .iter()
                    .find(|mco| mco.code == code)
                    .map_or_else(|| code.to_owned(), |mco| mco.name.clone()),
            },
        })
        .collect()
}

fn of_mco<'s>(
    statistics: &'s Statistics,
    code: &'s Option<String>,
) -> impl Iterator<Item = &'s MonthFigures> + Clone {
    statistics
        .months
        .iter()
        .filter(move |figures| figures.mco == *code)
}

fn complaints(statistics: &Statistics, months: &[Month], mcos: &[McoColumn]) -> Complaints {
    let count = |month: &str, code: &Option<String>| -> u64 {
        of_mco(statistics, code)
            .filter(|figures| figures.month == month)
            .map(|figures| figures.complaints)
            .sum()
    };
    let rows: Vec<CountRow> = months
        .iter()
        .map(|month| {
            let values: Vec<u64> = mcos
                .iter()
                .map(|mco| count(&month.month, &mco.code))
                .collect();
            CountRow {
                label: month.long.clone(),
                total: values.iter().sum(),
                values,
            }
        })
        .collect();
    let totals: Vec<u64> = (0..mcos.len())
        .map(|column| rows.iter().map(|row| row.values[column]).sum())
        .collect();
    let series: Vec<Series> = mcos
        .iter()
        .enumerate()
        .map(|(column, mco)| Series {
            label: mco.name.clone(),
            values: rows.iter().map(|row| row.values[column]).collect(),
        })
        .collect();
    let labels: Vec<String> = months.iter().map(|month| month.short.clone()).collect();
    let chart = charts::panels(&series, &labels);
    Complaints {
        total: totals.iter().sum(),
        totals,
        rows,
        marks: chart.marks(),
        chart,
    }
}

fn closed(statistics: &Statistics) -> Closed {
    let mut rows: Vec<ReasonCount> = Reason::ALL
        .iter()
        .map(|reason| ReasonCount {
            code: reason.as_str(),
            name: reason_name(*reason),
            lines: statistics
                .months
                .iter()
                .filter_map(|figures| figures.lines_closed.get(reason.as_str()))
                .sum(),
        })
        .collect();
    // Most first; a tie keeps the reasons' own order.
    rows.sort_by_key(|row| std::cmp::Reverse(row.lines));
    let group = Group {
        label: None,
        items: rows
            .iter()
            .map(|row| Item {
                label: row.name.to_owned(),
                value: row.lines,
                kind: 0,
            })
            .collect(),
    };
    let chart = charts::bars(&[group], REASON_LABEL_WIDTH);
    Closed {
        total: rows.iter().map(|row| row.lines).sum(),
        marks: chart.marks(&[PLAIN]),
        chart,
        rows,
    }
}

fn proposal_row<'s>(name: &str, figures: impl Iterator<Item = &'s MonthFigures>) -> ProposalRow {
    figures.fold(
        ProposalRow {
            name: name.to_owned(),
            on_time: 0,
            late: 0,
            overdue: 0,
            extensions: 0,
        },
        |mut row, figures| {
            row.on_time += figures.proposals_on_time;
            row.late += figures.proposals_late;
            row.overdue += figures.overdue;
            row.extensions += figures.extensions;
            row
        },
    )
}

fn proposals(statistics: &Statistics, mcos: &[&McoColumn]) -> Proposals {
    let rows: Vec<ProposalRow> = mcos
        .iter()
        .map(|mco| proposal_row(&mco.name, of_mco(statistics, &mco.code)))
        .collect();
    let groups: Vec<Group> = rows
        .iter()
        .map(|row| Group {
            label: Some(row.name.clone()),
            items: [row.on_time, row.late, row.overdue]
                .into_iter()
                .zip(PROPOSAL_KINDS)
                .enumerate()
                .map(|(kind, (value, label))| Item {
                    label: label.to_owned(),
                    value,
                    kind,
                })
                .collect(),
        })
        .collect();
    let chart = charts::bars(&groups, PROPOSAL_LABEL_WIDTH);
    Proposals {
        total: proposal_row(
            "All MCOs",
            statistics
                .months
                .iter()
                .filter(|figures| figures.mco.is_some()),
        ),
        marks: chart.marks(&PROPOSAL_PAINTS),
        chart,
        rows,
    }
}

fn mco_totals<'s>(name: &str, figures: impl Iterator<Item = &'s MonthFigures>) -> McoTotals {
    figures.fold(
        McoTotals {
            name: name.to_owned(),
            complaints: 0,
            lines_forwarded: 0,
            lines_closed: 0,
        },
        |mut totals, figures| {
            totals.complaints += figures.complaints;
            totals.lines_forwarded += figures.lines_forwarded;
            totals.lines_closed += figures.lines_closed_total();
            totals
        },
    )
}

fn medians(statistics: &Statistics, months: &[Month], mcos: &[&McoColumn]) -> Vec<MedianRow> {
    months
        .iter()
        .map(|month| MedianRow {
            label: month.long.clone(),
            values: mcos
                .iter()
                .map(|mco| {
                    of_mco(statistics, &mco.code)
                        .find(|figures| figures.month == month.month)
                        .and_then(|figures| figures.median_days_to_proposal)
                        .map(|median| format!("{median:.1}"))
                })
                .collect(),
        })
        .collect()
}

fn registrations(statistics: &Statistics) -> Registrations {
    let rows: Vec<RegistrationRow> = statistics
        .registrations
        .iter()
        .map(|figures| RegistrationRow {
            label: month(&figures.month).long,
            received: figures.received,
            approved: figures.approved,
            denied: figures.denied,
        })
        .collect();
    Registrations {
        total: RegistrationRow {
            label: "All months".to_owned(),
            received: rows.iter().map(|row| row.received).sum(),
            approved: rows.iter().map(|row| row.approved).sum(),
            denied: rows.iter().map(|row| row.denied).sum(),
        },
        rows,
    }
}

#[cfg(test)]
mod tests;
