//! `portal intake --watch`: a pass as soon as mail arrives, and a safety pass every
//! interval.
//!
//! What wakes the loop:
//! - on each IMAP mailbox, one IDLE connection (`mail::idle`) in a thread of its own,
//!   apart from the pass's connection. When the server goes away it reconnects after
//!   1 s, 2 s, 4 s … (at most the interval), logging the outage once when it starts
//!   (warn) and once when it ends (info); each (re)connection wakes the loop, since mail
//!   may have come meanwhile. A server without IDLE is logged once, and the safety pass
//!   is its poll;
//! - on each Maildir, a file watcher (notify) on `new/`.
//!
//! A wake runs a pass at once. A pass handles everything waiting, so the wakes that came
//! before it are spent; those that come during it run one more pass after it. With no
//! wake, a safety pass runs every interval — it also retries the outbox — and one runs
//! when the Illinois day turns, so the day's work (reminders, digest, purge) is done
//! after midnight with or without mail. A pass that fails is logged and retried after
//! 10, 20, 40 s … (at most the interval); a damaged store ends the watch with its error.
//!
//! How a pass is run (and how the store is held meanwhile) is the caller's: the loop is
//! given a function that runs one. It looks at the stop flag every [`TICK`]; the pass
//! itself stops after the message in hand.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::{NaiveDate, Utc};
use notify::event::{EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher as _};

use super::{PassReport, illinois_day};
use crate::config::{Config, ImapServer, MailboxKind};
use crate::mail::idle::{self, Ended, Event};
use crate::store::{Mailbox, OpenError};

/// How often the loop looks at the stop flag and the clock while it waits.
const TICK: Duration = Duration::from_millis(200);
/// How long the watchers are given to log out when the watch ends.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// The first wait before reconnecting to a server that went away.
const FIRST_RECONNECT: Duration = Duration::from_secs(1);

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The watch began.
    Start,
    /// A watcher saw new mail.
    NewMail,
    /// An IDLE connection was made (again): mail may have come while there was none.
    Connected,
    /// The interval passed without mail (or a failed pass's retry came due).
    Safety,
    /// The Illinois day turned: the day's work is due.
    NewDay,
}

impl Reason {
    /// The reason as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::NewMail => "new_mail",
            Reason::Connected => "connected",
            Reason::Safety => "safety",
            Reason::NewDay => "new_day",
        }
    }
}

/// What a watcher tells the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    NewMail(Mailbox),
    Connected(Mailbox),
}

/// Watches both mailboxes and runs `pass` as mail arrives, every `every` without mail,
/// and when the Illinois day turns, until `stop` is set. Returns the error of a pass
/// that found the store damaged; any other failure is logged and retried.
pub fn run(
    config: &Config,
    every: Duration,
    stop: &AtomicBool,
    pass: &mut dyn FnMut(Reason) -> Result<PassReport>,
) -> Result<()> {
    let (sender, wakes) = channel();
    let watchers = Watchers::start(config, every, &sender)?;
    tracing::info!(
        every_seconds = every.as_secs(),
        "watching the mailboxes; a safety pass every interval"
    );
    let result = watch(every, stop, &wakes, pass);
    drop(watchers);
    result
}

/// The loop itself, fed by `wakes`.
fn watch(
    every: Duration,
    stop: &AtomicBool,
    wakes: &Receiver<Wake>,
    pass: &mut dyn FnMut(Reason) -> Result<PassReport>,
) -> Result<()> {
    let mut due = Some(Reason::Start);
    let mut next = Instant::now();
    let mut day = illinois_day(Utc::now());
    let mut failures: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some(reason) = due.take() else {
            due = wait(wakes, next, day);
            continue;
        };
        // What woke the loop until now is for this pass to find.
        while wakes.try_recv().is_ok() {}
        day = illinois_day(Utc::now());
        tracing::info!(reason = reason.as_str(), "intake pass");
        match pass(reason) {
            Ok(_) => failures = 0,
            // A damaged store does not mend itself: stop (exit 2) rather than log the
            // same error every interval while mail piles up unseen.
            Err(error) if is_damaged(&error) => return Err(error),
            Err(error) => {
                failures += 1;
                tracing::error!(
                    attempt = failures,
                    error = %format!("{error:#}"),
                    "intake pass failed; the next one retries"
                );
            }
        }
        next = Instant::now() + retry_after(failures, every);
    }
    Ok(())
}

/// Waits at most a [`TICK`] for a wake; without one, says whether a pass is due.
fn wait(wakes: &Receiver<Wake>, next: Instant, day: NaiveDate) -> Option<Reason> {
    let left = next.saturating_duration_since(Instant::now());
    match wakes.recv_timeout(left.min(TICK)) {
        Ok(Wake::NewMail(_)) => Some(Reason::NewMail),
        Ok(Wake::Connected(_)) => Some(Reason::Connected),
        Err(_) => due_without_mail(Instant::now() >= next, day, illinois_day(Utc::now())),
    }
}

/// The pass due when no mail came: the safety pass once the interval is over, the
/// day's first pass once the Illinois day of the last pass is over.
fn due_without_mail(interval_over: bool, last_pass: NaiveDate, today: NaiveDate) -> Option<Reason> {
    if interval_over {
        Some(Reason::Safety)
    } else if today != last_pass {
        Some(Reason::NewDay)
    } else {
        None
    }
}

/// How long after a pass the next safety pass comes: the interval, or after
/// `failures` failed passes in a row 10, 20, 40 s … up to the interval.
fn retry_after(failures: u32, every: Duration) -> Duration {
    if failures == 0 {
        every
    } else {
        every.min(Duration::from_secs(5u64 << failures.min(6)))
    }
}

fn is_damaged(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| matches!(cause.downcast_ref(), Some(OpenError::Damaged { .. })))
}

/// The watchers of both mailboxes, stopped when dropped.
struct Watchers {
    /// Tells the IDLE threads to end.
    done: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The Maildir watchers, which watch as long as they live.
    files: Vec<notify::RecommendedWatcher>,
}

impl Watchers {
    fn start(config: &Config, every: Duration, wake: &Sender<Wake>) -> Result<Watchers> {
        let mut watchers = Watchers {
            done: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            files: Vec::new(),
        };
        for (mailbox, settings) in [
            (Mailbox::Intake, &config.mail.intake),
            (Mailbox::Inquiries, &config.mail.inquiries),
        ] {
            match &settings.kind {
                MailboxKind::Imap(server) => {
                    let (server, done, wake) =
                        (server.clone(), Arc::clone(&watchers.done), wake.clone());
                    let thread = std::thread::Builder::new()
                        .name(format!("idle-{mailbox}"))
                        .spawn(move || keep_idling(&server, mailbox, every, &done, &wake))
                        .context("cannot start the IDLE watcher")?;
                    watchers.threads.push(thread);
                }
                MailboxKind::Maildir { path } => {
                    watchers
                        .files
                        .push(watch_maildir(path, mailbox, wake.clone())?);
                }
            }
        }
        Ok(watchers)
    }
}

impl Drop for Watchers {
    /// Tells the IDLE threads to end and gives them a moment to log out; one still
    /// connecting ends with the process.
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let until = Instant::now() + STOP_GRACE;
        while Instant::now() < until && self.threads.iter().any(|thread| !thread.is_finished()) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One IDLE connection after another on `mailbox` until `done`, with a growing wait
/// between attempts while the server is away; each outage logged once at its start
/// and once at its end.
fn keep_idling(
    server: &ImapServer,
    mailbox: Mailbox,
    every: Duration,
    done: &AtomicBool,
    wake: &Sender<Wake>,
) {
    let name = mailbox.as_str();
    let mut outage: Option<Instant> = None;
    let mut delay = FIRST_RECONNECT;
    while !done.load(Ordering::SeqCst) {
        let ended = idle::idle(server, name, done, &mut |event| match event {
            Event::Idling => {
                if let Some(since) = outage.take() {
                    tracing::info!(
                        mailbox = name,
                        seconds = since.elapsed().as_secs(),
                        "mailbox connection back"
                    );
                }
                tracing::info!(mailbox = name, "waiting for mail with IMAP IDLE");
                delay = FIRST_RECONNECT;
                let _ = wake.send(Wake::Connected(mailbox));
            }
            Event::NewMail => {
                let _ = wake.send(Wake::NewMail(mailbox));
            }
        });
        match ended {
            Ok(Ended::Stopped) => return,
            Ok(Ended::NoIdle) => {
                tracing::warn!(
                    mailbox = name,
                    every_seconds = every.as_secs(),
                    "the IMAP server does not offer IDLE; the safety pass is the poll"
                );
                return;
            }
            Err(_) if done.load(Ordering::SeqCst) => return,
            Err(error) => {
                if outage.is_none() {
                    tracing::warn!(
                        mailbox = name,
                        error = %format!("{error:#}"),
                        "mailbox connection lost; reconnecting"
                    );
                    outage = Some(Instant::now());
                }
                pause(delay, done);
                delay = (delay * 2).min(every.max(FIRST_RECONNECT));
            }
        }
    }
}

/// Waits `delay`, or less when `done` is set meanwhile.
fn pause(delay: Duration, done: &AtomicBool) {
    let until = Instant::now() + delay;
    while !done.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(TICK));
    }
}

/// A file watcher on the Maildir's `new/` (made with the Maildir when missing) that
/// wakes the loop when a message arrives there.
fn watch_maildir(
    path: &Path,
    mailbox: Mailbox,
    wake: Sender<Wake>,
) -> Result<notify::RecommendedWatcher> {
    let new = crate::mail::maildir::Maildir::open(path)?
        .root()
        .join("new");
    let mut warned = false;
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_arrival(&event.kind) => {
                let _ = wake.send(Wake::NewMail(mailbox));
            }
            Ok(_) => {}
            Err(error) if !warned => {
                warned = true;
                tracing::warn!(
                    mailbox = mailbox.as_str(),
                    error = %error,
                    "the Maildir watcher failed; the safety pass still runs"
                );
            }
            Err(_) => {}
        })
        .context("cannot start a file watcher")?;
    watcher
        .watch(&new, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", new.display()))?;
    Ok(watcher)
}

/// Whether an event in `new/` may be a message arriving: a file made there or renamed
/// into it (from `tmp/`, as delivery agents do), or an event that says too little to
/// tell. A message moved out by a pass is not one.
fn is_arrival(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
            | EventKind::Any
            | EventKind::Other
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, RemoveKind};

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn without_mail_a_pass_comes_after_the_interval_or_when_the_day_turns() {
        let today = day("2026-03-02");
        assert_eq!(due_without_mail(false, today, today), None);
        assert_eq!(due_without_mail(true, today, today), Some(Reason::Safety));
        assert_eq!(
            due_without_mail(false, day("2026-03-01"), today),
            Some(Reason::NewDay)
        );
    }

    #[test]
    fn failed_passes_are_retried_sooner_up_to_the_interval() {
        let every = Duration::from_secs(300);
        let waits: Vec<u64> = (0..8)
            .map(|failures| retry_after(failures, every).as_secs())
            .collect();
        assert_eq!(waits, [300, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(retry_after(3, Duration::from_secs(2)).as_secs(), 2);
    }

    #[test]
    fn a_message_arriving_in_new_is_an_arrival_and_one_leaving_it_is_not() {
        assert!(is_arrival(&EventKind::Create(CreateKind::File)));
        assert!(is_arrival(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(is_arrival(&EventKind::Other));
        assert!(!is_arrival(&EventKind::Modify(ModifyKind::Name(
            RenameMode::From
        ))));
        assert!(!is_arrival(&EventKind::Remove(RemoveKind::File)));
        assert!(!is_arrival(&EventKind::Modify(ModifyKind::Data(
            DataChange::Content
        ))));
    }

    /// Runs the loop with `every`, a pass that does what `step` says, and the wakes of
    /// `before` already waiting; returns the reasons of the passes and the result.
    fn drive(
        every: Duration,
        before: usize,
        mut step: impl FnMut(usize, &Sender<Wake>, &AtomicBool) -> Result<()>,
    ) -> (Vec<Reason>, Result<()>) {
        let (sender, wakes) = channel();
        for _ in 0..before {
            sender.send(Wake::NewMail(Mailbox::Intake)).unwrap();
        }
        let stop = AtomicBool::new(false);
        let mut reasons = Vec::new();
        let result = watch(every, &stop, &wakes, &mut |reason| {
            reasons.push(reason);
            step(reasons.len(), &sender, &stop).map(|()| PassReport::default())
        });
        assert!(wakes.try_recv().is_err(), "every wake was spent");
        (reasons, result)
    }

    #[test]
    fn wakes_before_a_pass_are_spent_by_it_and_wakes_during_it_run_one_more() {
        let (reasons, result) = drive(Duration::from_secs(3), 3, |pass, wake, stop| {
            if pass == 1 {
                for _ in 0..4 {
                    wake.send(Wake::NewMail(Mailbox::Inquiries)).unwrap();
                }
            } else {
                stop.store(true, Ordering::SeqCst);
            }
            Ok(())
        });
        result.unwrap();
        assert_eq!(reasons, [Reason::Start, Reason::NewMail]);
    }

    #[test]
    fn a_failed_pass_is_retried_and_a_damaged_store_ends_the_watch() {
        let (reasons, result) = drive(Duration::from_secs(3), 0, |pass, wake, _| {
            if pass == 1 {
                wake.send(Wake::Connected(Mailbox::Intake)).unwrap();
                anyhow::bail!("mail.intake: cannot connect");
            }
            Err(anyhow::Error::new(OpenError::Damaged {
                path: "var/store".into(),
                why: "zero-length db".to_owned(),
            })
            .context("cannot open the store"))
        });
        assert_eq!(reasons, [Reason::Start, Reason::Connected]);
        let error = result.unwrap_err();
        assert!(is_damaged(&error), "{error:#}");
    }

    #[test]
    fn with_no_mail_the_safety_pass_comes_after_the_interval() {
        let started = Instant::now();
        let (reasons, result) = drive(Duration::from_secs(1), 0, |pass, _, stop| {
            if pass == 2 {
                stop.store(true, Ordering::SeqCst);
            }
            Ok(())
        });
        result.unwrap();
        assert_eq!(reasons, [Reason::Start, Reason::Safety]);
        assert!(started.elapsed() >= Duration::from_secs(1));
    }
}
