//! The objects a pass or a staff decision works with — the store, the notice composer
//! and the transport — made once from a checked config.

use std::sync::atomic::AtomicBool;

use anyhow::Result;

use crate::config::Config;
use crate::intake::Intake;
use crate::mail::notice::Composer;
use crate::mail::transport::{self, Sender};
use crate::store::Store;

/// The store, composer and transport of one run.
pub struct Services {
    pub store: Store,
    pub composer: Composer,
    /// The file transport or the SMTP client `[smtp]` names.
    pub transport: Box<dyn Sender>,
}

impl Services {
    /// Opens the store (waiting for another process to release it) and builds the
    /// composer and transport.
    pub fn open(config: &Config) -> Result<Services> {
        Services::with_store(config, Store::open(&config.store.path)?)
    }

    /// As [`Services::open`], with a store already open.
    pub fn with_store(config: &Config, store: Store) -> Result<Services> {
        let composer = Composer::new(&config.site.templates_dir, &config.mail.from)?;
        let transport = transport::from_config(&config.smtp)?;
        Ok(Services {
            store,
            composer,
            transport,
        })
    }

    /// The pipeline over these services.
    pub fn intake<'a>(&'a self, config: &'a Config, stop: Option<&'a AtomicBool>) -> Intake<'a> {
        Intake {
            config,
            store: &self.store,
            composer: &self.composer,
            transport: self.transport.as_ref(),
            stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone as _, Utc};
    use serde_json::json;

    use super::*;
    use crate::intake::notices::NoticeRequest;
    use crate::intake::{Backoff, Journaled, PassReport, deliver_pending, queue_notice};
    use crate::mail::notice::NoticeKind;
    use crate::mail::transport::{SendError, StubSender};
    use crate::store::{Delivery, Notice, Tree, Writes};

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
        let store = Store::open(&config.store.path).unwrap();
        let composer = Composer::new(&config.site.templates_dir, &config.mail.from).unwrap();
        let intake = Intake {
            config: &config,
            store: &store,
            composer: &composer,
            transport: stub,
            stop: None,
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
                limited: false,
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
            Delivery::Sent { .. } | Delivery::Failed { .. } => None,
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
}
