//! The public statistics file from a store built by real passes on a local Maildir:
//! written after each pass and each staff decision, its figures agreeing with
//! `portal tickets list --json` (complaints, lines forwarded and closed by reason,
//! proposals, overdue, extensions, per month and MCO), `portal report --json` and
//! `--csv` agreeing with it, `--from`/`--to` narrowing the report, and no NPI, sender
//! address, tracking number or ticket id anywhere in the file.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::ids::TicketId;
use portal::statistics::{MonthFigures, Statistics};
use portal::today::today_in_illinois;
use serde_json::Value;

use crate::common::{Mailroom, PROVIDER, deliver_on, fixture, message};

const INTAKE: &str = "intake@portal.example.gov";
/// The MCOs' places in the configured list, as the samples name them.
const AETNA: usize = 0;
const COUNTYCARE: usize = 2;
const MERIDIAN: usize = 3;
const MOLINA: usize = 4;

/// A store with tickets of every kind, and the ids of the ones acted on.
struct Scenario {
    room: Mailroom,
    today: NaiveDate,
    /// Received 40 days ago, forwarded to AETNA, never answered: overdue.
    overdue: TicketId,
    /// Forwarded to MOLINA today and answered today.
    answered: TicketId,
    /// Forwarded to MERIDIAN today, more time asked for and granted by staff.
    extended: TicketId,
}

/// A complaint template of `count` sample lines received on `received_on` for the
/// MCO at `mco` in the configured list.
fn template(sample: Sample, received_on: NaiveDate, mco: usize, count: usize) -> Vec<u8> {
    let config = crate::common::config();
    let lines = portal::forms::samples::complaint_lines(sample, received_on, mco, count);
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

/// Mails one attachment from the provider as received on `day`.
fn mail(room: &Mailroom, day: NaiveDate, name: &str, bytes: Vec<u8>) {
    let raw = message(
        PROVIDER,
        INTAKE,
        "Claims",
        "See attached.",
        &[(name, bytes)],
    );
    deliver_on(room, &raw, day);
}

/// The one ticket a pass filed.
fn one_ticket(room: &Mailroom) -> TicketId {
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1, "{report:?}");
    report.tickets[0]
}

fn dispute_address(room: &Mailroom, mco: usize) -> String {
    room.config.mcos[mco].dispute_address.clone()
}

fn scenario() -> Scenario {
    let room = Mailroom::new("");
    let today = today_in_illinois();
    room.register(PROVIDER, SAMPLE_NPI);
    let file = read_file(&room);
    let registered = file.registrations.last().unwrap();
    assert_eq!(
        (registered.received, registered.approved, registered.denied),
        (1, 1, 0),
        "the pass and the approval each wrote the file"
    );

    let earlier = today - Days::new(40);
    mail(
        &room,
        earlier,
        "claims.xlsx",
        template(Sample::Good, earlier, AETNA, 2),
    );
    let overdue = one_ticket(&room);
    mail(
        &room,
        today,
        "claims.xlsx",
        template(Sample::Good, today, MOLINA, 3),
    );
    let answered = one_ticket(&room);
    mail(
        &room,
        today,
        "claims.xlsx",
        template(Sample::Good, today, MERIDIAN, 2),
    );
    let extended = one_ticket(&room);

    // Closed in every way: too early, incomplete, a claim already with the MCO, an
    // ordinary spreadsheet (no MCO known), one template for two MCOs.
    mail(
        &room,
        today,
        "early.xlsx",
        template(Sample::TooEarly, today, COUNTYCARE, 2),
    );
    mail(
        &room,
        today,
        "incomplete.xlsx",
        template(Sample::Incomplete, today, MOLINA, 1),
    );
    mail(
        &room,
        today,
        "again.xlsx",
        template(Sample::Good, today, MOLINA, 1),
    );
    let ordinary = std::fs::read(fixture("reason-unknown-template.xlsx")).unwrap();
    mail(&room, today, "ordinary.xlsx", ordinary);
    let mixed = std::fs::read(fixture("reason-mixed-mco.xlsx")).unwrap();
    mail(&room, today, "mixed.xlsx", mixed);
    assert_eq!(room.pass().tickets.len(), 5);

    // MOLINA answers; MERIDIAN asks for more time.
    for (mco, subject) in [
        (MOLINA, format!("Re: [{answered}] Our proposal")),
        (MERIDIAN, format!("[{extended}] extension")),
    ] {
        let address = dispute_address(&room, mco);
        room.deliver(&message(&address, INTAKE, &subject, "Hello.", &[]));
    }
    room.pass();
    let before = read_file(&room);
    assert_eq!(total(&before, |row| row.extensions), 0);
    let output = room.cli(&["tickets", "extend", &extended.to_string(), "--by", "Dana"]);
    assert!(output.status.success(), "{output:?}");
    Scenario {
        room,
        today,
        overdue,
        answered,
        extended,
    }
}

fn read_file(room: &Mailroom) -> Statistics {
    Statistics::read(&room.config.store.statistics_file)
        .expect("the statistics file reads")
        .expect("a pass wrote the statistics file")
}

fn total(statistics: &Statistics, figure: fn(&MonthFigures) -> u64) -> u64 {
    statistics.months.iter().map(figure).sum()
}

/// `portal ARGS` on the room, which must succeed; its stdout.
fn portal(room: &Mailroom, args: &[&str]) -> String {
    let output = room.cli(args);
    assert!(
        output.status.success(),
        "portal {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What one month and MCO's figures must be, counted from `tickets list --json`.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    complaints: u64,
    lines_forwarded: u64,
    lines_closed: BTreeMap<String, u64>,
    proposals_on_time: u64,
    proposals_late: u64,
    overdue: u64,
    extensions: u64,
}

impl Expected {
    fn of(row: &MonthFigures) -> Expected {
        Expected {
            complaints: row.complaints,
            lines_forwarded: row.lines_forwarded,
            lines_closed: row
                .lines_closed
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(reason, count)| (reason.clone(), *count))
                .collect(),
            proposals_on_time: row.proposals_on_time,
            proposals_late: row.proposals_late,
            overdue: row.overdue,
            extensions: row.extensions,
        }
    }
}

/// The figures of each (month, MCO) from the staff view of every ticket.
fn from_tickets_list(tickets: &[Value]) -> BTreeMap<(String, Option<String>), Expected> {
    let mut expected: BTreeMap<(String, Option<String>), Expected> = BTreeMap::new();
    for ticket in tickets {
        let month = ticket["received_on"].as_str().unwrap()[..7].to_owned();
        let mco = ticket["mco"].as_str().map(str::to_owned);
        let figures = expected.entry((month, mco)).or_default();
        figures.complaints += 1;
        let lines = ticket["lines"].as_array().unwrap();
        let mut closed: Vec<&str> = Vec::new();
        for line in lines {
            match line["status"].as_str().unwrap() {
                "forwarded" => figures.lines_forwarded += 1,
                _ => closed.push(line["reason"].as_str().unwrap()),
            }
        }
        if lines.is_empty() {
            closed.push(ticket["reason"].as_str().unwrap());
        }
        for reason in closed {
            *figures.lines_closed.entry(reason.to_owned()).or_default() += 1;
        }
        if !ticket["responded_on"].is_null() {
            if ticket["late"] == true {
                figures.proposals_late += 1;
            } else {
                figures.proposals_on_time += 1;
            }
        }
        figures.overdue += u64::from(ticket["overdue"] == true);
        figures.extensions += u64::from(ticket["extension"]["status"] == "granted");
    }
    expected
}

#[test]
fn the_file_agrees_with_tickets_list_and_the_report_with_the_file() {
    let Scenario {
        room,
        today,
        overdue,
        answered,
        extended,
    } = scenario();
    let file = read_file(&room);
    assert_eq!(file.as_of, today);
    let tickets: Vec<Value> =
        serde_json::from_str(&portal(&room, &["tickets", "list", "--json"])).unwrap();
    assert_eq!(tickets.len(), 8);
    let expected = from_tickets_list(&tickets);
    let counted: BTreeMap<(String, Option<String>), Expected> = file
        .months
        .iter()
        .map(|row| ((row.month.clone(), row.mco.clone()), Expected::of(row)))
        .filter(|(_, figures)| *figures != Expected::default())
        .collect();
    assert_eq!(counted, expected);
    // The scenario's own figures, as a person reads them.
    assert_eq!(total(&file, |row| row.complaints), 8);
    assert_eq!(total(&file, |row| row.overdue), 1);
    assert_eq!(
        total(&file, |row| row.extensions),
        1,
        "staff's grant rewrote the file"
    );
    assert_eq!(total(&file, |row| row.proposals_on_time), 1);
    let month = today.format("%Y-%m").to_string();
    let molina = file
        .months
        .iter()
        .find(|row| row.month == month && row.mco.as_deref() == Some("MOLINA"))
        .unwrap();
    assert_eq!(molina.median_days_to_proposal, Some(0.0));
    let null = file
        .months
        .iter()
        .find(|row| row.month == month && row.mco.is_none())
        .unwrap();
    assert_eq!(null.lines_closed["unknown_template"], 1);
    assert!(null.lines_closed["mixed_mco"] >= 1, "{null:?}");
    // Twelve months, every configured MCO and null in each.
    assert_eq!(file.months.len(), 12 * (room.config.mcos.len() + 1));
    assert_eq!(file.registrations.len(), 12);

    // The report of the same window has the file's figures, and the overdue ticket.
    let report: Value = serde_json::from_str(&portal(&room, &["report", "--json"])).unwrap();
    let mut as_file = report.clone();
    for key in ["from", "to", "overdue_tickets"] {
        as_file.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(serde_json::from_value::<Statistics>(as_file).unwrap(), file);
    assert_eq!(report["to"], today.to_string());
    assert_eq!(report["from"], format!("{}-01", file.months[0].month));
    assert_eq!(
        report["overdue_tickets"],
        serde_json::json!([{
            "mco": "AETNA",
            "id": overdue.to_string(),
            "response_due": (today - Days::new(10)).to_string(),
        }])
    );
    assert_eq!(portal(&room, &["report", "--csv"]), file.to_csv());

    // The answered and extended tickets are no longer due: not listed.
    let text = portal(&room, &["report"]);
    assert!(text.contains(&overdue.to_string()), "{text}");
    for id in [answered, extended] {
        assert!(!text.contains(&id.to_string()), "{text}");
    }
    assert!(text.contains("1 overdue ticket."), "{text}");

    // Resolving the overdue ticket rewrites the file at once.
    let id = overdue.to_string();
    portal(
        &room,
        &[
            "tickets",
            "resolve",
            &id,
            "--outcome",
            "resolved",
            "--by",
            "Dana",
        ],
    );
    let file = read_file(&room);
    assert_eq!(total(&file, |row| row.overdue), 0);
    assert_eq!(total(&file, |row| row.complaints), 8);
}

#[test]
fn the_report_narrows_to_its_period() {
    let Scenario { room, today, .. } = scenario();
    let from = today - Days::new(5);
    let report: Value = serde_json::from_str(&portal(
        &room,
        &[
            "report",
            "--from",
            &from.to_string(),
            "--to",
            &today.to_string(),
            "--json",
        ],
    ))
    .unwrap();
    let months: Vec<&str> = report["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["month"].as_str().unwrap())
        .collect();
    let first = from.format("%Y-%m").to_string();
    let last = today.format("%Y-%m").to_string();
    assert!(
        months.iter().all(|month| *month == first || *month == last),
        "{months:?}"
    );
    let complaints: u64 = report["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["complaints"].as_u64().unwrap())
        .sum();
    assert_eq!(
        complaints, 7,
        "the ticket of 40 days ago is outside the period"
    );
    assert_eq!(report["overdue_tickets"], serde_json::json!([]));

    // A period of the day before the first ticket: nothing.
    let before = (today - Days::new(41)).to_string();
    let csv = portal(
        &room,
        &["report", "--from", &before, "--to", &before, "--csv"],
    );
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), room.config.mcos.len() + 1);
    assert!(
        rows.iter().all(|row| row.split(',').nth(2) == Some("0")),
        "{csv}"
    );

    // --from after --to is a usage error.
    let output = room.cli(&[
        "report",
        "--from",
        &today.to_string(),
        "--to",
        &from.to_string(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is after --to"), "{stderr}");
}

#[test]
fn the_file_names_no_provider_sender_claim_or_ticket() {
    let Scenario { room, .. } = scenario();
    let text = std::fs::read_to_string(&room.config.store.statistics_file).unwrap();
    let tickets: Vec<Value> =
        serde_json::from_str(&portal(&room, &["tickets", "list", "--json"])).unwrap();
    let mut private: Vec<String> = vec![
        SAMPLE_NPI.to_owned(),
        PROVIDER.to_owned(),
        "prairie-clinic".to_owned(),
        "PRP-".to_owned(),
        "REG-".to_owned(),
        "@".to_owned(),
    ];
    for ticket in &tickets {
        for line in ticket["lines"].as_array().unwrap() {
            for field in ["npi", "tracking_number"] {
                if let Some(value) = line[field].as_str() {
                    private.push(value.to_owned());
                }
            }
        }
    }
    assert!(private.len() > 10, "the store has lines to look for");
    for needle in &private {
        assert!(!text.contains(needle.as_str()), "{needle} in {text}");
    }
    // Public: anyone may read it.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&room.config.store.statistics_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}
