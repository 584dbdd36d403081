//! Sender authentication on the test mail stack: the verifier in front of the intake
//! mailbox, and the signer of the sending domains.
//!
//! - **The verifier** is OpenDKIM (Debian's `opendkim`), a milter of the Postfix
//!   listener on [`MailStack::mx_port`] — the stack's inbound MX; the submission ports
//!   the portal sends its notices through have no milter. It runs in verify mode as the
//!   unprivileged [`MAIL_USER`], on a loopback port chosen when the stack starts, and is
//!   started by the first test that needs it ([`MailStack::start_verifier`]; the keys
//!   are made then), so the other e2e tests neither wait for it nor see its headers.
//!   Postfix has `milter_default_action = tempfail` on that listener: while OpenDKIM is
//!   down, mail is refused with a 4xx, never let in unverified. OpenDKIM writes
//!   `Authentication-Results: mx.portal.test; dkim=…` ([`AUTHSERV_ID`], also Postfix's
//!   host name) on every message (`AlwaysAddARHeader`, so an unsigned one says
//!   `dkim=none`). A forged copy of that header never reaches the mailbox: the MX
//!   listener's own cleanup drops every incoming `Authentication-Results` in the
//!   verifier's name, in any spelling, whatever result it claims (`header_checks`,
//!   [`mx_header_checks_text`]), before OpenDKIM sees the message; OpenDKIM is set to
//!   remove its exact spelling too (`RemoveARFrom` with `RemoveARAll`), as a verifier in
//!   production should be.
//! - **No DNS.** The public keys come from OpenDKIM's `TestPublicKeys` file (each
//!   `selector._domainkey.domain` → its TXT record) instead of DNS, and its resolver is
//!   pointed at 127.0.0.1 (`Nameservers`), where nothing answers, so any other lookup
//!   fails at once without leaving the machine. The system's `/etc/resolv.conf` is never
//!   touched. DKIM alone meets the portal's rule (a `dkim=pass` aligned with the From
//!   domain), so there is no DMARC verifier.
//! - **The signer** is dkimpy (`tests/fixtures/dkim_sign.py`, `pip install dkimpy`;
//!   .ci/run installs it), as a sending domain's own server would sign: an RSA 2048 key
//!   per domain made with openssl when the verifier starts (clinic.test, mco.test, and
//!   [`FORGER_DOMAIN`], a domain that signs its own mail but is no party of the portal),
//!   selector [`DKIM_SELECTOR`], `d=` the domain, relaxed/relaxed, the header fields
//!   From, To, Subject, Date and Message-ID signed. swaks composes the message
//!   ([`MailStack::compose`]), the signer signs those bytes, and swaks sends the signed
//!   bytes unchanged to the MX listener ([`MailStack::send_inbound`]), where OpenDKIM
//!   verifies them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use super::{
    Account, CLINIC_DOMAIN, Letter, MAIL_USER, MCO_DOMAIN, MailStack, Owner, Server, lock,
    make_dir, run, tail, usual_umask, write_file,
};

/// The authserv-id of the stack's verifier: the host name of its Postfix.
pub const AUTHSERV_ID: &str = "mx.portal.test";
/// The DKIM selector of every signing domain's key.
pub const DKIM_SELECTOR: &str = "test";
/// A domain that signs its own mail with a key of its own: no provider's, no MCO's.
pub const FORGER_DOMAIN: &str = "forger.test";
/// The domains that have a signing key.
const SIGNING_DOMAINS: [&str; 3] = [CLINIC_DOMAIN, MCO_DOMAIN, FORGER_DOMAIN];

/// What the MX listener answered a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// `250 … queued`.
    Queued,
    /// Refused; swaks's transcript.
    Refused(String),
}

impl MailStack {
    /// Starts OpenDKIM the first time it is called (making the signing keys and the
    /// verifier's configuration); later calls leave it as it is.
    pub fn start_verifier(&self) {
        let mut slot = lock(&self.verifier);
        if slot.is_some() {
            return;
        }
        let keys = make_signing_keys(&self.root().join("dkim"));
        let mut server = opendkim(
            &self.root().join("opendkim"),
            self.owner,
            self.milter_port,
            &keys,
        );
        server.start();
        *slot = Some(server);
    }

    /// The message swaks would send for `letter` (CRLF line ends), and its Message-ID
    /// (without brackets).
    pub fn compose(&self, letter: &Letter<'_>) -> (Vec<u8>, String) {
        let files = tempfile::tempdir().unwrap();
        let (mut command, message_id) = self.swaks_letter(letter, files.path());
        command.arg("--dump-mail");
        let mut raw = run(&mut command, "swaks --dump-mail").stdout;
        // The dump is the DATA without its final `.` line, which leaves a stray CR at
        // the end: the message ends with its last line's CRLF, as it is sent.
        while raw.last().is_some_and(|byte| matches!(byte, b'\r' | b'\n')) {
            raw.pop();
        }
        raw.extend_from_slice(b"\r\n");
        (raw, message_id)
    }

    /// `raw` with a DKIM-Signature of `domain` (one of the signing domains) in front,
    /// made by dkimpy with that domain's key.
    pub fn dkim_sign(&self, raw: &[u8], domain: &str) -> Vec<u8> {
        assert!(
            SIGNING_DOMAINS.contains(&domain),
            "{domain} has no signing key: one of {SIGNING_DOMAINS:?}"
        );
        self.start_verifier();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim_sign.py");
        let key = self.root().join("dkim").join(format!("{domain}.private"));
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg(&key)
            .args([DKIM_SELECTOR, domain])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = usual_umask(&mut command)
            .spawn()
            .expect("python3 runs tests/fixtures/dkim_sign.py");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(raw).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "dkim_sign.py failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Sends `raw` as it is, from `envelope_from` to `to`, to the verified listener
    /// (STARTTLS, verifying its certificate against the test CA), as another domain's
    /// server delivers to an MX. Starts the verifier if no test has yet.
    pub fn send_inbound(&self, envelope_from: &str, to: &str, raw: &[u8]) -> Inbound {
        self.start_verifier();
        let files = tempfile::tempdir().unwrap();
        let data = files.path().join("message.eml");
        std::fs::write(&data, raw).unwrap();
        let mut command = Command::new("swaks");
        command
            .args(["--server", "127.0.0.1", "--port", &self.mx_port.to_string()])
            .args(["--tls", "--tls-verify", "--tls-ca-path"])
            .arg(&self.ca_file)
            .args(["--helo", "mail.clinic.test"])
            .args(["--from", envelope_from, "--to", to])
            .arg("--data")
            .arg(format!("@{}", data.display()));
        let output = usual_umask(&mut command)
            .stdin(Stdio::null())
            .output()
            .expect("swaks runs");
        let transcript = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() && transcript.contains("250 2.0.0 Ok: queued") {
            Inbound::Queued
        } else {
            Inbound::Refused(transcript)
        }
    }

    /// [`send_inbound`](Self::send_inbound), which must be queued; waits until the
    /// message is in `to`'s inbox.
    pub fn send_inbound_and_wait(&self, envelope_from: &str, to: &Account, raw: &[u8]) {
        let before = self.on_disk(to, None);
        match self.send_inbound(envelope_from, &to.address, raw) {
            Inbound::Queued => {}
            Inbound::Refused(transcript) => panic!(
                "the MX listener refused the message:\n{transcript}\n{}",
                self.verifier_logs()
            ),
        }
        self.wait_for_mail(to, None, before + 1);
    }

    /// The stack's logs and OpenDKIM's output, for a failure message.
    pub fn verifier_logs(&self) -> String {
        format!(
            "{}\n--- opendkim.out\n{}",
            self.logs(),
            tail(&self.root().join("opendkim/opendkim.out"), 25)
        )
    }
}

/// An RSA 2048 key for each signing domain, `DOMAIN.private` in `dir` (root's alone, as
/// a signing server keeps it); returns OpenDKIM's `TestPublicKeys` text: one line per
/// domain, `selector._domainkey.domain` and its TXT record.
fn make_signing_keys(dir: &Path) -> String {
    make_dir(dir, 0o700, None);
    SIGNING_DOMAINS
        .iter()
        .map(|domain| {
            let private = dir.join(format!("{domain}.private"));
            run(
                Command::new("openssl")
                    .args(["genpkey", "-algorithm", "RSA"])
                    .args(["-pkeyopt", "rsa_keygen_bits:2048", "-out"])
                    .arg(&private),
                "openssl: a DKIM key",
            );
            let public = run(
                Command::new("openssl")
                    .args(["pkey", "-pubout", "-outform", "DER", "-in"])
                    .arg(&private),
                "openssl: the DKIM public key",
            );
            let p = base64::engine::general_purpose::STANDARD.encode(&public.stdout);
            format!("{DKIM_SELECTOR}._domainkey.{domain} v=DKIM1; k=rsa; p={p}\n")
        })
        .collect()
}

/// OpenDKIM's folder (configuration, public keys, output) and its server, not started.
fn opendkim(dir: &Path, owner: Owner, milter_port: u16, public_keys: &str) -> Server {
    assert!(
        Path::new("/usr/sbin/opendkim").exists(),
        "/usr/sbin/opendkim is missing: apt-get install opendkim (bash .ci/run does)"
    );
    make_dir(dir, 0o755, Some(owner));
    write_file(
        &dir.join("keys"),
        public_keys.as_bytes(),
        0o644,
        Some(owner),
    );
    let conf = dir.join("opendkim.conf");
    write_file(
        &conf,
        opendkim_conf_text(dir, milter_port).as_bytes(),
        0o644,
        Some(owner),
    );
    Server {
        name: "opendkim",
        program: PathBuf::from("/usr/sbin/opendkim"),
        // -f: in the foreground, our child.
        args: vec!["-f".into(), "-x".into(), conf.display().to_string()],
        user: Some(owner),
        ports: vec![milter_port],
        output: dir.join("opendkim.out"),
        // It logs to syslog only (off here): its output is all there is.
        log: dir.join("opendkim.out"),
        child: None,
    }
}

/// A self-contained OpenDKIM configuration (`-x FILE`): verify only, keys from a file.
fn opendkim_conf_text(dir: &Path, milter_port: u16) -> String {
    let dir = dir.display();
    format!(
        "# Written by tests/mailstack/verifier.rs: the verifier of the e2e mail stack,\n\
         # run as {MAIL_USER}.\n\
         Mode v\n\
         Socket inet:{milter_port}@127.0.0.1\n\
         AuthservID {AUTHSERV_ID}\n\
         # A result on every message, `dkim=none` when unsigned.\n\
         AlwaysAddARHeader yes\n\
         # Forged copies of our own header go, whatever result they claim.\n\
         RemoveARFrom {AUTHSERV_ID}\n\
         RemoveARAll yes\n\
         # Keys from this file, never from DNS; any other lookup goes nowhere.\n\
         TestPublicKeys {dir}/keys\n\
         Nameservers 127.0.0.1\n\
         SoftwareHeader no\n\
         Syslog no\n\
         UMask 022\n"
    )
}

/// The MX cleanup's `header_checks` (a Postfix regexp table): an incoming
/// `Authentication-Results` whose authserv-id is [`AUTHSERV_ID`] in any spelling —
/// any case, quoted, with a trailing dot, after a comment, a space before the colon —
/// is dropped before OpenDKIM
/// sees the message (which removes the exact spelling itself and adds its own result
/// after these checks have run).
pub(super) fn mx_header_checks_text() -> String {
    let id = AUTHSERV_ID.replace('.', r"\.");
    format!(
        "# Written by tests/mailstack/verifier.rs: forged copies of the verifier's header.\n\
         /^Authentication-Results[[:space:]]*:([[:space:]]|\\([^)]*\\))*\"?{id}\\.?\"?([[:space:];(]|$)/i IGNORE\n"
    )
}
