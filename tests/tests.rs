//! Integration tests: one binary, one module per area. Fixtures are real files under
//! `tests/fixtures/`.

mod after_forward;
mod authentication;
mod common;
mod daily;
mod demo;
mod e2e;
mod e2e_after;
mod e2e_auth;
mod exactly_once;
mod fixtures;
mod fuzz_found;
mod hostile;
mod hostile_mail;
mod intake;
mod mailstack;
mod progress;
mod response;
mod roundtrip;
mod schedule;
mod site;
mod staff;
mod staff_after;
mod store_export;
mod store_open;
mod zipkit;
