//! After the forward, on a local Maildir and the file transport: mail from an MCO's
//! addresses (never `not_registered`), its proposals (responded, late, the provider
//! told), mail that names no ticket of that MCO (`mco_id_missing`, once a day), the
//! one extension from either party, and the ticket's own parties only (R13).

use std::time::{Duration, SystemTime};

use chrono::Days;
use portal::forms::Status;
use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::ids::TicketId;
use portal::store::{
    EventKind, ExtensionStatus, MessageRecord, Outcome, Party, Store, Ticket, Tree, Writes,
};

use crate::common::{Mailroom, PROVIDER, Sent, complaint, message};

const INTAKE: &str = "intake@portal.example.gov";
const MOLINA: &str = "disputes@molina.example";
/// Molina's other address, from `reply_addresses`.
const MOLINA_APPEALS: &str = "appeals@molina.example";
const AETNA: &str = "disputes@aetna.example";
const AETNA_APPEALS: &str = "appeals@aetna.example";
const ANSWERED: &str = "Molina Healthcare of Illinois has answered your complaint";
const ID_MISSING: &str = "Please keep the ticket id in the subject";

/// Two MCOs, each with a reply address beside its dispute mailbox.
const MCOS: &str = r#"
[[mco]]
code = "MOLINA"
name = "Molina Healthcare of Illinois"
dispute_address = "disputes@molina.example"
reply_addresses = ["appeals@molina.example"]

[[mco]]
code = "AETNA"
name = "Aetna Better Health of Illinois"
dispute_address = "disputes@aetna.example"
reply_addresses = ["appeals@aetna.example"]
"#;

/// A mailroom with the provider registered.
fn room() -> Mailroom {
    let room = Mailroom::new(MCOS);
    room.register(PROVIDER, SAMPLE_NPI);
    room
}

/// A good complaint of three lines for MOLINA, received today, forwarded.
fn forwarded(room: &Mailroom) -> TicketId {
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "See attached.",
        &[("claims.xlsx", complaint(Sample::Good, 3))],
    ));
    let report = room.pass();
    let id = report.tickets[0];
    assert_eq!(ticket(room, id).status, Status::Forwarded);
    id
}

/// A good complaint for MOLINA that the mailbox received `days_ago` days ago (the
/// Maildir file's time), forwarded by a pass today.
fn forwarded_days_ago(room: &Mailroom, days_ago: u64) -> TicketId {
    let config = crate::common::config();
    let received_on = portal::today::today_in_illinois() - Days::new(days_ago);
    let lines = portal::forms::samples::complaint_lines(Sample::Good, received_on, 4, 2);
    let workbook =
        portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
    let id = room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "See attached.",
        &[("claims.xlsx", workbook)],
    ));
    let file = room.path("mail/intake/new").join(id);
    let then = SystemTime::now() - Duration::from_secs(days_ago * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(then)
        .unwrap();
    let report = room.pass();
    let id = report.tickets[0];
    let ticket = ticket(room, id);
    assert_eq!(ticket.status, Status::Forwarded);
    assert_eq!(ticket.received_on, received_on);
    id
}

fn ticket(room: &Mailroom, id: TicketId) -> Ticket {
    Store::open(&room.config.store.path)
        .unwrap()
        .record(id)
        .unwrap()
        .unwrap()
}

/// Changes a ticket in the store as a staff decision would have left it.
fn change_ticket(room: &Mailroom, id: TicketId, change: impl FnOnce(&mut Ticket)) {
    let store = Store::open(&room.config.store.path).unwrap();
    let mut ticket: Ticket = store.record(id).unwrap().unwrap();
    change(&mut ticket);
    let mut writes = Writes::default();
    writes.put(Tree::Tickets, id.to_string(), &ticket).unwrap();
    store.apply(writes).unwrap();
    store.flush().unwrap();
}

/// The outcomes of every processed message from `from`.
fn outcomes_from(room: &Mailroom, from: &str) -> Vec<Outcome> {
    let store = Store::open(&room.config.store.path).unwrap();
    let mut records: Vec<MessageRecord> = store.all(Tree::Messages).unwrap();
    records.retain(|record| record.from == from);
    records.sort_by_key(|record| record.processed_at);
    records.into_iter().map(|record| record.outcome).collect()
}

fn with_subject(sent: &[Sent], needle: &str) -> Vec<Sent> {
    sent.iter()
        .filter(|notice| notice.subject.contains(needle))
        .cloned()
        .collect()
}

fn events(ticket: &Ticket) -> Vec<EventKind> {
    ticket.events.iter().map(|event| event.what).collect()
}

/// `portal tickets show ID --json`, parsed.
fn shown(room: &Mailroom, id: TicketId) -> serde_json::Value {
    let output = room.cli(&["tickets", "show", &id.to_string(), "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn mail_from_an_mco_address_is_never_not_registered() {
    let room = Mailroom::new(MCOS);
    // A complaint template from the dispute mailbox, and plain mail from the other
    // address: neither is registered, and neither is told to register.
    room.deliver(&message(
        MOLINA,
        INTAKE,
        "Claims",
        "Attached.",
        &[("claims.xlsx", complaint(Sample::Good, 1))],
    ));
    room.deliver(&message(
        MOLINA_APPEALS,
        INTAKE,
        "Our answer",
        "Hello.",
        &[],
    ));
    let report = room.pass();
    assert_eq!(report.not_registered, 0);
    assert!(report.tickets.is_empty());
    for from in [MOLINA, MOLINA_APPEALS] {
        assert_eq!(
            outcomes_from(&room, from),
            [Outcome::Correspondence { id: None }]
        );
    }
    let sent = room.outbox();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let mut to: Vec<&str> = sent.iter().map(|notice| notice.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, [MOLINA_APPEALS, MOLINA]);
    for notice in &sent {
        assert_eq!(notice.subject, ID_MISSING);
        assert_eq!(notice.auto_submitted, "auto-replied");
        assert!(!notice.text.contains("register"), "{}", notice.text);
    }
}

#[test]
fn a_proposal_marks_the_ticket_responded_and_tells_the_provider_each_time() {
    let room = room();
    let id = forwarded(&room);
    let today = portal::today::today_in_illinois();
    room.deliver(&message(
        MOLINA_APPEALS,
        INTAKE,
        &format!("RE: [{id}] Provider complaint forwarded by Illinois HFS (3 lines)"),
        "We will reprocess these claims.",
        &[],
    ));
    room.pass();
    assert_eq!(
        outcomes_from(&room, MOLINA_APPEALS),
        [Outcome::Proposal { id }]
    );
    let after = ticket(&room, id);
    assert_eq!(after.status, Status::Responded);
    assert_eq!(after.responded_on, Some(today));
    assert!(!after.late);
    assert_eq!(after.proposals.len(), 1);
    assert_eq!(events(&after).last(), Some(&EventKind::Proposal));
    assert!(!events(&after).contains(&EventKind::Decisions));

    let view = shown(&room, id);
    assert_eq!(view["status"], "responded");
    assert_eq!(view["responded_on"], today.to_string());
    assert_eq!(view["late"], false);
    let whats: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, ["received", "notice", "forwarded", "proposal"]);

    let told = with_subject(&room.outbox(), ANSWERED);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].subject, format!("[{id}] {ANSWERED}"));
    assert_eq!(told[0].to, PROVIDER);
    assert!(told[0].text.contains(&format!("[{id}]")));
    assert!(!told[0].text.contains("reprocess"), "{}", told[0].text);
    // Nothing goes back to the MCO for a proposal without a workbook.
    assert!(
        room.outbox()
            .iter()
            .all(|notice| notice.to != MOLINA_APPEALS)
    );

    // A pass with no mail sends nothing again; a later proposal keeps the date and
    // tells the provider again.
    room.pass();
    assert_eq!(with_subject(&room.outbox(), ANSWERED).len(), 1);
    room.deliver(&message(
        MOLINA,
        INTAKE,
        &format!("Fwd: [{id}] our proposal"),
        "Further detail.",
        &[],
    ));
    room.pass();
    let later = ticket(&room, id);
    assert_eq!(later.responded_on, Some(today));
    assert_eq!(later.proposals.len(), 2);
    assert_eq!(later.status, Status::Responded);
    assert_eq!(with_subject(&room.outbox(), ANSWERED).len(), 2);
}

#[test]
fn a_proposal_after_the_due_date_is_late() {
    let room = room();
    let id = forwarded_days_ago(&room, 40);
    let due = ticket(&room, id).response_due.unwrap();
    assert!(due < portal::today::today_in_illinois());
    room.deliver(&message(
        MOLINA,
        INTAKE,
        &format!("Re: [{id}] answer"),
        "Answer.",
        &[],
    ));
    room.pass();
    let after = ticket(&room, id);
    assert_eq!(after.status, Status::Responded);
    assert!(after.late);
    assert_eq!(shown(&room, id)["late"], true);
    let told = with_subject(&room.outbox(), ANSWERED);
    assert_eq!(told.len(), 1);
    assert!(told[0].text.contains(&due.to_string()), "{}", told[0].text);
}

#[test]
fn an_mco_naming_no_ticket_of_its_own_is_asked_for_the_id_once_a_day() {
    let room = room();
    let id = forwarded(&room);
    let before = ticket(&room, id);
    // Aetna writes about Molina's ticket, and from its other address about an id
    // that does not exist: the same answer to each, nothing about the ticket.
    room.deliver(&message(
        AETNA,
        INTAKE,
        &format!("Re: [{id}] Provider complaint forwarded by Illinois HFS (3 lines)"),
        "Our answer.",
        &[],
    ));
    room.deliver(&message(
        AETNA_APPEALS,
        INTAKE,
        "Re: [PRP-2026-999999] our answer",
        "Our answer.",
        &[],
    ));
    room.pass();
    assert_eq!(ticket(&room, id), before, "the ticket is untouched");
    for from in [AETNA, AETNA_APPEALS] {
        assert_eq!(
            outcomes_from(&room, from),
            [Outcome::Correspondence { id: None }]
        );
    }
    let asked = with_subject(&room.outbox(), ID_MISSING);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(
        asked[0].text, asked[1].text,
        "R13: one answer whatever the id"
    );
    assert!(!asked[0].text.contains(&id.to_string()));
    assert!(!asked[0].text.contains("999999"));

    // The same address again the same day, in another pass: kept, not answered.
    room.deliver(&message(AETNA, INTAKE, "Our answers", "More.", &[]));
    room.pass();
    assert_eq!(outcomes_from(&room, AETNA).len(), 2);
    let asked = with_subject(&room.outbox(), ID_MISSING);
    assert_eq!(asked.len(), 2);
    assert_eq!(asked.iter().filter(|notice| notice.to == AETNA).count(), 1);
}

#[test]
fn the_provider_asks_for_more_time_once_and_the_mco_is_told_it_was_asked() {
    let room = room();
    let id = forwarded(&room);
    let today = portal::today::today_in_illinois();
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        &format!("Re: [{id}] Extension please"),
        "We need more time.",
        &[],
    ));
    room.pass();
    assert_eq!(
        outcomes_from(&room, PROVIDER).last(),
        Some(&Outcome::ExtensionRequest { id })
    );
    let asked = ticket(&room, id);
    let extension = asked.extension.clone().expect("the request is recorded");
    assert_eq!(extension.requested_by, Party::Provider);
    assert_eq!(extension.requested_on, today);
    assert_eq!(extension.status, ExtensionStatus::Requested);
    assert_eq!(extension.by, None);
    assert_eq!(asked.status, Status::Forwarded, "no proposal yet");
    assert_eq!(events(&asked).last(), Some(&EventKind::MoreTimeRequested));
    let received = with_subject(&room.outbox(), "Request for more time received");
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].subject,
        format!("[{id}] Request for more time received")
    );
    assert_eq!(received[0].to, PROVIDER);
    assert_eq!(shown(&room, id)["extension"]["requested_by"], "provider");

    // The MCO asks too: only one may be asked for.
    room.deliver(&message(
        MOLINA,
        INTAKE,
        &format!("[{id}] EXTENSION"),
        "More time, please.",
        &[],
    ));
    room.pass();
    assert_eq!(
        outcomes_from(&room, MOLINA),
        [Outcome::ExtensionRequest { id }]
    );
    let again = ticket(&room, id);
    assert_eq!(again.extension, asked.extension);
    assert_eq!(again.status, Status::Forwarded, "not a proposal");
    let already = with_subject(&room.outbox(), "More time was already requested");
    assert_eq!(already.len(), 1);
    assert_eq!(
        already[0].subject,
        format!("[{id}] More time was already requested")
    );
    assert_eq!(already[0].to, MOLINA);
    assert!(
        already[0].text.contains("by the provider"),
        "{}",
        already[0].text
    );
    assert_eq!(
        with_subject(&room.outbox(), "Request for more time received").len(),
        1
    );
    // No subject of ours says "extension": a reply to any of them is no request.
    assert!(
        room.outbox()
            .iter()
            .all(|notice| !notice.subject.to_lowercase().contains("extension"))
    );
}

#[test]
fn the_mco_asks_for_more_time_from_its_reply_address() {
    let room = room();
    let id = forwarded(&room);
    room.deliver(&message(
        MOLINA_APPEALS,
        INTAKE,
        &format!("AW: Re: [{id}] Request: extension"),
        "More time, please.",
        &[],
    ));
    room.pass();
    let asked = ticket(&room, id);
    assert_eq!(
        asked
            .extension
            .as_ref()
            .map(|extension| extension.requested_by),
        Some(Party::Mco)
    );
    assert_eq!(asked.status, Status::Forwarded);
    assert!(asked.proposals.is_empty());
    let received = with_subject(&room.outbox(), "Request for more time received");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, MOLINA_APPEALS);
    assert!(with_subject(&room.outbox(), ANSWERED).is_empty());

    // A second request from the provider now.
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        &format!("[{id}] extension"),
        "Us too.",
        &[],
    ));
    room.pass();
    let already = with_subject(&room.outbox(), "More time was already requested");
    assert_eq!(already.len(), 1);
    assert_eq!(already[0].to, PROVIDER);
    assert!(
        already[0].text.contains("by the MCO"),
        "{}",
        already[0].text
    );
}

#[test]
fn a_stranger_naming_a_ticket_learns_nothing_about_it() {
    let room = room();
    let id = forwarded(&room);
    let before = ticket(&room, id);
    let sent_before = room.outbox().len();
    room.deliver(&message(
        "stranger@else.example",
        INTAKE,
        &format!("Re: [{id}] extension"),
        "More time.",
        &[],
    ));
    room.pass();
    assert_eq!(ticket(&room, id), before);
    assert_eq!(
        outcomes_from(&room, "stranger@else.example"),
        [Outcome::Help]
    );
    let sent = room.outbox();
    assert_eq!(sent.len(), sent_before + 1);
    let answer = sent
        .iter()
        .find(|notice| notice.to == "stranger@else.example")
        .unwrap();
    assert!(!answer.subject.contains(&id.to_string()));
    assert!(!answer.text.contains(&id.to_string()));
}

#[test]
fn a_resolved_ticket_takes_mail_as_correspondence_and_stays_resolved() {
    let room = room();
    let id = forwarded(&room);
    change_ticket(&room, id, |ticket| ticket.status = Status::Resolved);
    room.deliver(&message(
        MOLINA,
        INTAKE,
        &format!("Re: [{id}] a further answer"),
        "More.",
        &[],
    ));
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        &format!("Re: [{id}] extension"),
        "Time.",
        &[],
    ));
    room.pass();
    assert_eq!(
        outcomes_from(&room, MOLINA),
        [Outcome::Correspondence {
            id: Some(id.into())
        }]
    );
    assert_eq!(
        outcomes_from(&room, PROVIDER).last(),
        Some(&Outcome::Correspondence {
            id: Some(id.into())
        })
    );
    let after = ticket(&room, id);
    assert_eq!(after.status, Status::Resolved);
    assert_eq!(after.responded_on, None);
    assert_eq!(after.extension, None);
    assert_eq!(after.correspondence.len(), 2);
    let correspondence = events(&after)
        .iter()
        .filter(|what| **what == EventKind::Correspondence)
        .count();
    assert_eq!(correspondence, 2);
    assert!(with_subject(&room.outbox(), ANSWERED).is_empty());
    assert!(with_subject(&room.outbox(), "more time").is_empty());
    assert!(with_subject(&room.outbox(), "More time").is_empty());
}
