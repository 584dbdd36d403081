//! Opening the store. Every command that reads or decides opens an existing store
//! ([`Store::open`]); only the commands that own the store's beginning — `intake` and
//! the demo — make one where none is ([`Store::open_or_create`]), and say so in the
//! log. Anything at the path that is not a healthy store is refused, naming the path:
//! never replaced by a fresh store, never a panic.
//!
//! Healthy, for sled 0.34: a folder holding a `conf` sled can read (longer than 8
//! bytes — sled takes a shorter one for none and writes a new one), a `db` that is
//! not empty, and a log in which sled finds the store's trees (sled reads a log it
//! cannot make sense of as an empty one). `blobs/` and the `snap.*` files are not
//! required: sled makes an empty `blobs/` again when it is missing, and a store
//! closed only once has no snapshot yet.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, ErrorKind, Seek as _, SeekFrom, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Store, TREES, Tree};

/// How long a command waits for another process to release the store.
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// Names the process holding the store.
const PID_FILE: &str = "portal.pid";

/// Why the store could not be opened. Each names the store's path.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Nothing at the path, or an empty folder: only `intake` and the demo make a
    /// store there.
    #[error("there is no store at {} (intake creates it)", .path.display())]
    Missing { path: PathBuf },
    /// Something at the path that is not a store sled can read back.
    #[error("{} is not a healthy store: {why}", .path.display())]
    Damaged { path: PathBuf, why: String },
    /// Another process still held the store after the wait.
    #[error("the store {} is in use by {}", .path.display(), in_use_by(.holder.as_deref()))]
    Locked {
        path: PathBuf,
        /// The pid file's text: the process id and its command.
        holder: Option<String>,
    },
    /// The folder or a file in it could not be made, read or locked.
    #[error("cannot {doing} {}", .path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn in_use_by(holder: Option<&str>) -> String {
    match holder {
        Some(holder) => format!("process {holder}; try again when it has finished"),
        None => "another portal process".to_owned(),
    }
}

fn damaged(path: &Path, why: impl Into<String>) -> OpenError {
    OpenError::Damaged {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn io_error(doing: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OpenError {
    let path = path.to_path_buf();
    move |source| OpenError::Io {
        doing,
        path,
        source,
    }
}

impl Store {
    /// Opens the existing store at `path`, waiting up to a few seconds for another
    /// process to release it. Creates nothing, not even the folder or its pid file.
    pub fn open(path: &Path) -> Result<Store, OpenError> {
        if !holds_anything(path)? {
            return Err(OpenError::Missing {
                path: path.to_path_buf(),
            });
        }
        // A folder no store was ever made in is left as it is, without a pid file.
        if !["conf", "db", PID_FILE]
            .iter()
            .any(|name| path.join(name).exists())
        {
            return Err(damaged(path, "it holds none of a store's files"));
        }
        let pid_file = lock(path)?;
        Store::opened(path, pid_file, false)
    }

    /// Opens the store at `path`, creating it (and logging its path) when the path is
    /// missing or an empty folder; anything else there must be a healthy store.
    pub fn open_or_create(path: &Path) -> Result<Store, OpenError> {
        if holds_anything(path)? {
            return Store::open(path);
        }
        create_folder(path)?;
        let pid_file = lock(path)?;
        // Another intake may have made the store while this one waited for the lock.
        let created = !holds_more_than_the_pid_file(path)?;
        let store = Store::opened(path, pid_file, created)?;
        if created {
            tracing::info!(path = %path.display(), "created the store");
        }
        Ok(store)
    }

    /// The store at `path`, its lock being ours; `created` when sled is to start it
    /// in an empty folder.
    fn opened(path: &Path, pid_file: File, created: bool) -> Result<Store, OpenError> {
        if created {
            // The folder's 0700 is what keeps sled's files out of reach: sled makes them
            // with the process's default mode, inside a folder no one else can enter.
            make_private(path)?;
        } else {
            check_files(path)?;
        }
        let (db, trees) = open_sled(path, created)?;
        let store = Store {
            db,
            trees,
            path: path.to_path_buf(),
            pid_file,
            free_id: AtomicU64::new(0),
            turn: super::Turn::default(),
            sending: super::Sending::default(),
        };
        let free_id = store
            .first_free_id()
            .map_err(|error| damaged(path, error.to_string()))?;
        store.free_id.store(free_id, Ordering::SeqCst);
        store.write_pid_file()?;
        // Files sled made with the default mode become 0600 too.
        make_private(path)?;
        // A store an earlier version wrote is brought up to date (never failing here).
        store.upgrade();
        Ok(store)
    }

    /// Names this process in the pid file it holds the lock on.
    fn write_pid_file(&self) -> Result<(), OpenError> {
        let command: Vec<String> = std::env::args().take(3).collect();
        let mut file = &self.pid_file;
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{} ({})", std::process::id(), command.join(" ")))
            .map_err(io_error("write the pid file of", &self.path))
    }
}

/// False when `path` is missing or an empty folder.
pub(super) fn holds_anything(path: &Path) -> Result<bool, OpenError> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
        Err(error) if error.kind() == ErrorKind::NotADirectory => {
            Err(damaged(path, "it is not a folder"))
        }
        Err(source) => Err(io_error("read", path)(source)),
    }
}

fn holds_more_than_the_pid_file(path: &Path) -> Result<bool, OpenError> {
    let mut entries = std::fs::read_dir(path).map_err(io_error("read", path))?;
    Ok(entries.any(|entry| entry.map_or(true, |entry| entry.file_name() != PID_FILE)))
}

pub(super) fn create_folder(path: &Path) -> Result<(), OpenError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(path)
        .map_err(io_error("create the store", path))
}

/// The files sled finds the store by are there and not emptied. Checked before sled
/// sees them: sled starts afresh over a missing or empty `db` or `conf`.
fn check_files(path: &Path) -> Result<(), OpenError> {
    for (name, least) in [("conf", 9), ("db", 1)] {
        let why = match std::fs::metadata(path.join(name)) {
            Ok(found) if !found.is_file() => format!("its `{name}` is not a file"),
            Ok(found) if found.len() == 0 => format!("its `{name}` is empty"),
            Ok(found) if found.len() < least => {
                format!("its `{name}` is cut short ({} bytes)", found.len())
            }
            Ok(_) => continue,
            Err(error) if error.kind() == ErrorKind::NotFound => format!("it has no `{name}`"),
            Err(source) => return Err(io_error("read", &path.join(name))(source)),
        };
        return Err(damaged(path, why));
    }
    Ok(())
}

/// Opens sled and the store's trees; `created` when the folder was empty. Sled's
/// errors and panics come back as errors naming the path.
fn open_sled(path: &Path, created: bool) -> Result<(sled::Db, Vec<sled::Tree>), OpenError> {
    catching_panics(path, || {
        if crate::failpoint::armed_now("sled_panic").is_some() {
            panic!("failpoint sled_panic");
        }
        let db = open_db(path)?;
        // Without a snapshot to say otherwise, sled reads a log it cannot make sense of
        // as an empty one, and would start afresh over it.
        let ours = Tree::Meta.name().as_bytes();
        if !created && !db.tree_names().iter().any(|name| name == ours) {
            return Err(damaged(
                path,
                "sled finds none of the store's records in its `db`",
            ));
        }
        let trees = TREES
            .iter()
            .map(|tree| db.open_tree(tree.name()))
            .collect::<sled::Result<Vec<_>>>()
            .map_err(|error| sled_error(path, error))?;
        Ok((db, trees))
    })?
}

/// Opens sled, the store's lock being ours. sled locks its `db` file too (with the
/// same kind of lock as [`File::try_lock`]), and a store this process has just closed
/// may still hold that lock for a moment, until sled's background writers let go of
/// the file: a refusal while that lock is held is waited out. Any other failure, or
/// one that lasts, is reported.
fn open_db(path: &Path) -> Result<sled::Db, OpenError> {
    let started = Instant::now();
    loop {
        // A bounded page cache: memory stays flat however old the store grows.
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            Err(_) if started.elapsed() < LOCK_WAIT && sled_file_is_locked(path) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => return Err(sled_error(path, error)),
        }
    }
}

fn sled_error(path: &Path, error: sled::Error) -> OpenError {
    match error {
        sled::Error::Io(source) => io_error("open the store", path)(source),
        other => damaged(path, format!("sled: {other}")),
    }
}

/// True while someone holds sled's lock on its `db` file (sled 0.34's name for it).
fn sled_file_is_locked(path: &Path) -> bool {
    File::open(path.join("db"))
        .is_ok_and(|file| matches!(file.try_lock(), Err(TryLockError::WouldBlock)))
}

thread_local! {
    /// Set while this thread runs [`catching_panics`].
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// What the hook heard of the panic caught there.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `step`, a panic in it (sled's, on files it cannot read) becoming
/// [`OpenError::Damaged`] with the panic's message, not printed on its own.
fn catching_panics<T>(path: &Path, step: impl FnOnce() -> T) -> Result<T, OpenError> {
    hook_for_caught_panics();
    CATCHING.set(true);
    // Sound to assert: the step borrows only `path` and owns everything else it makes
    // (sled's config, the `Db` and trees being opened). On a panic all of that is
    // dropped while unwinding and an error is returned in its place, so nothing the
    // panic may have left half-done is used again.
    let outcome = catch_unwind(AssertUnwindSafe(step));
    CATCHING.set(false);
    outcome.map_err(|_| {
        let caught = CAUGHT.take().unwrap_or_else(|| "a panic".to_owned());
        damaged(path, format!("sled failed while reading it: {caught}"))
    })
}

/// Installs, once, a panic hook that keeps the panics [`catching_panics`] turns into
/// errors for that error instead of printing them, and hands every other panic — any
/// other thread's, or this one's outside that step — to the hook it replaced
/// unchanged. Nothing else in the process notices it.
fn hook_for_caught_panics() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CATCHING.get() {
                previous(info);
                return;
            }
            let message = info.payload_as_str().unwrap_or("a panic");
            let at = info
                .location()
                .map(|at| format!(" ({}:{})", at.file(), at.line()))
                .unwrap_or_default();
            CAUGHT.set(Some(format!("{message}{at}")));
        }));
    });
}

/// Takes the store's lock: an exclusive lock on its pid file, which another process
/// holds until its `Store` is dropped (or it dies). Waits up to [`LOCK_WAIT`], then
/// names the holder.
fn lock(path: &Path) -> Result<File, OpenError> {
    let pid_path = path.join(PID_FILE);
    let mut options = OpenOptions::new();
    // Not truncated here: until the lock is ours, the text names the holder.
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&pid_path)
        .map_err(io_error("open", &pid_path))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&pid_path).unwrap_or_default();
                let holder = holder.trim();
                return Err(OpenError::Locked {
                    path: path.to_path_buf(),
                    holder: (!holder.is_empty()).then(|| holder.to_owned()),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(io_error("lock the store", path)(source));
            }
        }
    }
}

/// 0700 on the folder, 0600 on every file in it.
fn make_private(path: &Path) -> Result<(), OpenError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in walkdir::WalkDir::new(path) {
            let entry = entry.map_err(|error| io_error("list", path)(error.into()))?;
            let mode = if entry.file_type().is_dir() {
                0o700
            } else {
                0o600
            };
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))
                .map_err(io_error("restrict the permissions of", entry.path()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Writes;

    #[cfg(unix)]
    #[test]
    fn the_folder_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::open_or_create(&path).unwrap();
        store.flush().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                assert_eq!(
                    entry.metadata().unwrap().permissions().mode() & 0o077,
                    0,
                    "{:?}",
                    entry.path()
                );
            }
        }
    }

    #[test]
    fn a_second_opener_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let _held = Store::open_or_create(&path).unwrap();
        // The pid file's lock belongs to its open file description, not to the process:
        // a second open in the same process is refused the same way another process is.
        let started = Instant::now();
        let error = Store::open_or_create(&path)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= LOCK_WAIT, "it waited before giving up");
        assert!(error.contains(&std::process::id().to_string()), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn opening_leaves_the_umask_alone_and_the_pid_file_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let umask = crate::test_support::Umask::set(0o022);
        let store = Store::open_or_create(&path);
        assert_eq!(
            umask.current(),
            0o022,
            "Store::open changed the process umask"
        );
        drop(umask);
        let store = store.unwrap();
        let pid_file = path.join(PID_FILE);
        assert_eq!(
            std::fs::metadata(&pid_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&pid_file).unwrap();
        assert!(
            text.starts_with(&format!("{} (", std::process::id())),
            "{text}"
        );
        drop(store);
        assert_eq!(
            std::fs::read_to_string(&pid_file).unwrap(),
            "",
            "emptied on drop"
        );
    }

    #[test]
    fn a_moment_of_sled_holding_its_file_after_a_close_is_waited_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        drop(Store::open_or_create(&path).unwrap());
        // As sled's background writers may hold it for a moment after a close.
        let sled_file = File::open(path.join("db")).unwrap();
        sled_file.lock().unwrap();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(sled_file);
        });
        let reopened = Store::open_or_create(&path);
        holder.join().unwrap();
        reopened.unwrap();
    }

    #[test]
    fn open_refuses_a_missing_store_and_makes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/store");
        let error = Store::open(&path).unwrap_err();
        assert!(matches!(error, OpenError::Missing { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "there is no store at {} (intake creates it)",
                path.display()
            )
        );
        assert!(!dir.path().join("var").exists(), "nothing was made");

        std::fs::create_dir_all(&path).unwrap();
        let error = Store::open(&path).unwrap_err();
        assert!(matches!(error, OpenError::Missing { .. }), "{error:?}");
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0, "no pid file");
    }

    #[test]
    fn open_or_create_starts_a_store_in_an_empty_folder_and_open_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        std::fs::create_dir(&path).unwrap();
        let store = Store::open_or_create(&path).unwrap();
        let mut writes = Writes::default();
        writes.put_bytes(Tree::Meta, "created_by", b"test".to_vec());
        store.apply(writes).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.meta("created_by").unwrap().as_deref(), Some("test"));
    }

    /// A closed store, then `damage` done to its folder; the error of opening it
    /// either way, each of which must leave the folder as it found it.
    fn damaged_by(damage: impl Fn(&Path)) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        drop(Store::open_or_create(&path).unwrap());
        damage(&path);
        let before = folder(&path);
        let opened = Store::open(&path).map(|_| ()).unwrap_err();
        assert!(matches!(opened, OpenError::Damaged { .. }), "{opened:?}");
        assert_eq!(folder(&path), before, "open left the folder as it was");
        let created = Store::open_or_create(&path).map(|_| ()).unwrap_err();
        assert_eq!(folder(&path), before, "open_or_create left it too");
        (opened.to_string(), created.to_string())
    }

    /// Every file of a folder, with its bytes.
    fn folder(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = walkdir::WalkDir::new(path)
            .into_iter()
            .map(|entry| entry.unwrap().into_path())
            .filter(|file| file.is_file())
            .map(|file| {
                let bytes = std::fs::read(&file).unwrap();
                (file, bytes)
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn emptied_or_missing_files_are_refused_untouched() {
        // The file, and what it holds then (nothing: it is removed).
        let cases: [(&str, &str, Option<&[u8]>); 4] = [
            ("its `db` is empty", "db", Some(b"")),
            ("its `conf` is empty", "conf", Some(b"")),
            (
                "its `conf` is cut short (8 bytes)",
                "conf",
                Some(b"segment_"),
            ),
            ("it has no `db`", "db", None),
        ];
        for (why, file, bytes) in cases {
            let (opened, created) = damaged_by(|path| match bytes {
                Some(bytes) => std::fs::write(path.join(file), bytes).unwrap(),
                None => std::fs::remove_file(path.join(file)).unwrap(),
            });
            assert!(
                opened.ends_with(&format!("is not a healthy store: {why}")),
                "{opened}"
            );
            assert_eq!(created, opened);
        }
    }

    #[test]
    fn a_folder_with_only_the_pid_file_is_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        std::fs::create_dir(&path).unwrap();
        File::create(path.join(PID_FILE)).unwrap();
        for error in [Store::open(&path), Store::open_or_create(&path)]
            .map(|opened| opened.map(|_| ()).unwrap_err().to_string())
        {
            assert!(
                error.ends_with("is not a healthy store: it has no `conf`"),
                "{error}"
            );
        }
        assert_eq!(
            std::fs::read_dir(&path).unwrap().count(),
            1,
            "sled made nothing"
        );
    }

    #[test]
    fn a_folder_of_something_else_gets_no_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let error = Store::open(dir.path()).map(|_| ()).unwrap_err().to_string();
        assert!(
            error.ends_with("it holds none of a store's files"),
            "{error}"
        );
        assert!(!dir.path().join(PID_FILE).exists());
    }

    #[test]
    fn a_panic_while_opening_becomes_an_error_naming_the_path() {
        let path = Path::new("/srv/portal/var/store");
        let error = catching_panics::<()>(path, || panic!("index out of bounds"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "/srv/portal/var/store is not a healthy store: sled failed while reading it: index out of bounds ("
            ),
            "{error}"
        );
        assert!(error.contains("open.rs:"), "where it panicked: {error}");
        assert_eq!(catching_panics(path, || 7).unwrap(), 7);
        let other = std::thread::spawn(|| panic!("not ours")).join();
        assert!(other.is_err(), "other panics still unwind as before");
    }
}
