//! The one place that reads the clock: "today" in Illinois (America/Chicago), for
//! commands that default a date. Rules never call this; they take the date.

use chrono::{NaiveDate, Utc};
use chrono_tz::America::Chicago;

/// Today's date in Illinois.
pub fn today_in_illinois() -> NaiveDate {
    Utc::now().with_timezone(&Chicago).date_naive()
}
