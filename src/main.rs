//! `portal`: parse the command line, run one command, print any error chain, choose
//! the exit status.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use portal::cli::Cli;
use portal::commands;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = Cli::parse_from(&argv);
    let quiet = matches!(cli.command, portal::cli::Command::Demo);
    portal::logging::init(cli.log_format, quiet);
    let stdout = std::io::stdout();
    let result = commands::run(cli, &argv, &mut stdout.lock());
    if let Err(error) = &result {
        // Not eprintln!: it panics when standard error is a pipe already closed (as
        // with `2>&1 | head`), and the exit status must still say what happened.
        let _ = writeln!(std::io::stderr(), "error: {error:#}");
    }
    ExitCode::from(commands::exit_code(&result))
}
