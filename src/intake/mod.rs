//! The intake: every message in the intake and portal-inquiries mailboxes read,
//! classified once, handled by the one route it belongs to, recorded, answered and
//! moved out of the inbox.
//!
//! The files, in the order a message meets them:
//! - [`pass`]: the pass itself — list → fetch → dedupe → route → record → flush →
//!   send → mark → move. The order is what makes a crash safe (see there).
//! - [`router`]: parses a message once and tells which [`router::Route`] it takes,
//!   sender authentication (`mail::auth`) deciding first whether intake acts on it.
//! - one file per route: [`refused`] (too large, too many files, not a message, no
//!   sender, automatic mail), [`inquiry`], [`registration`], [`ticket`],
//!   [`correspondence`], [`help`] (how to submit; please register first), [`mco`]
//!   (mail from an MCO: a proposal, or mail without a ticket), [`extension`] (a
//!   request for the one extension, from the provider or the MCO).
//! - [`context`]: what every route works with — the message, its reply address, the
//!   changes being built — and the one helper that answers a sender.
//! - [`dedupe`]: whether a message was handled before (R12).
//! - [`sheets`]: the spreadsheets found among a message's attachments.
//! - [`notices`]: queuing notices in the outbox and delivering them.
//! - [`daily`]: the first pass of each Illinois day's work after the mailboxes:
//!   overdue reminders and the staff digest.
//! - [`state`]: the bookkeeping a pass shares between its messages.
//! - [`watch`]: `intake --watch`, a pass as mail arrives (IMAP IDLE, a Maildir
//!   watcher) and a safety pass every interval.
//!
//! The router imports the routes; the routes import `context`, `sheets` and
//! `notices`, which sit below them; nothing imports the router but `pass`.

mod context;
mod correspondence;
mod daily;
mod dedupe;
mod extension;
mod help;
mod inquiry;
mod mco;
pub mod notices;
mod pass;
mod refused;
mod registration;
mod router;
mod sheets;
mod state;
mod ticket;
pub mod watch;

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::Chicago;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, MailboxKind};
use crate::ids::{InquiryId, RegistrationId, TicketId};
use crate::mail::MailSource;
use crate::mail::notice::Composer;
use crate::mail::transport::Sender;
use crate::services::Services;
use crate::store::{Store, Tree, Writes};

pub use crate::store::Mailbox;
pub use notices::{
    Backoff, NoticeRequest, Queued, deliver, deliver_pending, queue_notice, retry_delay,
};
pub use sheets::MAX_WORKBOOKS;
pub use state::{Journaled, PassState};

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub messages: usize,
    pub already_processed: usize,
    pub quarantined: usize,
    pub tickets: Vec<TicketId>,
    pub registrations: Vec<RegistrationId>,
    pub inquiries: Vec<InquiryId>,
    pub not_registered: usize,
    pub automatic: usize,
    /// Mail to intake whose sender was not authenticated: quarantined, unanswered.
    pub unauthenticated: usize,
    pub notices_sent: usize,
    pub notices_waiting: usize,
    pub notices_failed: usize,
    /// Unsolicited answers held back by the daily limit (R12).
    pub notices_suppressed: usize,
    /// Overdue reminders queued to MCOs by the day's work (its first pass only).
    pub reminders: usize,
    /// The staff digest was queued by the day's work (and sent with the pass's
    /// notices).
    pub digest_sent: bool,
}

/// Everything a pass works with.
pub struct Intake<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub composer: &'a Composer,
    pub transport: &'a dyn Sender,
    /// Set (by a signal) to stop after the message in hand.
    pub stop: Option<&'a AtomicBool>,
    /// Whether a pass ends by rewriting the public statistics file.
    pub figures: Figures,
}

/// Whether a pass ends by rewriting the public statistics file
/// (`[store] statistics_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figures {
    /// At the end of the pass (`--once`, `--every`, the demo).
    Publish,
    /// Not this time: `--watch` passes as mail arrives and rewrites the file at most
    /// once a minute.
    Defer,
}

impl Services {
    /// The intake over these services (a pass, or a staff decision's notice).
    pub fn intake<'a>(&'a self, config: &'a Config, stop: Option<&'a AtomicBool>) -> Intake<'a> {
        Intake {
            config,
            store: &self.store,
            composer: &self.composer,
            transport: self.transport.as_ref(),
            stop,
            figures: Figures::Publish,
        }
    }
}

impl Intake<'_> {
    fn stopping(&self) -> bool {
        self.stop.is_some_and(|stop| stop.load(Ordering::SeqCst))
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

/// The SHA-256 of each attachment, in a stable order: what makes two messages with one
/// Message-ID the same message (R12), kept even after the raw bytes are removed.
pub(crate) fn attachment_digests(parsed: &crate::mail::classify::Parsed) -> Vec<String> {
    let mut digests: Vec<String> = parsed
        .attachments
        .iter()
        .map(|attachment| hash(&attachment.bytes))
        .collect();
    digests.sort();
    digests
}

/// One pass with the configured store (created on the first pass), mailboxes and
/// transport; the store is held only while the pass runs. `stop` ends it after the
/// message in hand.
pub fn run_pass(config: &Config, stop: Option<&AtomicBool>) -> Result<PassReport> {
    let store = Store::open_or_create(&config.store.path)?;
    pass_over(config, &store, stop, Figures::Publish)
}

/// One pass over a store already open (an intake holds it for its whole run): the
/// composer, the transport and the mailboxes are made afresh for each pass, so a mail
/// server found down, or a mailbox that dropped, is tried again by the next.
pub fn pass_over(
    config: &Config,
    store: &Store,
    stop: Option<&AtomicBool>,
    figures: Figures,
) -> Result<PassReport> {
    let composer = Composer::new(&config.site.templates_dir, &config.mail.from)?;
    let transport = crate::mail::transport::from_config(&config.smtp)?;
    let mut intake_box = open_mailbox(config, Mailbox::Intake)?;
    let mut inquiries_box = open_mailbox(config, Mailbox::Inquiries)?;
    remember_validity(store, Mailbox::Intake, intake_box.validity())?;
    remember_validity(store, Mailbox::Inquiries, inquiries_box.validity())?;
    let intake = Intake {
        config,
        store,
        composer: &composer,
        transport: transport.as_ref(),
        stop,
        figures,
    };
    intake.pass(
        &mut [
            (Mailbox::Intake, &mut *intake_box),
            (Mailbox::Inquiries, &mut *inquiries_box),
        ],
        Utc::now(),
    )
}

/// The configured mailbox, opened (an IMAP one logged in).
pub fn open_mailbox(config: &Config, mailbox: Mailbox) -> Result<Box<dyn MailSource>> {
    let settings = match mailbox {
        Mailbox::Intake => &config.mail.intake,
        Mailbox::Inquiries => &config.mail.inquiries,
    };
    match &settings.kind {
        MailboxKind::Maildir { path } => Ok(Box::new(crate::mail::maildir::Maildir::open(path)?)),
        MailboxKind::Imap(server) => Ok(Box::new(crate::mail::imap::Imap::connect(
            server,
            mailbox.as_str(),
        )?)),
    }
}

/// Keeps each mailbox's UIDVALIDITY in the store and says when it changed: the pass
/// then rescans the whole inbox, and the processed-message records prevent duplicates.
fn remember_validity(store: &Store, mailbox: Mailbox, validity: Option<u32>) -> Result<()> {
    let Some(validity) = validity else {
        return Ok(());
    };
    let key = format!("uidvalidity:{mailbox}");
    let known = store.meta(&key)?;
    if known.as_deref() != Some(validity.to_string().as_str()) {
        if let Some(known) = known {
            tracing::warn!(mailbox = mailbox.as_str(), was = %known, now = validity, "UIDVALIDITY changed; rescanning the inbox");
        }
        let mut writes = Writes::default();
        writes.put_bytes(Tree::Meta, &key, validity.to_string().into_bytes());
        let _turn = store.turn();
        store
            .apply(writes)
            .context("cannot remember the mailbox's UIDVALIDITY")?;
    }
    Ok(())
}
