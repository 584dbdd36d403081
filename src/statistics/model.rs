//! The public statistics file's shape, exactly as PRODUCT.md's **Statistics (public)**
//! pins it: what intake writes to `[store] statistics_file`, what `portal build` reads
//! back (never the store) and publishes as `statistics.json` and `statistics.csv`.
//!
//! Aggregates only: months, MCO codes, counts and a median. No name, NPI, address,
//! tracking or claim number can reach these types.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::forms::report::Reason;

/// The whole file: figures per Illinois month of receipt and MCO, and registrations
/// per month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statistics {
    /// The Illinois day the figures were counted on (overdue is "as of" it).
    pub as_of: NaiveDate,
    /// One entry per month and MCO, months oldest first and, within a month, MCOs in
    /// configuration order with `mco: null` last.
    pub months: Vec<MonthFigures>,
    /// One entry per month, oldest first.
    pub registrations: Vec<RegistrationFigures>,
}

/// One month's figures for one MCO (`mco: None`: tickets closed before an MCO was
/// known — mixed MCOs, an unknown template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthFigures {
    /// `YYYY-MM`, the Illinois month the complaints were received in.
    pub month: String,
    /// The MCO's configured code, or null.
    pub mco: Option<String>,
    /// Complaint tickets received.
    pub complaints: u64,
    /// Lines forwarded to the MCO.
    pub lines_forwarded: u64,
    /// Lines closed, by reason code; every code of [`Reason::WORDS`] present.
    pub lines_closed: BTreeMap<String, u64>,
    /// Proposals received by the due date (the extended one where granted).
    pub proposals_on_time: u64,
    /// Proposals received after the due date.
    pub proposals_late: u64,
    /// Tickets past their due date without a proposal, as of [`Statistics::as_of`].
    pub overdue: u64,
    /// Median calendar days from `presented_on` to the first proposal, one decimal;
    /// null when no proposal.
    pub median_days_to_proposal: Option<f64>,
    /// Extensions granted.
    pub extensions: u64,
}

/// One month's registrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFigures {
    /// `YYYY-MM`.
    pub month: String,
    pub received: u64,
    pub approved: u64,
    pub denied: u64,
}

impl MonthFigures {
    /// A month and MCO with every figure zero and every reason key present.
    pub fn empty(month: &str, mco: Option<&str>) -> MonthFigures {
        MonthFigures {
            month: month.to_owned(),
            mco: mco.map(str::to_owned),
            complaints: 0,
            lines_forwarded: 0,
            lines_closed: Reason::WORDS
                .iter()
                .map(|word| ((*word).to_owned(), 0))
                .collect(),
            proposals_on_time: 0,
            proposals_late: 0,
            overdue: 0,
            median_days_to_proposal: None,
            extensions: 0,
        }
    }

    /// Lines closed, all reasons together.
    pub fn lines_closed_total(&self) -> u64 {
        self.lines_closed.values().sum()
    }
}

impl Statistics {
    /// The file as pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("statistics serialize");
        text.push('\n');
        text
    }

    /// Reads a statistics file's text, checking what serde cannot: every month is
    /// `YYYY-MM`, every reason key is present and known, a median is not negative.
    pub fn parse(text: &str) -> Result<Statistics> {
        let statistics: Statistics = serde_json::from_str(text)?;
        for figures in &statistics.months {
            check_month(&figures.month)?;
            for word in Reason::WORDS {
                if !figures.lines_closed.contains_key(*word) {
                    bail!(
                        "month {} lacks the lines_closed key \"{word}\"",
                        figures.month
                    );
                }
            }
            if let Some(unknown) = figures
                .lines_closed
                .keys()
                .find(|key| !Reason::WORDS.contains(&key.as_str()))
            {
                bail!(
                    "month {} has an unknown lines_closed key \"{unknown}\"",
                    figures.month
                );
            }
            if figures
                .median_days_to_proposal
                .is_some_and(|median| !median.is_finite() || median < 0.0)
            {
                bail!(
                    "month {} has a negative median_days_to_proposal",
                    figures.month
                );
            }
        }
        for figures in &statistics.registrations {
            check_month(&figures.month)?;
        }
        Ok(statistics)
    }

    /// Reads the file at `path`: `None` when there is none (no figures published
    /// yet); an error naming the file when it is unreadable or malformed.
    pub fn read(path: &Path) -> Result<Option<Statistics>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        Statistics::parse(&text)
            .map(Some)
            .with_context(|| format!("{} is not a statistics file", path.display()))
    }

    /// The CSV PRODUCT.md names: one row per month and MCO in the file's order,
    /// columns `month, mco, complaints, lines_forwarded, lines_closed_<reason>…,
    /// proposals_on_time, proposals_late, overdue, median_days_to_proposal,
    /// extensions`; an empty `mco` for null, an empty median for none.
    pub fn to_csv(&self) -> String {
        let mut header: Vec<String> = ["month", "mco", "complaints", "lines_forwarded"]
            .iter()
            .map(|column| (*column).to_owned())
            .collect();
        header.extend(
            Reason::WORDS
                .iter()
                .map(|word| format!("lines_closed_{word}")),
        );
        header.extend(
            [
                "proposals_on_time",
                "proposals_late",
                "overdue",
                "median_days_to_proposal",
                "extensions",
            ]
            .iter()
            .map(|column| (*column).to_owned()),
        );
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&header).expect("CSV into memory");
        for figures in &self.months {
            let mut row = vec![
                figures.month.clone(),
                figures.mco.clone().unwrap_or_default(),
                figures.complaints.to_string(),
                figures.lines_forwarded.to_string(),
            ];
            row.extend(Reason::WORDS.iter().map(|word| {
                figures
                    .lines_closed
                    .get(*word)
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            }));
            row.extend([
                figures.proposals_on_time.to_string(),
                figures.proposals_late.to_string(),
                figures.overdue.to_string(),
                figures
                    .median_days_to_proposal
                    .map(|median| format!("{median:.1}"))
                    .unwrap_or_default(),
                figures.extensions.to_string(),
            ]);
            writer.write_record(&row).expect("CSV into memory");
        }
        String::from_utf8(writer.into_inner().expect("CSV into memory")).expect("CSV is UTF-8")
    }
}

fn check_month(month: &str) -> Result<()> {
    if month.len() == 7 && NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok() {
        Ok(())
    } else {
        bail!("\"{month}\" is not a month (YYYY-MM)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Statistics {
        let mut molina = MonthFigures::empty("2026-11", Some("MOLINA"));
        molina.complaints = 2;
        molina.lines_forwarded = 3;
        *molina.lines_closed.get_mut("too_early").unwrap() = 1;
        molina.median_days_to_proposal = Some(12.5);
        Statistics {
            as_of: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            months: vec![molina, MonthFigures::empty("2026-11", None)],
            registrations: vec![RegistrationFigures {
                month: "2026-11".into(),
                received: 1,
                approved: 1,
                denied: 0,
            }],
        }
    }

    #[test]
    fn json_reads_back_as_written() {
        let statistics = sample();
        assert_eq!(
            Statistics::parse(&statistics.to_json()).unwrap(),
            statistics
        );
    }

    #[test]
    fn every_reason_is_a_key_and_a_column() {
        let json: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        let closed = json["months"][0]["lines_closed"].as_object().unwrap();
        assert_eq!(closed.len(), Reason::WORDS.len());
        let csv = sample().to_csv();
        let header = csv.lines().next().unwrap();
        assert!(header.starts_with("month,mco,complaints,lines_forwarded,lines_closed_"));
        assert!(header.ends_with(
            "proposals_on_time,proposals_late,overdue,median_days_to_proposal,extensions"
        ));
        assert_eq!(header.split(',').count(), 4 + Reason::WORDS.len() + 5);
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].starts_with("2026-11,MOLINA,2,3,"));
        assert!(rows[0].contains(",12.5,"));
        assert!(rows[1].starts_with("2026-11,,0,0,"));
    }

    #[test]
    fn a_malformed_file_is_refused() {
        let good = sample().to_json();
        for bad in [
            good.replace("\"2026-11\"", "\"November\""),
            good.replace("\"too_early\"", "\"too_soon\""),
            good.replace("12.5", "-1.0"),
            good.replace("\"as_of\"", "\"asof\""),
            "{}".to_owned(),
        ] {
            assert!(Statistics::parse(&bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn a_missing_file_is_no_figures_yet() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Statistics::read(&dir.path().join("none.json")).unwrap(),
            None
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "not json").unwrap();
        let error = format!("{:#}", Statistics::read(&bad).unwrap_err());
        assert!(error.contains("bad.json"), "{error}");
    }
}
