//! How notices leave: lettre's file transport (`.eml` files, the embedded default) or
//! SMTP. A failure is transient (retried on the next pass) or permanent (recorded, not
//! retried), as lettre reports it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use lettre::address::Envelope;
use lettre::{Address, FileTransport, SmtpTransport, Transport as _};

use crate::config::{Smtp, Tls, TransportKind};

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub transient: bool,
    pub message: String,
}

/// The configured transport.
pub enum Transport {
    File {
        transport: FileTransport,
        dir: PathBuf,
    },
    Smtp(Box<SmtpTransport>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File { dir, .. } => write!(f, "Transport::File({})", dir.display()),
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
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
                    transport: FileTransport::new(&smtp.path),
                    dir: smtp.path.clone(),
                })
            }
            TransportKind::Smtp => {
                let host = smtp.host.as_deref().unwrap_or("localhost");
                let builder = match smtp.tls {
                    Tls::None => SmtpTransport::builder_dangerous(host),
                    Tls::Starttls => {
                        SmtpTransport::starttls_relay(host).context("cannot set up STARTTLS")?
                    }
                    Tls::Implicit => SmtpTransport::relay(host).context("cannot set up TLS")?,
                };
                let builder = match smtp.port {
                    Some(port) => builder.port(port),
                    None => builder,
                };
                let builder = match (&smtp.user, &smtp.password_env) {
                    (Some(user), Some(variable)) => {
                        let password = std::env::var(variable).with_context(|| {
                            format!("the SMTP password variable {variable} is not set")
                        })?;
                        builder.credentials(
                            lettre::transport::smtp::authentication::Credentials::new(
                                user.clone(),
                                password,
                            ),
                        )
                    }
                    _ => builder,
                };
                Ok(Transport::Smtp(Box::new(builder.build())))
            }
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
            Transport::File { transport, .. } => transport
                .send_raw(&envelope, raw)
                .map(|_| ())
                .map_err(|error| SendError {
                    transient: true,
                    message: error.to_string(),
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
