//! Reading and validating a full 100-line complaint template, as `portal check` and
//! intake do for every attachment. Target: under 2 ms median.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use portal::config::Config;
use portal::forms::samples::{self, Sample};
use portal::forms::{self, Context, Submission, read_workbook};

fn full_template(c: &mut Criterion) {
    let config = Config::embedded();
    let received_on = NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date");
    let lines = samples::complaint_lines(Sample::Good, received_on, 4, 100);
    let bytes =
        forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).expect("written");
    let context = Context {
        received_on,
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    match forms::check(&bytes, Some("bench.xlsx"), &context) {
        Ok(Submission::Complaint(complaint)) => assert!(complaint.report.all_forwarded()),
        other => panic!("the bench template does not validate: {other:?}"),
    }

    c.bench_function("check 100-line complaint .xlsx (read + validate)", |b| {
        b.iter(|| forms::check(black_box(&bytes), Some("bench.xlsx"), &context))
    });
    c.bench_function("read 100-line complaint .xlsx", |b| {
        b.iter(|| read_workbook(black_box(&bytes), Some("bench.xlsx")))
    });
}

criterion_group!(benches, full_template);
criterion_main!(benches);
