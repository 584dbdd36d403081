//! Handling one message: what it is, which rules apply (R1–R11), what to record and
//! which notices to queue. Nothing here sends or moves anything.

use anyhow::Result;
use chrono::{DateTime, Days, Utc};
use serde_json::json;

use super::notices::{NoticeRequest, queue_notice};
use super::{Handled, Intake, Mailbox, PassState, illinois_day, message_record, record_message};
use crate::forms::schema::{PROVIDER_FIELDS, REGISTRANT_FIELDS, claim};
use crate::forms::{
    self, Complaint, ComplaintReport, Completeness, Kind, LineOutcome, Problem, ReadError, Reason,
    Record, Status, Unusable, Workbook,
};
use crate::mail::classify::{self, Parsed};
use crate::mail::notice::NoticeKind;
use crate::mail::{Folder, Waiting};
use crate::rules::add_business_days;
use crate::store::{
    ClaimKey, Correspondence, Inquiry, Outcome, Provider, RECORD_VERSION, Registration,
    RegistrationStatus, Ticket, Tree, Writes,
};

/// At most this many spreadsheets are taken from one message.
pub const MAX_WORKBOOKS: usize = 20;

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A spreadsheet found among the attachments.
enum Sheet {
    Known(Kind, Workbook),
    /// Looks like a spreadsheet but is unreadable or none of ours: `unknown_template`.
    Unusable(Unusable),
}

/// A spreadsheet and the name it was attached under.
struct Found {
    name: Option<String>,
    sheet: Sheet,
}

/// An attachment's name as staff see it on a ticket: without any folder part or
/// control characters, and at most 200 characters.
fn file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Handles one message.
pub(crate) fn handle(
    intake: &Intake<'_>,
    mailbox: Mailbox,
    waiting: &Waiting,
    raw: &[u8],
    digest: &str,
    state: &mut PassState,
    now: DateTime<Utc>,
) -> Result<Handled> {
    let mut writes = Writes::default();
    let mut notices = Vec::new();
    let config = intake.config;
    let message_id = classify::message_id_of(raw);

    let finish = |writes: Writes,
                  from: &str,
                  outcome: Outcome,
                  notices: Vec<u64>,
                  raw: &[u8]|
     -> Result<Handled> {
        let folder = if outcome.is_quarantined() {
            Folder::Quarantine
        } else {
            Folder::Processed
        };
        let record = message_record(
            mailbox,
            waiting,
            digest,
            message_id.clone(),
            from,
            outcome,
            notices,
            now,
        );
        let mut writes = writes;
        record_message(&mut writes, &record, raw)?;
        writes.audit(
            intake.store,
            now,
            &format!(
                "message_{}",
                record
                    .outcome
                    .label()
                    .split(' ')
                    .next()
                    .unwrap_or("handled")
            ),
            &digest[..12],
            None,
            None,
        )?;
        Ok(Handled {
            writes,
            record,
            folder,
        })
    };

    // Too large: quarantined unread (only its header was fetched), with a notice to a
    // human sender.
    let max = config.mail.max_message_bytes;
    if waiting.size > max || raw.len() as u64 > max {
        let from = classify::from_of(raw).unwrap_or_default();
        if !from.is_empty() && !is_own(intake, &from) {
            let request = NoticeRequest {
                kind: NoticeKind::Quarantined,
                to: &from,
                subject: "Your email to the Provider Resolution Portal was too large".to_owned(),
                about: None,
                is_reply: true,
                in_reply_to: message_id.as_deref(),
                references: &[],
                context: json!({
                    "why": "The email is larger than the portal accepts.",
                    "too_large": true,
                    "max_megabytes": config.mail.max_message_bytes / (1024 * 1024),
                }),
                attachment: None,
                limited: true,
            };
            notices.extend(queue_notice(
                intake,
                &mut writes,
                &mut state.sent_counts,
                request,
                now,
            )?);
        }
        return finish(
            writes,
            &from,
            Outcome::Quarantined {
                why: "too large".to_owned(),
            },
            notices,
            raw,
        );
    }

    let Some(parsed) = classify::parse(raw) else {
        return finish(
            writes,
            "",
            Outcome::Quarantined {
                why: "not a mail message".to_owned(),
            },
            notices,
            raw,
        );
    };
    let Some(from) = parsed.from.clone() else {
        return finish(
            writes,
            "",
            Outcome::Quarantined {
                why: "no sender address".to_owned(),
            },
            notices,
            raw,
        );
    };
    if parsed.automatic.is_some() || is_own(intake, &from) {
        return finish(writes, &from, Outcome::Automatic, notices, raw);
    }
    let received_on = illinois_day(waiting.received_at);
    let reply = Reply {
        to: &from,
        message_id: message_id.as_deref(),
        references: &parsed.references,
    };

    if mailbox == Mailbox::Inquiries {
        let outcome = inquiry(
            intake,
            &mut writes,
            state,
            &parsed,
            &reply,
            waiting,
            digest,
            &mut notices,
            now,
        )?;
        return finish(writes, &from, outcome, notices, raw);
    }

    // Too many files: quarantined before any is opened (reading up to 100 workbooks,
    // each up to its unpacking limit, only to quarantine the message is wasted work).
    let sheets = if parsed.attachments_cut {
        Vec::new()
    } else {
        spreadsheets(&parsed)
    };
    if parsed.attachments_cut || sheets.len() > MAX_WORKBOOKS {
        let request = reply.answer(
            NoticeKind::Quarantined,
            "Your email to the Provider Resolution Portal carried too many files"
                .to_owned(),
            None,
            json!({ "why": format!("The email carried more files than the portal takes from one message (at most {} files, of which at most {MAX_WORKBOOKS} spreadsheets).", classify::MAX_ATTACHMENTS), "too_large": false }),
        );
        notices.extend(queue_notice(
            intake,
            &mut writes,
            &mut state.sent_counts,
            request,
            now,
        )?);
        return finish(
            writes,
            &from,
            Outcome::Quarantined {
                why: "too many attachments".to_owned(),
            },
            notices,
            raw,
        );
    }

    // Registration forms: anyone may send one (R7).
    let mut registrations = Vec::new();
    let mut complaints = Vec::new();
    for Found { name, sheet } in sheets {
        match sheet {
            Sheet::Known(
                kind @ (Kind::RegistrationForm | Kind::MultipleRegistration),
                workbook,
            ) => {
                registrations.push((kind, workbook));
            }
            other => complaints.push((name, other)),
        }
    }
    if let Some((kind, workbook)) = registrations.into_iter().next() {
        let id = register(
            intake,
            &mut writes,
            state,
            kind,
            &workbook,
            &reply,
            waiting,
            digest,
            &mut notices,
            now,
        )?;
        return finish(writes, &from, Outcome::Registration { id }, notices, raw);
    }

    if complaints.is_empty() {
        // A reply to one of our notices is kept with what it answers (R3).
        if let Some(about) = answered(intake, &parsed)? {
            correspondence(
                intake,
                &mut writes,
                state,
                &about,
                &reply,
                digest,
                &mut notices,
                now,
            )?;
            return finish(
                writes,
                &from,
                Outcome::Correspondence { about },
                notices,
                raw,
            );
        }
        let request = reply.answer(
            NoticeKind::Help,
            "How to send a complaint to the Provider Resolution Portal".to_owned(),
            None,
            json!({}),
        );
        notices.extend(queue_notice(
            intake,
            &mut writes,
            &mut state.sent_counts,
            request,
            now,
        )?);
        return finish(writes, &from, Outcome::Help, notices, raw);
    }

    // R6: registered senders only.
    let Some(registration) = intake.store.active_registration(&from)? else {
        let latest = intake.store.latest_registration(&from)?;
        let registration = match &latest {
            Some(registration) => json!({
                "id": registration.id,
                "status": registration.status,
                "earliest_completion": registration.earliest_completion.to_string(),
            }),
            None => json!({ "status": "none" }),
        };
        let request = reply.answer(
            NoticeKind::NotRegistered,
            "Your complaint could not be accepted: please register first".to_owned(),
            None,
            json!({ "sender": from, "registration": registration }),
        );
        notices.extend(queue_notice(
            intake,
            &mut writes,
            &mut state.sent_counts,
            request,
            now,
        )?);
        writes.audit(
            intake.store,
            now,
            "not_registered",
            &digest[..12],
            None,
            None,
        )?;
        return finish(writes, &from, Outcome::NotRegistered, notices, raw);
    };

    let mut ids = Vec::new();
    for (attachment, sheet) in complaints {
        let id = intake.store.allocate("PRP", received_on)?;
        file_ticket(
            intake,
            &mut writes,
            state,
            &id,
            sheet,
            attachment,
            &registration,
            &reply,
            waiting,
            digest,
            &mut notices,
            now,
        )?;
        ids.push(id);
    }
    finish(writes, &from, Outcome::Tickets { ids }, notices, raw)
}

/// Whom to answer, and the thread to answer in.
struct Reply<'a> {
    to: &'a str,
    message_id: Option<&'a str>,
    references: &'a [String],
}

impl<'a> Reply<'a> {
    /// An answer to this message: an auto-reply in its thread, counted toward the
    /// sender's daily notice limit.
    fn answer(
        &self,
        kind: NoticeKind,
        subject: String,
        about: Option<String>,
        context: serde_json::Value,
    ) -> NoticeRequest<'a> {
        NoticeRequest {
            kind,
            to: self.to,
            subject,
            about,
            is_reply: true,
            in_reply_to: self.message_id,
            references: self.references,
            context,
            attachment: None,
            limited: true,
        }
    }
}

/// One of our own addresses: never answered (no loops).
fn is_own(intake: &Intake<'_>, address: &str) -> bool {
    let config = intake.config;
    let own = intake.composer.from().email.to_string();
    [
        config.mail.intake.address.as_str(),
        config.mail.inquiries.address.as_str(),
        own.as_str(),
    ]
    .iter()
    .any(|known| known.eq_ignore_ascii_case(address))
}

/// The spreadsheets among the attachments, told by content (the workbook marker or
/// the header row), never by file name. Stops at one past [`MAX_WORKBOOKS`]: the
/// message is refused then, whatever the others are.
fn spreadsheets(parsed: &Parsed) -> Vec<Found> {
    let mut sheets = Vec::new();
    for attachment in &parsed.attachments {
        if sheets.len() > MAX_WORKBOOKS {
            break;
        }
        let sheet = match forms::read_workbook(&attachment.bytes, attachment.name.as_deref()) {
            Ok(workbook) => match forms::identify(&workbook) {
                Some(kind) => Sheet::Known(kind, workbook),
                // A readable spreadsheet that is none of ours; CSV and text files that
                // are not templates are ordinary attachments.
                None if workbook.format != forms::Format::Csv => {
                    Sheet::Unusable(Unusable::UnknownTemplate)
                }
                None => continue,
            },
            Err(ReadError::NotSpreadsheet | ReadError::Pdf | ReadError::Empty) => continue,
            Err(error) => Sheet::Unusable(Unusable::Unreadable(error)),
        };
        sheets.push(Found {
            name: attachment.name.as_deref().map(file_name),
            sheet,
        });
    }
    sheets
}

/// The ticket, registration or inquiry a reply answers: by the `[ID]` tag in its
/// subject or by one of our Message-IDs in `In-Reply-To`/`References`.
fn answered(intake: &Intake<'_>, parsed: &Parsed) -> Result<Option<String>> {
    for reference in &parsed.references {
        if intake.composer.is_ours(reference)
            && let Some(about) = intake
                .store
                .get_bytes(Tree::MessageIds, format!("notice:{reference}"))?
        {
            return Ok(Some(String::from_utf8_lossy(&about).into_owned()));
        }
    }
    for tag in &parsed.tags {
        let known = match &tag[..3] {
            "PRP" => intake.store.get_bytes(Tree::Tickets, tag)?.is_some(),
            "REG" => intake.store.get_bytes(Tree::Registrations, tag)?.is_some(),
            _ => intake.store.get_bytes(Tree::Inquiries, tag)?.is_some(),
        };
        if known {
            return Ok(Some(tag.clone()));
        }
    }
    Ok(None)
}

/// Keeps a reply with what it answers; a reply about a closed ticket learns that a new
/// submission is needed (R3). Nothing is reopened.
#[allow(clippy::too_many_arguments)]
fn correspondence(
    intake: &Intake<'_>,
    writes: &mut Writes,
    state: &mut PassState,
    about: &str,
    reply: &Reply<'_>,
    digest: &str,
    notices: &mut Vec<u64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let entry = Correspondence {
        at: now,
        message: digest.to_owned(),
    };
    if let Some(mut ticket) = intake.store.get::<Ticket>(Tree::Tickets, about)? {
        ticket.correspondence.push(entry);
        writes.put(Tree::Tickets, about, &ticket)?;
        if ticket.status == Status::Closed {
            let request = reply.answer(
                NoticeKind::NewSubmissionNeeded,
                format!("[{about}] Closed tickets are not reopened"),
                Some(about.to_owned()),
                json!({ "about": about }),
            );
            notices.extend(queue_notice(
                intake,
                writes,
                &mut state.sent_counts,
                request,
                now,
            )?);
        }
    }
    writes.audit(intake.store, now, "correspondence", about, None, None)?;
    Ok(())
}

/// A message to portal inquiries (R11): stored, and answered once.
#[allow(clippy::too_many_arguments)]
fn inquiry(
    intake: &Intake<'_>,
    writes: &mut Writes,
    state: &mut PassState,
    parsed: &Parsed,
    reply: &Reply<'_>,
    waiting: &Waiting,
    digest: &str,
    notices: &mut Vec<u64>,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let received_on = illinois_day(waiting.received_at);
    let id = intake.store.allocate("INQ", received_on)?;
    let registration = match intake.store.latest_registration(reply.to)? {
        Some(registration) => json!({
            "id": registration.id,
            "status": registration.status,
            "earliest_completion": registration.earliest_completion.to_string(),
        }),
        None => json!({ "status": "none" }),
    };
    let request = reply.answer(
        NoticeKind::InquiryAnswer,
        format!("[{id}] We received your question about the Provider Resolution Portal"),
        Some(id.clone()),
        json!({ "inquiry": { "id": id, "from": reply.to }, "registration": registration }),
    );
    let queued = queue_notice(intake, writes, &mut state.sent_counts, request, now)?;
    notices.extend(queued);
    let record = Inquiry {
        v: RECORD_VERSION,
        id: id.clone(),
        from: reply.to.to_owned(),
        received_on,
        received_at: waiting.received_at,
        subject: parsed.subject.chars().take(200).collect(),
        answered: queued.is_some(),
        message: digest.to_owned(),
    };
    writes.put(Tree::Inquiries, &id, &record)?;
    writes.audit(intake.store, now, "inquiry_received", &id, None, None)?;
    Ok(Outcome::Inquiry { id })
}

/// A registration request (R7): pending review when complete, denied when not.
#[allow(clippy::too_many_arguments)]
fn register(
    intake: &Intake<'_>,
    writes: &mut Writes,
    state: &mut PassState,
    kind: Kind,
    workbook: &Workbook,
    reply: &Reply<'_>,
    waiting: &Waiting,
    digest: &str,
    notices: &mut Vec<u64>,
    now: DateTime<Utc>,
) -> Result<String> {
    let config = intake.config;
    let received_on = illinois_day(waiting.received_at);
    let validated = forms::validate::validate_registration(workbook, kind, config.rules.max_lines);
    let mut missing = validated.report.missing.clone();
    // The registrant email must be the address the form is mailed from.
    if let Some(email) = &validated.report.email
        && !email.eq_ignore_ascii_case(reply.to)
    {
        missing.push("Registrant Email (it must be the address you send the form from)".to_owned());
    }
    let complete = validated.report.status == Completeness::Complete && missing.is_empty();
    let id = intake.store.allocate("REG", received_on)?;
    let earliest_completion = add_business_days(
        received_on,
        config.rules.registration_business_days,
        &config.rules.closure_days,
    );
    let text = |record: &Record, index: usize| record.text(index).unwrap_or("").to_owned();
    let choice = |record: &Record, index: usize, list: &[&str]| {
        record
            .choice(index)
            .and_then(|i| list.get(i))
            .map_or(String::new(), |s| (*s).to_owned())
    };
    let registrant = &validated.registrant;
    let registration = Registration {
        v: RECORD_VERSION,
        id: id.clone(),
        status: if complete {
            RegistrationStatus::Pending
        } else {
            RegistrationStatus::Denied
        },
        email: reply.to.to_owned(),
        npis: validated.report.npis.clone(),
        earliest_completion,
        missing: missing.clone(),
        received_on,
        received_at: waiting.received_at,
        registrant_name: format!("{} {}", text(registrant, 0), text(registrant, 1))
            .trim()
            .to_owned(),
        organization: text(registrant, 6),
        role: choice(registrant, 5, &crate::forms::schema::ROLES),
        username: text(registrant, 4),
        providers: validated
            .providers
            .iter()
            .map(|provider| Provider {
                name: text(provider, 0),
                npi: text(provider, 1),
                medicaid_id: text(provider, 2),
            })
            .collect(),
        message: digest.to_owned(),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
    };
    debug_assert_eq!(REGISTRANT_FIELDS[4].header, "Username");
    debug_assert_eq!(PROVIDER_FIELDS[2].header, "Provider Medicaid ID");
    writes.put(Tree::Registrations, &id, &registration)?;
    let (kind, subject) = if complete {
        (
            NoticeKind::RegistrationReceived,
            format!("[{id}] Registration received"),
        )
    } else {
        (
            NoticeKind::RegistrationDenied,
            format!("[{id}] Registration denied: information missing"),
        )
    };
    let request = reply.answer(
        kind,
        subject,
        Some(id.clone()),
        json!({ "registration": {
            "id": id,
            "email": registration.email,
            "npis": registration.npis,
            "earliest_completion": earliest_completion.to_string(),
            "missing": missing,
        }}),
    );
    notices.extend(queue_notice(
        intake,
        writes,
        &mut state.sent_counts,
        request,
        now,
    )?);
    writes.audit(
        intake.store,
        now,
        if complete {
            "registration_pending"
        } else {
            "registration_denied"
        },
        &id,
        None,
        None,
    )?;
    Ok(id)
}

/// One complaint template becomes one ticket: validated (R1–R5, R8), then R6 per
/// line and the duplicate rule, forwarded to the MCO when any line goes (R9), and
/// answered with exactly one notice.
#[allow(clippy::too_many_arguments)]
fn file_ticket(
    intake: &Intake<'_>,
    writes: &mut Writes,
    state: &mut PassState,
    id: &str,
    sheet: Sheet,
    attachment: Option<String>,
    registration: &Registration,
    reply: &Reply<'_>,
    waiting: &Waiting,
    digest: &str,
    notices: &mut Vec<u64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let config = intake.config;
    let received_on = illinois_day(waiting.received_at);
    let context = forms::Context {
        received_on,
        window: config.window(),
        max_lines: config.rules.max_lines,
        mcos: &config.mcos,
    };
    let Complaint { mut report, lines } = match sheet {
        Sheet::Known(_, workbook) => forms::validate::validate_complaint(&workbook, &context),
        Sheet::Unusable(unusable) => Complaint {
            report: unusable_report(&unusable, received_on),
            lines: Vec::new(),
        },
    };

    // R6 per line, then duplicates, for lines still on their way to the MCO.
    let mco = report.mco.clone();
    let mut forwarded_claims = Vec::new();
    for line in &lines {
        if !line_forwarded(&report, line.row) {
            continue;
        }
        let npi = line.text(claim::PROVIDER_NPI).unwrap_or("");
        if !registration.npis.iter().any(|covered| covered == npi) {
            close_line(
                &mut report,
                line.row,
                Reason::NpiNotRegistered,
                "Provider NPI",
                format!(
                    "The NPI {npi} is not covered by your registration {}",
                    registration.id
                ),
            );
            continue;
        }
        let tracking = line
            .text(claim::TRACKING_NUMBER)
            .unwrap_or("")
            .trim()
            .to_owned();
        let claim_number = line
            .text(claim::CLAIM_NUMBER)
            .unwrap_or("")
            .trim()
            .to_owned();
        let key = format!(
            "{}|{}|{}",
            mco.as_deref().unwrap_or(""),
            tracking.to_uppercase(),
            claim_number.to_uppercase()
        );
        let earlier = match state.forwarded.get(&key) {
            Some(ticket) => Some(ticket.clone()),
            None => intake.store.forwarded_claim(&key)?,
        };
        if let Some(earlier) = earlier {
            close_line(
                &mut report,
                line.row,
                Reason::Duplicate,
                "Claim Number",
                format!(
                    "This claim (MCO tracking number {tracking}) was already sent to the MCO with ticket {earlier}"
                ),
            );
            continue;
        }
        state.forwarded.insert(key.clone(), id.to_owned());
        writes.put_bytes(Tree::Forwarded, &key, id.as_bytes().to_vec());
        forwarded_claims.push(ClaimKey {
            row: line.row,
            tracking_number: tracking,
            claim_number,
        });
    }
    crate::failpoint::fail("handle_error")?;
    report.status = if report
        .lines
        .iter()
        .any(|line| line.status == Status::Forwarded)
    {
        Status::Forwarded
    } else {
        Status::Closed
    };

    let forwarded = report.status == Status::Forwarded;
    let presented_by = forwarded.then(|| {
        add_business_days(
            received_on,
            config.rules.presented_within_business_days,
            &config.rules.closure_days,
        )
    });
    let response_due =
        forwarded.then(|| received_on + Days::new(u64::from(config.rules.response_days)));
    let ticket = Ticket {
        v: RECORD_VERSION,
        id: id.to_owned(),
        status: report.status,
        mco: report.mco.clone(),
        received_on,
        received_at: waiting.received_at,
        sender: reply.to.to_owned(),
        reason: report.reason,
        presented_by,
        response_due,
        lines: report.lines.clone(),
        problems: report.problems.clone(),
        forwarded_claims: forwarded_claims.clone(),
        message: digest.to_owned(),
        attachment,
        correspondence: Vec::new(),
        notice_failures: Vec::new(),
    };
    writes.put(Tree::Tickets, id, &ticket)?;
    writes.audit(
        intake.store,
        now,
        if forwarded {
            "ticket_forwarded"
        } else {
            "ticket_closed"
        },
        id,
        None,
        None,
    )?;

    let mco_record = report
        .mco
        .as_deref()
        .and_then(|code| config.mcos.iter().find(|mco| mco.code == code));
    let mco_name = mco_record.map_or_else(|| "the MCO".to_owned(), |mco| mco.name.clone());
    let view = ticket_view(&ticket, &forwarded_claims, &mco_name);
    let all_forwarded = report
        .lines
        .iter()
        .all(|line| line.status == Status::Forwarded)
        && forwarded;
    let (kind, subject) = if all_forwarded {
        (
            NoticeKind::Accepted,
            format!("[{id}] Complaint accepted and sent to {mco_name}"),
        )
    } else if forwarded {
        (
            NoticeKind::Closed,
            format!("[{id}] Complaint partly closed: some lines need your attention"),
        )
    } else {
        (
            NoticeKind::Closed,
            format!("[{id}] Complaint closed: please correct and send again"),
        )
    };
    let request = reply.answer(
        kind,
        subject,
        Some(id.to_owned()),
        json!({ "ticket": view }),
    );
    notices.extend(queue_notice(
        intake,
        writes,
        &mut state.sent_counts,
        request,
        now,
    )?);

    // R9: the accepted lines go to the MCO's dispute mailbox as a workbook.
    if let Some(mco) = mco_record.filter(|_| forwarded) {
        let accepted: Vec<Record> = lines
            .iter()
            .filter(|line| line_forwarded(&report, line.row))
            .cloned()
            .collect();
        let workbook =
            forms::write::complaint_with_lines(&config.mcos, &config.rules, &accepted)
                .map_err(|error| anyhow::anyhow!("cannot write the MCO's workbook: {error}"))?;
        let request = NoticeRequest {
            kind: NoticeKind::McoForward,
            to: &mco.dispute_address,
            subject: format!(
                "[{id}] Provider complaint forwarded by Illinois HFS ({} line{})",
                accepted.len(),
                if accepted.len() == 1 { "" } else { "s" }
            ),
            about: Some(id.to_owned()),
            is_reply: false,
            in_reply_to: None,
            references: &[],
            context: json!({ "ticket": view }),
            attachment: Some((format!("{id}.xlsx"), workbook, XLSX_MIME)),
            limited: false,
        };
        notices.extend(queue_notice(
            intake,
            writes,
            &mut state.sent_counts,
            request,
            now,
        )?);
    }
    Ok(())
}

fn line_forwarded(report: &ComplaintReport, row: u32) -> bool {
    report
        .lines
        .iter()
        .any(|line| line.row == row && line.status == Status::Forwarded)
}

/// Closes one line for a rule intake applies after validation.
fn close_line(
    report: &mut ComplaintReport,
    row: u32,
    reason: Reason,
    column: &str,
    message: String,
) {
    if let Some(line) = report.lines.iter_mut().find(|line| line.row == row) {
        *line = LineOutcome {
            row,
            status: Status::Closed,
            reason: Some(reason),
        };
    }
    report.problems.push(Problem {
        sheet: Some("Claims".to_owned()),
        row: Some(row),
        column: Some(column.to_owned()),
        reason,
        message: format!("{message}."),
    });
    report
        .problems
        .sort_by_key(|problem| (problem.row.is_some(), problem.row));
}

/// An attachment that is no known workbook: a closed ticket (`unknown_template`).
fn unusable_report(unusable: &Unusable, received_on: chrono::NaiveDate) -> ComplaintReport {
    let text = unusable.to_string();
    let mut message: String = text
        .chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    message.push_str(&text.chars().skip(1).collect::<String>());
    message.push('.');
    ComplaintReport {
        status: Status::Closed,
        mco: None,
        received_on,
        reason: Some(Reason::UnknownTemplate),
        lines: Vec::new(),
        problems: vec![Problem {
            sheet: None,
            row: None,
            column: None,
            reason: Reason::UnknownTemplate,
            message,
        }],
    }
}

/// What the ticket notices show: ids, rows, columns, tracking numbers; never PHI.
fn ticket_view(ticket: &Ticket, forwarded: &[ClaimKey], mco_name: &str) -> serde_json::Value {
    let closed: Vec<_> = ticket
        .lines
        .iter()
        .filter(|line| line.status == Status::Closed)
        .map(|line| json!({ "row": line.row, "reason": line.reason }))
        .collect();
    let problems: Vec<_> = ticket
        .problems
        .iter()
        .map(|problem| {
            json!({
                "row": problem.row,
                "column": problem.column,
                "message": problem.message,
                "reason": problem.reason,
                "fix": problem.reason.fix(),
            })
        })
        .collect();
    json!({
        "id": ticket.id,
        "status": ticket.status,
        "mco_name": mco_name,
        "received_on": ticket.received_on.to_string(),
        "presented_by": ticket.presented_by.map(|day| day.to_string()),
        "response_due": ticket.response_due.map(|day| day.to_string()),
        "reason": ticket.reason,
        "reason_text": ticket.reason.map(Reason::fix),
        "forwarded": forwarded.iter().map(|claim| json!({ "row": claim.row, "tracking": claim.tracking_number })).collect::<Vec<_>>(),
        "closed": closed,
        "problems": problems,
    })
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn an_attachment_name_loses_folders_and_control_characters() {
        assert_eq!(file_name("claims.xlsx"), "claims.xlsx");
        assert_eq!(file_name("../../etc/claims\u{7}\r\n.xlsx"), "claims.xlsx");
        assert_eq!(file_name("C:\\Users\\x\\Q4 claims.xlsx"), "Q4 claims.xlsx");
        assert_eq!(file_name(&"a".repeat(500)).len(), 200);
    }
}
