//! The spreadsheets: the three public downloads and the MCO's response workbook, one
//! schema each ([`schema`]), written ([`write`]), read back from any format a provider
//! or an MCO may send ([`read`]) and validated ([`validate`]) into reports with every
//! problem by sheet, row and column.

mod cells;
pub mod read;
pub mod report;
pub mod samples;
pub mod schema;
pub mod validate;
pub mod write;

pub use cells::{Value, is_safe_tracking_number, neutralise_formula};
pub use read::{Format, ReadError, Typing, Workbook, read_workbook};
pub use report::{
    ComplaintReport, Completeness, LineOutcome, McoDecision, Problem, Reason, RegistrationReport,
    Status,
};
pub use schema::Kind;
pub use validate::{
    Complaint, Context, Record, Registration, ResponseContext, ResponseReport, ResponseRow,
    identify,
};

/// A submission, read and validated.
#[derive(Debug, Clone)]
pub enum Submission {
    Complaint(Complaint),
    Registration(Registration),
    /// An MCO's returned response workbook, checked against itself (there is no ticket
    /// to compare it with).
    Response(ResponseReport),
}

/// Why a file is no known workbook at all (`unknown_template`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unusable {
    /// The file could not be read.
    #[error("{0}")]
    Unreadable(#[from] ReadError),
    /// It was read, but is none of the three spreadsheets.
    #[error(
        "the file is not one of the portal's spreadsheets (complaint template, registration \
         form, multiple registration template); download a template from the portal's site"
    )]
    UnknownTemplate,
    /// It is the response workbook HFS sends an MCO with a forward, mailed to the
    /// intake as if it were a complaint.
    #[error(
        "the file is the response workbook HFS sends an MCO with a complaint, not a complaint \
         template; to file a complaint, download the complaint template from the portal's site"
    )]
    McoResponse,
}

impl Unusable {
    /// The reason code the ticket is closed with.
    pub fn reason(&self) -> Reason {
        Reason::UnknownTemplate
    }

    /// What a ticket made of this file shows (and `portal check --json` prints): closed
    /// with this reason, and one problem that says why, as a sentence.
    pub fn report(&self, received_on: chrono::NaiveDate) -> ComplaintReport {
        ComplaintReport {
            status: Status::Closed,
            mco: None,
            received_on,
            reason: Some(self.reason()),
            lines: Vec::new(),
            problems: vec![Problem {
                sheet: None,
                row: None,
                column: None,
                reason: self.reason(),
                message: format!("{}.", self.sentence()),
                value: None,
            }],
        }
    }

    /// Why the file cannot be used, capitalised.
    pub fn sentence(&self) -> String {
        let text = self.to_string();
        let mut chars = text.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }
}

/// Reads, identifies and validates one file exactly as intake does (R6 aside).
pub fn check(
    bytes: &[u8],
    name: Option<&str>,
    context: &Context<'_>,
) -> Result<Submission, Unusable> {
    let workbook = read_workbook(bytes, name)?;
    match identify(&workbook).ok_or(Unusable::UnknownTemplate)? {
        Kind::Complaint => Ok(Submission::Complaint(validate::validate_complaint(
            &workbook, context,
        ))),
        Kind::McoResponse => {
            let on_its_own = ResponseContext {
                ticket: None,
                forwarded_rows: &[],
            };
            Ok(Submission::Response(validate::validate_response(
                &workbook,
                &on_its_own,
            )))
        }
        kind @ (Kind::RegistrationForm | Kind::MultipleRegistration) => {
            Ok(Submission::Registration(validate::validate_registration(
                &workbook,
                kind,
                context.max_lines,
            )))
        }
    }
}
