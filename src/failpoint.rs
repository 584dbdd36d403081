//! Crash points for the exactly-once tests. Built only with the `failpoints` feature:
//! `PORTAL_FAILPOINTS=after_record` aborts the process the first time intake passes
//! that point, `after_record@3` the third time; several points are separated by commas.
//! Without the feature this is nothing.
//!
//! The points, one at each step boundary of intake (src/intake/): `after_record` (a
//! message's transaction applied, not yet flushed), `after_flush` (a batch made
//! durable, no notice sent), `after_send` (a notice handed to the transport, not yet
//! marked sent), `after_mark_sent` (a notice durably marked sent), `after_move`
//! (a message moved out of the inbox) and `after_daily_record` (the day's reminders
//! and digest recorded and flushed with the day marked done, none of them sent).
//! Two more are on the staff socket's server (src/control/server.rs): `staff_command`
//! (a request read, its command not run yet) and `after_staff_command` (the command
//! run, its answer not sent).
//!
//! An error point fails instead of aborting: `handle_error` makes the handling of a
//! complaint fail after its claims were checked for duplicates, as an unforeseen
//! error would; `store_fault` makes a store read or transaction fail (counted over
//! every read and transaction), as a failing disk would; `sled_panic` panics where the
//! store is opened, inside the step that catches sled's panics, as sled does on some
//! damaged logs.

/// Aborts the process here when the named point is armed.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if let Some(count) = armed_now(name) {
        eprintln!("failpoint {name}@{count}: aborting");
        std::process::abort();
    }
}

/// Fails here when the named point is armed.
#[cfg(feature = "failpoints")]
pub fn fail(name: &str) -> anyhow::Result<()> {
    if let Some(count) = armed_now(name) {
        anyhow::bail!("failpoint {name}@{count}");
    }
    Ok(())
}

/// Counts a pass through the point; its count when this pass is an armed one.
#[cfg(feature = "failpoints")]
pub fn armed_now(name: &str) -> Option<u64> {
    use std::sync::Mutex;
    static HITS: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
    let Ok(spec) = std::env::var("PORTAL_FAILPOINTS") else {
        return None;
    };
    let armed: Vec<u64> = spec
        .split(',')
        .filter_map(|armed| {
            let (point, nth) = armed
                .split_once('@')
                .map_or((armed, 1), |(p, n)| (p, n.trim().parse().unwrap_or(1)));
            (point.trim() == name).then_some(nth)
        })
        .collect();
    if armed.is_empty() {
        return None;
    }
    // Counted once per pass through the point, however often it is armed.
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
    armed.contains(&count).then_some(count)
}

/// Aborts the process here when the named point is armed.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Never armed without the feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn armed_now(_name: &str) -> Option<u64> {
    None
}

/// Fails here when the named point is armed.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn fail(_name: &str) -> anyhow::Result<()> {
    Ok(())
}
