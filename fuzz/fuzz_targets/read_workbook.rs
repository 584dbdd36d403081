//! Fuzz target: the spreadsheet reader (`portal::forms::read_workbook`) on any bytes
//! under a name of each format it reads (the first input byte picks .xlsx, .xls, .ods
//! or .csv), and on what it reads, identification (`forms::identify`) and validation as
//! intake does it (`forms::check`, with the embedded configuration's MCOs and rules).
//!
//! calamine panics on some malformed files (an .xls formula cut short, …), and
//! `read_workbook` catches that and refuses the file as damaged (`forms/read.rs`), as
//! designed. libFuzzer's panic hook would abort on it before the catch, so such a
//! panic — one raised in a dependency's code — is let unwind; any panic in the
//! portal's own code, and a dependency's panic nobody catches (libfuzzer-sys aborts
//! when one reaches it), is still a crash. Each place a caught panic came from is
//! printed once; with `PORTAL_FUZZ_CAUGHT=DIR` set, the input that first reached it is
//! written there too (`caught-FILE-LINE`), to keep as a regression input.

#![no_main]

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use portal::config::Config;
use portal::forms::{self, Unusable};

/// The names a provider's attachment may carry, one per format.
const NAMES: [&str; 4] = ["claims.xlsx", "claims.xls", "claims.ods", "claims.csv"];

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(Config::embedded)
}

/// Where the inputs behind caught panics go (`PORTAL_FUZZ_CAUGHT`), if anywhere.
fn caught_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("PORTAL_FUZZ_CAUGHT").map(PathBuf::from))
        .as_ref()
}

thread_local! {
    /// The input being run, kept only when [`caught_dir`] is set.
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hands every panic to libFuzzer's hook (which aborts) except one raised in a
/// dependency from the registry, which unwinds to whoever catches it.
fn let_dependency_panics_unwind() {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let Some(at) = info
            .location()
            .filter(|at| at.file().contains("/.cargo/registry/"))
        else {
            return fuzzer_hook(info);
        };
        let place = format!("{}:{}", at.file(), at.line());
        let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !seen.get_or_insert_with(HashSet::new).insert(place.clone()) {
            return;
        }
        eprintln!("a dependency panicked (left to read_workbook to catch) at {place}");
        if let Some(dir) = caught_dir() {
            let file = at.file().rsplit('/').next().unwrap_or("unknown");
            let path = dir.join(format!("caught-{file}-{}", at.line()));
            INPUT.with_borrow(|input| std::fs::write(path, input)).ok();
        }
    }));
}

fuzz_target!(init: let_dependency_panics_unwind(), |data: &[u8]| {
    if caught_dir().is_some() {
        INPUT.with_borrow_mut(|input| {
            input.clear();
            input.extend_from_slice(data);
        });
    }
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    let Ok(workbook) = forms::read_workbook(bytes, Some(name)) else {
        return;
    };
    let kind = forms::identify(&workbook);
    let config = config();
    let context = forms::Context {
        // The day the fixtures are dated for (tests/fixtures/make-fixtures.sh): a fixed
        // day, so the outcome of a file never depends on when it is fuzzed.
        received_on: NaiveDate::from_ymd_opt(2026, 11, 25).expect("a valid date"),
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    match forms::check(bytes, Some(name), &context) {
        Ok(_) => assert!(kind.is_some(), "only an identified workbook is validated"),
        Err(Unusable::UnknownTemplate) => assert!(kind.is_none()),
        Err(Unusable::Unreadable(error)) => panic!("read once, refused the second time: {error}"),
        Err(Unusable::McoResponse) => {}
    }
});
