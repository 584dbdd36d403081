//! What the staff digest lists: overdue tickets by MCO, registrations pending past
//! their earliest completion, and what staff have not marked read — inquiries,
//! correspondence, MCO mail without a ticket, quarantined messages, messages whose
//! sender was not authenticated. Each item by id,
//! short hash, sender address and dates; never a subject, a text or a cell.
//!
//! The registrations, inquiries and messages are read as summaries of their records
//! (the fields named here, the rest skipped while reading), once a day.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ids::{InquiryId, RecordId, RegistrationId, TicketId};
use crate::intake::illinois_day;
use crate::store::{
    ExtensionStatus, Outcome, ReadMark, RegistrationStatus, Store, StoreResult, Ticket, Tree,
};

/// One day's digest, as its template reads it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Digest {
    pub day: NaiveDate,
    /// Every overdue ticket, by MCO code.
    pub overdue: Vec<OverdueMco>,
    pub registrations: Vec<PendingRegistration>,
    pub inquiries: Vec<UnreadInquiry>,
    /// Replies kept on a ticket, registration or inquiry.
    pub correspondence: Vec<UnreadMessage>,
    /// An MCO's mail that named no ticket of its own.
    pub without_ticket: Vec<UnreadMessage>,
    pub quarantined: Vec<UnreadMessage>,
    /// Mail to intake whose sender was not authenticated, acted on for nobody.
    pub unauthenticated: Vec<UnreadMessage>,
}

/// One MCO's overdue tickets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct OverdueMco {
    pub code: String,
    pub name: String,
    pub tickets: Vec<OverdueTicket>,
}

/// An overdue ticket as the digest names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct OverdueTicket {
    pub id: TicketId,
    pub response_due: NaiveDate,
    pub days_overdue: i64,
    /// Where its one extension stands, if one was asked for.
    pub extension: Option<ExtensionStatus>,
    /// Its MCO was reminded by this day's work.
    pub reminded_today: bool,
}

/// A registration waiting for staff past its earliest completion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PendingRegistration {
    pub id: RegistrationId,
    pub email: String,
    pub received_on: NaiveDate,
    pub earliest_completion: NaiveDate,
}

/// An inquiry not marked read.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct UnreadInquiry {
    pub id: InquiryId,
    pub from: String,
    pub received_on: NaiveDate,
}

/// A processed message not marked read: its short hash (what `messages show` and
/// `mark-read` take), what it is about, its sender and the day it came.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct UnreadMessage {
    pub hash: String,
    pub about: Option<RecordId>,
    pub from: String,
    pub received_on: NaiveDate,
}

/// The digits of a message's hash the digest shows.
const SHORT_HASH: usize = 12;

/// A registration record, as far as the digest reads it.
#[derive(Deserialize)]
struct RegistrationSummary {
    status: RegistrationStatus,
    #[serde(flatten)]
    item: PendingRegistration,
}

/// An inquiry record, as far as the digest reads it.
#[derive(Deserialize)]
struct InquirySummary {
    id: InquiryId,
    from: String,
    received_on: NaiveDate,
    #[serde(default)]
    read: Option<ReadMark>,
}

/// A processed-message record, as far as the digest reads it.
#[derive(Deserialize)]
struct MessageSummary {
    hash: String,
    from: String,
    received_at: DateTime<Utc>,
    outcome: Outcome,
    released: bool,
    #[serde(default)]
    read: Option<ReadMark>,
}

/// The digest lists a message in.
enum Listed {
    Correspondence,
    WithoutTicket,
    Quarantined,
    Unauthenticated,
}

/// Where a message with this outcome is listed until marked read, if anywhere. Every
/// outcome is named, so a new one is placed here when it is added.
fn listed(outcome: &Outcome) -> Option<Listed> {
    match outcome {
        Outcome::Correspondence { id: Some(_) } => Some(Listed::Correspondence),
        Outcome::Correspondence { id: None } => Some(Listed::WithoutTicket),
        Outcome::Quarantined { .. } => Some(Listed::Quarantined),
        Outcome::Unauthenticated => Some(Listed::Unauthenticated),
        Outcome::Tickets { .. }
        | Outcome::Registration { .. }
        | Outcome::Inquiry { .. }
        | Outcome::NotRegistered
        | Outcome::Proposal { .. }
        | Outcome::ExtensionRequest { .. }
        | Outcome::Help
        | Outcome::Automatic => None,
    }
}

impl Digest {
    /// Gathers the day's digest: `overdue` are the overdue tickets (read once by the
    /// daily work), `reminded` those whose MCO it reminded.
    pub fn gather(
        store: &Store,
        config: &Config,
        overdue: &[Ticket],
        reminded: &[TicketId],
        today: NaiveDate,
    ) -> StoreResult<Digest> {
        let mut digest = Digest {
            day: today,
            overdue: by_mco(config, overdue, reminded, today),
            registrations: pending_registrations(store, today)?,
            inquiries: unread_inquiries(store)?,
            correspondence: Vec::new(),
            without_ticket: Vec::new(),
            quarantined: Vec::new(),
            unauthenticated: Vec::new(),
        };
        digest.add_unread_messages(store)?;
        Ok(digest)
    }

    /// How many items it lists.
    pub fn len(&self) -> usize {
        self.overdue
            .iter()
            .map(|mco| mco.tickets.len())
            .sum::<usize>()
            + self.registrations.len()
            + self.inquiries.len()
            + self.correspondence.len()
            + self.without_ticket.len()
            + self.quarantined.len()
            + self.unauthenticated.len()
    }

    /// True when every list is empty: no digest is sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn add_unread_messages(&mut self, store: &Store) -> StoreResult<()> {
        let mut messages: Vec<MessageSummary> = store
            .all::<MessageSummary>(Tree::Messages)?
            .into_iter()
            .filter(|message| message.read.is_none() && !message.released)
            .collect();
        messages.sort_by(|a, b| (a.received_at, &a.hash).cmp(&(b.received_at, &b.hash)));
        for message in messages {
            let Some(list) = listed(&message.outcome) else {
                continue;
            };
            let item = UnreadMessage {
                hash: message.hash.chars().take(SHORT_HASH).collect(),
                about: match message.outcome {
                    Outcome::Correspondence { id } => id,
                    _ => None,
                },
                from: message.from,
                received_on: illinois_day(message.received_at),
            };
            match list {
                Listed::Correspondence => self.correspondence.push(item),
                Listed::WithoutTicket => self.without_ticket.push(item),
                Listed::Quarantined => self.quarantined.push(item),
                Listed::Unauthenticated => self.unauthenticated.push(item),
            }
        }
        Ok(())
    }
}

/// The overdue tickets grouped by MCO code, each group's tickets by id.
fn by_mco(
    config: &Config,
    overdue: &[Ticket],
    reminded: &[TicketId],
    today: NaiveDate,
) -> Vec<OverdueMco> {
    let mut groups: BTreeMap<String, Vec<OverdueTicket>> = BTreeMap::new();
    for ticket in overdue {
        let Some(due) = ticket.response_due else {
            continue;
        };
        groups
            .entry(ticket.mco.clone().unwrap_or_default())
            .or_default()
            .push(OverdueTicket {
                id: ticket.id,
                response_due: due,
                days_overdue: (today - due).num_days(),
                extension: ticket.extension.as_ref().map(|extension| extension.status),
                reminded_today: reminded.contains(&ticket.id),
            });
    }
    groups
        .into_iter()
        .map(|(code, mut tickets)| {
            tickets.sort_by_key(|ticket| ticket.id);
            let name = config
                .mco(&code)
                .map_or_else(|| code.clone(), |mco| mco.name.clone());
            OverdueMco {
                code,
                name,
                tickets,
            }
        })
        .collect()
}

/// Registrations still pending when they could have been complete (`today` after
/// their earliest completion), oldest first.
fn pending_registrations(store: &Store, today: NaiveDate) -> StoreResult<Vec<PendingRegistration>> {
    let mut pending: Vec<PendingRegistration> = store
        .all::<RegistrationSummary>(Tree::Registrations)?
        .into_iter()
        .filter(|registration| {
            registration.status == RegistrationStatus::Pending
                && today > registration.item.earliest_completion
        })
        .map(|registration| registration.item)
        .collect();
    pending.sort_by_key(|registration| (registration.received_on, registration.id));
    Ok(pending)
}

/// Inquiries not marked read, oldest first.
fn unread_inquiries(store: &Store) -> StoreResult<Vec<UnreadInquiry>> {
    let mut unread: Vec<UnreadInquiry> = store
        .all::<InquirySummary>(Tree::Inquiries)?
        .into_iter()
        .filter(|inquiry| inquiry.read.is_none())
        .map(|inquiry| UnreadInquiry {
            id: inquiry.id,
            from: inquiry.from,
            received_on: inquiry.received_on,
        })
        .collect();
    unread.sort_by_key(|inquiry| (inquiry.received_on, inquiry.id));
    Ok(unread)
}
