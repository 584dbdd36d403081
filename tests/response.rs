//! The MCO's response workbook: what the forward carries, the same workbook filled in
//! and saved by LibreOffice (.xlsx and .ods, fixtures made by `fill.py`) read back with
//! its decisions, an altered one read back with each problem by row and column,
//! `portal check` on both, and the workbook mailed in by a provider.

use std::collections::BTreeMap;
use std::io::Read as _;

use portal::forms::read::{Cell, Workbook};
use portal::forms::samples::{Sample, complaint_lines};
use portal::forms::schema::{MARKER_SHEET, RESPONSE, claim, response};
use portal::forms::validate::{ResponseContext, ResponseReport, ticket_of, validate_response};
use portal::forms::{self, Kind, McoDecision, Reason, Status, Submission, identify};
use portal::store::{Store, Ticket, Tree};

use crate::common::{
    Mailroom, PROVIDER, check_bytes, complaint, config, date, fixture, message, portal_bin,
};

/// The ticket of the fixtures.
const TICKET: &str = "PRP-2026-000123";
/// The rows of the provider's template that ticket forwarded (row 4 was closed).
const FORWARDED: [u32; 3] = [2, 3, 5];

/// The response workbook the fixtures were filled from: three sample lines for
/// Molina received 2026-11-25, under rows 2, 3 and 5 of the provider's template.
fn written() -> Vec<u8> {
    let config = config();
    let molina = config.mcos.iter().position(|mco| mco.code == "MOLINA");
    let mut lines = complaint_lines(Sample::Good, date("2026-11-25"), molina.unwrap(), 3);
    for (line, row) in lines.iter_mut().zip(FORWARDED) {
        line.row = row;
    }
    forms::write::mco_response(TICKET, &config.mcos, &config.rules, &lines).unwrap()
}

fn read(bytes: &[u8], name: &str) -> Workbook {
    forms::read_workbook(bytes, Some(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn read_fixture(name: &str) -> Workbook {
    let bytes = std::fs::read(fixture(name)).unwrap_or_else(|error| panic!("{name}: {error}"));
    read(&bytes, name)
}

fn answered(workbook: &Workbook) -> ResponseReport {
    let context = ResponseContext {
        ticket: Some(TICKET),
        forwarded_rows: &FORWARDED,
    };
    validate_response(workbook, &context)
}

fn decisions(report: &ResponseReport) -> Vec<(u32, Option<McoDecision>)> {
    report
        .rows
        .iter()
        .map(|row| (row.row, row.decision))
        .collect()
}

/// Each problem as (spreadsheet row, column, reason).
fn places(report: &ResponseReport) -> Vec<(Option<u32>, Option<&str>, Reason)> {
    report
        .problems
        .iter()
        .map(|problem| (problem.row, problem.column.as_deref(), problem.reason))
        .collect()
}

/// Every sheet's cells, by sheet name.
fn cells(workbook: &Workbook) -> BTreeMap<String, BTreeMap<(u32, u32), Cell>> {
    workbook
        .sheets
        .iter()
        .map(|sheet| (sheet.name.clone(), sheet.cells.clone()))
        .collect()
}

/// Writes `tests/fixtures/mco-response-blank.xlsx`, the workbook `fill.py` fills in:
/// run it when the test below says the writer changed, then
/// `bash tests/fixtures/make-fixtures.sh`.
#[test]
#[ignore = "writes a fixture; run on purpose"]
fn write_the_blank_response_fixture() {
    std::fs::write(fixture("mco-response-blank.xlsx"), written()).unwrap();
    the_blank_fixture_is_what_the_forward_writes();
}

/// The blank fixture holds, cell for cell, what the writer lays out today, so the
/// LibreOffice fixtures were filled from the forward's own workbook.
#[test]
fn the_blank_fixture_is_what_the_forward_writes() {
    let blank = read_fixture("mco-response-blank.xlsx");
    assert_eq!(
        cells(&blank),
        cells(&read(&written(), "fresh.xlsx")),
        "the response workbook changed: run \
         `cargo test --features failpoints --test tests -- --ignored write_the_blank_response_fixture` \
         and then tests/fixtures/make-fixtures.sh"
    );
}

/// The workbook as written: the marker, the columns, one row per accepted line under
/// the provider's row, nothing decided, and only the answer open to typing.
#[test]
fn the_written_workbook_is_a_response_to_answer() {
    let bytes = written();
    let workbook = read(&bytes, "PRP-2026-000123.xlsx");
    assert_eq!(identify(&workbook), Some(Kind::McoResponse));
    let marker = workbook.sheet(MARKER_SHEET).expect("the marker sheet");
    assert_eq!(marker.text(0, 1), Some("mco-response"));
    assert!(!marker.visible);
    let claims = workbook.sheet("Claims").unwrap();
    let headers: Vec<&str> = (0..RESPONSE.len() as u32)
        .map(|column| claims.text(0, column).unwrap_or(""))
        .collect();
    let expected: Vec<&str> = RESPONSE.iter().map(|field| field.header).collect();
    assert_eq!(headers, expected);
    let rows: Vec<Option<&str>> = (1..=3)
        .map(|row| claims.text(row, response::ROW as u32))
        .collect();
    assert_eq!(rows, [Some("2"), Some("3"), Some("5")]);
    let report = answered(&workbook);
    assert_eq!(report.problems, []);
    assert_eq!(decisions(&report), [(2, None), (3, None), (5, None)]);

    let mut sheet = String::new();
    zip::ZipArchive::new(std::io::Cursor::new(&bytes))
        .unwrap()
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(sheet.contains("<sheetProtection"), "the sheet is protected");
    // The decision drop-down (column S) lists the five words.
    let start = sheet.find(r#"sqref="S2:S101""#).expect("a drop-down on S");
    let open = sheet[..start].rfind("<dataValidation ").unwrap();
    let end = start + sheet[start..].find("</dataValidation>").unwrap();
    let validation = &sheet[open..end];
    assert!(validation.contains(r#"type="list""#), "{validation}");
    assert!(
        validation.contains("Paid in full,Partially paid,Denial upheld,Reprocessing,Other"),
        "{validation}"
    );
}

/// Filled in LibreOffice Calc and saved as .xlsx and .ods (fill.py,
/// `mco-response-filled`): the marker survives, and every row's decision and comment
/// come back.
#[test]
fn a_workbook_filled_in_libreoffice_gives_its_decisions() {
    for name in ["mco-response-filled.xlsx", "mco-response-filled.ods"] {
        let workbook = read_fixture(name);
        assert_eq!(identify(&workbook), Some(Kind::McoResponse), "{name}");
        assert_eq!(ticket_of(&workbook).as_deref(), Some(TICKET), "{name}");
        let report = answered(&workbook);
        assert_eq!(report.problems, [], "{name}");
        assert_eq!(
            decisions(&report),
            [
                (2, Some(McoDecision::PaidInFull)),
                (3, Some(McoDecision::DenialUpheld)),
                (5, Some(McoDecision::PartiallyPaid)),
            ],
            "{name}"
        );
        assert_eq!(
            report.rows[1].comment.as_deref(),
            Some("Denied again after a review of the records."),
            "{name}"
        );
        assert!(report.is_complete(), "{name}");
    }
}

/// Altered in LibreOffice (fill.py, `mco-response-altered`): a comment too long, a
/// row of another ticket, a decision that is no choice, a row added and a row
/// repeated, each a problem on its row and column; the valid rows still count.
#[test]
fn an_altered_workbook_lists_each_problem_by_row_and_column() {
    for name in ["mco-response-altered.xlsx", "mco-response-altered.ods"] {
        let report = answered(&read_fixture(name));
        assert_eq!(
            places(&report),
            [
                (Some(2), Some("MCO Comment"), Reason::InvalidValue),
                (Some(3), Some("Ticket"), Reason::InvalidValue),
                (Some(4), Some("MCO Decision"), Reason::InvalidValue),
                (Some(5), Some("Row"), Reason::InvalidValue),
                (Some(6), Some("Row"), Reason::InvalidValue),
            ],
            "{name}"
        );
        assert_eq!(
            decisions(&report),
            [(2, Some(McoDecision::PaidInFull)), (5, None)],
            "{name}"
        );
        for problem in &report.problems {
            // R10: nothing typed is repeated (the other ticket, the word, the comment).
            for typed in ["000124", "Approved", "xxxx"] {
                assert!(!problem.message.contains(typed), "{name}: {problem}");
            }
        }
    }
}

fn check(path: &std::path::Path, json: bool) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(portal_bin());
    command
        .arg("--config")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("portal.toml"))
        .arg("check")
        .arg(path);
    if json {
        command.arg("--json");
    }
    let output = command.output().expect("portal runs");
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// `portal check` on a returned workbook: the decisions and every problem; exit 0
/// only when nothing was altered and every row is decided; `--json` in its shape,
/// never with the comment.
#[test]
fn portal_check_reads_a_returned_workbook() {
    let (code, text) = check(&fixture("mco-response-filled.xlsx"), false);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("MCO response workbook (PRP-2026-000123)"),
        "{text}"
    );
    assert!(text.contains("row 3: Denial upheld"), "{text}");
    assert!(
        text.contains("Summary: 3 of 3 rows decided; 0 problems."),
        "{text}"
    );

    let (code, text) = check(&fixture("mco-response-filled.ods"), true);
    assert_eq!(code, Some(0), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "kind": "mco_response",
            "ticket": TICKET,
            "rows": [
                {"row": 2, "decision": "paid_in_full"},
                {"row": 3, "decision": "denial_upheld"},
                {"row": 5, "decision": "partially_paid"},
            ],
            "problems": [],
        })
    );
    assert!(!text.contains("Denied again"), "never the comment: {text}");

    // The altered workbook on its own: the other ticket's row and the repeated row
    // (row 7 is a row number like any other without the ticket).
    let (code, text) = check(&fixture("mco-response-altered.xlsx"), true);
    assert_eq!(code, Some(1), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let problems: Vec<(u64, &str)> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| {
            (
                problem["row"].as_u64().unwrap(),
                problem["column"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (2, "MCO Comment"),
            (3, "Ticket"),
            (4, "MCO Decision"),
            (6, "Row")
        ]
    );
    assert_eq!(json["problems"][0].get("value"), None, "never the comment");
    assert_eq!(json["problems"][2]["value"], "Approved");
    assert!(!text.contains("xxxx"), "never the comment");

    // An undecided workbook: no problem, yet not answered.
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("PRP-2026-000123.xlsx");
    std::fs::write(&blank, written()).unwrap();
    let (code, text) = check(&blank, false);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("row 5: no decision"), "{text}");
    assert!(
        text.contains("Summary: 0 of 3 rows decided; 0 problems."),
        "{text}"
    );
}

/// The forward: the response workbook named after the ticket, the rows the provider's
/// own, and a mail that says how and by when to answer without naming any patient,
/// claim or amount.
#[test]
fn the_forward_says_how_to_answer_and_carries_the_workbook() {
    let room = Mailroom::new("");
    room.register(PROVIDER, portal::forms::samples::SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        "intake@portal.example.gov",
        "Claims",
        "See attached.",
        &[("claims.xlsx", complaint(Sample::Good, 2))],
    ));
    room.pass();
    let tickets: Vec<Ticket> = Store::open(&room.config.store.path)
        .unwrap()
        .all(Tree::Tickets)
        .unwrap();
    let [ticket] = tickets.as_slice() else {
        panic!("one ticket: {tickets:?}")
    };
    assert_eq!(ticket.status, Status::Forwarded);
    let id = ticket.id.to_string();
    let due = ticket.response_due.unwrap().to_string();
    let sent = room.outbox();
    let [forward] = sent
        .iter()
        .filter(|notice| notice.subject.contains("Provider complaint forwarded"))
        .collect::<Vec<_>>()[..]
    else {
        panic!("one forward: {sent:?}")
    };
    assert_eq!(
        forward.subject,
        format!("[{id}] Provider complaint forwarded by Illinois HFS (2 lines)")
    );
    for needed in [
        format!("Your answer is due: {due}"),
        format!("keeping [{id}] in the subject"),
        "Fill in MCO Decision on every row, with one of: Paid in full, Partially paid, Denial upheld, \
         Reprocessing, Other"
            .to_owned(),
        "the one extension of 30 days".to_owned(),
        r#"put the word "extension" in the subject"#.to_owned(),
        "  - Row 2 (your tracking number 0TRK-01000)".to_owned(),
        format!("{id}.xlsx"),
    ] {
        assert!(forward.text.contains(&needed), "{needed}: {}", forward.text);
    }
    assert!(!forward.subject.to_lowercase().contains("extension"));
    // R10: no claim numbers, recipient ids, dates of service, amounts or names.
    for phi in [
        "CLM0004200",
        "010000000",
        "1250.00",
        "1,250",
        "Prairie Example Clinic",
    ] {
        assert!(!forward.text.contains(phi), "{phi} in the forward");
    }
    let [(name, bytes)] = forward.attachments.as_slice() else {
        panic!("one attachment")
    };
    assert_eq!(name, &format!("{id}.xlsx"));
    let workbook = read(bytes, name);
    assert_eq!(identify(&workbook), Some(Kind::McoResponse));
    let rows = ticket.forwarded_rows();
    let context = ResponseContext {
        ticket: Some(&id),
        forwarded_rows: &rows,
    };
    let report = validate_response(&workbook, &context);
    assert_eq!(report.problems, []);
    assert_eq!(decisions(&report), [(2, None), (3, None)]);
    let claims = workbook.sheet("Claims").unwrap();
    let column = (response::COMPLAINT_START + claim::CLAIM_NUMBER) as u32;
    assert_eq!(claims.text(2, column), Some("CLM0004201"));
}

/// A provider who mails the MCO's response workbook to the intake gets a ticket
/// closed as `unknown_template` that says what the file is; nothing goes to the MCO.
#[test]
fn a_response_workbook_mailed_by_a_provider_is_no_complaint() {
    let room = Mailroom::new("");
    room.register(PROVIDER, portal::forms::samples::SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        "intake@portal.example.gov",
        "Claims",
        "See attached.",
        &[("PRP-2026-000123.xlsx", written())],
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1);
    let tickets: Vec<Ticket> = Store::open(&room.config.store.path)
        .unwrap()
        .all(Tree::Tickets)
        .unwrap();
    assert_eq!(tickets[0].status, Status::Closed);
    assert_eq!(tickets[0].reason, Some(Reason::UnknownTemplate));
    assert!(
        tickets[0].problems[0]
            .message
            .contains("the response workbook HFS sends an MCO"),
        "{:?}",
        tickets[0].problems
    );
    let sent = room.outbox();
    assert!(
        sent.iter()
            .all(|notice| !notice.subject.contains("forwarded")),
        "{sent:?}"
    );
    // `portal check` reads the same file as a response, not as a complaint.
    match check_bytes(&written(), "PRP-2026-000123.xlsx", date("2026-11-25")) {
        Ok(Submission::Response(report)) => assert_eq!(report.rows.len(), 3),
        other => panic!("not a response: {other:?}"),
    }
}
