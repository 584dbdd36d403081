//! The command line's side of every subcommand: load the config, call the library,
//! render the result (through [`render`]) and say how it ended. One file per group of
//! subcommands; the operations themselves live in `intake`, `staff`, `site` and
//! `forms`, which know nothing of clap or of the terminal.

mod access;
mod check;
mod inquiries;
mod intake;
mod messages;
mod outbox;
mod registrations;
mod render;
mod report;
mod serve;
mod store;
mod tickets;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::forms::{self, Kind};
use crate::staff::Refused;
use crate::today::today_in_illinois;
use access::Access;

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

/// Runs the command the user asked for (`argv` is the command line `cli` was parsed
/// from), writing its report to `out`. A staff command is sent to the intake that holds
/// the store, when one answers on the store's socket; otherwise it opens the store.
pub fn run(cli: Cli, argv: &[OsString], out: &mut dyn Write) -> Result<Outcome> {
    let config = load_config(&cli.config)?;
    if let Some(outcome) = serve::ask_intake(&config, &cli, argv, out)? {
        return Ok(outcome);
    }
    match cli.command {
        Command::Serve { port, drafts } => {
            let options = site_options(drafts, true);
            crate::site::serve::serve(config, cli.config, options, port, |line| {
                let _ = writeln!(std::io::stderr(), "{line}");
            })?;
            Ok(Outcome::Done)
        }
        command => execute(&config, command, Access::Open, out),
    }
}

/// The exit status of a command that ended so: 0 done, 1 something closed or a staff
/// operation the rules do not allow ([`Refused`]), 2 anything that could not run.
pub fn exit_code(result: &Result<Outcome>) -> u8 {
    match result {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::Closed) => 1,
        Ok(Outcome::Unusable) => 2,
        Err(error) if error.chain().any(|cause| cause.is::<Refused>()) => 1,
        Err(_) => 2,
    }
}

/// Runs one command with `config`, reaching the store through `access`; the same code
/// whether the command line runs it or the intake answers it over its socket.
fn execute(
    config: &Config,
    command: Command,
    access: Access<'_>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    match command {
        Command::Templates { out: dir } => templates(config, &dir, out),
        Command::Check {
            file,
            received,
            json,
        } => {
            let received = received.unwrap_or_else(today_in_illinois);
            check::run(config, &file, received, json, out)
        }
        Command::Build { drafts } => build(config, drafts, out),
        Command::Serve { .. } => anyhow::bail!("`portal serve` runs only from the command line"),
        Command::Intake {
            watch: true, every, ..
        } => intake::watch(config, every, out),
        Command::Intake { every, .. } => intake::run(config, every, out),
        Command::Tickets { action } => done(tickets::run(config, access, action, out)),
        Command::Registrations { action } => done(registrations::run(config, access, action, out)),
        Command::Inquiries { action } => done(inquiries::run(config, access, action, out)),
        Command::Messages { action } => done(messages::run(config, access, action, out)),
        Command::Outbox { action } => done(outbox::run(config, access, action, out)),
        Command::Store { action } => done(store::run(config, access, action, out)),
        Command::Report {
            from,
            to,
            json,
            csv,
        } => done(report::run(
            config,
            access,
            from,
            to,
            report::format(json, csv),
            out,
        )),
        Command::Demo => {
            crate::demo::run(config, out)?;
            Ok(Outcome::Done)
        }
    }
}

/// A staff command that ran to the end.
fn done(result: Result<()>) -> Result<Outcome> {
    result.map(|()| Outcome::Done)
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
    Kind::DOWNLOADS
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
