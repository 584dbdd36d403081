//! Queuing notices in the outbox (rendered in full, inside the same transaction as
//! the change they announce) and delivering them afterwards.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Intake, Journaled, PassReport, illinois_day};
use crate::config::Config;
use crate::failpoint;
use crate::mail::notice::{Draft, NoticeKind};
use crate::mail::transport::SendError;
use crate::rules::FEE_FOR_SERVICE_PHONE;
use crate::store::{Delivery, Notice, RECORD_VERSION, Tree, Writes, sender_key};

/// A notice to queue.
pub struct NoticeRequest<'a> {
    pub kind: NoticeKind,
    pub to: &'a str,
    pub subject: String,
    /// The ticket, registration or inquiry it is about.
    pub about: Option<String>,
    /// True when it answers an incoming message (an auto-reply).
    pub is_reply: bool,
    /// The Message-ID of the message it answers, when it had one.
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// Kind-specific template values; the common ones are added.
    pub context: serde_json::Value,
    pub attachment: Option<(String, Vec<u8>, &'static str)>,
    /// Counts toward the per-sender daily limit (answers to providers do; MCO
    /// forwards and staff decisions do not).
    pub limited: bool,
}

/// The values every notice template can use.
pub fn base_context(config: &Config) -> serde_json::Value {
    let base = config.site.base_url.trim_end_matches('/');
    let rules = &config.rules;
    json!({
        "site": { "title": "Managed Care Provider Resolution Portal", "base_url": base },
        "links": {
            "home": format!("{base}/"),
            "before": format!("{base}/before-you-submit/"),
            "submit": format!("{base}/how-to-submit/"),
            "register": format!("{base}/registration/"),
            "downloads": format!("{base}/downloads/"),
            "contact": format!("{base}/contact/"),
        },
        "contact": {
            "intake_address": config.mail.intake.address,
            "inquiries_address": config.mail.inquiries.address,
            "fee_for_service_phone": FEE_FOR_SERVICE_PHONE,
        },
        "rules": rules,
    })
}

/// Renders a notice and adds it to `writes`. Returns its outbox id, or `None` when the
/// recipient already had the day's quota of notices (recorded in the audit trail).
pub fn queue_notice(
    intake: &Intake<'_>,
    writes: &mut Writes,
    counts: &mut Journaled<u32>,
    request: NoticeRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Option<u64>> {
    let store = intake.store;
    if request.limited {
        let key = sender_key(request.to, illinois_day(now));
        let sent = match counts.get(&key) {
            Some(count) => *count,
            None => store.notices_to(request.to, illinois_day(now))?,
        };
        if sent >= intake.config.mail.notices_per_sender_per_day {
            writes.audit(
                store,
                now,
                "notice_suppressed_daily_limit",
                request.about.as_deref().unwrap_or("-"),
                None,
                None,
            )?;
            return Ok(None);
        }
        counts.insert(key.clone(), sent + 1);
        writes.put_bytes(Tree::SenderCounts, &key, (sent + 1).to_be_bytes().to_vec());
    }
    let id = store.next_id()?;
    let mut context = base_context(intake.config);
    if let (Some(base), serde_json::Value::Object(extra)) =
        (context.as_object_mut(), request.context)
    {
        base.extend(extra);
    }
    if let Some(base) = context.as_object_mut() {
        base.insert("subject".to_owned(), json!(request.subject));
    }
    let composed = intake.composer.compose(&Draft {
        kind: request.kind,
        to: request.to,
        subject: request.subject.clone(),
        is_reply: request.is_reply,
        in_reply_to: request.in_reply_to,
        references: request.references,
        context,
        attachment: request.attachment,
        notice_id: id,
    })?;
    let notice = Notice {
        v: RECORD_VERSION,
        id,
        kind: request.kind.name().to_owned(),
        about: request.about.clone(),
        to: request.to.to_owned(),
        subject: request.subject,
        message_id: composed.message_id.clone(),
        created_at: now,
        delivery: Delivery::Pending {
            attempts: 0,
            last_error: None,
            next_attempt: None,
        },
        raw: composed.raw,
    };
    crate::store::put_notice(writes, &notice)?;
    // A reply quoting this Message-ID is correspondence on what the notice is about.
    if let Some(about) = &request.about {
        writes.put_bytes(
            Tree::MessageIds,
            format!("notice:{}", composed.message_id),
            about.clone().into_bytes(),
        );
    }
    writes.audit(
        store,
        now,
        &format!("notice_queued_{}", request.kind.name()),
        request.about.as_deref().unwrap_or("-"),
        None,
        None,
    )?;
    Ok(Some(id))
}

/// Which waiting notices a delivery tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Those due: never tried, or past the wait after their last failure (a pass).
    Respect,
    /// All of them, now (`portal outbox retry`).
    Ignore,
}

/// How long a notice waits after its `attempts`-th transient failure in a row: the
/// next pass after the first, then 5, 10, 20 and 40 minutes, then an hour at most. It
/// is never given up: a notice refused only for now (a full mailbox, greylisting, a
/// server down) goes out once the server takes it.
pub fn retry_delay(attempts: u32) -> chrono::Duration {
    let minutes = match attempts {
        0 | 1 => 0,
        n => (5i64 << (n - 2).min(4)).min(60),
    };
    chrono::Duration::minutes(minutes)
}

/// Sends the notices waiting in the outbox (those due, or all with
/// [`Backoff::Ignore`]), marking each sent (durably) as soon as it went out. When the
/// server cannot be reached at all, the notices after the first are not tried in this
/// run: they wait with the same error.
pub fn deliver_pending(
    intake: &Intake<'_>,
    report: &mut PassReport,
    now: DateTime<Utc>,
    backoff: Backoff,
) -> Result<()> {
    let store = intake.store;
    let pending = store.pending_notices()?;
    if pending.is_empty() {
        return Ok(());
    }
    let from = intake.composer.from().email.to_string();
    // Set once the server could not be reached: the error the rest wait with. When an
    // earlier delivery of this run found so, the notices it deferred then are left as
    // they are (one attempt a run), and only new ones are deferred.
    let mut unreachable: Option<String> = intake.transport.down().map(str::to_owned);
    let only_new = unreachable.is_some();
    let mut untried = Writes::default();
    for mut notice in pending {
        if backoff == Backoff::Respect && !notice.delivery.is_due(now) {
            continue;
        }
        if let Some(error) = &unreachable {
            let new = matches!(notice.delivery, Delivery::Pending { attempts: 0, .. });
            if new || !only_new {
                defer(&mut notice, error.clone(), now);
                crate::store::put_notice(&mut untried, &notice)?;
            }
            continue;
        }
        let result = intake.transport.send(&from, &notice.to, &notice.raw);
        failpoint::hit("after_send");
        let mut writes = Writes::default();
        match result {
            Ok(()) => {
                tracing::info!(notice = notice.id, kind = %notice.kind, "notice sent");
                notice.delivery = Delivery::Sent { at: now };
                report.notices_sent += 1;
                writes.audit(
                    store,
                    now,
                    "notice_sent",
                    &notice.id.to_string(),
                    None,
                    None,
                )?;
            }
            Err(SendError::Unreachable(message)) => {
                defer(&mut notice, message.clone(), now);
                tracing::warn!(notice = notice.id, kind = %notice.kind, error = %message, "the mail server cannot be reached; notices wait for a later pass");
                unreachable = Some(message);
            }
            Err(SendError::Transient(message)) => {
                defer(&mut notice, message.clone(), now);
                tracing::warn!(notice = notice.id, kind = %notice.kind, error = %message, "notice not sent; it waits for a later pass");
            }
            Err(SendError::Permanent(message)) => {
                tracing::error!(notice = notice.id, kind = %notice.kind, error = %message, "notice refused for good");
                // Staff see the refusal on the ticket it concerns.
                if let Some(about) = notice
                    .about
                    .as_deref()
                    .filter(|about| about.starts_with("PRP-"))
                    && let Some(mut ticket) =
                        store.get::<crate::store::Ticket>(Tree::Tickets, about)?
                {
                    ticket.notice_failures.push(crate::store::NoticeFailure {
                        notice: notice.id,
                        kind: notice.kind.clone(),
                        at: now,
                        error: message.clone(),
                    });
                    writes.put(Tree::Tickets, about, &ticket)?;
                }
                notice.delivery = Delivery::Failed {
                    at: now,
                    error: message,
                };
                report.notices_failed += 1;
                writes.audit(
                    store,
                    now,
                    "notice_failed",
                    &notice.id.to_string(),
                    None,
                    None,
                )?;
            }
        }
        crate::store::put_notice(&mut writes, &notice)?;
        store.apply(writes)?;
        // Durable before the next notice goes out: a crash can then send only the
        // notice in flight twice, never every notice of the batch.
        store.flush()?;
        failpoint::hit("after_mark_sent");
    }
    if unreachable.is_some() {
        store.apply(untried)?;
        store.flush()?;
    }
    Ok(())
}

/// Records a transient failure on a waiting notice and when to try it again.
fn defer(notice: &mut Notice, error: String, now: DateTime<Utc>) {
    let attempts = match notice.delivery {
        Delivery::Pending { attempts, .. } => attempts + 1,
        Delivery::Sent { .. } | Delivery::Failed { .. } => 1,
    };
    notice.delivery = Delivery::Pending {
        attempts,
        last_error: Some(error),
        next_attempt: Some(now + retry_delay(attempts)),
    };
}
