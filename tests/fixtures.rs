//! Workbooks filled and saved by LibreOffice, one per reason code.
//!
//! The fixtures are made by `tests/fixtures/make-fixtures.sh` (LibreOffice Calc through
//! UNO); `tests/fixtures/fill.py` says what each one holds. Every expectation below is
//! worked out from that content and PRODUCT.md, with the received date pinned to
//! 2026-11-25: the 30–60 day window (both ends in) then accepts filings from
//! 2026-09-26 (day 60) to 2026-10-26 (day 30).

use std::path::Path;
use std::process::{Command, Output};

use chrono::NaiveDate;
use portal::forms::read::Cell;
use portal::forms::schema::{PROVIDER_FIELDS, REGISTRANT_FIELDS, claim};
use portal::forms::{
    Complaint, ComplaintReport, Completeness, Kind, Reason, Record, Registration, Status,
    Submission, Unusable, read_workbook,
};
use portal::rules::Money;
use serde_json::Value as Json;

use crate::common::{check_bytes, config, date, fixture, portal_bin};

const RECEIVED: &str = "2026-11-25";

use Reason::*;
use Status::{Closed, Forwarded};

// ---------------------------------------------------------------------------------
// Helpers.

fn bytes(name: &str) -> Vec<u8> {
    let path = fixture(name);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run tests/fixtures/make-fixtures.sh",
            path.display()
        )
    })
}

fn checked(name: &str) -> Result<Submission, Unusable> {
    check_bytes(&bytes(name), name, date(RECEIVED))
}

fn complaint(name: &str) -> Complaint {
    match checked(name) {
        Ok(Submission::Complaint(complaint)) => complaint,
        other => panic!("{name}: expected a complaint template, got {other:?}"),
    }
}

fn registration(name: &str) -> Registration {
    match checked(name) {
        Ok(Submission::Registration(registration)) => registration,
        other => panic!("{name}: expected a registration, got {other:?}"),
    }
}

/// Every problem as (row, column, reason), in row then column order (the order the
/// program lists them in is not what these tests pin).
fn problems(report: &ComplaintReport) -> Vec<(Option<u32>, Option<&str>, Reason)> {
    let mut list: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_deref(), p.reason))
        .collect();
    list.sort_by_key(|(row, column, _)| (*row, column.map(str::to_owned)));
    list
}

fn lines(report: &ComplaintReport) -> Vec<(u32, Status, Option<Reason>)> {
    report
        .lines
        .iter()
        .map(|line| (line.row, line.status, line.reason))
        .collect()
}

/// The message of the one problem at `row`, `column`.
fn message<'r>(report: &'r ComplaintReport, row: u32, column: &str) -> &'r str {
    let found: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.row == Some(row) && p.column.as_deref() == Some(column))
        .collect();
    assert_eq!(found.len(), 1, "row {row}, {column}: {found:?}");
    &found[0].message
}

fn mco_index(code: &str) -> usize {
    config()
        .mcos
        .iter()
        .position(|mco| mco.code == code)
        .expect("a configured MCO")
}

fn text(record: &Record, field: usize) -> Option<&str> {
    record.text(field)
}

fn money(cents: u64) -> Option<Money> {
    Some(Money { cents })
}

fn d(text: &str) -> Option<NaiveDate> {
    Some(date(text))
}

/// Two lines, row 2 good and row 3 closed for `reason` in `column`: the ticket goes on.
fn assert_second_line_closed(name: &str, column: &str, reason: Reason) -> Complaint {
    let complaint = complaint(name);
    let report = &complaint.report;
    assert_eq!(
        problems(report),
        [(Some(3), Some(column), reason)],
        "{name}"
    );
    assert_eq!(
        lines(report),
        [(2, Forwarded, None), (3, Closed, Some(reason))],
        "{name}"
    );
    assert_eq!(
        report.status, Forwarded,
        "{name}: one line still goes to the MCO"
    );
    assert_eq!(
        report.reason, None,
        "{name}: a line reason is not the ticket's"
    );
    assert_eq!(report.mco.as_deref(), Some("MOLINA"), "{name}");
    assert!(!report.all_forwarded(), "{name}");
    complaint
}

// ---------------------------------------------------------------------------------
// complaint-good: 3 lines for Molina on rows 2, 3 and 5 (row 4 left empty).

#[test]
fn complaint_good_forwards_every_line_in_every_format() {
    for name in [
        "complaint-good.xlsx",
        "complaint-good.ods",
        "complaint-good.xls",
    ] {
        let complaint = complaint(name);
        let report = &complaint.report;
        assert_eq!(problems(report), [], "{name}: {:#?}", report.problems);
        // The empty row 4 is skipped and rows keep the numbers the spreadsheet shows.
        assert_eq!(
            lines(report),
            [
                (2, Forwarded, None),
                (3, Forwarded, None),
                (5, Forwarded, None)
            ],
            "{name}"
        );
        assert_eq!(report.status, Forwarded, "{name}");
        assert_eq!(report.reason, None, "{name}");
        assert_eq!(
            report.mco.as_deref(),
            Some("MOLINA"),
            "{name}: \"molina\" is Molina's code"
        );
        assert_eq!(report.received_on, date(RECEIVED), "{name}");
        assert!(report.all_forwarded(), "{name}");
    }
}

#[test]
fn complaint_good_reads_each_cell_as_the_provider_meant() {
    let molina = mco_index("MOLINA");
    for name in [
        "complaint-good.xlsx",
        "complaint-good.ods",
        "complaint-good.xls",
    ] {
        let complaint = complaint(name);
        let [row2, row3, row5] = &complaint.lines[..] else {
            panic!("{name}: three lines")
        };

        // Row 2: a date cell on day 30, the first day accepted.
        assert_eq!(row2.date(claim::FILED_WITH_MCO), d("2026-10-26"), "{name}");
        assert_eq!(
            text(row2, claim::PROVIDER_NPI),
            Some("1234567893"),
            "{name}"
        );
        assert_eq!(
            text(row2, claim::PROVIDER_MEDICAID_ID),
            Some("000123456"),
            "{name}"
        );
        assert_eq!(text(row2, claim::RECIPIENT_ID), Some("100000001"), "{name}");
        assert_eq!(
            text(row2, claim::TRACKING_NUMBER),
            Some("TRK-1001"),
            "{name}"
        );
        assert_eq!(row2.flag(claim::EXHAUSTED), Some(true), "{name}: Yes");
        assert_eq!(row2.choice(claim::MCO), Some(molina), "{name}");
        assert_eq!(
            row2.choice(claim::COVERAGE),
            Some(0),
            "{name}: Medicaid managed care"
        );
        assert_eq!(row2.date(claim::SERVICE_FROM), d("2026-08-03"), "{name}");
        assert_eq!(row2.date(claim::SERVICE_TO), d("2026-08-04"), "{name}");
        assert_eq!(row2.money(claim::BILLED), money(125_000), "{name}");
        assert_eq!(row2.money(claim::PAID), money(0), "{name}");
        assert_eq!(
            row2.choice(claim::ISSUE_CATEGORY),
            Some(0),
            "{name}: Claim denial"
        );

        // Row 3: the date typed as text, the recipient ID typed as a number that lost
        // its leading zero, the billed amount a formula, "y", and "molina".
        assert_eq!(
            row3.date(claim::FILED_WITH_MCO),
            d("2026-10-11"),
            "{name}: 10/11/2026 as text"
        );
        assert_eq!(
            text(row3, claim::RECIPIENT_ID),
            Some("012345678"),
            "{name}: 12345678 padded to 9 digits"
        );
        assert_eq!(
            row3.money(claim::BILLED),
            money(125_050),
            "{name}: =1000+250.5"
        );
        assert_eq!(row3.flag(claim::EXHAUSTED), Some(true), "{name}: y");
        assert_eq!(row3.choice(claim::MCO), Some(molina), "{name}: molina");
        assert_eq!(
            row3.values[claim::SERVICE_TO],
            None,
            "{name}: optional, left empty"
        );
        assert_eq!(
            row3.values[claim::PAID],
            None,
            "{name}: optional, left empty"
        );
        assert_eq!(
            row3.choice(claim::ISSUE_CATEGORY),
            Some(1),
            "{name}: Claim underpayment"
        );

        // Row 5: day 60, the last day accepted; the NPI typed as a number; a tracking
        // number whose leading zeros survive (R2); nothing billed.
        assert_eq!(row5.date(claim::FILED_WITH_MCO), d("2026-09-26"), "{name}");
        assert_eq!(
            text(row5, claim::PROVIDER_NPI),
            Some("1003000126"),
            "{name}"
        );
        assert_eq!(text(row5, claim::TRACKING_NUMBER), Some("000777"), "{name}");
        assert_eq!(row5.flag(claim::EXHAUSTED), Some(true), "{name}: YES");
        assert_eq!(row5.money(claim::BILLED), money(0), "{name}");
        assert_eq!(
            row5.choice(claim::ISSUE_CATEGORY),
            Some(2),
            "{name}: Prior authorization"
        );
    }
}

/// The fixtures really hold what make-fixtures.sh meant them to hold, so the tests
/// above exercise the conversions they claim to.
#[test]
fn complaint_good_holds_the_cell_types_calc_saved() {
    for name in [
        "complaint-good.xlsx",
        "complaint-good.ods",
        "complaint-good.xls",
    ] {
        let workbook = read_workbook(&bytes(name), Some(name)).unwrap();
        let names: Vec<&str> = workbook
            .sheets
            .iter()
            .map(|sheet| sheet.name.as_str())
            .collect();
        assert_eq!(names, ["Claims", "Instructions", "PortalSchema"], "{name}");
        let marker = workbook.sheet("PortalSchema").unwrap();
        assert!(!marker.visible, "{name}: the marker sheet stays hidden");
        assert_eq!(marker.text(0, 1), Some("complaint"), "{name}");
        let claims = workbook.sheet("Claims").unwrap();
        // Zero-based (row, column): row 1 is spreadsheet row 2.
        assert_eq!(
            claims.get(1, 5),
            Some(&Cell::Date(date("2026-10-26"))),
            "{name}: a date cell"
        );
        assert_eq!(
            claims.get(2, 5),
            Some(&Cell::Text("10/11/2026".into())),
            "{name}: a date as text"
        );
        assert_eq!(
            claims.get(2, 9),
            Some(&Cell::Number(12_345_678.0)),
            "{name}: an ID as a number"
        );
        assert_eq!(
            claims.get(2, 12),
            Some(&Cell::Number(1250.5)),
            "{name}: a formula's cached value"
        );
        assert_eq!(
            claims.get(2, 3),
            Some(&Cell::Text("molina".into())),
            "{name}"
        );
        assert_eq!(
            claims.get(4, 0),
            Some(&Cell::Number(1_003_000_126.0)),
            "{name}: an NPI as a number"
        );
        assert_eq!(
            claims.get(4, 4),
            Some(&Cell::Text("000777".into())),
            "{name}"
        );
        assert!(
            (0..16).all(|column| claims.get(3, column).is_none()),
            "{name}: row 4 is empty"
        );
    }
}

// ---------------------------------------------------------------------------------
// complaint-one-bad-cell-per-rule: row 2 good, rows 3 to 15 one problem each.

fn one_bad_cell_per_rule() -> Vec<(Option<u32>, Option<&'static str>, Reason)> {
    vec![
        (Some(3), Some("Date Filed with MCO"), TooEarly), // filed 2026-11-15: day 10
        (Some(4), Some("Date Filed with MCO"), TooLate),  // filed 2026-09-01: day 85
        (Some(5), Some("Internal Process Exhausted"), NotExhausted), // "No"
        (Some(6), Some("Coverage"), FeeForService),
        (Some(7), Some("Coverage"), MedicareOnly),
        (Some(8), Some("Provider NPI"), InvalidValue), // 1234567890: wrong check digit
        (Some(9), Some("MCO Tracking Number"), Incomplete), // empty (R2)
        (Some(10), Some("Recipient ID"), InvalidValue), // 10000A009
        (Some(11), Some("Date Filed with MCO"), InvalidValue), // 2026-12-01, after received
        (Some(12), Some("Date of Service To"), InvalidValue), // 2026-08-01 < 2026-08-03
        (Some(13), Some("Billed Amount"), InvalidValue), // -50
        (Some(14), Some("Issue Category"), InvalidValue), // "Billing question"
        (Some(15), Some("MCO"), MixedMco),             // Aetna on a Molina template
    ]
}

#[test]
fn one_bad_cell_per_rule_gives_exactly_one_problem_each() {
    for name in [
        "complaint-one-bad-cell-per-rule.xlsx",
        "complaint-one-bad-cell-per-rule.ods",
    ] {
        let complaint = complaint(name);
        let report = &complaint.report;
        assert_eq!(
            problems(report),
            one_bad_cell_per_rule(),
            "{name}: {:#?}",
            report.problems
        );
        // R4 before R3 in the ticket's reason: several MCOs close it as mixed_mco. Every
        // line closes with its own reason, and the clean row 2 with the ticket's.
        assert_eq!(report.reason, Some(MixedMco), "{name}");
        assert_eq!(report.status, Closed, "{name}");
        assert_eq!(report.mco, None, "{name}: the template names two MCOs");
        let mut expected_lines = vec![(2, Closed, Some(MixedMco))];
        expected_lines.extend(
            one_bad_cell_per_rule()
                .into_iter()
                .map(|(row, _, reason)| (row.unwrap(), Closed, Some(reason))),
        );
        assert_eq!(lines(report), expected_lines, "{name}");
        assert!(
            report
                .problems
                .iter()
                .all(|p| p.sheet.as_deref() == Some("Claims")),
            "{name}"
        );
    }
}

#[test]
fn one_bad_cell_per_rule_messages_are_precise_and_carry_no_phi() {
    for name in [
        "complaint-one-bad-cell-per-rule.xlsx",
        "complaint-one-bad-cell-per-rule.ods",
    ] {
        let report = complaint(name).report;
        // R1: the dates that would have been accepted, in PRODUCT.md's words.
        // 2026-11-15 + 30 = 2026-12-15, + 60 = 2027-01-14.
        assert_eq!(
            message(&report, 3, "Date Filed with MCO"),
            "Filed with the MCO on 2026-11-15: submit from 2026-12-15 to 2027-01-14.",
            "{name}"
        );
        // 2026-09-01 + 30 = 2026-10-01, + 60 = 2026-10-31.
        assert_eq!(
            message(&report, 4, "Date Filed with MCO"),
            "Filed with the MCO on 2026-09-01: submit from 2026-10-01 to 2026-10-31.",
            "{name}"
        );
        // R8: the notice gives the phone line for fee-for-service.
        assert!(
            message(&report, 6, "Coverage").contains("877-782-5565"),
            "{name}"
        );
        // A filing date after the received date is an invalid value, not a window problem.
        let future = message(&report, 11, "Date Filed with MCO");
        assert!(
            future.contains("2026-12-01") && future.contains("future"),
            "{name}: {future}"
        );
        // R10: an NPI is repeated only when it passed its check digit; a wrong one is
        // described (ten digits may as well be a patient's phone number).
        let said = message(&report, 8, "Provider NPI");
        assert!(
            !said.contains("1234567890") && said.contains("check digit"),
            "{name}: {said}"
        );
        assert!(
            message(&report, 15, "MCO").contains("Aetna Better Health of Illinois"),
            "{name}"
        );
        // R10: no recipient ID, claim number, date of service or amount in any message.
        for problem in &report.problems {
            for phi in [
                "10000A009",
                "1000000",
                "CLM",
                "2026-08-0",
                "-50",
                "1250",
                "untimely",
            ] {
                assert!(
                    !problem.message.contains(phi),
                    "{name}: {phi} in {problem:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// One fixture per reason code `check` gives on its own. (duplicate and
// npi_not_registered need the ticket store and registrations: not built yet.)

#[test]
fn reason_incomplete_closes_the_whole_ticket() {
    let report = complaint("reason-incomplete.xlsx").report;
    assert_eq!(
        problems(&report),
        [(Some(3), Some("MCO Tracking Number"), Incomplete)]
    );
    // R3: a missing required cell closes the whole ticket, the good row 2 too.
    assert_eq!(
        lines(&report),
        [(2, Closed, Some(Incomplete)), (3, Closed, Some(Incomplete))]
    );
    assert_eq!((report.status, report.reason), (Closed, Some(Incomplete)));
    assert_eq!(report.mco.as_deref(), Some("MOLINA"));
}

#[test]
fn reason_invalid_value_closes_the_whole_ticket() {
    let report = complaint("reason-invalid-value.xlsx").report;
    // "2026-13-01" typed as text: month 13 is no date.
    assert_eq!(
        problems(&report),
        [(Some(3), Some("Date Filed with MCO"), InvalidValue)]
    );
    assert_eq!(
        lines(&report),
        [
            (2, Closed, Some(InvalidValue)),
            (3, Closed, Some(InvalidValue))
        ]
    );
    assert_eq!((report.status, report.reason), (Closed, Some(InvalidValue)));
    // R10: a filing date is repeated only when it parsed as a date; this one is
    // described, and `value` (for `portal check --json`) holds what was typed.
    let said = message(&report, 3, "Date Filed with MCO");
    assert!(
        !said.contains("2026-13-01") && said.contains("is not a date"),
        "{said}"
    );
    let problem = &report.problems[0];
    assert_eq!(problem.value.as_deref(), Some("2026-13-01"));
}

#[test]
fn reason_over_100_lines_closes_all_101() {
    let complaint = complaint("reason-over-100-lines.xlsx");
    let report = &complaint.report;
    // 101 valid lines on rows 2..=102: the 101st line (row 102) is the one too many.
    assert_eq!(problems(report), [(Some(102), None, Over100Lines)]);
    let expected: Vec<_> = (2..=102)
        .map(|row| (row, Closed, Some(Over100Lines)))
        .collect();
    assert_eq!(lines(report), expected);
    assert_eq!((report.status, report.reason), (Closed, Some(Over100Lines)));
    assert_eq!(report.mco.as_deref(), Some("MOLINA"));
    assert!(
        report.problems[0].message.contains("101"),
        "{:?}",
        report.problems[0]
    );
}

#[test]
fn reason_mixed_mco_closes_the_ticket() {
    let report = complaint("reason-mixed-mco.xlsx").report;
    // Rows 2 and 3 Molina, row 4 CountyCare: the first line's MCO sets the template's.
    assert_eq!(problems(&report), [(Some(4), Some("MCO"), MixedMco)]);
    assert_eq!(
        lines(&report),
        [
            (2, Closed, Some(MixedMco)),
            (3, Closed, Some(MixedMco)),
            (4, Closed, Some(MixedMco))
        ]
    );
    assert_eq!(
        (report.status, report.reason, report.mco.as_deref()),
        (Closed, Some(MixedMco), None)
    );
    let text = message(&report, 4, "MCO");
    assert!(
        text.contains("CountyCare Health Plan") && text.contains("Molina Healthcare of Illinois"),
        "{text}"
    );
}

#[test]
fn reason_too_early_closes_every_line_without_a_ticket_reason() {
    let report = complaint("reason-too-early.xlsx").report;
    assert_eq!(
        problems(&report),
        [
            (Some(2), Some("Date Filed with MCO"), TooEarly), // day 29
            (Some(3), Some("Date Filed with MCO"), TooEarly), // day 0
        ]
    );
    assert_eq!(
        lines(&report),
        [(2, Closed, Some(TooEarly)), (3, Closed, Some(TooEarly))]
    );
    // Closed only because every line closed: no reason of its own (PRODUCT.md).
    assert_eq!((report.status, report.reason), (Closed, None));
    assert_eq!(report.mco.as_deref(), Some("MOLINA"));
    // 2026-10-27 + 30 = 2026-11-26 (one day after receipt), + 60 = 2026-12-26.
    assert_eq!(
        message(&report, 2, "Date Filed with MCO"),
        "Filed with the MCO on 2026-10-27: submit from 2026-11-26 to 2026-12-26."
    );
    // Filed the day HFS received it: day 0, too early, not a future date.
    assert_eq!(
        message(&report, 3, "Date Filed with MCO"),
        "Filed with the MCO on 2026-11-25: submit from 2026-12-25 to 2027-01-24."
    );
}

#[test]
fn reason_too_late_closes_one_line() {
    let report =
        assert_second_line_closed("reason-too-late.xlsx", "Date Filed with MCO", TooLate).report;
    // Day 61: 2026-09-25 + 30 = 2026-10-25, + 60 = 2026-11-24, one day before receipt.
    assert_eq!(
        message(&report, 3, "Date Filed with MCO"),
        "Filed with the MCO on 2026-09-25: submit from 2026-10-25 to 2026-11-24."
    );
}

#[test]
fn reason_not_exhausted_closes_one_line() {
    assert_second_line_closed(
        "reason-not-exhausted.xlsx",
        "Internal Process Exhausted",
        NotExhausted,
    );
}

#[test]
fn reason_fee_for_service_closes_one_line() {
    let report =
        assert_second_line_closed("reason-fee-for-service.xlsx", "Coverage", FeeForService).report;
    assert!(message(&report, 3, "Coverage").contains("877-782-5565"));
}

#[test]
fn reason_medicare_only_closes_one_line() {
    assert_second_line_closed("reason-medicare-only.xlsx", "Coverage", MedicareOnly);
}

#[test]
fn reason_unknown_template_for_an_ordinary_spreadsheet() {
    let workbook = read_workbook(&bytes("reason-unknown-template.xlsx"), None).unwrap();
    let names: Vec<&str> = workbook
        .sheets
        .iter()
        .map(|sheet| sheet.name.as_str())
        .collect();
    assert_eq!(names, ["Sheet1"], "a plain Calc file, no marker sheet");
    assert_eq!(workbook.sheets[0].text(0, 0), Some("Item"));
    let error = checked("reason-unknown-template.xlsx").unwrap_err();
    assert_eq!(error, Unusable::UnknownTemplate);
    assert_eq!(error.reason(), UnknownTemplate);
}

// ---------------------------------------------------------------------------------
// Formula-looking text stays text.

#[test]
fn formula_looking_text_is_read_as_plain_text() {
    for name in ["complaint-formula-text.xlsx", "complaint-formula-text.ods"] {
        let workbook = read_workbook(&bytes(name), Some(name)).unwrap();
        let claims = workbook.sheet("Claims").unwrap();
        assert_eq!(
            claims.get(1, 2),
            Some(&Cell::Text("@SUM(1)".into())),
            "{name}"
        );
        assert_eq!(
            claims.get(1, 15),
            Some(&Cell::Text("=HYPERLINK(\"http://x.example\")".into())),
            "{name}"
        );

        let complaint = complaint(name);
        assert_eq!(problems(&complaint.report), [], "{name}");
        assert_eq!(lines(&complaint.report), [(2, Forwarded, None)], "{name}");
        let line = &complaint.lines[0];
        assert_eq!(text(line, claim::PROVIDER_NAME), Some("@SUM(1)"), "{name}");
        assert_eq!(
            text(line, claim::ISSUE_DESCRIPTION),
            Some("=HYPERLINK(\"http://x.example\")"),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Registrations (R7).

fn field(fields: &[portal::forms::schema::Field], header: &str) -> usize {
    fields
        .iter()
        .position(|f| f.header == header)
        .expect(header)
}

#[test]
fn registration_complete() {
    for name in ["registration-complete.xlsx", "registration-complete.ods"] {
        let registration = registration(name);
        let report = &registration.report;
        assert_eq!(report.kind, Kind::RegistrationForm, "{name}");
        assert_eq!(
            report.status,
            Completeness::Complete,
            "{name}: {:#?}",
            report.problems
        );
        assert_eq!(
            report.email.as_deref(),
            Some("pat.example@prairie-clinic.example"),
            "{name}"
        );
        // The NPI was typed as a number.
        assert_eq!(report.npis, ["1245319599"], "{name}");
        assert!(
            report.missing.is_empty() && report.problems.is_empty(),
            "{name}: {report:#?}"
        );

        let registrant = &registration.registrant;
        assert_eq!(
            registrant.text(field(REGISTRANT_FIELDS, "Registrant Phone")),
            Some("217-555-0100"),
            "{name}"
        );
        assert_eq!(
            registrant.choice(field(REGISTRANT_FIELDS, "Role")),
            Some(1),
            "{name}: Billing staff"
        );
        let [provider] = &registration.providers[..] else {
            panic!("{name}: one provider")
        };
        assert_eq!(
            provider.text(field(PROVIDER_FIELDS, "State")),
            Some("IL"),
            "{name}: typed il"
        );
        assert_eq!(
            provider.text(field(PROVIDER_FIELDS, "ZIP")),
            Some("62701"),
            "{name}: typed as a number"
        );
        assert_eq!(
            provider.text(field(PROVIDER_FIELDS, "Provider Medicaid ID")),
            Some("000123456"),
            "{name}"
        );
    }
}

#[test]
fn registration_incomplete_lists_what_is_missing() {
    for name in [
        "registration-incomplete.xlsx",
        "registration-incomplete.ods",
    ] {
        let report = registration(name).report;
        assert_eq!(report.kind, Kind::RegistrationForm, "{name}");
        assert_eq!(report.status, Completeness::Incomplete, "{name}");
        assert_eq!(
            report.missing,
            [
                "Registrant Phone",
                "Organization",
                "Provider Medicaid ID",
                "ZIP"
            ],
            "{name}"
        );
        // Labels sit in column A of rows 1..=14, one per field, in form order.
        let found: Vec<_> = report
            .problems
            .iter()
            .map(|p| (p.sheet.as_deref(), p.row, p.column.as_deref(), p.reason))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some("Registration"),
                    Some(4),
                    Some("Registrant Phone"),
                    Incomplete
                ),
                (
                    Some("Registration"),
                    Some(7),
                    Some("Organization"),
                    Incomplete
                ),
                (
                    Some("Registration"),
                    Some(10),
                    Some("Provider Medicaid ID"),
                    Incomplete
                ),
                (Some("Registration"), Some(14), Some("ZIP"), InvalidValue), // 6270A
            ],
            "{name}"
        );
        assert_eq!(
            report.npis,
            ["1245319599"],
            "{name}: the NPI itself is fine"
        );
        assert_eq!(
            report.email.as_deref(),
            Some("pat.example@prairie-clinic.example"),
            "{name}"
        );
    }
}

#[test]
fn multiple_registration_complete_covers_three_npis() {
    for name in [
        "multiple-registration-complete.xlsx",
        "multiple-registration-complete.ods",
    ] {
        let registration = registration(name);
        let report = &registration.report;
        assert_eq!(report.kind, Kind::MultipleRegistration, "{name}");
        assert_eq!(
            report.status,
            Completeness::Complete,
            "{name}: {:#?}",
            report.problems
        );
        assert_eq!(
            report.npis,
            ["1234567893", "1245319599", "1003000126"],
            "{name}"
        );
        assert!(
            report.missing.is_empty() && report.problems.is_empty(),
            "{name}"
        );
        assert_eq!(
            report.email.as_deref(),
            Some("pat.example@prairie-clinic.example"),
            "{name}"
        );
        let rows: Vec<u32> = registration.providers.iter().map(|p| p.row).collect();
        assert_eq!(rows, [2, 3, 4], "{name}");
        let zip = field(PROVIDER_FIELDS, "ZIP");
        let zips: Vec<_> = registration.providers.iter().map(|p| p.text(zip)).collect();
        assert_eq!(
            zips,
            [Some("62701"), Some("61602"), Some("60601-1234")],
            "{name}"
        );
    }
}

#[test]
fn multiple_registration_incomplete_names_sheet_and_row() {
    for name in [
        "multiple-registration-incomplete.xlsx",
        "multiple-registration-incomplete.ods",
    ] {
        let report = registration(name).report;
        assert_eq!(report.kind, Kind::MultipleRegistration, "{name}");
        assert_eq!(report.status, Completeness::Incomplete, "{name}");
        // A form of schema version 1: its empty Username row is no field any more.
        assert_eq!(
            report.missing,
            ["Providers row 3: Provider NPI", "Providers row 4: City"],
            "{name}"
        );
        let found: Vec<_> = report
            .problems
            .iter()
            .map(|p| (p.sheet.as_deref(), p.row, p.column.as_deref(), p.reason))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some("Providers"),
                    Some(3),
                    Some("Provider NPI"),
                    InvalidValue
                ), // 1245319590
                (Some("Providers"), Some(4), Some("City"), Incomplete),
            ],
            "{name}"
        );
        // Row 3's NPI is not valid, so the request covers rows 2 and 4 only.
        assert_eq!(report.npis, ["1234567893", "1003000126"], "{name}");
    }
}

// ---------------------------------------------------------------------------------
// The command line.

fn run_check(name: &str, json: bool) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("portal.toml");
    let mut command = Command::new(portal_bin());
    command
        .arg("--config")
        .arg(config)
        .arg("check")
        .arg(fixture(name))
        .args(["--received", RECEIVED]);
    if json {
        command.arg("--json");
    }
    command.output().expect("portal runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn json(name: &str, code: i32) -> Json {
    let output = run_check(name, true);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{name}: {}",
        stdout(&output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{name}: {error}: {}", stdout(&output)))
}

#[test]
fn cli_exits_0_when_every_line_would_be_forwarded() {
    for name in [
        "complaint-good.xlsx",
        "complaint-good.ods",
        "complaint-good.xls",
        "complaint-formula-text.xlsx",
    ] {
        let output = run_check(name, false);
        assert_eq!(output.status.code(), Some(0), "{name}");
        let text = stdout(&output);
        let printed: Vec<&str> = text.lines().collect();
        // A heading and the one-line summary: no problem lines.
        assert_eq!(printed.len(), 2, "{name}: {text}");
        assert!(
            printed[0].contains(name) && printed[0].contains(RECEIVED),
            "{name}: {text}"
        );
        assert!(printed[1].starts_with("Summary:"), "{name}: {text}");
        assert!(
            printed[1].contains("Molina Healthcare of Illinois"),
            "{name}: {text}"
        );
    }
    let report = json("complaint-good.xls", 0);
    assert_eq!(report["status"], "forwarded");
    assert_eq!(report["mco"], "MOLINA");
    assert_eq!(report["received_on"], RECEIVED);
    assert_eq!(report["reason"], Json::Null);
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(
        report["lines"],
        serde_json::json!([
            {"row": 2, "status": "forwarded", "reason": null},
            {"row": 3, "status": "forwarded", "reason": null},
            {"row": 5, "status": "forwarded", "reason": null},
        ])
    );
}

/// `  Row 7, Coverage: … [medicare_only]` → (7, "Coverage", "medicare_only").
fn parse_problem_line(line: &str) -> (u32, String, String) {
    let rest = line
        .strip_prefix("  Row ")
        .unwrap_or_else(|| panic!("not a problem line: {line:?}"));
    let (row, rest) = rest.split_once(", ").expect("row, column");
    let (column, rest) = rest.split_once(": ").expect("column: message");
    let reason = rest
        .rsplit_once(" [")
        .and_then(|(_, code)| code.strip_suffix(']'))
        .expect("[reason]");
    (
        row.parse().expect("a row number"),
        column.to_owned(),
        reason.to_owned(),
    )
}

#[test]
fn cli_prints_one_line_per_problem_and_a_summary() {
    for name in [
        "complaint-one-bad-cell-per-rule.xlsx",
        "complaint-one-bad-cell-per-rule.ods",
    ] {
        let output = run_check(name, false);
        assert_eq!(output.status.code(), Some(1), "{name}");
        let text = stdout(&output);
        let printed: Vec<&str> = text.lines().collect();
        let expected = one_bad_cell_per_rule();
        // Heading, one line per problem, summary.
        assert_eq!(printed.len(), expected.len() + 2, "{name}: {text}");
        assert!(printed[0].contains(name), "{name}: {text}");
        let mut found: Vec<_> = printed[1..printed.len() - 1]
            .iter()
            .map(|line| parse_problem_line(line))
            .collect();
        found.sort();
        let mut wanted: Vec<_> = expected
            .iter()
            .map(|(row, column, reason)| {
                (
                    row.unwrap(),
                    column.unwrap().to_owned(),
                    reason.as_str().to_owned(),
                )
            })
            .collect();
        wanted.sort();
        assert_eq!(found, wanted, "{name}: {text}");
        let summary = printed.last().unwrap();
        assert!(summary.starts_with("Summary:"), "{name}: {summary}");
        // The ticket closes as mixed_mco; all 14 lines close; 13 problems.
        for part in ["mixed_mco", "14 closed", "13 problems"] {
            assert!(summary.contains(part), "{name}: {part} not in {summary}");
        }
        // R10 on the console too: no recipient ID or date of service.
        assert!(
            !text.contains("10000A009") && !text.contains("2026-08-0"),
            "{name}: {text}"
        );
    }
}

#[test]
fn cli_json_exits_1_with_the_report() {
    let report = json("complaint-one-bad-cell-per-rule.xlsx", 1);
    assert_eq!(report["status"], "closed");
    assert_eq!(report["reason"], "mixed_mco");
    assert_eq!(report["mco"], Json::Null);
    assert_eq!(report["received_on"], RECEIVED);
    // `check --json` is a ticket without id, sender and due dates.
    for absent in ["id", "sender", "presented_by", "response_due"] {
        assert!(report.get(absent).is_none(), "{absent}");
    }
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 14);
    assert_eq!(
        lines[0],
        serde_json::json!({"row": 2, "status": "closed", "reason": "mixed_mco"})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"row": 3, "status": "closed", "reason": "too_early"})
    );
    let mut found: Vec<(u64, String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["sheet"], "Claims");
            (
                p["row"].as_u64().unwrap(),
                p["column"].as_str().unwrap().to_owned(),
                p["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut wanted: Vec<_> = one_bad_cell_per_rule()
        .into_iter()
        .map(|(row, column, reason)| {
            (
                u64::from(row.unwrap()),
                column.unwrap().to_owned(),
                reason.as_str().to_owned(),
            )
        })
        .collect();
    wanted.sort();
    assert_eq!(found, wanted);
    let too_early = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["reason"] == "too_early")
        .unwrap();
    assert_eq!(
        too_early["message"],
        "Filed with the MCO on 2026-11-15: submit from 2026-12-15 to 2027-01-14."
    );
}

/// R10: `portal check --json` adds each faulty cell's own text as `value` (the person
/// running it has the file), beside a message that describes it without repeating it.
#[test]
fn cli_json_gives_the_cell_text_as_value_beside_a_message_that_describes_it() {
    let report = json("complaint-one-bad-cell-per-rule.xlsx", 1);
    let problems = report["problems"].as_array().unwrap();
    let at = |row: u64, column: &str| {
        problems
            .iter()
            .find(|p| p["row"] == row && p["column"] == column)
            .unwrap_or_else(|| panic!("no problem at row {row}, {column}: {report}"))
    };
    for (row, column, typed, says) in [
        (8, "Provider NPI", "1234567890", "check digit"),
        (10, "Recipient ID", "10000A009", "9 digits"),
        (13, "Billed Amount", "-50", "amount"),
        (
            14,
            "Issue Category",
            "Billing question",
            "is not one of the choices",
        ),
        (5, "Internal Process Exhausted", "No", "peer-to-peer"),
    ] {
        let problem = at(row, column);
        assert_eq!(problem["value"], typed, "{problem}");
        let message = problem["message"].as_str().unwrap();
        assert!(!message.contains(typed), "{problem}");
        assert!(message.contains(says), "{problem}");
    }
    // An empty cell has nothing to show.
    let empty = at(9, "MCO Tracking Number");
    assert!(empty.get("value").is_none(), "{empty}");
    // The console shows the messages only.
    let text = stdout(&run_check("complaint-one-bad-cell-per-rule.xlsx", false));
    for typed in ["1234567890", "10000A009", "Billing question"] {
        assert!(!text.contains(typed), "{typed}: {text}");
    }
}

#[test]
fn cli_exit_codes_for_every_reason_fixture() {
    for (name, code, ticket_reason, status) in [
        ("reason-incomplete.xlsx", 1, Some("incomplete"), "closed"),
        (
            "reason-invalid-value.xlsx",
            1,
            Some("invalid_value"),
            "closed",
        ),
        (
            "reason-over-100-lines.xlsx",
            1,
            Some("over_100_lines"),
            "closed",
        ),
        ("reason-mixed-mco.xlsx", 1, Some("mixed_mco"), "closed"),
        ("reason-too-early.xlsx", 1, None, "closed"),
        ("reason-too-late.xlsx", 1, None, "forwarded"),
        ("reason-not-exhausted.xlsx", 1, None, "forwarded"),
        ("reason-fee-for-service.xlsx", 1, None, "forwarded"),
        ("reason-medicare-only.xlsx", 1, None, "forwarded"),
        (
            "reason-unknown-template.xlsx",
            2,
            Some("unknown_template"),
            "closed",
        ),
    ] {
        let report = json(name, code);
        assert_eq!(report["status"], status, "{name}");
        assert_eq!(
            report["reason"],
            ticket_reason.map_or(Json::Null, Json::from),
            "{name}"
        );
    }
}

#[test]
fn cli_exits_2_for_an_unknown_workbook() {
    let output = run_check("reason-unknown-template.xlsx", false);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    let printed: Vec<&str> = text.lines().collect();
    assert_eq!(printed.len(), 2, "{text}");
    assert!(printed[0].ends_with("[unknown_template]"), "{text}");
    assert!(printed[1].starts_with("Summary:"), "{text}");

    let report = json("reason-unknown-template.xlsx", 2);
    assert_eq!(report["status"], "closed");
    assert_eq!(report["reason"], "unknown_template");
    assert_eq!(report["mco"], Json::Null);
    assert_eq!(report["lines"], serde_json::json!([]));
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0]["reason"], "unknown_template");
    assert_eq!(
        (&problems[0]["row"], &problems[0]["column"]),
        (&Json::Null, &Json::Null)
    );
}

#[test]
fn cli_registrations_exit_0_when_complete_and_1_when_not() {
    for name in [
        "registration-complete.ods",
        "multiple-registration-complete.xlsx",
    ] {
        let output = run_check(name, false);
        assert_eq!(output.status.code(), Some(0), "{name}");
        let text = stdout(&output);
        assert_eq!(text.lines().count(), 2, "{name}: {text}");
        assert!(
            text.lines().last().unwrap().starts_with("Summary:"),
            "{name}: {text}"
        );
    }
    let report = json("multiple-registration-complete.ods", 0);
    assert_eq!(report["status"], "complete");
    assert_eq!(
        report["npis"],
        serde_json::json!(["1234567893", "1245319599", "1003000126"])
    );
    assert_eq!(report["missing"], serde_json::json!([]));

    let output = run_check("registration-incomplete.xlsx", false);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let printed: Vec<&str> = text.lines().collect();
    assert_eq!(printed.len(), 4 + 2, "{text}");
    let mut found: Vec<_> = printed[1..5]
        .iter()
        .map(|line| parse_problem_line(line))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (4, "Registrant Phone".to_owned(), "incomplete".to_owned()),
            (7, "Organization".to_owned(), "incomplete".to_owned()),
            (
                10,
                "Provider Medicaid ID".to_owned(),
                "incomplete".to_owned()
            ),
            (14, "ZIP".to_owned(), "invalid_value".to_owned()),
        ]
    );

    let report = json("registration-incomplete.ods", 1);
    assert_eq!(report["status"], "incomplete");
    assert_eq!(report["kind"], "registration_form");
    assert_eq!(report["npis"], serde_json::json!(["1245319599"]));
    assert_eq!(
        report["missing"],
        serde_json::json!([
            "Registrant Phone",
            "Organization",
            "Provider Medicaid ID",
            "ZIP"
        ])
    );

    let report = json("multiple-registration-incomplete.xlsx", 1);
    assert_eq!(report["status"], "incomplete");
    assert_eq!(
        report["npis"],
        serde_json::json!(["1234567893", "1003000126"])
    );
    assert_eq!(
        report["missing"],
        serde_json::json!(["Providers row 3: Provider NPI", "Providers row 4: City"])
    );
}
