//! The figures from the store: the statistics file intake writes (`[store]
//! statistics_file`, rewritten whole and atomically after each pass and each staff
//! decision that changes a figure) and the staff report of any period.
//!
//! One scan reads every ticket and registration as a narrow view (the fields counted,
//! nothing else), so the file costs well under a second at 100,000 tickets
//! (`cargo bench --bench statistics`).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::Chicago;
use serde::Serialize;

use super::count::{OverdueTicket, Period, RegistrationFacts, TicketFacts, count, overdue_tickets};
use super::model::Statistics;
use crate::config::Config;
use crate::store::{Store, StoreResult, Tree};

/// What `portal report --json` prints: the period, its figures, and the overdue
/// tickets (staff only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(flatten)]
    pub statistics: Statistics,
    /// The tickets received in the period that are overdue as of the report's day.
    pub overdue_tickets: Vec<OverdueTicket>,
}

/// Every ticket and registration, as the figures need them.
fn read_facts(store: &Store) -> StoreResult<(Vec<TicketFacts>, Vec<RegistrationFacts>)> {
    Ok((store.all(Tree::Tickets)?, store.all(Tree::Registrations)?))
}

/// The statistics file's figures counted on `as_of`: the last 12 months, its month
/// included.
pub fn compute(store: &Store, config: &Config, as_of: NaiveDate) -> StoreResult<Statistics> {
    compute_for(store, config, Period::twelve_months_to(as_of), as_of)
}

/// The figures of the records received within `period`, counted on `as_of`.
pub fn compute_for(
    store: &Store,
    config: &Config,
    period: Period,
    as_of: NaiveDate,
) -> StoreResult<Statistics> {
    let (tickets, registrations) = read_facts(store)?;
    Ok(count(&tickets, &registrations, &config.mcos, period, as_of))
}

/// The staff report of `period`, counted on `today`: the figures and the overdue
/// tickets, from one scan of the store.
pub fn report(
    store: &Store,
    config: &Config,
    period: Period,
    today: NaiveDate,
) -> StoreResult<Report> {
    let (tickets, registrations) = read_facts(store)?;
    Ok(Report {
        from: period.from,
        to: period.to,
        statistics: count(&tickets, &registrations, &config.mcos, period, today),
        overdue_tickets: overdue_tickets(&tickets, &config.mcos, period, today),
    })
}

/// Counts the figures as of the Illinois day of `now` and writes them to
/// `[store] statistics_file`, atomically: a temporary file in the same folder,
/// written, synced, renamed over the file, the folder synced. The folder is created
/// when missing; the file is public (0644).
pub fn publish(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<()> {
    let as_of = now.with_timezone(&Chicago).date_naive();
    let path = &config.store.statistics_file;
    let statistics = compute(store, config, as_of)
        .with_context(|| format!("cannot count the figures for {}", path.display()))?;
    write_public(path, statistics.to_json().as_bytes())
        .with_context(|| format!("cannot write the statistics file {}", path.display()))
}

/// [`publish`], its failure logged as an error naming the file rather than returned:
/// for the end of a pass and after a staff decision, which the file must never undo.
pub fn publish_or_log(config: &Config, store: &Store, now: DateTime<Utc>) {
    if let Err(error) = publish(config, store, now) {
        tracing::error!(
            path = %config.store.statistics_file.display(),
            error = %format!("{error:#}"),
            "statistics file not written"
        );
    }
}

/// Writes `bytes` to `path` as a whole, public file (0644), atomically.
fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder)?;
    let temporary = temporary_beside(path);
    let written = write_synced(&temporary, bytes).and_then(|()| {
        std::fs::rename(&temporary, path)?;
        File::open(folder)?.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `.NAME.PID-N.tmp` beside `path`: a name no other writer, in this process or
/// another, uses at the same time.
fn temporary_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "statistics".into(), |name| name.to_string_lossy());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
    let mut file = options.open(path)?;
    // The mode given at creation is narrowed by the umask: the file is public.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_written_whole_and_public_in_a_new_folder() {
        let _umask = crate::test_support::Umask::set(0o077);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/public/statistics.json");
        write_public(&path, b"{\"first\": 1}\n").unwrap();
        write_public(&path, b"{}\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        // No temporary file is left beside it.
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["statistics.json"]);
    }

    #[test]
    fn a_file_that_cannot_be_written_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be.
        std::fs::write(dir.path().join("var"), b"").unwrap();
        let mut config = Config::embedded();
        config.store.statistics_file = dir.path().join("var/statistics.json");
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        let error = format!("{:#}", publish(&config, &store, Utc::now()).unwrap_err());
        assert!(error.contains("var/statistics.json"), "{error}");
    }

    #[test]
    fn an_empty_store_publishes_twelve_months_of_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded();
        config.store.statistics_file = dir.path().join("statistics.json");
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        // 2026-12-01 03:00 UTC is still November 30 in Illinois.
        let now = "2026-12-01T03:00:00Z".parse().unwrap();
        publish(&config, &store, now).unwrap();
        let statistics = Statistics::read(&config.store.statistics_file)
            .unwrap()
            .unwrap();
        assert_eq!(statistics.as_of.to_string(), "2026-11-30");
        assert_eq!(statistics.registrations.len(), 12);
        assert_eq!(statistics.registrations[0].month, "2025-12");
        assert_eq!(statistics.months.len(), 12 * (config.mcos.len() + 1));
        assert!(
            statistics
                .months
                .iter()
                .all(|row| row.complaints == 0 && row.median_days_to_proposal.is_none())
        );
    }
}
