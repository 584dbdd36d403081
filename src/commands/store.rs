//! `portal store export|import`: the store as one file of JSON lines (the format is
//! `store::export`'s).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::access::{Access, Held};
use crate::cli::StoreAction;
use crate::config::Config;
use crate::staff::refused;
use crate::store::export::{ImportError, export_to_file, import};
use crate::store::{OpenError, Store};

/// How long export waits for another process (not an intake, which answers over its
/// socket) to release the store.
const PATIENCE: Duration = Duration::from_secs(600);
/// The longest pause between two tries.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    action: StoreAction,
    out: &mut dyn Write,
) -> Result<()> {
    match action {
        StoreAction::Export { file } => export(config, access, &file, out),
        StoreAction::Import { file } => import_file(config, &file, out),
    }
}

fn export(config: &Config, access: Access<'_>, file: &Path, out: &mut dyn Write) -> Result<()> {
    let store = match access {
        Access::Open => Held::Own(open_waiting(&config.store.path, PATIENCE)?),
        Access::Lent { store, .. } => Held::Lent(store),
    };
    if file == Path::new("-") {
        let records = store.export(&mut BufWriter::new(out))?;
        tracing::info!(records, "exported the store to standard output");
        return Ok(());
    }
    let records = export_to_file(&store, file)
        .with_context(|| format!("cannot export the store to {}", file.display()))?;
    writeln!(
        out,
        "Exported {records} records of the store {} to {}.",
        store.path().display(),
        file.display()
    )?;
    Ok(())
}

/// The store at `path`; while another process (an intake pass) holds it, tried again
/// with a growing pause until `patience` is spent. [`Store::open`] itself waits a few
/// seconds each time.
fn open_waiting(path: &Path, patience: Duration) -> Result<Store, OpenError> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        match Store::open(path) {
            Err(OpenError::Locked { .. }) if started.elapsed() + pause < patience => {
                if pause == Duration::from_secs(1) {
                    tracing::info!(
                        path = %path.display(),
                        patience_s = patience.as_secs(),
                        "the store is in use; export waits for it"
                    );
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            opened => return opened,
        }
    }
}

fn import_file(config: &Config, file: &Path, out: &mut dyn Write) -> Result<()> {
    let path = &config.store.path;
    let imported = if file == Path::new("-") {
        import(path, &mut std::io::stdin().lock())
    } else {
        let input = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        import(path, &mut BufReader::with_capacity(1 << 20, input))
    };
    let records = imported.map_err(|error| match error {
        ImportError::Line { .. } => {
            refused(format!("{}: {error}; nothing was imported", file.display()))
        }
        error if error.is_refusal() => refused(error.to_string()),
        error => anyhow::Error::new(error).context(format!("cannot import {}", file.display())),
    })?;
    tracing::info!(path = %path.display(), records, "imported the store");
    writeln!(
        out,
        "Imported {records} records from {} into a new store at {}.",
        file.display(),
        path.display()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store held by a process that answers no socket (another command, the demo):
    /// export waits, then names the holder. A store an intake holds is exported by the
    /// intake itself, at once (tests/staff_socket.rs).
    #[test]
    fn export_gives_up_waiting_for_a_held_store_when_its_patience_is_spent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let _held = Store::open_or_create(&path).unwrap();
        let error = open_waiting(&path, Duration::ZERO).map(|_| ()).unwrap_err();
        assert!(matches!(error, OpenError::Locked { .. }), "{error:?}");
        assert!(
            error.to_string().contains("is in use by process"),
            "{error}"
        );
    }
}
