//! A message to portal inquiries (R11): stored, and answered once (within the
//! sender's daily limit) with an inquiry reference, the registration steps and the
//! sender's own registration status when known — only to an authenticated sender: a
//! forged From learns nothing about the address it borrowed.

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use super::help::status_view;
use crate::ids::InquiryId;
use crate::mail::notice::NoticeKind;
use crate::store::{Inquiry, Outcome, RECORD_VERSION, Tree};

pub(crate) fn handle(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    subject: &str,
    authenticated: bool,
) -> Result<Outcome> {
    let store = ctx.intake.store;
    let received_on = ctx.message.received_on;
    let id: InquiryId = store.allocate(received_on)?;
    let registration = if authenticated {
        status_view(store.latest_registration(&reply.to)?.as_ref())
    } else {
        json!({ "status": "unverified" })
    };
    let queued = ctx.answer(
        reply,
        NoticeKind::InquiryAnswer,
        format!("[{id}] We received your question about the Provider Resolution Portal"),
        Some(id.into()),
        json!({
            "inquiry": { "id": id, "from": reply.to },
            "registration": registration,
        }),
    )?;
    let record = Inquiry {
        v: RECORD_VERSION,
        id,
        from: reply.to.clone(),
        received_on,
        received_at: ctx.message.waiting.received_at,
        subject: subject.chars().take(200).collect(),
        answered: !queued.suppressed,
        message: ctx.message.digest.to_owned(),
        read: None,
    };
    ctx.writes.put(Tree::Inquiries, id.to_string(), &record)?;
    ctx.audit("inquiry_received", &id.to_string())?;
    Ok(Outcome::Inquiry { id })
}
