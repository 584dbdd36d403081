//! A reply without a workbook to one of our notices, or an MCO's mail on a ticket of
//! its own that is no longer open: kept with the ticket, registration or inquiry it
//! answers, and on a ticket's timeline. A reply about a closed ticket learns that a
//! new submission is needed (R3); nothing is ever reopened, a resolved ticket neither.

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use crate::forms::Status;
use crate::ids::RecordId;
use crate::mail::notice::NoticeKind;
use crate::store::{
    Correspondence, EventKind, Inquiry, Outcome, Registration, Store, StoreResult, Ticket, Tree,
};

/// Keeps the message with what it answers (a ticket's timeline shows it); a closed
/// ticket's sender is told a new submission is needed.
pub(crate) fn handle(ctx: &mut Ctx<'_>, reply: &Reply, about: RecordId) -> Result<Outcome> {
    if let RecordId::TicketId(id) = about
        && let Some(mut ticket) = ctx.intake.store.record::<Ticket>(id)?
    {
        ticket.correspondence.push(Correspondence {
            at: ctx.message.now,
            message: ctx.message.digest.to_owned(),
        });
        ticket.event(ctx.message.received_on, EventKind::Correspondence, None);
        ctx.writes.put(Tree::Tickets, id.to_string(), &ticket)?;
        if ticket.status == Status::Closed {
            ctx.answer(
                reply,
                NoticeKind::NewSubmissionNeeded,
                format!("[{id}] Closed tickets are not reopened"),
                Some(about),
                json!({ "about": about }),
            )?;
        }
    }
    ctx.audit("correspondence", &about.to_string())?;
    Ok(Outcome::Correspondence { id: Some(about) })
}

/// True when `from` is a party of the ticket, registration or inquiry (R13): the
/// address it came from. False too when there is no such record.
pub(crate) fn is_party(store: &Store, about: RecordId, from: &str) -> StoreResult<bool> {
    let owner = match about {
        RecordId::TicketId(id) => store.record::<Ticket>(id)?.map(|ticket| ticket.sender),
        RecordId::RegistrationId(id) => store
            .record::<Registration>(id)?
            .map(|registration| registration.email),
        RecordId::InquiryId(id) => store.record::<Inquiry>(id)?.map(|inquiry| inquiry.from),
    };
    Ok(owner.is_some_and(|owner| owner.eq_ignore_ascii_case(from)))
}
