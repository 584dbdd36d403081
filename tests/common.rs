//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use portal::config::Config;
use portal::forms::{self, Context, Submission, Unusable};

/// The shipped configuration.
pub fn config() -> Config {
    Config::parse(include_str!("../portal.toml")).expect("portal.toml parses")
}

/// A fixture file's path.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("a YYYY-MM-DD date")
}

/// Checks `bytes` as intake would, received on `received_on`, with the shipped config.
pub fn check_bytes(
    bytes: &[u8],
    name: &str,
    received_on: NaiveDate,
) -> Result<Submission, Unusable> {
    let config = config();
    let context = Context {
        received_on,
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    forms::check(bytes, Some(name), &context)
}

/// The path of the built `portal` binary, for tests that run the CLI.
pub fn portal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portal"))
}

/// A private copy of the mail setup: a config whose store, Maildirs and outbox live in
/// a temporary folder, with the repository's templates.
pub struct Mailroom {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub config_path: PathBuf,
}

/// The provider address the helpers register.
pub const PROVIDER: &str = "billing@prairie-clinic.example";

impl Mailroom {
    /// A fresh mailroom; `extra` is appended to the generated portal.toml (e.g. a
    /// `[rules]` override).
    pub fn new(extra: &str) -> Mailroom {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path();
        let templates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates");
        let text = format!(
            "[site]\ntemplates_dir = {templates:?}\noutput_dir = {site:?}\ncontent_dir = {content:?}\n\
             [store]\npath = {store:?}\nstatistics_file = {statistics:?}\n\
             [mail.intake]\naddress = \"intake@portal.example.gov\"\npath = {intake:?}\n\
             [mail.inquiries]\naddress = \"HFS.Portalinquiries@illinois.gov\"\npath = {inquiries:?}\n\
             [smtp]\nkind = \"file\"\npath = {outbox:?}\n{extra}",
            site = root.join("site"),
            content = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("content"),
            store = root.join("store"),
            statistics = root.join("var/statistics.json"),
            intake = root.join("mail/intake"),
            inquiries = root.join("mail/inquiries"),
            outbox = root.join("outbox"),
        );
        let config_path = root.join("portal.toml");
        std::fs::write(&config_path, &text).expect("the config is written");
        let config = Config::parse(&text).expect("the test config parses");
        Mailroom {
            dir,
            config,
            config_path,
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Delivers a raw message into the intake Maildir; returns its id.
    pub fn deliver(&self, raw: &[u8]) -> String {
        portal::mail::maildir::Maildir::open(&self.path("mail/intake"))
            .unwrap()
            .deliver(raw)
            .unwrap()
    }

    /// Delivers a raw message into the inquiries Maildir; returns its id.
    pub fn deliver_inquiry(&self, raw: &[u8]) -> String {
        portal::mail::maildir::Maildir::open(&self.path("mail/inquiries"))
            .unwrap()
            .deliver(raw)
            .unwrap()
    }

    /// `count` questions to the inquiries mailbox, each from a sender of its own (so
    /// that no daily notice limit is met).
    pub fn ask(&self, count: usize) {
        for n in 0..count {
            self.deliver_inquiry(&message(
                &format!("asker{n}@clinic.example"),
                "HFS.Portalinquiries@illinois.gov",
                "How do I register?",
                "Hello.",
                &[],
            ));
        }
    }

    /// One intake pass through the library.
    pub fn pass(&self) -> portal::intake::PassReport {
        portal::intake::run_pass(&self.config, None).expect("the pass runs")
    }

    /// Runs the `portal` binary with this mailroom's config.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(portal_bin())
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("portal runs")
    }

    /// The notices written by the file transport, parsed.
    pub fn outbox(&self) -> Vec<Sent> {
        let Ok(entries) = std::fs::read_dir(self.path("outbox")) else {
            return Vec::new();
        };
        let mut sent: Vec<Sent> = entries
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .map(|path| Sent::parse(&std::fs::read(&path).unwrap()))
            .collect();
        sent.sort_by(|a, b| a.subject.cmp(&b.subject));
        sent
    }

    /// Message ids in a Maildir folder of the intake mailbox (`None` is the inbox).
    pub fn intake_folder(&self, folder: Option<portal::mail::Folder>) -> Vec<String> {
        portal::mail::maildir::Maildir::open(&self.path("mail/intake"))
            .unwrap()
            .ids(folder)
            .unwrap()
    }

    /// Mails a complete registration form from `email` covering `npi`, runs a pass and
    /// approves it as staff. Returns the registration id.
    pub fn register(&self, email: &str, npi: &str) -> String {
        let form = registration_form(email, npi);
        self.deliver(&message(
            email,
            "intake@portal.example.gov",
            "Registration",
            "Form attached.",
            &[("registration-form.xlsx", form)],
        ));
        let report = self.pass();
        let id = report
            .registrations
            .first()
            .copied()
            .expect("a registration was filed");
        let services = portal::services::Services::open(&self.config).unwrap();
        let intake = services.intake(&self.config, None);
        portal::staff::decide(
            &intake,
            id,
            portal::staff::Decision::Approve,
            "tester",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
        id.to_string()
    }

    /// `portal intake --every 1s` on this mailroom, with JSON logs.
    pub fn every(&self) -> std::process::Command {
        let mut command = std::process::Command::new(portal_bin());
        command
            .arg("--config")
            .arg(&self.config_path)
            .args(["--log-format", "json", "intake", "--every", "1s"])
            .current_dir(self.dir.path());
        command
    }
}

/// How long a step of a [`Service`] may take before a test gives up on it.
const SERVICE_PATIENCE: Duration = Duration::from_secs(60);

/// A long-running `portal` (`intake --every`), its output read line by line.
pub struct Service {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Service {
    /// Starts `command`, which should log JSON (`--log-format json`).
    pub fn spawn(mut command: Command) -> Service {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portal starts");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Service {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for a pass report (a stdout line) that `wanted` accepts; returns it.
    pub fn pass_where(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SERVICE_PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("no such pass report within {SERVICE_PATIENCE:?}")
                }
            }
        }
    }

    /// Waits for a log event with this message; returns the event.
    pub fn event(&self, name: &str) -> serde_json::Value {
        let deadline = Instant::now() + SERVICE_PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .stderr
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no \"{name}\" event within {SERVICE_PATIENCE:?}"));
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
            if event["fields"]["message"] == name {
                return event;
            }
        }
    }

    /// Sends `signal` and waits for the exit; returns the exit code and the rest of
    /// stdout.
    pub fn stop(mut self, signal: i32) -> (Option<i32>, Vec<String>) {
        // SAFETY: kill has no memory effects; the pid is our child's.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "the signal is sent");
        let deadline = Instant::now() + SERVICE_PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {SERVICE_PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = self.stdout.try_iter().collect();
        (status.code(), rest)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of a pipe, sent on as they come.
fn lines(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// A notice as the file transport wrote it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub to: String,
    pub subject: String,
    pub auto_submitted: String,
    pub in_reply_to: Option<String>,
    pub text: String,
    pub attachments: Vec<(String, Vec<u8>)>,
    pub raw: Vec<u8>,
}

impl Sent {
    pub fn parse(raw: &[u8]) -> Sent {
        use mail_parser::{MessageParser, MimeHeaders};
        let message = MessageParser::default()
            .parse(raw)
            .expect("a notice parses");
        Sent {
            to: message
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_owned(),
            subject: message.subject().unwrap_or("").to_owned(),
            auto_submitted: message
                .header_raw("Auto-Submitted")
                .unwrap_or("")
                .trim()
                .to_owned(),
            in_reply_to: message.in_reply_to().as_text().map(str::to_owned),
            text: message
                .body_text(0)
                .map(|text| text.into_owned())
                .unwrap_or_default(),
            attachments: message
                .attachments()
                .map(|part| {
                    (
                        part.attachment_name().unwrap_or("").to_owned(),
                        part.contents().to_vec(),
                    )
                })
                .collect(),
            raw: raw.to_vec(),
        }
    }
}

/// A message as a mail client sends it, with attachments.
pub fn message(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    attachments: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let builder = lettre::Message::builder()
        .from(from.parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .message_id(None);
    let message = if attachments.is_empty() {
        builder.body(body.to_owned()).unwrap()
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body.to_owned()));
        for (name, bytes) in attachments {
            parts = parts.singlepart(Attachment::new((*name).to_owned()).body(
                bytes.clone(),
                ContentType::parse("application/octet-stream").unwrap(),
            ));
        }
        builder.multipart(parts).unwrap()
    };
    message.formatted()
}

/// An out-of-office reply from `from` to the intake address, marked
/// `Auto-Submitted: auto-replied`.
pub fn out_of_office(from: &str) -> Vec<u8> {
    String::from_utf8(message(
        from,
        "intake@portal.example.gov",
        "Out of office",
        "Away.",
        &[],
    ))
    .expect("the message is text")
    .replacen("Subject:", "Auto-Submitted: auto-replied\r\nSubject:", 1)
    .into_bytes()
}

/// A complete individual registration form (.xlsx) for `email` and `npi`.
pub fn registration_form(email: &str, npi: &str) -> Vec<u8> {
    let config = config();
    let values = portal::forms::samples::registration_values(email, npi);
    portal::forms::write::registration_form_with(&config.mcos, &config.rules, &values).unwrap()
}

/// A complaint template of `count` sample lines received today, for MOLINA.
pub fn complaint(sample: portal::forms::samples::Sample, count: usize) -> Vec<u8> {
    let config = config();
    let lines = portal::forms::samples::complaint_lines(
        sample,
        portal::today::today_in_illinois(),
        4,
        count,
    );
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

/// One cell of a CSV file, quoted.
pub fn csv_cell(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A value as a provider would type it into a CSV file.
pub fn typed(field: &portal::forms::schema::Field, value: Option<&portal::forms::Value>) -> String {
    match value {
        None => String::new(),
        Some(portal::forms::Value::Text(text)) => text.clone(),
        Some(portal::forms::Value::Date(day)) => day.to_string(),
        Some(portal::forms::Value::Money(money)) => money.to_string(),
        Some(portal::forms::Value::Bool(flag)) => if *flag { "Yes" } else { "No" }.to_owned(),
        Some(portal::forms::Value::Choice(index)) => match field.ty {
            portal::forms::schema::ValueType::Choice(choices) => choices[*index].to_owned(),
            _ => config().mcos[*index].name.clone(),
        },
    }
}

/// Claim lines as a CSV complaint template, every cell quoted, joined by `separator`.
pub fn complaint_csv(lines: &[portal::forms::Record], separator: &str) -> String {
    let mut text = portal::forms::schema::COMPLAINT
        .iter()
        .map(|field| csv_cell(field.header))
        .collect::<Vec<_>>()
        .join(separator);
    for line in lines {
        text.push('\n');
        let cells: Vec<String> = portal::forms::schema::COMPLAINT
            .iter()
            .zip(&line.values)
            .map(|(field, value)| csv_cell(&typed(field, value.as_ref())))
            .collect();
        text.push_str(&cells.join(separator));
    }
    text.push('\n');
    text
}

/// `text` in Windows-1252, for the characters the tests use.
pub fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{2019}' => 0x92,
            '\u{e9}' => 0xE9,
            c if c.is_ascii() => c as u8,
            c => panic!("{c} is not in this test's Windows-1252"),
        })
        .collect()
}

/// How a `portal` run under resource limits ended.
#[derive(Debug)]
pub struct BoundedRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
}

impl std::fmt::Display for BoundedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `portal ARGS` under prlimit's address-space and CPU limits (util-linux), so a
/// blown memory fails the test rather than the machine, and waits at most `wait`.
pub fn portal_bounded(
    memory_bytes: u64,
    cpu_seconds: u64,
    wait: std::time::Duration,
    cwd: Option<&std::path::Path>,
    args: &[&std::ffi::OsStr],
) -> BoundedRun {
    use std::process::{Command, Stdio};
    let started = std::time::Instant::now();
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={memory_bytes}"))
        .arg(format!("--cpu={cpu_seconds}"))
        .arg("--")
        .arg(portal_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let child = command.spawn().expect("prlimit (util-linux) runs portal");
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(wait) {
        Ok(output) => output.expect("portal ran"),
        Err(_) => {
            // prlimit execs portal: the process is portal itself.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("portal {args:?} did not finish within {wait:?}");
        }
    };
    BoundedRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// xorshift64*: small, seeded, good enough to pick the moments of the kill tests.
pub struct XorShift(pub u64);

impl XorShift {
    /// Seeded through one splitmix64 step; `XorShift(state)` takes a state as it is.
    pub fn new(seed: u64) -> XorShift {
        // One splitmix64 step spreads a small seed over the state (never zero).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)).max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// Noon in Illinois on `day`: an instant whose Illinois day is `day` whatever the
/// hour a test runs at, and whatever daylight saving time does between.
pub fn noon_in_illinois(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone as _;
    chrono_tz::America::Chicago
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .single()
        .expect("noon is one instant")
        .with_timezone(&chrono::Utc)
}

/// Delivers a raw message into the intake Maildir as received at noon in Illinois on
/// `day` (intake takes the file's time as when it came). Returns its id.
pub fn deliver_on(room: &Mailroom, raw: &[u8], day: NaiveDate) -> String {
    let id = room.deliver(raw);
    std::fs::File::options()
        .write(true)
        .open(room.path("mail/intake/new").join(&id))
        .unwrap()
        .set_modified(noon_in_illinois(day).into())
        .unwrap();
    id
}

/// `portal ARGS` on the mailroom as if it were noon in Illinois on `day`, which must
/// succeed: the process's clock moved with Debian's `faketime`, the Maildir's file
/// times left real (`NO_FAKE_STAT=1`) so mail keeps the day it came, and the
/// monotonic clock left alone. Returns its stdout.
pub fn portal_on(room: &Mailroom, day: NaiveDate, args: &[&str]) -> String {
    let offset = (noon_in_illinois(day) - chrono::Utc::now()).num_seconds();
    let output = Command::new("faketime")
        .arg("-f")
        .arg(format!("{offset:+}"))
        .arg(portal_bin())
        .arg("--config")
        .arg(&room.config_path)
        .args(args)
        .current_dir(room.dir.path())
        .env("NO_FAKE_STAT", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env_remove("PORTAL_FAILPOINTS")
        .stdin(Stdio::null())
        .output()
        .expect("faketime (the Debian package faketime) runs portal");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "portal {args:?} on {day}: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
