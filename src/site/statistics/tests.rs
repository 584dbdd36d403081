//! The statistics page's figures from a file, and its copies.

use super::*;
use crate::statistics::RegistrationFigures;

fn figures(month: &str, mco: Option<&str>, complaints: u64) -> MonthFigures {
    let mut figures = MonthFigures::empty(month, mco);
    figures.complaints = complaints;
    figures
}

fn published(statistics: Statistics) -> Published {
    Published {
        json: statistics.to_json(),
        statistics,
    }
}

fn downloads() -> Downloads {
    let download = |name: &str| Download {
        path: format!("statistics/{name}"),
        url: format!("/statistics/{name}"),
        size: "1 KB".into(),
    };
    Downloads {
        json: download("statistics.json"),
        csv: download("statistics.csv"),
    }
}

fn sample() -> Statistics {
    let mut molina = figures("2026-11", Some("MOLINA"), 4);
    molina.lines_forwarded = 9;
    *molina.lines_closed.get_mut("too_early").unwrap() = 2;
    *molina.lines_closed.get_mut("duplicate").unwrap() = 5;
    molina.proposals_on_time = 3;
    molina.proposals_late = 1;
    molina.median_days_to_proposal = Some(12.0);
    let mut unknown = figures("2026-11", None, 1);
    *unknown.lines_closed.get_mut("mixed_mco").unwrap() = 2;
    let mut gone = figures("2026-10", Some("GONE"), 2);
    gone.overdue = 2;
    gone.extensions = 1;
    Statistics {
        as_of: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        months: vec![
            figures("2026-10", None, 0),
            gone,
            figures("2026-10", Some("MOLINA"), 1),
            molina,
            unknown,
            figures("2026-11", Some("GONE"), 0),
        ],
        registrations: vec![
            RegistrationFigures {
                month: "2026-10".into(),
                received: 2,
                approved: 1,
                denied: 1,
            },
            RegistrationFigures {
                month: "2026-11".into(),
                received: 3,
                approved: 2,
                denied: 0,
            },
        ],
    }
}

#[test]
fn every_reason_has_a_short_plain_name() {
    let names = reasons();
    assert_eq!(names.len(), Reason::WORDS.len());
    for reason in &names {
        // The bar chart's label area holds about this many characters.
        assert!(reason.name.len() <= 32, "{}", reason.name);
        assert_ne!(reason.name, reason.code);
    }
}

#[test]
fn the_page_sums_months_and_mcos_with_mcos_by_their_names() {
    let config = Config::embedded();
    let page = page(&published(sample()), &downloads(), &config);
    assert_eq!(page.as_of_long, "November 30, 2026");
    assert_eq!(
        (page.first_month.as_str(), page.last_month.as_str()),
        ("October 2026", "November 2026")
    );
    assert_eq!(
        page.mcos,
        ["GONE", "Molina Healthcare of Illinois", "MCO not known"]
    );
    assert_eq!(
        page.forwarded_mcos,
        ["GONE", "Molina Healthcare of Illinois"]
    );

    let rows: Vec<(&str, &[u64], u64)> = page
        .complaints
        .rows
        .iter()
        .map(|row| (row.label.as_str(), row.values.as_slice(), row.total))
        .collect();
    assert_eq!(
        rows,
        [
            ("October 2026", &[2, 1, 0][..], 3),
            ("November 2026", &[0, 4, 1][..], 5)
        ]
    );
    assert_eq!(page.complaints.totals, [2, 5, 1]);
    assert_eq!(page.complaints.total, 8);
    assert_eq!(page.complaints.chart.panels.len(), 3);
    assert_eq!(page.complaints.chart.panels[1].columns[1].value, 4);
    assert_eq!(page.complaints.chart.panels[1].columns[1].label, "Nov");

    assert_eq!(page.closed.total, 9);
    let closed: Vec<(&str, u64)> = page
        .closed
        .rows
        .iter()
        .map(|row| (row.code, row.lines))
        .collect();
    assert_eq!(
        &closed[..4],
        [
            ("duplicate", 5),
            ("mixed_mco", 2),
            ("too_early", 2),
            ("incomplete", 0)
        ]
    );
    assert_eq!(
        page.closed.chart.groups[0].bars[0].label,
        "Already sent to the MCO"
    );

    let proposals: Vec<(&str, u64, u64, u64, u64)> = page
        .proposals
        .rows
        .iter()
        .map(|row| {
            (
                row.name.as_str(),
                row.on_time,
                row.late,
                row.overdue,
                row.extensions,
            )
        })
        .collect();
    assert_eq!(
        proposals,
        [
            ("GONE", 0, 0, 2, 1),
            ("Molina Healthcare of Illinois", 3, 1, 0, 0)
        ]
    );
    assert_eq!(
        (page.proposals.total.on_time, page.proposals.total.overdue),
        (3, 2)
    );
    let chart = &page.proposals.chart.groups[1];
    assert_eq!(
        chart.label.as_deref(),
        Some("Molina Healthcare of Illinois")
    );
    let bars: Vec<(&str, u64)> = chart
        .bars
        .iter()
        .map(|bar| (bar.label.as_str(), bar.value))
        .collect();
    assert_eq!(bars, [("On time", 3), ("Late", 1), ("Overdue", 0)]);

    let unknown = &page.by_mco[2];
    assert_eq!(
        (
            unknown.complaints,
            unknown.lines_forwarded,
            unknown.lines_closed
        ),
        (1, 0, 2)
    );
    assert_eq!(page.by_mco_total.lines_closed, 9);
    assert_eq!(page.medians[1].values, [None, Some("12.0".to_owned())]);
    assert_eq!(page.registrations.rows[1].label, "November 2026");
    assert_eq!(page.registrations.total.received, 5);
}

#[test]
fn the_copies_are_the_files_bytes_and_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statistics.json");
    // Not as `to_json` would write it: the copy is the file, not a rewrite.
    let text = sample().to_json().replace("  ", "\t");
    std::fs::write(&path, &text).unwrap();
    let published = read(&path).unwrap().unwrap();
    let downloads = write(&published, &dir.path().join("site")).unwrap();
    assert_eq!(
        downloads.paths(),
        ["statistics/statistics.json", "statistics/statistics.csv"]
    );
    assert_eq!(downloads.csv.url, "/statistics/statistics.csv");
    let site = dir.path().join("site/statistics");
    assert_eq!(
        std::fs::read_to_string(site.join("statistics.json")).unwrap(),
        text
    );
    assert_eq!(
        std::fs::read_to_string(site.join("statistics.csv")).unwrap(),
        sample().to_csv()
    );

    assert!(read(&dir.path().join("none.json")).unwrap().is_none());
    std::fs::write(&path, "{\"as_of\": 1}").unwrap();
    let error = format!("{:#}", read(&path).err().unwrap());
    assert!(
        error.contains("statistics.json is not a statistics file"),
        "{error}"
    );
}
