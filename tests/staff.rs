//! The staff commands through the real binary, after real intake passes: tickets,
//! registrations (with decisions, their notices and the audit trail), inquiries,
//! processed messages (and releasing a quarantined one), and the outbox.

use std::collections::BTreeSet;

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::mail::Folder;
use portal::store::{AuditEntry, Delivery, Notice, Store, Tree, Writes};
use serde_json::Value;

use crate::common::{Mailroom, PROVIDER, complaint, message, out_of_office, registration_form};

const INTAKE: &str = "intake@portal.example.gov";
const INQUIRIES: &str = "HFS.Portalinquiries@illinois.gov";

const TICKET_KEYS: [&str; 17] = [
    "id",
    "status",
    "mco",
    "received_on",
    "sender",
    "reason",
    "presented_by",
    "response_due",
    "presented_on",
    "responded_on",
    "late",
    "overdue",
    "extension",
    "resolution",
    "events",
    "lines",
    "problems",
];
const LINE_KEYS: [&str; 6] = [
    "row",
    "status",
    "reason",
    "npi",
    "tracking_number",
    "decision",
];
const PROBLEM_KEYS: [&str; 5] = ["sheet", "row", "column", "reason", "message"];
const REGISTRATION_KEYS: [&str; 6] = [
    "id",
    "status",
    "email",
    "npis",
    "earliest_completion",
    "missing",
];
const INQUIRY_KEYS: [&str; 4] = ["id", "from", "received_on", "answered"];
const MESSAGE_KEYS: [&str; 12] = [
    "hash",
    "message_id",
    "mailbox",
    "from",
    "received_at",
    "processed_at",
    "outcome",
    "notices",
    "suppressed",
    "released",
    "trusted",
    "raw",
];
const NOTICE_KEYS: [&str; 8] = [
    "id",
    "kind",
    "about",
    "to",
    "subject",
    "message_id",
    "created_at",
    "delivery",
];

/// Runs the CLI and insists on exit 0; returns stdout.
fn run(room: &Mailroom, args: &[&str]) -> String {
    let output = room.cli(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "portal {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs the CLI and insists on exit 2 (could not run: usage, config, store); returns
/// stderr.
fn fails(room: &Mailroom, args: &[&str]) -> String {
    let output = room.cli(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "portal {args:?} should fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).expect("UTF-8 output")
}

/// Runs the CLI and insists on exit 1 (refused, with the reason); returns stderr.
fn refused(room: &Mailroom, args: &[&str]) -> String {
    let output = room.cli(args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "portal {args:?} should be refused: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stderr).expect("UTF-8 output")
}

fn json(room: &Mailroom, args: &[&str]) -> Value {
    let text = run(room, args);
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("portal {args:?} printed no JSON ({error}): {text}"))
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn expect_keys(value: &Value, expected: &[&str]) {
    assert_eq!(
        keys(value),
        expected.iter().copied().collect::<BTreeSet<_>>(),
        "{value:#}"
    );
}

fn array(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

fn is_date(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.len() == 10 && text.parse::<chrono::NaiveDate>().is_ok())
}

fn today() -> String {
    portal::today::today_in_illinois().to_string()
}

/// A registered provider with one good complaint (3 lines) and one too early (2 lines).
fn two_tickets() -> Mailroom {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Three claims",
        "Attached.",
        &[("claims.xlsx", complaint(Sample::Good, 3))],
    ));
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Too early",
        "Attached.",
        &[("early.xlsx", complaint(Sample::TooEarly, 2))],
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 2, "{report:?}");
    room
}

fn audit(room: &Mailroom) -> Vec<AuditEntry> {
    let store = Store::open(&room.config.store.path).unwrap();
    store.all::<AuditEntry>(Tree::Audit).unwrap()
}

fn notices(room: &Mailroom) -> Vec<Notice> {
    let store = Store::open(&room.config.store.path).unwrap();
    store.all::<Notice>(Tree::Outbox).unwrap()
}

#[test]
fn tickets_list_and_show_print_the_documented_objects() {
    let room = two_tickets();
    let list = json(&room, &["tickets", "list", "--json"]);
    let tickets = array(&list);
    assert_eq!(tickets.len(), 2);
    for ticket in tickets {
        expect_keys(ticket, &TICKET_KEYS);
        for line in array(&ticket["lines"]) {
            expect_keys(line, &LINE_KEYS);
        }
        for problem in array(&ticket["problems"]) {
            expect_keys(problem, &PROBLEM_KEYS);
        }
        assert_eq!(ticket["sender"], PROVIDER);
        assert_eq!(ticket["mco"], "MOLINA");
        assert_eq!(ticket["received_on"], today());
        assert!(
            ticket["id"].as_str().unwrap().starts_with("PRP-"),
            "{ticket}"
        );
    }
    let good = tickets
        .iter()
        .find(|ticket| ticket["status"] == "forwarded")
        .expect("the good ticket");
    assert_eq!(good["reason"], Value::Null);
    assert!(
        is_date(&good["presented_by"]) && is_date(&good["response_due"]),
        "{good}"
    );
    assert_eq!(array(&good["lines"]).len(), 3);
    assert!(
        array(&good["lines"])
            .iter()
            .all(|line| line["status"] == "forwarded" && line["reason"].is_null())
    );
    assert!(array(&good["problems"]).is_empty());
    assert_eq!(good["lines"][0]["row"], 2);

    let early = tickets
        .iter()
        .find(|ticket| ticket["status"] == "closed")
        .expect("the early ticket");
    assert_eq!(early["reason"], Value::Null, "only lines closed");
    assert_eq!(early["presented_by"], Value::Null);
    assert_eq!(early["response_due"], Value::Null);
    assert!(
        array(&early["lines"])
            .iter()
            .all(|line| line["status"] == "closed" && line["reason"] == "too_early")
    );
    let problems = array(&early["problems"]);
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0]["sheet"], "Claims");
    assert_eq!(problems[0]["column"], "Date Filed with MCO");
    assert_eq!(problems[0]["reason"], "too_early");

    // show --json is the same object.
    let id = early["id"].as_str().unwrap();
    let shown = json(&room, &["tickets", "show", id, "--json"]);
    assert_eq!(&shown, early);

    // The text views name what matters.
    let text = run(&room, &["tickets", "show", id]);
    assert!(text.contains(id) && text.contains("closed"), "{text}");
    assert!(
        text.contains("Row 2")
            && text.contains("Date Filed with MCO")
            && text.contains("too_early"),
        "{text}"
    );
    let listed = run(&room, &["tickets", "list"]);
    for ticket in tickets {
        assert!(listed.contains(ticket["id"].as_str().unwrap()), "{listed}");
    }
    assert!(
        listed.contains("forwarded") && listed.contains(PROVIDER),
        "{listed}"
    );

    // An unknown id is refused, naming it.
    let error = refused(&room, &["tickets", "show", "PRP-1999-000042"]);
    assert!(error.contains("PRP-1999-000042"), "{error}");
}

/// Standard output and standard error on one pipe whose reader is gone (`2>&1 | head`
/// once head has read enough): the command fails with exit 2, never a panic (101).
#[test]
fn a_closed_pipe_ends_the_command_with_exit_2_not_a_panic() {
    let room = two_tickets();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = std::process::Command::new(crate::common::portal_bin())
        .arg("--config")
        .arg(&room.config_path)
        .args(["tickets", "list"])
        .current_dir(room.dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .status()
        .expect("portal runs");
    assert_eq!(status.code(), Some(2), "{status:?}");
}

#[test]
fn ids_are_read_in_any_case_and_a_malformed_one_is_named() {
    let room = two_tickets();
    let registration = json(&room, &["registrations", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket = json(&room, &["tickets", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lower = ticket.to_lowercase();
    assert_ne!(lower, ticket);
    let shown = json(&room, &["tickets", "show", &lower, "--json"]);
    assert_eq!(shown["id"], ticket.as_str(), "{shown}");
    let shown = json(
        &room,
        &[
            "registrations",
            "show",
            &format!(" {} ", registration.to_lowercase()),
            "--json",
        ],
    );
    assert_eq!(shown["id"], registration.as_str(), "{shown}");

    // Another kind's id, or no id at all, is refused with what was expected.
    for wrong in [registration.as_str(), "PRP-26-1", "ticket 7"] {
        let error = fails(&room, &["tickets", "show", wrong]);
        assert!(
            error.contains(wrong) && error.contains("is not a ticket id such as PRP-2026-000123"),
            "{error}"
        );
    }
}

#[test]
fn a_decision_sends_its_own_notice_and_leaves_the_backlog_to_intake() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let other = "pending@lakeside.example";
    room.deliver(&message(
        other,
        INTAKE,
        "Registration",
        "Form attached.",
        &[(
            "registration-form.xlsx",
            registration_form(other, SAMPLE_NPI),
        )],
    ));
    let filed = room.pass().registrations;
    assert_eq!(filed.len(), 1);
    // One notice of the backlog waits, due now (as after a server outage).
    let waiting = notices(&room)[0].clone();
    {
        let store = Store::open(&room.config.store.path).unwrap();
        let mut writes = Writes::default();
        let mut pending = waiting.clone();
        pending.delivery = Delivery::Pending {
            attempts: 1,
            last_error: Some("connection refused".to_owned()),
            next_attempt: None,
        };
        portal::store::put_notice(&mut writes, &pending).unwrap();
        store.apply(writes).unwrap();
        store.flush().unwrap();
    }
    let files = room.outbox().len();
    let text = run(
        &room,
        &[
            "registrations",
            "approve",
            &filed[0].to_string(),
            "--by",
            "tester",
        ],
    );
    assert!(
        text.contains(&format!("The notice was sent to {other}")),
        "{text}"
    );
    // The approval went out; the backlog's notice still waits for a pass.
    assert_eq!(room.outbox().len(), files + 1);
    let after = notices(&room);
    let approval = after.last().unwrap();
    assert_eq!(approval.kind, "registration_approved");
    assert_eq!(approval.to, other);
    assert!(matches!(approval.delivery, Delivery::Sent { .. }));
    let backlog = after.iter().find(|notice| notice.id == waiting.id).unwrap();
    assert!(
        matches!(backlog.delivery, Delivery::Pending { attempts: 1, .. }),
        "{backlog:?}"
    );
    // The next pass sends it.
    assert_eq!(room.pass().notices_sent, 1);
    assert_eq!(room.outbox().len(), files + 2);
}

#[test]
fn tickets_export_writes_one_csv_row_per_line_or_json() {
    let room = two_tickets();
    let csv_text = run(&room, &["tickets", "export"]);
    assert_eq!(
        run(&room, &["tickets", "export", "--csv"]),
        csv_text,
        "CSV is the default"
    );
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    for column in [
        "ticket_id",
        "status",
        "mco",
        "received_on",
        "sender",
        "presented_by",
        "response_due",
        "row",
        "line_status",
        "line_reason",
        "problems",
    ] {
        assert!(
            header.iter().any(|name| name == column),
            "{column} missing from {header:?}"
        );
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "one row per claim line: {csv_text}");
    let cell = |row: &csv::StringRecord, name: &str| {
        row[header.iter().position(|h| h == name).unwrap()].to_owned()
    };
    let forwarded: Vec<_> = rows
        .iter()
        .filter(|row| cell(row, "line_status") == "forwarded")
        .collect();
    assert_eq!(forwarded.len(), 3);
    assert!(
        forwarded
            .iter()
            .all(|row| cell(row, "problems").is_empty() && cell(row, "mco") == "MOLINA")
    );
    assert_eq!(
        forwarded
            .iter()
            .map(|row| cell(row, "row"))
            .collect::<Vec<_>>(),
        ["2", "3", "4"]
    );
    let closed: Vec<_> = rows
        .iter()
        .filter(|row| cell(row, "line_status") == "closed")
        .collect();
    assert_eq!(closed.len(), 2);
    for row in closed {
        assert_eq!(cell(row, "line_reason"), "too_early");
        assert!(
            cell(row, "problems").contains("Date Filed with MCO"),
            "{row:?}"
        );
        assert!(cell(row, "presented_by").is_empty());
    }

    let exported = json(&room, &["tickets", "export", "--json"]);
    assert_eq!(exported, json(&room, &["tickets", "list", "--json"]));
    fails(&room, &["tickets", "export", "--csv", "--json"]);
}

#[test]
fn csv_export_neutralises_cells_a_spreadsheet_would_run() {
    // End to end: a registered sender whose address starts with `=`.
    let room = Mailroom::new("");
    let sender = "=cmd@prairie-clinic.example";
    room.register(sender, SAMPLE_NPI);
    room.deliver(&message(
        sender,
        INTAKE,
        "Claims",
        "Attached.",
        &[("claims.xlsx", complaint(Sample::Good, 1))],
    ));
    assert_eq!(room.pass().tickets.len(), 1);
    let csv_text = run(&room, &["tickets", "export"]);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv_text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]
            .iter()
            .any(|cell| cell == "'=cmd@prairie-clinic.example"),
        "{csv_text}"
    );
    assert!(!csv_text.contains(",=cmd"), "{csv_text}");
    // JSON is for scripts: the value as it is.
    assert_eq!(
        json(&room, &["tickets", "list", "--json"])[0]["sender"],
        sender
    );

    // The writer itself, on every dangerous first character.
    let ticket = portal::store::Ticket {
        v: 1,
        id: "PRP-2026-000001".parse().unwrap(),
        status: portal::forms::Status::Closed,
        mco: Some("@MOLINA".to_owned()),
        received_on: "2026-11-23".parse().unwrap(),
        received_at: chrono::Utc::now(),
        sender: "+billing@clinic.example".to_owned(),
        reason: None,
        presented_by: None,
        response_due: None,
        lines: vec![portal::store::TicketLine::from_outcome(
            &portal::forms::LineOutcome {
                row: 2,
                status: portal::forms::Status::Closed,
                reason: Some(portal::forms::Reason::InvalidValue),
            },
        )],
        problems: vec![
            portal::forms::Problem {
                sheet: Some("Claims".to_owned()),
                row: Some(2),
                column: None,
                reason: portal::forms::Reason::InvalidValue,
                message: "=HYPERLINK(\"http://evil.example\")".to_owned(),
                value: None,
            },
            portal::forms::Problem {
                sheet: None,
                row: None,
                column: None,
                reason: portal::forms::Reason::InvalidValue,
                message: "-2+3".to_owned(),
                value: None,
            },
            portal::forms::Problem {
                sheet: None,
                row: Some(9),
                column: None,
                reason: portal::forms::Reason::InvalidValue,
                message: "\tTAB".to_owned(),
                value: None,
            },
        ],
        forwarded_claims: Vec::new(),
        message: "0".repeat(64),
        attachment: None,
        correspondence: Vec::new(),
        notice_failures: Vec::new(),
        presented_on: None,
        responded_on: None,
        late: false,
        extension: None,
        resolution: None,
        events: Vec::new(),
        proposals: Vec::new(),
        reminded: Vec::new(),
    };
    let mut out = Vec::new();
    portal::staff::write_tickets_csv(&[ticket], &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "the line, and a row for the problems that belong to no line: {text}"
    );
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {text}"
            );
        }
    }
    assert!(
        rows[0]
            .iter()
            .any(|cell| cell == "'+billing@clinic.example"),
        "{text}"
    );
    assert!(rows[0].iter().any(|cell| cell == "'@MOLINA"), "{text}");
    assert!(
        rows[0].iter().any(|cell| cell.starts_with("'=HYPERLINK")),
        "{text}"
    );
    assert!(
        rows[1]
            .iter()
            .any(|cell| cell.starts_with("'-2+3") && cell.contains("\tTAB")),
        "{text}"
    );
}

#[test]
fn registrations_list_show_and_decide_with_notices_and_audit() {
    let room = Mailroom::new("");
    let active = room.register(PROVIDER, SAMPLE_NPI);
    for email in ["pending@lakeside.example", "deny@lakeside.example"] {
        room.deliver(&message(
            email,
            INTAKE,
            "Registration",
            "Attached.",
            &[(
                "registration-form.xlsx",
                registration_form(email, SAMPLE_NPI),
            )],
        ));
    }
    let filed: Vec<String> = room
        .pass()
        .registrations
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(filed.len(), 2);

    let list = json(&room, &["registrations", "list", "--json"]);
    let registrations = array(&list);
    assert_eq!(registrations.len(), 3);
    for registration in registrations {
        expect_keys(registration, &REGISTRATION_KEYS);
        assert_eq!(registration["npis"], serde_json::json!([SAMPLE_NPI]));
        assert_eq!(registration["missing"], serde_json::json!([]));
        assert!(
            is_date(&registration["earliest_completion"]),
            "{registration}"
        );
    }
    let by_id = |id: &str| {
        registrations
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&active)["status"], "active");
    assert_eq!(by_id(&active)["email"], PROVIDER);
    let (pending, denied) = {
        let first = by_id(&filed[0]);
        if first["email"] == "pending@lakeside.example" {
            (filed[0].clone(), filed[1].clone())
        } else {
            (filed[1].clone(), filed[0].clone())
        }
    };
    assert_eq!(by_id(&pending)["status"], "pending");
    assert_eq!(
        json(&room, &["registrations", "show", &pending, "--json"]),
        by_id(&pending)
    );
    let text = run(&room, &["registrations", "show", &pending]);
    assert!(
        text.contains(&pending) && text.contains("pending") && text.contains(SAMPLE_NPI),
        "{text}"
    );
    let text = run(&room, &["registrations", "list"]);
    assert!(
        text.contains(&active)
            && text.contains(&pending)
            && text.contains("pending@lakeside.example"),
        "{text}"
    );
    assert!(
        refused(&room, &["registrations", "show", "REG-1999-000009"]).contains("REG-1999-000009")
    );

    // Approve: --json prints the registration afterwards.
    let approved = json(
        &room,
        &[
            "registrations",
            "approve",
            &pending,
            "--by",
            "Dana Staff",
            "--json",
        ],
    );
    expect_keys(&approved, &REGISTRATION_KEYS);
    assert_eq!(approved["status"], "active");
    // Deny and revoke want a reason: without one the command does not run (usage).
    let error = fails(
        &room,
        &["registrations", "deny", &denied, "--by", "Dana Staff"],
    );
    assert!(error.contains("--reason"), "{error}");
    assert!(
        fails(
            &room,
            &["registrations", "revoke", &active, "--by", "Lee Staff"]
        )
        .contains("--reason")
    );
    let text = run(
        &room,
        &[
            "registrations",
            "deny",
            &denied,
            "--by",
            "Dana Staff",
            "--reason",
            "Not a provider we know",
        ],
    );
    assert!(
        text.contains(&denied) && text.contains("Denied") && text.contains("notice was sent"),
        "{text}"
    );
    let text = run(
        &room,
        &[
            "registrations",
            "revoke",
            &active,
            "--by",
            "Lee Staff",
            "--reason",
            "Left the practice",
        ],
    );
    assert!(
        text.contains("Revoked") && text.contains("notice was sent"),
        "{text}"
    );
    // A decision only once.
    assert!(
        refused(
            &room,
            &["registrations", "approve", &denied, "--by", "Dana Staff"]
        )
        .contains("denied")
    );

    let statuses = json(&room, &["registrations", "list", "--json"]);
    let status =
        |id: &str| array(&statuses).iter().find(|r| r["id"] == id).unwrap()["status"].clone();
    assert_eq!(status(&active), "revoked");
    assert_eq!(status(&pending), "active");
    assert_eq!(status(&denied), "denied");

    // The notices went out at once, as mail the program starts.
    let sent = room.outbox();
    let subject = |text: String| {
        sent.iter()
            .find(|mail| mail.subject == text)
            .unwrap_or_else(|| panic!("no notice {text:?}"))
    };
    let deny_notice = subject(format!("[{denied}] Registration denied"));
    assert_eq!(deny_notice.to, "deny@lakeside.example");
    assert_eq!(deny_notice.auto_submitted, "auto-generated");
    assert!(
        deny_notice.text.contains("Not a provider we know"),
        "{}",
        deny_notice.text
    );
    let revoke_notice = subject(format!("[{active}] Registration no longer active"));
    assert_eq!(revoke_notice.to, PROVIDER);
    assert_eq!(revoke_notice.auto_submitted, "auto-generated");
    assert_eq!(
        subject(format!("[{pending}] Registration approved")).auto_submitted,
        "auto-generated"
    );

    // The audit trail names who decided, and why.
    let trail = audit(&room);
    let entry = |action: &str, id: &str| {
        trail
            .iter()
            .find(|entry| entry.action == action && entry.subject == id)
            .unwrap_or_else(|| panic!("no {action} for {id}: {trail:?}"))
            .clone()
    };
    let approved = entry("registration_approved", &pending);
    assert_eq!(approved.by.as_deref(), Some("Dana Staff"));
    assert_eq!(approved.reason, None);
    let denied_entry = entry("registration_denied", &denied);
    assert_eq!(denied_entry.by.as_deref(), Some("Dana Staff"));
    assert_eq!(
        denied_entry.reason.as_deref(),
        Some("Not a provider we know")
    );
    let revoked = entry("registration_revoked", &active);
    assert_eq!(revoked.by.as_deref(), Some("Lee Staff"));
    assert_eq!(revoked.reason.as_deref(), Some("Left the practice"));
}

#[test]
fn inquiries_list_prints_the_documented_objects() {
    let room = Mailroom::new("");
    room.pass(); // intake makes the store
    assert!(run(&room, &["inquiries", "list"]).contains("No inquiries"));
    room.deliver_inquiry(&message(
        "office@lakeside.example",
        INQUIRIES,
        "How do we register?",
        "Hello, how?",
        &[],
    ));
    let report = room.pass();
    assert_eq!(report.inquiries.len(), 1);
    let list = json(&room, &["inquiries", "list", "--json"]);
    let inquiries = array(&list);
    assert_eq!(inquiries.len(), 1);
    expect_keys(&inquiries[0], &INQUIRY_KEYS);
    assert_eq!(inquiries[0]["id"], report.inquiries[0].to_string());
    assert_eq!(inquiries[0]["from"], "office@lakeside.example");
    assert_eq!(inquiries[0]["received_on"], today());
    assert_eq!(inquiries[0]["answered"], true);
    let text = run(&room, &["inquiries", "list"]);
    assert!(
        text.contains(&report.inquiries[0].to_string())
            && text.contains("office@lakeside.example")
            && text.contains("answered"),
        "{text}"
    );
}

#[test]
fn messages_list_shows_every_outcome() {
    let room = Mailroom::new("");
    let registration = room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "Attached.",
        &[("claims.xlsx", complaint(Sample::Good, 2))],
    ));
    room.deliver(&message(
        "stranger@elsewhere.example",
        INTAKE,
        "Claims",
        "Attached.",
        &[("claims.xlsx", complaint(Sample::Good, 1))],
    ));
    room.deliver(&out_of_office("away@elsewhere.example"));
    room.deliver(b"\x00\x01 this is no mail at all");
    room.deliver_inquiry(&message(
        "office@lakeside.example",
        INQUIRIES,
        "A question",
        "Hello?",
        &[],
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1, "{report:?}");

    let list = json(&room, &["messages", "list", "--json"]);
    let records = array(&list);
    assert_eq!(records.len(), 6, "{list:#}");
    for record in records {
        expect_keys(record, &MESSAGE_KEYS);
        let hash = record["hash"].as_str().unwrap();
        assert!(
            hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{hash}"
        );
        assert_eq!(record["released"], false);
        assert!(record["notices"].is_array());
    }
    let find = |kind: &str| {
        records
            .iter()
            .find(|record| record["outcome"]["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {list:#}"))
            .clone()
    };
    assert_eq!(find("registration")["outcome"]["id"], registration.as_str());
    let tickets = find("tickets");
    assert_eq!(tickets["outcome"]["ids"], serde_json::json!(report.tickets));
    assert_eq!(tickets["from"], PROVIDER);
    assert_eq!(tickets["mailbox"], "intake");
    assert_eq!(
        array(&tickets["notices"]).len(),
        2,
        "the accepted notice and the MCO forward"
    );
    assert_eq!(find("not_registered")["from"], "stranger@elsewhere.example");
    assert_eq!(array(&find("automatic")["notices"]).len(), 0);
    let quarantined = find("quarantined");
    assert!(
        quarantined["outcome"]["why"]
            .as_str()
            .is_some_and(|why| !why.is_empty()),
        "{quarantined}"
    );
    let inquiry = find("inquiry");
    assert_eq!(inquiry["mailbox"], "inquiries");
    assert_eq!(inquiry["outcome"]["id"], report.inquiries[0].to_string());

    let text = run(&room, &["messages", "list"]);
    let full = tickets["hash"].as_str().unwrap();
    assert!(
        text.contains(&full[..12]) && !text.contains(full),
        "short hashes in text: {text}"
    );
    for word in [
        "not_registered",
        "automatic",
        "quarantined",
        "inquiry",
        "registration",
        "ticket",
    ] {
        assert!(text.contains(word), "{word} missing: {text}");
    }
}

fn quarantined_hashes(room: &Mailroom) -> Vec<String> {
    let list = json(room, &["messages", "list", "--json"]);
    array(&list)
        .iter()
        .filter(|record| record["outcome"]["kind"] == "quarantined")
        .map(|record| record["hash"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_released_message_is_handled_afresh_by_the_next_pass() {
    let mut room = Mailroom::new("[mail]\nmax_message_bytes = 2000\n");
    let big = message(
        "stranger@elsewhere.example",
        INTAKE,
        "A long story",
        &"All work and no play. ".repeat(200),
        &[],
    );
    let id = room.deliver(&big);
    let first = room.pass();
    assert_eq!(first.quarantined, 1, "{first:?}");
    assert_eq!(
        room.intake_folder(Some(Folder::Quarantine)),
        std::slice::from_ref(&id)
    );
    let hashes = quarantined_hashes(&room);
    assert_eq!(hashes.len(), 1);
    let hash = &hashes[0];
    let record = &json(&room, &["messages", "list", "--json"])[0];
    assert_eq!(
        record["outcome"],
        serde_json::json!({"kind": "quarantined", "why": "too large"})
    );

    // Without a release, another pass leaves it alone.
    assert_eq!(room.pass().messages, 0);

    // Released by a prefix of its hash: back in the inbox, and marked in the store.
    let released = json(&room, &["messages", "release", &hash[..10], "--json"]);
    expect_keys(&released, &MESSAGE_KEYS);
    assert_eq!(released["hash"], hash.as_str());
    assert_eq!(released["released"], true);
    assert_eq!(room.intake_folder(None), std::slice::from_ref(&id));
    assert!(room.intake_folder(Some(Folder::Quarantine)).is_empty());
    assert_eq!(
        json(&room, &["messages", "list", "--json"])[0]["released"],
        true
    );
    assert!(
        audit(&room)
            .iter()
            .any(|entry| entry.action == "message_released" && hash.starts_with(&entry.subject))
    );

    // Still too large for this config: handled afresh (not skipped), quarantined again.
    let again = room.pass();
    assert_eq!(
        (again.messages, again.already_processed, again.quarantined),
        (1, 0, 1),
        "{again:?}"
    );
    assert_eq!(
        json(&room, &["messages", "list", "--json"])[0]["released"],
        false
    );

    // With a larger limit, the released message is handled as what it is.
    let text = run(&room, &["messages", "release", &hash[..8]]);
    assert!(
        text.contains(&hash[..12]) && text.contains("Quarantine"),
        "{text}"
    );
    room.config.mail.max_message_bytes = 1 << 20;
    let last = room.pass();
    assert_eq!(
        (last.messages, last.already_processed, last.quarantined),
        (1, 0, 0),
        "{last:?}"
    );
    assert_eq!(room.intake_folder(Some(Folder::Processed)), [id]);
    // Read whole now (only its header was read while too large): one record, the new.
    let records = json(&room, &["messages", "list", "--json"]);
    assert_eq!(records.as_array().map(Vec::len), Some(1), "{records:#}");
    let record = &records[0];
    assert_eq!(
        record["outcome"]["kind"], "help",
        "a mail without a workbook is answered with how to submit"
    );
    assert_eq!(record["released"], false);
    assert!(
        room.outbox()
            .iter()
            .any(|mail| mail.subject.starts_with("How to send a complaint"))
    );
}

#[test]
fn release_refuses_unknown_ambiguous_and_missing_messages() {
    let room = Mailroom::new("");
    // Seventeen different non-mails: two of their hashes share a first hex digit.
    for n in 0..17 {
        room.deliver(format!("\x00 not a mail {n}").as_bytes());
    }
    assert_eq!(room.pass().quarantined, 17);
    let hashes = quarantined_hashes(&room);
    assert_eq!(hashes.len(), 17);
    let shared = (0..16)
        .map(|digit| format!("{digit:x}"))
        .find(|digit| {
            hashes
                .iter()
                .filter(|hash| hash.starts_with(digit.as_str()))
                .count()
                > 1
        })
        .unwrap();
    let error = refused(&room, &["messages", "release", &shared]);
    assert!(error.contains("give more"), "{error}");
    let unknown = (0..=0xfff)
        .map(|n| format!("{n:03x}"))
        .find(|p| !hashes.iter().any(|hash| hash.starts_with(p.as_str())))
        .unwrap();
    assert!(refused(&room, &["messages", "release", &unknown]).contains(&unknown));
    assert!(fails(&room, &["messages", "release", "not-hex"]).contains("not-hex"));

    // A message whose file is gone is not marked released.
    let quarantine = room.path("mail/intake/.Quarantine/cur");
    for entry in std::fs::read_dir(&quarantine).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let error = refused(&room, &["messages", "release", &hashes[0]]);
    assert!(error.contains("Quarantine"), "{error}");
    let list = json(&room, &["messages", "list", "--json"]);
    assert!(
        array(&list)
            .iter()
            .all(|record| record["released"] == false)
    );
    assert!(room.intake_folder(None).is_empty());
}

#[test]
fn outbox_lists_notices_without_their_bytes_and_retries() {
    let room = Mailroom::new("");
    let registration = room.register(PROVIDER, SAMPLE_NPI);
    let list = json(&room, &["outbox", "list", "--json"]);
    let items = array(&list);
    assert_eq!(items.len(), 2, "received and approved: {list:#}");
    for item in items {
        expect_keys(item, &NOTICE_KEYS);
        assert_eq!(item["delivery"]["state"], "sent");
        assert_eq!(item["about"], registration.as_str());
        assert_eq!(item["to"], PROVIDER);
        assert!(
            item["subject"]
                .as_str()
                .unwrap()
                .starts_with(&format!("[{registration}]"))
        );
    }
    assert_eq!(items[1]["kind"], "registration_approved");
    let text = run(&room, &["outbox", "list"]);
    assert!(
        text.contains("registration_approved") && text.contains("sent"),
        "{text}"
    );
    assert!(
        !text.contains("Content-Type") && !text.contains("MIME-Version"),
        "{text}"
    );

    // One notice waiting after a transient error, one refused for good.
    let stored = notices(&room);
    let next_attempt = chrono::Utc::now() + chrono::Duration::minutes(5);
    {
        let store = Store::open(&room.config.store.path).unwrap();
        let mut writes = Writes::default();
        let mut waiting = stored[0].clone();
        waiting.delivery = Delivery::Pending {
            attempts: 2,
            last_error: Some("connection refused".to_owned()),
            next_attempt: Some(next_attempt),
        };
        portal::store::put_notice(&mut writes, &waiting).unwrap();
        let mut failed = stored[1].clone();
        failed.delivery = Delivery::Failed {
            at: chrono::Utc::now(),
            error: "550 no such user".to_owned(),
        };
        portal::store::put_notice(&mut writes, &failed).unwrap();
        store.apply(writes).unwrap();
        store.flush().unwrap();
    }
    let list = json(&room, &["outbox", "list", "--json"]);
    assert_eq!(
        list[0]["delivery"],
        serde_json::json!({"state": "pending", "attempts": 2, "last_error": "connection refused",
                           "next_attempt": next_attempt})
    );
    assert_eq!(list[1]["delivery"]["state"], "failed");
    assert_eq!(list[1]["delivery"]["error"], "550 no such user");
    let text = run(&room, &["outbox", "list"]);
    assert!(
        text.contains("connection refused") && text.contains("550 no such user"),
        "{text}"
    );

    let files = room.outbox().len();
    let retried = json(&room, &["outbox", "retry", "--json"]);
    assert_eq!(
        retried,
        serde_json::json!({"requeued": 0, "sent": 1, "waiting": 0, "failed": 0})
    );
    assert_eq!(room.outbox().len(), files + 1);
    let states: Vec<Delivery> = notices(&room)
        .into_iter()
        .map(|notice| notice.delivery)
        .collect();
    assert!(matches!(states[0], Delivery::Sent { .. }));
    assert!(
        matches!(states[1], Delivery::Failed { .. }),
        "a failed notice waits for --failed"
    );

    let text = run(&room, &["outbox", "retry", "--failed"]);
    assert!(
        text.contains("Put 1 failed notice back") && text.contains("Sent 1 notice"),
        "{text}"
    );
    assert_eq!(room.outbox().len(), files + 2);
    assert!(
        notices(&room)
            .iter()
            .all(|notice| matches!(notice.delivery, Delivery::Sent { .. }))
    );
    assert!(audit(&room).iter().any(
        |entry| entry.action == "notice_requeued" && entry.subject == stored[1].id.to_string()
    ));

    let nothing = json(&room, &["outbox", "retry", "--failed", "--json"]);
    assert_eq!(
        nothing,
        serde_json::json!({"requeued": 0, "sent": 0, "waiting": 0, "failed": 0})
    );
}
