//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use chrono::NaiveDate;
use portal::config::Config;
use portal::forms::{self, Context, Submission, Unusable};

/// The shipped configuration.
pub fn config() -> Config {
    Config::parse(include_str!("../portal.toml")).expect("portal.toml parses")
}

/// A fixture file's path.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("a YYYY-MM-DD date")
}

/// Checks `bytes` as intake would, received on `received_on`, with the shipped config.
pub fn check_bytes(
    bytes: &[u8],
    name: &str,
    received_on: NaiveDate,
) -> Result<Submission, Unusable> {
    let config = config();
    let context = Context {
        received_on,
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    forms::check(bytes, Some(name), &context)
}

/// The path of the built `portal` binary, for tests that run the CLI.
pub fn portal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portal"))
}
