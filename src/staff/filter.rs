//! Finding tickets (`portal tickets list --status … --mco … --overdue`): a plain filter,
//! every criterion optional, all of them combined.

use chrono::NaiveDate;

use crate::forms::Status;
use crate::store::Ticket;

/// Which tickets a list shows. Each criterion set must hold; none set lets every
/// ticket through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub status: Option<Status>,
    /// The MCO's code, in any case.
    pub mco: Option<String>,
    /// The sender's address, in any case.
    pub sender: Option<String>,
    /// A Provider NPI on any line.
    pub npi: Option<String>,
    /// An MCO tracking number on any line, in any case, trimmed.
    pub tracking: Option<String>,
    /// Received (the Illinois day) on or after.
    pub since: Option<NaiveDate>,
    /// Received (the Illinois day) on or before.
    pub until: Option<NaiveDate>,
    /// Only tickets overdue `today` (forwarded, no proposal, past `response_due`).
    pub overdue: bool,
}

impl TicketFilter {
    /// True when `ticket` meets every criterion set, as of `today` (for `overdue`).
    pub fn matches(&self, ticket: &Ticket, today: NaiveDate) -> bool {
        self.status.is_none_or(|status| ticket.status == status)
            && same_text(self.mco.as_deref(), ticket.mco.as_deref())
            && same_text(self.sender.as_deref(), Some(&ticket.sender))
            && self.npi.as_deref().is_none_or(|npi| {
                ticket
                    .lines
                    .iter()
                    .any(|line| line.npi.as_deref().map(str::trim) == Some(npi.trim()))
            })
            && self.tracking.as_deref().is_none_or(|tracking| {
                ticket
                    .lines
                    .iter()
                    .any(|line| same_text(Some(tracking), line.tracking_number.as_deref()))
            })
            && self.since.is_none_or(|since| ticket.received_on >= since)
            && self.until.is_none_or(|until| ticket.received_on <= until)
            && (!self.overdue || ticket.is_overdue(today))
    }
}

/// No criterion, or the same text as `value` in any case, both trimmed.
fn same_text(wanted: Option<&str>, value: Option<&str>) -> bool {
    wanted.is_none_or(|wanted| {
        value.is_some_and(|value| value.trim().eq_ignore_ascii_case(wanted.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::LineOutcome;
    use crate::store::TicketLine;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn line(row: u32, npi: &str, tracking: &str) -> TicketLine {
        let mut line = TicketLine::from_outcome(&LineOutcome {
            row,
            status: Status::Forwarded,
            reason: None,
        });
        line.npi = Some(npi.to_owned());
        line.tracking_number = Some(tracking.to_owned());
        line
    }

    /// Forwarded to MOLINA on 2026-03-10, due 2026-04-09, two lines.
    fn ticket() -> Ticket {
        Ticket {
            v: 1,
            id: "PRP-2026-000001".parse().unwrap(),
            status: Status::Forwarded,
            mco: Some("MOLINA".to_owned()),
            received_on: day("2026-03-10"),
            received_at: chrono::Utc::now(),
            sender: "Billing@Prairie-Clinic.example".to_owned(),
            reason: None,
            presented_by: Some(day("2026-03-24")),
            response_due: Some(day("2026-04-09")),
            lines: vec![
                line(2, "1234567893", "TRK-001"),
                line(3, "1999999992", "abc/77"),
            ],
            problems: Vec::new(),
            forwarded_claims: Vec::new(),
            message: "0".repeat(64),
            attachment: None,
            correspondence: Vec::new(),
            notice_failures: Vec::new(),
            presented_on: Some(day("2026-03-10")),
            responded_on: None,
            late: false,
            extension: None,
            resolution: None,
            events: Vec::new(),
            proposals: Vec::new(),
            reminded: Vec::new(),
        }
    }

    const BEFORE_DUE: &str = "2026-04-09";
    const AFTER_DUE: &str = "2026-04-10";

    fn passes(filter: TicketFilter) -> bool {
        filter.matches(&ticket(), day(BEFORE_DUE))
    }

    #[test]
    fn no_criterion_lets_every_ticket_through() {
        assert!(passes(TicketFilter::default()));
    }

    #[test]
    fn status_must_be_the_same() {
        let with = |status| TicketFilter {
            status: Some(status),
            ..TicketFilter::default()
        };
        assert!(passes(with(Status::Forwarded)));
        for other in [Status::Responded, Status::Resolved, Status::Closed] {
            assert!(!passes(with(other)), "{other}");
        }
    }

    #[test]
    fn mco_and_sender_match_in_any_case() {
        let mco = |code: &str| TicketFilter {
            mco: Some(code.to_owned()),
            ..TicketFilter::default()
        };
        assert!(passes(mco("molina")));
        assert!(passes(mco(" MOLINA ")));
        assert!(!passes(mco("AETNA")));
        assert!(!passes(mco("MOLIN")));
        let mut without_mco = ticket();
        without_mco.mco = None;
        assert!(!mco("MOLINA").matches(&without_mco, day(BEFORE_DUE)));

        let sender = |address: &str| TicketFilter {
            sender: Some(address.to_owned()),
            ..TicketFilter::default()
        };
        assert!(passes(sender("billing@prairie-clinic.example")));
        assert!(passes(sender("BILLING@PRAIRIE-CLINIC.EXAMPLE")));
        assert!(!passes(sender("billing@prairie-clinic.example.com")));
        assert!(!passes(sender("other@prairie-clinic.example")));
    }

    #[test]
    fn npi_and_tracking_match_any_line() {
        let npi = |npi: &str| TicketFilter {
            npi: Some(npi.to_owned()),
            ..TicketFilter::default()
        };
        assert!(passes(npi("1234567893")));
        assert!(passes(npi(" 1999999992 ")), "the second line counts");
        assert!(!passes(npi("123456789")));

        let tracking = |tracking: &str| TicketFilter {
            tracking: Some(tracking.to_owned()),
            ..TicketFilter::default()
        };
        assert!(passes(tracking("TRK-001")));
        assert!(passes(tracking(" trk-001 ")), "any case, trimmed");
        assert!(passes(tracking("ABC/77")), "the second line counts");
        assert!(!passes(tracking("TRK-00")));

        let mut older = ticket();
        for line in &mut older.lines {
            line.npi = None;
            line.tracking_number = None;
        }
        assert!(!npi("1234567893").matches(&older, day(BEFORE_DUE)));
        assert!(!tracking("TRK-001").matches(&older, day(BEFORE_DUE)));
    }

    #[test]
    fn since_and_until_include_both_ends() {
        let range = |since: Option<&str>, until: Option<&str>| TicketFilter {
            since: since.map(day),
            until: until.map(day),
            ..TicketFilter::default()
        };
        assert!(passes(range(Some("2026-03-10"), None)));
        assert!(passes(range(None, Some("2026-03-10"))));
        assert!(passes(range(Some("2026-03-10"), Some("2026-03-10"))));
        assert!(passes(range(Some("2026-03-01"), Some("2026-03-31"))));
        assert!(!passes(range(Some("2026-03-11"), None)));
        assert!(!passes(range(None, Some("2026-03-09"))));
    }

    #[test]
    fn overdue_means_forwarded_and_past_the_due_date() {
        let overdue = TicketFilter {
            overdue: true,
            ..TicketFilter::default()
        };
        assert!(!overdue.matches(&ticket(), day(BEFORE_DUE)), "due today");
        assert!(overdue.matches(&ticket(), day(AFTER_DUE)));
        let mut responded = ticket();
        responded.status = Status::Responded;
        assert!(!overdue.matches(&responded, day(AFTER_DUE)));
        // Without --overdue, an overdue ticket is listed too.
        assert!(TicketFilter::default().matches(&ticket(), day(AFTER_DUE)));
    }

    #[test]
    fn criteria_combine() {
        let filter = TicketFilter {
            status: Some(Status::Forwarded),
            mco: Some("molina".to_owned()),
            npi: Some("1999999992".to_owned()),
            tracking: Some("trk-001".to_owned()),
            since: Some(day("2026-03-01")),
            overdue: true,
            ..TicketFilter::default()
        };
        assert!(filter.matches(&ticket(), day(AFTER_DUE)));
        assert!(
            !filter.matches(&ticket(), day(BEFORE_DUE)),
            "not overdue yet"
        );
        let other_mco = TicketFilter {
            mco: Some("AETNA".to_owned()),
            ..filter.clone()
        };
        assert!(!other_mco.matches(&ticket(), day(AFTER_DUE)));
        let later = TicketFilter {
            since: Some(day("2026-03-11")),
            ..filter
        };
        assert!(!later.matches(&ticket(), day(AFTER_DUE)));
    }
}
