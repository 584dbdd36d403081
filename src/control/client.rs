//! The command line's side of the staff socket: a staff command asks the intake that
//! holds the store, when one is running, and prints its answer as its own.

use std::io::{BufRead as _, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::{Request, Response, VERSION};

/// What the client says when the answer ends before its exit status.
pub const STOPPED: &str = "the intake stopped before answering; the command may not have taken effect, and it can be repeated";

/// How long the client waits for the intake to say anything. A pass lets staff
/// commands in between its short steps, so a silence this long means the intake is
/// stuck (stopped by a signal, a disk that does not answer): better said than waited on.
const SILENCE: Duration = Duration::from_secs(30);

/// Sends `args` to the intake listening on `socket` and writes its answer to `out` and
/// `err`. `None` when no intake listens there (no socket, or one left by an intake that
/// was killed): the command then opens the store itself. Otherwise the command's exit
/// status; an error when the intake stopped before it said it.
pub fn ask(
    socket: &Path,
    args: Vec<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Option<u8>> {
    let stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(error) => {
            if error.kind() != ErrorKind::NotFound {
                tracing::debug!(path = %socket.display(), error = %error, "no intake answers on the staff socket");
            }
            return Ok(None);
        }
    };
    let mut line = serde_json::to_vec(&Request {
        version: VERSION,
        args,
    })?;
    line.push(b'\n');
    (&stream)
        .write_all(&line)
        .context("cannot send the command to the intake")?;
    stream.set_read_timeout(Some(SILENCE))?;
    answer(&stream, out, err).map(Some)
}

/// Reads the answer's lines up to the exit status.
fn answer(stream: &UnixStream, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    for line in BufReader::new(stream).lines() {
        let line = match line {
            Ok(line) => line,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!(
                    "the intake holding the store has said nothing for {} s; it may be stuck \
                     (see its log). The command may not have taken effect, and it can be repeated",
                    SILENCE.as_secs()
                )
            }
            Err(_) => break,
        };
        let response: Response = serde_json::from_str(&line)
            .with_context(|| "the intake's answer is not understood; is it the same portal?")?;
        match response {
            Response::Out(text) => {
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
            Response::Err(text) => writeln!(err, "{text}")?,
            Response::Exit(code) => return Ok(code),
        }
    }
    bail!(STOPPED)
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use super::*;

    /// A server that reads the request line and writes `reply` whole, then hangs up.
    fn replying(reply: &'static str) -> (tempfile::TempDir, std::thread::JoinHandle<String>) {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("portal.sock")).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut request = String::new();
            BufReader::new(&stream).read_line(&mut request).unwrap();
            (&stream).write_all(reply.as_bytes()).unwrap();
            request
        });
        (dir, server)
    }

    #[test]
    fn the_answer_is_printed_and_its_exit_status_returned() {
        let (dir, server) = replying(
            "{\"out\":\"a\\n\"}\n{\"out\":\"b\\n\"}\n{\"err\":\"error: no\"}\n{\"exit\":1}\n",
        );
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["registrations".to_owned(), "list".to_owned()];
        let code = ask(&dir.path().join("portal.sock"), args, &mut out, &mut err).unwrap();
        assert_eq!(code, Some(1));
        assert_eq!(out, b"a\nb\n");
        assert_eq!(err, b"error: no\n");
        assert_eq!(
            server.join().unwrap(),
            "{\"version\":1,\"args\":[\"registrations\",\"list\"]}\n"
        );
    }

    #[test]
    fn an_answer_cut_short_says_the_intake_stopped() {
        let (dir, server) = replying("{\"out\":\"a\\n\"}\n");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let error = ask(&dir.path().join("portal.sock"), vec![], &mut out, &mut err)
            .unwrap_err()
            .to_string();
        assert_eq!(error, STOPPED);
        server.join().unwrap();
    }

    #[test]
    fn no_socket_or_a_stale_one_is_no_intake() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portal.sock");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(ask(&path, vec![], &mut out, &mut err).unwrap(), None);
        // Bound and closed: the file stays, nobody listens.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        assert_eq!(ask(&path, vec![], &mut out, &mut err).unwrap(), None);
    }
}
