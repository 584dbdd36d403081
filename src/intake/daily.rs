//! The daily work, done by the first pass of each Illinois day, with or without mail:
//! retention (`store::retention`), one overdue reminder to the MCO per ticket and due
//! date, and the staff digest.
//!
//! Exactly once: the day is marked done in the store (`daily:last_day`) in the same
//! transaction as the reminders and the digest it queues, and flushed before any of
//! them is sent. A run killed before that transaction does the day's work again; one
//! killed after it finds the day done and its notices waiting in the outbox, which
//! every pass delivers. A day's work is never done twice, and never skipped.

mod digest;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::notices::{NoticeRequest, queue_notice};
use super::{Intake, Journaled};
use crate::failpoint;
use crate::forms::Status;
use crate::ids::TicketId;
use crate::mail::notice::NoticeKind;
use crate::store::{EventKind, ExtensionStatus, Store, Ticket, Tree, Writes};
use digest::Digest;

/// The meta key holding the last Illinois day whose daily work was recorded.
const LAST_DAY: &str = "daily:last_day";

/// What one day's work queued (nothing on the day's later passes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Daily {
    /// Overdue reminders queued to MCOs.
    pub reminders: usize,
    /// A staff digest was queued.
    pub digest: bool,
}

/// Does the daily work for `today` (the Illinois day of `now`) unless it was done: the
/// reminders and the digest queued and the day marked done in one transaction,
/// flushed. Sending them is the caller's next step (the outbox's delivery).
pub(super) fn daily(intake: &Intake<'_>, today: NaiveDate, now: DateTime<Utc>) -> Result<Daily> {
    let store = intake.store;
    let done = store
        .meta(LAST_DAY)?
        .and_then(|day| day.parse::<NaiveDate>().ok());
    if done.is_some_and(|done| done >= today) {
        return Ok(Daily::default());
    }
    // Retention first, in transactions of its own: a day's work cut short does it
    // again, and it finds nothing it removed before.
    crate::store::retention::purge(store, intake.config.store.keep_raw_days, today, now)?;
    let mut writes = Writes::default();
    let overdue = overdue_tickets(store, today)?;
    let mut reminded: Vec<TicketId> = Vec::new();
    for ticket in &overdue {
        if remind(intake, &mut writes, ticket, today, now)? {
            reminded.push(ticket.id);
        }
    }
    let mut daily = Daily {
        reminders: reminded.len(),
        digest: false,
    };
    if let Some(staff) = &intake.config.mail.staff_address {
        let digest = Digest::gather(store, intake.config, &overdue, &reminded, today)?;
        if !digest.is_empty() {
            queue_digest(intake, &mut writes, staff, &digest, now)?;
            daily.digest = true;
        }
    }
    writes.put_bytes(Tree::Meta, LAST_DAY, today.to_string().into_bytes());
    store.apply(writes)?;
    store.flush()?;
    failpoint::hit("after_daily_record");
    tracing::info!(
        day = %today,
        overdue = overdue.len() as u64,
        reminders = daily.reminders as u64,
        digest = daily.digest,
        "daily work recorded"
    );
    Ok(daily)
}

/// A ticket record, as far as finding the overdue ones reads each (the rest of the
/// record skipped while reading, never kept).
#[derive(Deserialize)]
struct TicketStatus {
    id: TicketId,
    status: Status,
}

/// The tickets overdue on `today`, by id: only those still waiting for a proposal are
/// read whole.
fn overdue_tickets(store: &Store, today: NaiveDate) -> Result<Vec<Ticket>> {
    let mut overdue = Vec::new();
    for waiting in store
        .all::<TicketStatus>(Tree::Tickets)?
        .into_iter()
        .filter(|ticket| ticket.status == Status::Forwarded)
    {
        if let Some(ticket) = store.record::<Ticket>(waiting.id)?
            && ticket.is_overdue(today)
        {
            overdue.push(ticket);
        }
    }
    Ok(overdue)
}

/// Queues the one reminder for an overdue ticket's current due date, unless it was
/// sent: the due date joins `reminded`, the timeline gets its event. False when there
/// was nothing to send (reminded before, or its MCO is no longer configured).
fn remind(
    intake: &Intake<'_>,
    writes: &mut Writes,
    ticket: &Ticket,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(due) = ticket
        .response_due
        .filter(|due| !ticket.reminded.contains(due))
    else {
        return Ok(false);
    };
    let Some(mco) = ticket
        .mco
        .as_deref()
        .and_then(|code| intake.config.mco(code))
    else {
        tracing::warn!(ticket = %ticket.id, "overdue, but its MCO is not configured: no reminder");
        return Ok(false);
    };
    let id = ticket.id.to_string();
    let request = NoticeRequest {
        kind: NoticeKind::OverdueReminder,
        to: &mco.dispute_address,
        subject: format!("[{id}] Response overdue"),
        about: Some(ticket.id.into()),
        is_reply: false,
        in_reply_to: None,
        references: &[],
        context: json!({ "ticket": reminder_view(ticket, &mco.name, due, today) }),
        attachment: None,
    };
    // Never held back: a reminder is no unsolicited answer.
    queue_notice(intake, writes, &mut Journaled::default(), request, now)?;
    let mut ticket = ticket.clone();
    ticket.reminded.push(due);
    ticket.event(today, EventKind::Reminder, None);
    writes.put(Tree::Tickets, &id, &ticket)?;
    writes.audit(intake.store, now, "ticket_reminded", &id, None, None)?;
    Ok(true)
}

/// What the reminder shows: ids, dates and row numbers; never PHI.
fn reminder_view(
    ticket: &Ticket,
    mco_name: &str,
    due: NaiveDate,
    today: NaiveDate,
) -> serde_json::Value {
    let rows: Vec<u32> = ticket
        .lines
        .iter()
        .filter(|line| line.status == Status::Forwarded && line.decision.is_none())
        .map(|line| line.row)
        .collect();
    let extended = ticket
        .extension
        .as_ref()
        .is_some_and(|extension| extension.status == ExtensionStatus::Granted);
    json!({
        "id": ticket.id,
        "mco_name": mco_name,
        "received_on": ticket.received_on,
        "presented_on": ticket.presented_on.unwrap_or(ticket.received_on),
        "response_due": due,
        "days_overdue": (today - due).num_days(),
        "extended": extended,
        "rows": rows,
    })
}

/// Queues the staff digest of the day.
fn queue_digest(
    intake: &Intake<'_>,
    writes: &mut Writes,
    staff: &str,
    digest: &Digest,
    now: DateTime<Utc>,
) -> Result<()> {
    let request = NoticeRequest {
        kind: NoticeKind::StaffDigest,
        to: staff,
        subject: format!("Provider Resolution Portal: daily summary {}", digest.day),
        about: None,
        is_reply: false,
        in_reply_to: None,
        references: &[],
        context: json!({ "digest": digest, "items": digest.len() }),
        attachment: None,
    };
    queue_notice(intake, writes, &mut Journaled::default(), request, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Days, TimeZone as _};
    use mail_parser::MessageParser;

    use super::*;
    use crate::config::Config;
    use crate::ids::{InquiryId, RecordId, RegistrationId, Sequenced as _};
    use crate::mail::notice::Composer;
    use crate::mail::transport::StubSender;
    use crate::store::{
        Extension, Inquiry, Mailbox, MessageRecord, Notice, Outcome, Party, RECORD_VERSION,
        ReadMark, Registration, RegistrationStatus, Store, TicketLine,
    };

    const STAFF: &str = "portal-staff@example.gov";
    const MOLINA: &str = "disputes@molina.example";

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// 9 a.m. in Illinois on `today`.
    fn morning(today: NaiveDate) -> DateTime<Utc> {
        Utc.from_utc_datetime(&today.and_hms_opt(15, 0, 0).unwrap())
    }

    /// A store, the repository's templates and a stub transport; a staff address
    /// when `staff`.
    struct Setup {
        _dir: tempfile::TempDir,
        config: Config,
        store: Store,
        composer: Composer,
        stub: StubSender,
    }

    impl Setup {
        fn new(staff: bool) -> Setup {
            let dir = tempfile::tempdir().unwrap();
            let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
            let staff = if staff {
                format!("[mail]\nstaff_address = {STAFF:?}\n")
            } else {
                String::new()
            };
            let text = format!(
                "[site]\ntemplates_dir = {templates:?}\n[store]\npath = {:?}\n{staff}",
                dir.path().join("store")
            );
            let config = Config::parse(&text).unwrap();
            let store = Store::open_or_create(&config.store.path).unwrap();
            let composer = Composer::new(&config.site.templates_dir, &config.mail.from).unwrap();
            Setup {
                _dir: dir,
                config,
                store,
                composer,
                stub: StubSender::new_ok(),
            }
        }

        /// The daily work as the first pass of `today` does it.
        fn run(&self, today: &str) -> Daily {
            let intake = Intake {
                config: &self.config,
                store: &self.store,
                composer: &self.composer,
                transport: &self.stub,
                stop: None,
                figures: crate::intake::Figures::Publish,
            };
            daily(&intake, day(today), morning(day(today))).unwrap()
        }

        fn put<T: serde::Serialize>(&self, tree: Tree, key: &str, record: &T) {
            let mut writes = Writes::default();
            writes.put(tree, key, record).unwrap();
            self.store.apply(writes).unwrap();
        }

        fn ticket(&self, number: u64) -> Ticket {
            self.store
                .record(TicketId::new(2026, number))
                .unwrap()
                .unwrap()
        }

        /// Every notice queued so far: kind, recipient, subject and text.
        fn notices(&self) -> Vec<(NoticeKind, String, String, String)> {
            let mut notices: Vec<Notice> = self.store.all(Tree::Outbox).unwrap();
            notices.sort_by_key(|notice| notice.id);
            notices
                .into_iter()
                .map(|notice| {
                    let parsed = MessageParser::default().parse(&notice.raw).unwrap();
                    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
                    (notice.kind, notice.to, notice.subject, text)
                })
                .collect()
        }
    }

    /// A ticket received on `received_on` and forwarded to Molina with rows 2 and 3;
    /// due 30 days later.
    fn forwarded(number: u64, received_on: &str) -> Ticket {
        let received_on = day(received_on);
        let line = |row| TicketLine {
            row,
            status: Status::Forwarded,
            reason: None,
            npi: Some("1234567893".to_owned()),
            tracking_number: Some(format!("TRK-{row}")),
            decision: None,
            comment: None,
        };
        Ticket {
            v: RECORD_VERSION,
            id: TicketId::new(2026, number),
            status: Status::Forwarded,
            mco: Some("MOLINA".to_owned()),
            received_on,
            received_at: morning(received_on),
            sender: "billing@clinic.example".to_owned(),
            reason: None,
            presented_by: Some(received_on + Days::new(14)),
            response_due: Some(received_on + Days::new(30)),
            lines: vec![line(2), line(3)],
            problems: Vec::new(),
            forwarded_claims: Vec::new(),
            message: "ab".repeat(32),
            attachment: Some("claims.xlsx".to_owned()),
            correspondence: Vec::new(),
            notice_failures: Vec::new(),
            presented_on: Some(received_on),
            responded_on: None,
            late: false,
            extension: None,
            resolution: None,
            events: Vec::new(),
            proposals: Vec::new(),
            reminded: Vec::new(),
        }
    }

    fn put_ticket(setup: &Setup, ticket: &Ticket) {
        setup.put(Tree::Tickets, &ticket.id.to_string(), ticket);
    }

    #[test]
    fn one_reminder_per_due_date_and_a_digest_every_day_it_is_overdue() {
        let setup = Setup::new(true);
        // Due 2026-12-02: overdue from the 3rd.
        put_ticket(&setup, &forwarded(1, "2026-11-02"));
        // Already answered: never overdue.
        let mut responded = forwarded(2, "2026-11-02");
        responded.status = Status::Responded;
        put_ticket(&setup, &responded);

        assert_eq!(
            setup.run("2026-12-02"),
            Daily::default(),
            "due today: not late"
        );
        assert!(setup.notices().is_empty(), "nothing to list: no digest");

        let first = setup.run("2026-12-03");
        assert_eq!(
            first,
            Daily {
                reminders: 1,
                digest: true
            }
        );
        let notices = setup.notices();
        assert_eq!(notices.len(), 2, "{notices:#?}");
        let (kind, to, subject, text) = &notices[0];
        assert_eq!(
            (*kind, to.as_str(), subject.as_str()),
            (
                NoticeKind::OverdueReminder,
                MOLINA,
                "[PRP-2026-000001] Response overdue"
            )
        );
        for expected in [
            "was due by 2026-12-02",
            "1 day late",
            "Rows of the workbook PRP-2026-000001.xlsx still without a proposal: 2, 3.",
            "keeping [PRP-2026-000001] in the subject",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
        assert!(
            !text.contains("TRK-2") && !text.contains("1234567893"),
            "{text}"
        );
        let (kind, to, subject, text) = &notices[1];
        assert_eq!(
            (*kind, to.as_str(), subject.as_str()),
            (
                NoticeKind::StaffDigest,
                STAFF,
                "Provider Resolution Portal: daily summary 2026-12-03"
            )
        );
        assert!(
            text.contains(
                "PRP-2026-000001  due 2026-12-02, 1 day overdue, extension: none; MCO reminded today"
            ),
            "{text}"
        );
        assert!(!text.contains("PRP-2026-000002"), "{text}");
        let ticket = setup.ticket(1);
        assert_eq!(ticket.reminded, [day("2026-12-02")]);
        assert_eq!(
            ticket.events.last().map(|event| (event.on, event.what)),
            Some((day("2026-12-03"), EventKind::Reminder))
        );

        // A later pass the same day does nothing.
        assert_eq!(setup.run("2026-12-03"), Daily::default());
        assert_eq!(setup.notices().len(), 2);

        // The next day: still overdue, listed again, not reminded again.
        assert_eq!(
            setup.run("2026-12-04"),
            Daily {
                reminders: 0,
                digest: true
            }
        );
        let notices = setup.notices();
        assert_eq!(notices.len(), 3);
        assert!(
            notices[2]
                .3
                .contains("PRP-2026-000001  due 2026-12-02, 2 days overdue, extension: none\n"),
            "{}",
            notices[2].3
        );
        assert_eq!(setup.ticket(1).reminded.len(), 1);
    }

    #[test]
    fn a_granted_extension_moves_the_reminder_to_its_new_due_date() {
        let setup = Setup::new(false);
        let mut ticket = forwarded(1, "2026-11-02");
        ticket.response_due = Some(day("2027-01-01"));
        ticket.extension = Some(Extension {
            requested_by: Party::Mco,
            requested_on: day("2026-11-20"),
            status: ExtensionStatus::Granted,
            by: Some("pat".to_owned()),
            reason: None,
            message: None,
        });
        put_ticket(&setup, &ticket);
        assert_eq!(setup.run("2026-12-03").reminders, 0);
        assert_eq!(setup.run("2027-01-02").reminders, 1);
        assert_eq!(setup.run("2027-01-03").reminders, 0);
        let notices = setup.notices();
        assert_eq!(notices.len(), 1, "no staff address: no digest");
        assert!(
            notices[0]
                .3
                .contains("was due by 2027-01-01, the date set by the one extension granted"),
            "{}",
            notices[0].3
        );

        // A ticket reminded for its first due date, then extended: one more reminder.
        let setup = Setup::new(false);
        let mut ticket = forwarded(1, "2026-11-02");
        put_ticket(&setup, &ticket);
        assert_eq!(setup.run("2026-12-03").reminders, 1);
        ticket = setup.ticket(1);
        ticket.response_due = Some(day("2027-01-01"));
        put_ticket(&setup, &ticket);
        assert_eq!(setup.run("2026-12-04").reminders, 0);
        assert_eq!(setup.run("2027-01-02").reminders, 1);
        assert_eq!(
            setup.ticket(1).reminded,
            [day("2026-12-02"), day("2027-01-01")]
        );
    }

    fn registration(number: u64, status: RegistrationStatus, earliest: &str) -> Registration {
        Registration {
            v: RECORD_VERSION,
            id: RegistrationId::new(2026, number),
            status,
            email: format!("office{number}@clinic.example"),
            npis: vec!["1234567893".to_owned()],
            earliest_completion: day(earliest),
            missing: Vec::new(),
            received_on: day("2026-11-30"),
            received_at: morning(day("2026-11-30")),
            registrant_name: "Pat Example".to_owned(),
            organization: "Example Clinic".to_owned(),
            role: "Billing agent".to_owned(),
            username: String::new(),
            providers: Vec::new(),
            message: "cd".repeat(32),
            decided_by: None,
            decided_at: None,
            decision_reason: None,
        }
    }

    fn inquiry(number: u64, read: bool) -> Inquiry {
        Inquiry {
            v: RECORD_VERSION,
            id: InquiryId::new(2026, number),
            from: format!("asker{number}@example.com"),
            received_on: day("2026-12-01"),
            received_at: morning(day("2026-12-01")),
            subject: "Patient Jane Roe, born 1970-01-01".to_owned(),
            answered: true,
            message: "ef".repeat(32),
            read: read.then(|| ReadMark {
                by: "pat".to_owned(),
                at: morning(day("2026-12-02")),
            }),
        }
    }

    /// A processed message whose hash starts with `digit` twelve times.
    fn message(digit: char, outcome: Outcome, released: bool, read: bool) -> MessageRecord {
        MessageRecord {
            v: RECORD_VERSION,
            hash: digit.to_string().repeat(64),
            message_id: None,
            mailbox: Mailbox::Intake,
            source_id: digit.to_string(),
            from: format!("sender-{digit}@example.org"),
            received_at: morning(day("2026-12-01")),
            processed_at: morning(day("2026-12-01")),
            outcome,
            notices: Vec::new(),
            suppressed: Vec::new(),
            attachments: None,
            released,
            read: read.then(|| ReadMark {
                by: "pat".to_owned(),
                at: morning(day("2026-12-02")),
            }),
            raw_removed: None,
            trusted: None,
        }
    }

    #[test]
    fn the_digest_lists_what_staff_have_not_marked_read() {
        let setup = Setup::new(true);
        for registration in [
            registration(1, RegistrationStatus::Pending, "2026-12-02"),
            // Listed from the day after its earliest completion only.
            registration(2, RegistrationStatus::Pending, "2026-12-03"),
            registration(3, RegistrationStatus::Active, "2026-12-01"),
        ] {
            setup.put(
                Tree::Registrations,
                &registration.id.to_string(),
                &registration,
            );
        }
        for inquiry in [inquiry(1, false), inquiry(2, true)] {
            setup.put(Tree::Inquiries, &inquiry.id.to_string(), &inquiry);
        }
        let on_ticket = Some(RecordId::from(TicketId::new(2026, 7)));
        let quarantined = || Outcome::Quarantined {
            why: "could not be handled".to_owned(),
        };
        for message in [
            message('1', Outcome::Correspondence { id: on_ticket }, false, false),
            message('2', Outcome::Correspondence { id: on_ticket }, false, true),
            message('3', Outcome::Correspondence { id: None }, false, false),
            message('4', quarantined(), false, false),
            message('5', quarantined(), true, false),
            message('6', quarantined(), false, true),
            message(
                '7',
                Outcome::Proposal {
                    id: TicketId::new(2026, 7),
                },
                false,
                false,
            ),
            message('8', Outcome::Help, false, false),
        ] {
            setup.put(Tree::Messages, &message.hash, &message);
        }
        assert_eq!(
            setup.run("2026-12-03"),
            Daily {
                reminders: 0,
                digest: true
            }
        );
        let notices = setup.notices();
        let (_, _, _, text) = &notices[0];
        for expected in [
            "5 items for staff today.",
            "REG-2026-000001  office1@clinic.example, received 2026-11-30, could be complete from 2026-12-02",
            "INQ-2026-000001  from asker1@example.com, received 2026-12-01",
            "111111111111  on PRP-2026-000007, from sender-1@example.org, received 2026-12-01",
            "MCO mail without a ticket id\n    333333333333  from sender-3@example.org",
            "Messages in quarantine\n    444444444444  from sender-4@example.org",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
        for absent in [
            "REG-2026-000002",
            "REG-2026-000003",
            "INQ-2026-000002",
            "Jane",
            "222222222222",
            "555555555555",
            "666666666666",
            "777777777777",
            "888888888888",
            "Overdue",
        ] {
            assert!(!text.contains(absent), "{absent:?} in\n{text}");
        }
    }

    #[test]
    fn a_day_with_nothing_to_list_sends_nothing_and_counts_as_done() {
        let setup = Setup::new(true);
        assert_eq!(setup.run("2026-12-03"), Daily::default());
        assert!(setup.notices().is_empty());
        assert_eq!(
            setup.store.meta(LAST_DAY).unwrap().as_deref(),
            Some("2026-12-03")
        );
        // An inquiry comes in later that day: the next day lists it.
        setup.put(Tree::Inquiries, "INQ-2026-000001", &inquiry(1, false));
        assert_eq!(setup.run("2026-12-03"), Daily::default());
        assert!(setup.run("2026-12-04").digest);
        // A clock set back never does a day's work again.
        assert_eq!(setup.run("2026-12-03"), Daily::default());
        assert_eq!(setup.notices().len(), 1);
    }
}
