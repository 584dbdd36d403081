//! `portal intake --watch` end to end, on the real Dovecot and Postfix of
//! tests/mailstack.rs (and on a Maildir): a complaint mailed through Postfix is answered
//! within seconds, woken by IMAP IDLE; a Dovecot restart during IDLE is ridden out and
//! logged once; a server without IDLE is polled by the safety pass; a Maildir's `new/`
//! is watched; SIGTERM stops the watch within 2 s when idle and after the message in
//! hand when working; seeded SIGKILLs while it handles a stream of messages lose
//! nothing and record nothing twice. The latency benchmark (benches/latency.sh) is
//! here too, ignored.
//!
//! Nothing here sleeps to wait: it polls a condition (a notice on disk, a log event,
//! the process's exit) with a deadline, or waits for a random delay that is itself the
//! moment of a kill.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::store::{Delivery, Notice, Store, Ticket, Tree};

use crate::common::{self, Mailroom, PROVIDER, XorShift, message};
use crate::mailstack::{self, Account, Letter, MailStack, Portal, Wiring, wait_until};

/// How soon a complaint must be answered while watching: the target is about a second,
/// and this leaves room for a loaded test machine.
const ANSWERED_WITHIN: Duration = Duration::from_secs(5);
/// How soon SIGTERM must stop a watch that waits for mail.
const STOPPED_WITHIN: Duration = Duration::from_secs(2);
const PASS: &str = "intake pass";
const IDLING: &str = "waiting for mail with IMAP IDLE";
const LOST: &str = "mailbox connection lost; reconnecting";
const BACK: &str = "mailbox connection back";
const NO_IDLE: &str = "the IMAP server does not offer IDLE; the safety pass is the poll";

// ---------------------------------------------------------------------------------
// A watching portal, its output kept
// ---------------------------------------------------------------------------------

/// A running `portal intake --watch` (with `--log-format json`), its stdout (the pass
/// reports) and stderr (the log events) kept as they come.
struct Watching {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Watching {
    fn spawn(mut command: Command) -> Watching {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portal starts");
        let stdout = kept(child.stdout.take().unwrap());
        let stderr = kept(child.stderr.take().unwrap());
        Watching {
            child,
            stdout,
            stderr,
        }
    }

    /// The pass reports so far (stdout lines starting `intake:`).
    fn reports(&self) -> Vec<String> {
        let stdout = self.stdout.lock().unwrap();
        stdout
            .iter()
            .filter(|line| line.starts_with("intake:"))
            .cloned()
            .collect()
    }

    /// The log events so far, parsed.
    fn all_events(&self) -> Vec<serde_json::Value> {
        let stderr = self.stderr.lock().unwrap();
        stderr
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"))
            })
            .collect()
    }

    /// The log events with this message so far.
    fn events(&self, name: &str) -> Vec<serde_json::Value> {
        self.all_events()
            .into_iter()
            .filter(|event| event["fields"]["message"] == name)
            .collect()
    }

    /// Events with this message for `mailbox`.
    fn events_for(&self, name: &str, mailbox: &str) -> usize {
        self.events(name)
            .iter()
            .filter(|event| event["fields"]["mailbox"] == mailbox)
            .count()
    }

    /// The reasons of the passes so far.
    fn reasons(&self) -> Vec<String> {
        self.events(PASS)
            .iter()
            .map(|event| event["fields"]["reason"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The output so far, for a failure message.
    fn output(&self) -> String {
        let stderr = self.stderr.lock().unwrap();
        let stdout = self.stdout.lock().unwrap();
        let from = stderr.len().saturating_sub(40);
        format!(
            "--- portal's log (last 40 lines)\n{}\n--- portal's reports\n{}",
            stderr[from..].join("\n"),
            stdout.join("\n")
        )
    }

    fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        wait_until(what, done, || self.output());
    }

    /// Waits until both IMAP mailboxes are in IDLE and no pass is running: every pass
    /// begun has reported, the last one begun after the last IDLE began.
    fn wait_quiet(&self) {
        self.wait_for("both mailboxes idling and no pass running", || {
            let reports = self.reports().len();
            let events = self.all_events();
            let last = |name: &str| {
                events
                    .iter()
                    .rposition(|event| event["fields"]["message"] == name)
            };
            let idling = ["intake", "inquiries"]
                .iter()
                .all(|mailbox| self.events_for(IDLING, mailbox) > 0);
            let passes = events
                .iter()
                .filter(|event| event["fields"]["message"] == PASS)
                .count();
            idling && passes == reports && last(PASS) > last(IDLING)
        });
    }

    /// Sends `signal`; returns how the process ended and how long that took.
    fn signal(&mut self, signal: i32) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        // SAFETY: kill has no memory effects; the pid is our child's, not yet reaped.
        let result = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(result, 0, "the signal is sent");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(
                sent.elapsed() < mailstack::PATIENCE,
                "no exit within {:?}\n{}",
                mailstack::PATIENCE,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM: the watch must end with exit 0 and `stopped`, within `within`.
    fn stop_within(&mut self, within: Duration) {
        let (status, took) = self.signal(libc::SIGTERM);
        assert_eq!(status.code(), Some(0), "{status}\n{}", self.output());
        assert!(took < within, "SIGTERM took {took:?}\n{}", self.output());
        // The reader thread may still hold the last line for a moment.
        self.wait_for("the last line, `stopped`", || {
            self.stdout.lock().unwrap().last().map(String::as_str) == Some("stopped")
        });
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of a pipe, kept as they come.
fn kept(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// `portal intake --watch --every EVERY`, logging JSON.
fn watch(portal: &Portal<'_>, every: &str) -> Watching {
    Watching::spawn(portal.command(&[
        "--log-format",
        "json",
        "intake",
        "--watch",
        "--every",
        every,
    ]))
}

// ---------------------------------------------------------------------------------
// Mail
// ---------------------------------------------------------------------------------

/// A complaint template with one good line received today for the MCO at `mco`, its
/// claim and tracking numbers made distinct by `serial`.
fn template(mco: usize, serial: usize) -> Vec<u8> {
    use portal::forms::Value;
    use portal::forms::schema::claim;
    let config = common::config();
    let mut lines = portal::forms::samples::complaint_lines(
        Sample::Good,
        portal::today::today_in_illinois(),
        mco,
        1,
    );
    lines[0].values[claim::CLAIM_NUMBER] = Some(Value::Text(format!("CLM{serial:06}")));
    lines[0].values[claim::TRACKING_NUMBER] = Some(Value::Text(format!("TRK-{serial:06}")));
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

/// The provider mails a complaint through Postfix with swaks; returns its Message-ID
/// and the instant swaks returned (Postfix had accepted it).
fn mail_complaint(portal: &Portal<'_>, serial: usize) -> (String, Instant) {
    let letter = Letter {
        from: &portal.provider.address,
        to: &portal.intake.address,
        subject: "Complaint",
        body: "Our complaint template is attached.",
        attachments: vec![(
            "complaint-template.xlsx".to_owned(),
            template(serial % 6, serial),
        )],
        ..Letter::default()
    };
    let message_id = portal.stack.send(&letter);
    (message_id, Instant::now())
}

/// The raw complaint as a mail client would make it, and its Message-ID.
fn complaint(portal: &Portal<'_>, serial: usize) -> (Vec<u8>, String) {
    let raw = message(
        &portal.provider.address,
        &portal.intake.address,
        &format!("Complaint {serial}"),
        "Attached.",
        &[("complaint.xlsx", template(serial % 6, serial))],
    );
    let id = portal::mail::classify::message_id_of(&raw).unwrap();
    (raw, id)
}

/// The In-Reply-To of each message in a Maildir inbox (`new/` and `cur/`), by file
/// name; files seen before (in `known`) are not read again.
fn replies_on_disk(maildir: &Path, known: &mut HashMap<String, Option<String>>) {
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            // Dovecot renames a file from new/ into cur/ with flags: the name before
            // the flags is the message.
            let name = entry.file_name().to_string_lossy().into_owned();
            let name = name.split(':').next().unwrap_or("").to_owned();
            if known.contains_key(&name) {
                continue;
            }
            // A file renamed meanwhile is read at its new place next time.
            let Ok(raw) = std::fs::read(entry.path()) else {
                continue;
            };
            let reply = mail_parser::MessageParser::default()
                .parse_headers(&raw[..])
                .and_then(|message| message.in_reply_to().as_text().map(str::to_owned));
            known.insert(name, reply);
        }
    }
}

/// Whether a notice answering `message_id` is in `account`'s inbox.
fn answered(account: &Account, message_id: &str) -> bool {
    let mut known = HashMap::new();
    replies_on_disk(&account.maildir, &mut known);
    known
        .values()
        .any(|reply| reply.as_deref() == Some(message_id))
}

// ---------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------

/// `--watch --once` is a usage error (exit 2) and nothing runs.
#[test]
fn watch_with_once_is_a_usage_error() {
    let room = Mailroom::new("");
    let output = room.cli(&["intake", "--watch", "--once"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'--watch' cannot be used with '--once'")
            || stderr.contains("'--once' cannot be used with '--watch'"),
        "{stderr}"
    );
    assert!(!room.path("store").exists(), "no pass ran");
    let help = room.cli(&["intake", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--watch") && help.contains("IMAP IDLE"),
        "{help}"
    );
}

// ---------------------------------------------------------------------------------
// Watching over IMAP
// ---------------------------------------------------------------------------------

/// The path: while `--watch` runs (with an hour between safety passes), a
/// complaint mailed through Postfix wakes it through IMAP IDLE and its acceptance
/// notice is in the provider's inbox within seconds.
#[test]
fn a_complaint_mailed_while_watching_is_answered_within_seconds() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "watch");
    portal.register(&portal.provider);
    let mut watching = watch(&portal, "1h");
    watching.wait_quiet();

    let (message_id, accepted) = mail_complaint(&portal, 1);
    watching.wait_for("the acceptance notice", || {
        answered(&portal.provider, &message_id)
    });
    let latency = accepted.elapsed();
    eprintln!("e2e_watch: answered {latency:?} after Postfix accepted the complaint");
    assert!(
        latency < ANSWERED_WITHIN,
        "answered after {latency:?}\n{}",
        watching.output()
    );
    assert!(
        watching.reasons().iter().any(|reason| reason == "new_mail"),
        "IDLE woke a pass: {:?}\n{}",
        watching.reasons(),
        watching.output()
    );
    watching.wait_for("the pass's report", || {
        watching
            .reports()
            .iter()
            .any(|report| report.contains("1 message(s): 1 ticket(s)"))
    });
    watching.stop_within(STOPPED_WITHIN);
    let tickets = portal.json(&["tickets", "list", "--json"]);
    assert_eq!(tickets.as_array().unwrap().len(), 1, "{tickets:#}");
}

/// Dovecot restarted while both mailboxes idle: each IDLE connection is lost and made
/// again (each outage logged once, and its end once), and a complaint mailed after the
/// restart is answered within seconds.
#[test]
fn a_dovecot_restart_during_idle_is_ridden_out_and_logged_once() {
    let stack = mailstack::shared();
    let control = stack.exclusive();
    let portal = Portal::new(&stack, "watchrestart");
    portal.register(&portal.provider);
    let mut watching = watch(&portal, "1h");
    watching.wait_quiet();

    control.stop_dovecot();
    control.start_dovecot();
    let (message_id, accepted) = mail_complaint(&portal, 2);
    watching.wait_for("the acceptance notice after the restart", || {
        answered(&portal.provider, &message_id)
    });
    let latency = accepted.elapsed();
    eprintln!("e2e_watch: after the restart, answered in {latency:?}");
    // The reconnection waits 1 s, then 2 s, then 4 s while Dovecot starts again.
    assert!(
        latency < Duration::from_secs(15),
        "answered after {latency:?}\n{}",
        watching.output()
    );
    watching.wait_for("both connections back", || {
        ["intake", "inquiries"]
            .iter()
            .all(|mailbox| watching.events_for(BACK, mailbox) > 0)
    });
    for mailbox in ["intake", "inquiries"] {
        assert_eq!(
            watching.events_for(LOST, mailbox),
            1,
            "the outage of {mailbox} is logged once\n{}",
            watching.output()
        );
        assert_eq!(
            watching.events_for(BACK, mailbox),
            1,
            "{}",
            watching.output()
        );
        assert_eq!(
            watching.events_for(IDLING, mailbox),
            2,
            "{}",
            watching.output()
        );
    }
    let lost = &watching.events(LOST)[0];
    assert_eq!(lost["level"], "WARN", "{lost}");
    watching.stop_within(STOPPED_WITHIN);
    let tickets = portal.json(&["tickets", "list", "--json"]);
    assert_eq!(tickets.as_array().unwrap().len(), 1, "{tickets:#}");
}

/// A server that does not offer IDLE (Dovecot announcing IMAP4rev1 alone): the watch
/// says so once per mailbox and the safety pass (`--every 2s`) is the poll that
/// answers the complaint.
#[test]
fn without_idle_on_the_server_the_safety_pass_is_the_poll() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "watchnoidle");
    stack.plain_imap4rev1(&portal.intake);
    stack.plain_imap4rev1(&portal.inquiries);
    portal.register(&portal.provider);
    let mut watching = watch(&portal, "2s");
    watching.wait_for("the watch to say IDLE is missing", || {
        watching.events(NO_IDLE).len() == 2 && !watching.reports().is_empty()
    });

    let (message_id, accepted) = mail_complaint(&portal, 3);
    watching.wait_for("the acceptance notice", || {
        answered(&portal.provider, &message_id)
    });
    let latency = accepted.elapsed();
    assert!(
        latency < Duration::from_secs(2) + ANSWERED_WITHIN,
        "answered after {latency:?}\n{}",
        watching.output()
    );
    // Two more safety passes: the missing IDLE is not logged again.
    let passes = watching.reports().len();
    watching.wait_for("two more safety passes", || {
        watching.reports().len() >= passes + 2
    });
    for mailbox in ["intake", "inquiries"] {
        assert_eq!(
            watching.events_for(NO_IDLE, mailbox),
            1,
            "{}",
            watching.output()
        );
    }
    let reasons = watching.reasons();
    assert_eq!(reasons[0], "start");
    assert!(
        reasons[1..].iter().all(|reason| reason == "safety"),
        "{reasons:?}"
    );
    watching.stop_within(STOPPED_WITHIN);
}

/// SIGTERM while the watch waits in IDLE ends it within 2 s (exit 0); SIGTERM while a
/// pass works through a backlog ends it after the message in hand: everything handled
/// is recorded, answered and moved, the rest waits in the inbox, and the next run
/// handles the rest with nothing twice.
#[test]
fn sigterm_stops_the_watch_within_two_seconds_when_idle_and_after_the_message_in_hand() {
    const BACKLOG: usize = 64;
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        notices_per_sender_per_day: 1000,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "watchterm", wiring);
    portal.register(&portal.provider);
    stack.wait_until_delivered();

    let mut idle = watch(&portal, "1h");
    idle.wait_quiet();
    idle.stop_within(STOPPED_WITHIN);
    drop(idle);

    let landed = || stack.on_disk(&portal.provider, None) + stack.on_disk(&portal.mco, None);
    let landed_before = landed();
    let mut delivered = stack.message_ids(&portal.intake, "Processed");
    let start = SystemTime::now();
    for serial in 0..BACKLOG {
        let (raw, id) = complaint(&portal, 100 + serial);
        delivered.push(id);
        stack.deliver(
            &portal.intake,
            &raw,
            start + Duration::from_millis(serial as u64),
        );
    }
    let mut working = watch(&portal, "1h");
    working.wait_for("the first notice to land", || landed() > landed_before);
    working.stop_within(mailstack::PATIENCE);
    let left = stack.read(&portal.intake, "INBOX").len();
    assert!(
        left > 0,
        "the pass had finished before SIGTERM\n{}",
        working.output()
    );
    // Nothing half-done: every message taken is recorded with its notices sent and
    // is out of the inbox.
    let store = Store::open(&portal.store_path()).unwrap();
    let tickets = store.all::<Ticket>(Tree::Tickets).unwrap();
    let notices = store.all::<Notice>(Tree::Outbox).unwrap();
    drop(store);
    assert_eq!(tickets.len() + left, BACKLOG, "{}", working.output());
    assert!(
        notices
            .iter()
            .all(|notice| matches!(notice.delivery, Delivery::Sent { .. })),
        "every notice of the messages taken was sent"
    );

    let report = portal.pass();
    assert!(report.contains(&format!("{left} ticket(s)")), "{report}");
    check_everything_once(&stack, &portal, &delivered, BACKLOG, 0)
        .unwrap_or_else(|error| panic!("{error}"));
}

// ---------------------------------------------------------------------------------
// Watching a Maildir
// ---------------------------------------------------------------------------------

/// `--watch` on a Maildir: a message delivered into the intake Maildir's `new/` is
/// handled within seconds (a file watcher, not the hourly safety pass), and SIGTERM
/// ends the watch within 2 s.
#[test]
fn a_message_delivered_into_a_watched_maildir_is_handled_within_seconds() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let mut command = Command::new(common::portal_bin());
    command
        .arg("--config")
        .arg(&room.config_path)
        .args(["--log-format", "json", "intake", "--watch", "--every", "1h"])
        .current_dir(room.dir.path());
    let mut watching = Watching::spawn(command);
    watching.wait_for("the first pass", || !watching.reports().is_empty());

    let raw = message(
        PROVIDER,
        "intake@portal.example.gov",
        "Complaint",
        "Attached.",
        &[("complaint.xlsx", common::complaint(Sample::Good, 1))],
    );
    let message_id = portal::mail::classify::message_id_of(&raw).unwrap();
    let delivered = Instant::now();
    room.deliver(&raw);
    watching.wait_for("the acceptance notice in the outbox", || {
        room.outbox()
            .iter()
            .any(|notice| notice.in_reply_to.as_deref() == Some(message_id.as_str()))
    });
    let latency = delivered.elapsed();
    assert!(
        latency < ANSWERED_WITHIN,
        "handled after {latency:?}\n{}",
        watching.output()
    );
    assert!(
        watching.reasons().iter().any(|reason| reason == "new_mail"),
        "{:?}",
        watching.reasons()
    );
    watching.stop_within(STOPPED_WITHIN);
    assert_eq!(room.intake_folder(None), Vec::<String>::new());
}

/// `--watch` rewrites the statistics file at most once a minute: the first pass writes
/// it, a complaint handled seconds later leaves it as it was, and stopping writes the
/// figures the deferred pass left behind.
#[test]
fn watching_rewrites_the_statistics_at_most_once_a_minute_and_on_the_way_out() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let statistics = room.dir.path().join("var/statistics.json");
    let complaints = || -> u64 {
        let text = std::fs::read_to_string(&statistics).unwrap();
        let figures: serde_json::Value = serde_json::from_str(&text).unwrap();
        figures["months"]
            .as_array()
            .unwrap()
            .iter()
            .map(|month| month["complaints"].as_u64().unwrap())
            .sum()
    };
    let mut command = Command::new(common::portal_bin());
    command
        .arg("--config")
        .arg(&room.config_path)
        .args(["--log-format", "json", "intake", "--watch", "--every", "1h"])
        .current_dir(room.dir.path());
    let mut watching = Watching::spawn(command);
    watching.wait_for("the first pass", || !watching.reports().is_empty());
    assert_eq!(complaints(), 0, "the first pass writes the file");
    let first = std::fs::read(&statistics).unwrap();

    let raw = message(
        PROVIDER,
        "intake@portal.example.gov",
        "Complaint",
        "Attached.",
        &[("complaint.xlsx", common::complaint(Sample::Good, 1))],
    );
    let message_id = portal::mail::classify::message_id_of(&raw).unwrap();
    room.deliver(&raw);
    watching.wait_for("the acceptance notice in the outbox", || {
        room.outbox()
            .iter()
            .any(|notice| notice.in_reply_to.as_deref() == Some(message_id.as_str()))
    });
    watching.wait_for("the second pass's report", || watching.reports().len() >= 2);
    assert_eq!(
        std::fs::read(&statistics).unwrap(),
        first,
        "a pass within the minute leaves the file as it was"
    );
    watching.stop_within(STOPPED_WITHIN);
    assert_eq!(
        complaints(),
        1,
        "stopping writes what the deferred pass counted"
    );
}

// ---------------------------------------------------------------------------------
// Seeded SIGKILLs while watching
// ---------------------------------------------------------------------------------

/// The kills that must land on a running watch.
const KILLS: usize = 20;
/// Overrides the seed: `PORTAL_KILL_SEED=12345`.
const DEFAULT_SEED: u64 = 0x0002_AB50_FE2E_2026;

/// When to kill.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// This many microseconds after the spawn.
    After { micros: u64 },
    /// When the k-th notice since the spawn has landed in a recipient's Maildir.
    NoticeLanded { k: usize, micros: u64 },
    /// When the k-th message since the spawn has reached Processed.
    MessageMoved { k: usize, micros: u64 },
}

/// One round: a watch started, a stream of complaints delivered into the intake
/// inbox at seeded moments while it runs, and a SIGKILL at a seeded moment; what is
/// left to deliver when it dies is delivered while it is down. Returns what the
/// round did, for the log.
fn kill_round(
    stack: &MailStack,
    portal: &Portal<'_>,
    rng: &mut XorShift,
    delivered: &mut Vec<String>,
    round: usize,
) -> String {
    let count = 1 + rng.below(4) as usize;
    let mut stream: Vec<(Duration, Vec<u8>)> = (0..count)
        .map(|index| {
            let (raw, id) = complaint(portal, 1000 + 10 * round + index);
            delivered.push(id);
            (Duration::from_micros(rng.below(800_000)), raw)
        })
        .collect();
    stream.sort_by_key(|(at, _)| *at);
    let jitter = rng.below(2_000);
    let moment = match rng.below(3) {
        0 => Moment::After {
            micros: rng.below(1_500_000),
        },
        1 => Moment::NoticeLanded {
            k: 1 + rng.below(2 * count as u64) as usize,
            micros: jitter,
        },
        _ => Moment::MessageMoved {
            k: 1 + rng.below(count as u64) as usize,
            micros: jitter,
        },
    };
    let landed = || stack.on_disk(&portal.provider, None) + stack.on_disk(&portal.mco, None);
    let moved = || stack.on_disk(&portal.intake, Some("Processed"));
    let (landed_before, moved_before) = (landed(), moved());
    let log =
        std::fs::File::create(portal.dir.path().join(format!("watch-{round:02}.log"))).unwrap();
    let mut child = portal
        .command(&["--log-format", "json", "intake", "--watch", "--every", "1h"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let spawned = Instant::now();
    let mut next = 0;
    let mut came: Option<Instant> = None;
    loop {
        while next < stream.len() && spawned.elapsed() >= stream[next].0 {
            stack.deliver(&portal.intake, &stream[next].1, SystemTime::now());
            next += 1;
        }
        let reached = match moment {
            Moment::After { micros } => spawned.elapsed() >= Duration::from_micros(micros),
            Moment::NoticeLanded { k, micros } => {
                came = came.or((landed() >= landed_before + k).then(Instant::now));
                came.is_some_and(|at| at.elapsed() >= Duration::from_micros(micros))
            }
            Moment::MessageMoved { k, micros } => {
                came = came.or((moved() >= moved_before + k).then(Instant::now));
                came.is_some_and(|at| at.elapsed() >= Duration::from_micros(micros))
            }
        };
        if reached {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("round {round}: the watch ended by itself ({status})");
        }
        assert!(
            spawned.elapsed() < mailstack::PATIENCE,
            "round {round}: the moment {moment:?} never came"
        );
        std::thread::yield_now();
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "round {round}: {status}"
    );
    let while_down = stream.len() - next;
    for (_, raw) in &stream[next..] {
        stack.deliver(&portal.intake, raw, SystemTime::now());
    }
    format!(
        "round {round}: {count} complaint(s), {moment:?}: killed after {:?}, {while_down} delivered while down",
        spawned.elapsed()
    )
}

/// The invariants once everything is handled: one forwarded ticket per complaint, no
/// message making two; every notice in the store sent; the intake inbox empty with
/// every message in Processed once; and in the recipients' inboxes every notice the
/// store says was sent, with at most `kills` extra (the one in flight at each kill).
fn check_everything_once(
    stack: &MailStack,
    portal: &Portal<'_>,
    delivered: &[String],
    complaints: usize,
    kills: usize,
) -> Result<(), String> {
    let store =
        Store::open(&portal.store_path()).map_err(|error| format!("the store: {error:#}"))?;
    let tickets = store.all::<Ticket>(Tree::Tickets).unwrap();
    let notices = store.all::<Notice>(Tree::Outbox).unwrap();
    drop(store);
    let messages: HashSet<&str> = tickets
        .iter()
        .map(|ticket| ticket.message.as_str())
        .collect();
    if tickets.len() != complaints || messages.len() != complaints {
        return Err(format!(
            "{} ticket(s) from {} message(s), expected {complaints} of each",
            tickets.len(),
            messages.len()
        ));
    }
    if let Some(ticket) = tickets
        .iter()
        .find(|ticket| serde_json::to_string(&ticket.status).unwrap() != "\"forwarded\"")
    {
        return Err(format!("ticket {} is {:?}", ticket.id, ticket.status));
    }
    // Per complaint an acceptance and a forward; the registration's two notices.
    if notices.len() != 2 * complaints + 2 {
        return Err(format!(
            "{} notice(s) in the store, expected {}",
            notices.len(),
            2 * complaints + 2
        ));
    }
    if let Some(notice) = notices
        .iter()
        .find(|notice| !matches!(notice.delivery, Delivery::Sent { .. }))
    {
        return Err(format!(
            "a notice not sent: {} to {}: {:?}",
            notice.kind, notice.to, notice.delivery
        ));
    }
    let waiting = stack.read(&portal.intake, "INBOX").len();
    if waiting > 0 {
        return Err(format!("{waiting} message(s) left in the intake inbox"));
    }
    let mut processed = stack.message_ids(&portal.intake, "Processed");
    processed.sort();
    let mut expected = delivered.to_vec();
    expected.sort();
    if processed != expected {
        return Err(format!(
            "Processed holds {} message(s), expected {} (each once)",
            processed.len(),
            expected.len()
        ));
    }
    stack.wait_until_delivered();
    let surplus = stack.notice_surplus(&[&portal.provider, &portal.mco], &notices, kills)?;
    eprintln!("e2e_watch: {surplus} notice(s) sent again after {kills} kill(s)");
    Ok(())
}

/// The SIGKILL test of `--watch`: a watch is started, fed a stream of complaints
/// through the intake inbox and killed at a seeded moment (a delay, a notice landing,
/// a message reaching Processed), twenty times, each new watch taking over what the
/// last left; one final `--once` pass; then nothing is lost, nothing recorded twice,
/// and at most one notice per kill arrived twice.
#[test]
fn twenty_seeded_sigkills_while_watching_lose_nothing_and_record_nothing_twice() {
    let seed = std::env::var("PORTAL_KILL_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("e2e_watch: SIGKILL seed {seed} (PORTAL_KILL_SEED overrides it)");
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        notices_per_sender_per_day: 1000,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "watchkill", wiring);
    portal.register(&portal.provider);
    stack.wait_until_delivered();

    let mut rng = XorShift(seed.max(1));
    let mut delivered = stack.message_ids(&portal.intake, "Processed");
    let registration = delivered.len();
    let mut log = String::new();
    for round in 0..KILLS {
        let line = kill_round(&stack, &portal, &mut rng, &mut delivered, round);
        let _ = writeln!(log, "{line}");
    }
    let report = portal.pass();
    assert!(report.contains("0 waiting, 0 failed"), "{report}\n{log}");
    let complaints = delivered.len() - registration;
    if let Err(error) = check_everything_once(&stack, &portal, &delivered, complaints, KILLS) {
        panic!(
            "seed {seed}: {error}\nthe watches' logs: {}\n{log}",
            portal.dir.path().display()
        );
    }
    eprintln!("e2e_watch: {KILLS} kills, {complaints} complaints, seed {seed}:\n{log}");
}

// ---------------------------------------------------------------------------------
// The latency benchmark (benches/latency.sh runs it)
// ---------------------------------------------------------------------------------

/// When each answer (by the Message-ID it answers) first appeared in a Maildir inbox,
/// watched by a thread that looks every 10 ms.
struct Arrivals {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    done: Arc<AtomicBool>,
}

impl Arrivals {
    fn watch(account: &Account) -> Arrivals {
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (sink, stop, maildir) = (
            Arc::clone(&seen),
            Arc::clone(&done),
            account.maildir.clone(),
        );
        std::thread::spawn(move || {
            let mut known = HashMap::new();
            while !stop.load(Ordering::SeqCst) {
                let before: HashSet<String> = known.keys().cloned().collect();
                replies_on_disk(&maildir, &mut known);
                let now = Instant::now();
                let mut seen = sink.lock().unwrap();
                for (name, reply) in &known {
                    if let (false, Some(reply)) = (before.contains(name), reply) {
                        seen.entry(reply.clone()).or_insert(now);
                    }
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Arrivals { seen, done }
    }

    fn at(&self, message_id: &str) -> Option<Instant> {
        self.seen.lock().unwrap().get(message_id).copied()
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// The `p`-th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Latency from SMTP acceptance to the acceptance notice in the provider's inbox:
/// `PORTAL_LATENCY_MESSAGES` complaints (default 100) mailed through Postfix with
/// swaks. `PORTAL_LATENCY_MODE=watch` (the default): `intake --watch`, each complaint
/// sent once the one before is answered. `every60`: `intake --every 60s`, one complaint
/// a second.
#[test]
#[ignore = "a benchmark: bash benches/latency.sh"]
fn latency_benchmark() {
    let count: usize = std::env::var("PORTAL_LATENCY_MESSAGES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100);
    let mode = std::env::var("PORTAL_LATENCY_MODE").unwrap_or_else(|_| "watch".to_owned());
    let arguments: &[&str] = match mode.as_str() {
        "watch" => &["intake", "--watch"],
        "every60" => &["intake", "--every", "60s"],
        other => panic!("PORTAL_LATENCY_MODE is watch or every60, not {other:?}"),
    };
    let stack = mailstack::shared();
    let _alone = stack.exclusive();
    let wiring = Wiring {
        notices_per_sender_per_day: 1_000_000,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, &format!("latency-{mode}"), wiring);
    portal.register(&portal.provider);
    stack.wait_until_delivered();
    let mut command = portal.command(&["--log-format", "json"]);
    command.args(arguments);
    let watching = Watching::spawn(command);
    watching.wait_for("the first pass", || !watching.reports().is_empty());
    let arrivals = Arrivals::watch(&portal.provider);

    let mut sent: Vec<(String, Instant)> = Vec::with_capacity(count);
    for serial in 0..count {
        let began = Instant::now();
        let (message_id, accepted) = mail_complaint(&portal, 10_000 + serial);
        sent.push((message_id.clone(), accepted));
        if mode == "watch" {
            watching.wait_for("the answer", || arrivals.at(&message_id).is_some());
        } else {
            // One a second.
            std::thread::sleep(Duration::from_secs(1).saturating_sub(began.elapsed()));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while sent.iter().any(|(id, _)| arrivals.at(id).is_none()) {
        assert!(
            Instant::now() < deadline,
            "not every complaint was answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut latencies: Vec<Duration> = sent
        .iter()
        .map(|(id, accepted)| {
            arrivals
                .at(id)
                .unwrap()
                .saturating_duration_since(*accepted)
        })
        .collect();
    latencies.sort();
    let (p50, p95, max) = (
        percentile(&latencies, 50),
        percentile(&latencies, 95),
        *latencies.last().unwrap(),
    );
    println!(
        "latency: {} ({count} complaints through Postfix): p50 {:.3} s, p95 {:.3} s, max {:.3} s{}",
        arguments.join(" "),
        p50.as_secs_f64(),
        p95.as_secs_f64(),
        max.as_secs_f64(),
        if mode == "watch" {
            if p95 < Duration::from_secs(2) {
                " (target p95 < 2 s: met)"
            } else {
                " (target p95 < 2 s: MISSED)"
            }
        } else {
            ""
        }
    );
}
