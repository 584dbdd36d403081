//! The parser on RFC 8601's own examples and on hostile text; the decision on every
//! case the portal meets.

use super::*;

fn results(value: &str) -> Vec<MethodResult> {
    parse(value).expect("the header parses").results
}

fn result(method: &str, outcome: &str, properties: &[(&str, &str)]) -> MethodResult {
    MethodResult {
        method: method.to_owned(),
        result: outcome.to_owned(),
        reason: None,
        properties: properties
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
    }
}

#[test]
fn rfc_8601_no_result() {
    // B.2: nothing was checked.
    let header = parse("example.org 1; none").unwrap();
    assert_eq!(header.authserv_id, "example.org");
    assert_eq!(header.version, Some(1));
    assert!(header.results.is_empty());
    assert_eq!(parse("example.org; none").unwrap().version, None);
}

#[test]
fn rfc_8601_spf_and_smtp_auth() {
    // B.3 and B.4.
    assert_eq!(
        results("example.com;\r\n          spf=pass smtp.mailfrom=example.net"),
        [result("spf", "pass", &[("smtp.mailfrom", "example.net")])]
    );
    assert_eq!(
        results(
            "example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net"
        ),
        [
            result("auth", "pass", &[("smtp.auth", "sender@example.net")]),
            result("spf", "pass", &[("smtp.mailfrom", "example.net")]),
        ]
    );
    assert_eq!(
        results("example.com; iprev=pass policy.iprev=192.0.2.200"),
        [result("iprev", "pass", &[("policy.iprev", "192.0.2.200")])]
    );
}

#[test]
fn rfc_8601_dkim_with_reasons_and_header_i() {
    // B.6: two signatures, quoted reasons.
    let parsed = results(
        "example.com;\r\n              dkim=pass reason=\"good signature\"\r\n                header.i=@mail-router.example.net;\r\n              dkim=fail reason=\"bad signature\"\r\n                header.i=@newyork.example.com",
    );
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].reason.as_deref(), Some("good signature"));
    assert_eq!(
        parsed[0].property("header.i"),
        Some("@mail-router.example.net")
    );
    assert_eq!(parsed[1].result, "fail");
    assert_eq!(parsed[1].reason.as_deref(), Some("bad signature"));
}

#[test]
fn rfc_8601_comment_heavy_example() {
    // B.7: comments everywhere CFWS may stand, a method version, a version number.
    let header = parse(
        "foo.example.net (foobar) 1 (baz);\r\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      policy (A dot can go here) . (like that) expired\r\n      (this surprised me) = (as I wasn't expecting it) 1362471462",
    )
    .unwrap();
    assert_eq!(header.authserv_id, "foo.example.net");
    assert_eq!(header.version, Some(1));
    assert_eq!(
        header.results,
        [result("dkim", "fail", &[("policy.expired", "1362471462")])]
    );
}

#[test]
fn what_real_servers_write() {
    let opendkim = "mx.portal.example.gov;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=clinic.example header.i=@clinic.example header.a=rsa-sha256 header.s=mail header.b=AbC+/d9=";
    let parsed = results(opendkim);
    assert_eq!(parsed[0].property("header.d"), Some("clinic.example"));
    assert_eq!(parsed[0].property("header.i"), Some("@clinic.example"));
    assert_eq!(parsed[0].property("header.b"), Some("AbC+/d9="));
    let microsoft = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=contoso.com; dkim=pass (signature was verified) header.d=contoso.com;dmarc=pass action=none header.from=contoso.com;compauth=pass reason=100";
    let parsed = results(&format!("mx.microsoft.example; {microsoft}"));
    assert_eq!(parsed.len(), 4);
    assert_eq!(parsed[2].property("action"), Some("none"));
    assert_eq!(parsed[2].property("header.from"), Some("contoso.com"));
    assert_eq!(parsed[3].reason.as_deref(), Some("100"));
}

#[test]
fn case_unknown_methods_quoted_strings_and_a_trailing_semicolon() {
    let parsed = results(
        "MX.Portal.Test; DKIM=PASS Header.D=Clinic.Example; x-frobnicate=Neutral policy.x=\"a \\\"quoted\\\" (value)\"; arc=none;",
    );
    assert_eq!(parsed[0].method, "dkim");
    assert_eq!(parsed[0].result, "pass");
    assert_eq!(parsed[0].property("header.d"), Some("Clinic.Example"));
    assert_eq!(parsed[1].method, "x-frobnicate");
    assert_eq!(parsed[1].result, "neutral");
    assert_eq!(parsed[1].property("policy.x"), Some("a \"quoted\" (value)"));
    assert_eq!(parsed[2], result("arc", "none", &[]));
    // A quoted authserv-id, and a quoted local part before a domain.
    let header = parse("\"mx.portal.test\"; auth=pass smtp.auth=\"a b\"@clinic.example").unwrap();
    assert_eq!(header.authserv_id, "mx.portal.test");
    assert_eq!(
        header.results[0].property("smtp.auth"),
        Some("a b@clinic.example")
    );
    // Nested comments with an escaped parenthesis.
    assert_eq!(
        results("mx.portal.test (a (nested \\) comment) here); spf=pass (ok (really)) smtp.mailfrom=x.example")
            [0]
        .property("smtp.mailfrom"),
        Some("x.example")
    );
}

#[test]
fn malformed_headers_are_none() {
    for malformed in [
        "",
        "   ",
        "(only a comment)",
        "mx.portal.test",
        "; dkim=pass",
        "mx.portal.test dkim=pass",
        "mx.portal.test; dkim=pass (unclosed header.d=clinic.example",
        "mx.portal.test; dkim=pass header.d=clinic.example)",
        "mx.portal.test; dkim pass",
        "mx.portal.test; dkim=",
        "mx.portal.test; =pass",
        "mx.portal.test; dkim=pass header.d",
        "mx.portal.test; dkim=pass header.=x",
        "mx.portal.test; dkim=pass header.d=",
        "mx.portal.test; dkim=pass reason=\"unclosed",
        "mx.portal.test; dkim=pass header.d=\"unclosed",
        "mx.portal.test;; dkim=pass",
        "mx.portal.test; dkim/=pass",
        "mx.portal.test 99999999999; none",
        "\"\"; dkim=pass",
        "(\\",
        "mx.portal.test; dkim=pass header.d=a\"b\"",
    ] {
        assert_eq!(parse(malformed), None, "{malformed:?}");
    }
}

#[test]
fn hostile_input_costs_linear_time_and_never_panics() {
    let started = std::time::Instant::now();
    let hostile = [
        format!("mx.portal.test{}", ";".repeat(10_000)),
        format!("mx.portal.test; dkim=pass{}", " header.d=x".repeat(10_000)),
        format!("mx.portal.test; {}", "(".repeat(100_000)),
        format!(
            "mx.portal.test {}; none",
            "(".repeat(50_000) + &")".repeat(50_000)
        ),
        format!(
            "mx.portal.test; {}x",
            "(".repeat(50_000) + &")".repeat(50_000)
        ),
        format!(
            "mx.portal.test; dkim=pass policy.x=\"{}",
            "\\\"".repeat(50_000)
        ),
        format!("{}; none", "a".repeat(200_000)),
        format!("mx.portal.test;{}", " dkim=pass;".repeat(20_000)),
        "mx.portal.test; dkim=pass (é\\é) header.d=ü.example; spf=pass \\".to_owned(),
        "\u{0}\u{1}; \u{7f}=pass".to_owned(),
    ];
    for value in &hostile {
        let _ = parse(value);
    }
    assert_eq!(parse(&hostile[0]), None);
    assert_eq!(results(&hostile[1])[0].properties.len(), 10_000);
    assert_eq!(parse(&hostile[2]), None);
    assert_eq!(parse(&hostile[3]).unwrap().authserv_id, "mx.portal.test");
    assert_eq!(results(&hostile[7]).len(), 20_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

fn trusted() -> Vec<String> {
    vec!["mx.portal.test".to_owned()]
}

fn authenticated(headers: &[&str], from_domain: &str) -> bool {
    is_authenticated(headers, &trusted(), from_domain)
}

#[test]
fn a_trusted_pass_authenticates() {
    assert!(authenticated(
        &["mx.portal.test; dkim=pass header.d=clinic.example header.i=@clinic.example"],
        "clinic.example"
    ));
    assert!(authenticated(
        &[
            "MX.PORTAL.TEST; spf=fail smtp.mailfrom=x.example; dmarc=pass (p=reject) header.from=Clinic.Example"
        ],
        "clinic.example"
    ));
    // The From domain may come with its address.
    assert!(authenticated(
        &["mx.portal.test; dmarc=pass header.from=clinic.example"],
        "pat@clinic.example"
    ));
}

#[test]
fn an_untrusted_authserv_id_counts_for_nothing() {
    assert!(!authenticated(
        &[
            "mx.forger.example; dkim=pass header.d=clinic.example; dmarc=pass header.from=clinic.example"
        ],
        "clinic.example"
    ));
    assert!(!is_authenticated(
        &["mx.portal.test; dmarc=pass header.from=clinic.example"],
        &[],
        "clinic.example"
    ));
}

#[test]
fn anything_but_pass_is_not_authenticated() {
    for outcome in [
        "fail",
        "neutral",
        "none",
        "temperror",
        "permerror",
        "policy",
        "softfail",
    ] {
        assert!(
            !authenticated(
                &[&format!(
                    "mx.portal.test; dmarc={outcome} header.from=clinic.example; dkim={outcome} header.d=clinic.example"
                )],
                "clinic.example"
            ),
            "{outcome}"
        );
    }
    // SPF speaks for the envelope, not for the From address.
    assert!(!authenticated(
        &["mx.portal.test; spf=pass smtp.mailfrom=clinic.example"],
        "clinic.example"
    ));
}

#[test]
fn dmarc_must_name_the_from_domain() {
    assert!(!authenticated(
        &["mx.portal.test; dmarc=pass header.from=other.example"],
        "clinic.example"
    ));
    assert!(!authenticated(
        &["mx.portal.test; dmarc=pass"],
        "clinic.example"
    ));
    // DMARC's verdict is on the exact From domain, not its organization.
    assert!(!authenticated(
        &["mx.portal.test; dmarc=pass header.from=clinic.example"],
        "mail.clinic.example"
    ));
}

#[test]
fn dkim_aligns_within_the_organizational_domain() {
    let dkim = |domain: &str| format!("mx.portal.test; dkim=pass header.d={domain}");
    assert!(authenticated(
        &[&dkim("mail.clinic.example")],
        "clinic.example"
    ));
    assert!(authenticated(
        &[&dkim("clinic.example")],
        "mail.clinic.example"
    ));
    assert!(authenticated(&[&dkim("clinic.example.")], "clinic.example"));
    assert!(authenticated(&[&dkim("a.clinic.co.uk")], "b.clinic.co.uk"));
    assert!(!authenticated(&[&dkim("other.example")], "clinic.example"));
    assert!(!authenticated(
        &[&dkim("clinic.example.evil")],
        "clinic.example"
    ));
    // The public-suffix trap: co.uk is no organization.
    assert!(!authenticated(&[&dkim("co.uk")], "clinic.co.uk"));
    assert!(!authenticated(&[&dkim("clinic.co.uk")], "other.co.uk"));
    // Private suffixes count: two sites of one host are two organizations.
    assert!(!authenticated(&[&dkim("a.github.io")], "b.github.io"));
    // A DKIM pass without its signing domain says nothing about the From.
    assert!(!authenticated(
        &["mx.portal.test; dkim=pass header.i=@clinic.example"],
        "clinic.example"
    ));
}

#[test]
fn no_header_or_a_malformed_one_is_not_authenticated() {
    assert!(!authenticated(&[], "clinic.example"));
    assert!(!authenticated(
        &["mx.portal.test; dkim=pass (unclosed header.d=clinic.example"],
        "clinic.example"
    ));
    assert!(!authenticated(
        &["mx.portal.test; dkim=pass header.d=clinic.example"],
        ""
    ));
}

#[test]
fn one_trusted_header_among_several_is_enough() {
    assert!(authenticated(
        &[
            "mx.forger.example; dkim=pass header.d=clinic.example",
            "mx.portal.test (broken",
            "mx.portal.test; dkim=pass header.d=clinic.example",
        ],
        "clinic.example"
    ));
    assert!(!authenticated(
        &[
            "mx.forger.example; dkim=pass header.d=clinic.example",
            "mx.portal.test; dkim=fail header.d=clinic.example",
        ],
        "clinic.example"
    ));
}
