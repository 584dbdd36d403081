//! The intake pipeline: source → classify → validate → store → notify → acknowledge.
//!
//! For every message the order is fixed, so a run killed at any instant and started
//! again files nothing twice and loses nothing: **record** (the ticket, registration
//! or inquiry, the processed-message record and the rendered notices, in one
//! transaction) → **flush** → **send** each notice → **mark it sent** → **move** the
//! message out of the inbox. A batch of messages shares each flush. A message found
//! again (by Message-ID or by the hash of its bytes) is only moved; a notice recorded
//! but not marked sent is sent again, so a crash can send one notice twice at most.

pub mod notices;
mod submission;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::Chicago;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::failpoint;
use crate::mail::notice::Composer;
use crate::mail::transport::Sender;
use crate::mail::{Folder, MailSource, Waiting};
use crate::store::{Delivery, MessageRecord, Notice, Outcome, RECORD_VERSION, Store, Tree, Writes};

pub use notices::{Backoff, deliver_pending, queue_notice, retry_delay};

/// Messages recorded before one shared flush.
const BATCH: usize = 32;
/// The most message bytes of a batch fetched ahead in one round trip.
const PREFETCH_BYTES: u64 = 16 * 1024 * 1024;

/// Which mailbox a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mailbox {
    Intake,
    Inquiries,
}

impl Mailbox {
    pub fn name(self) -> &'static str {
        match self {
            Mailbox::Intake => "intake",
            Mailbox::Inquiries => "inquiries",
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub messages: usize,
    pub already_processed: usize,
    pub quarantined: usize,
    pub tickets: Vec<String>,
    pub registrations: Vec<String>,
    pub inquiries: Vec<String>,
    pub not_registered: usize,
    pub automatic: usize,
    pub notices_sent: usize,
    pub notices_waiting: usize,
    pub notices_failed: usize,
}

/// Everything a pass works with.
pub struct Intake<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub composer: &'a Composer,
    pub transport: &'a dyn Sender,
    /// Set (by a signal) to stop after the message in hand.
    pub stop: Option<&'a AtomicBool>,
}

impl Intake<'_> {
    fn stopping(&self) -> bool {
        self.stop.is_some_and(|stop| stop.load(Ordering::SeqCst))
    }
}

/// One message, handled and ready to record.
pub(crate) struct Handled {
    pub writes: Writes,
    pub record: MessageRecord,
    pub folder: Folder,
}

/// Per-pass bookkeeping shared by the messages of a pass. What a message adds is
/// kept only when its handling succeeds: a message that fails half-way (and is
/// quarantined) leaves no claim or notice count behind for the messages after it.
#[derive(Default)]
pub struct PassState {
    /// Notices queued per `address|day` in this pass, on top of the stored counts.
    pub sent_counts: Journaled<u32>,
    /// Claims forwarded in this pass (`MCO|tracking|claim` → ticket).
    pub forwarded: Journaled<String>,
}

impl PassState {
    /// Keeps what the message in hand added.
    fn commit(&mut self) {
        self.sent_counts.commit();
        self.forwarded.commit();
    }

    /// Forgets what the message in hand added.
    fn roll_back(&mut self) {
        self.sent_counts.roll_back();
        self.forwarded.roll_back();
    }
}

/// A map that remembers what changed since its last commit, so the changes can be
/// undone.
#[derive(Debug)]
pub struct Journaled<V> {
    map: HashMap<String, V>,
    /// Each key changed since the commit, with its value before.
    undo: Vec<(String, Option<V>)>,
}

impl<V> Default for Journaled<V> {
    fn default() -> Self {
        Journaled {
            map: HashMap::new(),
            undo: Vec::new(),
        }
    }
}

impl<V> Journaled<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub fn insert(&mut self, key: String, value: V) {
        let before = self.map.insert(key.clone(), value);
        self.undo.push((key, before));
    }

    pub fn commit(&mut self) {
        self.undo.clear();
    }

    pub fn roll_back(&mut self) {
        while let Some((key, before)) = self.undo.pop() {
            match before {
                Some(value) => self.map.insert(key, value),
                None => self.map.remove(&key),
            };
        }
    }
}

/// The day in Illinois of an instant: the R1 received date.
pub fn illinois_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Chicago).date_naive()
}

/// SHA-256 of the raw bytes, hex.
pub fn hash(raw: &[u8]) -> String {
    Sha256::digest(raw)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Intake<'_> {
    /// One pass over each mailbox: every waiting message handled, notices sent, and
    /// the inbox emptied into `Processed` and `Quarantine`. `now` is the clock.
    pub fn pass(
        &self,
        mailboxes: &mut [(Mailbox, &mut dyn MailSource)],
        now: DateTime<Utc>,
    ) -> Result<PassReport> {
        let mut report = PassReport::default();
        let mut state = PassState::default();
        // Notices left from an earlier run go out first.
        deliver_pending(self, &mut report, now, Backoff::Respect)?;
        for (mailbox, source) in mailboxes.iter_mut() {
            let waiting = source
                .list()
                .with_context(|| format!("cannot list the {} mailbox", mailbox.name()))?;
            // Drives the progress bar on a terminal (src/logging.rs).
            tracing::info!(mailbox = mailbox.name(), waiting = waiting.len() as u64, "mailbox listed");
            for batch in waiting.chunks(BATCH) {
                if self.stopping() {
                    break;
                }
                self.batch(*mailbox, &mut **source, batch, &mut state, &mut report, now)?;
            }
        }
        report.notices_waiting = self.store.pending_count();
        tracing::info!(
            messages = report.messages as u64,
            tickets = report.tickets.len() as u64,
            quarantined = report.quarantined as u64,
            notices_sent = report.notices_sent as u64,
            notices_waiting = report.notices_waiting as u64,
            "pass finished"
        );
        Ok(report)
    }

    fn batch(
        &self,
        mailbox: Mailbox,
        source: &mut dyn MailSource,
        batch: &[Waiting],
        state: &mut PassState,
        report: &mut PassReport,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut moves: Vec<(String, Folder)> = Vec::with_capacity(batch.len());
        // A message larger than the portal takes is never read whole: only its header,
        // to answer the sender.
        let max = self.config.mail.max_message_bytes;
        // The batch's messages fetched in one round trip, as far as a memory budget goes.
        let mut budget = PREFETCH_BYTES;
        let ahead: Vec<&str> = batch
            .iter()
            .filter(|waiting| {
                let take = waiting.size <= max && waiting.size <= budget;
                if take {
                    budget -= waiting.size;
                }
                take
            })
            .map(|waiting| waiting.id.as_str())
            .collect();
        source.prefetch(&ahead);
        for waiting in batch {
            if self.stopping() {
                break;
            }
            let fetched = if waiting.size > max {
                source.fetch_header(&waiting.id)
            } else {
                source.fetch(&waiting.id)
            };
            let raw = match fetched {
                Ok(raw) => raw,
                // The mailbox itself failed (a dropped connection): the pass fails, and
                // the next one starts afresh.
                Err(crate::mail::SourceError::Lost(error)) => {
                    return Err(
                        error.context(format!("cannot fetch from the {} mailbox", mailbox.name()))
                    );
                }
                // Gone since it was listed (another client moved it), or refused for
                // now: it stays in the inbox for the next pass.
                Err(error) => {
                    tracing::warn!(mailbox = mailbox.name(), id = %waiting.id, error = %format!("{error:#}"), "message not fetched; left in the inbox");
                    continue;
                }
            };
            report.messages += 1;
            let digest = hash(&raw);
            let message_id = crate::mail::classify::message_id_of(&raw);
            let known = self.store.processed(&digest, message_id.as_deref())?;
            if let Some(record) = &known
                && !record.released
            {
                report.already_processed += 1;
                let folder = if record.outcome.is_quarantined() {
                    Folder::Quarantine
                } else {
                    Folder::Processed
                };
                moves.push((waiting.id.clone(), folder));
                continue;
            }
            // Released by staff and now read otherwise (whole, where only its header was
            // read when it was too large): its new record replaces the old one.
            let replaced = known
                .map(|record| record.hash)
                .filter(|earlier| *earlier != digest);
            // A message that cannot be handled is quarantined, never allowed to stop
            // the run or to block the messages behind it.
            let mut handled =
                match submission::handle(self, mailbox, waiting, &raw, &digest, state, now) {
                    Ok(handled) => {
                        state.commit();
                        handled
                    }
                    Err(error) => {
                        state.roll_back();
                        quarantine_unhandled(mailbox, waiting, &raw, &digest, &error, now)?
                    }
                };
            if let Some(earlier) = replaced {
                handled.writes.remove(Tree::Messages, &earlier);
                handled.writes.remove(Tree::Raw, &earlier);
            }
            tally(report, &handled.record.outcome);
            tracing::info!(
                mailbox = mailbox.name(),
                hash = &digest[..12],
                outcome = %handled.record.outcome.label(),
                "message handled"
            );
            moves.push((waiting.id.clone(), handled.folder));
            self.store.apply(handled.writes)?;
            failpoint::hit("after_record");
        }
        self.store.flush()?;
        failpoint::hit("after_flush");
        deliver_pending(self, report, now, Backoff::Respect)?;
        // One move per folder for the whole batch (one IMAP round trip, not one each).
        for folder in [Folder::Processed, Folder::Quarantine] {
            let ids: Vec<String> = moves
                .iter()
                .filter(|(_, to)| *to == folder)
                .map(|(id, _)| id.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            source
                .finish_many(&ids, folder)
                .with_context(|| format!("cannot move messages to {}", folder.name()))?;
            for _ in &ids {
                failpoint::hit("after_move");
            }
        }
        Ok(())
    }
}

/// The record of a message whose handling failed: quarantined, with the error's first
/// line (which names the step, never message content).
fn quarantine_unhandled(
    mailbox: Mailbox,
    waiting: &Waiting,
    raw: &[u8],
    digest: &str,
    error: &anyhow::Error,
    now: DateTime<Utc>,
) -> Result<Handled> {
    let why = format!(
        "could not be handled: {}",
        error.to_string().chars().take(200).collect::<String>()
    );
    let from = crate::mail::classify::from_of(raw).unwrap_or_default();
    let record = message_record(
        mailbox,
        waiting,
        digest,
        crate::mail::classify::message_id_of(raw),
        &from,
        Outcome::Quarantined { why },
        Vec::new(),
        now,
    );
    let mut writes = Writes::default();
    record_message(&mut writes, &record, raw)?;
    Ok(Handled {
        writes,
        record,
        folder: Folder::Quarantine,
    })
}

fn tally(report: &mut PassReport, outcome: &Outcome) {
    match outcome {
        Outcome::Tickets { ids } => report.tickets.extend(ids.iter().cloned()),
        Outcome::Registration { id } => report.registrations.push(id.clone()),
        Outcome::Inquiry { id } => report.inquiries.push(id.clone()),
        Outcome::NotRegistered => report.not_registered += 1,
        Outcome::Automatic => report.automatic += 1,
        Outcome::Quarantined { .. } => report.quarantined += 1,
        Outcome::Correspondence { .. } | Outcome::Help => {}
    }
}

/// The processed-message record for a handled message.
#[allow(clippy::too_many_arguments)]
pub(crate) fn message_record(
    mailbox: Mailbox,
    waiting: &Waiting,
    digest: &str,
    message_id: Option<String>,
    from: &str,
    outcome: Outcome,
    notices: Vec<u64>,
    now: DateTime<Utc>,
) -> MessageRecord {
    MessageRecord {
        v: RECORD_VERSION,
        hash: digest.to_owned(),
        message_id,
        mailbox: mailbox.name().to_owned(),
        source_id: waiting.id.clone(),
        from: from.to_owned(),
        received_at: waiting.received_at,
        processed_at: now,
        outcome,
        notices,
        released: false,
    }
}

/// Records a processed message under its hash and its Message-ID, with its raw bytes.
pub(crate) fn record_message(
    writes: &mut Writes,
    record: &MessageRecord,
    raw: &[u8],
) -> Result<()> {
    writes.put(Tree::Messages, &record.hash, record)?;
    if let Some(message_id) = &record.message_id {
        writes.put_bytes(
            Tree::MessageIds,
            message_id,
            record.hash.clone().into_bytes(),
        );
    }
    writes.put_bytes(Tree::Raw, &record.hash, raw.to_vec());
    Ok(())
}

/// True when a notice is still to be delivered.
pub fn is_pending(notice: &Notice) -> bool {
    matches!(notice.delivery, Delivery::Pending { .. })
}

#[cfg(test)]
mod tests {
    use super::Journaled;

    #[test]
    fn a_journaled_map_rolls_back_to_its_last_commit() {
        let mut map = Journaled::default();
        map.insert("a".to_owned(), 1);
        map.commit();
        map.insert("a".to_owned(), 2);
        map.insert("b".to_owned(), 3);
        map.insert("b".to_owned(), 4);
        map.roll_back();
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map.get("b"), None);
        map.insert("b".to_owned(), 5);
        map.commit();
        map.roll_back();
        assert_eq!(map.get("b"), Some(&5));
    }
}
