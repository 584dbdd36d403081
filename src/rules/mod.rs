//! The portal's rules as plain functions of plain data (R1, R7, R9 and the value
//! checks behind R2–R3). Nothing here reads a clock, a file or the network: the
//! caller passes `received` or `today`, so every rule can be tested at its edges.

mod calendar;
mod values;
mod window;

pub use calendar::{add_business_days, illinois_holidays, is_business_day};
pub use values::{
    Money, NPI_LEN, RECIPIENT_ID_LEN, ZIP_LEN, npi_is_valid, parse_date_text, parse_money_text,
    parse_money_text_decimal_comma, serial_to_date,
};
pub use window::{Window, WindowCheck};

/// R8: where fee-for-service complaints go instead of the portal.
pub const FEE_FOR_SERVICE_PHONE: &str = "877-782-5565";
