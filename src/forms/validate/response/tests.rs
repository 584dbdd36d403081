use super::*;
use crate::config::Config;
use crate::forms::identify;
use crate::forms::read::{Format, read_workbook};
use crate::forms::samples::{Sample, complaint_lines};
use crate::forms::schema::{MARKER_SHEET, claim};

const TICKET: &str = "PRP-2026-000123";
/// The rows of the provider's template the ticket forwarded.
const FORWARDED: [u32; 3] = [2, 3, 5];

fn context() -> ResponseContext<'static> {
    ResponseContext {
        ticket: Some(TICKET),
        forwarded_rows: &FORWARDED,
    }
}

/// One row of a returned sheet: Ticket, Row, MCO Decision, MCO Comment ("" for
/// an empty cell); the complaint's cells always hold a provider name.
type Answer<'a> = [&'a str; 4];

fn text(value: &str) -> Cell {
    Cell::Text(value.to_owned())
}

/// A `Claims` sheet with every header and `answers` from spreadsheet row 2 on.
fn sheet(answers: &[Answer<'_>]) -> Sheet {
    let mut cells = BTreeMap::new();
    for (column, field) in RESPONSE.iter().enumerate() {
        cells.insert((0, column as u32), text(field.header));
    }
    let columns = [
        response::TICKET,
        response::ROW,
        response::DECISION,
        response::COMMENT,
    ];
    for (index, answer) in answers.iter().enumerate() {
        let row = index as u32 + 1;
        let name = response::COMPLAINT_START + claim::PROVIDER_NAME;
        cells.insert((row, name as u32), text("Prairie Example Clinic"));
        for (column, value) in columns.iter().zip(answer) {
            if !value.is_empty() {
                cells.insert((row, *column as u32), text(value));
            }
        }
    }
    Sheet {
        name: "Claims".to_owned(),
        visible: true,
        typing: Typing::Typed,
        cells,
    }
}

fn workbook(sheets: Vec<Sheet>) -> Workbook {
    Workbook {
        format: Format::Xlsx,
        sheets,
    }
}

fn validate(answers: &[Answer<'_>]) -> ResponseReport {
    validate_response(&workbook(vec![sheet(answers)]), &context())
}

/// Each problem as (spreadsheet row, column, reason).
fn places(report: &ResponseReport) -> Vec<(Option<u32>, Option<&str>, Reason)> {
    report
        .problems
        .iter()
        .map(|problem| (problem.row, problem.column.as_deref(), problem.reason))
        .collect()
}

fn decisions(report: &ResponseReport) -> Vec<(u32, Option<McoDecision>)> {
    report
        .rows
        .iter()
        .map(|row| (row.row, row.decision))
        .collect()
}

fn assert_not_quoted(report: &ResponseReport, typed: &str) {
    for problem in &report.problems {
        assert!(!problem.message.contains(typed), "{}", problem.message);
    }
}

const CLEAN: [Answer<'static>; 3] = [
    [TICKET, "2", "Paid in full", "Paid on 2026-12-01."],
    ["prp-2026-000123", "3", "denial_upheld", ""],
    [TICKET, "5", " REPROCESSING ", ""],
];

/// A workbook answered as asked: every row, its decision (label or word, any
/// case), the comment kept; the ticket id named canonically.
#[test]
fn a_clean_workbook_gives_every_rows_decision() {
    let report = validate(&CLEAN);
    assert_eq!(report.problems, []);
    assert_eq!(report.ticket.as_deref(), Some(TICKET));
    assert_eq!(
        decisions(&report),
        [
            (2, Some(McoDecision::PaidInFull)),
            (3, Some(McoDecision::DenialUpheld)),
            (5, Some(McoDecision::Reprocessing)),
        ]
    );
    assert_eq!(
        report.rows[0].comment.as_deref(),
        Some("Paid on 2026-12-01.")
    );
    assert_eq!(report.rows[1].comment, None);
    assert!(report.is_complete());
}

/// An empty decision is no problem of the workbook: the row counts, undecided.
#[test]
fn an_empty_decision_leaves_the_row_undecided() {
    let report = validate(&[CLEAN[0], [TICKET, "3", "", "We are looking into it."]]);
    assert_eq!(report.problems, []);
    assert_eq!(
        decisions(&report),
        [(2, Some(McoDecision::PaidInFull)), (3, None)]
    );
    assert!(!report.is_complete());
    assert!(!validate(&[]).is_complete(), "no rows, nothing answered");
}

/// Rows added: a Row that is empty, not a whole number, or not forwarded is a
/// problem on its Row cell, never repeating it; the valid rows still count.
#[test]
fn an_added_row_is_a_problem_and_the_others_count() {
    let report = validate(&[
        CLEAN[0],
        [TICKET, "", "Paid in full", ""],
        [TICKET, "two", "Paid in full", ""],
        [TICKET, "123456789", "Other", ""],
        [TICKET, "4", "Other", ""],
        CLEAN[2],
    ]);
    assert_eq!(
        places(&report),
        [
            (Some(3), Some("Row"), Reason::Incomplete),
            (Some(4), Some("Row"), Reason::InvalidValue),
            (Some(5), Some("Row"), Reason::InvalidValue),
            (Some(6), Some("Row"), Reason::InvalidValue),
        ]
    );
    assert_eq!(
        decisions(&report),
        [
            (2, Some(McoDecision::PaidInFull)),
            (5, Some(McoDecision::Reprocessing))
        ]
    );
    assert_not_quoted(&report, "two");
    assert_not_quoted(&report, "123456789");
    let not_forwarded = &report.problems[3].message;
    assert!(
        not_forwarded.contains(TICKET) && not_forwarded.contains("2, 3, 5"),
        "{not_forwarded}"
    );
    // For `check --json` only: the cell's own text.
    assert_eq!(report.problems[1].value.as_deref(), Some("two"));
}

/// A Row given as a number cell reads as that row; 2.5 or 0 is no row.
#[test]
fn a_row_number_cell_is_read_as_a_whole_number() {
    let mut sheet = sheet(&[CLEAN[0], CLEAN[1], CLEAN[2]]);
    sheet
        .cells
        .insert((1, response::ROW as u32), Cell::Number(2.0));
    sheet
        .cells
        .insert((2, response::ROW as u32), Cell::Number(2.5));
    sheet
        .cells
        .insert((3, response::ROW as u32), Cell::Number(0.0));
    let report = validate_response(&workbook(vec![sheet]), &context());
    assert_eq!(decisions(&report), [(2, Some(McoDecision::PaidInFull))]);
    assert_eq!(
        places(&report),
        [
            (Some(3), Some("Row"), Reason::InvalidValue),
            (Some(4), Some("Row"), Reason::InvalidValue),
        ]
    );
}

#[test]
fn a_row_number_is_digits_from_one_and_nothing_else() {
    let mut sheet = sheet(&[CLEAN[0], CLEAN[1], CLEAN[2]]);
    // "+3" parses as a number in Rust, but it is not digits as HFS wrote them.
    sheet.cells.insert((1, response::ROW as u32), text("+3"));
    sheet
        .cells
        .insert((2, response::ROW as u32), Cell::Number(0.0));
    sheet.cells.insert((3, response::ROW as u32), text("5"));
    let report = validate_response(&workbook(vec![sheet]), &context());
    assert_eq!(decisions(&report), [(5, Some(McoDecision::Reprocessing))]);
    let messages: Vec<(Option<u32>, &str)> = report
        .problems
        .iter()
        .map(|problem| (problem.row, problem.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    for (row, message) in messages {
        assert!(
            message.starts_with("The value is not a row number"),
            "row {row:?}: {message}"
        );
    }
}

/// A Row repeated: the first counts, the repeat is a problem naming where the
/// first stands.
#[test]
fn a_repeated_row_counts_once() {
    let report = validate(&[CLEAN[0], CLEAN[1], [TICKET, "2", "Other", ""]]);
    assert_eq!(
        places(&report),
        [(Some(4), Some("Row"), Reason::InvalidValue)]
    );
    assert!(
        report.problems[0].message.contains("spreadsheet row 2"),
        "{}",
        report.problems[0].message
    );
    assert_eq!(
        decisions(&report),
        [
            (2, Some(McoDecision::PaidInFull)),
            (3, Some(McoDecision::DenialUpheld))
        ]
    );
}

/// Another ticket's rows, or a row without a ticket, do not count; the message
/// names the ticket answered, never the other.
#[test]
fn another_tickets_rows_do_not_count() {
    let report = validate(&[
        CLEAN[0],
        ["PRP-2026-000999", "3", "Other", ""],
        ["", "5", "Other", ""],
    ]);
    assert_eq!(
        places(&report),
        [
            (Some(3), Some("Ticket"), Reason::InvalidValue),
            (Some(4), Some("Ticket"), Reason::Incomplete),
        ]
    );
    assert!(report.problems[0].message.contains(TICKET));
    assert_not_quoted(&report, "000999");
    assert_eq!(decisions(&report), [(2, Some(McoDecision::PaidInFull))]);
}

/// A decision that is not one of the words is a problem naming the choices and
/// never the text; the row counts, undecided.
#[test]
fn an_unknown_decision_names_the_choices() {
    let report = validate(&[CLEAN[0], [TICKET, "3", "Approved, see J. Doe", ""]]);
    assert_eq!(
        places(&report),
        [(Some(3), Some("MCO Decision"), Reason::InvalidValue)]
    );
    let message = &report.problems[0].message;
    assert!(
        message.contains(
            "not one of the choices: Paid in full, Partially paid, Denial upheld, Reprocessing, Other"
        ),
        "{message}"
    );
    assert_not_quoted(&report, "J. Doe");
    assert_eq!(
        decisions(&report),
        [(2, Some(McoDecision::PaidInFull)), (3, None)]
    );
}

/// A comment of 2,000 characters is kept; one of 2,001 is a problem that neither
/// the message nor `value` repeats, and the row counts without it.
#[test]
fn a_comment_over_2000_characters_is_a_problem() {
    let fits = "é".repeat(2000);
    let long = format!("Patient Jane Roe {}", "x".repeat(1990));
    let report = validate(&[[TICKET, "2", "Other", &fits], [TICKET, "3", "Other", &long]]);
    assert_eq!(
        places(&report),
        [(Some(3), Some("MCO Comment"), Reason::InvalidValue)]
    );
    assert_eq!(report.problems[0].value, None);
    assert_not_quoted(&report, "Jane Roe");
    assert_eq!(report.rows[0].comment.as_deref(), Some(fits.as_str()));
    assert_eq!(report.rows[1].comment, None);
    assert_eq!(report.rows[1].decision, Some(McoDecision::Other));
}

/// A row with every cell empty (or blank) is skipped wherever it stands; a row
/// with only the complaint's cells was added.
#[test]
fn empty_rows_are_skipped() {
    let mut sheet = sheet(&[CLEAN[0], CLEAN[1], CLEAN[2]]);
    // Spreadsheet rows 3 and 4 emptied (row 3 to a blank), row 5 a complaint cell only.
    sheet.cells.retain(|&(row, _), _| row != 2 && row != 3);
    sheet.cells.insert((2, 0), text("   "));
    sheet.cells.insert(
        (4, (response::COMPLAINT_START + claim::PROVIDER_NAME) as u32),
        text("Someone"),
    );
    let report = validate_response(&workbook(vec![sheet]), &context());
    assert_eq!(
        places(&report),
        [(Some(5), Some("Row"), Reason::Incomplete)]
    );
    assert_eq!(decisions(&report), [(2, Some(McoDecision::PaidInFull))]);
}

/// A workbook without its sheet, or without the Ticket, Row and MCO Decision
/// headers, says so.
#[test]
fn a_missing_sheet_or_column_is_a_problem() {
    let report = validate_response(&workbook(Vec::new()), &context());
    assert_eq!(places(&report), [(None, None, Reason::Incomplete)]);
    assert!(report.rows.is_empty());

    let mut sheet = sheet(&CLEAN);
    sheet
        .cells
        .retain(|&(_, column), _| column != response::DECISION as u32);
    sheet
        .cells
        .retain(|&(_, column), _| column != response::COMMENT as u32);
    let report = validate_response(&workbook(vec![sheet]), &context());
    assert_eq!(
        places(&report),
        [(Some(1), Some("MCO Decision"), Reason::Incomplete)]
    );
    assert_eq!(decisions(&report), [(2, None), (3, None), (5, None)]);
}

/// Without a ticket (`portal check`): the rows must agree with the first row's
/// ticket and name each Row once, any row number.
#[test]
fn on_its_own_the_file_agrees_with_itself() {
    let alone = ResponseContext {
        ticket: None,
        forwarded_rows: &[],
    };
    let answers = [
        CLEAN[0],
        [TICKET, "40", "Other", ""],
        ["PRP-2026-000999", "41", "Other", ""],
        [TICKET, "40", "Other", ""],
    ];
    let report = validate_response(&workbook(vec![sheet(&answers)]), &alone);
    assert_eq!(
        places(&report),
        [
            (Some(4), Some("Ticket"), Reason::InvalidValue),
            (Some(5), Some("Row"), Reason::InvalidValue),
        ]
    );
    assert!(
        report.problems[0].message.contains("spreadsheet row 2"),
        "{}",
        report.problems[0].message
    );
    assert_not_quoted(&report, "000999");
    assert_eq!(
        decisions(&report),
        [
            (2, Some(McoDecision::PaidInFull)),
            (40, Some(McoDecision::Other))
        ]
    );
    assert_eq!(report.ticket.as_deref(), Some(TICKET));
}

/// The router's ticket: the id every non-empty Ticket cell names, else none.
#[test]
fn ticket_of_needs_every_ticket_cell_to_agree() {
    assert_eq!(
        ticket_of(&workbook(vec![sheet(&CLEAN)])).as_deref(),
        Some(TICKET)
    );
    let mut mixed = CLEAN;
    mixed[2][0] = "PRP-2026-000124";
    assert_eq!(ticket_of(&workbook(vec![sheet(&mixed)])), None);
    let mut garbage = CLEAN;
    garbage.iter_mut().for_each(|answer| answer[0] = "Jane Roe");
    assert_eq!(ticket_of(&workbook(vec![sheet(&garbage)])), None);
    assert_eq!(validate(&garbage).ticket, None);
    let mut partly = CLEAN;
    partly[0][0] = "";
    assert_eq!(
        ticket_of(&workbook(vec![sheet(&partly)])).as_deref(),
        Some(TICKET)
    );
    assert_eq!(ticket_of(&workbook(Vec::new())), None);
}

/// Without its marker, a sheet with the Ticket, Row and MCO Decision headers is a
/// response, though it has every complaint header too; without MCO Decision it is
/// a complaint.
#[test]
fn a_response_is_known_by_its_headers_before_the_complaint() {
    let answered = workbook(vec![sheet(&CLEAN)]);
    assert_eq!(identify(&answered), Some(Kind::McoResponse));
    let mut no_decision = sheet(&CLEAN);
    no_decision.cells.remove(&(0, response::DECISION as u32));
    assert_eq!(
        identify(&workbook(vec![no_decision])),
        Some(Kind::Complaint)
    );
}

/// The writer's workbook reads back as a response to its ticket: its marker, one
/// row per accepted line under the provider's own row, the complaint's cells as
/// they were, nothing decided and nothing wrong.
#[test]
fn the_written_workbook_reads_back_undecided() {
    let config = Config::embedded();
    let received = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
    let mut lines = complaint_lines(Sample::Good, received, 0, 3);
    for (line, row) in lines.iter_mut().zip(FORWARDED) {
        line.row = row;
    }
    let bytes =
        crate::forms::write::mco_response(TICKET, &config.mcos, &config.rules, &lines).unwrap();
    let workbook = read_workbook(&bytes, Some("PRP-2026-000123.xlsx")).unwrap();
    assert!(workbook.sheet(MARKER_SHEET).is_some());
    assert_eq!(identify(&workbook), Some(Kind::McoResponse));
    let report = validate_response(&workbook, &context());
    assert_eq!(report.problems, []);
    assert_eq!(decisions(&report), [(2, None), (3, None), (5, None)]);
    assert_eq!(ticket_of(&workbook).as_deref(), Some(TICKET));
    let claims = workbook.sheet("Claims").unwrap();
    let claim_number = (response::COMPLAINT_START + claim::CLAIM_NUMBER) as u32;
    assert_eq!(claims.text(1, claim_number), Some("CLM0004200"));
    assert_eq!(claims.text(3, response::ROW as u32), Some("5"));
    assert_eq!(claims.last_row(), Some(3));
}

/// Another ticket's row is named as such even when its Row is not one of this
/// ticket's; a row with neither Ticket nor Row is a row added.
#[test]
fn another_tickets_row_is_told_before_its_row_number() {
    let report = validate(&[
        CLEAN[0],
        ["PRP-2026-000999", "9", "Other", ""],
        ["", "", "Other", ""],
    ]);
    assert_eq!(
        places(&report),
        [
            (Some(3), Some("Ticket"), Reason::InvalidValue),
            (Some(4), Some("Row"), Reason::Incomplete),
        ]
    );
}
