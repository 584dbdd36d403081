//! What staff do from the command line: decide registrations, and the views of
//! tickets, registrations, inquiries, messages and the outbox. Every decision is in the
//! audit trail with who made it, and its notice is sent at once (a notice that fails
//! waits in the outbox for the next intake pass).

use std::io::Write;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::cli::{InquiriesAction, MessagesAction, OutboxAction, RegistrationsAction, TicketsAction};
use crate::commands::Outcome;
use crate::config::Config;
use crate::intake::notices::NoticeRequest;
use crate::intake::{Intake, PassReport, deliver_pending, queue_notice};
use crate::mail::notice::NoticeKind;
use crate::store::{Registration, RegistrationStatus, Tree, Writes};

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
        bail!("registration {id} is {}; it cannot be {}d", status.as_str().unwrap_or("?"), format!("{decision:?}").to_lowercase());
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
    deliver_pending(intake, &mut PassReport::default(), now)?;
    Ok(registration)
}

/// `portal tickets …`
pub fn tickets(config: &Config, action: TicketsAction, out: &mut dyn Write) -> Result<Outcome> {
    let _ = (config, action, out);
    bail!("`portal tickets` is not available in this build yet")
}

/// `portal registrations …`
pub fn registrations(config: &Config, action: RegistrationsAction, out: &mut dyn Write) -> Result<Outcome> {
    let _ = (config, action, out);
    bail!("`portal registrations` is not available in this build yet")
}

/// `portal inquiries …`
pub fn inquiries(config: &Config, action: InquiriesAction, out: &mut dyn Write) -> Result<Outcome> {
    let _ = (config, action, out);
    bail!("`portal inquiries` is not available in this build yet")
}

/// `portal messages …`
pub fn messages(config: &Config, action: MessagesAction, out: &mut dyn Write) -> Result<Outcome> {
    let _ = (config, action, out);
    bail!("`portal messages` is not available in this build yet")
}

/// `portal outbox …`
pub fn outbox(config: &Config, action: OutboxAction, out: &mut dyn Write) -> Result<Outcome> {
    let _ = (config, action, out);
    bail!("`portal outbox` is not available in this build yet")
}
