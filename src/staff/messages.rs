//! Putting a processed message back into its inbox (`portal messages release`).

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};

use super::refused;
use crate::config::{Config, MailboxKind};
use crate::mail::maildir::Maildir;
use crate::mail::{Folder, MailSource as _};
use crate::store::{Mailbox, MessageRecord, Store, Tree, Writes};

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
