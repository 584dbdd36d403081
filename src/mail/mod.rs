//! Mail in and out: the [`MailSource`] trait with its Maildir implementation, parsing
//! and classifying a message, reading its `Authentication-Results` (sender
//! authentication), composing notices, and the transport that sends them.

pub mod auth;
pub mod classify;
pub mod idle;
pub mod imap;
pub mod maildir;
pub mod notice;
pub mod tls;
pub mod transport;

use chrono::{DateTime, Utc};

/// The most of a message's header read when the message is too large to take.
pub const MAX_HEADER_BYTES: u64 = 256 * 1024;

/// Where a message's header ends: after its first empty line, or at the end.
pub fn header_end(raw: &[u8]) -> usize {
    let crlf = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4);
    let lf = raw
        .windows(2)
        .position(|window| window == b"\n\n")
        .map(|at| at + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(end), None) | (None, Some(end)) => end,
        (None, None) => raw.len(),
    }
}

/// A message waiting in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The mailbox's own stable id for it (a Maildir file name, an IMAP UID).
    pub id: String,
    /// When the mailbox received it: the R1 received time.
    pub received_at: DateTime<Utc>,
    /// Its size in bytes, as the mailbox reports it.
    pub size: u64,
}

/// Where a handled message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Processed,
    Quarantine,
}

impl Folder {
    pub fn name(self) -> &'static str {
        match self {
            Folder::Processed => "Processed",
            Folder::Quarantine => "Quarantine",
        }
    }
}

/// Why a message could not be fetched. The intake branches on it: a message that
/// is not there any more is skipped, a mailbox that failed ends the pass.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The message left the inbox since it was listed (another client moved or
    /// deleted it): nothing is wrong with the mailbox, and the pass goes on.
    #[error("message {id} is no longer in the inbox")]
    Gone { id: String },
    /// The server would not hand this one message over (an IMAP `NO`) on a connection
    /// that is still good: it stays in the inbox, and the pass goes on.
    #[error("the server would not give message {id}: {reason}")]
    Refused { id: String, reason: String },
    /// The mailbox itself failed (a dropped connection, a `BYE`, an answer that does
    /// not parse, a disk error): nothing more can be read from it in this pass.
    #[error(transparent)]
    Lost(#[from] anyhow::Error),
}

/// A mailbox the intake reads: Maildir here, IMAP in production.
pub trait MailSource {
    /// The messages still in the inbox, oldest first.
    fn list(&mut self) -> anyhow::Result<Vec<Waiting>>;
    /// A message's raw bytes.
    fn fetch(&mut self, id: &str) -> Result<Vec<u8>, SourceError>;

    /// A message's header only, up to the blank line that ends it: all that is read
    /// of a message too large to take.
    fn fetch_header(&mut self, id: &str) -> Result<Vec<u8>, SourceError>;

    /// Says that these messages will be fetched next, so that a remote mailbox can
    /// fetch them in one round trip. A failure here only means `fetch` asks again.
    fn prefetch(&mut self, ids: &[&str]) {
        let _ = ids;
    }
    /// Moves a handled message out of the inbox.
    fn finish(&mut self, id: &str, folder: Folder) -> anyhow::Result<()>;

    /// Moves several handled messages out of the inbox, in one round trip where the
    /// mailbox allows it.
    fn finish_many(&mut self, ids: &[String], folder: Folder) -> anyhow::Result<()> {
        for id in ids {
            self.finish(id, folder)?;
        }
        Ok(())
    }
    /// Puts a message from `folder` back into the inbox (staff `messages release`).
    fn release(&mut self, id: &str, folder: Folder) -> anyhow::Result<()>;

    /// The mailbox's UIDVALIDITY, where it has one (IMAP). When it changes, ids may
    /// name other messages; the processed-message records keep a rescan safe.
    fn validity(&self) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::header_end;

    #[test]
    fn the_header_ends_at_the_first_empty_line() {
        assert_eq!(header_end(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n"), 14);
        assert_eq!(header_end(b"A: 1\nB: 2\n\nbody"), 11);
        assert_eq!(header_end(b"A: 1\r\nno end"), 12);
        assert_eq!(header_end(b""), 0);
    }
}
