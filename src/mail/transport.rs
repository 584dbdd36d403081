//! How notices leave: `.eml` files in a folder (the embedded default) or SMTP.
//!
//! A failure is transient (retried on the next pass) or permanent (recorded, not
//! retried). It is permanent only when the server refuses the message itself with a
//! 5xx reply to MAIL, RCPT or DATA. A failure to connect, to set up TLS or to log in
//! is transient: it says nothing about the notice, and the notices wait in the outbox
//! until the server or the config is fixed.
//!
//! The SMTP client is this module's own, small and synchronous: one connection for the
//! run (opened again after a failure) with TCP_NODELAY; EHLO; implicit TLS or
//! STARTTLS (required) through rustls, trusting the web PKI plus `ca_file` exactly as
//! IMAP does, or plain text only when `tls = "none"`; AUTH PLAIN or LOGIN with a
//! password, XOAUTH2 with a token; and each message sent after DATA in one write,
//! dot-stuffed, with its final dot. (lettre's client, used before, wrote the message
//! and its final dot separately on a socket without TCP_NODELAY: Nagle's algorithm held
//! the dot back until the server's delayed ACK, some 40 ms for every notice.)

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::Address;

use super::imap::Stream;
use super::tls::{Secret, client_config, secret, xoauth2};
use crate::config::{Smtp, Tls, TransportKind};

/// How long an SMTP server may stay silent before a send gives up.
const TIMEOUT: Duration = Duration::from_secs(60);
/// A reply longer than this is no SMTP server's.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub transient: bool,
    pub message: String,
}

/// The configured transport.
pub enum Transport {
    /// `.eml` files in a folder, each written whole under a temporary name and then
    /// renamed, so a crash never leaves half a notice.
    File {
        dir: PathBuf,
    },
    Smtp(Box<SmtpClient>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File { dir } => write!(f, "Transport::File({})", dir.display()),
            Transport::Smtp(client) => write!(f, "Transport::Smtp({})", client.what),
        }
    }
}

impl Transport {
    /// Builds the transport `[smtp]` describes.
    pub fn from_config(smtp: &Smtp) -> Result<Transport> {
        match smtp.kind {
            TransportKind::File => {
                std::fs::create_dir_all(&smtp.path)
                    .with_context(|| format!("cannot create {}", smtp.path.display()))?;
                Ok(Transport::File {
                    dir: smtp.path.clone(),
                })
            }
            TransportKind::Smtp => Ok(Transport::Smtp(Box::new(SmtpClient::from_config(smtp)?))),
        }
    }

    /// Sends one complete message.
    pub fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), SendError> {
        let permanent = |message: String| SendError {
            transient: false,
            message,
        };
        let from: Address = from
            .parse()
            .map_err(|error| permanent(format!("bad sender address: {error}")))?;
        let to: Address = to
            .parse()
            .map_err(|error| permanent(format!("bad recipient address: {error}")))?;
        match self {
            Transport::File { dir } => write_eml(dir, raw).map_err(|error| SendError {
                transient: true,
                message: format!("cannot write into {}: {error}", dir.display()),
            }),
            Transport::Smtp(client) => client.send(from.as_ref(), to.as_ref(), raw),
        }
    }
}

/// An SMTP server from `[smtp]`, and the connection to it while the run lasts.
pub struct SmtpClient {
    host: String,
    port: u16,
    tls: Tls,
    /// The TLS client configuration; `None` with `tls = "none"`.
    tls_config: Option<Arc<rustls::ClientConfig>>,
    /// The login and its secret, when the config names one.
    login: Option<(String, Secret)>,
    /// `SMTP host:port`, for messages.
    what: String,
    connection: Mutex<Option<Connection>>,
}

impl SmtpClient {
    fn from_config(smtp: &Smtp) -> Result<SmtpClient> {
        let host = smtp.host.clone().context("[smtp] host is needed")?;
        let port = smtp.port.unwrap_or(match smtp.tls {
            Tls::Implicit => 465,
            Tls::Starttls => 587,
            Tls::None => 25,
        });
        let tls_config = match smtp.tls {
            Tls::None => None,
            Tls::Implicit | Tls::Starttls => {
                Some(client_config(smtp.ca_file.as_deref()).context("[smtp]: cannot set up TLS")?)
            }
        };
        let secret = secret(
            smtp.password_env.as_deref(),
            smtp.oauth2_token_command.as_deref(),
            "[smtp]",
        )?;
        let login = match (secret, &smtp.user) {
            (Some(secret), Some(user)) => Some((user.clone(), secret)),
            (Some(_), None) => anyhow::bail!("[smtp] a password or token needs a user"),
            (None, _) => None,
        };
        Ok(SmtpClient {
            what: format!("SMTP {host}:{port}"),
            host,
            port,
            tls: smtp.tls,
            tls_config,
            login,
            connection: Mutex::new(None),
        })
    }

    fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), SendError> {
        let transient = |message: String| SendError {
            transient: true,
            message,
        };
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut reused = slot.is_some();
        loop {
            let connection = match slot.as_mut() {
                Some(connection) => connection,
                None => slot.insert(Connection::open(self).map_err(transient)?),
            };
            match connection.send_message(from, to, raw) {
                Ok(()) => return Ok(()),
                Err(Failure::Refused { permanent, message }) => {
                    // The transaction is reset; the connection serves the next notice.
                    if !connection.command("RSET").is_ok_and(|reply| reply.is(2)) {
                        *slot = None;
                    }
                    return Err(SendError {
                        transient: !permanent,
                        message,
                    });
                }
                Err(Failure::Broken {
                    message,
                    maybe_sent,
                }) => {
                    *slot = None;
                    // A connection kept from the notice before may have been closed by
                    // the server meanwhile: once, and only when nothing of this message
                    // can have been taken, try again on a new one.
                    if reused && !maybe_sent {
                        reused = false;
                        continue;
                    }
                    return Err(transient(message));
                }
            }
        }
    }
}

impl Drop for SmtpClient {
    fn drop(&mut self) {
        let slot = self
            .connection
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(mut connection) = slot.take() {
            let tcp = match &connection.stream {
                Stream::Plain(tcp) => tcp,
                Stream::Tls(stream) => &stream.sock,
            };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = connection.command("QUIT");
        }
    }
}

/// One SMTP reply: its code and its lines' texts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// True for a reply of the class `class` (2 for 2xx, …).
    fn is(&self, class: u16) -> bool {
        self.code / 100 == class
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// Why a message did not go.
enum Failure {
    /// The server refused this message; permanent on a 5xx reply.
    Refused { permanent: bool, message: String },
    /// The connection failed; `maybe_sent` once the message itself was on its way.
    Broken { message: String, maybe_sent: bool },
}

/// A connection, greeted, secured and logged in.
struct Connection {
    stream: Stream,
    /// Bytes read and not yet consumed.
    buffer: Vec<u8>,
    /// The EHLO keywords and parameters, upper-cased.
    extensions: Vec<String>,
    what: String,
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, starts TLS when the config says so, and
    /// logs in. Any failure is a plain message (a transient one).
    fn open(client: &SmtpClient) -> Result<Connection, String> {
        let what = client.what.clone();
        let tcp = TcpStream::connect((client.host.as_str(), client.port))
            .map_err(|error| format!("{what}: cannot connect: {error}"))?;
        let settings = tcp
            .set_nodelay(true)
            .and_then(|()| tcp.set_read_timeout(Some(TIMEOUT)))
            .and_then(|()| tcp.set_write_timeout(Some(TIMEOUT)));
        settings.map_err(|error| format!("{what}: {error}"))?;
        let hello = hello_name(tcp.local_addr().ok());
        let stream = match client.tls {
            Tls::Implicit => start_tls(client, tcp)?,
            Tls::Starttls | Tls::None => Stream::Plain(tcp),
        };
        let mut connection = Connection {
            stream,
            buffer: Vec::new(),
            extensions: Vec::new(),
            what,
        };
        let greeting = connection.read_reply()?;
        if !greeting.is(2) {
            return Err(format!(
                "{}: the server turned us away: {greeting}",
                connection.what
            ));
        }
        connection.ehlo(&hello)?;
        if client.tls == Tls::Starttls {
            if !connection.offers("STARTTLS") {
                return Err(format!(
                    "{}: the server offers no STARTTLS",
                    connection.what
                ));
            }
            let reply = connection.command("STARTTLS")?;
            if !reply.is(2) {
                return Err(format!("{}: STARTTLS refused: {reply}", connection.what));
            }
            let Connection {
                stream: Stream::Plain(tcp),
                buffer,
                what,
                ..
            } = connection
            else {
                unreachable!("STARTTLS starts on a plain connection");
            };
            if !buffer.is_empty() {
                return Err(format!(
                    "{what}: the server sent data before the TLS handshake"
                ));
            }
            connection = Connection {
                stream: start_tls(client, tcp)?,
                buffer,
                extensions: Vec::new(),
                what,
            };
            // The extensions may differ once the connection is secure (AUTH often does).
            connection.ehlo(&hello)?;
        }
        if let Some((user, secret)) = &client.login {
            connection.authenticate(user, secret)?;
        }
        Ok(connection)
    }

    fn ehlo(&mut self, hello: &str) -> Result<(), String> {
        let reply = self.command(&format!("EHLO {hello}"))?;
        if !reply.is(2) {
            return Err(format!("{}: EHLO refused: {reply}", self.what));
        }
        self.extensions = reply
            .lines
            .iter()
            .skip(1)
            .map(|line| line.to_ascii_uppercase())
            .collect();
        Ok(())
    }

    /// True when EHLO listed `keyword`.
    fn offers(&self, keyword: &str) -> bool {
        self.extensions
            .iter()
            .any(|line| line.split([' ', '=']).next() == Some(keyword))
    }

    /// The SASL mechanisms EHLO listed (`AUTH PLAIN LOGIN`, or the old `AUTH=…`).
    fn mechanisms(&self) -> Vec<&str> {
        self.extensions
            .iter()
            .filter_map(|line| {
                line.strip_prefix("AUTH")
                    .filter(|rest| rest.starts_with([' ', '=']))
            })
            .flat_map(|rest| rest[1..].split_whitespace())
            .collect()
    }

    fn authenticate(&mut self, user: &str, secret: &Secret) -> Result<(), String> {
        let mechanisms = self.mechanisms();
        let offered = mechanisms.join(" ");
        let offers = |mechanism: &str| mechanisms.contains(&mechanism);
        let reply = match secret {
            Secret::Token(token) if offers("XOAUTH2") => {
                let reply = self.command(&format!(
                    "AUTH XOAUTH2 {}",
                    base64(xoauth2(user, token).as_bytes())
                ))?;
                // A refused token is answered with a 334 challenge holding the details;
                // an empty line ends the exchange with the final reply.
                if reply.code == 334 {
                    self.command("")?
                } else {
                    reply
                }
            }
            Secret::Token(_) => {
                return Err(format!(
                    "{}: the server offers no AUTH XOAUTH2 (it offers: {offered})",
                    self.what
                ));
            }
            Secret::Password(password) if offers("PLAIN") => {
                let credentials = format!("\0{user}\0{password}");
                self.command(&format!("AUTH PLAIN {}", base64(credentials.as_bytes())))?
            }
            Secret::Password(password) if offers("LOGIN") => {
                let mut reply = self.command("AUTH LOGIN")?;
                for answer in [user, password.as_str()] {
                    if reply.code != 334 {
                        break;
                    }
                    reply = self.command(&base64(answer.as_bytes()))?;
                }
                reply
            }
            Secret::Password(_) => {
                return Err(format!(
                    "{}: the server offers neither AUTH PLAIN nor LOGIN (it offers: {offered})",
                    self.what
                ));
            }
        };
        if reply.code != 235 {
            return Err(format!("{}: login refused for {user}: {reply}", self.what));
        }
        Ok(())
    }

    /// MAIL, RCPT, DATA, then the whole message and its final dot in one write.
    fn send_message(&mut self, from: &str, to: &str, raw: &[u8]) -> Result<(), Failure> {
        let mut parameters = String::new();
        if !raw.is_ascii() {
            if !self.offers("8BITMIME") {
                return Err(Failure::Refused {
                    permanent: true,
                    message: format!(
                        "{}: the message is 8-bit and the server takes no 8BITMIME",
                        self.what
                    ),
                });
            }
            parameters.push_str(" BODY=8BITMIME");
        }
        if !(from.is_ascii() && to.is_ascii()) {
            if !self.offers("SMTPUTF8") {
                return Err(Failure::Refused {
                    permanent: true,
                    message: format!(
                        "{}: a non-ASCII address and the server takes no SMTPUTF8",
                        self.what
                    ),
                });
            }
            parameters.push_str(" SMTPUTF8");
        }
        for (command, class, step) in [
            (format!("MAIL FROM:<{from}>{parameters}"), 2, "MAIL FROM"),
            (format!("RCPT TO:<{to}>"), 2, "RCPT TO"),
            ("DATA".to_owned(), 3, "DATA"),
        ] {
            let reply = self.command(&command).map_err(|message| Failure::Broken {
                message,
                maybe_sent: false,
            })?;
            if !reply.is(class) {
                return Err(Failure::Refused {
                    permanent: reply.is(5),
                    message: format!("{}: {step} refused: {reply}", self.what),
                });
            }
        }
        let broken = |message: String| Failure::Broken {
            message,
            maybe_sent: true,
        };
        self.write(&data(raw)).map_err(broken)?;
        let reply = self.read_reply().map_err(broken)?;
        if !reply.is(2) {
            return Err(Failure::Refused {
                permanent: reply.is(5),
                message: format!("{}: the message was refused: {reply}", self.what),
            });
        }
        Ok(())
    }

    fn command(&mut self, line: &str) -> Result<Reply, String> {
        self.write(format!("{line}\r\n").as_bytes())?;
        self.read_reply()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|error| format!("{}: cannot write: {error}", self.what))
    }

    /// One line, without its line end.
    fn read_line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            if self.buffer.len() > MAX_REPLY_BYTES {
                return Err(format!("{}: an overlong reply", self.what));
            }
            let mut chunk = [0u8; 4096];
            let read = self
                .stream
                .read(&mut chunk)
                .map_err(|error| format!("{}: cannot read: {error}", self.what))?;
            if read == 0 {
                return Err(format!("{}: the server closed the connection", self.what));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// One reply, all its lines (`250-…` continues, `250 …` ends).
    fn read_reply(&mut self) -> Result<Reply, String> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let code = line
                .get(..3)
                .filter(|code| code.bytes().all(|byte| byte.is_ascii_digit()))
                .and_then(|code| code.parse::<u16>().ok())
                .ok_or_else(|| {
                    format!(
                        "{}: not an SMTP reply: {:?}",
                        self.what,
                        line.chars().take(80).collect::<String>()
                    )
                })?;
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
            if lines.len() > 1000 {
                return Err(format!("{}: an endless reply", self.what));
            }
        }
    }
}

/// TLS on a connected socket, the handshake done at once so that a refused
/// certificate is named here.
fn start_tls(client: &SmtpClient, mut tcp: TcpStream) -> Result<Stream, String> {
    let what = &client.what;
    let config = client
        .tls_config
        .clone()
        .ok_or_else(|| format!("{what}: TLS is off"))?;
    let server = rustls_pki_types::ServerName::try_from(client.host.clone())
        .map_err(|error| format!("{what}: {} is not a host name: {error}", client.host))?;
    let mut connection = rustls::ClientConnection::new(config, server)
        .map_err(|error| format!("{what}: cannot start TLS: {error}"))?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut tcp)
            .map_err(|error| format!("{what}: the TLS handshake failed: {error}"))?;
    }
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(
        connection, tcp,
    ))))
}

/// The EHLO name: the host name when it is a full one (it has a dot), otherwise our
/// address as a literal (`[192.0.2.1]`), which every server accepts.
fn hello_name(local: Option<SocketAddr>) -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    let name: String = buffer
        .iter()
        .take_while(|byte| **byte != 0)
        .map(|byte| *byte as char)
        .collect();
    let valid = status == 0
        && name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    match local {
        _ if valid => name,
        Some(SocketAddr::V4(address)) => format!("[{}]", address.ip()),
        Some(SocketAddr::V6(address)) => format!("[IPv6:{}]", address.ip()),
        None => "localhost".to_owned(),
    }
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

/// Standard base64 with padding, for SASL.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (index, byte)| {
            n | (u32::from(*byte) << (16 - 8 * index))
        });
        for index in 0..4 {
            text.push(if index <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * index)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    text
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
    let mut file = std::fs::File::create(&temporary)?;
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
    fn data_is_dot_stuffed_with_crlf_and_ends_with_the_dot() {
        assert_eq!(data(b"a\r\n.b\r\n..c\r\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(data(b".first\nbare\n"), b"..first\r\nbare\r\n.\r\n");
        assert_eq!(data(b"no end"), b"no end\r\n.\r\n");
        assert_eq!(data(b""), b".\r\n");
    }

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
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

    fn transport(port: u16) -> Transport {
        let text = format!(
            "[smtp]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             user = \"portal\"\noauth2_token_command = \"printf tok\"\n"
        );
        Transport::from_config(&Config::parse(&text).unwrap().smtp).unwrap()
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
            !error.transient && error.message.contains("550"),
            "{error:?}"
        );
        let error = transport
            .send("intake@portal.example.gov", "busy@clinic.example", raw)
            .unwrap_err();
        assert!(
            error.transient && error.message.contains("451"),
            "{error:?}"
        );
        let error = transport
            .send("intake@portal.example.gov", "not an address", raw)
            .unwrap_err();
        assert!(!error.transient, "{error:?}");
        drop(transport);
        let seen = handle.join().unwrap();
        let token = base64(b"user=portal\x01auth=Bearer tok\x01\x01");
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
            error.transient && error.message.contains("cannot connect"),
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
            error.transient
                && error.message.contains("login refused")
                && error.message.contains("535"),
            "{error:?}"
        );
        drop(transport);
        drop(handle);
    }
}
