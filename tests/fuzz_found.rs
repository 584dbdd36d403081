//! The inputs the fuzz targets (`fuzz/`) found, kept as `fuzz/artifacts/TARGET/
//! regression-*`, read again in the debug build the tests run: each is handled as the
//! portal means to, never a panic that would end an intake pass.

use std::path::{Path, PathBuf};

use portal::forms::{ReadError, read_workbook};
use portal::mail::classify;

/// The regression inputs of one fuzz target, by file name.
fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/artifacts")
        .join(target);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("regression-"))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn malformed_mime_that_tripped_mail_parser_is_still_a_message() {
    let inputs = regressions("classify");
    assert!(!inputs.is_empty(), "the classify regressions are there");
    for (name, raw) in inputs {
        let parsed = std::panic::catch_unwind(|| classify::parse(&raw));
        assert!(
            matches!(parsed, Ok(Some(_))),
            "{name}: read as a message, without a panic"
        );
    }
}

#[test]
fn workbooks_that_make_calamine_panic_are_refused_as_damaged() {
    // The fuzz target's first byte picks the file name (fuzz_targets/read_workbook.rs).
    const NAMES: [&str; 4] = ["claims.xlsx", "claims.xls", "claims.ods", "claims.csv"];
    let inputs: Vec<_> = regressions("read_workbook")
        .into_iter()
        .filter(|(name, _)| name.starts_with("regression-calamine-"))
        .collect();
    assert!(!inputs.is_empty(), "the calamine regressions are there");
    for (name, data) in inputs {
        let (selector, bytes) = data.split_first().unwrap();
        let file = NAMES[usize::from(*selector) % NAMES.len()];
        let read = std::panic::catch_unwind(|| read_workbook(bytes, Some(file)));
        assert!(
            matches!(read, Ok(Err(ReadError::Damaged(_)))),
            "{name}: refused as damaged, without a panic"
        );
    }
}
