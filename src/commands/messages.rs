//! `portal messages list|release`.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::render::{self, Listing, plain, short_hash};
use crate::cli::MessagesAction;
use crate::config::Config;
use crate::staff::{MessageView, Released, release};
use crate::store::{MessageRecord, Outcome, Store, Tree};

pub(super) fn run(config: &Config, action: MessagesAction, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.store.path)?;
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
            listing.print(out, json, &records, MessageView::from, row)
        }
        MessagesAction::Release { hash, json } => {
            let released = release(config, &store, &hash, Utc::now())?;
            if json {
                render::json(out, &MessageView::from(&released.record))
            } else {
                say_released(&released, out)
            }
        }
    }
}

fn row(record: &MessageRecord) -> Vec<String> {
    let mut outcome = match &record.outcome {
        Outcome::Quarantined { why } => format!("quarantined ({why})"),
        other => other.label(),
    };
    if record.released {
        outcome.push_str(" [released]");
    }
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
    vec![
        short_hash(&record.hash).to_owned(),
        record.mailbox.to_string(),
        record.received_at.format("%Y-%m-%d %H:%M").to_string(),
        if record.from.is_empty() {
            "-".to_owned()
        } else {
            record.from.clone()
        },
        outcome,
        if notices.is_empty() {
            "-".to_owned()
        } else {
            notices.join(",")
        },
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
