//! The workbooks, laid out from the schemas with rust_xlsxwriter: a frozen bold header,
//! widths, text-formatted ID columns (leading zeros survive), date-formatted date
//! columns, drop-down lists, input help, the line limit in the validation ranges, an
//! `Instructions` sheet written from the help text, and the hidden marker sheet that
//! tells the reader the kind and schema version after any re-save. Besides the three
//! downloads, the MCO's response workbook that goes with a forward ([`mco_response`]).

use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, DataValidationRule, DocProperties, ExcelDateTime,
    Format, FormatAlign, FormatBorder, ProtectionOptions, Workbook, Worksheet, XlsxError,
};

use super::cells::Value;
use super::report::McoDecision;
use super::schema::{
    self, COMPLAINT, Field, INSTRUCTIONS_SHEET, Kind, Layout, MARKER_SHEET, MARKER_TAG, RESPONSE,
    SCHEMA_VERSION, SheetSchema, ValueType, response,
};
use super::validate::Record;
use crate::config::{Mco, Rules};

/// The formats shared by every sheet.
struct Styles {
    header: Format,
    label: Format,
    text: Format,
    date: Format,
    money: Format,
    wrap: Format,
    title: Format,
    /// The MCO's answer cells: text, and open to typing in a protected sheet.
    answer: Format,
}

impl Styles {
    fn new() -> Styles {
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color("#DCE6F1")
            .set_border_bottom(FormatBorder::Thin);
        Styles {
            header: header.clone(),
            label: header,
            text: Format::new().set_num_format("@"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            money: Format::new().set_num_format("#,##0.00"),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            title: Format::new().set_bold().set_font_size(14),
            answer: Format::new().set_num_format("@").set_unlocked(),
        }
    }

    /// The cell format a field's values take.
    fn for_field(&self, field: &Field) -> &Format {
        match field.ty {
            ValueType::Date => &self.date,
            ValueType::Money => &self.money,
            _ => &self.text,
        }
    }
}

/// A blank workbook of `kind`, as the site offers it for download.
pub fn blank(kind: Kind, mcos: &[Mco], rules: &Rules) -> Result<Vec<u8>, XlsxError> {
    build(kind, mcos, rules, &[], None)
}

/// An individual registration form filled with `values` (by
/// [`schema::REGISTRATION`] index), as a provider would send it.
pub fn registration_form_with(
    mcos: &[Mco],
    rules: &Rules,
    values: &Record,
) -> Result<Vec<u8>, XlsxError> {
    build(Kind::RegistrationForm, mcos, rules, &[], Some(values))
}

/// A complaint template holding `lines` (values by [`schema::claim`] index), as a
/// provider sends it (the demo's and the tests' submissions). Text is always written
/// as text, never as a formula.
pub fn complaint_with_lines(
    mcos: &[Mco],
    rules: &Rules,
    lines: &[Record],
) -> Result<Vec<u8>, XlsxError> {
    build(Kind::Complaint, mcos, rules, lines, None)
}

/// The workbook attached to a forward of `ticket`: one row per accepted line (values
/// by [`schema::claim`] index, `row` the line's row in the provider's own template),
/// each with the ticket id, that row number and the complaint's cells as read, and the
/// `MCO Decision` and `MCO Comment` cells empty. Only those two columns are open to
/// typing; the sheet is protected without a password, against changes by accident.
pub fn mco_response(
    ticket: &str,
    mcos: &[Mco],
    rules: &Rules,
    lines: &[Record],
) -> Result<Vec<u8>, XlsxError> {
    mco_response_answered(ticket, mcos, rules, lines, &[])
}

/// One row's answer in a returned response workbook: the provider's row, the MCO's
/// decision and its comment.
pub type Answer<'a> = (u32, McoDecision, &'a str);

/// The response workbook as an MCO returns it, `answers` filled into `MCO Decision`
/// and `MCO Comment` of their rows: what the demo's MCO and the tests mail back.
pub fn mco_response_answered(
    ticket: &str,
    mcos: &[Mco],
    rules: &Rules,
    lines: &[Record],
    answers: &[Answer<'_>],
) -> Result<Vec<u8>, XlsxError> {
    let rows: Vec<Record> = lines
        .iter()
        .map(|line| {
            let mut values = vec![None; RESPONSE.len()];
            values[response::TICKET] = Some(Value::Text(ticket.to_owned()));
            values[response::ROW] = Some(Value::Text(line.row.to_string()));
            for (index, value) in line.values.iter().take(COMPLAINT.len()).enumerate() {
                values[response::COMPLAINT_START + index] = value.clone();
            }
            if let Some((_, decision, comment)) = answers.iter().find(|(row, ..)| *row == line.row)
            {
                values[response::DECISION] = Some(Value::Text(decision.label().to_owned()));
                values[response::COMMENT] =
                    Some(Value::Text((*comment).to_owned())).filter(|_| !comment.is_empty());
            }
            Record {
                row: line.row,
                values,
            }
        })
        .collect();
    build(Kind::McoResponse, mcos, rules, &rows, None)
}

fn build(
    kind: Kind,
    mcos: &[Mco],
    rules: &Rules,
    records: &[Record],
    form: Option<&Record>,
) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new();
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(kind.title())
            .set_subject("Illinois HFS Provider Resolution Portal")
            .set_author("Illinois Department of Healthcare and Family Services")
            .set_comment(format!("{MARKER_TAG} {} v{SCHEMA_VERSION}", kind.marker())),
    );
    for sheet in schema::sheets(kind) {
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(sheet.name)?;
        match sheet.layout {
            Layout::Table => write_table(worksheet, sheet, mcos, rules, records, &styles)?,
            Layout::Form => write_form(worksheet, sheet, mcos, rules, form, &styles)?,
        }
        if kind == Kind::McoResponse {
            open_only_the_answer(worksheet, &styles)?;
        }
    }
    let ticket = records
        .first()
        .filter(|_| kind == Kind::McoResponse)
        .and_then(|record| record.text(response::TICKET));
    write_instructions(workbook.add_worksheet(), kind, ticket, mcos, rules, &styles)?;
    let marker = workbook.add_worksheet();
    marker.set_name(MARKER_SHEET)?;
    marker.write_string(0, 0, MARKER_TAG)?;
    marker.write_string(0, 1, kind.marker())?;
    marker.write_string(1, 0, "schema-version")?;
    marker.write_number(1, 1, f64::from(SCHEMA_VERSION))?;
    marker.set_hidden(true);
    workbook.save_to_buffer()
}

fn write_table(
    worksheet: &mut Worksheet,
    sheet: &SheetSchema,
    mcos: &[Mco],
    rules: &Rules,
    records: &[Record],
    styles: &Styles,
) -> Result<(), XlsxError> {
    let last_row = rules.max_lines.max(records.len() as u32);
    worksheet.set_freeze_panes(1, 0)?;
    worksheet.set_row_height(0, 32)?;
    for (index, field) in sheet.fields.iter().enumerate() {
        let column = index as u16;
        worksheet.set_column_width(column, field.width)?;
        worksheet.set_column_format(column, styles.for_field(field))?;
        worksheet.write_string_with_format(0, column, field.header, &styles.header)?;
        worksheet.add_data_validation(0, column, 0, column, &header_help(field, rules)?)?;
        if let Some(validation) = value_validation(field, mcos, rules)? {
            worksheet.add_data_validation(1, column, last_row, column, &validation)?;
        }
    }
    for (offset, record) in records.iter().enumerate() {
        let row = offset as u32 + 1;
        for (index, (field, value)) in sheet.fields.iter().zip(&record.values).enumerate() {
            write_value(
                worksheet,
                row,
                index as u16,
                field,
                value.as_ref(),
                mcos,
                styles,
            )?;
        }
    }
    Ok(())
}

/// The response sheet: the MCO's two columns open to typing, everything else locked
/// (no password: an MCO who must can lift it, and the validator says what changed).
fn open_only_the_answer(worksheet: &mut Worksheet, styles: &Styles) -> Result<(), XlsxError> {
    for column in [response::DECISION, response::COMMENT] {
        worksheet.set_column_format(column as u16, &styles.answer)?;
    }
    let options = ProtectionOptions {
        format_columns: true,
        format_rows: true,
        use_autofilter: true,
        ..ProtectionOptions::default()
    };
    worksheet.protect_with_options(&options);
    Ok(())
}

fn write_form(
    worksheet: &mut Worksheet,
    sheet: &SheetSchema,
    mcos: &[Mco],
    rules: &Rules,
    values: Option<&Record>,
    styles: &Styles,
) -> Result<(), XlsxError> {
    worksheet.set_column_width(0, 26)?;
    worksheet.set_column_width(1, 40)?;
    worksheet.set_column_format(1, &styles.text)?;
    for (index, field) in sheet.fields.iter().enumerate() {
        let row = index as u32;
        worksheet.write_string_with_format(row, 0, field.header, &styles.label)?;
        let validation = match value_validation(field, mcos, rules)? {
            Some(validation) => validation,
            None => header_help(field, rules)?,
        };
        worksheet.add_data_validation(row, 1, row, 1, &validation)?;
        let value = values
            .and_then(|record| record.values.get(index))
            .and_then(Option::as_ref);
        write_value(worksheet, row, 1, field, value, mcos, styles)?;
    }
    worksheet.set_active(true);
    Ok(())
}

fn write_value(
    worksheet: &mut Worksheet,
    row: u32,
    column: u16,
    field: &Field,
    value: Option<&Value>,
    mcos: &[Mco],
    styles: &Styles,
) -> Result<(), XlsxError> {
    let Some(value) = value else { return Ok(()) };
    match value {
        Value::Text(text) => worksheet.write_string_with_format(row, column, text, &styles.text)?,
        Value::Date(date) => {
            let excel = ExcelDateTime::parse_from_str(&date.to_string())?;
            worksheet.write_datetime_with_format(row, column, &excel, &styles.date)?
        }
        Value::Money(money) => {
            worksheet.write_number_with_format(row, column, money.as_f64(), &styles.money)?
        }
        Value::Bool(flag) => {
            worksheet.write_string(row, column, if *flag { "Yes" } else { "No" })?
        }
        Value::Choice(index) => {
            let text = match field.ty {
                ValueType::Mco => mcos.get(*index).map_or("", |mco| mco.name.as_str()),
                ValueType::Choice(choices) => choices.get(*index).copied().unwrap_or(""),
                _ => "",
            };
            worksheet.write_string(row, column, text)?
        }
    };
    Ok(())
}

/// Input help shown when the header (or a form label's value) is selected.
fn header_help(field: &Field, rules: &Rules) -> Result<DataValidation, XlsxError> {
    DataValidation::new()
        .allow_any_value()
        .set_input_title(field.header)?
        .set_input_message(help_text(field, rules))
}

/// The input help: required or not, then the field's help, within Excel's 255
/// characters.
fn help_text(field: &Field, rules: &Rules) -> String {
    let required = if field.required {
        "Required. "
    } else {
        "Optional. "
    };
    format!("{required}{}", field.help_for(rules))
        .chars()
        .take(255)
        .collect()
}

/// The drop-down or range check of a field's value cells, with its input help.
fn value_validation(
    field: &Field,
    mcos: &[Mco],
    rules: &Rules,
) -> Result<Option<DataValidation>, XlsxError> {
    let base = DataValidation::new();
    let validation = match field.ty {
        ValueType::Choice(choices) => base.allow_list_strings(choices)?,
        ValueType::YesNo => base.allow_list_strings(&["Yes", "No"])?,
        ValueType::Mco => {
            let names: Vec<&str> = mcos.iter().map(|mco| mco.name.as_str()).collect();
            base.allow_list_strings(&names)?
        }
        ValueType::Date => base.allow_date(DataValidationRule::Between(
            ExcelDateTime::from_ymd(1990, 1, 1)?,
            ExcelDateTime::from_ymd(2199, 12, 31)?,
        )),
        ValueType::Money => {
            base.allow_decimal_number(DataValidationRule::GreaterThanOrEqualTo(0.0))
        }
        ValueType::Npi => base.allow_text_length(DataValidationRule::EqualTo(10)),
        ValueType::Digits { len } => {
            base.allow_text_length(DataValidationRule::EqualTo(len as u32))
        }
        ValueType::Text { max_len } => {
            base.allow_text_length(DataValidationRule::LessThanOrEqualTo(max_len as u32))
        }
        ValueType::Code
        | ValueType::Email
        | ValueType::Phone
        | ValueType::State
        | ValueType::Zip => {
            return Ok(None);
        }
    };
    let validation = validation
        .set_input_title(field.header)?
        .set_input_message(help_text(field, rules))?
        .set_error_title(
            format!("Check {}", field.header)
                .chars()
                .take(32)
                .collect::<String>(),
        )?
        .set_error_message(field.help_for(rules).chars().take(255).collect::<String>())?
        // A warning lets a provider keep a value the portal will then explain.
        .set_error_style(DataValidationErrorStyle::Warning);
    Ok(Some(validation))
}

/// The Instructions sheet; `ticket` is the id a response workbook is about.
fn write_instructions(
    worksheet: &mut Worksheet,
    kind: Kind,
    ticket: Option<&str>,
    mcos: &[Mco],
    rules: &Rules,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let max_lines = rules.max_lines;
    worksheet.set_name(INSTRUCTIONS_SHEET)?;
    worksheet.set_column_width(0, 30)?;
    worksheet.set_column_width(1, 12)?;
    worksheet.set_column_width(2, 90)?;
    worksheet.write_string_with_format(0, 0, kind.title(), &styles.title)?;
    let intro = match kind {
        Kind::Complaint => format!(
            "One template per MCO, one claim per row on the Claims sheet, from row 2: at most {max_lines} claims. \
             Fill every required column, then email the file to the portal's intake address. \
             Type dates as YYYY-MM-DD. Never put patient information in the email's text."
        ),
        Kind::RegistrationForm => "Fill every field in column B of the Registration sheet and email the form \
             from the Registrant Email address. Incomplete requests are denied. Allow at least 2 business days. \
             Never send a password by mail."
            .to_owned(),
        Kind::MultipleRegistration => format!(
            "Fill the Registrant sheet (column B) and list each provider or facility on the Providers sheet, \
             one per row from row 2 (at most {max_lines}). Email it from the Registrant Email address. \
             Incomplete requests are denied. Never send a password by mail."
        ),
        Kind::McoResponse => response_intro(ticket, rules),
    };
    worksheet.write_string_with_format(1, 0, &intro, &styles.wrap)?;
    worksheet.merge_range(1, 0, 1, 2, &intro, &styles.wrap)?;
    worksheet.set_row_height(1, if kind == Kind::McoResponse { 150 } else { 60 })?;
    let mut row = 3;
    for sheet in schema::sheets(kind) {
        worksheet.write_string_with_format(
            row,
            0,
            format!("Sheet {}", sheet.name),
            &styles.header,
        )?;
        worksheet.write_string_with_format(row, 1, "Required", &styles.header)?;
        worksheet.write_string_with_format(row, 2, "What to enter", &styles.header)?;
        row += 1;
        for (index, field) in sheet.fields.iter().enumerate() {
            if kind == Kind::McoResponse && index >= response::COMPLAINT_START {
                // The complaint's own columns, said once: their help is the provider's.
                if index == response::COMPLAINT_START {
                    let first = COMPLAINT[0].header;
                    let last = COMPLAINT[COMPLAINT.len() - 1].header;
                    worksheet.write_string(row, 0, format!("{first} … {last}"))?;
                    worksheet.write_string(row, 1, "—")?;
                    worksheet.write_string_with_format(
                        row,
                        2,
                        "The claim line as the provider sent it and HFS accepted it. Leave these cells as they are.",
                        &styles.wrap,
                    )?;
                    row += 1;
                }
                if index < response::DECISION {
                    continue;
                }
            }
            worksheet.write_string(row, 0, field.header)?;
            worksheet.write_string(row, 1, if field.required { "Yes" } else { "No" })?;
            let mut help = field.help_for(rules);
            if let ValueType::Choice(choices) = field.ty {
                help.push_str(&format!(" One of: {}.", choices.join("; ")));
            }
            if field.ty == ValueType::Mco {
                let names: Vec<&str> = mcos.iter().map(|mco| mco.name.as_str()).collect();
                help.push_str(&format!(" One of: {}.", names.join("; ")));
            }
            worksheet.write_string_with_format(row, 2, &help, &styles.wrap)?;
            row += 1;
        }
        row += 1;
    }
    Ok(())
}

/// How an MCO answers with the response workbook.
fn response_intro(ticket: Option<&str>, rules: &Rules) -> String {
    let id = ticket.unwrap_or("PRP-…");
    let extension_days = rules.extension_days;
    let decisions = schema::MCO_DECISIONS.join(", ");
    format!(
        "Illinois HFS forwards this provider complaint, ticket {id}, under 89 Ill. Adm. Code 140.75. \
         The Claims sheet holds one row per claim line HFS accepted: Ticket and Row name the line \
         (Row is its row in the provider's own template), the columns after them are the claim as the \
         provider sent it.\n\
         To answer: on every row, pick your decision in MCO Decision ({decisions}); MCO Comment is \
         optional. Do not add, remove or change \
         rows. Then reply to HFS's message, keeping [{id}] in the subject, with this workbook attached.\n\
         To ask for the one extension of {extension_days} days, put the word \"extension\" in the \
         subject of your reply."
    )
}
