//! Value rules shared by the readers and validators: NPI check digits, fixed-length
//! identifiers, money and dates as providers type them.

use chrono::{Days, NaiveDate};

/// Digits in a National Provider Identifier.
pub const NPI_LEN: usize = 10;
/// Digits in an HFS recipient identification number.
pub const RECIPIENT_ID_LEN: usize = 9;
/// Digits in a ZIP code (a ZIP+4 is accepted as 9 digits).
pub const ZIP_LEN: usize = 5;

/// True when `npi` is ten digits, the first not 0, whose last is the Luhn check digit
/// computed over the prefix `80840` and the first nine digits (45 CFR 162.406).
pub fn npi_is_valid(npi: &str) -> bool {
    let bytes = npi.as_bytes();
    if bytes.len() != NPI_LEN || !bytes.iter().all(u8::is_ascii_digit) || bytes[0] == b'0' {
        return false;
    }
    // The prefix 80840 always contributes 24 to the Luhn sum.
    let mut sum = 24;
    for (index, byte) in bytes[..9].iter().rev().enumerate() {
        let digit = u32::from(byte - b'0');
        sum += if index % 2 == 0 {
            let doubled = digit * 2;
            doubled / 10 + doubled % 10
        } else {
            digit
        };
    }
    let check = (10 - sum % 10) % 10;
    u32::from(bytes[9] - b'0') == check
}

/// An amount of money in cents, never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money {
    pub cents: u64,
}

impl Money {
    /// From a number cell: at most two decimals (after rounding away binary noise).
    pub fn from_number(value: f64) -> Option<Money> {
        if !value.is_finite() || !(0.0..=1e13).contains(&value) {
            return None;
        }
        let cents = (value * 100.0).round();
        ((value * 100.0 - cents).abs() < 1e-6).then_some(Money {
            cents: cents as u64,
        })
    }

    /// The amount as a plain decimal number.
    pub fn as_f64(self) -> f64 {
        self.cents as f64 / 100.0
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.cents / 100, self.cents % 100)
    }
}

/// Money typed as text: `1234.5`, `$1,234.50`, ` 12 `. Negative amounts, more than
/// two decimals and anything else are `None`.
pub fn parse_money_text(text: &str) -> Option<Money> {
    parse_money(text, '.', ',')
}

/// Money typed as text where the decimal mark is a comma, as in a CSV file separated
/// by semicolons: `125,50`, `1.234,50`. Text that reads only with a decimal point is
/// taken as written that way when that is unambiguous: without a comma (`125.50`), or
/// with commas between thousands before the point (`1,250.50`, as a US spreadsheet
/// writes the template's `#,##0.00` into a file separated by semicolons). `1,250`
/// stays refused: it could be either.
pub fn parse_money_text_decimal_comma(text: &str) -> Option<Money> {
    parse_money(text, ',', '.').or_else(|| {
        parse_money(text, '.', ',').filter(|_| !text.contains(',') || text.contains('.'))
    })
}

/// Money with `decimal` as the decimal mark and `thousands` between groups of three.
fn parse_money(text: &str, decimal: char, thousands: char) -> Option<Money> {
    let text = text.trim();
    let text = text.strip_prefix('$').unwrap_or(text).trim_start();
    if text.is_empty() {
        return None;
    }
    let (whole, fraction) = match text.split_once(decimal) {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Thousands separators only in their proper places.
    let groups: Vec<&str> = whole.split(thousands).collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let digits: String = groups.concat();
    if !grouped_ok || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 13 {
        return None;
    }
    let whole: u64 = digits.parse().ok()?;
    let fraction: u64 = format!("{fraction:0<2}").parse().ok()?;
    Some(Money {
        cents: whole * 100 + fraction,
    })
}

/// A date typed as text: ISO `2026-10-01`, or US `10/01/2026` and `10/1/2026`.
pub fn parse_date_text(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    // A date-time in ISO form (as ODS stores date cells) keeps its date part.
    let text = text.split_once('T').map_or(text, |(date, _)| date);
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return plausible(date);
    }
    let mut parts = text.split('/');
    let (Some(month), Some(day), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if year.len() != 4 || month.is_empty() || month.len() > 2 || day.is_empty() || day.len() > 2 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)?;
    plausible(date)
}

/// A spreadsheet serial day number (1900 date system: day 1 is 1900-01-01, with
/// Excel's phantom 1900-02-29, so serials from 61 on count from 1899-12-30).
pub fn serial_to_date(serial: f64) -> Option<NaiveDate> {
    if !serial.is_finite() || !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    plausible(base.checked_add_days(Days::new(serial.floor() as u64))?)
}

/// Dates a provider could mean: 1900 through 2199.
fn plausible(date: NaiveDate) -> Option<NaiveDate> {
    use chrono::Datelike;
    (1900..2200).contains(&date.year()).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain number for a spreadsheet cell: dollars, with the cents as decimals.
    #[test]
    fn money_as_a_number_is_dollars_and_cents() {
        assert_eq!(Money { cents: 125_050 }.as_f64(), 1250.5);
        assert_eq!(Money { cents: 1 }.as_f64(), 0.01);
        assert_eq!(Money { cents: 0 }.as_f64(), 0.0);
    }

    #[test]
    fn npi_check_digits() {
        // The CMS example NPI and its neighbours.
        assert!(npi_is_valid("1234567893"));
        for wrong in 0..=9 {
            if wrong != 3 {
                assert!(!npi_is_valid(&format!("123456789{wrong}")), "{wrong}");
            }
        }
        assert!(npi_is_valid("1245319599"));
        assert!(npi_is_valid("1003000126"));
        assert!(!npi_is_valid("123456789"));
        // Luhn alone would take these: an NPI never starts with 0.
        assert!(!npi_is_valid("0000000006"));
        assert!(!npi_is_valid("0123456788"));
        assert!(!npi_is_valid("12345678933"));
        assert!(!npi_is_valid("12345678a3"));
        assert!(!npi_is_valid(""));
    }

    #[test]
    fn money_from_text() {
        assert_eq!(parse_money_text("1234.5"), Some(Money { cents: 123_450 }));
        assert_eq!(
            parse_money_text("$1,234.50"),
            Some(Money { cents: 123_450 })
        );
        assert_eq!(parse_money_text(" 0 "), Some(Money { cents: 0 }));
        assert_eq!(
            parse_money_text("12,345,678.09"),
            Some(Money {
                cents: 1_234_567_809
            })
        );
        for bad in [
            "-5", "1.234", "12,34", "abc", "", "$", "1e5", ",123", "1.2.3",
        ] {
            assert_eq!(parse_money_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn money_with_a_decimal_comma() {
        let parse = parse_money_text_decimal_comma;
        assert_eq!(parse("125,50"), Some(Money { cents: 12_550 }));
        assert_eq!(parse("1.234,5"), Some(Money { cents: 123_450 }));
        assert_eq!(parse("$ 12"), Some(Money { cents: 1_200 }));
        assert_eq!(parse("1.250"), Some(Money { cents: 125_000 }));
        assert_eq!(parse("125.50"), Some(Money { cents: 12_550 }));
        for bad in ["-5", "1,234", "12.34,5", "1,2,3", "abc", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    /// With a decimal comma, a point after commas that group thousands is a decimal
    /// point after all, as a US spreadsheet writes `#,##0.00` into a file separated by
    /// semicolons; a German thousands point reads too; anything that could be either
    /// stays refused.
    #[test]
    fn money_with_a_decimal_comma_or_thousands_commas_before_a_point() {
        let parse = parse_money_text_decimal_comma;
        let cents = |cents| Some(Money { cents });
        assert_eq!(parse("1,250.50"), cents(125_050));
        assert_eq!(parse("$1,250.50"), cents(125_050));
        assert_eq!(parse("12,345,678.00"), cents(1_234_567_800));
        assert_eq!(parse("1,250.5"), cents(125_050));
        assert_eq!(parse("125,50"), cents(12_550));
        assert_eq!(parse("1.250,50"), cents(125_050));
        assert_eq!(parse("12.345.678,00"), cents(1_234_567_800));
        for ambiguous_or_bad in [
            "1,250",
            "12,345,678",
            "1,25.50",
            "12,3456.00",
            ",250.50",
            "1,250.505",
            "1.250.50",
            "1,250.50,00",
            "1.250,50.00",
            "-1,250.50",
        ] {
            assert_eq!(parse(ambiguous_or_bad), None, "{ambiguous_or_bad}");
        }
    }

    #[test]
    fn money_from_numbers_forgives_binary_noise_only() {
        assert_eq!(Money::from_number(12.3), Some(Money { cents: 1230 }));
        assert_eq!(Money::from_number(0.1 + 0.2), Some(Money { cents: 30 }));
        assert_eq!(Money::from_number(1.005), None);
        assert_eq!(Money::from_number(-0.01), None);
        assert_eq!(Money::from_number(f64::NAN), None);
        assert_eq!(Money { cents: 123_405 }.to_string(), "1234.05");
    }

    #[test]
    fn dates_in_the_forms_providers_type() {
        let expected = NaiveDate::from_ymd_opt(2026, 10, 1);
        assert_eq!(parse_date_text("2026-10-01"), expected);
        assert_eq!(parse_date_text("10/01/2026"), expected);
        assert_eq!(parse_date_text("10/1/2026"), expected);
        assert_eq!(parse_date_text(" 2026-10-01T00:00:00 "), expected);
        assert_eq!(
            parse_date_text("2028-02-29"),
            NaiveDate::from_ymd_opt(2028, 2, 29)
        );
        for bad in [
            "2027-02-29",
            "13/01/2026",
            "10/01/26",
            "yesterday",
            "",
            "1/2/3/2026",
        ] {
            assert_eq!(parse_date_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn serial_numbers() {
        assert_eq!(
            serial_to_date(46296.0),
            NaiveDate::from_ymd_opt(2026, 10, 1)
        );
        assert_eq!(serial_to_date(61.0), NaiveDate::from_ymd_opt(1900, 3, 1));
        assert_eq!(
            serial_to_date(46296.75),
            NaiveDate::from_ymd_opt(2026, 10, 1)
        );
        assert_eq!(serial_to_date(-1.0), None);
        assert_eq!(serial_to_date(1e12), None);
    }

    /// Money: the whole part holds at most 13 digits; a 14th is refused (text cells).
    #[test]
    fn money_text_holds_at_most_13_whole_digits() {
        assert_eq!(
            parse_money_text("9999999999999.99"),
            Some(Money {
                cents: 999_999_999_999_999
            })
        );
        assert_eq!(
            parse_money_text("9,999,999,999,999"),
            Some(Money {
                cents: 999_999_999_999_900
            })
        );
        assert_eq!(parse_money_text("10000000000000"), None);
        assert_eq!(parse_money_text("10,000,000,000,000"), None);
        assert_eq!(parse_money_text_decimal_comma("10.000.000.000.000"), None);
    }

    /// Money: a number cell is accepted up to 1e13 itself, and refused above it.
    #[test]
    fn money_number_cells_stop_at_ten_trillion() {
        assert_eq!(
            Money::from_number(1e13),
            Some(Money {
                cents: 1_000_000_000_000_000
            })
        );
        assert_eq!(Money::from_number(1e13 + 0.01), None);
        assert_eq!(Money::from_number(f64::INFINITY), None);
    }

    /// Money: a leading `+` is not part of an amount as typed: refused.
    #[test]
    fn money_with_a_leading_plus_is_refused() {
        for bad in ["+12", "+12.50", "$+12", "+1,234.50"] {
            assert_eq!(parse_money_text(bad), None, "{bad}");
            assert_eq!(parse_money_text_decimal_comma(bad), None, "{bad}");
        }
    }

    /// Dates: a US date with a one-digit month or day is that date; three digits are not.
    #[test]
    fn us_dates_with_one_digit_month_or_day() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(parse_date_text("1/15/2026"), date(2026, 1, 15));
        assert_eq!(parse_date_text("12/5/2026"), date(2026, 12, 5));
        assert_eq!(parse_date_text("1/5/2026"), date(2026, 1, 5));
        assert_eq!(parse_date_text("01/05/2026"), date(2026, 1, 5));
        for bad in [
            "001/5/2026",
            "1/005/2026",
            "/5/2026",
            "1//2026",
            "1/5/02026",
        ] {
            assert_eq!(parse_date_text(bad), None, "{bad}");
        }
    }

    /// Dates: only the years 1900 through 2199 are plausible.
    #[test]
    fn plausible_years_are_1900_to_2199() {
        assert_eq!(
            parse_date_text("1900-01-01"),
            NaiveDate::from_ymd_opt(1900, 1, 1)
        );
        assert_eq!(
            parse_date_text("12/31/2199"),
            NaiveDate::from_ymd_opt(2199, 12, 31)
        );
        assert_eq!(parse_date_text("1899-12-31"), None);
        assert_eq!(parse_date_text("01/01/2200"), None);
        // Serial numbers: the last plausible day and the one after; below 61, none.
        assert_eq!(
            serial_to_date(109_574.0),
            NaiveDate::from_ymd_opt(2199, 12, 31)
        );
        assert_eq!(serial_to_date(109_575.0), None);
        assert_eq!(serial_to_date(60.0), None);
    }
}
