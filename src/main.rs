//! `portal`: parse the command line, run one command, print any error chain, choose
//! the exit status.

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
        eprintln!("error: {error:#}");
    }
    ExitCode::from(commands::exit_code(&result))
}
