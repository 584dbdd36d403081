//! Prepares the intake benchmark (`benches/intake-1000.sh`): a private config and its
//! Maildirs, registration forms for the registered providers, then the mixed mail.
//!
//! ```text
//! intake_bench_setup DIR config PROVIDERS   # DIR/portal.toml, Maildirs, PROVIDERS registration forms
//! intake_bench_setup DIR mail COUNT PROVIDERS [FIRST]  # COUNT mixed messages into the Maildirs
//! ```
//!
//! FIRST (default 0) numbers the messages from there on, so further rounds into the same
//! store bring new claims and new senders.
//!
//! Between the two, the script runs a pass and approves the registrations with
//! `portal registrations approve`, so the complaints come from registered providers.
//!
//! The mix, by message number modulo 20: 9 good complaints of 1–20 lines (45 %), 2
//! too-early complaints (10 %), 1 registration form from a new address (5 %), 2
//! inquiries (10 %, to the inquiries mailbox), 2 auto-replies (10 %), 2 plain messages
//! that get the help notice (10 %), 2 complaints from senders who are not registered
//! (10 %). The registered providers share the complaints evenly, so none reaches the
//! daily notice limit; every claim number is new, so no line is a duplicate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use portal::config::Config;
use portal::forms::Value;
use portal::forms::samples::{SAMPLE_NPI, Sample, complaint_lines};
use portal::forms::schema::claim;
use portal::mail::maildir::Maildir;

const INTAKE: &str = "intake@portal.example.gov";
const INQUIRIES: &str = "HFS.Portalinquiries@illinois.gov";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize| -> Result<usize> {
        args.get(index)
            .context("a number is missing")?
            .parse()
            .context("not a number")
    };
    match args.get(1).map(String::as_str) {
        Some("config") => config(Path::new(&args[0]), number(2)?),
        Some("mail") => {
            let first = if args.len() > 4 { number(4)? } else { 0 };
            mail(Path::new(&args[0]), first, number(2)?, number(3)?)
        }
        _ => bail!(
            "usage: intake_bench_setup DIR config PROVIDERS | DIR mail COUNT PROVIDERS [FIRST]"
        ),
    }
}

/// The address of registered provider `index`.
fn provider(index: usize) -> String {
    format!("billing{index}@provider{index}.example")
}

/// Writes `DIR/portal.toml` (store, Maildirs and a file outbox in DIR, the repository's
/// templates) and mails one registration form per provider.
fn config(dir: &Path, providers: usize) -> Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = format!(
        "[site]\ntemplates_dir = {templates:?}\noutput_dir = {site:?}\ncontent_dir = {content:?}\n\
         [store]\npath = {store:?}\n\
         [mail.intake]\naddress = \"{INTAKE}\"\npath = {intake:?}\n\
         [mail.inquiries]\naddress = \"{INQUIRIES}\"\npath = {inquiries:?}\n\
         [smtp]\nkind = \"file\"\npath = {outbox:?}\n",
        templates = repo.join("templates"),
        site = dir.join("site"),
        content = repo.join("content"),
        store = dir.join("store"),
        intake = dir.join("mail/intake"),
        inquiries = dir.join("mail/inquiries"),
        outbox = dir.join("outbox"),
    );
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("portal.toml"), &text)?;
    let config = Config::parse(&text)?;
    let intake = Maildir::open(&dir.join("mail/intake"))?;
    Maildir::open(&dir.join("mail/inquiries"))?;
    for index in 0..providers {
        let email = provider(index);
        let form = registration_form(&config, &email)?;
        intake.deliver(&message(
            &email,
            INTAKE,
            "Registration",
            "Form attached.",
            &[("registration-form.xlsx", form)],
            "",
        )?)?;
    }
    println!(
        "wrote {} and {providers} registration form(s)",
        dir.join("portal.toml").display()
    );
    Ok(())
}

/// Mails `count` mixed messages, numbered from `first`.
fn mail(dir: &Path, first: usize, count: usize, providers: usize) -> Result<()> {
    let config = Config::from_file(&dir.join("portal.toml"))?;
    let intake = Maildir::open(&dir.join("mail/intake"))?;
    let inquiries = Maildir::open(&dir.join("mail/inquiries"))?;
    let today = portal::today::today_in_illinois();
    let mut mix = [0usize; 7];
    let mut bytes = 0usize;
    for n in first..first + count {
        // Round-robin over the providers by what they send (message number modulo
        // the provider count would tie each provider to one kind of message).
        let registered = provider((n / 20 * 13 + n % 20) % providers.max(1));
        let stranger = format!("office{n}@clinic{}.example", n % 97);
        let complaint = |sample: Sample, lines: usize| -> Result<Vec<u8>> {
            let mut records = complaint_lines(sample, today, n % 5, lines);
            for (line, record) in records.iter_mut().enumerate() {
                record.values[claim::CLAIM_NUMBER] =
                    Some(Value::Text(format!("CLM{n:05}{line:02}")));
                record.values[claim::TRACKING_NUMBER] =
                    Some(Value::Text(format!("TRK-{n:05}-{line:02}")));
            }
            Ok(portal::forms::write::complaint_with_lines(
                &config.mcos,
                &config.rules,
                &records,
            )?)
        };
        let (kind, raw, inquiry) = match n % 20 {
            0..=8 => {
                let lines = 1 + (n * 7) % 20;
                let workbook = complaint(Sample::Good, lines)?;
                (
                    0,
                    message(
                        &registered,
                        INTAKE,
                        "Complaint",
                        "Please see the attached template.",
                        &[("complaint.xlsx", workbook)],
                        "",
                    )?,
                    false,
                )
            }
            9 | 10 => {
                let workbook = complaint(Sample::TooEarly, 1 + n % 4)?;
                (
                    1,
                    message(
                        &registered,
                        INTAKE,
                        "Complaint",
                        "Attached.",
                        &[("complaint.xlsx", workbook)],
                        "",
                    )?,
                    false,
                )
            }
            11 => {
                let form = registration_form(&config, &stranger)?;
                (
                    2,
                    message(
                        &stranger,
                        INTAKE,
                        "Registration",
                        "Form attached.",
                        &[("registration.xlsx", form)],
                        "",
                    )?,
                    false,
                )
            }
            12 | 13 => {
                let text = "How long does registration take, and can one form cover two clinics?";
                (
                    3,
                    message(&stranger, INQUIRIES, "Registration question", text, &[], "")?,
                    true,
                )
            }
            14 | 15 => {
                let text = "I am out of the office until Monday.";
                (
                    4,
                    message(
                        &registered,
                        INTAKE,
                        "Automatic reply: Complaint",
                        text,
                        &[],
                        "Auto-Submitted: auto-replied\r\n",
                    )?,
                    false,
                )
            }
            16 | 17 => {
                let text = "Hello, how do I file a complaint about a denied claim?";
                (
                    5,
                    message(
                        &stranger,
                        INTAKE,
                        "Question about complaints",
                        text,
                        &[],
                        "",
                    )?,
                    false,
                )
            }
            _ => {
                let workbook = complaint(Sample::Good, 3)?;
                (
                    6,
                    message(
                        &stranger,
                        INTAKE,
                        "Complaint",
                        "Attached.",
                        &[("complaint.xlsx", workbook)],
                        "",
                    )?,
                    false,
                )
            }
        };
        mix[kind] += 1;
        bytes += raw.len();
        if inquiry {
            inquiries.deliver(&raw)?
        } else {
            intake.deliver(&raw)?
        };
    }
    println!(
        "mailed {count} message(s), {:.1} MiB: {} good complaints (1-20 lines), {} too early, {} registrations, \
         {} inquiries, {} auto-replies, {} help, {} not registered",
        bytes as f64 / (1024.0 * 1024.0),
        mix[0],
        mix[1],
        mix[2],
        mix[3],
        mix[4],
        mix[5],
        mix[6]
    );
    Ok(())
}

/// A complete individual registration form for `email`, covering the sample NPI.
fn registration_form(config: &Config, email: &str) -> Result<Vec<u8>> {
    let values = portal::forms::samples::registration_values(email, SAMPLE_NPI);
    Ok(portal::forms::write::registration_form_with(
        &config.mcos,
        &config.rules,
        &values,
    )?)
}

/// A message as a mail client sends it; `extra` (whole header lines) goes first.
fn message(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    attachments: &[(&str, Vec<u8>)],
    extra: &str,
) -> Result<Vec<u8>> {
    let builder = lettre::Message::builder()
        .from(from.parse()?)
        .to(to.parse()?)
        .subject(subject)
        .message_id(None);
    let message = if attachments.is_empty() {
        builder.body(body.to_owned())?
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body.to_owned()));
        for (name, bytes) in attachments {
            let kind = ContentType::parse(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )?;
            parts = parts.singlepart(Attachment::new((*name).to_owned()).body(bytes.clone(), kind));
        }
        builder.multipart(parts)?
    };
    let mut raw = extra.as_bytes().to_vec();
    raw.extend(message.formatted());
    Ok(raw)
}
