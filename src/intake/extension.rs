//! A request for the one extension (140.75(e)) on an open ticket, from the ticket's
//! own sender or from its MCO: the first is recorded for staff to decide and
//! acknowledged; any later one is told that only one may be asked for. Also what
//! makes a subject such a request: the whole word `extension`, once the reply and
//! forward prefixes are gone (no subject of ours contains that word).

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use crate::mail::notice::NoticeKind;
use crate::store::{EventKind, Extension, ExtensionStatus, Outcome, Party, Ticket, Tree};

/// The prefixes mail clients put before a subject they reply to or forward
/// (English, and the German `AW:`/`WG:` Outlook writes).
const PREFIXES: [&str; 5] = ["re", "fwd", "fw", "aw", "wg"];

/// True when the subject asks for the extension: the whole word `extension`, in any
/// case, after the `Re:`/`Fwd:`/`Fw:`/`AW:`/`WG:` prefixes.
pub(crate) fn asks_for_extension(subject: &str) -> bool {
    without_prefixes(subject)
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case("extension"))
}

/// The subject without its reply and forward prefixes, however many and in any case.
pub(crate) fn without_prefixes(subject: &str) -> &str {
    let mut rest = subject.trim_start();
    while let Some((head, tail)) = rest.split_once(':')
        && PREFIXES
            .iter()
            .any(|prefix| head.trim().eq_ignore_ascii_case(prefix))
    {
        rest = tail.trim_start();
    }
    rest
}

/// Records the first request for more time on an open ticket and acknowledges it to
/// the requester; a later request learns that one was already made. Nothing else
/// changes: staff decide (`portal tickets extend`).
pub(crate) fn request(
    ctx: &mut Ctx<'_>,
    reply: &Reply,
    mut ticket: Ticket,
    party: Party,
) -> Result<Outcome> {
    let id = ticket.id;
    let received_on = ctx.message.received_on;
    let (kind, subject, action) = if ticket.extension.is_some() {
        (
            NoticeKind::MoreTimeAlreadyAsked,
            format!("[{id}] More time was already requested"),
            "more_time_already_asked",
        )
    } else {
        ticket.extension = Some(Extension {
            requested_by: party,
            requested_on: received_on,
            status: ExtensionStatus::Requested,
            by: None,
            reason: None,
            message: Some(ctx.message.digest.to_owned()),
        });
        ticket.event(received_on, EventKind::MoreTimeRequested, None);
        ctx.writes.put(Tree::Tickets, id.to_string(), &ticket)?;
        (
            NoticeKind::MoreTimeRequested,
            format!("[{id}] Request for more time received"),
            "more_time_requested",
        )
    };
    let context = json!({ "ticket": view(ctx, &ticket, party) });
    ctx.answer(reply, kind, subject, Some(id.into()), context)?;
    ctx.audit(action, &id.to_string())?;
    Ok(Outcome::ExtensionRequest { id })
}

/// What the two notices show: ids, parties and dates only.
fn view(ctx: &Ctx<'_>, ticket: &Ticket, party: Party) -> serde_json::Value {
    let extension = ticket.extension.as_ref();
    json!({
        "id": ticket.id,
        "requester": party,
        "rows": ticket.forwarded_rows(),
        "response_due": ticket.response_due.map(|day| day.to_string()),
        "extension_days": ctx.intake.config.rules.extension_days,
        "extension": extension.map(|extension| json!({
            "requested_by": extension.requested_by,
            "requested_on": extension.requested_on.to_string(),
            "status": extension.status,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::{asks_for_extension, without_prefixes};

    #[test]
    fn prefixes_go_in_any_case_however_many() {
        assert_eq!(without_prefixes("Re: Fwd: x"), "x");
        assert_eq!(
            without_prefixes("RE:FW: AW: wg:  [PRP-2026-000001] y"),
            "[PRP-2026-000001] y"
        );
        assert_eq!(without_prefixes("Subject: Re: x"), "Subject: Re: x");
        assert_eq!(without_prefixes("Rex: x"), "Rex: x");
        assert_eq!(without_prefixes("Re x"), "Re x");
    }

    #[test]
    fn the_whole_word_extension_asks_for_more_time() {
        for subject in [
            "Re: [PRP-2026-000001] Extension",
            "[PRP-2026-000001] request for an EXTENSION, please",
            "AW: extension-request [PRP-2026-000001]",
            "Fwd:extension",
        ] {
            assert!(asks_for_extension(subject), "{subject}");
        }
        for subject in [
            "Re: [PRP-2026-000001] Provider complaint forwarded by Illinois HFS (3 lines)",
            "[PRP-2026-000001] extensions",
            "[PRP-2026-000001] nonextension",
            "[PRP-2026-000001] extension2",
            "",
        ] {
            assert!(!asks_for_extension(subject), "{subject}");
        }
    }
}
