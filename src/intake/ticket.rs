//! Complaint templates from a registered sender. Each template becomes one ticket:
//! validated (R1–R5, R8), then checked line by line against the sender's
//! registration (R6) and against claims already forwarded (`duplicate`), forwarded
//! to the MCO when any line goes (R9), and answered with exactly one notice.

use anyhow::{Result, anyhow};
use chrono::Days;
use serde_json::json;

use super::context::{Ctx, Reply};
use super::notices::NoticeRequest;
use super::sheets::{Found, Sheet};
use crate::config::Mco;
use crate::forms::schema::{MCO_DECISIONS, claim};
use crate::forms::{
    self, Complaint, ComplaintReport, Kind, LineOutcome, Problem, Reason, Record, Status, Unusable,
    is_safe_tracking_number,
};
use crate::ids::TicketId;
use crate::mail::notice::NoticeKind;
use crate::rules::add_business_days;
use crate::store::{ClaimKey, EventKind, RECORD_VERSION, Registration, Ticket, TicketLine, Tree};

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Files one ticket per template, under the sender's active `registrations` (R6: the
/// NPIs they cover together). `ignored` names the spreadsheets beside the templates
/// that are none of ours: each ticket's notice names them.
pub(crate) fn handle(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    registrations: &[Registration],
    complaints: Vec<Found>,
    ignored: &[String],
) -> Result<Vec<TicketId>> {
    let mut ids = Vec::with_capacity(complaints.len());
    for found in complaints {
        let id: TicketId = ctx.intake.store.allocate(ctx.message.received_on)?;
        file(ctx, reply, registrations, id, found, ignored)?;
        ids.push(id);
    }
    Ok(ids)
}

/// One template, one ticket, one notice (and the MCO's forward when lines go).
fn file(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    registrations: &[Registration],
    id: TicketId,
    found: Found,
    ignored: &[String],
) -> Result<()> {
    let Complaint { mut report, lines } = validate(ctx, found.sheet);
    let forwarded_claims = check_lines(ctx, id, registrations, &mut report, &lines)?;
    crate::failpoint::fail("handle_error")?;
    let ticket = record(ctx, reply, id, report, &lines, forwarded_claims, found.name)?;
    let mco = ticket
        .mco
        .as_deref()
        .and_then(|code| ctx.intake.config.mcos.iter().find(|mco| mco.code == code));
    let mco_name = mco.map_or_else(|| "the MCO".to_owned(), |mco| mco.name.clone());
    let view = ticket_view(&ticket, &mco_name);
    answer(ctx, reply, &ticket, &mco_name, &view, ignored)?;
    if let Some(mco) = mco.filter(|_| ticket.status == Status::Forwarded) {
        let accepted: Vec<Record> = lines
            .into_iter()
            .filter(|line| {
                ticket
                    .line(line.row)
                    .is_some_and(|line| line.status == Status::Forwarded)
            })
            .collect();
        forward(ctx, id, mco, &accepted, view)?;
    }
    Ok(())
}

/// The template's validation report and its typed lines; an attachment that is no
/// known workbook, or an MCO's response workbook mailed in as a complaint, is a ticket
/// closed as `unknown_template`.
fn validate(ctx: &Ctx<'_>, sheet: Sheet) -> Complaint {
    let config = ctx.intake.config;
    let received_on = ctx.message.received_on;
    match sheet {
        Sheet::Known(Kind::McoResponse, _) => Complaint {
            report: Unusable::McoResponse.report(received_on),
            lines: Vec::new(),
        },
        Sheet::Known(_, workbook) => {
            let context = forms::Context {
                received_on,
                window: config.window(),
                max_lines: config.rules.max_lines,
                mcos: &config.mcos,
            };
            forms::validate::validate_complaint(&workbook, &context)
        }
        Sheet::Unusable(unusable) => Complaint {
            report: unusable.report(received_on),
            lines: Vec::new(),
        },
    }
}

/// R6 per line, then the duplicate rule, for the lines still on their way to the
/// MCO. Returns the claims that go, each recorded against this ticket.
fn check_lines(
    ctx: &mut Ctx<'_>,
    id: TicketId,
    registrations: &[Registration],
    report: &mut ComplaintReport,
    lines: &[Record],
) -> Result<Vec<ClaimKey>> {
    let mco = report.mco.clone().unwrap_or_default();
    let mut forwarded = Vec::new();
    for line in lines {
        if !is_forwarded(&report.lines, line.row) {
            continue;
        }
        let npi = line.text(claim::PROVIDER_NPI).unwrap_or("");
        let covered = registrations
            .iter()
            .any(|registration| registration.npis.iter().any(|covered| covered == npi));
        if !covered {
            let ids: Vec<String> = registrations
                .iter()
                .map(|registration| registration.id.to_string())
                .collect();
            let message = match ids.as_slice() {
                [one] => format!("The NPI {npi} is not covered by your registration {one}"),
                many => format!(
                    "The NPI {npi} is not covered by any of your registrations ({})",
                    many.join(", ")
                ),
            };
            close_line(
                report,
                line.row,
                Reason::NpiNotRegistered,
                "Provider NPI",
                message,
            );
            continue;
        }
        let tracking = line.text(claim::TRACKING_NUMBER).unwrap_or("").trim();
        let claim_number = line.text(claim::CLAIM_NUMBER).unwrap_or("").trim();
        let key = format!(
            "{mco}|{}|{}",
            tracking.to_uppercase(),
            claim_number.to_uppercase()
        );
        let earlier = match ctx.state.forwarded.get(&key) {
            Some(ticket) => Some(ticket.to_string()),
            None => ctx.intake.store.forwarded_claim(&key)?,
        };
        if let Some(earlier) = earlier {
            // R10: a tracking number is repeated only when it has the safe shape.
            let message = if is_safe_tracking_number(tracking) {
                format!(
                    "This claim (MCO tracking number {tracking}) was already sent to the MCO with ticket {earlier}"
                )
            } else {
                format!("This claim was already sent to the MCO with ticket {earlier}")
            };
            close_line(report, line.row, Reason::Duplicate, "Claim Number", message);
            continue;
        }
        ctx.state.forwarded.insert(key.clone(), id);
        ctx.writes
            .put_bytes(Tree::Forwarded, &key, id.to_string().into_bytes());
        forwarded.push(ClaimKey {
            row: line.row,
            tracking_number: tracking.to_owned(),
            claim_number: claim_number.to_owned(),
        });
    }
    report.status = if report
        .lines
        .iter()
        .any(|line| line.status == Status::Forwarded)
    {
        Status::Forwarded
    } else {
        Status::Closed
    };
    Ok(forwarded)
}

/// The ticket, with its due dates when it goes to the MCO (R9), added to the writes.
fn record(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    id: TicketId,
    report: ComplaintReport,
    records: &[Record],
    forwarded_claims: Vec<ClaimKey>,
    attachment: Option<String>,
) -> Result<Ticket> {
    let rules = &ctx.intake.config.rules;
    let received_on = ctx.message.received_on;
    let forwarded = report.status == Status::Forwarded;
    // Each line keeps the NPI and tracking number it names, for staff to find it by.
    let lines = report
        .lines
        .iter()
        .map(|outcome| {
            let mut line = TicketLine::from_outcome(outcome);
            if let Some(record) = records.iter().find(|record| record.row == outcome.row) {
                let text = |column| {
                    record
                        .text(column)
                        .map(str::trim)
                        .filter(|text| !text.is_empty())
                        .map(str::to_owned)
                };
                line.npi = text(claim::PROVIDER_NPI);
                line.tracking_number = text(claim::TRACKING_NUMBER);
            }
            line
        })
        .collect();
    let mut ticket = Ticket {
        v: RECORD_VERSION,
        id,
        status: report.status,
        mco: report.mco,
        received_on,
        received_at: ctx.message.waiting.received_at,
        sender: reply.to.clone(),
        reason: report.reason,
        presented_by: forwarded.then(|| {
            add_business_days(
                received_on,
                rules.presented_within_business_days,
                &rules.closure_days,
            )
        }),
        response_due: forwarded.then(|| received_on + Days::new(u64::from(rules.response_days))),
        lines,
        problems: Problem::without_values(report.problems),
        forwarded_claims,
        message: ctx.message.digest.to_owned(),
        attachment,
        correspondence: Vec::new(),
        notice_failures: Vec::new(),
        presented_on: None,
        responded_on: None,
        late: false,
        extension: None,
        resolution: None,
        events: Vec::new(),
        proposals: Vec::new(),
        reminded: Vec::new(),
    };
    // Received on the mailbox's day; answered and forwarded on the day of this pass,
    // which is later when mail waited (an outage, a weekend, a release by staff).
    let today = super::illinois_day(ctx.message.now);
    ticket.event(received_on, EventKind::Received, None);
    ticket.event(today, EventKind::Notice, None);
    if forwarded {
        // The forward is queued in this same transaction: presented today (R9).
        ticket.presented_on = Some(today);
        ticket.event(today, EventKind::Forwarded, None);
    }
    ctx.writes.put(Tree::Tickets, id.to_string(), &ticket)?;
    let action = if forwarded {
        "ticket_forwarded"
    } else {
        "ticket_closed"
    };
    ctx.audit(action, &id.to_string())?;
    Ok(ticket)
}

/// The ticket's one notice to its sender: accepted, partly closed, or closed.
fn answer(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    ticket: &Ticket,
    mco_name: &str,
    view: &serde_json::Value,
    ignored: &[String],
) -> Result<()> {
    let id = ticket.id;
    let forwarded = ticket.status == Status::Forwarded;
    let all_forwarded = ticket
        .lines
        .iter()
        .all(|line| line.status == Status::Forwarded);
    let (kind, subject) = match (forwarded, all_forwarded) {
        (true, true) => (
            NoticeKind::Accepted,
            format!("[{id}] Complaint accepted and sent to {mco_name}"),
        ),
        (true, false) => (
            NoticeKind::Closed,
            format!("[{id}] Complaint partly closed: some lines need your attention"),
        ),
        (false, _) => (
            NoticeKind::Closed,
            format!("[{id}] Complaint closed: please correct and send again"),
        ),
    };
    ctx.answer(
        reply,
        kind,
        subject,
        Some(id.into()),
        json!({ "ticket": view, "ignored_files": ignored }),
    )?;
    Ok(())
}

/// R9: the accepted lines go to the MCO's dispute mailbox as its response workbook
/// (each line under its row in the provider's template, with a decision to fill in),
/// and the mail says how and by when to answer.
fn forward(
    ctx: &mut Ctx<'_>,
    id: TicketId,
    mco: &Mco,
    accepted: &[Record],
    view: serde_json::Value,
) -> Result<()> {
    let config = ctx.intake.config;
    let workbook =
        forms::write::mco_response(&id.to_string(), &config.mcos, &config.rules, accepted)
            .map_err(|error| anyhow!("cannot write the MCO's workbook: {error}"))?;
    let count = accepted.len();
    let name = format!("{id}.xlsx");
    ctx.notify(NoticeRequest {
        kind: NoticeKind::McoForward,
        to: &mco.dispute_address,
        subject: format!(
            "[{id}] Provider complaint forwarded by Illinois HFS ({count} line{})",
            if count == 1 { "" } else { "s" }
        ),
        about: Some(id.into()),
        is_reply: false,
        in_reply_to: None,
        references: &[],
        context: json!({ "ticket": view, "workbook": name, "decisions": MCO_DECISIONS }),
        attachment: Some((name, workbook, XLSX_MIME)),
    })?;
    Ok(())
}

fn is_forwarded(lines: &[LineOutcome], row: u32) -> bool {
    lines
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
        value: None,
    });
    report
        .problems
        .sort_by_key(|problem| (problem.row.is_some(), problem.row));
}

/// What the ticket notices show: ids, rows, columns, tracking numbers; never PHI.
fn ticket_view(ticket: &Ticket, mco_name: &str) -> serde_json::Value {
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
    // The rows behind a whole-ticket closure, so the notice can name them.
    let mut reason_rows: Vec<u32> = ticket
        .problems
        .iter()
        .filter(|problem| Some(problem.reason) == ticket.reason)
        .filter_map(|problem| problem.row)
        .collect();
    reason_rows.sort_unstable();
    reason_rows.dedup();
    let forwarded: Vec<_> = ticket
        .forwarded_claims
        .iter()
        .map(|claim| {
            // R10: a tracking number is repeated only when it has the safe shape.
            let tracking = Some(claim.tracking_number.as_str())
                .filter(|tracking| is_safe_tracking_number(tracking));
            json!({ "row": claim.row, "tracking": tracking })
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
        "reason_rows": reason_rows,
        "forwarded": forwarded,
        "closed": closed,
        "problems": problems,
    })
}
