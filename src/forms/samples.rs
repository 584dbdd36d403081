//! Made-up submissions for the demo, the benchmark and the tests, dated relative to
//! the day they are used so the 30–60 day window holds for them in any year. Every
//! person, number and claim here is invented.

use chrono::{Days, NaiveDate};

use crate::forms::schema::{COMPLAINT, claim};
use crate::forms::{Record, Value};
use crate::rules::Money;

/// Which sample complaint to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Filed with the MCO 45 days before receipt: every line goes to the MCO.
    Good,
    /// Filed 10 days before receipt: every line closes as `too_early`.
    TooEarly,
    /// The MCO tracking number left empty: the ticket closes as `incomplete`.
    Incomplete,
}

/// A made-up but valid NPI (the CMS example number).
pub const SAMPLE_NPI: &str = "1234567893";

/// `count` claim lines of a sample complaint received on `received_on`, for the MCO
/// at index `mco` of the configured list.
pub fn complaint_lines(
    sample: Sample,
    received_on: NaiveDate,
    mco: usize,
    count: usize,
) -> Vec<Record> {
    let days_before = match sample {
        Sample::TooEarly => 10,
        Sample::Good | Sample::Incomplete => 45,
    };
    let filed = received_on - Days::new(days_before);
    let service = filed - Days::new(40);
    (0..count)
        .map(|index| {
            let mut values: Vec<Option<Value>> = vec![None; COMPLAINT.len()];
            let text = |value: String| Some(Value::Text(value));
            values[claim::PROVIDER_NPI] = text(SAMPLE_NPI.to_owned());
            values[claim::PROVIDER_MEDICAID_ID] = text("000123456".to_owned());
            values[claim::PROVIDER_NAME] = text("Prairie Example Clinic".to_owned());
            values[claim::MCO] = Some(Value::Choice(mco));
            if sample != Sample::Incomplete {
                values[claim::TRACKING_NUMBER] = text(format!("0TRK-{:05}", 1000 + index));
            }
            values[claim::FILED_WITH_MCO] = Some(Value::Date(filed));
            values[claim::EXHAUSTED] = Some(Value::Bool(true));
            values[claim::COVERAGE] = Some(Value::Choice(0));
            values[claim::CLAIM_NUMBER] = text(format!("CLM{:07}", 4200 + index));
            values[claim::RECIPIENT_ID] = text(format!("{:09}", 10_000_000 + index));
            values[claim::SERVICE_FROM] = Some(Value::Date(service));
            values[claim::SERVICE_TO] = Some(Value::Date(service + Days::new(1)));
            values[claim::BILLED] = Some(Value::Money(Money {
                cents: 125_000 + index as u64,
            }));
            values[claim::PAID] = Some(Value::Money(Money { cents: 0 }));
            values[claim::ISSUE_CATEGORY] = Some(Value::Choice(0));
            values[claim::ISSUE_DESCRIPTION] = text(
                "Claim denied as untimely although filed within the timely filing limit."
                    .to_owned(),
            );
            Record {
                row: index as u32 + 2,
                values,
            }
        })
        .collect()
}

/// A complete individual registration form's values (by
/// [`crate::forms::schema::REGISTRATION`] index): a made-up billing agent at `email`
/// registering the provider with `npi`.
pub fn registration_values(email: &str, npi: &str) -> Record {
    use crate::forms::schema::{REGISTRATION, ROLES};
    let texts = [
        "Pat",
        "Example",
        email,
        "217-555-0100",
        "Billing agent",
        "Prairie Example Billing",
        "Prairie Example Clinic",
        npi,
        "000123456",
        "1 Example Way",
        "Springfield",
        "IL",
        "62701",
    ];
    debug_assert_eq!(texts.len(), REGISTRATION.len());
    let values = texts
        .iter()
        .map(|text| match ROLES.iter().position(|role| role == text) {
            Some(role) => Some(Value::Choice(role)),
            None => Some(Value::Text((*text).to_owned())),
        })
        .collect();
    Record { row: 1, values }
}
