//! A staff decision's notices: queued with the decision in one transaction, flushed,
//! then sent at once — those notices only; whatever else waits in the outbox is the
//! next pass's business.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use crate::intake::{Intake, NoticeRequest, PassReport, deliver, queue_notice};
use crate::store::{Delivery, Writes};

/// One notice of a decision and how it fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSent {
    /// The outbox id.
    pub id: u64,
    pub to: String,
    /// The delivery after the attempt to send it at once.
    pub delivery: Delivery,
}

/// Queues `requests` into `writes`, records everything in one transaction, flushes,
/// and sends those notices; returns each one's delivery, in the order asked.
pub(crate) fn record_and_send(
    intake: &Intake<'_>,
    mut writes: Writes,
    requests: Vec<NoticeRequest<'_>>,
    now: DateTime<Utc>,
) -> Result<Vec<NoticeSent>> {
    let store = intake.store;
    let mut queued = Vec::with_capacity(requests.len());
    for request in requests {
        // Never held back: a decision's notice is not an unsolicited answer.
        queued.push(queue_notice(intake, &mut writes, &mut Default::default(), request, now)?.id);
    }
    store.apply(writes)?;
    store.flush().context("cannot record the decision")?;
    let mut notices = Vec::with_capacity(queued.len());
    for id in &queued {
        notices.push(
            store
                .notice(*id)?
                .context("the decision's notice was just recorded")?,
        );
    }
    deliver(intake, notices, &mut PassReport::default(), now)?;
    queued
        .into_iter()
        .map(|id| {
            let notice = store
                .notice(id)?
                .context("the decision's notice was just recorded")?;
            Ok(NoticeSent {
                id,
                to: notice.to,
                delivery: notice.delivery,
            })
        })
        .collect()
}
