//! `portal tickets list|show|export`.

use std::io::Write;

use anyhow::{Result, bail};

use super::render::{self, Listing, date_or_dash, or_dash, plain, short_hash};
use crate::cli::TicketsAction;
use crate::config::Config;
use crate::forms::Status;
use crate::ids::TicketId;
use crate::staff::{TicketView, write_tickets_csv};
use crate::store::{Store, Ticket, Tree};

pub(super) fn run(config: &Config, action: TicketsAction, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.store.path)?;
    match action {
        TicketsAction::List { json } => {
            let tickets = store.all::<Ticket>(Tree::Tickets)?;
            let today = crate::today::today_in_illinois();
            LISTING.print(
                out,
                json,
                &tickets,
                |ticket| TicketView::new(ticket, today),
                row,
            )
        }
        TicketsAction::Show { id, json } => {
            let id: TicketId = id.parse()?;
            let Some(ticket) = store.record::<Ticket>(id)? else {
                bail!("there is no ticket {id}");
            };
            if json {
                render::json(
                    out,
                    &TicketView::new(&ticket, crate::today::today_in_illinois()),
                )
            } else {
                show(config, &ticket, out)
            }
        }
        TicketsAction::Export { csv: _, json } => {
            let tickets = store.all::<Ticket>(Tree::Tickets)?;
            drop(store);
            if json {
                let today = crate::today::today_in_illinois();
                let views: Vec<TicketView<'_>> = tickets
                    .iter()
                    .map(|ticket| TicketView::new(ticket, today))
                    .collect();
                render::json(out, &views)
            } else {
                write_tickets_csv(&tickets, out)
            }
        }
    }
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
    ],
    noun: ("ticket", "tickets"),
};

fn row(ticket: &Ticket) -> Vec<String> {
    let forwarded = ticket
        .lines
        .iter()
        .filter(|line| line.status == Status::Forwarded)
        .count();
    vec![
        ticket.id.to_string(),
        ticket.status.to_string(),
        or_dash(ticket.mco.as_deref()),
        ticket.received_on.to_string(),
        ticket.sender.clone(),
        format!("{forwarded}/{}", ticket.lines.len()),
        or_dash(ticket.reason),
        date_or_dash(ticket.response_due),
    ]
}

fn show(config: &Config, ticket: &Ticket, out: &mut dyn Write) -> Result<()> {
    let mco = match ticket.mco.as_deref() {
        Some(code) => match config.mcos.iter().find(|mco| mco.code == code) {
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
    render::fields(
        out,
        14,
        &[
            ("MCO", mco),
            ("Received", received),
            ("Sender", plain(&ticket.sender)),
            ("Reason", or_dash(ticket.reason)),
            ("Presented by", date_or_dash(ticket.presented_by)),
            ("Response due", date_or_dash(ticket.response_due)),
            ("Message", short_hash(&ticket.message).to_owned()),
            (
                "Attachment",
                or_dash(ticket.attachment.as_deref().map(plain)),
            ),
            ("Replies kept", ticket.correspondence.len().to_string()),
        ],
    )?;
    writeln!(out, "Lines ({}):", ticket.lines.len())?;
    if ticket.lines.is_empty() {
        writeln!(out, "  none")?;
    } else {
        let rows = ticket
            .lines
            .iter()
            .map(|line| {
                vec![
                    line.row.to_string(),
                    line.status.to_string(),
                    or_dash(line.reason),
                ]
            })
            .collect();
        render::table(out, "  ", &["ROW", "STATUS", "REASON"], rows)?;
    }
    writeln!(out, "Problems ({}):", ticket.problems.len())?;
    if ticket.problems.is_empty() {
        writeln!(out, "  none")?;
    }
    for problem in &ticket.problems {
        writeln!(out, "  {}", plain(&problem.describe(true)))?;
    }
    if !ticket.notice_failures.is_empty() {
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
    }
    Ok(())
}
