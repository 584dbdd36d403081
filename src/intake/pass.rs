//! One pass over the mailboxes. For every message the order is fixed, so a run
//! killed at any instant and started again files nothing twice and loses nothing:
//!
//! **list** the inbox → **fetch** a batch → **dedupe** (a message whose bytes or
//! Message-ID were handled before is only moved) → **route** (handle it: the ticket,
//! registration or inquiry, the processed-message record and the rendered notices,
//! built as one set of writes) → **record** (those writes in one transaction) →
//! **flush** (once per batch) → **send** each notice → **mark** it sent (flushed
//! before the next goes out) → **move** the batch out of the inbox.
//!
//! After the mailboxes, the first pass of each Illinois day does the day's work
//! (`daily.rs`: overdue reminders, the staff digest) and sends what it queued; every
//! pass ends by rewriting the public statistics file (`crate::statistics`).
//!
//! A message already recorded is routed again from its stored bytes, outside any
//! pass, only when staff vouch for its unauthenticated sender ([`Intake::handle_stored`]).
//!
//! A notice recorded but not marked sent is sent again, so a crash can send one
//! notice twice at most; a message recorded but not moved is only moved by the next
//! pass. A message that cannot be handled is quarantined, never allowed to stop the
//! run; a fault of the store itself is not the message's doing, so it stops the pass
//! (exit 2) and quarantines nothing.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::context::{Handled, Incoming};
use super::daily::{Daily, daily};
use super::dedupe::{redelivery_of, same_bytes};
use super::notices::{Backoff, deliver_pending};
use super::{
    Figures, Intake, Mailbox, PassReport, PassState, attachment_digests, hash, illinois_day, router,
};
use crate::failpoint;
use crate::mail::classify::{self, message_id_of};
use crate::mail::{Folder, MailSource, SourceError, Waiting};
use crate::store::{MessageRecord, Outcome, StoreError, Tree};

/// Messages recorded before one shared flush.
const BATCH: usize = 32;
/// The most message bytes of a batch fetched ahead in one round trip.
const PREFETCH_BYTES: u64 = 16 * 1024 * 1024;

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
        if !self.config.mail.authentication.is_on() {
            // Once a pass, so that no log of the intake hides it (R6).
            tracing::warn!(
                "sender authentication is off ([mail.authentication] trusted_authserv_ids is empty): every From address is trusted to be the sender"
            );
        }
        // Notices left from an earlier run go out first.
        deliver_pending(self, &mut report, now, Backoff::Respect)?;
        for (mailbox, source) in mailboxes.iter_mut() {
            let waiting = source
                .list()
                .with_context(|| format!("cannot list the {mailbox} mailbox"))?;
            // Drives the progress bar on a terminal (src/logging.rs).
            tracing::info!(
                mailbox = mailbox.as_str(),
                waiting = waiting.len() as u64,
                "mailbox listed"
            );
            for batch in waiting.chunks(BATCH) {
                if self.stopping() {
                    break;
                }
                self.batch(*mailbox, &mut **source, batch, &mut state, &mut report, now)?;
            }
        }
        // The day's work sees this pass's mail; a pass told to stop leaves it to the next.
        if !self.stopping() {
            self.daily_work(&mut report, now)?;
        }
        // The public figures, from what this pass recorded; a file that cannot be
        // written is logged and never fails the pass.
        if self.figures == Figures::Publish {
            crate::statistics::publish_or_log(self.config, self.store, now);
        }
        report.notices_waiting = self.store.pending_count();
        tracing::info!(
            messages = report.messages as u64,
            tickets = report.tickets.len() as u64,
            quarantined = report.quarantined as u64,
            unauthenticated = report.unauthenticated as u64,
            notices_sent = report.notices_sent as u64,
            notices_waiting = report.notices_waiting as u64,
            reminders = report.reminders as u64,
            digest_sent = report.digest_sent,
            "pass finished"
        );
        Ok(report)
    }

    /// The day's work, on the day's first pass: recorded (the day marked done with
    /// it), then sent like every notice.
    fn daily_work(&self, report: &mut PassReport, now: DateTime<Utc>) -> Result<()> {
        let turn = self.store.turn();
        let daily = daily(self, illinois_day(now), now)?;
        drop(turn);
        report.reminders = daily.reminders;
        report.digest_sent = daily.digest;
        if daily != Daily::default() {
            deliver_pending(self, report, now, Backoff::Respect)?;
        }
        Ok(())
    }

    /// One batch: fetched, each message deduped or handled and recorded, one flush,
    /// the notices sent, the messages moved.
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
        self.prefetch(source, batch);
        for waiting in batch {
            if self.stopping() {
                break;
            }
            let Some(raw) = self.fetch(mailbox, source, waiting)? else {
                continue;
            };
            report.messages += 1;
            // The store's turn for this message only: a staff command gets in between.
            let turn = self.store.turn();
            let folder = self.take(mailbox, waiting, &raw, state, report, now)?;
            drop(turn);
            moves.push((waiting.id.clone(), folder));
        }
        self.store.flush()?;
        failpoint::hit("after_flush");
        deliver_pending(self, report, now, Backoff::Respect)?;
        move_out(source, &moves)
    }

    /// Fetches the batch's messages in one round trip, as far as a memory budget
    /// goes. A message larger than the portal takes is never read whole (only its
    /// header, to answer the sender), so it is not fetched ahead either.
    fn prefetch(&self, source: &mut dyn MailSource, batch: &[Waiting]) {
        let max = self.config.mail.max_message_bytes;
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
    }

    /// A message's bytes (only its header when it is too large), or `None` when it
    /// could not be had now: it stays in the inbox for the next pass. A mailbox that
    /// failed altogether fails the pass.
    fn fetch(
        &self,
        mailbox: Mailbox,
        source: &mut dyn MailSource,
        waiting: &Waiting,
    ) -> Result<Option<Vec<u8>>> {
        let fetched = if waiting.size > self.config.mail.max_message_bytes {
            source.fetch_header(&waiting.id)
        } else {
            source.fetch(&waiting.id)
        };
        match fetched {
            Ok(raw) => Ok(Some(raw)),
            // The mailbox itself failed (a dropped connection): the pass fails, and the
            // next one starts afresh.
            Err(SourceError::Lost(error)) => {
                Err(error.context(format!("cannot fetch from the {mailbox} mailbox")))
            }
            // Gone since it was listed (another client moved it), or refused for now:
            // it stays in the inbox for the next pass.
            Err(error) => {
                tracing::warn!(mailbox = mailbox.as_str(), id = %waiting.id, error = %format!("{error:#}"), "message not fetched; left in the inbox");
                Ok(None)
            }
        }
    }

    /// Dedupes, routes and records one message; returns the folder it goes to.
    fn take(
        &self,
        mailbox: Mailbox,
        waiting: &Waiting,
        raw: &[u8],
        state: &mut PassState,
        report: &mut PassReport,
        now: DateTime<Utc>,
    ) -> Result<Folder> {
        let digest = hash(raw);
        let by_bytes = same_bytes(self.store, &digest)?;
        if let Some(record) = &by_bytes
            && !record.released
        {
            report.already_processed += 1;
            return Ok(folder_for(&record.outcome));
        }
        // Parsed once, here: the re-delivery check and the router both read it. A
        // message too large to take was fetched by its header alone, which parses too.
        let parsed = classify::parse(raw);
        // Too large by the mailbox's count or by the bytes fetched: read by its header
        // alone, and routed so.
        let max = self.config.mail.max_message_bytes;
        let too_large = waiting.size > max || raw.len() as u64 > max;
        let attachments = parsed
            .as_ref()
            .filter(|_| !too_large)
            .map(attachment_digests);
        let message_id = message_id_of(raw);
        let known = match by_bytes {
            Some(record) => Some(record),
            None => redelivery_of(
                self.store,
                mailbox,
                &digest,
                message_id.as_deref(),
                parsed.as_ref(),
                attachments.as_deref(),
            )?,
        };
        if let Some(record) = &known
            && !record.released
        {
            report.already_processed += 1;
            return Ok(folder_for(&record.outcome));
        }
        let incoming = Incoming {
            mailbox,
            waiting,
            raw,
            digest: &digest,
            message_id,
            parsed,
            attachments,
            too_large,
            received_on: illinois_day(waiting.received_at),
            now,
            sender_trusted: false,
        };
        let mut handled = match router::handle(self, &incoming, state) {
            Ok(handled) => {
                state.commit();
                handled
            }
            Err(error) if is_store_fault(&error) => {
                state.roll_back();
                return Err(error.context(
                    "the store failed while a message was handled; it stays in the inbox",
                ));
            }
            Err(error) => {
                state.roll_back();
                let from = incoming
                    .parsed
                    .as_ref()
                    .and_then(|parsed| parsed.from.clone());
                Handled::quarantined(self.store, &incoming, &unhandled_why(&error), from)?
            }
        };
        // Released by staff and now read otherwise (whole, where only its header was
        // read when it was too large): its new record replaces the old one.
        if let Some(earlier) = known
            .map(|record| record.hash)
            .filter(|earlier| *earlier != digest)
        {
            handled.writes.remove(Tree::Messages, &earlier);
            handled.writes.remove(Tree::Raw, &earlier);
        }
        tally(report, &handled.record.outcome);
        report.notices_suppressed += handled.suppressed;
        tracing::info!(
            mailbox = mailbox.as_str(),
            hash = &digest[..12],
            outcome = %handled.record.outcome.label(),
            "message handled"
        );
        let folder = folder_for(&handled.record.outcome);
        self.store.apply(handled.writes)?;
        failpoint::hit("after_record");
        Ok(folder)
    }
}

impl Intake<'_> {
    /// Routes a message already recorded, from its stored bytes, as the pass did on
    /// the day it came (its mailbox, the time its mailbox received it, read by its
    /// header alone when it was too large) — with its sender taken as authenticated
    /// when `trusted` (staff vouched for it). Returns the writes and the record that
    /// replace its own; nothing is stored here, nothing is moved.
    pub(crate) fn handle_stored(
        &self,
        record: &MessageRecord,
        raw: &[u8],
        trusted: bool,
        now: DateTime<Utc>,
    ) -> Result<Handled> {
        let waiting = Waiting {
            id: record.source_id.clone(),
            received_at: record.received_at,
            size: raw.len() as u64,
        };
        let parsed = classify::parse(raw);
        // A message read by its header alone (too large) was recorded without the
        // digests of its attachments.
        let too_large = record.attachments.is_none();
        let attachments = parsed
            .as_ref()
            .filter(|_| !too_large)
            .map(attachment_digests);
        let incoming = Incoming {
            mailbox: record.mailbox,
            waiting: &waiting,
            raw,
            digest: &record.hash,
            message_id: record.message_id.clone(),
            parsed,
            attachments,
            too_large,
            received_on: illinois_day(record.received_at),
            now,
            sender_trusted: trusted,
        };
        router::handle(self, &incoming, &mut PassState::default())
    }
}

/// One move per folder for the whole batch (one IMAP round trip, not one each).
fn move_out(source: &mut dyn MailSource, moves: &[(String, Folder)]) -> Result<()> {
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

fn folder_for(outcome: &Outcome) -> Folder {
    if outcome.is_quarantined() {
        Folder::Quarantine
    } else {
        Folder::Processed
    }
}

/// True when the store itself failed somewhere under this error.
fn is_store_fault(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<StoreError>())
}

/// Why a message could not be handled, for its record: the error's first line (which
/// names the step, never message content).
fn unhandled_why(error: &anyhow::Error) -> String {
    format!(
        "could not be handled: {}",
        error.to_string().chars().take(200).collect::<String>()
    )
}

fn tally(report: &mut PassReport, outcome: &Outcome) {
    match outcome {
        Outcome::Tickets { ids } => report.tickets.extend(ids.iter().copied()),
        Outcome::Registration { id, more, tickets } => {
            report.registrations.push(*id);
            report.registrations.extend(more.iter().copied());
            report.tickets.extend(tickets.iter().copied());
        }
        Outcome::Inquiry { id } => report.inquiries.push(*id),
        Outcome::NotRegistered => report.not_registered += 1,
        Outcome::Automatic => report.automatic += 1,
        Outcome::Quarantined { .. } => report.quarantined += 1,
        Outcome::Unauthenticated => report.unauthenticated += 1,
        Outcome::Correspondence { .. }
        | Outcome::Proposal { .. }
        | Outcome::ExtensionRequest { .. }
        | Outcome::Help => {}
    }
}
