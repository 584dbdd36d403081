//! `portal intake`: one pass (for cron and systemd timers), a pass every interval,
//! or a pass as mail arrives (`--watch`), until SIGTERM or SIGINT. Either way the
//! store is opened once and held for the whole run, and staff commands sent meanwhile
//! are answered over the store's socket (`control`), with the intake's open store,
//! between the passes' steps.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::access::Access;
use super::{Outcome, serve};
use crate::config::Config;
use crate::control::server::alongside;
use crate::intake::{Figures, PassReport, pass_over};
use crate::mail::notice::Composer;
use crate::store::{OpenError, Store};

/// The safety pass of `--watch` when `--every` does not say.
const DEFAULT_SAFETY_PASS: Duration = Duration::from_secs(5 * 60);
/// How often `--watch` rewrites the statistics file at most.
const STATISTICS_EVERY: Duration = Duration::from_secs(60);

pub(super) fn run(
    config: &Config,
    every: Option<Duration>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let Some(every) = every else {
        return once(config, out);
    };
    let stop = stop_on_signals()?;
    let Some(store) = open_patiently(config, every, &stop)? else {
        writeln!(out, "stopped")?;
        return Ok(Outcome::Done);
    };
    holding(config, &store, || {
        every_interval(config, &store, every, &stop, out)
    })
}

/// Runs `work` while the store's socket answers staff commands with `store` and a
/// composer made once (a command makes its own should that fail now).
fn holding<T>(config: &Config, store: &Store, work: impl FnOnce() -> T) -> T {
    let composer = match Composer::new(&config.site.templates_dir, &config.mail.from) {
        Ok(composer) => Some(composer),
        Err(error) => {
            let error = format!("{error:#}");
            tracing::warn!(%error, "cannot make the notice composer for staff commands");
            None
        }
    };
    let access = Access::Lent {
        store,
        composer: composer.as_ref(),
    };
    let handler = |args: &[String], out: &mut dyn Write| serve::answer(config, access, args, out);
    alongside(store.path(), &handler, work)
}

/// `--once`: one pass, the store held (and staff commands answered) while it runs.
fn once(config: &Config, out: &mut dyn Write) -> Result<Outcome> {
    let store = Store::open_or_create(&config.store.path)?;
    let report = holding(config, &store, || {
        pass_over(config, &store, None, Figures::Publish)
    })?;
    writeln!(out, "{}", describe(&report))?;
    Ok(if report.quarantined > 0 {
        Outcome::Closed
    } else {
        Outcome::Done
    })
}

/// `--every`: a pass every interval until stopped; a failed pass is retried, sooner.
fn every_interval(
    config: &Config,
    store: &Store,
    every: Duration,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let mut failures: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        match pass_over(config, store, Some(stop), Figures::Publish) {
            Ok(report) => {
                failures = 0;
                writeln!(out, "{}", describe(&report))?;
            }
            Err(error) => {
                failures += 1;
                tracing::error!(
                    attempt = failures,
                    error = %format!("{error:#}"),
                    "intake pass failed; the next one retries"
                );
            }
        }
        wait_for_next(every, failures, stop);
    }
    writeln!(out, "stopped")?;
    Ok(Outcome::Done)
}

/// The store, opened (or created) for the run. Held by another process, or out of
/// reach for now, it is tried again with the passes' backoff until it opens or a
/// signal stops the wait (`None`). A damaged store does not mend itself: stop (exit
/// 2) rather than log the same error every interval while mail piles up unseen.
fn open_patiently(config: &Config, every: Duration, stop: &AtomicBool) -> Result<Option<Store>> {
    let mut failures: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        match Store::open_or_create(&config.store.path) {
            Ok(store) => return Ok(Some(store)),
            Err(error @ OpenError::Damaged { .. }) => return Err(error.into()),
            Err(error) => {
                failures += 1;
                tracing::error!(
                    attempt = failures,
                    error = %error,
                    "cannot open the store; trying again"
                );
                wait_for_next(every, failures, stop);
            }
        }
    }
    Ok(None)
}

/// Waits until the next pass is due: the interval, or after a failure a growing
/// pause (a server that dropped) up to the interval; a stop ends the wait at once.
fn wait_for_next(every: Duration, failures: u32, stop: &AtomicBool) {
    let wait = if failures == 0 {
        every
    } else {
        every.min(Duration::from_secs(5u64 << failures.min(6)))
    };
    let until = Instant::now() + wait;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200).min(wait));
    }
}

/// `--watch`: a pass as mail arrives and a safety pass every interval (default 5 m),
/// until SIGTERM or SIGINT. The statistics file is rewritten at most once a minute
/// (a pass as each message arrives would otherwise rewrite it each time), and once
/// more on the way out when a pass since the last write left it behind.
pub(super) fn watch(
    config: &Config,
    every: Option<Duration>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let stop = stop_on_signals()?;
    let every = every.unwrap_or(DEFAULT_SAFETY_PASS);
    let Some(store) = open_patiently(config, every, &stop)? else {
        writeln!(out, "stopped")?;
        return Ok(Outcome::Done);
    };
    let mut published: Option<Instant> = None;
    let mut behind = false;
    holding(config, &store, || {
        crate::intake::watch::run(config, every, &stop, &mut |_reason| {
            let due = published.is_none_or(|at| at.elapsed() >= STATISTICS_EVERY);
            let figures = if due {
                Figures::Publish
            } else {
                Figures::Defer
            };
            let report = pass_over(config, &store, Some(&stop), figures)?;
            if due {
                published = Some(Instant::now());
            }
            behind = !due;
            writeln!(out, "{}", describe(&report))?;
            Ok(report)
        })
    })?;
    if behind {
        crate::statistics::publish_or_log(config, &store, chrono::Utc::now());
    }
    writeln!(out, "stopped")?;
    Ok(Outcome::Done)
}

/// A flag set by SIGTERM or SIGINT: the pass stops after the message in hand.
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot listen for SIGTERM and SIGINT")?;
    }
    Ok(stop)
}

/// The pass in one line, for the log and the terminal; the day's work, when this pass
/// did any, at its end.
fn describe(report: &PassReport) -> String {
    let daily = if report.reminders > 0 || report.digest_sent {
        format!(
            "; daily: {} overdue reminder(s), {}",
            report.reminders,
            if report.digest_sent {
                "staff digest sent"
            } else {
                "no staff digest"
            }
        )
    } else {
        String::new()
    };
    format!(
        "intake: {} message(s): {} ticket(s), {} registration(s), {} inquiry(ies), {} not registered, {} automatic, {} quarantined, {} unauthenticated, {} already handled; notices: {} sent, {} waiting, {} failed, {} suppressed by the daily limit{daily}",
        report.messages,
        report.tickets.len(),
        report.registrations.len(),
        report.inquiries.len(),
        report.not_registered,
        report.automatic,
        report.quarantined,
        report.unauthenticated,
        report.already_processed,
        report.notices_sent,
        report.notices_waiting,
        report.notices_failed,
        report.notices_suppressed,
    )
}
