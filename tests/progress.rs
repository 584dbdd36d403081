//! `portal intake` on a terminal: a progress bar on standard error while a backlog is
//! worked through, cleared at the end, with no INFO lines tearing it.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Mailroom, portal_bin};

/// Messages in the backlog: more than the bar's threshold (20).
const BACKLOG: usize = 30;

/// `path` as one word of a `sh -c` command line.
fn shell_word(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Runs `command` (a shell command line) under a pseudo-terminal through util-linux
/// `script` (from bsdutils), returns everything it wrote to that terminal and whether
/// it succeeded.
fn on_a_terminal(command: &str, cwd: &Path) -> (bool, String) {
    let output = Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .current_dir(cwd)
        .env("TERM", "xterm")
        // script runs the command line through $SHELL: quoted for sh, run by sh.
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run `script` (util-linux, Debian package bsdutils), which gives \
                 portal a terminal: {error}"
            )
        });
    let terminal = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.trim().is_empty(), "script complained: {stderr}");
    (output.status.success(), terminal)
}

#[test]
fn intake_draws_a_bar_on_a_terminal_and_still_answers_every_message() {
    let mailroom = Mailroom::new("");
    mailroom.ask(BACKLOG);
    let command = format!(
        "{} --config {} intake --once",
        shell_word(&portal_bin()),
        shell_word(&mailroom.config_path)
    );
    let (succeeded, terminal) = on_a_terminal(&command, mailroom.dir.path());
    assert!(succeeded, "portal intake --once failed:\n{terminal}");

    assert!(
        terminal.contains(" intake ") && terminal.contains(&format!("/{BACKLOG} messages")),
        "no progress bar on the terminal:\n{terminal:?}"
    );
    // Cleared at the end: the last bar is erased (`ESC [2K`) before the pass's report.
    let after_last_bar = &terminal[terminal.rfind("messages [").unwrap_or(0)..];
    assert!(
        after_last_bar.contains("\u{1b}[2K")
            && after_last_bar.contains(&format!("intake: {BACKLOG} message(s)")),
        "the bar was not cleared before the report:\n{terminal:?}"
    );
    for line in ["mailbox listed", "message handled", "pass finished"] {
        assert!(
            !terminal.contains(line),
            "an INFO line ({line}) printed on the terminal:\n{terminal}"
        );
    }
    // The bar is the pass's companion, not its replacement: every question is answered.
    let answered = mailroom.outbox();
    assert_eq!(answered.len(), BACKLOG, "{terminal}");
    let mut askers: Vec<&str> = answered.iter().map(|sent| sent.to.as_str()).collect();
    askers.sort_unstable();
    askers.dedup();
    assert_eq!(askers.len(), BACKLOG, "one answer to each asker");
}
