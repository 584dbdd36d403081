//! R1: a complaint reaches HFS no sooner than 30 and no later than 60 calendar days
//! after the provider filed it with the MCO (bounds from config).

use chrono::{Days, NaiveDate};

/// The accepted span of calendar days between filing with the MCO and HFS receiving
/// the complaint, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub min_days: u32,
    pub max_days: u32,
}

/// Where a filing date falls relative to the received date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowCheck {
    /// Within the window.
    InWindow,
    /// Received fewer than `min_days` after filing.
    TooEarly {
        earliest: NaiveDate,
        latest: NaiveDate,
    },
    /// Received more than `max_days` after filing.
    TooLate {
        earliest: NaiveDate,
        latest: NaiveDate,
    },
    /// The filing date is after the received date: not a window problem but an
    /// invalid value (R3).
    FiledAfterReceived,
}

impl Window {
    /// The first and last day HFS accepts a complaint filed with the MCO on `filed_on`.
    pub fn accepted_range(&self, filed_on: NaiveDate) -> (NaiveDate, NaiveDate) {
        let add = |days: u32| {
            filed_on
                .checked_add_days(Days::new(u64::from(days)))
                .unwrap_or(NaiveDate::MAX)
        };
        (add(self.min_days), add(self.max_days))
    }

    /// Applies R1 to one claim line.
    pub fn check(&self, filed_on: NaiveDate, received_on: NaiveDate) -> WindowCheck {
        if filed_on > received_on {
            return WindowCheck::FiledAfterReceived;
        }
        let days = (received_on - filed_on).num_days();
        let (earliest, latest) = self.accepted_range(filed_on);
        if days < i64::from(self.min_days) {
            WindowCheck::TooEarly { earliest, latest }
        } else if days > i64::from(self.max_days) {
            WindowCheck::TooLate { earliest, latest }
        } else {
            WindowCheck::InWindow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Window = Window {
        min_days: 30,
        max_days: 60,
    };

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn after(days: u64) -> WindowCheck {
        let filed = date("2026-11-01");
        WINDOW.check(filed, filed.checked_add_days(Days::new(days)).unwrap())
    }

    #[test]
    fn day_29_is_too_early_and_names_the_range() {
        assert_eq!(
            after(29),
            WindowCheck::TooEarly {
                earliest: date("2026-12-01"),
                latest: date("2026-12-31")
            }
        );
    }

    #[test]
    fn days_30_and_60_are_inside() {
        assert_eq!(after(30), WindowCheck::InWindow);
        assert_eq!(after(45), WindowCheck::InWindow);
        assert_eq!(after(60), WindowCheck::InWindow);
    }

    #[test]
    fn day_61_is_too_late() {
        assert!(matches!(after(61), WindowCheck::TooLate { .. }));
    }

    #[test]
    fn same_day_is_too_early_and_a_future_filing_is_invalid() {
        assert!(matches!(after(0), WindowCheck::TooEarly { .. }));
        assert_eq!(
            WINDOW.check(date("2026-11-02"), date("2026-11-01")),
            WindowCheck::FiledAfterReceived
        );
    }

    #[test]
    fn the_window_crosses_a_leap_day() {
        // 2028-01-31 + 30 days = 2028-03-01 in a leap year.
        let (earliest, latest) = WINDOW.accepted_range(date("2028-01-31"));
        assert_eq!(earliest, date("2028-03-01"));
        assert_eq!(latest, date("2028-03-31"));
        assert_eq!(
            WINDOW.check(date("2028-01-31"), date("2028-02-29")),
            WindowCheck::TooEarly { earliest, latest }
        );
        let (earliest, _) = WINDOW.accepted_range(date("2027-01-31"));
        assert_eq!(earliest, date("2027-03-02"));
    }

    #[test]
    fn bounds_come_from_the_caller() {
        let wide = Window {
            min_days: 10,
            max_days: 90,
        };
        let filed = date("2026-01-01");
        assert_eq!(wide.check(filed, date("2026-01-11")), WindowCheck::InWindow);
        assert_eq!(wide.check(filed, date("2026-04-01")), WindowCheck::InWindow);
        assert!(matches!(
            wide.check(filed, date("2026-04-02")),
            WindowCheck::TooLate { .. }
        ));
    }
}
