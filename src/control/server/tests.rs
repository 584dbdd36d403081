use std::io::{BufRead as _, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::*;
use crate::control::client::ask;

/// Echoes its arguments; `fail` ends with exit 1 and an error, `panic` panics, `big N`
/// writes N bytes of "é" (two bytes each) in uneven writes.
fn echo(args: &[String], out: &mut dyn Write) -> Ending {
    match args.first().map(String::as_str) {
        Some("fail") => Ending {
            exit: 1,
            err: Some("error: refused".to_owned()),
        },
        Some("panic") => panic!("a command failed"),
        Some("big") => {
            let bytes: usize = args[1].parse().unwrap();
            let text = "é".repeat(bytes / 2);
            let mut rest = text.as_bytes();
            while !rest.is_empty() {
                let take = rest.len().min(4093);
                match out.write_all(&rest[..take]) {
                    Ok(()) => rest = &rest[take..],
                    Err(error) => {
                        return Ending {
                            exit: 2,
                            err: Some(format!("error: {error}")),
                        };
                    }
                }
            }
            Ending { exit: 0, err: None }
        }
        _ => {
            writeln!(out, "{}", args.join(" ")).unwrap();
            Ending { exit: 0, err: None }
        }
    }
}

/// Serves `echo` on a socket in a new 0700 folder while `clients` runs with the
/// socket's path.
fn serving(waits: (Duration, Duration), clients: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut socket = Socket::bind(dir.path()).unwrap();
    socket.waits = waits;
    let path = socket.path.clone();
    std::thread::scope(|scope| {
        scope.spawn(|| socket.serve(&echo));
        clients(&path);
        socket.close();
    });
}

fn asked(path: &Path, args: &[&str]) -> (Option<u8>, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = args.iter().map(|arg| (*arg).to_owned()).collect();
    let code = ask(path, args, &mut out, &mut err).unwrap();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// The lines a raw client gets after sending `request`.
fn raw_answer(path: &Path, request: &[u8]) -> Vec<String> {
    let mut stream = UnixStream::connect(path).unwrap();
    stream.write_all(request).unwrap();
    BufReader::new(stream).lines().map(Result::unwrap).collect()
}

const WAITS: (Duration, Duration) = (REQUEST_WAIT, ANSWER_WAIT);

#[test]
fn a_command_is_answered_with_its_output_error_and_exit_status() {
    serving(WAITS, |path| {
        assert_eq!(
            asked(path, &["tickets", "list"]),
            (Some(0), "tickets list\n".to_owned(), String::new())
        );
        assert_eq!(
            asked(path, &["fail"]),
            (Some(1), String::new(), "error: refused\n".to_owned())
        );
        let (code, out, err) = asked(path, &["panic"]);
        assert_eq!((code, out.as_str()), (Some(2), ""));
        assert!(err.contains("failed unexpectedly"), "{err}");
        // The server is still there after a command that panicked.
        assert_eq!(asked(path, &["again"]).0, Some(0));
    });
}

#[test]
fn garbage_and_another_version_get_an_error_line_and_the_connection_closed() {
    serving(WAITS, |path| {
        let lines = raw_answer(path, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(
            lines,
            [
                r#"{"err":"error: the request is not a line of JSON"}"#,
                r#"{"exit":2}"#
            ]
        );
        let lines = raw_answer(
            path,
            b"{\"version\": 7, \"args\": [\"tickets\", \"list\"]}\n",
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("version 7") && lines[0].contains("speaks version 1"));
        assert_eq!(lines[1], r#"{"exit":2}"#);
    });
}

#[test]
fn a_silent_client_is_dropped_and_the_next_one_answered() {
    let waits = (Duration::from_millis(300), ANSWER_WAIT);
    serving(waits, |path| {
        let silent = UnixStream::connect(path).unwrap();
        let started = Instant::now();
        assert_eq!(asked(path, &["next"]).0, Some(0));
        assert!(started.elapsed() < Duration::from_secs(5));
        let lines: Vec<String> = BufReader::new(silent).lines().map(Result::unwrap).collect();
        assert!(lines[0].contains("no request within"), "{lines:?}");
    });
}

#[test]
fn a_client_that_stops_reading_fails_its_command_and_the_next_one_is_answered() {
    let waits = (REQUEST_WAIT, Duration::from_millis(300));
    serving(waits, |path| {
        let mut stuck = UnixStream::connect(path).unwrap();
        stuck
            .write_all(b"{\"version\": 1, \"args\": [\"big\", \"50000000\"]}\n")
            .unwrap();
        let started = Instant::now();
        assert_eq!(
            asked(path, &["next"]),
            (Some(0), "next\n".to_owned(), String::new())
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(stuck);
    });
}

#[test]
fn large_output_arrives_whole_in_whole_characters() {
    serving(WAITS, |path| {
        let (code, out, _) = asked(path, &["big", "300001"]);
        assert_eq!(code, Some(0));
        assert_eq!(out, "é".repeat(150_000));
    });
}

#[test]
fn the_socket_is_private_replaces_a_stale_one_and_is_removed_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(dir.path());
    // Left by an intake that was killed: nobody listens on it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let seen = alongside(dir.path(), &echo, || {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        (mode & 0o777, asked(&path, &["hello"]).0)
    });
    assert_eq!(seen, (0o600, Some(0)));
    assert!(!path.exists(), "removed when the work ended");
}

#[test]
fn a_cut_short_character_is_kept_for_the_next_line() {
    let e_acute = "é".as_bytes();
    assert_eq!(whole_characters(b"abc"), 3);
    assert_eq!(whole_characters(&[b'a', e_acute[0]]), 1);
    assert_eq!(whole_characters(&[b'a', e_acute[0], e_acute[1]]), 3);
    let snowman = "☃".as_bytes();
    assert_eq!(whole_characters(&snowman[..2]), 0);
    assert_eq!(whole_characters(snowman), 3);
}
