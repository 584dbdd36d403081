//! The spreadsheets, described once: the three public downloads, and the MCO's
//! response workbook that goes with a forward and comes back with the MCO's decisions.
//! The writer lays out workbooks from these tables and the reader and validators read
//! them back against the same tables, so a download and the intake can never disagree.

use serde::Serialize;

/// The version of the layouts below, stored in every generated workbook. Version 2
/// dropped the registration form's Username row (the address is the account); a form
/// of version 1 is still read, its Username row ignored, since fields are found by
/// their labels.
pub const SCHEMA_VERSION: u32 = 2;
/// The hidden sheet that marks a generated workbook with its kind and version.
pub const MARKER_SHEET: &str = "PortalSchema";
/// The first cell of the marker sheet.
pub const MARKER_TAG: &str = "portal-workbook";
/// The sheet of every generated workbook that explains its columns.
pub const INSTRUCTIONS_SHEET: &str = "Instructions";

/// Which spreadsheet a workbook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Complaint,
    RegistrationForm,
    MultipleRegistration,
    /// The workbook HFS attaches to a forward: the accepted lines, with a column for
    /// the MCO's decision on each. Never a public download.
    McoResponse,
}

impl Kind {
    /// The three public downloads: what the site offers and `portal templates` writes.
    pub const DOWNLOADS: [Kind; 3] = [
        Kind::Complaint,
        Kind::RegistrationForm,
        Kind::MultipleRegistration,
    ];

    /// Every kind of workbook the portal writes and knows again by its marker.
    pub const ALL: [Kind; 4] = [
        Kind::Complaint,
        Kind::RegistrationForm,
        Kind::MultipleRegistration,
        Kind::McoResponse,
    ];

    /// The name written into the marker sheet.
    pub fn marker(self) -> &'static str {
        match self {
            Kind::Complaint => "complaint",
            Kind::RegistrationForm => "registration-form",
            Kind::MultipleRegistration => "multiple-registration",
            Kind::McoResponse => "mco-response",
        }
    }

    /// The download's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Complaint => "complaint-template.xlsx",
            Kind::RegistrationForm => "registration-form.xlsx",
            Kind::MultipleRegistration => "multiple-registration-template.xlsx",
            // A forward names its workbook after the ticket instead.
            Kind::McoResponse => "mco-response.xlsx",
        }
    }

    /// The workbook's title, as the site and the Instructions sheet name it.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Complaint => "Complaints/Claim-Issue Template",
            Kind::RegistrationForm => "Individual Registration Form",
            Kind::MultipleRegistration => "Multiple Registration Template",
            Kind::McoResponse => "MCO Response Workbook",
        }
    }

    /// The kind a marker sheet names, in any case.
    pub fn from_marker(text: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.marker().eq_ignore_ascii_case(text.trim()))
    }
}

/// What a cell must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Free text up to `max_len` characters.
    Text { max_len: usize },
    /// An identifier kept as text; a number typed into it loses no digits.
    Code,
    /// Exactly `len` digits; a cell that holds a shorter number (in a CSV, digits only)
    /// is left-padded with zeros, text must already have all of them.
    Digits { len: usize },
    /// A 10-digit NPI with a valid check digit, never padded: it never starts with 0.
    Npi,
    /// A calendar date.
    Date,
    /// An amount of money, zero or more.
    Money,
    /// Yes or No.
    YesNo,
    /// One of a fixed list.
    Choice(&'static [&'static str]),
    /// One of the configured MCOs, by name or code.
    Mco,
    /// An email address.
    Email,
    /// A 10-digit US phone number.
    Phone,
    /// A two-letter US state or territory code.
    State,
    /// A 5-digit ZIP code or ZIP+4; padded like [`ValueType::Digits`].
    Zip,
}

/// One column of a table sheet, or one labelled field of a form sheet.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub header: &'static str,
    pub ty: ValueType,
    pub required: bool,
    /// What a provider should type, shown as input help and on the Instructions sheet;
    /// `{min_days}` and `{max_days}` stand for the filing window's bounds (see
    /// [`Field::help_for`]).
    pub help: &'static str,
    /// Column width in characters.
    pub width: f64,
    /// Protected health information: never echoed back in a notice or message.
    pub phi: bool,
}

impl Field {
    /// The help text with the configured filing window filled in.
    pub fn help_for(&self, rules: &crate::config::Rules) -> String {
        self.help
            .replace("{min_days}", &rules.window_min_days.to_string())
            .replace("{max_days}", &rules.window_max_days.to_string())
    }
}

/// How a sheet is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A header row, then one record per row.
    Table,
    /// One field per row: label in column A, value in column B.
    Form,
}

/// One sheet of a workbook.
#[derive(Debug, Clone, Copy)]
pub struct SheetSchema {
    pub name: &'static str,
    pub layout: Layout,
    pub fields: &'static [Field],
}

impl SheetSchema {
    pub fn field(&self, header: &str) -> Option<usize> {
        self.fields.iter().position(|field| field.header == header)
    }
}

/// The sheets of one kind of workbook, in workbook order.
pub fn sheets(kind: Kind) -> &'static [SheetSchema] {
    match kind {
        Kind::Complaint => &COMPLAINT_SHEETS,
        Kind::RegistrationForm => &REGISTRATION_SHEETS,
        Kind::MultipleRegistration => &MULTIPLE_SHEETS,
        Kind::McoResponse => &RESPONSE_SHEETS,
    }
}

static COMPLAINT_SHEETS: [SheetSchema; 1] = [SheetSchema {
    name: "Claims",
    layout: Layout::Table,
    fields: &COMPLAINT,
}];
static REGISTRATION_SHEETS: [SheetSchema; 1] = [SheetSchema {
    name: "Registration",
    layout: Layout::Form,
    fields: &REGISTRATION,
}];
static RESPONSE_SHEETS: [SheetSchema; 1] = [SheetSchema {
    name: "Claims",
    layout: Layout::Table,
    fields: &RESPONSE,
}];
static MULTIPLE_SHEETS: [SheetSchema; 2] = [
    SheetSchema {
        name: "Registrant",
        layout: Layout::Form,
        fields: REGISTRANT_FIELDS,
    },
    SheetSchema {
        name: "Providers",
        layout: Layout::Table,
        fields: PROVIDER_FIELDS,
    },
];

/// R8: the coverage column's values.
pub const COVERAGE: [&str; 3] = ["Medicaid managed care", "Fee-for-service", "Medicare only"];
/// Index of "Fee-for-service" in [`COVERAGE`].
pub const COVERAGE_FEE_FOR_SERVICE: usize = 1;
/// Index of "Medicare only" in [`COVERAGE`].
pub const COVERAGE_MEDICARE_ONLY: usize = 2;

pub const ISSUE_CATEGORIES: [&str; 7] = [
    "Claim denial",
    "Claim underpayment",
    "Prior authorization",
    "Eligibility",
    "Coverage or service denial",
    "Contracting or credentialing",
    "Other",
];

pub const ROLES: [&str; 3] = ["Provider", "Billing staff", "Billing agent"];

/// Column indexes of the complaint template.
pub mod claim {
    pub const PROVIDER_NPI: usize = 0;
    pub const PROVIDER_MEDICAID_ID: usize = 1;
    pub const PROVIDER_NAME: usize = 2;
    pub const MCO: usize = 3;
    pub const TRACKING_NUMBER: usize = 4;
    pub const FILED_WITH_MCO: usize = 5;
    pub const EXHAUSTED: usize = 6;
    pub const COVERAGE: usize = 7;
    pub const CLAIM_NUMBER: usize = 8;
    pub const RECIPIENT_ID: usize = 9;
    pub const SERVICE_FROM: usize = 10;
    pub const SERVICE_TO: usize = 11;
    pub const BILLED: usize = 12;
    pub const PAID: usize = 13;
    pub const ISSUE_CATEGORY: usize = 14;
    pub const ISSUE_DESCRIPTION: usize = 15;
}

const fn field(
    header: &'static str,
    ty: ValueType,
    required: bool,
    width: f64,
    phi: bool,
    help: &'static str,
) -> Field {
    Field {
        header,
        ty,
        required,
        help,
        width,
        phi,
    }
}

/// The complaint template's columns, in order (sheet `Claims`).
pub static COMPLAINT: [Field; 16] = COMPLAINT_FIELDS;

/// The complaint's columns as a constant, so the response workbook can be laid out
/// from them at compile time.
const COMPLAINT_FIELDS: [Field; 16] = [
    field(
        "Provider NPI",
        ValueType::Npi,
        true,
        14.0,
        false,
        "The billing provider's 10-digit National Provider Identifier.",
    ),
    field(
        "Provider Medicaid ID",
        ValueType::Code,
        true,
        20.0,
        false,
        "The provider's HFS/IMPACT Medicaid provider ID.",
    ),
    field(
        "Provider Name",
        ValueType::Text { max_len: 200 },
        true,
        28.0,
        false,
        "The provider's name as enrolled with HFS.",
    ),
    field(
        "MCO",
        ValueType::Mco,
        true,
        32.0,
        false,
        "The managed care organization. Pick it from the list; one MCO per template.",
    ),
    field(
        "MCO Tracking Number",
        ValueType::Code,
        true,
        22.0,
        false,
        "The tracking number the MCO gave your dispute. Required: HFS cannot accept a complaint without it.",
    ),
    field(
        "Date Filed with MCO",
        ValueType::Date,
        true,
        18.0,
        false,
        "The date you filed the dispute with the MCO (YYYY-MM-DD). HFS accepts a complaint received from {min_days} to {max_days} calendar days after this date.",
    ),
    field(
        "Internal Process Exhausted",
        ValueType::YesNo,
        true,
        16.0,
        false,
        "Yes if you completed the MCO's internal dispute process, including peer-to-peer review.",
    ),
    field(
        "Coverage",
        ValueType::Choice(&COVERAGE),
        true,
        24.0,
        false,
        "Medicaid managed care claims only. Fee-for-service: call HFS at 877-782-5565. Medicare-only claims are out of scope.",
    ),
    field(
        "Claim Number",
        ValueType::Code,
        true,
        20.0,
        true,
        "The MCO's claim number.",
    ),
    field(
        "Recipient ID",
        ValueType::Digits { len: 9 },
        true,
        14.0,
        true,
        "The patient's 9-digit HFS recipient identification number.",
    ),
    field(
        "Date of Service From",
        ValueType::Date,
        true,
        16.0,
        true,
        "The first date of service (YYYY-MM-DD).",
    ),
    field(
        "Date of Service To",
        ValueType::Date,
        false,
        16.0,
        true,
        "The last date of service, if more than one day (YYYY-MM-DD).",
    ),
    field(
        "Billed Amount",
        ValueType::Money,
        true,
        14.0,
        true,
        "The amount billed, in dollars (0 or more).",
    ),
    field(
        "Paid Amount",
        ValueType::Money,
        false,
        14.0,
        true,
        "The amount the MCO paid, in dollars, if any.",
    ),
    field(
        "Issue Category",
        ValueType::Choice(&ISSUE_CATEGORIES),
        true,
        26.0,
        false,
        "What the dispute is about. Pick one from the list.",
    ),
    field(
        "Issue Description",
        ValueType::Text { max_len: 2000 },
        true,
        50.0,
        true,
        "Describe the issue in up to 2,000 characters.",
    ),
];

/// The MCO's decision words, as the response workbook's drop-down shows them: the
/// labels of `McoDecision` (report.rs), in its order.
pub const MCO_DECISIONS: [&str; 5] = [
    "Paid in full",
    "Partially paid",
    "Denial upheld",
    "Reprocessing",
    "Other",
];

/// Column indexes of the MCO response workbook: `Ticket`, `Row`, the complaint's
/// columns from [`response::COMPLAINT_START`] on (a complaint column `c` is at
/// `COMPLAINT_START + c`), then the MCO's two.
pub mod response {
    pub const TICKET: usize = 0;
    pub const ROW: usize = 1;
    pub const COMPLAINT_START: usize = 2;
    pub const DECISION: usize = COMPLAINT_START + super::COMPLAINT_FIELDS.len();
    pub const COMMENT: usize = DECISION + 1;
}

/// The response workbook's columns, in order (sheet `Claims`): which ticket and which
/// row of the provider's own template, the accepted line as the provider sent it, and
/// the MCO's answer.
pub static RESPONSE: [Field; 20] = response_fields();

const fn response_fields() -> [Field; 20] {
    let mut fields = [RESPONSE_TICKET; 20];
    fields[response::ROW] = RESPONSE_ROW;
    let mut index = 0;
    while index < COMPLAINT_FIELDS.len() {
        fields[response::COMPLAINT_START + index] = COMPLAINT_FIELDS[index];
        index += 1;
    }
    fields[response::DECISION] = RESPONSE_DECISION;
    fields[response::COMMENT] = RESPONSE_COMMENT;
    fields
}

const RESPONSE_TICKET: Field = field(
    "Ticket",
    ValueType::Code,
    true,
    18.0,
    false,
    "The HFS ticket id of this complaint. Leave it as it is.",
);
const RESPONSE_ROW: Field = field(
    "Row",
    ValueType::Code,
    true,
    8.0,
    false,
    "The row of this claim in the provider's own template, so HFS, the provider and the MCO speak of the same claim. Leave it as it is.",
);
const RESPONSE_DECISION: Field = field(
    "MCO Decision",
    ValueType::Choice(&MCO_DECISIONS),
    true,
    20.0,
    false,
    "Your decision on this claim. Pick one from the list on every row.",
);
const RESPONSE_COMMENT: Field = field(
    "MCO Comment",
    ValueType::Text { max_len: 2000 },
    false,
    50.0,
    true,
    "Anything HFS and the provider should know about this decision, in up to 2,000 characters. HFS keeps it on file and never repeats it in a notice.",
);

/// The individual registration form's fields, in order (sheet `Registration`). The first
/// seven are the registrant; the last seven the provider or facility.
pub static REGISTRATION: [Field; 13] = [
    field(
        "Registrant First Name",
        ValueType::Text { max_len: 100 },
        true,
        30.0,
        false,
        "Your first name.",
    ),
    field(
        "Registrant Last Name",
        ValueType::Text { max_len: 100 },
        true,
        30.0,
        false,
        "Your last name.",
    ),
    field(
        "Registrant Email",
        ValueType::Email,
        true,
        30.0,
        false,
        "Your email address. It must be the address you send this form from.",
    ),
    field(
        "Registrant Phone",
        ValueType::Phone,
        true,
        30.0,
        false,
        "Your 10-digit phone number.",
    ),
    field(
        "Role",
        ValueType::Choice(&ROLES),
        true,
        30.0,
        false,
        "Provider, Billing staff or Billing agent.",
    ),
    field(
        "Organization",
        ValueType::Text { max_len: 200 },
        true,
        30.0,
        false,
        "Your practice, facility or billing company.",
    ),
    field(
        "Provider Name",
        ValueType::Text { max_len: 200 },
        true,
        30.0,
        false,
        "The provider or facility you act for.",
    ),
    field(
        "Provider NPI",
        ValueType::Npi,
        true,
        14.0,
        false,
        "The provider's 10-digit National Provider Identifier.",
    ),
    field(
        "Provider Medicaid ID",
        ValueType::Code,
        true,
        20.0,
        false,
        "The provider's HFS/IMPACT Medicaid provider ID.",
    ),
    field(
        "Street Address",
        ValueType::Text { max_len: 200 },
        true,
        30.0,
        false,
        "The provider's street address.",
    ),
    field(
        "City",
        ValueType::Text { max_len: 100 },
        true,
        20.0,
        false,
        "City.",
    ),
    field(
        "State",
        ValueType::State,
        true,
        8.0,
        false,
        "Two-letter state code, e.g. IL.",
    ),
    field(
        "ZIP",
        ValueType::Zip,
        true,
        12.0,
        false,
        "5-digit ZIP code (or ZIP+4).",
    ),
];

/// The registrant fields, shared by the individual form and the `Registrant` sheet.
pub static REGISTRANT_FIELDS: &[Field] = REGISTRATION.split_at(6).0;
/// The provider fields, shared by the individual form and the `Providers` sheet.
pub static PROVIDER_FIELDS: &[Field] = REGISTRATION.split_at(6).1;

/// Indexes of the fields in [`REGISTRANT_FIELDS`] (and the start of [`REGISTRATION`]).
pub mod registrant {
    pub const FIRST_NAME: usize = 0;
    pub const LAST_NAME: usize = 1;
    pub const EMAIL: usize = 2;
    pub const PHONE: usize = 3;
    pub const ROLE: usize = 4;
    pub const ORGANIZATION: usize = 5;
}

/// Indexes of the fields in [`PROVIDER_FIELDS`].
pub mod provider {
    pub const NAME: usize = 0;
    pub const NPI: usize = 1;
    pub const MEDICAID_ID: usize = 2;
}

/// Two-letter codes of the states, DC and the territories.
pub const STATES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR", "GU", "VI", "AS", "MP",
];

#[cfg(test)]
mod tests;
