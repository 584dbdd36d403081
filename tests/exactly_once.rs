//! Exactly once, crash or not. The intake's order is record → flush → send notice →
//! mark sent → move message; a run killed at any instant and started again must file
//! no ticket twice, lose no message and send at most the one notice in flight twice.
//!
//! One mixed mailbox (complaints good, too early and incomplete, a complaint from an
//! unregistered sender, help, an auto-reply, a bounce, a message without a sender, a
//! redelivered copy, a registration form, inquiries, an MCO's proposal with its
//! returned workbook) is run once cleanly by the real `portal intake --once` for the
//! expected outcome, itself checked against counts derived by hand. The run is also
//! the first of its Illinois day: its daily work sends the MCO one overdue reminder
//! for a complaint the setup filed 40 days before. Then the same mailbox is run by a
//! process that dies — aborted at every crash point (`--features failpoints`) or
//! killed with SIGKILL at seeded random moments — and run again to completion; the
//! store (tickets with their proposals, timeline and reminders included), the outbox
//! and both Maildirs must end as the clean run left them, but for at most one notice
//! sent twice per death.
//! Nothing here sleeps to wait: it waits on a condition (a file appears, a message
//! leaves the inbox, the process exits) or on a random delay that is the moment itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use chrono::{Days, NaiveDate};
use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::forms::schema::claim;
use portal::forms::{McoDecision, Record, Value};
use portal::mail::Folder;
use portal::mail::maildir::Maildir;
use portal::store::{Delivery, Inquiry, MessageRecord, Notice, Registration, Store, Ticket, Tree};
use serde_json::json;

use crate::common::{
    self, Mailroom, PROVIDER, XorShift, deliver_on, message, portal_bin, portal_on,
    registration_form,
};

const INTAKE: &str = "intake@portal.example.gov";
const INQUIRIES: &str = "HFS.Portalinquiries@illinois.gov";
/// Sends a complaint, a help request and an inquiry without being registered.
const STRANGER: &str = "office@unregistered-clinic.example";
/// Mails a registration form.
const NEWCOMER: &str = "frontdesk@lakeside-clinic.example";
const MOLINA: &str = "disputes@molina.example";
const AETNA: &str = "disputes@aetna.example";
/// Index of each MCO in the configured list (the shipped order).
const MCO_AETNA: usize = 0;
const MCO_MOLINA: usize = 4;

// ---------------------------------------------------------------------------------
// The mixed mailbox
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbox {
    Intake,
    Inquiries,
}

/// One message of the mixed mailbox, what intake must make of it and where it must end.
struct Mail {
    what: &'static str,
    inbox: Inbox,
    raw: Vec<u8>,
    expect: Expect,
    folder: Folder,
}

/// What a clean run makes of a message, derived by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A ticket with every line forwarded to the MCO.
    Forwarded,
    /// A ticket forwarded with some lines closed.
    PartlyClosed,
    /// A ticket with every line closed.
    Closed,
    NotRegistered,
    Help,
    Automatic,
    Quarantined,
    Registration,
    Inquiry,
    /// The MCO's proposal on the setup's ticket [`ANSWERED`]: that ticket responded.
    Proposal,
    /// The same bytes as a message before it: only moved.
    Again,
}

/// A complaint template of `count` sample lines received today, for the MCO at `mco`.
fn complaint_for(sample: Sample, mco: usize, count: usize) -> Vec<u8> {
    let config = common::config();
    let lines = portal::forms::samples::complaint_lines(
        sample,
        portal::today::today_in_illinois(),
        mco,
        count,
    );
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

fn with_header(header: &str, raw: Vec<u8>) -> Vec<u8> {
    let mut bytes = format!("{header}\r\n").into_bytes();
    bytes.extend(raw);
    bytes
}

/// The mailbox, built once per test process so every mailroom gets the same bytes
/// (and the same hashes and Message-IDs). Each complaint has its own line count, so
/// no two files are alike (identical bytes are one message, on purpose).
fn mixed_mailbox() -> &'static [Mail] {
    static MAILBOX: OnceLock<Vec<Mail>> = OnceLock::new();
    MAILBOX.get_or_init(|| {
        use Expect::*;
        use Folder::{Processed, Quarantine};
        use Inbox::{Inquiries, Intake};
        let complaint = |from: &str, subject: &str, sample: Sample, mco: usize, lines: usize| {
            let file = complaint_for(sample, mco, lines);
            message(
                from,
                INTAKE,
                subject,
                "Complaint attached.",
                &[("complaint.xlsx", file)],
            )
        };
        let plain =
            |from: &str, to: &str, subject: &str| message(from, to, subject, "Thanks.", &[]);
        let mail = |what, inbox, raw, expect| {
            let folder = if expect == Quarantined {
                Quarantine
            } else {
                Processed
            };
            Mail {
                what,
                inbox,
                raw,
                expect,
                folder,
            }
        };
        let first = complaint(PROVIDER, "Complaint 1", Sample::Good, MCO_MOLINA, 1);
        let form = registration_form(NEWCOMER, SAMPLE_NPI);
        let proposal = molina_answer(setup());
        vec![
            mail("good, 1 line, Molina", Intake, first.clone(), Forwarded),
            mail(
                "too early, 2 lines",
                Intake,
                complaint(PROVIDER, "Complaint 2", Sample::TooEarly, MCO_MOLINA, 2),
                Closed,
            ),
            mail(
                "help from the provider",
                Intake,
                plain(PROVIDER, INTAKE, "How do I send a complaint?"),
                Help,
            ),
            mail(
                "incomplete, 3 lines",
                Intake,
                complaint(PROVIDER, "Complaint 3", Sample::Incomplete, MCO_MOLINA, 3),
                Closed,
            ),
            mail(
                "good, 3 lines, Molina, the first a duplicate of complaint 1",
                Intake,
                complaint(PROVIDER, "Complaint 4", Sample::Good, MCO_MOLINA, 3),
                PartlyClosed,
            ),
            mail(
                "auto-reply",
                Intake,
                with_header(
                    "Auto-Submitted: auto-replied",
                    plain(PROVIDER, INTAKE, "Out of office"),
                ),
                Automatic,
            ),
            mail(
                "complaint from an unregistered sender",
                Intake,
                complaint(STRANGER, "Complaint", Sample::Good, MCO_MOLINA, 4),
                NotRegistered,
            ),
            mail(
                "bounce",
                Intake,
                with_header(
                    "Return-Path: <>",
                    plain(
                        "MAILER-DAEMON@mx.prairie-clinic.example",
                        INTAKE,
                        "Undelivered Mail",
                    ),
                ),
                Automatic,
            ),
            mail(
                "Molina's proposal on the setup's ticket, with the returned workbook",
                Intake,
                proposal,
                Proposal,
            ),
            mail(
                "good, 2 lines, Aetna",
                Intake,
                complaint(PROVIDER, "Complaint 5", Sample::Good, MCO_AETNA, 2),
                Forwarded,
            ),
            mail(
                "registration form from a new address",
                Intake,
                message(
                    NEWCOMER,
                    INTAKE,
                    "Registration",
                    "Form attached.",
                    &[("form.xlsx", form)],
                ),
                Registration,
            ),
            mail(
                "help from a stranger",
                Intake,
                plain(STRANGER, INTAKE, "Question"),
                Help,
            ),
            mail(
                "no sender",
                Intake,
                b"To: intake@portal.example.gov\r\nSubject: no sender\r\n\
                  Message-ID: <no-sender-1@relay.example>\r\n\r\nHello.\r\n"
                    .to_vec(),
                Quarantined,
            ),
            mail(
                "too early, 1 line",
                Intake,
                complaint(PROVIDER, "Complaint 6", Sample::TooEarly, MCO_MOLINA, 1),
                Closed,
            ),
            mail("complaint 1 delivered again", Intake, first, Again),
            mail(
                "inquiry from the provider",
                Inquiries,
                plain(PROVIDER, INQUIRIES, "When is my ticket answered?"),
                Inquiry,
            ),
            mail(
                "inquiry from a stranger",
                Inquiries,
                plain(STRANGER, INQUIRIES, "Who can register?"),
                Inquiry,
            ),
            mail(
                "auto-reply to inquiries",
                Inquiries,
                with_header(
                    "Auto-Submitted: auto-replied",
                    plain(STRANGER, INQUIRIES, "Away"),
                ),
                Automatic,
            ),
        ]
    })
}

/// Notices the setup sent before the run (kind, recipient, how many).
const SETUP_NOTICES: &[(&str, &str, usize)] = &[
    ("registration_received", PROVIDER, 1), // the provider's registration
    ("registration_approved", PROVIDER, 1), // and its approval
    ("accepted", PROVIDER, 2),              // the overdue and the answered complaint
    ("mco_forward", MOLINA, 2),             // both forwarded
];
/// Notices a clean run of the mixed mailbox sends (kind, recipient, how many), derived
/// by hand from the mailbox above and the setup's overdue ticket.
const EXPECTED_NOTICES: &[(&str, &str, usize)] = &[
    ("accepted", PROVIDER, 2),  // good Molina 1 line, good Aetna
    ("closed", PROVIDER, 4),    // too early ×2, incomplete, partly closed
    ("mco_forward", MOLINA, 2), // good 1 line, the 2 new lines of the 3
    ("mco_forward", AETNA, 1),
    ("help", PROVIDER, 1),
    ("help", STRANGER, 1),
    ("not_registered", STRANGER, 1),
    ("registration_received", NEWCOMER, 1),
    ("inquiry_answer", PROVIDER, 1),
    ("inquiry_answer", STRANGER, 1),
    ("proposal_received", PROVIDER, 1), // Molina's proposal, every row decided
    ("overdue_reminder", MOLINA, 1),    // the day's work: the setup's overdue ticket
];
/// Tickets: good ×3 (one partly closed), too early ×2, incomplete; and the setup's two.
const EXPECTED_TICKETS: usize = 8;
/// The setup's (active) and the newcomer's (pending).
const EXPECTED_REGISTRATIONS: usize = 2;
const EXPECTED_INQUIRIES: usize = 2;

/// A mailroom laid down from the setup, with the mixed mailbox delivered.
struct Prepared {
    room: Mailroom,
    /// Delivered message ids and where each must end.
    delivered: Vec<(Inbox, String, Folder)>,
    /// What each delivered message is, by id (for failures).
    names: BTreeMap<String, &'static str>,
    /// Ids already in the intake's Processed folder before (the setup's mail).
    setup_processed: Vec<String>,
}

/// Days before the run the setup's overdue complaint came in, and the provider
/// registered: due 30 days after it came, so 10 days overdue on the run's day.
const OVERDUE_AGE: u64 = 40;
/// Days before the run the complaint Molina answers in the mailbox came in: due 10
/// days after the run. The setup's last pass is on that day, before the overdue
/// ticket's due date, so no pass has reminded anyone yet: the run's pass, the first
/// of its day, does the day's work.
const ANSWERED_AGE: u64 = 20;
/// Molina's decision for each row of the answered complaint, in order.
const DECISIONS: [McoDecision; 2] = [McoDecision::PaidInFull, McoDecision::DenialUpheld];

/// The setup's messages, as the outcomes name them.
const REGISTERED: &str = "setup: the provider's registration";
const OVERDUE: &str = "setup: the complaint 40 days old, overdue";
const ANSWERED: &str = "setup: the complaint 20 days old, answered by Molina";

/// What every run starts from, made once: the provider registered and two complaints
/// for Molina filed and forwarded on the days they came, each pass run with the clock
/// of that day (Debian's `faketime`, as in tests/daily.rs; a missing one fails the
/// setup). Kept as the files of the store, the Maildirs and the outbox, laid down in
/// every new mailroom, so no run pays for the setup again.
struct Setup {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    /// The setup's messages by hash: [`REGISTERED`], [`OVERDUE`], [`ANSWERED`].
    messages: BTreeMap<String, &'static str>,
    /// The id of the ticket Molina answers, and the lines it forwarded.
    answered: String,
    answered_lines: Vec<Record>,
    /// The overdue ticket's response due date.
    overdue_due: NaiveDate,
}

/// `count` good sample lines for Molina received on `day`, numbered from `first` so
/// that no claim is a duplicate of another complaint's (the mailbox's lines are
/// numbered from 1000).
fn setup_lines(day: NaiveDate, count: usize, first: usize) -> Vec<Record> {
    let mut lines = portal::forms::samples::complaint_lines(Sample::Good, day, MCO_MOLINA, count);
    for (index, line) in lines.iter_mut().enumerate() {
        let number = first + index;
        line.values[claim::TRACKING_NUMBER] = Some(Value::Text(format!("0TRK-{number:05}")));
        line.values[claim::CLAIM_NUMBER] = Some(Value::Text(format!("CLM{number:07}")));
    }
    lines
}

fn setup_complaint(subject: &str, lines: &[Record]) -> Vec<u8> {
    let config = common::config();
    let file =
        portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, lines).unwrap();
    message(
        PROVIDER,
        INTAKE,
        subject,
        "Complaint attached.",
        &[("complaint.xlsx", file)],
    )
}

fn setup() -> &'static Setup {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                files.push((relative, None));
                walk(root, &path, files);
            } else {
                files.push((relative, Some(std::fs::read(&path).unwrap())));
            }
        }
    }
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let room = Mailroom::new("");
        let today = portal::today::today_in_illinois();
        let (long_ago, lately) = (
            today - Days::new(OVERDUE_AGE),
            today - Days::new(ANSWERED_AGE),
        );
        let once = ["intake", "--once"];
        let form = message(
            PROVIDER,
            INTAKE,
            "Registration",
            "Form attached.",
            &[(
                "registration-form.xlsx",
                registration_form(PROVIDER, SAMPLE_NPI),
            )],
        );
        deliver_on(&room, &form, long_ago);
        portal_on(&room, long_ago, &once);
        let registration = only(&room, Tree::Registrations, |_: &Registration| true).id;
        let registration = registration.to_string();
        portal_on(
            &room,
            long_ago,
            &["registrations", "approve", &registration, "--by", "tester"],
        );
        let overdue = setup_complaint("Complaint", &setup_lines(long_ago, 1, 7000));
        deliver_on(&room, &overdue, long_ago);
        portal_on(&room, long_ago, &once);
        let answered_lines = setup_lines(lately, DECISIONS.len(), 8000);
        let answered = setup_complaint("Another complaint", &answered_lines);
        deliver_on(&room, &answered, lately);
        portal_on(&room, lately, &once);

        let hash = |raw: &[u8]| portal::intake::hash(raw);
        let ticket_of = |raw: &[u8]| {
            only(&room, Tree::Tickets, |ticket: &Ticket| {
                ticket.message == hash(raw)
            })
        };
        let overdue_due = ticket_of(&overdue).response_due.expect("forwarded");
        assert_eq!(overdue_due, long_ago + Days::new(30));
        let answered_ticket = ticket_of(&answered);
        assert!(answered_ticket.response_due.is_some_and(|due| due > today));
        let reminders = room
            .outbox()
            .into_iter()
            .filter(|notice| notice.subject.ends_with("] Response overdue"))
            .count();
        assert_eq!(reminders, 0, "the setup reminds no one: the run does");
        let mut files = Vec::new();
        for folder in ["store", "mail", "outbox"] {
            files.push((PathBuf::from(folder), None));
            walk(room.dir.path(), &room.path(folder), &mut files);
        }
        Setup {
            files,
            messages: BTreeMap::from([
                (hash(&form), REGISTERED),
                (hash(&overdue), OVERDUE),
                (hash(&answered), ANSWERED),
            ]),
            answered: answered_ticket.id.to_string(),
            answered_lines,
            overdue_due,
        }
    })
}

/// The one record of `tree` in the mailroom's store that `wanted` picks.
fn only<T: serde::de::DeserializeOwned>(
    room: &Mailroom,
    tree: Tree,
    wanted: impl Fn(&T) -> bool,
) -> T {
    let store = Store::open(&room.config.store.path).unwrap();
    let mut found: Vec<T> = store.all::<T>(tree).unwrap();
    found.retain(|record| wanted(record));
    assert_eq!(found.len(), 1, "one record of {tree:?} is wanted");
    found.pop().unwrap()
}

/// Molina's answer to the setup's [`ANSWERED`] ticket, from its dispute address: the
/// returned workbook with a decision on every forwarded row.
fn molina_answer(setup: &Setup) -> Vec<u8> {
    let config = common::config();
    let answers: Vec<portal::forms::write::Answer<'_>> = setup
        .answered_lines
        .iter()
        .zip(DECISIONS)
        .map(|(line, decision)| (line.row, decision, "Reviewed against the claim history."))
        .collect();
    let id = &setup.answered;
    let workbook = portal::forms::write::mco_response_answered(
        id,
        &config.mcos,
        &config.rules,
        &setup.answered_lines,
        &answers,
    )
    .unwrap();
    message(
        MOLINA,
        INTAKE,
        &format!("Re: [{id}] Provider complaint forwarded by Illinois HFS"),
        "Our proposal is in the attached workbook.",
        &[(&format!("{id}.xlsx"), workbook)],
    )
}

fn prepared() -> Prepared {
    let room = Mailroom::new("");
    for (relative, bytes) in &setup().files {
        match bytes {
            None => std::fs::create_dir_all(room.dir.path().join(relative)).unwrap(),
            Some(bytes) => std::fs::write(room.dir.path().join(relative), bytes).unwrap(),
        }
    }
    let setup_processed = room.intake_folder(Some(Folder::Processed));
    let intake = Maildir::open(&room.path("mail/intake")).unwrap();
    let inquiries = Maildir::open(&room.path("mail/inquiries")).unwrap();
    // Received in the listed order, a millisecond apart: the order (and so which
    // claim line is the duplicate) never depends on the clock's resolution.
    let start = SystemTime::now();
    let mut delivered = Vec::new();
    let mut names = BTreeMap::new();
    for (index, mail) in mixed_mailbox().iter().enumerate() {
        let (maildir, root) = match mail.inbox {
            Inbox::Intake => (&intake, "mail/intake"),
            Inbox::Inquiries => (&inquiries, "mail/inquiries"),
        };
        let id = maildir.deliver(&mail.raw).unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(room.path(root).join("new").join(&id))
            .unwrap();
        file.set_modified(start + Duration::from_millis(index as u64))
            .unwrap();
        names.insert(id.clone(), mail.what);
        delivered.push((mail.inbox, id, mail.folder));
    }
    Prepared {
        room,
        delivered,
        names,
        setup_processed,
    }
}

// ---------------------------------------------------------------------------------
// Running the real binary
// ---------------------------------------------------------------------------------

/// `portal intake --once` on the mailroom, with crash points armed by `failpoints`.
fn intake_command(room: &Mailroom, failpoints: Option<&str>) -> Command {
    let mut command = Command::new(portal_bin());
    command
        .arg("--config")
        .arg(&room.config_path)
        .args(["intake", "--once"])
        .current_dir(room.dir.path())
        .stdin(Stdio::null())
        .env_remove("PORTAL_FAILPOINTS");
    if let Some(spec) = failpoints {
        command.env("PORTAL_FAILPOINTS", spec);
    }
    // No core files from the aborts.
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    command
}

/// Runs intake again, to the end: it must exit on its own (0, or 1 when it
/// quarantined something this time).
fn run_to_completion(room: &Mailroom) -> Result<(), String> {
    let output = intake_command(room, None)
        .output()
        .map_err(|error| format!("portal does not run: {error}"))?;
    match output.status.code() {
        Some(0 | 1) => Ok(()),
        _ => Err(format!(
            "the run after the crash did not complete: {}\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

fn died_of(status: ExitStatus, signal: i32) -> bool {
    status.signal() == Some(signal)
}

// ---------------------------------------------------------------------------------
// What a run left behind
// ---------------------------------------------------------------------------------

/// `PRP-2026-000123` → `PRP-#`: numbers may be skipped after a crash (never reused),
/// so outcomes are compared without them.
fn without_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        let rest = &chars[index..];
        let is_id = rest.len() >= 15
            && ["PRP-", "REG-", "INQ-"]
                .iter()
                .any(|prefix| rest[..4].iter().copied().eq(prefix.chars()))
            && rest[4..8].iter().all(char::is_ascii_digit)
            && rest[8] == '-'
            && rest[9..15].iter().all(char::is_ascii_digit);
        if is_id {
            out.extend(&rest[..4]);
            out.push('#');
            index += 15;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

/// Everything checked after a run, comparable between mailrooms.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// Per ticket: the message hash (or the setup's name for it), and what was made of
    /// it after the forward ([`ticket_outcome`]).
    tickets: Vec<(String, serde_json::Value)>,
    /// Per registration: the message hash (or the setup's name), email, status.
    registrations: Vec<(String, String, String)>,
    /// Per inquiry: the message hash and sender.
    inquiries: Vec<(String, String)>,
    /// Per processed-message record: hash, mailbox, outcome (ids stripped).
    messages: Vec<(String, String, String)>,
    /// Per notice in the store: kind, recipient, subject (ids stripped), delivery.
    notices: Vec<(String, String, String, String)>,
}

/// The outbox folder: complete notices by Message-ID, and files that are not a
/// complete message (a send cut short by a kill).
#[derive(Debug, Default)]
struct Outbox {
    sent: BTreeMap<String, usize>,
    partial: Vec<String>,
}

/// The Message-IDs of the notices in the store.
fn notice_ids(prepared: &Prepared) -> BTreeSet<String> {
    let store =
        Store::open(&prepared.room.config.store.path).expect("the store opens after the run");
    let notices = store.all::<Notice>(Tree::Outbox).unwrap();
    notices
        .iter()
        .map(|notice| notice.message_id.trim_matches(['<', '>']).to_owned())
        .collect()
}

fn outcome(prepared: &Prepared) -> Outcome {
    let store =
        Store::open(&prepared.room.config.store.path).expect("the store opens after the run");
    let setup = setup();
    let known = |hash: &str| {
        setup
            .messages
            .get(hash)
            .map_or_else(|| hash.to_owned(), |name| (*name).to_owned())
    };
    let today = portal::today::today_in_illinois();
    let mut tickets: Vec<(String, serde_json::Value)> = store
        .all::<Ticket>(Tree::Tickets)
        .unwrap()
        .iter()
        .map(|ticket| {
            (
                known(&ticket.message),
                ticket_outcome(ticket, &known, today),
            )
        })
        .collect();
    tickets.sort_by_key(|(known, ticket)| (known.clone(), ticket.to_string()));
    let mut registrations: Vec<(String, String, String)> = store
        .all::<Registration>(Tree::Registrations)
        .unwrap()
        .iter()
        .map(|registration| {
            (
                known(&registration.message),
                registration.email.clone(),
                json(&registration.status),
            )
        })
        .collect();
    registrations.sort();
    let mut inquiries: Vec<(String, String)> = store
        .all::<Inquiry>(Tree::Inquiries)
        .unwrap()
        .iter()
        .map(|inquiry| (known(&inquiry.message), inquiry.from.clone()))
        .collect();
    inquiries.sort();
    let mut messages: Vec<(String, String, String)> = store
        .all::<MessageRecord>(Tree::Messages)
        .unwrap()
        .iter()
        .map(|record| {
            (
                known(&record.hash),
                record.mailbox.to_string(),
                without_ids(&record.outcome.label()),
            )
        })
        .collect();
    messages.sort();
    let mut notices: Vec<(String, String, String, String)> = store
        .all::<Notice>(Tree::Outbox)
        .unwrap()
        .iter()
        .map(|notice| {
            let delivery = match notice.delivery {
                Delivery::Sent { .. } => "sent".to_owned(),
                ref other => format!("{other:?}"),
            };
            (
                notice.kind.to_string(),
                notice.to.clone(),
                without_ids(&notice.subject),
                delivery,
            )
        })
        .collect();
    notices.sort();
    Outcome {
        tickets,
        registrations,
        inquiries,
        messages,
        notices,
    }
}

/// What a run made of a ticket: its status and lines (decisions and comments with
/// them), its dates after the forward, each proposal by the hash of its message, its
/// timeline and the due dates it was reminded of. A proposal or a reminder recorded
/// twice shows here twice. The run's own day is written `today`, so a reference made
/// before midnight in Illinois still compares with a run after it.
fn ticket_outcome(
    ticket: &Ticket,
    known: &dyn Fn(&str) -> String,
    today: NaiveDate,
) -> serde_json::Value {
    let proposals: Vec<String> = ticket
        .proposals
        .iter()
        .map(|proposal| known(&proposal.message))
        .collect();
    let text = json!({
        "status": ticket.status,
        "lines": ticket.lines,
        "presented_on": ticket.presented_on,
        "response_due": ticket.response_due,
        "responded_on": ticket.responded_on,
        "late": ticket.late,
        "extension": ticket.extension,
        "resolution": ticket.resolution,
        "proposals": proposals,
        "events": ticket.events,
        "reminded": ticket.reminded,
    })
    .to_string()
    .replace(&format!("\"{today}\""), "\"today\"");
    serde_json::from_str(&text).unwrap()
}

/// A record's field as JSON text, to compare what has no `Display`.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

fn outbox(room: &Mailroom) -> Outbox {
    let mut outbox = Outbox::default();
    let Ok(entries) = std::fs::read_dir(room.path("outbox")) else {
        return outbox;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw[..]);
        let complete = parsed.as_ref().and_then(|message| {
            message.to()?.first()?.address()?;
            message.subject()?;
            // The text part comes after the headers; a cut file lacks it.
            message.body_text(0)?;
            Some(message.message_id()?.to_owned())
        });
        match complete {
            Some(key) => *outbox.sent.entry(key).or_default() += 1,
            None => outbox
                .partial
                .push(format!("{} ({} bytes)", path.display(), raw.len())),
        }
    }
    outbox
}

/// Message ids per folder of one Maildir: inbox, Processed, Quarantine.
fn folders(root: &Path) -> [Vec<String>; 3] {
    let maildir = Maildir::open(root).unwrap();
    [None, Some(Folder::Processed), Some(Folder::Quarantine)]
        .map(|folder| maildir.ids(folder).unwrap())
}

/// What one clean run of the mixed mailbox leaves: the expected outcome.
struct Reference {
    outcome: Outcome,
    /// How long the clean run took: the range of the random kill delays.
    duration: Duration,
    /// Complete notices the clean run sent (for the kill moments).
    notices: usize,
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let prepared = prepared();
        let before = outbox(&prepared.room).sent.values().sum::<usize>();
        let started = Instant::now();
        let output = intake_command(&prepared.room, None).output().unwrap();
        let duration = started.elapsed();
        assert_eq!(
            output.status.code(),
            Some(1),
            "the clean run quarantines one message: {output:?}"
        );
        let outcome = outcome(&prepared);
        let sent = outbox(&prepared.room);
        assert!(sent.partial.is_empty(), "{:?}", sent.partial);
        if let Err(error) = check_maildirs(&prepared) {
            panic!("the clean run: {error}");
        }

        // The clean run against what the mailbox must give, derived by hand: each
        // message's outcome, then the totals.
        for mail in mixed_mailbox() {
            let hash = portal::intake::hash(&mail.raw);
            let label = outcome.messages.iter().find(|(known, _, _)| *known == hash);
            let label = label.map_or("-", |(_, _, label)| label.as_str());
            let tickets: Vec<&serde_json::Value> = outcome
                .tickets
                .iter()
                .filter(|(known, _)| *known == hash)
                .map(|(_, ticket)| ticket)
                .collect();
            let ticket = |status: &str, closed_lines: bool| {
                label == "ticket PRP-#"
                    && tickets.len() == 1
                    && tickets[0]["status"] == status
                    && tickets[0]["lines"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|line| line["status"] == "closed")
                        == closed_lines
            };
            let as_expected = match mail.expect {
                Expect::Forwarded => ticket("forwarded", false),
                Expect::PartlyClosed => ticket("forwarded", true),
                Expect::Closed => ticket("closed", true),
                Expect::NotRegistered => label == "not_registered",
                Expect::Help => label == "help",
                Expect::Automatic => label == "automatic",
                Expect::Quarantined => label == "quarantined",
                Expect::Registration => {
                    label == "registration REG-#"
                        && outcome.registrations.contains(&(
                            hash.clone(),
                            NEWCOMER.to_owned(),
                            "\"pending\"".to_owned(),
                        ))
                }
                Expect::Inquiry => {
                    label == "inquiry INQ-#"
                        && outcome.inquiries.iter().any(|(known, _)| *known == hash)
                }
                Expect::Proposal => label == "proposal on PRP-#" && tickets.is_empty(),
                Expect::Again => label == "ticket PRP-#" && tickets.len() == 1,
            };
            assert!(
                as_expected,
                "{}: expected {:?}, the clean run made it {label} {tickets:?}",
                mail.what, mail.expect
            );
        }
        check_setup_tickets(&outcome);
        assert_eq!(
            outcome.tickets.len(),
            EXPECTED_TICKETS,
            "{:#?}",
            outcome.tickets
        );
        assert_eq!(outcome.registrations.len(), EXPECTED_REGISTRATIONS);
        assert_eq!(outcome.inquiries.len(), EXPECTED_INQUIRIES);
        // One record per distinct message (the redelivered copy is the same message),
        // plus the setup's three.
        let distinct: BTreeSet<_> = mixed_mailbox()
            .iter()
            .map(|mail| portal::intake::hash(&mail.raw))
            .collect();
        assert_eq!(distinct.len(), mixed_mailbox().len() - 1);
        assert_eq!(
            outcome.messages.len(),
            distinct.len() + setup().messages.len(),
            "{:#?}",
            outcome.messages
        );
        let mut by_kind: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (kind, to, _, delivery) in &outcome.notices {
            assert_eq!(delivery, "sent", "every notice is sent: {kind} to {to}");
            *by_kind.entry((kind.clone(), to.clone())).or_default() += 1;
        }
        let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (kind, to, count) in SETUP_NOTICES.iter().chain(EXPECTED_NOTICES) {
            *expected
                .entry(((*kind).to_owned(), (*to).to_owned()))
                .or_default() += count;
        }
        assert_eq!(by_kind, expected, "the notices of a clean run");
        let total: usize = sent.sent.values().sum();
        assert_eq!(
            total,
            outcome.notices.len(),
            "each notice sent once: {:#?}",
            sent.sent
        );
        assert!(
            sent.sent.values().all(|count| *count == 1),
            "each notice sent once: {:#?}",
            sent.sent
        );
        assert_eq!(
            sent.sent.keys().cloned().collect::<BTreeSet<_>>(),
            notice_ids(&prepared)
        );
        Reference {
            outcome,
            duration,
            notices: total - before,
        }
    })
}

/// The setup's two tickets after the clean run, derived by hand: the answered one
/// responded on time, once, by Molina's message, each line with the decision Molina
/// chose in the returned workbook; the overdue one still forwarded and
/// reminded once, today, for its due date.
fn check_setup_tickets(outcome: &Outcome) {
    let setup = setup();
    let ticket = |name: &str| {
        let found: Vec<&serde_json::Value> = outcome
            .tickets
            .iter()
            .filter(|(known, _)| known == name)
            .map(|(_, ticket)| ticket)
            .collect();
        assert_eq!(found.len(), 1, "{name}: {:#?}", outcome.tickets);
        found[0].clone()
    };
    let proposal = mixed_mailbox()
        .iter()
        .find(|mail| mail.expect == Expect::Proposal)
        .map(|mail| portal::intake::hash(&mail.raw))
        .expect("the mailbox holds Molina's proposal");
    let answered = ticket(ANSWERED);
    let events = |ticket: &serde_json::Value, what: &str| -> Vec<serde_json::Value> {
        let events = ticket["events"].as_array().unwrap().iter();
        events
            .filter(|event| event["what"] == what)
            .map(|event| event["on"].clone())
            .collect()
    };
    assert_eq!(
        (
            &answered["status"],
            &answered["responded_on"],
            &answered["late"],
            &answered["proposals"],
        ),
        (
            &json!("responded"),
            &json!("today"),
            &json!(false),
            &json!([proposal]),
        ),
        "{ANSWERED}: {answered:#}"
    );
    assert_eq!(
        events(&answered, "proposal"),
        [json!("today")],
        "{answered:#}"
    );
    assert!(events(&answered, "reminder").is_empty(), "{answered:#}");
    let lines = answered["lines"].as_array().unwrap();
    assert_eq!(lines.len(), DECISIONS.len(), "{answered:#}");
    for (line, decision) in lines.iter().zip(DECISIONS) {
        assert_eq!(line["status"], "forwarded", "{answered:#}");
        assert_eq!(
            line["decision"],
            json!(decision),
            "{ANSWERED}: the decision Molina chose: {answered:#}"
        );
    }
    assert_eq!(
        events(&answered, "decisions"),
        [json!("today")],
        "{answered:#}"
    );
    let overdue = ticket(OVERDUE);
    assert_eq!(
        (
            &overdue["status"],
            &overdue["responded_on"],
            &overdue["reminded"],
        ),
        (
            &json!("forwarded"),
            &serde_json::Value::Null,
            &json!([setup.overdue_due]),
        ),
        "{OVERDUE}: {overdue:#}"
    );
    assert_eq!(
        events(&overdue, "reminder"),
        [json!("today")],
        "{overdue:#}"
    );
}

/// Every message out of both inboxes, each in the folder it belongs in, none twice.
fn check_maildirs(prepared: &Prepared) -> Result<(), String> {
    for (inbox, root) in [
        (Inbox::Intake, "mail/intake"),
        (Inbox::Inquiries, "mail/inquiries"),
    ] {
        let [waiting, processed, quarantine] = folders(&prepared.room.path(root));
        if !waiting.is_empty() {
            let names: Vec<_> = waiting
                .iter()
                .map(|id| prepared.names.get(id).copied().unwrap_or(id))
                .collect();
            return Err(format!("{root}: messages left in the inbox: {names:?}"));
        }
        let mut expected_processed: Vec<String> = prepared
            .delivered
            .iter()
            .filter(|(source, _, folder)| *source == inbox && *folder == Folder::Processed)
            .map(|(_, id, _)| id.clone())
            .collect();
        if inbox == Inbox::Intake {
            expected_processed.extend(prepared.setup_processed.iter().cloned());
        }
        expected_processed.sort();
        let mut expected_quarantine: Vec<String> = prepared
            .delivered
            .iter()
            .filter(|(source, _, folder)| *source == inbox && *folder == Folder::Quarantine)
            .map(|(_, id, _)| id.clone())
            .collect();
        expected_quarantine.sort();
        if processed != expected_processed {
            return Err(format!(
                "{root}/.Processed holds {processed:?}, expected {expected_processed:?}"
            ));
        }
        if quarantine != expected_quarantine {
            return Err(format!(
                "{root}/.Quarantine holds {quarantine:?}, expected {expected_quarantine:?}"
            ));
        }
    }
    Ok(())
}

/// The invariants after `deaths` dead runs and one complete run: the store exactly
/// as the clean run left it (no ticket, registration or inquiry twice, none missing,
/// every notice sent), both inboxes empty with every message in its folder, every
/// expected notice in the outbox and at most `deaths` notices beyond them (sent twice,
/// or a file cut short by the kill).
fn check(prepared: &Prepared, deaths: usize) -> Result<Surplus, String> {
    let reference = reference();
    // The complete run released the store: its lock on the pid file is free, and the
    // file names no holder any more.
    let pid_file = prepared.room.config.store.path.join("portal.pid");
    let held = std::fs::File::open(&pid_file)
        .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
    let named = std::fs::read_to_string(&pid_file).is_ok_and(|text| !text.trim().is_empty());
    if held || named {
        return Err(format!(
            "the store is still claimed: {}",
            pid_file.display()
        ));
    }
    let found = outcome(prepared);
    let mut seen = BTreeSet::new();
    for (hash, _) in &found.tickets {
        if !seen.insert(hash) {
            return Err(format!(
                "two tickets from one message {hash}: {:#?}",
                found.tickets
            ));
        }
    }
    let fields: [(&str, String, String); 5] = [
        (
            "tickets",
            format!("{:#?}", found.tickets),
            format!("{:#?}", reference.outcome.tickets),
        ),
        (
            "registrations",
            format!("{:#?}", found.registrations),
            format!("{:#?}", reference.outcome.registrations),
        ),
        (
            "inquiries",
            format!("{:#?}", found.inquiries),
            format!("{:#?}", reference.outcome.inquiries),
        ),
        (
            "processed messages",
            format!("{:#?}", found.messages),
            format!("{:#?}", reference.outcome.messages),
        ),
        (
            "notices in the store",
            format!("{:#?}", found.notices),
            format!("{:#?}", reference.outcome.notices),
        ),
    ];
    for (what, found, expected) in fields {
        if found != expected {
            return Err(format!(
                "the store's {what} differ from the clean run's:\nfound {found}\nexpected {expected}"
            ));
        }
    }
    check_maildirs(prepared)?;
    // The outbox against the notices in the store (the same count, kinds, recipients
    // and subjects as the clean run's, as checked above), by Message-ID.
    let sent = outbox(&prepared.room);
    let recorded = notice_ids(prepared);
    if let Some(unknown) = sent.sent.keys().find(|id| !recorded.contains(*id)) {
        return Err(format!(
            "a notice in the outbox the store does not know: {unknown}"
        ));
    }
    let never: Vec<_> = recorded
        .iter()
        .filter(|id| !sent.sent.contains_key(*id))
        .collect();
    if !never.is_empty() {
        return Err(format!(
            "notices recorded as sent but never sent: {never:?}"
        ));
    }
    let twice: Vec<_> = sent.sent.iter().filter(|(_, count)| **count > 1).collect();
    let surplus = twice.iter().map(|(_, count)| **count - 1).sum::<usize>() + sent.partial.len();
    if surplus > deaths {
        return Err(format!(
            "{surplus} notice(s) beyond one each after {deaths} crash(es): sent more than once {twice:?}, cut short {:?}",
            sent.partial
        ));
    }
    Ok(Surplus {
        twice: surplus - sent.partial.len(),
        partial: sent.partial.len(),
    })
}

/// Notices beyond one each after the crashes: sent twice, or cut short by a kill.
#[derive(Debug, Clone, Copy, Default)]
struct Surplus {
    twice: usize,
    partial: usize,
}

// ---------------------------------------------------------------------------------
// The clean run
// ---------------------------------------------------------------------------------

#[test]
fn a_clean_run_matches_the_hand_derived_outcome_and_a_second_run_changes_nothing() {
    let reference = reference();
    assert_eq!(
        reference.notices,
        EXPECTED_NOTICES
            .iter()
            .map(|(_, _, count)| count)
            .sum::<usize>()
    );
    // Running again over empty inboxes files nothing and sends nothing more.
    let prepared = prepared();
    run_to_completion(&prepared.room).unwrap();
    run_to_completion(&prepared.room).unwrap();
    check(&prepared, 0).unwrap();
}

// ---------------------------------------------------------------------------------
// Crash points: abort at every step boundary
// ---------------------------------------------------------------------------------

#[cfg(feature = "failpoints")]
mod crash_points {
    use super::*;

    /// Dies at each armed point in turn (one run per spec), then runs to the end.
    fn crash_then_recover(specs: &[&str]) {
        let prepared = prepared();
        for spec in specs {
            let output = intake_command(&prepared.room, Some(spec)).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                died_of(output.status, libc::SIGABRT),
                "{specs:?}: the run with {spec} must abort, not {}\nstderr: {stderr}",
                output.status
            );
            assert!(
                stderr.contains(&format!("failpoint {spec}: aborting")),
                "{spec}: {stderr}"
            );
        }
        let surplus =
            match run_to_completion(&prepared.room).and_then(|()| check(&prepared, specs.len())) {
                Ok(surplus) => surplus,
                Err(error) => panic!("after crashing at {specs:?}: {error}"),
            };
        // Exactly: a death between a send and its mark sends that notice again; a
        // death anywhere else sends nothing twice.
        let between_send_and_mark = specs
            .iter()
            .filter(|spec| spec.starts_with("after_send@"))
            .count();
        assert_eq!(
            surplus.twice, between_send_and_mark,
            "after crashing at {specs:?}: {surplus:?}"
        );
        assert_eq!(surplus.partial, 0, "after crashing at {specs:?}");
    }

    /// Each point at its first and second hit, a middle one and its last one in the
    /// crashing run (17 messages handled, 2 batches, 18 messages moved); each send at
    /// its first two, Molina's proposal's notice (the 9th), the last about the mail
    /// (the 16th) and the day's reminder (the 17th, the last).
    fn every_hit_of(point: &str, hits: &[u32]) {
        for hit in hits {
            crash_then_recover(&[&format!("{point}@{hit}")]);
        }
    }

    #[test]
    fn crash_after_record() {
        every_hit_of("after_record", &[1, 2, 7, 17]);
    }

    #[test]
    fn crash_after_flush() {
        every_hit_of("after_flush", &[1, 2]);
    }

    #[test]
    fn crash_after_send() {
        every_hit_of("after_send", &[1, 2, 9, 16, 17]);
    }

    #[test]
    fn crash_after_mark_sent() {
        every_hit_of("after_mark_sent", &[1, 2, 9, 16, 17]);
    }

    #[test]
    fn crash_after_move() {
        every_hit_of("after_move", &[1, 2, 5, 15, 18]);
    }

    /// The day's work recorded (the reminder queued, the day marked done), nothing of
    /// it sent: the next pass sends the reminder once and does not do the day again.
    #[test]
    fn crash_after_daily_record() {
        every_hit_of("after_daily_record", &[1]);
    }

    /// A crash, then another one in the run that recovers (the resend of the notice
    /// in flight, the moves of messages already recorded), then the end.
    #[test]
    fn two_crashes_in_a_row() {
        crash_then_recover(&["after_send@3", "after_send@1"]);
        crash_then_recover(&["after_send@4", "after_mark_sent@1"]);
        crash_then_recover(&["after_flush@1", "after_move@3"]);
        crash_then_recover(&["after_record@5", "after_record@2"]);
        // The day recorded, then the run that sends its reminder dies after sending it.
        crash_then_recover(&["after_daily_record@1", "after_send@1"]);
    }
}

// ---------------------------------------------------------------------------------
// Seeded SIGKILLs of a real process
// ---------------------------------------------------------------------------------

/// The kills that must land on a running intake.
const KILLS: usize = 50;
/// Runs tried at most to land them (a run may end before its moment comes).
const MAX_RUNS: usize = 120;
/// Overrides the seed: `PORTAL_KILL_SEED=12345`.
const DEFAULT_SEED: u64 = 20_261_125;

/// When to kill.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// After this many microseconds from the spawn: the delay is the moment.
    After { micros: u64 },
    /// When the k-th notice file appears in the outbox, then `micros` more.
    NoticeFile { k: usize, micros: u64 },
    /// When the k-th message has left the inboxes, then `micros` more.
    MessageMoved { k: usize, micros: u64 },
}

impl Moment {
    fn draw(rng: &mut XorShift, reference: &Reference, messages: usize) -> Moment {
        let jitter = rng.below(400);
        match rng.below(3) {
            0 => Moment::After {
                micros: rng.below(reference.duration.as_micros() as u64 + 1),
            },
            1 => Moment::NoticeFile {
                k: 1 + rng.below(reference.notices as u64) as usize,
                micros: jitter,
            },
            _ => Moment::MessageMoved {
                k: 1 + rng.below(messages as u64 - 1) as usize,
                micros: jitter,
            },
        }
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// Waits for the moment and kills. Returns how the process ended and whether the
/// kill landed (not when it had finished before the moment came).
fn kill_at(
    child: &mut Child,
    moment: Moment,
    prepared: &Prepared,
    outbox_before: usize,
) -> Result<(ExitStatus, bool), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let room = &prepared.room;
    let inboxes = [
        "mail/intake/new",
        "mail/intake/cur",
        "mail/inquiries/new",
        "mail/inquiries/cur",
    ]
    .map(|dir| room.path(dir));
    let delivered = prepared.delivered.len();
    let reached = || match moment {
        Moment::After { .. } => true,
        Moment::NoticeFile { k, .. } => count_files(&room.path("outbox")) >= outbox_before + k,
        Moment::MessageMoved { k, .. } => {
            delivered - inboxes.iter().map(|dir| count_files(dir)).sum::<usize>() >= k
        }
    };
    let micros = match moment {
        Moment::After { micros }
        | Moment::NoticeFile { micros, .. }
        | Moment::MessageMoved { micros, .. } => micros,
    };
    // Spins (yielding) until `until` holds; `Some` when the process ended first.
    let wait =
        |child: &mut Child, until: &dyn Fn() -> bool| -> Result<Option<ExitStatus>, String> {
            loop {
                if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
                    return Ok(Some(status));
                }
                if until() {
                    return Ok(None);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    return Err(format!("the moment {moment:?} never came"));
                }
                std::thread::yield_now();
            }
        };
    if let Some(status) = wait(child, &reached)? {
        return Ok((status, false));
    }
    let at = Instant::now() + Duration::from_micros(micros);
    if let Some(status) = wait(child, &|| Instant::now() >= at)? {
        return Ok((status, false));
    }
    child.kill().map_err(|error| error.to_string())?;
    let status = child.wait().map_err(|error| error.to_string())?;
    Ok((status, died_of(status, libc::SIGKILL)))
}

#[test]
fn fifty_seeded_sigkills_at_random_moments() {
    let seed = std::env::var("PORTAL_KILL_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("exactly_once: SIGKILL seed {seed} (PORTAL_KILL_SEED overrides it)");
    let reference = reference();
    let mut rng = XorShift::new(seed);
    let mut log = String::new();
    let (mut kills, mut runs) = (0, 0);
    let mut total = Surplus::default();
    let started = Instant::now();
    while kills < KILLS {
        runs += 1;
        assert!(
            runs <= MAX_RUNS,
            "seed {seed}: only {kills} of {KILLS} kills landed in {MAX_RUNS} runs:\n{log}"
        );
        let moment = Moment::draw(&mut rng, reference, mixed_mailbox().len());
        let prepared = prepared();
        let outbox_before = count_files(&prepared.room.path("outbox"));
        let spawned = Instant::now();
        let mut child = intake_command(&prepared.room, None)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let result = kill_at(&mut child, moment, &prepared, outbox_before);
        let elapsed = spawned.elapsed();
        let (status, landed) = match result {
            Ok(ended) => ended,
            Err(error) => panic!("seed {seed}, run {runs}: {error}\nmoments so far:\n{log}"),
        };
        let files = count_files(&prepared.room.path("outbox")) - outbox_before;
        let ended = if landed {
            "killed".to_owned()
        } else {
            format!("ended first ({status})")
        };
        let _ = write!(
            log,
            "run {runs}: {moment:?} → {ended} after {elapsed:.1?}, {files} notice file(s) by then"
        );
        match run_to_completion(&prepared.room).and_then(|()| check(&prepared, usize::from(landed)))
        {
            Ok(surplus) => {
                let _ = writeln!(
                    log,
                    "; then {} sent twice, {} cut short",
                    surplus.twice, surplus.partial
                );
                total.twice += surplus.twice;
                total.partial += surplus.partial;
            }
            Err(error) => {
                panic!("seed {seed}, run {runs} ({moment:?}): {error}\nmoments so far:\n{log}")
            }
        }
        kills += usize::from(landed);
    }
    eprintln!(
        "exactly_once: {kills} kills in {runs} runs ({:.1?}), seed {seed}; {} notice(s) sent twice, {} cut short in all:\n{log}",
        started.elapsed(),
        total.twice,
        total.partial
    );
}
