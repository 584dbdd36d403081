//! What staff do, as operations that return data: decide registrations, decide the one
//! extension of a ticket and resolve it, mark inquiries and messages read, release a
//! message back into its inbox (or handle one held for its unauthenticated sender as
//! authenticated, on a staff member's word), retry the outbox, find tickets, and the
//! views of tickets, registrations, inquiries, messages and notices. Nothing here
//! parses a command line or prints; `commands` does both, so these operations serve
//! the CLI today and any other front end tomorrow.
//!
//! Every decision is in the audit trail with who made it, and sends its own notices at
//! once (a notice that fails waits in the outbox for the next intake pass). A decision
//! the rules do not allow is [`Refused`], with the reason: the command line exits 1 on
//! it, and 2 when it could not run at all.

mod export;
mod filter;
mod messages;
mod outbox;
mod read;
mod registrations;
mod send;
mod stored;
mod tickets;
mod views;

pub use export::{CSV_HEADER, write_tickets_csv};
pub use filter::TicketFilter;
pub use messages::{Released, Trusted, find_message, release, trust_sender};
pub use outbox::{Retried, retry};
pub use read::{Marked, mark_inquiry_read, mark_message_read};
pub use registrations::{Decided, Decision, decide};
pub use send::NoticeSent;
pub use stored::{
    AttachmentInfo, HeaderLine, MessageContent, StoredMessage, StoredMessageView, stored_message,
};
pub use tickets::{ExtensionDecision, TicketDecided, extend, resolve};
pub use views::{InquiryView, MessageView, RegistrationView, TicketView};

/// A staff operation the rules do not allow — an unknown id, a decision made already,
/// a ticket in the wrong state, a reason missing — with the reason, said to the person
/// who asked. The command line exits 1 on it (2 is for what could not run: usage,
/// config, store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Refuses with a reason: `return Err(refused(format!(…)))`.
pub fn refused(reason: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Refused(reason.into()))
}

/// The staff member's name from `--by`, trimmed; refused when blank.
pub(crate) fn staff_name(by: &str) -> anyhow::Result<&str> {
    let by = by.trim();
    if by.is_empty() {
        return Err(refused("--by must name the staff member deciding"));
    }
    Ok(by)
}
