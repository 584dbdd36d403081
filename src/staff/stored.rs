//! A processed message as staff read it (`portal messages show`): its record, and from
//! its kept raw bytes every header, the text and the attachments' names and sizes.
//! This is PHI, for staff only: nothing else reads raw mail for people, and no notice,
//! log or other view repeats it. When the raw bytes were removed (retention), the
//! record stays and says so.

use anyhow::Result;
use chrono::NaiveDate;
use mail_parser::{MessageParser, MimeHeaders as _};
use serde::Serialize;

use super::{MessageView, find_message};
use crate::intake::illinois_day;
use crate::store::{AuditEntry, MessageRecord, Store, Tree};

/// The audit action of a removal of raw bytes.
const RAW_REMOVED: &str = "raw_removed";

/// A processed message with what its raw bytes say.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub record: MessageRecord,
    /// `None` when the raw bytes are no longer kept.
    pub content: Option<MessageContent>,
    /// The Illinois day the raw bytes were removed, when the audit trail says so.
    pub raw_removed_on: Option<NaiveDate>,
}

/// What the kept raw bytes of a message hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageContent {
    /// The stored bytes.
    pub size: usize,
    /// False for bytes that are no mail message (then nothing below is known).
    pub parsed: bool,
    /// Every header of the message, in order, folded lines joined.
    pub headers: Vec<HeaderLine>,
    /// The text body parts (an HTML-only message as text without tags).
    pub text: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
}

/// One header as it stands in the message (unfolded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

/// An attached file: its name (if it has one) and its size once decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    pub name: Option<String>,
    pub size: usize,
}

/// `portal messages show --json`: the record as `messages list` prints it, then the
/// message itself (`headers`, `text` and `attachments` are null once the raw bytes
/// are gone).
#[derive(Debug, Serialize)]
pub struct StoredMessageView<'a> {
    #[serde(flatten)]
    pub record: MessageView<'a>,
    pub raw_removed_on: Option<NaiveDate>,
    pub size: Option<usize>,
    pub headers: Option<&'a [HeaderLine]>,
    pub text: Option<&'a str>,
    pub attachments: Option<&'a [AttachmentInfo]>,
}

impl<'a> From<&'a StoredMessage> for StoredMessageView<'a> {
    fn from(stored: &'a StoredMessage) -> Self {
        let content = stored.content.as_ref();
        StoredMessageView {
            record: MessageView::new(&stored.record, content.is_some()),
            raw_removed_on: stored.raw_removed_on,
            size: content.map(|content| content.size),
            headers: content.map(|content| content.headers.as_slice()),
            text: content.and_then(|content| content.text.as_deref()),
            attachments: content.map(|content| content.attachments.as_slice()),
        }
    }
}

/// The processed message whose hash starts with `prefix`, read from the store.
pub fn stored_message(store: &Store, prefix: &str) -> Result<StoredMessage> {
    let record = find_message(store, prefix)?;
    let raw = store.get_bytes(Tree::Raw, &record.hash)?;
    let raw_removed_on = match raw {
        Some(_) => None,
        None => removed_on(store, &record.hash)?,
    };
    Ok(StoredMessage {
        content: raw.map(|raw| read_content(&raw)),
        record,
        raw_removed_on,
    })
}

/// The day of the audited removal of a message's raw bytes (its subject the hash, or
/// the first twelve digits of it, as other message entries are audited).
fn removed_on(store: &Store, hash: &str) -> Result<Option<NaiveDate>> {
    Ok(store
        .all::<AuditEntry>(Tree::Audit)?
        .into_iter()
        .rev()
        .filter(|entry| entry.action == RAW_REMOVED)
        .filter(|entry| entry.subject.len() >= 12 && hash.starts_with(&entry.subject))
        .map(|entry| illinois_day(entry.at))
        .next())
}

/// Headers, text and attachments of raw bytes.
pub fn read_content(raw: &[u8]) -> MessageContent {
    let Some(message) = MessageParser::default().parse(raw) else {
        return MessageContent {
            size: raw.len(),
            parsed: false,
            headers: Vec::new(),
            text: None,
            attachments: Vec::new(),
        };
    };
    let headers = message
        .headers()
        .iter()
        .map(|header| {
            let start = header.offset_start as usize;
            let end = (header.offset_end as usize).min(raw.len());
            let value = raw.get(start..end).unwrap_or_default();
            HeaderLine {
                name: header.name().to_owned(),
                value: unfold(&String::from_utf8_lossy(value)),
            }
        })
        .collect();
    let parts: Vec<String> = (0..message.text_body_count())
        .filter_map(|index| message.body_text(index))
        .map(|text| text.into_owned())
        .collect();
    let attachments = message
        .attachments()
        .map(|part| AttachmentInfo {
            name: part.attachment_name().map(str::to_owned),
            size: part.contents().len(),
        })
        .collect();
    MessageContent {
        size: raw.len(),
        parsed: true,
        headers,
        text: (!parts.is_empty()).then(|| parts.join("\n\n")),
        attachments,
    }
}

/// A header value on one line: folding whitespace becomes one space.
fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From: Pat <pat@clinic.example>\r\n\
        To: intake@portal.example.gov\r\n\
        Subject: A long\r\n  folded subject\r\n\
        X-Custom: one\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\
        \r\n\
        --b\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        Hello there.\r\n\
        --b\r\n\
        Content-Type: application/octet-stream\r\n\
        Content-Disposition: attachment; filename=\"claims.xlsx\"\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        AAECAwQ=\r\n\
        --b--\r\n";

    #[test]
    fn headers_text_and_attachments_are_read() {
        let content = read_content(MAIL.as_bytes());
        assert!(content.parsed);
        assert_eq!(content.size, MAIL.len());
        let headers: Vec<(&str, &str)> = content
            .headers
            .iter()
            .map(|header| (header.name.as_str(), header.value.as_str()))
            .collect();
        assert_eq!(headers[0], ("From", "Pat <pat@clinic.example>"));
        assert_eq!(headers[2], ("Subject", "A long folded subject"));
        assert_eq!(headers[3], ("X-Custom", "one"));
        assert_eq!(headers.len(), 6, "{headers:?}");
        assert_eq!(content.text.as_deref().map(str::trim), Some("Hello there."));
        assert_eq!(
            content.attachments,
            [AttachmentInfo {
                name: Some("claims.xlsx".to_owned()),
                size: 5
            }]
        );
    }

    #[test]
    fn an_html_only_message_is_read_as_text() {
        let mail = "From: pat@clinic.example\r\nSubject: Hi\r\n\
            Content-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n";
        let text = read_content(mail.as_bytes()).text.unwrap_or_default();
        assert!(text.contains("Hello") && text.contains("there"), "{text}");
        assert!(!text.contains("<b>"), "{text}");
    }

    #[test]
    fn bytes_that_are_no_mail_are_only_counted() {
        let content = read_content(b"");
        assert!(!content.parsed);
        assert!(content.headers.is_empty() && content.text.is_none());
    }
}
