//! Counting the public figures from records: a pure function of the tickets, the
//! registrations, the configured MCOs, a period and the day counted on.
//!
//! What each figure means (PRODUCT.md **Statistics (public)**):
//!
//! - Every figure belongs to the Illinois month its ticket or registration was
//!   **received** in (`received_on`, already an Illinois day), whatever happened to it
//!   since; only records received within the [`Period`] count.
//! - Every month the period touches is present, oldest first; within a month every
//!   configured MCO in configuration order, then (rarely) the code of an MCO no longer
//!   configured that a counted ticket names, then `mco: null` (tickets closed before an
//!   MCO was known: mixed MCOs, an unknown template). Every row is present, zeros
//!   included.
//! - `complaints`: tickets received (each ticket is one complaint template).
//! - `lines_forwarded`: lines whose status is `forwarded` — ever forwarded: a line keeps
//!   that status once the MCO decided it or HFS resolved its ticket.
//! - `lines_closed`: closed lines by their reason; a ticket closed as a whole with no
//!   line recorded (an unknown template, an unreadable file) counts once under its
//!   ticket's reason. So the figures add up to what `portal tickets list --json` shows.
//! - `proposals_on_time` / `proposals_late`: tickets with a first proposal
//!   (`responded_on`), by `late`.
//! - `overdue`: tickets overdue on the day counted on ([`TicketFacts::is_overdue`], the
//!   rule of [`Ticket::is_overdue`]).
//! - `median_days_to_proposal`: the median of `responded_on − presented_on` in days
//!   over the tickets that have both, rounded to one decimal half away from zero;
//!   null when none.
//! - `extensions`: tickets whose extension was granted.
//! - registrations per month received: `received`, `approved` (approved, including
//!   those later revoked), `denied`.
//!
//! The records are read as narrow views ([`TicketFacts`], [`RegistrationFacts`]):
//! only the fields counted, never a name, an NPI, an address, a tracking or claim
//! number, so none can reach the output.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::model::{MonthFigures, RegistrationFigures, Statistics};
use crate::config::Mco;
use crate::forms::{Reason, Status};
use crate::ids::TicketId;
use crate::store::{self, ExtensionStatus, Registration, RegistrationStatus, Ticket};

/// Illinois days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// `from` through `to`; `None` when `from` is after `to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<Period> {
        (from <= to).then_some(Period { from, to })
    }

    /// The statistics file's window: the last 12 months, `as_of`'s month included —
    /// from the first day of the month eleven months before it, through `as_of`.
    pub fn twelve_months_to(as_of: NaiveDate) -> Period {
        let first = as_of.with_day(1).unwrap_or(as_of);
        Period {
            from: first.checked_sub_months(Months::new(11)).unwrap_or(first),
            to: as_of,
        }
    }

    /// Whether `day` is in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// Every month the period touches, oldest first, as `YYYY-MM`.
    pub fn months(&self) -> Vec<String> {
        (0..=self.month_index(self.to))
            .map(|index| {
                let first = self.from.with_day(1).unwrap_or(self.from);
                let month = first
                    .checked_add_months(Months::new(index as u32))
                    .unwrap_or(first);
                month_of(month)
            })
            .collect()
    }

    /// How many months `day` is after the period's first month.
    fn month_index(&self, day: NaiveDate) -> usize {
        let months = |day: NaiveDate| i64::from(day.year()) * 12 + i64::from(day.month0());
        usize::try_from(months(day) - months(self.from)).unwrap_or(0)
    }
}

/// `YYYY-MM`.
pub fn month_of(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// What the figures need of a ticket, read from the store without the rest of the
/// record (serde skips the other fields). Ids and words are parsed in place, without
/// the copy the records' own types make: a scan reads 100,000 of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    #[serde(deserialize_with = "in_place")]
    pub id: TicketId,
    #[serde(deserialize_with = "in_place")]
    pub status: Status,
    pub mco: Option<String>,
    pub received_on: NaiveDate,
    #[serde(deserialize_with = "in_place_or_null")]
    pub reason: Option<Reason>,
    pub response_due: Option<NaiveDate>,
    pub lines: Vec<LineFacts>,
    #[serde(default)]
    pub presented_on: Option<NaiveDate>,
    #[serde(default)]
    pub responded_on: Option<NaiveDate>,
    #[serde(default)]
    pub late: bool,
    #[serde(default)]
    pub extension: Option<ExtensionFacts>,
}

/// What the figures need of a line: its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineFacts {
    #[serde(deserialize_with = "in_place")]
    pub status: Status,
    #[serde(deserialize_with = "in_place_or_null")]
    pub reason: Option<Reason>,
}

/// What the figures need of the one extension: whether it was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionFacts {
    #[serde(deserialize_with = "in_place")]
    pub status: ExtensionStatus,
}

/// A word or an id parsed from the JSON string where it lies.
struct InPlace<T>(T);

impl<'de, T: FromStr<Err: Display>> Deserialize<'de> for InPlace<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<T>(PhantomData<T>);
        impl<T: FromStr<Err: Display>> Visitor<'_> for Text<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text(PhantomData)).map(InPlace)
    }
}

fn in_place<'de, D: Deserializer<'de>, T: FromStr<Err: Display>>(
    deserializer: D,
) -> Result<T, D::Error> {
    InPlace::deserialize(deserializer).map(|InPlace(value)| value)
}

fn in_place_or_null<'de, D: Deserializer<'de>, T: FromStr<Err: Display>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<InPlace<T>>::deserialize(deserializer).map(|value| value.map(|InPlace(value)| value))
}

impl TicketFacts {
    /// Overdue on `today`: the rule of [`Ticket::is_overdue`] ([`store::is_overdue`]).
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        store::is_overdue(self.status, self.response_due, today)
    }

    /// Calendar days from the forward to the first proposal, when both are known.
    fn days_to_proposal(&self) -> Option<i64> {
        let presented = self.presented_on?;
        let responded = self.responded_on?;
        // A proposal is never recorded before its forward; a hand-edited record that
        // says otherwise counts as the same day rather than as a negative figure.
        Some((responded - presented).num_days().max(0))
    }
}

impl From<&Ticket> for TicketFacts {
    fn from(ticket: &Ticket) -> Self {
        TicketFacts {
            id: ticket.id,
            status: ticket.status,
            mco: ticket.mco.clone(),
            received_on: ticket.received_on,
            reason: ticket.reason,
            response_due: ticket.response_due,
            lines: ticket
                .lines
                .iter()
                .map(|line| LineFacts {
                    status: line.status,
                    reason: line.reason,
                })
                .collect(),
            presented_on: ticket.presented_on,
            responded_on: ticket.responded_on,
            late: ticket.late,
            extension: ticket.extension.as_ref().map(|extension| ExtensionFacts {
                status: extension.status,
            }),
        }
    }
}

/// What the figures need of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationFacts {
    pub status: RegistrationStatus,
    pub received_on: NaiveDate,
}

impl From<&Registration> for RegistrationFacts {
    fn from(registration: &Registration) -> Self {
        RegistrationFacts {
            status: registration.status,
            received_on: registration.received_on,
        }
    }
}

/// One overdue ticket, for staff (`portal report`): never on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueTicket {
    pub mco: Option<String>,
    pub id: TicketId,
    pub response_due: NaiveDate,
}

/// The figures of the tickets and registrations received within `period`, counted on
/// `as_of` (which decides `overdue`), as the module's documentation defines them.
pub fn count(
    tickets: &[TicketFacts],
    registrations: &[RegistrationFacts],
    mcos: &[Mco],
    period: Period,
    as_of: NaiveDate,
) -> Statistics {
    let in_period: Vec<&TicketFacts> = tickets
        .iter()
        .filter(|ticket| period.contains(ticket.received_on))
        .collect();
    let codes = row_codes(mcos, &in_period);
    let months = period.months();
    let mut rows: Vec<MonthFigures> = months
        .iter()
        .flat_map(|month| {
            codes
                .iter()
                .map(move |code| MonthFigures::empty(month, code.as_deref()))
        })
        .collect();
    let mut days: Vec<Vec<i64>> = vec![Vec::new(); rows.len()];
    for ticket in in_period {
        // `row_codes` has every code a counted ticket names, and null last.
        let place = codes
            .iter()
            .position(|code| *code == ticket.mco)
            .unwrap_or(codes.len() - 1);
        let row = period.month_index(ticket.received_on) * codes.len() + place;
        add_ticket(&mut rows[row], &mut days[row], ticket, as_of);
    }
    for (row, days) in rows.iter_mut().zip(&mut days) {
        row.median_days_to_proposal = median(days);
    }
    Statistics {
        as_of,
        months: rows,
        registrations: count_registrations(registrations, period, &months),
    }
}

/// The rows of each month: the configured MCOs in order, then any other code a
/// counted ticket names (sorted), then null.
fn row_codes(mcos: &[Mco], tickets: &[&TicketFacts]) -> Vec<Option<String>> {
    let mut codes: Vec<Option<String>> = mcos.iter().map(|mco| Some(mco.code.clone())).collect();
    let mut others: Vec<String> = tickets
        .iter()
        .filter_map(|ticket| ticket.mco.clone())
        .filter(|code| !mcos.iter().any(|mco| mco.code == *code))
        .collect();
    others.sort();
    others.dedup();
    codes.extend(others.into_iter().map(Some));
    codes.push(None);
    codes
}

/// One ticket into its month and MCO's figures; its days to the first proposal,
/// when known, into `days` for the median.
fn add_ticket(row: &mut MonthFigures, days: &mut Vec<i64>, ticket: &TicketFacts, as_of: NaiveDate) {
    row.complaints += 1;
    for line in &ticket.lines {
        match (line.status, line.reason) {
            (Status::Closed, Some(reason)) => close(row, reason),
            (Status::Closed, None) => {}
            _ => row.lines_forwarded += 1,
        }
    }
    if ticket.lines.is_empty()
        && let Some(reason) = ticket.reason
    {
        close(row, reason);
    }
    if ticket.responded_on.is_some() {
        if ticket.late {
            row.proposals_late += 1;
        } else {
            row.proposals_on_time += 1;
        }
    }
    if ticket.is_overdue(as_of) {
        row.overdue += 1;
    }
    if ticket
        .extension
        .is_some_and(|extension| extension.status == ExtensionStatus::Granted)
    {
        row.extensions += 1;
    }
    days.extend(ticket.days_to_proposal());
}

fn close(row: &mut MonthFigures, reason: Reason) {
    *row.lines_closed
        .entry(reason.as_str().to_owned())
        .or_insert(0) += 1;
}

/// The median of whole days, rounded to one decimal half away from zero; `None` for
/// no days.
pub fn median(days: &mut [i64]) -> Option<f64> {
    if days.is_empty() {
        return None;
    }
    days.sort_unstable();
    let middle = days.len() / 2;
    let median = if days.len() % 2 == 1 {
        days[middle] as f64
    } else {
        (days[middle - 1] + days[middle]) as f64 / 2.0
    };
    // f64::round rounds half away from zero.
    Some((median * 10.0).round() / 10.0)
}

/// Registrations received within `period`, one row per month.
fn count_registrations(
    registrations: &[RegistrationFacts],
    period: Period,
    months: &[String],
) -> Vec<RegistrationFigures> {
    let mut rows: Vec<RegistrationFigures> = months
        .iter()
        .map(|month| RegistrationFigures {
            month: month.clone(),
            received: 0,
            approved: 0,
            denied: 0,
        })
        .collect();
    for registration in registrations
        .iter()
        .filter(|registration| period.contains(registration.received_on))
    {
        let row = &mut rows[period.month_index(registration.received_on)];
        row.received += 1;
        match registration.status {
            RegistrationStatus::Active | RegistrationStatus::Revoked => row.approved += 1,
            RegistrationStatus::Denied => row.denied += 1,
            RegistrationStatus::Pending => {}
        }
    }
    rows
}

/// The tickets received within `period` that are overdue on `today`: by MCO in the
/// order of the figures' rows, then by due date and id.
pub fn overdue_tickets(
    tickets: &[TicketFacts],
    mcos: &[Mco],
    period: Period,
    today: NaiveDate,
) -> Vec<OverdueTicket> {
    let overdue: Vec<&TicketFacts> = tickets
        .iter()
        .filter(|ticket| period.contains(ticket.received_on) && ticket.is_overdue(today))
        .collect();
    let codes = row_codes(mcos, &overdue);
    let mut list: Vec<(usize, OverdueTicket)> = overdue
        .into_iter()
        .filter_map(|ticket| {
            let place = codes.iter().position(|code| *code == ticket.mco)?;
            Some((
                place,
                OverdueTicket {
                    mco: ticket.mco.clone(),
                    id: ticket.id,
                    response_due: ticket.response_due?,
                },
            ))
        })
        .collect();
    list.sort_by_key(|(place, ticket)| (*place, ticket.response_due, ticket.id));
    list.into_iter().map(|(_, ticket)| ticket).collect()
}

#[cfg(test)]
mod tests;
