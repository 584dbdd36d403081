//! The store for years: `portal store export` and `import` (every staff view the same
//! after the trip, the same bytes exported again, refusals that leave nothing behind),
//! and retention by `[store] keep_raw_days` in the daily work of the real binary, the
//! clock moved with `faketime` as in `tests/daily.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chrono::Days;
use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::ids::TicketId;
use portal::store::{AuditEntry, Delivery, MessageRecord, Outcome, Store, Tree};
use serde_json::Value;

use crate::common::{Mailroom, PROVIDER, complaint, message, portal_bin, portal_on};

const INTAKE: &str = "intake@portal.example.gov";
const MOLINA: &str = "disputes@molina.example";

/// `portal --config CONFIG ARGS`.
fn portal(config: &Path, args: &[&str]) -> Output {
    Command::new(portal_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("portal runs")
}

/// As [`portal`], which must exit 0; its standard output.
fn done(config: &Path, args: &[&str]) -> Vec<u8> {
    let output = portal(config, args);
    assert!(
        output.status.success(),
        "portal {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// As [`portal`], which must be refused (exit 1); its standard error.
fn refused(config: &Path, args: &[&str]) -> String {
    let output = portal(config, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "portal {args:?}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(config: &Path, args: &[&str]) -> Value {
    serde_json::from_slice(&done(config, args)).expect("JSON")
}

/// A copy of the mailroom's config whose store is at `store` instead.
fn config_with_store(room: &Mailroom, store: &Path, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(&room.config_path).unwrap();
    let from = format!("path = {:?}\n", room.config.store.path);
    assert!(text.contains(&from), "{text}");
    let path = room.path(name);
    std::fs::write(&path, text.replace(&from, &format!("path = {store:?}\n"))).unwrap();
    path
}

/// Registers the provider and files a good complaint (forwarded to Molina) and one
/// filed too early (closed), today.
fn forwarded_and_closed(room: &Mailroom) -> (TicketId, TicketId) {
    room.register(PROVIDER, SAMPLE_NPI);
    let mut ids = Vec::new();
    for sample in [Sample::Good, Sample::TooEarly] {
        room.deliver(&message(
            PROVIDER,
            INTAKE,
            "Claims",
            "See attached.",
            &[("claims.xlsx", complaint(sample, 2))],
        ));
        ids.push(room.pass().tickets[0]);
    }
    (ids[0], ids[1])
}

/// Every staff view of the store the config names, as scripts read it.
fn staff_views(config: &Path) -> Vec<(String, Value)> {
    let mut views = Vec::new();
    for args in [
        &["tickets", "list", "--json"][..],
        &["registrations", "list", "--json"],
        &["inquiries", "list", "--json"],
        &["messages", "list", "--json"],
        &["outbox", "list", "--json"],
    ] {
        views.push((args.join(" "), json(config, args)));
    }
    let tickets = views[0].1.as_array().unwrap().clone();
    for ticket in tickets {
        let id = ticket["id"].as_str().unwrap();
        let args = ["tickets", "show", id, "--json"];
        views.push((args.join(" "), json(config, &args)));
    }
    let messages = views[3].1.as_array().unwrap().clone();
    for item in messages {
        let hash = item["hash"].as_str().unwrap();
        let args = ["messages", "show", hash, "--json"];
        views.push((args.join(" "), json(config, &args)));
    }
    views
}

#[test]
fn a_store_exported_and_imported_shows_staff_the_same_and_exports_the_same_bytes() {
    let room = Mailroom::new("");
    let (forwarded, closed) = forwarded_and_closed(&room);
    room.ask(1);
    room.deliver(&message(
        MOLINA,
        INTAKE,
        &format!("RE: [{forwarded}] Provider complaint forwarded by Illinois HFS (2 lines)"),
        "We will reprocess these claims.",
        &[],
    ));
    room.pass();
    let config = room.config_path.clone();
    done(
        &config,
        &[
            "tickets",
            "resolve",
            &forwarded.to_string(),
            "--outcome",
            "resolved",
            "--by",
            "Pat Staff",
        ],
    );
    let original = staff_views(&config);
    // What the store holds: every kind of record, each kind of outcome.
    let tickets = original[0].1.as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[0]["status"], "resolved", "{}", tickets[0]);
    assert_eq!(tickets[1]["id"], closed.to_string());
    let kinds: Vec<&str> = original[3]
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["outcome"]["kind"].as_str().unwrap())
        .collect();
    for kind in ["registration", "tickets", "inquiry", "proposal"] {
        assert!(kinds.contains(&kind), "{kind}: {kinds:?}");
    }
    assert!(original[4].1.as_array().unwrap().len() >= 8, "notices");

    let file = room.path("backup/store.jsonl");
    std::fs::create_dir(room.path("backup")).unwrap();
    let said =
        String::from_utf8(done(&config, &["store", "export", file.to_str().unwrap()])).unwrap();
    assert!(said.starts_with("Exported "), "{said}");
    let exported = std::fs::read(&file).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the export holds PHI");
    }
    let text = String::from_utf8(exported.clone()).unwrap();
    assert!(text.starts_with("{\"format\":\"portal-store\",\"version\":1}\n"));
    assert!(text.contains(&format!("{{\"tree\":\"tickets\",\"key\":\"{forwarded}\",")));
    assert_eq!(
        done(&config, &["store", "export", "-"]),
        exported,
        "to stdout alike"
    );

    // Into a fresh path, parents and all.
    let copy_path = room.path("restored/var/store");
    let copy = config_with_store(&room, &copy_path, "restored.toml");
    let said =
        String::from_utf8(done(&copy, &["store", "import", file.to_str().unwrap()])).unwrap();
    assert!(said.starts_with("Imported "), "{said}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&copy_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let restored = staff_views(&copy);
    assert_eq!(restored.len(), original.len());
    for ((what, before), (_, after)) in original.iter().zip(&restored) {
        assert_eq!(before, after, "{what}");
    }

    let copy_file = room.path("backup/again.jsonl");
    done(&copy, &["store", "export", copy_file.to_str().unwrap()]);
    assert!(
        std::fs::read(&copy_file).unwrap() == exported,
        "export → import → export gives the same bytes"
    );

    // A store that holds anything is refused, and nothing in it changes.
    let error = refused(&copy, &["store", "import", file.to_str().unwrap()]);
    assert!(error.contains("is not empty"), "{error}");
    assert_eq!(done(&copy, &["store", "export", "-"]), exported);

    // The restored store goes on: a new notice's id comes after every recorded one
    // (sled's own counter starts afresh in the new store).
    let ids_before = outbox_ids(&copy);
    room.deliver(&message(
        "third@clinic.example",
        INTAKE,
        "Question",
        "How do I start?",
        &[],
    ));
    let copy_config = portal::config::Config::from_file(&copy).unwrap();
    portal::intake::run_pass(&copy_config, None).unwrap();
    let ids_after = outbox_ids(&copy);
    let last = ids_before.iter().max().unwrap();
    assert!(ids_after.len() > ids_before.len(), "a notice was queued");
    assert!(
        ids_after
            .iter()
            .filter(|id| !ids_before.contains(id))
            .all(|id| id > last),
        "{ids_before:?} {ids_after:?}"
    );
}

fn outbox_ids(config: &Path) -> Vec<u64> {
    json(config, &["outbox", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|notice| notice["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_file_that_is_not_a_whole_export_is_refused_by_its_line_and_leaves_nothing() {
    let room = Mailroom::new("");
    room.register(PROVIDER, SAMPLE_NPI);
    let exported = done(&room.config_path, &["store", "export", "-"]);
    let text = String::from_utf8(exported).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 4, "{text}");

    let target = room.path("restored");
    let copy = config_with_store(&room, &target, "restored.toml");
    let cases = [
        // A record cut in the middle.
        (
            {
                let mut broken = lines.clone();
                broken[3] = &lines[3][..lines[3].len() / 2];
                broken
            },
            "line 4: not JSON",
        ),
        // Another format's header.
        (
            {
                let mut other = lines.clone();
                other[0] = r#"{"format":"other-store","version":1}"#;
                other
            },
            "line 1: not a store export",
        ),
        // Cut short at a line's end.
        (
            lines[..lines.len() - 1].to_vec(),
            "the file ends before its count of records",
        ),
    ];
    for (file_lines, expected) in cases {
        let file = room.path("bad.jsonl");
        std::fs::write(&file, file_lines.join("\n") + "\n").unwrap();
        let error = refused(&copy, &["store", "import", file.to_str().unwrap()]);
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(error.contains("nothing was imported"), "{error}");
        assert!(!target.exists(), "no store left behind: {error}");
        let hidden: Vec<_> = std::fs::read_dir(room.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".restored"))
            .collect();
        assert!(hidden.is_empty(), "{hidden:?}");
    }
}

/// The mailroom's config with `[store] keep_raw_days` set, in the file and in memory.
fn keeping_raw_days(mut room: Mailroom, days: u32) -> Mailroom {
    let text = std::fs::read_to_string(&room.config_path).unwrap();
    let text = text.replacen(
        "[store]\n",
        &format!("[store]\nkeep_raw_days = {days}\n"),
        1,
    );
    std::fs::write(&room.config_path, &text).unwrap();
    room.config = portal::config::Config::parse(&text).unwrap();
    assert_eq!(room.config.store.keep_raw_days, days);
    room
}

fn message_of(store: &Store, ticket: TicketId) -> MessageRecord {
    store
        .all::<MessageRecord>(Tree::Messages)
        .unwrap()
        .into_iter()
        .find(|record| matches!(&record.outcome, Outcome::Tickets { ids } if ids.contains(&ticket)))
        .expect("the ticket's message")
}

#[test]
fn the_daily_work_removes_the_raw_mail_of_what_ended_that_many_days_ago() {
    let room = keeping_raw_days(Mailroom::new(""), 30);
    let (open, closed) = forwarded_and_closed(&room);
    let (open_hash, closed_hash, sent_before) = {
        let store = Store::open(&room.config.store.path).unwrap();
        let sent: Vec<u64> = store
            .notice_summaries()
            .unwrap()
            .into_iter()
            .filter(|notice| matches!(notice.delivery, Delivery::Sent { .. }))
            .map(|notice| notice.id)
            .collect();
        (
            message_of(&store, open).hash,
            message_of(&store, closed).hash,
            sent,
        )
    };
    assert!(sent_before.len() >= 4, "{sent_before:?}");

    // 29 days on, nothing yet; 31 days on, the first pass of the day removes it.
    let today = portal::today::today_in_illinois();
    portal_on(&room, today + Days::new(29), &["intake", "--once"]);
    let listed = json(&room.config_path, &["messages", "list", "--json"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["raw"] == true),
        "{listed:#}"
    );
    let later = today + Days::new(31);
    portal_on(&room, later, &["intake", "--once"]);

    let store = Store::open(&room.config.store.path).unwrap();
    assert!(store.get_bytes(Tree::Raw, &closed_hash).unwrap().is_none());
    assert!(
        store.get_bytes(Tree::Raw, &open_hash).unwrap().is_some(),
        "open: kept"
    );
    let record: MessageRecord = store.get(Tree::Messages, &closed_hash).unwrap().unwrap();
    assert!(record.raw_removed.is_some());
    assert_eq!(
        record.outcome,
        Outcome::Tickets { ids: vec![closed] },
        "the record stays"
    );
    let removals: Vec<String> = store
        .all::<AuditEntry>(Tree::Audit)
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == "raw_removed")
        .map(|entry| entry.subject)
        .collect();
    assert!(
        removals.contains(&closed_hash),
        "the full hash: {removals:?}"
    );
    assert!(!removals.contains(&open_hash));
    // Every notice sent a month before lost its body, none its record; the overdue
    // reminder sent today keeps its own.
    for id in &sent_before {
        let notice = store.notice(*id).unwrap().unwrap();
        assert!(
            notice.raw.is_empty() && notice.body_removed.is_some(),
            "{id}"
        );
        assert!(removals.contains(&format!("notice:{id}")), "{id}");
    }
    let reminder = store
        .notice_summaries()
        .unwrap()
        .into_iter()
        .find(|notice| notice.subject == format!("[{open}] Response overdue"))
        .expect("the reminder of the overdue ticket");
    assert!(!store.notice(reminder.id).unwrap().unwrap().raw.is_empty());
    drop(store);

    let config = &room.config_path;
    for item in json(config, &["messages", "list", "--json"])
        .as_array()
        .unwrap()
    {
        assert_eq!(item["raw"], item["hash"] != closed_hash.as_str(), "{item}");
    }
    let shown = String::from_utf8(done(config, &["messages", "show", &closed_hash])).unwrap();
    assert!(
        shown.contains(&format!("Raw bytes removed on {later}.")),
        "{shown}"
    );
    assert_eq!(
        json(config, &["messages", "show", &closed_hash, "--json"])["raw_removed_on"],
        later.to_string()
    );
    let error = refused(config, &["messages", "release", &closed_hash]);
    assert!(
        error.contains(&format!("its raw bytes were removed on {later}")),
        "{error}"
    );
    assert!(!error.contains(PROVIDER), "{error}");
}
