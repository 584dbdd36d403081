//! The command line: one `Command` enum, each variant's doc comment its `--help`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

/// The Illinois HFS Managed Care Provider Resolution Portal: the public guidance site,
/// the spreadsheet downloads, and the mail intake that validates what providers send.
#[derive(Debug, Parser)]
#[command(name = "portal", version, max_term_width = 100)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "portal.toml"
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the three blank workbooks (complaint template, registration form, multiple
    /// registration template) into DIR.
    Templates {
        /// The folder to write into; created if missing.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },

    /// Validate one spreadsheet exactly as intake would (the registered-sender rule aside).
    ///
    /// Reads .xlsx, .xls, .xlsb, .ods or .csv, tells the kind of workbook apart, and lists
    /// every problem by row and column. Exit status: 0 when every line would be forwarded
    /// (or a registration is complete), 1 when anything would be closed, 2 when the file
    /// is unreadable or no known workbook (unknown_template).
    Check {
        /// The spreadsheet to check.
        file: PathBuf,
        /// The day HFS received it (YYYY-MM-DD), for the 30–60 day window. Default: today
        /// in Illinois.
        #[arg(long, value_name = "YYYY-MM-DD")]
        received: Option<NaiveDate>,
        /// Print the outcome as JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Build the public site from content/ and templates/ into site/, with the spreadsheet
    /// downloads, a sitemap and every internal link checked (a broken link fails the build,
    /// naming the file and the link).
    Build {
        /// Include pages marked `draft = true`.
        #[arg(long)]
        drafts: bool,
    },

    /// Build the site, serve it on 127.0.0.1, rebuild when content, templates or the
    /// config change, and reload the browser.
    Serve {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 1111)]
        port: u16,
        /// Include pages marked `draft = true`.
        #[arg(long)]
        drafts: bool,
    },

    /// Show the portal at work on embedded defaults, in portal.toml's own paths: writes
    /// sample workbooks dated relative to today and checks them.
    Demo,
}
