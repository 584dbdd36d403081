//! How notices leave: `.eml` files in a folder (the embedded default) or SMTP, both
//! behind the [`Sender`] trait, built from `[smtp]` by [`from_config`]; tests put a
//! [`StubSender`] in their place.
//!
//! A failure ([`SendError`]) is transient (retried on a later pass) or permanent
//! (recorded, not retried). It is permanent only when the server refuses the message itself with a
//! 5xx reply to MAIL, RCPT or DATA. A failure to connect, to set up TLS or to log in
//! is transient: it says nothing about the notice, and the notices wait in the outbox
//! until the server or the config is fixed.
//!
//! SMTP is lettre's synchronous client ([`SmtpConnection`]): one connection for the
//! run, opened again after a failure; implicit TLS or STARTTLS (required) through
//! rustls, trusting the web PKI plus `ca_file` exactly as IMAP does, or plain text only
//! when `tls = "none"`; AUTH PLAIN or LOGIN with a password, XOAUTH2 with a token. Each
//! message goes after DATA in one write, dot-stuffed, with its final dot.

use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::Address;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Auth, Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::tls::{Secret, secret};
use crate::config::{Smtp, SmtpServer, Tls};
use crate::errors::one_line;

/// How long an SMTP server may stay silent before a send gives up.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A failed send, by what the caller does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No session could be had at all (no connection, TLS or login; an unwritable
    /// folder): the notices after this one would fail the same way, so they wait
    /// without being tried. Transient.
    #[error("{0}")]
    Unreachable(String),
    /// This notice did not go for now (a 4xx reply, a connection that broke during
    /// it): it is tried again on a later pass.
    #[error("{0}")]
    Transient(String),
    /// Refused for good (a 5xx reply to MAIL, RCPT or DATA, an address that is not
    /// one): recorded on the notice and its ticket, never retried.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    /// True when the notice is to be tried again later.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Unreachable(_) | SendError::Transient(_) => true,
            SendError::Permanent(_) => false,
        }
    }

    /// What went wrong, for the notice's record and the log.
    pub fn message(&self) -> &str {
        match self {
            SendError::Unreachable(message)
            | SendError::Transient(message)
            | SendError::Permanent(message) => message,
        }
    }
}

/// Where notices leave the portal: the one edge every notice goes through, so that a
/// test can put a [`StubSender`] in the place of a real server.
pub trait Sender {
    /// Sends one complete message (header and body as composed) from `from` to `to`,
    /// both bare addresses.
    fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), SendError>;

    /// Why the mail server could not be reached, once a send in this run found so:
    /// later sends fail at once with it, and a delivery does not try them. `None` while
    /// sends may go.
    fn down(&self) -> Option<&str> {
        None
    }
}

/// Builds the sender `[smtp]` describes: the outbox folder (created when missing) or
/// the SMTP server (checked here, connected at the first send).
pub fn from_config(smtp: &Smtp) -> Result<Box<dyn Sender>> {
    Ok(match smtp {
        Smtp::File { path } => Box::new(FileSender::new(path)?),
        Smtp::Server(server) => Box::new(SmtpClient::from_config(server)?),
    })
}

/// The addresses of a send, parsed: one that is not an address will never be one, a
/// permanent failure of the notice.
fn addresses(from: &str, to: &str) -> Result<(Address, Address), SendError> {
    let from = from
        .parse()
        .map_err(|error| SendError::Permanent(format!("bad sender address: {error}")))?;
    let to = to
        .parse()
        .map_err(|error| SendError::Permanent(format!("bad recipient address: {error}")))?;
    Ok((from, to))
}

/// `.eml` files in a folder, each written whole under a temporary name and then
/// renamed, so a crash never leaves half a notice. Notices carry PHI: the folder is
/// made `0700` and each file `0600`, whatever the process umask.
#[derive(Debug)]
pub struct FileSender {
    dir: PathBuf,
}

impl FileSender {
    /// The sender writing into `dir`, which is created (`0700`) when missing; a folder
    /// that exists keeps the mode its admin gave it, and folders above it that are
    /// missing are made as any other (they hold more than notices, e.g. `var/`).
    pub fn new(dir: &Path) -> Result<FileSender> {
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(FileSender {
            dir: dir.to_path_buf(),
        })
    }
}

impl Sender for FileSender {
    fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), SendError> {
        addresses(from, to)?;
        write_eml(&self.dir, raw).map_err(|error| {
            SendError::Unreachable(format!("cannot write into {}: {error}", self.dir.display()))
        })
    }
}

/// A sender for tests, after lettre's `StubTransport`: it sends nothing, records every
/// message it is given, and answers each send as it was told.
#[derive(Debug, Default)]
pub struct StubSender {
    /// The answer to every send; `None` for success.
    failure: Option<SendError>,
    /// Every message given to [`Sender::send`], answered well or not.
    attempts: Mutex<Vec<StubMessage>>,
    /// Set by the first send answered [`SendError::Unreachable`], as the SMTP client
    /// does.
    down: OnceLock<String>,
}

/// A message a [`StubSender`] was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubMessage {
    pub from: String,
    pub to: String,
    pub raw: Vec<u8>,
}

impl StubSender {
    /// A stub that takes every message.
    pub fn new_ok() -> StubSender {
        StubSender::default()
    }

    /// A stub that answers every send with `error`.
    pub fn failing(error: SendError) -> StubSender {
        StubSender {
            failure: Some(error),
            ..StubSender::default()
        }
    }

    /// The messages given to it so far, in order, whatever it answered.
    pub fn messages(&self) -> Vec<StubMessage> {
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sender for StubSender {
    fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), SendError> {
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(StubMessage {
                from: from.to_owned(),
                to: to.to_owned(),
                raw: raw.to_vec(),
            });
        match &self.failure {
            None => Ok(()),
            Some(error) => {
                if let SendError::Unreachable(message) = error {
                    let _ = self.down.set(message.clone());
                }
                Err(error.clone())
            }
        }
    }

    fn down(&self) -> Option<&str> {
        self.down.get().map(String::as_str)
    }
}

/// An SMTP server from `[smtp]`, and lettre's connection to it while the run lasts.
pub struct SmtpClient {
    host: String,
    port: u16,
    tls: Tls,
    /// The TLS parameters; `None` with `tls = "none"`.
    tls_parameters: Option<TlsParameters>,
    /// The login, when the config names one: the user, and where the secret comes from
    /// (`password_env`, `oauth2_token_command`).
    login: Option<Login>,
    /// `SMTP host:port`, for messages.
    what: String,
    connection: Mutex<Option<SmtpConnection>>,
    /// Why no session could be opened, once that happened: the run does not try again
    /// (a server that drops packets would cost a timeout for every notice).
    down: OnceLock<String>,
}

impl SmtpClient {
    /// The client of the server `[smtp]` names; no connection is made yet.
    pub fn from_config(smtp: &SmtpServer) -> Result<SmtpClient> {
        let host = smtp.host.clone();
        let port = smtp.port.unwrap_or(match smtp.tls {
            Tls::Implicit => 465,
            Tls::Starttls => 587,
            Tls::None => 25,
        });
        let tls_parameters = match smtp.tls {
            Tls::None => None,
            Tls::Implicit | Tls::Starttls => Some(
                tls_parameters(&host, smtp.ca_file.as_deref())
                    .context("[smtp]: cannot set up TLS")?,
            ),
        };
        let has_secret = smtp.password_env.is_some() || smtp.oauth2_token_command.is_some();
        let login = match (has_secret, &smtp.user) {
            (true, Some(user)) => Some(Login {
                user: user.clone(),
                password_env: smtp.password_env.clone(),
                token_command: smtp.oauth2_token_command.clone(),
            }),
            (true, None) => anyhow::bail!("[smtp] a password or token needs a user"),
            (false, _) => None,
        };
        // A password variable that is not set is a mistake in the setup, told now. The
        // token command runs at each login instead: tokens expire, and a token service
        // that is down only makes the notices wait, like a mail server that is down.
        if let Some(variable) = &smtp.password_env {
            std::env::var(variable)
                .with_context(|| format!("[smtp]: the password variable {variable} is not set"))?;
        }
        Ok(SmtpClient {
            what: format!("SMTP {host}:{port}"),
            host,
            port,
            tls: smtp.tls,
            tls_parameters,
            login,
            connection: Mutex::new(None),
            down: OnceLock::new(),
        })
    }

    fn send_to(&self, from: &Address, to: &Address, raw: &[u8]) -> Result<(), SendError> {
        if let Some(message) = self.down.get() {
            return Err(SendError::Unreachable(message.clone()));
        }
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(SmtpConnection::has_broken) {
            *slot = None;
        }
        let mut reused = slot.is_some();
        loop {
            let connection = match slot.as_mut() {
                Some(connection) => connection,
                None => match self.open() {
                    Ok(connection) => slot.insert(connection),
                    Err(message) => {
                        let _ = self.down.set(message.clone());
                        return Err(SendError::Unreachable(message));
                    }
                },
            };
            match self.transaction(connection, from, to, raw) {
                Ok(()) => return Ok(()),
                Err(Failure::Refused { permanent, message }) => {
                    // The transaction is reset; the connection serves the next notice.
                    if connection.command(Rset).is_err() {
                        *slot = None;
                    }
                    return Err(if permanent {
                        SendError::Permanent(message)
                    } else {
                        SendError::Transient(message)
                    });
                }
                Err(Failure::Broken {
                    message,
                    maybe_sent,
                }) => {
                    if let Some(mut connection) = slot.take() {
                        connection.abort();
                    }
                    // A connection kept from the notice before may have been closed by
                    // the server meanwhile: once, and only when nothing of this message
                    // can have been taken, try again on a new one.
                    if reused && !maybe_sent {
                        reused = false;
                        continue;
                    }
                    return Err(SendError::Transient(message));
                }
            }
        }
    }

    /// Connects (greeting and EHLO), starts TLS as the config says, and logs in. Any
    /// failure is a plain message (a transient one).
    fn open(&self) -> Result<SmtpConnection, String> {
        let what = &self.what;
        let implicit = match self.tls {
            Tls::Implicit => self.tls_parameters.as_ref(),
            Tls::Starttls | Tls::None => None,
        };
        // The secret first: no connection is opened that could not log in.
        let secret = match &self.login {
            Some(login) => secret(
                login.password_env.as_deref(),
                login.token_command.as_deref(),
                "[smtp]",
            )
            .map_err(|error| format!("{what}: {error:#}"))?,
            None => None,
        };
        let hello = hello_name(&self.host, self.port);
        let mut connection = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(TIMEOUT),
            &hello,
            implicit,
            None,
        )
        .map_err(|error| format!("{what}: cannot connect: {}", one_line(&error)))?;
        if self.tls == Tls::Starttls {
            let Some(parameters) = &self.tls_parameters else {
                return Err(format!("{what}: TLS is off"));
            };
            if !connection.can_starttls() {
                return Err(format!("{what}: the server offers no STARTTLS"));
            }
            connection
                .starttls(parameters, &hello)
                .map_err(|error| format!("{what}: STARTTLS failed: {}", one_line(&error)))?;
        }
        if let (Some(login), Some(secret)) = (&self.login, &secret) {
            self.authenticate(&mut connection, &login.user, secret)?;
        }
        Ok(connection)
    }

    fn authenticate(
        &self,
        connection: &mut SmtpConnection,
        user: &str,
        secret: &Secret,
    ) -> Result<(), String> {
        let what = &self.what;
        // The server's reply as it came ("535 5.7.8 …"): to us a refused login is not a
        // permanent failure of any notice, whatever lettre calls the reply class.
        let refused =
            |error: SmtpError| format!("{what}: login refused for {user}: {}", server_said(&error));
        match secret {
            Secret::Token(token) => {
                if !connection
                    .server_info()
                    .supports_auth_mechanism(Mechanism::Xoauth2)
                {
                    return Err(format!(
                        "{what}: the server offers no AUTH XOAUTH2 ({})",
                        connection.server_info()
                    ));
                }
                let credentials = Credentials::new(user.to_owned(), token.clone());
                let auth = Auth::new(Mechanism::Xoauth2, credentials, None).map_err(refused)?;
                // A refused token is answered with a 334 challenge holding the details;
                // an empty line ends the exchange with the final (negative) reply.
                let reply = connection.command(auth).map_err(refused)?;
                if reply.has_code(334) {
                    connection.command(EmptyLine).map_err(refused)?;
                    return Err(format!("{what}: login refused for {user}"));
                }
            }
            Secret::Password(password) => {
                let mechanisms = [Mechanism::Plain, Mechanism::Login];
                if connection
                    .server_info()
                    .get_auth_mechanism(&mechanisms)
                    .is_none()
                {
                    return Err(format!(
                        "{what}: the server offers neither AUTH PLAIN nor LOGIN ({})",
                        connection.server_info()
                    ));
                }
                let credentials = Credentials::new(user.to_owned(), password.clone());
                connection
                    .auth(&mechanisms, &credentials)
                    .map_err(refused)?;
            }
        }
        Ok(())
    }

    /// MAIL, RCPT, DATA, then the whole message and its final dot in one write.
    ///
    /// lettre's own `message` writes the message and the final dot separately, and its
    /// socket has Nagle's algorithm on: the dot would wait for the server's delayed ACK
    /// (some 40 ms a notice). Written at once, the dot goes with the message.
    fn transaction(
        &self,
        connection: &mut SmtpConnection,
        from: &Address,
        to: &Address,
        raw: &[u8],
    ) -> Result<(), Failure> {
        let what = &self.what;
        let supports = |connection: &SmtpConnection, extension| {
            connection.server_info().supports_feature(extension)
        };
        let mut parameters = Vec::new();
        if !raw.is_ascii() {
            if !supports(connection, Extension::EightBitMime) {
                return Err(Failure::Refused {
                    permanent: true,
                    message: format!(
                        "{what}: the message is 8-bit and the server takes no 8BITMIME"
                    ),
                });
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if !(AsRef::<str>::as_ref(from).is_ascii() && AsRef::<str>::as_ref(to).is_ascii()) {
            if !supports(connection, Extension::SmtpUtfEight) {
                return Err(Failure::Refused {
                    permanent: true,
                    message: format!(
                        "{what}: a non-ASCII address and the server takes no SMTPUTF8"
                    ),
                });
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        connection
            .command(Mail::new(Some(from.clone()), parameters))
            .map_err(|error| failure(what, "MAIL FROM refused", false, &error))?;
        connection
            .command(Rcpt::new(to.clone(), Vec::new()))
            .map_err(|error| failure(what, "RCPT TO refused", false, &error))?;
        connection
            .command(Data)
            .map_err(|error| failure(what, "DATA refused", false, &error))?;
        let data = data(raw);
        let sent = match std::str::from_utf8(&data) {
            Ok(text) => connection.command(Raw(text)),
            // Not UTF-8 (no notice is, they are built 7-bit): lettre's own writer.
            Err(_) => connection.message(raw),
        };
        sent.map_err(|error| failure(what, "the message was refused", true, &error))?;
        Ok(())
    }
}

impl Sender for SmtpClient {
    fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), SendError> {
        let (from, to) = addresses(from, to)?;
        self.send_to(&from, &to, raw)
    }

    fn down(&self) -> Option<&str> {
        self.down.get().map(String::as_str)
    }
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpClient({})", self.what)
    }
}

impl Drop for SmtpClient {
    fn drop(&mut self) {
        let slot = self
            .connection
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(mut connection) = slot.take() {
            let _ = connection.set_timeout(Some(Duration::from_secs(2)));
            let _ = connection.quit();
        }
    }
}

/// Who logs in, and where the secret comes from.
struct Login {
    user: String,
    password_env: Option<String>,
    token_command: Option<String>,
}

/// Why a message did not go.
enum Failure {
    /// The server refused this message; permanent on a 5xx reply.
    Refused { permanent: bool, message: String },
    /// The connection failed; `maybe_sent` once the message itself was on its way.
    Broken { message: String, maybe_sent: bool },
}

/// A failed step of a transaction: refused by the server (a 4xx or 5xx reply), or
/// the connection broke.
fn failure(what: &str, step: &str, maybe_sent: bool, error: &SmtpError) -> Failure {
    let message = format!("{what}: {step}: {}", one_line(error));
    if error.is_permanent() || error.is_transient() {
        Failure::Refused {
            permanent: error.is_permanent(),
            message,
        }
    } else {
        Failure::Broken {
            message,
            maybe_sent,
        }
    }
}

/// Text written as it is: the dot-stuffed message with its final dot.
struct Raw<'a>(&'a str);

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The empty line that ends a SASL exchange the server answered with a challenge.
struct EmptyLine;

impl std::fmt::Display for EmptyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\r\n")
    }
}

/// The EHLO name (RFC 5321 4.1.4): this host's name when it is a full one, otherwise
/// the address the server will see as a literal (`[192.0.2.1]`), which every server
/// takes; the address is found by routing, without sending anything.
fn hello_name(host: &str, port: u16) -> ClientId {
    if let ClientId::Domain(name) = ClientId::default()
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    {
        return ClientId::Domain(name);
    }
    let local = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .ok()
        .and_then(|mut servers| servers.next())
        .and_then(|server| {
            let any: std::net::IpAddr = if server.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            let socket = std::net::UdpSocket::bind((any, 0)).ok()?;
            socket.connect(server).ok()?;
            socket.local_addr().ok()
        });
    match local {
        Some(std::net::SocketAddr::V4(address)) => ClientId::Ipv4(*address.ip()),
        Some(std::net::SocketAddr::V6(address)) => ClientId::Ipv6(*address.ip()),
        None => ClientId::Domain("localhost".to_owned()),
    }
}

/// A negative reply as the server gave it (its code, then its text), or else the error.
fn server_said(error: &SmtpError) -> String {
    match (error.status(), std::error::Error::source(error)) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        _ => one_line(error),
    }
}

/// lettre's TLS parameters for `host`: the web PKI roots plus every certificate in
/// `ca_file`, as IMAP trusts.
fn tls_parameters(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        // Read and checked as IMAP reads it, so both name a bad file the same way.
        for der in super::tls::ca_certificates(path)? {
            let certificate = Certificate::from_der(der.to_vec())
                .with_context(|| format!("an unusable certificate in {}", path.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build_rustls()?)
}

/// The message as DATA carries it: CRLF line ends, a dot doubled at the start of a
/// line (RFC 5321 4.5.2), and the final `.` line.
fn data(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 8);
    let mut line_start = true;
    let mut previous = 0u8;
    for &byte in raw {
        if line_start && byte == b'.' {
            out.push(b'.');
        }
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        line_start = byte == b'\n';
        previous = byte;
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Writes one message as `<unique>.eml`: temporary file, sync, rename.
fn write_eml(dir: &std::path::Path, raw: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = chrono::Utc::now();
    let name = format!(
        "{}-{:09}-{}-{}",
        now.timestamp(),
        now.timestamp_subsec_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(raw)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, dir.join(format!("{name}.eml")))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;

    use super::*;
    use crate::config::Config;

    #[test]
    fn the_ehlo_name_is_a_full_host_name_or_the_address_the_server_sees() {
        let hello = hello_name("127.0.0.1", 25).to_string();
        let full_name = hello.contains('.') && !hello.starts_with('[');
        assert!(full_name || hello == "[127.0.0.1]", "{hello}");
        let hello = hello_name("::1", 25).to_string();
        assert!(
            full_name || hello == "[IPv6:::1]" || hello == "localhost",
            "{hello}"
        );
    }

    #[test]
    fn the_file_transport_makes_its_folder_0700_and_each_notice_0600_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("var/outbox");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let names = {
            // The common umask, under which a file made without a mode of its own is
            // readable by everyone on the machine.
            let _umask = crate::test_support::Umask::set(0o022);
            let sender = FileSender::new(&outbox).unwrap();
            sender
                .send(
                    "intake@portal.example.gov",
                    "a@clinic.example",
                    b"Subject: hi\r\n\r\nx\r\n",
                )
                .unwrap();
            let error = sender
                .send("intake@portal.example.gov", "not an address", b"x\r\n")
                .unwrap_err();
            assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
            std::fs::read_dir(&outbox)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect::<Vec<_>>()
        };
        assert_eq!(mode(&outbox), 0o700);
        assert_eq!(
            names.len(),
            1,
            "one notice, no temporary file left: {names:?}"
        );
        assert_eq!(
            names[0].extension().and_then(|ext| ext.to_str()),
            Some("eml")
        );
        assert_eq!(mode(&names[0]), 0o600);
        assert_eq!(
            std::fs::read(&names[0]).unwrap(),
            b"Subject: hi\r\n\r\nx\r\n"
        );
    }

    #[test]
    fn a_stub_records_every_message_and_answers_as_told() {
        let stub = StubSender::new_ok();
        stub.send("a@portal.example.gov", "b@clinic.example", b"one")
            .unwrap();
        assert_eq!(stub.down(), None);
        assert_eq!(
            stub.messages(),
            [StubMessage {
                from: "a@portal.example.gov".to_owned(),
                to: "b@clinic.example".to_owned(),
                raw: b"one".to_vec(),
            }]
        );

        let refused = SendError::Permanent("550 5.1.1 no such user".to_owned());
        let stub = StubSender::failing(refused.clone());
        assert_eq!(
            stub.send("a@x.example", "b@y.example", b"two"),
            Err(refused)
        );
        assert_eq!(stub.down(), None, "a refusal says nothing of the server");
        assert_eq!(stub.messages().len(), 1);

        let stub = StubSender::failing(SendError::Unreachable("connection refused".to_owned()));
        assert_eq!(stub.down(), None, "down only once a send found so");
        let error = stub
            .send("a@x.example", "b@y.example", b"three")
            .unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(stub.down(), Some("connection refused"));
    }

    #[test]
    fn data_is_dot_stuffed_with_crlf_and_ends_with_the_dot() {
        assert_eq!(data(b"a\r\n.b\r\n..c\r\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(data(b".first\nbare\n"), b"..first\r\nbare\r\n.\r\n");
        assert_eq!(data(b"no end"), b"no end\r\n.\r\n");
        assert_eq!(data(b""), b".\r\n");
    }

    /// A scripted SMTP server on 127.0.0.1: answers each command as `answer` says and
    /// returns everything it was sent, once the client has gone.
    fn server(answer: fn(&str) -> &'static str) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            writer.write_all(b"220 test ESMTP\r\n").unwrap();
            let mut seen = Vec::new();
            let mut in_data = false;
            let mut message = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        seen.push(format!("MESSAGE {message}"));
                        message.clear();
                        writer.write_all(b"250 2.0.0 queued\r\n").unwrap();
                    } else {
                        message.push_str(&line);
                    }
                } else {
                    let command = line.trim_end().to_owned();
                    let reply = answer(&command);
                    in_data = reply.starts_with("354");
                    seen.push(command);
                    writer.write_all(reply.as_bytes()).unwrap();
                    if line.starts_with("QUIT") {
                        break;
                    }
                }
                line.clear();
            }
            seen
        });
        (port, handle)
    }

    fn transport(port: u16) -> Box<dyn Sender> {
        let text = format!(
            "[smtp]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             user = \"portal\"\noauth2_token_command = \"printf tok\"\n"
        );
        let Ok(sender) = from_config(&Config::parse(&text).unwrap().smtp) else {
            panic!("the SMTP client is built");
        };
        sender
    }

    #[test]
    fn a_message_goes_out_in_one_transaction_and_refusals_are_told_apart() {
        let (port, handle) = server(|command| match command {
            c if c.starts_with("EHLO") => "250-test\r\n250-8BITMIME\r\n250 AUTH PLAIN XOAUTH2\r\n",
            c if c.starts_with("AUTH XOAUTH2 ") => "235 2.7.0 ok\r\n",
            c if c.starts_with("RCPT TO:<gone@") => "550 5.1.1 no such user\r\n",
            c if c.starts_with("RCPT TO:<busy@") => "451 4.3.0 try later\r\n",
            "DATA" => "354 go on\r\n",
            "QUIT" => "221 bye\r\n",
            _ => "250 ok\r\n",
        });
        let transport = transport(port);
        let raw = b"Subject: hi\r\n\r\n.hidden dot\r\nend\r\n";
        transport
            .send("intake@portal.example.gov", "a@clinic.example", raw)
            .unwrap();
        let error = transport
            .send("intake@portal.example.gov", "gone@clinic.example", raw)
            .unwrap_err();
        assert!(
            matches!(&error, SendError::Permanent(message) if message.contains("550")),
            "{error:?}"
        );
        let error = transport
            .send("intake@portal.example.gov", "busy@clinic.example", raw)
            .unwrap_err();
        assert!(
            matches!(&error, SendError::Transient(message) if message.contains("451")),
            "{error:?}"
        );
        let error = transport
            .send("intake@portal.example.gov", "not an address", raw)
            .unwrap_err();
        assert!(
            matches!(&error, SendError::Permanent(_)) && !error.is_transient(),
            "{error:?}"
        );
        drop(transport);
        let seen = handle.join().unwrap();
        // `user=portal^Aauth=Bearer tok^A^A`, base64 (RFC 4648) by coreutils.
        let token = "dXNlcj1wb3J0YWwBYXV0aD1CZWFyZXIgdG9rAQE=";
        assert!(seen[0].starts_with("EHLO "), "{seen:?}");
        assert_eq!(
            seen[1],
            format!("AUTH XOAUTH2 {token}"),
            "one login for the run"
        );
        assert_eq!(
            &seen[2..6],
            [
                "MAIL FROM:<intake@portal.example.gov>",
                "RCPT TO:<a@clinic.example>",
                "DATA",
                "MESSAGE Subject: hi\r\n\r\n..hidden dot\r\nend\r\n",
            ]
        );
        assert_eq!(
            &seen[7..9],
            ["RCPT TO:<gone@clinic.example>", "RSET"],
            "{seen:?}"
        );
        assert_eq!(
            &seen[10..12],
            ["RCPT TO:<busy@clinic.example>", "RSET"],
            "{seen:?}"
        );
        assert_eq!(seen.last().map(String::as_str), Some("QUIT"));
        assert_eq!(
            seen.iter()
                .filter(|command| command.starts_with("EHLO"))
                .count(),
            1,
            "one connection"
        );
    }

    #[test]
    fn a_failing_token_command_makes_notices_wait_without_a_connection() {
        let text = "[smtp]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n\
                    user = \"portal\"\noauth2_token_command = \"exit 3\"\n";
        let Ok(transport) = from_config(&Config::parse(text).unwrap().smtp) else {
            panic!("the token command runs at login, not at setup");
        };
        let error = transport
            .send("a@portal.example.gov", "b@clinic.example", b"x\r\n")
            .unwrap_err();
        assert!(
            matches!(&error, SendError::Unreachable(_)) && error.is_transient(),
            "{error:?}"
        );
        assert!(
            error.message().contains("the token command failed")
                && !error.message().contains("cannot connect"),
            "{error:?}"
        );
    }

    #[test]
    fn no_server_and_a_refused_login_are_transient() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = transport(port)
            .send("a@portal.example.gov", "b@clinic.example", b"x\r\n")
            .unwrap_err();
        assert!(
            matches!(&error, SendError::Unreachable(message) if message.contains("cannot connect")),
            "{error:?}"
        );

        let (port, handle) = server(|command| match command {
            c if c.starts_with("EHLO") => "250-test\r\n250 AUTH XOAUTH2\r\n",
            c if c.starts_with("AUTH") => "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n",
            "" => "535 5.7.8 bad token\r\n",
            "QUIT" => "221 bye\r\n",
            _ => "250 ok\r\n",
        });
        let transport = transport(port);
        let error = transport
            .send("a@portal.example.gov", "b@clinic.example", b"x\r\n")
            .unwrap_err();
        assert!(
            matches!(&error, SendError::Unreachable(_))
                && error.message().contains("login refused")
                && error.message().contains(": 535 5.7.8 bad token")
                && !error.message().contains("permanent"),
            "{error:?}"
        );
        // The run does not try that server again: the next notice fails at once.
        assert_eq!(transport.down(), Some(error.message()));
        let again = transport
            .send("a@portal.example.gov", "c@clinic.example", b"x\r\n")
            .unwrap_err();
        assert_eq!(again, error);
        drop(transport);
        let seen = handle.join().unwrap();
        assert_eq!(
            seen.iter()
                .filter(|command| command.starts_with("EHLO"))
                .count(),
            1,
            "one connection: {seen:?}"
        );
    }
}
