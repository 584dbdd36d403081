//! What staff do, as operations that return data: decide registrations, release a
//! message back into its inbox, retry the outbox, and the views of tickets,
//! registrations, inquiries, messages and notices. Nothing here parses a command line
//! or prints; `commands` does both, so these operations serve the CLI today and any
//! other front end tomorrow.
//!
//! Every decision is in the audit trail with who made it, and sends its own notice at
//! once (a notice that fails waits in the outbox for the next intake pass).

mod export;
mod messages;
mod outbox;
mod registrations;
mod views;

pub use export::{CSV_HEADER, write_tickets_csv};
pub use messages::{Released, find_message, release};
pub use outbox::{Retried, retry};
pub use registrations::{Decided, Decision, decide};
pub use views::{InquiryView, MessageView, RegistrationView, TicketView};
