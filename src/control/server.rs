//! The intake's side of the staff socket: bound once the store is held, served on a
//! thread of its own beside the passes, removed when the intake ends.

use std::io::{self, BufRead as _, BufReader, ErrorKind, Read as _, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Ending, Response, parse_request, socket_path};
use crate::failpoint;

/// How long a client has to send its request.
pub const REQUEST_WAIT: Duration = Duration::from_secs(5);
/// How long one write of the answer may wait for a client that stopped reading.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// The longest request line taken.
const MAX_REQUEST: u64 = 64 * 1024;
/// Output is sent in lines of about this much.
const CHUNK: usize = 64 * 1024;
/// How often the server looks up from waiting for a client to see whether to stop.
const POLL: Duration = Duration::from_millis(50);

/// Answers one command line written to `out`; the intake's commands.
pub type Handler<'a> = dyn Fn(&[String], &mut dyn Write) -> Ending + Sync + 'a;

/// Runs `work` (the intake's passes) while serving staff commands with `handler` on
/// the socket in `store_dir`, whose store this process holds; the socket is removed
/// when `work` ends. A socket that cannot be bound is logged and `work` runs alone:
/// staff commands then wait for the store as they do without an intake.
pub fn alongside<T>(store_dir: &Path, handler: &Handler<'_>, work: impl FnOnce() -> T) -> T {
    let socket = match Socket::bind(store_dir) {
        Ok(socket) => socket,
        Err(error) => {
            tracing::error!(
                path = %socket_path(store_dir).display(),
                error = %error,
                "cannot serve staff commands on the socket; they wait for the store instead"
            );
            return work();
        }
    };
    std::thread::scope(|scope| {
        let server = scope.spawn(|| socket.serve(handler));
        let result = work();
        socket.close();
        if server.join().is_err() {
            tracing::error!("the staff socket's server stopped on a panic");
        }
        result
    })
}

/// The bound socket; its file is removed when this is dropped.
#[derive(Debug)]
pub struct Socket {
    listener: UnixListener,
    path: PathBuf,
    closing: AtomicBool,
    /// [`REQUEST_WAIT`] and [`ANSWER_WAIT`] (shorter in tests).
    waits: (Duration, Duration),
}

impl Socket {
    /// Binds `portal.sock` in `store_dir`, a 0700 folder whose store this process holds
    /// the lock of: only the holder removes a socket left by a run that was killed. The
    /// socket is made 0600 before it is served; until then only its owner can reach it,
    /// through the 0700 folder.
    pub fn bind(store_dir: &Path) -> io::Result<Socket> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(store_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "removed a stale staff socket"),
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let listener = UnixListener::bind(&path)?;
        let socket = Socket {
            listener,
            path,
            closing: AtomicBool::new(false),
            waits: (REQUEST_WAIT, ANSWER_WAIT),
        };
        std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o600))?;
        socket.listener.set_nonblocking(true)?;
        tracing::info!(path = %socket.path.display(), "serving staff commands");
        Ok(socket)
    }

    /// Answers clients one at a time until [`Socket::close`].
    pub fn serve(&self, handler: &Handler<'_>) {
        while !self.closing.load(Ordering::SeqCst) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(error) = answer(stream, self.waits, handler) {
                        tracing::warn!(error = %error, "a staff command's client went away");
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(error) => {
                    tracing::warn!(error = %error, "cannot accept a staff command");
                    std::thread::sleep(POLL);
                }
            }
        }
    }

    /// Stops [`Socket::serve`] after the command in hand.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %error, "cannot remove the staff socket");
        }
    }
}

/// Reads one request from `stream`, runs it, and writes the answer.
fn answer(
    stream: UnixStream,
    (request_wait, answer_wait): (Duration, Duration),
    handler: &Handler<'_>,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(request_wait))?;
    stream.set_write_timeout(Some(answer_wait))?;
    let request = match read_request(&stream) {
        Ok(line) => parse_request(&line),
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(format!("error: no request within {:?}", request_wait))
        }
        Err(error) => Err(format!("error: cannot read the request: {error}")),
    };
    let args = match request {
        Ok(request) => request.args,
        Err(why) => {
            return end(
                &stream,
                &Ending {
                    exit: 2,
                    err: Some(why),
                },
            );
        }
    };
    failpoint::hit("staff_command");
    let mut out = Lines::new(&stream);
    let ending =
        catch_unwind(AssertUnwindSafe(|| handler(&args, &mut out))).unwrap_or_else(|_| Ending {
            exit: 2,
            err: Some(
                "error: the command failed unexpectedly; the intake's log says more".to_owned(),
            ),
        });
    failpoint::hit("after_staff_command");
    tracing::info!(command = %command_words(&args), exit = ending.exit, "staff command answered");
    out.finish()?;
    end(&stream, &ending)
}

/// The request line (its end of line optional before the end of the stream).
fn read_request(stream: &UnixStream) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    BufReader::new(stream)
        .take(MAX_REQUEST + 1)
        .read_until(b'\n', &mut line)?;
    if line.len() as u64 > MAX_REQUEST {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            "the request is too long",
        ));
    }
    Ok(line)
}

/// The `err` line, when there is one, and the `exit` line.
fn end(stream: &UnixStream, ending: &Ending) -> io::Result<()> {
    let mut stream = stream;
    if let Some(err) = &ending.err {
        send(&mut stream, &Response::Err(err.clone()))?;
    }
    send(&mut stream, &Response::Exit(ending.exit))?;
    stream.flush()
}

fn send(stream: &mut &UnixStream, response: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(response).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// The subcommand's words, for the log (never an argument's value: a reason may say
/// anything).
fn command_words(args: &[String]) -> String {
    args.iter()
        .take_while(|arg| !arg.starts_with('-'))
        .take(2)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command's standard output, sent as `out` lines of whole characters (and, where
/// it can, whole lines) once [`CHUNK`] bytes have gathered, and the rest at
/// [`Lines::finish`].
struct Lines<'a> {
    stream: &'a UnixStream,
    buffer: Vec<u8>,
}

impl<'a> Lines<'a> {
    fn new(stream: &'a UnixStream) -> Lines<'a> {
        Lines {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Sends the first `upto` bytes gathered.
    fn emit(&mut self, upto: usize) -> io::Result<()> {
        if upto == 0 {
            return Ok(());
        }
        let chunk: Vec<u8> = self.buffer.drain(..upto).collect();
        let text = String::from_utf8_lossy(&chunk).into_owned();
        send(&mut { self.stream }, &Response::Out(text))
    }

    /// Sends everything gathered.
    fn finish(&mut self) -> io::Result<()> {
        self.emit(self.buffer.len())
    }
}

impl Write for Lines<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            let upto = match self.buffer.iter().rposition(|byte| *byte == b'\n') {
                Some(end) => end + 1,
                None => whole_characters(&self.buffer),
            };
            self.emit(upto)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The length of `bytes` without a UTF-8 character cut short at its end.
fn whole_characters(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(4) {
        let start = bytes.len() - back;
        let byte = bytes[start];
        // A continuation byte: the character began further back.
        if byte & 0xC0 == 0x80 {
            continue;
        }
        let length = match byte {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        return if length > back { start } else { bytes.len() };
    }
    bytes.len()
}

#[cfg(test)]
mod tests;
