//! The public statistics file from a store of 100,000 tickets, as intake writes it at
//! the end of every pass: one scan of the tickets and registrations, the counting, and
//! the atomic write (`statistics::publish`). Target: well under 1 s.
//!
//! The store is built once, outside the timing, in a temporary folder: realistic
//! tickets (one to eight lines each with NPI and tracking number, forwarded and closed
//! lines with their problems, timelines, proposals on time and late, extensions,
//! resolutions, tickets closed before an MCO was known) spread over 14 months and six
//! MCOs, written directly with the store API in batches of 5,000.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, TimeZone as _, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use portal::config::Config;
use portal::forms::{Problem, Reason, Status};
use portal::ids::{RegistrationId, TicketId};
use portal::store::{
    ClaimKey, Correspondence, Event, EventKind, Extension, ExtensionStatus, Party, RECORD_VERSION,
    Registration, RegistrationStatus, Resolution, ResolutionOutcome, Store, Ticket, TicketLine,
    Tree, Writes,
};

const TICKETS: u64 = 100_000;
const REGISTRATIONS: u64 = 3_000;
const BATCH: u64 = 5_000;
/// The day the figures are counted on: the store spans the 14 months before it.
const AS_OF: (i32, u32, u32) = (2026, 11, 25);

/// xorshift64*: a seeded, repeatable spread of tickets.
struct Spread(u64);

impl Spread {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).expect("a date")
}

fn at(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(17, 30, 0).expect("a time"))
}

/// One line: forwarded, or closed for a line's reason (with its problem).
fn line(spread: &mut Spread, row: u32, n: u64) -> (TicketLine, Option<Problem>) {
    const LINE_REASONS: [Reason; 6] = [
        Reason::TooEarly,
        Reason::TooLate,
        Reason::NotExhausted,
        Reason::FeeForService,
        Reason::Duplicate,
        Reason::NpiNotRegistered,
    ];
    let reason = spread
        .chance(25)
        .then(|| LINE_REASONS[spread.below(6) as usize]);
    let line = TicketLine {
        row,
        status: if reason.is_some() {
            Status::Closed
        } else {
            Status::Forwarded
        },
        reason,
        npi: Some(format!(
            "{:010}",
            1_000_000_000 + spread.below(8_999_999_999)
        )),
        tracking_number: Some(format!("TRK-{n:08}-{row}")),
        decision: None,
        comment: None,
    };
    let problem = reason.map(|reason| Problem {
        sheet: Some("Claims".to_owned()),
        row: Some(row),
        column: Some("Date Filed with MCO".to_owned()),
        reason,
        message: "The claim was filed with the MCO outside the 30 to 60 day window before this complaint.".to_owned(),
        value: None,
    });
    (line, problem)
}

/// One realistic ticket, number `n`.
fn ticket(spread: &mut Spread, config: &Config, n: u64) -> Ticket {
    let received_on = as_of() - Days::new(spread.below(14 * 30));
    let id: TicketId = format!("PRP-2026-{:06}", n + 1).parse().expect("an id");
    let unknown = spread.chance(4);
    let (lines, problems): (Vec<TicketLine>, Vec<Option<Problem>>) = if unknown {
        (Vec::new(), Vec::new())
    } else {
        (0..1 + spread.below(8))
            .map(|index| line(spread, index as u32 + 2, n))
            .unzip()
    };
    let forwarded = lines.iter().any(|line| line.status == Status::Forwarded);
    let mco = (!unknown).then(|| config.mcos[spread.below(6) as usize].code.clone());
    let mut ticket = Ticket {
        v: RECORD_VERSION,
        id,
        status: if forwarded {
            Status::Forwarded
        } else {
            Status::Closed
        },
        mco,
        received_on,
        received_at: at(received_on),
        sender: format!("billing{}@clinic{}.example", n % 97, n % 1_000),
        reason: unknown.then_some(Reason::UnknownTemplate),
        presented_by: forwarded.then(|| received_on + Days::new(14)),
        response_due: forwarded.then(|| received_on + Days::new(30)),
        forwarded_claims: lines
            .iter()
            .filter(|line| line.status == Status::Forwarded)
            .map(|line| ClaimKey {
                row: line.row,
                tracking_number: line.tracking_number.clone().unwrap_or_default(),
                claim_number: format!("CLM{n:08}{}", line.row),
            })
            .collect(),
        lines,
        problems: problems.into_iter().flatten().collect(),
        message: format!("{:064x}", u128::from(n) * 0x9E37_79B9_7F4A_7C15),
        attachment: Some("complaint-template.xlsx".to_owned()),
        correspondence: Vec::new(),
        notice_failures: Vec::new(),
        presented_on: forwarded.then_some(received_on),
        responded_on: None,
        late: false,
        extension: None,
        resolution: None,
        events: vec![
            Event {
                on: received_on,
                what: EventKind::Received,
                by: None,
            },
            Event {
                on: received_on,
                what: EventKind::Notice,
                by: None,
            },
        ],
        proposals: Vec::new(),
        reminded: Vec::new(),
    };
    if forwarded {
        after_forward(spread, &mut ticket);
    }
    ticket
}

/// What happens after the forward: more time, a proposal (on time or late), a
/// resolution; or nothing yet.
fn after_forward(spread: &mut Spread, ticket: &mut Ticket) {
    let received_on = ticket.received_on;
    ticket.event(received_on, EventKind::Forwarded, None);
    if spread.chance(15) {
        ticket.extension = Some(Extension {
            requested_by: Party::Mco,
            requested_on: received_on + Days::new(20),
            status: if spread.chance(70) {
                ExtensionStatus::Granted
            } else {
                ExtensionStatus::Denied
            },
            by: Some("Dana Staff".to_owned()),
            reason: None,
            message: Some(format!("{:064x}", spread.below(u64::MAX))),
        });
        ticket.event(
            received_on + Days::new(20),
            EventKind::MoreTimeGranted,
            Some("Dana Staff"),
        );
    }
    let responded_on = received_on + Days::new(5 + spread.below(50));
    if spread.chance(70) && responded_on <= as_of() {
        ticket.status = Status::Responded;
        ticket.responded_on = Some(responded_on);
        ticket.late = ticket.response_due.is_some_and(|due| responded_on > due);
        ticket.proposals.push(Correspondence {
            at: at(responded_on),
            message: format!("{:064x}", spread.below(u64::MAX)),
        });
        ticket.event(responded_on, EventKind::Proposal, None);
        if spread.chance(50) {
            let on = responded_on + Days::new(7);
            ticket.status = Status::Resolved;
            ticket.resolution = Some(Resolution {
                outcome: ResolutionOutcome::Resolved,
                on,
                by: "Dana Staff".to_owned(),
                note: None,
            });
            ticket.event(on, EventKind::Resolved, Some("Dana Staff"));
        }
    }
}

fn registration(spread: &mut Spread, n: u64) -> Registration {
    let received_on = as_of() - Days::new(spread.below(14 * 30));
    let npi = format!("{:010}", 1_000_000_000 + n);
    Registration {
        v: RECORD_VERSION,
        id: format!("REG-2026-{:06}", n + 1)
            .parse::<RegistrationId>()
            .expect("an id"),
        status: RegistrationStatus::ALL[spread.below(4) as usize],
        email: format!("billing{n}@clinic.example"),
        npis: vec![npi.clone()],
        earliest_completion: received_on + Days::new(2),
        missing: Vec::new(),
        received_on,
        received_at: at(received_on),
        registrant_name: "Pat Example".to_owned(),
        organization: "Prairie Example Clinic".to_owned(),
        role: "Billing agent".to_owned(),
        username: String::new(),
        providers: vec![portal::store::Provider {
            name: "Prairie Example Clinic".to_owned(),
            npi,
            medicaid_id: "000123456".to_owned(),
        }],
        message: format!("{:064x}", n),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
    }
}

/// Fills a new store at `path` with the tickets and registrations.
fn fill(path: &std::path::Path, config: &Config) -> Store {
    let store = Store::open_or_create(path).expect("a new store");
    let mut spread = Spread(0x5EED_CAFE_F00D_BEEF);
    for start in (0..TICKETS).step_by(BATCH as usize) {
        let mut writes = Writes::default();
        for n in start..(start + BATCH).min(TICKETS) {
            let ticket = ticket(&mut spread, config, n);
            writes
                .put(Tree::Tickets, ticket.id.to_string(), &ticket)
                .expect("a ticket");
        }
        store.apply(writes).expect("a batch");
    }
    let mut writes = Writes::default();
    for n in 0..REGISTRATIONS {
        let registration = registration(&mut spread, n);
        writes
            .put(
                Tree::Registrations,
                registration.id.to_string(),
                &registration,
            )
            .expect("a registration");
    }
    store.apply(writes).expect("the registrations");
    store.flush().expect("flushed");
    store
}

fn publish_100k(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut config = Config::embedded();
    config.store.statistics_file = dir.path().join("public/statistics.json");
    let built = Instant::now();
    let store = fill(&dir.path().join("store"), &config);
    eprintln!(
        "built a store of {TICKETS} tickets and {REGISTRATIONS} registrations in {:.1?}",
        built.elapsed()
    );
    let now = at(as_of());
    portal::statistics::publish(&config, &store, now).expect("published");
    let statistics = portal::statistics::Statistics::read(&config.store.statistics_file)
        .expect("readable")
        .expect("written");
    let complaints: u64 = statistics.months.iter().map(|row| row.complaints).sum();
    assert!(
        complaints > TICKETS * 3 / 4,
        "{complaints} tickets in the window"
    );
    eprintln!("{complaints} of the {TICKETS} tickets fall within the file's 12 months");

    let mut group = c.benchmark_group("statistics");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function(
        "publish, 100,000 tickets (scan + count + atomic write)",
        |b| b.iter(|| portal::statistics::publish(black_box(&config), &store, now)),
    );
    group.finish();
}

criterion_group!(benches, publish_100k);
criterion_main!(benches);
