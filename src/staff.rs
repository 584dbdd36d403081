//! What staff do from the command line: decide registrations, and the views of
//! tickets, registrations, inquiries, messages and the outbox. Every decision is in the
//! audit trail with who made it, and its notice is sent at once (a notice that fails
//! waits in the outbox for the next intake pass).

use std::io::Write;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use crate::cli::{
    Decide, InquiriesAction, MessagesAction, OutboxAction, RegistrationsAction, TicketsAction,
};
use crate::commands::Outcome;
use crate::config::{Config, MailboxKind};
use crate::forms::{LineOutcome, Problem, Reason, Status, neutralise_formula};
use crate::intake::notices::NoticeRequest;
use crate::intake::{Backoff, Intake, PassReport, deliver_pending, queue_notice};
use crate::mail::maildir::Maildir;
use crate::mail::notice::NoticeKind;
use crate::mail::{Folder, MailSource as _};
use crate::services::Services;
use crate::store::{
    Delivery, Inquiry, MessageRecord, Notice, Outcome as MessageOutcome, Registration,
    RegistrationStatus, Store, Ticket, Tree, Writes,
};

/// A staff decision on a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
    Revoke,
}

/// Approves, denies or revokes a registration, records who and why, and sends the
/// registrant its notice.
pub fn decide(
    intake: &Intake<'_>,
    id: &str,
    decision: Decision,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Registration> {
    let store = intake.store;
    let Some(mut registration) = store.get::<Registration>(Tree::Registrations, id)? else {
        bail!("there is no registration {id}");
    };
    let (allowed, status, kind, action) = match decision {
        Decision::Approve => (
            registration.status == RegistrationStatus::Pending,
            RegistrationStatus::Active,
            NoticeKind::RegistrationApproved,
            "registration_approved",
        ),
        Decision::Deny => (
            registration.status == RegistrationStatus::Pending,
            RegistrationStatus::Denied,
            NoticeKind::RegistrationDenied,
            "registration_denied",
        ),
        Decision::Revoke => (
            registration.status == RegistrationStatus::Active,
            RegistrationStatus::Revoked,
            NoticeKind::RegistrationRevoked,
            "registration_revoked",
        ),
    };
    if !allowed {
        let status = serde_json::to_value(registration.status)?;
        let done = match decision {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
            Decision::Revoke => "revoked",
        };
        bail!(
            "registration {id} is {}; it cannot be {done}",
            status.as_str().unwrap_or("?")
        );
    }
    registration.status = status;
    registration.decided_by = Some(by.to_owned());
    registration.decided_at = Some(now);
    registration.decision_reason = reason.map(str::to_owned);
    let mut writes = Writes::default();
    writes.put(Tree::Registrations, id, &registration)?;
    writes.audit(store, now, action, id, Some(by), reason)?;
    let subject = match decision {
        Decision::Approve => format!("[{id}] Registration approved"),
        Decision::Deny => format!("[{id}] Registration denied"),
        Decision::Revoke => format!("[{id}] Registration no longer active"),
    };
    let request = NoticeRequest {
        kind,
        to: &registration.email,
        subject,
        about: Some(id.to_owned()),
        is_reply: false,
        in_reply_to: None,
        references: &[],
        context: json!({ "registration": {
            "id": id,
            "email": registration.email,
            "npis": registration.npis,
            "missing": [],
            "reason": reason,
        }}),
        attachment: None,
        limited: false,
    };
    queue_notice(intake, &mut writes, &mut Default::default(), request, now)?;
    store.apply(writes)?;
    store.flush().context("cannot record the decision")?;
    deliver_pending(intake, &mut PassReport::default(), now, Backoff::Respect)?;
    Ok(registration)
}

/// `portal tickets …`
pub fn tickets(config: &Config, action: TicketsAction, out: &mut dyn Write) -> Result<Outcome> {
    let store = Store::open(&config.store.path)?;
    match action {
        TicketsAction::List { json } => {
            let tickets = store.all::<Ticket>(Tree::Tickets)?;
            if json {
                let views: Vec<TicketView<'_>> = tickets.iter().map(TicketView::from).collect();
                print_json(out, &views)?;
            } else if tickets.is_empty() {
                writeln!(out, "No tickets.")?;
            } else {
                let rows = tickets
                    .iter()
                    .map(|ticket| {
                        let forwarded = ticket
                            .lines
                            .iter()
                            .filter(|line| line.status == Status::Forwarded)
                            .count();
                        vec![
                            ticket.id.clone(),
                            status_word(ticket.status).to_owned(),
                            ticket.mco.clone().unwrap_or_else(|| "-".to_owned()),
                            ticket.received_on.to_string(),
                            ticket.sender.clone(),
                            format!("{forwarded}/{}", ticket.lines.len()),
                            ticket
                                .reason
                                .map_or_else(|| "-".to_owned(), |reason| reason.to_string()),
                            date_or_dash(ticket.response_due),
                        ]
                    })
                    .collect();
                table(
                    out,
                    &[
                        "ID",
                        "STATUS",
                        "MCO",
                        "RECEIVED",
                        "SENDER",
                        "FORWARDED",
                        "REASON",
                        "RESPONSE DUE",
                    ],
                    rows,
                )?;
                writeln!(out, "{} ticket{}.", tickets.len(), plural(tickets.len()))?;
            }
        }
        TicketsAction::Show { id, json } => {
            let Some(ticket) = store.get::<Ticket>(Tree::Tickets, id.trim())? else {
                bail!("there is no ticket {}", id.trim());
            };
            if json {
                print_json(out, &TicketView::from(&ticket))?;
            } else {
                show_ticket(config, &ticket, out)?;
            }
        }
        TicketsAction::Export { csv: _, json } => {
            let tickets = store.all::<Ticket>(Tree::Tickets)?;
            drop(store);
            if json {
                let views: Vec<TicketView<'_>> = tickets.iter().map(TicketView::from).collect();
                print_json(out, &views)?;
            } else {
                write_tickets_csv(&tickets, out)?;
            }
        }
    }
    Ok(Outcome::Done)
}

/// A ticket exactly as PRODUCT.md shows it to staff and scripts.
#[derive(Debug, Serialize)]
pub struct TicketView<'a> {
    pub id: &'a str,
    pub status: Status,
    pub mco: Option<&'a str>,
    pub received_on: NaiveDate,
    pub sender: &'a str,
    pub reason: Option<Reason>,
    pub presented_by: Option<NaiveDate>,
    pub response_due: Option<NaiveDate>,
    pub lines: &'a [LineOutcome],
    pub problems: &'a [Problem],
}

impl<'a> From<&'a Ticket> for TicketView<'a> {
    fn from(ticket: &'a Ticket) -> Self {
        TicketView {
            id: &ticket.id,
            status: ticket.status,
            mco: ticket.mco.as_deref(),
            received_on: ticket.received_on,
            sender: &ticket.sender,
            reason: ticket.reason,
            presented_by: ticket.presented_by,
            response_due: ticket.response_due,
            lines: &ticket.lines,
            problems: &ticket.problems,
        }
    }
}

fn show_ticket(config: &Config, ticket: &Ticket, out: &mut dyn Write) -> Result<()> {
    let mco = match ticket.mco.as_deref() {
        Some(code) => match config.mcos.iter().find(|mco| mco.code == code) {
            Some(mco) => format!("{code} ({})", mco.name),
            None => code.to_owned(),
        },
        None => "-".to_owned(),
    };
    writeln!(out, "Ticket {}: {}", ticket.id, status_word(ticket.status))?;
    let fields = [
        ("MCO", mco),
        (
            "Received",
            format!(
                "{} ({})",
                ticket.received_on,
                ticket.received_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        ("Sender", plain(&ticket.sender)),
        (
            "Reason",
            ticket
                .reason
                .map_or_else(|| "-".to_owned(), |reason| reason.to_string()),
        ),
        ("Presented by", date_or_dash(ticket.presented_by)),
        ("Response due", date_or_dash(ticket.response_due)),
        ("Message", short_hash(&ticket.message).to_owned()),
        (
            "Attachment",
            ticket
                .attachment
                .as_deref()
                .map_or_else(|| "-".to_owned(), plain),
        ),
        ("Replies kept", ticket.correspondence.len().to_string()),
    ];
    for (label, value) in fields {
        writeln!(out, "  {:<14}{value}", format!("{label}:"))?;
    }
    writeln!(out, "Lines ({}):", ticket.lines.len())?;
    if ticket.lines.is_empty() {
        writeln!(out, "  none")?;
    } else {
        let rows = ticket
            .lines
            .iter()
            .map(|line| {
                vec![
                    line.row.to_string(),
                    status_word(line.status).to_owned(),
                    line.reason
                        .map_or_else(|| "-".to_owned(), |reason| reason.to_string()),
                ]
            })
            .collect();
        let mut buffer = Vec::new();
        table(&mut buffer, &["ROW", "STATUS", "REASON"], rows)?;
        for line in String::from_utf8_lossy(&buffer).lines() {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(out, "Problems ({}):", ticket.problems.len())?;
    if ticket.problems.is_empty() {
        writeln!(out, "  none")?;
    }
    for problem in &ticket.problems {
        writeln!(out, "  {}", plain(&problem.describe(true)))?;
    }
    if !ticket.notice_failures.is_empty() {
        writeln!(
            out,
            "Notices refused for good ({}):",
            ticket.notice_failures.len()
        )?;
        for failure in &ticket.notice_failures {
            writeln!(
                out,
                "  notice {} ({}) at {}: {}",
                failure.notice,
                failure.kind,
                failure.at.format("%Y-%m-%d %H:%M UTC"),
                plain(&failure.error)
            )?;
        }
    }
    Ok(())
}

/// The columns of `portal tickets export --csv`.
pub const CSV_HEADER: [&str; 12] = [
    "ticket_id",
    "status",
    "reason",
    "mco",
    "received_on",
    "sender",
    "presented_by",
    "response_due",
    "row",
    "line_status",
    "line_reason",
    "problems",
];

/// Every ticket as CSV, one row per claim line (plus one row for a ticket's problems
/// that belong to no line, or for a ticket without lines). Every cell a spreadsheet
/// would take for a formula is neutralised.
pub fn write_tickets_csv(tickets: &[Ticket], out: &mut dyn Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for ticket in tickets {
        let ticket_cells = [
            ticket.id.clone(),
            status_word(ticket.status).to_owned(),
            ticket
                .reason
                .map(|reason| reason.to_string())
                .unwrap_or_default(),
            ticket.mco.clone().unwrap_or_default(),
            ticket.received_on.to_string(),
            ticket.sender.clone(),
            ticket
                .presented_by
                .map(|day| day.to_string())
                .unwrap_or_default(),
            ticket
                .response_due
                .map(|day| day.to_string())
                .unwrap_or_default(),
        ];
        let mut rows: Vec<[String; 4]> = ticket
            .lines
            .iter()
            .map(|line| {
                let problems = ticket
                    .problems
                    .iter()
                    .filter(|problem| problem.row == Some(line.row));
                [
                    line.row.to_string(),
                    status_word(line.status).to_owned(),
                    line.reason
                        .map(|reason| reason.to_string())
                        .unwrap_or_default(),
                    join_problems(problems),
                ]
            })
            .collect();
        let unplaced: Vec<&Problem> = ticket
            .problems
            .iter()
            .filter(|problem| {
                !problem
                    .row
                    .is_some_and(|row| ticket.lines.iter().any(|line| line.row == row))
            })
            .collect();
        if rows.is_empty() || !unplaced.is_empty() {
            rows.push([
                String::new(),
                String::new(),
                String::new(),
                join_problems(unplaced.into_iter()),
            ]);
        }
        for line_cells in rows {
            let record = ticket_cells
                .iter()
                .chain(line_cells.iter())
                .map(|cell| neutralise_formula(cell).into_owned());
            writer.write_record(record.collect::<Vec<_>>())?;
        }
    }
    writer.flush().context("cannot write the CSV")?;
    Ok(())
}

fn join_problems<'a>(problems: impl Iterator<Item = &'a Problem>) -> String {
    problems
        .map(|problem| match &problem.column {
            Some(column) => format!("{column}: {} [{}]", problem.message, problem.reason),
            None => format!("{} [{}]", problem.message, problem.reason),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `portal registrations …`
pub fn registrations(
    config: &Config,
    action: RegistrationsAction,
    out: &mut dyn Write,
) -> Result<Outcome> {
    match action {
        RegistrationsAction::List { json } => {
            let store = Store::open(&config.store.path)?;
            let registrations = store.all::<Registration>(Tree::Registrations)?;
            if json {
                let views: Vec<RegistrationView<'_>> =
                    registrations.iter().map(RegistrationView::from).collect();
                print_json(out, &views)?;
            } else if registrations.is_empty() {
                writeln!(out, "No registrations.")?;
            } else {
                let rows = registrations
                    .iter()
                    .map(|registration| {
                        vec![
                            registration.id.clone(),
                            registration_word(registration.status).to_owned(),
                            registration.email.clone(),
                            registration.npis.join(", "),
                            registration.earliest_completion.to_string(),
                            if registration.missing.is_empty() {
                                "-".to_owned()
                            } else {
                                registration.missing.join(", ")
                            },
                        ]
                    })
                    .collect();
                table(
                    out,
                    &[
                        "ID",
                        "STATUS",
                        "EMAIL",
                        "NPIS",
                        "EARLIEST COMPLETION",
                        "MISSING",
                    ],
                    rows,
                )?;
                writeln!(
                    out,
                    "{} registration{}.",
                    registrations.len(),
                    plural(registrations.len())
                )?;
            }
        }
        RegistrationsAction::Show { id, json } => {
            let store = Store::open(&config.store.path)?;
            let Some(registration) = store.get::<Registration>(Tree::Registrations, id.trim())?
            else {
                bail!("there is no registration {}", id.trim());
            };
            if json {
                print_json(out, &RegistrationView::from(&registration))?;
            } else {
                show_registration(&registration, out)?;
            }
        }
        RegistrationsAction::Approve(args) => decide_command(config, Decision::Approve, args, out)?,
        RegistrationsAction::Deny(args) => decide_command(config, Decision::Deny, args, out)?,
        RegistrationsAction::Revoke(args) => decide_command(config, Decision::Revoke, args, out)?,
    }
    Ok(Outcome::Done)
}

/// A registration exactly as PRODUCT.md shows it to staff and scripts.
#[derive(Debug, Serialize)]
pub struct RegistrationView<'a> {
    pub id: &'a str,
    pub status: RegistrationStatus,
    pub email: &'a str,
    pub npis: &'a [String],
    pub earliest_completion: NaiveDate,
    pub missing: &'a [String],
}

impl<'a> From<&'a Registration> for RegistrationView<'a> {
    fn from(registration: &'a Registration) -> Self {
        RegistrationView {
            id: &registration.id,
            status: registration.status,
            email: &registration.email,
            npis: &registration.npis,
            earliest_completion: registration.earliest_completion,
            missing: &registration.missing,
        }
    }
}

fn show_registration(registration: &Registration, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "Registration {}: {}",
        registration.id,
        registration_word(registration.status)
    )?;
    let decided = match (&registration.decided_by, registration.decided_at) {
        (Some(by), Some(at)) => format!("by {} on {}", plain(by), at.format("%Y-%m-%d %H:%M UTC")),
        (Some(by), None) => format!("by {}", plain(by)),
        _ => "-".to_owned(),
    };
    let fields = [
        ("Email", plain(&registration.email)),
        ("Registrant", plain(&registration.registrant_name)),
        ("Role", plain(&registration.role)),
        ("Organization", plain(&registration.organization)),
        ("Username", plain(&registration.username)),
        (
            "Received",
            format!(
                "{} ({})",
                registration.received_on,
                registration.received_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        (
            "Earliest completion",
            registration.earliest_completion.to_string(),
        ),
        (
            "NPIs",
            if registration.npis.is_empty() {
                "-".to_owned()
            } else {
                registration.npis.join(", ")
            },
        ),
        (
            "Missing",
            if registration.missing.is_empty() {
                "-".to_owned()
            } else {
                plain(&registration.missing.join(", "))
            },
        ),
        ("Decided", decided),
        (
            "Decision reason",
            registration
                .decision_reason
                .as_deref()
                .map_or_else(|| "-".to_owned(), plain),
        ),
        ("Message", short_hash(&registration.message).to_owned()),
    ];
    for (label, value) in fields {
        writeln!(out, "  {:<21}{value}", format!("{label}:"))?;
    }
    writeln!(out, "Providers ({}):", registration.providers.len())?;
    if registration.providers.is_empty() {
        writeln!(out, "  none")?;
    } else {
        let rows = registration
            .providers
            .iter()
            .map(|provider| {
                vec![
                    provider.npi.clone(),
                    provider.medicaid_id.clone(),
                    provider.name.clone(),
                ]
            })
            .collect();
        let mut buffer = Vec::new();
        table(&mut buffer, &["NPI", "MEDICAID ID", "NAME"], rows)?;
        for line in String::from_utf8_lossy(&buffer).lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// `portal registrations approve|deny|revoke ID --by NAME [--reason TEXT]`.
fn decide_command(
    config: &Config,
    decision: Decision,
    args: Decide,
    out: &mut dyn Write,
) -> Result<()> {
    let id = args.id.trim();
    let by = args.by.trim();
    if by.is_empty() {
        bail!("--by must name the staff member deciding");
    }
    let reason = args
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|reason| !reason.is_empty());
    let verb = match decision {
        Decision::Approve => "approve",
        Decision::Deny => "deny",
        Decision::Revoke => "revoke",
    };
    if decision != Decision::Approve && reason.is_none() {
        bail!(
            "--reason is required to {verb} a registration (it is recorded and told to the registrant)"
        );
    }
    let services = Services::open(config)?;
    let intake = services.intake(config, None);
    let registration = decide(&intake, id, decision, by, reason, Utc::now())?;
    if args.json {
        print_json(out, &RegistrationView::from(&registration))?;
        return Ok(());
    }
    let done = match decision {
        Decision::Approve => "Approved",
        Decision::Deny => "Denied",
        Decision::Revoke => "Revoked",
    };
    writeln!(
        out,
        "{done} registration {id} ({}) as {}; recorded in the audit trail{}.",
        plain(&registration.email),
        plain(by),
        reason
            .map(|reason| format!(" with the reason \"{}\"", plain(reason)))
            .unwrap_or_default()
    )?;
    let notice = services
        .store
        .all::<Notice>(Tree::Outbox)?
        .into_iter()
        .rev()
        .find(|notice| {
            notice.about.as_deref() == Some(id) && notice.kind == decision_kind(decision).name()
        });
    match notice.map(|notice| notice.delivery) {
        Some(Delivery::Sent { .. }) => writeln!(
            out,
            "The notice was sent to {}.",
            plain(&registration.email)
        )?,
        Some(Delivery::Pending { last_error, .. }) => writeln!(
            out,
            "The notice to {} could not be sent yet ({}); it waits in the outbox for the next intake pass or `portal outbox retry`.",
            plain(&registration.email),
            plain(last_error.as_deref().unwrap_or("not attempted"))
        )?,
        Some(Delivery::Failed { error, .. }) => writeln!(
            out,
            "The notice to {} was refused ({}); see `portal outbox list` and `portal outbox retry --failed`.",
            plain(&registration.email),
            plain(&error)
        )?,
        None => writeln!(
            out,
            "No notice was queued (the daily limit for this address was reached)."
        )?,
    }
    Ok(())
}

fn decision_kind(decision: Decision) -> NoticeKind {
    match decision {
        Decision::Approve => NoticeKind::RegistrationApproved,
        Decision::Deny => NoticeKind::RegistrationDenied,
        Decision::Revoke => NoticeKind::RegistrationRevoked,
    }
}

/// `portal inquiries …`
pub fn inquiries(config: &Config, action: InquiriesAction, out: &mut dyn Write) -> Result<Outcome> {
    let InquiriesAction::List { json } = action;
    let store = Store::open(&config.store.path)?;
    let inquiries = store.all::<Inquiry>(Tree::Inquiries)?;
    if json {
        let views: Vec<InquiryView<'_>> = inquiries.iter().map(InquiryView::from).collect();
        print_json(out, &views)?;
    } else if inquiries.is_empty() {
        writeln!(out, "No inquiries.")?;
    } else {
        let rows = inquiries
            .iter()
            .map(|inquiry| {
                vec![
                    inquiry.id.clone(),
                    inquiry.received_on.to_string(),
                    inquiry.from.clone(),
                    if inquiry.answered {
                        "answered"
                    } else {
                        "not answered"
                    }
                    .to_owned(),
                ]
            })
            .collect();
        table(out, &["ID", "RECEIVED", "FROM", "ANSWERED"], rows)?;
        writeln!(
            out,
            "{} inquir{}.",
            inquiries.len(),
            if inquiries.len() == 1 { "y" } else { "ies" }
        )?;
    }
    Ok(Outcome::Done)
}

/// An inquiry exactly as PRODUCT.md shows it to staff and scripts.
#[derive(Debug, Serialize)]
pub struct InquiryView<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub received_on: NaiveDate,
    pub answered: bool,
}

impl<'a> From<&'a Inquiry> for InquiryView<'a> {
    fn from(inquiry: &'a Inquiry) -> Self {
        InquiryView {
            id: &inquiry.id,
            from: &inquiry.from,
            received_on: inquiry.received_on,
            answered: inquiry.answered,
        }
    }
}

/// A processed message as `messages list --json` prints it.
#[derive(Debug, Serialize)]
pub struct MessageView<'a> {
    pub hash: &'a str,
    pub message_id: Option<&'a str>,
    pub mailbox: &'a str,
    pub from: &'a str,
    pub received_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    /// `{"kind": "tickets", "ids": [...]}`, `{"kind": "quarantined", "why": "..."}`, …
    pub outcome: &'a MessageOutcome,
    pub notices: &'a [u64],
    pub released: bool,
}

impl<'a> From<&'a MessageRecord> for MessageView<'a> {
    fn from(record: &'a MessageRecord) -> Self {
        MessageView {
            hash: &record.hash,
            message_id: record.message_id.as_deref(),
            mailbox: &record.mailbox,
            from: &record.from,
            received_at: record.received_at,
            processed_at: record.processed_at,
            outcome: &record.outcome,
            notices: &record.notices,
            released: record.released,
        }
    }
}

/// `portal messages …`
pub fn messages(config: &Config, action: MessagesAction, out: &mut dyn Write) -> Result<Outcome> {
    let store = Store::open(&config.store.path)?;
    match action {
        MessagesAction::List { json } => {
            let mut records = store.all::<MessageRecord>(Tree::Messages)?;
            records.sort_by(|a, b| {
                (a.processed_at, a.received_at, &a.hash).cmp(&(
                    b.processed_at,
                    b.received_at,
                    &b.hash,
                ))
            });
            if json {
                let views: Vec<MessageView<'_>> = records.iter().map(MessageView::from).collect();
                print_json(out, &views)?;
            } else if records.is_empty() {
                writeln!(out, "No processed messages.")?;
            } else {
                let rows = records
                    .iter()
                    .map(|record| {
                        vec![
                            short_hash(&record.hash).to_owned(),
                            record.mailbox.clone(),
                            record.received_at.format("%Y-%m-%d %H:%M").to_string(),
                            if record.from.is_empty() {
                                "-".to_owned()
                            } else {
                                record.from.clone()
                            },
                            outcome_text(record),
                            if record.notices.is_empty() {
                                "-".to_owned()
                            } else {
                                record
                                    .notices
                                    .iter()
                                    .map(u64::to_string)
                                    .collect::<Vec<_>>()
                                    .join(",")
                            },
                        ]
                    })
                    .collect();
                table(
                    out,
                    &[
                        "HASH",
                        "MAILBOX",
                        "RECEIVED (UTC)",
                        "FROM",
                        "OUTCOME",
                        "NOTICES",
                    ],
                    rows,
                )?;
                writeln!(out, "{} message{}.", records.len(), plural(records.len()))?;
            }
        }
        MessagesAction::Release { hash, json } => {
            let (record, moved_from) = release(config, &store, &hash)?;
            if json {
                print_json(out, &MessageView::from(&record))?;
            } else {
                let what = match &record.outcome {
                    MessageOutcome::Quarantined { why } => format!("quarantined: {why}"),
                    other => other.label(),
                };
                let from = if record.from.is_empty() {
                    "no sender"
                } else {
                    record.from.as_str()
                };
                match moved_from {
                    Some(folder) => writeln!(
                        out,
                        "Released message {} ({what}; from {}) from {} back into the {} inbox; the next intake pass handles it afresh.",
                        short_hash(&record.hash),
                        plain(from),
                        folder.name(),
                        record.mailbox
                    )?,
                    None => writeln!(
                        out,
                        "Message {} ({what}; from {}) is already in the {} inbox, marked released; the next intake pass handles it afresh.",
                        short_hash(&record.hash),
                        plain(from),
                        record.mailbox
                    )?,
                }
                if !record.outcome.is_quarantined() {
                    writeln!(
                        out,
                        "Note: it was handled before; the next pass handles it as a new message (a complaint files a new ticket, whose claims already forwarded close as duplicate)."
                    )?;
                }
            }
        }
    }
    Ok(Outcome::Done)
}

/// Puts a processed message back into its inbox: first the store is told (and
/// flushed) that the message is released, then the file moves, so a crash in between
/// leaves the message where it was rather than in an inbox the store would skip.
/// Returns the record and the folder the message came from (`None`: it was already in
/// the inbox).
fn release(
    config: &Config,
    store: &Store,
    prefix: &str,
) -> Result<(MessageRecord, Option<Folder>)> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("{prefix:?} is not a message hash (or a prefix of one) from `portal messages list`");
    }
    let matches: Vec<MessageRecord> = store
        .all::<MessageRecord>(Tree::Messages)?
        .into_iter()
        .filter(|record| record.hash.starts_with(&prefix))
        .collect();
    let mut record = match matches.len() {
        0 => bail!("there is no processed message whose hash starts with {prefix}"),
        1 => matches.into_iter().next().context("one match")?,
        n => bail!("{n} messages have hashes starting with {prefix}; give more of the hash"),
    };
    let mailbox = match record.mailbox.as_str() {
        "intake" => &config.mail.intake,
        "inquiries" => &config.mail.inquiries,
        other => bail!(
            "message {} came from an unknown mailbox {other:?}",
            short_hash(&record.hash)
        ),
    };
    let MailboxKind::Maildir { path } = &mailbox.kind else {
        bail!(
            "mail.{}: releasing from an IMAP mailbox is not supported by this build; move the message back with a mail client",
            record.mailbox
        );
    };
    let mut maildir = Maildir::open(path)?;
    let id = record.source_id.clone();
    let first = if record.outcome.is_quarantined() {
        Folder::Quarantine
    } else {
        Folder::Processed
    };
    let second = if first == Folder::Quarantine {
        Folder::Processed
    } else {
        Folder::Quarantine
    };
    let mut from = None;
    for folder in [first, second] {
        if maildir.ids(Some(folder))?.contains(&id) {
            from = Some(folder);
            break;
        }
    }
    if from.is_none() && !maildir.ids(None)?.contains(&id) {
        bail!(
            "message {} ({id}) is in neither Quarantine, Processed nor the inbox of {}",
            short_hash(&record.hash),
            path.display()
        );
    }
    if !record.released {
        record.released = true;
        let mut writes = Writes::default();
        writes.put(Tree::Messages, &record.hash, &record)?;
        writes.audit(
            store,
            Utc::now(),
            "message_released",
            short_hash(&record.hash),
            None,
            None,
        )?;
        store.apply(writes)?;
        store.flush().context("cannot record the release")?;
    }
    if let Some(folder) = from {
        maildir.release(&id, folder)?;
    }
    Ok((record, from))
}

fn outcome_text(record: &MessageRecord) -> String {
    let mut text = match &record.outcome {
        MessageOutcome::Quarantined { why } => format!("quarantined ({why})"),
        other => other.label(),
    };
    if record.released {
        text.push_str(" [released]");
    }
    text
}

/// A notice as `outbox list --json` prints it: never its bytes.
#[derive(Debug, Serialize)]
pub struct NoticeView<'a> {
    pub id: u64,
    pub kind: &'a str,
    pub about: Option<&'a str>,
    pub to: &'a str,
    pub subject: &'a str,
    pub message_id: &'a str,
    pub created_at: DateTime<Utc>,
    /// `{"state": "pending", "attempts", "last_error"}`, `{"state": "sent", "at"}` or
    /// `{"state": "failed", "at", "error"}`.
    pub delivery: &'a Delivery,
}

impl<'a> From<&'a Notice> for NoticeView<'a> {
    fn from(notice: &'a Notice) -> Self {
        NoticeView {
            id: notice.id,
            kind: &notice.kind,
            about: notice.about.as_deref(),
            to: &notice.to,
            subject: &notice.subject,
            message_id: &notice.message_id,
            created_at: notice.created_at,
            delivery: &notice.delivery,
        }
    }
}

/// `portal outbox …`
pub fn outbox(config: &Config, action: OutboxAction, out: &mut dyn Write) -> Result<Outcome> {
    let store = Store::open(&config.store.path)?;
    match action {
        OutboxAction::List { json } => {
            let notices = store.all::<Notice>(Tree::Outbox)?;
            if json {
                let views: Vec<NoticeView<'_>> = notices.iter().map(NoticeView::from).collect();
                print_json(out, &views)?;
            } else if notices.is_empty() {
                writeln!(out, "The outbox is empty.")?;
            } else {
                let rows = notices
                    .iter()
                    .map(|notice| {
                        vec![
                            notice.id.to_string(),
                            notice.kind.clone(),
                            notice.about.clone().unwrap_or_else(|| "-".to_owned()),
                            notice.to.clone(),
                            notice.created_at.format("%Y-%m-%d %H:%M").to_string(),
                            delivery_text(&notice.delivery),
                            notice.subject.clone(),
                        ]
                    })
                    .collect();
                table(
                    out,
                    &[
                        "ID",
                        "KIND",
                        "ABOUT",
                        "TO",
                        "CREATED (UTC)",
                        "DELIVERY",
                        "SUBJECT",
                    ],
                    rows,
                )?;
                let pending = notices
                    .iter()
                    .filter(|notice| matches!(notice.delivery, Delivery::Pending { .. }))
                    .count();
                let failed = notices
                    .iter()
                    .filter(|notice| matches!(notice.delivery, Delivery::Failed { .. }))
                    .count();
                writeln!(
                    out,
                    "{} notice{}: {} sent, {pending} waiting, {failed} failed.",
                    notices.len(),
                    plural(notices.len()),
                    notices.len() - pending - failed
                )?;
            }
        }
        OutboxAction::Retry { failed, json } => {
            let now = Utc::now();
            let mut requeued = 0usize;
            if failed {
                let mut writes = Writes::default();
                for mut notice in store.all::<Notice>(Tree::Outbox)? {
                    if let Delivery::Failed { error, .. } = &notice.delivery {
                        notice.delivery = Delivery::Pending {
                            attempts: 0,
                            last_error: Some(error.clone()),
                            next_attempt: None,
                        };
                        crate::store::put_notice(&mut writes, &notice)?;
                        writes.audit(
                            &store,
                            now,
                            "notice_requeued",
                            &notice.id.to_string(),
                            None,
                            None,
                        )?;
                        requeued += 1;
                    }
                }
                store.apply(writes)?;
                store.flush().context("cannot record the retry")?;
            }
            let services = Services::with_store(config, store)?;
            let intake = services.intake(config, None);
            let mut report = PassReport::default();
            deliver_pending(&intake, &mut report, now, Backoff::Ignore)?;
            let waiting = services.store.pending_count();
            if json {
                print_json(
                    out,
                    &json!({
                        "requeued": requeued,
                        "sent": report.notices_sent,
                        "waiting": waiting,
                        "failed": report.notices_failed,
                    }),
                )?;
            } else {
                if failed {
                    writeln!(
                        out,
                        "Put {requeued} failed notice{} back in the queue.",
                        plural(requeued)
                    )?;
                }
                writeln!(
                    out,
                    "Sent {} notice{}; {waiting} still waiting; {} failed.",
                    report.notices_sent,
                    plural(report.notices_sent),
                    report.notices_failed
                )?;
            }
        }
    }
    Ok(Outcome::Done)
}

fn delivery_text(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Pending { attempts: 0, .. } => "pending".to_owned(),
        Delivery::Pending {
            attempts,
            last_error,
            next_attempt,
        } => format!(
            "pending ({attempts} attempt{}: {}{})",
            plural(*attempts as usize),
            last_error.as_deref().unwrap_or("-"),
            next_attempt
                .map(|at| format!("; next try {}", at.format("%Y-%m-%d %H:%M")))
                .unwrap_or_default()
        ),
        Delivery::Sent { at } => format!("sent {}", at.format("%Y-%m-%d %H:%M")),
        Delivery::Failed { at, error } => {
            format!("failed {}: {error}", at.format("%Y-%m-%d %H:%M"))
        }
    }
}

fn print_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// A plain-text table: a header, then one line per row, columns padded to the widest
/// cell (the last column is not padded). Control characters are shown as `?`.
fn table(out: &mut dyn Write, headers: &[&str], rows: Vec<Vec<String>>) -> Result<()> {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| plain(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if index == last {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// Text for a terminal: control characters (which mail can smuggle in) become `?`.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Forwarded => "forwarded",
        Status::Closed => "closed",
    }
}

fn registration_word(status: RegistrationStatus) -> &'static str {
    match status {
        RegistrationStatus::Pending => "pending",
        RegistrationStatus::Active => "active",
        RegistrationStatus::Denied => "denied",
        RegistrationStatus::Revoked => "revoked",
    }
}

fn date_or_dash(day: Option<NaiveDate>) -> String {
    day.map_or_else(|| "-".to_owned(), |day| day.to_string())
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
