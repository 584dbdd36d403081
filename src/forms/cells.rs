//! One cell read against its field's type, as PRODUCT.md's "How cells are read" says:
//! text trimmed, IDs typed as numbers kept without decimals and left-padded, Yes/No
//! spellings, drop-down values and MCOs matched case-insensitively, dates as date
//! cells, serial numbers or text.

use chrono::NaiveDate;

use super::read::Cell;
use super::schema::{Field, STATES, ValueType};
use crate::config::Mco;
use crate::rules::{Money, npi_is_valid, parse_date_text, parse_money_text, serial_to_date};

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

/// A cell that does not hold what its field needs. The sentence never quotes a value
/// from a PHI column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Reads one cell. `Ok(None)` is an empty cell.
pub fn parse(cell: Option<&Cell>, field: &Field, mcos: &[Mco]) -> Result<Option<Value>, Invalid> {
    let Some(cell) = cell else { return Ok(None) };
    let text = cell_text(cell);
    if text.is_empty() {
        return Ok(None);
    }
    if let Cell::Error(code) = cell {
        return Err(Invalid(format!(
            "The cell shows the error {code}: enter the value itself"
        )));
    }
    let typed = match field.ty {
        // The two text types hand the text on as it is; free text's one complaint, its
        // length, is a sentence of its own rather than one about the value.
        ValueType::Text { max_len } => return free_text(text, max_len).map(Some),
        ValueType::Code => return Ok(Some(Value::Text(text))),
        ValueType::Digits { len } => digits(&text, len),
        ValueType::Zip => zip(&text),
        ValueType::Npi => npi(&text),
        ValueType::Date => date(cell),
        ValueType::Money => money(cell, &text),
        ValueType::YesNo => yes_no(cell, &text),
        ValueType::Choice(choices) => choice(&text, choices),
        ValueType::Mco => mco(&text, mcos),
        ValueType::Email => email(&text),
        ValueType::Phone => phone(&text),
        ValueType::State => state(&text),
    };
    typed.map(Some).map_err(|what| {
        let shown = if field.phi {
            "The value".to_owned()
        } else {
            format!("\"{}\"", clip(&text))
        };
        Invalid(format!("{shown} {what}"))
    })
}

/// A cell's value as one type, or what is wrong with it, said after the value (or
/// after "The value" in a PHI column): `is not Yes or No`.
type Typed = Result<Value, String>;

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

/// An ID of `len` digits, such as a Recipient ID.
fn digits(text: &str, len: usize) -> Typed {
    padded_digits(text, len)
        .map(Value::Text)
        .ok_or_else(|| format!("is not a {len}-digit number"))
}

/// Five digits, or nine (ZIP+4, written with its hyphen).
fn zip(text: &str) -> Typed {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    let zip = if digits.len() > 5 {
        Some(digits.clone()).filter(|d| d.len() == 9)
    } else {
        padded_digits(&digits, 5)
    };
    match zip.filter(|zip| zip.bytes().all(|b| b.is_ascii_digit())) {
        Some(zip) if zip.len() == 9 => Ok(Value::Text(format!("{}-{}", &zip[..5], &zip[5..]))),
        Some(zip) => Ok(Value::Text(zip)),
        None => Err("is not a ZIP code (5 digits, or ZIP+4)".to_owned()),
    }
}

/// Ten digits whose check digit matches.
fn npi(text: &str) -> Typed {
    match padded_digits(text, 10) {
        Some(npi) if npi_is_valid(&npi) => Ok(Value::Text(npi)),
        Some(_) => Err(
            "is not a valid NPI: its check digit does not match; check the 10 digits".to_owned(),
        ),
        None => Err("is not an NPI: an NPI is 10 digits".to_owned()),
    }
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

/// A number cell as it is; text as dollars and cents.
fn money(cell: &Cell, text: &str) -> Typed {
    let money = match cell {
        Cell::Number(number) => Money::from_number(*number),
        _ => parse_money_text(text),
    };
    money
        .map(Value::Money)
        .ok_or_else(|| "is not an amount in dollars (0 or more, at most 2 decimals)".to_owned())
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
        .ok_or_else(|| format!("is not one of: {}", choices.join(", ")))
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
        Err("is not an email address".to_owned())
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
    if digits.len() == 10 && allowed {
        Ok(Value::Text(format!(
            "{}-{}-{}",
            &digits[..3],
            &digits[3..6],
            &digits[6..]
        )))
    } else {
        Err("is not a 10-digit phone number".to_owned())
    }
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

/// Digits only, left-padded with zeros to `len` (a spreadsheet drops leading zeros
/// from a number).
fn padded_digits(text: &str, len: usize) -> Option<String> {
    if text.is_empty() || text.len() > len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{text:0>len$}"))
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

/// Long values are cut in messages.
fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(40).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    clipped
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
    }

    #[test]
    fn phi_values_are_never_quoted() {
        let Err(Invalid(message)) = read(claim::RECIPIENT_ID, text("98765X")) else {
            panic!()
        };
        assert!(!message.contains("98765"), "{message}");
        let Err(Invalid(message)) = read(claim::PROVIDER_NPI, text("1234567890")) else {
            panic!()
        };
        assert!(message.contains("1234567890"), "{message}");
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
        let mcos = [];
        let field = |name: &str| REGISTRATION.iter().find(|f| f.header == name).unwrap();
        let phone = parse(
            Some(&text("(217) 555-0100")),
            field("Registrant Phone"),
            &mcos,
        );
        assert_eq!(phone, Ok(Some(Value::Text("217-555-0100".into()))));
        assert_eq!(
            parse(Some(&Cell::Number(6062.0)), field("ZIP"), &mcos),
            Ok(Some(Value::Text("06062".into())))
        );
        assert_eq!(
            parse(Some(&text("62701-1234")), field("ZIP"), &mcos),
            Ok(Some(Value::Text("62701-1234".into())))
        );
        assert!(parse(Some(&text("627")), field("ZIP"), &mcos).is_ok());
        assert!(parse(Some(&text("6270A")), field("ZIP"), &mcos).is_err());
        assert_eq!(
            parse(Some(&text("il")), field("State"), &mcos),
            Ok(Some(Value::Text("IL".into())))
        );
        assert!(parse(Some(&text("ZZ")), field("State"), &mcos).is_err());
        assert!(parse(Some(&text("a@b")), field("Registrant Email"), &mcos).is_err());
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
}
