//! The figures counted from hand-built records, and a property test over random ones.

use chrono::{DateTime, Days, TimeZone as _, Utc};
use proptest::prelude::*;

use super::*;
use crate::config::Config;
use crate::store::{Extension, Party, RECORD_VERSION, TicketLine};

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn mcos() -> Vec<Mco> {
    Config::embedded().mcos
}

fn id(number: u64) -> TicketId {
    format!("PRP-2026-{number:06}").parse().unwrap()
}

/// A ticket received on `received_on` for `mco`, with lines of these outcomes; a
/// forwarded one has its forward and due date as intake records them.
fn ticket(
    number: u64,
    mco: Option<&str>,
    received_on: NaiveDate,
    lines: &[(Status, Option<Reason>)],
) -> Ticket {
    let forwarded = lines.iter().any(|(status, _)| *status == Status::Forwarded);
    Ticket {
        v: RECORD_VERSION,
        id: id(number),
        status: if forwarded {
            Status::Forwarded
        } else {
            Status::Closed
        },
        mco: mco.map(str::to_owned),
        received_on,
        received_at: Utc.from_utc_datetime(&received_on.and_hms_opt(18, 0, 0).unwrap()),
        sender: "billing@prairie-clinic.example".to_owned(),
        reason: None,
        presented_by: forwarded.then_some(received_on + Days::new(14)),
        response_due: forwarded.then_some(received_on + Days::new(30)),
        lines: lines
            .iter()
            .enumerate()
            .map(|(index, (status, reason))| TicketLine {
                row: index as u32 + 2,
                status: *status,
                reason: *reason,
                npi: Some("1234567893".to_owned()),
                tracking_number: Some("TRK-1".to_owned()),
                decision: None,
                comment: None,
            })
            .collect(),
        problems: Vec::new(),
        forwarded_claims: Vec::new(),
        message: "hash".to_owned(),
        attachment: None,
        correspondence: Vec::new(),
        notice_failures: Vec::new(),
        presented_on: forwarded.then_some(received_on),
        responded_on: None,
        late: false,
        extension: None,
        resolution: None,
        events: Vec::new(),
        proposals: Vec::new(),
        reminded: Vec::new(),
    }
}

const FORWARDED: (Status, Option<Reason>) = (Status::Forwarded, None);

fn closed(reason: Reason) -> (Status, Option<Reason>) {
    (Status::Closed, Some(reason))
}

fn responded(mut ticket: Ticket, after_days: u64, late: bool) -> Ticket {
    ticket.status = Status::Responded;
    ticket.responded_on = ticket.presented_on.map(|on| on + Days::new(after_days));
    ticket.late = late;
    ticket
}

fn registration(status: RegistrationStatus, received_on: &str) -> RegistrationFacts {
    RegistrationFacts {
        status,
        received_on: day(received_on),
    }
}

fn facts(tickets: &[Ticket]) -> Vec<TicketFacts> {
    tickets.iter().map(TicketFacts::from).collect()
}

fn row<'s>(statistics: &'s Statistics, month: &str, mco: Option<&str>) -> &'s MonthFigures {
    statistics
        .months
        .iter()
        .find(|row| row.month == month && row.mco.as_deref() == mco)
        .unwrap_or_else(|| panic!("no row {month} {mco:?}"))
}

fn november() -> Period {
    Period::new(day("2026-11-01"), day("2026-11-30")).unwrap()
}

#[test]
fn each_figure_counts_its_own_tickets_and_lines() {
    let on = day("2026-11-10");
    let mut extended = ticket(3, Some("MOLINA"), on, &[FORWARDED]);
    extended.extension = Some(Extension {
        requested_by: Party::Mco,
        requested_on: on,
        status: ExtensionStatus::Granted,
        by: Some("Dana".to_owned()),
        reason: None,
        message: None,
    });
    let mut declined = ticket(4, Some("MOLINA"), on, &[FORWARDED]);
    declined.extension = Some(Extension {
        status: ExtensionStatus::Denied,
        ..extended.extension.clone().unwrap()
    });
    let mut resolved = responded(ticket(5, Some("MOLINA"), on, &[FORWARDED]), 40, true);
    resolved.status = Status::Resolved;
    let tickets = [
        ticket(
            1,
            Some("MOLINA"),
            on,
            &[FORWARDED, FORWARDED, closed(Reason::TooEarly)],
        ),
        responded(ticket(2, Some("MOLINA"), on, &[FORWARDED]), 10, false),
        extended,
        declined,
        resolved,
        ticket(6, Some("AETNA"), on, &[closed(Reason::Duplicate)]),
    ];
    // December 20: the open forwarded tickets (1, 3, 4) are past their due date.
    let statistics = count(
        &facts(&tickets),
        &[],
        &mcos(),
        november(),
        day("2026-12-20"),
    );
    let molina = row(&statistics, "2026-11", Some("MOLINA"));
    assert_eq!(molina.complaints, 5);
    assert_eq!(
        molina.lines_forwarded, 6,
        "a resolved ticket's line still counts"
    );
    assert_eq!(molina.lines_closed["too_early"], 1);
    assert_eq!(molina.lines_closed_total(), 1);
    assert_eq!(molina.proposals_on_time, 1);
    assert_eq!(molina.proposals_late, 1);
    assert_eq!(molina.overdue, 3);
    assert_eq!(molina.extensions, 1, "a declined extension is not counted");
    assert_eq!(molina.median_days_to_proposal, Some(25.0));
    let aetna = row(&statistics, "2026-11", Some("AETNA"));
    assert_eq!(aetna.complaints, 1);
    assert_eq!(aetna.lines_forwarded, 0);
    assert_eq!(aetna.lines_closed["duplicate"], 1);
    assert_eq!(aetna.median_days_to_proposal, None);
    // Every reason is a key, zeros included.
    assert_eq!(aetna.lines_closed.len(), Reason::WORDS.len());
    // Overdue is as of the day counted: not yet on the due date itself.
    let on_due = count(
        &facts(&tickets),
        &[],
        &mcos(),
        november(),
        day("2026-12-10"),
    );
    assert_eq!(row(&on_due, "2026-11", Some("MOLINA")).overdue, 0);
}

#[test]
fn a_ticket_belongs_to_the_illinois_month_it_was_received_in() {
    // 05:00 UTC on December 1 is 23:00 on November 30 in Illinois: intake records
    // the Illinois day, and the figures follow it.
    let at: DateTime<Utc> = "2026-12-01T05:00:00Z".parse().unwrap();
    let received_on = at.with_timezone(&chrono_tz::America::Chicago).date_naive();
    let mut late_evening = ticket(1, Some("MOLINA"), received_on, &[FORWARDED]);
    late_evening.received_at = at;
    // Answered in December: still November's figure.
    let late_evening = responded(late_evening, 5, false);
    let first_of_december = ticket(2, Some("MOLINA"), day("2026-12-01"), &[FORWARDED]);
    let period = Period::new(day("2026-11-01"), day("2026-12-31")).unwrap();
    let statistics = count(
        &facts(&[late_evening, first_of_december]),
        &[],
        &mcos(),
        period,
        day("2026-12-31"),
    );
    let november = row(&statistics, "2026-11", Some("MOLINA"));
    assert_eq!((november.complaints, november.proposals_on_time), (1, 1));
    assert_eq!(row(&statistics, "2026-12", Some("MOLINA")).complaints, 1);
}

#[test]
fn tickets_closed_before_an_mco_was_known_count_under_null() {
    let on = day("2026-11-03");
    let mut unknown = ticket(1, None, on, &[]);
    unknown.reason = Some(Reason::UnknownTemplate);
    let mut mixed = ticket(
        2,
        None,
        on,
        &[closed(Reason::MixedMco), closed(Reason::MixedMco)],
    );
    mixed.reason = Some(Reason::MixedMco);
    let statistics = count(&facts(&[unknown, mixed]), &[], &mcos(), november(), on);
    let null = row(&statistics, "2026-11", None);
    assert_eq!(null.complaints, 2);
    // The lineless ticket once under its reason; the mixed one per line.
    assert_eq!(null.lines_closed["unknown_template"], 1);
    assert_eq!(null.lines_closed["mixed_mco"], 2);
    // The null row is last in its month, after every configured MCO in order.
    let codes: Vec<Option<&str>> = statistics
        .months
        .iter()
        .map(|row| row.mco.as_deref())
        .collect();
    let mcos = mcos();
    let mut expected: Vec<Option<&str>> = mcos.iter().map(|mco| Some(mco.code.as_str())).collect();
    expected.push(None);
    assert_eq!(codes, expected);
}

#[test]
fn an_mco_no_longer_configured_keeps_a_row_of_its_own() {
    let on = day("2026-11-03");
    let gone = ticket(1, Some("FAMILYHEALTH"), on, &[FORWARDED]);
    let statistics = count(&facts(&[gone]), &[], &mcos(), november(), on);
    let codes: Vec<Option<&str>> = statistics
        .months
        .iter()
        .map(|row| row.mco.as_deref())
        .collect();
    assert_eq!(codes[codes.len() - 2..], [Some("FAMILYHEALTH"), None]);
    assert_eq!(
        row(&statistics, "2026-11", Some("FAMILYHEALTH")).lines_forwarded,
        1
    );
}

#[test]
fn the_median_is_rounded_to_one_decimal_and_null_without_proposals() {
    assert_eq!(median(&mut []), None);
    assert_eq!(median(&mut [7]), Some(7.0));
    assert_eq!(median(&mut [12, 3, 10]), Some(10.0));
    assert_eq!(median(&mut [10, 13]), Some(11.5));
    assert_eq!(median(&mut [1, 2, 4, 5]), Some(3.0));
    let on = day("2026-11-02");
    let tickets = [
        responded(ticket(1, Some("MOLINA"), on, &[FORWARDED]), 10, false),
        responded(ticket(2, Some("MOLINA"), on, &[FORWARDED]), 13, false),
        // A forwarded ticket with no proposal has no days to count.
        ticket(3, Some("MOLINA"), on, &[FORWARDED]),
    ];
    let statistics = count(&facts(&tickets), &[], &mcos(), november(), on);
    assert_eq!(
        row(&statistics, "2026-11", Some("MOLINA")).median_days_to_proposal,
        Some(11.5)
    );
    let json = statistics.to_json();
    assert!(json.contains("\"median_days_to_proposal\": 11.5"), "{json}");
    assert!(json.contains("\"median_days_to_proposal\": null"), "{json}");
}

#[test]
fn the_window_is_twelve_months_and_nothing_outside_it_counts() {
    let as_of = day("2027-01-15");
    let period = Period::twelve_months_to(as_of);
    assert_eq!(period.from, day("2026-02-01"));
    assert_eq!(period.to, as_of);
    let months = period.months();
    assert_eq!(months.len(), 12);
    assert_eq!(
        (months[0].as_str(), months[11].as_str()),
        ("2026-02", "2027-01")
    );
    let tickets = [
        ticket(1, Some("MOLINA"), day("2026-01-31"), &[FORWARDED]),
        ticket(2, Some("MOLINA"), day("2026-02-01"), &[FORWARDED]),
        ticket(3, Some("MOLINA"), day("2027-01-15"), &[FORWARDED]),
        ticket(4, Some("MOLINA"), day("2027-01-16"), &[FORWARDED]),
    ];
    let registrations = [
        registration(RegistrationStatus::Active, "2026-01-31"),
        registration(RegistrationStatus::Active, "2026-02-01"),
    ];
    let statistics = count(&facts(&tickets), &registrations, &mcos(), period, as_of);
    let total: u64 = statistics.months.iter().map(|row| row.complaints).sum();
    assert_eq!(total, 2);
    assert!(
        statistics
            .months
            .iter()
            .all(|row| months.contains(&row.month))
    );
    let registered: u64 = statistics
        .registrations
        .iter()
        .map(|row| row.received)
        .sum();
    assert_eq!(registered, 1);
    // A period of some days in one month is that month alone.
    let days = Period::new(day("2026-03-05"), day("2026-03-09")).unwrap();
    assert_eq!(days.months(), ["2026-03"]);
    assert_eq!(Period::new(day("2026-03-09"), day("2026-03-05")), None);
}

#[test]
fn registrations_are_counted_by_the_month_received() {
    let registrations = [
        registration(RegistrationStatus::Pending, "2026-11-02"),
        registration(RegistrationStatus::Active, "2026-11-03"),
        registration(RegistrationStatus::Revoked, "2026-11-04"),
        registration(RegistrationStatus::Denied, "2026-11-30"),
    ];
    let statistics = count(&[], &registrations, &mcos(), november(), day("2026-12-05"));
    assert_eq!(
        statistics.registrations,
        [RegistrationFigures {
            month: "2026-11".to_owned(),
            received: 4,
            approved: 2,
            denied: 1,
        }]
    );
}

#[test]
fn overdue_tickets_are_listed_by_mco_then_due_date() {
    let today = day("2026-12-31");
    let tickets = [
        ticket(1, Some("MOLINA"), day("2026-11-05"), &[FORWARDED]),
        ticket(2, Some("AETNA"), day("2026-11-20"), &[FORWARDED]),
        ticket(3, Some("AETNA"), day("2026-11-02"), &[FORWARDED]),
        responded(
            ticket(4, Some("AETNA"), day("2026-11-02"), &[FORWARDED]),
            3,
            false,
        ),
        // Received before the period: not in this report.
        ticket(5, Some("AETNA"), day("2026-10-02"), &[FORWARDED]),
    ];
    let list = overdue_tickets(&facts(&tickets), &mcos(), november(), today);
    let listed: Vec<(Option<&str>, String, String)> = list
        .iter()
        .map(|ticket| {
            (
                ticket.mco.as_deref(),
                ticket.id.to_string(),
                ticket.response_due.to_string(),
            )
        })
        .collect();
    let molina_first = mcos().iter().position(|mco| mco.code == "MOLINA")
        < mcos().iter().position(|mco| mco.code == "AETNA");
    assert!(!molina_first, "the shipped order puts AETNA first");
    assert_eq!(
        listed,
        [
            (Some("AETNA"), id(3).to_string(), "2026-12-02".to_owned()),
            (Some("AETNA"), id(2).to_string(), "2026-12-20".to_owned()),
            (Some("MOLINA"), id(1).to_string(), "2026-12-05".to_owned()),
        ]
    );
}

#[test]
fn the_narrow_view_reads_a_stored_ticket_as_the_whole_record_says() {
    let mut stored = responded(
        ticket(
            1,
            Some("MOLINA"),
            day("2026-11-02"),
            &[FORWARDED, closed(Reason::TooLate)],
        ),
        31,
        true,
    );
    stored.extension = Some(Extension {
        requested_by: Party::Provider,
        requested_on: day("2026-11-20"),
        status: ExtensionStatus::Requested,
        by: None,
        reason: None,
        message: Some("hash".to_owned()),
    });
    let json = serde_json::to_vec(&stored).unwrap();
    let read: TicketFacts = serde_json::from_slice(&json).unwrap();
    assert_eq!(read, TicketFacts::from(&stored));
    // Nothing that names a person, a provider or a claim is in the view.
    let view = serde_json::to_string(&read).unwrap();
    for private in ["1234567893", "TRK-1", "prairie-clinic"] {
        assert!(!view.contains(private), "{view}");
    }
}

/// A random ticket received within a few days of a year: any status, MCO (or none,
/// or one not configured), lines, proposal, extension.
fn any_ticket() -> impl Strategy<Value = Ticket> {
    let statuses = prop_oneof![Just(Status::Forwarded), Just(Status::Closed)];
    let reasons = proptest::option::of(proptest::sample::select(Reason::ALL.to_vec()));
    let lines = proptest::collection::vec((statuses, reasons), 0..6);
    let mco = proptest::option::of(proptest::sample::select(vec![
        "AETNA", "MOLINA", "MERIDIAN", "GONE",
    ]));
    (
        1u64..999_999,
        mco,
        0u64..500,
        lines,
        proptest::option::of((0u64..90, any::<bool>())),
        proptest::option::of(0usize..3),
        proptest::option::of(proptest::sample::select(Reason::ALL.to_vec())),
    )
        .prop_map(
            |(number, mco, offset, lines, proposal, extension, reason)| {
                let mut made = ticket(number, mco, day("2025-06-01") + Days::new(offset), &lines);
                made.reason = reason;
                if let Some((days, late)) = proposal.filter(|_| made.status == Status::Forwarded) {
                    made = responded(made, days, late);
                }
                made.extension = extension.map(|status| Extension {
                    requested_by: Party::Mco,
                    requested_on: made.received_on,
                    status: [
                        ExtensionStatus::Requested,
                        ExtensionStatus::Granted,
                        ExtensionStatus::Denied,
                    ][status],
                    by: None,
                    reason: None,
                    message: None,
                });
                made
            },
        )
}

fn any_registration() -> impl Strategy<Value = RegistrationFacts> {
    (
        proptest::sample::select(RegistrationStatus::ALL.to_vec()),
        0u64..500,
    )
        .prop_map(|(status, offset)| RegistrationFacts {
            status,
            received_on: day("2025-06-01") + Days::new(offset),
        })
}

proptest! {
    #[test]
    fn totals_match_the_records_within_the_window(
        tickets in proptest::collection::vec(any_ticket(), 0..60),
        registrations in proptest::collection::vec(any_registration(), 0..20),
        as_of_offset in 0u64..520,
    ) {
        let mcos = mcos();
        let as_of = day("2025-06-01") + Days::new(as_of_offset);
        let period = Period::twelve_months_to(as_of);
        let statistics = count(&facts(&tickets), &registrations, &mcos, period, as_of);
        let counted: Vec<&Ticket> = tickets
            .iter()
            .filter(|ticket| period.contains(ticket.received_on))
            .collect();
        let sum = |figure: fn(&MonthFigures) -> u64| -> u64 {
            statistics.months.iter().map(figure).sum()
        };
        prop_assert_eq!(sum(|row| row.complaints), counted.len() as u64);
        let lines = || counted.iter().flat_map(|ticket| &ticket.lines);
        prop_assert_eq!(
            sum(|row| row.lines_forwarded),
            lines().filter(|line| line.status == Status::Forwarded).count() as u64
        );
        let closed_lines = lines()
            .filter(|line| line.status == Status::Closed && line.reason.is_some())
            .count();
        let lineless = counted
            .iter()
            .filter(|ticket| ticket.lines.is_empty() && ticket.reason.is_some())
            .count();
        prop_assert_eq!(sum(|row| row.lines_closed_total()), (closed_lines + lineless) as u64);
        prop_assert_eq!(
            sum(|row| row.proposals_on_time + row.proposals_late),
            counted.iter().filter(|ticket| ticket.responded_on.is_some()).count() as u64
        );
        prop_assert_eq!(
            sum(|row| row.overdue),
            counted.iter().filter(|ticket| ticket.is_overdue(as_of)).count() as u64
        );
        let received = registrations
            .iter()
            .filter(|registration| period.contains(registration.received_on))
            .count();
        prop_assert_eq!(
            statistics.registrations.iter().map(|row| row.received).sum::<u64>(),
            received as u64
        );
        // Every month of the window, and only those; every MCO in each, and null.
        let months = period.months();
        prop_assert_eq!(months.len(), 12);
        for month in &months {
            for mco in &mcos {
                row(&statistics, month, Some(&mco.code));
            }
            row(&statistics, month, None);
        }
        prop_assert!(statistics.months.iter().all(|row| months.contains(&row.month)));
        let registration_months: Vec<&String> =
            statistics.registrations.iter().map(|row| &row.month).collect();
        prop_assert_eq!(registration_months, months.iter().collect::<Vec<_>>());
        for figures in &statistics.months {
            prop_assert!(figures.median_days_to_proposal.is_none_or(|median| median >= 0.0));
            prop_assert_eq!(figures.lines_closed.len(), Reason::WORDS.len());
        }
        for figures in &statistics.registrations {
            prop_assert!(figures.approved + figures.denied <= figures.received);
        }
        // What is written reads back as a statistics file.
        prop_assert_eq!(Statistics::parse(&statistics.to_json()).unwrap(), statistics);
    }
}
