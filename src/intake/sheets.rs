//! The spreadsheets among a message's attachments, told by content (the workbook
//! marker or the header row), never by file name.

use crate::forms::{self, Kind, ReadError, Unusable, Workbook};
use crate::mail::classify::Parsed;

/// At most this many spreadsheets are taken from one message.
pub const MAX_WORKBOOKS: usize = 20;

/// A spreadsheet found among the attachments.
pub(crate) enum Sheet {
    Known(Kind, Workbook),
    /// Looks like a spreadsheet but is unreadable or none of ours: `unknown_template`.
    Unusable(Unusable),
}

/// A spreadsheet, the name it was attached under, and where it stood among the
/// message's attachments (1-based).
pub(crate) struct Found {
    pub name: Option<String>,
    pub position: usize,
    pub sheet: Sheet,
}

impl Found {
    /// One of the portal's own workbooks (complaint template, registration form, or
    /// an MCO's response workbook).
    pub fn is_portal_workbook(&self) -> bool {
        matches!(self.sheet, Sheet::Known(..))
    }

    /// A registration form or multiple registration template.
    pub fn is_registration(&self) -> bool {
        matches!(
            self.sheet,
            Sheet::Known(Kind::RegistrationForm | Kind::MultipleRegistration, _)
        )
    }

    /// The response workbook HFS sends an MCO with a forward, as it comes back: the
    /// router tells an MCO's answer by it.
    pub fn is_response(&self) -> bool {
        matches!(self.sheet, Sheet::Known(Kind::McoResponse, _))
    }
}

/// The spreadsheets among the attachments. Stops at one past [`MAX_WORKBOOKS`]: the
/// message is refused then, whatever the others are.
pub(crate) fn spreadsheets(parsed: &Parsed) -> Vec<Found> {
    let mut sheets = Vec::new();
    for (index, attachment) in parsed.attachments.iter().enumerate() {
        if sheets.len() > MAX_WORKBOOKS {
            break;
        }
        let sheet = match forms::read_workbook(&attachment.bytes, attachment.name.as_deref()) {
            Ok(workbook) => match forms::identify(&workbook) {
                Some(kind) => Sheet::Known(kind, workbook),
                // A readable spreadsheet that is none of ours; CSV and text files that
                // are not templates are ordinary attachments.
                None if workbook.format != forms::Format::Csv => {
                    Sheet::Unusable(Unusable::UnknownTemplate)
                }
                None => continue,
            },
            Err(ReadError::NotSpreadsheet | ReadError::Pdf | ReadError::Empty) => continue,
            Err(error) => Sheet::Unusable(Unusable::Unreadable(error)),
        };
        sheets.push(Found {
            name: attachment.name.as_deref().map(file_name),
            position: index + 1,
            sheet,
        });
    }
    sheets
}

/// An attachment's name as staff see it on a ticket: without any folder part or
/// control characters, and at most 200 characters.
fn file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn an_attachment_name_loses_folders_and_control_characters() {
        assert_eq!(file_name("claims.xlsx"), "claims.xlsx");
        assert_eq!(file_name("../../etc/claims\u{7}\r\n.xlsx"), "claims.xlsx");
        assert_eq!(file_name("C:\\Users\\x\\Q4 claims.xlsx"), "Q4 claims.xlsx");
        assert_eq!(file_name(&"a".repeat(500)).len(), 200);
    }
}
