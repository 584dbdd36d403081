//! One cell read against its field's type, as PRODUCT.md's "How cells are read" says:
//! text trimmed; IDs typed as numbers kept without decimals; only a cell that holds a
//! number (in a CSV, a cell of digits only) left-padded with zeros, and only for a
//! Recipient ID or a ZIP code, never an NPI; Yes/No spellings, drop-down values and
//! MCOs matched case-insensitively; dates as date cells, serial numbers or text.

use chrono::NaiveDate;

use super::read::{Cell, Typing};
use super::schema::{Field, STATES, ValueType};
use crate::config::Mco;
use crate::rules::{
    Money, NPI_LEN, ZIP_LEN, npi_is_valid, parse_date_text, parse_money_text,
    parse_money_text_decimal_comma, serial_to_date,
};

/// A cell's value once it passed its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Date(NaiveDate),
    Money(Money),
    Bool(bool),
    /// Index into the field's list of choices (or into the configured MCOs).
    Choice(usize),
}

/// A cell that does not hold what its field needs, as a sentence that describes the
/// value and never repeats it (R10): people paste patient details into any column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Reads one cell of a sheet whose cells carry their types as `typing` says.
/// `Ok(None)` is an empty cell.
pub fn parse(
    cell: Option<&Cell>,
    field: &Field,
    mcos: &[Mco],
    typing: Typing,
) -> Result<Option<Value>, Invalid> {
    let Some(cell) = cell else { return Ok(None) };
    let text = cell_text(cell);
    if text.is_empty() {
        return Ok(None);
    }
    if let Cell::Error(code) = cell {
        // The code is calamine's own (#DIV/0!, #N/A, …), never what a person typed.
        return Err(Invalid(format!(
            "The cell shows the error {code}: enter the value itself"
        )));
    }
    let typed = match field.ty {
        // The two text types hand the text on as it is; free text's one complaint, its
        // length, is a sentence of its own rather than one about the value.
        ValueType::Text { max_len } => return free_text(text, max_len).map(Some),
        ValueType::Code => return Ok(Some(Value::Text(text))),
        ValueType::Digits { len } => digits(&text, len, field.header, holds_number(cell, typing)),
        ValueType::Zip => zip(&text, holds_number(cell, typing)),
        ValueType::Npi => npi(&text),
        ValueType::Date => date(cell),
        ValueType::Money => money(cell, &text, typing),
        ValueType::YesNo => yes_no(cell, &text),
        ValueType::Choice(choices) => choice(&text, choices),
        ValueType::Mco => mco(&text, mcos),
        ValueType::Email => email(&text),
        ValueType::Phone => phone(&text),
        ValueType::State => state(&text),
    };
    typed
        .map(Some)
        .map_err(|what| Invalid(format!("The value {what}")))
}

/// A cell's value as one type, or what is wrong with it, said after "The value":
/// `is not Yes or No`, `has 9 digits; an NPI has 10`.
type Typed = Result<Value, String>;

/// R10's one exception for free text: an MCO tracking number of 1 to 30 letters,
/// digits, `-`, `_`, `/` or `.`, with at least one digit, may be repeated in a notice.
/// Anything else (a name, a date of birth) is described instead.
pub fn is_safe_tracking_number(text: &str) -> bool {
    (1..=30).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_/.".contains(&b))
        && text.bytes().any(|b| b.is_ascii_digit())
}

/// Free text of at most `max_len` characters.
fn free_text(text: String, max_len: usize) -> Result<Value, Invalid> {
    let length = text.chars().count();
    if length > max_len {
        return Err(Invalid(format!(
            "The text is {length} characters long; at most {max_len} are allowed"
        )));
    }
    Ok(Value::Text(text))
}

/// `1 digit`, `9 digits`.
fn digit_count(count: usize) -> String {
    if count == 1 {
        "1 digit".to_owned()
    } else {
        format!("{count} digits")
    }
}

/// `text` when it is digits only; otherwise why not, ending with what `expected`.
fn only_digits<'t>(text: &'t str, expected: &str) -> Result<&'t str, String> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text)
    } else {
        Err(format!("holds characters other than digits; {expected}"))
    }
}

/// True when the cell holds a number, which a spreadsheet shows without its leading
/// zeros: a number cell, or in a CSV (which has no types) a cell of digits only.
fn holds_number(cell: &Cell, typing: Typing) -> bool {
    match cell {
        Cell::Number(_) => true,
        Cell::Text(text) => {
            matches!(typing, Typing::Text { .. })
                && !text.trim().is_empty()
                && text.trim().bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// `digits` left-padded with zeros to `len` when it is a number short of them.
fn padded(digits: &str, len: usize, number: bool) -> Option<String> {
    match digits.len() {
        found if found == len => Some(digits.to_owned()),
        found if found < len && number => Some(format!("{digits:0>len$}")),
        _ => None,
    }
}

/// An ID of `len` digits, such as a Recipient ID; a number short of digits has lost
/// its leading zeros.
fn digits(text: &str, len: usize, name: &str, number: bool) -> Typed {
    let digits = only_digits(text, &format!("a {name} is {len} digits"))?;
    padded(digits, len, number)
        .map(Value::Text)
        .ok_or_else(|| format!("has {}; a {name} has {len}", digit_count(digits.len())))
}

/// Five digits, or nine (ZIP+4, written with its hyphen); a number short of five has
/// lost its leading zeros.
fn zip(text: &str, number: bool) -> Typed {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    let digits = only_digits(
        &digits,
        "a ZIP code is 5 digits, or 9 with ZIP+4 (62701-1234)",
    )?;
    if digits.len() == 9 {
        return Ok(Value::Text(format!("{}-{}", &digits[..5], &digits[5..])));
    }
    padded(digits, ZIP_LEN, number)
        .map(Value::Text)
        .ok_or_else(|| {
            format!(
                "has {}; a ZIP code has 5, or 9 with ZIP+4 (62701-1234)",
                digit_count(digits.len())
            )
        })
}

/// Ten digits, never padded (an NPI never starts with 0), whose check digit matches.
fn npi(text: &str) -> Typed {
    let digits = only_digits(text, "an NPI is 10 digits")?;
    if digits.len() != NPI_LEN {
        return Err(format!(
            "has {}; an NPI has {NPI_LEN}",
            digit_count(digits.len())
        ));
    }
    if digits.starts_with('0') {
        return Err("starts with 0, which an NPI never does; check the 10 digits".to_owned());
    }
    if !npi_is_valid(digits) {
        return Err(
            "is not a valid NPI: its check digit does not match; check the 10 digits".to_owned(),
        );
    }
    Ok(Value::Text(digits.to_owned()))
}

/// A date cell, a serial number, or text such as `2026-10-01` or `10/01/2026`.
fn date(cell: &Cell) -> Typed {
    let date = match cell {
        Cell::Date(date) => Some(*date),
        Cell::Number(serial) => serial_to_date(*serial),
        Cell::Text(text) => parse_date_text(text),
        _ => None,
    };
    date.map(Value::Date)
        .ok_or_else(|| "is not a date; enter it as YYYY-MM-DD (for example 2026-10-01)".to_owned())
}

/// A number cell as it is; text as dollars and cents (in a CSV separated by
/// semicolons, with a decimal comma, or with commas between thousands before a point).
fn money(cell: &Cell, text: &str, typing: Typing) -> Typed {
    let decimal_comma = typing
        == Typing::Text {
            decimal_comma: true,
        };
    let money = match cell {
        Cell::Number(number) => Money::from_number(*number),
        _ if decimal_comma => parse_money_text_decimal_comma(text),
        _ => parse_money_text(text),
    };
    money.map(Value::Money).ok_or_else(|| {
        let below_zero = match cell {
            Cell::Number(number) => *number < 0.0,
            _ => text.starts_with('-'),
        };
        let example = if decimal_comma { "1250,00" } else { "1250.00" };
        if below_zero {
            "is below zero; an amount is 0 or more".to_owned()
        } else {
            format!("is not an amount in dollars such as {example} (0 or more, at most 2 decimals)")
        }
    })
}

/// A boolean cell, or `yes`, `y`, `no`, `n` in any case.
fn yes_no(cell: &Cell, text: &str) -> Typed {
    let answer = match cell {
        Cell::Bool(value) => Some(*value),
        _ => match text.to_ascii_lowercase().as_str() {
            "yes" | "y" => Some(true),
            "no" | "n" => Some(false),
            _ => None,
        },
    };
    answer
        .map(Value::Bool)
        .ok_or_else(|| "is not Yes or No".to_owned())
}

/// One of a drop-down's values, in any case.
fn choice(text: &str, choices: &[&str]) -> Typed {
    choices
        .iter()
        .position(|choice| choice.eq_ignore_ascii_case(text))
        .map(Value::Choice)
        .ok_or_else(|| format!("is not one of the choices: {}", choices.join(", ")))
}

/// A configured MCO, by name or code, in any case.
fn mco(text: &str, mcos: &[Mco]) -> Typed {
    let found = mcos
        .iter()
        .position(|mco| mco.name.eq_ignore_ascii_case(text) || mco.code.eq_ignore_ascii_case(text));
    found.map(Value::Choice).ok_or_else(|| {
        let names: Vec<&str> = mcos.iter().map(|mco| mco.name.as_str()).collect();
        format!("is not one of the MCOs: {}", names.join(", "))
    })
}

/// An address, kept in lower case.
fn email(text: &str) -> Typed {
    if is_email(text) {
        Ok(Value::Text(text.to_ascii_lowercase()))
    } else {
        Err("is not an email address such as name@example.org".to_owned())
    }
}

/// Ten digits (a leading 1 dropped), written `217-555-0100`.
fn phone(text: &str) -> Typed {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.strip_prefix('1') {
        Some(rest) if digits.len() == 11 => rest.to_owned(),
        _ => digits,
    };
    let allowed = text
        .chars()
        .all(|c| c.is_ascii_digit() || " ()-.+".contains(c));
    if !allowed {
        return Err(
            "holds characters other than digits, spaces and ( ) - . +; a phone number is 10 digits such as 217-555-0100"
                .to_owned(),
        );
    }
    if digits.len() != 10 {
        return Err(format!(
            "has {}; a phone number has 10, such as 217-555-0100",
            digit_count(digits.len())
        ));
    }
    Ok(Value::Text(format!(
        "{}-{}-{}",
        &digits[..3],
        &digits[3..6],
        &digits[6..]
    )))
}

/// A two-letter code, kept in upper case.
fn state(text: &str) -> Typed {
    let code = text.to_ascii_uppercase();
    if STATES.contains(&code.as_str()) {
        Ok(Value::Text(code))
    } else {
        Err("is not a two-letter state code such as IL".to_owned())
    }
}

/// A cell as text: trimmed; a whole number without decimals; a date as YYYY-MM-DD.
pub fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => text.trim().to_owned(),
        Cell::Number(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{}", *number as i64)
        }
        Cell::Number(number) => number.to_string(),
        Cell::Bool(true) => "TRUE".to_owned(),
        Cell::Bool(false) => "FALSE".to_owned(),
        Cell::Date(date) => date.to_string(),
        Cell::Error(code) => code.clone(),
    }
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && text.chars().all(|c| c.is_ascii_graphic())
}

/// A value safe to write back into a spreadsheet or CSV: text that a spreadsheet
/// would take for a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading
/// apostrophe, so it stays plain text.
pub fn neutralise_formula(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::schema::{COMPLAINT, REGISTRATION, claim};

    fn read(column: usize, cell: Cell) -> Result<Option<Value>, Invalid> {
        parse(
            Some(&cell),
            &COMPLAINT[column],
            &crate::config::Config::embedded().mcos,
            Typing::Typed,
        )
    }

    /// A cell of a CSV file, which has no types.
    fn read_csv(column: usize, typed: &str) -> Result<Option<Value>, Invalid> {
        parse(
            Some(&text(typed)),
            &COMPLAINT[column],
            &crate::config::Config::embedded().mcos,
            Typing::Text {
                decimal_comma: false,
            },
        )
    }

    fn text(value: &str) -> Cell {
        Cell::Text(value.to_owned())
    }

    #[test]
    fn ids_typed_as_numbers_keep_their_zeros() {
        assert_eq!(
            read(claim::RECIPIENT_ID, Cell::Number(12345678.0)),
            Ok(Some(Value::Text("012345678".into())))
        );
        assert_eq!(
            read(claim::RECIPIENT_ID, text(" 012345678 ")),
            Ok(Some(Value::Text("012345678".into())))
        );
        assert_eq!(
            read(claim::TRACKING_NUMBER, Cell::Number(7.0)),
            Ok(Some(Value::Text("7".into())))
        );
        assert!(read(claim::RECIPIENT_ID, text("12345678901")).is_err());
        assert!(read(claim::RECIPIENT_ID, Cell::Number(1.5)).is_err());
        // In a CSV a cell of digits only is such a number.
        assert_eq!(
            read_csv(claim::RECIPIENT_ID, "12345678"),
            Ok(Some(Value::Text("012345678".into())))
        );
    }

    #[test]
    fn ids_typed_as_text_keep_their_length_and_an_npi_is_never_padded() {
        let said = |result: Result<Option<Value>, Invalid>| match result {
            Err(Invalid(message)) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            said(read(claim::RECIPIENT_ID, text("12345678"))),
            "The value has 8 digits; a Recipient ID has 9"
        );
        assert_eq!(
            said(read(claim::RECIPIENT_ID, text("1"))),
            "The value has 1 digit; a Recipient ID has 9"
        );
        // Padded with zeros, each of these would pass the check digit.
        for npi in [
            read(claim::PROVIDER_NPI, text("6")),
            read(claim::PROVIDER_NPI, Cell::Number(6.0)),
            read_csv(claim::PROVIDER_NPI, "6"),
        ] {
            assert_eq!(said(npi), "The value has 1 digit; an NPI has 10");
        }
        assert_eq!(
            said(read_csv(claim::PROVIDER_NPI, "123456788")),
            "The value has 9 digits; an NPI has 10"
        );
        assert_eq!(
            said(read(claim::PROVIDER_NPI, text("0123456788"))),
            "The value starts with 0, which an NPI never does; check the 10 digits"
        );
        assert_eq!(
            read(claim::PROVIDER_NPI, Cell::Number(1_234_567_893.0)),
            Ok(Some(Value::Text("1234567893".into())))
        );
    }

    #[test]
    fn values_are_described_never_quoted() {
        let message = |column: usize, typed: &str| match read(column, text(typed)) {
            Err(Invalid(message)) => message,
            other => panic!("{typed}: {other:?}"),
        };
        let said = message(claim::RECIPIENT_ID, "98765X");
        assert!(!said.contains("98765"), "{said}");
        // Not even an NPI is repeated unless it passed its check digit (R10).
        let said = message(claim::PROVIDER_NPI, "1234567890");
        assert!(
            !said.contains("1234567890") && said.contains("check digit"),
            "{said}"
        );
        let said = message(claim::PROVIDER_NPI, "12345678901");
        assert_eq!(said, "The value has 11 digits; an NPI has 10");
        let said = message(claim::COVERAGE, "Patient ZELDA QUIMBY");
        assert!(
            !said.contains("QUIMBY") && said.starts_with("The value is not one of the choices: "),
            "{said}"
        );
        let said = message(claim::ISSUE_CATEGORY, "CLM-123456789");
        assert!(!said.contains("CLM"), "{said}");
        let said = message(claim::BILLED, "-50");
        assert_eq!(said, "The value is below zero; an amount is 0 or more");
    }

    #[test]
    fn safe_tracking_numbers() {
        for safe in ["0TRK-01000", "7", "A/2026.11_4-x", &"9".repeat(30)] {
            assert!(is_safe_tracking_number(safe), "{safe}");
        }
        for unsafe_ in [
            "",
            "TRK",
            "ZELDA QUIMBY 1961",
            "CLM 123",
            "123456789012345678901234567890X",
            "TRK-1\n",
            "TRK-é1",
            "(217)5550199",
        ] {
            assert!(!is_safe_tracking_number(unsafe_), "{unsafe_}");
        }
    }

    #[test]
    fn yes_no_and_choices_in_any_case() {
        for (typed, expected) in [("YES", true), ("y", true), ("No", false), ("n", false)] {
            assert_eq!(
                read(claim::EXHAUSTED, text(typed)),
                Ok(Some(Value::Bool(expected)))
            );
        }
        assert!(read(claim::EXHAUSTED, text("maybe")).is_err());
        assert_eq!(
            read(claim::COVERAGE, text("fee-for-service")),
            Ok(Some(Value::Choice(1)))
        );
        assert_eq!(
            read(claim::MCO, text(" molina ")),
            Ok(Some(Value::Choice(4)))
        );
        assert_eq!(
            read(claim::MCO, text("countycare health plan")),
            Ok(Some(Value::Choice(2)))
        );
        assert!(read(claim::MCO, text("Acme Health")).is_err());
    }

    #[test]
    fn dates_from_cells_serials_and_text() {
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        for cell in [
            Cell::Date(day),
            Cell::Number(46296.0),
            text("2026-10-01"),
            text("10/01/2026"),
        ] {
            assert_eq!(
                read(claim::FILED_WITH_MCO, cell),
                Ok(Some(Value::Date(day)))
            );
        }
        assert!(read(claim::FILED_WITH_MCO, text("tomorrow")).is_err());
    }

    #[test]
    fn empty_and_error_cells() {
        assert_eq!(read(claim::PROVIDER_NAME, text("   ")), Ok(None));
        assert!(read(claim::BILLED, Cell::Error("#DIV/0!".into())).is_err());
    }

    #[test]
    fn registration_values() {
        let field = |name: &str| REGISTRATION.iter().find(|f| f.header == name).unwrap();
        let typed = |cell: Cell, name: &str| parse(Some(&cell), field(name), &[], Typing::Typed);
        let csv = Typing::Text {
            decimal_comma: false,
        };
        assert_eq!(
            typed(text("(217) 555-0100"), "Registrant Phone"),
            Ok(Some(Value::Text("217-555-0100".into())))
        );
        assert_eq!(
            typed(Cell::Number(6062.0), "ZIP"),
            Ok(Some(Value::Text("06062".into())))
        );
        assert_eq!(
            typed(text("62701-1234"), "ZIP"),
            Ok(Some(Value::Text("62701-1234".into())))
        );
        // Typed as text, a ZIP must have its five digits; in a CSV, digits only are
        // a number that lost its zeros.
        assert_eq!(
            typed(text("627"), "ZIP"),
            Err(Invalid(
                "The value has 3 digits; a ZIP code has 5, or 9 with ZIP+4 (62701-1234)".into()
            ))
        );
        assert_eq!(
            parse(Some(&text("6062")), field("ZIP"), &[], csv),
            Ok(Some(Value::Text("06062".into())))
        );
        assert!(typed(text("6270A"), "ZIP").is_err());
        assert_eq!(
            typed(text("il"), "State"),
            Ok(Some(Value::Text("IL".into())))
        );
        assert!(typed(text("ZZ"), "State").is_err());
        assert!(typed(text("a@b"), "Registrant Email").is_err());
    }

    #[test]
    fn formula_text_is_neutralised() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralise_formula("+1"), "'+1");
        assert_eq!(neutralise_formula("@SUM"), "'@SUM");
        assert_eq!(neutralise_formula("-2"), "'-2");
        assert_eq!(neutralise_formula("plain"), "plain");
    }

    /// Money cells: 13 whole digits typed as text are read, a 14th is refused as not
    /// an amount (not as below zero).
    #[test]
    fn money_cells_hold_at_most_13_whole_digits() {
        assert_eq!(
            read(claim::BILLED, text("9999999999999.99")),
            Ok(Some(Value::Money(Money {
                cents: 999_999_999_999_999
            })))
        );
        let refused = read(claim::BILLED, text("10000000000000")).unwrap_err();
        assert!(refused.0.contains("is not an amount"), "{}", refused.0);
        assert_eq!(
            read(claim::BILLED, Cell::Number(1e13)),
            Ok(Some(Value::Money(Money {
                cents: 1_000_000_000_000_000
            })))
        );
        assert!(read(claim::BILLED, Cell::Number(2e13)).is_err());
    }

    /// Money cells: a leading `+` is refused, and described as not an amount.
    #[test]
    fn money_cells_refuse_a_leading_plus() {
        for typed in ["+12", "+12.50"] {
            let refused = read(claim::BILLED, text(typed)).unwrap_err();
            assert!(refused.0.contains("is not an amount"), "{}", refused.0);
            assert!(!refused.0.contains("below zero"), "{}", refused.0);
            assert!(read_csv(claim::PAID, typed).is_err(), "{typed}");
        }
        // A negative amount as text or as a number is said to be below zero.
        let below = read(claim::BILLED, text("-12")).unwrap_err();
        assert!(below.0.contains("below zero"), "{}", below.0);
        let below = read(claim::BILLED, Cell::Number(-12.0)).unwrap_err();
        assert!(below.0.contains("below zero"), "{}", below.0);
    }

    /// Money in a CSV separated by semicolons: a decimal comma, or commas between
    /// thousands before a decimal point (`#,##0.00` from a US spreadsheet); `1,250`,
    /// which could be either, is refused and described.
    #[test]
    fn money_in_a_csv_with_decimal_commas() {
        let read = |typed: &str| {
            parse(
                Some(&text(typed)),
                &COMPLAINT[claim::BILLED],
                &crate::config::Config::embedded().mcos,
                Typing::Text {
                    decimal_comma: true,
                },
            )
        };
        let money = |cents| Ok(Some(Value::Money(Money { cents })));
        assert_eq!(read("1,250.50"), money(125_050));
        assert_eq!(read("125,50"), money(12_550));
        assert_eq!(read("1.250,50"), money(125_050));
        let refused = read("1,250").unwrap_err();
        assert!(refused.0.contains("such as 1250,00"), "{}", refused.0);
        assert!(!refused.0.contains("1,250"), "{}", refused.0);
    }

    /// Date cells: a US date with a one-digit month or day is that date.
    #[test]
    fn date_cells_with_one_digit_month_or_day() {
        let date = |y, m, d| Ok(Some(Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())));
        assert_eq!(
            read(claim::SERVICE_FROM, text("1/15/2026")),
            date(2026, 1, 15)
        );
        assert_eq!(
            read(claim::SERVICE_TO, text("12/5/2026")),
            date(2026, 12, 5)
        );
        assert_eq!(
            read_csv(claim::FILED_WITH_MCO, "1/5/2026"),
            date(2026, 1, 5)
        );
    }
}
