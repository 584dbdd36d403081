//! Putting a processed message back into its inbox (`portal messages release`), and
//! handling a message held for its unauthenticated sender as authenticated, on a
//! staff member's word (`portal messages release --trust-sender`).

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};

use super::send::NoticeSent;
use super::{refused, staff_name};
use crate::config::{Config, MailboxKind};
use crate::intake::{Intake, PassReport, deliver, illinois_day};
use crate::mail::maildir::Maildir;
use crate::mail::{Folder, MailSource as _};
use crate::store::{Mailbox, MessageRecord, Outcome, ReadMark, Store, Tree, Writes};

/// A message put back, and the folder it came from (`None`: it was already in the
/// inbox).
#[derive(Debug, Clone)]
pub struct Released {
    pub record: MessageRecord,
    pub moved_from: Option<Folder>,
}

/// The one processed message whose hash starts with `prefix` (from `messages list`).
/// No such message, or several, is [`super::Refused`]; a prefix that is no hash at
/// all is a usage error.
pub fn find_message(store: &Store, prefix: &str) -> Result<MessageRecord> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("{prefix:?} is not a message hash (or a prefix of one) from `portal messages list`");
    }
    let mut matches: Vec<MessageRecord> = store
        .all::<MessageRecord>(Tree::Messages)?
        .into_iter()
        .filter(|record| record.hash.starts_with(&prefix))
        .collect();
    match matches.len() {
        0 => Err(refused(format!(
            "there is no processed message whose hash starts with {prefix}"
        ))),
        1 => matches.pop().context("one match"),
        n => Err(refused(format!(
            "{n} messages have hashes starting with {prefix}; give more of the hash"
        ))),
    }
}

/// Puts a processed message back into its inbox: first the store is told (and
/// flushed) that the message is released, then the file moves, so a crash in between
/// leaves the message where it was rather than in an inbox the store would skip.
pub fn release(
    config: &Config,
    store: &Store,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<Released> {
    let mut record = find_message(store, prefix)?;
    let short = record.hash.get(..12).unwrap_or(&record.hash).to_owned();
    if let Some(removed) = record.raw_removed {
        return Err(refused(format!(
            "message {short} cannot be released: its raw bytes were removed on {}",
            crate::intake::illinois_day(removed)
        )));
    }
    let mailbox = match record.mailbox {
        Mailbox::Intake => &config.mail.intake,
        Mailbox::Inquiries => &config.mail.inquiries,
    };
    let MailboxKind::Maildir { path } = &mailbox.kind else {
        bail!(
            "mail.{}: releasing from an IMAP mailbox is not supported by this build; move the message back with a mail client",
            record.mailbox
        );
    };
    let mut maildir = Maildir::open(path)?;
    let id = record.source_id.clone();
    // Where it should be first, then the other folder.
    let folders = if record.outcome.is_quarantined() {
        [Folder::Quarantine, Folder::Processed]
    } else {
        [Folder::Processed, Folder::Quarantine]
    };
    let mut moved_from = None;
    for folder in folders {
        if maildir.ids(Some(folder))?.contains(&id) {
            moved_from = Some(folder);
            break;
        }
    }
    if moved_from.is_none() && !maildir.ids(None)?.contains(&id) {
        return Err(refused(format!(
            "message {short} ({id}) is in neither Quarantine, Processed nor the inbox of {}",
            path.display()
        )));
    }
    if !record.released {
        record.released = true;
        let mut writes = Writes::default();
        writes.put(Tree::Messages, &record.hash, &record)?;
        writes.audit(store, now, "message_released", &short, None, None)?;
        store.apply(writes)?;
        store.flush().context("cannot record the release")?;
    }
    if let Some(folder) = moved_from {
        maildir.release(&id, folder)?;
    }
    Ok(Released { record, moved_from })
}

/// A message handled as authenticated on a staff member's word: its record as it now
/// stands (the new outcome, `trusted`), and how each notice it queued fared.
#[derive(Debug, Clone)]
pub struct Trusted {
    pub record: MessageRecord,
    pub notices: Vec<NoticeSent>,
}

/// Handles a message held as `unauthenticated` from its stored bytes, as if its
/// sender had been authenticated: routed as the pass would have routed it (its
/// mailbox, the day it came), its new record, ticket or registration and notices
/// recorded in one transaction with `message_trusted` in the audit trail, flushed,
/// then those notices sent at once. No mail moves, so it works the same on IMAP and
/// Maildir: the message stays in Quarantine. Refused when the message is not
/// `unauthenticated` (trusted already, or never held) or its raw bytes are gone.
pub fn trust_sender(
    intake: &Intake<'_>,
    prefix: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Trusted> {
    let by = staff_name(by)?;
    let store = intake.store;
    let record = find_message(store, prefix)?;
    let short = record.hash.get(..12).unwrap_or(&record.hash).to_owned();
    if record.outcome != Outcome::Unauthenticated {
        let trusted = record.trusted.as_ref().map_or_else(String::new, |mark| {
            format!(" (its sender was trusted by {} already)", mark.by)
        });
        return Err(refused(format!(
            "message {short} is {}{trusted}; only a message held as unauthenticated can be handled with --trust-sender",
            record.outcome.label()
        )));
    }
    if let Some(at) = record.raw_removed {
        return Err(refused(format!(
            "message {short}: its raw bytes were removed on {}; it cannot be handled again",
            illinois_day(at)
        )));
    }
    let Some(raw) = store.get_bytes(Tree::Raw, &record.hash)? else {
        return Err(refused(format!(
            "message {short}: its raw bytes are no longer in the store; it cannot be handled again"
        )));
    };
    let mut handled = intake.handle_stored(&record, &raw, true, now)?;
    handled.record.trusted = Some(ReadMark {
        by: by.to_owned(),
        at: now,
    });
    let mut writes = handled.writes;
    writes.put(Tree::Messages, &record.hash, &handled.record)?;
    writes.audit(store, now, "message_trusted", &short, Some(by), None)?;
    store.apply(writes)?;
    store.flush().context("cannot record the trusted message")?;
    let notices = send_queued(intake, &handled.record, now)?;
    Ok(Trusted {
        record: handled.record,
        notices,
    })
}

/// Sends the notices a message queued (those the daily limit did not hold back) —
/// those only: whatever else waits in the outbox is the next pass's business.
/// Returns each one's delivery afterwards, in the order queued.
fn send_queued(
    intake: &Intake<'_>,
    record: &MessageRecord,
    now: DateTime<Utc>,
) -> Result<Vec<NoticeSent>> {
    let store = intake.store;
    let mut waiting = Vec::new();
    for id in &record.notices {
        let notice = store
            .notice(*id)?
            .context("the message's notice was just recorded")?;
        if notice.delivery.is_waiting() {
            waiting.push(notice);
        }
    }
    deliver(intake, waiting, &mut PassReport::default(), now)?;
    record
        .notices
        .iter()
        .map(|id| {
            let notice = store
                .notice(*id)?
                .context("the message's notice was just recorded")?;
            Ok(NoticeSent {
                id: *id,
                to: notice.to,
                delivery: notice.delivery,
            })
        })
        .collect()
}
