//! What validation found, in the shapes PRODUCT.md gives for `portal check --json`
//! and the staff views.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

crate::words! {
    /// A ticket's or a line's closure reason, as PRODUCT.md spells the codes.
    pub enum Reason {
        Incomplete = "incomplete",
        InvalidValue = "invalid_value",
        Over100Lines = "over_100_lines",
        MixedMco = "mixed_mco",
        UnknownTemplate = "unknown_template",
        TooEarly = "too_early",
        TooLate = "too_late",
        NotExhausted = "not_exhausted",
        FeeForService = "fee_for_service",
        MedicareOnly = "medicare_only",
        Duplicate = "duplicate",
        NpiNotRegistered = "npi_not_registered",
    }
}

impl Reason {
    /// What a provider should do about it, in one sentence (for notices).
    pub fn fix(self) -> &'static str {
        match self {
            Reason::Incomplete => "Fill in this cell; every required cell must be filled.",
            Reason::InvalidValue => {
                "Correct this value; pick from the drop-down list where there is one."
            }
            Reason::Over100Lines => "Split the claims over two or more templates.",
            Reason::MixedMco => "Use one template for each MCO.",
            Reason::UnknownTemplate => {
                "Start again from a fresh template downloaded from the portal's site."
            }
            Reason::TooEarly => "Send this claim again on a new template once its window opens.",
            Reason::TooLate => "This claim's window has passed; HFS cannot accept it.",
            Reason::NotExhausted => {
                "Finish the MCO's process, including peer-to-peer review, first."
            }
            Reason::FeeForService => "Call HFS about fee-for-service claims instead.",
            Reason::MedicareOnly => "The portal cannot take Medicare-only claims.",
            Reason::Duplicate => "Nothing to do: this claim is already with the MCO.",
            Reason::NpiNotRegistered => {
                "Register for this provider's NPI before you send its claims."
            }
        }
    }

    /// Problems that close the whole ticket (R3, R4), as opposed to one line.
    pub fn closes_ticket(self) -> bool {
        matches!(
            self,
            Reason::Incomplete
                | Reason::InvalidValue
                | Reason::Over100Lines
                | Reason::MixedMco
                | Reason::UnknownTemplate
        )
    }
}

/// One problem, where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub sheet: Option<String>,
    /// The spreadsheet's own 1-based row number.
    pub row: Option<u32>,
    /// The column header (or form label).
    pub column: Option<String>,
    pub reason: Reason,
    /// A sentence a provider understands. It describes what a cell holds and never
    /// repeats it (R10): this is the text of every view and notice.
    pub message: String,
    /// The text of the cell at fault, as it stands in the file: only `portal check
    /// --json` shows it (the person running it has the file). A ticket never keeps it
    /// ([`Problem::without_values`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Problem {
    /// The problems without their cells' text, as a ticket keeps them and a notice
    /// shows them.
    pub fn without_values(problems: Vec<Problem>) -> Vec<Problem> {
        problems
            .into_iter()
            .map(|problem| Problem {
                value: None,
                ..problem
            })
            .collect()
    }

    /// `Row 7, Date Filed with MCO: 2026-12-01 is in the future. [invalid_value]`; with
    /// `with_sheet`, the sheet is named first (for workbooks of more than one sheet).
    pub fn describe(&self, with_sheet: bool) -> String {
        let mut place = Vec::new();
        match &self.sheet {
            Some(sheet) if with_sheet || (self.row.is_none() && self.column.is_none()) => {
                place.push(format!("Sheet {sheet}"));
            }
            _ => {}
        }
        if let Some(row) = self.row {
            place.push(format!("Row {row}"));
        }
        if let Some(column) = &self.column {
            place.push(column.clone());
        }
        if place.is_empty() {
            format!("{} [{}]", self.message, self.reason)
        } else {
            format!("{}: {} [{}]", place.join(", "), self.message, self.reason)
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(false))
    }
}

crate::words! {
    /// A ticket's or a line's state. A line is forwarded or closed; a ticket is also
    /// `responded` once its MCO sent a proposal, and `resolved` once HFS ended it.
    pub enum Status {
        Forwarded = "forwarded",
        Closed = "closed",
        Responded = "responded",
        Resolved = "resolved",
    }
}

impl Status {
    /// Still in the MCO's hands: forwarded, or answered and not yet resolved. Only
    /// such a ticket takes proposals, an extension, or a resolution.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Forwarded | Status::Responded)
    }
}

crate::words! {
    /// The MCO's decision on one forwarded line: the `MCO Decision` drop-down of the
    /// returned workbook (its labels are [`McoDecision::label`]).
    pub enum McoDecision {
        PaidInFull = "paid_in_full",
        PartiallyPaid = "partially_paid",
        DenialUpheld = "denial_upheld",
        Reprocessing = "reprocessing",
        Other = "other",
    }
}

impl McoDecision {
    /// The drop-down's words.
    pub fn label(self) -> &'static str {
        match self {
            McoDecision::PaidInFull => "Paid in full",
            McoDecision::PartiallyPaid => "Partially paid",
            McoDecision::DenialUpheld => "Denial upheld",
            McoDecision::Reprocessing => "Reprocessing",
            McoDecision::Other => "Other",
        }
    }

    /// A cell's text as a decision: the label or the word, trimmed, in any case.
    pub fn from_cell(text: &str) -> Option<McoDecision> {
        let text = text.trim();
        McoDecision::ALL.iter().copied().find(|decision| {
            decision.label().eq_ignore_ascii_case(text)
                || decision.as_str().eq_ignore_ascii_case(text)
        })
    }
}

/// One claim line's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineOutcome {
    pub row: u32,
    pub status: Status,
    pub reason: Option<Reason>,
}

/// A complaint template's outcome: `portal check --json` prints exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplaintReport {
    pub status: Status,
    /// The MCO's code, when the template names one MCO.
    pub mco: Option<String>,
    pub received_on: NaiveDate,
    /// The ticket's own closure reason; null when forwarded or when only lines closed.
    pub reason: Option<Reason>,
    pub lines: Vec<LineOutcome>,
    pub problems: Vec<Problem>,
}

impl ComplaintReport {
    /// True when every line would be forwarded.
    pub fn all_forwarded(&self) -> bool {
        self.status == Status::Forwarded
            && self
                .lines
                .iter()
                .all(|line| line.status == Status::Forwarded)
    }
}

crate::words! {
    /// Whether a registration request holds everything R7 asks for.
    pub enum Completeness {
        Complete = "complete",
        Incomplete = "incomplete",
    }
}

/// A registration form's or multiple registration template's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationReport {
    pub kind: super::schema::Kind,
    pub status: Completeness,
    /// The registrant's email, when valid.
    pub email: Option<String>,
    /// The NPIs the request covers, each once.
    pub npis: Vec<String>,
    /// Each field that is missing or wrong, once.
    pub missing: Vec<String>,
    pub problems: Vec<Problem>,
}
