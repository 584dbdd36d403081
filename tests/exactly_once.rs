//! Exactly once, crash or not. The intake's order is record → flush → send notice →
//! mark sent → move message; a run killed at any instant and started again must file
//! no ticket twice, lose no message and send at most the one notice in flight twice.
//!
//! One mixed mailbox (complaints good, too early and incomplete, a complaint from an
//! unregistered sender, help, an auto-reply, a bounce, a message without a sender, a
//! redelivered copy, a registration form, inquiries) is run once cleanly by the real
//! `portal intake --once` for the expected outcome, itself checked against counts
//! derived by hand. Then the same mailbox is run by a process that dies — aborted at
//! every crash point (`--features failpoints`) or killed with SIGKILL at seeded random
//! moments — and run again to completion; the store, the outbox and both Maildirs must
//! end as the clean run left them, but for at most one notice sent twice per death.
//! Nothing here sleeps to wait: it waits on a condition (a file appears, a message
//! leaves the inbox, the process exits) or on a random delay that is the moment itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::mail::Folder;
use portal::mail::maildir::Maildir;
use portal::store::{Delivery, Inquiry, MessageRecord, Notice, Registration, Store, Ticket, Tree};

use crate::common::{self, Mailroom, PROVIDER, XorShift, message, portal_bin, registration_form};

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

/// Notices a clean run of the mixed mailbox sends (kind, recipient, how many), derived
/// by hand from the mailbox above; the registration helper's two notices included.
const EXPECTED_NOTICES: &[(&str, &str, usize)] = &[
    ("registration_received", PROVIDER, 1), // the helper's registration
    ("registration_approved", PROVIDER, 1), // and its approval
    ("accepted", PROVIDER, 2),              // good Molina 1 line, good Aetna
    ("closed", PROVIDER, 4),                // too early ×2, incomplete, partly closed
    ("mco_forward", MOLINA, 2),             // good 1 line, the 2 new lines of the 3
    ("mco_forward", AETNA, 1),
    ("help", PROVIDER, 1),
    ("help", STRANGER, 1),
    ("not_registered", STRANGER, 1),
    ("registration_received", NEWCOMER, 1),
    ("inquiry_answer", PROVIDER, 1),
    ("inquiry_answer", STRANGER, 1),
];
/// Tickets: good ×3 (one partly closed), too early ×2, incomplete.
const EXPECTED_TICKETS: usize = 6;
/// The helper's (active) and the newcomer's (pending).
const EXPECTED_REGISTRATIONS: usize = 2;
const EXPECTED_INQUIRIES: usize = 2;

/// A mailroom with the provider registered and the mixed mailbox delivered.
struct Prepared {
    room: Mailroom,
    /// Delivered message ids and where each must end.
    delivered: Vec<(Inbox, String, Folder)>,
    /// What each delivered message is, by id (for failures).
    names: BTreeMap<String, &'static str>,
    /// Ids already in the intake's Processed folder before (the registration).
    setup_processed: Vec<String>,
    /// Hashes of the mailbox's messages; anything else in the store is setup.
    hashes: BTreeSet<String>,
}

/// The folders `Mailroom::register` leaves (store, Maildirs, outbox) as files, made
/// once and laid down in every new mailroom: each run starts from the same registered
/// provider without paying for the registration again.
fn registered() -> &'static [(PathBuf, Option<Vec<u8>>)] {
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
    static REGISTERED: OnceLock<Vec<(PathBuf, Option<Vec<u8>>)>> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        let room = Mailroom::new("");
        room.register(PROVIDER, SAMPLE_NPI);
        let mut files = Vec::new();
        for folder in ["store", "mail", "outbox"] {
            files.push((PathBuf::from(folder), None));
            walk(room.dir.path(), &room.path(folder), &mut files);
        }
        files
    })
}

fn prepared() -> Prepared {
    let room = Mailroom::new("");
    for (relative, bytes) in registered() {
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
    let hashes = mixed_mailbox()
        .iter()
        .map(|mail| portal::intake::hash(&mail.raw))
        .collect();
    Prepared {
        room,
        delivered,
        names,
        setup_processed,
        hashes,
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
    /// Per ticket: the message hash, its status and line outcomes.
    tickets: Vec<(String, String)>,
    /// Per registration: the message hash (`setup` for the helper's), email, status.
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
    let known = |hash: &str| {
        if prepared.hashes.contains(hash) {
            hash.to_owned()
        } else {
            "setup".to_owned()
        }
    };
    let mut tickets: Vec<(String, String)> = store
        .all::<Ticket>(Tree::Tickets)
        .unwrap()
        .iter()
        .map(|ticket| {
            (
                known(&ticket.message),
                format!("{} {}", json(&ticket.status), json(&ticket.lines)),
            )
        })
        .collect();
    tickets.sort();
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
            let tickets: Vec<&String> = outcome
                .tickets
                .iter()
                .filter(|(known, _)| *known == hash)
                .map(|(_, text)| text)
                .collect();
            let ticket = |status: &str, closed_lines: bool| {
                label == "ticket PRP-#"
                    && tickets.len() == 1
                    && tickets[0].starts_with(&format!("\"{status}\""))
                    && tickets[0].contains("\"closed\"") == closed_lines
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
                Expect::Again => label == "ticket PRP-#" && tickets.len() == 1,
            };
            assert!(
                as_expected,
                "{}: expected {:?}, the clean run made it {label} {tickets:?}",
                mail.what, mail.expect
            );
        }
        assert_eq!(
            outcome.tickets.len(),
            EXPECTED_TICKETS,
            "{:#?}",
            outcome.tickets
        );
        assert_eq!(outcome.registrations.len(), EXPECTED_REGISTRATIONS);
        assert_eq!(outcome.inquiries.len(), EXPECTED_INQUIRIES);
        // One record per distinct message (the redelivered copy is the same message),
        // plus the helper's registration.
        let distinct: BTreeSet<_> = mixed_mailbox()
            .iter()
            .map(|mail| portal::intake::hash(&mail.raw))
            .collect();
        assert_eq!(distinct.len(), mixed_mailbox().len() - 1);
        assert_eq!(
            outcome.messages.len(),
            distinct.len() + 1,
            "{:#?}",
            outcome.messages
        );
        let mut by_kind: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (kind, to, _, delivery) in &outcome.notices {
            assert_eq!(delivery, "sent", "every notice is sent: {kind} to {to}");
            *by_kind.entry((kind.clone(), to.clone())).or_default() += 1;
        }
        let expected: BTreeMap<(String, String), usize> = EXPECTED_NOTICES
            .iter()
            .map(|(kind, to, count)| (((*kind).to_owned(), (*to).to_owned()), *count))
            .collect();
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
            - 2
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
    /// crashing run (16 messages handled, 2 batches, 15 notices, 17 messages moved).
    fn every_hit_of(point: &str, hits: &[u32]) {
        for hit in hits {
            crash_then_recover(&[&format!("{point}@{hit}")]);
        }
    }

    #[test]
    fn crash_after_record() {
        every_hit_of("after_record", &[1, 2, 7, 16]);
    }

    #[test]
    fn crash_after_flush() {
        every_hit_of("after_flush", &[1, 2]);
    }

    #[test]
    fn crash_after_send() {
        every_hit_of("after_send", &[1, 2, 5, 13, 15]);
    }

    #[test]
    fn crash_after_mark_sent() {
        every_hit_of("after_mark_sent", &[1, 2, 5, 13, 15]);
    }

    #[test]
    fn crash_after_move() {
        every_hit_of("after_move", &[1, 2, 5, 14, 17]);
    }

    /// A crash, then another one in the run that recovers (the resend of the notice
    /// in flight, the moves of messages already recorded), then the end.
    #[test]
    fn two_crashes_in_a_row() {
        crash_then_recover(&["after_send@3", "after_send@1"]);
        crash_then_recover(&["after_send@4", "after_mark_sent@1"]);
        crash_then_recover(&["after_flush@1", "after_move@3"]);
        crash_then_recover(&["after_record@5", "after_record@2"]);
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
