//! Staff decisions on registrations (R7): approve or deny a pending request, revoke
//! an active one.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::send::record_and_send;
use super::{refused, staff_name};
use crate::ids::RegistrationId;
use crate::intake::{Intake, NoticeRequest};
use crate::mail::notice::NoticeKind;
use crate::store::{Delivery, Registration, RegistrationStatus, Tree, Writes};

crate::words! {
    /// A staff decision on a registration.
    pub enum Decision {
        Approve = "approve",
        Deny = "deny",
        Revoke = "revoke",
    }
}

impl Decision {
    /// The status a registration must have for this decision.
    fn required_status(self) -> RegistrationStatus {
        match self {
            Decision::Approve | Decision::Deny => RegistrationStatus::Pending,
            Decision::Revoke => RegistrationStatus::Active,
        }
    }

    /// The status it has afterwards.
    pub fn resulting_status(self) -> RegistrationStatus {
        match self {
            Decision::Approve => RegistrationStatus::Active,
            Decision::Deny => RegistrationStatus::Denied,
            Decision::Revoke => RegistrationStatus::Revoked,
        }
    }

    fn notice(self) -> (NoticeKind, &'static str) {
        match self {
            Decision::Approve => (NoticeKind::RegistrationApproved, "Registration approved"),
            Decision::Deny => (NoticeKind::RegistrationDenied, "Registration denied"),
            Decision::Revoke => (
                NoticeKind::RegistrationRevoked,
                "Registration no longer active",
            ),
        }
    }
}

/// A decision made: the registration as it now stands, and how its notice fared.
#[derive(Debug, Clone)]
pub struct Decided {
    pub registration: Registration,
    /// The notice's delivery after the attempt to send it at once.
    pub delivery: Delivery,
}

/// Approves, denies or revokes a registration, records who and why, and sends the
/// registrant its notice — that notice only: whatever else waits in the outbox is the
/// next pass's business. Deny and revoke need a reason (it is told to the registrant).
/// The public statistics file is rewritten afterwards (its registration figures).
pub fn decide(
    intake: &Intake<'_>,
    id: RegistrationId,
    decision: Decision,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Decided> {
    let by = staff_name(by)?;
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    if decision != Decision::Approve && reason.is_none() {
        return Err(refused(format!(
            "--reason is required to {decision} a registration (it is recorded and told to the registrant)"
        )));
    }
    let store = intake.store;
    let Some(mut registration) = store.record::<Registration>(id)? else {
        return Err(refused(format!("there is no registration {id}")));
    };
    if registration.status != decision.required_status() {
        return Err(refused(format!(
            "registration {id} is {}; it cannot be {}",
            registration.status,
            decision.resulting_status().past_tense()
        )));
    }
    registration.status = decision.resulting_status();
    registration.decided_by = Some(by.to_owned());
    registration.decided_at = Some(now);
    registration.decision_reason = reason.map(str::to_owned);
    let mut writes = Writes::default();
    writes.put(Tree::Registrations, id.to_string(), &registration)?;
    let action = format!("registration_{}", registration.status.past_tense());
    writes.audit(store, now, &action, &id.to_string(), Some(by), reason)?;
    let (kind, subject) = decision.notice();
    let request = NoticeRequest {
        kind,
        to: &registration.email,
        subject: format!("[{id}] {subject}"),
        about: Some(id.into()),
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
    };
    let sent = record_and_send(intake, writes, vec![request], now)?;
    crate::statistics::publish_or_log(intake.config, store, now);
    let delivery = sent
        .into_iter()
        .next()
        .context("the decision's notice was just recorded")?
        .delivery;
    Ok(Decided {
        registration,
        delivery,
    })
}
