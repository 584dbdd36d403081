//! Illinois state business days (R7, R9): weekdays that are not state legal holidays
//! (5 ILCS 490) or extra closure days from the config. A holiday that falls on a
//! Saturday is observed the Friday before, on a Sunday the Monday after.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The observed dates of the Illinois state holidays that fall in `year`, sorted.
/// Includes a New Year's Day of `year + 1` observed on December 31 of `year`.
pub fn illinois_holidays(year: i32) -> Vec<NaiveDate> {
    // No holiday of the year before is observed in this one (none falls on December
    // 31); New Year's Day of the year after may be.
    let mut observed: Vec<NaiveDate> = [year, year + 1]
        .into_iter()
        .flat_map(actual_holidays)
        .map(observe)
        .filter(|day| day.year() == year)
        .collect();
    observed.sort();
    observed.dedup();
    observed
}

/// True when state offices are open on `day`.
pub fn is_business_day(day: NaiveDate, closure_days: &[NaiveDate]) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
        && !closure_days.contains(&day)
        && !illinois_holidays(day.year()).contains(&day)
}

/// The day on which `count` business days have passed after `start`; `start` itself
/// never counts (the day a request arrives is not a day of review).
pub fn add_business_days(start: NaiveDate, count: u32, closure_days: &[NaiveDate]) -> NaiveDate {
    let mut day = start;
    let mut holidays = illinois_holidays(day.year());
    let mut remaining = count;
    while remaining > 0 {
        let Some(next) = day.checked_add_days(Days::new(1)) else {
            return NaiveDate::MAX;
        };
        if next.year() != day.year() {
            holidays = illinois_holidays(next.year());
        }
        day = next;
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        if !weekend && !holidays.contains(&day) && !closure_days.contains(&day) {
            remaining -= 1;
        }
    }
    day
}

/// The holidays of `year` on their legal dates, before weekend observance.
fn actual_holidays(year: i32) -> Vec<NaiveDate> {
    let fixed = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    let nth = |month, weekday, n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n);
    let mut days = vec![
        fixed(1, 1),                                         // New Year's Day
        nth(1, Weekday::Mon, 3),                             // Martin Luther King Jr. Day
        fixed(2, 12),                                        // Lincoln's Birthday
        nth(2, Weekday::Mon, 3),                             // Presidents' Day
        last_weekday_of_month(year, 5, Weekday::Mon),        // Memorial Day
        fixed(6, 19),                                        // Juneteenth
        fixed(7, 4),                                         // Independence Day
        nth(9, Weekday::Mon, 1),                             // Labor Day
        nth(10, Weekday::Mon, 2),                            // Columbus Day
        fixed(11, 11),                                       // Veterans Day
        nth(11, Weekday::Thu, 4),                            // Thanksgiving
        nth(11, Weekday::Thu, 4).and_then(|d| d.succ_opt()), // the day after
        fixed(12, 25),                                       // Christmas
    ];
    if year % 2 == 0 {
        // General Election Day: the Tuesday after the first Monday of November.
        days.push(nth(11, Weekday::Mon, 1).and_then(|monday| monday.succ_opt()));
    }
    days.into_iter().flatten().collect()
}

fn observe(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day.pred_opt().unwrap_or(day),
        Weekday::Sun => day.succ_opt().unwrap_or(day),
        _ => day,
    }
}

fn last_weekday_of_month(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn holidays_of_2026_with_observance() {
        let days: Vec<String> = illinois_holidays(2026)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            days,
            [
                "2026-01-01", // Thursday
                "2026-01-19", // MLK: third Monday
                "2026-02-12", // Lincoln
                "2026-02-16", // Presidents' Day
                "2026-05-25", // Memorial Day: last Monday
                "2026-06-19", // Juneteenth, Friday
                "2026-07-03", // July 4 is a Saturday: observed Friday
                "2026-09-07", // Labor Day
                "2026-10-12", // Columbus Day
                "2026-11-03", // General Election Day (even year)
                "2026-11-11", // Veterans Day
                "2026-11-26", // Thanksgiving
                "2026-11-27", // the day after
                "2026-12-25", // Christmas, Friday
            ]
        );
    }

    #[test]
    fn no_election_day_in_odd_years() {
        assert!(!illinois_holidays(2027).contains(&date("2027-11-02")));
        assert!(illinois_holidays(2028).contains(&date("2028-11-07")));
    }

    #[test]
    fn sunday_holidays_move_to_monday() {
        // 2027-07-04 and 2027-12-25 are a Sunday and a Saturday.
        let days = illinois_holidays(2027);
        assert!(days.contains(&date("2027-07-05")));
        assert!(!days.contains(&date("2027-07-04")));
        assert!(days.contains(&date("2027-12-24")));
        // Juneteenth 2027 is a Saturday: observed Friday 2027-06-18.
        assert!(days.contains(&date("2027-06-18")));
    }

    #[test]
    fn new_year_on_saturday_is_observed_in_the_year_before() {
        // 2028-01-01 is a Saturday: observed Friday 2027-12-31.
        assert!(illinois_holidays(2027).contains(&date("2027-12-31")));
        assert!(!illinois_holidays(2028).contains(&date("2027-12-31")));
        assert!(!illinois_holidays(2028).contains(&date("2028-01-01")));
    }

    #[test]
    fn memorial_day_is_the_last_monday_even_in_a_five_monday_may() {
        assert!(illinois_holidays(2027).contains(&date("2027-05-31")));
        assert!(illinois_holidays(2028).contains(&date("2028-05-29")));
    }

    #[test]
    fn two_business_days_skip_the_day_received_and_the_weekend() {
        // Received Thursday 2026-10-01: Friday, Monday.
        assert_eq!(
            add_business_days(date("2026-10-01"), 2, &[]),
            date("2026-10-05")
        );
        // Received Friday: Monday, Tuesday.
        assert_eq!(
            add_business_days(date("2026-10-02"), 2, &[]),
            date("2026-10-06")
        );
        // Received Saturday: Monday, Tuesday.
        assert_eq!(
            add_business_days(date("2026-10-03"), 2, &[]),
            date("2026-10-06")
        );
    }

    #[test]
    fn thanksgiving_week_and_new_year() {
        // Received Wednesday 2026-11-25: Thu/Fri are holidays → Mon 30, Tue Dec 1.
        assert_eq!(
            add_business_days(date("2026-11-25"), 2, &[]),
            date("2026-12-01")
        );
        // Received 2026-12-30 (Wed): Dec 31 Thu, then Jan 1 holiday, Jan 2 Sat → Mon Jan 4.
        assert_eq!(
            add_business_days(date("2026-12-30"), 2, &[]),
            date("2027-01-04")
        );
        // Received 2027-12-29: Dec 30, then Dec 31 (observed New Year) → Monday 2028-01-03.
        assert_eq!(
            add_business_days(date("2027-12-29"), 2, &[]),
            date("2028-01-03")
        );
    }

    #[test]
    fn closure_days_from_config_count_as_closed() {
        let closures = [date("2026-10-05")];
        assert!(!is_business_day(date("2026-10-05"), &closures));
        assert_eq!(
            add_business_days(date("2026-10-01"), 2, &closures),
            date("2026-10-06")
        );
    }

    #[test]
    fn zero_days_is_the_start_and_leap_day_is_a_business_day() {
        assert_eq!(
            add_business_days(date("2028-02-28"), 0, &[]),
            date("2028-02-28")
        );
        assert!(is_business_day(date("2028-02-29"), &[]));
        assert_eq!(
            add_business_days(date("2028-02-28"), 1, &[]),
            date("2028-02-29")
        );
    }
}
