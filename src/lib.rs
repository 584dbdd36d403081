//! `portal`: the Illinois HFS Managed Care Provider Resolution Portal.
//!
//! One library behind a thin binary. [`rules`] holds the portal's rules as plain
//! functions, [`forms`] the three spreadsheets (schema, writer, reader, validator), and
//! [`config`] the typed `portal.toml`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod errors;
pub mod failpoint;
pub mod forms;
pub mod ids;
pub mod intake;
pub mod logging;
pub mod mail;
pub mod rules;
pub mod samples;
pub mod services;
pub mod site;
pub mod staff;
pub mod store;
pub mod today;
pub mod words;
