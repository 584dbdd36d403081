//! R12: is this message one the portal handled before? Only when its bytes are the
//! same, or when it is a re-delivery: the same Message-ID, in the same mailbox, from
//! the same sender, with the same attachments. Any other reuse of a Message-ID (a
//! careless mail client, a template that copies headers, a sender hoping to have a
//! message skipped) is a new message: handled, and the reuse logged.

use crate::mail::classify::Parsed;
use crate::store::{Mailbox, MessageRecord, Store, StoreResult, Tree};

/// The record of an earlier message with these bytes, if any.
pub(crate) fn same_bytes(store: &Store, digest: &str) -> StoreResult<Option<MessageRecord>> {
    store.get(Tree::Messages, digest)
}

/// The record of the earlier delivery of this message, when it is a re-delivery (the
/// bytes differ, as a server's trace headers do): same Message-ID, mailbox, sender
/// and attachments.
pub(crate) fn redelivery_of(
    store: &Store,
    mailbox: Mailbox,
    digest: &str,
    message_id: Option<&str>,
    parsed: Option<&Parsed>,
    attachments: Option<&[String]>,
) -> StoreResult<Option<MessageRecord>> {
    let Some(message_id) = message_id else {
        return Ok(None);
    };
    let from = parsed
        .and_then(|parsed| parsed.from.as_deref())
        .unwrap_or("");
    for earlier in messages_with_id(store, message_id)? {
        let Some(earlier) = store.get::<MessageRecord>(Tree::Messages, &earlier)? else {
            continue;
        };
        let same_attachments = match (&earlier.attachments, attachments) {
            (Some(before), Some(now)) => before.as_slice() == now,
            // Both read by their header alone (too large): the mailbox and the sender
            // decide. One that was too large comes back whole when staff released it
            // (with a larger limit). Otherwise a message read whole never repeats one
            // that was too large: its attachments could not be compared, and taking it
            // for the same would lose it.
            (None, None) => true,
            (None, Some(_)) => earlier.released,
            (Some(_), None) => false,
        };
        if earlier.mailbox == mailbox && earlier.from.eq_ignore_ascii_case(from) && same_attachments
        {
            return Ok(Some(earlier));
        }
    }
    if store.get_bytes(Tree::MessageIds, message_id)?.is_some() {
        tracing::warn!(
            mailbox = mailbox.as_str(),
            hash = &digest[..12],
            "a Message-ID seen before on another message; handled as a new message"
        );
    }
    Ok(None)
}

/// The hashes of every message recorded with this Message-ID, oldest first. The
/// store keeps them one per line under the id (a store written before kept one).
pub(crate) fn messages_with_id(store: &Store, message_id: &str) -> StoreResult<Vec<String>> {
    Ok(store
        .get_bytes(Tree::MessageIds, message_id)?
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}
