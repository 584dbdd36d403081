//! The complaint template's rules. The whole ticket first: every required cell filled
//! and of its type (R2, R3, read by the parent module), 1 to `max_lines` claim lines
//! and one MCO (R4); then each line on its own: the filing window (R1), the dates of
//! service, the MCO's internal process exhausted (R5) and the coverage (R8); last, a
//! claim repeated within the file (`duplicate`). A problem of the first kind closes the
//! whole ticket, one of the second kind only its line.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{Context, Problems, Record, find_sheet, in_report_order, read_table};
use crate::config::Mco;
use crate::forms::cells::is_safe_tracking_number;
use crate::forms::read::Workbook;
use crate::forms::report::{ComplaintReport, LineOutcome, Problem, Reason, Status};
use crate::forms::schema::{
    self, COMPLAINT, COVERAGE_FEE_FOR_SERVICE, COVERAGE_MEDICARE_ONLY, Kind, claim,
};
use crate::rules::{FEE_FOR_SERVICE_PHONE, WindowCheck};

/// A validated complaint template: its report and its claim lines (values by
/// [`schema::claim`] index).
#[derive(Debug, Clone)]
pub struct Complaint {
    pub report: ComplaintReport,
    pub lines: Vec<Record>,
}

/// Validates a complaint template: ticket-level structure and completeness (R2–R4),
/// then each line against R1, R5 and R8.
pub fn validate_complaint(workbook: &Workbook, context: &Context<'_>) -> Complaint {
    let schema = &schema::sheets(Kind::Complaint)[0];
    let mut problems = Problems {
        sheet: schema.name,
        list: Vec::new(),
    };
    let sheet = find_sheet(workbook, schema);
    let lines = read_table(sheet, schema, context.mcos, &mut problems);
    check_line_count(&lines, context.max_lines, &mut problems);
    let mco = check_one_mco(&lines, context.mcos, &mut problems);
    for line in &lines {
        check_line(line, context, &mut problems);
    }
    check_repeats(&lines, &mut problems);
    problems.attach_values(sheet, schema);
    let problems = in_report_order(problems.list, schema);
    let ticket_reason = ticket_reason(&problems);
    let mixed = problems
        .iter()
        .any(|problem| problem.reason == Reason::MixedMco);
    let outcomes = line_outcomes(&lines, &problems, ticket_reason);
    let any_forwarded = outcomes.iter().any(|line| line.status == Status::Forwarded);
    let report = ComplaintReport {
        status: if any_forwarded {
            Status::Forwarded
        } else {
            Status::Closed
        },
        mco: mco
            .filter(|_| !mixed)
            .map(|index| context.mcos[index].code.clone()),
        received_on: context.received_on,
        reason: ticket_reason,
        lines: outcomes,
        problems,
    };
    Complaint { report, lines }
}

/// The duplicate rule within one file: a line on its way to the MCO whose claim (the
/// same MCO tracking number and claim number, in any case) an earlier such line already
/// carries. Intake applies the rule across tickets as well, from the store; this part
/// needs only the file, so `portal check` and intake agree on it.
fn check_repeats(lines: &[Record], problems: &mut Problems) {
    if ticket_reason(&problems.list).is_some() {
        return;
    }
    let mut first_row: HashMap<(String, String), u32> = HashMap::new();
    for line in lines {
        if problems
            .list
            .iter()
            .any(|problem| problem.row == Some(line.row))
        {
            continue;
        }
        let tracking = line.text(claim::TRACKING_NUMBER).unwrap_or("").trim();
        let number = line.text(claim::CLAIM_NUMBER).unwrap_or("").trim();
        let key = (tracking.to_uppercase(), number.to_uppercase());
        let Some(first) = first_row.get(&key) else {
            first_row.insert(key, line.row);
            continue;
        };
        // R10: a tracking number is repeated only when it has the safe shape.
        let message = if is_safe_tracking_number(tracking) {
            format!(
                "This claim (MCO tracking number {tracking}) repeats row {first} of this template"
            )
        } else {
            format!("This claim repeats row {first} of this template")
        };
        problems.add(
            Some(line.row),
            Some("Claim Number"),
            Reason::Duplicate,
            message,
        );
    }
}

/// R4: at least one claim line, and at most `max_lines` on one template.
fn check_line_count(lines: &[Record], max_lines: u32, problems: &mut Problems) {
    if lines.is_empty() {
        problems.add(
            None,
            None,
            Reason::Incomplete,
            "The template has no claim lines: fill in one row per claim, from row 2".to_owned(),
        );
    }
    let max_lines = max_lines as usize;
    if lines.len() > max_lines {
        problems.add(
            lines.get(max_lines).map(|line| line.row),
            None,
            Reason::Over100Lines,
            format!(
                "The template has {} claim lines; one template holds at most {max_lines}. Send the rest on another template",
                lines.len()
            ),
        );
    }
}

/// R4: one MCO per template; the first line's MCO sets it, and a line naming another
/// is a problem. Returns the template's MCO (an index into `mcos`).
fn check_one_mco(lines: &[Record], mcos: &[Mco], problems: &mut Problems) -> Option<usize> {
    let first = lines.iter().find_map(|line| line.choice(claim::MCO))?;
    for line in lines {
        if let Some(other) = line.choice(claim::MCO).filter(|other| *other != first) {
            problems.add(
                Some(line.row),
                column(claim::MCO),
                Reason::MixedMco,
                format!(
                    "This line names {} but the template is for {}; send one template per MCO",
                    mcos[other].name, mcos[first].name
                ),
            );
        }
    }
    Some(first)
}

/// The checks of one claim line that look past a single cell.
fn check_line(line: &Record, context: &Context<'_>, problems: &mut Problems) {
    check_filing_window(line, context, problems);
    check_service_dates(line, context.received_on, problems);
    check_exhausted(line, problems);
    check_coverage(line, problems);
}

/// R1: filed with the MCO 30 to 60 days (the configured window) before HFS received
/// the template. A filing date after that day is an invalid value, not a window
/// problem.
fn check_filing_window(line: &Record, context: &Context<'_>, problems: &mut Problems) {
    let Some(filed) = line.date(claim::FILED_WITH_MCO) else {
        return;
    };
    let received = context.received_on;
    let message = |earliest: NaiveDate, latest: NaiveDate| {
        format!("Filed with the MCO on {filed}: submit from {earliest} to {latest}.")
    };
    match context.window.check(filed, received) {
        WindowCheck::InWindow => {}
        WindowCheck::FiledAfterReceived => problems.add(
            Some(line.row),
            column(claim::FILED_WITH_MCO),
            Reason::InvalidValue,
            format!("{filed} is in the future (HFS received the template on {received})"),
        ),
        WindowCheck::TooEarly { earliest, latest } => problems.add(
            Some(line.row),
            column(claim::FILED_WITH_MCO),
            Reason::TooEarly,
            message(earliest, latest),
        ),
        WindowCheck::TooLate { earliest, latest } => problems.add(
            Some(line.row),
            column(claim::FILED_WITH_MCO),
            Reason::TooLate,
            message(earliest, latest),
        ),
    }
}

/// R3: dates of service that cannot be (after the day received, or ending before they
/// start) are invalid values.
fn check_service_dates(line: &Record, received: NaiveDate, problems: &mut Problems) {
    let from = line.date(claim::SERVICE_FROM);
    if from.is_some_and(|from| from > received) {
        problems.add(
            Some(line.row),
            column(claim::SERVICE_FROM),
            Reason::InvalidValue,
            "The date of service is after the day HFS received the template".to_owned(),
        );
    }
    if let (Some(from), Some(to)) = (from, line.date(claim::SERVICE_TO))
        && to < from
    {
        problems.add(
            Some(line.row),
            column(claim::SERVICE_TO),
            Reason::InvalidValue,
            "The last date of service is before Date of Service From".to_owned(),
        );
    }
}

/// R5: the MCO's internal dispute process, peer-to-peer included, comes first.
fn check_exhausted(line: &Record, problems: &mut Problems) {
    if line.flag(claim::EXHAUSTED) == Some(false) {
        problems.add(
            Some(line.row),
            column(claim::EXHAUSTED),
            Reason::NotExhausted,
            "Finish the MCO's internal dispute process, including peer-to-peer review, before sending the complaint to HFS".to_owned(),
        );
    }
}

/// R8: fee-for-service claims go to HFS by phone; Medicare-only claims are out of scope.
fn check_coverage(line: &Record, problems: &mut Problems) {
    match line.choice(claim::COVERAGE) {
        Some(COVERAGE_FEE_FOR_SERVICE) => problems.add(
            Some(line.row),
            column(claim::COVERAGE),
            Reason::FeeForService,
            format!("Fee-for-service claims are not handled by the portal: call HFS at {FEE_FOR_SERVICE_PHONE}"),
        ),
        Some(COVERAGE_MEDICARE_ONLY) => problems.add(
            Some(line.row),
            column(claim::COVERAGE),
            Reason::MedicareOnly,
            "Medicare-only claims are outside the portal's scope; contact Medicare or the plan".to_owned(),
        ),
        _ => {}
    }
}

/// The header of a claim column, as a problem names it.
fn column(index: usize) -> Option<&'static str> {
    Some(COMPLAINT[index].header)
}

/// R3, R4: the reason that closes the whole ticket, if any, the gravest first.
fn ticket_reason(problems: &[Problem]) -> Option<Reason> {
    [
        Reason::Over100Lines,
        Reason::MixedMco,
        Reason::Incomplete,
        Reason::InvalidValue,
    ]
    .into_iter()
    .find(|reason| problems.iter().any(|problem| problem.reason == *reason))
}

/// Each line's outcome: closed with its own first problem, a ticket-level one before a
/// line-level one; when the ticket is closed, a line with no problem of its own is
/// closed with the ticket's reason; otherwise it is forwarded.
fn line_outcomes(
    lines: &[Record],
    problems: &[Problem],
    ticket_reason: Option<Reason>,
) -> Vec<LineOutcome> {
    lines
        .iter()
        .map(|line| {
            let own = |ticket_level: bool| {
                problems
                    .iter()
                    .filter(|problem| {
                        problem.row == Some(line.row)
                            && problem.reason.closes_ticket() == ticket_level
                    })
                    .map(|problem| problem.reason)
                    .next()
            };
            let reason = match ticket_reason {
                Some(ticket) => Some(own(true).or(own(false)).unwrap_or(ticket)),
                None => own(false),
            };
            let status = if reason.is_some() {
                Status::Closed
            } else {
                Status::Forwarded
            };
            LineOutcome {
                row: line.row,
                status,
                reason,
            }
        })
        .collect()
}
