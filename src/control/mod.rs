//! The staff socket: while an `intake` holds the store, it answers staff commands over
//! a Unix socket `portal.sock` in the store's folder (mode 0600, in a folder that is
//! 0700), as `postfix` and `doveadm` do, so a staff command never waits for a pass to
//! release the store. This module owns the socket and its protocol, never a command:
//! the intake hands the server a handler (`commands`), and a command line that finds
//! the socket sends it the command instead of opening the store.
//!
//! The protocol, one connection per command, every message one line of JSON:
//!
//! - the client sends `{"version": 1, "args": ["tickets", "list", "--json"]}`: the
//!   command line after the program's name, without the global `--config` and
//!   `--log-format` (the intake answers with its own configuration), file paths made
//!   absolute;
//! - the server answers with any number of `{"out": "…"}` (standard output, in
//!   order) and `{"err": "…"}` (standard error) lines, and last `{"exit": N}`, the
//!   command's exit status.
//!
//! A request of another version, or that is not a request, is answered with an
//! `err` line and exit 2 and the connection is closed. Requests are answered one at a
//! time. A client that sends nothing within [`server::REQUEST_WAIT`] is dropped, and
//! one that stops reading makes its command fail after [`server::ANSWER_WAIT`]: neither
//! holds the server, nor the passes, for longer. A connection that ends before the
//! `exit` line means the intake stopped while answering: the command may or may not
//! have taken effect (each is recorded in one transaction, so never half), and can be
//! repeated.
//!
//! `server.rs` binds the socket, serves it beside the intake's work and removes it on
//! the way out; `client.rs` asks it.

pub mod client;
pub mod server;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The socket's name in the store's folder.
pub const SOCKET: &str = "portal.sock";
/// The version of the protocol this build speaks.
pub const VERSION: u32 = 1;

/// The socket of the store in `store_dir`.
pub fn socket_path(store_dir: &Path) -> PathBuf {
    store_dir.join(SOCKET)
}

/// What the client asks: a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    pub args: Vec<String>,
}

/// One line of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Text for standard output.
    Out(String),
    /// Text for standard error (one message, without its line end).
    Err(String),
    /// The exit status; the last line.
    Exit(u8),
}

/// How a command served over the socket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// The exit status.
    pub exit: u8,
    /// The error it printed on standard error, if any.
    pub err: Option<String>,
}

/// Reads one request line, or says why it is none.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|_| "error: the request is not a line of JSON".to_owned())?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(version) if version == u64::from(VERSION) => {}
        Some(version) => {
            return Err(format!(
                "error: the request is in version {version} of the staff socket protocol, and this intake speaks version {VERSION}; run the same portal as the intake"
            ));
        }
        None => return Err("error: the request has no protocol version".to_owned()),
    }
    serde_json::from_value(value)
        .map_err(|_| "error: the request's args are not a list of strings".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_are_spelt_as_the_protocol_says() {
        let request = Request {
            version: VERSION,
            args: vec!["tickets".to_owned(), "list".to_owned()],
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"version":1,"args":["tickets","list"]}"#
        );
        let lines: Vec<String> = [
            Response::Out("a\n".to_owned()),
            Response::Err("error: no".to_owned()),
            Response::Exit(1),
        ]
        .iter()
        .map(|response| serde_json::to_string(response).unwrap())
        .collect();
        assert_eq!(
            lines,
            [
                r#"{"out":"a\n"}"#,
                r#"{"err":"error: no"}"#,
                r#"{"exit":1}"#
            ]
        );
    }

    #[test]
    fn a_request_is_read_or_refused_with_its_reason() {
        assert_eq!(
            parse_request(br#"{"version": 1, "args": ["outbox", "list"]}"#),
            Ok(Request {
                version: 1,
                args: vec!["outbox".to_owned(), "list".to_owned()]
            })
        );
        let refusals = [
            (&b"hello"[..], "not a line of JSON"),
            (br#"{"args": []}"#, "no protocol version"),
            (br#"{"version": 2, "args": []}"#, "version 2"),
            (br#"{"version": 1, "args": [1]}"#, "not a list of strings"),
            (br#"{"version": 1}"#, "not a list of strings"),
        ];
        for (line, why) in refusals {
            let error = parse_request(line).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }
}
