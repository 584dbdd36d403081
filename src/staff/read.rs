//! Marking an inquiry or a processed message read (`portal inquiries mark-read`,
//! `portal messages mark-read`): staff have seen it, so the daily digest no longer
//! lists it. Marking twice keeps the first mark.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::{find_message, refused, staff_name};
use crate::ids::InquiryId;
use crate::store::{Inquiry, MessageRecord, ReadMark, Store, Tree, Writes};

/// Whether a mark-read changed anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marked {
    /// Marked read now, with this mark.
    Now(ReadMark),
    /// It was read already: the earlier mark, kept.
    Already(ReadMark),
}

/// Marks the inquiry `id` read by `by`, audited (`inquiry_read`).
pub fn mark_inquiry_read(
    store: &Store,
    id: InquiryId,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(Inquiry, Marked)> {
    let by = staff_name(by)?;
    let Some(mut inquiry) = store.record::<Inquiry>(id)? else {
        return Err(refused(format!("there is no inquiry {id}")));
    };
    if let Some(mark) = &inquiry.read {
        let mark = mark.clone();
        return Ok((inquiry, Marked::Already(mark)));
    }
    let mark = new_mark(by, now);
    inquiry.read = Some(mark.clone());
    let mut writes = Writes::default();
    writes.put(Tree::Inquiries, id.to_string(), &inquiry)?;
    writes.audit(store, now, "inquiry_read", &id.to_string(), Some(by), None)?;
    store.apply(writes)?;
    store.flush().context("cannot record the mark")?;
    Ok((inquiry, Marked::Now(mark)))
}

/// Marks the processed message whose hash starts with `prefix` read by `by`, audited
/// (`message_read`, with the hash's first twelve digits as `messages list` shows it).
pub fn mark_message_read(
    store: &Store,
    prefix: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(MessageRecord, Marked)> {
    let by = staff_name(by)?;
    let mut record = find_message(store, prefix)?;
    if let Some(mark) = &record.read {
        let mark = mark.clone();
        return Ok((record, Marked::Already(mark)));
    }
    let mark = new_mark(by, now);
    record.read = Some(mark.clone());
    let short = record.hash.get(..12).unwrap_or(&record.hash).to_owned();
    let mut writes = Writes::default();
    writes.put(Tree::Messages, &record.hash, &record)?;
    writes.audit(store, now, "message_read", &short, Some(by), None)?;
    store.apply(writes)?;
    store.flush().context("cannot record the mark")?;
    Ok((record, Marked::Now(mark)))
}

fn new_mark(by: &str, at: DateTime<Utc>) -> ReadMark {
    ReadMark {
        by: by.to_owned(),
        at,
    }
}
