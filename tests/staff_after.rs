//! The staff commands of the dispute's second half, through the real binary after real
//! intake passes: deciding the one extension, resolving a ticket (each with its two
//! notices, its timeline event and its audit entry, and the exit codes 0 done, 1
//! refused, 2 could not run), finding tickets with `tickets list` filters, reading a
//! stored message with `messages show`, and marking inquiries and messages read.
//!
//! An extension request reaches a ticket by mail from its MCO or provider; here it is
//! written into the ticket directly, the staff side being what is tested.

use chrono::{Days, NaiveDate, TimeZone as _, Utc};
use portal::forms::Status;
use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::ids::TicketId;
use portal::store::{
    AuditEntry, Extension, ExtensionStatus, Inquiry, MessageRecord, Party, Store, Ticket, Tree,
    Writes,
};
use serde_json::Value;

use crate::common::{Mailroom, PROVIDER, Sent, complaint, message};

const INTAKE: &str = "intake@portal.example.gov";
const INQUIRIES: &str = "HFS.Portalinquiries@illinois.gov";
const MCO: &str = "disputes@molina.example";

/// How a run of the CLI ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn cli(room: &Mailroom, args: &[&str]) -> Run {
    let output = room.cli(args);
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Exit 0; returns stdout.
fn done(room: &Mailroom, args: &[&str]) -> String {
    let run = cli(room, args);
    assert_eq!(
        run.code,
        Some(0),
        "portal {args:?}: {}{}",
        run.stdout,
        run.stderr
    );
    run.stdout
}

/// Exit 1 with `error: <reason>` and nothing on stdout; returns stderr.
fn refused(room: &Mailroom, args: &[&str]) -> String {
    let run = cli(room, args);
    assert_eq!(
        run.code,
        Some(1),
        "portal {args:?} should be refused: {}{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    run.stderr
}

/// Exit 2 (usage, config, store); returns stderr.
fn unusable(room: &Mailroom, args: &[&str]) -> String {
    let run = cli(room, args);
    assert_eq!(
        run.code,
        Some(2),
        "portal {args:?} should not run: {}{}",
        run.stdout,
        run.stderr
    );
    run.stderr
}

fn json(room: &Mailroom, args: &[&str]) -> Value {
    let text = done(room, args);
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("portal {args:?} printed no JSON ({error}): {text}"))
}

fn today() -> NaiveDate {
    portal::today::today_in_illinois()
}

/// A registered provider and one forwarded ticket of two lines, received today.
/// The good two-claim workbook [`forwarded`] mails, made once: the writer stamps the
/// time into a workbook, so two made a second apart may differ in size.
fn claims_workbook() -> &'static [u8] {
    static WORKBOOK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    WORKBOOK.get_or_init(|| complaint(Sample::Good, 2))
}

fn forwarded() -> (Mailroom, TicketId) {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Two claims",
        "Attached.",
        &[("claims.xlsx", claims_workbook().to_vec())],
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1, "{report:?}");
    let id = report.tickets[0];
    assert_eq!(ticket(&room, id).status, Status::Forwarded);
    (room, id)
}

fn ticket(room: &Mailroom, id: TicketId) -> Ticket {
    let store = Store::open(&room.config.store.path).unwrap();
    store.record::<Ticket>(id).unwrap().expect("the ticket")
}

/// Changes a stored ticket as mail or time would have.
fn edit(room: &Mailroom, id: TicketId, change: impl FnOnce(&mut Ticket)) {
    let store = Store::open(&room.config.store.path).unwrap();
    let mut ticket: Ticket = store.record(id).unwrap().expect("the ticket");
    change(&mut ticket);
    put_ticket(&store, &ticket);
}

fn put_ticket(store: &Store, ticket: &Ticket) {
    let mut writes = Writes::default();
    writes
        .put(Tree::Tickets, ticket.id.to_string(), ticket)
        .unwrap();
    store.apply(writes).unwrap();
    store.flush().unwrap();
}

/// The one extension, asked for by `party` today.
fn request_extension(room: &Mailroom, id: TicketId, party: Party) {
    edit(room, id, |ticket| {
        ticket.extension = Some(Extension {
            requested_by: party,
            requested_on: today(),
            status: ExtensionStatus::Requested,
            by: None,
            reason: None,
            message: Some("0".repeat(64)),
        });
    });
}

fn audit(room: &Mailroom) -> Vec<AuditEntry> {
    let store = Store::open(&room.config.store.path).unwrap();
    store.all::<AuditEntry>(Tree::Audit).unwrap()
}

/// The notices written with this subject, by recipient.
fn sent(room: &Mailroom, subject: &str) -> Vec<Sent> {
    let mut sent: Vec<Sent> = room
        .outbox()
        .into_iter()
        .filter(|mail| mail.subject == subject)
        .collect();
    sent.sort_by(|a, b| a.to.cmp(&b.to));
    sent
}

/// Exactly one notice to the provider and one to the MCO, both mail we start.
fn to_both(room: &Mailroom, subject: &str) -> Vec<Sent> {
    let sent = sent(room, subject);
    let recipients: Vec<&str> = sent.iter().map(|mail| mail.to.as_str()).collect();
    assert_eq!(recipients, [PROVIDER, MCO], "{subject}");
    for mail in &sent {
        assert_eq!(mail.auto_submitted, "auto-generated", "{subject}");
    }
    sent
}

/// The value of a `  Label:   value` line of a text view.
fn field<'t>(text: &'t str, label: &str) -> Option<&'t str> {
    let label = format!("{label}:");
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(label.as_str()))
        .map(str::trim)
}

fn events(view: &Value) -> Vec<(String, Value)> {
    view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["what"].as_str().unwrap().to_owned(),
                event["by"].clone(),
            )
        })
        .collect()
}

/// `late` is `responded_on > response_due` as the due date stands: a proposal that
/// came after the first due date is in time once the extension asked before it is
/// granted.
#[test]
fn a_granted_extension_judges_a_proposal_against_the_new_due_date() {
    let (room, id) = forwarded();
    let id_text = id.to_string();
    request_extension(&room, id, Party::Mco);
    let due = ticket(&room, id).response_due.unwrap();
    edit(&room, id, |ticket| {
        ticket.status = Status::Responded;
        ticket.responded_on = Some(due + Days::new(1));
        ticket.late = true;
    });
    let view = json(
        &room,
        &["tickets", "extend", &id_text, "--by", "Dana", "--json"],
    );
    assert_eq!(view["response_due"], (due + Days::new(30)).to_string());
    assert_eq!(view["late"], false, "{view:#}");
}

#[test]
fn extend_grants_the_one_extension_and_tells_both_parties() {
    let (room, id) = forwarded();
    let id_text = id.to_string();
    let due = today() + Days::new(30);
    assert_eq!(ticket(&room, id).response_due, Some(due));

    // Nothing asked for yet: refused, nothing sent.
    let files = room.outbox().len();
    let error = refused(&room, &["tickets", "extend", &id_text, "--by", "Dana"]);
    assert!(error.contains("no extension was requested"), "{error}");
    assert_eq!(room.outbox().len(), files);

    request_extension(&room, id, Party::Mco);
    let view = json(
        &room,
        &["tickets", "extend", &id_text, "--by", "Dana", "--json"],
    );
    let new_due = due + Days::new(30);
    assert_eq!(view["response_due"], new_due.to_string());
    assert_eq!(view["extension"]["status"], "granted");
    assert_eq!(view["extension"]["by"], "Dana");
    assert_eq!(view["extension"]["requested_by"], "mco");
    let keys: Vec<&str> = view["extension"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["by", "reason", "requested_by", "requested_on", "status"],
        "PRODUCT.md's extension object, nothing more"
    );
    assert_eq!(view["status"], "forwarded");
    assert_eq!(
        events(&view).last().unwrap(),
        &("more_time_granted".to_owned(), Value::from("Dana"))
    );
    assert_eq!(
        events(&view)[0].0,
        "received",
        "the timeline keeps its start"
    );

    let subject = format!("[{id}] More time granted: response due {new_due}");
    for mail in to_both(&room, &subject) {
        assert!(mail.text.contains(&new_due.to_string()), "{}", mail.text);
        assert!(mail.text.contains(&due.to_string()), "the old due date");
        // The MCO asked: it reads "You asked", the provider reads who did.
        let asker = if mail.to == MCO {
            "You asked"
        } else {
            "Molina Healthcare of Illinois asked"
        };
        assert!(mail.text.contains(asker), "{}", mail.text);
    }
    assert_eq!(room.outbox().len(), files + 2, "two notices, nothing else");
    assert!(
        room.outbox()
            .iter()
            .all(|mail| !mail.subject.to_lowercase().contains("extension")),
        "no subject of ours says extension"
    );
    let entry = audit(&room)
        .into_iter()
        .find(|entry| entry.action == "extension_granted")
        .expect("audited");
    assert_eq!(
        (entry.subject.as_str(), entry.by.as_deref()),
        (id_text.as_str(), Some("Dana"))
    );

    // One extension per ticket: granting or declining again is refused.
    let error = refused(&room, &["tickets", "extend", &id_text, "--by", "Lee"]);
    assert!(
        error.contains("already granted") && error.contains("one extension per ticket"),
        "{error}"
    );
    let error = refused(
        &room,
        &[
            "tickets", "extend", &id_text, "--deny", "--reason", "No", "--by", "Lee",
        ],
    );
    assert!(error.contains("one extension per ticket"), "{error}");
    assert_eq!(ticket(&room, id).response_due, Some(new_due));
    assert_eq!(room.outbox().len(), files + 2);

    // The text form says what happened.
    let (room, id) = forwarded();
    request_extension(&room, id, Party::Provider);
    let text = done(
        &room,
        &["tickets", "extend", &id.to_string(), "--by", "Dana"],
    );
    assert!(
        text.contains("Granted more time") && text.contains(&new_due.to_string()),
        "{text}"
    );
    assert!(
        text.contains(&format!("The notice was sent to {PROVIDER}.")),
        "{text}"
    );
    assert!(
        text.contains(&format!("The notice was sent to {MCO}.")),
        "{text}"
    );
}

#[test]
fn extend_deny_needs_a_reason_and_tells_both_parties_why() {
    let (room, id) = forwarded();
    let id_text = id.to_string();
    request_extension(&room, id, Party::Provider);
    let due = ticket(&room, id).response_due.unwrap();

    // Without --reason the command does not run (usage); a blank one is refused.
    let error = unusable(
        &room,
        &["tickets", "extend", &id_text, "--deny", "--by", "Dana"],
    );
    assert!(error.contains("--reason"), "{error}");
    let error = refused(
        &room,
        &[
            "tickets", "extend", &id_text, "--deny", "--reason", "  ", "--by", "Dana",
        ],
    );
    assert!(error.contains("--reason"), "{error}");
    // A reason without --deny is a usage error.
    unusable(
        &room,
        &[
            "tickets", "extend", &id_text, "--reason", "x", "--by", "Dana",
        ],
    );
    assert_eq!(
        ticket(&room, id).extension.unwrap().status,
        ExtensionStatus::Requested
    );

    let view = json(
        &room,
        &[
            "tickets",
            "extend",
            &id_text,
            "--deny",
            "--reason",
            "The claims are already overdue for review",
            "--by",
            "Dana",
            "--json",
        ],
    );
    assert_eq!(view["response_due"], due.to_string(), "the due date stays");
    assert_eq!(view["extension"]["status"], "denied");
    assert_eq!(
        view["extension"]["reason"],
        "The claims are already overdue for review"
    );
    assert_eq!(
        events(&view).last().unwrap(),
        &("more_time_declined".to_owned(), Value::from("Dana"))
    );
    for mail in to_both(&room, &format!("[{id}] Request for more time declined")) {
        assert!(
            mail.text
                .contains("The claims are already overdue for review"),
            "the reason is told to both: {}",
            mail.text
        );
    }
    let entry = audit(&room)
        .into_iter()
        .find(|entry| entry.action == "extension_declined")
        .expect("audited");
    assert_eq!(entry.by.as_deref(), Some("Dana"));
    assert_eq!(
        entry.reason.as_deref(),
        Some("The claims are already overdue for review")
    );
    let error = refused(&room, &["tickets", "extend", &id_text, "--by", "Dana"]);
    assert!(error.contains("already declined"), "{error}");
}

#[test]
fn extend_refuses_closed_resolved_and_unknown_tickets() {
    let (room, id) = forwarded();
    // A closed ticket with a request on it (as an older store might hold).
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Too early",
        "Attached.",
        &[("early.xlsx", complaint(Sample::TooEarly, 1))],
    ));
    let closed = room.pass().tickets[0];
    assert_eq!(ticket(&room, closed).status, Status::Closed);
    request_extension(&room, closed, Party::Provider);
    let error = refused(
        &room,
        &["tickets", "extend", &closed.to_string(), "--by", "Dana"],
    );
    assert!(error.contains("is closed"), "{error}");

    // A resolved one.
    request_extension(&room, id, Party::Mco);
    done(
        &room,
        &[
            "tickets",
            "resolve",
            &id.to_string(),
            "--outcome",
            "resolved",
            "--by",
            "Dana",
        ],
    );
    let error = refused(
        &room,
        &["tickets", "extend", &id.to_string(), "--by", "Dana"],
    );
    assert!(error.contains("already resolved"), "{error}");
    assert_eq!(
        ticket(&room, id).extension.unwrap().status,
        ExtensionStatus::Requested
    );

    // No such ticket is refused; no ticket id at all is a usage error; so is no --by.
    let error = refused(
        &room,
        &["tickets", "extend", "PRP-1999-000042", "--by", "Dana"],
    );
    assert!(error.contains("PRP-1999-000042"), "{error}");
    let error = unusable(&room, &["tickets", "extend", "PRP-42", "--by", "Dana"]);
    assert!(error.contains("PRP-42"), "{error}");
    unusable(&room, &["tickets", "extend", &closed.to_string()]);
    let error = refused(
        &room,
        &["tickets", "extend", &closed.to_string(), "--by", " "],
    );
    assert!(error.contains("--by"), "{error}");
}

#[test]
fn resolve_ends_a_ticket_once_and_tells_both_parties() {
    let (room, id) = forwarded();
    let id_text = id.to_string();
    let view = json(
        &room,
        &[
            "tickets",
            "resolve",
            &id_text,
            "--outcome",
            "resolved",
            "--by",
            "Dana",
            "--note",
            "The MCO reprocessed both claims",
            "--json",
        ],
    );
    assert_eq!(view["status"], "resolved");
    assert_eq!(
        view["resolution"],
        serde_json::json!({"outcome": "resolved", "on": today(), "by": "Dana",
                           "note": "The MCO reprocessed both claims"})
    );
    assert_eq!(view["overdue"], false);
    assert_eq!(
        events(&view).last().unwrap(),
        &("resolved".to_owned(), Value::from("Dana"))
    );
    for mail in to_both(&room, &format!("[{id}] Complaint resolved")) {
        assert!(
            mail.text.contains("The MCO reprocessed both claims"),
            "{}",
            mail.text
        );
    }
    let entry = audit(&room)
        .into_iter()
        .find(|entry| entry.action == "ticket_resolved")
        .expect("audited");
    assert_eq!(
        (
            entry.subject.as_str(),
            entry.by.as_deref(),
            entry.reason.as_deref()
        ),
        (
            id_text.as_str(),
            Some("Dana"),
            Some("The MCO reprocessed both claims")
        )
    );

    // Never twice, with either outcome.
    let files = room.outbox().len();
    for outcome in ["resolved", "not_resolved"] {
        let error = refused(
            &room,
            &[
                "tickets",
                "resolve",
                &id_text,
                "--outcome",
                outcome,
                "--by",
                "Lee",
            ],
        );
        assert!(error.contains("already resolved"), "{error}");
    }
    assert_eq!(room.outbox().len(), files);
    assert_eq!(ticket(&room, id).resolution.unwrap().by, "Dana");

    // A responded ticket closed by HFS unresolved.
    let (room, id) = forwarded();
    edit(&room, id, |ticket| {
        ticket.status = Status::Responded;
        ticket.responded_on = Some(today());
    });
    let text = done(
        &room,
        &[
            "tickets",
            "resolve",
            &id.to_string(),
            "--outcome",
            "not_resolved",
            "--by",
            "Lee",
        ],
    );
    assert!(
        text.contains("Resolved ticket") && text.contains("not_resolved"),
        "{text}"
    );
    to_both(
        &room,
        &format!("[{id}] Complaint closed by HFS: not resolved"),
    );
    let stored = ticket(&room, id);
    assert_eq!(stored.status, Status::Resolved);
    assert_eq!(stored.resolution.unwrap().note, None);
    assert!(
        audit(&room).iter().any(
            |entry| entry.action == "ticket_not_resolved" && entry.by.as_deref() == Some("Lee")
        )
    );
}

#[test]
fn resolve_refuses_closed_tickets_and_unknown_outcomes() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Too early",
        "Attached.",
        &[("early.xlsx", complaint(Sample::TooEarly, 1))],
    ));
    let closed = room.pass().tickets[0].to_string();
    let error = refused(
        &room,
        &[
            "tickets",
            "resolve",
            &closed,
            "--outcome",
            "resolved",
            "--by",
            "Dana",
        ],
    );
    assert!(
        error.contains("is closed") && error.contains("never reopened"),
        "{error}"
    );
    let error = unusable(
        &room,
        &[
            "tickets",
            "resolve",
            &closed,
            "--outcome",
            "settled",
            "--by",
            "Dana",
        ],
    );
    assert!(error.contains("settled"), "{error}");
    assert_eq!(
        ticket(&room, closed.parse().unwrap()).status,
        Status::Closed
    );
}

/// Copies of a forwarded ticket, each different in one respect, under new ids.
fn variety(room: &Mailroom, id: TicketId) -> Vec<String> {
    let store = Store::open(&room.config.store.path).unwrap();
    let original: Ticket = store.record(id).unwrap().unwrap();
    let year = today().format("%Y").to_string();
    let variant = |number: u32, change: &dyn Fn(&mut Ticket)| {
        let mut ticket = original.clone();
        ticket.id = format!("PRP-{year}-9{number:05}").parse().unwrap();
        change(&mut ticket);
        put_ticket(&store, &ticket);
        ticket.id.to_string()
    };
    let long_ago = today() - Days::new(100);
    vec![
        // Overdue: received 100 days ago, due 70 days ago, no proposal.
        variant(1, &|ticket| {
            ticket.received_on = long_ago;
            ticket.response_due = Some(long_ago + Days::new(30));
        }),
        // Responded, another MCO, another sender.
        variant(2, &|ticket| {
            ticket.status = Status::Responded;
            ticket.responded_on = Some(today());
            ticket.mco = Some("AETNA".to_owned());
            ticket.sender = "Office@Lakeside.example".to_owned();
        }),
        // Another NPI and tracking number on its second line.
        variant(3, &|ticket| {
            ticket.lines[1].npi = Some("1999999992".to_owned());
            ticket.lines[1].tracking_number = Some("ZZ-77/B".to_owned());
        }),
    ]
}

/// The one id a filter should list.
fn only(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

fn listed(room: &Mailroom, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["tickets", "list", "--json"];
    args.extend_from_slice(filters);
    let list = json(room, &args);
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn tickets_list_filters_alone_and_combined() {
    let (room, id) = forwarded();
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Too early",
        "Attached.",
        &[("early.xlsx", complaint(Sample::TooEarly, 1))],
    ));
    let closed = room.pass().tickets[0].to_string();
    let [overdue, responded, other_npi] = <[String; 3]>::try_from(variety(&room, id)).unwrap();
    let good = id.to_string();
    let mut all = vec![
        good.clone(),
        closed.clone(),
        overdue.clone(),
        responded.clone(),
        other_npi.clone(),
    ];
    all.sort();
    assert_eq!(listed(&room, &[]), all);

    let sorted = |mut ids: Vec<&String>| {
        ids.sort();
        ids.into_iter().cloned().collect::<Vec<String>>()
    };
    assert_eq!(listed(&room, &["--status", "closed"]), only(&closed));
    assert_eq!(listed(&room, &["--status", "responded"]), only(&responded));
    assert!(listed(&room, &["--status", "resolved"]).is_empty());
    assert_eq!(
        listed(&room, &["--status", "forwarded"]),
        sorted(vec![&good, &overdue, &other_npi])
    );
    assert_eq!(listed(&room, &["--mco", "aetna"]), only(&responded));
    assert_eq!(
        listed(&room, &["--sender", "OFFICE@lakeside.EXAMPLE"]),
        only(&responded)
    );
    assert_eq!(listed(&room, &["--npi", "1999999992"]), only(&other_npi));
    assert_eq!(
        listed(&room, &["--tracking", " zz-77/b "]),
        only(&other_npi)
    );
    assert_eq!(
        listed(&room, &["--tracking", "0TRK-01001"]),
        sorted(vec![&good, &overdue, &responded]),
        "the second line of the sample ticket and its copies, but not the one changed"
    );
    assert_eq!(listed(&room, &["--overdue"]), only(&overdue));
    let day = today().to_string();
    let long_ago = (today() - Days::new(100)).to_string();
    assert_eq!(listed(&room, &["--until", &long_ago]), only(&overdue));
    assert_eq!(
        listed(&room, &["--since", &long_ago, "--until", &long_ago]),
        only(&overdue)
    );
    assert_eq!(
        listed(&room, &["--since", &day]),
        sorted(vec![&good, &closed, &responded, &other_npi])
    );

    // Combined: every filter must hold.
    assert_eq!(
        listed(
            &room,
            &[
                "--status",
                "forwarded",
                "--mco",
                "MOLINA",
                "--npi",
                SAMPLE_NPI,
                "--since",
                &day
            ]
        ),
        sorted(vec![&good, &other_npi])
    );
    assert!(listed(&room, &["--overdue", "--since", &day]).is_empty());
    assert!(listed(&room, &["--mco", "AETNA", "--status", "forwarded"]).is_empty());

    // The text table: the filtered tickets, overdue and responded said.
    let text = done(&room, &["tickets", "list", "--status", "responded"]);
    assert!(text.contains(&responded) && !text.contains(&good), "{text}");
    assert!(text.contains("RESPONDED") && text.contains(&day), "{text}");
    assert!(text.contains("1 ticket."), "{text}");
    let text = done(&room, &["tickets", "list", "--overdue"]);
    assert!(
        text.contains(&overdue) && text.contains("OVERDUE"),
        "{text}"
    );
    let text = done(&room, &["tickets", "list", "--mco", "YOUTHCARE"]);
    assert!(text.contains("No tickets match."), "{text}");

    // A word that is no status, or no date, is a usage error.
    unusable(&room, &["tickets", "list", "--status", "open"]);
    unusable(&room, &["tickets", "list", "--since", "yesterday"]);
    // So is a filter that can match nothing: an MCO code no MCO has, a reversed period.
    let error = unusable(&room, &["tickets", "list", "--mco", "MOLLINA"]);
    assert!(
        error.contains("MOLLINA") && error.contains("MOLINA"),
        "{error}"
    );
    let error = unusable(
        &room,
        &["tickets", "list", "--since", &day, "--until", &long_ago],
    );
    assert!(error.contains("--since"), "{error}");
}

#[test]
fn tickets_show_prints_the_new_facts_and_the_timeline() {
    let (room, id) = forwarded();
    request_extension(&room, id, Party::Mco);
    done(
        &room,
        &["tickets", "extend", &id.to_string(), "--by", "Dana"],
    );
    let text = done(&room, &["tickets", "show", &id.to_string()]);
    let due = (today() + Days::new(60)).to_string();
    let day = today().to_string();
    assert_eq!(field(&text, "Presented on"), Some(day.as_str()));
    assert_eq!(field(&text, "Responded on"), Some("-"));
    assert_eq!(field(&text, "Overdue"), Some("no"));
    assert_eq!(field(&text, "Response due"), Some(due.as_str()));
    assert_eq!(
        field(&text, "Extension"),
        Some(format!("requested by the MCO on {day}; granted by Dana").as_str())
    );
    assert_eq!(field(&text, "Resolution"), Some("-"));
    for expected in [
        SAMPLE_NPI,
        "0TRK-01000",
        "Timeline (4):",
        "more_time_granted",
        "by Dana",
    ] {
        assert!(text.contains(expected), "{expected:?} missing: {text}");
    }
    let view = json(&room, &["tickets", "show", &id.to_string(), "--json"]);
    assert_eq!(
        view["events"].as_array().unwrap().len(),
        4,
        "received, notice, forwarded, more time granted: {view:#}"
    );
    assert_eq!(view["lines"][0]["npi"], SAMPLE_NPI);
    assert_eq!(view["lines"][0]["tracking_number"], "0TRK-01000");
}

#[test]
fn tickets_export_appends_the_new_columns() {
    let (room, id) = forwarded();
    done(
        &room,
        &[
            "tickets",
            "resolve",
            &id.to_string(),
            "--outcome",
            "resolved",
            "--by",
            "=Dana",
        ],
    );
    let text = done(&room, &["tickets", "export"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, portal::staff::CSV_HEADER);
    assert_eq!(
        header[..12].last().map(String::as_str),
        Some("problems"),
        "appended"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let cell = |row: &csv::StringRecord, name: &str| {
        row[header.iter().position(|h| h == name).unwrap()].to_owned()
    };
    for (row, tracking) in rows.iter().zip(["0TRK-01000", "0TRK-01001"]) {
        assert_eq!(cell(row, "status"), "resolved");
        assert_eq!(cell(row, "resolution_outcome"), "resolved");
        assert_eq!(cell(row, "resolution_on"), today().to_string());
        assert_eq!(cell(row, "resolution_by"), "'=Dana", "neutralised");
        assert_eq!(cell(row, "presented_on"), today().to_string());
        assert_eq!(cell(row, "late"), "false");
        assert_eq!(cell(row, "npi"), SAMPLE_NPI);
        assert_eq!(cell(row, "tracking_number"), tracking);
        assert_eq!(cell(row, "extension_status"), "");
        assert_eq!(cell(row, "decision"), "");
    }
}

/// The hash of the one processed message that `matches`.
fn message_hash(room: &Mailroom, matches: impl Fn(&Value) -> bool) -> String {
    let list = json(room, &["messages", "list", "--json"]);
    let found: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| matches(m))
        .collect();
    assert_eq!(found.len(), 1, "{list:#}");
    found[0]["hash"].as_str().unwrap().to_owned()
}

#[test]
fn messages_show_reads_the_stored_message_until_its_bytes_are_removed() {
    let (room, _) = forwarded();
    let hash = message_hash(&room, |m| m["outcome"]["kind"] == "tickets");
    let workbook = claims_workbook();
    let text = done(&room, &["messages", "show", &hash[..10]]);
    assert_eq!(field(&text, "From"), Some(PROVIDER));
    assert_eq!(field(&text, "Mailbox"), Some("intake"));
    assert!(
        field(&text, "Outcome").is_some_and(|outcome| outcome.starts_with("ticket PRP-")),
        "{text}"
    );
    for expected in [
        format!("Message {hash}"),
        format!("  From: {PROVIDER}"),
        format!("  To: {INTAKE}"),
        "  Subject: Two claims".to_owned(),
        "  Content-Type: multipart/mixed".to_owned(),
        format!("  claims.xlsx ({} bytes)", workbook.len()),
        "Text:\n  Attached.".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing: {text}");
    }
    let shown = json(&room, &["messages", "show", &hash, "--json"]);
    assert_eq!(shown["hash"], hash.as_str());
    assert_eq!(shown["raw"], true);
    assert_eq!(shown["raw_removed_on"], Value::Null);
    assert_eq!(
        shown["attachments"],
        serde_json::json!([{"name": "claims.xlsx", "size": workbook.len()}])
    );
    assert_eq!(shown["text"].as_str().map(str::trim), Some("Attached."));
    let headers = shown["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h["name"] == "Subject" && h["value"] == "Two claims"),
        "{shown:#}"
    );

    // The raw bytes removed (as retention will): the record, and that they are gone.
    {
        let store = Store::open(&room.config.store.path).unwrap();
        let mut writes = Writes::default();
        writes.remove(Tree::Raw, &hash);
        let mut record: portal::store::MessageRecord =
            store.get(Tree::Messages, &hash).unwrap().unwrap();
        record.raw_removed = Some(chrono::Utc::now());
        writes.put(Tree::Messages, &hash, &record).unwrap();
        store.apply(writes).unwrap();
        store.flush().unwrap();
    }
    let text = done(&room, &["messages", "show", &hash]);
    assert!(
        text.contains("Raw bytes removed.") && !text.contains("Subject: Two claims"),
        "{text}"
    );
    assert_eq!(field(&text, "From"), Some(PROVIDER));
    let shown = json(&room, &["messages", "show", &hash, "--json"]);
    assert_eq!(shown["raw"], false);
    assert_eq!(shown["headers"], Value::Null);
    assert_eq!(shown["attachments"], Value::Null);
    let list = json(&room, &["messages", "list", "--json"]);
    for item in list.as_array().unwrap() {
        assert_eq!(item["raw"], item["hash"] != hash.as_str(), "{item}");
    }
    let text = done(&room, &["messages", "list"]);
    let removed: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("[raw removed]"))
        .collect();
    assert!(
        removed.len() == 1 && removed[0].starts_with(&hash[..12]),
        "{text}"
    );

    // With the removal audited, its day.
    let removed_at = Utc.with_ymd_and_hms(2031, 5, 6, 15, 0, 0).unwrap();
    {
        let store = Store::open(&room.config.store.path).unwrap();
        let mut writes = Writes::default();
        writes
            .audit(&store, removed_at, "raw_removed", &hash, None, None)
            .unwrap();
        store.apply(writes).unwrap();
        store.flush().unwrap();
    }
    let text = done(&room, &["messages", "show", &hash]);
    assert!(text.contains("Raw bytes removed on 2031-05-06."), "{text}");
    assert_eq!(
        json(&room, &["messages", "show", &hash, "--json"])["raw_removed_on"],
        "2031-05-06"
    );

    // No such message is refused; no hash at all is a usage error.
    let unknown = if hash.starts_with('0') { "1" } else { "0" }.repeat(12);
    assert!(refused(&room, &["messages", "show", &unknown]).contains(&unknown));
    unusable(&room, &["messages", "show", "not-a-hash"]);
}

#[test]
fn inquiries_and_messages_are_marked_read_once() {
    let room = Mailroom::new("");
    room.deliver_inquiry(&message(
        "office@lakeside.example",
        INQUIRIES,
        "How do we register?",
        "Hello.",
        &[],
    ));
    let inquiry = room.pass().inquiries[0];
    let id = inquiry.to_string();
    let text = done(
        &room,
        &["inquiries", "mark-read", &id.to_lowercase(), "--by", "Dana"],
    );
    assert!(
        text.contains(&id) && text.contains("marked read by Dana"),
        "{text}"
    );
    let text = done(&room, &["inquiries", "mark-read", &id, "--by", "Lee"]);
    assert!(
        text.contains("already read") && text.contains("Dana"),
        "{text}"
    );
    let stored: Inquiry = {
        let store = Store::open(&room.config.store.path).unwrap();
        store.record(inquiry).unwrap().unwrap()
    };
    assert_eq!(stored.read.map(|mark| mark.by).as_deref(), Some("Dana"));
    assert!(done(&room, &["inquiries", "list"]).contains("by Dana"));

    let hash = message_hash(&room, |m| m["outcome"]["kind"] == "inquiry");
    let text = done(
        &room,
        &["messages", "mark-read", &hash[..8], "--by", "Dana"],
    );
    assert!(
        text.contains(&hash[..12]) && text.contains("marked read"),
        "{text}"
    );
    let text = done(&room, &["messages", "mark-read", &hash, "--by", "Lee"]);
    assert!(text.contains("already read"), "{text}");
    let record: MessageRecord = {
        let store = Store::open(&room.config.store.path).unwrap();
        store.get(Tree::Messages, &hash).unwrap().unwrap()
    };
    assert_eq!(record.read.map(|mark| mark.by).as_deref(), Some("Dana"));
    assert!(done(&room, &["messages", "list"]).contains("[read]"));

    // Each marked once in the audit trail, by whom.
    let trail = audit(&room);
    let marks: Vec<(&str, &str, Option<&str>)> = trail
        .iter()
        .filter(|entry| entry.action.ends_with("_read"))
        .map(|entry| {
            (
                entry.action.as_str(),
                entry.subject.as_str(),
                entry.by.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        marks,
        [
            ("inquiry_read", id.as_str(), Some("Dana")),
            ("message_read", &hash[..12], Some("Dana")),
        ]
    );

    // Unknown ids are refused, malformed ones and a missing --by are usage errors.
    assert!(
        refused(
            &room,
            &["inquiries", "mark-read", "INQ-1999-000001", "--by", "Dana"]
        )
        .contains("INQ-1999-000001")
    );
    unusable(&room, &["inquiries", "mark-read", "INQ-1", "--by", "Dana"]);
    unusable(&room, &["messages", "mark-read", &hash]);
    assert!(refused(&room, &["messages", "mark-read", &hash, "--by", ""]).contains("--by"));
}
