//! How notices leave: lettre's file transport (`.eml` files, the embedded default) or
//! SMTP. A failure is transient (retried on the next pass) or permanent (recorded, not
//! retried), as lettre reports it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use lettre::address::Envelope;
use lettre::{Address, SmtpTransport, Transport as _};

use crate::config::{Smtp, Tls, TransportKind};

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
    File { dir: PathBuf },
    Smtp(Box<SmtpTransport>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File { dir } => write!(f, "Transport::File({})", dir.display()),
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
        }
    }
}

/// An SMTP transport from `[smtp]`: implicit TLS, STARTTLS (required) or plain text
/// only when `tls = "none"`; an optional private CA; password or XOAUTH2; a pooled
/// connection reused for the whole run.
fn smtp_transport(smtp: &Smtp) -> Result<SmtpTransport> {
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{Certificate, Tls as SmtpTls, TlsParameters};

    let host = smtp.host.as_deref().context("[smtp] host is needed")?;
    let parameters = || -> Result<TlsParameters> {
        let mut builder = TlsParameters::builder(host.to_owned());
        if let Some(ca_file) = &smtp.ca_file {
            let pem = std::fs::read(ca_file)
                .with_context(|| format!("cannot read the CA file {}", ca_file.display()))?;
            let certificate = Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca_file.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
        builder.build_rustls().context("cannot set up TLS for SMTP")
    };
    let (tls, default_port) = match smtp.tls {
        Tls::Implicit => (SmtpTls::Wrapper(parameters()?), 465),
        Tls::Starttls => (SmtpTls::Required(parameters()?), 587),
        Tls::None => (SmtpTls::None, 25),
    };
    let mut builder = SmtpTransport::builder_dangerous(host)
        .port(smtp.port.unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(std::time::Duration::from_secs(60)));
    let secret = crate::mail::tls::secret(
        smtp.password_env.as_deref(),
        smtp.oauth2_token_command.as_deref(),
        "[smtp]",
    )?;
    match (secret, &smtp.user) {
        (Some(crate::mail::tls::Secret::Password(password)), Some(user)) => {
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        (Some(crate::mail::tls::Secret::Token(token)), Some(user)) => {
            builder = builder
                .credentials(Credentials::new(user.clone(), token))
                .authentication(vec![Mechanism::Xoauth2]);
        }
        (Some(_), None) => anyhow::bail!("[smtp] a password or token needs a user"),
        (None, _) => {}
    }
    Ok(builder.build())
}

impl Transport {
    /// Builds the transport `[smtp]` describes.
    pub fn from_config(smtp: &Smtp) -> Result<Transport> {
        match smtp.kind {
            TransportKind::File => {
                std::fs::create_dir_all(&smtp.path)
                    .with_context(|| format!("cannot create {}", smtp.path.display()))?;
                Ok(Transport::File { dir: smtp.path.clone() })
            }
            TransportKind::Smtp => Ok(Transport::Smtp(Box::new(smtp_transport(smtp)?))),
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
        let envelope =
            Envelope::new(Some(from), vec![to]).map_err(|error| permanent(error.to_string()))?;
        match self {
            Transport::File { dir } => write_eml(dir, raw).map_err(|error| SendError {
                transient: true,
                message: format!("cannot write into {}: {error}", dir.display()),
            }),
            Transport::Smtp(transport) => {
                transport
                    .send_raw(&envelope, raw)
                    .map(|_| ())
                    .map_err(|error| SendError {
                        transient: !error.is_permanent(),
                        message: error.to_string(),
                    })
            }
        }
    }
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
