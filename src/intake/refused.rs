//! Messages the portal does not take: too large, carrying too many files, not a mail
//! message, or without a sender. Each is quarantined; a person who can be answered
//! is told why.

use anyhow::Result;
use serde_json::json;

use super::context::{Ctx, Reply};
use super::sheets::MAX_WORKBOOKS;
use crate::mail::classify::MAX_ATTACHMENTS;
use crate::mail::notice::NoticeKind;
use crate::store::Outcome;

/// Too large: quarantined unread (only its header was fetched), with a notice to the
/// sender `answer_to` when there is one to answer.
pub(crate) fn too_large(ctx: &mut Ctx<'_>, answer_to: Option<&str>) -> Result<Outcome> {
    if let Some(to) = answer_to {
        // Only the header was read: the thread is the message's own id, no more.
        let reply = Reply {
            to: to.to_owned(),
            in_reply_to: ctx.message.message_id.clone(),
            references: Vec::new(),
        };
        let limit = size_in_words(ctx.intake.config.mail.max_message_bytes);
        ctx.answer(
            &reply,
            NoticeKind::TooLarge,
            "Your email to the Provider Resolution Portal was too large".to_owned(),
            None,
            json!({ "limit": limit }),
        )?;
    }
    Ok(quarantined("too large"))
}

/// More files than the portal takes from one message: quarantined, and the sender
/// told the limits.
pub(crate) fn too_many_files(ctx: &mut Ctx<'_>, reply: &Reply) -> Result<Outcome> {
    let why = format!(
        "The email carried more files than the portal takes from one message (at most {MAX_ATTACHMENTS} files, of which at most {MAX_WORKBOOKS} spreadsheets)."
    );
    ctx.answer(
        reply,
        NoticeKind::Quarantined,
        "Your email to the Provider Resolution Portal carried too many files".to_owned(),
        None,
        json!({ "why": why }),
    )?;
    Ok(quarantined("too many attachments"))
}

/// Not a mail message, or no sender to answer: quarantined, answered by nobody.
pub(crate) fn unreadable(why: &str) -> Outcome {
    quarantined(why)
}

fn quarantined(why: &str) -> Outcome {
    Outcome::Quarantined {
        why: why.to_owned(),
    }
}

/// A size limit as a sender reads it: whole megabytes (MiB, as mail programs count
/// them) from one megabyte up, else kilobytes, rounded down so the limit is never
/// overstated.
fn size_in_words(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB {
        format!("{} MB", bytes / MIB)
    } else {
        format!("{} KB", (bytes / KIB).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::size_in_words;

    #[test]
    fn a_size_limit_is_said_in_megabytes_or_kilobytes_never_zero() {
        assert_eq!(size_in_words(26_214_400), "25 MB");
        assert_eq!(size_in_words(1024 * 1024), "1 MB");
        assert_eq!(size_in_words(300_000), "292 KB");
        assert_eq!(size_in_words(65_536), "64 KB");
        assert_eq!(size_in_words(100), "1 KB");
    }
}
