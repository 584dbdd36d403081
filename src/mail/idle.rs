//! One IMAP IDLE connection (RFC 2177) on a mailbox's INBOX, apart from the pass's own
//! connection: logged in like it (TLS, password or XOAUTH2), INBOX examined read-only,
//! then IDLE held until the connection ends or a stop flag is set, saying when new mail
//! arrives (an `EXISTS` beyond the count known). IDLE is re-issued every
//! [`REISSUE`], before the 29 minutes after which a server may drop an idle client.
//!
//! The socket's read timeout is short ([`POLL`]) and every read looks at the stop flag
//! between timeouts, so a blocking IDLE read never keeps a stop waiting; other reads
//! still allow the server the pass's 60 s of silence. Reconnecting, and what to do on
//! new mail, are the caller's (`intake::watch`).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use imap::types::UnsolicitedResponse;

use super::imap::{Stream, TIMEOUT, open_session};
use crate::config::ImapServer;

/// How long one IDLE command is held before it is ended and issued again.
pub const REISSUE: Duration = Duration::from_secs(25 * 60);
/// How often a blocked read looks at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);

/// What an IDLE connection tells its watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Logged in, INBOX examined, IDLE about to start: mail that came before is for a
    /// pass to find.
    Idling,
    /// The server reported new mail in INBOX.
    NewMail,
}

/// How a connection ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The stop flag was set.
    Stopped,
    /// The server does not offer IDLE (not in its CAPABILITY): nothing to wait on.
    NoIdle,
}

/// Holds one IDLE connection to the server of `[mail.<name>]` until `stop` is set
/// (`Ok(Ended::Stopped)`) or the connection fails (an error: the server went away, a
/// login was refused). `on` hears [`Event::Idling`] once connected and
/// [`Event::NewMail`] for each arrival.
pub fn idle(
    config: &ImapServer,
    name: &str,
    stop: &AtomicBool,
    on: &mut dyn FnMut(Event),
) -> Result<Ended> {
    idle_for(config, name, stop, REISSUE, on)
}

/// [`idle`], each IDLE command held for `reissue`.
fn idle_for(
    config: &ImapServer,
    name: &str,
    stop: &AtomicBool,
    reissue: Duration,
    on: &mut dyn FnMut(Event),
) -> Result<Ended> {
    let what = format!("mail.{name}");
    let mut session = open_session(config, &what, |stream| Stoppable::new(stream, stop))?;
    let capabilities = session
        .capabilities()
        .with_context(|| format!("{what}: CAPABILITY failed"))?;
    if !capabilities.has_str("IDLE") {
        let _ = session.logout();
        return Ok(Ended::NoIdle);
    }
    let inbox = session
        .examine("INBOX")
        .with_context(|| format!("{what}: cannot examine INBOX"))?;
    let mut count = Count {
        exists: inbox.exists,
    };
    on(Event::Idling);
    loop {
        let mut bye = false;
        let waited = {
            let mut handle = session.idle();
            handle.timeout(reissue).keepalive(false);
            handle.wait_while(|response| {
                bye |= matches!(response, UnsolicitedResponse::Bye { .. });
                count.heard(&response, on);
                !bye
            })
            // The handle, dropped here, ends the IDLE (DONE) and reads its answer.
        };
        waited.with_context(|| format!("{what}: IDLE ended"))?;
        if bye {
            bail!("{what}: the server closed the connection");
        }
        // Anything that came with the answer to DONE.
        for response in session.take_all_unsolicited() {
            count.heard(&response, on);
        }
        if stop.load(Ordering::SeqCst) {
            let _ = session.logout();
            return Ok(Ended::Stopped);
        }
    }
}

/// The number of messages in INBOX, as the server last reported it.
struct Count {
    exists: u32,
}

impl Count {
    /// Follows `EXISTS` and `EXPUNGE`; new mail is an `EXISTS` beyond the count (the
    /// pass moving messages out makes the count fall, not rise).
    fn heard(&mut self, response: &UnsolicitedResponse, on: &mut dyn FnMut(Event)) {
        match response {
            UnsolicitedResponse::Exists(exists) => {
                if *exists > self.exists {
                    on(Event::NewMail);
                }
                self.exists = *exists;
            }
            UnsolicitedResponse::Expunge(_) => self.exists = self.exists.saturating_sub(1),
            _ => {}
        }
    }
}

/// A stream whose reads give up when the stop flag is set: the socket times out every
/// [`POLL`], and a read tries again until its deadline — the end of the IDLE command
/// (set by the IDLE handle through [`imap::extensions::idle::SetReadTimeout`]) or the
/// pass's [`TIMEOUT`] of silence — unless the flag is set.
struct Stoppable<'a> {
    stream: Stream,
    stop: &'a AtomicBool,
    deadline: Option<Instant>,
}

impl<'a> Stoppable<'a> {
    fn new(stream: Stream, stop: &'a AtomicBool) -> io::Result<Stoppable<'a>> {
        stream.tcp().set_read_timeout(Some(POLL))?;
        Ok(Stoppable {
            stream,
            stop,
            deadline: None,
        })
    }
}

impl Read for Stoppable<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let deadline = self.deadline.unwrap_or_else(|| Instant::now() + TIMEOUT);
        loop {
            match self.stream.read(buffer) {
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                        return Err(error);
                    }
                }
                other => return other,
            }
        }
    }
}

impl Write for Stoppable<'_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.stream.write(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl imap::extensions::idle::SetReadTimeout for Stoppable<'_> {
    /// The IDLE handle sets how long its command may wait (`Some`), then clears it.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::error::Result<()> {
        self.deadline = timeout.map(|timeout| Instant::now() + timeout);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A scripted IMAP server on loopback for one connection: it offers
    /// `capabilities`, has two messages in INBOX, reports a third during the first
    /// IDLE (after repeating the count it had), and keeps the commands it heard.
    struct FakeServer {
        port: u16,
        heard: Arc<Mutex<Vec<String>>>,
    }

    impl FakeServer {
        fn start(capabilities: &'static str, bye_in_idle: bool) -> FakeServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let heard = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&heard);
            std::thread::spawn(move || {
                let (socket, _) = listener.accept().unwrap();
                let _ = serve(socket, capabilities, bye_in_idle, &log);
            });
            FakeServer { port, heard }
        }

        fn heard(&self) -> Vec<String> {
            self.heard.lock().unwrap().clone()
        }

        fn config(&self) -> ImapServer {
            ImapServer {
                host: "127.0.0.1".to_owned(),
                port: Some(self.port),
                tls: crate::config::Tls::None,
                ca_file: None,
                user: "watcher".to_owned(),
                // Any variable that is set: the fake server takes any password.
                password_env: Some("PATH".to_owned()),
                oauth2_token_command: None,
            }
        }
    }

    fn serve(
        socket: std::net::TcpStream,
        capabilities: &str,
        bye_in_idle: bool,
        heard: &Mutex<Vec<String>>,
    ) -> io::Result<()> {
        let mut out = socket.try_clone()?;
        let mut lines = BufReader::new(socket).lines();
        out.write_all(b"* OK fake IMAP ready\r\n")?;
        let mut idles = 0;
        while let Some(line) = lines.next() {
            let line = line?;
            let mut words = line.split(' ');
            let (tag, command) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            heard.lock().unwrap().push(command.to_uppercase());
            let answer = match command.to_uppercase().as_str() {
                "CAPABILITY" => format!("* CAPABILITY {capabilities}\r\n{tag} OK done\r\n"),
                "EXAMINE" => format!("* 2 EXISTS\r\n* FLAGS ()\r\n{tag} OK [READ-ONLY] done\r\n"),
                "LOGOUT" => format!("* BYE\r\n{tag} OK done\r\n"),
                "IDLE" => {
                    idles += 1;
                    out.write_all(b"+ idling\r\n")?;
                    if bye_in_idle {
                        out.write_all(b"* BYE shutting down\r\n")?;
                        return Ok(());
                    }
                    if idles == 1 {
                        out.write_all(b"* OK Still here\r\n* 2 EXISTS\r\n* 3 EXISTS\r\n")?;
                    }
                    let done = lines.next().transpose()?.unwrap_or_default();
                    heard.lock().unwrap().push(done.to_uppercase());
                    format!("{tag} OK idle done\r\n")
                }
                _ => format!("{tag} OK done\r\n"),
            };
            out.write_all(answer.as_bytes())?;
        }
        Ok(())
    }

    #[test]
    fn idle_reports_new_mail_is_issued_again_and_ends_at_the_stop_flag() {
        let server = FakeServer::start("IMAP4rev1 IDLE", false);
        let config = server.config();
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (flag, seen) = (Arc::clone(&stop), Arc::clone(&events));
        let watcher = std::thread::spawn(move || {
            idle_for(&config, "intake", &flag, 3 * POLL, &mut |event| {
                seen.lock().unwrap().push(event);
            })
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while server
            .heard()
            .iter()
            .filter(|command| *command == "IDLE")
            .count()
            < 2
        {
            assert!(Instant::now() < deadline, "{:?}", server.heard());
            std::thread::sleep(Duration::from_millis(5));
        }
        let stopped = Instant::now();
        stop.store(true, Ordering::SeqCst);
        let ended = watcher.join().unwrap().unwrap();
        assert!(
            stopped.elapsed() < Duration::from_secs(1),
            "{:?}",
            stopped.elapsed()
        );
        assert_eq!(ended, Ended::Stopped);
        assert_eq!(*events.lock().unwrap(), [Event::Idling, Event::NewMail]);
        assert_eq!(
            server.heard(),
            [
                "LOGIN",
                "CAPABILITY",
                "EXAMINE",
                "IDLE",
                "DONE",
                "IDLE",
                "DONE",
                "LOGOUT"
            ]
        );
    }

    #[test]
    fn a_server_without_idle_is_told_apart_and_left() {
        let server = FakeServer::start("IMAP4rev1 MOVE", false);
        let stop = AtomicBool::new(false);
        let mut events = Vec::new();
        let ended = idle(&server.config(), "intake", &stop, &mut |event| {
            events.push(event)
        });
        assert_eq!(ended.unwrap(), Ended::NoIdle);
        assert_eq!(events, []);
        assert_eq!(server.heard(), ["LOGIN", "CAPABILITY", "LOGOUT"]);
    }

    #[test]
    fn a_server_that_says_bye_during_idle_is_an_error() {
        let server = FakeServer::start("IMAP4rev1 IDLE", true);
        let stop = AtomicBool::new(false);
        let mut events = Vec::new();
        let error = idle(&server.config(), "intake", &stop, &mut |event| {
            events.push(event)
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("mail.intake"), "{error:#}");
        assert_eq!(events, [Event::Idling]);
    }

    fn heard(count: &mut Count, responses: &[UnsolicitedResponse]) -> usize {
        let mut new_mail = 0;
        for response in responses {
            count.heard(response, &mut |event| {
                assert_eq!(event, Event::NewMail);
                new_mail += 1;
            });
        }
        new_mail
    }

    #[test]
    fn only_an_exists_beyond_the_count_is_new_mail() {
        let mut count = Count { exists: 2 };
        assert_eq!(heard(&mut count, &[UnsolicitedResponse::Exists(2)]), 0);
        assert_eq!(heard(&mut count, &[UnsolicitedResponse::Exists(3)]), 1);
        // The pass moves two out; the server repeats the count it has.
        let moved = [
            UnsolicitedResponse::Expunge(1),
            UnsolicitedResponse::Expunge(1),
            UnsolicitedResponse::Exists(1),
        ];
        assert_eq!(heard(&mut count, &moved), 0);
        assert_eq!(count.exists, 1);
        assert_eq!(
            heard(
                &mut count,
                &[
                    UnsolicitedResponse::Recent(1),
                    UnsolicitedResponse::Exists(2)
                ]
            ),
            1
        );
    }

    #[test]
    fn a_blocked_read_gives_up_when_the_stop_flag_is_set() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let stop = AtomicBool::new(false);
        let mut stream = Stoppable::new(Stream::Plain(tcp), &stop).unwrap();
        // Without the flag, a read waits until its deadline.
        stream.deadline = Some(Instant::now() + 2 * POLL);
        let started = Instant::now();
        let error = stream.read(&mut [0; 16]).unwrap_err();
        assert!(matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        assert!(started.elapsed() >= 2 * POLL, "{:?}", started.elapsed());
        // With it, a read that would wait for the IDLE's 25 minutes gives up at once.
        stream.deadline = Some(Instant::now() + REISSUE);
        stop.store(true, Ordering::SeqCst);
        let started = Instant::now();
        assert!(stream.read(&mut [0; 16]).is_err());
        assert!(started.elapsed() < 3 * POLL, "{:?}", started.elapsed());
    }

    #[test]
    fn data_that_comes_is_read_whatever_the_flag() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let stop = AtomicBool::new(true);
        let mut stream = Stoppable::new(Stream::Plain(tcp), &stop).unwrap();
        server.write_all(b"t1 OK done\r\n").unwrap();
        let mut buffer = [0; 64];
        let read = stream.read(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"t1 OK done\r\n");
    }
}
