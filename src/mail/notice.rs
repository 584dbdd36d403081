//! Composing notices: Tera templates in `templates/mail/` (`KIND.txt`, and `KIND.html`
//! for the HTML alternative when present) rendered into a complete RFC 5322 message
//! with lettre. Replies carry `Auto-Submitted: auto-replied`, `In-Reply-To` and
//! `References`; mail the program starts carries `Auto-Submitted: auto-generated`.
//! Every message gets our own Message-ID, so a reply to it can be recognised.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use tera::Tera;

use crate::errors::one_line;

crate::words! {
    /// What a notice is; also its template's name (without extension) and the `kind`
    /// stored with it.
    pub enum NoticeKind {
        Accepted = "accepted",
        Closed = "closed",
        NotRegistered = "not_registered",
        RegistrationReceived = "registration_received",
        RegistrationDenied = "registration_denied",
        RegistrationApproved = "registration_approved",
        RegistrationRevoked = "registration_revoked",
        Help = "help",
        NewSubmissionNeeded = "new_submission_needed",
        InquiryAnswer = "inquiry_answer",
        Quarantined = "quarantined",
        TooLarge = "too_large",
        McoForward = "mco_forward",
        ProposalReceived = "proposal_received",
        DecisionsMissing = "decisions_missing",
        ResponseProblems = "response_problems",
        McoIdMissing = "mco_id_missing",
        MoreTimeRequested = "more_time_requested",
        MoreTimeGranted = "more_time_granted",
        MoreTimeDeclined = "more_time_declined",
        MoreTimeAlreadyAsked = "more_time_already_asked",
        OverdueReminder = "overdue_reminder",
        TicketResolved = "ticket_resolved",
        StaffDigest = "staff_digest",
    }
}

impl NoticeKind {
    /// An answer nobody asked for by submitting something: how to submit, please
    /// register first, an inquiry's answer, a refused message, an MCO's mail without a
    /// ticket id. Only these count toward
    /// `notices_per_sender_per_day` (R12); a ticket's or a registration's notice never
    /// does, so a busy billing agent is never left without one.
    pub fn is_unsolicited(self) -> bool {
        matches!(
            self,
            NoticeKind::Help
                | NoticeKind::NotRegistered
                | NoticeKind::InquiryAnswer
                | NoticeKind::Quarantined
                | NoticeKind::TooLarge
                | NoticeKind::McoIdMissing
        )
    }
}

/// The `Auto-Submitted` header (RFC 3834).
#[derive(Debug, Clone)]
struct AutoSubmitted(&'static str);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        match text.trim() {
            "auto-replied" => Ok(AutoSubmitted("auto-replied")),
            "auto-generated" => Ok(AutoSubmitted("auto-generated")),
            other => Err(format!("unexpected Auto-Submitted value {other}").into()),
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_owned())
    }
}

/// What to compose.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub kind: NoticeKind,
    pub to: &'a str,
    pub subject: String,
    /// True when this answers a message (an auto-reply, RFC 3834); false for mail
    /// the program starts (approvals, MCO forwards).
    pub is_reply: bool,
    /// The Message-ID of the message this answers, when it had one.
    pub in_reply_to: Option<&'a str>,
    /// That message's own references, to keep the thread.
    pub references: &'a [String],
    /// The template's context.
    pub context: serde_json::Value,
    /// An attached file: name, bytes and MIME type.
    pub attachment: Option<(String, Vec<u8>, &'static str)>,
    /// The outbox id, part of the Message-ID.
    pub notice_id: u64,
}

/// A composed notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub message_id: String,
    pub raw: Vec<u8>,
}

/// Renders notices from the mail templates.
pub struct Composer {
    tera: Tera,
    from: Mailbox,
    domain: String,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer")
            .field("from", &self.from)
            .finish()
    }
}

impl Composer {
    /// Loads `templates_dir/mail/*.txt` and `*.html`; `from` is the config's
    /// `[mail] from`. Every kind must have its `.txt` template.
    pub fn new(templates_dir: &Path, from: &str) -> Result<Composer> {
        let glob = format!("{}/mail/*", templates_dir.display());
        let mut tera = Tera::new(&glob)
            .map_err(|error| anyhow!(one_line(&error)))
            .with_context(|| {
                format!(
                    "cannot load the mail templates in {}/mail",
                    templates_dir.display()
                )
            })?;
        // The HTML alternatives escape the text explicitly (`{% filter escape %}`).
        tera.autoescape_on(vec![]);
        for kind in NoticeKind::ALL {
            let name = format!("{}.txt", kind.as_str());
            if !tera.get_template_names().any(|known| known == name) {
                anyhow::bail!(
                    "the mail template {}/mail/{name} is missing",
                    templates_dir.display()
                );
            }
        }
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("[mail] from {from:?} is not an address"))?;
        let domain = from.email.domain().to_owned();
        Ok(Composer { tera, from, domain })
    }

    /// Our own address, as notices are sent from it.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// True when a Message-ID is one of ours.
    pub fn is_ours(&self, message_id: &str) -> bool {
        message_id.starts_with("portal.") && message_id.ends_with(&format!("@{}", self.domain))
    }

    /// Renders one notice into a complete message.
    pub fn compose(&self, draft: &Draft<'_>) -> Result<Composed> {
        let context = tera::Context::from_value(draft.context.clone())
            .context("a notice's context is not an object")?;
        let name = draft.kind.as_str();
        let text = self
            .tera
            .render(&format!("{name}.txt"), &context)
            .map_err(|error| anyhow!(one_line(&error)))
            .with_context(|| format!("cannot render the {name} notice"))?;
        let html_name = format!("{name}.html");
        let html = if self
            .tera
            .get_template_names()
            .any(|known| known == html_name)
        {
            Some(
                self.tera
                    .render(&html_name, &context)
                    .map_err(|error| anyhow!(one_line(&error)))
                    .with_context(|| format!("cannot render the {name} notice (HTML)"))?,
            )
        } else {
            None
        };
        let to: Mailbox = draft
            .to
            .parse()
            .with_context(|| format!("cannot send to {:?}", draft.to))?;
        let stamp = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let message_id = format!("portal.{}.{stamp:x}@{}", draft.notice_id, self.domain);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&draft.subject)
            .message_id(Some(format!("<{message_id}>")));
        builder = match (draft.is_reply, draft.in_reply_to) {
            (true, Some(original)) => {
                let mut thread: Vec<String> = draft
                    .references
                    .iter()
                    .map(|id| format!("<{id}>"))
                    .collect();
                thread.push(format!("<{original}>"));
                builder
                    .in_reply_to(format!("<{original}>"))
                    .references(thread.join(" "))
                    .header(AutoSubmitted("auto-replied"))
            }
            (true, None) => builder.header(AutoSubmitted("auto-replied")),
            (false, _) => builder.header(AutoSubmitted("auto-generated")),
        };
        let body = match html {
            Some(html) => MultiPart::alternative_plain_html(text, html),
            None => MultiPart::mixed().singlepart(SinglePart::plain(text)),
        };
        let body = match &draft.attachment {
            Some((file_name, bytes, mime)) => {
                let content_type = ContentType::parse(mime).context("an attachment's MIME type")?;
                MultiPart::mixed().multipart(body).singlepart(
                    Attachment::new(file_name.clone()).body(bytes.clone(), content_type),
                )
            }
            None => body,
        };
        let message = builder.multipart(body).context("cannot build the notice")?;
        Ok(Composed {
            message_id,
            raw: message.formatted(),
        })
    }
}
