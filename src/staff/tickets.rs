//! Staff decisions on a forwarded ticket (89 Ill. Adm. Code 140.75 (d)–(e)): grant or
//! decline the one extension that was asked for, and resolve the ticket. Each is
//! recorded with who decided (on the ticket's timeline and in the audit trail) and
//! told to both parties — the provider who sent the complaint and the MCO's dispute
//! mailbox — by notices sent at once. Each decision then rewrites the public statistics
//! file (extensions granted, overdue tickets).

use anyhow::{Context as _, Result};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::json;

use super::send::{NoticeSent, record_and_send};
use super::{refused, staff_name};
use crate::config::Mco;
use crate::forms::Status;
use crate::ids::TicketId;
use crate::intake::{Intake, NoticeRequest, illinois_day};
use crate::mail::notice::NoticeKind;
use crate::store::{
    EventKind, ExtensionStatus, Resolution, ResolutionOutcome, Ticket, Tree, Writes,
};

crate::words! {
    /// A staff decision on a ticket's extension request.
    pub enum ExtensionDecision {
        Grant = "grant",
        Deny = "deny",
    }
}

/// A ticket decision made: the ticket as it now stands, and how its two notices fared
/// (the provider's first, then the MCO's).
#[derive(Debug, Clone)]
pub struct TicketDecided {
    pub ticket: Ticket,
    pub notices: Vec<NoticeSent>,
}

/// Grants the extension requested on ticket `id` (`response_due` moves by
/// `[rules] extension_days`) or declines it (`reason` required: it is told to both
/// parties). Refused when the ticket is not forwarded or responded, when no extension
/// was requested, or when it was decided already: one extension per ticket.
pub fn extend(
    intake: &Intake<'_>,
    id: TicketId,
    decision: ExtensionDecision,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TicketDecided> {
    let by = staff_name(by)?;
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    if decision == ExtensionDecision::Deny && reason.is_none() {
        return Err(refused(
            "--reason is required to decline more time (it is recorded and told to the provider and the MCO)",
        ));
    }
    let mut ticket = open_ticket(intake, id, "given more time")?;
    let previous_due = ticket
        .response_due
        .with_context(|| format!("ticket {id} was forwarded without a response due date"))?;
    let extension = match ticket.extension.as_mut() {
        None => {
            return Err(refused(format!(
                "no extension was requested on ticket {id}"
            )));
        }
        Some(extension) if extension.status != ExtensionStatus::Requested => {
            return Err(refused(format!(
                "the extension on ticket {id} was already {}{}; one extension per ticket",
                past_tense(extension.status),
                extension
                    .by
                    .as_deref()
                    .map(|by| format!(" by {by}"))
                    .unwrap_or_default()
            )));
        }
        Some(extension) => extension,
    };
    let (status, event, kind) = match decision {
        ExtensionDecision::Grant => (
            ExtensionStatus::Granted,
            EventKind::MoreTimeGranted,
            NoticeKind::MoreTimeGranted,
        ),
        ExtensionDecision::Deny => (
            ExtensionStatus::Denied,
            EventKind::MoreTimeDeclined,
            NoticeKind::MoreTimeDeclined,
        ),
    };
    extension.status = status;
    extension.by = Some(by.to_owned());
    extension.reason = reason.map(str::to_owned);
    if decision == ExtensionDecision::Grant {
        ticket.response_due =
            previous_due.checked_add_days(Days::new(u64::from(intake.config.rules.extension_days)));
        // A proposal that came after the first due date but within the granted one
        // was in time after all.
        ticket.judge_late();
    }
    add_event(&mut ticket, illinois_day(now), event, by);
    let due = ticket.response_due.unwrap_or(previous_due);
    let subject = match decision {
        ExtensionDecision::Grant => format!("[{id}] More time granted: response due {due}"),
        ExtensionDecision::Deny => format!("[{id}] Request for more time declined"),
    };
    let mut writes = Writes::default();
    let action = format!("extension_{}", past_tense(status));
    writes.audit(
        intake.store,
        now,
        &action,
        &id.to_string(),
        Some(by),
        reason,
    )?;
    let extra = json!({ "previous_due": previous_due });
    let notices = tell_both(intake, &ticket, writes, kind, subject, extra, now)?;
    // A granted extension and a new due date change the public figures.
    crate::statistics::publish_or_log(intake.config, intake.store, now);
    Ok(TicketDecided { ticket, notices })
}

/// Ends ticket `id` with HFS's resolution: status `resolved`, the outcome, the day
/// (Illinois), who decided and an optional note (staff text, told to both parties).
/// Refused unless the ticket is forwarded or responded: a closed or resolved ticket is
/// never reopened.
pub fn resolve(
    intake: &Intake<'_>,
    id: TicketId,
    outcome: ResolutionOutcome,
    by: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TicketDecided> {
    let by = staff_name(by)?;
    let note = note.map(str::trim).filter(|note| !note.is_empty());
    let mut ticket = open_ticket(intake, id, "resolved")?;
    let today = illinois_day(now);
    ticket.status = Status::Resolved;
    ticket.resolution = Some(Resolution {
        outcome,
        on: today,
        by: by.to_owned(),
        note: note.map(str::to_owned),
    });
    add_event(&mut ticket, today, EventKind::Resolved, by);
    let subject = match outcome {
        ResolutionOutcome::Resolved => format!("[{id}] Complaint resolved"),
        ResolutionOutcome::NotResolved => format!("[{id}] Complaint closed by HFS: not resolved"),
    };
    let mut writes = Writes::default();
    let action = format!("ticket_{outcome}");
    writes.audit(intake.store, now, &action, &id.to_string(), Some(by), note)?;
    let kind = NoticeKind::TicketResolved;
    let notices = tell_both(intake, &ticket, writes, kind, subject, json!({}), now)?;
    // A resolved ticket is no longer overdue.
    crate::statistics::publish_or_log(intake.config, intake.store, now);
    Ok(TicketDecided { ticket, notices })
}

/// The ticket, when it is still in the MCO's hands (forwarded or responded); refused
/// otherwise, `what` saying what it cannot be.
fn open_ticket(intake: &Intake<'_>, id: TicketId, what: &str) -> Result<Ticket> {
    let Some(ticket) = intake.store.record::<Ticket>(id)? else {
        return Err(refused(format!("there is no ticket {id}")));
    };
    match (ticket.status, &ticket.resolution) {
        (status, _) if status.is_open() => Ok(ticket),
        (Status::Resolved, Some(resolution)) => Err(refused(format!(
            "ticket {id} was already resolved ({}) on {} by {}; it cannot be {what}, and a resolved ticket is never reopened",
            resolution.outcome, resolution.on, resolution.by
        ))),
        (status, _) => Err(refused(format!(
            "ticket {id} is {status}; only a forwarded or responded ticket can be {what}, and a {status} ticket is never reopened"
        ))),
    }
}

/// Adds a staff decision to the timeline; a ticket filed before timelines were kept
/// first gets the events its record implies, so none is lost.
fn add_event(ticket: &mut Ticket, on: NaiveDate, what: EventKind, by: &str) {
    if ticket.events.is_empty() {
        ticket.events = ticket.timeline();
    }
    ticket.event(on, what, Some(by));
}

fn past_tense(status: ExtensionStatus) -> &'static str {
    match status {
        ExtensionStatus::Requested => "requested",
        ExtensionStatus::Granted => "granted",
        ExtensionStatus::Denied => "declined",
    }
}

/// Records the ticket with `writes` and tells the provider and the MCO, each by a
/// notice of its own, sent at once.
fn tell_both(
    intake: &Intake<'_>,
    ticket: &Ticket,
    mut writes: Writes,
    kind: NoticeKind,
    subject: String,
    extra: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Vec<NoticeSent>> {
    let mco = ticket_mco(intake, ticket)?;
    writes.put(Tree::Tickets, ticket.id.to_string(), ticket)?;
    let requests = [
        ("provider", ticket.sender.as_str()),
        ("mco", mco.dispute_address.as_str()),
    ]
    .into_iter()
    .map(|(recipient, to)| NoticeRequest {
        kind,
        to,
        subject: subject.clone(),
        about: Some(ticket.id.into()),
        is_reply: false,
        in_reply_to: None,
        references: &[],
        context: json!({
            "recipient": recipient,
            "ticket": ticket_context(ticket, mco, &extra),
            "extension": ticket.extension,
            "resolution": ticket.resolution,
        }),
        attachment: None,
    })
    .collect();
    record_and_send(intake, writes, requests, now)
}

/// The configured MCO a forwarded ticket went to.
fn ticket_mco<'c>(intake: &Intake<'c>, ticket: &Ticket) -> Result<&'c Mco> {
    let code = ticket
        .mco
        .as_deref()
        .with_context(|| format!("ticket {} was forwarded to no MCO", ticket.id))?;
    intake.config.mco(code).with_context(|| {
        format!(
            "ticket {} went to the MCO {code}, which is not in the configuration ([[mco]])",
            ticket.id
        )
    })
}

/// What the notices say of the ticket: ids and dates only (R10).
fn ticket_context(ticket: &Ticket, mco: &Mco, extra: &serde_json::Value) -> serde_json::Value {
    let mut context = json!({
        "id": ticket.id,
        "mco": mco.code,
        "mco_name": mco.name,
        "received_on": ticket.received_on,
        "presented_on": ticket.presented_on,
        "response_due": ticket.response_due,
        "responded_on": ticket.responded_on,
        "forwarded_rows": ticket.forwarded_rows(),
    });
    if let (Some(context), Some(extra)) = (context.as_object_mut(), extra.as_object()) {
        context.extend(extra.clone());
    }
    context
}
