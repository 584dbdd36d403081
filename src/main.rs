//! `portal`: parse the command line, run one command, print any error chain, choose
//! the exit status.

use std::process::ExitCode;

use clap::Parser;
use portal::cli::Cli;
use portal::commands::{self, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, portal::cli::Command::Demo);
    portal::logging::init(cli.log_format, quiet);
    let stdout = std::io::stdout();
    match commands::run(cli, &mut stdout.lock()) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Closed) => ExitCode::from(1),
        Ok(Outcome::Unusable) => ExitCode::from(2),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
