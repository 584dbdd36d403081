//! Queuing notices in the outbox (rendered in full, inside the same transaction as
//! the change they announce) and delivering them afterwards.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Intake, Journaled, PassReport, illinois_day};
use crate::config::Config;
use crate::failpoint;
use crate::ids::RecordId;
use crate::mail::notice::{Draft, NoticeKind};
use crate::mail::transport::SendError;
use crate::rules::FEE_FOR_SERVICE_PHONE;
use crate::store::{Delivery, Notice, RECORD_VERSION, Ticket, Tree, Writes, sender_key};

/// A notice to queue.
pub struct NoticeRequest<'a> {
    pub kind: NoticeKind,
    pub to: &'a str,
    pub subject: String,
    /// The ticket, registration or inquiry it is about.
    pub about: Option<RecordId>,
    /// True when it answers an incoming message (an auto-reply).
    pub is_reply: bool,
    /// The Message-ID of the message it answers, when it had one.
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// Kind-specific template values; the common ones are added.
    pub context: serde_json::Value,
    pub attachment: Option<(String, Vec<u8>, &'static str)>,
}

/// A notice recorded in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub id: u64,
    /// Held back by the sender's daily limit (R12): recorded, never sent.
    pub suppressed: bool,
}

/// The values every notice template can use.
pub fn base_context(config: &Config) -> serde_json::Value {
    let base = config.site.base_url.trim_end_matches('/');
    let rules = &config.rules;
    json!({
        "site": { "title": "Managed Care Provider Resolution Portal", "base_url": base },
        "links": {
            "home": format!("{base}/"),
            "before": format!("{base}/before-you-submit/"),
            "submit": format!("{base}/how-to-submit/"),
            "register": format!("{base}/registration/"),
            "downloads": format!("{base}/downloads/"),
            "contact": format!("{base}/contact/"),
        },
        "contact": {
            "intake_address": config.mail.intake.address,
            "inquiries_address": config.mail.inquiries.address,
            "fee_for_service_phone": FEE_FOR_SERVICE_PHONE,
        },
        "rules": rules,
        // Named by a notice when spreadsheets that are none of ours came along.
        "ignored_files": [],
    })
}

/// Renders a notice and adds it to `writes`, to be sent after the flush. An
/// unsolicited answer ([`NoticeKind::is_unsolicited`]) to an address that already had
/// the day's quota is recorded as suppressed instead: visible in the outbox, the
/// message's record and the pass summary, never sent. Nothing else is ever held back:
/// a ticket or a registration always gets its notice.
pub fn queue_notice(
    intake: &Intake<'_>,
    writes: &mut Writes,
    counts: &mut Journaled<u32>,
    request: NoticeRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let store = intake.store;
    let about = request
        .about
        .map_or_else(|| "-".to_owned(), |about| about.to_string());
    let suppressed = request.kind.is_unsolicited()
        && !within_daily_limit(intake, writes, counts, request.to, now)?;
    if suppressed {
        writes.audit(
            store,
            now,
            "notice_suppressed_daily_limit",
            &about,
            None,
            None,
        )?;
    }
    let id = store.next_id()?;
    let mut context = base_context(intake.config);
    if let (Some(base), serde_json::Value::Object(extra)) =
        (context.as_object_mut(), request.context)
    {
        base.extend(extra);
    }
    if let Some(base) = context.as_object_mut() {
        base.insert("subject".to_owned(), json!(request.subject));
    }
    let composed = intake.composer.compose(&Draft {
        kind: request.kind,
        to: request.to,
        subject: request.subject.clone(),
        is_reply: request.is_reply,
        in_reply_to: request.in_reply_to,
        references: request.references,
        context,
        attachment: request.attachment,
        notice_id: id,
    })?;
    let notice = Notice {
        v: RECORD_VERSION,
        id,
        kind: request.kind,
        about: request.about,
        to: request.to.to_owned(),
        subject: request.subject,
        message_id: composed.message_id.clone(),
        created_at: now,
        delivery: if suppressed {
            Delivery::Suppressed { at: now }
        } else {
            Delivery::Pending {
                attempts: 0,
                last_error: None,
                next_attempt: None,
            }
        },
        raw: composed.raw,
        body_removed: None,
    };
    crate::store::put_notice(writes, &notice)?;
    // A reply quoting this Message-ID is correspondence on what the notice is about.
    if let Some(about) = request.about {
        writes.put_bytes(
            Tree::MessageIds,
            format!("notice:{}", composed.message_id),
            about.to_string().into_bytes(),
        );
    }
    writes.audit(
        store,
        now,
        &format!("notice_queued_{}", request.kind),
        &about,
        None,
        None,
    )?;
    Ok(Queued { id, suppressed })
}

/// Counts one more unsolicited answer to `to` today, unless the day's quota is
/// reached: then false, and nothing is counted.
fn within_daily_limit(
    intake: &Intake<'_>,
    writes: &mut Writes,
    counts: &mut Journaled<u32>,
    to: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let key = sender_key(to, illinois_day(now));
    let sent = match counts.get(&key) {
        Some(count) => *count,
        None => intake.store.notices_to(to, illinois_day(now))?,
    };
    if sent >= intake.config.mail.notices_per_sender_per_day {
        return Ok(false);
    }
    counts.insert(key.clone(), sent + 1);
    writes.put_bytes(Tree::SenderCounts, &key, (sent + 1).to_be_bytes().to_vec());
    Ok(true)
}

/// Which waiting notices a delivery tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Those due: never tried, or past the wait after their last failure (a pass).
    Respect,
    /// All of them, now (`portal outbox retry`).
    Ignore,
}

/// How long a notice waits after its `attempts`-th transient failure in a row: the
/// next pass after the first, then 5, 10, 20 and 40 minutes, then an hour at most. It
/// is never given up: a notice refused only for now (a full mailbox, greylisting, a
/// server down) goes out once the server takes it.
pub fn retry_delay(attempts: u32) -> chrono::Duration {
    let minutes = match attempts {
        0 | 1 => 0,
        n => (5i64 << (n - 2).min(4)).min(60),
    };
    chrono::Duration::minutes(minutes)
}

/// Sends the notices waiting in the outbox (those due, or all with
/// [`Backoff::Ignore`]), marking each sent (durably) as soon as it went out.
pub fn deliver_pending(
    intake: &Intake<'_>,
    report: &mut PassReport,
    now: DateTime<Utc>,
    backoff: Backoff,
) -> Result<()> {
    let due: Vec<Notice> = intake
        .store
        .pending_notices()?
        .into_iter()
        .filter(|notice| backoff == Backoff::Ignore || notice.delivery.is_due(now))
        .collect();
    deliver(intake, due, report, now)
}

/// Sends these notices (each must be waiting), marking each sent (durably) as soon
/// as it went out. When the server cannot be reached at all, the notices after the
/// first are not tried in this run: they wait with the same error. A staff decision
/// delivers its own notice this way, not the whole backlog.
///
/// Each notice is sent and marked with the store's turn held, and read again under it:
/// one whose delivery changed since it was listed (a staff decision sent its own notice
/// meanwhile, or `outbox retry` did) is left alone, so no notice goes out twice.
pub fn deliver(
    intake: &Intake<'_>,
    notices: Vec<Notice>,
    report: &mut PassReport,
    now: DateTime<Utc>,
) -> Result<()> {
    let store = intake.store;
    if notices.is_empty() {
        return Ok(());
    }
    let from = intake.composer.from().email.to_string();
    // Set once the server could not be reached: the error the rest wait with. When an
    // earlier delivery of this run found so, the notices it deferred then are left as
    // they are (one attempt a run), and only new ones are deferred.
    let mut unreachable: Option<String> = intake.transport.down().map(str::to_owned);
    let only_new = unreachable.is_some();
    let mut deferred = false;
    for listed in notices {
        let turn = store.turn();
        let Some(mut notice) = still_as_listed(intake, &listed)? else {
            continue;
        };
        if let Some(error) = &unreachable {
            let new = matches!(notice.delivery, Delivery::Pending { attempts: 0, .. });
            if new || !only_new {
                defer(&mut notice, error.clone(), now);
                let mut writes = Writes::default();
                crate::store::put_notice(&mut writes, &notice)?;
                store.apply(writes)?;
                deferred = true;
            }
            continue;
        }
        // Another delivery (a staff command's, a pass's) has it on the network now.
        let Some(claim) = store.claim_send(notice.id) else {
            continue;
        };
        // The turn is let go while the notice is on the network, and taken again to
        // mark it: staff commands are answered meanwhile, whatever the server does.
        drop(turn);
        send_and_mark(intake, &from, notice, report, now, &mut unreachable)?;
        drop(claim);
    }
    if deferred {
        store.flush()?;
    }
    Ok(())
}

/// The notice as stored now, when its delivery is still the one it was listed with.
fn still_as_listed(intake: &Intake<'_>, listed: &Notice) -> Result<Option<Notice>> {
    Ok(intake
        .store
        .notice(listed.id)?
        .filter(|notice| notice.delivery == listed.delivery))
}

/// Sends one notice and records how it fared, flushed before the next goes out: a
/// crash can then send only the notice in flight twice, never every notice of the
/// batch. Sets `unreachable` when the server could not be reached.
fn send_and_mark(
    intake: &Intake<'_>,
    from: &str,
    mut notice: Notice,
    report: &mut PassReport,
    now: DateTime<Utc>,
    unreachable: &mut Option<String>,
) -> Result<()> {
    let store = intake.store;
    let result = intake.transport.send(from, &notice.to, &notice.raw);
    failpoint::hit("after_send");
    let _turn = store.turn();
    let mut writes = Writes::default();
    match result {
        Ok(()) => {
            tracing::info!(notice = notice.id, kind = %notice.kind, "notice sent");
            notice.delivery = Delivery::Sent { at: now };
            report.notices_sent += 1;
            writes.audit(
                store,
                now,
                "notice_sent",
                &notice.id.to_string(),
                None,
                None,
            )?;
        }
        Err(SendError::Unreachable(message)) => {
            defer(&mut notice, message.clone(), now);
            tracing::warn!(notice = notice.id, kind = %notice.kind, error = %message, "the mail server cannot be reached; notices wait for a later pass");
            *unreachable = Some(message);
        }
        Err(SendError::Transient(message)) => {
            defer(&mut notice, message.clone(), now);
            tracing::warn!(notice = notice.id, kind = %notice.kind, error = %message, "notice not sent; it waits for a later pass");
        }
        Err(SendError::Permanent(message)) => {
            tracing::error!(notice = notice.id, kind = %notice.kind, error = %message, "notice refused for good");
            refused_for_good(intake, &mut writes, &mut notice, message, now)?;
            report.notices_failed += 1;
        }
    }
    crate::store::put_notice(&mut writes, &notice)?;
    store.apply(writes)?;
    store.flush()?;
    failpoint::hit("after_mark_sent");
    Ok(())
}

/// Records a notice the server refused for good (a 5xx reply): failed, not retried,
/// and shown on the ticket it concerns, where staff look.
fn refused_for_good(
    intake: &Intake<'_>,
    writes: &mut Writes,
    notice: &mut Notice,
    error: String,
    now: DateTime<Utc>,
) -> Result<()> {
    let store = intake.store;
    if let Some(RecordId::TicketId(about)) = notice.about
        && let Some(mut ticket) = store.record::<Ticket>(about)?
    {
        ticket.notice_failures.push(crate::store::NoticeFailure {
            notice: notice.id,
            kind: notice.kind,
            at: now,
            error: error.clone(),
        });
        writes.put(Tree::Tickets, about.to_string(), &ticket)?;
    }
    notice.delivery = Delivery::Failed { at: now, error };
    writes.audit(
        store,
        now,
        "notice_failed",
        &notice.id.to_string(),
        None,
        None,
    )?;
    Ok(())
}

/// Records a transient failure on a waiting notice and when to try it again.
fn defer(notice: &mut Notice, error: String, now: DateTime<Utc>) {
    let attempts = match notice.delivery {
        Delivery::Pending { attempts, .. } => attempts + 1,
        Delivery::Sent { .. } | Delivery::Failed { .. } | Delivery::Suppressed { .. } => 1,
    };
    notice.delivery = Delivery::Pending {
        attempts,
        last_error: Some(error),
        next_attempt: Some(now + retry_delay(attempts)),
    };
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone as _, Utc};
    use serde_json::json;

    use super::*;
    use crate::config::Config;
    use crate::mail::notice::Composer;
    use crate::mail::transport::{SendError, StubSender};
    use crate::store::Store;

    const RECIPIENTS: [&str; 3] = ["a@clinic.example", "b@clinic.example", "c@clinic.example"];

    /// Queues a help notice to each of [`RECIPIENTS`] in a new store, delivers them
    /// through `stub` in the transport's place, and returns the pass's counts and
    /// each notice's delivery afterwards.
    fn deliver_through(stub: &StubSender) -> (PassReport, Vec<Delivery>) {
        let dir = tempfile::tempdir().unwrap();
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let text = format!(
            "[site]\ntemplates_dir = {templates:?}\n[store]\npath = {:?}\n",
            dir.path().join("store")
        );
        let config = Config::parse(&text).unwrap();
        let store = Store::open_or_create(&config.store.path).unwrap();
        let composer = Composer::new(&config.site.templates_dir, &config.mail.from).unwrap();
        let intake = Intake {
            config: &config,
            store: &store,
            composer: &composer,
            transport: stub,
            stop: None,
            figures: crate::intake::Figures::Publish,
        };
        let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        let mut writes = Writes::default();
        let mut counts = Journaled::default();
        for to in RECIPIENTS {
            let request = NoticeRequest {
                kind: NoticeKind::Help,
                to,
                subject: "How to send a complaint".to_owned(),
                about: None,
                is_reply: true,
                in_reply_to: None,
                references: &[],
                context: json!({}),
                attachment: None,
            };
            queue_notice(&intake, &mut writes, &mut counts, request, now).unwrap();
        }
        store.apply(writes).unwrap();
        let mut report = PassReport::default();
        deliver_pending(&intake, &mut report, now, Backoff::Respect).unwrap();
        let mut notices = store.all::<Notice>(Tree::Outbox).unwrap();
        notices.sort_by_key(|notice| notice.id);
        (report, notices.into_iter().map(|n| n.delivery).collect())
    }

    /// The attempts and last error of a notice still waiting.
    fn waiting(delivery: &Delivery) -> Option<(u32, Option<&str>)> {
        match delivery {
            Delivery::Pending {
                attempts,
                last_error,
                ..
            } => Some((*attempts, last_error.as_deref())),
            Delivery::Sent { .. } | Delivery::Failed { .. } | Delivery::Suppressed { .. } => None,
        }
    }

    #[test]
    fn a_delivery_does_what_each_send_error_says() {
        let stub = StubSender::new_ok();
        let (report, deliveries) = deliver_through(&stub);
        assert_eq!(report.notices_sent, 3);
        assert!(
            deliveries
                .iter()
                .all(|d| matches!(d, Delivery::Sent { .. }))
        );
        let to: Vec<String> = stub.messages().into_iter().map(|m| m.to).collect();
        assert_eq!(to, RECIPIENTS);

        // A server that cannot be reached is tried once; the other notices wait with
        // its error, untried.
        let stub = StubSender::failing(SendError::Unreachable("connection refused".to_owned()));
        let (report, deliveries) = deliver_through(&stub);
        assert_eq!(stub.messages().len(), 1);
        assert_eq!((report.notices_sent, report.notices_failed), (0, 0));
        for delivery in &deliveries {
            assert_eq!(waiting(delivery), Some((1, Some("connection refused"))));
        }

        // A notice refused for now waits; the next is still tried.
        let stub = StubSender::failing(SendError::Transient("451 4.3.0 try later".to_owned()));
        let (report, deliveries) = deliver_through(&stub);
        assert_eq!(stub.messages().len(), 3);
        assert_eq!((report.notices_sent, report.notices_failed), (0, 0));
        for delivery in &deliveries {
            assert_eq!(waiting(delivery), Some((1, Some("451 4.3.0 try later"))));
        }

        // A notice refused for good is recorded as failed, never retried.
        let stub = StubSender::failing(SendError::Permanent("550 5.1.1 no such user".to_owned()));
        let (report, deliveries) = deliver_through(&stub);
        assert_eq!(stub.messages().len(), 3);
        assert_eq!(report.notices_failed, 3);
        for delivery in &deliveries {
            assert!(
                matches!(delivery, Delivery::Failed { error, .. } if error == "550 5.1.1 no such user"),
                "{delivery:?}"
            );
        }
    }

    /// A config, a new store and the composer, in `dir`.
    fn workshop(dir: &std::path::Path) -> (Config, Store, Composer) {
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let text = format!(
            "[site]\ntemplates_dir = {templates:?}\n[store]\npath = {:?}\n",
            dir.join("store")
        );
        let config = Config::parse(&text).unwrap();
        let store = Store::open_or_create(&config.store.path).unwrap();
        let composer = Composer::new(&config.site.templates_dir, &config.mail.from).unwrap();
        (config, store, composer)
    }

    /// Queues a registration notice to `to` and records it, flushed, as a staff
    /// decision does; returns it as stored.
    fn queued(intake: &Intake<'_>, to: &str, now: DateTime<Utc>) -> Notice {
        let mut writes = Writes::default();
        let request = NoticeRequest {
            kind: NoticeKind::RegistrationApproved,
            to,
            subject: "Registration approved".to_owned(),
            about: None,
            is_reply: false,
            in_reply_to: None,
            references: &[],
            context: json!({ "registration": { "id": "REG-2026-000001", "email": to, "npis": [], "missing": [], "reason": null } }),
            attachment: None,
        };
        let id = queue_notice(intake, &mut writes, &mut Journaled::default(), request, now)
            .unwrap()
            .id;
        intake.store.apply(writes).unwrap();
        intake.store.flush().unwrap();
        intake.store.notice(id).unwrap().unwrap()
    }

    #[test]
    fn a_notice_sent_since_it_was_listed_is_not_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let (config, store, composer) = workshop(dir.path());
        let stub = StubSender::new_ok();
        let intake = Intake {
            config: &config,
            store: &store,
            composer: &composer,
            transport: &stub,
            stop: None,
            figures: crate::intake::Figures::Publish,
        };
        let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        let notice = queued(&intake, "a@clinic.example", now);
        // A pass lists the waiting notices; a staff decision then sends its own.
        let listed = store.pending_notices().unwrap();
        assert_eq!(listed.len(), 1);
        deliver(&intake, vec![notice], &mut PassReport::default(), now).unwrap();
        // The pass goes on with its list: the notice is sent already, and left alone.
        let mut report = PassReport::default();
        deliver(&intake, listed, &mut report, now).unwrap();
        assert_eq!(report.notices_sent, 0);
        assert_eq!(stub.messages().len(), 1, "sent once");
    }

    /// A staff decision (holding the turn while it records and sends its own notice)
    /// and a pass delivering whatever waits, at once on two threads: each notice goes
    /// out exactly once.
    #[test]
    fn a_decision_and_a_pass_at_once_send_each_notice_once() {
        const DECISIONS: usize = 40;
        let dir = tempfile::tempdir().unwrap();
        let (config, store, composer) = workshop(dir.path());
        let stub = StubSender::new_ok();
        let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        let decided = std::sync::atomic::AtomicBool::new(false);
        let intake = || Intake {
            config: &config,
            store: &store,
            composer: &composer,
            transport: &stub,
            stop: None,
            figures: crate::intake::Figures::Publish,
        };
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let intake = intake();
                for n in 0..DECISIONS {
                    let _turn = store.turn();
                    let notice = queued(&intake, &format!("r{n}@clinic.example"), now);
                    deliver(&intake, vec![notice], &mut PassReport::default(), now).unwrap();
                }
                decided.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            scope.spawn(|| {
                let intake = intake();
                while !decided.load(std::sync::atomic::Ordering::SeqCst) {
                    let mut report = PassReport::default();
                    deliver_pending(&intake, &mut report, now, Backoff::Respect).unwrap();
                }
            });
        });
        let mut to: Vec<String> = stub.messages().into_iter().map(|m| m.to).collect();
        to.sort();
        let before = to.len();
        to.dedup();
        assert_eq!(before, to.len(), "a notice went out twice");
        assert_eq!(to.len(), DECISIONS);
    }

    /// A notice on the network does not hold the turn: while the mail server keeps a
    /// pass waiting, a staff command takes the turn and delivers what waits, leaving the
    /// notice in flight alone; that notice is sent once.
    #[test]
    fn a_notice_on_the_network_leaves_the_turn_to_staff() {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::mpsc;
        use std::time::Duration;

        /// Tells when a send starts, then waits to be let go (at most a while).
        struct Stalled {
            started: Mutex<mpsc::Sender<()>>,
            go: Mutex<mpsc::Receiver<()>>,
            sent: AtomicUsize,
        }
        impl crate::mail::transport::Sender for Stalled {
            fn send(&self, _from: &str, _to: &str, _raw: &[u8]) -> Result<(), SendError> {
                let _ = self.started.lock().unwrap().send(());
                let _ = self
                    .go
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
                self.sent.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }

        let dir = tempfile::tempdir().unwrap();
        let (config, store, composer) = workshop(dir.path());
        let (started, on_network) = mpsc::channel();
        let (go, wait) = mpsc::channel();
        let stalled = Stalled {
            started: Mutex::new(started),
            go: Mutex::new(wait),
            sent: AtomicUsize::new(0),
        };
        let intake = || Intake {
            config: &config,
            store: &store,
            composer: &composer,
            transport: &stalled,
            stop: None,
            figures: crate::intake::Figures::Publish,
        };
        let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        queued(&intake(), "a@clinic.example", now);
        std::thread::scope(|scope| {
            let pass = scope.spawn(|| {
                let mut report = PassReport::default();
                deliver_pending(&intake(), &mut report, now, Backoff::Respect).unwrap();
                report.notices_sent
            });
            on_network.recv().unwrap();
            let (done, staff_done) = mpsc::channel();
            let (store, intake) = (&store, &intake);
            scope.spawn(move || {
                let _turn = store.turn();
                let mut report = PassReport::default();
                deliver_pending(&intake(), &mut report, now, Backoff::Respect).unwrap();
                done.send(report.notices_sent).unwrap();
            });
            let staff = staff_done.recv_timeout(Duration::from_secs(10));
            go.send(()).unwrap();
            assert_eq!(
                staff,
                Ok(0),
                "the staff command got the turn and left the notice alone"
            );
            assert_eq!(pass.join().unwrap(), 1);
        });
        assert_eq!(stalled.sent.load(Ordering::SeqCst), 1, "sent once");
    }
}
