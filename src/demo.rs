//! `portal demo`: the main job end to end on embedded parts (a local Maildir in,
//! `.eml` files out), in `portal.toml`'s own paths, with made-up people and submissions
//! dated relative to today.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use chrono::{NaiveDate, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};

use crate::config::{Config, MailboxKind, Smtp};
use crate::forms::samples::{self, SAMPLE_NPI, Sample};
use crate::forms::write::Answer;
use crate::forms::{McoDecision, Record, Status};
use crate::intake::{Intake, Mailbox, PassReport};
use crate::mail::maildir::Maildir;
use crate::services::Services;
use crate::site::{BuildOptions, serve::describe};
use crate::staff::{Decision, decide};
use crate::store::{Inquiry, OpenError, Registration, Store, Ticket, Tree, Writes};
use crate::today::today_in_illinois;

const PROVIDER: &str = "billing@prairie-clinic.example";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Runs the demo and prints what it did.
pub fn run(config: &Config, out: &mut dyn Write) -> Result<()> {
    let (
        MailboxKind::Maildir { path: intake_dir },
        MailboxKind::Maildir {
            path: inquiries_dir,
        },
        Smtp::File { path: outbox },
    ) = (
        config.mail.intake.kind.clone(),
        config.mail.inquiries.kind.clone(),
        config.smtp.clone(),
    )
    else {
        bail!(
            "the demo runs only on a local Maildir and the file transport; this config uses IMAP or SMTP"
        );
    };
    start_afresh(config, &intake_dir, &inquiries_dir, &outbox)?;

    let today = today_in_illinois();
    let report = crate::site::build(
        config,
        &BuildOptions {
            drafts: false,
            live_reload: false,
            today,
        },
    )?;
    writeln!(out, "1. {}", describe(&report))?;

    let services = Services::open_or_create(config)?;
    let mut writes = Writes::default();
    writes.put_bytes(Tree::Meta, "created_by", b"demo".to_vec());
    services.store.apply(writes)?;
    services.store.flush()?;
    let mut stage = Stage {
        config,
        intake: services.intake(config, None),
        intake_box: Maildir::open(&intake_dir)?,
        inquiries_box: Maildir::open(&inquiries_dir)?,
        intake_dir: &intake_dir,
        inquiries_dir: &inquiries_dir,
    };
    stage.register_and_approve(out)?;
    let good = stage.complaints_and_others(today, out)?;
    stage.mco_answers(&good, out)?;
    let report = crate::site::build(
        config,
        &BuildOptions {
            drafts: false,
            live_reload: false,
            today,
        },
    )?;
    writeln!(out, "6. Built the site again: {}", describe(&report))?;
    writeln!(
        out,
        "   The statistics page, {}, shows the figures intake counted into {}.",
        config
            .site
            .output_dir
            .join("statistics/index.html")
            .display(),
        config.store.statistics_file.display()
    )?;
    summary(&services.store, config, &outbox, out)
}

/// The demo's mailboxes and the intake that reads them.
struct Stage<'a> {
    config: &'a Config,
    intake: Intake<'a>,
    intake_box: Maildir,
    inquiries_box: Maildir,
    intake_dir: &'a Path,
    inquiries_dir: &'a Path,
}

impl Stage<'_> {
    /// One intake pass over both mailboxes.
    fn pass(&mut self) -> Result<PassReport> {
        self.intake.pass(
            &mut [
                (Mailbox::Intake, &mut self.intake_box),
                (Mailbox::Inquiries, &mut self.inquiries_box),
            ],
            Utc::now(),
        )
    }

    /// Steps 2 and 3: a registration form mailed in, a pass, and staff approval.
    fn register_and_approve(&mut self, out: &mut dyn Write) -> Result<()> {
        let config = self.config;
        let form = crate::forms::write::registration_form_with(
            &config.mcos,
            &config.rules,
            &samples::registration_values(PROVIDER, SAMPLE_NPI),
        )?;
        self.intake_box.deliver(&incoming(
            PROVIDER,
            &config.mail.intake.address,
            "Portal registration",
            "Our registration form is attached.",
            Some(("registration-form.xlsx", form)),
            false,
        )?)?;
        let first = self.pass()?;
        let filed: Vec<String> = first
            .registrations
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            out,
            "2. Mailed a registration form into {}; a pass filed {}.",
            self.intake_dir.display(),
            filed.join(", ")
        )?;
        for &id in &first.registrations {
            decide(
                &self.intake,
                id,
                Decision::Approve,
                "demo",
                Some("demo data"),
                Utc::now(),
            )?;
            writeln!(out, "3. Approved {id} as staff member \"demo\".")?;
        }
        Ok(())
    }

    /// Step 4: three complaints dated relative to `today` (good, too early,
    /// incomplete), an inquiry and an auto-reply, and a second pass. Returns the good
    /// complaint's lines, for the MCO to answer.
    fn complaints_and_others(
        &mut self,
        today: NaiveDate,
        out: &mut dyn Write,
    ) -> Result<Vec<Record>> {
        let config = self.config;
        let intake_address = &config.mail.intake.address;
        let mut good = Vec::new();
        let mco = config
            .mcos
            .iter()
            .position(|mco| mco.code == "MOLINA")
            .unwrap_or(0);
        for (sample, name, subject) in [
            (Sample::Good, "claims-good.xlsx", "Complaint: three claims"),
            (
                Sample::TooEarly,
                "claims-too-early.xlsx",
                "Complaint filed too early",
            ),
            (
                Sample::Incomplete,
                "claims-incomplete.xlsx",
                "Complaint missing tracking numbers",
            ),
        ] {
            let lines = samples::complaint_lines(sample, today, mco, 3);
            if sample == Sample::Good {
                good = lines.clone();
            }
            let workbook =
                crate::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines)?;
            self.intake_box.deliver(&incoming(
                PROVIDER,
                intake_address,
                subject,
                "Please find our complaint template attached.",
                Some((name, workbook)),
                false,
            )?)?;
        }
        self.inquiries_box.deliver(&incoming(
            "office@lakeside-therapy.example",
            &config.mail.inquiries.address,
            "How do we register?",
            "Hello, how do we register our two clinics for the portal?",
            None,
            false,
        )?)?;
        self.intake_box.deliver(&incoming(
            "vacation@another-clinic.example",
            intake_address,
            "Out of office",
            "I am out of the office this week.",
            None,
            true,
        )?)?;
        let second = self.pass()?;
        writeln!(
            out,
            "4. Mailed 3 complaints and an auto-reply into {}, an inquiry into {}; a pass filed {} ticket(s), {} inquiry, {} automatic message(s) left unanswered.",
            self.intake_dir.display(),
            self.inquiries_dir.display(),
            second.tickets.len(),
            second.inquiries.len(),
            second.automatic
        )?;
        Ok(good)
    }

    /// Step 5: the MCO answers the forwarded complaint from its dispute address, with
    /// the returned workbook (a decision for each row and a comment), and a pass
    /// records the proposal.
    fn mco_answers(&mut self, lines: &[Record], out: &mut dyn Write) -> Result<()> {
        let config = self.config;
        let Some(ticket) = self
            .intake
            .store
            .all::<Ticket>(Tree::Tickets)?
            .into_iter()
            .find(|ticket| ticket.status == Status::Forwarded)
        else {
            bail!("the demo's good complaint was not forwarded");
        };
        let mco = ticket
            .mco
            .as_deref()
            .and_then(|code| config.mco(code))
            .context("the forwarded ticket names a configured MCO")?;
        let choices = [
            McoDecision::PaidInFull,
            McoDecision::PartiallyPaid,
            McoDecision::Reprocessing,
        ];
        let answers: Vec<Answer<'_>> = lines
            .iter()
            .zip(choices.iter().cycle())
            .map(|(line, decision)| (line.row, *decision, "Reviewed by the demo's MCO."))
            .collect();
        let id = ticket.id.to_string();
        let workbook = crate::forms::write::mco_response_answered(
            &id,
            &config.mcos,
            &config.rules,
            lines,
            &answers,
        )?;
        self.intake_box.deliver(&incoming(
            &mco.dispute_address,
            &config.mail.intake.address,
            &format!("Re: [{id}] Provider complaint forwarded by Illinois HFS"),
            "Our proposal is in the attached workbook.",
            Some((&format!("{id}.xlsx"), workbook)),
            false,
        )?)?;
        self.pass()?;
        let answered = self
            .intake
            .store
            .record::<Ticket>(ticket.id)?
            .context("the answered ticket is in the store")?;
        writeln!(
            out,
            "5. {} answered {id} from {} with the returned workbook; a pass recorded it as {}.",
            mco.name, mco.dispute_address, answered.status
        )?;
        Ok(())
    }
}

/// Clears the demo's own earlier data; refuses a store that holds other data, or
/// one it cannot read.
fn start_afresh(
    config: &Config,
    intake_dir: &Path,
    inquiries_dir: &Path,
    outbox: &Path,
) -> Result<()> {
    let store_path = &config.store.path;
    match Store::open(store_path) {
        Err(OpenError::Missing { .. }) => {}
        Err(error) => return Err(error.into()),
        Ok(store) => {
            let ours = store.is_empty() || store.meta("created_by")?.as_deref() == Some("demo");
            drop(store);
            if !ours {
                bail!(
                    "{} holds data the demo did not make; the demo never touches it. Point [store] path elsewhere to run the demo",
                    store_path.display()
                );
            }
        }
    }
    for dir in [store_path.as_path(), intake_dir, inquiries_dir, outbox] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
    }
    Ok(())
}

/// A message as a provider's mail client would send it.
fn incoming(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    attachment: Option<(&str, Vec<u8>)>,
    automatic: bool,
) -> Result<Vec<u8>> {
    let mut builder = lettre::Message::builder()
        .from(from.parse().context("a demo address")?)
        .to(to.parse().context("a demo address")?)
        .subject(subject)
        .message_id(None);
    if automatic {
        builder = builder.header(AutoReplied);
    }
    let message = match attachment {
        Some((name, bytes)) => builder.multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body.to_owned()))
                .singlepart(
                    Attachment::new(name.to_owned()).body(bytes, ContentType::parse(XLSX)?),
                ),
        )?,
        None => builder.body(body.to_owned())?,
    };
    Ok(message.formatted())
}

/// `Auto-Submitted: auto-replied`, as an out-of-office reply carries it.
#[derive(Clone)]
struct AutoReplied;

impl lettre::message::header::Header for AutoReplied {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoReplied)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-replied".to_owned())
    }
}

/// The table of what was filed and which notices went where.
fn summary(store: &Store, config: &Config, outbox: &Path, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "\nFiled:")?;
    for registration in store.all::<Registration>(Tree::Registrations)? {
        writeln!(
            out,
            "  {:<16} registration  {:<10} {}",
            registration.id, registration.status, registration.email
        )?;
    }
    for ticket in store.all::<Ticket>(Tree::Tickets)? {
        let closed = ticket
            .lines
            .iter()
            .filter(|line| line.reason.is_some())
            .count();
        let detail = match ticket.reason {
            Some(reason) => format!("closed: {reason}"),
            None if closed > 0 => {
                let reasons: Vec<String> = ticket
                    .lines
                    .iter()
                    .filter_map(|line| line.reason.map(|r| r.to_string()))
                    .collect();
                format!(
                    "{closed} of {} lines closed: {}",
                    ticket.lines.len(),
                    reasons.join(", ")
                )
            }
            None => {
                let due = ticket
                    .response_due
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                let answer = match ticket.responded_on {
                    Some(on) => format!("answered {on} (due {due})"),
                    None => format!("response due {due}"),
                };
                format!(
                    "{} lines to {}, {answer}",
                    ticket.lines.len(),
                    ticket.mco.as_deref().unwrap_or("?"),
                )
            }
        };
        writeln!(
            out,
            "  {:<16} ticket        {:<10} {detail}",
            ticket.id, ticket.status
        )?;
        let decisions: Vec<String> = ticket
            .lines
            .iter()
            .filter_map(|line| {
                line.decision
                    .map(|decision| format!("row {} {}", line.row, decision.label().to_lowercase()))
            })
            .collect();
        if !decisions.is_empty() {
            writeln!(out, "  {:<16} decisions     {}", "", decisions.join("; "))?;
        }
    }
    for inquiry in store.all::<Inquiry>(Tree::Inquiries)? {
        writeln!(
            out,
            "  {:<16} inquiry       {:<10} {}",
            inquiry.id,
            if inquiry.answered {
                "answered"
            } else {
                "stored"
            },
            inquiry.from
        )?;
    }
    let notices = store.notice_summaries()?;
    writeln!(
        out,
        "\nNotices written as .eml files to {}:",
        outbox.display()
    )?;
    for notice in &notices {
        let sent = if notice.delivery.is_waiting() {
            "waiting"
        } else {
            "written"
        };
        writeln!(
            out,
            "  {:<22} {:<7} to {:<36} {}",
            notice.kind, sent, notice.to, notice.subject
        )?;
    }
    let files = std::fs::read_dir(outbox)
        .map(|entries| entries.count())
        .unwrap_or(0);
    writeln!(
        out,
        "\n{files} files in {}; the store is {}. Run `portal tickets list` to look around.",
        outbox.display(),
        config.store.path.display()
    )?;
    Ok(())
}
