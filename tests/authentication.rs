//! Sender authentication on a local Maildir and the file transport, with
//! `Authentication-Results` headers written by hand as the receiving server would:
//! only a header from the trusted authserv-id that vouches for the From domain lets
//! intake act on a message; everything else is held as `unauthenticated`, in
//! Quarantine, answered to nobody, until staff vouch for the sender.

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::mail::Folder;
use portal::store::{AuditEntry, MessageRecord, Outcome, Store, Ticket, Tree};

use crate::common::{Mailroom, PROVIDER, complaint, message, registration_form};

const INTAKE: &str = "intake@portal.example.gov";
const INQUIRIES: &str = "HFS.Portalinquiries@illinois.gov";
const TRUSTED: &str = "[mail.authentication]\ntrusted_authserv_ids = [\"mx.portal.test\"]\n";
/// The provider's own signature, as the trusted server reports it.
const SIGNED: &str = "mx.portal.test; dkim=pass (2048-bit key) header.d=prairie-clinic.example header.i=@prairie-clinic.example header.b=AbCd";

/// `raw` with an `Authentication-Results` header on top, where the receiving server
/// writes it.
fn with_results(raw: &[u8], value: &str) -> Vec<u8> {
    let mut with = format!("Authentication-Results: {value}\r\n").into_bytes();
    with.extend_from_slice(raw);
    with
}

fn complaint_mail() -> Vec<u8> {
    message(
        PROVIDER,
        INTAKE,
        "Claims",
        "Attached.",
        &[("claims.xlsx", complaint(Sample::Good, 1))],
    )
}

/// A mailroom with authentication on, where the provider registered (with signed
/// mail) and was approved. The outbox then holds the registration's two notices.
fn registered_room(extra: &str) -> Mailroom {
    let room = Mailroom::new(&format!("{TRUSTED}{extra}"));
    room.deliver(&with_results(
        &message(
            PROVIDER,
            INTAKE,
            "Registration",
            "Form attached.",
            &[(
                "registration-form.xlsx",
                registration_form(PROVIDER, SAMPLE_NPI),
            )],
        ),
        SIGNED,
    ));
    let report = room.pass();
    let id = *report
        .registrations
        .first()
        .expect("a registration is filed");
    let services = portal::services::Services::open(&room.config).unwrap();
    portal::staff::decide(
        &services.intake(&room.config, None),
        id,
        portal::staff::Decision::Approve,
        "tester",
        None,
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(room.outbox().len(), 2, "registration received and approved");
    room
}

fn store(room: &Mailroom) -> Store {
    Store::open(&room.config.store.path).unwrap()
}

fn tickets(room: &Mailroom) -> Vec<Ticket> {
    store(room).all(Tree::Tickets).unwrap()
}

/// The record of the one message from `from` handled last.
fn record_from(room: &Mailroom, from: &str) -> MessageRecord {
    let mut records: Vec<MessageRecord> = store(room)
        .all::<MessageRecord>(Tree::Messages)
        .unwrap()
        .into_iter()
        .filter(|record| record.from == from)
        .collect();
    records.sort_by_key(|record| record.processed_at);
    records.pop().expect("a message from that sender")
}

fn audit(room: &Mailroom) -> Vec<AuditEntry> {
    store(room).all(Tree::Audit).unwrap()
}

/// Delivers `raw`, runs a pass, and checks it was held: `unauthenticated`, in
/// Quarantine, and not a notice more in the outbox.
fn expect_held(room: &Mailroom, raw: &[u8], from: &str) {
    let before = room.outbox().len();
    let id = room.deliver(raw);
    let report = room.pass();
    assert_eq!(report.unauthenticated, 1, "{report:?}");
    assert!(report.tickets.is_empty() && report.registrations.is_empty());
    assert_eq!(record_from(room, from).outcome, Outcome::Unauthenticated);
    assert!(room.intake_folder(Some(Folder::Quarantine)).contains(&id));
    assert!(room.intake_folder(None).is_empty());
    assert_eq!(room.outbox().len(), before, "no notice to anyone");
}

#[test]
fn a_trusted_aligned_signature_files_the_ticket() {
    let room = registered_room("");
    room.deliver(&with_results(&complaint_mail(), SIGNED));
    let report = room.pass();
    assert_eq!(report.tickets.len(), 1, "{report:?}");
    assert_eq!(report.unauthenticated, 0);
    let sent = room.outbox();
    assert!(
        sent.iter()
            .any(|notice| notice.to == PROVIDER && notice.subject.starts_with("[PRP-"))
    );
    assert!(
        sent.iter()
            .any(|notice| notice.to == "disputes@molina.example")
    );
    assert_eq!(room.intake_folder(Some(Folder::Processed)).len(), 2);
}

#[test]
fn a_subdomain_signature_or_a_dmarc_pass_is_acted_on() {
    let room = registered_room("");
    // Signed by a subdomain of the provider's organization: aligned.
    room.deliver(&with_results(
        &complaint_mail(),
        "mx.portal.test; spf=fail smtp.mailfrom=bounce.example; dkim=pass header.d=mail.prairie-clinic.example",
    ));
    assert_eq!(room.pass().tickets.len(), 1);
    // A DMARC pass for the From domain, in capitals, among other servers' headers.
    let raw = with_results(
        &with_results(
            &message(PROVIDER, INTAKE, "Question", "How?", &[]),
            "MX.PORTAL.TEST (postfix); DMARC=PASS (p=reject) header.from=Prairie-Clinic.Example",
        ),
        "mx.relay.example; dkim=fail header.d=prairie-clinic.example",
    );
    room.deliver(&raw);
    room.pass();
    assert_eq!(record_from(&room, PROVIDER).outcome, Outcome::Help);
}

#[test]
fn an_untrusted_authserv_id_is_held_and_nobody_is_answered() {
    let room = registered_room("");
    expect_held(
        &room,
        &with_results(
            &complaint_mail(),
            "mx.forger.example; dkim=pass header.d=prairie-clinic.example; dmarc=pass header.from=prairie-clinic.example",
        ),
        PROVIDER,
    );
    assert!(tickets(&room).is_empty());
    let audited = audit(&room);
    assert!(
        audited
            .iter()
            .any(|entry| entry.action == "message_unauthenticated")
    );
}

#[test]
fn failures_unaligned_signatures_and_missing_or_malformed_headers_are_held() {
    let room = registered_room("");
    for results in [
        Some(
            "mx.portal.test; dkim=fail header.d=prairie-clinic.example; dmarc=fail header.from=prairie-clinic.example",
        ),
        Some("mx.portal.test; dkim=pass header.d=other.example"),
        Some("mx.portal.test; dkim=pass (unclosed header.d=prairie-clinic.example"),
        Some("mx.portal.test; dmarc=temperror header.from=prairie-clinic.example"),
        None,
    ] {
        let raw = match results {
            Some(value) => with_results(&complaint_mail(), value),
            None => complaint_mail(),
        };
        expect_held(&room, &raw, PROVIDER);
    }
    // The obsolete form of the name, a space before the colon, is never trusted: a
    // server's rule removing forged copies of its header may not know it.
    let mut spaced = format!("Authentication-Results : {SIGNED}\r\n").into_bytes();
    spaced.extend_from_slice(&complaint_mail());
    expect_held(&room, &spaced, PROVIDER);
    assert!(tickets(&room).is_empty());
}

#[test]
fn forged_registrations_help_requests_and_mco_mail_draw_no_backscatter() {
    let room = Mailroom::new(TRUSTED);
    let victim = "victim@clinic.example";
    expect_held(
        &room,
        &message(
            victim,
            INTAKE,
            "Registration",
            "Form attached.",
            &[(
                "registration-form.xlsx",
                registration_form(victim, SAMPLE_NPI),
            )],
        ),
        victim,
    );
    expect_held(
        &room,
        &message("curious@clinic.example", INTAKE, "Help", "How?", &[]),
        "curious@clinic.example",
    );
    expect_held(
        &room,
        &message(
            "disputes@molina.example",
            INTAKE,
            "Our answer",
            "See attached.",
            &[],
        ),
        "disputes@molina.example",
    );
    assert!(room.outbox().is_empty());
    assert!(
        store(&room)
            .all::<portal::store::Registration>(Tree::Registrations)
            .unwrap()
            .is_empty()
    );
    // Automatic mail stays automatic: never answered, not held for staff.
    let bounce = message("MAILER-DAEMON@mx.example", INTAKE, "Undelivered", "x", &[]);
    room.deliver(&bounce);
    let report = room.pass();
    assert_eq!((report.automatic, report.unauthenticated), (1, 0));
}

#[test]
fn a_message_too_large_from_an_unauthenticated_sender_is_not_answered() {
    let room = Mailroom::new(&format!("{TRUSTED}[mail]\nmax_message_bytes = 2048\n"));
    let big = message(
        "big@clinic.example",
        INTAKE,
        "Scans",
        &"x".repeat(4096),
        &[],
    );
    expect_held(&room, &big, "big@clinic.example");
    // Trusted by staff, it is what it would have been: too large, its sender told.
    let hash = record_from(&room, "big@clinic.example").hash;
    let services = portal::services::Services::open(&room.config).unwrap();
    let trusted = portal::staff::trust_sender(
        &services.intake(&room.config, None),
        &hash,
        "Pat",
        chrono::Utc::now(),
    )
    .unwrap();
    drop(services);
    assert_eq!(
        trusted.record.outcome,
        Outcome::Quarantined {
            why: "too large".to_owned()
        }
    );
    assert_eq!(trusted.notices.len(), 1);
    assert_eq!(room.outbox().len(), 1);
    // Authenticated, the same message is refused as too large, and its sender told.
    let signed = with_results(
        &message(
            "big@clinic.example",
            INTAKE,
            "Scans",
            &"y".repeat(4096),
            &[],
        ),
        "mx.portal.test; dmarc=pass header.from=clinic.example",
    );
    room.deliver(&signed);
    let report = room.pass();
    assert_eq!(report.quarantined, 1);
    let sent = room.outbox();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|notice| notice.subject.contains("too large") && notice.to == "big@clinic.example"),
        "{sent:?}"
    );
}

#[test]
fn inquiries_are_answered_with_the_registration_status_only_when_authenticated() {
    let room = registered_room("");
    let question = message(PROVIDER, INQUIRIES, "Status?", "Are we registered?", &[]);
    room.deliver_inquiry(&question);
    let report = room.pass();
    assert_eq!(report.inquiries.len(), 1);
    assert_eq!(report.unauthenticated, 0);
    let answer = |room: &Mailroom| {
        let mut answers: Vec<_> = room
            .outbox()
            .into_iter()
            .filter(|sent| sent.subject.contains("We received your question"))
            .collect();
        answers.sort_by(|a, b| a.subject.cmp(&b.subject));
        answers.pop().expect("an inquiry answer")
    };
    let unverified = answer(&room);
    assert_eq!(unverified.to, PROVIDER);
    assert!(
        unverified.text.contains("does not say whether") && !unverified.text.contains("REG-"),
        "{}",
        unverified.text
    );
    room.deliver_inquiry(&with_results(
        &message(PROVIDER, INQUIRIES, "Status again?", "Registered?", &[]),
        SIGNED,
    ));
    room.pass();
    let verified = answer(&room);
    assert!(
        verified.text.contains("is registered (registration REG-"),
        "{}",
        verified.text
    );
}

#[test]
fn with_authentication_off_mail_is_acted_on_and_every_pass_says_so() {
    let room = Mailroom::new("");
    room.deliver(&message(
        "curious@clinic.example",
        INTAKE,
        "Question",
        "?",
        &[],
    ));
    let output = room.cli(&["intake", "--once"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let warnings = stderr
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("sender authentication is off"))
        .count();
    assert_eq!(warnings, 1, "{stderr}");
    assert!(stderr.contains("every From address is trusted"), "{stderr}");
    assert_eq!(
        record_from(&room, "curious@clinic.example").outcome,
        Outcome::Help
    );
    assert_eq!(room.outbox().len(), 1);
    // With a trusted id, the pass says nothing of the kind.
    let on = Mailroom::new(TRUSTED);
    let output = on.cli(&["intake", "--once"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("sender authentication is off"), "{stderr}");
}

#[test]
fn staff_can_trust_the_sender_and_the_message_is_handled_without_moving() {
    let room = registered_room("");
    let id = room.deliver(&complaint_mail());
    room.pass();
    let held = record_from(&room, PROVIDER);
    assert_eq!(held.outcome, Outcome::Unauthenticated);
    let hash = &held.hash[..12];
    // --trust-sender needs a name.
    let usage = room.cli(&["messages", "release", hash, "--trust-sender"]);
    assert_eq!(usage.status.code(), Some(2));
    let output = room.cli(&[
        "messages",
        "release",
        hash,
        "--trust-sender",
        "--by",
        "Pat Staff",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("handled as authenticated") && stdout.contains("Pat Staff"),
        "{stdout}"
    );
    assert!(stdout.contains("The notice was sent to"), "{stdout}");
    let filed = tickets(&room);
    assert_eq!(filed.len(), 1);
    let ticket_id = filed[0].id.to_string();
    let sent = room.outbox();
    assert!(
        sent.iter()
            .any(|notice| notice.to == PROVIDER && notice.subject.contains(&ticket_id)),
        "the provider's notice went out"
    );
    assert!(
        sent.iter()
            .any(|notice| notice.to == "disputes@molina.example")
    );
    let trusted = record_from(&room, PROVIDER);
    assert!(
        matches!(&trusted.outcome, Outcome::Tickets { ids } if ids.len() == 1),
        "{:?}",
        trusted.outcome
    );
    assert_eq!(
        trusted.trusted.as_ref().map(|mark| mark.by.as_str()),
        Some("Pat Staff")
    );
    assert_eq!(trusted.hash, held.hash);
    assert!(
        audit(&room)
            .iter()
            .any(|entry| entry.action == "message_trusted"
                && entry.by.as_deref() == Some("Pat Staff")
                && held.hash.starts_with(&entry.subject))
    );
    // No mail moved: it stays in Quarantine, and the next pass leaves it be.
    assert!(room.intake_folder(Some(Folder::Quarantine)).contains(&id));
    assert!(room.intake_folder(None).is_empty());
    let report = room.pass();
    assert_eq!(report.messages, 0);
    let list = room.cli(&["messages", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let item = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["hash"] == held.hash.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["outcome"]["kind"], "tickets");
    assert_eq!(item["trusted"]["by"], "Pat Staff", "{item}");
    let text = String::from_utf8_lossy(&room.cli(&["messages", "list"]).stdout).into_owned();
    assert!(text.contains("[sender trusted by Pat Staff]"), "{text}");
    // Twice is refused, and so is a message that was never held.
    let again = room.cli(&["messages", "release", hash, "--trust-sender", "--by", "Pat"]);
    assert_eq!(again.status.code(), Some(1));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("not") || said.contains("only"), "{said}");
    assert_eq!(tickets(&room).len(), 1);
}

#[test]
fn the_staff_digest_lists_unauthenticated_messages() {
    let room = Mailroom::new(&format!(
        "{TRUSTED}[mail]\nstaff_address = \"staff@portal.example.gov\"\n"
    ));
    room.deliver(&message("forged@clinic.example", INTAKE, "Help", "?", &[]));
    let report = room.pass();
    assert_eq!(report.unauthenticated, 1);
    assert!(report.digest_sent);
    let hash = record_from(&room, "forged@clinic.example").hash;
    let sent = room.outbox();
    assert_eq!(sent.len(), 1, "the digest alone");
    let digest = &sent[0];
    assert_eq!(digest.to, "staff@portal.example.gov");
    assert!(
        digest.text.contains("sender was not authenticated")
            && digest
                .text
                .contains(&format!("{}  from forged@clinic.example", &hash[..12]))
            && digest.text.contains("--trust-sender"),
        "{}",
        digest.text
    );
}
