//! `portal tickets list|show|export|extend|resolve`.

use std::io::Write;

use anyhow::{Result, bail};
use chrono::{NaiveDate, Utc};

use super::access::Access;
use super::render::{self, Listing, date_or_dash, or_dash, plain, short_hash};
use crate::cli::{TicketFilterArgs, TicketsAction};
use crate::config::Config;
use crate::forms::Status;
use crate::ids::TicketId;
use crate::staff::{
    ExtensionDecision, TicketDecided, TicketFilter, TicketView, extend, refused, resolve,
    write_tickets_csv,
};
use crate::store::{Extension, ExtensionStatus, Resolution, Ticket, Tree};
use crate::today::today_in_illinois;

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    action: TicketsAction,
    out: &mut dyn Write,
) -> Result<()> {
    match action {
        TicketsAction::List { filter, json } => list(config, access, filter, json, out),
        TicketsAction::Show { id, json } => {
            let id: TicketId = id.parse()?;
            let store = access.store(config)?;
            let Some(ticket) = store.record::<Ticket>(id)? else {
                return Err(refused(format!("there is no ticket {id}")));
            };
            if json {
                render::json(out, &TicketView::new(&ticket, today_in_illinois()))
            } else {
                show(config, &ticket, today_in_illinois(), out)
            }
        }
        TicketsAction::Export { csv: _, json } => {
            let store = access.store(config)?;
            let tickets = store.all::<Ticket>(Tree::Tickets)?;
            drop(store);
            if json {
                let today = today_in_illinois();
                let views: Vec<TicketView<'_>> = tickets
                    .iter()
                    .map(|ticket| TicketView::new(ticket, today))
                    .collect();
                render::json(out, &views)
            } else {
                write_tickets_csv(&tickets, out)
            }
        }
        TicketsAction::Extend {
            id,
            by,
            deny,
            reason,
            json,
        } => {
            let id: TicketId = id.parse()?;
            let decision = if deny {
                ExtensionDecision::Deny
            } else {
                ExtensionDecision::Grant
            };
            let deciding = access.deciding(config)?;
            let intake = deciding.intake(config);
            let decided = extend(&intake, id, decision, &by, reason.as_deref(), Utc::now())?;
            say_decided(&decided, json, out)
        }
        TicketsAction::Resolve {
            id,
            outcome,
            by,
            note,
            json,
        } => {
            let id: TicketId = id.parse()?;
            let deciding = access.deciding(config)?;
            let intake = deciding.intake(config);
            let decided = resolve(&intake, id, outcome, &by, note.as_deref(), Utc::now())?;
            say_decided(&decided, json, out)
        }
    }
}

/// `portal tickets list [filters] [--json]`.
fn list(
    config: &Config,
    access: Access<'_>,
    args: TicketFilterArgs,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    // A filter that can match nothing is a mistake to name, not an empty list.
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        bail!("--since {since} is after --until {until}: no day is in between");
    }
    let filter = TicketFilter {
        status: args.status,
        mco: args.mco,
        sender: args.sender,
        npi: args.npi,
        tracking: args.tracking,
        since: args.since,
        until: args.until,
        overdue: args.overdue,
    };
    let store = access.store(config)?;
    let today = today_in_illinois();
    let all = store.all::<Ticket>(Tree::Tickets)?;
    if let Some(code) = filter.mco.as_deref() {
        let known = |known: &str| known.eq_ignore_ascii_case(code.trim());
        let configured = config.mcos.iter().any(|mco| known(&mco.code));
        if !configured
            && !all
                .iter()
                .any(|ticket| ticket.mco.as_deref().is_some_and(known))
        {
            let codes: Vec<&str> = config.mcos.iter().map(|mco| mco.code.as_str()).collect();
            bail!(
                "--mco {code}: no MCO has that code; the codes are {}",
                codes.join(", ")
            );
        }
    }
    let tickets: Vec<Ticket> = all
        .into_iter()
        .filter(|ticket| filter.matches(ticket, today))
        .collect();
    let listing = Listing {
        empty: if filter == TicketFilter::default() {
            "No tickets."
        } else {
            "No tickets match."
        },
        ..LISTING
    };
    listing.print(
        out,
        json,
        &tickets,
        |ticket| TicketView::new(ticket, today),
        |ticket| row(ticket, today),
    )
}

const LISTING: Listing<'static> = Listing {
    empty: "No tickets.",
    headers: &[
        "ID",
        "STATUS",
        "MCO",
        "RECEIVED",
        "SENDER",
        "FORWARDED",
        "REASON",
        "RESPONSE DUE",
        "RESPONDED",
    ],
    noun: ("ticket", "tickets"),
};

fn row(ticket: &Ticket, today: NaiveDate) -> Vec<String> {
    let forwarded = ticket
        .lines
        .iter()
        .filter(|line| line.status == Status::Forwarded)
        .count();
    let mut due = date_or_dash(ticket.response_due);
    if ticket.is_overdue(today) {
        due.push_str(" OVERDUE");
    }
    vec![
        ticket.id.to_string(),
        ticket.status.to_string(),
        or_dash(ticket.mco.as_deref()),
        ticket.received_on.to_string(),
        ticket.sender.clone(),
        format!("{forwarded}/{}", ticket.lines.len()),
        or_dash(ticket.reason),
        due,
        responded(ticket),
    ]
}

/// The day of the first proposal, and whether it came late.
fn responded(ticket: &Ticket) -> String {
    match ticket.responded_on {
        Some(day) if ticket.late => format!("{day} (late)"),
        Some(day) => day.to_string(),
        None => "-".to_owned(),
    }
}

fn show(config: &Config, ticket: &Ticket, today: NaiveDate, out: &mut dyn Write) -> Result<()> {
    let mco = match ticket.mco.as_deref() {
        Some(code) => match config.mco(code) {
            Some(mco) => format!("{code} ({})", mco.name),
            None => code.to_owned(),
        },
        None => "-".to_owned(),
    };
    writeln!(out, "Ticket {}: {}", ticket.id, ticket.status)?;
    let received = format!(
        "{} ({})",
        ticket.received_on,
        ticket.received_at.format("%Y-%m-%d %H:%M UTC")
    );
    let overdue = if ticket.is_overdue(today) {
        "yes"
    } else {
        "no"
    };
    let mut fields = vec![
        ("MCO", mco),
        ("Received", received),
        ("Sender", plain(&ticket.sender)),
        ("Reason", or_dash(ticket.reason)),
        ("Presented by", date_or_dash(ticket.presented_by)),
        ("Presented on", date_or_dash(ticket.presented_on)),
        ("Response due", date_or_dash(ticket.response_due)),
        ("Responded on", responded(ticket)),
        ("Overdue", overdue.to_owned()),
        ("Extension", extension(ticket.extension.as_ref())),
        ("Resolution", resolution(ticket.resolution.as_ref())),
    ];
    if let Some(note) = ticket.resolution.as_ref().and_then(|r| r.note.as_deref()) {
        fields.push(("Note", plain(note)));
    }
    fields.extend([
        ("Message", short_hash(&ticket.message).to_owned()),
        (
            "Attachment",
            or_dash(ticket.attachment.as_deref().map(plain)),
        ),
        ("Replies kept", ticket.correspondence.len().to_string()),
        ("Proposals kept", ticket.proposals.len().to_string()),
    ]);
    render::fields(out, 16, &fields)?;
    lines(ticket, out)?;
    writeln!(out, "Problems ({}):", ticket.problems.len())?;
    if ticket.problems.is_empty() {
        writeln!(out, "  none")?;
    }
    for problem in &ticket.problems {
        writeln!(out, "  {}", plain(&problem.describe(true)))?;
    }
    timeline(ticket, out)?;
    notice_failures(ticket, out)
}

fn extension(extension: Option<&Extension>) -> String {
    let Some(extension) = extension else {
        return "-".to_owned();
    };
    let asked = format!(
        "requested by the {} on {}",
        match extension.requested_by {
            crate::store::Party::Provider => "provider",
            crate::store::Party::Mco => "MCO",
        },
        extension.requested_on
    );
    let by = extension.by.as_deref().map(plain).unwrap_or_default();
    match extension.status {
        ExtensionStatus::Requested => format!("{asked}; not decided yet"),
        ExtensionStatus::Granted => format!("{asked}; granted by {by}"),
        ExtensionStatus::Denied => format!(
            "{asked}; declined by {by}: {}",
            plain(extension.reason.as_deref().unwrap_or("-"))
        ),
    }
}

fn resolution(resolution: Option<&Resolution>) -> String {
    resolution.map_or_else(
        || "-".to_owned(),
        |resolution| {
            format!(
                "{} on {} by {}",
                resolution.outcome,
                resolution.on,
                plain(&resolution.by)
            )
        },
    )
}

fn lines(ticket: &Ticket, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "Lines ({}):", ticket.lines.len())?;
    if ticket.lines.is_empty() {
        writeln!(out, "  none")?;
        return Ok(());
    }
    let rows = ticket
        .lines
        .iter()
        .map(|line| {
            vec![
                line.row.to_string(),
                line.status.to_string(),
                or_dash(line.reason),
                or_dash(line.npi.as_deref()),
                or_dash(line.tracking_number.as_deref()),
                or_dash(line.decision.map(|decision| decision.label())),
            ]
        })
        .collect();
    render::table(
        out,
        "  ",
        &["ROW", "STATUS", "REASON", "NPI", "TRACKING", "DECISION"],
        rows,
    )
}

fn timeline(ticket: &Ticket, out: &mut dyn Write) -> Result<()> {
    let events = ticket.timeline();
    writeln!(out, "Timeline ({}):", events.len())?;
    let rows = events
        .iter()
        .map(|event| {
            vec![
                event.on.to_string(),
                event.what.to_string(),
                event.by.clone().unwrap_or_default(),
            ]
        })
        .collect();
    render::table(out, "  ", &["DAY", "EVENT", "BY"], rows)
}

fn notice_failures(ticket: &Ticket, out: &mut dyn Write) -> Result<()> {
    if ticket.notice_failures.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "Notices refused for good ({}):",
        ticket.notice_failures.len()
    )?;
    for failure in &ticket.notice_failures {
        writeln!(
            out,
            "  notice {} ({}) at {}: {}",
            failure.notice,
            failure.kind,
            failure.at.format("%Y-%m-%d %H:%M UTC"),
            plain(&failure.error)
        )?;
    }
    Ok(())
}

/// What an extend or resolve did, and how each notice fared.
fn say_decided(decided: &TicketDecided, json: bool, out: &mut dyn Write) -> Result<()> {
    let ticket = &decided.ticket;
    if json {
        return render::json(out, &TicketView::new(ticket, today_in_illinois()));
    }
    let id = ticket.id;
    let done = match (&ticket.resolution, &ticket.extension) {
        (Some(resolution), _) => format!(
            "Resolved ticket {id} as {} on {}",
            resolution.outcome, resolution.on
        ),
        (None, Some(extension)) if extension.status == ExtensionStatus::Granted => format!(
            "Granted more time on ticket {id}: the response is now due {}",
            date_or_dash(ticket.response_due)
        ),
        _ => format!(
            "Declined more time on ticket {id}: the response stays due {}",
            date_or_dash(ticket.response_due)
        ),
    };
    writeln!(out, "{done}; recorded in the audit trail.")?;
    for notice in &decided.notices {
        render::delivery(out, &notice.to, &notice.delivery)?;
    }
    Ok(())
}
