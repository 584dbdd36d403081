//! The router: a message is parsed once and classified into the one [`Route`] it
//! takes, then handed with one [`Ctx`] to that route's function. The order of the
//! checks in [`classify`] is the portal's precedence: size before content, machines
//! before people, the inquiries mailbox before attachments, registration forms
//! (anyone may send one, R7) before complaints, and complaints only from a
//! registered sender (R6).

use anyhow::Result;

use super::context::{Ctx, Handled, Incoming, Reply};
use super::sheets::{Found, MAX_WORKBOOKS, Sheet, spreadsheets};
use super::{Intake, Mailbox, PassState};
use super::{correspondence, help, inquiry, refused, registration, ticket};
use crate::forms::{Kind, Workbook};
use crate::ids::RecordId;
use crate::mail::classify::Parsed;
use crate::store::{Outcome, Registration, Tree};

/// What a message is, and so which route handles it.
pub(crate) enum Route {
    /// Larger than the portal takes: only its header was read. `answer` when a person
    /// (not a machine, not our own address) sent it.
    TooLarge { from: Option<String>, answer: bool },
    /// Not a mail message, or one without a sender to answer: quarantined unanswered.
    Unreadable { why: &'static str },
    /// A bounce, an auto-reply, a list, or our own mail: never answered.
    Automatic { from: String },
    /// A message to portal inquiries (R11).
    Inquiry { reply: Reply, subject: String },
    /// More files than the portal takes from one message.
    TooManyFiles { reply: Reply },
    /// A registration form or multiple registration template (R7).
    Registration {
        reply: Reply,
        kind: Kind,
        workbook: Box<Workbook>,
    },
    /// A reply, without a workbook, to a notice about a ticket, registration or inquiry.
    Correspondence { reply: Reply, about: RecordId },
    /// No workbook and nothing it answers: how to send a complaint.
    Help { reply: Reply },
    /// Complaint templates from a sender without an active registration (R6).
    NotRegistered { reply: Reply },
    /// Complaint templates (or unusable spreadsheets) from a registered sender.
    Tickets {
        reply: Reply,
        registration: Box<Registration>,
        complaints: Vec<Found>,
    },
}

/// Classifies one message and handles it by its route.
pub(crate) fn handle(
    intake: &Intake<'_>,
    message: &Incoming<'_>,
    state: &mut PassState,
) -> Result<Handled> {
    let route = classify(intake, message)?;
    let mut ctx = Ctx::new(intake, message, state);
    let (from, outcome) = match route {
        Route::TooLarge { from, answer } => {
            let answer_to = from.as_deref().filter(|_| answer);
            let outcome = refused::too_large(&mut ctx, answer_to)?;
            (from.unwrap_or_default(), outcome)
        }
        Route::Unreadable { why } => (String::new(), refused::unreadable(why)),
        Route::Automatic { from } => (from, Outcome::Automatic),
        Route::Inquiry { reply, subject } => {
            let outcome = inquiry::handle(&mut ctx, &reply, &subject)?;
            (reply.to, outcome)
        }
        Route::TooManyFiles { reply } => {
            let outcome = refused::too_many_files(&mut ctx, &reply)?;
            (reply.to, outcome)
        }
        Route::Registration {
            reply,
            kind,
            workbook,
        } => {
            let outcome = registration::handle(&mut ctx, &reply, kind, &workbook)?;
            (reply.to, outcome)
        }
        Route::Correspondence { reply, about } => {
            let outcome = correspondence::handle(&mut ctx, &reply, about)?;
            (reply.to, outcome)
        }
        Route::Help { reply } => {
            let outcome = help::how_to_submit(&mut ctx, &reply)?;
            (reply.to, outcome)
        }
        Route::NotRegistered { reply } => {
            let outcome = help::register_first(&mut ctx, &reply)?;
            (reply.to, outcome)
        }
        Route::Tickets {
            reply,
            registration,
            complaints,
        } => {
            let outcome = ticket::handle(&mut ctx, &reply, &registration, complaints)?;
            (reply.to, outcome)
        }
    };
    ctx.finish(&from, outcome)
}

/// Tells which route a message takes. Reads the store (what a reply answers, whether
/// the sender is registered) but writes nothing.
pub(crate) fn classify(intake: &Intake<'_>, message: &Incoming<'_>) -> Result<Route> {
    let max = intake.config.mail.max_message_bytes;
    let parsed = message.parsed.as_ref();
    if message.waiting.size > max || message.raw.len() as u64 > max {
        // Its header alone was read; a machine is never answered (R12), too large or not.
        let from = parsed.and_then(|parsed| parsed.from.clone());
        let machine = parsed.is_some_and(|parsed| parsed.automatic.is_some());
        return Ok(Route::TooLarge {
            answer: !machine && from.as_deref().is_some_and(|from| !is_own(intake, from)),
            from,
        });
    }
    let Some(parsed) = parsed else {
        return Ok(Route::Unreadable {
            why: "not a mail message",
        });
    };
    let Some(from) = parsed.from.clone() else {
        return Ok(Route::Unreadable {
            why: "no sender address",
        });
    };
    if parsed.automatic.is_some() || is_own(intake, &from) {
        return Ok(Route::Automatic { from });
    }
    let reply = Reply {
        to: from,
        in_reply_to: message.message_id.clone(),
        references: parsed.references.clone(),
    };
    if message.mailbox == Mailbox::Inquiries {
        return Ok(Route::Inquiry {
            reply,
            subject: parsed.subject.clone(),
        });
    }
    // Too many files: refused before any is opened (reading up to 100 workbooks,
    // each up to its unpacking limit, only to refuse the message is wasted work).
    let sheets = if parsed.attachments_cut {
        Vec::new()
    } else {
        spreadsheets(parsed)
    };
    if parsed.attachments_cut || sheets.len() > MAX_WORKBOOKS {
        return Ok(Route::TooManyFiles { reply });
    }
    let (registrations, complaints): (Vec<Found>, Vec<Found>) =
        sheets.into_iter().partition(Found::is_registration);
    if let Some(Found {
        sheet: Sheet::Known(kind, workbook),
        ..
    }) = registrations.into_iter().next()
    {
        return Ok(Route::Registration {
            reply,
            kind,
            workbook: Box::new(workbook),
        });
    }
    if complaints.is_empty() {
        // A reply to one of our notices is kept with what it answers (R3).
        return Ok(match answered(intake, parsed)? {
            Some(about) => Route::Correspondence { reply, about },
            None => Route::Help { reply },
        });
    }
    Ok(match intake.store.active_registration(&reply.to)? {
        Some(registration) => Route::Tickets {
            reply,
            registration: Box::new(registration),
            complaints,
        },
        None => Route::NotRegistered { reply },
    })
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

/// The ticket, registration or inquiry a reply answers: by one of our Message-IDs in
/// `In-Reply-To`/`References`, or by the `[ID]` tag in its subject.
fn answered(intake: &Intake<'_>, parsed: &Parsed) -> Result<Option<RecordId>> {
    for reference in &parsed.references {
        if intake.composer.is_ours(reference)
            && let Some(about) = intake
                .store
                .get_bytes(Tree::MessageIds, format!("notice:{reference}"))?
            && let Ok(about) = String::from_utf8_lossy(&about).parse()
        {
            return Ok(Some(about));
        }
    }
    for tag in &parsed.tags {
        if intake
            .store
            .record::<serde::de::IgnoredAny>(*tag)?
            .is_some()
        {
            return Ok(Some(*tag));
        }
    }
    Ok(None)
}
