//! `portal demo` end to end: the second half of the dispute included — the MCO answers
//! the forwarded complaint with the returned workbook, and the summary shows the ticket
//! `responded` with its decisions.

use crate::common::Mailroom;

fn json(room: &Mailroom, args: &[&str]) -> serde_json::Value {
    let output = room.cli(args);
    assert_eq!(output.status.code(), Some(0), "portal {args:?}");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn the_demo_has_the_mco_answer_the_forwarded_complaint() {
    let room = Mailroom::new("");
    let output = room.cli(&["demo"]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("5. Molina Healthcare of Illinois answered PRP-"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a pass recorded it as responded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("row 2 paid in full; row 3 partially paid; row 4 reprocessing"),
        "{stdout}"
    );
    assert!(stdout.contains("6. Built the site again"), "{stdout}");
    let statistics = room.path("var/statistics.json");
    let page = stdout
        .lines()
        .find(|line| line.contains("The statistics page, "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        page.contains("statistics/index.html, shows the figures intake counted into")
            && page.ends_with(&format!("{}.", statistics.display())),
        "{page}"
    );
    assert!(statistics.exists(), "{}", statistics.display());

    let tickets = json(&room, &["tickets", "list", "--json"]);
    let answered: Vec<&serde_json::Value> = tickets
        .as_array()
        .unwrap()
        .iter()
        .filter(|ticket| ticket["status"] == "responded")
        .collect();
    let [ticket] = answered.as_slice() else {
        panic!("one responded ticket: {tickets:#}")
    };
    assert_eq!(ticket["late"], false, "{ticket:#}");
    assert!(ticket["responded_on"].is_string(), "{ticket:#}");
    let decisions: Vec<&str> = ticket["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["decision"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        decisions,
        ["paid_in_full", "partially_paid", "reprocessing"],
        "{ticket:#}"
    );

    // The provider was told; the MCO's comment went nowhere but the store.
    let outbox = json(&room, &["outbox", "list", "--json"]);
    let told: Vec<&serde_json::Value> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|notice| notice["kind"] == "proposal_received")
        .collect();
    assert_eq!(told.len(), 1, "{outbox:#}");
    assert_eq!(told[0]["to"], "billing@prairie-clinic.example");
    for file in std::fs::read_dir(room.path("outbox")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(!text.contains("Reviewed by the demo's MCO"), "{text}");
    }
}

/// The demo's last build publishes the statistics file its passes wrote.
#[test]
fn after_the_demo_the_statistics_page_shows_its_figures() {
    let room = Mailroom::new("");
    let output = room.cli(&["demo"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let page = std::fs::read_to_string(room.path("site/statistics/index.html"))
        .expect("the demo's site has the statistics page");
    assert!(!page.contains("No figures are published yet"), "{page}");
    assert!(page.contains("Figures as of <time datetime=\""), "{page}");
    assert!(room.path("site/statistics/statistics.csv").is_file());

    // The page counts every complaint the demo filed, and Molina's one proposal.
    let tickets = json(&room, &["tickets", "list", "--json"]);
    let complaints = crate::statistics_page::table(&page, "complaints-table");
    let all = complaints.last().unwrap().last().unwrap();
    assert_eq!(
        all,
        &tickets.as_array().unwrap().len().to_string(),
        "{complaints:?}"
    );
    let proposals = crate::statistics_page::table(&page, "proposals-table");
    let molina = proposals
        .iter()
        .find(|row| row[0] == "Molina Healthcare of Illinois")
        .expect("a row for Molina");
    assert_eq!(molina[1], "1", "{proposals:?}");
}
