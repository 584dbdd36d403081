//! The daily work of the real `portal intake --once`, days and weeks ahead, without
//! waiting: the clock of the process is moved with Debian's `faketime` (libfaketime),
//! the Maildir's file times left real (`NO_FAKE_STAT=1`) so the mail keeps the day it
//! came, and the monotonic clock left alone. A missing `faketime` fails these tests
//! (`.ci/run` installs it); none is skipped.
//!
//! Each run is placed at noon in Illinois on the day it stands for, so no test
//! depends on the hour it runs at or on a change of daylight saving time between.
//!
//! Last, the store's own upgrade when this version first opens an older store: ticket
//! lines filled in from the kept mail.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Output, Stdio};

use chrono::{Days, NaiveDate, TimeZone as _, Utc};
use chrono_tz::America::Chicago;
use portal::forms::Status;
use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::ids::TicketId;
use portal::store::{EventKind, Extension, ExtensionStatus, Party, Store, Ticket, Tree, Writes};

use crate::common::{Mailroom, PROVIDER, Sent, complaint, message, portal_bin};

const MOLINA: &str = "disputes@molina.example";
const STAFF: &str = "portal-staff@example.gov";

/// A mailroom whose digest goes to [`STAFF`], or one without a staff address.
fn mailroom(staff: bool) -> Mailroom {
    if staff {
        Mailroom::new(&format!("[mail]\nstaff_address = {STAFF:?}\n"))
    } else {
        Mailroom::new("")
    }
}

/// Registers the provider and files a good complaint of two lines for Molina, today:
/// the ticket's id and its response due date.
fn forwarded_ticket(room: &Mailroom) -> (TicketId, NaiveDate) {
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        "intake@portal.example.gov",
        "Complaint",
        "Attached.",
        &[("complaint.xlsx", complaint(Sample::Good, 2))],
    ));
    let report = room.pass();
    let id = report.tickets[0];
    let ticket = ticket(room, id);
    assert_eq!(ticket.status, Status::Forwarded);
    (id, ticket.response_due.expect("a forwarded ticket is due"))
}

fn ticket(room: &Mailroom, id: TicketId) -> Ticket {
    let store = Store::open(&room.config.store.path).unwrap();
    store.record(id).unwrap().expect("the ticket is stored")
}

/// `portal intake --once` as if it were noon in Illinois on `day`, with crash points
/// armed by `failpoints`.
fn intake_on(room: &Mailroom, day: NaiveDate, failpoints: Option<&str>) -> Output {
    let noon = Chicago
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .single()
        .expect("noon is one instant")
        .with_timezone(&Utc);
    let offset = (noon - Utc::now()).num_seconds();
    let mut command = Command::new("faketime");
    command
        .arg("-f")
        .arg(format!("{offset:+}"))
        .arg(portal_bin())
        .arg("--config")
        .arg(&room.config_path)
        .args(["intake", "--once"])
        .current_dir(room.dir.path())
        .env("NO_FAKE_STAT", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env_remove("PORTAL_FAILPOINTS")
        .stdin(Stdio::null());
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
        .output()
        .expect("faketime (the Debian package faketime) runs portal")
}

/// As [`intake_on`], which must succeed; its summary line.
fn pass_on(room: &Mailroom, day: NaiveDate) -> String {
    let output = intake_on(room, day, None);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "intake on {day}: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The overdue reminders written so far, and the staff digests.
fn reminders_and_digests(room: &Mailroom) -> (Vec<Sent>, Vec<Sent>) {
    let sent = room.outbox();
    let reminders = sent
        .iter()
        .filter(|notice| notice.subject.ends_with("] Response overdue"))
        .cloned()
        .collect();
    let digests = sent
        .into_iter()
        .filter(|notice| {
            notice
                .subject
                .starts_with("Provider Resolution Portal: daily summary ")
        })
        .collect();
    (reminders, digests)
}

fn digest_subject(day: NaiveDate) -> String {
    format!("Provider Resolution Portal: daily summary {day}")
}

fn after(day: NaiveDate, days: u64) -> NaiveDate {
    day + Days::new(days)
}

#[test]
fn an_overdue_ticket_gets_one_reminder_and_a_digest_names_it_every_day() {
    let room = mailroom(true);
    let (id, due) = forwarded_ticket(&room);
    assert_eq!(
        reminders_and_digests(&room).1.len(),
        0,
        "nothing overdue yet"
    );

    let first = after(due, 1);
    let summary = pass_on(&room, first);
    assert!(
        summary.contains("daily: 1 overdue reminder(s), staff digest sent"),
        "{summary}"
    );
    let (reminders, digests) = reminders_and_digests(&room);
    assert_eq!(reminders.len(), 1, "{reminders:#?}");
    assert_eq!(
        (reminders[0].to.as_str(), reminders[0].subject.as_str()),
        (MOLINA, format!("[{id}] Response overdue").as_str())
    );
    assert_eq!(reminders[0].auto_submitted, "auto-generated");
    assert!(
        reminders[0].text.contains(&format!("was due by {due}")),
        "{}",
        reminders[0].text
    );
    assert_eq!(digests.len(), 1, "{digests:#?}");
    assert_eq!(
        (digests[0].to.as_str(), digests[0].subject.clone()),
        (STAFF, digest_subject(first))
    );
    let listed = format!("{id}  due {due}, 1 day overdue, extension: none; MCO reminded today");
    assert!(digests[0].text.contains(&listed), "{}", digests[0].text);

    // A second pass the same day sends nothing more.
    let before = room.outbox().len();
    let summary = pass_on(&room, first);
    assert!(!summary.contains("daily:"), "{summary}");
    assert_eq!(room.outbox().len(), before);

    // The next day: a digest again (still overdue), no second reminder.
    let summary = pass_on(&room, after(due, 2));
    assert!(
        summary.contains("daily: 0 overdue reminder(s), staff digest sent"),
        "{summary}"
    );
    let (reminders, digests) = reminders_and_digests(&room);
    assert_eq!(reminders.len(), 1);
    assert_eq!(digests.len(), 2);
    assert_eq!(digests[1].subject, digest_subject(after(due, 2)));
    let listed = format!("{id}  due {due}, 2 days overdue, extension: none\n");
    assert!(
        digests[1].text.replace("\r\n", "\n").contains(&listed),
        "{}",
        digests[1].text
    );

    let ticket = ticket(&room, id);
    assert_eq!(ticket.reminded, [due]);
    let reminders: Vec<NaiveDate> = ticket
        .events
        .iter()
        .filter(|event| event.what == EventKind::Reminder)
        .map(|event| event.on)
        .collect();
    assert_eq!(reminders, [first]);
}

#[test]
fn a_granted_extension_is_reminded_only_once_its_new_date_passes() {
    let room = mailroom(false);
    let (id, due) = forwarded_ticket(&room);
    let extended = after(due, 30);
    {
        let store = Store::open(&room.config.store.path).unwrap();
        let mut ticket: Ticket = store.record(id).unwrap().unwrap();
        ticket.extension = Some(Extension {
            requested_by: Party::Mco,
            requested_on: ticket.received_on,
            status: ExtensionStatus::Granted,
            by: Some("tester".to_owned()),
            reason: None,
            message: None,
        });
        ticket.response_due = Some(extended);
        let mut writes = Writes::default();
        writes.put(Tree::Tickets, id.to_string(), &ticket).unwrap();
        store.apply(writes).unwrap();
        store.flush().unwrap();
    }
    pass_on(&room, after(due, 1));
    assert_eq!(reminders_and_digests(&room).0.len(), 0, "not due yet");
    pass_on(&room, after(extended, 1));
    let (reminders, digests) = reminders_and_digests(&room);
    assert_eq!(reminders.len(), 1);
    assert!(
        reminders[0].text.contains(&format!(
            "was due by {extended}, the date set by the one extension"
        )),
        "{}",
        reminders[0].text
    );
    assert!(digests.is_empty(), "no staff address: no digest");
    assert_eq!(ticket(&room, id).reminded, [extended]);
}

#[test]
fn without_a_staff_address_the_mco_is_reminded_and_no_digest_is_sent() {
    let room = mailroom(false);
    let (_, due) = forwarded_ticket(&room);
    let summary = pass_on(&room, after(due, 1));
    assert!(
        summary.contains("daily: 1 overdue reminder(s), no staff digest"),
        "{summary}"
    );
    let (reminders, digests) = reminders_and_digests(&room);
    assert_eq!((reminders.len(), digests.len()), (1, 0));
}

#[test]
fn a_day_with_nothing_to_list_sends_no_digest() {
    let room = mailroom(true);
    let (_, due) = forwarded_ticket(&room);
    // The last day before it is overdue; the registration was approved.
    let summary = pass_on(&room, due);
    assert!(!summary.contains("daily:"), "{summary}");
    assert_eq!(reminders_and_digests(&room).1.len(), 0);
    // The day after, there is something to list.
    pass_on(&room, after(due, 1));
    assert_eq!(reminders_and_digests(&room).1.len(), 1);
}

#[cfg(feature = "failpoints")]
mod crash_points {
    use super::*;

    /// Dies at `spec` on the first overdue day, then runs that day again and the
    /// next: each notice of the day's work goes out once, the one in flight at the
    /// death (if any) at most twice, and the ticket is reminded once.
    fn crash_then_recover(spec: &str, reminders_sent: usize) {
        let room = mailroom(true);
        let (id, due) = forwarded_ticket(&room);
        let first = after(due, 1);
        let output = intake_on(&room, first, Some(spec));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{spec}: {stderr}");
        assert!(
            stderr.contains(&format!("failpoint {spec}: aborting")),
            "{spec}: {stderr}"
        );
        pass_on(&room, first);
        pass_on(&room, after(due, 2));
        let (reminders, digests) = reminders_and_digests(&room);
        assert_eq!(reminders.len(), reminders_sent, "{spec}: {reminders:#?}");
        let subjects: Vec<String> = digests.into_iter().map(|digest| digest.subject).collect();
        assert_eq!(
            subjects,
            [digest_subject(first), digest_subject(after(due, 2))],
            "{spec}"
        );
        let ticket = ticket(&room, id);
        assert_eq!(ticket.reminded, [due], "{spec}");
        let events = ticket
            .events
            .iter()
            .filter(|event| event.what == EventKind::Reminder)
            .count();
        assert_eq!(events, 1, "{spec}");
    }

    #[test]
    fn killed_after_the_day_is_recorded_the_next_pass_sends_it_once() {
        crash_then_recover("after_daily_record@1", 1);
    }

    #[test]
    fn killed_while_sending_the_day_only_the_notice_in_flight_goes_twice() {
        // The first notice that run sends is the reminder (queued before the digest).
        crash_then_recover("after_send@1", 2);
    }
}

/// A store an earlier version wrote: its ticket lines kept no NPI or tracking number.
/// The first command to open it with this version fills them from the kept mail.
#[test]
fn lines_of_an_older_store_are_filled_from_the_kept_mail_when_first_opened() {
    let room = mailroom(false);
    let (id, _) = forwarded_ticket(&room);
    {
        let store = Store::open(&room.config.store.path).unwrap();
        let mut ticket: Ticket = store.record(id).unwrap().unwrap();
        for line in &mut ticket.lines {
            line.npi = None;
            line.tracking_number = None;
        }
        let mut writes = Writes::default();
        writes.put(Tree::Tickets, id.to_string(), &ticket).unwrap();
        writes.remove(Tree::Meta, "upgrade:lines_filled");
        store.apply(writes).unwrap();
        store.flush().unwrap();
    }
    let output = room.cli(&["tickets", "show", &id.to_string(), "--json"]);
    assert!(output.status.success(), "{output:?}");
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let lines: Vec<(u64, &str, &str)> = shown["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["row"].as_u64().unwrap(),
                line["npi"].as_str().unwrap(),
                line["tracking_number"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [(2, SAMPLE_NPI, "0TRK-01000"), (3, SAMPLE_NPI, "0TRK-01001")]
    );
}
