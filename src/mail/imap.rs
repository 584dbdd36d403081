//! An IMAP mailbox: TLS (implicit or STARTTLS, with an optional private CA) or plain
//! text only when the config says so; password or XOAUTH2. Messages are listed by UID
//! with their INTERNALDATE (the R1 received time), fetched with `BODY.PEEK[]`, and
//! moved with `UID MOVE` (or COPY, `\Deleted` and `UID EXPUNGE` where MOVE is missing,
//! EXPUNGE where UIDPLUS is missing too) to `Processed` or `Quarantine`, which are
//! created when missing. Messages flagged `\Deleted` are not listed.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::tls::{Secret, client_config, secret, xoauth2};
use super::{Folder, MailSource, SourceError, Waiting};
use crate::config::{ImapServer, Tls};

/// How long a server may stay silent before the pass gives up on it.
pub(super) const TIMEOUT: Duration = Duration::from_secs(60);
/// UIDs moved per command.
const MOVE_BATCH: usize = 200;
/// UIDs fetched per round trip when listing.
const LIST_BATCH: usize = 500;

/// A plain or TLS stream.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(buffer),
            Stream::Tls(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.write(buffer),
            Stream::Tls(stream) => stream.write(buffer),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.flush(),
            Stream::Tls(stream) => stream.flush(),
        }
    }
}

struct XOAuth2 {
    response: String,
}

impl imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&self, _challenge: &[u8]) -> String {
        self.response.clone()
    }
}

/// A logged-in IMAP mailbox with INBOX selected.
pub struct Imap {
    session: imap::Session<Stream>,
    can_move: bool,
    /// UIDPLUS: `UID EXPUNGE` removes only the messages named.
    can_uid_expunge: bool,
    /// The UIDVALIDITY of INBOX when it was selected.
    pub uid_validity: Option<u32>,
    /// Bodies fetched ahead by [`MailSource::prefetch`], taken by `fetch`.
    prefetched: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Imap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("uid_validity", &self.uid_validity)
            .finish()
    }
}

impl Imap {
    /// Connects to the server of `[mail.<name>]`, authenticates, creates the folders
    /// when missing and selects INBOX.
    pub fn connect(config: &ImapServer, name: &str) -> Result<Imap> {
        let what = format!("mail.{name}");
        let mut session = open_session(config, &what, Ok)?;
        let capabilities = session
            .capabilities()
            .with_context(|| format!("{what}: CAPABILITY failed"))?;
        let can_move = capabilities.has_str("MOVE");
        let can_uid_expunge = capabilities.has_str("UIDPLUS");
        for folder in [Folder::Processed, Folder::Quarantine] {
            // CREATE fails when the folder exists; that is fine.
            let _ = session.create(folder.name());
        }
        let mailbox = session
            .select("INBOX")
            .with_context(|| format!("{what}: cannot select INBOX"))?;
        Ok(Imap {
            session,
            can_move,
            can_uid_expunge,
            uid_validity: mailbox.uid_validity,
            prefetched: HashMap::new(),
        })
    }
}

impl Stream {
    /// The TCP connection under it (for its timeouts).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(stream) => stream,
            Stream::Tls(stream) => stream.get_ref(),
        }
    }
}

/// A logged-in session with the server of `[mail.<name>]` (`what` names it in errors):
/// TCP, TLS as configured, the greeting, and the login. `wrap` puts the stream in the
/// type the session speaks over (the IDLE watcher's stream that can be stopped).
pub(super) fn open_session<S: Read + Write>(
    config: &ImapServer,
    what: &str,
    wrap: impl FnOnce(Stream) -> std::io::Result<S>,
) -> Result<imap::Session<S>> {
    let host = config.host.as_str();
    let port = config.port.unwrap_or(match config.tls {
        Tls::Implicit => 993,
        Tls::Starttls | Tls::None => 143,
    });
    let tcp = TcpStream::connect((host, port))
        .with_context(|| format!("{what}: cannot connect to {host}:{port}"))?;
    tcp.set_read_timeout(Some(TIMEOUT))?;
    tcp.set_write_timeout(Some(TIMEOUT))?;
    let tls = |mut tcp: TcpStream| -> Result<Stream> {
        let server = rustls_pki_types::ServerName::try_from(host.to_owned())
            .with_context(|| format!("{what}: {host} is not a host name"))?;
        let mut connection =
            rustls::ClientConnection::new(client_config(config.ca_file.as_deref())?, server)
                .with_context(|| format!("{what}: cannot start TLS"))?;
        // The handshake now, so that a refused certificate is reported as a TLS
        // failure rather than as a missing greeting.
        while connection.is_handshaking() {
            connection
                .complete_io(&mut tcp)
                .with_context(|| format!("{what}: TLS with {host}:{port} failed"))?;
        }
        Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(
            connection, tcp,
        ))))
    };
    let mut client = match config.tls {
        Tls::Implicit => imap::Client::new(wrap(tls(tcp)?)?),
        Tls::None => imap::Client::new(wrap(Stream::Plain(tcp))?),
        Tls::Starttls => {
            let mut tcp = tcp;
            starttls(&mut tcp).with_context(|| format!("{what}: STARTTLS with {host} failed"))?;
            // After STARTTLS the server sends no second greeting.
            return login(imap::Client::new(wrap(tls(tcp)?)?), config, what);
        }
    };
    client
        .read_greeting()
        .with_context(|| format!("{what}: no greeting from {host} (is TLS right?)"))?;
    login(client, config, what)
}

fn login<S: Read + Write>(
    client: imap::Client<S>,
    config: &ImapServer,
    what: &str,
) -> Result<imap::Session<S>> {
    let user = config.user.as_str();
    let secret = secret(
        config.password_env.as_deref(),
        config.oauth2_token_command.as_deref(),
        what,
    )?
    .with_context(|| format!("{what}: set password_env or oauth2_token_command"))?;
    match secret {
        Secret::Password(password) => client.login(user, password),
        Secret::Token(token) => client.authenticate(
            "XOAUTH2",
            &XOAuth2 {
                response: xoauth2(user, &token),
            },
        ),
    }
    .map_err(|(error, _)| anyhow!("{what}: login refused for {user}: {error}"))
}

/// Reads the greeting and asks for STARTTLS on a plain connection (RFC 3501 6.2.1).
fn starttls(tcp: &mut TcpStream) -> Result<()> {
    let greeting = read_line(tcp)?;
    if !greeting.starts_with("* OK") && !greeting.starts_with("* PREAUTH") {
        bail!("unexpected greeting");
    }
    tcp.write_all(b"s1 STARTTLS\r\n")?;
    loop {
        let line = read_line(tcp)?;
        if line.starts_with("s1 OK") {
            return Ok(());
        }
        if line.starts_with("s1 ") {
            bail!("the server refused STARTTLS");
        }
    }
}

/// One CRLF-terminated line, read byte by byte so nothing of the TLS handshake that
/// follows is consumed.
fn read_line(tcp: &mut TcpStream) -> Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 8192 {
        if tcp.read(&mut byte)? == 0 {
            bail!("the server closed the connection");
        }
        line.push(byte[0]);
        if line.ends_with(b"\r\n") {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
    bail!("an overlong line from the server")
}

impl MailSource for Imap {
    fn list(&mut self) -> Result<Vec<Waiting>> {
        let uids = self
            .session
            // A message flagged \Deleted is on its way out (deleted in a mail client, or
            // already copied to its folder by a move without MOVE): not to be handled.
            .uid_search("UNDELETED")
            .context("UID SEARCH failed")?;
        let mut uids: Vec<u32> = uids.into_iter().collect();
        uids.sort_unstable();
        let mut waiting = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(LIST_BATCH) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let fetches = self
                .session
                .uid_fetch(&set, "(UID INTERNALDATE RFC822.SIZE)")
                .context("UID FETCH failed")?;
            for fetch in fetches.iter() {
                let Some(uid) = fetch.uid else { continue };
                let received_at = fetch
                    .internal_date()
                    .map_or_else(Utc::now, DateTime::<Utc>::from);
                waiting.push(Waiting {
                    id: uid.to_string(),
                    received_at,
                    size: u64::from(fetch.size.unwrap_or(0)),
                });
            }
        }
        waiting
            .sort_by_key(|waiting| (waiting.received_at, waiting.id.parse::<u32>().unwrap_or(0)));
        Ok(waiting)
    }

    fn fetch(&mut self, id: &str) -> Result<Vec<u8>, SourceError> {
        if let Some(raw) = self.prefetched.remove(id) {
            return Ok(raw);
        }
        let fetches = self
            .session
            .uid_fetch(id, "BODY.PEEK[]")
            .map_err(|error| fetch_error(id, "message", error))?;
        let body = fetches
            .iter()
            .find_map(|fetch| fetch.body().map(<[u8]>::to_vec));
        body.ok_or_else(|| SourceError::Gone { id: id.to_owned() })
    }

    fn fetch_header(&mut self, id: &str) -> Result<Vec<u8>, SourceError> {
        let fetches = self
            .session
            .uid_fetch(id, "BODY.PEEK[HEADER]")
            .map_err(|error| fetch_error(id, "header of message", error))?;
        let header = fetches
            .iter()
            .find_map(|fetch| fetch.header().map(<[u8]>::to_vec));
        let mut header = header.ok_or_else(|| SourceError::Gone { id: id.to_owned() })?;
        header.truncate(super::MAX_HEADER_BYTES as usize);
        Ok(header)
    }

    fn prefetch(&mut self, ids: &[&str]) {
        self.prefetched.clear();
        if ids.len() < 2 {
            return;
        }
        let Ok(fetches) = self.session.uid_fetch(ids.join(","), "BODY.PEEK[]") else {
            return;
        };
        for fetch in fetches.iter() {
            if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                self.prefetched.insert(uid.to_string(), body.to_vec());
            }
        }
    }

    fn finish(&mut self, id: &str, folder: Folder) -> Result<()> {
        if self.can_move {
            self.session
                .uid_mv(id, folder.name())
                .with_context(|| format!("cannot move message {id} to {}", folder.name()))
        } else {
            self.session
                .uid_copy(id, folder.name())
                .with_context(|| format!("cannot copy message {id} to {}", folder.name()))?;
            self.session
                .uid_store(id, "+FLAGS.SILENT (\\Deleted)")
                .context("cannot flag a moved message")?;
            if self.can_uid_expunge {
                self.session
                    .uid_expunge(id)
                    .context("cannot expunge a moved message")?;
            } else {
                // Without UIDPLUS only a plain EXPUNGE is there; it also removes what
                // others flagged \Deleted in this inbox, which they meant to go.
                self.session
                    .expunge()
                    .context("cannot expunge a moved message")?;
            }
            Ok(())
        }
    }

    fn finish_many(&mut self, ids: &[String], folder: Folder) -> Result<()> {
        // A UID set per command; UIDs no longer in INBOX are ignored by the server.
        for chunk in ids.chunks(MOVE_BATCH) {
            self.finish(&chunk.join(","), folder)?;
        }
        Ok(())
    }

    fn validity(&self) -> Option<u32> {
        self.uid_validity
    }

    fn release(&mut self, id: &str, folder: Folder) -> Result<()> {
        let _ = (id, folder);
        bail!(
            "releasing a message over IMAP is done in the mail client: move it from {} back to INBOX",
            folder.name()
        )
    }
}

/// A failed `UID FETCH`. A UID no longer in the mailbox is answered `OK` with no
/// message (the caller's [`SourceError::Gone`]); a `NO` refuses this message on a
/// connection that is still good; anything else (I/O, `BYE`, an answer that does not
/// parse) leaves the session unusable.
fn fetch_error(id: &str, what: &str, error: imap::Error) -> SourceError {
    match error {
        imap::Error::No(no) => SourceError::Refused {
            id: id.to_owned(),
            reason: no.to_string(),
        },
        error => SourceError::Lost(
            anyhow::Error::new(error).context(format!("cannot fetch the {what} {id}")),
        ),
    }
}

impl Drop for Imap {
    fn drop(&mut self) {
        let _ = self.session.logout();
    }
}
