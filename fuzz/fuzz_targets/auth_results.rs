//! Fuzz target: the `Authentication-Results` parser (`portal::mail::auth::parse`) and the
//! decision built on it (`is_authenticated`), on any text a sender can put in a header.
//! Neither may panic or hang, and the decision never trusts what the parser refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portal::mail::auth;

/// At most this many domains named by the header are tried as the From domain.
const MAX_DOMAINS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = auth::parse(&text);
    assert_eq!(parsed, auth::parse(&text), "parsing is deterministic");

    // The header's own authserv-id is trusted (the case where results are read), and a
    // fixed one beside it; the From domains tried are a fixed one and every value the
    // header names (`header.from`, `header.d`, `header.i`, …).
    let mut trusted = vec!["mx.portal.test".to_owned()];
    let mut domains = vec!["clinic.example".to_owned()];
    if let Some(header) = &parsed {
        assert!(
            !header.authserv_id.trim().is_empty(),
            "an authserv-id is named"
        );
        trusted.push(header.authserv_id.clone());
        let values = header.results.iter().flat_map(|result| &result.properties);
        domains.extend(values.map(|(_, value)| value.clone()).take(MAX_DOMAINS));
    }
    // Several headers in one message: the text cut at NULs (rarely present, so the
    // whole text stays one header most of the time).
    let headers: Vec<&str> = text.split('\0').take(auth::MAX_HEADERS + 1).collect();
    for domain in &domains {
        let alone = auth::is_authenticated(&[&text], &trusted, domain);
        assert!(
            !alone || parsed.is_some(),
            "a header the parser refused counts as none"
        );
        assert!(
            !auth::is_authenticated(&[&text], &[], domain),
            "nothing is authenticated when no authserv-id is trusted"
        );
        auth::is_authenticated(&headers, &trusted, domain);
        for other in &domains {
            auth::aligned(domain, other);
        }
    }
});
