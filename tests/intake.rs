//! The intake pipeline on a local Maildir and the file transport: registration,
//! registered senders only, tickets and their one notice, MCO forwards, duplicates,
//! replies, automatic mail and inquiries.

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::forms::schema::claim;
use portal::forms::{Reason, Status};
use portal::mail::Folder;
use portal::store::{RegistrationStatus, Store, Ticket, Tree};

use crate::common::{
    Mailroom, PROVIDER, Sent, complaint, complaint_csv, message, out_of_office, registration_form,
    windows_1252,
};

const INTAKE: &str = "intake@portal.example.gov";

fn tickets(room: &Mailroom) -> Vec<Ticket> {
    Store::open(&room.config.store.path)
        .unwrap()
        .all(Tree::Tickets)
        .unwrap()
}

fn with_subject<'a>(sent: &'a [Sent], needle: &str) -> Vec<&'a Sent> {
    sent.iter()
        .filter(|notice| notice.subject.contains(needle))
        .collect()
}

#[test]
fn a_registration_is_pending_then_approved() {
    let room = Mailroom::new("");
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Register",
        "Form attached.",
        &[("form.xlsx", registration_form(PROVIDER, SAMPLE_NPI))],
    ));
    let report = room.pass();
    assert_eq!(report.registrations.len(), 1);
    let id = report.registrations[0];
    let store = Store::open(&room.config.store.path).unwrap();
    let registration: portal::store::Registration = store.record(id).unwrap().unwrap();
    assert_eq!(registration.status, RegistrationStatus::Pending);
    assert_eq!(registration.npis, [SAMPLE_NPI]);
    // The day received does not count, then two state business days.
    let received = registration.received_on;
    assert_eq!(
        registration.earliest_completion,
        portal::rules::add_business_days(received, 2, &[])
    );
    drop(store);
    let sent = room.outbox();
    let received_notice = with_subject(&sent, "Registration received");
    assert_eq!(received_notice.len(), 1);
    assert_eq!(
        received_notice[0].subject,
        format!("[{id}] Registration received")
    );
    assert_eq!(received_notice[0].auto_submitted, "auto-replied");
    assert!(received_notice[0].in_reply_to.is_some());
    assert!(
        received_notice[0]
            .text
            .contains(&registration.earliest_completion.to_string())
    );
    assert_eq!(
        room.intake_folder(None),
        Vec::<String>::new(),
        "the inbox is empty"
    );
    assert_eq!(room.intake_folder(Some(Folder::Processed)).len(), 1);
}

#[test]
fn a_registration_from_another_address_is_denied() {
    let room = Mailroom::new("");
    room.deliver(&message(
        "someone@else.example",
        INTAKE,
        "Register",
        "x",
        &[("form.xlsx", registration_form(PROVIDER, SAMPLE_NPI))],
    ));
    let report = room.pass();
    let id = report.registrations[0];
    let store = Store::open(&room.config.store.path).unwrap();
    let registration: portal::store::Registration = store.record(id).unwrap().unwrap();
    assert_eq!(registration.status, RegistrationStatus::Denied);
    assert!(
        registration
            .missing
            .iter()
            .any(|field| field.starts_with("Registrant Email")),
        "{:?}",
        registration.missing
    );
    drop(store);
    let denied = room.outbox();
    assert_eq!(denied.len(), 1);
    assert!(
        denied[0]
            .subject
            .ends_with("Registration denied: information missing"),
        "{}",
        denied[0].subject
    );
    assert!(denied[0].text.contains("Registrant Email"));
}

#[test]
fn an_unregistered_sender_gets_no_ticket_and_a_notice_without_an_id() {
    let room = Mailroom::new("");
    room.deliver(&message(
        "stranger@clinic.example",
        INTAKE,
        "Claims",
        "x",
        &[("claims.xlsx", complaint(Sample::Good, 2))],
    ));
    let report = room.pass();
    assert_eq!(report.not_registered, 1);
    assert!(report.tickets.is_empty());
    assert!(tickets(&room).is_empty());
    let sent = room.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "stranger@clinic.example");
    assert!(
        !sent[0].subject.contains('['),
        "no id in the subject: {}",
        sent[0].subject
    );
    assert!(sent[0].text.contains("no active registration"));
}

#[test]
fn a_good_complaint_is_forwarded_with_one_notice_and_the_mco_gets_the_workbook() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "See attached.",
        &[("Q4 claims.xlsx", complaint(Sample::Good, 3))],
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1);
    let ticket = &tickets(&room)[0];
    assert_eq!(ticket.status, Status::Forwarded);
    assert_eq!(ticket.attachment.as_deref(), Some("Q4 claims.xlsx"));
    assert_eq!(ticket.mco.as_deref(), Some("MOLINA"));
    assert_eq!(ticket.sender, PROVIDER);
    assert!(
        ticket
            .lines
            .iter()
            .all(|line| line.status == Status::Forwarded)
    );
    let presented = portal::rules::add_business_days(ticket.received_on, 10, &[]);
    assert_eq!(ticket.presented_by, Some(presented));
    assert_eq!(
        ticket.response_due,
        Some(ticket.received_on + chrono::Days::new(30))
    );

    let sent = room.outbox();
    let accepted = with_subject(&sent, "Complaint accepted");
    assert_eq!(accepted.len(), 1, "exactly one notice per ticket");
    assert_eq!(
        accepted[0].subject,
        format!(
            "[{}] Complaint accepted and sent to Molina Healthcare of Illinois",
            ticket.id
        )
    );
    assert!(
        accepted[0]
            .text
            .contains(&ticket.response_due.unwrap().to_string())
    );
    let forward = with_subject(&sent, "Provider complaint forwarded");
    assert_eq!(forward.len(), 1);
    assert_eq!(forward[0].to, "disputes@molina.example");
    assert_eq!(forward[0].auto_submitted, "auto-generated");
    assert_eq!(forward[0].attachments.len(), 1);
    let (name, bytes) = &forward[0].attachments[0];
    assert_eq!(name, &format!("{}.xlsx", ticket.id));
    // The MCO's response workbook: the accepted lines in the template's columns, after
    // Ticket and Row.
    let workbook = portal::forms::read_workbook(bytes, Some(name)).unwrap();
    assert_eq!(
        portal::forms::identify(&workbook),
        Some(portal::forms::Kind::McoResponse)
    );
    let claims = workbook.sheet("Claims").unwrap();
    assert_eq!(claims.last_row(), Some(3));
    let column = portal::forms::schema::response::COMPLAINT_START + claim::CLAIM_NUMBER;
    assert_eq!(claims.text(1, column as u32), Some("CLM0004200"));

    // R10: no claim numbers, recipient ids or amounts in the provider's notice.
    for phi in ["CLM0004200", "010000000", "1250.00", "1,250"] {
        assert!(!accepted[0].text.contains(phi), "{phi} in the notice");
    }
}

/// Every part of a notice as text, decoded (quoted-printable, base64, any charset),
/// with its headers: what the recipient can read in it.
fn readable(sent: &Sent) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(&sent.raw)
        .expect("a notice parses");
    let mut text = String::from_utf8_lossy(&sent.raw).into_owned();
    for part in &message.parts {
        for header in part.headers() {
            text.push_str(&format!("\n{}: {:?}", header.name(), header.value()));
        }
        text.push('\n');
        match part.text_contents() {
            Some(contents) => text.push_str(contents),
            None => text.push_str(&String::from_utf8_lossy(part.contents())),
        }
    }
    text
}

#[test]
fn patient_details_in_the_wrong_columns_never_reach_a_notice_or_the_ticket() {
    // R10: a row pasted one column to the left put the patient into Coverage and the
    // claim number into Issue Category; other cells hold a date of birth, a phone
    // number and an email address where ids belong. All made up.
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let config = &room.config;
    let today = portal::today::today_in_illinois();
    let mut lines = portal::forms::samples::complaint_lines(Sample::Good, today, 4, 3);
    let text = |value: &str| Some(portal::forms::Value::Text(value.to_owned()));
    lines[0].values[claim::COVERAGE] = text("Patient ZELDA QUIMBY (DOB 04/02/1961)");
    lines[0].values[claim::ISSUE_CATEGORY] = text("CLM-123456789");
    lines[1].values[claim::RECIPIENT_ID] = text("ZELDA QUIMBY 1961-04-02");
    lines[1].values[claim::MCO] = text("Quimby, Zelda");
    lines[2].values[claim::PROVIDER_NPI] = text("2175550199");
    lines[2].values[claim::EXHAUSTED] = text("zelda.quimby@example.net");
    lines[2].values[claim::BILLED] = text("QUIMBY 1250.00");
    let workbook =
        portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "See attached.",
        &[("claims.xlsx", workbook)],
    ));
    room.pass();
    let markers = [
        "ZELDA",
        "QUIMBY",
        "Zelda",
        "Quimby",
        "zelda",
        "quimby",
        "04/02/1961",
        "1961-04-02",
        "CLM-123456789",
        "2175550199",
    ];
    let sent = room.outbox();
    let closed = with_subject(&sent, "Complaint closed");
    assert_eq!(closed.len(), 1, "{sent:#?}");
    assert!(
        closed[0].text.contains("Row 2, Coverage"),
        "{}",
        closed[0].text
    );
    assert!(
        closed[0].text.contains("Row 3, Recipient ID"),
        "{}",
        closed[0].text
    );
    for notice in &sent {
        let readable = readable(notice);
        for marker in markers {
            assert!(
                !readable.contains(marker),
                "{marker} in {}:\n{readable}",
                notice.subject
            );
        }
    }
    // The ticket keeps the messages, never the cells' text.
    let ticket = &tickets(&room)[0];
    assert_eq!(ticket.reason, Some(Reason::InvalidValue));
    let stored = serde_json::to_string(ticket).unwrap();
    assert!(!stored.contains("\"value\""), "{stored}");
    let shown = room.cli(&["tickets", "show", &ticket.id.to_string(), "--json"]);
    assert_eq!(shown.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&shown.stdout);
    for marker in markers {
        assert!(!shown.contains(marker), "{marker} in {shown}");
    }
}

#[test]
fn a_csv_from_excel_on_windows_is_filed_like_any_template() {
    // Windows-1252, with a typographic apostrophe, separated by semicolons with decimal
    // commas: as Excel saves "CSV" where the decimal mark is a comma.
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let today = portal::today::today_in_illinois();
    let mut lines = portal::forms::samples::complaint_lines(Sample::Good, today, 4, 2);
    lines[0].values[claim::ISSUE_DESCRIPTION] = Some(portal::forms::Value::Text(
        "The MCO\u{2019}s denial ignored the timely filing".to_owned(),
    ));
    let text = complaint_csv(&lines, ";").replace("\"1250.00\"", "\"1.250,00\"");
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[("claims.csv", windows_1252(&text))],
    ));
    room.pass();
    let ticket = &tickets(&room)[0];
    assert_eq!(ticket.status, Status::Forwarded, "{:?}", ticket.problems);
    assert!(
        ticket
            .lines
            .iter()
            .all(|line| line.status == Status::Forwarded)
    );
    assert_eq!(with_subject(&room.outbox(), "Complaint accepted").len(), 1);
}

#[test]
fn window_problems_close_lines_and_the_notice_gives_the_dates() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[("claims.xlsx", complaint(Sample::TooEarly, 2))],
    ));
    room.pass();
    let ticket = &tickets(&room)[0];
    assert_eq!(ticket.status, Status::Closed);
    assert_eq!(ticket.reason, None, "only the lines closed");
    assert!(
        ticket
            .lines
            .iter()
            .all(|line| line.reason == Some(Reason::TooEarly))
    );
    let closed = with_subject(&room.outbox(), "Complaint closed")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(closed.len(), 1);
    assert!(
        closed[0]
            .text
            .contains("Row 2, Date Filed with MCO: Filed with the MCO on"),
        "{}",
        closed[0].text
    );
    assert!(closed[0].text.contains("submit from"));
    assert!(
        with_subject(&room.outbox(), "forwarded").is_empty(),
        "nothing went to the MCO"
    );
}

#[test]
fn an_npi_outside_the_registration_closes_its_lines() {
    let room = Mailroom::new("");
    room.register(PROVIDER, "1245319599");
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[("claims.xlsx", complaint(Sample::Good, 2))],
    ));
    room.pass();
    let ticket = &tickets(&room)[0];
    assert!(
        ticket
            .lines
            .iter()
            .all(|line| line.reason == Some(Reason::NpiNotRegistered))
    );
    assert_eq!(ticket.status, Status::Closed);
    assert!(
        ticket
            .problems
            .iter()
            .all(|problem| problem.column.as_deref() == Some("Provider NPI"))
    );
}

#[test]
fn the_same_claims_twice_are_duplicates_naming_the_first_ticket() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "first",
        &[("claims.xlsx", complaint(Sample::Good, 2))],
    ));
    room.pass();
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims again",
        "second",
        &[("claims.xlsx", complaint(Sample::Good, 2))],
    ));
    room.pass();
    let all = tickets(&room);
    assert_eq!(all.len(), 2);
    let (first, second) = (&all[0], &all[1]);
    assert_eq!(first.status, Status::Forwarded);
    assert_eq!(second.status, Status::Closed);
    assert!(
        second
            .lines
            .iter()
            .all(|line| line.reason == Some(Reason::Duplicate))
    );
    assert!(
        second
            .problems
            .iter()
            .all(|problem| problem.message.contains(&first.id.to_string()))
    );
}

/// A registered provider whose one complaint closed (incomplete).
fn one_closed_ticket() -> (Mailroom, Ticket) {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[("claims.xlsx", complaint(Sample::Incomplete, 1))],
    ));
    room.pass();
    let ticket = tickets(&room)[0].clone();
    (room, ticket)
}

#[test]
fn a_reply_never_reopens_a_closed_ticket() {
    let (room, before) = one_closed_ticket();
    assert_eq!(before.reason, Some(Reason::Incomplete));
    // The notice names the row that closed the whole ticket.
    let closed = with_subject(&room.outbox(), "Complaint closed")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert!(
        closed[0]
            .text
            .contains("The whole ticket was closed because of row 2: "),
        "{}",
        closed[0].text
    );
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        &format!("Re: [{}] Complaint closed", before.id),
        "But the tracking number is 123!",
        &[],
    ));
    room.pass();
    let after = tickets(&room)[0].clone();
    assert_eq!(after.status, Status::Closed);
    assert_eq!(after.lines, before.lines);
    assert_eq!(after.correspondence.len(), 1);
    let answer = with_subject(&room.outbox(), "Closed tickets are not reopened")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(answer.len(), 1);
    assert_eq!(
        answer[0].subject,
        format!("[{}] Closed tickets are not reopened", before.id)
    );
}

/// R13: correspondence belongs to the parties. A stranger quoting someone else's ticket
/// id is answered exactly as if the id did not exist, and nothing is kept on the ticket.
#[test]
fn a_stranger_cannot_write_on_someone_elses_ticket() {
    let (room, ticket) = one_closed_ticket();
    let stranger = "someone@elsewhere.example";
    for id in [ticket.id.to_string(), "PRP-2026-999999".to_owned()] {
        room.deliver(&message(
            stranger,
            INTAKE,
            &format!("Re: [{id}] please cancel"),
            "Cancel it.",
            &[],
        ));
    }
    let report = room.pass();
    assert_eq!(report.messages, 2);
    assert!(tickets(&room)[0].correspondence.is_empty());
    let answers: Vec<Sent> = room
        .outbox()
        .into_iter()
        .filter(|notice| notice.to == stranger)
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    // The same answer whether the id exists or not: how to submit, no id, no status.
    assert_eq!(answers[0].subject, answers[1].subject);
    assert!(
        answers[0].subject.starts_with("How to send"),
        "{}",
        answers[0].subject
    );
    for answer in &answers {
        assert!(
            !answer.text.contains(&ticket.id.to_string()),
            "{}",
            answer.text
        );
    }
    // The ticket's own sender is still heard.
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        &format!("Re: [{}] Complaint closed", ticket.id),
        "Noted.",
        &[],
    ));
    room.pass();
    assert_eq!(tickets(&room)[0].correspondence.len(), 1);
}

/// R10: an MCO tracking number is repeated in a notice only when it has the safe shape
/// (1–30 letters, digits, `-`, `_`, `/` or `.`, with a digit). One with a name in it
/// goes to the MCO and is described, never repeated, in the accepted and duplicate
/// notices.
#[test]
fn a_tracking_number_of_another_shape_is_never_repeated() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let config = crate::common::config();
    let mut lines = portal::forms::samples::complaint_lines(
        Sample::Good,
        portal::today::today_in_illinois(),
        4,
        1,
    );
    lines[0].values[claim::TRACKING_NUMBER] =
        Some(portal::forms::Value::Text("ZELDA QUIMBY 7".to_owned()));
    let workbook =
        portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
    for subject in ["Claims", "Claims again"] {
        room.deliver(&message(
            PROVIDER,
            INTAKE,
            subject,
            "x",
            &[("claims.xlsx", workbook.clone())],
        ));
    }
    room.pass();
    let filed = tickets(&room);
    assert_eq!(filed.len(), 2);
    assert_eq!(
        filed[0].status,
        Status::Forwarded,
        "{:?}",
        filed[0].problems
    );
    assert_eq!(filed[1].lines[0].reason, Some(Reason::Duplicate));
    let to_provider: Vec<Sent> = room
        .outbox()
        .into_iter()
        .filter(|notice| notice.to == PROVIDER && notice.subject.starts_with("[PRP-"))
        .collect();
    assert_eq!(to_provider.len(), 2);
    for notice in &to_provider {
        assert!(!notice.text.contains("ZELDA"), "{}", notice.text);
    }
}

/// R6: an address may hold several active registrations; its NPIs are the union.
#[test]
fn a_second_active_registration_covers_its_npis_too() {
    const SECOND_NPI: &str = "1987654328";
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.register(PROVIDER, SECOND_NPI);
    let config = crate::common::config();
    let mut lines = portal::forms::samples::complaint_lines(
        Sample::Good,
        portal::today::today_in_illinois(),
        4,
        2,
    );
    lines[1].values[claim::PROVIDER_NPI] = Some(portal::forms::Value::Text(SECOND_NPI.to_owned()));
    let workbook =
        portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims for both practices",
        "x",
        &[("claims.xlsx", workbook)],
    ));
    room.pass();
    let [ticket] = tickets(&room).try_into().expect("one ticket");
    assert_eq!(ticket.status, Status::Forwarded, "{ticket:?}");
    assert!(
        ticket
            .lines
            .iter()
            .all(|line| line.status == Status::Forwarded),
        "{:?}",
        ticket.problems
    );
}

/// R12: a registration form and a complaint template in one message are both handled.
/// From a registered sender the complaint is filed under the registration as it stands,
/// and the new request's notice does not say complaints cannot be accepted; from an
/// unregistered sender the complaint gets the please-register answer.
#[test]
fn a_registration_form_and_a_complaint_in_one_message_are_both_handled() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let newcomer = "frontdesk@new-clinic.example";
    for from in [PROVIDER, newcomer] {
        room.deliver(&message(
            from,
            INTAKE,
            "Registration and claims",
            "Both attached.",
            &[
                (
                    "registration-form.xlsx",
                    registration_form(from, SAMPLE_NPI),
                ),
                ("claims.xlsx", complaint(Sample::Good, 1)),
            ],
        ));
    }
    let report = room.pass();
    assert_eq!(report.registrations.len(), 2, "{report:?}");
    assert_eq!(report.tickets.len(), 1, "{report:?}");
    let [ticket] = tickets(&room).try_into().expect("one ticket");
    assert_eq!(ticket.sender, PROVIDER);
    // Only this pass's notices: the two new requests' and the complaints'.
    let new_ids: Vec<String> = report
        .registrations
        .iter()
        .map(ToString::to_string)
        .collect();
    let sent = room.outbox();
    let to = |address: &str, needle: &str| {
        sent.iter()
            .filter(|notice| notice.to == address && notice.subject.contains(needle))
            .filter(|notice| {
                !notice.subject.starts_with("[REG-")
                    || new_ids
                        .iter()
                        .any(|id| notice.subject.contains(id.as_str()))
            })
            .collect::<Vec<&Sent>>()
    };
    let received = to(PROVIDER, "Registration received");
    assert_eq!(received.len(), 1);
    assert!(
        !received[0].text.contains("cannot accept complaints"),
        "{}",
        received[0].text
    );
    assert_eq!(to(PROVIDER, "Complaint").len(), 1);
    let received = to(newcomer, "Registration received");
    assert_eq!(received.len(), 1);
    assert!(received[0].text.contains("cannot accept complaints"));
    let register_first = to(newcomer, "please register first");
    assert_eq!(register_first.len(), 1);
    // The answer knows of the request in the same message: pending, not "register".
    assert!(
        register_first[0].text.contains("still being reviewed"),
        "{}",
        register_first[0].text
    );
}

/// R12: every registration gets its notice, two forms in one message too.
#[test]
fn two_registration_forms_in_one_message_are_two_requests() {
    const SECOND_NPI: &str = "1987654328";
    let room = Mailroom::new("");
    let from = "frontdesk@two-practices.example";
    room.deliver(&message(
        from,
        INTAKE,
        "Registrations",
        "Both practices.",
        &[
            ("first.xlsx", registration_form(from, SAMPLE_NPI)),
            ("second.xlsx", registration_form(from, SECOND_NPI)),
        ],
    ));
    let report = room.pass();
    assert_eq!(report.registrations.len(), 2, "{report:?}");
    let store = Store::open(&room.config.store.path).unwrap();
    let registrations: Vec<portal::store::Registration> = store.all(Tree::Registrations).unwrap();
    let mut npis: Vec<String> = registrations
        .iter()
        .flat_map(|registration| registration.npis.clone())
        .collect();
    npis.sort();
    assert_eq!(npis, [SAMPLE_NPI, SECOND_NPI]);
    let records: Vec<portal::store::MessageRecord> = store.all(Tree::Messages).unwrap();
    let [record] = records.as_slice() else {
        panic!("one message: {records:?}")
    };
    assert_eq!(
        record.outcome.label().matches("REG-").count(),
        2,
        "{:?}",
        record.outcome
    );
    drop(store);
    let received = with_subject(&room.outbox(), "Registration received").len();
    assert_eq!(received, 2);
}

/// R12: a spreadsheet that is none of ours, beside a template, opens no ticket of its
/// own: it is ignored and named in the ticket's notice.
#[test]
fn a_spreadsheet_beside_the_template_is_ignored_and_named() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let mut other = rust_xlsxwriter::Workbook::new();
    other
        .add_worksheet()
        .write_string(0, 0, "Our own claims log")
        .unwrap();
    let other = other.save_to_buffer().unwrap();
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[
            ("claims.xlsx", complaint(Sample::Good, 1)),
            ("our-log.xlsx", other),
        ],
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1, "{report:?}");
    let notice = with_subject(&room.outbox(), "Complaint accepted")
        .into_iter()
        .cloned()
        .collect::<Vec<Sent>>();
    assert_eq!(notice.len(), 1);
    assert!(
        notice[0].text.contains("Not read: attachment 2 of 2.")
            && !notice[0].text.contains("our-log"),
        "{}",
        notice[0].text
    );
}

#[test]
fn automatic_mail_and_our_own_address_are_never_answered() {
    let room = Mailroom::new("");
    room.deliver(&out_of_office("someone@clinic.example"));
    room.deliver(&message(INTAKE, INTAKE, "Loop", "ourselves", &[]));
    let bounce = String::from_utf8(message(
        "MAILER-DAEMON@mx.example",
        INTAKE,
        "Undelivered Mail",
        "failed",
        &[],
    ))
    .unwrap();
    room.deliver(bounce.as_bytes());
    let report = room.pass();
    assert_eq!(report.automatic, 3);
    assert!(room.outbox().is_empty());
    assert_eq!(room.intake_folder(Some(Folder::Processed)).len(), 3);
}

#[test]
fn anything_else_gets_the_help_notice() {
    let room = Mailroom::new("");
    room.deliver(&message(
        "curious@clinic.example",
        INTAKE,
        "Question",
        "How does this work?",
        &[],
    ));
    room.pass();
    let sent = room.outbox();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.starts_with("How to send a complaint"));
    assert!(
        sent[0]
            .text
            .contains("https://portal.example.gov/downloads/")
    );
}

#[test]
fn every_inquiry_gets_one_answer_with_the_registration_status() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    room.deliver_inquiry(&message(
        PROVIDER,
        "HFS.Portalinquiries@illinois.gov",
        "Status?",
        "Are we registered?",
        &[],
    ));
    room.deliver_inquiry(&message(
        "new@clinic.example",
        "HFS.Portalinquiries@illinois.gov",
        "How to register",
        "Hi",
        &[],
    ));
    let report = room.pass();
    assert_eq!(report.inquiries.len(), 2);
    let answers = with_subject(&room.outbox(), "We received your question")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(answers.len(), 2);
    let registered = answers.iter().find(|sent| sent.to == PROVIDER).unwrap();
    assert!(registered.subject.starts_with("[INQ-"));
    assert!(
        registered.text.contains("is registered"),
        "{}",
        registered.text
    );
    let stranger = answers
        .iter()
        .find(|sent| sent.to == "new@clinic.example")
        .unwrap();
    assert!(stranger.text.contains("We have no registration"));
    assert_eq!(stranger.auto_submitted, "auto-replied");
}

/// R6, R11: an address may hold several registrations; a request denied after an
/// approval does not hide the approval in the inquiry's answer.
#[test]
fn an_inquiry_answer_tells_the_active_registration_before_a_later_denial() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    // A later form naming another registrant address: denied.
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Registration",
        "x",
        &[(
            "registration-form.xlsx",
            registration_form("someone-else@clinic.example", "1987654328"),
        )],
    ));
    room.pass();
    room.deliver_inquiry(&message(
        PROVIDER,
        "HFS.Portalinquiries@illinois.gov",
        "Status?",
        "Are we registered?",
        &[],
    ));
    room.pass();
    let sent = room.outbox();
    let answers = with_subject(&sent, "We received your question");
    let [answer] = answers.as_slice() else {
        panic!("one answer: {answers:?}")
    };
    assert!(answer.text.contains("is registered"), "{}", answer.text);
}

#[test]
fn a_message_seen_again_is_not_filed_twice() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let raw = message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[("claims.xlsx", complaint(Sample::Good, 1))],
    );
    room.deliver(&raw);
    room.pass();
    let notices = room.outbox().len();
    // The same bytes arrive again (a client resent it, or a move was lost).
    room.deliver(&raw);
    let report = room.pass();
    assert_eq!(report.already_processed, 1);
    assert!(report.tickets.is_empty());
    assert_eq!(tickets(&room).len(), 1);
    assert_eq!(room.outbox().len(), notices);
    assert!(room.intake_folder(None).is_empty());
}

#[test]
fn the_daily_notice_limit_protects_against_loops() {
    let room = Mailroom::new("[mail]\nnotices_per_sender_per_day = 2\n");
    for n in 0..4 {
        room.deliver(&message(
            "chatty@clinic.example",
            INTAKE,
            &format!("Hello {n}"),
            "?",
            &[],
        ));
    }
    room.pass();
    assert_eq!(room.outbox().len(), 2);
    assert!(
        room.intake_folder(None).is_empty(),
        "every message still leaves the inbox"
    );
}

/// R12: the daily limit holds back unsolicited answers only. A billing agent's
/// complaints each get their one notice however many there are; a third request for
/// help in a day is held back, and that shows in the pass summary, the outbox and the
/// message's record.
#[test]
fn the_daily_limit_holds_back_unsolicited_answers_only_and_says_so() {
    let room = Mailroom::new("[mail]\nnotices_per_sender_per_day = 2\n");
    room.register(PROVIDER, SAMPLE_NPI);
    let before = room.outbox().len();
    for n in 0..4 {
        room.deliver(&message(
            PROVIDER,
            INTAKE,
            &format!("Claims {n}"),
            "Attached.",
            &[("claims.xlsx", complaint(Sample::Good, n + 1))],
        ));
    }
    for n in 0..3 {
        room.deliver(&message(PROVIDER, INTAKE, &format!("Hello {n}"), "?", &[]));
    }
    let output = room.cli(&["intake", "--once"]);
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{summary}");
    assert!(
        summary.contains("4 ticket(s)") && summary.contains("1 suppressed by the daily limit"),
        "{summary}"
    );
    let sent = room.outbox();
    let new: Vec<&str> = sent
        .iter()
        .map(|notice| notice.subject.as_str())
        .filter(|subject| !subject.starts_with("[REG-"))
        .collect();
    let tickets = new
        .iter()
        .filter(|subject| subject.starts_with("[PRP-") && subject.contains("Complaint"))
        .count();
    let help = new
        .iter()
        .filter(|subject| subject.starts_with("How to send"))
        .count();
    assert_eq!((tickets, help), (4, 2), "{new:#?}");
    assert_eq!(sent.len() - before, new.len());

    let listed = room.cli(&["outbox", "list", "--json"]);
    let notices: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let held: Vec<&serde_json::Value> = notices
        .as_array()
        .unwrap()
        .iter()
        .filter(|notice| notice["delivery"]["state"] == "suppressed")
        .collect();
    assert_eq!(held.len(), 1, "{notices:#}");
    assert_eq!(held[0]["kind"], "help");
    let text = String::from_utf8_lossy(&room.cli(&["outbox", "list"]).stdout).into_owned();
    assert!(text.contains("1 suppressed by the daily limit"), "{text}");

    let listed = room.cli(&["messages", "list", "--json"]);
    let records: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let suppressed: Vec<&serde_json::Value> = records
        .as_array()
        .unwrap()
        .iter()
        .filter(|record| !record["suppressed"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(suppressed.len(), 1, "{records:#}");
    assert_eq!(
        suppressed[0]["suppressed"],
        serde_json::json!([held[0]["id"]])
    );
    let text = String::from_utf8_lossy(&room.cli(&["messages", "list"]).stdout).into_owned();
    assert!(text.contains("(suppressed)"), "{text}");
}

#[test]
fn the_cli_pass_reports_and_exits_zero() {
    let room = Mailroom::new("");
    room.deliver(&message(
        "curious@clinic.example",
        INTAKE,
        "Question",
        "?",
        &[],
    ));
    let output = room.cli(&["intake", "--once"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("intake: 1 message(s)"), "{stdout}");
    // Plain logs off a terminal (a cron log file): an event a line, no colour codes.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("INFO pass finished"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// The mailroom's config with notices sent over plain SMTP to 127.0.0.1:`port`
/// (in place of the file transport and its `path`, which SMTP does not take).
fn smtp_config(room: &Mailroom, port: u16) -> portal::config::Config {
    let file = format!(
        "[smtp]\nkind = \"file\"\npath = {:?}\n",
        room.path("outbox")
    );
    let text = std::fs::read_to_string(&room.config_path).unwrap();
    assert!(text.contains(&file), "{text}");
    let text = text.replace(
        &file,
        &format!("[smtp]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n"),
    );
    portal::config::Config::parse(&text).unwrap()
}

/// A good one-line complaint from the registered provider, in the intake mailbox.
fn deliver_claims(room: &Mailroom) {
    room.deliver(&message(
        PROVIDER,
        INTAKE,
        "Claims",
        "x",
        &[("claims.xlsx", complaint(Sample::Good, 1))],
    ));
}

/// A stand-in SMTP server that refuses every recipient for good (550).
fn refusing_smtp_server() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = stream.write_all(b"220 refusing.example ESMTP\r\n");
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let command = line.to_ascii_uppercase();
                let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                    b"250 refusing.example\r\n"
                } else if command.starts_with("RCPT") {
                    b"550 5.1.1 no such user\r\n"
                } else if command.starts_with("QUIT") {
                    let _ = stream.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                let _ = stream.write_all(reply);
                line.clear();
            }
        }
    });
    port
}

#[test]
fn a_notice_refused_for_good_is_recorded_on_its_ticket_and_not_retried() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let config = smtp_config(&room, refusing_smtp_server());
    deliver_claims(&room);
    let report = portal::intake::run_pass(&config, None).unwrap();
    assert_eq!(report.tickets.len(), 1);
    assert_eq!(
        report.notices_failed, 2,
        "the acceptance and the MCO forward"
    );
    assert_eq!(
        report.notices_waiting, 0,
        "a permanent refusal is not retried"
    );
    let ticket = &tickets(&room)[0];
    assert_eq!(ticket.notice_failures.len(), 2);
    assert!(
        ticket
            .notice_failures
            .iter()
            .all(|failure| failure.error.contains("550")),
        "{:?}",
        ticket.notice_failures
    );
    let kinds: Vec<&str> = ticket
        .notice_failures
        .iter()
        .map(|failure| failure.kind.as_str())
        .collect();
    assert!(
        kinds.contains(&"accepted") && kinds.contains(&"mco_forward"),
        "{kinds:?}"
    );
    // The next pass sends nothing again.
    let again = portal::intake::run_pass(&config, None).unwrap();
    assert_eq!((again.notices_sent, again.notices_failed), (0, 0));
}

/// A stand-in SMTP server that hangs up on every connection before its greeting,
/// counting them.
fn hanging_up_smtp_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, connections)
}

/// One pass through the library with the clock at `now`.
fn pass_at(
    room: &Mailroom,
    config: &portal::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> portal::intake::PassReport {
    use portal::intake::Mailbox;
    use portal::mail::maildir::Maildir;
    let services = portal::services::Services::open_or_create(config).unwrap();
    let mut intake_box = Maildir::open(&room.path("mail/intake")).unwrap();
    let mut inquiries_box = Maildir::open(&room.path("mail/inquiries")).unwrap();
    services
        .intake(config, None)
        .pass(
            &mut [
                (Mailbox::Intake, &mut intake_box),
                (Mailbox::Inquiries, &mut inquiries_box),
            ],
            now,
        )
        .unwrap()
}

/// The waiting notices' attempts and next attempt, from the store.
fn waiting(room: &Mailroom) -> Vec<(u32, Option<chrono::DateTime<chrono::Utc>>)> {
    Store::open(&room.config.store.path)
        .unwrap()
        .pending_notices()
        .unwrap()
        .into_iter()
        .map(|notice| match notice.delivery {
            portal::store::Delivery::Pending {
                attempts,
                next_attempt,
                ..
            } => (attempts, next_attempt),
            other => panic!("not pending: {other:?}"),
        })
        .collect()
}

#[test]
fn notices_wait_with_growing_backoff_while_the_server_is_down_then_go_out() {
    use std::sync::atomic::Ordering;
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let (port, connections) = hanging_up_smtp_server();
    let down = smtp_config(&room, port);
    deliver_claims(&room);
    let start = chrono::Utc::now();
    let minutes = |n: i64| start + chrono::Duration::minutes(n);

    // The server hangs up: the ticket is filed, both notices wait, and the second is
    // not even tried once the first found the server down.
    let report = pass_at(&room, &down, start);
    assert_eq!(report.tickets.len(), 1);
    assert_eq!((report.notices_sent, report.notices_waiting), (0, 2));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one connection a pass"
    );
    assert_eq!(
        waiting(&room),
        [(1, Some(start)), (1, Some(start))],
        "the next pass tries again"
    );

    // Still down a minute later: tried again, then left alone for 5 minutes.
    pass_at(&room, &down, minutes(1));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(
        waiting(&room),
        [(2, Some(minutes(6))), (2, Some(minutes(6)))]
    );
    let report = pass_at(&room, &down, minutes(3));
    assert_eq!(connections.load(Ordering::SeqCst), 2, "not due: not tried");
    assert_eq!((report.notices_sent, report.notices_waiting), (0, 2));

    // Due again and still down: the wait doubles.
    pass_at(&room, &down, minutes(6));
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    assert_eq!(
        waiting(&room),
        [(3, Some(minutes(16))), (3, Some(minutes(16)))]
    );

    // The server is back (here: the file transport); before the wait is over nothing
    // goes, after it both go, once.
    let up = room.config.clone();
    let before = room.outbox().len();
    assert_eq!(pass_at(&room, &up, minutes(15)).notices_sent, 0);
    assert_eq!(room.outbox().len(), before);
    let report = pass_at(&room, &up, minutes(16));
    assert_eq!((report.notices_sent, report.notices_waiting), (2, 0));
    assert_eq!(room.outbox().len(), before + 2);
    assert_eq!(pass_at(&room, &up, minutes(90)).notices_sent, 0);
}

/// A backlog of several batches while the server is down: one connection for the
/// whole pass, and every notice waits with one attempt counted, not one per batch.
#[test]
fn a_pass_counts_one_attempt_per_notice_however_many_batches_it_has() {
    use std::sync::atomic::Ordering;
    let room = Mailroom::new("");
    let (port, connections) = hanging_up_smtp_server();
    let down = smtp_config(&room, port);
    room.ask(70);
    let start = chrono::Utc::now();
    let report = pass_at(&room, &down, start);
    assert_eq!((report.inquiries.len(), report.notices_waiting), (70, 70));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one connection a pass"
    );
    let waiting = waiting(&room);
    assert!(
        waiting.iter().all(|notice| *notice == (1, Some(start))),
        "{waiting:?}"
    );
}

#[test]
fn the_retry_delay_grows_to_an_hour_and_stays_there() {
    let delays: Vec<i64> = (1..=9)
        .map(|attempts| portal::intake::retry_delay(attempts).num_minutes())
        .collect();
    assert_eq!(delays, [0, 5, 10, 20, 40, 60, 60, 60, 60]);
}

/// A registered provider's two messages, each with a complaint of the same one claim.
#[cfg(feature = "failpoints")]
fn registered_with_the_same_claim_twice() -> Mailroom {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    for subject in ["Claims A", "Claims B"] {
        room.deliver(&message(
            PROVIDER,
            INTAKE,
            subject,
            "x",
            &[("claims.xlsx", complaint(Sample::Good, 1))],
        ));
    }
    room
}

/// `portal intake --once` with crash points armed (`PORTAL_FAILPOINTS`).
#[cfg(feature = "failpoints")]
fn intake_with_failpoints(room: &Mailroom, spec: &str) -> std::process::Output {
    std::process::Command::new(crate::common::portal_bin())
        .arg("--config")
        .arg(&room.config_path)
        .args(["intake", "--once"])
        .env("PORTAL_FAILPOINTS", spec)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A complaint whose handling fails half-way is quarantined, and leaves nothing behind
/// for the rest of the pass: the same claim in the next message is forwarded, not
/// closed as a duplicate of a ticket that was never filed.
#[cfg(feature = "failpoints")]
#[test]
fn a_message_that_fails_half_way_leaves_no_claim_behind_for_the_pass() {
    let room = registered_with_the_same_claim_twice();
    let output = intake_with_failpoints(&room, "handle_error@1");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "quarantined: {stdout}");
    assert!(
        stdout.contains("2 message(s): 1 ticket(s)") && stdout.contains("1 quarantined"),
        "{stdout}"
    );
    let [ticket] = tickets(&room).try_into().expect("one ticket");
    assert_eq!(ticket.status, Status::Forwarded, "{ticket:?}");
    assert_eq!(room.intake_folder(Some(Folder::Quarantine)).len(), 1);
}

/// A fault of the store itself while messages are handled is no sender's doing: the
/// pass stops with exit 2 and quarantines nothing; the next pass, on a healthy store,
/// handles every message once and sends every notice once. The fault is injected at
/// the nth store read or transaction, for several n: before, inside and after routing.
#[cfg(feature = "failpoints")]
#[test]
fn a_store_fault_stops_the_pass_and_quarantines_nothing() {
    for nth in [1, 2, 3, 4, 6, 9, 13] {
        let room = registered_with_the_same_claim_twice();
        let registered_notices = room.outbox().len();
        room.deliver(&message(
            PROVIDER,
            INTAKE,
            "Hello",
            "How do I send claims?",
            &[],
        ));
        let output = intake_with_failpoints(&room, &format!("store_fault@{nth}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "store_fault@{nth}: {stderr}");
        assert!(
            stderr.contains("failpoint store_fault"),
            "store_fault@{nth}: {stderr}"
        );
        assert!(
            room.intake_folder(Some(Folder::Quarantine)).is_empty(),
            "store_fault@{nth}: nothing quarantined"
        );
        {
            let store = Store::open(&room.config.store.path).unwrap();
            let records: Vec<portal::store::MessageRecord> = store.all(Tree::Messages).unwrap();
            assert!(
                records
                    .iter()
                    .all(|record| !record.outcome.is_quarantined()),
                "store_fault@{nth}: {records:?}"
            );
        }

        let report = room.pass();
        assert_eq!(report.quarantined, 0, "store_fault@{nth}: {report:?}");
        assert!(room.intake_folder(None).is_empty(), "store_fault@{nth}");
        assert!(room.intake_folder(Some(Folder::Quarantine)).is_empty());
        // The same claim twice: the first ticket forwards it, the second closes as
        // its duplicate, whichever run recorded the first.
        let filed = tickets(&room);
        assert_eq!(filed.len(), 2, "store_fault@{nth}: {filed:?}");
        let forwarded: Vec<&Ticket> = filed
            .iter()
            .filter(|ticket| ticket.status == Status::Forwarded)
            .collect();
        assert_eq!(forwarded.len(), 1, "store_fault@{nth}: {filed:?}");
        assert!(
            filed
                .iter()
                .any(|ticket| ticket.lines[0].reason == Some(Reason::Duplicate)),
            "store_fault@{nth}: {filed:?}"
        );
        // Each ticket's one notice, the forward, and the help answer: once each.
        let sent = room.outbox();
        assert_eq!(sent.len(), registered_notices + 4, "store_fault@{nth}");
        let subjects: Vec<String> = sent
            .iter()
            .map(|notice| notice.subject.clone())
            .filter(|subject| !subject.starts_with("[REG-"))
            .collect();
        for ticket in &filed {
            let tag = format!("[{}] Complaint", ticket.id);
            let count = subjects
                .iter()
                .filter(|subject| subject.starts_with(&tag))
                .count();
            assert_eq!(count, 1, "store_fault@{nth}: {subjects:#?}");
        }
        let forward = format!("[{}] Provider complaint forwarded", forwarded[0].id);
        assert_eq!(
            subjects
                .iter()
                .filter(|subject| subject.starts_with(&forward))
                .count(),
            1,
            "store_fault@{nth}: {subjects:#?}"
        );
        assert_eq!(
            subjects
                .iter()
                .filter(|subject| subject.starts_with("How to send"))
                .count(),
            1,
            "store_fault@{nth}: {subjects:#?}"
        );
    }
}

/// The message with its Message-ID replaced by `<id>`.
fn with_message_id(raw: &[u8], id: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let start = text.find("Message-ID: ").expect("a Message-ID header");
    let end = start + text[start..].find("\r\n").expect("the header ends");
    format!("{}Message-ID: <{id}>{}", &text[..start], &text[end..]).into_bytes()
}

/// R12: a Message-ID seen before makes a message the same one only when it is a
/// re-delivery (same mailbox, sender and attachments). Another clinic's workbook with a
/// reused Message-ID is a new message with its own ticket and notice; the same message
/// delivered again with other trace headers is not handled twice.
#[test]
fn a_reused_message_id_never_swallows_another_message() {
    let room = Mailroom::new("");
    let other = "billing@lakeside-clinic.example";
    room.register(PROVIDER, SAMPLE_NPI);
    room.register(other, SAMPLE_NPI);
    let first = with_message_id(
        &message(
            PROVIDER,
            INTAKE,
            "Claims",
            "Attached.",
            &[("claims.xlsx", complaint(Sample::Good, 1))],
        ),
        "claims-1@mail.example",
    );
    room.deliver(&first);
    assert_eq!(room.pass().tickets.len(), 1);

    // Another registered sender, another workbook, the same Message-ID.
    room.deliver(&with_message_id(
        &message(
            other,
            INTAKE,
            "Claims",
            "Attached.",
            &[("claims.xlsx", complaint(Sample::Good, 2))],
        ),
        "claims-1@mail.example",
    ));
    // The same sender, the same Message-ID, another workbook.
    room.deliver(&with_message_id(
        &message(
            PROVIDER,
            INTAKE,
            "Claims again",
            "Attached.",
            &[("claims.xlsx", complaint(Sample::Good, 3))],
        ),
        "claims-1@mail.example",
    ));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 2, "{report:?}");
    assert_eq!(report.already_processed, 0, "{report:?}");
    let answered: Vec<String> = room
        .outbox()
        .iter()
        .filter(|notice| notice.subject.contains("Complaint"))
        .map(|notice| notice.to.clone())
        .collect();
    assert_eq!(
        answered.iter().filter(|to| to.as_str() == other).count(),
        1,
        "{answered:?}"
    );
    assert_eq!(
        answered.iter().filter(|to| to.as_str() == PROVIDER).count(),
        2,
        "{answered:?}"
    );

    // The first message again, as a server re-delivers it: a trace header more.
    let mut again =
        b"Received: from mx2.example by portal.example; Mon, 30 Nov 2026 10:00:00 -0600\r\n"
            .to_vec();
    again.extend_from_slice(&first);
    room.deliver(&again);
    let report = room.pass();
    assert_eq!(
        (report.tickets.len(), report.already_processed),
        (0, 1),
        "{report:?}"
    );
    let store = Store::open(&room.config.store.path).unwrap();
    let records: Vec<portal::store::MessageRecord> = store.all(Tree::Messages).unwrap();
    assert_eq!(
        records.len(),
        2 + 3,
        "two registrations, three complaints: {records:?}"
    );
}

/// R12: automatic mail is never answered, too large or not.
#[test]
fn a_message_too_large_from_a_machine_is_quarantined_unanswered() {
    let room = Mailroom::new("[mail]\nmax_message_bytes = 65536\n");
    let bounce = message(
        "MAILER-DAEMON@mx.clinic.example",
        INTAKE,
        "Undelivered Mail Returned to Sender",
        "The attached message could not be delivered.",
        &[("original.eml", vec![b'x'; 200 * 1024])],
    );
    room.deliver(&bounce);
    let auto = message(
        "nurse@clinic.example",
        INTAKE,
        "Out of office",
        "Back Monday.",
        &[("scan.pdf", vec![b'x'; 200 * 1024])],
    );
    let mut auto_reply = b"Auto-Submitted: auto-replied\r\n".to_vec();
    auto_reply.extend_from_slice(&auto);
    room.deliver(&auto_reply);
    let report = room.pass();
    assert_eq!(report.quarantined, 2, "{report:?}");
    assert!(room.outbox().is_empty(), "{:?}", room.outbox());
}

/// A message larger than `max_message_bytes` is never read whole: its header alone is
/// fetched and kept, the message is quarantined, and its sender told why.
#[test]
fn a_message_too_large_is_quarantined_from_its_header_alone() {
    let room = Mailroom::new("[mail]\nmax_message_bytes = 65536\n");
    let raw = message(
        PROVIDER,
        INTAKE,
        "Big scan",
        "Attached.",
        &[("scan.pdf", vec![b'x'; 200 * 1024])],
    );
    room.deliver(&raw);
    let report = room.pass();
    assert_eq!(report.quarantined, 1);
    assert_eq!(room.intake_folder(Some(Folder::Quarantine)).len(), 1);
    let store = Store::open(&room.config.store.path).unwrap();
    let records: Vec<portal::store::MessageRecord> = store.all(Tree::Messages).unwrap();
    let [record] = records.as_slice() else {
        panic!("one record: {records:?}")
    };
    let kept = store.get_bytes(Tree::Raw, &record.hash).unwrap().unwrap();
    let header_length = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(kept, raw[..header_length], "the header, nothing more");
    drop(store);
    let sent = room.outbox();
    let [notice] = sent.as_slice() else {
        panic!("one notice: {sent:?}")
    };
    assert!(notice.subject.contains("too large"), "{}", notice.subject);
    assert_eq!(notice.to, PROVIDER);
}

/// R12: a message read whole never repeats one that was too large under the same
/// Message-ID (its attachments could not be compared): the complaint sent again small
/// gets its ticket; the large one delivered again is still the same message.
#[test]
fn a_message_reusing_the_id_of_one_too_large_is_handled() {
    let room = Mailroom::new("[mail]\nmax_message_bytes = 65536\n");
    room.register(PROVIDER, SAMPLE_NPI);
    let large = with_message_id(
        &message(
            PROVIDER,
            INTAKE,
            "Claims",
            "Attached.",
            &[("scan.pdf", vec![b'x'; 200 * 1024])],
        ),
        "resend@clinic.example",
    );
    room.deliver(&large);
    assert_eq!(room.pass().quarantined, 1);

    let mut again =
        b"Received: from mx2.example by portal.example; Mon, 30 Nov 2026 10:00:00 -0600\r\n"
            .to_vec();
    again.extend_from_slice(&large);
    room.deliver(&again);
    let report = room.pass();
    assert_eq!(
        (report.quarantined, report.already_processed),
        (0, 1),
        "{report:?}"
    );

    room.deliver(&with_message_id(
        &message(
            PROVIDER,
            INTAKE,
            "Claims",
            "Attached, smaller.",
            &[("claims.xlsx", complaint(Sample::Good, 1))],
        ),
        "resend@clinic.example",
    ));
    let report = room.pass();
    assert_eq!(
        (report.tickets.len(), report.already_processed),
        (1, 0),
        "{report:?}"
    );
}

/// The intake Maildir, where fetching message `id` fails as `failure` says.
struct FetchFails {
    maildir: portal::mail::maildir::Maildir,
    id: String,
    failure: fn(&str) -> portal::mail::SourceError,
}

impl portal::mail::MailSource for FetchFails {
    fn list(&mut self) -> anyhow::Result<Vec<portal::mail::Waiting>> {
        self.maildir.list()
    }

    fn fetch(&mut self, id: &str) -> Result<Vec<u8>, portal::mail::SourceError> {
        if id == self.id {
            return Err((self.failure)(id));
        }
        self.maildir.fetch(id)
    }

    fn fetch_header(&mut self, id: &str) -> Result<Vec<u8>, portal::mail::SourceError> {
        if id == self.id {
            return Err((self.failure)(id));
        }
        self.maildir.fetch_header(id)
    }

    fn finish(&mut self, id: &str, folder: Folder) -> anyhow::Result<()> {
        self.maildir.finish(id, folder)
    }

    fn release(&mut self, id: &str, folder: Folder) -> anyhow::Result<()> {
        self.maildir.release(id, folder)
    }
}

/// One pass through the library with `intake` as the intake mailbox.
fn pass_from(
    room: &Mailroom,
    intake: &mut FetchFails,
) -> anyhow::Result<portal::intake::PassReport> {
    use portal::intake::Mailbox;
    let services = portal::services::Services::open_or_create(&room.config).unwrap();
    let mut inquiries = portal::mail::maildir::Maildir::open(&room.path("mail/inquiries")).unwrap();
    services.intake(&room.config, None).pass(
        &mut [
            (Mailbox::Intake, intake),
            (Mailbox::Inquiries, &mut inquiries),
        ],
        chrono::Utc::now(),
    )
}

/// A message another client took since the listing is skipped and left to the next
/// pass; a mailbox that fails while fetching (a dropped IMAP connection) fails the pass.
#[test]
fn a_message_gone_since_the_listing_is_skipped_and_a_lost_mailbox_fails_the_pass() {
    let room = Mailroom::new("");
    let taken = room.deliver(&message(PROVIDER, INTAKE, "Hello", "one", &[]));
    room.deliver(&message(PROVIDER, INTAKE, "Hello again", "two", &[]));
    let maildir = || portal::mail::maildir::Maildir::open(&room.path("mail/intake")).unwrap();

    let mut gone = FetchFails {
        maildir: maildir(),
        id: taken.clone(),
        failure: |id| portal::mail::SourceError::Gone { id: id.to_owned() },
    };
    let report = pass_from(&room, &mut gone).expect("a message gone is no failure of the pass");
    assert_eq!(report.messages, 1, "{report:?}");
    assert_eq!(room.intake_folder(None), std::slice::from_ref(&taken));
    assert_eq!(room.intake_folder(Some(Folder::Processed)).len(), 1);

    let mut lost = FetchFails {
        maildir: maildir(),
        id: taken.clone(),
        failure: |_| anyhow::anyhow!("connection reset by peer").into(),
    };
    let error = pass_from(&room, &mut lost).expect_err("a lost mailbox fails the pass");
    let error = format!("{error:#}");
    assert!(
        error.contains("cannot fetch from the intake mailbox")
            && error.contains("connection reset by peer"),
        "{error}"
    );
    assert_eq!(room.intake_folder(None), [taken]);
}
