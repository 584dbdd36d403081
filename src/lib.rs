//! `portal`: the Illinois HFS Managed Care Provider Resolution Portal.
//!
//! One library behind a thin binary. [`rules`] holds the portal's rules as plain
//! functions, [`forms`] the three spreadsheets (schema, writer, reader, validator), and
//! [`config`] the typed `portal.toml`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod demo;
pub mod errors;
pub mod failpoint;
pub mod forms;
pub mod ids;
pub mod intake;
pub mod logging;
pub mod mail;
pub mod rules;
pub mod services;
pub mod site;
pub mod staff;
pub mod statistics;
pub mod store;
pub mod today;
pub mod words;

/// Helpers for the unit tests of more than one module.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::{Mutex, MutexGuard, PoisonError};

    /// The process's file-creation mask, set while this lives and put back after.
    /// Tests run on parallel threads and the mask is the process's, so one test at a
    /// time holds it.
    pub struct Umask {
        before: libc::mode_t,
        _turn: MutexGuard<'static, ()>,
    }

    impl Umask {
        pub fn set(mask: libc::mode_t) -> Umask {
            static TURN: Mutex<()> = Mutex::new(());
            let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: umask(2) only swaps the process's file mode mask; it cannot fail.
            let before = unsafe { libc::umask(mask) };
            Umask {
                before,
                _turn: turn,
            }
        }

        /// The mask in force now (read by swapping it out and back).
        pub fn current(&self) -> libc::mode_t {
            // SAFETY: as in `set`; the mask is put straight back.
            unsafe {
                let now = libc::umask(0);
                libc::umask(now);
                now
            }
        }
    }

    impl Drop for Umask {
        fn drop(&mut self) {
            // SAFETY: as in `Umask::set`.
            unsafe { libc::umask(self.before) };
        }
    }
}
