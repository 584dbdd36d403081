//! Sender authentication end to end, against a real verifier: the providers' mail comes
//! in through the stack's MX listener, where OpenDKIM (Debian's package, a milter of the
//! test Postfix) checks its DKIM signature and writes
//! `Authentication-Results: mx.portal.test; dkim=…`; a message is signed by dkimpy with
//! the sending domain's key, as the clinic's own mail server would sign it
//! (tests/mailstack/verifier.rs says how the verifier, its keys and the signer are set
//! up, with no DNS).
//!
//! The portal trusts that verifier alone (`[mail.authentication] trusted_authserv_ids =
//! ["mx.portal.test"]`). A complaint signed for clinic.test from the clinic's
//! registered address (`dkim=pass header.d=clinic.test`) is filed, forwarded and
//! acknowledged. The same complaint with a From its signer does not vouch for (signed by
//! another domain, unsigned, or signed by clinic.test for an address elsewhere), with
//! its body changed after signing, or carrying forged `Authentication-Results` in the
//! verifier's name (removed at the door, in any spelling) is recorded as
//! `unauthenticated`, moved to Quarantine and answered by nobody — until staff vouch
//! for the sender (`messages release --trust-sender`, over IMAP, no mail moved). While
//! the verifier is down the MX refuses mail (4xx) rather than let it in unverified.
//! About 20 seconds of test time in all.

use portal::forms::samples::Sample;

use crate::common::Sent;
use crate::mailstack::{
    self, AUTHSERV_ID, Account, FORGER_DOMAIN, Inbound, Letter, MailStack, Portal, Wiring,
    domain_of, wait_until,
};

/// Index of Molina in the shipped list of MCOs.
const MCO_MOLINA: usize = 4;

/// A good complaint template of two lines for Molina, received today, its claim and
/// tracking numbers made distinct by `serial`.
fn template(serial: usize) -> Vec<u8> {
    use portal::forms::Value;
    use portal::forms::schema::claim;
    let config = crate::common::config();
    let mut lines = portal::forms::samples::complaint_lines(
        Sample::Good,
        portal::today::today_in_illinois(),
        MCO_MOLINA,
        2,
    );
    for (line, record) in lines.iter_mut().enumerate() {
        record.values[claim::CLAIM_NUMBER] = Some(Value::Text(format!("CLM{serial:05}{line:02}")));
        record.values[claim::TRACKING_NUMBER] =
            Some(Value::Text(format!("TRK-{serial:05}-{line:02}")));
    }
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

/// The body text of every complaint here; [`break_signature`] changes one word of it.
const BODY: &str = "Our complaint template is attached.";

/// A complaint template from `from` to the portal's intake mailbox, as swaks composes
/// it (not signed).
fn complaint(stack: &MailStack, portal: &Portal<'_>, from: &str, serial: usize) -> Vec<u8> {
    let letter = Letter {
        from,
        to: &portal.intake.address,
        subject: "Complaint: two claims",
        body: BODY,
        attachments: vec![("complaint-template.xlsx".to_owned(), template(serial))],
        ..Letter::default()
    };
    stack.compose(&letter).0
}

/// `signed` with one word of its text changed after signing, as a relay that rewrites
/// a message would: the signature no longer covers the body.
fn break_signature(signed: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(signed.to_vec()).expect("the message is ASCII");
    assert_eq!(text.matches(BODY).count(), 1, "the body text once");
    text.replace(BODY, "Our complaint template is attached!")
        .into_bytes()
}

/// The Authentication-Results header fields of a raw message, unfolded, in order.
fn authentication_results(raw: &[u8]) -> Vec<String> {
    let end = portal::mail::header_end(raw);
    let header = String::from_utf8_lossy(&raw[..end]);
    let mut fields: Vec<String> = Vec::new();
    for line in header.split("\r\n").flat_map(|line| line.split('\n')) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else if !line.is_empty() {
            fields.push(line.trim_end_matches('\r').to_owned());
        }
    }
    fields
        .iter()
        .filter_map(|field| {
            let (name, value) = field.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("Authentication-Results")
                .then(|| value.trim().to_owned())
        })
        .collect()
}

/// The authserv-id of an Authentication-Results value in its plainest spelling: leading
/// comments, quotes and a trailing dot gone, lower case.
fn authserv_id(value: &str) -> String {
    let mut rest = value.trim_start();
    while let Some(comment) = rest.strip_prefix('(') {
        rest = comment
            .split_once(')')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    let id = rest
        .split([';', ' ', '\t', '('])
        .next()
        .unwrap_or("")
        .trim_matches('"');
    id.trim_end_matches('.').to_ascii_lowercase()
}

/// The Authentication-Results a message carries in the verifier's name, spelt in any
/// way; a message that came through the MX carries exactly one, the verifier's own.
fn verdict(raw: &[u8]) -> String {
    let ours: Vec<String> = authentication_results(raw)
        .into_iter()
        .filter(|value| authserv_id(value) == AUTHSERV_ID)
        .collect();
    let [verdict] = ours.as_slice() else {
        panic!(
            "one Authentication-Results in the verifier's name: {ours:#?}\n{}",
            String::from_utf8_lossy(&raw[..portal::mail::header_end(raw)])
        )
    };
    verdict.clone()
}

/// The one message in `account`'s INBOX, read over IMAP.
fn the_message(stack: &MailStack, account: &Account) -> Vec<u8> {
    let mut inbox = stack.read(account, "INBOX");
    assert_eq!(inbox.len(), 1, "one message in {}'s INBOX", account.user);
    inbox.remove(0)
}

fn subjects(notices: &[Sent]) -> Vec<&str> {
    notices
        .iter()
        .map(|notice| notice.subject.as_str())
        .collect()
}

fn array(value: &serde_json::Value) -> &Vec<serde_json::Value> {
    value.as_array().expect("a JSON array")
}

/// A portal that trusts the stack's verifier alone (`[mail.authentication]
/// trusted_authserv_ids = ["mx.portal.test"]`), its provider registered with signed
/// mail and approved: the provider's INBOX holds the registration's two notices.
fn authenticating_portal<'a>(stack: &'a MailStack, name: &str) -> Portal<'a> {
    let wiring = Wiring {
        trusted_authserv_ids: &[AUTHSERV_ID],
        ..Wiring::default()
    };
    let portal = Portal::wired(stack, name, wiring);
    portal.register_signed(&portal.provider);
    portal
}

/// One pass over the `count` messages waiting in the intake inbox, none of them
/// authenticated: each is recorded as `unauthenticated` with no notice and moved to
/// Quarantine, no ticket is filed, and once Postfix has delivered everything nobody got
/// mail — the provider's INBOX holds its registration's two notices still, the MCO's
/// nothing.
fn assert_held_for_nobody(stack: &MailStack, portal: &Portal<'_>, count: usize) {
    let report = portal.pass();
    assert!(
        report.contains(&format!("{count} message(s): 0 ticket(s)"))
            && report.contains(&format!("{count} unauthenticated"))
            && report.contains("notices: 0 sent, 0 waiting"),
        "{report}"
    );
    let messages = portal.json(&["messages", "list", "--json"]);
    let held: Vec<&serde_json::Value> = array(&messages)
        .iter()
        .filter(|record| record["outcome"]["kind"] == "unauthenticated")
        .collect();
    assert_eq!(held.len(), count, "{messages:#}");
    assert!(
        held.iter()
            .all(|record| array(&record["notices"]).is_empty()),
        "{messages:#}"
    );
    assert!(array(&portal.json(&["tickets", "list", "--json"])).is_empty());
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    assert_eq!(stack.read(&portal.intake, "Quarantine").len(), count);
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert_eq!(provider_mail.len(), 2, "{:#?}", subjects(&provider_mail));
    assert!(stack.read(&portal.mco, "INBOX").is_empty());
}

// ---------------------------------------------------------------------------------
// Signed, forged, broken
// ---------------------------------------------------------------------------------

/// A complaint template signed for clinic.test by the clinic's server, from the
/// registered clinic address (registered with signed mail too): the verifier says
/// `dkim=pass header.d=clinic.test`, and the portal, trusting only that verifier, files
/// it, forwards it to Molina and tells the provider.
#[test]
fn a_complaint_signed_for_the_clinic_is_filed_and_acknowledged() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = authenticating_portal(&stack, "auth-signed");

    let raw = complaint(&stack, &portal, &portal.provider.address, 1);
    let signed = stack.dkim_sign(&raw, domain_of(&portal.provider.address));
    stack.send_inbound_and_wait(&portal.provider.address, &portal.intake, &signed);
    let verdict = verdict(&the_message(&stack, &portal.intake));
    assert!(
        verdict.contains("dkim=pass") && verdict.contains("header.d=clinic.test"),
        "{verdict}"
    );

    let report = portal.pass();
    assert!(
        report.contains("1 message(s): 1 ticket(s)") && report.contains("0 unauthenticated"),
        "{report}"
    );
    assert!(report.contains("notices: 2 sent"), "{report}");
    let tickets = portal.json(&["tickets", "list", "--json"]);
    let [ticket] = array(&tickets).as_slice() else {
        panic!("one ticket: {tickets:#}")
    };
    assert_eq!(ticket["status"], "forwarded", "{ticket:#}");
    assert_eq!(ticket["sender"], portal.provider.address.as_str());
    let id = ticket["id"].as_str().unwrap();
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    let processed = stack.read(&portal.intake, "Processed").len();
    assert_eq!(processed, 2, "the registration and the complaint");
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert!(
        provider_mail.iter().any(|notice| notice
            .subject
            .starts_with(&format!("[{id}] Complaint accepted and sent to Molina"))),
        "{:#?}",
        subjects(&provider_mail)
    );
    let mco_mail = stack.notices(&portal.mco, "INBOX");
    let [forward] = mco_mail.as_slice() else {
        panic!("one forward: {:#?}", subjects(&mco_mail))
    };
    assert!(
        forward.subject.starts_with(&format!("[{id}]")),
        "{}",
        forward.subject
    );
}

/// The clinic's complaint with a From its signature does not vouch for: signed by
/// another domain (forger.test) in the registered provider's name, not signed at all,
/// and signed by clinic.test for an address at forger.test. The verifier passes none
/// of them for the From domain, and the portal holds all three in Quarantine as
/// `unauthenticated` and answers nobody.
#[test]
fn a_forged_from_is_held_and_nobody_is_answered() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = authenticating_portal(&stack, "auth-forged");
    let provider = &portal.provider.address;
    let elsewhere = format!("{}-someone@{FORGER_DOMAIN}", portal.name);

    let raw = complaint(&stack, &portal, provider, 2);
    let by_forger = stack.dkim_sign(&raw, FORGER_DOMAIN);
    stack.send_inbound_and_wait(provider, &portal.intake, &by_forger);
    let raw = complaint(&stack, &portal, provider, 3);
    stack.send_inbound_and_wait(provider, &portal.intake, &raw);
    let raw = complaint(&stack, &portal, &elsewhere, 4);
    let by_clinic = stack.dkim_sign(&raw, domain_of(provider));
    stack.send_inbound_and_wait(&elsewhere, &portal.intake, &by_clinic);

    let verdicts: Vec<String> = stack
        .read(&portal.intake, "INBOX")
        .iter()
        .map(|raw| verdict(raw))
        .collect();
    let [by_forger, unsigned, by_clinic] = verdicts.as_slice() else {
        panic!("three messages: {verdicts:#?}")
    };
    assert!(
        by_forger.contains("dkim=pass") && by_forger.contains(&format!("header.d={FORGER_DOMAIN}")),
        "{by_forger}"
    );
    assert!(!by_forger.contains("header.d=clinic.test"), "{by_forger}");
    assert!(unsigned.contains("dkim=none"), "{unsigned}");
    assert!(!unsigned.contains("dkim=pass"), "{unsigned}");
    assert!(
        by_clinic.contains("dkim=pass") && by_clinic.contains("header.d=clinic.test"),
        "a pass, for a domain that is not the From's: {by_clinic}"
    );

    assert_held_for_nobody(&stack, &portal, 3);
}

/// The clinic's signed complaint with one word of its text changed after signing: the
/// verifier says `dkim=fail` (the body hash does not match) and the portal holds it,
/// answering nobody. Staff who know the sender vouch for it (`messages release HASH
/// --trust-sender --by NAME`): it is filed from its stored bytes then, its notices go
/// out through Postfix, and the mail stays in Quarantine on the IMAP server.
#[test]
fn a_broken_signature_is_held_until_staff_vouch_for_the_sender() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = authenticating_portal(&stack, "auth-broken");
    let provider = &portal.provider.address;

    let raw = complaint(&stack, &portal, provider, 5);
    let broken = break_signature(&stack.dkim_sign(&raw, domain_of(provider)));
    stack.send_inbound_and_wait(provider, &portal.intake, &broken);
    let verdict = verdict(&the_message(&stack, &portal.intake));
    assert!(verdict.contains("dkim=fail"), "{verdict}");
    assert!(!verdict.contains("=pass"), "{verdict}");
    assert_held_for_nobody(&stack, &portal, 1);

    let processed = stack.read(&portal.intake, "Processed").len();
    let messages = portal.json(&["messages", "list", "--json"]);
    let hash = array(&messages)
        .iter()
        .find(|record| record["outcome"]["kind"] == "unauthenticated")
        .and_then(|record| record["hash"].as_str())
        .expect("the held message")
        .to_owned();
    let released = portal.ok(&[
        "messages",
        "release",
        &hash,
        "--trust-sender",
        "--by",
        "Pat Staff",
    ]);
    assert!(
        released.contains("handled as authenticated") && released.contains("Pat Staff"),
        "{released}"
    );
    let tickets = portal.json(&["tickets", "list", "--json"]);
    let [ticket] = array(&tickets).as_slice() else {
        panic!("one ticket: {tickets:#}")
    };
    let id = ticket["id"].as_str().unwrap();
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert!(
        provider_mail.iter().any(|notice| notice
            .subject
            .starts_with(&format!("[{id}] Complaint accepted"))),
        "{:#?}",
        subjects(&provider_mail)
    );
    assert_eq!(stack.notices(&portal.mco, "INBOX").len(), 1, "the forward");
    assert_eq!(stack.read(&portal.intake, "Quarantine").len(), 1);
    assert_eq!(stack.read(&portal.intake, "Processed").len(), processed);
}

/// An unsigned complaint from the registered provider carrying forged
/// Authentication-Results in the verifier's name — as written, in capitals, after a
/// comment, quoted, with a version, with a trailing dot, folded, claiming `dkim=pass`
/// and `dmarc=pass` for clinic.test: none of them is stored; the verifier's own says
/// `dkim=none`. Another server's header (`other.test`, which the portal does not trust)
/// is left as it came. The portal holds the message and answers nobody.
#[test]
fn forged_authentication_results_are_removed_at_the_door() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = authenticating_portal(&stack, "auth-header");
    let provider = &portal.provider.address;
    let forged = [
        format!("{AUTHSERV_ID}; dkim=pass header.d=clinic.test"),
        format!(
            "{}; dkim=pass header.d=clinic.test",
            AUTHSERV_ID.to_uppercase()
        ),
        format!("(checked) {AUTHSERV_ID}; dmarc=pass header.from=clinic.test"),
        format!("\"{AUTHSERV_ID}\"; dkim=pass header.d=clinic.test"),
        format!("{AUTHSERV_ID} 1; dmarc=pass header.from=clinic.test"),
        format!("{AUTHSERV_ID}.; dkim=pass header.d=clinic.test"),
        format!("{AUTHSERV_ID};\r\n\tdkim=pass header.d=clinic.test;\r\n\tdmarc=pass"),
    ];
    let untrusted = "other.test; dkim=pass header.d=clinic.test";
    let mut raw: Vec<u8> = forged
        .iter()
        .map(String::as_str)
        .chain([untrusted])
        .flat_map(|value| format!("Authentication-Results: {value}\r\n").into_bytes())
        .collect();
    raw.extend(complaint(&stack, &portal, provider, 6));
    stack.send_inbound_and_wait(provider, &portal.intake, &raw);

    let stored = the_message(&stack, &portal.intake);
    let verdict = verdict(&stored);
    assert!(verdict.contains("dkim=none"), "{verdict}");
    assert!(!verdict.contains("=pass"), "{verdict}");
    let all = authentication_results(&stored);
    assert_eq!(all.len(), 2, "the verifier's and other.test's: {all:#?}");
    assert!(all.contains(&untrusted.to_owned()), "{all:#?}");

    assert_held_for_nobody(&stack, &portal, 1);
}

/// While OpenDKIM is down the MX listener refuses a signed complaint with a 4xx
/// (`milter_default_action = tempfail`; Postfix answers the session's first command
/// that may be refused, here STARTTLS): nothing is queued or delivered unverified.
/// Once it is back, the same bytes are accepted and pass.
#[test]
fn a_dead_verifier_lets_no_mail_in() {
    let stack = mailstack::shared();
    let portal = Portal::new(&stack, "auth-dead");
    let provider = &portal.provider.address;
    let raw = complaint(&stack, &portal, provider, 7);
    let signed = stack.dkim_sign(&raw, domain_of(provider));
    let milter_rejects = || {
        stack
            .postfix_log()
            .matches("milter-reject: CONNECT")
            .count()
    };
    {
        let exclusive = stack.exclusive();
        exclusive.stop_verifier();
        let before = milter_rejects();
        match stack.send_inbound(provider, &portal.intake.address, &signed) {
            Inbound::Refused(transcript) => assert!(
                transcript.contains("\n<** 4") && !transcript.contains("queued"),
                "a temporary refusal:\n{transcript}"
            ),
            Inbound::Queued => panic!("accepted while the verifier is down"),
        }
        wait_until(
            "Postfix to log the milter's refusal",
            || milter_rejects() > before,
            || stack.postfix_log(),
        );
        stack.wait_until_delivered();
        assert_eq!(stack.on_disk(&portal.intake, None), 0, "nothing delivered");
        exclusive.start_verifier();
    }
    let _sharing = stack.share();
    stack.send_inbound_and_wait(provider, &portal.intake, &signed);
    let verdict = verdict(&the_message(&stack, &portal.intake));
    assert!(verdict.contains("dkim=pass"), "{verdict}");
}
