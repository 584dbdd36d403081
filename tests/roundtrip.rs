//! Generated workbooks read back by the reader: the download and the validator agree.

use std::io::Read;

use portal::forms::samples::{self, Sample};
use portal::forms::schema::{self, COMPLAINT, MARKER_SHEET, claim};
use portal::forms::{
    self, Completeness, Kind, Reason, Status, Submission, Value, identify, read_workbook,
};

use crate::common::{check_bytes, complaint_csv, config, csv_cell, date, typed, windows_1252};

fn blank(kind: Kind) -> Vec<u8> {
    let config = config();
    forms::write::blank(kind, &config.mcos, &config.rules).expect("the template is written")
}

/// One part of a zip archive, as text.
fn zip_part(bytes: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn complaint(bytes: &[u8], received: &str) -> forms::Complaint {
    match check_bytes(bytes, "t.xlsx", date(received)) {
        Ok(Submission::Complaint(complaint)) => complaint,
        other => panic!("not a complaint: {other:?}"),
    }
}

fn registration(bytes: &[u8]) -> forms::Registration {
    match check_bytes(bytes, "r.xlsx", date("2026-11-25")) {
        Ok(Submission::Registration(registration)) => registration,
        other => panic!("not a registration: {other:?}"),
    }
}

#[test]
fn each_blank_template_is_told_apart_by_its_marker() {
    for kind in Kind::ALL {
        let workbook = read_workbook(&blank(kind), Some(kind.file_name())).unwrap();
        assert_eq!(identify(&workbook), Some(kind));
        let marker = workbook.sheet(MARKER_SHEET).expect("marker sheet");
        assert!(!marker.visible, "the marker sheet is hidden");
        let names: Vec<&str> = workbook
            .sheets
            .iter()
            .map(|sheet| sheet.name.as_str())
            .collect();
        let mut expected: Vec<&str> = schema::sheets(kind)
            .iter()
            .map(|sheet| sheet.name)
            .collect();
        expected.extend(["Instructions", MARKER_SHEET]);
        assert_eq!(names, expected);
    }
}

#[test]
fn the_blank_complaint_header_row_is_the_schema() {
    let workbook = read_workbook(&blank(Kind::Complaint), None).unwrap();
    let claims = workbook.sheet("Claims").unwrap();
    let headers: Vec<&str> = (0..COMPLAINT.len() as u32)
        .map(|column| claims.text(0, column).unwrap())
        .collect();
    let expected: Vec<&str> = COMPLAINT.iter().map(|field| field.header).collect();
    assert_eq!(headers, expected);
    assert_eq!(claims.last_row(), Some(0), "nothing below the header");
}

#[test]
fn the_complaint_template_has_frozen_header_dropdowns_and_the_line_limit() {
    let sheet = zip_part(&blank(Kind::Complaint), "xl/worksheets/sheet1.xml");
    assert!(
        sheet.contains(
            r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{sheet}"
    );
    // Drop-downs on MCO (D), Yes/No (G), Coverage (H) and Issue Category (O), rows 2–101.
    for column in ["D", "G", "H", "O"] {
        let range = format!(r#"sqref="{column}2:{column}101""#);
        let start = sheet
            .find(&range)
            .unwrap_or_else(|| panic!("no validation on {column}"));
        let open = sheet[..start].rfind("<dataValidation ").unwrap();
        assert!(
            sheet[open..start].contains(r#"type="list""#),
            "{column} is a list"
        );
    }
    assert!(sheet.contains("Molina Healthcare of Illinois"));
    assert!(sheet.contains("Fee-for-service"));
    // Input help on every header cell.
    for (index, field) in COMPLAINT.iter().enumerate() {
        let cell = format!(
            r#"sqref="{}1""#,
            portal::forms::read::column_name(index as u32)
        );
        assert!(sheet.contains(&cell), "no input help on {}", field.header);
    }
    let styles = zip_part(&blank(Kind::Complaint), "xl/styles.xml");
    assert!(
        styles.contains(r#"formatCode="yyyy\-mm\-dd""#)
            || styles.contains(r#"formatCode="yyyy-mm-dd""#),
        "{styles}"
    );
}

#[test]
fn the_instructions_sheet_comes_from_the_schema() {
    let workbook = read_workbook(&blank(Kind::Complaint), None).unwrap();
    let instructions = workbook.sheet("Instructions").unwrap();
    let texts: Vec<&str> = instructions
        .cells
        .values()
        .filter_map(|cell| match cell {
            forms::read::Cell::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let rules = config().rules;
    for field in COMPLAINT.iter() {
        assert!(texts.contains(&field.header), "{}", field.header);
        let help = field.help_for(&rules);
        assert!(texts.iter().any(|text| text.starts_with(&help)), "{help}");
    }
    // The filing window's numbers, from the config.
    assert!(
        texts.iter().any(|text| text.contains(&format!(
            "from {} to {} calendar days after this date",
            rules.window_min_days, rules.window_max_days
        ))),
        "{texts:?}"
    );
}

#[test]
fn a_blank_complaint_closes_as_incomplete() {
    let outcome = complaint(&blank(Kind::Complaint), "2026-11-25").report;
    assert_eq!(outcome.status, Status::Closed);
    assert_eq!(outcome.reason, Some(Reason::Incomplete));
    assert!(outcome.lines.is_empty());
    assert_eq!(outcome.problems.len(), 1);
    assert_eq!(outcome.problems[0].row, None);
}

#[test]
fn a_blank_registration_form_lists_every_field() {
    let outcome = registration(&blank(Kind::RegistrationForm)).report;
    assert_eq!(outcome.status, Completeness::Incomplete);
    let labels: Vec<&str> = schema::REGISTRATION
        .iter()
        .map(|field| field.header)
        .collect();
    assert_eq!(outcome.missing, labels);
    // Version 2: the address is the account; no Username row.
    assert!(!labels.contains(&"Username"), "{labels:?}");
    assert!(
        outcome
            .problems
            .iter()
            .all(|problem| problem.reason == Reason::Incomplete)
    );
    // Each label sits on its own row, from row 1.
    let rows: Vec<Option<u32>> = outcome.problems.iter().map(|problem| problem.row).collect();
    let count = u32::try_from(schema::REGISTRATION.len()).unwrap();
    assert_eq!(rows, (1..=count).map(Some).collect::<Vec<_>>());
}

#[test]
fn a_blank_multiple_registration_needs_the_registrant_and_a_provider() {
    let outcome = registration(&blank(Kind::MultipleRegistration)).report;
    assert_eq!(outcome.kind, Kind::MultipleRegistration);
    assert_eq!(outcome.status, Completeness::Incomplete);
    assert_eq!(outcome.missing.len(), schema::REGISTRANT_FIELDS.len() + 1);
    let last = outcome.problems.last().unwrap();
    assert_eq!(last.sheet.as_deref(), Some("Providers"));
}

fn filled(sample: Sample, received: &str, count: usize) -> Vec<u8> {
    let config = config();
    let lines = samples::complaint_lines(sample, date(received), 4, count);
    forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

#[test]
fn a_good_sample_goes_to_the_mco_line_by_line() {
    let complaint = complaint(&filled(Sample::Good, "2026-11-25", 3), "2026-11-25");
    let report = &complaint.report;
    assert_eq!(report.status, Status::Forwarded);
    assert_eq!(report.mco.as_deref(), Some("MOLINA"));
    assert_eq!(report.reason, None);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let rows: Vec<u32> = report.lines.iter().map(|line| line.row).collect();
    assert_eq!(rows, [2, 3, 4]);
    assert!(report.all_forwarded());
    // Typed values survive the round trip, leading zeros included.
    let line = &complaint.lines[0];
    assert_eq!(line.text(claim::TRACKING_NUMBER), Some("0TRK-01000"));
    assert_eq!(line.text(claim::RECIPIENT_ID), Some("010000000"));
    assert_eq!(line.date(claim::FILED_WITH_MCO), Some(date("2026-10-11")));
    assert_eq!(
        line.money(claim::BILLED).map(|money| money.cents),
        Some(125_000)
    );
    assert_eq!(line.flag(claim::EXHAUSTED), Some(true));
}

#[test]
fn the_window_is_measured_from_the_received_day() {
    // Filed 2026-10-11: day 30 is 2026-11-10 and day 60 is 2026-12-10.
    let bytes = filled(Sample::Good, "2026-11-25", 1);
    for (received, expected) in [
        ("2026-11-09", Some(Reason::TooEarly)),
        ("2026-11-10", None),
        ("2026-12-10", None),
        ("2026-12-11", Some(Reason::TooLate)),
    ] {
        let report = complaint(&bytes, received).report;
        assert_eq!(report.lines[0].reason, expected, "received {received}");
        assert_eq!(
            report.reason, None,
            "window problems close lines, not the ticket"
        );
    }
    let late = complaint(&bytes, "2026-12-11").report;
    assert_eq!(
        late.problems[0].message,
        "Filed with the MCO on 2026-10-11: submit from 2026-11-10 to 2026-12-10."
    );
}

#[test]
fn more_than_100_lines_close_the_ticket() {
    let report = complaint(&filled(Sample::Good, "2026-11-25", 101), "2026-11-25").report;
    assert_eq!(report.status, Status::Closed);
    assert_eq!(report.reason, Some(Reason::Over100Lines));
    assert_eq!(report.lines.len(), 101);
    assert!(
        report
            .lines
            .iter()
            .all(|line| line.reason == Some(Reason::Over100Lines))
    );
    let report = complaint(&filled(Sample::Good, "2026-11-25", 100), "2026-11-25").report;
    assert!(report.all_forwarded());
}

#[test]
fn two_mcos_on_one_template_close_it() {
    let config = config();
    let mut lines = samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, 3);
    lines[2].values[claim::MCO] = Some(Value::Choice(0));
    let bytes = forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
    let report = complaint(&bytes, "2026-11-25").report;
    assert_eq!(report.reason, Some(Reason::MixedMco));
    assert_eq!(report.mco, None);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(
        (report.problems[0].row, report.problems[0].column.as_deref()),
        (Some(4), Some("MCO"))
    );
    let statuses: Vec<Option<Reason>> = report.lines.iter().map(|line| line.reason).collect();
    assert_eq!(statuses, [Some(Reason::MixedMco); 3]);
}

#[test]
fn a_csv_with_the_header_row_is_a_complaint() {
    let header: Vec<&str> = COMPLAINT.iter().map(|field| field.header).collect();
    let text = format!(
        "{}\n1234567893,123456,Example Clinic,MOLINA,00777,10/11/2026,Yes,Medicaid managed care,C1,12345678,2026-09-01,,$100.00,,Other,Denied\n",
        header.join(",")
    );
    let report = complaint(text.as_bytes(), "2026-11-25").report;
    assert!(report.all_forwarded(), "{:?}", report.problems);
    let complaint = complaint(text.as_bytes(), "2026-11-25");
    assert_eq!(
        complaint.lines[0].text(claim::RECIPIENT_ID),
        Some("012345678")
    );
    assert_eq!(
        complaint.lines[0].text(claim::TRACKING_NUMBER),
        Some("00777")
    );
}

#[test]
fn json_has_exactly_the_documented_fields() {
    let report = complaint(&filled(Sample::TooEarly, "2026-11-25", 1), "2026-11-25").report;
    let json = serde_json::to_value(&report).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "lines",
            "mco",
            "problems",
            "reason",
            "received_on",
            "status"
        ]
    );
    // Printed in the documented order.
    let text = serde_json::to_string(&report).unwrap();
    let order: Vec<usize> = [
        "\"status\"",
        "\"mco\"",
        "\"received_on\"",
        "\"reason\"",
        "\"lines\"",
        "\"problems\"",
    ]
    .iter()
    .map(|key| text.find(key).unwrap())
    .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert_eq!(json["status"], "closed");
    assert_eq!(json["received_on"], "2026-11-25");
    assert_eq!(
        json["lines"][0],
        serde_json::json!({"row": 2, "status": "closed", "reason": "too_early"})
    );
    let problem = &json["problems"][0];
    assert_eq!(problem["sheet"], "Claims");
    assert_eq!(problem["column"], "Date Filed with MCO");
    assert_eq!(problem["reason"], "too_early");
}

fn registration_csv(extra: &str) -> String {
    let values = [
        ("Registrant First Name", "Pat"),
        ("Registrant Last Name", "Example"),
        ("Registrant Email", "Billing@Clinic.Example"),
        ("Registrant Phone", "(217) 555-0100"),
        ("Username", "pexample"),
        ("Role", "billing agent"),
        ("Organization", "Prairie Example Billing"),
        ("Provider Name", "Prairie Example Clinic"),
        ("Provider NPI", "1234567893"),
        ("Provider Medicaid ID", "000123456"),
        ("Street Address", "1 Example Way"),
        ("City", "Springfield"),
        ("State", "il"),
        ("ZIP", "62701"),
    ];
    let mut text: String = values
        .iter()
        .map(|(label, value)| format!("{label},{value}\n"))
        .collect();
    text.push_str(extra);
    text
}

#[test]
fn a_label_value_csv_is_a_registration_form() {
    let registration = registration(registration_csv("").as_bytes());
    let report = &registration.report;
    assert_eq!(report.kind, Kind::RegistrationForm);
    assert_eq!(
        report.status,
        Completeness::Complete,
        "{:?}",
        report.problems
    );
    assert_eq!(report.email.as_deref(), Some("billing@clinic.example"));
    assert_eq!(report.npis, ["1234567893"]);
    assert!(report.missing.is_empty());
}

#[test]
fn a_password_is_never_accepted_by_mail() {
    let registration = registration(registration_csv("Password,hunter2\n").as_bytes());
    let report = &registration.report;
    assert_eq!(report.status, Completeness::Incomplete);
    assert_eq!(report.problems.len(), 1);
    let problem = &report.problems[0];
    assert_eq!(
        (problem.row, problem.reason),
        (Some(15), Reason::InvalidValue)
    );
    assert!(!problem.message.contains("hunter2"));
}

// ---------------------------------------------------------------------------------
// R10: whatever a person typed is described in a message, never repeated.
// ---------------------------------------------------------------------------------

/// Made-up patient details and ids, of the kind people paste into the wrong column.
const MARKERS: [&str; 7] = [
    "ZELDA QUIMBY 1961-04-02",
    "Patient ZELDA QUIMBY (DOB 04/02/1961)",
    "CLM-123456789",
    "987654321",
    "2175550199",
    "1961-04-02",
    "quimby.zelda@example.net",
];

/// A marker and its distinctive parts: none may come back.
fn fragments(marker: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = marker
        .split(|c: char| c.is_whitespace() || "()".contains(c))
        .filter(|part| part.len() >= 5)
        .collect();
    parts.push(marker);
    parts
}

/// R10's three exceptions: an NPI that passed its check digit, a filing date that
/// parsed as a date, and a tracking number of the safe shape.
fn repeatable(column: &str, text: &str) -> bool {
    match column {
        "Provider NPI" => portal::rules::npi_is_valid(text),
        "Date Filed with MCO" => portal::rules::parse_date_text(text).is_some(),
        "MCO Tracking Number" => forms::is_safe_tracking_number(text),
        _ => false,
    }
}

/// No text placed at (row, column) comes back in any problem's message, unless R10
/// lets a column of the problem's own row repeat it; and a problem of the very cell
/// carries the text as its `value`.
fn assert_described(problems: &[forms::Problem], placed: &[(u32, &str, &str)], case: &str) {
    for problem in problems {
        let json = serde_json::to_value(problem).unwrap();
        let allowed: Vec<&str> = placed
            .iter()
            .filter(|(row, column, text)| problem.row == Some(*row) && repeatable(column, text))
            .map(|(_, _, text)| *text)
            .collect();
        for &(row, column, text) in placed {
            let on_row = problem.row == Some(row);
            for fragment in fragments(text) {
                if allowed.iter().any(|allowed| allowed.contains(fragment)) {
                    continue;
                }
                assert!(
                    !problem.message.contains(fragment),
                    "{case}: {fragment:?} (row {row}, {column}) repeated in {problem:?}"
                );
            }
            if on_row && problem.column.as_deref() == Some(column) {
                assert_eq!(json["value"], text.trim(), "{case}: {json}");
            }
        }
    }
}

fn complaint_report(bytes: &[u8], name: &str) -> forms::ComplaintReport {
    match check_bytes(bytes, name, date("2026-11-25")) {
        Ok(Submission::Complaint(complaint)) => complaint.report,
        other => panic!("{name}: not a complaint: {other:?}"),
    }
}

#[test]
fn no_column_repeats_what_a_person_typed_in_it() {
    let config = config();
    for marker in MARKERS {
        // Row 2 holds the marker in the first column, row 3 in the second, and so on;
        // every other cell is valid.
        let mut lines =
            samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, COMPLAINT.len());
        let mut placed = Vec::new();
        for (column, line) in lines.iter_mut().enumerate() {
            line.values[column] = Some(Value::Text(marker.to_owned()));
            placed.push((line.row, COMPLAINT[column].header, marker));
        }
        let xlsx = forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines)
            .expect("the template is written");
        let csv = complaint_csv(&lines, ",").into_bytes();
        for (name, bytes) in [("claims.xlsx", xlsx), ("claims.csv", csv)] {
            let report = complaint_report(&bytes, name);
            assert!(!report.problems.is_empty(), "{marker} in {name}");
            assert_described(&report.problems, &placed, &format!("{marker} in {name}"));
        }
    }
}

#[test]
fn a_row_pasted_one_column_off_is_described_not_repeated() {
    // The provider's own sheet has the patient's name and birth date in a column of its
    // own; pasted into the template, the cells after it land one column off, to the
    // right (a column inserted) or to the left (one left out), at every column.
    let patient = "Patient ZELDA QUIMBY (DOB 04/02/1961)";
    let config = config();
    let mut good = samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, 1).remove(0);
    good.values[claim::CLAIM_NUMBER] = Some(Value::Text("CLM-123456789".to_owned()));
    good.values[claim::RECIPIENT_ID] = Some(Value::Text("987654321".to_owned()));
    let texts: Vec<String> = COMPLAINT
        .iter()
        .zip(&good.values)
        .map(|(field, value)| typed(field, value.as_ref()))
        .collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for at in 0..COMPLAINT.len() {
        let mut right = texts.clone();
        right.insert(at, patient.to_owned());
        right.truncate(COMPLAINT.len());
        rows.push(right);
        let mut left = texts.clone();
        left.remove(at);
        left.push(patient.to_owned());
        rows.push(left);
    }
    let lines: Vec<forms::Record> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| forms::Record {
            row: index as u32 + 2,
            values: row
                .iter()
                .map(|text| Some(Value::Text(text.clone())))
                .collect(),
        })
        .collect();
    let mut placed = Vec::new();
    for (line, row) in lines.iter().zip(&rows) {
        for (field, text) in COMPLAINT.iter().zip(row) {
            if [patient, "CLM-123456789", "987654321"].contains(&text.as_str()) {
                placed.push((line.row, field.header, text.as_str()));
            }
        }
    }
    let xlsx = forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines)
        .expect("the template is written");
    let csv = complaint_csv(&lines, ",").into_bytes();
    for (name, bytes) in [("claims.xlsx", xlsx), ("claims.csv", csv)] {
        let report = complaint_report(&bytes, name);
        assert_eq!(report.reason, Some(Reason::InvalidValue), "{name}");
        assert_described(&report.problems, &placed, name);
    }
}

#[test]
fn no_registration_field_repeats_what_a_person_typed_in_it() {
    let config = config();
    for marker in MARKERS {
        let values = forms::Record {
            row: 1,
            values: vec![Some(Value::Text(marker.to_owned())); schema::REGISTRATION.len()],
        };
        let placed: Vec<(u32, &str, &str)> = schema::REGISTRATION
            .iter()
            .enumerate()
            .map(|(index, field)| (index as u32 + 1, field.header, marker))
            .collect();
        let xlsx = forms::write::registration_form_with(&config.mcos, &config.rules, &values)
            .expect("the form is written");
        let csv: String = schema::REGISTRATION
            .iter()
            .map(|field| format!("{},{}\n", csv_cell(field.header), csv_cell(marker)))
            .collect();
        for (name, bytes) in [("form.xlsx", xlsx), ("form.csv", csv.into_bytes())] {
            let report = match check_bytes(&bytes, name, date("2026-11-25")) {
                Ok(Submission::Registration(registration)) => registration.report,
                other => panic!("{name}: not a registration: {other:?}"),
            };
            assert_eq!(
                report.status,
                Completeness::Incomplete,
                "{marker} in {name}"
            );
            let case = format!("{marker} in {name}");
            assert_described(&report.problems, &placed, &case);
            for missing in &report.missing {
                for fragment in fragments(marker) {
                    assert!(!missing.contains(fragment), "{case}: {missing}");
                }
            }
        }
    }
}

#[test]
fn a_sheet_named_after_a_patient_is_not_named_back() {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("ZELDA QUIMBY 1961-04-02").unwrap();
    sheet.write_string(0, 0, "Provider NPI").unwrap();
    sheet.write_string(20_000, 0, "x").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    let error = match check_bytes(&bytes, "claims.xlsx", date("2026-11-25")) {
        Err(forms::Unusable::Unreadable(error)) => error,
        other => panic!("not refused: {other:?}"),
    };
    let sentence = forms::Unusable::from(error).sentence();
    assert!(sentence.contains("A20001"), "{sentence}");
    for fragment in fragments("ZELDA QUIMBY 1961-04-02") {
        assert!(!sentence.contains(fragment), "{sentence}");
    }
}

// ---------------------------------------------------------------------------------
// How cells are read: only a cell that holds a number is padded, never an NPI.
// ---------------------------------------------------------------------------------

/// The message of the one problem at (row, column), with its reason.
fn problem_at<'r>(
    report: &'r forms::ComplaintReport,
    row: u32,
    column: &str,
) -> &'r forms::Problem {
    let found: Vec<_> = report
        .problems
        .iter()
        .filter(|problem| problem.row == Some(row) && problem.column.as_deref() == Some(column))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "row {row}, {column}: {:#?}",
        report.problems
    );
    found[0]
}

#[test]
fn an_id_typed_as_text_is_never_padded() {
    let config = config();
    let mut lines = samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, 5);
    let text = |value: &str| Some(Value::Text(value.to_owned()));
    // "6" padded to 0000000006 passed the check digit, and so did 0123456788.
    lines[0].values[claim::PROVIDER_NPI] = text("6");
    lines[1].values[claim::PROVIDER_NPI] = text("123456788");
    lines[2].values[claim::RECIPIENT_ID] = text("1");
    // A cell that holds a number lost its leading zeros: the Recipient ID gets them
    // back, the NPI (which never starts with 0) does not.
    lines[3].values[claim::RECIPIENT_ID] = Some(Value::Money(portal::rules::Money { cents: 100 }));
    lines[4].values[claim::PROVIDER_NPI] = Some(Value::Money(portal::rules::Money { cents: 600 }));
    let bytes = forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
    let checked = complaint(&bytes, "2026-11-25");
    let report = &checked.report;
    assert_eq!(report.reason, Some(Reason::InvalidValue));
    for (row, column, says) in [
        (2, "Provider NPI", "has 1 digit; an NPI has 10"),
        (3, "Provider NPI", "has 9 digits; an NPI has 10"),
        (4, "Recipient ID", "has 1 digit; a Recipient ID has 9"),
        (6, "Provider NPI", "has 1 digit; an NPI has 10"),
    ] {
        let problem = problem_at(report, row, column);
        assert_eq!(problem.reason, Reason::InvalidValue, "{problem:?}");
        assert!(problem.message.contains(says), "{problem:?}");
        assert!(!problem.message.contains("check digit"), "{problem:?}");
    }
    assert_eq!(
        checked.lines[3].text(claim::RECIPIENT_ID),
        Some("000000001")
    );
    assert_eq!(report.problems.len(), 4, "{:#?}", report.problems);

    // In a CSV, which has no types, a cell of digits only is such a number.
    let mut lines = samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, 2);
    lines[0].values[claim::RECIPIENT_ID] = text("12345");
    lines[1].values[claim::PROVIDER_NPI] = text("123456788");
    let csv = complaint_csv(&lines, ",");
    let checked = complaint(csv.as_bytes(), "2026-11-25");
    assert_eq!(
        checked.lines[0].text(claim::RECIPIENT_ID),
        Some("000012345")
    );
    let problem = problem_at(&checked.report, 3, "Provider NPI");
    assert!(
        problem.message.contains("has 9 digits; an NPI has 10"),
        "{problem:?}"
    );
    assert_eq!(
        checked.report.problems.len(),
        1,
        "{:#?}",
        checked.report.problems
    );
}

#[test]
fn a_zip_typed_as_text_must_have_its_five_digits() {
    let config = config();
    let zip = schema::REGISTRATION
        .iter()
        .position(|field| field.header == "ZIP")
        .unwrap();
    for (value, expected) in [
        (Value::Text("627".to_owned()), None),
        (
            Value::Money(portal::rules::Money { cents: 606_200 }),
            Some("06062"),
        ),
        (Value::Text("62701-1234".to_owned()), Some("62701-1234")),
    ] {
        let mut values = samples::registration_values("billing@clinic.example", "1234567893");
        values.values[zip] = Some(value.clone());
        let bytes =
            forms::write::registration_form_with(&config.mcos, &config.rules, &values).unwrap();
        let checked = registration(&bytes);
        let provider_zip = schema::PROVIDER_FIELDS
            .iter()
            .position(|field| field.header == "ZIP")
            .unwrap();
        let read = checked.providers[0].text(provider_zip);
        match expected {
            Some(expected) => assert_eq!(read, Some(expected), "{value:?}"),
            None => {
                let problem = &checked.report.problems[0];
                assert_eq!(problem.column.as_deref(), Some("ZIP"), "{problem:?}");
                assert!(
                    problem.message.contains("has 3 digits; a ZIP code has 5"),
                    "{problem:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// CSV files as Excel writes them: any encoding, commas or semicolons.
// ---------------------------------------------------------------------------------

/// A good complaint of one line as CSV text, its description given.
fn one_line_csv(description: &str, separator: &str) -> String {
    let mut lines = samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, 1);
    lines[0].values[claim::ISSUE_DESCRIPTION] = Some(Value::Text(description.to_owned()));
    complaint_csv(&lines, separator)
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut bytes = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        bytes.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    bytes
}

#[test]
fn a_csv_is_read_in_the_encoding_excel_saved_it_in() {
    let description = "The MCO\u{2019}s denial of Caf\u{e9} Clinic's claim was untimely";
    let text = one_line_csv(description, ",");
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend(text.as_bytes());
    for (encoding, bytes) in [
        ("windows-1252", windows_1252(&text)),
        ("utf-8", text.clone().into_bytes()),
        ("utf-8 with BOM", utf8_bom),
        ("utf-16le", utf16(&text, false)),
        ("utf-16be", utf16(&text, true)),
    ] {
        for name in ["claims.csv", "attachment"] {
            let checked = match check_bytes(&bytes, name, date("2026-11-25")) {
                Ok(Submission::Complaint(complaint)) => complaint,
                other => panic!("{encoding} as {name}: {other:?}"),
            };
            assert!(
                checked.report.all_forwarded(),
                "{encoding}: {:?}",
                checked.report.problems
            );
            assert_eq!(
                checked.lines[0].text(claim::ISSUE_DESCRIPTION),
                Some(description),
                "{encoding} as {name}"
            );
        }
    }
}

#[test]
fn a_csv_separated_by_semicolons_has_decimal_commas() {
    let mut lines = samples::complaint_lines(Sample::Good, date("2026-11-25"), 4, 2);
    lines[0].values[claim::ISSUE_DESCRIPTION] =
        Some(Value::Text("Denied; then paid short, twice".to_owned()));
    let mut text = complaint_csv(&lines, ";");
    // As a European Excel writes amounts: a decimal comma, a dot between thousands.
    text = text.replace("\"1250.00\"", "\"125,50\"");
    text = text.replace("\"1250.01\"", "\"1.250,01\"");
    text = text.replace("\"0.00\"", "0");
    let checked = complaint(&windows_1252(&text), "2026-11-25");
    assert!(
        checked.report.all_forwarded(),
        "{:?}",
        checked.report.problems
    );
    let billed: Vec<Option<u64>> = checked
        .lines
        .iter()
        .map(|line| line.money(claim::BILLED).map(|money| money.cents))
        .collect();
    assert_eq!(billed, [Some(12_550), Some(125_001)]);
    assert_eq!(
        checked.lines[0].text(claim::ISSUE_DESCRIPTION),
        Some("Denied; then paid short, twice")
    );
}

#[test]
fn a_csv_that_cannot_be_read_says_how_to_save_it() {
    // UTF-16 without its byte order mark: every other byte is a NUL.
    let text = one_line_csv("Denied", ",");
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let error = match check_bytes(&bytes, "claims.csv", date("2026-11-25")) {
        Err(forms::Unusable::Unreadable(error)) => error,
        other => panic!("read: {other:?}"),
    };
    let sentence = forms::Unusable::from(error).sentence();
    assert!(sentence.contains("CSV UTF-8"), "{sentence}");
}
