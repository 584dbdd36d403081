//! `portal registrations list|show|approve|deny|revoke`.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::access::Access;
use super::render::{self, Listing, plain, short_hash};
use crate::cli::{Decide, RegistrationsAction};
use crate::config::Config;
use crate::ids::RegistrationId;
use crate::staff::{Decided, Decision, RegistrationView, decide, refused};
use crate::store::{Registration, Tree};

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    action: RegistrationsAction,
    out: &mut dyn Write,
) -> Result<()> {
    match action {
        RegistrationsAction::List { json } => {
            let store = access.store(config)?;
            let registrations = store.all::<Registration>(Tree::Registrations)?;
            LISTING.print(out, json, &registrations, RegistrationView::from, row)
        }
        RegistrationsAction::Show { id, json } => {
            let id: RegistrationId = id.parse()?;
            let store = access.store(config)?;
            let Some(registration) = store.record::<Registration>(id)? else {
                return Err(refused(format!("there is no registration {id}")));
            };
            if json {
                render::json(out, &RegistrationView::from(&registration))
            } else {
                show(&registration, out)
            }
        }
        RegistrationsAction::Approve(args) => {
            decision(config, access, Decision::Approve, args, out)
        }
        RegistrationsAction::Deny(args) => {
            decision(config, access, Decision::Deny, args.into(), out)
        }
        RegistrationsAction::Revoke(args) => {
            decision(config, access, Decision::Revoke, args.into(), out)
        }
    }
}

const LISTING: Listing<'static> = Listing {
    empty: "No registrations.",
    headers: &[
        "ID",
        "STATUS",
        "EMAIL",
        "NPIS",
        "EARLIEST COMPLETION",
        "MISSING",
    ],
    noun: ("registration", "registrations"),
};

fn row(registration: &Registration) -> Vec<String> {
    vec![
        registration.id.to_string(),
        registration.status.to_string(),
        registration.email.clone(),
        registration.npis.join(", "),
        registration.earliest_completion.to_string(),
        list_or_dash(&registration.missing),
    ]
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

fn show(registration: &Registration, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "Registration {}: {}",
        registration.id, registration.status
    )?;
    let decided = match (&registration.decided_by, registration.decided_at) {
        (Some(by), Some(at)) => format!("by {} on {}", plain(by), at.format("%Y-%m-%d %H:%M UTC")),
        (Some(by), None) => format!("by {}", plain(by)),
        _ => "-".to_owned(),
    };
    let received = format!(
        "{} ({})",
        registration.received_on,
        registration.received_at.format("%Y-%m-%d %H:%M UTC")
    );
    render::fields(
        out,
        21,
        &[
            ("Email", plain(&registration.email)),
            ("Registrant", plain(&registration.registrant_name)),
            ("Role", plain(&registration.role)),
            ("Organization", plain(&registration.organization)),
            ("Received", received),
            (
                "Earliest completion",
                registration.earliest_completion.to_string(),
            ),
            ("NPIs", list_or_dash(&registration.npis)),
            ("Missing", plain(&list_or_dash(&registration.missing))),
            ("Decided", decided),
            (
                "Decision reason",
                registration
                    .decision_reason
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), plain),
            ),
            ("Message", short_hash(&registration.message).to_owned()),
        ],
    )?;
    writeln!(out, "Providers ({}):", registration.providers.len())?;
    if registration.providers.is_empty() {
        writeln!(out, "  none")?;
        return Ok(());
    }
    let rows = registration
        .providers
        .iter()
        .map(|provider| {
            vec![
                provider.npi.clone(),
                provider.medicaid_id.clone(),
                provider.name.clone(),
            ]
        })
        .collect();
    render::table(out, "  ", &["NPI", "MEDICAID ID", "NAME"], rows)
}

/// `portal registrations approve|deny|revoke ID --by NAME [--reason TEXT]`.
fn decision(
    config: &Config,
    access: Access<'_>,
    decision: Decision,
    args: Decide,
    out: &mut dyn Write,
) -> Result<()> {
    let id: RegistrationId = args.id.parse()?;
    let deciding = access.deciding(config)?;
    let intake = deciding.intake(config);
    let Decided {
        registration,
        delivery,
    } = decide(
        &intake,
        id,
        decision,
        &args.by,
        args.reason.as_deref(),
        Utc::now(),
    )?;
    if args.json {
        return render::json(out, &RegistrationView::from(&registration));
    }
    let done = match decision {
        Decision::Approve => "Approved",
        Decision::Deny => "Denied",
        Decision::Revoke => "Revoked",
    };
    let email = plain(&registration.email);
    writeln!(
        out,
        "{done} registration {id} ({email}) as {}; recorded in the audit trail{}.",
        plain(args.by.trim()),
        registration
            .decision_reason
            .as_deref()
            .map(|reason| format!(" with the reason \"{}\"", plain(reason)))
            .unwrap_or_default()
    )?;
    render::delivery(out, &email, &delivery)
}
