//! The router: a message is parsed once and classified into the one [`Route`] it
//! takes, then handed with one [`Ctx`] to that route's function. The order of the
//! checks in [`classify`] is the portal's precedence: size before content, machines
//! before people, the inquiries mailbox (answered either way) before sender
//! authentication, which comes before everything intake acts on (a sender nobody
//! vouched for is answered by nobody, so a forged From draws no backscatter), then
//! attachments, an MCO's mail (never `not_registered`, R6) before anything a provider
//! sends, registration forms (anyone may send one, R7) before complaints, and
//! complaints only from a registered sender (R6).

use anyhow::Result;

use super::context::{Ctx, Handled, Incoming, Reply};
use super::sheets::{Found, MAX_WORKBOOKS, Sheet, spreadsheets};
use super::{Intake, Mailbox, PassState};
use super::{correspondence, extension, help, inquiry, mco, refused, registration, ticket};
use crate::config::Mco;
use crate::forms::{Kind, Workbook};
use crate::ids::RecordId;
use crate::mail::auth;
use crate::mail::classify::Parsed;
use crate::store::{Outcome, Party, Registration, Ticket, Tree};

/// What a message is, and so which route handles it.
pub(crate) enum Route {
    /// Larger than the portal takes: only its header was read. `answer` when a person
    /// (not a machine, not our own address) sent it.
    TooLarge { from: Option<String>, answer: bool },
    /// Not a mail message, or one without a sender to answer: quarantined unanswered.
    Unreadable { why: &'static str },
    /// A bounce, an auto-reply, a list, or our own mail: never answered.
    Automatic { from: String },
    /// A message to portal inquiries (R11); the sender's registration status is told
    /// only when it is `authenticated`.
    Inquiry {
        reply: Reply,
        subject: String,
        authenticated: bool,
    },
    /// Mail to intake from a sender that nothing trusted vouched for (authentication
    /// on): quarantined, acted on for nobody, answered to nobody.
    Unauthenticated { from: String },
    /// More files than the portal takes from one message.
    TooManyFiles { reply: Reply },
    /// Registration forms or multiple registration templates (R7), each its own
    /// request, perhaps with complaint templates beside them, handled under the
    /// sender's registrations as they stand (`active`).
    Registration {
        reply: Reply,
        forms: Vec<(Kind, Workbook)>,
        complaints: Vec<Found>,
        active: Vec<Registration>,
        ignored: Vec<String>,
    },
    /// A reply, without a workbook, to a notice about a ticket, registration or
    /// inquiry; or an MCO's mail on a ticket of its own that is no longer open.
    Correspondence { reply: Reply, about: RecordId },
    /// An MCO's mail on an open ticket forwarded to it, not asking for more time,
    /// with the returned workbook when one is attached.
    Proposal {
        reply: Reply,
        mco: Mco,
        ticket: Box<Ticket>,
        response: Option<Box<Found>>,
    },
    /// `extension` in the subject of mail on an open ticket, from its sender or from
    /// its MCO (R13).
    ExtensionRequest {
        reply: Reply,
        ticket: Box<Ticket>,
        party: Party,
    },
    /// An MCO's mail that names no ticket forwarded to it.
    McoWithoutTicket { reply: Reply },
    /// No workbook and nothing it answers: how to send a complaint.
    Help { reply: Reply },
    /// Complaint templates from a sender without an active registration (R6).
    NotRegistered { reply: Reply },
    /// Complaint templates (or, when no attachment is a portal workbook, the
    /// unusable spreadsheets) from a sender with active registrations; `ignored` names
    /// the other spreadsheets beside a portal workbook.
    Tickets {
        reply: Reply,
        registrations: Vec<Registration>,
        complaints: Vec<Found>,
        ignored: Vec<String>,
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
        Route::Unauthenticated { from } => (from, Outcome::Unauthenticated),
        Route::Inquiry {
            reply,
            subject,
            authenticated,
        } => {
            let outcome = inquiry::handle(&mut ctx, &reply, &subject, authenticated)?;
            (reply.to, outcome)
        }
        Route::TooManyFiles { reply } => {
            let outcome = refused::too_many_files(&mut ctx, &reply)?;
            (reply.to, outcome)
        }
        Route::Registration {
            reply,
            forms,
            complaints,
            active,
            ignored,
        } => {
            let mut requests = Vec::with_capacity(forms.len());
            for (kind, workbook) in &forms {
                let form = registration::Form {
                    kind: *kind,
                    workbook,
                    already_active: !active.is_empty(),
                    ignored: &ignored,
                };
                requests.push(registration::handle(&mut ctx, &reply, &form)?);
            }
            // Complaints beside the forms go under the registrations as they stand; a
            // sender with none is told where the request just sent stands.
            let tickets = match (complaints.is_empty(), active.is_empty()) {
                (true, _) => Vec::new(),
                (false, false) => ticket::handle(&mut ctx, &reply, &active, complaints, &ignored)?,
                (false, true) => {
                    help::register_first(&mut ctx, &reply, requests.first())?;
                    Vec::new()
                }
            };
            let mut ids = requests.iter().map(|request| request.id);
            let id = ids.next().expect("a registration route carries a form");
            let more = ids.collect();
            (reply.to, Outcome::Registration { id, more, tickets })
        }
        Route::Correspondence { reply, about } => {
            let outcome = correspondence::handle(&mut ctx, &reply, about)?;
            (reply.to, outcome)
        }
        Route::Proposal {
            reply,
            mco,
            ticket,
            response,
        } => {
            let outcome = mco::proposal(&mut ctx, &reply, &mco, *ticket, response.as_deref())?;
            (reply.to, outcome)
        }
        Route::ExtensionRequest {
            reply,
            ticket,
            party,
        } => {
            let outcome = extension::request(&mut ctx, &reply, *ticket, party)?;
            (reply.to, outcome)
        }
        Route::McoWithoutTicket { reply } => {
            let outcome = mco::without_ticket(&mut ctx, &reply)?;
            (reply.to, outcome)
        }
        Route::Help { reply } => {
            let outcome = help::how_to_submit(&mut ctx, &reply)?;
            (reply.to, outcome)
        }
        Route::NotRegistered { reply } => {
            let outcome = help::register_first(&mut ctx, &reply, None)?;
            (reply.to, outcome)
        }
        Route::Tickets {
            reply,
            registrations,
            complaints,
            ignored,
        } => {
            let ids = ticket::handle(&mut ctx, &reply, &registrations, complaints, &ignored)?;
            (reply.to, Outcome::Tickets { ids })
        }
    };
    ctx.finish(&from, outcome)
}

/// Tells which route a message takes. Reads the store (what a reply answers, whether
/// the sender is registered) but writes nothing.
pub(crate) fn classify(intake: &Intake<'_>, message: &Incoming<'_>) -> Result<Route> {
    let parsed = message.parsed.as_ref();
    if message.too_large {
        return Ok(too_large(intake, message));
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
    let authenticated = is_authenticated(intake, message, parsed);
    if message.mailbox == Mailbox::Inquiries {
        return Ok(Route::Inquiry {
            reply,
            subject: parsed.subject.clone(),
            authenticated,
        });
    }
    if !authenticated {
        return Ok(Route::Unauthenticated { from: reply.to });
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
    // Several MCOs may share a mailbox: the mail is from each of them.
    let mcos: Vec<&Mco> = intake
        .config
        .mcos
        .iter()
        .filter(|mco| mco.is_address(&reply.to))
        .collect();
    if !mcos.is_empty() {
        return from_mco(intake, parsed, reply, &mcos, sheets);
    }
    // A spreadsheet that is none of ours, beside one that is, is ignored and named
    // (R12); only when no attachment is a portal workbook is it a closed ticket. It is
    // named by its place among the attachments, never by its file name: a person typed
    // that, and it may name a patient (R10).
    let (sheets, ignored) = if sheets.iter().any(Found::is_portal_workbook) {
        let (sheets, others): (Vec<Found>, Vec<Found>) =
            sheets.into_iter().partition(Found::is_portal_workbook);
        let total = parsed.attachments.len();
        let names = others
            .into_iter()
            .map(|found| format!("attachment {} of {total}", found.position))
            .collect();
        (sheets, names)
    } else {
        (sheets, Vec::new())
    };
    let (forms, complaints): (Vec<Found>, Vec<Found>) =
        sheets.into_iter().partition(Found::is_registration);
    let active = if complaints.is_empty() {
        Vec::new()
    } else {
        intake.store.active_registrations(&reply.to)?
    };
    let forms: Vec<(Kind, Workbook)> = forms
        .into_iter()
        .filter_map(|found| match found.sheet {
            Sheet::Known(kind, workbook) => Some((kind, workbook)),
            _ => None,
        })
        .collect();
    if !forms.is_empty() {
        return Ok(Route::Registration {
            reply,
            forms,
            complaints,
            active,
            ignored,
        });
    }
    if complaints.is_empty() {
        // A reply to one of our notices is kept with what it answers (R3), when it
        // comes from a party of it (R13).
        return Ok(match answered(intake, parsed, &reply.to)? {
            Some(about) => from_party(intake, parsed, reply, about)?,
            None => Route::Help { reply },
        });
    }
    Ok(if active.is_empty() {
        Route::NotRegistered { reply }
    } else {
        Route::Tickets {
            reply,
            registrations: active,
            complaints,
            ignored,
        }
    })
}

/// An MCO's mail (R13): on a ticket forwarded to it (or to another MCO of the same
/// mailbox), a request for more time, a proposal while the ticket is open, or
/// correspondence once it is resolved; naming no such ticket, mail without a ticket.
fn from_mco(
    intake: &Intake<'_>,
    parsed: &Parsed,
    reply: Reply,
    mcos: &[&Mco],
    sheets: Vec<Found>,
) -> Result<Route> {
    let response = mco::returned_workbook(sheets);
    let Some((ticket, mco)) = mco::its_ticket(intake.store, mcos, parsed, response.as_ref())?
    else {
        return Ok(Route::McoWithoutTicket { reply });
    };
    let mco = mco.clone();
    let open = ticket.status.is_open();
    Ok(if open && extension::asks_for_extension(&parsed.subject) {
        Route::ExtensionRequest {
            reply,
            ticket: Box::new(ticket),
            party: Party::Mco,
        }
    } else if open {
        Route::Proposal {
            reply,
            mco,
            ticket: Box::new(ticket),
            response: response.map(Box::new),
        }
    } else {
        Route::Correspondence {
            reply,
            about: ticket.id.into(),
        }
    })
}

/// A reply from a party of what it answers: on an open ticket with `extension` in
/// the subject, a request for more time; else correspondence.
fn from_party(
    intake: &Intake<'_>,
    parsed: &Parsed,
    reply: Reply,
    about: RecordId,
) -> Result<Route> {
    if let RecordId::TicketId(id) = about
        && extension::asks_for_extension(&parsed.subject)
        && let Some(ticket) = intake.store.record::<Ticket>(id)?
        && ticket.status.is_open()
    {
        return Ok(Route::ExtensionRequest {
            reply,
            ticket: Box::new(ticket),
            party: Party::Provider,
        });
    }
    Ok(Route::Correspondence { reply, about })
}

/// The route of a message too large to take: its header alone was read. A machine is
/// never answered (R12), too large or not, and neither is a sender nobody vouched for.
fn too_large(intake: &Intake<'_>, message: &Incoming<'_>) -> Route {
    let parsed = message.parsed.as_ref();
    let from = parsed.and_then(|parsed| parsed.from.clone());
    let machine = parsed.is_some_and(|parsed| parsed.automatic.is_some());
    let person = !machine && from.as_deref().is_some_and(|from| !is_own(intake, from));
    let unauthenticated = person
        && message.mailbox == Mailbox::Intake
        && parsed.is_some_and(|parsed| !is_authenticated(intake, message, parsed));
    if unauthenticated {
        return Route::Unauthenticated {
            from: from.unwrap_or_default(),
        };
    }
    Route::TooLarge {
        answer: person,
        from,
    }
}

/// True when the message's From address counts as its sender: authentication is off
/// (every pass logs that it is), staff vouched for the sender, or a header from a
/// trusted authserv-id authenticates the From domain (`mail::auth`).
fn is_authenticated(intake: &Intake<'_>, message: &Incoming<'_>, parsed: &Parsed) -> bool {
    let authentication = &intake.config.mail.authentication;
    if !authentication.is_on() || message.sender_trusted {
        return true;
    }
    let Some(from) = parsed.from.as_deref() else {
        return false;
    };
    let headers: Vec<&str> = parsed
        .authentication_results
        .iter()
        .map(String::as_str)
        .collect();
    auth::is_authenticated(&headers, &authentication.trusted_authserv_ids, from)
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

/// The ticket, registration or inquiry a reply answers — by one of our Message-IDs in
/// `In-Reply-To`/`References`, or by the `[ID]` tag in its subject — when `from` is a
/// party of it (R13). From anyone else the id counts for nothing, and nothing the
/// sender is told depends on whether it exists.
fn answered(intake: &Intake<'_>, parsed: &Parsed, from: &str) -> Result<Option<RecordId>> {
    let mut candidates: Vec<RecordId> = Vec::new();
    for reference in &parsed.references {
        if intake.composer.is_ours(reference)
            && let Some(about) = intake
                .store
                .get_bytes(Tree::MessageIds, format!("notice:{reference}"))?
            && let Ok(about) = String::from_utf8_lossy(&about).parse()
        {
            candidates.push(about);
        }
    }
    candidates.extend(parsed.tags.iter().copied());
    for about in candidates {
        if correspondence::is_party(intake.store, about, from)? {
            return Ok(Some(about));
        }
    }
    Ok(None)
}
