//! `portal outbox retry`: every waiting notice sent now, whatever its backoff, and
//! with `--failed` the ones refused for good put back in the queue first.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::intake::{Backoff, Intake, PassReport, deliver_pending};
use crate::store::{Delivery, Writes, put_notice};

/// What a retry did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Retried {
    /// Failed notices put back in the queue.
    pub requeued: usize,
    pub sent: usize,
    /// Still waiting afterwards.
    pub waiting: usize,
    pub failed: usize,
}

/// Sends every waiting notice now; with `failed`, requeues the refused ones first.
pub fn retry(intake: &Intake<'_>, failed: bool, now: DateTime<Utc>) -> Result<Retried> {
    let store = intake.store;
    let mut requeued = 0;
    if failed {
        let mut writes = Writes::default();
        let refused = store
            .notice_summaries()?
            .into_iter()
            .filter(|notice| matches!(notice.delivery, Delivery::Failed { .. }));
        for summary in refused {
            let Some(mut notice) = store.notice(summary.id)? else {
                continue;
            };
            let Delivery::Failed { error, .. } = notice.delivery else {
                continue;
            };
            notice.delivery = Delivery::Pending {
                attempts: 0,
                last_error: Some(error),
                next_attempt: None,
            };
            put_notice(&mut writes, &notice)?;
            writes.audit(
                store,
                now,
                "notice_requeued",
                &notice.id.to_string(),
                None,
                None,
            )?;
            requeued += 1;
        }
        store.apply(writes)?;
        store.flush().context("cannot record the retry")?;
    }
    let mut report = PassReport::default();
    deliver_pending(intake, &mut report, now, Backoff::Ignore)?;
    Ok(Retried {
        requeued,
        sent: report.notices_sent,
        waiting: store.pending_count(),
        failed: report.notices_failed,
    })
}
