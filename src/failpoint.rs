//! Crash points for the exactly-once tests. Built only with the `failpoints` feature:
//! `PORTAL_FAILPOINTS=after_record` aborts the process the first time intake passes
//! that point, `after_record@3` the third time. Without the feature this is nothing.

/// Aborts the process here when the named point is armed.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::sync::Mutex;
    static HITS: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
    let Ok(spec) = std::env::var("PORTAL_FAILPOINTS") else { return };
    for armed in spec.split(',') {
        let (point, nth) = armed.split_once('@').map_or((armed, 1), |(p, n)| (p, n.parse().unwrap_or(1)));
        if point.trim() != name {
            continue;
        }
        let count = {
            let mut hits = HITS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match hits.iter_mut().find(|(known, _)| known == name) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    hits.push((name.to_owned(), 1));
                    1
                }
            }
        };
        if count == nth {
            eprintln!("failpoint {name}@{nth}: aborting");
            std::process::abort();
        }
    }
}

/// Aborts the process here when the named point is armed.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
