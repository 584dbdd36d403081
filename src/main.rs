//! `portal`: parse the command line, run one command, print any error chain, choose
//! the exit status.

use std::process::ExitCode;

use clap::Parser;
use portal::cli::Cli;
use portal::commands::{self, Outcome};
use portal::staff::Refused;

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
            // A staff operation the rules do not allow: 1. Anything else could not run.
            if error.chain().any(|cause| cause.is::<Refused>()) {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
