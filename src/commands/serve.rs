//! Staff commands over the intake's socket (`control`), both ends: which commands an
//! intake answers, the request a command line sends it, and the intake's answer — the
//! same command code as on the command line, run with the intake's open store while
//! the command holds the store's turn.

use std::ffi::OsString;
use std::io::Write;

use anyhow::Result;
use clap::Parser as _;

use super::access::Access;
use super::{Outcome, execute, exit_code};
use crate::cli::{Cli, Command, StoreAction};
use crate::config::Config;
use crate::control::{Ending, client, socket_path};

/// Whether an intake holding the store answers this command: every command that reads
/// or changes the store, but `store import` (a held store is not empty: the command
/// itself refuses it) and the commands that never open the store.
pub(super) fn answered_by_intake(command: &Command) -> bool {
    !matches!(
        command,
        Command::Templates { .. }
            | Command::Check { .. }
            | Command::Build { .. }
            | Command::Serve { .. }
            | Command::Intake { .. }
            | Command::Demo
            | Command::Store {
                action: StoreAction::Import { .. }
            }
    )
}

/// Asks the intake that holds the store, when one listens on its socket, to run the
/// command `argv` (the whole command line, program name first) parsed into `cli`;
/// prints its answer. `None` when no intake answers: the command opens the store.
pub(super) fn ask_intake(
    config: &Config,
    cli: &Cli,
    argv: &[OsString],
    out: &mut dyn Write,
) -> Result<Option<Outcome>> {
    if !answered_by_intake(&cli.command) {
        return Ok(None);
    }
    let Some(args) = request_args(cli, argv) else {
        return Ok(None);
    };
    let socket = socket_path(&config.store.path);
    let code = client::ask(&socket, args, out, &mut std::io::stderr().lock())?;
    Ok(code.map(|code| match code {
        0 => Outcome::Done,
        1 => Outcome::Closed,
        _ => Outcome::Unusable,
    }))
}

/// The global options the request leaves out: the intake answers with its own
/// configuration, and logs as it was told to.
const LOCAL_OPTIONS: [&str; 2] = ["--config", "--log-format"];

/// The request's arguments: the command line after the program's name, without the
/// global `--config` and `--log-format` ([`LOCAL_OPTIONS`]), and with the file of
/// `store export` made absolute (the intake runs elsewhere). `None` when an argument is
/// not UTF-8.
fn request_args(cli: &Cli, argv: &[OsString]) -> Option<Vec<String>> {
    if let Command::Store {
        action: StoreAction::Export { file },
    } = &cli.command
        && file.as_os_str() != "-"
    {
        let file = std::path::absolute(file).ok()?;
        return Some(vec![
            "store".to_owned(),
            "export".to_owned(),
            file.into_os_string().into_string().ok()?,
        ]);
    }
    let mut args = Vec::with_capacity(argv.len());
    let mut skip_value = false;
    for arg in argv.iter().skip(1) {
        let arg = arg.to_str()?;
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let option = arg.split_once('=').map_or(arg, |(option, _)| option);
        if LOCAL_OPTIONS.contains(&option) {
            skip_value = option == arg;
        } else {
            args.push(arg.to_owned());
        }
    }
    Some(args)
}

/// The intake's answer to `args`: the command run with what the intake lends it
/// (`Access::Lent`), holding the store's turn for its duration, its standard output
/// written to `out`.
pub(super) fn answer(
    config: &Config,
    access: Access<'_>,
    args: &[String],
    out: &mut dyn Write,
) -> Ending {
    let argv = std::iter::once("portal").chain(args.iter().map(String::as_str));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => {
            return Ending {
                exit: u8::try_from(error.exit_code()).unwrap_or(2),
                err: Some(error.to_string().trim_end().to_owned()),
            };
        }
    };
    if !answered_by_intake(&cli.command) {
        return Ending {
            exit: 2,
            err: Some("error: the intake answers staff commands only".to_owned()),
        };
    }
    let _turn = access.turn();
    let result = execute(config, cli.command, access, out);
    Ending {
        exit: exit_code(&result),
        err: result.err().map(|error| format!("error: {error:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(line: &[&str]) -> Option<Vec<String>> {
        let argv: Vec<OsString> = line.iter().map(OsString::from).collect();
        request_args(&Cli::parse_from(&argv), &argv)
    }

    #[test]
    fn the_request_leaves_out_the_config_and_makes_the_export_file_absolute() {
        assert_eq!(
            args_of(&[
                "portal",
                "--config",
                "/etc/portal.toml",
                "tickets",
                "list",
                "--json"
            ]),
            Some(vec!["tickets".into(), "list".into(), "--json".into()])
        );
        assert_eq!(
            args_of(&[
                "portal",
                "registrations",
                "approve",
                "REG-2026-000001",
                "--config=p.toml",
                "--log-format",
                "json",
                "--by",
                "Ann"
            ]),
            Some(vec![
                "registrations".into(),
                "approve".into(),
                "REG-2026-000001".into(),
                "--by".into(),
                "Ann".into()
            ])
        );
        let export = args_of(&[
            "portal",
            "--config",
            "p.toml",
            "store",
            "export",
            "backup.jsonl",
        ])
        .unwrap();
        let expected = std::env::current_dir().unwrap().join("backup.jsonl");
        assert_eq!(export, ["store", "export", expected.to_str().unwrap()]);
        assert_eq!(
            args_of(&["portal", "store", "export", "-"]),
            Some(vec!["store".into(), "export".into(), "-".into()])
        );
    }

    #[test]
    fn only_commands_on_the_store_go_to_the_intake_and_never_import() {
        let asks = |line: &[&str]| answered_by_intake(&Cli::parse_from(line).command);
        assert!(asks(&["portal", "tickets", "list"]));
        assert!(asks(&["portal", "outbox", "retry"]));
        assert!(asks(&["portal", "store", "export", "x"]));
        assert!(!asks(&["portal", "store", "import", "x"]));
        assert!(!asks(&["portal", "intake", "--once"]));
        assert!(!asks(&["portal", "build"]));
    }
}
