//! What every route works with, and the helpers they share. This module sits below
//! the routes (they import it; it imports none of them), so the answer-and-audit
//! step is written once here instead of once per route.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

use super::dedupe::messages_with_id;
use super::notices::{NoticeRequest, Queued, queue_notice};
use super::{Intake, Mailbox, PassState};
use crate::ids::RecordId;
use crate::mail::Waiting;
use crate::mail::classify::Parsed;
use crate::mail::notice::NoticeKind;
use crate::store::{MessageRecord, Outcome, RECORD_VERSION, Store, StoreResult, Tree, Writes};

/// The facts of one message, as the pass found it.
pub(crate) struct Incoming<'m> {
    pub mailbox: Mailbox,
    pub waiting: &'m Waiting,
    pub raw: &'m [u8],
    /// SHA-256 of `raw`, hex: the message's key in the store.
    pub digest: &'m str,
    pub message_id: Option<String>,
    /// The message parsed (`None`: not a mail message). Of a message too large to
    /// take, only the header was read and parsed.
    pub parsed: Option<Parsed>,
    /// The digests of its attachments ([`super::attachment_digests`]); `None` when
    /// the message was not read whole.
    pub attachments: Option<Vec<String>>,
    /// Larger than `max_message_bytes`: only its header was read.
    pub too_large: bool,
    /// The Illinois day the mailbox received it (R1).
    pub received_on: NaiveDate,
    /// The pass's clock.
    pub now: DateTime<Utc>,
    /// Staff vouched for its sender (`messages release --trust-sender`): handled as
    /// authenticated, whatever its headers say.
    pub sender_trusted: bool,
}

impl Incoming<'_> {
    /// The first twelve hex digits of the hash: how logs and the audit trail name a
    /// message without naming anything in it.
    pub fn short_hash(&self) -> &str {
        &self.digest[..12]
    }
}

/// Whom to answer, and the thread to answer in.
pub(crate) struct Reply {
    pub to: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// One route's working set: the pass's services, the message, the pass's shared
/// bookkeeping, and the writes and notices being built for this message. Nothing is
/// stored until the pass applies [`Handled::writes`].
pub(crate) struct Ctx<'a> {
    pub intake: &'a Intake<'a>,
    pub message: &'a Incoming<'a>,
    pub state: &'a mut PassState,
    pub writes: Writes,
    /// The outbox ids of the notices queued for this message.
    pub notices: Vec<u64>,
    /// Those of them the daily limit held back.
    pub suppressed: Vec<u64>,
}

/// One message, handled and ready to record.
pub(crate) struct Handled {
    pub writes: Writes,
    pub record: MessageRecord,
    /// Notices the daily limit held back, for the pass summary.
    pub suppressed: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(
        intake: &'a Intake<'a>,
        message: &'a Incoming<'a>,
        state: &'a mut PassState,
    ) -> Self {
        Ctx {
            intake,
            message,
            state,
            writes: Writes::default(),
            notices: Vec::new(),
            suppressed: Vec::new(),
        }
    }

    /// Queues an answer to the sender: an auto-reply in its thread (held back when it
    /// is unsolicited and the sender's daily limit is reached).
    pub fn answer(
        &mut self,
        reply: &Reply,
        kind: NoticeKind,
        subject: String,
        about: Option<RecordId>,
        context: serde_json::Value,
    ) -> Result<Queued> {
        self.notify(NoticeRequest {
            kind,
            to: &reply.to,
            subject,
            about,
            is_reply: true,
            in_reply_to: reply.in_reply_to.as_deref(),
            references: &reply.references,
            context,
            attachment: None,
        })
    }

    /// Queues any notice with this message's writes.
    pub fn notify(&mut self, request: NoticeRequest<'_>) -> Result<Queued> {
        let queued = queue_notice(
            self.intake,
            &mut self.writes,
            &mut self.state.sent_counts,
            request,
            self.message.now,
        )?;
        self.notices.push(queued.id);
        if queued.suppressed {
            self.suppressed.push(queued.id);
        }
        Ok(queued)
    }

    /// Adds an entry to the audit trail (ids and actions, never PHI).
    pub fn audit(&mut self, action: &str, subject: &str) -> StoreResult<()> {
        self.writes.audit(
            self.intake.store,
            self.message.now,
            action,
            subject,
            None,
            None,
        )
    }

    /// The message's record with its outcome, added to the writes with the raw bytes.
    pub fn finish(mut self, from: &str, outcome: Outcome) -> Result<Handled> {
        let action = format!("message_{}", outcome.word());
        let hash = self.message.short_hash().to_owned();
        self.audit(&action, &hash)?;
        let suppressed = self.suppressed.len();
        let mut record = record_of(self.message, from, outcome, self.notices);
        record.suppressed = self.suppressed;
        record_message(
            self.intake.store,
            &mut self.writes,
            &record,
            self.message.raw,
        )?;
        Ok(Handled {
            writes: self.writes,
            record,
            suppressed,
        })
    }
}

impl Handled {
    /// A message whose handling failed: quarantined with `why`, nothing else kept.
    pub fn quarantined(
        store: &Store,
        message: &Incoming<'_>,
        why: &str,
        from: Option<String>,
    ) -> Result<Handled> {
        let record = record_of(
            message,
            from.as_deref().unwrap_or(""),
            Outcome::Quarantined {
                why: why.to_owned(),
            },
            Vec::new(),
        );
        let mut writes = Writes::default();
        record_message(store, &mut writes, &record, message.raw)?;
        Ok(Handled {
            writes,
            record,
            suppressed: 0,
        })
    }
}

/// The processed-message record of a handled message.
fn record_of(
    message: &Incoming<'_>,
    from: &str,
    outcome: Outcome,
    notices: Vec<u64>,
) -> MessageRecord {
    MessageRecord {
        v: RECORD_VERSION,
        hash: message.digest.to_owned(),
        message_id: message.message_id.clone(),
        mailbox: message.mailbox,
        source_id: message.waiting.id.clone(),
        from: from.to_owned(),
        received_at: message.waiting.received_at,
        processed_at: message.now,
        outcome,
        notices,
        suppressed: Vec::new(),
        attachments: message.attachments.clone(),
        released: false,
        read: None,
        raw_removed: None,
        trusted: None,
    }
}

/// Records a processed message under its hash, with its raw bytes, and adds its hash
/// to those of its Message-ID (several messages may carry one, R12).
fn record_message(
    store: &Store,
    writes: &mut Writes,
    record: &MessageRecord,
    raw: &[u8],
) -> StoreResult<()> {
    writes.put(Tree::Messages, &record.hash, record)?;
    if let Some(message_id) = &record.message_id {
        let mut hashes = messages_with_id(store, message_id)?;
        if !hashes.contains(&record.hash) {
            hashes.push(record.hash.clone());
        }
        writes.put_bytes(Tree::MessageIds, message_id, hashes.join("\n").into_bytes());
    }
    writes.put_bytes(Tree::Raw, &record.hash, raw.to_vec());
    Ok(())
}
