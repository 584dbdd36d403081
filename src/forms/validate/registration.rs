//! The registration rules (R7): an individual registration form, or a multiple
//! registration template's registrant and providers, every field complete; the
//! request's report lists what is missing, once each.

use super::{Problems, Record, find_sheet, read_form, read_table};
use crate::forms::read::{Sheet, Workbook};
use crate::forms::report::{Completeness, Reason, RegistrationReport};
use crate::forms::schema::{
    self, Kind, Layout, REGISTRANT_FIELDS, SheetSchema, provider, registrant,
};

/// A validated registration request.
#[derive(Debug, Clone)]
pub struct Registration {
    pub report: RegistrationReport,
    /// The registrant's fields, by [`schema::REGISTRANT_FIELDS`] index.
    pub registrant: Record,
    /// One record per provider, by [`schema::PROVIDER_FIELDS`] index.
    pub providers: Vec<Record>,
}

/// Validates an individual registration form or a multiple registration template (R7).
pub fn validate_registration(workbook: &Workbook, kind: Kind, max_lines: u32) -> Registration {
    let sheets = schema::sheets(kind);
    let (registrant, providers, problems) = match kind {
        Kind::MultipleRegistration => {
            let mut problems = Problems {
                sheet: sheets[0].name,
                list: Vec::new(),
            };
            let registrant_sheet = find_sheet_named(workbook, &sheets[0]);
            let registrant = read_form(registrant_sheet, &sheets[0], &mut problems);
            problems.attach_values(registrant_sheet, &sheets[0]);
            let mut table = Problems {
                sheet: sheets[1].name,
                list: Vec::new(),
            };
            let providers_sheet = find_sheet_named(workbook, &sheets[1]);
            let providers = read_table(providers_sheet, &sheets[1], &[], &mut table);
            table.attach_values(providers_sheet, &sheets[1]);
            if providers.is_empty() {
                table.add(
                    None,
                    None,
                    Reason::Incomplete,
                    "List at least one provider or facility, one per row from row 2".to_owned(),
                );
            }
            if providers.len() > max_lines as usize {
                table.add(
                    None,
                    None,
                    Reason::InvalidValue,
                    format!(
                        "The sheet lists {} providers; at most {max_lines} fit on one template",
                        providers.len()
                    ),
                );
            }
            problems.list.append(&mut table.list);
            (registrant, providers, problems.list)
        }
        _ => {
            let mut problems = Problems {
                sheet: sheets[0].name,
                list: Vec::new(),
            };
            debug_assert_eq!(sheets[0].layout, Layout::Form);
            let sheet = find_sheet(workbook, &sheets[0]);
            let form = read_form(sheet, &sheets[0], &mut problems);
            problems.attach_values(sheet, &sheets[0]);
            let split = REGISTRANT_FIELDS.len();
            let registrant = Record {
                row: form.row,
                values: form.values[..split].to_vec(),
            };
            let provider = Record {
                row: form.row,
                values: form.values[split..].to_vec(),
            };
            (registrant, vec![provider], problems.list)
        }
    };
    let mut npis: Vec<String> = Vec::new();
    for npi in providers
        .iter()
        .filter_map(|provider| provider.text(provider::NPI))
    {
        if !npis.iter().any(|known| known == npi) {
            npis.push(npi.to_owned());
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for problem in &problems {
        let what = match (kind, problem.row, &problem.column) {
            (Kind::MultipleRegistration, Some(row), Some(column))
                if problem.sheet.as_deref() == Some(sheets[1].name) =>
            {
                format!("{} row {row}: {column}", sheets[1].name)
            }
            (_, _, Some(column)) => column.clone(),
            (_, _, None) => problem.message.clone(),
        };
        if !missing.contains(&what) {
            missing.push(what);
        }
    }
    let report = RegistrationReport {
        kind,
        status: if problems.is_empty() {
            Completeness::Complete
        } else {
            Completeness::Incomplete
        },
        email: registrant.text(registrant::EMAIL).map(str::to_owned),
        npis,
        missing,
        problems,
    };
    Registration {
        report,
        registrant,
        providers,
    }
}

/// For the multiple registration template, both sheets must be found by name (a
/// workbook has two); a lone CSV cannot hold them.
fn find_sheet_named<'w>(workbook: &'w Workbook, schema: &SheetSchema) -> Option<&'w Sheet> {
    workbook.sheet(schema.name)
}
