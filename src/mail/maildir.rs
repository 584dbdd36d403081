//! A Maildir mailbox (`new/`, `cur/`, `tmp/`) with Maildir++ folders `.Processed`
//! and `.Quarantine`. A message's received time is its file's modification time, which
//! is what Dovecot reports as INTERNALDATE.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use super::{Folder, MAX_HEADER_BYTES, MailSource, SourceError, Waiting};

/// One Maildir.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating its folders when missing.
    pub fn open(root: &Path) -> Result<Maildir> {
        let maildir = Maildir {
            root: root.to_path_buf(),
        };
        for folder in [None, Some(Folder::Processed), Some(Folder::Quarantine)] {
            for sub in ["new", "cur", "tmp"] {
                let path = maildir.folder(folder).join(sub);
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
            }
        }
        Ok(maildir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn folder(&self, folder: Option<Folder>) -> PathBuf {
        match folder {
            None => self.root.clone(),
            Some(folder) => self.root.join(format!(".{}", folder.name())),
        }
    }

    /// Delivers `bytes` as a new message (tmp/ then new/, as a delivery agent does).
    /// Returns its id.
    pub fn deliver(&self, bytes: &[u8]) -> Result<String> {
        let id = unique_name();
        let tmp = self.root.join("tmp").join(&id);
        std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        let file = std::fs::File::open(&tmp).and_then(|file| file.sync_all());
        file.with_context(|| format!("cannot sync {}", tmp.display()))?;
        std::fs::rename(&tmp, self.root.join("new").join(&id))
            .context("cannot deliver into new/")?;
        Ok(id)
    }

    /// The file of message `id` in `folder` (new/ or cur/), if present.
    fn locate(&self, folder: Option<Folder>, id: &str) -> Option<PathBuf> {
        if id.contains('/') || id.starts_with('.') {
            return None;
        }
        let base = self.folder(folder);
        ["new", "cur"].iter().find_map(|sub| {
            let dir = base.join(sub);
            let exact = dir.join(id);
            if exact.is_file() {
                return Some(exact);
            }
            // In cur/ a name gains ":2,FLAGS"; the id is the part before it.
            std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .map(|entry| entry.path())
                .find(|path| {
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| base_name(name) == id)
                })
        })
    }

    /// The file of message `id` in the inbox, or [`SourceError::Gone`].
    fn inbox_file(&self, id: &str) -> Result<PathBuf, SourceError> {
        self.locate(None, id)
            .ok_or_else(|| SourceError::Gone { id: id.to_owned() })
    }

    /// The ids in a folder.
    pub fn ids(&self, folder: Option<Folder>) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.folder(folder).join(sub);
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
            {
                let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
                if let Some(name) = entry.file_name().to_str() {
                    ids.push(base_name(name).to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// A failed read of a message's file: gone when the file went (another reader moved
/// it between the listing and now), the mailbox lost on any other error.
fn read_error(id: &str, path: &Path, error: std::io::Error) -> SourceError {
    if error.kind() == std::io::ErrorKind::NotFound {
        return SourceError::Gone { id: id.to_owned() };
    }
    SourceError::Lost(anyhow::Error::new(error).context(format!("cannot read {}", path.display())))
}

/// A Maildir file name without its `:2,FLAGS` info.
fn base_name(name: &str) -> &str {
    name.split_once(":2,").map_or(name, |(base, _)| base)
}

/// `<seconds>.M<micros>P<pid>Q<n>.<host>`, unique on this machine.
fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = Utc::now();
    let host = hostname();
    format!(
        "{}.M{}P{}Q{}.{host}",
        now.timestamp(),
        now.timestamp_subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().replace(['/', ':'], "_"))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl MailSource for Maildir {
    fn list(&mut self) -> Result<Vec<Waiting>> {
        let mut waiting = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
            {
                let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
                let Ok(metadata) = entry.metadata() else {
                    continue;
                };
                if !metadata.is_file() {
                    continue;
                }
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let received_at: DateTime<Utc> = metadata
                    .modified()
                    .map(DateTime::from)
                    .unwrap_or_else(|_| Utc::now());
                waiting.push(Waiting {
                    id: base_name(&name).to_owned(),
                    received_at,
                    size: metadata.len(),
                });
            }
        }
        waiting.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(waiting)
    }

    fn fetch(&mut self, id: &str) -> Result<Vec<u8>, SourceError> {
        let path = self.inbox_file(id)?;
        std::fs::read(&path).map_err(|error| read_error(id, &path, error))
    }

    fn fetch_header(&mut self, id: &str) -> Result<Vec<u8>, SourceError> {
        let path = self.inbox_file(id)?;
        let file = std::fs::File::open(&path).map_err(|error| read_error(id, &path, error))?;
        let mut head = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_HEADER_BYTES), &mut head)
            .map_err(|error| read_error(id, &path, error))?;
        head.truncate(super::header_end(&head));
        Ok(head)
    }

    fn finish(&mut self, id: &str, folder: Folder) -> Result<()> {
        let Some(path) = self.locate(None, id) else {
            // Already moved (a run stopped after the move): nothing to do.
            if self.locate(Some(folder), id).is_some() {
                return Ok(());
            }
            bail!(
                "message {id} is neither in the inbox nor in {}",
                folder.name()
            );
        };
        let target = self
            .folder(Some(folder))
            .join("cur")
            .join(format!("{id}:2,S"));
        std::fs::rename(&path, &target)
            .with_context(|| format!("cannot move {id} to {}", folder.name()))?;
        sync_dir(&self.folder(Some(folder)).join("cur"));
        Ok(())
    }

    fn release(&mut self, id: &str, folder: Folder) -> Result<()> {
        let Some(path) = self.locate(Some(folder), id) else {
            bail!("message {id} is not in {}", folder.name());
        };
        let target = self.root.join("new").join(id);
        std::fs::rename(&path, &target)
            .with_context(|| format!("cannot put {id} back into the inbox"))?;
        sync_dir(&self.root.join("new"));
        Ok(())
    }
}

/// Makes a rename durable.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_list_fetch_finish_release() {
        let dir = tempfile::tempdir().unwrap();
        let mut maildir = Maildir::open(dir.path()).unwrap();
        let first = maildir.deliver(b"Subject: one\r\n\r\nx").unwrap();
        let second = maildir.deliver(b"Subject: two\r\n\r\ny").unwrap();
        let listed: Vec<String> = maildir.list().unwrap().into_iter().map(|w| w.id).collect();
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&first) && listed.contains(&second));
        assert_eq!(maildir.fetch(&first).unwrap(), b"Subject: one\r\n\r\nx");
        maildir.finish(&first, Folder::Processed).unwrap();
        maildir.finish(&first, Folder::Processed).unwrap(); // twice is harmless
        maildir.finish(&second, Folder::Quarantine).unwrap();
        assert!(maildir.list().unwrap().is_empty());
        assert_eq!(
            maildir.ids(Some(Folder::Processed)).unwrap(),
            std::slice::from_ref(&first)
        );
        maildir.release(&second, Folder::Quarantine).unwrap();
        assert_eq!(
            maildir
                .list()
                .unwrap()
                .into_iter()
                .map(|w| w.id)
                .collect::<Vec<_>>(),
            [second]
        );
        assert!(maildir.fetch("../../etc/passwd").is_err());
    }

    #[test]
    fn a_message_moved_since_the_listing_is_gone_and_a_failed_read_is_the_mailbox_lost() {
        let dir = tempfile::tempdir().unwrap();
        let mut maildir = Maildir::open(dir.path()).unwrap();
        let id = maildir.deliver(b"Subject: one\r\n\r\nx").unwrap();
        assert_eq!(maildir.list().unwrap().len(), 1);
        // Another reader takes it first.
        Maildir::open(dir.path())
            .unwrap()
            .finish(&id, Folder::Processed)
            .unwrap();
        assert!(matches!(maildir.fetch(&id), Err(SourceError::Gone { id: gone }) if gone == id));
        assert!(matches!(
            maildir.fetch_header(&id),
            Err(SourceError::Gone { .. })
        ));

        // Between finding the file and reading it: gone only when the file went.
        let path = dir.path().join("new").join(&id);
        let not_found = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(matches!(
            read_error(&id, &path, not_found),
            SourceError::Gone { .. }
        ));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let lost = read_error(&id, &path, denied);
        assert!(
            matches!(&lost, SourceError::Lost(_)) && format!("{lost:#}").contains("cannot read"),
            "{lost:?}"
        );
    }
}
