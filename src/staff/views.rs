//! The records exactly as PRODUCT.md shows them to staff and scripts (`--json`).
//! Views borrow from the records; none of them carries raw mail or a notice body
//! (the outbox is listed as [`crate::store::NoticeSummary`], which has none).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::forms::{McoDecision, Problem, Reason, Status};
use crate::ids::{InquiryId, RegistrationId, TicketId};
use crate::store::{
    Event, Extension, ExtensionStatus, Inquiry, Mailbox, MessageRecord, Outcome, Party, ReadMark,
    Registration, RegistrationStatus, Resolution, Ticket,
};

/// A ticket as `tickets list|show --json` print it: every key present, null where it
/// does not apply.
#[derive(Debug, Serialize)]
pub struct TicketView<'a> {
    pub id: TicketId,
    pub status: Status,
    pub mco: Option<&'a str>,
    pub received_on: NaiveDate,
    pub sender: &'a str,
    pub reason: Option<Reason>,
    pub presented_by: Option<NaiveDate>,
    pub response_due: Option<NaiveDate>,
    pub presented_on: Option<NaiveDate>,
    pub responded_on: Option<NaiveDate>,
    /// Null for a ticket that never went to an MCO.
    pub late: Option<bool>,
    pub overdue: bool,
    pub extension: Option<ExtensionView<'a>>,
    pub resolution: Option<&'a Resolution>,
    pub events: Vec<Event>,
    pub lines: Vec<LineView<'a>>,
    pub problems: &'a [Problem],
}

/// One line of a [`TicketView`]: its outcome, NPI, tracking number and the MCO's
/// decision (never the MCO's comment).
#[derive(Debug, Serialize)]
pub struct LineView<'a> {
    pub row: u32,
    pub status: Status,
    pub reason: Option<Reason>,
    pub npi: Option<&'a str>,
    pub tracking_number: Option<&'a str>,
    pub decision: Option<McoDecision>,
}

/// The one extension as PRODUCT.md shows it (the request's message stays in the store).
#[derive(Debug, Serialize)]
pub struct ExtensionView<'a> {
    pub requested_by: Party,
    pub requested_on: NaiveDate,
    pub status: ExtensionStatus,
    pub by: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl<'a> From<&'a Extension> for ExtensionView<'a> {
    fn from(extension: &'a Extension) -> Self {
        ExtensionView {
            requested_by: extension.requested_by,
            requested_on: extension.requested_on,
            status: extension.status,
            by: extension.by.as_deref(),
            reason: extension.reason.as_deref(),
        }
    }
}

impl<'a> TicketView<'a> {
    /// The view as of `today` (the Illinois day), which decides `overdue`.
    pub fn new(ticket: &'a Ticket, today: NaiveDate) -> Self {
        TicketView {
            id: ticket.id,
            status: ticket.status,
            mco: ticket.mco.as_deref(),
            received_on: ticket.received_on,
            sender: &ticket.sender,
            reason: ticket.reason,
            presented_by: ticket.presented_by,
            response_due: ticket.response_due,
            presented_on: ticket.presented_on,
            responded_on: ticket.responded_on,
            late: ticket.response_due.map(|_| ticket.late),
            overdue: ticket.is_overdue(today),
            extension: ticket.extension.as_ref().map(ExtensionView::from),
            resolution: ticket.resolution.as_ref(),
            events: ticket.timeline(),
            lines: ticket
                .lines
                .iter()
                .map(|line| LineView {
                    row: line.row,
                    status: line.status,
                    reason: line.reason,
                    npi: line.npi.as_deref(),
                    tracking_number: line.tracking_number.as_deref(),
                    decision: line.decision,
                })
                .collect(),
            problems: &ticket.problems,
        }
    }
}

/// A registration as `registrations list|show --json` print it.
#[derive(Debug, Serialize)]
pub struct RegistrationView<'a> {
    pub id: RegistrationId,
    pub status: RegistrationStatus,
    pub email: &'a str,
    pub npis: &'a [String],
    pub earliest_completion: NaiveDate,
    pub missing: &'a [String],
}

impl<'a> From<&'a Registration> for RegistrationView<'a> {
    fn from(registration: &'a Registration) -> Self {
        RegistrationView {
            id: registration.id,
            status: registration.status,
            email: &registration.email,
            npis: &registration.npis,
            earliest_completion: registration.earliest_completion,
            missing: &registration.missing,
        }
    }
}

/// An inquiry as `inquiries list --json` prints it.
#[derive(Debug, Serialize)]
pub struct InquiryView<'a> {
    pub id: InquiryId,
    pub from: &'a str,
    pub received_on: NaiveDate,
    pub answered: bool,
}

impl<'a> From<&'a Inquiry> for InquiryView<'a> {
    fn from(inquiry: &'a Inquiry) -> Self {
        InquiryView {
            id: inquiry.id,
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
    pub mailbox: Mailbox,
    pub from: &'a str,
    pub received_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    /// `{"kind": "tickets", "ids": [...]}`, `{"kind": "quarantined", "why": "..."}`, …
    pub outcome: &'a Outcome,
    pub notices: &'a [u64],
    /// The notices the daily limit held back (R12).
    pub suppressed: &'a [u64],
    pub released: bool,
    /// Who handled it as authenticated on their word (`messages release
    /// --trust-sender`), and when; null otherwise.
    pub trusted: Option<&'a ReadMark>,
    /// Whether the raw bytes are still kept (retention removes them).
    pub raw: bool,
}

impl<'a> MessageView<'a> {
    /// The view of a record whose raw bytes are kept (`raw`) or not.
    pub fn new(record: &'a MessageRecord, raw: bool) -> Self {
        MessageView {
            hash: &record.hash,
            message_id: record.message_id.as_deref(),
            mailbox: record.mailbox,
            from: &record.from,
            received_at: record.received_at,
            processed_at: record.processed_at,
            outcome: &record.outcome,
            notices: &record.notices,
            suppressed: &record.suppressed,
            released: record.released,
            trusted: record.trusted.as_ref(),
            raw,
        }
    }
}
