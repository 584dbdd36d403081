//! Integration tests: one binary, one module per area. Fixtures are real files under
//! `tests/fixtures/`.

mod common;
mod fixtures;
mod hostile;
mod intake;
mod roundtrip;
mod site;
