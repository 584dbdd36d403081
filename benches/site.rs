//! `portal build` of the shipped site (content/, templates/) into a temporary folder,
//! without a statistics file and with a realistic one: 12 months × 7 MCO rows (the six
//! configured MCOs and `mco: null`). Target: the statistics page, its charts and its
//! two downloads cost under 10 % of the build.

use std::path::Path;

use chrono::{Months, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};
use portal::config::Config;
use portal::site::{BuildOptions, build};
use portal::statistics::{MonthFigures, RegistrationFigures, Statistics};

/// Twelve months to `as_of` of figures that vary from row to row.
fn statistics(config: &Config, as_of: NaiveDate) -> Statistics {
    let first = NaiveDate::from_ymd_opt(2025, 12, 1).expect("a date");
    let months: Vec<String> = (0..12)
        .map(|n| (first + Months::new(n)).format("%Y-%m").to_string())
        .collect();
    let mut codes: Vec<Option<&str>> = config
        .mcos
        .iter()
        .map(|mco| Some(mco.code.as_str()))
        .collect();
    codes.push(None);
    let mut n = 0u64;
    let mut next = |bound: u64| {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (n >> 33) % bound
    };
    let mut rows = Vec::new();
    for month in &months {
        for code in &codes {
            let mut row = MonthFigures::empty(month, *code);
            row.complaints = next(300);
            for count in row.lines_closed.values_mut() {
                *count = next(40);
            }
            if code.is_some() {
                row.lines_forwarded = next(2000);
                row.proposals_on_time = next(250);
                row.proposals_late = next(40);
                row.overdue = next(20);
                row.extensions = next(15);
                row.median_days_to_proposal = Some(next(400) as f64 / 10.0);
            }
            rows.push(row);
        }
    }
    Statistics {
        as_of,
        registrations: months
            .iter()
            .map(|month| RegistrationFigures {
                month: month.clone(),
                received: next(60),
                approved: next(50),
                denied: next(10),
            })
            .collect(),
        months: rows,
    }
}

fn site(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut without = Config::parse(include_str!("../portal.toml")).expect("portal.toml");
    without.site.content_dir = root.join("content");
    without.site.templates_dir = root.join("templates");
    without.site.output_dir = dir.path().join("site");
    without.store.statistics_file = dir.path().join("none.json");
    let mut with = without.clone();
    with.store.statistics_file = dir.path().join("statistics.json");
    let today = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
    std::fs::write(
        &with.store.statistics_file,
        statistics(&with, today).to_json(),
    )
    .expect("the statistics file is written");
    let options = BuildOptions {
        drafts: false,
        live_reload: false,
        today,
    };
    build(&with, &options).expect("the site builds with the statistics file");
    assert!(dir.path().join("site/statistics/statistics.csv").is_file());

    let mut group = c.benchmark_group("portal build");
    group.sample_size(30);
    group.bench_function("shipped site, no statistics file", |b| {
        b.iter(|| build(&without, &options).expect("built"))
    });
    group.bench_function("shipped site, statistics 12 months x 7 MCOs", |b| {
        b.iter(|| build(&with, &options).expect("built"))
    });
    group.finish();
}

criterion_group!(benches, site);
criterion_main!(benches);
