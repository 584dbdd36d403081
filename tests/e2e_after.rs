//! The second half of the dispute end to end, on the real Dovecot and Postfix of
//! tests/mailstack.rs: three complaints forwarded to the MCO; the MCO answers the first
//! from its own mailbox through Postfix with the returned workbook (two rows of three
//! decided); the provider asks for more time on the third and staff grant it; 31 days
//! later (the process's clock moved with `faketime`) the second is overdue: the MCO gets
//! exactly one reminder and staff one digest naming it; the first is resolved, and the
//! MCO's later mail about it does not reopen it.

use std::process::{Command, Stdio};

use portal::forms::McoDecision;
use portal::forms::samples::Sample;
use portal::forms::{Record, Value};

use crate::common::{Sent, portal_bin};
use crate::mailstack::{self, Letter, PORTAL_DOMAIN, Portal, Wiring};

const MCO_MOLINA: usize = 4;

/// The lines of a good complaint of three claims for Molina, received today, with
/// claim and tracking numbers of their own (`serial`), as the template and as the
/// MCO's answer carry them.
fn lines(serial: usize) -> Vec<Record> {
    use portal::forms::schema::claim;
    let mut lines = portal::forms::samples::complaint_lines(
        Sample::Good,
        portal::today::today_in_illinois(),
        MCO_MOLINA,
        3,
    );
    for (line, record) in lines.iter_mut().enumerate() {
        record.values[claim::CLAIM_NUMBER] = Some(Value::Text(format!("CLM{serial:05}{line:02}")));
        record.values[claim::TRACKING_NUMBER] =
            Some(Value::Text(format!("TRK-{serial:05}-{line:02}")));
    }
    lines
}

fn subjects(notices: &[Sent]) -> Vec<&str> {
    notices
        .iter()
        .map(|notice| notice.subject.as_str())
        .collect()
}

/// The notices in `mail` whose subject is `subject`.
fn titled<'a>(mail: &'a [Sent], subject: &str) -> Vec<&'a Sent> {
    mail.iter()
        .filter(|notice| notice.subject == subject)
        .collect()
}

/// `portal intake --once` with the process's clock `days` ahead (the mail keeps the
/// time Dovecot received it).
fn pass_days_ahead(portal: &Portal<'_>, days: u32) -> String {
    let probe = portal.command(&["intake", "--once"]);
    let mut command = Command::new("faketime");
    command
        .arg("-f")
        .arg(format!("+{days}d"))
        .arg(portal_bin())
        .args(probe.get_args())
        .current_dir(portal.dir.path())
        .env("NO_FAKE_STAT", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env_remove("PORTAL_FAILPOINTS")
        .stdin(Stdio::null());
    for (key, value) in probe.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    let output = command
        .output()
        .expect("faketime (the Debian package faketime) runs portal");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "intake {days} days ahead: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_mco_answers_a_ticket_goes_overdue_another_is_extended_and_a_resolved_one_stays_resolved() {
    let stack = mailstack::shared();
    let _sharing = stack.share();
    let staff = stack.account("after-staff", PORTAL_DOMAIN);
    let staff_address: &'static str = Box::leak(staff.address.clone().into_boxed_str());
    let portal = Portal::wired(
        &stack,
        "after",
        Wiring {
            staff_address: Some(staff_address),
            ..Wiring::default()
        },
    );
    portal.register(&portal.provider);

    // Three complaints, three tickets forwarded to the MCO.
    let config = crate::common::config();
    let complaints: Vec<Vec<Record>> = (1..=3).map(lines).collect();
    for (index, lines) in complaints.iter().enumerate() {
        let template =
            portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, lines).unwrap();
        portal.mail_template(
            &portal.provider,
            &format!("Complaint {}", index + 1),
            template,
        );
    }
    let report = portal.pass();
    assert!(report.contains("3 ticket(s)"), "{report}");
    let tickets = portal.json(&["tickets", "list", "--json"]);
    let mut ids: Vec<String> = tickets
        .as_array()
        .unwrap()
        .iter()
        .map(|ticket| ticket["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let [answered, overdue, extended] = [&ids[0], &ids[1], &ids[2]];
    for ticket in tickets.as_array().unwrap() {
        assert_eq!(ticket["status"], "forwarded", "{ticket:#}");
        assert_eq!(ticket["presented_on"], ticket["received_on"], "{ticket:#}");
    }
    stack.wait_until_delivered();
    assert_eq!(stack.notices(&portal.mco, "INBOX").len(), 3);

    // The MCO answers the first: rows 2 and 3 decided, row 4 not.
    let workbook = portal::forms::write::mco_response_answered(
        answered,
        &config.mcos,
        &config.rules,
        &complaints[0],
        &[
            (2, McoDecision::PaidInFull, "Paid on the resubmitted claim."),
            (
                3,
                McoDecision::DenialUpheld,
                "Outside the timely filing limit.",
            ),
        ],
    )
    .unwrap();
    stack.send_and_wait(
        &Letter {
            from: &portal.mco.address,
            to: &portal.intake.address,
            subject: &format!("Re: [{answered}] Provider complaint forwarded by Illinois HFS"),
            body: "Our proposal is attached.",
            attachments: vec![(format!("{answered}.xlsx"), workbook)],
            ..Letter::default()
        },
        &portal.intake,
    );
    // The provider asks for more time on the third.
    stack.send_and_wait(
        &Letter {
            from: &portal.provider.address,
            to: &portal.intake.address,
            subject: &format!("Re: [{extended}] Extension"),
            body: "We need more time to gather the records.",
            ..Letter::default()
        },
        &portal.intake,
    );
    let report = portal.pass();
    assert!(report.contains("2 message(s)"), "{report}");
    let ticket = portal.json(&["tickets", "show", answered, "--json"]);
    assert_eq!(ticket["status"], "responded", "{ticket:#}");
    assert_eq!(ticket["late"], false, "{ticket:#}");
    let decisions: Vec<&serde_json::Value> = ticket["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| &line["decision"])
        .collect();
    assert_eq!(
        decisions,
        [
            &serde_json::json!("paid_in_full"),
            &serde_json::json!("denial_upheld"),
            &serde_json::Value::Null
        ],
        "{ticket:#}"
    );
    let ticket = portal.json(&["tickets", "show", extended, "--json"]);
    assert_eq!(ticket["extension"]["status"], "requested", "{ticket:#}");
    assert_eq!(
        ticket["extension"]["requested_by"], "provider",
        "{ticket:#}"
    );
    let due = ticket["response_due"].as_str().unwrap().to_owned();
    portal.ok(&["tickets", "extend", extended, "--by", "Pat Staff"]);
    let ticket = portal.json(&["tickets", "show", extended, "--json"]);
    let new_due = ticket["response_due"].as_str().unwrap().to_owned();
    let expected = due.parse::<chrono::NaiveDate>().unwrap() + chrono::Days::new(30);
    assert_eq!(new_due, expected.to_string(), "{ticket:#}");
    assert_eq!(ticket["extension"]["status"], "granted", "{ticket:#}");

    stack.wait_until_delivered();
    let provider_mail = stack.notices(&portal.provider, "INBOX");
    let told = titled(
        &provider_mail,
        &format!("[{answered}] Molina Healthcare of Illinois has answered your complaint"),
    );
    assert_eq!(told.len(), 1, "{:#?}", subjects(&provider_mail));
    assert!(told[0].text.contains("Paid in full"), "{}", told[0].text);
    for notice in provider_mail
        .iter()
        .chain(&stack.notices(&portal.mco, "INBOX"))
    {
        let raw = String::from_utf8_lossy(&notice.raw);
        assert!(
            !raw.contains("timely filing"),
            "a comment in {}",
            notice.subject
        );
    }
    assert_eq!(
        titled(
            &provider_mail,
            &format!("[{extended}] Request for more time received")
        )
        .len(),
        1,
        "{:#?}",
        subjects(&provider_mail)
    );
    let granted = format!("[{extended}] More time granted: response due {new_due}");
    assert_eq!(titled(&provider_mail, &granted).len(), 1);
    let mco_mail = stack.notices(&portal.mco, "INBOX");
    assert_eq!(
        titled(
            &mco_mail,
            &format!("[{answered}] Decision missing for rows 4")
        )
        .len(),
        1,
        "{:#?}",
        subjects(&mco_mail)
    );
    assert_eq!(
        titled(&mco_mail, &granted).len(),
        1,
        "{:#?}",
        subjects(&mco_mail)
    );

    // 31 days later: the second is overdue; the MCO is reminded once, staff told once.
    let report = pass_days_ahead(&portal, 31);
    assert!(report.contains("1 overdue reminder"), "{report}");
    pass_days_ahead(&portal, 31);
    stack.wait_until_delivered();
    let mco_mail = stack.notices(&portal.mco, "INBOX");
    let reminders: Vec<&str> = subjects(&mco_mail)
        .into_iter()
        .filter(|subject| subject.ends_with("] Response overdue"))
        .collect();
    assert_eq!(reminders, [format!("[{overdue}] Response overdue")]);
    let digests = stack.notices(&staff, "INBOX");
    let [digest] = digests.as_slice() else {
        panic!("one digest: {:#?}", subjects(&digests))
    };
    assert!(
        digest
            .subject
            .starts_with("Provider Resolution Portal: daily summary "),
        "{}",
        digest.subject
    );
    assert!(digest.text.contains(overdue.as_str()), "{}", digest.text);
    assert!(!digest.text.contains(extended.as_str()), "{}", digest.text);

    // Resolving the first ends it; the MCO's later mail is kept, nothing reopens.
    portal.ok(&[
        "tickets",
        "resolve",
        answered,
        "--outcome",
        "resolved",
        "--by",
        "Pat Staff",
    ]);
    stack.send_and_wait(
        &Letter {
            from: &portal.mco.address,
            to: &portal.intake.address,
            subject: &format!("Re: [{answered}] Complaint resolved"),
            body: "Thank you.",
            ..Letter::default()
        },
        &portal.intake,
    );
    portal.pass();
    let ticket = portal.json(&["tickets", "show", answered, "--json"]);
    assert_eq!(ticket["status"], "resolved", "{ticket:#}");
    assert_eq!(ticket["resolution"]["outcome"], "resolved", "{ticket:#}");
    let events: Vec<&str> = ticket["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["what"].as_str().unwrap())
        .collect();
    assert_eq!(events.last(), Some(&"correspondence"), "{events:?}");
    stack.wait_until_delivered();
    let resolved = format!("[{answered}] Complaint resolved");
    assert_eq!(
        titled(&stack.notices(&portal.provider, "INBOX"), &resolved).len(),
        1
    );
    assert_eq!(
        titled(&stack.notices(&portal.mco, "INBOX"), &resolved).len(),
        1
    );
}
