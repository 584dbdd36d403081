//! The embedded store (sled): tickets, registrations, inquiries, processed messages,
//! the outbox of notices and the audit trail.
//!
//! Changes are collected in [`Writes`] and applied in one transaction across all
//! trees, then made durable with [`Store::flush`]; a notice is sent and a message
//! moved only after the change it depends on is flushed. The folder is private to its
//! owner (0700, files 0600): raw mail and attachments hold protected health
//! information. One process at a time holds the store; another waits a few seconds,
//! then names the holder from the pid file (an intake holding it answers staff
//! commands over its socket instead, `src/control/`). Within the process, writers take
//! turns ([`Store::turn`], `turn.rs`). Only `intake` and the demo create a
//! store ([`Store::open_or_create`]); every other command opens an existing one
//! ([`Store::open`]), and anything at the path that is not a healthy store is an
//! error ([`OpenError`]), never a fresh start.
//!
//! `export.rs` writes every record as JSON lines and loads such a file into a new
//! store (the backup, and the way across a sled upgrade); `retention.rs` removes raw
//! mail and sent notices' bodies once they have been kept long enough.

pub mod export;
mod open;
pub mod records;
pub mod retention;
mod turn;
mod upgrade;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::ids::{RegistrationId, Sequenced};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;

pub use open::OpenError;
pub use records::*;
pub use turn::{SendClaim, Sending, Turn, TurnGuard};

/// A fault of the store itself — a read, a transaction, a flush that failed, or a
/// record that no longer reads. Never the sender's doing: intake stops the pass on it
/// (exit 2) instead of quarantining the message in hand, and the next pass, once the
/// store is healthy, handles the message as if nothing had happened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the store's {tree} tree: {source}")]
    Read {
        tree: &'static str,
        source: sled::Error,
    },
    #[error("a damaged record in the store's {tree} tree: {source}")]
    Damaged {
        tree: &'static str,
        source: serde_json::Error,
    },
    #[error("a store transaction failed: {0}")]
    Transaction(String),
    #[error("cannot flush the store: {0}")]
    Flush(sled::Error),
    #[error("cannot draw an id from the store: {0}")]
    Id(sled::Error),
    /// A crash point of the exactly-once tests (`PORTAL_FAILPOINTS=store_fault@N`).
    #[error("{0}")]
    Injected(String),
}

/// Results of the store's own operations.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// The trees of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Meta,
    Tickets,
    Registrations,
    Inquiries,
    /// Processed messages by the hash of their bytes.
    Messages,
    /// Message-ID → the hashes of the messages that carried it, one per line; and
    /// `notice:<our Message-ID>` → the id a notice was about.
    MessageIds,
    /// Raw message bytes by hash (PHI).
    Raw,
    /// Notices by id (big-endian u64 keys, so they list in order).
    Outbox,
    /// The audit trail by id.
    Audit,
    /// `MCO|tracking|claim` of forwarded lines → ticket id.
    Forwarded,
    /// `address|date` → notices sent that day.
    SenderCounts,
    /// Ids of the notices still to deliver (kept with the outbox in one transaction),
    /// so a pass never reads the whole outbox.
    Pending,
    /// Each notice without its body ([`NoticeSummary`], kept with the outbox in one
    /// transaction), so the outbox is listed without reading a message.
    NoticeIndex,
}

const TREES: [Tree; 13] = [
    Tree::Meta,
    Tree::Tickets,
    Tree::Registrations,
    Tree::Inquiries,
    Tree::Messages,
    Tree::MessageIds,
    Tree::Raw,
    Tree::Outbox,
    Tree::Audit,
    Tree::Forwarded,
    Tree::SenderCounts,
    Tree::Pending,
    Tree::NoticeIndex,
];

impl Tree {
    fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Tickets => "tickets",
            Tree::Registrations => "registrations",
            Tree::Inquiries => "inquiries",
            Tree::Messages => "messages",
            Tree::MessageIds => "message_ids",
            Tree::Raw => "raw",
            Tree::Outbox => "outbox",
            Tree::Audit => "audit",
            Tree::Forwarded => "forwarded",
            Tree::SenderCounts => "sender_counts",
            Tree::Pending => "pending",
            Tree::NoticeIndex => "notice_index",
        }
    }

    fn index(self) -> usize {
        TREES.iter().position(|tree| *tree == self).unwrap_or(0)
    }
}

/// A set of changes applied together or not at all.
#[derive(Debug, Default)]
pub struct Writes {
    ops: Vec<(Tree, Vec<u8>, Option<Vec<u8>>)>,
}

impl Writes {
    /// Stores `value` as JSON under `key`.
    pub fn put<T: Serialize>(
        &mut self,
        tree: Tree,
        key: impl AsRef<[u8]>,
        value: &T,
    ) -> StoreResult<()> {
        // The records are plain data (strings, numbers, dates): serialising them
        // cannot fail short of running out of memory.
        let json = serde_json::to_vec(value).map_err(|source| StoreError::Damaged {
            tree: tree.name(),
            source,
        })?;
        self.ops.push((tree, key.as_ref().to_vec(), Some(json)));
        Ok(())
    }

    /// Stores raw bytes under `key`.
    pub fn put_bytes(&mut self, tree: Tree, key: impl AsRef<[u8]>, value: Vec<u8>) {
        self.ops.push((tree, key.as_ref().to_vec(), Some(value)));
    }

    pub fn remove(&mut self, tree: Tree, key: impl AsRef<[u8]>) {
        self.ops.push((tree, key.as_ref().to_vec(), None));
    }

    /// Appends an audit entry (never PHI).
    pub fn audit(
        &mut self,
        store: &Store,
        at: DateTime<Utc>,
        action: &str,
        subject: &str,
        by: Option<&str>,
        reason: Option<&str>,
    ) -> StoreResult<()> {
        let entry = AuditEntry {
            v: RECORD_VERSION,
            at,
            action: action.to_owned(),
            subject: subject.to_owned(),
            by: by.map(str::to_owned),
            reason: reason.map(str::to_owned),
        };
        self.put(Tree::Audit, store.next_id()?.to_be_bytes(), &entry)
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The open store.
pub struct Store {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    path: PathBuf,
    /// Locked while the store is open (released when the file closes, after `db`).
    pid_file: File,
    /// The least id [`Store::next_id`] may still hand out: above every notice and
    /// audit entry recorded when the store was opened.
    free_id: AtomicU64,
    /// Who may write now: the passes and the staff commands an intake serves.
    turn: Turn,
    /// The notices on the network now, sent outside the turn.
    sending: Sending,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the turn to write and takes it (see [`Turn`]): a pass for each
    /// message, for the day's work and for each notice it sends; a staff command for
    /// its duration. The thread holding it may take it again.
    pub fn turn(&self) -> TurnGuard<'_> {
        self.turn.take()
    }

    /// Claims notice `id` for sending outside the turn; `None` while another delivery
    /// sends it (see [`Sending`]).
    pub fn claim_send(&self, id: u64) -> Option<SendClaim<'_>> {
        self.sending.claim(id)
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[tree.index()]
    }

    /// A fresh number, never handed out twice (numbers may be skipped).
    pub fn next_id(&self) -> StoreResult<u64> {
        let generated = self.db.generate_id().map_err(StoreError::Id)?;
        // sled's own counter starts again from zero in a store `store import` filled:
        // an id is never one a recorded notice or audit entry already has.
        let free = self
            .free_id
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |free| {
                Some(free.max(generated).saturating_add(1))
            })
            .unwrap_or_else(|free| free);
        Ok(free.max(generated))
    }

    /// The least id free at open: one above the last notice's and the last audit
    /// entry's (both keyed by big-endian ids), zero in an empty store.
    fn first_free_id(&self) -> StoreResult<u64> {
        let mut free = 0;
        for tree in [Tree::Outbox, Tree::Audit] {
            let last = self.tree(tree).last().map_err(|source| StoreError::Read {
                tree: tree.name(),
                source,
            })?;
            let id = last
                .and_then(|(key, _)| <[u8; 8]>::try_from(key.as_ref()).ok())
                .map(u64::from_be_bytes);
            if let Some(id) = id {
                free = free.max(id.saturating_add(1));
            }
        }
        Ok(free)
    }

    /// The next id of a kind for a day's year: `PRP-2026-000123`. Durable with the
    /// next flush; a crash before it may skip numbers but never reuses one that was
    /// recorded.
    pub fn allocate<I: Sequenced>(&self, day: NaiveDate) -> StoreResult<I> {
        let year = u16::try_from(day.year()).unwrap_or(u16::MAX);
        let key = format!("counter:{}:{year}", I::PREFIX);
        let value = self
            .tree(Tree::Meta)
            .update_and_fetch(key.as_bytes(), |old| {
                let current = old
                    .and_then(|bytes| bytes.try_into().ok())
                    .map_or(0, u64::from_be_bytes);
                Some((current + 1).to_be_bytes().to_vec())
            })
            .map_err(|source| StoreError::Read {
                tree: Tree::Meta.name(),
                source,
            })?;
        let number = value
            .and_then(|bytes| bytes.as_ref().try_into().ok())
            .map_or(1, u64::from_be_bytes);
        Ok(I::new(year, number))
    }

    /// Applies every change in one transaction.
    pub fn apply(&self, writes: Writes) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        injected_fault()?;
        self.trees
            .as_slice()
            .transaction(|trees| {
                for (tree, key, value) in &writes.ops {
                    let tree = &trees[tree.index()];
                    match value {
                        Some(value) => tree.insert(key.as_slice(), value.as_slice())?,
                        None => tree.remove(key.as_slice())?,
                    };
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|error| StoreError::Transaction(format!("{error:?}")))
    }

    /// Makes every change so far durable.
    pub fn flush(&self) -> StoreResult<()> {
        self.db.flush().map_err(StoreError::Flush)?;
        Ok(())
    }

    fn read(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<sled::IVec>> {
        injected_fault()?;
        self.tree(tree).get(key).map_err(|source| StoreError::Read {
            tree: tree.name(),
            source,
        })
    }

    /// One record by key.
    pub fn get<T: DeserializeOwned>(
        &self,
        tree: Tree,
        key: impl AsRef<[u8]>,
    ) -> StoreResult<Option<T>> {
        self.read(tree, key.as_ref())?
            .map(|bytes| decode(tree, &bytes))
            .transpose()
    }

    pub fn get_bytes(&self, tree: Tree, key: impl AsRef<[u8]>) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.read(tree, key.as_ref())?.map(|bytes| bytes.to_vec()))
    }

    /// Every record of a tree, in key order. `T` may be a summary of the stored
    /// record (fields it does not name are skipped while reading, never kept).
    pub fn all<T: DeserializeOwned>(&self, tree: Tree) -> StoreResult<Vec<T>> {
        injected_fault()?;
        self.tree(tree)
            .iter()
            .values()
            .map(|value| {
                let bytes = value.map_err(|source| StoreError::Read {
                    tree: tree.name(),
                    source,
                })?;
                decode(tree, &bytes)
            })
            .collect()
    }

    /// True when nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        TREES.iter().all(|tree| self.tree(*tree).is_empty())
    }

    /// A meta value (`created_by`, …).
    pub fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .get_bytes(Tree::Meta, key)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// A ticket, registration or inquiry by its id.
    pub fn record<T: DeserializeOwned>(&self, id: impl Keyed) -> StoreResult<Option<T>> {
        self.get(id.tree(), id.to_string())
    }

    /// Every active registration of a sender address: together they cover the NPIs
    /// the address may send complaints for (R6).
    pub fn active_registrations(&self, email: &str) -> StoreResult<Vec<Registration>> {
        Ok(self
            .all::<Registration>(Tree::Registrations)?
            .into_iter()
            .filter(|registration| {
                registration.status == RegistrationStatus::Active
                    && registration.email.eq_ignore_ascii_case(email)
            })
            .collect())
    }

    /// The registration a sender's standing is told by: its newest active one, else
    /// its newest of any status. A request denied after an approval must not hide the
    /// approval (an address may hold several registrations, R6).
    pub fn latest_registration(&self, email: &str) -> StoreResult<Option<Registration>> {
        Ok(self
            .all::<Registration>(Tree::Registrations)?
            .into_iter()
            .filter(|registration| registration.email.eq_ignore_ascii_case(email))
            .max_by_key(|registration| {
                (
                    registration.status == RegistrationStatus::Active,
                    registration.received_at,
                )
            }))
    }

    /// The ticket that already forwarded this claim, if any.
    pub fn forwarded_claim(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .get_bytes(Tree::Forwarded, key)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Notices sent (or waiting) to `address` on `day`.
    pub fn notices_to(&self, address: &str, day: NaiveDate) -> StoreResult<u32> {
        Ok(self
            .get_bytes(Tree::SenderCounts, sender_key(address, day))?
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, u32::from_be_bytes))
    }

    /// One notice of the outbox, body included.
    pub fn notice(&self, id: u64) -> StoreResult<Option<Notice>> {
        self.get(Tree::Outbox, id.to_be_bytes())
    }

    /// Notices not yet delivered, oldest first.
    pub fn pending_notices(&self) -> StoreResult<Vec<Notice>> {
        let mut notices = Vec::new();
        for key in self.tree(Tree::Pending).iter().keys() {
            let key = key.map_err(|source| StoreError::Read {
                tree: Tree::Pending.name(),
                source,
            })?;
            if let Some(notice) = self.get::<Notice>(Tree::Outbox, &key)? {
                notices.push(notice);
            }
        }
        Ok(notices)
    }

    /// Every notice without its body, oldest first: what the outbox views list. A
    /// store written before the index existed has it built here, once, streaming.
    pub fn notice_summaries(&self) -> StoreResult<Vec<NoticeSummary>> {
        // Marked in meta once built (sled's `len` would read every notice to count).
        const BUILT: &str = "notice_index:built";
        // An empty outbox needs no index, and a view must not write into an empty store.
        if self.meta(BUILT)?.is_none() && !self.tree(Tree::Outbox).is_empty() {
            for entry in self.tree(Tree::Outbox).iter() {
                let (key, value) = entry.map_err(|source| StoreError::Read {
                    tree: Tree::Outbox.name(),
                    source,
                })?;
                let summary: NoticeSummary = decode(Tree::Outbox, &value)?;
                let mut writes = Writes::default();
                writes.put(Tree::NoticeIndex, &key, &summary)?;
                self.apply(writes)?;
            }
            let mut writes = Writes::default();
            writes.put_bytes(Tree::Meta, BUILT, b"1".to_vec());
            self.apply(writes)?;
            self.flush()?;
        }
        self.all(Tree::NoticeIndex)
    }

    /// How many notices wait for delivery.
    pub fn pending_count(&self) -> usize {
        self.tree(Tree::Pending).len()
    }
}

/// The `store_fault` crash point of the exactly-once tests (nothing without the
/// `failpoints` feature).
fn injected_fault() -> StoreResult<()> {
    match crate::failpoint::armed_now("store_fault") {
        Some(count) => Err(StoreError::Injected(format!(
            "failpoint store_fault@{count}"
        ))),
        None => Ok(()),
    }
}

/// A stored record read back from its JSON.
fn decode<T: DeserializeOwned>(tree: Tree, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Damaged {
        tree: tree.name(),
        source,
    })
}

/// An id with a tree of its own: [`Store::record`] looks it up there.
pub trait Keyed: std::fmt::Display {
    fn tree(&self) -> Tree;
}

impl Keyed for crate::ids::TicketId {
    fn tree(&self) -> Tree {
        Tree::Tickets
    }
}

impl Keyed for RegistrationId {
    fn tree(&self) -> Tree {
        Tree::Registrations
    }
}

impl Keyed for crate::ids::InquiryId {
    fn tree(&self) -> Tree {
        Tree::Inquiries
    }
}

impl Keyed for crate::ids::RecordId {
    fn tree(&self) -> Tree {
        match self {
            crate::ids::RecordId::TicketId(id) => id.tree(),
            crate::ids::RecordId::RegistrationId(id) => id.tree(),
            crate::ids::RecordId::InquiryId(id) => id.tree(),
        }
    }
}

/// Records a notice in the outbox and its summary in the index, and indexes it as
/// pending when it still has to go out.
pub fn put_notice(writes: &mut Writes, notice: &Notice) -> StoreResult<()> {
    let key = notice.id.to_be_bytes();
    writes.put(Tree::Outbox, key, notice)?;
    writes.put(Tree::NoticeIndex, key, &NoticeSummary::from(notice))?;
    match notice.delivery {
        Delivery::Pending { .. } => writes.put_bytes(Tree::Pending, key, Vec::new()),
        Delivery::Sent { .. } | Delivery::Failed { .. } | Delivery::Suppressed { .. } => {
            writes.remove(Tree::Pending, key)
        }
    }
    Ok(())
}

/// The key of a sender's daily notice count.
pub fn sender_key(address: &str, day: NaiveDate) -> String {
    format!("{}|{day}", address.to_ascii_lowercase())
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.db.flush();
        // Emptied, not deleted: an opener already waiting has this file open and would
        // lock the deleted inode, while the next opener creates and locks a new file,
        // and both would hold the store. The lock goes when the file closes.
        let _ = self.pid_file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TicketId;

    #[test]
    fn ids_count_per_prefix_and_year() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let ticket = |day| store.allocate::<TicketId>(day).unwrap().to_string();
        assert_eq!(ticket(day), "PRP-2026-000001");
        assert_eq!(ticket(day), "PRP-2026-000002");
        assert_eq!(
            store.allocate::<RegistrationId>(day).unwrap().to_string(),
            "REG-2026-000001"
        );
        let next_year = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(ticket(next_year), "PRP-2027-000001");
    }

    fn a_notice(id: u64) -> Notice {
        Notice {
            v: RECORD_VERSION,
            id,
            kind: crate::mail::notice::NoticeKind::Help,
            about: None,
            to: "a@clinic.example".to_owned(),
            subject: format!("Notice {id}"),
            message_id: format!("{id}@portal.example.gov"),
            created_at: chrono::Utc::now(),
            delivery: Delivery::Sent {
                at: chrono::Utc::now(),
            },
            raw: vec![b'x'; 4096],
            body_removed: None,
        }
    }

    #[test]
    fn the_outbox_is_listed_from_its_index_built_once_for_an_older_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        // An empty store stays empty: listing writes nothing.
        assert!(store.notice_summaries().unwrap().is_empty());
        assert!(store.is_empty());
        // Notices written as a store before the index did: the outbox alone.
        let mut writes = Writes::default();
        for id in [1, 2] {
            writes
                .put(Tree::Outbox, u64::to_be_bytes(id), &a_notice(id))
                .unwrap();
        }
        store.apply(writes).unwrap();
        let subjects = |store: &Store| -> Vec<String> {
            store
                .notice_summaries()
                .unwrap()
                .into_iter()
                .map(|notice| notice.subject)
                .collect()
        };
        assert_eq!(subjects(&store), ["Notice 1", "Notice 2"]);
        // From then on the index is kept with the outbox.
        let mut writes = Writes::default();
        put_notice(&mut writes, &a_notice(3)).unwrap();
        store.apply(writes).unwrap();
        assert_eq!(subjects(&store), ["Notice 1", "Notice 2", "Notice 3"]);
        assert_eq!(store.notice(3).unwrap().unwrap().raw.len(), 4096);
    }

    #[test]
    fn writes_apply_together_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open_or_create(&path).unwrap();
            let mut writes = Writes::default();
            writes.put_bytes(Tree::Meta, "created_by", b"test".to_vec());
            writes
                .put(Tree::Forwarded, "MOLINA|T1|C1", &"PRP-2026-000001")
                .unwrap();
            store.apply(writes).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open_or_create(&path).unwrap();
        assert_eq!(store.meta("created_by").unwrap().as_deref(), Some("test"));
        assert_eq!(
            store
                .get::<String>(Tree::Forwarded, "MOLINA|T1|C1")
                .unwrap()
                .as_deref(),
            Some("PRP-2026-000001")
        );
    }
}
