//! Mail from an MCO after the forward (140.75(d)): a proposal on a ticket forwarded
//! to it — the first marks the ticket `responded` (on time or `late`), a returned
//! workbook records the MCO's decision per line (its comment in the store only) — and
//! mail that names no such ticket, answered at most once a day per address with a
//! request to keep the ticket id in the subject. Which ticket the mail is about is
//! told here too, for the router: the `[PRP-…]` id in the subject, else the `Ticket`
//! column of the returned workbook, and only a ticket forwarded to that MCO (R13).

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use super::illinois_day;
use super::notices::NoticeRequest;
use super::sheets::{Found, Sheet};
use crate::config::Mco;
use crate::forms::validate::{
    ResponseContext, ResponseReport, ResponseRow, ticket_of, validate_response,
};
use crate::forms::{McoDecision, Problem, Status};
use crate::ids::{RecordId, TicketId};
use crate::mail::classify::Parsed;
use crate::mail::notice::NoticeKind;
use crate::store::{
    Correspondence, EventKind, Outcome, Store, StoreResult, Ticket, Tree, sender_key,
};

/// The ticket an MCO's mail is about, and the MCO it was forwarded to: the first
/// `[PRP-…]` id of its subject, else the ticket its returned workbook names, that
/// exists and was forwarded to one of `mcos` (those the sender's address belongs to;
/// several MCOs may share one mailbox). Any other id counts for nothing (R13).
pub(crate) fn its_ticket<'c>(
    store: &Store,
    mcos: &[&'c Mco],
    parsed: &Parsed,
    response: Option<&Found>,
) -> StoreResult<Option<(Ticket, &'c Mco)>> {
    let in_subject = parsed.tags.iter().filter_map(|tag| match tag {
        RecordId::TicketId(id) => Some(*id),
        RecordId::RegistrationId(_) | RecordId::InquiryId(_) => None,
    });
    for id in in_subject.chain(response.and_then(returned_ticket)) {
        if let Some(ticket) = store.record::<Ticket>(id)?
            && let Some(mco) = mcos.iter().find(|mco| forwarded_to(&ticket, mco))
        {
            return Ok(Some((ticket, mco)));
        }
    }
    Ok(None)
}

/// The ticket went to this MCO (a ticket filed before `presented_on` was kept shows
/// its forward by its `presented_by`).
fn forwarded_to(ticket: &Ticket, mco: &Mco) -> bool {
    ticket.mco.as_deref() == Some(mco.code.as_str())
        && (ticket.presented_on.is_some() || ticket.presented_by.is_some())
}

/// The returned workbook among the spreadsheets of an MCO's mail, if any.
pub(crate) fn returned_workbook(sheets: Vec<Found>) -> Option<Found> {
    sheets.into_iter().find(Found::is_response)
}

/// The ticket a returned workbook names in its `Ticket` column.
fn returned_ticket(found: &Found) -> Option<TicketId> {
    match &found.sheet {
        Sheet::Known(_, workbook) => ticket_of(workbook)?.parse().ok(),
        Sheet::Unusable(_) => None,
    }
}

/// The returned workbook checked against the ticket's forwarded rows; its problems
/// without the cells' text (R10).
fn check_returned(ticket: &Ticket, found: &Found) -> ResponseReport {
    let Sheet::Known(_, workbook) = &found.sheet else {
        return ResponseReport {
            ticket: None,
            rows: Vec::new(),
            problems: Vec::new(),
        };
    };
    let id = ticket.id.to_string();
    let forwarded_rows = ticket.forwarded_rows();
    let context = ResponseContext {
        ticket: Some(&id),
        forwarded_rows: &forwarded_rows,
    };
    let mut report = validate_response(workbook, &context);
    report.problems = Problem::without_values(report.problems);
    report
}

/// A proposal on an open ticket of this MCO: recorded, its decisions applied, the
/// provider told, and the MCO told what its returned workbook lacks.
pub(crate) fn proposal(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    mco: &Mco,
    mut ticket: Ticket,
    response: Option<&Found>,
) -> Result<Outcome> {
    let id = ticket.id;
    let received_on = ctx.message.received_on;
    let first = ticket.responded_on.is_none();
    if first {
        ticket.responded_on = Some(received_on);
        ticket.judge_late();
    }
    ticket.status = Status::Responded;
    ticket.proposals.push(Correspondence {
        at: ctx.message.now,
        message: ctx.message.digest.to_owned(),
    });
    ticket.event(received_on, EventKind::Proposal, None);
    let returned = response.map(|found| check_returned(&ticket, found));
    if let Some(returned) = &returned
        && decide(&mut ticket, &returned.rows)
    {
        ticket.event(received_on, EventKind::Decisions, None);
    }
    ctx.writes.put(Tree::Tickets, id.to_string(), &ticket)?;
    ctx.audit("proposal", &id.to_string())?;
    tell_provider(ctx, mco, &ticket, first)?;
    if let Some(returned) = &returned {
        let missing = undecided(&ticket);
        if !missing.is_empty() {
            decisions_missing(ctx, reply, &ticket, &missing)?;
        }
        if !returned.problems.is_empty() {
            response_problems(ctx, reply, &ticket, &returned.problems)?;
        }
    }
    Ok(Outcome::Proposal { id })
}

/// Sets each valid row's decision and comment on its line (an empty cell leaves an
/// earlier decision as it was). True when any decision was set.
fn decide(ticket: &mut Ticket, rows: &[ResponseRow]) -> bool {
    let mut decided = false;
    for row in rows {
        let Some(line) = ticket
            .lines
            .iter_mut()
            .find(|line| line.row == row.row && line.status == Status::Forwarded)
        else {
            continue;
        };
        if let Some(decision) = row.decision {
            line.decision = Some(decision);
            decided = true;
        }
        if row.comment.is_some() {
            line.comment.clone_from(&row.comment);
        }
    }
    decided
}

/// The forwarded rows still without a decision, ascending.
fn undecided(ticket: &Ticket) -> Vec<u32> {
    let mut rows: Vec<u32> = ticket
        .lines
        .iter()
        .filter(|line| line.status == Status::Forwarded && line.decision.is_none())
        .map(|line| line.row)
        .collect();
    rows.sort_unstable();
    rows
}

/// `proposal_received` to the ticket's sender: the decisions by row, in the
/// drop-down's words; never the MCO's comment.
fn tell_provider(ctx: &mut Ctx<'_>, mco: &Mco, ticket: &Ticket, first: bool) -> Result<()> {
    let mut decisions: Vec<serde_json::Value> = ticket
        .lines
        .iter()
        .filter_map(|line| {
            let decision = line.decision?;
            Some(json!({ "row": line.row, "decision": decision.label() }))
        })
        .collect();
    decisions.sort_by_key(|decision| decision["row"].as_u64());
    let id = ticket.id;
    ctx.notify(NoticeRequest {
        kind: NoticeKind::ProposalReceived,
        to: &ticket.sender,
        subject: format!("[{id}] {} has answered your complaint", mco.name),
        about: Some(id.into()),
        is_reply: false,
        in_reply_to: None,
        references: &[],
        context: json!({ "ticket": {
            "id": id,
            "mco_name": mco.name,
            "first": first,
            "responded_on": ticket.responded_on.map(|day| day.to_string()),
            "response_due": ticket.response_due.map(|day| day.to_string()),
            "late": ticket.late,
            "decisions": decisions,
            "undecided": undecided(ticket),
        }}),
        attachment: None,
    })?;
    Ok(())
}

/// `decisions_missing` to the MCO address the workbook came from.
fn decisions_missing(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    ticket: &Ticket,
    rows: &[u32],
) -> Result<()> {
    let id = ticket.id;
    let list: Vec<String> = rows.iter().map(u32::to_string).collect();
    ctx.answer(
        reply,
        NoticeKind::DecisionsMissing,
        format!("[{id}] Decision missing for rows {}", list.join(", ")),
        Some(id.into()),
        json!({
            "ticket": { "id": id, "response_due": ticket.response_due.map(|day| day.to_string()) },
            "rows": rows,
            "choices": McoDecision::ALL.iter().map(|decision| decision.label()).collect::<Vec<_>>(),
        }),
    )?;
    ctx.audit("decisions_missing", &id.to_string())?;
    Ok(())
}

/// `response_problems` to the MCO address an altered workbook came from: every
/// problem by row and column, in PHI-free words.
fn response_problems(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    ticket: &Ticket,
    problems: &[Problem],
) -> Result<()> {
    let id = ticket.id;
    let problems: Vec<serde_json::Value> = problems
        .iter()
        .map(|problem| {
            json!({
                "sheet": problem.sheet,
                "row": problem.row,
                "column": problem.column,
                "message": problem.message,
            })
        })
        .collect();
    ctx.answer(
        reply,
        NoticeKind::ResponseProblems,
        format!("[{id}] Returned workbook needs correcting"),
        Some(id.into()),
        json!({ "ticket": { "id": id }, "problems": problems }),
    )?;
    ctx.audit("response_problems", &id.to_string())?;
    Ok(())
}

/// An MCO's mail that names no ticket forwarded to it: kept as correspondence
/// without a ticket (staff see it in the digest), and the address told, at most once
/// an Illinois day, to keep the ticket id in the subject. The answer is the same
/// whatever id the mail named (R13).
pub(crate) fn without_ticket(ctx: &mut Ctx<'_>, reply: &Reply) -> Result<Outcome> {
    let day = illinois_day(ctx.message.now);
    let key = format!("mco_id_missing|{}", sender_key(&reply.to, day));
    if ctx
        .intake
        .store
        .get_bytes(Tree::SenderCounts, &key)?
        .is_none()
    {
        ctx.writes
            .put_bytes(Tree::SenderCounts, &key, 1u32.to_be_bytes().to_vec());
        ctx.answer(
            reply,
            NoticeKind::McoIdMissing,
            "Please keep the ticket id in the subject".to_owned(),
            None,
            json!({}),
        )?;
    }
    let hash = ctx.message.short_hash().to_owned();
    ctx.audit("mco_mail_without_ticket", &hash)?;
    Ok(Outcome::Correspondence { id: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::LineOutcome;
    use crate::store::{RECORD_VERSION, TicketLine};

    fn ticket(rows: &[(u32, Status)]) -> Ticket {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        Ticket {
            v: RECORD_VERSION,
            id: "PRP-2026-000001".parse().unwrap(),
            status: Status::Forwarded,
            mco: Some("MOLINA".to_owned()),
            received_on: day,
            received_at: chrono::Utc::now(),
            sender: "billing@clinic.example".to_owned(),
            reason: None,
            presented_by: Some(day),
            response_due: Some(day),
            lines: rows
                .iter()
                .map(|&(row, status)| {
                    TicketLine::from_outcome(&LineOutcome {
                        row,
                        status,
                        reason: None,
                    })
                })
                .collect(),
            problems: Vec::new(),
            forwarded_claims: Vec::new(),
            message: String::new(),
            attachment: None,
            correspondence: Vec::new(),
            notice_failures: Vec::new(),
            presented_on: Some(day),
            responded_on: None,
            late: false,
            extension: None,
            resolution: None,
            events: Vec::new(),
            proposals: Vec::new(),
            reminded: Vec::new(),
        }
    }

    fn decided(row: u32, decision: Option<McoDecision>, comment: Option<&str>) -> ResponseRow {
        ResponseRow {
            row,
            decision,
            comment: comment.map(str::to_owned),
        }
    }

    #[test]
    fn decisions_go_on_forwarded_lines_and_an_empty_cell_keeps_an_earlier_one() {
        let mut ticket = ticket(&[
            (2, Status::Forwarded),
            (3, Status::Closed),
            (7, Status::Forwarded),
            (4, Status::Forwarded),
        ]);
        assert_eq!(undecided(&ticket), [2, 4, 7]);
        let first = [
            decided(7, Some(McoDecision::PaidInFull), Some("paid")),
            decided(3, Some(McoDecision::Other), None),
            decided(9, Some(McoDecision::Other), None),
        ];
        assert!(decide(&mut ticket, &first));
        assert_eq!(ticket.line(3).unwrap().decision, None, "a closed line");
        assert_eq!(undecided(&ticket), [2, 4]);
        let later = [
            decided(7, None, None),
            decided(2, Some(McoDecision::Reprocessing), None),
        ];
        assert!(decide(&mut ticket, &later));
        let seven = ticket.line(7).unwrap();
        assert_eq!(seven.decision, Some(McoDecision::PaidInFull));
        assert_eq!(seven.comment.as_deref(), Some("paid"));
        assert_eq!(undecided(&ticket), [4]);
        assert!(!decide(&mut ticket, &[decided(4, None, Some("x"))]));
        assert_eq!(ticket.line(4).unwrap().comment.as_deref(), Some("x"));
    }

    #[test]
    fn only_a_ticket_forwarded_to_this_mco_is_its_own() {
        let config = crate::config::Config::parse("").unwrap();
        let molina = config.mco("MOLINA").unwrap();
        let aetna = config.mco("AETNA").unwrap();
        let mut ticket = ticket(&[(2, Status::Forwarded)]);
        assert!(forwarded_to(&ticket, molina));
        assert!(!forwarded_to(&ticket, aetna));
        ticket.presented_on = None;
        assert!(forwarded_to(&ticket, molina), "by its presented_by");
        ticket.presented_by = None;
        assert!(!forwarded_to(&ticket, molina), "never forwarded");
    }
}
