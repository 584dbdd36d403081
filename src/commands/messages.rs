//! `portal messages list|show|mark-read|release [--trust-sender]`.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::access::Access;
use super::render::{self, Listing, plain, short_hash};
use crate::cli::MessagesAction;
use crate::config::Config;
use crate::staff::{
    Marked, MessageView, Released, StoredMessage, StoredMessageView, Trusted, mark_message_read,
    release, stored_message, trust_sender,
};
use crate::store::{MessageRecord, Outcome, Tree};

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    action: MessagesAction,
    out: &mut dyn Write,
) -> Result<()> {
    let store = access.store(config)?;
    match action {
        MessagesAction::List { json } => {
            let mut records = store.all::<MessageRecord>(Tree::Messages)?;
            records.sort_by(|a, b| {
                (a.processed_at, a.received_at, &a.hash).cmp(&(
                    b.processed_at,
                    b.received_at,
                    &b.hash,
                ))
            });
            let listing = Listing {
                empty: "No processed messages.",
                headers: &[
                    "HASH",
                    "MAILBOX",
                    "RECEIVED (UTC)",
                    "FROM",
                    "OUTCOME",
                    "NOTICES",
                ],
                noun: ("message", "messages"),
            };
            let items: Vec<(&MessageRecord, bool)> = records
                .iter()
                .map(|record| (record, record.raw_removed.is_none()))
                .collect();
            listing.print(
                out,
                json,
                &items,
                |(record, raw)| MessageView::new(record, *raw),
                |(record, raw)| row(record, *raw),
            )
        }
        MessagesAction::Show { hash, json } => {
            let stored = stored_message(&store, &hash)?;
            if json {
                render::json(out, &StoredMessageView::from(&stored))
            } else {
                show(&stored, out)
            }
        }
        MessagesAction::MarkRead { hash, by } => {
            let (record, marked) = mark_message_read(&store, &hash, &by, Utc::now())?;
            let what = format!("Message {}", short_hash(&record.hash));
            say_marked(&what, &marked, out)
        }
        MessagesAction::Release {
            hash,
            trust_sender: true,
            by,
            json,
        } => {
            let deciding = access.with(store, config)?;
            let intake = deciding.intake(config);
            let by = by.unwrap_or_default();
            let trusted = trust_sender(&intake, &hash, &by, Utc::now())?;
            if json {
                let raw = trusted.record.raw_removed.is_none();
                render::json(out, &MessageView::new(&trusted.record, raw))
            } else {
                say_trusted(&trusted, out)
            }
        }
        MessagesAction::Release { hash, json, .. } => {
            let released = release(config, &store, &hash, Utc::now())?;
            if json {
                let raw = released.record.raw_removed.is_none();
                render::json(out, &MessageView::new(&released.record, raw))
            } else {
                say_released(&released, out)
            }
        }
    }
}

/// `Message … is now marked read by …`, or who marked it before.
pub(super) fn say_marked(what: &str, marked: &Marked, out: &mut dyn Write) -> Result<()> {
    match marked {
        Marked::Now(mark) => writeln!(
            out,
            "{what} is marked read by {}; the staff digest no longer lists it.",
            plain(&mark.by)
        )?,
        Marked::Already(mark) => writeln!(
            out,
            "{what} was already read: marked by {} at {}.",
            plain(&mark.by),
            mark.at.format("%Y-%m-%d %H:%M UTC")
        )?,
    }
    Ok(())
}

/// The record, then the message itself (PHI: staff only).
fn show(stored: &StoredMessage, out: &mut dyn Write) -> Result<()> {
    let record = &stored.record;
    writeln!(out, "Message {}", record.hash)?;
    let read = record.read.as_ref().map_or_else(
        || "-".to_owned(),
        |mark| {
            format!(
                "by {} at {}",
                plain(&mark.by),
                mark.at.format("%Y-%m-%d %H:%M UTC")
            )
        },
    );
    render::fields(
        out,
        14,
        &[
            ("Outcome", plain(&outcome(record))),
            ("Mailbox", record.mailbox.to_string()),
            ("From", plain(or_none(&record.from))),
            (
                "Message-ID",
                plain(record.message_id.as_deref().unwrap_or("-")),
            ),
            (
                "Received",
                record.received_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
            (
                "Processed",
                record.processed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
            ("Notices", notices(record)),
            ("Read", read),
        ],
    )?;
    let Some(content) = &stored.content else {
        match stored.raw_removed_on {
            Some(day) => writeln!(out, "Raw bytes removed on {day}.")?,
            None => writeln!(out, "Raw bytes removed.")?,
        }
        return Ok(());
    };
    if !content.parsed {
        writeln!(
            out,
            "The stored {} bytes are not a mail message.",
            content.size
        )?;
        return Ok(());
    }
    writeln!(out, "Headers ({}):", content.headers.len())?;
    for header in &content.headers {
        writeln!(out, "  {}: {}", plain(&header.name), plain(&header.value))?;
    }
    writeln!(out, "Attachments ({}):", content.attachments.len())?;
    for attachment in &content.attachments {
        let name = attachment.name.as_deref().unwrap_or("(no name)");
        writeln!(out, "  {} ({} bytes)", plain(name), attachment.size)?;
    }
    writeln!(out, "Text:")?;
    match &content.text {
        Some(text) => {
            for line in text.lines() {
                writeln!(out, "  {}", plain(line))?;
            }
        }
        None => writeln!(out, "  (no text part)")?,
    }
    Ok(())
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

fn outcome(record: &MessageRecord) -> String {
    let mut outcome = outcome_of(record);
    if record.released {
        outcome.push_str(" [released]");
    }
    if let Some(mark) = &record.trusted {
        outcome.push_str(&format!(" [sender trusted by {}]", plain(&mark.by)));
    }
    if record.read.is_some() {
        outcome.push_str(" [read]");
    }
    outcome
}

fn notices(record: &MessageRecord) -> String {
    let notices: Vec<String> = record
        .notices
        .iter()
        .map(|id| {
            if record.suppressed.contains(id) {
                format!("{id} (suppressed)")
            } else {
                id.to_string()
            }
        })
        .collect();
    if notices.is_empty() {
        "-".to_owned()
    } else {
        notices.join(",")
    }
}

fn row(record: &MessageRecord, raw: bool) -> Vec<String> {
    let mut outcome = outcome(record);
    if !raw {
        outcome.push_str(" [raw removed]");
    }
    vec![
        short_hash(&record.hash).to_owned(),
        record.mailbox.to_string(),
        record.received_at.format("%Y-%m-%d %H:%M").to_string(),
        or_none(&record.from).to_owned(),
        outcome,
        notices(record),
    ]
}

fn say_released(released: &Released, out: &mut dyn Write) -> Result<()> {
    let record = &released.record;
    let what = match &record.outcome {
        Outcome::Quarantined { why } => format!("quarantined: {why}"),
        other => other.label(),
    };
    let from = plain(if record.from.is_empty() {
        "no sender"
    } else {
        record.from.as_str()
    });
    let hash = short_hash(&record.hash);
    match released.moved_from {
        Some(folder) => writeln!(
            out,
            "Released message {hash} ({what}; from {from}) from {} back into the {} inbox; the next intake pass handles it afresh.",
            folder.name(),
            record.mailbox
        )?,
        None => writeln!(
            out,
            "Message {hash} ({what}; from {from}) is already in the {} inbox, marked released; the next intake pass handles it afresh.",
            record.mailbox
        )?,
    }
    if !record.outcome.is_quarantined() {
        writeln!(
            out,
            "Note: it was handled before; the next pass handles it as a new message (a complaint files a new ticket, whose claims already forwarded close as duplicate)."
        )?;
    }
    Ok(())
}

/// What handling a message as authenticated made of it, and how each notice fared.
fn say_trusted(trusted: &Trusted, out: &mut dyn Write) -> Result<()> {
    let record = &trusted.record;
    let by = record
        .trusted
        .as_ref()
        .map_or_else(String::new, |mark| plain(&mark.by));
    writeln!(
        out,
        "Message {} (from {}) handled as authenticated on the word of {by}: {}; recorded in the audit trail. It stays in Quarantine.",
        short_hash(&record.hash),
        plain(or_none(&record.from)),
        plain(&outcome_of(record)),
    )?;
    for notice in &trusted.notices {
        render::delivery(out, &notice.to, &notice.delivery)?;
    }
    Ok(())
}

/// The outcome alone, with a quarantined message's reason.
fn outcome_of(record: &MessageRecord) -> String {
    match &record.outcome {
        Outcome::Quarantined { why } => format!("quarantined ({why})"),
        other => other.label(),
    }
}
