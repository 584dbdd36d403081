//! Parsing one message (mail-parser) and telling what it is: its sender, its
//! references to our notices, whether a machine sent it, the `Authentication-Results`
//! the receiving servers wrote (read by [`super::auth`]), and its attachments, found
//! through nested multiparts and forwarded `message/rfc822` parts.

use mail_parser::{Message, MessageParser, MimeHeaders};

use crate::ids::RecordId;

/// At most this many attachments are looked at in one message.
pub const MAX_ATTACHMENTS: usize = 100;
/// A Message-ID longer than this is none a mail system makes: it is ignored, so it is
/// never a store key nor echoed into a notice's `In-Reply-To` (whose line would pass
/// the 998-character limit of RFC 5322).
pub const MAX_ID_CHARS: usize = 250;
/// At most this many `In-Reply-To`/`References` ids are kept (the first and the
/// latest, as RFC 5322 3.6.4 allows trimming): a notice repeats them.
pub const MAX_REFERENCES: usize = 20;

/// What intake needs from a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The From address, lower-cased.
    pub from: Option<String>,
    pub message_id: Option<String>,
    pub subject: String,
    /// `In-Reply-To` and `References`, without angle brackets.
    pub references: Vec<String>,
    /// Why a machine sent it (bounce, auto-reply, list), if one did.
    pub automatic: Option<String>,
    pub attachments: Vec<Attachment>,
    /// More attachments than [`MAX_ATTACHMENTS`] were present.
    pub attachments_cut: bool,
    /// Ids in brackets in the subject: `[PRP-2026-000123]`.
    pub tags: Vec<RecordId>,
    /// The raw value of every top-level `Authentication-Results` header, in the
    /// order written (the receiving server's own comes first), at most
    /// [`super::auth::MAX_HEADERS`]: what sender authentication decides on.
    pub authentication_results: Vec<String>,
}

/// One attached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name, decoded (RFC 2231 and encoded words), reduced to its last path
    /// component.
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

/// Parses a raw message; `None` when it is not a message at all.
pub fn parse(raw: &[u8]) -> Option<Parsed> {
    let message = MessageParser::default().parse(raw)?;
    let from = sender(&message);
    let subject = message.subject().unwrap_or("").trim().to_owned();
    let mut references: Vec<String> = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        if let Some(list) = value.as_text_list() {
            references.extend(list.iter().filter_map(|id| clean_id(id)));
        } else if let Some(text) = value.as_text() {
            references.extend(text.split_whitespace().filter_map(clean_id));
        }
    }
    let mut seen = std::collections::HashSet::new();
    references.retain(|id| seen.insert(id.clone()));
    if references.len() > MAX_REFERENCES {
        references.drain(1..references.len() - (MAX_REFERENCES - 1));
    }
    let mut parsed = Parsed {
        automatic: automatic(&message, from.as_deref()),
        from,
        message_id: message.message_id().and_then(clean_id),
        tags: tags(&subject),
        subject,
        references,
        authentication_results: authentication_results(&message),
        ..Parsed::default()
    };
    collect_attachments(&message, &mut parsed, 0);
    Some(parsed)
}

/// The Message-ID from the headers alone, without parsing the body.
pub fn message_id_of(raw: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse_headers(raw)?;
    message.message_id().and_then(clean_id)
}

/// The first From address, lower-cased, when it is one a notice can be sent to: an
/// address the mail builder refuses (`a b@c.example`, `a@b@c.example`, `@c.example`,
/// which mail-parser makes of `"a b"@c.example`) would otherwise fail the notice, and
/// with it the whole pass, again at every pass.
fn sender(message: &Message<'_>) -> Option<String> {
    message
        .from()
        .and_then(|from| from.first())
        .and_then(|address| address.address())
        .map(|address| address.trim().to_ascii_lowercase())
        .filter(|address| address.contains('@'))
        .filter(|address| address.parse::<lettre::message::Mailbox>().is_ok())
}

/// The raw values of the message's own `Authentication-Results` headers (never those
/// of a message forwarded inside it), as written, folding and comments included.
fn authentication_results(message: &Message<'_>) -> Vec<String> {
    const NAME: &[u8] = b"Authentication-Results:";
    let raw = &message.raw_message;
    message
        .headers()
        .iter()
        .filter(|header| header.name().eq_ignore_ascii_case("Authentication-Results"))
        // Only the name as every verifier writes it, the colon right after it: the
        // obsolete form with a space before the colon is a forgery's disguise that a
        // mail server's rule removing its own header may not recognise.
        .filter(|header| {
            raw.get(header.offset_field as usize..).is_some_and(|line| {
                line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME)
            })
        })
        .take(super::auth::MAX_HEADERS)
        .filter_map(|header| {
            message
                .raw_message
                .get(header.offset_start as usize..header.offset_end as usize)
        })
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .collect()
}

/// A Message-ID without its angle brackets, when it looks like one: printable ASCII
/// without spaces, at most [`MAX_ID_CHARS`] long.
fn clean_id(id: &str) -> Option<String> {
    let id = id.trim().trim_matches(['<', '>']);
    let plausible = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id.bytes().all(|byte| byte.is_ascii_graphic());
    plausible.then(|| id.to_owned())
}

/// Attachments of this message and of messages forwarded inside it.
fn collect_attachments(message: &Message<'_>, parsed: &mut Parsed, depth: usize) {
    for part in message.attachments() {
        if let Some(inner) = part.message() {
            if depth < 4 {
                collect_attachments(inner, parsed, depth + 1);
            }
            continue;
        }
        if parsed.attachments.len() >= MAX_ATTACHMENTS {
            parsed.attachments_cut = true;
            return;
        }
        let name = part.attachment_name().map(|name| {
            // Never a path: `../../x.xlsx` is `x.xlsx`.
            name.rsplit(['/', '\\'])
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        });
        parsed.attachments.push(Attachment {
            name: name.filter(|name| !name.is_empty()),
            bytes: part.contents().to_vec(),
        });
    }
}

/// Why a message was sent by a machine (RFC 3834 and the usual list and bounce
/// markers), if it was.
fn automatic(message: &Message<'_>, from: Option<&str>) -> Option<String> {
    let raw = |name: &str| {
        message
            .header_raw(name)
            .map(|value| value.trim().to_ascii_lowercase())
    };
    if let Some(value) = raw("Auto-Submitted") {
        let kind = value.split(';').next().unwrap_or("").trim().to_owned();
        if kind != "no" {
            return Some(format!("Auto-Submitted: {kind}"));
        }
    }
    if raw("Return-Path").is_some_and(|value| value == "<>") {
        return Some("empty Return-Path".to_owned());
    }
    if let Some(value) = raw("Precedence")
        && ["bulk", "junk", "list", "auto_reply"].contains(&value.as_str())
    {
        return Some(format!("Precedence: {value}"));
    }
    if raw("X-Autoreply").is_some_and(|value| value != "no") {
        return Some("X-Autoreply".to_owned());
    }
    if message.header_raw("X-Auto-Response-Suppress").is_some() {
        return Some("X-Auto-Response-Suppress".to_owned());
    }
    // Every `List-*` header (RFC 2369, RFC 2919) says a mailing list sent it.
    if let Some(list) = message.headers().iter().find(|header| {
        header
            .name()
            .get(..5)
            .is_some_and(|head| head.eq_ignore_ascii_case("list-"))
    }) {
        return Some(list.name().to_owned());
    }
    if let Some(from) = from {
        let local = from.split('@').next().unwrap_or("");
        if ["mailer-daemon", "postmaster"].contains(&local) {
            return Some(format!("sender {local}"));
        }
    }
    if message.root_part().is_content_type("multipart", "report") {
        return Some("multipart/report".to_owned());
    }
    None
}

/// `[PRP-2026-000123]`, `[REG-…]`, `[INQ-…]` in a subject.
pub fn tags(subject: &str) -> Vec<RecordId> {
    let mut found = Vec::new();
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find(']') else { break };
        if let Ok(id) = rest[..end].parse() {
            found.push(id);
        }
        rest = &rest[end..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn sender_subject_tags_and_references() {
        let raw = message(
            "From: \"Pat Example\" <Pat@Clinic.Example>\r\nTo: intake@portal.example.gov\r\nSubject: Re: [PRP-2026-000123] Complaint closed\r\nMessage-ID: <abc@clinic.example>\r\nIn-Reply-To: <portal.7.x@portal.example.gov>\r\nReferences: <a@b> <portal.7.x@portal.example.gov>",
            "Thanks",
        );
        let parsed = parse(&raw).unwrap();
        assert_eq!(parsed.from.as_deref(), Some("pat@clinic.example"));
        assert_eq!(parsed.message_id.as_deref(), Some("abc@clinic.example"));
        assert_eq!(parsed.tags, ["PRP-2026-000123".parse().unwrap()]);
        assert!(
            parsed
                .references
                .contains(&"portal.7.x@portal.example.gov".to_owned())
        );
        assert!(parsed.references.contains(&"a@b".to_owned()));
        assert_eq!(parsed.automatic, None);
    }

    #[test]
    fn subjects_in_east_asian_charsets_are_decoded() {
        // "お問い合わせ" in Shift_JIS and "投诉" in GBK, each base64 by Python's codecs.
        for (encoded, plain) in [
            ("=?Shift_JIS?B?gqiW4oKijYeC7YK5?=", "お問い合わせ"),
            ("=?GBK?B?zbbL3w==?=", "投诉"),
        ] {
            let raw = message(
                &format!("From: a@clinic.example\r\nSubject: {encoded} [INQ-2026-000001]"),
                "x",
            );
            let parsed = parse(&raw).unwrap();
            assert_eq!(parsed.subject, format!("{plain} [INQ-2026-000001]"));
            assert_eq!(parsed.tags, ["INQ-2026-000001".parse().unwrap()]);
        }
    }

    #[test]
    fn machines_are_recognised() {
        let cases = [
            ("Auto-Submitted: auto-replied", true),
            ("Auto-Submitted: no", false),
            ("Return-Path: <>", true),
            ("Precedence: bulk", true),
            ("Precedence: first-class", false),
            ("X-Auto-Response-Suppress: All", true),
            ("List-Id: <providers.example>", true),
            ("List-Unsubscribe: <mailto:x@y.example>", true),
            ("List-Post: <mailto:providers@lists.example>", true),
            ("list-help: <mailto:help@lists.example>", true),
            ("Listing: our clinics", false),
            ("Precedence: auto_reply", true),
            ("X-Autoreply: yes", true),
            ("X-Autoreply: no", false),
        ];
        for (header, expected) in cases {
            let raw = message(&format!("From: a@b.example\r\n{header}\r\nSubject: x"), "x");
            assert_eq!(
                parse(&raw).unwrap().automatic.is_some(),
                expected,
                "{header}"
            );
        }
        let bounce = message(
            "From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered",
            "x",
        );
        assert!(parse(&bounce).unwrap().automatic.is_some());
        let report = message(
            "From: a@b.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"",
            "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n",
        );
        assert!(parse(&report).unwrap().automatic.is_some());
    }

    #[test]
    fn attachment_names_are_decoded_and_never_paths() {
        let raw = message(
            "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"b\"",
            "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
             --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''..%2F..%2Fcla%C3%AFms.xlsx\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n\
             --b\r\nContent-Type: application/octet-stream; name=\"=?UTF-8?B?w6l0w6kueGxzeA==?=\"\r\nContent-Disposition: attachment\r\n\r\nxyz\r\n--b--\r\n",
        );
        let parsed = parse(&raw).unwrap();
        let names: Vec<Option<&str>> = parsed
            .attachments
            .iter()
            .map(|a| a.name.as_deref())
            .collect();
        assert_eq!(names, [Some("claïms.xlsx"), Some("été.xlsx")]);
        assert_eq!(parsed.attachments[0].bytes, b"PK\x03\x04");
    }

    #[test]
    fn forwarded_messages_give_up_their_attachments() {
        let inner = "From: b@c.example\r\nSubject: original\r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--i\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"claims.csv\"\r\n\r\na,b\r\n--i--\r\n";
        let raw = message(
            "From: a@b.example\r\nSubject: Fwd: original\r\nContent-Type: multipart/mixed; boundary=\"o\"",
            &format!(
                "--o\r\nContent-Type: text/plain\r\n\r\nfyi\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--o--\r\n"
            ),
        );
        let parsed = parse(&raw).unwrap();
        assert_eq!(parsed.attachments.len(), 1);
        assert_eq!(parsed.attachments[0].name.as_deref(), Some("claims.csv"));
    }

    #[test]
    fn unanswerable_senders_are_no_senders() {
        for from in [
            "a b@c.example",
            "\"john doe\"@c.example",
            "a@b@c.example",
            "a@[192.0.2.1]",
            "a..b@c.example",
        ] {
            let raw = message(&format!("From: {from}\r\nSubject: x"), "x");
            assert_eq!(parse(&raw).unwrap().from, None, "{from}");
        }
        let raw = message("From: Pat <Pat@Clinic.Example>\r\nSubject: x", "x");
        assert_eq!(
            parse(&raw).unwrap().from.as_deref(),
            Some("pat@clinic.example")
        );
        // A header alone (a message too large to read whole) names its sender too.
        let header = b"From: Pat <Pat@Clinic.Example>\r\nSubject: big\r\n\r\n";
        assert_eq!(
            parse(header).unwrap().from.as_deref(),
            Some("pat@clinic.example")
        );
    }

    #[test]
    fn implausible_ids_are_dropped_and_references_trimmed() {
        let long = format!("<{}@x.example>", "m".repeat(MAX_ID_CHARS));
        let many: Vec<String> = (0..100).map(|n| format!("<r{n}@x.example>")).collect();
        let raw = message(
            &format!(
                "From: a@b.example\r\nMessage-ID: {long}\r\nIn-Reply-To: <first@x.example>\r\n\
                 References: {} {long} <r99@x.example>",
                many.join(" ")
            ),
            "x",
        );
        let parsed = parse(&raw).unwrap();
        assert_eq!(parsed.message_id, None);
        assert_eq!(message_id_of(&raw), None);
        assert_eq!(parsed.references.len(), MAX_REFERENCES);
        assert_eq!(parsed.references[0], "first@x.example");
        assert_eq!(parsed.references[1], "r81@x.example");
        assert_eq!(
            parsed.references.last().map(String::as_str),
            Some("r99@x.example")
        );
        let spaced = message("From: a@b.example\r\nMessage-ID: <a b@x.example>", "x");
        assert_eq!(message_id_of(&spaced), None);
    }

    #[test]
    fn authentication_results_are_kept_raw_and_in_order() {
        let inner = "From: b@c.example\r\nAuthentication-Results: inner.example; dkim=pass header.d=c.example\r\nSubject: inner\r\n\r\nx\r\n";
        let raw = message(
            "Authentication-Results: mx.portal.test;\r\n\tdkim=pass (ok) header.d=clinic.example\r\n\
             From: a@clinic.example\r\nauthentication-results: other.example; none\r\n\
             ARC-Authentication-Results: i=1; mx.portal.test; dkim=pass header.d=x.example\r\n\
             Content-Type: multipart/mixed; boundary=\"o\"",
            &format!(
                "--o\r\nContent-Type: text/plain\r\n\r\nfyi\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--o--\r\n"
            ),
        );
        let parsed = parse(&raw).unwrap();
        let values: Vec<&str> = parsed
            .authentication_results
            .iter()
            .map(|value| value.trim())
            .collect();
        assert_eq!(
            values,
            [
                "mx.portal.test;\r\n\tdkim=pass (ok) header.d=clinic.example",
                "other.example; none"
            ]
        );
        assert!(
            parse(&message("From: a@b.example", "x"))
                .unwrap()
                .authentication_results
                .is_empty()
        );
    }

    #[test]
    fn a_forwarded_message_cut_short_inside_another_is_still_read() {
        // Found by fuzzing (fuzz/artifacts/classify/regression-nested-rfc822): a
        // forwarded message whose own forwarded part ends at the outer boundary led
        // mail-parser to a debug assertion, so a debug build panicked where the shipped
        // one recovers; mail-parser is built without its debug assertions (Cargo.toml).
        let raw = b"From: a@clinic.example\r\nSubject: fwd\r\n\
            Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n\
            --o\nContent-Type: message/rfc822\n\r\n\x8b\x8b\n\
            Content-Type: message/rfc822\r\n\r\n\r\na\n--o--\r\n";
        let parsed = parse(raw).expect("still a message");
        assert_eq!(parsed.from.as_deref(), Some("a@clinic.example"));
        assert_eq!(parsed.subject, "fwd");
    }

    #[test]
    fn ids() {
        let shown = |subject: &str| -> Vec<String> {
            tags(subject).iter().map(ToString::to_string).collect()
        };
        assert_eq!(
            shown("Re: [REG-2026-000004] [note] [PRP-2026-1] [PRP-26-000123]"),
            ["REG-2026-000004"]
        );
        assert_eq!(
            shown("[inq-2027-000001] [ABC-2026-000123]"),
            ["INQ-2027-000001"]
        );
    }
}
