//! A registration request (R7): stored as pending review when complete, denied with
//! what is missing when not, and acknowledged either way (with the earliest
//! completion date: the day received does not count, then two state business days).

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use crate::forms::schema::{ROLES, provider, registrant};
use crate::forms::{self, Completeness, Kind, Record, Workbook};
use crate::ids::RegistrationId;
use crate::mail::notice::NoticeKind;
use crate::rules::add_business_days;
use crate::store::{Provider, RECORD_VERSION, Registration, RegistrationStatus, Tree};

/// A registration form as it arrived.
pub(crate) struct Form<'a> {
    pub kind: Kind,
    pub workbook: &'a Workbook,
    /// The sender already has an active registration (its notice says it goes on).
    pub already_active: bool,
    /// Spreadsheets beside it that are none of ours, by name (its notice names them).
    pub ignored: &'a [String],
}

/// Records the request and queues its one notice; returns the request as recorded.
pub(crate) fn handle(ctx: &mut Ctx<'_>, reply: &Reply, form: &Form<'_>) -> Result<Registration> {
    let config = ctx.intake.config;
    let received_on = ctx.message.received_on;
    let validated =
        forms::validate::validate_registration(form.workbook, form.kind, config.rules.max_lines);
    let mut missing = validated.report.missing.clone();
    // The registrant email must be the address the form is mailed from.
    if let Some(email) = &validated.report.email
        && !email.eq_ignore_ascii_case(&reply.to)
    {
        missing.push("Registrant Email (it must be the address you send the form from)".to_owned());
    }
    let complete = validated.report.status == Completeness::Complete && missing.is_empty();
    let id: RegistrationId = ctx.intake.store.allocate(received_on)?;
    let earliest_completion = add_business_days(
        received_on,
        config.rules.registration_business_days,
        &config.rules.closure_days,
    );
    let person = &validated.registrant;
    let name = format!(
        "{} {}",
        text(person, registrant::FIRST_NAME),
        text(person, registrant::LAST_NAME)
    );
    let registration = Registration {
        v: RECORD_VERSION,
        id,
        status: if complete {
            RegistrationStatus::Pending
        } else {
            RegistrationStatus::Denied
        },
        email: reply.to.clone(),
        npis: validated.report.npis.clone(),
        earliest_completion,
        missing,
        received_on,
        received_at: ctx.message.waiting.received_at,
        registrant_name: name.trim().to_owned(),
        organization: text(person, registrant::ORGANIZATION),
        role: person
            .choice(registrant::ROLE)
            .and_then(|index| ROLES.get(index))
            .map_or_else(String::new, |role| (*role).to_owned()),
        // The form no longer asks for one (the address is the account).
        username: String::new(),
        providers: validated
            .providers
            .iter()
            .map(|record| Provider {
                name: text(record, provider::NAME),
                npi: text(record, provider::NPI),
                medicaid_id: text(record, provider::MEDICAID_ID),
            })
            .collect(),
        message: ctx.message.digest.to_owned(),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
    };
    ctx.writes
        .put(Tree::Registrations, id.to_string(), &registration)?;
    acknowledge(ctx, reply, &registration, complete, form)?;
    Ok(registration)
}

/// The registration's one notice — received, or denied for what is missing — and
/// its line in the audit trail.
fn acknowledge(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    registration: &Registration,
    complete: bool,
    form: &Form<'_>,
) -> Result<()> {
    let id = registration.id;
    let (kind, subject, action) = if complete {
        (
            NoticeKind::RegistrationReceived,
            format!("[{id}] Registration received"),
            "registration_pending",
        )
    } else {
        (
            NoticeKind::RegistrationDenied,
            format!("[{id}] Registration denied: information missing"),
            "registration_denied",
        )
    };
    ctx.answer(
        reply,
        kind,
        subject,
        Some(id.into()),
        json!({
            "registration": {
                "id": id,
                "email": registration.email,
                "npis": registration.npis,
                "earliest_completion": registration.earliest_completion.to_string(),
                "missing": registration.missing,
                "already_active": form.already_active,
            },
            "ignored_files": form.ignored,
        }),
    )?;
    ctx.audit(action, &id.to_string())?;
    Ok(())
}

/// A field's text, or empty when it is missing.
fn text(record: &Record, field: usize) -> String {
    record.text(field).unwrap_or("").to_owned()
}
