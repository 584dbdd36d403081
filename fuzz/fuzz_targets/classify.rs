//! Fuzz target: the MIME classification of one raw message
//! (`portal::mail::classify::parse`): the message parsed once, its sender, references,
//! automatic-mail signs, `Authentication-Results` headers and attachments (nested
//! multiparts and forwarded messages). No panic, no hang, and every bound holds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portal::mail::{auth, classify};

fuzz_target!(|data: &[u8]| {
    // Intake reads the Message-ID of a message too large to parse whole from its
    // headers alone.
    if let Some(id) = classify::message_id_of(data) {
        assert!(id.len() <= classify::MAX_ID_CHARS);
    }
    let Some(parsed) = classify::parse(data) else {
        return;
    };
    assert!(parsed.attachments.len() <= classify::MAX_ATTACHMENTS);
    assert!(parsed.references.len() <= classify::MAX_REFERENCES);
    assert!(parsed.authentication_results.len() <= auth::MAX_HEADERS);
    if let Some(id) = &parsed.message_id {
        assert!(id.len() <= classify::MAX_ID_CHARS);
    }
    if let Some(from) = &parsed.from {
        assert!(from.contains('@'), "a sender is an address");
    }
    for attachment in &parsed.attachments {
        if let Some(name) = &attachment.name {
            assert!(!name.is_empty(), "an empty name is no name");
            assert!(!name.contains(['/', '\\']), "a name is never a path");
        }
    }
    assert_eq!(parsed.tags, classify::tags(&parsed.subject));
    // What sender authentication then reads of the message.
    let headers: Vec<&str> = parsed
        .authentication_results
        .iter()
        .map(String::as_str)
        .collect();
    if let Some(from) = &parsed.from {
        auth::is_authenticated(&headers, &["mx.portal.test".to_owned()], from);
    }
});
