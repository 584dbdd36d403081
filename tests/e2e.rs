//! End to end, with real servers: Dovecot and Postfix from Debian's packages, run by
//! tests/mailstack.rs. A provider mails a filled template with swaks through Postfix;
//! `portal intake --once` reads the intake mailbox over IMAP (TLS with a test CA),
//! files the ticket and sends its notices through Postfix with SMTP AUTH; the notices
//! are read back over IMAP from the provider's and the MCO's mailboxes. Around that:
//! both TLS modes, TLS refused without the CA, OAuth2 bearer tokens for IMAP and for
//! SMTP, a closure, a registration, an inquiry, an auto-reply that gets no answer,
//! Dovecot restarted in the middle of a pass, Postfix stopped while notices go out,
//! and seeded SIGKILLs of `intake --once` over IMAP.
//!
//! Every test has mailboxes of its own on the one stack of the test binary. Nothing
//! here sleeps to wait: it waits on a condition (a port accepts, a message lands in a
//! Maildir, Postfix's queue empties, the process exits) or on a random delay that is
//! itself the moment of a kill.

use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use portal::forms::Submission;
use portal::forms::samples::Sample;
use portal::store::{
    Delivery, Inquiry, MessageRecord, Notice, Registration, RegistrationStatus, Store, Ticket, Tree,
};

use crate::common::{Sent, Service, XorShift, check_bytes, message};
use crate::mailstack::{self, Account, Auth, Letter, MailStack, Portal, Tls, Wiring, wait_until};

/// Index of each MCO in the shipped list (the order of `[[mco]]` in the config).
const MCO_AETNA: usize = 0;
const MCO_MOLINA: usize = 4;

/// A complaint template of `count` lines received today for the MCO at `mco`, its claim
/// and tracking numbers made distinct by `serial` (so no line is a duplicate of
/// another message's).
fn template(sample: Sample, mco: usize, count: usize, serial: usize) -> Vec<u8> {
    use portal::forms::Value;
    use portal::forms::schema::claim;
    let config = crate::common::config();
    let mut lines = portal::forms::samples::complaint_lines(
        sample,
        portal::today::today_in_illinois(),
        mco,
        count,
    );
    for (line, record) in lines.iter_mut().enumerate() {
        record.values[claim::CLAIM_NUMBER] = Some(Value::Text(format!("CLM{serial:05}{line:02}")));
        if sample != Sample::Incomplete {
            record.values[claim::TRACKING_NUMBER] =
                Some(Value::Text(format!("TRK-{serial:05}-{line:02}")));
        }
    }
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap()
}

fn find<'a>(notices: &'a [Sent], prefix: &str) -> &'a Sent {
    notices
        .iter()
        .find(|notice| notice.subject.starts_with(prefix))
        .unwrap_or_else(|| {
            let subjects: Vec<&str> = notices
                .iter()
                .map(|notice| notice.subject.as_str())
                .collect();
            panic!("no notice whose subject starts with {prefix:?}: {subjects:#?}")
        })
}

/// A provider's question, mailed through Postfix to the portal's inquiries mailbox and
/// delivered; its Message-ID.
fn ask(stack: &MailStack, portal: &Portal<'_>, subject: &str) -> String {
    let letter = Letter {
        from: &portal.provider.address,
        to: &portal.inquiries.address,
        subject,
        body: "Thank you.",
        ..Letter::default()
    };
    stack.send_and_wait(&letter, &portal.inquiries)
}

/// The one notice in the provider's inbox once Postfix has delivered everything: it
/// answers `message_id`, and its subject starts with `subject_start` (`[INQ-…]`).
fn the_answer(
    stack: &MailStack,
    portal: &Portal<'_>,
    subject_start: &str,
    message_id: &str,
) -> Sent {
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    let [answer] = provider_mail.as_slice() else {
        panic!("one answer: {:#?}", subjects(&provider_mail))
    };
    assert!(
        answer.subject.starts_with(subject_start),
        "{}",
        answer.subject
    );
    assert_eq!(answer.in_reply_to.as_deref(), Some(message_id));
    answer.clone()
}

fn subjects(notices: &[Sent]) -> Vec<String> {
    notices
        .iter()
        .map(|notice| notice.subject.clone())
        .collect()
}

fn array(value: &serde_json::Value) -> &Vec<serde_json::Value> {
    value.as_array().expect("a JSON array")
}

// ---------------------------------------------------------------------------------
// The main path
// ---------------------------------------------------------------------------------

/// The issue's path end to end: a registered provider mails a filled template with
/// swaks through Postfix; one `portal intake --once` over IMAP files the ticket and
/// forwards it; the acceptance notice lands in the provider's mailbox and the forward,
/// with the accepted lines as .xlsx, in the MCO's; the intake inbox is empty and the
/// message is in Processed.
#[test]
fn a_template_mailed_through_postfix_is_filed_forwarded_and_acknowledged_over_imap() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "accept");
    portal.register(&portal.provider);

    let message_id = portal.mail_template(
        &portal.provider,
        "Complaint: two claims",
        template(Sample::Good, MCO_MOLINA, 2, 1),
    );
    let report = portal.pass();
    assert!(report.contains("1 message(s): 1 ticket(s)"), "{report}");
    assert!(
        report.contains("notices: 2 sent, 0 waiting, 0 failed"),
        "{report}"
    );

    let tickets = portal.json(&["tickets", "list", "--json"]);
    let [ticket] = array(&tickets).as_slice() else {
        panic!("one ticket: {tickets:#}")
    };
    let id = ticket["id"].as_str().unwrap();
    assert_eq!(ticket["status"], "forwarded", "{ticket:#}");
    assert_eq!(ticket["mco"], "MOLINA");
    assert_eq!(ticket["sender"], portal.provider.address.as_str());
    let lines = array(&ticket["lines"]);
    assert_eq!(lines.len(), 2);
    assert!(
        lines.iter().all(|line| line["status"] == "forwarded"),
        "{ticket:#}"
    );

    stack.wait_until_delivered();
    // The provider: the two registration notices, then the acceptance.
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert_eq!(provider_mail.len(), 3, "{:#?}", subjects(&provider_mail));
    let accepted = find(
        &provider_mail,
        &format!("[{id}] Complaint accepted and sent to Molina"),
    );
    assert_eq!(accepted.to, portal.provider.address);
    assert_eq!(accepted.auto_submitted, "auto-replied");
    assert_eq!(accepted.in_reply_to.as_deref(), Some(message_id.as_str()));
    assert!(accepted.text.contains(id), "{}", accepted.text);

    // The MCO: the forward, with the two accepted lines as the response workbook the
    // portal itself reads back.
    let mco_mail = stack.notices(&portal.mco, "INBOX");
    let [forward] = mco_mail.as_slice() else {
        panic!("one forward: {:#?}", subjects(&mco_mail))
    };
    assert!(
        forward
            .subject
            .starts_with(&format!("[{id}] Provider complaint forwarded")),
        "{}",
        forward.subject
    );
    assert_eq!(forward.to, portal.mco.address);
    assert_eq!(forward.auto_submitted, "auto-generated");
    let [(name, workbook)] = forward.attachments.as_slice() else {
        panic!("one attachment: {:?}", forward.attachments.len())
    };
    assert_eq!(name, &format!("{id}.xlsx"));
    match check_bytes(workbook, name, portal::today::today_in_illinois()) {
        Ok(Submission::Response(response)) => {
            assert_eq!(response.problems, []);
            assert_eq!(response.rows.len(), 2);
            assert_eq!(response.ticket.as_deref(), Some(id));
        }
        other => panic!("the forward's workbook is no response workbook: {other:?}"),
    }

    // The intake mailbox, over IMAP: the inbox empty, the message (and the registration
    // before it) in Processed, nothing quarantined.
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    let processed = stack.message_ids(&portal.intake, "Processed");
    assert_eq!(processed.len(), 2, "{processed:?}");
    assert!(processed.contains(&message_id), "{processed:?}");
    assert!(stack.read(&portal.intake, "Quarantine").is_empty());
}

/// The other TLS modes: IMAP with STARTTLS and SMTP with implicit TLS (the main path
/// uses implicit TLS for IMAP and STARTTLS for SMTP).
#[test]
fn starttls_for_imap_and_implicit_tls_for_smtp_carry_the_same_path() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        imap: Tls::Starttls,
        smtp: Tls::Implicit,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "starttls", wiring);
    portal.register(&portal.provider);
    portal.mail_template(
        &portal.provider,
        "Complaint",
        template(Sample::Good, MCO_AETNA, 1, 2),
    );
    let report = portal.pass();
    assert!(
        report.contains("1 ticket(s)") && report.contains("2 sent"),
        "{report}"
    );
    stack.wait_until_delivered();
    find(&stack.notices(&portal.provider, "INBOX"), "[PRP-");
    let forwards = stack.notices(&portal.mco, "INBOX");
    assert_eq!(forwards.len(), 1, "{:#?}", subjects(&forwards));
    // Dovecot logged the portal's logins on the STARTTLS port as TLS, not plain text.
    let log = stack.dovecot_log();
    let logins: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&format!("user=<{}>", portal.intake.user)))
        .collect();
    assert!(
        !logins.is_empty(),
        "no login of {} in Dovecot's log",
        portal.intake.user
    );
    assert!(
        logins.iter().all(|line| line.contains(", TLS,")),
        "{logins:#?}"
    );
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
}

// ---------------------------------------------------------------------------------
// TLS with and without the test CA
// ---------------------------------------------------------------------------------

/// Without the test CA the portal refuses Dovecot's certificate (and touches no
/// mail), then Postfix's (the notice waits); with the CA both are accepted.
#[test]
fn without_the_test_ca_tls_is_refused_and_with_it_accepted() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let untrusting = Wiring {
        imap_trusts_ca: false,
        smtp_trusts_ca: false,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "untrusted", untrusting);
    let letter = Letter {
        from: &portal.provider.address,
        to: &portal.intake.address,
        subject: "How do I send a complaint?",
        body: "Where is the form?",
        ..Letter::default()
    };
    let message_id = stack.send_and_wait(&letter, &portal.intake);

    // IMAP without the CA: refused before any mail is read.
    let output = portal.run(&["intake", "--once"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "the error names the certificate: {stderr}"
    );
    assert!(
        stderr.contains("mail.intake: TLS with 127.0.0.1"),
        "the error names TLS: {stderr}"
    );
    assert_eq!(
        stack.message_ids(&portal.intake, "INBOX"),
        vec![message_id.clone()]
    );
    assert!(array(&portal.json(&["messages", "list", "--json"])).is_empty());

    // IMAP with it, SMTP still without: the message is handled, its notice waits with
    // the certificate error.
    portal.rewire(Wiring {
        imap_trusts_ca: true,
        ..untrusting
    });
    let report = portal.pass();
    assert!(report.contains("0 sent, 1 waiting"), "{report}");
    let outbox = portal.json(&["outbox", "list", "--json"]);
    let [notice] = array(&outbox).as_slice() else {
        panic!("one notice: {outbox:#}")
    };
    assert_eq!(notice["delivery"]["state"], "pending", "{notice:#}");
    let error = notice["delivery"]["last_error"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(
        error.contains("certificate"),
        "the notice's error names the certificate: {error}"
    );
    assert!(stack.read(&portal.intake, "INBOX").is_empty());

    // Both trusted: the notice goes out on the next pass.
    portal.rewire(Wiring::default());
    let report = portal.pass();
    assert!(report.contains("1 sent, 0 waiting"), "{report}");
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert_eq!(provider_mail.len(), 1, "{:#?}", subjects(&provider_mail));
    assert_eq!(
        provider_mail[0].in_reply_to.as_deref(),
        Some(message_id.as_str())
    );
}

// ---------------------------------------------------------------------------------
// OAuth2 bearer tokens
// ---------------------------------------------------------------------------------

/// With `oauth2_token_command` instead of a password, the portal logs in to both
/// mailboxes with AUTHENTICATE XOAUTH2 and Dovecot checks each token at the OAuth2
/// provider. A token the provider never issued, or one issued to the other mailbox,
/// is refused: the pass stops with exit status 2 and a sentence naming the refused
/// login, never the token, and no mail is touched. With the right tokens the inquiry
/// is answered.
#[test]
fn imap_logins_with_oauth2_bearer_tokens_and_a_wrong_token_refused() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        imap_auth: Auth::OAuth2,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "oauth2", wiring);
    let message_id = ask(&stack, &portal, "Do you take tokens?");

    let inquiries_token = portal.token_file(&portal.inquiries);
    let intake_token = std::fs::read_to_string(portal.token_file(&portal.intake)).unwrap();
    for wrong in ["tok-never-issued-0", intake_token.as_str()] {
        std::fs::write(&inquiries_token, wrong).unwrap();
        let output = portal.run(&["intake", "--once"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(
            stderr.contains(&format!(
                "mail.inquiries: login refused for {}",
                portal.inquiries.user
            )),
            "the error names the refused login: {stderr}"
        );
        assert!(
            stderr.to_lowercase().contains("authentication failed"),
            "the error gives Dovecot's reason: {stderr}"
        );
        assert!(
            !stderr.contains(wrong),
            "the error shows no token: {stderr}"
        );
        assert_eq!(
            stack.message_ids(&portal.inquiries, "INBOX"),
            vec![message_id.clone()]
        );
        assert!(array(&portal.json(&["inquiries", "list", "--json"])).is_empty());
    }

    // Tokens of their own for both mailboxes: the inquiry is answered.
    portal.rewire(wiring);
    let report = portal.pass();
    assert!(
        report.contains("1 inquiry(ies)") && report.contains("1 sent"),
        "{report}"
    );
    let inquiries = portal.json(&["inquiries", "list", "--json"]);
    let [inquiry] = array(&inquiries).as_slice() else {
        panic!("one inquiry: {inquiries:#}")
    };
    assert_eq!(inquiry["answered"], true, "{inquiry:#}");
    let id = inquiry["id"].as_str().unwrap();
    the_answer(&stack, &portal, &format!("[{id}]"), &message_id);
    assert_eq!(
        stack.message_ids(&portal.inquiries, "Processed"),
        vec![message_id]
    );

    // Dovecot's side: three passes each logged in to intake with XOAUTH2; inquiries
    // refused XOAUTH2 twice (logged when the connection closed), then let it in once.
    // (The test's own reads log in with passwords beside them: both kinds of login
    // work on the one server.)
    let xoauth2 = |account: &Account, event: &str| {
        let user = format!("user=<{}>, method=XOAUTH2,", account.user);
        stack
            .dovecot_log()
            .lines()
            .filter(|line| line.contains(event) && line.contains(&user))
            .count()
    };
    wait_until(
        "Dovecot to log both refused XOAUTH2 logins",
        || xoauth2(&portal.inquiries, "(auth failed,") == 2,
        || stack.logs(),
    );
    assert_eq!(xoauth2(&portal.intake, "Login: "), 3, "{}", stack.logs());
    assert_eq!(xoauth2(&portal.inquiries, "Login: "), 1, "{}", stack.logs());
    assert_eq!(
        xoauth2(&portal.intake, "(auth failed,"),
        0,
        "{}",
        stack.logs()
    );
}

/// With `oauth2_token_command` in `[smtp]`, the portal logs in to Postfix with AUTH
/// XOAUTH2; Postfix asks Dovecot's auth socket, and Dovecot the OAuth2 provider. A
/// token the provider never issued, or one issued to another user, is refused: the
/// pass files the inquiry all the same and exits 0, and the answer waits in the outbox
/// with an error naming the refused login (a pass or `outbox retry` with the wrong
/// token leaves it waiting); no output and no outbox entry shows a token. With a token
/// of its own, `outbox retry` sends the answer, which Postfix took from a client
/// logged in with XOAUTH2.
#[test]
fn smtp_logs_in_with_an_oauth2_bearer_token_and_a_wrong_token_leaves_notices_waiting() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        smtp_auth: Auth::OAuth2,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "smtp-oauth2", wiring);
    let message_id = ask(&stack, &portal, "Do you send with tokens?");
    let user = &portal.intake.user;
    let refused = format!("login refused for {user}");
    let token_file = portal.smtp_token_file();
    // Everything a run printed.
    let said = |output: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    // The outbox as staff list it, which in neither form shows any of `tokens`.
    let outbox = |tokens: &[&str]| -> serde_json::Value {
        let listed = portal.ok(&["outbox", "list"]);
        let json = portal.ok(&["outbox", "list", "--json"]);
        for token in tokens {
            assert!(
                !listed.contains(token) && !json.contains(token),
                "the outbox shows no token:\n{listed}\n{json}"
            );
        }
        serde_json::from_str(&json).unwrap()
    };
    // Its one notice, the answer, waiting after `attempts` refused logins.
    let waiting = |attempts: u64, tokens: &[&str]| {
        let outbox = outbox(tokens);
        let [notice] = array(&outbox).as_slice() else {
            panic!("one notice: {outbox:#}")
        };
        assert_eq!(notice["delivery"]["state"], "pending", "{notice:#}");
        assert_eq!(notice["delivery"]["attempts"], attempts, "{notice:#}");
        assert!(
            notice["delivery"]["last_error"]
                .as_str()
                .is_some_and(|error| error.contains(&refused)),
            "the error names the refused login: {notice:#}"
        );
        notice.clone()
    };

    // A token never issued: the pass files the inquiry; its answer waits.
    let never_issued = "tok-never-issued-1";
    std::fs::write(&token_file, never_issued).unwrap();
    let output = portal.run(&["intake", "--once"]);
    let printed = said(&output);
    assert!(
        output.status.success()
            && printed.contains("1 inquiry(ies)")
            && printed.contains("notices: 0 sent, 1 waiting"),
        "{output:?}"
    );
    assert!(
        !printed.contains(never_issued),
        "no output shows the token: {printed}"
    );
    let inquiries = portal.json(&["inquiries", "list", "--json"]);
    let [inquiry] = array(&inquiries).as_slice() else {
        panic!("one inquiry: {inquiries:#}")
    };
    let id = inquiry["id"].as_str().unwrap().to_owned();
    let notice = waiting(1, &[never_issued]);
    assert_eq!(notice["about"], id.as_str(), "{notice:#}");
    assert_eq!(notice["to"], portal.provider.address.as_str(), "{notice:#}");
    assert_eq!(
        stack.message_ids(&portal.inquiries, "Processed"),
        vec![message_id.clone()],
        "the message is handled all the same"
    );

    // A token issued to another user: `outbox retry` tries at once, and it still waits.
    let someone_elses = stack.issue_token(&portal.inquiries);
    std::fs::write(&token_file, &someone_elses).unwrap();
    let retry = portal.run(&["outbox", "retry"]);
    let printed = said(&retry);
    assert!(
        retry.status.success() && printed.contains("Sent 0 notices; 1 still waiting; 0 failed."),
        "{retry:?}"
    );
    assert!(
        !printed.contains(&someone_elses),
        "no output shows the token: {printed}"
    );
    waiting(2, &[never_issued, &someone_elses]);
    assert!(stack.read(&portal.provider, "INBOX").is_empty());

    // A token of its own: `outbox retry` sends the answer.
    portal.rewire(wiring);
    let token = std::fs::read_to_string(&token_file).unwrap();
    let retry = portal.run(&["outbox", "retry"]);
    let printed = said(&retry);
    assert!(
        retry.status.success() && printed.contains("Sent 1 notice; 0 still waiting; 0 failed."),
        "{retry:?}\n{}",
        stack.logs()
    );
    assert!(
        !printed.contains(&token),
        "no output shows the token: {printed}"
    );
    let outbox = outbox(&[&token]);
    let [notice] = array(&outbox).as_slice() else {
        panic!("one notice: {outbox:#}")
    };
    assert_eq!(notice["delivery"]["state"], "sent", "{notice:#}");
    the_answer(&stack, &portal, &format!("[{id}]"), &message_id);

    // Postfix's side: two refused XOAUTH2 logins as the intake user, then the one
    // message it took from that user, from a client logged in with XOAUTH2.
    let postfix = |event: &str| -> Vec<String> {
        let user = format!("sasl_username={user}");
        stack
            .postfix_log()
            .lines()
            .filter(|line| line.contains(event) && line.ends_with(&user))
            .map(str::to_owned)
            .collect()
    };
    wait_until(
        "Postfix to log the message it took",
        || !postfix(": client=").is_empty(),
        || stack.logs(),
    );
    let taken = postfix(": client=");
    let [taken] = taken.as_slice() else {
        panic!("one message taken: {taken:#?}")
    };
    assert!(taken.contains(", sasl_method=XOAUTH2, "), "{taken}");
    assert_eq!(
        postfix(": SASL XOAUTH2 authentication failed:").len(),
        2,
        "{}",
        stack.logs()
    );
}

// ---------------------------------------------------------------------------------
// Closure, registration, inquiry, auto-reply
// ---------------------------------------------------------------------------------

/// A complaint filed too early is closed: the provider gets the closure notice, the
/// MCO nothing.
#[test]
fn a_complaint_filed_too_early_is_closed_and_not_forwarded() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "closure");
    portal.register(&portal.provider);
    let message_id = portal.mail_template(
        &portal.provider,
        "Complaint",
        template(Sample::TooEarly, MCO_MOLINA, 1, 3),
    );
    let report = portal.pass();
    assert!(
        report.contains("1 ticket(s)") && report.contains("1 sent"),
        "{report}"
    );
    let tickets = portal.json(&["tickets", "list", "--json"]);
    let [ticket] = array(&tickets).as_slice() else {
        panic!("one ticket: {tickets:#}")
    };
    assert_eq!(ticket["status"], "closed", "{ticket:#}");
    assert_eq!(ticket["lines"][0]["reason"], "too_early", "{ticket:#}");
    let id = ticket["id"].as_str().unwrap();

    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    let closed = find(&provider_mail, &format!("[{id}] Complaint closed"));
    assert_eq!(closed.auto_submitted, "auto-replied");
    assert_eq!(closed.in_reply_to.as_deref(), Some(message_id.as_str()));
    assert!(
        stack.read(&portal.mco, "INBOX").is_empty(),
        "nothing is forwarded"
    );
    assert!(
        stack
            .message_ids(&portal.intake, "Processed")
            .contains(&message_id)
    );
}

/// A registration form mailed through Postfix is filed as pending with its notice;
/// staff approve it on the command line and the approval reaches the provider.
#[test]
fn a_registration_is_received_then_approved_by_staff() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "registration");
    let id = portal.register(&portal.provider);
    let registrations = portal.json(&["registrations", "list", "--json"]);
    let [registration] = array(&registrations).as_slice() else {
        panic!("one registration: {registrations:#}")
    };
    assert_eq!(registration["id"], id.as_str());
    assert_eq!(registration["status"], "active");
    assert_eq!(registration["email"], portal.provider.address.as_str());
    assert_eq!(registration["npis"][0], portal::forms::samples::SAMPLE_NPI);

    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert_eq!(provider_mail.len(), 2, "{:#?}", subjects(&provider_mail));
    let received = &provider_mail[0];
    assert!(
        received.subject.starts_with(&format!("[{id}]")),
        "{}",
        received.subject
    );
    assert_eq!(received.auto_submitted, "auto-replied");
    let approved = find(&provider_mail, &format!("[{id}] Registration approved"));
    assert_eq!(approved.auto_submitted, "auto-generated");
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    assert_eq!(stack.read(&portal.intake, "Processed").len(), 1);
}

/// A message to the portal-inquiries mailbox is recorded and answered with its
/// `[INQ-…]` id.
#[test]
fn an_inquiry_is_answered_with_its_id() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "inquiry");
    let message_id = ask(&stack, &portal, "When will my ticket be answered?");
    let report = portal.pass();
    assert!(
        report.contains("1 inquiry(ies)") && report.contains("1 sent"),
        "{report}"
    );
    let inquiries = portal.json(&["inquiries", "list", "--json"]);
    let [inquiry] = array(&inquiries).as_slice() else {
        panic!("one inquiry: {inquiries:#}")
    };
    assert_eq!(inquiry["from"], portal.provider.address.as_str());
    assert_eq!(inquiry["answered"], true);
    let id = inquiry["id"].as_str().unwrap();
    assert!(id.starts_with("INQ-"), "{id}");

    let answer = the_answer(&stack, &portal, &format!("[{id}]"), &message_id);
    assert_eq!(answer.auto_submitted, "auto-replied");
    assert!(stack.read(&portal.inquiries, "INBOX").is_empty());
    assert_eq!(
        stack.message_ids(&portal.inquiries, "Processed"),
        vec![message_id]
    );
}

/// Over IMAP, a message larger than `max_message_bytes` is never fetched whole: its
/// header alone (`BODY.PEEK[HEADER]`) is read and kept, the message goes to
/// Quarantine, and the sender is told it was too large.
#[test]
fn a_message_too_large_is_read_by_its_header_alone_and_quarantined() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let wiring = Wiring {
        max_message_bytes: 64 * 1024,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "large", wiring);
    let raw = message(
        &portal.provider.address,
        &portal.intake.address,
        "Big scan",
        "Attached.",
        &[("scan.pdf", vec![b'x'; 300 * 1024])],
    );
    let header = &raw[..portal::mail::header_end(&raw)];
    stack.deliver(&portal.intake, &raw, SystemTime::now());
    let output = portal.run(&["intake", "--once"]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "quarantined: {output:?}");
    assert!(
        report.contains("1 quarantined") && report.contains("1 sent"),
        "{report}"
    );
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    assert_eq!(stack.read(&portal.intake, "Quarantine"), [raw.as_slice()]);
    let store = Store::open(&portal.store_path()).unwrap();
    let records: Vec<MessageRecord> = store.all(Tree::Messages).unwrap();
    let [record] = records.as_slice() else {
        panic!("one record: {records:?}")
    };
    let kept = store.get_bytes(Tree::Raw, &record.hash).unwrap().unwrap();
    assert_eq!(kept, header, "the header, nothing more");
    drop(store);
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    let [notice] = provider_mail.as_slice() else {
        panic!("one notice: {:#?}", subjects(&provider_mail))
    };
    assert!(notice.subject.contains("too large"), "{}", notice.subject);
}

/// On a server without MOVE and UIDPLUS (plain IMAP4rev1), handled mail is moved with
/// COPY, `\\Deleted` and EXPUNGE; a message a mail client flagged `\\Deleted` is not
/// handled.
#[test]
fn without_move_or_uidplus_mail_is_copied_flagged_and_expunged() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "plain-imap");
    stack.plain_imap4rev1(&portal.inquiries);
    let capabilities = stack.capabilities(&portal.inquiries);
    assert!(
        !capabilities
            .iter()
            .any(|c| c.contains("MOVE") || c.contains("UIDPLUS")),
        "{capabilities:?}"
    );
    ask(&stack, &portal, "Deleted in a mail client");
    stack.flag_deleted(&portal.inquiries);
    let message_id = ask(&stack, &portal, "Still a question");
    let report = portal.pass();
    assert!(
        report.contains("1 message(s)") && report.contains("1 inquiry(ies)"),
        "{report}"
    );
    assert_eq!(
        stack.message_ids(&portal.inquiries, "Processed"),
        vec![message_id]
    );
    assert!(
        stack.read(&portal.inquiries, "INBOX").is_empty(),
        "expunged"
    );
}

/// An out-of-office reply gets no answer, while the same kind of message without
/// `Auto-Submitted`, sent alongside, gets its help notice.
#[test]
fn an_auto_reply_gets_no_answer() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let portal = Portal::new(&stack, "autoreply");
    let away = &portal.provider;
    let asking = portal.clinic_account("asking");
    stack.send_and_wait(
        &Letter {
            from: &away.address,
            to: &portal.intake.address,
            subject: "Automatic reply: Out of office",
            body: "I am away until Monday.",
            headers: vec!["Auto-Submitted: auto-replied".to_owned()],
            ..Letter::default()
        },
        &portal.intake,
    );
    stack.send_and_wait(
        &Letter {
            from: &asking.address,
            to: &portal.intake.address,
            subject: "Out of office?",
            body: "How do I send a complaint?",
            ..Letter::default()
        },
        &portal.intake,
    );
    let report = portal.pass();
    assert!(
        report.contains("2 message(s)")
            && report.contains("1 automatic")
            && report.contains("1 sent"),
        "{report}"
    );
    let messages = portal.json(&["messages", "list", "--json"]);
    let outcome_of = |from: &str| {
        array(&messages)
            .iter()
            .find(|record| record["from"] == from)
            .unwrap_or_else(|| panic!("no record from {from}: {messages:#}"))["outcome"]["kind"]
            .clone()
    };
    assert_eq!(outcome_of(&away.address), "automatic");
    assert_eq!(outcome_of(&asking.address), "help");

    stack.wait_until_delivered();
    assert_eq!(
        stack.notices(&asking, "INBOX").len(),
        1,
        "the plain message is answered"
    );
    assert!(
        stack.read(away, "INBOX").is_empty(),
        "the auto-reply is not"
    );
    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    assert_eq!(stack.read(&portal.intake, "Processed").len(), 2);
}

// ---------------------------------------------------------------------------------
// Servers going away
// ---------------------------------------------------------------------------------

/// Dovecot restarts while a pass is moving messages: that pass fails, the next one
/// completes, and no ticket or notice exists twice.
#[test]
fn dovecot_restarted_mid_pass_then_the_next_pass_completes_without_duplicates() {
    const COMPLAINTS: usize = 64;
    let stack = mailstack::shared();
    let control = stack.exclusive();
    let wiring = Wiring {
        notices_per_sender_per_day: 1000,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "restart", wiring);
    portal.register(&portal.provider);
    stack.wait_until_delivered();
    let registration_mail = stack.on_disk(&portal.provider, None);
    let processed_before = stack.on_disk(&portal.intake, Some("Processed"));
    let start = SystemTime::now();
    let mut delivered: Vec<String> = stack.message_ids(&portal.intake, "Processed");
    for serial in 0..COMPLAINTS {
        let raw = message(
            &portal.provider.address,
            &portal.intake.address,
            &format!("Complaint {serial}"),
            "Attached.",
            &[(
                "complaint.xlsx",
                template(Sample::Good, serial % 6, 1, 100 + serial),
            )],
        );
        delivered.push(portal::mail::classify::message_id_of(&raw).unwrap());
        stack.deliver(
            &portal.intake,
            &raw,
            start + Duration::from_millis(serial as u64),
        );
    }

    let mut child = portal
        .command(&["intake", "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first batch of 32 is recorded and its notices sent before its moves begin:
    // restart at the first move.
    wait_until(
        "the pass's first move",
        || {
            stack.on_disk(&portal.intake, Some("Processed")) > processed_before
                || child.try_wait().unwrap().is_some()
        },
        || stack.logs(),
    );
    control.stop_dovecot();
    control.start_dovecot();
    let first = child.wait_with_output().unwrap();
    let left = stack.read(&portal.intake, "INBOX").len();
    assert!(
        !first.status.success() || left > 0,
        "the restart came after the pass had finished: {first:?}"
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    let error = stderr
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or("no error");
    eprintln!(
        "e2e: Dovecot restarted mid-pass: that pass ended {} with {left} message(s) left ({error})",
        first.status
    );

    let report = portal.pass();
    assert!(report.contains("0 waiting, 0 failed"), "{report}");
    let tickets = portal.json(&["tickets", "list", "--json"]);
    assert_eq!(
        array(&tickets).len(),
        COMPLAINTS,
        "one ticket per complaint"
    );
    assert!(
        array(&tickets)
            .iter()
            .all(|ticket| ticket["status"] == "forwarded")
    );
    let store = Store::open(&portal.store_path()).unwrap();
    let mut from_messages: Vec<String> = store
        .all::<Ticket>(Tree::Tickets)
        .unwrap()
        .into_iter()
        .map(|ticket| ticket.message)
        .collect();
    from_messages.sort();
    from_messages.dedup();
    assert_eq!(
        from_messages.len(),
        COMPLAINTS,
        "no message made two tickets"
    );
    drop(store);

    assert!(stack.read(&portal.intake, "INBOX").is_empty());
    let mut processed = stack.message_ids(&portal.intake, "Processed");
    processed.sort();
    delivered.sort();
    assert_eq!(processed, delivered, "every message in Processed, once");
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    let mco_mail = stack.notices(&portal.mco, "INBOX");
    assert_eq!(
        provider_mail.len(),
        registration_mail + COMPLAINTS,
        "one acceptance per ticket, none twice"
    );
    assert_eq!(
        mco_mail.len(),
        COMPLAINTS,
        "one forward per ticket, none twice"
    );
    let mut about: Vec<&str> = mco_mail
        .iter()
        .map(|notice| &notice.subject[..notice.subject.find(']').unwrap() + 1])
        .collect();
    about.sort();
    about.dedup();
    assert_eq!(about.len(), COMPLAINTS);
}

/// `intake --every` as a service: while Dovecot is down each pass fails, is logged (as
/// JSON, for journald) and retried, and the service keeps running; once Dovecot is
/// back the next pass answers the mail that came meanwhile; SIGTERM stops it cleanly.
#[test]
fn the_every_service_rides_out_a_dovecot_outage_and_stops_on_sigterm() {
    let stack = mailstack::shared();
    let control = stack.exclusive();
    let portal = Portal::new(&stack, "service");
    let service =
        Service::spawn(portal.command(&["--log-format", "json", "intake", "--every", "1s"]));
    service.pass_where(|report| report.starts_with("intake: 0 message(s)"));

    control.stop_dovecot();
    let retried = "intake pass failed; the next one retries";
    let first = service.event(retried);
    assert_eq!(first["level"], "ERROR", "{first}");
    assert_eq!(first["fields"]["attempt"], 1, "{first}");
    assert!(
        first["fields"]["error"]
            .as_str()
            .is_some_and(|error| error.contains("mail.intake")),
        "{first}"
    );
    let second = service.event(retried);
    assert_eq!(second["fields"]["attempt"], 2, "{second}");

    control.start_dovecot();
    let message_id = ask(&stack, &portal, "Are you there?");
    let report = service.pass_where(|report| report.contains("1 inquiry(ies)"));
    assert!(report.contains("notices: 1 sent, 0 waiting"), "{report}");
    let (code, rest) = service.stop(libc::SIGTERM);
    assert_eq!(code, Some(0), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");

    the_answer(&stack, &portal, "[INQ-", &message_id);
}

/// With Postfix stopped the ticket is filed and the message moved, but its notices
/// wait in the outbox (pending, with the error); the first pass after Postfix is back
/// sends them.
#[test]
fn with_postfix_stopped_notices_wait_in_the_outbox_then_go_out() {
    let stack = mailstack::shared();
    let control = stack.exclusive();
    let portal = Portal::new(&stack, "outage");
    portal.register(&portal.provider);
    let message_id = portal.mail_template(
        &portal.provider,
        "Complaint",
        template(Sample::Good, MCO_MOLINA, 1, 4),
    );
    stack.wait_until_delivered();
    let provider_before = stack.on_disk(&portal.provider, None);

    control.stop_postfix();
    let report = portal.pass();
    assert!(
        report.contains("1 ticket(s)") && report.contains("notices: 0 sent, 2 waiting"),
        "{report}"
    );
    assert!(
        stack.read(&portal.intake, "INBOX").is_empty(),
        "the message is handled all the same"
    );
    assert!(
        stack
            .message_ids(&portal.intake, "Processed")
            .contains(&message_id)
    );
    let outbox = portal.json(&["outbox", "list", "--json"]);
    let waiting: Vec<&serde_json::Value> = array(&outbox)
        .iter()
        .filter(|notice| notice["delivery"]["state"] == "pending")
        .collect();
    assert_eq!(waiting.len(), 2, "{outbox:#}");
    let mut kinds: Vec<&str> = waiting
        .iter()
        .map(|notice| notice["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["accepted", "mco_forward"]);
    for notice in &waiting {
        assert!(
            notice["delivery"]["attempts"].as_u64() >= Some(1),
            "{notice:#}"
        );
        assert!(
            notice["delivery"]["last_error"]
                .as_str()
                .is_some_and(|error| !error.is_empty()),
            "{notice:#}"
        );
    }
    // A second pass while it is still down: still waiting, nothing lost or doubled.
    let report = portal.pass();
    assert!(
        report.contains("0 message(s)") && report.contains("0 sent, 2 waiting"),
        "{report}"
    );

    // Two failures in a row: the notices now wait five minutes before a pass tries
    // them again (tests/intake.rs follows the whole schedule with a pinned clock).
    let outbox = portal.json(&["outbox", "list", "--json"]);
    let waiting: Vec<&serde_json::Value> = array(&outbox)
        .iter()
        .filter(|notice| notice["delivery"]["state"] == "pending")
        .collect();
    assert_eq!(waiting.len(), 2, "{outbox:#}");
    for notice in waiting {
        assert_eq!(notice["delivery"]["attempts"], 2, "{notice:#}");
        assert!(notice["delivery"]["next_attempt"].is_string(), "{notice:#}");
    }

    control.start_postfix();
    let report = portal.pass();
    assert!(
        report.contains("0 message(s)") && report.contains("0 sent, 2 waiting"),
        "a pass leaves them to their wait: {report}"
    );
    // Staff need not wait: `outbox retry` sends every waiting notice now.
    let retry = portal.run(&["outbox", "retry"]);
    let said = String::from_utf8_lossy(&retry.stdout);
    assert!(
        retry.status.success() && said.contains("Sent 2 notices; 0 still waiting"),
        "{retry:?}"
    );
    let outbox = portal.json(&["outbox", "list", "--json"]);
    assert!(
        array(&outbox)
            .iter()
            .all(|notice| notice["delivery"]["state"] == "sent"),
        "{outbox:#}"
    );
    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    assert_eq!(
        provider_mail.len(),
        provider_before + 1,
        "{:#?}",
        subjects(&provider_mail)
    );
    find(&provider_mail, "[PRP-");
    assert_eq!(stack.read(&portal.mco, "INBOX").len(), 1);
}

// ---------------------------------------------------------------------------------
// Seeded SIGKILLs over IMAP
// ---------------------------------------------------------------------------------

/// The kills that must land on a running intake.
const KILLS: usize = 20;
/// Runs tried at most to land them (a run may end before its moment comes).
const MAX_RUNS: usize = 40;
/// Overrides the seed: `PORTAL_KILL_SEED=12345`.
const DEFAULT_SEED: u64 = 0x0001_AB50_FE2E_2026;

/// One run's mailboxes: a portal with a registered provider, a stranger, and the
/// mixed mailbox delivered into the intake and inquiries inboxes.
struct KillRun<'a> {
    portal: Portal<'a>,
    stranger: Account,
    /// Message-IDs that must end in each Processed folder (the registration included).
    intake_ids: Vec<String>,
    inquiry_ids: Vec<String>,
}

/// Messages in the mix and what a clean run makes of them, derived by hand: three
/// tickets (two forwarded, one closed), a help request, an auto-reply, a complaint from
/// a stranger (not registered), the first complaint again (same bytes), an inquiry.
const MIX_INTAKE: usize = 7;
const EXPECTED_TICKETS: [&str; 3] = ["\"closed\"", "\"forwarded\"", "\"forwarded\""];
const EXPECTED_LABELS: [&str; 8] = [
    "automatic",
    "help",
    "inquiry INQ-#",
    "not_registered",
    "registration REG-#",
    "ticket PRP-#",
    "ticket PRP-#",
    "ticket PRP-#",
];
/// `(kind, recipient)` of every notice a clean run sends: `p` the provider, `m` the
/// MCO, `s` the stranger.
const EXPECTED_NOTICES: [(&str, char); 10] = [
    ("accepted", 'p'),
    ("accepted", 'p'),
    ("closed", 'p'),
    ("help", 'p'),
    ("inquiry_answer", 'p'),
    ("mco_forward", 'm'),
    ("mco_forward", 'm'),
    ("not_registered", 's'),
    ("registration_approved", 'p'),
    ("registration_received", 'p'),
];

fn with_header(header: &str, raw: Vec<u8>) -> Vec<u8> {
    let mut bytes = format!("{header}\r\n").into_bytes();
    bytes.extend(raw);
    bytes
}

fn kill_run(stack: &MailStack, run: usize) -> KillRun<'_> {
    let portal = Portal::new(stack, &format!("kill{run:02}"));
    let stranger = portal.clinic_account("stranger");
    portal.register(&portal.provider);
    stack.wait_until_delivered();
    let provider = portal.provider.address.as_str();
    let intake = portal.intake.address.as_str();
    let complaint = |from: &str, subject: &str, bytes: Vec<u8>| {
        message(
            from,
            intake,
            subject,
            "Attached.",
            &[("complaint.xlsx", bytes)],
        )
    };
    let good = complaint(
        provider,
        "Complaint 1",
        template(Sample::Good, MCO_MOLINA, 1, 10),
    );
    let mix = [
        good.clone(),
        complaint(
            provider,
            "Complaint 2",
            template(Sample::Good, MCO_AETNA, 2, 11),
        ),
        complaint(
            provider,
            "Complaint 3",
            template(Sample::TooEarly, MCO_MOLINA, 1, 12),
        ),
        message(
            provider,
            intake,
            "How do I send a complaint?",
            "Where is the form?",
            &[],
        ),
        with_header(
            "Auto-Submitted: auto-replied",
            message(provider, intake, "Out of office", "Away.", &[]),
        ),
        complaint(
            &stranger.address,
            "Complaint",
            template(Sample::Good, MCO_MOLINA, 1, 13),
        ),
        good,
    ];
    assert_eq!(mix.len(), MIX_INTAKE);
    let inquiry = message(
        provider,
        &portal.inquiries.address,
        "When is my ticket answered?",
        "Thanks.",
        &[],
    );
    let mut intake_ids = stack.message_ids(&portal.intake, "Processed");
    let start = SystemTime::now();
    for (index, raw) in mix.iter().enumerate() {
        intake_ids.push(portal::mail::classify::message_id_of(raw).unwrap());
        stack.deliver(
            &portal.intake,
            raw,
            start + Duration::from_millis(index as u64),
        );
    }
    stack.deliver(&portal.inquiries, &inquiry, start);
    let inquiry_ids = vec![portal::mail::classify::message_id_of(&inquiry).unwrap()];
    KillRun {
        portal,
        stranger,
        intake_ids,
        inquiry_ids,
    }
}

/// `PRP-2026-000123` → `PRP-#`.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = ["PRP-", "REG-", "INQ-"]
        .iter()
        .filter_map(|prefix| rest.find(prefix))
        .min()
    {
        out.push_str(&rest[..at + 4]);
        let tail = &rest[at + 4..];
        let id_len = tail
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'-')
            .count();
        out.push('#');
        rest = &tail[id_len..];
    }
    out.push_str(rest);
    out
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

/// The invariants after a run that died `deaths` times and one that completed: the
/// store as a clean run leaves it (no ticket twice, none missing, every notice sent),
/// both inboxes empty with every message in Processed once, and in the recipients'
/// mailboxes every notice the store says was sent, with at most `deaths` extra.
fn check(stack: &MailStack, run: &KillRun<'_>, deaths: usize) -> Result<(), String> {
    let portal = &run.portal;
    let store =
        Store::open(&portal.store_path()).map_err(|error| format!("the store: {error:#}"))?;
    let tickets = store.all::<Ticket>(Tree::Tickets).unwrap();
    let mut statuses: Vec<String> = tickets.iter().map(|ticket| json(&ticket.status)).collect();
    statuses.sort();
    if statuses != EXPECTED_TICKETS {
        return Err(format!(
            "tickets {statuses:?}, expected {EXPECTED_TICKETS:?}"
        ));
    }
    let mut messages: Vec<&str> = tickets
        .iter()
        .map(|ticket| ticket.message.as_str())
        .collect();
    messages.sort_unstable();
    messages.dedup();
    if messages.len() != tickets.len() {
        return Err("two tickets from one message".to_owned());
    }
    let registrations = store.all::<Registration>(Tree::Registrations).unwrap();
    if registrations.len() != 1 || registrations[0].status != RegistrationStatus::Active {
        return Err(format!("registrations: {registrations:?}"));
    }
    let inquiries = store.all::<Inquiry>(Tree::Inquiries).unwrap();
    if inquiries.len() != 1 || !inquiries[0].answered {
        return Err(format!("inquiries: {inquiries:?}"));
    }
    let mut labels: Vec<String> = store
        .all::<MessageRecord>(Tree::Messages)
        .unwrap()
        .iter()
        .map(|record| without_ids(&record.outcome.label()))
        .collect();
    labels.sort();
    if labels != EXPECTED_LABELS {
        return Err(format!(
            "processed messages {labels:?}, expected {EXPECTED_LABELS:?}"
        ));
    }
    let notices = store.all::<Notice>(Tree::Outbox).unwrap();
    drop(store);
    let recipient = |who: char| match who {
        'p' => &portal.provider.address,
        'm' => &portal.mco.address,
        _ => &run.stranger.address,
    };
    let mut kinds: Vec<(String, String)> = notices
        .iter()
        .map(|notice| (notice.kind.to_string(), notice.to.clone()))
        .collect();
    kinds.sort();
    let expected: Vec<(String, String)> = EXPECTED_NOTICES
        .iter()
        .map(|(kind, who)| ((*kind).to_owned(), recipient(*who).clone()))
        .collect();
    if kinds != expected {
        return Err(format!(
            "notices in the store {kinds:#?}, expected {expected:#?}"
        ));
    }
    if let Some(notice) = notices
        .iter()
        .find(|notice| !matches!(notice.delivery, Delivery::Sent { .. }))
    {
        return Err(format!(
            "a notice not sent: {} to {}: {:?}",
            notice.kind, notice.to, notice.delivery
        ));
    }

    // The mailboxes, over IMAP.
    for (account, ids) in [
        (&portal.intake, &run.intake_ids),
        (&portal.inquiries, &run.inquiry_ids),
    ] {
        let waiting = stack.read(account, "INBOX").len();
        if waiting > 0 {
            return Err(format!(
                "{} message(s) left in {}'s inbox",
                waiting, account.user
            ));
        }
        let mut processed = stack.message_ids(account, "Processed");
        processed.sort();
        let mut expected = ids.clone();
        expected.sort();
        if processed != expected {
            return Err(format!(
                "{}'s Processed holds {processed:#?}, expected {expected:#?}",
                account.user
            ));
        }
        let quarantined = stack.read(account, "Quarantine").len();
        if quarantined > 0 {
            return Err(format!(
                "{quarantined} message(s) quarantined in {}",
                account.user
            ));
        }
    }
    stack.wait_until_delivered();
    stack.notice_surplus(
        &[&portal.provider, &portal.mco, &run.stranger],
        &notices,
        deaths,
    )?;
    Ok(())
}

/// When to kill.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// This many microseconds after the spawn.
    After { micros: u64 },
    /// When the k-th notice of the run has landed in a recipient's Maildir, then more.
    NoticeLanded { k: usize, micros: u64 },
    /// When the k-th message has reached a Processed folder, then more.
    MessageMoved { k: usize, micros: u64 },
}

/// Waits for the moment and kills. Returns how the process ended and whether the kill
/// landed (false when it had finished before the moment came).
fn kill_at(
    stack: &MailStack,
    run: &KillRun<'_>,
    child: &mut Child,
    moment: Moment,
) -> (ExitStatus, bool) {
    let portal = &run.portal;
    let recipients = [&portal.provider, &portal.mco, &run.stranger];
    let landed = || {
        recipients
            .iter()
            .map(|account| stack.on_disk(account, None))
            .sum::<usize>()
    };
    let moved = || {
        [&portal.intake, &portal.inquiries]
            .iter()
            .map(|account| stack.on_disk(account, Some("Processed")))
            .sum::<usize>()
    };
    let (landed_before, moved_before) = (landed(), moved());
    let spawned = Instant::now();
    let (reached, micros): (Box<dyn Fn() -> bool>, u64) = match moment {
        Moment::After { micros } => (Box::new(|| true), micros),
        Moment::NoticeLanded { k, micros } => {
            (Box::new(move || landed() >= landed_before + k), micros)
        }
        Moment::MessageMoved { k, micros } => {
            (Box::new(move || moved() >= moved_before + k), micros)
        }
    };
    let deadline = spawned + mailstack::PATIENCE;
    let wait = |until: &dyn Fn() -> bool, child: &mut Child| -> Option<ExitStatus> {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if until() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "the moment {moment:?} never came"
            );
            std::thread::yield_now();
        }
    };
    if let Some(status) = wait(&*reached, child) {
        return (status, false);
    }
    let at = Instant::now() + Duration::from_micros(micros);
    if let Some(status) = wait(&|| Instant::now() >= at, child) {
        return (status, false);
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    (status, status.signal() == Some(libc::SIGKILL))
}

/// The SIGKILL test of the intake issue, over IMAP and SMTP: `intake --once` killed at
/// seeded random moments (a delay, a notice landing, a message reaching Processed),
/// then run to the end; each time no ticket twice, no message lost, every notice
/// delivered and at most one delivered twice.
#[test]
fn twenty_seeded_sigkills_of_intake_over_imap_file_nothing_twice_and_lose_nothing() {
    let seed = std::env::var("PORTAL_KILL_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("e2e: SIGKILL seed {seed} (PORTAL_KILL_SEED overrides it)");
    let stack = mailstack::shared();
    let _sharing = stack.share();

    // A clean run first: the hand-derived outcome, and how long a pass takes.
    let clean = kill_run(&stack, 0);
    let started = Instant::now();
    clean.portal.pass();
    let duration = started.elapsed();
    if let Err(error) = check(&stack, &clean, 0) {
        panic!("the clean run: {error}");
    }
    drop(clean);

    let mut rng = XorShift(seed.max(1));
    let mut log = String::new();
    let (mut kills, mut runs) = (0, 0);
    while kills < KILLS {
        runs += 1;
        assert!(
            runs <= MAX_RUNS,
            "seed {seed}: only {kills} of {KILLS} kills landed in {MAX_RUNS} runs:\n{log}"
        );
        let jitter = rng.below(2_000);
        let moment = match rng.below(3) {
            0 => Moment::After {
                micros: rng.below(duration.as_micros() as u64),
            },
            1 => Moment::NoticeLanded {
                k: 1 + rng.below(8) as usize,
                micros: jitter,
            },
            _ => Moment::MessageMoved {
                k: 1 + rng.below(MIX_INTAKE as u64 + 1) as usize,
                micros: jitter,
            },
        };
        let run = kill_run(&stack, runs);
        let started = Instant::now();
        let mut child = run
            .portal
            .command(&["intake", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (status, landed) = kill_at(&stack, &run, &mut child, moment);
        let _ = writeln!(
            log,
            "run {runs}: {moment:?} → {} after {:?}",
            if landed {
                "killed".to_owned()
            } else {
                format!("ended first ({status})")
            },
            started.elapsed()
        );
        let output = run.portal.run(&["intake", "--once"]);
        assert!(
            output.status.success(),
            "seed {seed}, run {runs}: the run after the kill failed: {output:?}\n{log}"
        );
        if let Err(error) = check(&stack, &run, usize::from(landed)) {
            panic!("seed {seed}, run {runs} ({moment:?}): {error}\nmoments so far:\n{log}");
        }
        kills += usize::from(landed);
    }
    eprintln!("e2e: {kills} kills in {runs} runs, seed {seed}:\n{log}");
}

// ---------------------------------------------------------------------------------
// The benchmark (benches/imap-1000.sh runs it)
// ---------------------------------------------------------------------------------

/// 1,000 complaints (`PORTAL_BENCH_MESSAGES`) put straight into the intake Maildir, as
/// Postfix's virtual agent would; one `portal intake --once` over IMAP with every notice
/// through Postfix (2 per complaint); then the same messages fetched and moved by a
/// plain Python imaplib client (benches/imap-move.py) from a mailbox of their own.
#[test]
#[ignore = "a benchmark: bash benches/imap-1000.sh"]
fn imap_1000_benchmark() {
    let count: usize = std::env::var("PORTAL_BENCH_MESSAGES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1000);
    let stack = mailstack::shared();
    let _alone = stack.exclusive();
    let wiring = Wiring {
        notices_per_sender_per_day: 1_000_000,
        ..Wiring::default()
    };
    let portal = Portal::wired(&stack, "bench", wiring);
    portal.register(&portal.provider);
    stack.wait_until_delivered();
    let made = Instant::now();
    let messages: Vec<Vec<u8>> = (0..count)
        .map(|serial| {
            let template = template(Sample::Good, serial % 6, 1, 1000 + serial);
            message(
                &portal.provider.address,
                &portal.intake.address,
                &format!("Complaint {serial}"),
                "Attached.",
                &[("complaint.xlsx", template)],
            )
        })
        .collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let start = SystemTime::now() - Duration::from_secs(60);
    for (index, raw) in messages.iter().enumerate() {
        stack.deliver(
            &portal.intake,
            raw,
            start + Duration::from_millis(index as u64),
        );
    }
    eprintln!(
        "bench: {count} messages ({} KiB) made and delivered into the Maildir in {:.1?}",
        bytes / 1024,
        made.elapsed()
    );

    let started = Instant::now();
    let output = portal.run(&["intake", "--once"]);
    let portal_seconds = started.elapsed().as_secs_f64();
    // The pass's own log (a line per message and per notice, with times), for a look.
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("imap-1000.log");
    std::fs::write(&log, &output.stderr).unwrap();
    assert!(output.status.success(), "{output:?}");
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(
        report.contains(&format!("{count} ticket(s)"))
            && report.contains(&format!("{} sent, 0 waiting", 2 * count)),
        "{report}"
    );
    let drained = Instant::now();
    stack.wait_until_delivered();
    let drain_seconds = drained.elapsed().as_secs_f64();
    assert_eq!(stack.on_disk(&portal.mco, None), count);
    assert_eq!(stack.on_disk(&portal.intake, Some("Processed")), count + 1);

    let plain = stack.account("bench-python", mailstack::PORTAL_DOMAIN);
    for (index, raw) in messages.iter().enumerate() {
        stack.deliver(&plain, raw, start + Duration::from_millis(index as u64));
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/imap-move.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .args([
            "--port",
            &stack.imaps_port.to_string(),
            "--user",
            &plain.user,
        ])
        .arg("--ca")
        .arg(&stack.ca_file)
        .env("IMAP_PASSWORD", &plain.password)
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{output:?}");
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    let python_seconds = result["seconds"].as_f64().unwrap();
    assert_eq!(result["messages"], count);
    assert_eq!(stack.on_disk(&plain, Some("Processed")), count);

    let portal_rate = count as f64 / portal_seconds;
    let python_rate = count as f64 / python_seconds;
    println!("imap-1000: {report}");
    println!(
        "imap-1000: portal intake --once: {count} messages in {portal_seconds:.2} s = {portal_rate:.0} msg/s \
         (IMAP in, {} notices out through Postfix; target >= 100 msg/s: {})",
        2 * count,
        if portal_rate >= 100.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!("imap-1000: the pass's log: {}", log.display());
    println!(
        "imap-1000: Postfix then needed {drain_seconds:.2} s more to deliver the last notices"
    );
    println!(
        "imap-1000: python3 imaplib fetch + UID MOVE: {count} messages in {python_seconds:.2} s = {python_rate:.0} msg/s"
    );
    println!(
        "imap-1000: ratio: the portal takes {:.1}x the time of the bare IMAP client",
        portal_seconds / python_seconds
    );
}
