//! The store as one file of JSON lines (`portal store export|import`): the backup, and
//! the way across a sled upgrade.
//!
//! The first line is the header `{"format":"portal-store","version":1}`. Then one line
//! per record, tree by tree in the store's own order and each tree in key order:
//! `{"tree":"tickets","key":"PRP-2026-000001","value":{…}}`. A key is written as text
//! when it is UTF-8 without control characters, else as `key_b64` (the big-endian ids
//! of notices and audit entries); a value as itself when the stored bytes are one JSON
//! document on one line (every record), else as `value_b64` (raw mail, counters, the
//! hashes of a Message-ID). Base64 is the standard alphabet with padding. The last line
//! counts the records, `{"records":N}`, so a file cut short is refused, not half
//! loaded. Both ways are byte for byte and nothing depends on when the file was
//! written: export → import → export gives the same bytes.
//!
//! Export streams one record at a time into a temporary file (0600: it holds PHI),
//! synced, then renamed over the target. Import loads into a new store in a hidden
//! folder beside the target, checking every line as it goes (the header, each record,
//! their order, the count), and renames that folder into place only once the whole
//! file has loaded; a refused file leaves nothing behind.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::open::holds_anything;
use super::{OpenError, Store, StoreError, TREES, Tree};

/// The header's `format`.
pub const FORMAT: &str = "portal-store";
/// The header's `version`: the one this build writes and reads.
pub const VERSION: u32 = 1;

/// Why an export stopped (the file it was writing is removed).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export")]
    Write(#[from] io::Error),
}

/// Why an import was refused or stopped. Nothing is left at the target either way.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Something is at the target path already.
    #[error(
        "{} is not empty: a store is imported only where its path is missing or an empty folder",
        .path.display()
    )]
    NotEmpty { path: PathBuf },
    /// A line that is not what an export writes.
    #[error("line {line}: {why}")]
    Line { line: u64, why: String },
    #[error("cannot read the file to import")]
    Read(#[source] io::Error),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot move the imported store into place at {}", .path.display())]
    Place {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ImportError {
    /// The file or the target is at fault (a staff command's refusal), not the
    /// machine.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ImportError::NotEmpty { .. } | ImportError::Line { .. }
        )
    }
}

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
}

/// The last line: how many records the lines between hold.
#[derive(Debug, Serialize)]
struct Trailer {
    records: u64,
}

/// One record's line (or, read back, the trailer: `records` alone).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    tree: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    key: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_b64: Option<String>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    value: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    records: Option<u64>,
}

impl<'a> Line<'a> {
    /// The line of a stored record.
    fn of(tree: Tree, key: &'a [u8], value: &'a [u8]) -> Line<'a> {
        let text_key = std::str::from_utf8(key)
            .ok()
            .filter(|key| !key.chars().any(char::is_control));
        let json_value = as_json(value);
        Line {
            tree: Some(Cow::Borrowed(tree.name())),
            key: text_key.map(Cow::Borrowed),
            key_b64: text_key.is_none().then(|| STANDARD.encode(key)),
            value: json_value,
            value_b64: json_value.is_none().then(|| STANDARD.encode(value)),
            records: None,
        }
    }
}

/// The stored bytes as one JSON document written as it is, when they are one on one
/// line (`null` aside: it would read back as no value).
fn as_json(bytes: &[u8]) -> Option<&RawValue> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.contains(['\n', '\r']) {
        return None;
    }
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    (raw.get().len() == text.len() && raw.get() != "null").then_some(raw)
}

fn write_line<T: Serialize>(out: &mut dyn Write, line: &T) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, line).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

impl Store {
    /// Writes every record of every tree to `out` as the export's lines, streaming;
    /// how many records.
    pub fn export(&self, out: &mut dyn Write) -> Result<u64, ExportError> {
        write_line(
            out,
            &Header {
                format: FORMAT.to_owned(),
                version: VERSION,
            },
        )?;
        let mut records = 0;
        for tree in TREES {
            for entry in self.tree(tree).iter() {
                let (key, value) = entry.map_err(|source| StoreError::Read {
                    tree: tree.name(),
                    source,
                })?;
                write_line(out, &Line::of(tree, &key, &value))?;
                records += 1;
            }
        }
        write_line(out, &Trailer { records })?;
        out.flush()?;
        Ok(records)
    }
}

/// Exports the store into `file`: written under a temporary name beside it (0600),
/// synced, then renamed over it, so `file` is always a whole export. How many records.
pub fn export_to_file(store: &Store, file: &Path) -> Result<u64, ExportError> {
    let temporary = sibling(file, "exporting");
    let written = write_file(store, &temporary).and_then(|records| {
        fs::rename(&temporary, file)?;
        sync_folder_of(file)?;
        Ok(records)
    });
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

fn write_file(store: &Store, path: &Path) -> Result<u64, ExportError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = BufWriter::with_capacity(1 << 20, options.open(path)?);
    let records = store.export(&mut out)?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    Ok(records)
}

/// `.NAME.WHAT-PID` in the folder of `path`: a name of this process's own.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "store".into(), |name| name.to_string_lossy());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// Makes a rename in the folder of `path` durable.
fn sync_folder_of(path: &Path) -> io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(folder)?.sync_all()
}

/// Loads an export from `input` into a new store at `path`, which must be missing or
/// an empty folder: into a hidden folder beside it first, moved into place once every
/// line has loaded and been flushed. How many records.
pub fn import(path: &Path, input: &mut dyn BufRead) -> Result<u64, ImportError> {
    match holds_anything(path) {
        Ok(false) => {}
        Ok(true) | Err(OpenError::Damaged { .. }) => {
            return Err(ImportError::NotEmpty {
                path: path.to_path_buf(),
            });
        }
        Err(error) => return Err(error.into()),
    }
    let staging = sibling(path, "importing");
    // Left by an import of this process id that died: never anyone's store.
    let _ = fs::remove_dir_all(&staging);
    let imported = load_into(&staging, input).and_then(|records| {
        place(&staging, path)?;
        Ok(records)
    });
    if imported.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    imported
}

/// A new store at `staging` holding every record of `input`, flushed and closed.
fn load_into(staging: &Path, input: &mut dyn BufRead) -> Result<u64, ImportError> {
    let store = Store::open_or_create(staging)?;
    let records = store.load(input)?;
    store.flush()?;
    Ok(records)
}

fn place(staging: &Path, path: &Path) -> Result<(), ImportError> {
    let failed = |source| ImportError::Place {
        path: path.to_path_buf(),
        source,
    };
    // Over an empty folder too: rename(2) replaces an empty directory.
    fs::rename(staging, path).map_err(failed)?;
    sync_folder_of(path).map_err(failed)
}

/// What an import has loaded so far.
#[derive(Default)]
struct Loading {
    /// The lines read.
    lines: u64,
    /// The last record inserted: the next one comes after it.
    previous: Option<(Tree, Vec<u8>)>,
    records: u64,
    /// The count of records was read: the file ends there.
    counted: bool,
}

impl Loading {
    fn refused(&self, why: impl Into<String>) -> ImportError {
        ImportError::Line {
            line: self.lines,
            why: why.into(),
        }
    }

    /// The records loaded, once the whole file was read.
    fn finish(self) -> Result<u64, ImportError> {
        if self.lines == 0 {
            return Err(ImportError::Line {
                line: 1,
                why: format!("the file is empty; an export starts with {}", header_text()),
            });
        }
        if !self.counted {
            return Err(ImportError::Line {
                line: self.lines + 1,
                why: "the file ends before its count of records: it was cut short".into(),
            });
        }
        Ok(self.records)
    }
}

impl Store {
    /// Inserts every record of an export, each line checked: the header first, then
    /// records in the order export writes them (so none twice), then the count.
    fn load(&self, input: &mut dyn BufRead) -> Result<u64, ImportError> {
        let mut bytes = Vec::new();
        let mut loading = Loading::default();
        while input
            .read_until(b'\n', &mut bytes)
            .map_err(ImportError::Read)?
            > 0
        {
            loading.lines += 1;
            let text = line_text(&bytes).map_err(|why| loading.refused(why))?;
            if loading.lines == 1 {
                check_header(text).map_err(|why| loading.refused(why))?;
            } else {
                self.load_line(&mut loading, text)?;
            }
            bytes.clear();
        }
        loading.finish()
    }

    /// One line after the header: a record inserted, or the count checked.
    fn load_line(&self, loading: &mut Loading, text: &str) -> Result<(), ImportError> {
        if loading.counted {
            return Err(loading.refused("a line after the count of records, which ends the file"));
        }
        match parse(text).map_err(|why| loading.refused(why))? {
            Parsed::Count(count) if count == loading.records => loading.counted = true,
            Parsed::Count(count) => {
                return Err(loading.refused(format!(
                    "the file counts {count} records, but holds {}",
                    loading.records
                )));
            }
            Parsed::Record(tree, key, value) => {
                in_order(loading.previous.as_ref(), tree, &key)
                    .map_err(|why| loading.refused(why))?;
                self.tree(tree)
                    .insert(key.as_slice(), value)
                    .map_err(|error| {
                        StoreError::Transaction(format!(
                            "cannot write a {} record: {error}",
                            tree.name()
                        ))
                    })?;
                loading.previous = Some((tree, key));
                loading.records += 1;
            }
        }
        Ok(())
    }
}

/// A line's text without its newline.
fn line_text(bytes: &[u8]) -> Result<&str, String> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

fn header_text() -> String {
    format!("{{\"format\": {FORMAT:?}, \"version\": {VERSION}}}")
}

fn check_header(text: &str) -> Result<(), String> {
    let header: Header = serde_json::from_str(text)
        .map_err(|_| format!("not the header of a store export, {}", header_text()))?;
    if header.format != FORMAT {
        return Err(format!(
            "not a store export: its format is not {FORMAT:?} (expected {})",
            header_text()
        ));
    }
    if header.version != VERSION {
        return Err(format!(
            "version {} of the export format; this portal reads version {VERSION}",
            header.version
        ));
    }
    Ok(())
}

/// What one line after the header holds.
enum Parsed {
    Record(Tree, Vec<u8>, Vec<u8>),
    Count(u64),
}

fn parse(text: &str) -> Result<Parsed, String> {
    // Never the serde message itself: it may quote the line, and a record is PHI.
    let line: Line<'_> = serde_json::from_str(text).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => format!(
            "not a record of the store: a field missing, unknown or of the wrong type (column {})",
            error.column()
        ),
        _ => format!("not JSON (column {})", error.column()),
    })?;
    if let Line {
        tree: None,
        key: None,
        key_b64: None,
        value: None,
        value_b64: None,
        records: Some(count),
    } = line
    {
        return Ok(Parsed::Count(count));
    }
    if line.records.is_some() {
        return Err("a record with a count of records".into());
    }
    let name = line.tree.ok_or("a record without its tree")?;
    let tree = TREES
        .into_iter()
        .find(|tree| tree.name() == name)
        .ok_or("a record of no tree of the store")?;
    let key = either(
        line.key.map(|key| key.as_bytes().to_vec()),
        line.key_b64,
        "key",
    )?;
    let value = either(
        line.value.map(|value| value.get().as_bytes().to_vec()),
        line.value_b64,
        "value",
    )?;
    Ok(Parsed::Record(tree, key, value))
}

/// The bytes of `field` or of `field_b64`, exactly one of which a record has.
fn either(plain: Option<Vec<u8>>, b64: Option<String>, field: &str) -> Result<Vec<u8>, String> {
    match (plain, b64) {
        (Some(bytes), None) => Ok(bytes),
        (None, Some(text)) => STANDARD
            .decode(text)
            .map_err(|_| format!("its {field}_b64 is not base64")),
        (Some(_), Some(_)) => Err(format!("both {field} and {field}_b64")),
        (None, None) => Err(format!("neither {field} nor {field}_b64")),
    }
}

/// A record comes after the one before it: a later tree, or a greater key.
fn in_order(previous: Option<&(Tree, Vec<u8>)>, tree: Tree, key: &[u8]) -> Result<(), String> {
    let Some((before, before_key)) = previous else {
        return Ok(());
    };
    if (before.index(), before_key.as_slice()) < (tree.index(), key) {
        return Ok(());
    }
    Err(if *before == tree {
        format!(
            "a {} record not after the one before it (records are in key order, each once)",
            tree.name()
        )
    } else {
        format!("a {} record after the {} ones", tree.name(), before.name())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Writes;

    /// A store holding a record of each kind of key and value export tells apart.
    fn filled(path: &Path) -> Store {
        let store = Store::open_or_create(path).unwrap();
        let mut writes = Writes::default();
        writes
            .put(
                Tree::Inquiries,
                "INQ-2026-000001",
                &serde_json::json!({"v": 1, "id": "INQ-2026-000001"}),
            )
            .unwrap();
        writes.put_bytes(Tree::Meta, "counter:PRP:2026", 1u64.to_be_bytes().to_vec());
        writes.put_bytes(Tree::Meta, "created_by", b"demo".to_vec());
        writes.put_bytes(Tree::Raw, "ab12", b"From: a@b.example\r\n\r\nHi\n".to_vec());
        writes.put_bytes(Tree::Pending, 7u64.to_be_bytes(), Vec::new());
        writes.put_bytes(Tree::Meta, "weird", b"null".to_vec());
        writes.put_bytes(Tree::Meta, "spaced", b" {\"a\": 1}".to_vec());
        writes
            .audit(
                &store,
                chrono::Utc::now(),
                "test",
                "INQ-2026-000001",
                None,
                None,
            )
            .unwrap();
        store.apply(writes).unwrap();
        store
    }

    fn exported(store: &Store) -> Vec<u8> {
        let mut out = Vec::new();
        store.export(&mut out).unwrap();
        out
    }

    #[test]
    fn export_then_import_gives_the_same_bytes_and_the_same_records() {
        let dir = tempfile::tempdir().unwrap();
        let first = exported(&filled(&dir.path().join("a")));
        let text = String::from_utf8(first.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"format":"portal-store","version":1}"#);
        assert!(
            lines.contains(&r#"{"tree":"inquiries","key":"INQ-2026-000001","value":{"id":"INQ-2026-000001","v":1}}"#),
            "{text}"
        );
        assert!(
            lines.contains(
                &r#"{"tree":"meta","key":"counter:PRP:2026","value_b64":"AAAAAAAAAAE="}"#
            ),
            "{text}"
        );
        assert!(
            lines.contains(&r#"{"tree":"pending","key_b64":"AAAAAAAAAAc=","value_b64":""}"#),
            "{text}"
        );
        assert!(lines.contains(&r#"{"tree":"meta","key":"weird","value_b64":"bnVsbA=="}"#));
        assert_eq!(lines.last(), Some(&r#"{"records":8}"#));

        let b = dir.path().join("b");
        assert_eq!(import(&b, &mut first.as_slice()).unwrap(), 8);
        let again = Store::open(&b).unwrap();
        assert_eq!(exported(&again), first);
        assert_eq!(
            again.get_bytes(Tree::Raw, "ab12").unwrap().unwrap(),
            b"From: a@b.example\r\n\r\nHi\n"
        );
        assert_eq!(
            again.get_bytes(Tree::Meta, "spaced").unwrap().unwrap(),
            b" {\"a\": 1}"
        );
    }

    #[test]
    fn ids_drawn_after_an_import_are_above_every_recorded_one() {
        let dir = tempfile::tempdir().unwrap();
        let source = filled(&dir.path().join("a"));
        let mut writes = Writes::default();
        writes.put_bytes(Tree::Audit, 5_000_000u64.to_be_bytes(), b"{}".to_vec());
        source.apply(writes).unwrap();
        let file = exported(&source);
        let b = dir.path().join("b");
        import(&b, &mut file.as_slice()).unwrap();
        let store = Store::open(&b).unwrap();
        let first = store.next_id().unwrap();
        assert!(first > 5_000_000, "{first}");
        assert!(store.next_id().unwrap() > first);
    }

    /// The error of importing `text`, and that nothing was left behind.
    fn refused(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let error = import(&path, &mut text.as_bytes()).unwrap_err();
        assert!(error.is_refusal(), "{error:?}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing is left beside the target"
        );
        error.to_string()
    }

    const HEADER: &str = "{\"format\":\"portal-store\",\"version\":1}\n";

    #[test]
    fn every_kind_of_bad_line_is_refused_by_its_number() {
        let record = "{\"tree\":\"meta\",\"key\":\"a\",\"value\":1}\n";
        let cases = [
            (String::new(), "line 1: the file is empty"),
            (
                "{\"format\":\"other\",\"version\":1}\n".into(),
                "line 1: not a store export",
            ),
            (
                "{\"format\":\"portal-store\",\"version\":2}\n".into(),
                "line 1: version 2",
            ),
            (
                "PRP-2026-000001 Jane Doe\n".into(),
                "line 1: not the header",
            ),
            (
                format!("{HEADER}{record}{{\"tree\":\"meta\",\"key\":\"b\",\"value\":tru\n"),
                "line 3: not JSON",
            ),
            (
                format!("{HEADER}{{\"tree\":\"nope\",\"key\":\"a\",\"value\":1}}\n"),
                "line 2: a record of no tree",
            ),
            (
                format!("{HEADER}{{\"tree\":\"meta\",\"key\":\"a\",\"value\":1,\"extra\":2}}\n"),
                "line 2: not a record of the store",
            ),
            (
                format!("{HEADER}{{\"tree\":\"meta\",\"key_b64\":\"!!\",\"value\":1}}\n"),
                "line 2: its key_b64 is not base64",
            ),
            (
                format!("{HEADER}{{\"tree\":\"meta\",\"key\":\"a\"}}\n"),
                "line 2: neither value nor value_b64",
            ),
            (
                format!("{HEADER}{record}{record}"),
                "line 3: a meta record not after the one before it",
            ),
            (
                format!("{HEADER}{{\"tree\":\"tickets\",\"key\":\"a\",\"value\":1}}\n{record}"),
                "line 3: a meta record after the tickets ones",
            ),
            (
                format!("{HEADER}{record}"),
                "line 3: the file ends before its count of records",
            ),
            (
                format!("{HEADER}{record}{{\"records\":2}}\n"),
                "line 3: the file counts 2 records, but holds 1",
            ),
            (
                format!("{HEADER}{record}{{\"records\":1}}\n{record}"),
                "line 4: a line after the count",
            ),
        ];
        for (text, expected) in cases {
            let error = refused(&text);
            assert!(error.starts_with(expected), "{expected:?}: {error}");
            assert!(!error.contains("Jane"), "never the line's text: {error}");
        }
    }

    #[test]
    fn a_path_holding_anything_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("notes.txt"), "mine").unwrap();
        let file = format!("{HEADER}{{\"records\":0}}\n");
        let error = import(&path, &mut file.as_bytes()).unwrap_err();
        assert!(matches!(error, ImportError::NotEmpty { .. }), "{error:?}");
        assert_eq!(fs::read_dir(&path).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        // An empty folder takes the store.
        fs::remove_file(path.join("notes.txt")).unwrap();
        assert_eq!(import(&path, &mut file.as_bytes()).unwrap(), 0);
        assert!(Store::open(&path).unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_export_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = filled(&dir.path().join("a"));
        let file = dir.path().join("backup.jsonl");
        fs::write(&file, "an older export").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(export_to_file(&store, &file).unwrap(), 8);
        assert_eq!(fs::read(&file).unwrap(), exported(&store));
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
    }
}
