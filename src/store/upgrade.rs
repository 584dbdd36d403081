//! Bringing a store written by an earlier version up to date, once, when this version
//! first opens it. Each step is marked done in the meta tree, so a later open costs
//! one read; a step cut short (a crash, a failing disk) is taken up again at the next
//! open, and redoing it changes nothing it already did.
//!
//! The one step so far: ticket lines filed before lines kept their Provider NPI and
//! MCO Tracking Number (what `tickets list --npi` and `--tracking` find them by) get
//! them from the ticket's kept raw mail. A line whose mail was purged, or whose file
//! no longer reads, is left as it is: an upgrade never fails the open, and the log
//! says only how many.

use crate::forms::{self, Kind};
use crate::mail::classify::{self, Attachment};

use super::{Store, StoreError, StoreResult, Ticket, Tree, Writes, decode};

/// A claim row's number with the Provider NPI and MCO Tracking Number it holds
/// ([`forms::validate::claim_cells`]).
type ClaimCells = (u32, Option<String>, Option<String>);

/// Set once every ticket's lines were filled in from the kept raw mail.
pub(super) const LINES_FILLED: &str = "upgrade:lines_filled";

/// What filling the lines did, for the log (counts only: never PHI).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Filled {
    tickets: usize,
    lines: usize,
    /// Tickets whose raw mail is gone or whose workbook does not read.
    unreadable: usize,
}

impl Store {
    /// Runs the upgrades this store has not had yet. A failure is logged and the step
    /// tried again at the next open; the store opens either way.
    pub(super) fn upgrade(&self) {
        match fill_lines(self) {
            Ok(None) => {}
            // A store whose tickets all kept their lines has nothing to tell.
            Ok(Some(filled)) if filled == Filled::default() => {}
            Ok(Some(filled)) => tracing::info!(
                tickets = filled.tickets as u64,
                lines = filled.lines as u64,
                unreadable = filled.unreadable as u64,
                "ticket lines filled in from their kept mail"
            ),
            Err(error) => tracing::warn!(
                error = %error,
                "ticket lines not filled in from their kept mail; tried again at the next open"
            ),
        }
    }
}

/// Fills every ticket line that has neither NPI nor tracking number from its kept
/// mail, then marks the step done; `None` when it was done before (or there is no
/// ticket yet: a store without one stays as it is, so an empty store stays empty).
fn fill_lines(store: &Store) -> StoreResult<Option<Filled>> {
    // Neither check counts toward the store's injected faults (`store_fault@N`), which
    // count the reads of a pass: once done, the upgrade is no store operation at all.
    let done = store
        .tree(Tree::Meta)
        .contains_key(LINES_FILLED)
        .map_err(|source| StoreError::Read {
            tree: Tree::Meta.name(),
            source,
        })?;
    if done || store.tree(Tree::Tickets).is_empty() {
        return Ok(None);
    }
    let mut filled = Filled::default();
    // Streamed, one ticket at a time: an old store may hold many.
    for entry in store.tree(Tree::Tickets).iter() {
        let (key, value) = entry.map_err(|source| StoreError::Read {
            tree: Tree::Tickets.name(),
            source,
        })?;
        let mut ticket: Ticket = decode(Tree::Tickets, &value)?;
        if !ticket.lines.iter().any(lacks_both) {
            continue;
        }
        let Some(cells) = kept_claim_cells(store, &ticket)? else {
            filled.unreadable += 1;
            continue;
        };
        let lines = fill(&mut ticket, &cells);
        if lines > 0 {
            let mut writes = Writes::default();
            writes.put(Tree::Tickets, &key, &ticket)?;
            store.apply(writes)?;
            filled.tickets += 1;
            filled.lines += lines;
        }
    }
    let mut writes = Writes::default();
    writes.put_bytes(Tree::Meta, LINES_FILLED, b"1".to_vec());
    store.apply(writes)?;
    store.flush()?;
    Ok(Some(filled))
}

/// A line filed before lines kept what they name.
fn lacks_both(line: &super::TicketLine) -> bool {
    line.npi.is_none() && line.tracking_number.is_none()
}

/// Gives each line lacking both its row's NPI and tracking number; how many it filled.
fn fill(ticket: &mut Ticket, cells: &[ClaimCells]) -> usize {
    let mut count = 0;
    for line in ticket.lines.iter_mut().filter(|line| lacks_both(line)) {
        if let Some((_, npi, tracking)) = cells.iter().find(|(row, ..)| *row == line.row) {
            line.npi = npi.clone();
            line.tracking_number = tracking.clone();
            count += 1;
        }
    }
    count
}

/// The claim rows of the workbook a ticket was made from, read from its kept raw
/// mail: the attachment named as the ticket's, else the first complaint workbook.
/// `None` when the raw bytes are gone or no such workbook reads.
fn kept_claim_cells(store: &Store, ticket: &Ticket) -> StoreResult<Option<Vec<ClaimCells>>> {
    let Some(raw) = store.get_bytes(Tree::Raw, &ticket.message)? else {
        return Ok(None);
    };
    let Some(parsed) = classify::parse(&raw) else {
        return Ok(None);
    };
    let named = ticket.attachment.as_deref().and_then(|wanted| {
        parsed
            .attachments
            .iter()
            .find(|attachment| shown_as(attachment, wanted))
    });
    let workbook = match named {
        Some(attachment) => complaint_workbook(attachment),
        None => parsed.attachments.iter().find_map(complaint_workbook),
    };
    Ok(workbook.map(|workbook| forms::validate::claim_cells(&workbook)))
}

/// True when a ticket shows this attachment's name as `wanted`: intake keeps the
/// name without control characters and cut at 200 characters.
fn shown_as(attachment: &Attachment, wanted: &str) -> bool {
    attachment.name.as_deref().is_some_and(|name| {
        name.chars()
            .filter(|c| !c.is_control())
            .take(200)
            .eq(wanted.chars())
    })
}

/// The attachment read as a complaint workbook, when it is one.
fn complaint_workbook(attachment: &Attachment) -> Option<forms::Workbook> {
    let workbook = forms::read_workbook(&attachment.bytes, attachment.name.as_deref()).ok()?;
    (forms::identify(&workbook) == Some(Kind::Complaint)).then_some(workbook)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone as _, Utc};

    use super::*;
    use crate::config::Config;
    use crate::forms::samples::{SAMPLE_NPI, Sample, complaint_lines};
    use crate::forms::{Status, write};

    const MESSAGE: &str = "0123456789abcdef";

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
    }

    /// A mail carrying a complaint workbook of `count` good lines as `name`, after an
    /// unrelated spreadsheet-looking attachment.
    fn mail_with_complaint(name: &str, count: usize) -> Vec<u8> {
        use lettre::message::header::ContentType;
        use lettre::message::{Attachment, MultiPart, SinglePart};
        let config = Config::parse("").unwrap();
        let lines = complaint_lines(Sample::Good, day(), 4, count);
        let file = write::complaint_with_lines(&config.mcos, &config.rules, &lines).unwrap();
        let octets = ContentType::parse("application/octet-stream").unwrap();
        let parts = MultiPart::mixed()
            .singlepart(SinglePart::plain("Complaint attached.".to_owned()))
            .singlepart(Attachment::new("notes.txt".to_owned()).body(b"x".to_vec(), octets.clone()))
            .singlepart(Attachment::new(name.to_owned()).body(file, octets));
        lettre::Message::builder()
            .from("billing@clinic.example".parse().unwrap())
            .to("intake@portal.example.gov".parse().unwrap())
            .subject("Complaint")
            .multipart(parts)
            .unwrap()
            .formatted()
    }

    /// A ticket as an earlier version wrote it: none of the fields added since, and
    /// lines of row, status and reason only.
    fn old_ticket(id: &str, rows: &[u32], attachment: &str) -> serde_json::Value {
        let lines: Vec<_> = rows
            .iter()
            .map(|row| serde_json::json!({"row": row, "status": "forwarded", "reason": null}))
            .collect();
        serde_json::json!({
            "v": 1, "id": id, "status": "forwarded", "mco": "MOLINA",
            "received_on": day(), "received_at": Utc.with_ymd_and_hms(2026, 11, 16, 15, 0, 0).unwrap(),
            "sender": "billing@clinic.example", "reason": null,
            "presented_by": "2026-11-30", "response_due": "2026-12-16",
            "lines": lines, "problems": [], "forwarded_claims": [],
            "message": MESSAGE, "attachment": attachment, "correspondence": [],
        })
    }

    fn put_old(store: &Store, ticket: &serde_json::Value, raw: Option<&[u8]>) {
        let mut writes = Writes::default();
        let id = ticket["id"].as_str().unwrap();
        writes.put(Tree::Tickets, id, ticket).unwrap();
        if let Some(raw) = raw {
            writes.put_bytes(Tree::Raw, MESSAGE, raw.to_vec());
        }
        store.apply(writes).unwrap();
    }

    fn lines(store: &Store, id: &str) -> Vec<ClaimCells> {
        let ticket: Ticket = store.get(Tree::Tickets, id).unwrap().unwrap();
        assert_eq!(ticket.status, Status::Forwarded);
        ticket
            .lines
            .into_iter()
            .map(|line| (line.row, line.npi, line.tracking_number))
            .collect()
    }

    fn filled(row: u32) -> ClaimCells {
        let tracking = format!("0TRK-{:05}", 1000 + row - 2);
        (row, Some(SAMPLE_NPI.to_owned()), Some(tracking))
    }

    #[test]
    fn old_lines_are_filled_from_the_kept_mail_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let raw = mail_with_complaint("claims.xlsx", 3);
        {
            let store = Store::open_or_create(&path).unwrap();
            // Row 9 is not in the workbook: left as it was.
            put_old(
                &store,
                &old_ticket("PRP-2026-000001", &[2, 4, 9], "claims.xlsx"),
                Some(&raw),
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            lines(&store, "PRP-2026-000001"),
            [filled(2), filled(4), (9, None, None)]
        );
        assert_eq!(store.meta(LINES_FILLED).unwrap().as_deref(), Some("1"));
        // Done once: a line emptied afterwards stays empty at the next open.
        let mut ticket: Ticket = store
            .get(Tree::Tickets, "PRP-2026-000001")
            .unwrap()
            .unwrap();
        ticket.lines[0].npi = None;
        ticket.lines[0].tracking_number = None;
        let mut writes = Writes::default();
        writes
            .put(Tree::Tickets, "PRP-2026-000001", &ticket)
            .unwrap();
        store.apply(writes).unwrap();
        drop(store);
        let store = Store::open_or_create(&path).unwrap();
        assert_eq!(lines(&store, "PRP-2026-000001")[0], (2, None, None));
    }

    #[test]
    fn a_ticket_without_its_mail_or_workbook_is_left_and_the_open_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open_or_create(&path).unwrap();
            put_old(
                &store,
                &old_ticket("PRP-2026-000001", &[2], "claims.xlsx"),
                None,
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(lines(&store, "PRP-2026-000001"), [(2, None, None)]);
        assert_eq!(
            fill_lines(&store).unwrap(),
            None,
            "marked done: purged mail does not come back"
        );
        drop(store);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::open_or_create(&path).unwrap();
        put_old(
            &store,
            &old_ticket("PRP-2026-000002", &[2], "claims.xlsx"),
            Some(b"not a message with a workbook"),
        );
        assert_eq!(
            fill_lines(&store).unwrap(),
            Some(Filled {
                tickets: 0,
                lines: 0,
                unreadable: 1
            })
        );
        assert_eq!(lines(&store, "PRP-2026-000002"), [(2, None, None)]);
    }

    #[test]
    fn the_workbook_is_found_by_the_tickets_attachment_name_else_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        let raw = mail_with_complaint("Q4 claims.xlsx", 2);
        // Named as the ticket shows it, and under a name the mail no longer has.
        put_old(
            &store,
            &old_ticket("PRP-2026-000001", &[2, 3], "Q4 claims.xlsx"),
            Some(&raw),
        );
        let mut renamed = old_ticket("PRP-2026-000002", &[3], "other.xlsx");
        renamed["message"] = MESSAGE.into();
        put_old(&store, &renamed, None);
        assert_eq!(
            fill_lines(&store).unwrap(),
            Some(Filled {
                tickets: 2,
                lines: 3,
                unreadable: 0
            })
        );
        assert_eq!(lines(&store, "PRP-2026-000001"), [filled(2), filled(3)]);
        assert_eq!(lines(&store, "PRP-2026-000002"), [filled(3)]);
    }

    #[test]
    fn an_empty_store_stays_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        drop(Store::open_or_create(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert!(store.is_empty());
    }
}
