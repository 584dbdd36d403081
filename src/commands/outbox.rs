//! `portal outbox list|retry`.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::access::Access;
use super::render::{self, Listing, plural};
use crate::cli::OutboxAction;
use crate::config::Config;
use crate::staff::{Retried, retry};
use crate::store::{Delivery, NoticeSummary};

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    action: OutboxAction,
    out: &mut dyn Write,
) -> Result<()> {
    match action {
        OutboxAction::List { json } => {
            let store = access.store(config)?;
            // Summaries only: the notices' bodies are never read to list them.
            let notices = store.notice_summaries()?;
            let listing = Listing {
                empty: "The outbox is empty.",
                headers: &[
                    "ID",
                    "KIND",
                    "ABOUT",
                    "TO",
                    "CREATED (UTC)",
                    "DELIVERY",
                    "SUBJECT",
                ],
                noun: ("notice", "notices"),
            };
            listing.print_with(out, json, &notices, |notice| notice, row, tally)
        }
        OutboxAction::Retry { failed, json } => {
            let deciding = access.deciding(config)?;
            let intake = deciding.intake(config);
            let retried = retry(&intake, failed, Utc::now())?;
            if json {
                return render::json(out, &retried);
            }
            let Retried {
                requeued,
                sent,
                waiting,
                failed: refused,
            } = retried;
            if failed {
                writeln!(
                    out,
                    "Put {requeued} failed notice{} back in the queue.",
                    plural(requeued)
                )?;
            }
            writeln!(
                out,
                "Sent {sent} notice{}; {waiting} still waiting; {refused} failed.",
                plural(sent)
            )?;
            Ok(())
        }
    }
}

/// "S sent, W waiting, F failed" (and ", X suppressed" when the daily limit held any).
fn tally(notices: &[NoticeSummary]) -> String {
    let count = |state: fn(&Delivery) -> bool| {
        notices
            .iter()
            .filter(|notice| state(&notice.delivery))
            .count()
    };
    let sent = count(|delivery| matches!(delivery, Delivery::Sent { .. }));
    let waiting = count(Delivery::is_waiting);
    let failed = count(|delivery| matches!(delivery, Delivery::Failed { .. }));
    let suppressed = count(|delivery| matches!(delivery, Delivery::Suppressed { .. }));
    let mut text = format!("{sent} sent, {waiting} waiting, {failed} failed");
    if suppressed > 0 {
        text.push_str(&format!(", {suppressed} suppressed by the daily limit"));
    }
    text
}

fn row(notice: &NoticeSummary) -> Vec<String> {
    vec![
        notice.id.to_string(),
        notice.kind.to_string(),
        notice
            .about
            .map_or_else(|| "-".to_owned(), |about| about.to_string()),
        notice.to.clone(),
        notice.created_at.format("%Y-%m-%d %H:%M").to_string(),
        delivery_text(&notice.delivery),
        notice.subject.clone(),
    ]
}

fn delivery_text(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Pending { attempts: 0, .. } => "pending".to_owned(),
        Delivery::Pending {
            attempts,
            last_error,
            next_attempt,
        } => format!(
            "pending ({attempts} attempt{}: {}{})",
            plural(*attempts as usize),
            last_error.as_deref().unwrap_or("-"),
            next_attempt
                .map(|at| format!("; next try {}", at.format("%Y-%m-%d %H:%M")))
                .unwrap_or_default()
        ),
        Delivery::Sent { at } => format!("sent {}", at.format("%Y-%m-%d %H:%M")),
        Delivery::Failed { at, error } => {
            format!("failed {}: {error}", at.format("%Y-%m-%d %H:%M"))
        }
        Delivery::Suppressed { at } => {
            format!("suppressed {} (daily limit)", at.format("%Y-%m-%d %H:%M"))
        }
    }
}
