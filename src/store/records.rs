//! What the store keeps. Every value is serialised as JSON with a `v` field, so the
//! format can evolve: a reader meets the version before anything else.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::forms::{LineOutcome, McoDecision, Problem, Reason, Status};
use crate::ids::{InquiryId, RecordId, RegistrationId, TicketId};
use crate::mail::notice::NoticeKind;

/// The current version of every record below.
pub const RECORD_VERSION: u32 = 1;

/// One submitted complaint template.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub v: u32,
    pub id: TicketId,
    pub status: Status,
    pub mco: Option<String>,
    pub received_on: NaiveDate,
    pub received_at: DateTime<Utc>,
    pub sender: String,
    pub reason: Option<Reason>,
    pub presented_by: Option<NaiveDate>,
    /// `received_on + response_days`, plus `extension_days` once an extension is granted.
    pub response_due: Option<NaiveDate>,
    pub lines: Vec<TicketLine>,
    pub problems: Vec<Problem>,
    /// The claims of the forwarded lines, for the duplicate rule (PHI: staff only).
    pub forwarded_claims: Vec<ClaimKey>,
    /// The message it came in (its raw-bytes hash) and the attachment's name.
    pub message: String,
    pub attachment: Option<String>,
    /// Replies kept with the ticket: hashes of their raw messages.
    pub correspondence: Vec<Correspondence>,
    /// Notices about this ticket that a mail server refused for good.
    #[serde(default)]
    pub notice_failures: Vec<NoticeFailure>,
    /// The Illinois day the forward to the MCO was queued.
    #[serde(default)]
    pub presented_on: Option<NaiveDate>,
    /// The Illinois day the MCO's first proposal arrived.
    #[serde(default)]
    pub responded_on: Option<NaiveDate>,
    /// The first proposal came after `response_due`.
    #[serde(default)]
    pub late: bool,
    /// The one extension (140.75(e)), once asked for.
    #[serde(default)]
    pub extension: Option<Extension>,
    /// HFS's resolution: the ticket's end.
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// The timeline, oldest first.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Every proposal the MCO mailed: the first set `responded_on`, later ones add
    /// decisions. Hashes of the raw messages (their text is PHI: the store only).
    #[serde(default)]
    pub proposals: Vec<Correspondence>,
    /// The due dates an overdue reminder was sent for: one reminder per due date.
    #[serde(default)]
    pub reminded: Vec<NaiveDate>,
}

/// The overdue rule: forwarded with no proposal yet (`status`), and `today` after the
/// response was due. A pending extension request does not stop that. One rule for the
/// ticket itself and for the narrow view the statistics count.
pub fn is_overdue(status: Status, response_due: Option<NaiveDate>, today: NaiveDate) -> bool {
    status == Status::Forwarded && response_due.is_some_and(|due| today > due)
}

impl Ticket {
    /// Overdue on `today` ([`is_overdue`]).
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        is_overdue(self.status, self.response_due, today)
    }

    /// Sets `late` from the first proposal's day and the due date as they stand now:
    /// `responded_on > response_due`, false until a proposal arrives. Called when the
    /// proposal arrives and again when an extension moves the due date.
    pub fn judge_late(&mut self) {
        self.late = self
            .responded_on
            .zip(self.response_due)
            .is_some_and(|(responded, due)| responded > due);
    }

    /// The ticket's line for a row of the provider's template.
    pub fn line(&self, row: u32) -> Option<&TicketLine> {
        self.lines.iter().find(|line| line.row == row)
    }

    /// The rows that went to the MCO.
    pub fn forwarded_rows(&self) -> Vec<u32> {
        self.lines
            .iter()
            .filter(|line| line.status == Status::Forwarded)
            .map(|line| line.row)
            .collect()
    }

    /// Adds one event to the timeline.
    pub fn event(&mut self, on: NaiveDate, what: EventKind, by: Option<&str>) {
        self.events.push(Event {
            on,
            what,
            by: by.map(str::to_owned),
        });
    }

    /// The timeline as staff see it. A ticket filed before timelines were kept gets
    /// the events its record implies (received, its notice, the forward).
    pub fn timeline(&self) -> Vec<Event> {
        if !self.events.is_empty() {
            return self.events.clone();
        }
        let mut events = vec![
            Event {
                on: self.received_on,
                what: EventKind::Received,
                by: None,
            },
            Event {
                on: self.received_on,
                what: EventKind::Notice,
                by: None,
            },
        ];
        if self.presented_by.is_some() {
            events.push(Event {
                on: self.presented_on.unwrap_or(self.received_on),
                what: EventKind::Forwarded,
                by: None,
            });
        }
        events
    }
}

/// One claim line of a ticket: its outcome, the NPI and tracking number it names (for
/// staff to find it), and the MCO's decision once returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TicketLine {
    pub row: u32,
    pub status: Status,
    pub reason: Option<Reason>,
    /// The line's Provider NPI as typed (trimmed); `None` for lines filed before lines
    /// kept it, until filled in from the kept raw mail.
    #[serde(default)]
    pub npi: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub decision: Option<McoDecision>,
    /// The MCO's comment on its decision: kept in the store only (it may quote the
    /// claim), never in a notice or a view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl TicketLine {
    /// A validated line, before anything is known of it but its outcome.
    pub fn from_outcome(outcome: &LineOutcome) -> TicketLine {
        TicketLine {
            row: outcome.row,
            status: outcome.status,
            reason: outcome.reason,
            npi: None,
            tracking_number: None,
            decision: None,
            comment: None,
        }
    }
}

crate::words! {
    /// Who asked for the one extension.
    pub enum Party {
        Provider = "provider",
        Mco = "mco",
    }
}

crate::words! {
    /// Where an extension request stands.
    pub enum ExtensionStatus {
        Requested = "requested",
        Granted = "granted",
        Denied = "denied",
    }
}

/// The one extension a ticket may have (140.75(e)).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Extension {
    pub requested_by: Party,
    pub requested_on: NaiveDate,
    pub status: ExtensionStatus,
    /// The staff member who decided.
    pub by: Option<String>,
    /// Why it was declined (told to both sides).
    pub reason: Option<String>,
    /// The request's message (raw-bytes hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

crate::words! {
    /// How HFS ended a ticket.
    pub enum ResolutionOutcome {
        Resolved = "resolved",
        NotResolved = "not_resolved",
    }
}

/// HFS's resolution of a ticket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resolution {
    pub outcome: ResolutionOutcome,
    pub on: NaiveDate,
    pub by: String,
    pub note: Option<String>,
}

crate::words! {
    /// What happened on a ticket's timeline.
    pub enum EventKind {
        Received = "received",
        Notice = "notice",
        Forwarded = "forwarded",
        Proposal = "proposal",
        Decisions = "decisions",
        MoreTimeRequested = "more_time_requested",
        MoreTimeGranted = "more_time_granted",
        MoreTimeDeclined = "more_time_declined",
        Reminder = "reminder",
        Correspondence = "correspondence",
        Resolved = "resolved",
    }
}

/// One event of a ticket's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    pub on: NaiveDate,
    pub what: EventKind,
    pub by: Option<String>,
}

/// A staff member's mark, who and when: a digest item read, a sender trusted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReadMark {
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A notice refused for good (a permanent SMTP error), kept on its ticket for staff.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoticeFailure {
    pub notice: u64,
    pub kind: NoticeKind,
    pub at: DateTime<Utc>,
    pub error: String,
}

/// What makes two claim lines the same complaint (R: `duplicate`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClaimKey {
    pub row: u32,
    pub tracking_number: String,
    pub claim_number: String,
}

/// A reply kept with a ticket, registration or inquiry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Correspondence {
    pub at: DateTime<Utc>,
    pub message: String,
}

crate::words! {
    /// A registration's state (R7).
    pub enum RegistrationStatus {
        Pending = "pending",
        Active = "active",
        Denied = "denied",
        Revoked = "revoked",
    }
}

impl RegistrationStatus {
    /// `approved`, `denied`, `revoked`…: the word for a registration that reached this
    /// status, as the audit trail and messages say it.
    pub fn past_tense(self) -> &'static str {
        match self {
            RegistrationStatus::Pending => "pending",
            RegistrationStatus::Active => "approved",
            RegistrationStatus::Denied => "denied",
            RegistrationStatus::Revoked => "revoked",
        }
    }
}

/// One provider or facility a registration covers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub npi: String,
    pub medicaid_id: String,
}

/// A request to use the portal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Registration {
    pub v: u32,
    pub id: RegistrationId,
    pub status: RegistrationStatus,
    /// The registrant's email: the From address the portal will accept complaints from.
    pub email: String,
    pub npis: Vec<String>,
    pub earliest_completion: NaiveDate,
    pub missing: Vec<String>,
    pub received_on: NaiveDate,
    pub received_at: DateTime<Utc>,
    pub registrant_name: String,
    pub organization: String,
    pub role: String,
    /// Asked by forms of schema version 1 only; empty since.
    #[serde(default)]
    pub username: String,
    pub providers: Vec<Provider>,
    pub message: String,
    /// Who decided, when and why (staff commands).
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

crate::words! {
    /// Which mailbox a message came from.
    pub enum Mailbox {
        Intake = "intake",
        Inquiries = "inquiries",
    }
}

/// A message to portal inquiries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Inquiry {
    pub v: u32,
    pub id: InquiryId,
    pub from: String,
    pub received_on: NaiveDate,
    pub received_at: DateTime<Utc>,
    pub subject: String,
    pub answered: bool,
    pub message: String,
    /// Marked read by staff: no longer in the digest.
    #[serde(default)]
    pub read: Option<ReadMark>,
}

/// What became of a processed message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// One ticket per complaint template attached.
    Tickets {
        ids: Vec<TicketId>,
    },
    /// A registration request, and the tickets of the complaints mailed beside it;
    /// `more` are the requests of further forms in the same message, each with its own
    /// notice (R12).
    Registration {
        id: RegistrationId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        more: Vec<RegistrationId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tickets: Vec<TicketId>,
    },
    Inquiry {
        id: InquiryId,
    },
    /// The sender has no active registration; no ticket.
    NotRegistered,
    /// A reply kept as correspondence on the ticket, registration or inquiry it
    /// answers; `None` for an MCO's mail that names no ticket of its own.
    Correspondence {
        #[serde(alias = "about")]
        id: Option<RecordId>,
    },
    /// An MCO's proposal on a ticket forwarded to it.
    Proposal {
        id: TicketId,
    },
    /// A request for the one extension, from the ticket's sender or its MCO.
    ExtensionRequest {
        id: TicketId,
    },
    /// Answered with how to submit.
    Help,
    /// A bounce, an auto-reply or our own mail: never answered.
    Automatic,
    /// Could not be handled; kept in the Quarantine folder.
    Quarantined {
        why: String,
    },
    /// Sender authentication is on and nothing the portal trusts vouched for the From
    /// address: kept in the Quarantine folder, acted on for nobody, answered to nobody
    /// (until staff trust it: `messages release --trust-sender`).
    Unauthenticated,
}

impl Outcome {
    /// The outcome in one word, as the audit trail names it (`message_<word>`).
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Tickets { .. } => "ticket",
            Outcome::Registration { .. } => "registration",
            Outcome::Inquiry { .. } => "inquiry",
            Outcome::NotRegistered => "not_registered",
            Outcome::Correspondence { .. } => "correspondence",
            Outcome::Proposal { .. } => "proposal",
            Outcome::ExtensionRequest { .. } => "extension_request",
            Outcome::Help => "help",
            Outcome::Automatic => "automatic",
            Outcome::Quarantined { .. } => "quarantined",
            Outcome::Unauthenticated => "unauthenticated",
        }
    }

    /// The words staff see in `messages list`: the outcome and what it made.
    pub fn label(&self) -> String {
        let word = self.word();
        match self {
            Outcome::Tickets { ids } => {
                let ids: Vec<String> = ids.iter().map(TicketId::to_string).collect();
                format!("{word} {}", ids.join(", "))
            }
            Outcome::Registration { id, more, tickets } => {
                let mut label = format!("{word} {id}");
                for id in more {
                    label.push_str(&format!(", {id}"));
                }
                if !tickets.is_empty() {
                    let tickets: Vec<String> = tickets.iter().map(TicketId::to_string).collect();
                    label.push_str(&format!(", ticket {}", tickets.join(", ")));
                }
                label
            }
            Outcome::Inquiry { id } => format!("{word} {id}"),
            Outcome::Correspondence { id: Some(about) } => format!("{word} on {about}"),
            Outcome::Correspondence { id: None } => format!("{word} without a ticket"),
            Outcome::Proposal { id } | Outcome::ExtensionRequest { id } => {
                format!("{word} on {id}")
            }
            Outcome::NotRegistered
            | Outcome::Help
            | Outcome::Automatic
            | Outcome::Quarantined { .. }
            | Outcome::Unauthenticated => word.to_owned(),
        }
    }

    /// The message is kept in the Quarantine folder: it could not be handled, or its
    /// sender is not authenticated.
    pub fn is_quarantined(&self) -> bool {
        matches!(self, Outcome::Quarantined { .. } | Outcome::Unauthenticated)
    }
}

/// One processed message: found again by its Message-ID or by the hash of its bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageRecord {
    pub v: u32,
    /// SHA-256 of the raw message, hex.
    pub hash: String,
    pub message_id: Option<String>,
    pub mailbox: Mailbox,
    /// The mailbox's own id for it (a Maildir file name, an IMAP UID).
    pub source_id: String,
    pub from: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The outbox entries this message produced.
    pub notices: Vec<u64>,
    /// Those of them held back by the sender's daily limit (R12).
    #[serde(default)]
    pub suppressed: Vec<u64>,
    /// The SHA-256 of each attachment, sorted (R12: a re-delivery has the same);
    /// `None` for a message read by its header alone, or recorded before this field.
    #[serde(default)]
    pub attachments: Option<Vec<String>>,
    /// Released back to the inbox by staff: processed afresh when it comes back.
    pub released: bool,
    /// Marked read by staff (correspondence): no longer in the digest.
    #[serde(default)]
    pub read: Option<ReadMark>,
    /// When retention removed its raw bytes (`None`: kept), so listing messages never
    /// reads the bytes to tell.
    #[serde(default)]
    pub raw_removed: Option<DateTime<Utc>>,
    /// Handled as authenticated on a staff member's word (`messages release
    /// --trust-sender`), by whom and when; it stayed in the Quarantine folder.
    #[serde(default)]
    pub trusted: Option<ReadMark>,
}

/// A notice's delivery state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Delivery {
    Pending {
        /// Failed attempts so far (transient failures only).
        attempts: u32,
        last_error: Option<String>,
        /// Not tried again by a pass before this instant: the backoff after a
        /// transient failure. `None` (never tried, or requeued by staff) means now.
        #[serde(default)]
        next_attempt: Option<DateTime<Utc>>,
    },
    Sent {
        at: DateTime<Utc>,
    },
    /// Refused for good (a permanent SMTP error): not retried.
    Failed {
        at: DateTime<Utc>,
        error: String,
    },
    /// Held back by the sender's daily limit of unsolicited answers (R12): never sent.
    Suppressed {
        at: DateTime<Utc>,
    },
}

impl Delivery {
    /// Still to be delivered (whenever its backoff allows).
    pub fn is_waiting(&self) -> bool {
        matches!(self, Delivery::Pending { .. })
    }

    /// Waiting, and due for an attempt at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        match self {
            Delivery::Pending { next_attempt, .. } => next_attempt.is_none_or(|at| at <= now),
            Delivery::Sent { .. } | Delivery::Failed { .. } | Delivery::Suppressed { .. } => false,
        }
    }
}

/// A mail the program sends, rendered in full before it is recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notice {
    pub v: u32,
    pub id: u64,
    pub kind: NoticeKind,
    /// The ticket, registration or inquiry it is about, if any.
    pub about: Option<RecordId>,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub created_at: DateTime<Utc>,
    pub delivery: Delivery,
    /// The whole RFC 5322 message; empty once retention removed it.
    #[serde(with = "base64_bytes")]
    pub raw: Vec<u8>,
    /// When retention removed the body of this sent notice (`None`: kept). The
    /// record and its summary stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_removed: Option<DateTime<Utc>>,
}

/// A notice without its body: what the outbox views list. Reading a stored
/// [`Notice`] as this skips its `raw` bytes instead of keeping them, so listing
/// 20,000 notices holds 20,000 subjects in memory, not 20,000 messages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoticeSummary {
    pub id: u64,
    pub kind: NoticeKind,
    pub about: Option<RecordId>,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub created_at: DateTime<Utc>,
    pub delivery: Delivery,
}

impl From<&Notice> for NoticeSummary {
    fn from(notice: &Notice) -> Self {
        NoticeSummary {
            id: notice.id,
            kind: notice.kind,
            about: notice.about,
            to: notice.to.clone(),
            subject: notice.subject.clone(),
            message_id: notice.message_id.clone(),
            created_at: notice.created_at,
            delivery: notice.delivery.clone(),
        }
    }
}

/// One line of the append-only audit trail. Never PHI: ids, actions, staff names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub v: u32,
    pub at: DateTime<Utc>,
    pub action: String,
    pub subject: String,
    pub by: Option<String>,
    pub reason: Option<String>,
}

/// Raw message bytes inside JSON, as base64: the standard alphabet with padding
/// (RFC 4648 §4), as the store has always written them.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text)
            .map_err(|error| serde::de::Error::custom(format!("invalid base64: {error}")))
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Wrap(#[serde(with = "super")] Vec<u8>);

        #[test]
        fn round_trip() {
            for bytes in [&b""[..], b"a", b"ab", b"abc", b"abcd", &[0, 255, 128, 7, 9]] {
                let json = serde_json::to_string(&Wrap(bytes.to_vec())).unwrap();
                assert_eq!(
                    serde_json::from_str::<Wrap>(&json).unwrap().0,
                    bytes,
                    "{json}"
                );
            }
            assert_eq!(
                serde_json::to_string(&Wrap(b"Man".to_vec())).unwrap(),
                "\"TWFu\""
            );
        }

        #[test]
        fn what_the_old_encoder_wrote_still_decodes() {
            // Written by the store's own encoder before it used the base64 crate.
            for (stored, bytes) in [
                ("\"\"", &b""[..]),
                ("\"TWFu\"", b"Man"),
                ("\"TWE=\"", b"Ma"),
                ("\"TQ==\"", b"M"),
                ("\"AP+ABwk=\"", &[0, 255, 128, 7, 9]),
            ] {
                assert_eq!(serde_json::from_str::<Wrap>(stored).unwrap().0, bytes);
                assert_eq!(
                    serde_json::to_string(&Wrap(bytes.to_vec())).unwrap(),
                    stored
                );
            }
        }

        #[test]
        fn other_text_is_refused() {
            for text in ["\"TW!u\"", "\"TWFu-_\""] {
                let error = serde_json::from_str::<Wrap>(text).unwrap_err();
                assert!(error.to_string().contains("invalid base64"), "{error}");
            }
        }
    }
}
