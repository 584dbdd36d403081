//! One short function per subcommand: load the config, call the library, print.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::forms::{self, Kind, Status, Submission, Unusable};
use crate::today::today_in_illinois;

/// How a command ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Done,
    /// Exit 1: something would be closed.
    Closed,
    /// Exit 2: the input was unreadable or no known workbook.
    Unusable,
}

/// Runs the command the user asked for, writing its report to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome> {
    let config = load_config(&cli.config)?;
    match cli.command {
        Command::Templates { out: dir } => templates(&config, &dir, out),
        Command::Check {
            file,
            received,
            json,
        } => {
            let received = received.unwrap_or_else(today_in_illinois);
            check(&config, &file, received, json, out)
        }
        Command::Build { drafts } => build(&config, drafts, out),
        Command::Serve { port, drafts } => {
            let options = site_options(drafts, true);
            crate::site::serve::serve(config, cli.config, options, port, |line| {
                eprintln!("{line}")
            })?;
            Ok(Outcome::Done)
        }
        Command::Intake { once: _, every } => intake(&config, every, out),
        Command::Tickets { action } => crate::staff::tickets(&config, action, out),
        Command::Registrations { action } => crate::staff::registrations(&config, action, out),
        Command::Inquiries { action } => crate::staff::inquiries(&config, action, out),
        Command::Messages { action } => crate::staff::messages(&config, action, out),
        Command::Outbox { action } => crate::staff::outbox(&config, action, out),
        Command::Demo => {
            crate::demo::run(&config, out)?;
            Ok(Outcome::Done)
        }
    }
}

/// `portal.toml` when it exists; the embedded defaults when the default path is absent.
fn load_config(path: &Path) -> Result<Config> {
    if !path.exists() && path == Path::new("portal.toml") {
        return Ok(Config::embedded());
    }
    Config::from_file(path)
}

fn site_options(drafts: bool, live_reload: bool) -> crate::site::BuildOptions {
    crate::site::BuildOptions {
        drafts,
        live_reload,
        today: today_in_illinois(),
    }
}

fn build(config: &Config, drafts: bool, out: &mut dyn Write) -> Result<Outcome> {
    let report = crate::site::build(config, &site_options(drafts, false))?;
    writeln!(out, "{}", crate::site::serve::describe(&report))?;
    Ok(Outcome::Done)
}

fn templates(config: &Config, dir: &Path, out: &mut dyn Write) -> Result<Outcome> {
    for path in write_templates(config, dir)? {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        writeln!(out, "wrote {} ({size} bytes)", path.display())?;
    }
    Ok(Outcome::Done)
}

/// Writes the three blank workbooks into `dir`; returns their paths.
pub fn write_templates(config: &Config, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let bytes = forms::write::blank(kind, &config.mcos, &config.rules)
                .with_context(|| format!("cannot lay out {}", kind.file_name()))?;
            let path = dir.join(kind.file_name());
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

fn check(
    config: &Config,
    file: &Path,
    received_on: chrono::NaiveDate,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let shown = file.display();
    // Never read a huge file into memory only to refuse it.
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > forms::read::MAX_FILE_BYTES {
        let unusable = Unusable::from(forms::ReadError::TooLarge {
            bytes: size,
            limit: forms::read::MAX_FILE_BYTES,
        });
        report_unusable(&shown.to_string(), &unusable, received_on, json, out)?;
        return Ok(Outcome::Unusable);
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    let name = file.file_name().and_then(|name| name.to_str());
    let context = forms::Context {
        received_on,
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    match forms::check(&bytes, name, &context) {
        Err(unusable) => {
            report_unusable(&shown.to_string(), &unusable, received_on, json, out)?;
            Ok(Outcome::Unusable)
        }
        Ok(Submission::Complaint(complaint)) => {
            let report = &complaint.report;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
            } else {
                writeln!(out, "{shown}: complaint template, received {received_on}")?;
                for problem in &report.problems {
                    writeln!(out, "  {problem}")?;
                }
                let forwarded = report
                    .lines
                    .iter()
                    .filter(|line| line.status == Status::Forwarded)
                    .count();
                let closed = report.lines.len() - forwarded;
                let mco = report
                    .mco
                    .as_deref()
                    .and_then(|code| config.mcos.iter().find(|mco| mco.code == code))
                    .map_or_else(|| "the MCO".to_owned(), |mco| mco.name.clone());
                let verdict = match (report.status, report.reason) {
                    (Status::Forwarded, _) => format!(
                        "{forwarded} of {} lines would be forwarded to {mco}",
                        report.lines.len()
                    ),
                    (Status::Closed, Some(reason)) => {
                        format!("the ticket would be closed ({reason})")
                    }
                    (Status::Closed, None) => "every line would be closed".to_owned(),
                };
                writeln!(
                    out,
                    "Summary: {verdict}; {closed} closed; {} problem{}.",
                    report.problems.len(),
                    if report.problems.len() == 1 { "" } else { "s" }
                )?;
            }
            Ok(if report.all_forwarded() {
                Outcome::Done
            } else {
                Outcome::Closed
            })
        }
        Ok(Submission::Registration(registration)) => {
            let report = &registration.report;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
            } else {
                let title = if report.kind == Kind::MultipleRegistration {
                    "multiple registration template"
                } else {
                    "registration form"
                };
                writeln!(out, "{shown}: {title}")?;
                let with_sheet = report.kind == Kind::MultipleRegistration;
                for problem in &report.problems {
                    writeln!(out, "  {}", problem.describe(with_sheet))?;
                }
                let verdict = match report.status {
                    forms::Completeness::Complete => format!(
                        "complete; would be stored as pending review for {} NPI{}",
                        report.npis.len(),
                        if report.npis.len() == 1 { "" } else { "s" }
                    ),
                    forms::Completeness::Incomplete => format!(
                        "incomplete; would be denied ({} field{} missing or wrong)",
                        report.missing.len(),
                        if report.missing.len() == 1 { "" } else { "s" }
                    ),
                };
                writeln!(out, "Summary: {verdict}.")?;
            }
            Ok(if report.status == forms::Completeness::Complete {
                Outcome::Done
            } else {
                Outcome::Closed
            })
        }
    }
}

/// An unreadable or unknown file, in the same JSON shape as a closed ticket.
fn report_unusable(
    shown: &str,
    unusable: &Unusable,
    received_on: chrono::NaiveDate,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if json {
        let report = forms::ComplaintReport {
            status: Status::Closed,
            mco: None,
            received_on,
            reason: Some(unusable.reason()),
            lines: Vec::new(),
            problems: vec![forms::Problem {
                sheet: None,
                row: None,
                column: None,
                reason: unusable.reason(),
                message: capitalise(&unusable.to_string()),
            }],
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(
            out,
            "{shown}: {} [{}]",
            capitalise(&unusable.to_string()),
            unusable.reason()
        )?;
        writeln!(out, "Summary: the file cannot be checked.")?;
    }
    Ok(())
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `portal intake`: one pass, or a pass every `every` until SIGTERM or SIGINT.
fn intake(
    config: &Config,
    every: Option<std::time::Duration>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let Some(every) = every else {
        let report = run_pass(config, None)?;
        writeln!(out, "{}", describe_pass(&report))?;
        return Ok(if report.quarantined > 0 {
            Outcome::Closed
        } else {
            Outcome::Done
        });
    };
    let stop = stop_on_signals();
    let mut failures: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        match run_pass(config, Some(stop)) {
            Ok(report) => {
                failures = 0;
                writeln!(out, "{}", describe_pass(&report))?;
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
        // After a failure, wait longer each time (a server that dropped), up to the interval.
        let wait = if failures == 0 {
            every
        } else {
            every.min(std::time::Duration::from_secs(5u64 << failures.min(6)))
        };
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(200).min(wait));
        }
    }
    writeln!(out, "stopped")?;
    Ok(Outcome::Done)
}

/// One pass with the configured store, mailboxes and transport; the store is held
/// only while the pass runs.
pub fn run_pass(config: &Config, stop: Option<&AtomicBool>) -> Result<crate::intake::PassReport> {
    let services = crate::services::Services::open(config)?;
    let mut intake_box = open_mailbox(&config.mail.intake, "intake")?;
    let mut inquiries_box = open_mailbox(&config.mail.inquiries, "inquiries")?;
    remember_validity(&services.store, "intake", intake_box.validity())?;
    remember_validity(&services.store, "inquiries", inquiries_box.validity())?;
    let intake = services.intake(config, stop);
    intake.pass(
        &mut [
            (crate::intake::Mailbox::Intake, &mut *intake_box),
            (crate::intake::Mailbox::Inquiries, &mut *inquiries_box),
        ],
        chrono::Utc::now(),
    )
}

/// Keeps each mailbox's UIDVALIDITY in the store and says when it changed: the pass
/// then rescans the whole inbox, and the processed-message records prevent duplicates.
fn remember_validity(store: &crate::store::Store, name: &str, validity: Option<u32>) -> Result<()> {
    let Some(validity) = validity else {
        return Ok(());
    };
    let key = format!("uidvalidity:{name}");
    let known = store.meta(&key)?;
    if known.as_deref() != Some(validity.to_string().as_str()) {
        if let Some(known) = known {
            tracing::warn!(mailbox = name, was = %known, now = validity, "UIDVALIDITY changed; rescanning the inbox");
        }
        let mut writes = crate::store::Writes::default();
        writes.put_bytes(
            crate::store::Tree::Meta,
            &key,
            validity.to_string().into_bytes(),
        );
        store.apply(writes)?;
    }
    Ok(())
}

fn open_mailbox(
    mailbox: &crate::config::Mailbox,
    name: &str,
) -> Result<Box<dyn crate::mail::MailSource>> {
    match &mailbox.kind {
        crate::config::MailboxKind::Maildir { path } => {
            Ok(Box::new(crate::mail::maildir::Maildir::open(path)?))
        }
        crate::config::MailboxKind::Imap(server) => {
            Ok(Box::new(crate::mail::imap::Imap::connect(server, name)?))
        }
    }
}

fn describe_pass(report: &crate::intake::PassReport) -> String {
    format!(
        "intake: {} message(s): {} ticket(s), {} registration(s), {} inquiry(ies), {} not registered, {} automatic, {} quarantined, {} already handled; notices: {} sent, {} waiting, {} failed",
        report.messages,
        report.tickets.len(),
        report.registrations.len(),
        report.inquiries.len(),
        report.not_registered,
        report.automatic,
        report.quarantined,
        report.already_processed,
        report.notices_sent,
        report.notices_waiting,
        report.notices_failed,
    )
}

/// A flag set by SIGTERM or SIGINT.
fn stop_on_signals() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    &STOP
}
