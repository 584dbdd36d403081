//! Staff commands while an intake holds the store: answered over `portal.sock` in the
//! store's folder (0600, gone when the intake stops), within a second even in the
//! middle of a long pass, with the decision's notice sent exactly once; a socket left
//! by a killed intake stops nothing; a command whose intake dies while answering says
//! so (exit 2) and can be repeated; an export over the socket is the export of the
//! closed store. The backlog test runs on Maildir and again on Dovecot and Postfix.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::store::{Delivery, Notice, Store, Tree};

use crate::common::{Mailroom, PROVIDER, Service, complaint, message, registration_form};
use crate::mailstack::{self, Letter, Portal, Wiring};

const INTAKE: &str = "intake@portal.example.gov";
/// The registrant whose request staff approve.
const PENDING: &str = "pending@lakeside.example";
/// What a command says when its intake stopped while answering.
const STOPPED: &str = "the intake stopped before answering";

fn socket(room: &Mailroom) -> PathBuf {
    room.path("store/portal.sock")
}

/// `portal intake --every 1h`: its first pass at once, then nothing for an hour but
/// the staff commands it answers. `failpoints` arms `PORTAL_FAILPOINTS`.
fn hourly(room: &Mailroom, failpoints: Option<&str>) -> Service {
    intake(room, &["--every", "1h"], failpoints)
}

/// `portal intake` with `mode` (`--every 1h`, `--watch --every 1h`).
fn intake(room: &Mailroom, mode: &[&str], failpoints: Option<&str>) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command
        .arg("--config")
        .arg(&room.config_path)
        .args(["--log-format", "json", "intake"])
        .args(mode)
        .current_dir(room.dir.path())
        .env_remove("PORTAL_FAILPOINTS");
    if let Some(points) = failpoints {
        command.env("PORTAL_FAILPOINTS", points);
    }
    Service::spawn(command)
}

/// Runs the CLI and measures it.
fn timed(room: &Mailroom, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = room.cli(args);
    (output, started.elapsed())
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A registration request from [`PENDING`], filed by a pass; its id.
fn pending_registration(room: &Mailroom) -> String {
    room.deliver(&message(
        PENDING,
        INTAKE,
        "Registration",
        "Form attached.",
        &[(
            "registration-form.xlsx",
            registration_form(PENDING, SAMPLE_NPI),
        )],
    ));
    let filed = room.pass().registrations;
    assert_eq!(filed.len(), 1);
    filed[0].to_string()
}

/// The approval notices to [`PENDING`] in the store, and the files the transport wrote.
fn approvals(room: &Mailroom) -> (Vec<Notice>, usize) {
    let store = Store::open(&room.config.store.path).unwrap();
    let recorded: Vec<Notice> = store
        .all::<Notice>(Tree::Outbox)
        .unwrap()
        .into_iter()
        .filter(|notice| notice.to == PENDING && notice.subject.contains("Registration approved"))
        .collect();
    let written = room
        .outbox()
        .iter()
        .filter(|sent| sent.to == PENDING && sent.subject.contains("Registration approved"))
        .count();
    (recorded, written)
}

/// Exactly one approval notice to [`PENDING`], recorded sent and written once.
fn approved_once(room: &Mailroom) {
    let (recorded, written) = approvals(room);
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert!(
        matches!(recorded[0].delivery, Delivery::Sent { .. }),
        "{recorded:#?}"
    );
    assert_eq!(written, 1, "the approval's notice went out once");
}

fn inbox_left(room: &Mailroom, mailbox: &str) -> usize {
    portal::mail::maildir::Maildir::open(&room.path(mailbox))
        .unwrap()
        .ids(None)
        .unwrap()
        .len()
}

#[test]
fn the_socket_is_private_while_intake_runs_answers_at_once_and_goes_with_sigterm() {
    let room = Mailroom::new("");
    let service = hourly(&room, None);
    service.pass_where(|report| report.starts_with("intake: "));
    let path = socket(&room);
    let found = std::fs::symlink_metadata(&path).expect("the socket is there");
    assert!(found.file_type().is_socket());
    assert_eq!(found.permissions().mode() & 0o777, 0o600);

    // The store is held: the command is answered by the intake, without the wait for
    // the store a second process would have.
    let (output, took) = timed(&room, &["registrations", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("No registrations."),
        "{}",
        text(&output)
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let answered = service.event("staff command answered");
    assert_eq!(answered["fields"]["command"], "registrations list");
    assert_eq!(answered["fields"]["exit"], 0);

    // The staff report too, with the statistics the first pass wrote.
    let (output, took) = timed(&room, &["report", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(took < Duration::from_secs(1), "report took {took:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["months"].as_array().map(Vec::len), Some(12 * 7));
    let answered = service.event("staff command answered");
    assert_eq!(answered["fields"]["command"], "report");
    assert_eq!(answered["fields"]["exit"], 0);
    // An inverted period is refused by the intake as by the command line: exit 2.
    let output = room.cli(&["report", "--from", "2026-05-01", "--to", "2026-04-01"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));

    // A refusal comes back with its message and exit status.
    let output = room.cli(&["registrations", "show", "REG-1999-000009"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("there is no registration REG-1999-000009"),
        "{}",
        text(&output)
    );

    let (code, rest) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0), "{rest:?}");
    assert!(!path.exists(), "the socket is removed when intake stops");

    // `--once` holds the store, and its socket, only while its pass runs.
    let output = room.cli(&["intake", "--once"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(!path.exists());
}

#[test]
fn a_socket_left_by_a_killed_intake_stops_neither_staff_nor_the_next_intake() {
    let room = Mailroom::new("");
    let service = hourly(&room, None);
    service.pass_where(|report| report.starts_with("intake: "));
    drop(service); // SIGKILL
    let path = socket(&room);
    assert!(path.exists(), "a killed intake leaves its socket");

    // Nobody listens: the command opens the store itself.
    let output = room.cli(&["outbox", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("The outbox is empty."));

    // The next intake takes the store and replaces the socket.
    let service = hourly(&room, None);
    service.pass_where(|report| report.starts_with("intake: "));
    let output = room.cli(&["outbox", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        service.event("staff command answered")["fields"]["command"],
        "outbox list"
    );
    let (code, _) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));
    assert!(!path.exists());
}

/// While `intake --every` works through a backlog of 1,000 messages (complaints and
/// inquiries), `tickets list` and `registrations approve` each answer in under a
/// second, in the middle of the pass, and the approval's notice goes out once — never
/// a second time by the pass delivering what waits in the outbox.
#[test]
fn staff_commands_answer_within_a_second_mid_backlog_and_the_notice_goes_once() {
    staff_commands_mid_backlog(&["--every", "1h"]);
}

/// The same under `intake --watch`, and once it idles afterwards.
#[test]
fn staff_commands_answer_within_a_second_while_watching() {
    staff_commands_mid_backlog(&["--watch", "--every", "1h"]);
}

fn staff_commands_mid_backlog(mode: &[&str]) {
    const COMPLAINTS: usize = 50;
    const INQUIRIES: usize = 950;
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let registration = pending_registration(&room);
    for _ in 0..COMPLAINTS {
        room.deliver(&message(
            PROVIDER,
            INTAKE,
            "Complaint",
            "Attached.",
            &[("complaint.xlsx", complaint(Sample::Good, 1))],
        ));
    }
    room.ask(INQUIRIES);

    let service = intake(&room, mode, None);
    let listed = service.event("mailbox listed");
    assert_eq!(listed["fields"]["waiting"], COMPLAINTS as u64, "{listed}");

    let (output, took) = timed(&room, &["tickets", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(took < Duration::from_secs(1), "tickets list took {took:?}");
    let (output, took) = timed(
        &room,
        &[
            "registrations",
            "approve",
            &registration,
            "--by",
            "Dana Staff",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("Approved registration")
            && text(&output).contains("notice was sent"),
        "{}",
        text(&output)
    );
    assert!(
        took < Duration::from_secs(1),
        "registrations approve took {took:?}"
    );
    let left = inbox_left(&room, "mail/intake") + inbox_left(&room, "mail/inquiries");
    assert!(left > 0, "the commands were answered mid-pass");

    let report = service.pass_where(|report| report.starts_with("intake: "));
    assert!(
        report.starts_with(&format!("intake: {} message(s)", COMPLAINTS + INQUIRIES)),
        "{report}"
    );
    // Idle now (waiting for the next interval, or for mail): answered as quickly.
    let (output, took) = timed(&room, &["tickets", "list", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        took < Duration::from_secs(1),
        "idle tickets list took {took:?}"
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(COMPLAINTS));
    let (code, _) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));
    approved_once(&room);
    assert_eq!(inbox_left(&room, "mail/inquiries"), 0);
}

/// An intake killed while it answers: the command says so (exit 2) and, repeated
/// once intake runs again, is done — or refused as done already when the first one
/// had taken effect. Either way the registrant is told once.
#[test]
fn a_command_whose_intake_dies_while_answering_exits_2_and_can_be_repeated() {
    for (point, again) in [("staff_command", Some(0)), ("after_staff_command", Some(1))] {
        let room = Mailroom::new("");
        let registration = pending_registration(&room);
        let approve = [
            "registrations",
            "approve",
            registration.as_str(),
            "--by",
            "Dana Staff",
        ];

        let service = hourly(&room, Some(point));
        service.pass_where(|report| report.starts_with("intake: "));
        let output = room.cli(&approve);
        assert_eq!(output.status.code(), Some(2), "{point}: {}", text(&output));
        assert!(
            text(&output).contains(STOPPED) && text(&output).contains("can be repeated"),
            "{point}: {}",
            text(&output)
        );
        drop(service);

        let service = hourly(&room, None);
        service.pass_where(|report| report.starts_with("intake: "));
        let output = room.cli(&approve);
        assert_eq!(output.status.code(), again, "{point}: {}", text(&output));
        if again == Some(1) {
            assert!(
                text(&output).contains("is active; it cannot be approved"),
                "{point}: {}",
                text(&output)
            );
        }
        let (code, _) = service.stop(libc::SIGTERM);
        assert_eq!(code, Some(0));
        approved_once(&room);
    }
}

/// `store export` over the socket, with a path relative to where staff run it, gives
/// the same bytes as an export of the closed store.
#[test]
fn an_export_over_the_socket_equals_one_of_the_closed_store() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Complaint",
        "Attached.",
        &[("complaint.xlsx", complaint(Sample::Good, 2))],
    ));
    // A store with a ticket before the intake opens it (opening a store of tickets
    // marks its upgrade done, and the closed store's export opens it).
    assert_eq!(room.pass().tickets.len(), 1);
    room.ask(2);
    let service = hourly(&room, None);
    service.pass_where(|report| report.starts_with("intake: 2 message(s)"));

    let elsewhere = room.path("exports");
    std::fs::create_dir(&elsewhere).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("--config")
        .arg(&room.config_path)
        .args(["store", "export", "held.jsonl"])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        service.event("staff command answered")["fields"]["command"],
        "store export"
    );
    let held = std::fs::read(elsewhere.join("held.jsonl")).expect("written where staff asked");
    // To standard output, through the socket's `out` lines.
    let streamed = room.cli(&["store", "export", "-"]);
    assert_eq!(streamed.status.code(), Some(0), "{}", text(&streamed));
    assert!(streamed.stdout == held, "the same bytes on standard output");
    let (code, _) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));

    let output = room.cli(&["store", "export", "closed.jsonl"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let closed = std::fs::read(room.path("closed.jsonl")).unwrap();
    assert!(held.len() > 1000, "the export holds the records");
    assert!(held == closed, "the same bytes");
}

/// The backlog test on Dovecot and Postfix: `intake --every` reading 1,000 complaints
/// over IMAP and sending each one's notice through Postfix, while staff list the
/// tickets and approve a registration — each answered in under a second, and the
/// registrant gets the approval once.
#[test]
fn over_imap_and_smtp_staff_commands_answer_within_a_second_mid_backlog() {
    const BACKLOG: usize = 1000;
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        notices_per_sender_per_day: 1_000_000,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "socket", wiring);
    portal.register(&portal.provider);
    let other = portal.clinic_account("other");
    let letter = Letter {
        from: &other.address,
        to: &portal.intake.address,
        subject: "Registration",
        body: "Our registration form is attached.",
        attachments: vec![(
            "registration-form.xlsx".to_owned(),
            registration_form(&other.address, SAMPLE_NPI),
        )],
        ..Letter::default()
    };
    stack.send_and_wait(&letter, &portal.intake);
    assert!(portal.pass().contains("1 registration(s)"));
    let registrations = portal.json(&["registrations", "list", "--json"]);
    let pending = registrations
        .as_array()
        .unwrap()
        .iter()
        .find(|registration| registration["status"] == "pending")
        .expect("the other clinic's request waits")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = SystemTime::now() - Duration::from_secs(60);
    for serial in 0..BACKLOG {
        let raw = message(
            &portal.provider.address,
            &portal.intake.address,
            &format!("Complaint {serial}"),
            "Attached.",
            &[("complaint.xlsx", complaint(Sample::Good, 1))],
        );
        stack.deliver(
            &portal.intake,
            &raw,
            start + Duration::from_millis(serial as u64),
        );
    }

    let service =
        Service::spawn(portal.command(&["--log-format", "json", "intake", "--every", "1h"]));
    let listed = service.event("mailbox listed");
    assert_eq!(listed["fields"]["waiting"], BACKLOG as u64, "{listed}");
    service.event("message handled");
    for args in [
        &["tickets", "list"][..],
        &["registrations", "approve", &pending, "--by", "Dana Staff"],
    ] {
        let started = Instant::now();
        let output = portal.run(args);
        let took = started.elapsed();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output));
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
    }
    assert!(
        stack.on_disk(&portal.intake, None) > 0,
        "the commands were answered mid-pass"
    );
    let report = service.pass_where(|report| report.starts_with("intake: "));
    assert!(
        report.starts_with(&format!("intake: {BACKLOG} message(s)")),
        "{report}"
    );
    let (code, _) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));

    stack.wait_until_delivered();
    let approved: Vec<_> = stack
        .notices(&other, "INBOX")
        .into_iter()
        .filter(|notice| notice.subject.contains("Registration approved"))
        .collect();
    assert_eq!(approved.len(), 1, "{approved:#?}");
}

/// Under `--every`, a store another process holds is tried again with the passes'
/// backoff, not given up: the service runs once it is released.
#[test]
fn intake_every_waits_out_a_store_another_process_holds() {
    let room = Mailroom::new("");
    assert_eq!(room.pass().messages, 0);
    let held = Store::open(&room.config.store.path).unwrap();
    let service = Service::spawn(room.every());
    let failed = service.event("cannot open the store; trying again");
    assert_eq!(failed["fields"]["attempt"], 1, "{failed}");
    assert!(
        failed["fields"]["error"]
            .as_str()
            .is_some_and(|error| error.contains("is in use by process")),
        "{failed}"
    );
    drop(held);
    service.pass_where(|report| report.starts_with("intake: 0 message(s)"));
    let (code, _) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));
}
