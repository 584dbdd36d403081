//! Retention (`[store] keep_raw_days`): raw mail and the bodies of sent notices are
//! removed once they have been kept that many days after the record they belong to
//! became final. Run by the daily work.
//!
//! A message counts from the day its records became final: the tickets it filed once
//! each is `closed` (the day it was received) or `resolved` (the day of the
//! resolution), the registration once `denied` or `revoked` (the day of the decision);
//! every other message — an inquiry, correspondence, a proposal or an extension
//! request, `not_registered`, automatic, help — from the day it was processed. A
//! quarantined message keeps its bytes: it waits for staff. A notice counts from the
//! day it was sent; one waiting, failed or held back keeps its body.
//!
//! Records, decisions, attachment digests (R12) and the audit trail stay. Each removal
//! marks its record (`MessageRecord::raw_removed`, `Notice::body_removed`) and is
//! audited `raw_removed` — the message's full hash, or `notice:<id>` — in the
//! transaction that removes it. A run finds nothing it removed before, so running it
//! twice a day, or again after a crash, changes nothing.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::Chicago;
use serde::Deserialize;

use super::{
    Delivery, MessageRecord, Notice, Outcome, RegistrationStatus, Store, StoreError, StoreResult,
    Tree, Writes, decode, put_notice,
};
use crate::forms::Status;
use crate::ids::{RegistrationId, TicketId};

/// The audit action of every removal (`portal messages show` reads its day).
pub const RAW_REMOVED: &str = "raw_removed";

/// Removals per transaction: a first run over years of mail stays small in memory.
const CHUNK: usize = 128;

/// What one run removed (counts only: never PHI).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Messages whose raw bytes were removed.
    pub messages: usize,
    /// Sent notices whose bodies were removed.
    pub notices: usize,
}

/// Removes what was kept `keep_days` days or more by `today` (an Illinois day); `now`
/// marks and audits each removal. Flushed when anything was removed.
pub fn purge(
    store: &Store,
    keep_days: u32,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> StoreResult<Purged> {
    let Some(last_day) = today.checked_sub_days(chrono::Days::new(keep_days.into())) else {
        return Ok(Purged::default());
    };
    let purged = Purged {
        messages: purge_messages(store, last_day, now)?,
        notices: purge_notices(store, last_day, now)?,
    };
    if purged != Purged::default() {
        store.flush()?;
        tracing::info!(
            messages = purged.messages as u64,
            notices = purged.notices as u64,
            keep_raw_days = keep_days,
            "retention removed raw mail and sent notice bodies"
        );
    }
    Ok(purged)
}

/// The Illinois day of an instant.
fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Chicago).date_naive()
}

/// Removes the raw bytes of every message final on or before `last_day`.
fn purge_messages(store: &Store, last_day: NaiveDate, now: DateTime<Utc>) -> StoreResult<usize> {
    let mut due: Vec<MessageRecord> = Vec::new();
    for entry in store.tree(Tree::Messages).iter() {
        let (_, value) = entry.map_err(|source| StoreError::Read {
            tree: Tree::Messages.name(),
            source,
        })?;
        let record: MessageRecord = decode(Tree::Messages, &value)?;
        if record.raw_removed.is_none()
            && final_on(store, &record)?.is_some_and(|day| day <= last_day)
        {
            due.push(record);
        }
    }
    for chunk in due.chunks_mut(CHUNK) {
        let mut writes = Writes::default();
        for record in chunk.iter_mut() {
            record.raw_removed = Some(now);
            writes.remove(Tree::Raw, &record.hash);
            writes.put(Tree::Messages, &record.hash, record)?;
            writes.audit(store, now, RAW_REMOVED, &record.hash, None, None)?;
        }
        store.apply(writes)?;
    }
    Ok(due.len())
}

/// Removes the body of every notice sent on or before `last_day`.
fn purge_notices(store: &Store, last_day: NaiveDate, now: DateTime<Utc>) -> StoreResult<usize> {
    let sent_by_then: Vec<u64> = store
        .notice_summaries()?
        .into_iter()
        .filter(|notice| matches!(notice.delivery, Delivery::Sent { at } if day_of(at) <= last_day))
        .map(|notice| notice.id)
        .collect();
    let mut removed = 0;
    for ids in sent_by_then.chunks(CHUNK) {
        let mut writes = Writes::default();
        for id in ids {
            // Read whole only while it still has a body; emptied ones read cheaply.
            let Some(mut notice) = store.get::<Notice>(Tree::Outbox, id.to_be_bytes())? else {
                continue;
            };
            if notice.body_removed.is_some() {
                continue;
            }
            notice.raw = Vec::new();
            notice.body_removed = Some(now);
            put_notice(&mut writes, &notice)?;
            writes.audit(store, now, RAW_REMOVED, &format!("notice:{id}"), None, None)?;
            removed += 1;
        }
        store.apply(writes)?;
    }
    Ok(removed)
}

/// The day a message's records became final; `None` while one of them is still open
/// (or it waits in quarantine).
fn final_on(store: &Store, record: &MessageRecord) -> StoreResult<Option<NaiveDate>> {
    let processed = day_of(record.processed_at);
    Ok(match &record.outcome {
        Outcome::Tickets { ids } => latest(tickets_final_on(store, ids)?),
        Outcome::Registration { id, more, tickets } => {
            let mut days = tickets_final_on(store, tickets)?;
            for id in std::iter::once(id).chain(more) {
                days.push(registration_final_on(store, *id)?);
            }
            latest(days)
        }
        Outcome::Inquiry { .. }
        | Outcome::NotRegistered
        | Outcome::Correspondence { .. }
        | Outcome::Proposal { .. }
        | Outcome::ExtensionRequest { .. }
        | Outcome::Help
        | Outcome::Automatic
        | Outcome::Unauthenticated => Some(processed),
        Outcome::Quarantined { .. } => None,
    })
}

/// The last of the days, when every one is known.
fn latest(days: Vec<Option<NaiveDate>>) -> Option<NaiveDate> {
    days.into_iter()
        .try_fold(None, |latest: Option<NaiveDate>, day| {
            day.map(|day| Some(latest.map_or(day, |latest| latest.max(day))))
        })
        .flatten()
}

/// A ticket as far as its end (the rest of the record skipped while reading).
#[derive(Deserialize)]
struct TicketEnd {
    status: Status,
    received_on: NaiveDate,
    #[serde(default)]
    resolution: Option<ResolvedOn>,
}

#[derive(Deserialize)]
struct ResolvedOn {
    on: NaiveDate,
}

fn tickets_final_on(store: &Store, ids: &[TicketId]) -> StoreResult<Vec<Option<NaiveDate>>> {
    ids.iter()
        .map(|id| {
            Ok(store
                .record::<TicketEnd>(*id)?
                .and_then(|ticket| match ticket.status {
                    Status::Closed => Some(ticket.received_on),
                    Status::Resolved => Some(
                        ticket
                            .resolution
                            .map_or(ticket.received_on, |resolution| resolution.on),
                    ),
                    Status::Forwarded | Status::Responded => None,
                }))
        })
        .collect()
}

/// A registration as far as its end.
#[derive(Deserialize)]
struct RegistrationEnd {
    status: RegistrationStatus,
    received_on: NaiveDate,
    decided_at: Option<DateTime<Utc>>,
}

fn registration_final_on(store: &Store, id: RegistrationId) -> StoreResult<Option<NaiveDate>> {
    Ok(store
        .record::<RegistrationEnd>(id)?
        .and_then(|registration| match registration.status {
            RegistrationStatus::Denied | RegistrationStatus::Revoked => Some(
                registration
                    .decided_at
                    .map_or(registration.received_on, day_of),
            ),
            RegistrationStatus::Pending | RegistrationStatus::Active => None,
        }))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use serde_json::json;

    use super::*;
    use crate::mail::notice::NoticeKind;
    use crate::store::{AuditEntry, Mailbox, RECORD_VERSION};

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Noon in Illinois on `text`.
    fn noon(text: &str) -> DateTime<Utc> {
        Chicago
            .from_local_datetime(&day(text).and_hms_opt(12, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    fn message(hash: &str, processed: &str, outcome: Outcome) -> MessageRecord {
        MessageRecord {
            v: RECORD_VERSION,
            hash: hash.to_owned(),
            message_id: None,
            mailbox: Mailbox::Intake,
            source_id: hash.to_owned(),
            from: "a@clinic.example".to_owned(),
            received_at: noon(processed),
            processed_at: noon(processed),
            outcome,
            notices: Vec::new(),
            suppressed: Vec::new(),
            attachments: None,
            released: false,
            read: None,
            raw_removed: None,
            trusted: None,
        }
    }

    fn notice(id: u64, delivery: Delivery) -> Notice {
        Notice {
            v: RECORD_VERSION,
            id,
            kind: NoticeKind::Help,
            about: None,
            to: "a@clinic.example".to_owned(),
            subject: format!("Notice {id}"),
            message_id: format!("{id}@portal.example.gov"),
            created_at: noon("2026-01-01"),
            delivery,
            raw: b"Subject: a body\r\n\r\nwith PHI\r\n".to_vec(),
            body_removed: None,
        }
    }

    fn ticket_id(number: u64) -> TicketId {
        format!("PRP-2026-{number:06}").parse().unwrap()
    }

    /// Today 2026-06-30 and 30 days kept: what became final on 2026-05-31 or before
    /// goes.
    const TODAY: &str = "2026-06-30";

    /// Each message by its hash, and whether retention is to remove it.
    fn cases() -> Vec<(MessageRecord, bool)> {
        let tickets = |ids: &[u64]| Outcome::Tickets {
            ids: ids.iter().map(|n| ticket_id(*n)).collect(),
        };
        let registration = |n: u64| Outcome::Registration {
            id: format!("REG-2026-{n:06}").parse().unwrap(),
            more: Vec::new(),
            tickets: Vec::new(),
        };
        vec![
            // Closed on the last day, and on the day after.
            (message("a1", "2026-05-31", tickets(&[1])), true),
            (message("a2", "2026-06-01", tickets(&[2])), false),
            // Resolved long after it came, and long ago; still forwarded.
            (message("a3", "2026-01-05", tickets(&[3])), false),
            (message("a4", "2026-01-05", tickets(&[4])), true),
            (message("a5", "2026-01-05", tickets(&[5])), false),
            // One template of two still open keeps the message.
            (message("a6", "2026-01-05", tickets(&[1, 5])), false),
            // Denied long ago; active; revoked lately.
            (message("b1", "2026-01-05", registration(1)), true),
            (message("b2", "2026-01-05", registration(2)), false),
            (message("b3", "2026-01-05", registration(3)), false),
            // Counted from the day processed.
            (
                message(
                    "c1",
                    "2026-05-31",
                    Outcome::Inquiry {
                        id: "INQ-2026-000001".parse().unwrap(),
                    },
                ),
                true,
            ),
            (message("c2", "2026-06-15", Outcome::Help), false),
            (
                message("c3", "2026-02-01", Outcome::Proposal { id: ticket_id(5) }),
                true,
            ),
            (message("c4", "2026-02-01", Outcome::NotRegistered), true),
            (message("c5", "2026-02-01", Outcome::Automatic), true),
            (
                message("c6", "2026-02-01", Outcome::Correspondence { id: None }),
                true,
            ),
            (message("c7", "2026-02-01", Outcome::Unauthenticated), true),
            (message("c8", "2026-06-15", Outcome::Unauthenticated), false),
            // Quarantined: it waits for staff.
            (
                message(
                    "d1",
                    "2026-01-05",
                    Outcome::Quarantined {
                        why: "unreadable".to_owned(),
                    },
                ),
                false,
            ),
        ]
    }

    fn filled(store: &Store) {
        let mut writes = Writes::default();
        for (n, record) in [
            json!({"status": "closed", "received_on": "2026-05-31"}),
            json!({"status": "closed", "received_on": "2026-06-01"}),
            json!({"status": "resolved", "received_on": "2026-01-05",
                   "resolution": {"outcome": "resolved", "on": "2026-06-10", "by": "Pat", "note": null}}),
            json!({"status": "resolved", "received_on": "2026-01-05",
                   "resolution": {"outcome": "not_resolved", "on": "2026-05-01", "by": "Pat", "note": null}}),
            json!({"status": "forwarded", "received_on": "2026-01-05"}),
        ]
        .iter()
        .enumerate()
        {
            let id = ticket_id(n as u64 + 1).to_string();
            writes.put(Tree::Tickets, id, record).unwrap();
        }
        for (n, status, decided) in [
            (1, "denied", Some(noon("2026-05-01"))),
            (2, "active", Some(noon("2026-01-06"))),
            (3, "revoked", Some(noon("2026-06-20"))),
        ] {
            let record =
                json!({"status": status, "received_on": "2026-01-05", "decided_at": decided});
            writes
                .put(Tree::Registrations, format!("REG-2026-{n:06}"), &record)
                .unwrap();
        }
        for (record, _) in cases() {
            writes.put(Tree::Messages, &record.hash, &record).unwrap();
            writes.put_bytes(Tree::Raw, &record.hash, b"raw mail".to_vec());
        }
        for notice in [
            notice(
                1,
                Delivery::Sent {
                    at: noon("2026-05-31"),
                },
            ),
            notice(
                2,
                Delivery::Sent {
                    at: noon("2026-06-01"),
                },
            ),
            notice(
                3,
                Delivery::Failed {
                    at: noon("2026-01-01"),
                    error: "550".to_owned(),
                },
            ),
            notice(
                4,
                Delivery::Pending {
                    attempts: 3,
                    last_error: None,
                    next_attempt: None,
                },
            ),
        ] {
            put_notice(&mut writes, &notice).unwrap();
        }
        store.apply(writes).unwrap();
    }

    #[test]
    fn what_became_final_that_many_days_ago_loses_its_raw_bytes_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        filled(&store);
        let now = Utc.with_ymd_and_hms(2026, 6, 30, 17, 0, 0).unwrap();
        let purged = purge(&store, 30, day(TODAY), now).unwrap();

        for (case, removed) in cases() {
            let record: MessageRecord = store.get(Tree::Messages, &case.hash).unwrap().unwrap();
            let raw = store.get_bytes(Tree::Raw, &case.hash).unwrap();
            assert_eq!(raw.is_none(), removed, "{}: {:?}", case.hash, case.outcome);
            assert_eq!(record.raw_removed, removed.then_some(now), "{}", case.hash);
            assert_eq!(record.outcome, case.outcome, "the record stays");
        }
        let removed: Vec<String> = cases()
            .into_iter()
            .filter(|(_, removed)| *removed)
            .map(|(record, _)| record.hash)
            .collect();
        assert_eq!(
            purged,
            Purged {
                messages: removed.len(),
                notices: 1
            }
        );

        let bodies: Vec<(usize, Option<DateTime<Utc>>)> = (1..=4)
            .map(|id| {
                let notice = store.notice(id).unwrap().unwrap();
                (notice.raw.len(), notice.body_removed)
            })
            .collect();
        let kept = notice(
            2,
            Delivery::Pending {
                attempts: 0,
                last_error: None,
                next_attempt: None,
            },
        )
        .raw
        .len();
        assert_eq!(
            bodies,
            [(0, Some(now)), (kept, None), (kept, None), (kept, None)]
        );
        let summaries = store.notice_summaries().unwrap();
        assert_eq!(summaries.len(), 4, "every notice is still listed");
        assert_eq!(store.pending_count(), 1);

        let mut audited: Vec<String> = store
            .all::<AuditEntry>(Tree::Audit)
            .unwrap()
            .into_iter()
            .filter(|entry| entry.action == RAW_REMOVED && entry.at == now)
            .map(|entry| entry.subject)
            .collect();
        audited.sort();
        let mut expected = removed.clone();
        expected.push("notice:1".to_owned());
        expected.sort();
        assert_eq!(audited, expected);

        // Again, the same day or later: nothing more, nothing twice.
        let later = now + chrono::Duration::days(1);
        assert_eq!(
            purge(&store, 30, day(TODAY), later).unwrap(),
            Purged::default()
        );
        assert_eq!(
            store.all::<AuditEntry>(Tree::Audit).unwrap().len(),
            expected.len()
        );
    }

    #[test]
    fn a_longer_keep_removes_nothing_yet() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(&dir.path().join("store")).unwrap();
        filled(&store);
        let now = Utc.with_ymd_and_hms(2026, 6, 30, 17, 0, 0).unwrap();
        assert_eq!(
            purge(&store, 2190, day(TODAY), now).unwrap(),
            Purged::default()
        );
        assert!(store.all::<AuditEntry>(Tree::Audit).unwrap().is_empty());
        assert!(store.get_bytes(Tree::Raw, "a1").unwrap().is_some());
    }
}
