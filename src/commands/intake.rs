//! `portal intake`: one pass (for cron and systemd timers), a pass every interval,
//! or a pass as mail arrives (`--watch`), until SIGTERM or SIGINT.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::Outcome;
use crate::config::Config;
use crate::intake::{PassReport, run_pass};
use crate::store::OpenError;

pub(super) fn run(
    config: &Config,
    every: Option<Duration>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let Some(every) = every else {
        let report = run_pass(config, None)?;
        writeln!(out, "{}", describe(&report))?;
        return Ok(if report.quarantined > 0 {
            Outcome::Closed
        } else {
            Outcome::Done
        });
    };
    let stop = stop_on_signals()?;
    let mut failures: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        match run_pass(config, Some(&stop)) {
            Ok(report) => {
                failures = 0;
                writeln!(out, "{}", describe(&report))?;
            }
            // A damaged store does not mend itself: stop (exit 2) rather than log the
            // same error every interval while mail piles up unseen.
            Err(error)
                if error.chain().any(|cause| {
                    matches!(cause.downcast_ref(), Some(OpenError::Damaged { .. }))
                }) =>
            {
                return Err(error);
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
        // After a failure, wait longer each time (a server that dropped), up to the
        // interval.
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
    writeln!(out, "stopped")?;
    Ok(Outcome::Done)
}

/// `--watch`: a pass as mail arrives and a safety pass every interval (default 5 m),
/// until SIGTERM or SIGINT.
pub(super) fn watch(
    config: &Config,
    every: Option<Duration>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let stop = stop_on_signals()?;
    let every = every.unwrap_or(Duration::from_secs(5 * 60));
    crate::intake::watch::run(config, every, &stop, &mut |_reason| {
        let report = run_pass(config, Some(&stop))?;
        writeln!(out, "{}", describe(&report))?;
        Ok(report)
    })?;
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
