//! `portal intake --every`: a pass on a schedule until SIGTERM or SIGINT, which stop it
//! cleanly after the message in hand: what it handled is recorded, answered and moved,
//! the rest waits in the inbox for the next run, and nothing is done twice.

use portal::forms::samples::SAMPLE_NPI;
use portal::mail::Folder;
use portal::store::{Store, Tree};

use crate::common::{Mailroom, PROVIDER, Service};

/// The inquiries a pass report counts ("… 2 inquiry(ies) …").
fn inquiries_in_report(report: &str) -> usize {
    let (before, _) = report
        .split_once(" inquiry(ies)")
        .unwrap_or_else(|| panic!("no inquiry count: {report}"));
    before
        .rsplit(' ')
        .next()
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no inquiry count: {report}"))
}

fn inquiries_in(room: &Mailroom, folder: Option<Folder>) -> usize {
    portal::mail::maildir::Maildir::open(&room.path("mail/inquiries"))
        .unwrap()
        .ids(folder)
        .unwrap()
        .len()
}

fn stored_inquiries(room: &Mailroom) -> usize {
    Store::open(&room.config.store.path)
        .unwrap()
        .all::<portal::store::Inquiry>(Tree::Inquiries)
        .unwrap()
        .len()
}

#[test]
fn every_runs_a_pass_on_its_schedule_and_sigint_stops_it_between_passes() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let service = Service::spawn(room.every());
    service.pass_where(|report| report.starts_with("intake: 0 message(s)"));
    // Mail that arrives while the service waits is handled by the later passes (one,
    // or two should a pass fall between the two deliveries).
    room.ask(2);
    let mut answered = 0;
    while answered < 2 {
        let report = service.pass_where(|report| !report.starts_with("intake: 0 message(s)"));
        answered += inquiries_in_report(&report);
        assert!(
            report.contains("notices: 1 sent") || report.contains("notices: 2 sent"),
            "{report}"
        );
    }
    assert_eq!(answered, 2);
    service.pass_where(|report| report.starts_with("intake: 0 message(s)"));
    let (code, rest) = service.stop(libc::SIGINT);
    assert_eq!(code, Some(0), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    assert_eq!(stored_inquiries(&room), 2);
    assert_eq!(inquiries_in(&room, Some(Folder::Processed)), 2);
}

#[test]
fn sigterm_mid_pass_stops_after_the_message_in_hand_and_the_next_run_finishes() {
    const BACKLOG: usize = 300;
    let room = Mailroom::new("");
    room.ask(BACKLOG);
    let service = Service::spawn(room.every());
    service.event("message handled");
    let (code, rest) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");

    // Stopped part-way: every message it took is recorded, answered and moved; the
    // rest is still in the inbox.
    let handled = stored_inquiries(&room);
    let left = inquiries_in(&room, None);
    assert!(
        handled > 0 && left > 0,
        "the stop came mid-pass: {handled} handled, {left} left"
    );
    assert_eq!(handled + left, BACKLOG, "no message lost");
    assert_eq!(inquiries_in(&room, Some(Folder::Processed)), handled);
    assert_eq!(room.outbox().len(), handled, "one answer each, all sent");

    // The next run handles the rest, and nothing twice.
    let report = room.pass();
    assert_eq!(report.inquiries.len(), left);
    assert_eq!(report.already_processed, 0);
    assert_eq!(stored_inquiries(&room), BACKLOG);
    assert_eq!(inquiries_in(&room, None), 0);
    assert_eq!(room.outbox().len(), BACKLOG);
}
