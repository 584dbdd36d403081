//! The two unsolicited answers to a person who sent no usable submission: how to
//! send a complaint (a message with no workbook that answers nothing of ours), and
//! please register first (complaints from a sender with no active registration, R6).

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use crate::mail::notice::NoticeKind;
use crate::store::{Outcome, Registration};

/// Answers with how to submit a complaint.
pub(crate) fn how_to_submit(ctx: &mut Ctx<'_>, reply: &Reply) -> Result<Outcome> {
    ctx.answer(
        reply,
        NoticeKind::Help,
        "How to send a complaint to the Provider Resolution Portal".to_owned(),
        None,
        json!({}),
    )?;
    Ok(Outcome::Help)
}

/// Answers a sender with no active registration: no ticket, and how to register, or
/// where its registration stands — `just_sent` when the same message carried a form
/// (not yet in the store), else the latest on record.
pub(crate) fn register_first(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    just_sent: Option<&Registration>,
) -> Result<Outcome> {
    let latest = match just_sent {
        Some(registration) => Some(registration.clone()),
        None => ctx.intake.store.latest_registration(&reply.to)?,
    };
    ctx.answer(
        reply,
        NoticeKind::NotRegistered,
        "Your complaint could not be accepted: please register first".to_owned(),
        None,
        json!({ "sender": reply.to, "registration": status_view(latest.as_ref()) }),
    )?;
    let hash = ctx.message.short_hash().to_owned();
    ctx.audit("not_registered", &hash)?;
    Ok(Outcome::NotRegistered)
}

/// A sender's registration as the notices show it: its id, status and earliest
/// completion, or `{"status": "none"}`.
pub(crate) fn status_view(registration: Option<&Registration>) -> serde_json::Value {
    match registration {
        Some(registration) => json!({
            "id": registration.id,
            "status": registration.status,
            "earliest_completion": registration.earliest_completion.to_string(),
        }),
        None => json!({ "status": "none" }),
    }
}
