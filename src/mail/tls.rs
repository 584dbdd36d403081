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
        for certificate in ca_certificates(path)? {
            roots
                .add(certificate)
                .with_context(|| format!("an unusable certificate in {}", path.display()))?;
        }
    }
    Ok(roots)
}

/// Every certificate in a PEM file of private CAs; at least one.
pub fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read the CA file {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("a damaged certificate in {}", path.display()))?;
    if certificates.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certificates)
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
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Password(String),
    /// An OAuth2 bearer token for XOAUTH2.
    Token(String),
}

/// Says which kind of secret it is, never the secret: a `{:?}` in a log line or an
/// error must not carry a password or a token into the logs.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Secret::Password(<redacted>)"),
            Secret::Token(_) => f.write_str("Secret::Token(<redacted>)"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_a_certificate_or_missing_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let error = format!("{:#}", roots(Some(&empty)).unwrap_err());
        assert!(error.contains("holds no PEM certificate"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = format!("{:#}", roots(Some(&missing)).unwrap_err());
        assert!(error.contains("cannot read the CA file"), "{error}");
        // SMTP reads the file the same way and says the same.
        let text = format!(
            "[smtp]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\ntls = \"starttls\"\nca_file = {empty:?}\n"
        );
        let config = crate::config::Config::parse(&text).unwrap();
        let Err(error) = crate::mail::transport::from_config(&config.smtp) else {
            panic!("a CA file without a certificate was taken");
        };
        let error = format!("{error:#}");
        assert!(error.contains("holds no PEM certificate"), "{error}");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let password = Secret::Password("hunter2-s3cret".to_owned());
        let token = Secret::Token("ya29.bearer-token".to_owned());
        let shown = format!("{password:?} {token:?} {:?}", Some(&password));
        assert!(
            !shown.contains("hunter2") && !shown.contains("ya29"),
            "{shown}"
        );
        assert_eq!(format!("{password:?}"), "Secret::Password(<redacted>)");
        assert_eq!(format!("{token:?}"), "Secret::Token(<redacted>)");
    }
}
