//! TLS for IMAP and SMTP: the web PKI roots plus an optional private CA (`ca_file`),
//! and the secrets a connection needs, read from the environment or a command named
//! in the config — never from the file itself.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The trusted roots: the web PKI, plus every certificate in `ca_file`.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let mut added = 0;
        for certificate in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read the CA file {}", path.display()))?
        {
            let certificate = certificate
                .with_context(|| format!("a damaged certificate in {}", path.display()))?;
            roots
                .add(certificate)
                .with_context(|| format!("an unusable certificate in {}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            bail!("{} holds no PEM certificate", path.display());
        }
    }
    Ok(roots)
}

/// A rustls client configuration trusting [`roots`].
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How a mailbox or SMTP server authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Password(String),
    /// An OAuth2 bearer token for XOAUTH2.
    Token(String),
}

/// The secret named by `password_env` or `oauth2_token_command`.
pub fn secret(
    password_env: Option<&str>,
    token_command: Option<&str>,
    what: &str,
) -> Result<Option<Secret>> {
    if let Some(variable) = password_env {
        let password = std::env::var(variable)
            .with_context(|| format!("{what}: the password variable {variable} is not set"))?;
        return Ok(Some(Secret::Password(password)));
    }
    if let Some(command) = token_command {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("{what}: cannot run the token command"))?;
        if !output.status.success() {
            bail!("{what}: the token command failed ({})", output.status);
        }
        let token = String::from_utf8(output.stdout)
            .context("the token is not text")?
            .trim()
            .to_owned();
        if token.is_empty() {
            bail!("{what}: the token command printed nothing");
        }
        return Ok(Some(Secret::Token(token)));
    }
    Ok(None)
}

/// The XOAUTH2 initial response (RFC 7628 style, as Google and Microsoft use it).
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}
