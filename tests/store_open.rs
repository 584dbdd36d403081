//! The store is created only on purpose: `intake` and the demo make one where its path
//! is missing or an empty folder, and log where; every other command finds no store
//! there and says so (exit 2). A folder that is not a healthy store — an emptied `db`
//! or `conf`, bytes sled cannot read, a panic inside sled — is an error naming the path
//! (exit 2), and never the start of a fresh store.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{Mailroom, XorShift, message, registration_form};

const INTAKE: &str = "intake@portal.example.gov";

/// The commands that only read or decide, none of which may make a store.
const READERS: [&[&str]; 8] = [
    &["tickets", "list"],
    &["tickets", "show", "PRP-2026-000001"],
    &["tickets", "export"],
    &["registrations", "list"],
    &[
        "registrations",
        "approve",
        "REG-2026-000001",
        "--by",
        "staff",
    ],
    &["inquiries", "list"],
    &["messages", "list"],
    &["outbox", "list"],
];

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts that `output` is an exit 2 whose error names `store` and says `what`,
/// without a raw panic on standard error.
fn refused(output: &Output, store: &Path, what: &str) {
    let stderr = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&store.display().to_string()) && stderr.contains(what),
        "names {} and says {what:?}: {stderr}",
        store.display()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Every file under `path` with its bytes, for "left as it was".
fn files(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = walk(path)
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(&file).unwrap();
            (file, bytes)
        })
        .collect();
    files.sort();
    files
}

fn walk(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap().path();
        if entry.is_dir() {
            found.extend(walk(&entry));
        } else {
            found.push(entry);
        }
    }
    found
}

/// Mails a registration from `email` into the intake mailbox.
fn mail_registration(room: &Mailroom, email: &str) {
    room.deliver(&message(
        email,
        INTAKE,
        "Registration",
        "Form attached.",
        &[(
            "form.xlsx",
            registration_form(email, portal::forms::samples::SAMPLE_NPI),
        )],
    ));
}

/// A store made by one `intake --once` that filed one registration, then closed. sled
/// writes its first snapshot (`snap.*`) only when a store is opened again, so this
/// store's records live in its `db` alone — the store the defect started afresh.
fn store_of_one_pass() -> Mailroom {
    let room = Mailroom::new("");
    mail_registration(&room, "first@clinic.example");
    let output = room.cli(&["intake", "--once"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("1 registration(s)"));
    room
}

fn registrations(room: &Mailroom) -> String {
    let output = room.cli(&["registrations", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn a_command_that_reads_finds_no_store_and_makes_none() {
    let room = Mailroom::new("");
    let store = room.path("store");
    for args in READERS {
        let output = room.cli(args);
        refused(
            &output,
            &store,
            &format!(
                "there is no store at {} (intake creates it)",
                store.display()
            ),
        );
        assert!(!store.exists(), "{args:?} made {}", store.display());
    }
    // An empty folder is no store either, and gets no pid file.
    std::fs::create_dir(&store).unwrap();
    refused(
        &room.cli(&["tickets", "list"]),
        &store,
        "there is no store at",
    );
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 0);
}

#[test]
fn intake_creates_the_store_where_none_is_and_says_where() {
    for empty_folder in [false, true] {
        let room = Mailroom::new("");
        let store = room.path("var/store");
        let config = std::fs::read_to_string(&room.config_path)
            .unwrap()
            .replace(&format!("{:?}", room.path("store")), &format!("{store:?}"));
        std::fs::write(&room.config_path, config).unwrap();
        if empty_folder {
            std::fs::create_dir_all(&store).unwrap();
        }
        let output = room.cli(&["intake", "--once"]);
        let log = stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{log}");
        assert!(
            log.lines().any(|line| line.contains("created the store")
                && line.contains(&store.display().to_string())),
            "the log names the new store: {log}"
        );
        assert!(store.join("db").is_file() && store.join("conf").is_file());
        assert!(registrations(&room).contains("No registrations."));

        let again = room.cli(&["intake", "--once"]);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        assert!(!stderr(&again).contains("created the store"), "only once");
    }
}

/// The defect: an emptied `db` gave a fresh store, and the next pass handed out
/// REG-…-000001 again. Now intake refuses it and leaves every file as it was; with
/// the `db` put back, the same pass files the next number.
#[test]
fn an_emptied_db_stops_intake_and_is_left_as_it_was() {
    let room = store_of_one_pass();
    let store = room.path("store");
    let db = std::fs::read(store.join("db")).unwrap();
    std::fs::File::create(store.join("db")).unwrap();
    let before = files(&store);
    mail_registration(&room, "second@clinic.example");

    let output = room.cli(&["intake", "--once"]);
    refused(&output, &store, "is not a healthy store: its `db` is empty");
    assert_eq!(files(&store), before, "the store's files are as they were");
    assert_eq!(room.intake_folder(None).len(), 1, "the message waits");
    refused(
        &room.cli(&["registrations", "list"]),
        &store,
        "its `db` is empty",
    );

    std::fs::write(store.join("db"), db).unwrap();
    let output = room.cli(&["intake", "--once"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listed = registrations(&room);
    assert!(
        listed.contains("-000001  pending  first@clinic.example")
            && listed.contains("-000002  pending  second@clinic.example"),
        "{listed}"
    );
}

/// Under `--every`, a damaged store stops the service (exit 2) at once rather than
/// logging the same error every interval while mail piles up unseen.
#[test]
fn intake_every_stops_on_a_damaged_store() {
    let room = store_of_one_pass();
    let store = room.path("store");
    std::fs::File::create(store.join("db")).unwrap();
    let mut command = room.every();
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    // It stops by itself at its first pass; a service that ran on is killed and fails.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("intake --every ran on with a damaged store");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    refused(&output, &store, "is not a healthy store: its `db` is empty");
}

#[test]
fn an_emptied_conf_is_refused_too() {
    let room = store_of_one_pass();
    let store = room.path("store");
    std::fs::File::create(store.join("conf")).unwrap();
    let before = files(&store);
    refused(
        &room.cli(&["intake", "--once"]),
        &store,
        "is not a healthy store: its `conf` is empty",
    );
    assert_eq!(files(&store), before);
}

/// Random bytes in place of a file of a closed store.
fn scramble(file: &Path, seed: u64) {
    let length = std::fs::metadata(file).unwrap().len();
    let mut random = XorShift::new(seed);
    let bytes: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
    std::fs::write(file, bytes).unwrap();
}

/// sled reads a `db` of random bytes as an empty store when it has no snapshot to go
/// by, and as damaged when it has; a `conf` of random bytes it refuses. Each is an
/// error naming the store, from every command, and nothing is filed.
#[test]
fn random_bytes_in_db_or_conf_are_an_error_naming_the_store() {
    // The file scrambled, whether the store was opened once more first (which writes
    // sled's first snapshot), and what the error says.
    let cases = [
        ("db", false, "sled finds none of the store's records"),
        ("db", true, "sled: "),
        ("conf", false, "sled: "),
    ];
    for (seed, (file, snapshotted, why)) in (1..).zip(cases) {
        let room = store_of_one_pass();
        let store = room.path("store");
        if snapshotted {
            registrations(&room);
        }
        scramble(&store.join(file), seed);
        mail_registration(&room, "second@clinic.example");
        let answered = room.outbox().len();
        for args in [&["registrations", "list"][..], &["intake", "--once"]] {
            let output = room.cli(args);
            refused(&output, &store, "is not a healthy store: ");
            assert!(
                stderr(&output).contains(why),
                "{file} {args:?}: {}",
                stderr(&output)
            );
        }
        assert_eq!(room.intake_folder(None).len(), 1, "nothing was handled");
        assert_eq!(room.outbox().len(), answered, "nothing was answered");
    }
}

/// A panic inside sled (forced at the `sled_panic` point: sled panics on some
/// damage, e.g. a few flipped bits in a long log) is an error naming the store.
#[cfg(feature = "failpoints")]
#[test]
fn a_panic_inside_sled_is_an_error_naming_the_store() {
    let room = store_of_one_pass();
    let store = room.path("store");
    for args in [&["registrations", "list"][..], &["intake", "--once"]] {
        let output = std::process::Command::new(crate::common::portal_bin())
            .arg("--config")
            .arg(&room.config_path)
            .args(args)
            .env("PORTAL_FAILPOINTS", "sled_panic")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        refused(
            &output,
            &store,
            "is not a healthy store: sled failed while reading it: failpoint sled_panic",
        );
    }
    assert!(registrations(&room).contains("-000001  pending  first@clinic.example"));
}

#[test]
fn the_demo_makes_its_store_and_refuses_a_damaged_one() {
    let room = Mailroom::new("");
    let store = room.path("store");
    std::fs::create_dir(&store).unwrap();
    for run in ["in an empty folder", "over its own data"] {
        let output = room.cli(&["demo"]);
        assert_eq!(output.status.code(), Some(0), "{run}: {}", stderr(&output));
        assert!(
            stdout(&output).contains("REG-"),
            "{run}: {}",
            stdout(&output)
        );
    }
    std::fs::File::create(store.join("db")).unwrap();
    let before = files(&store);
    refused(&room.cli(&["demo"]), &store, "its `db` is empty");
    assert_eq!(files(&store), before, "the demo cleared nothing");
}
