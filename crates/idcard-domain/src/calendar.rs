//! Working days in mainland China, as data per year.
//!
//! Each year's public holidays and the weekend days made working days (调休) come from
//! that year's State Council General Office notice on holiday arrangements
//! (国务院办公厅关于 YYYY 年部分节假日安排的通知):
//! - 2025: 国办发明电〔2024〕12号, 12 November 2024;
//! - 2026: notice of 4 November 2025.
//!
//! The 2027 notice had not been published when this data was written, so 2027 is not
//! covered yet: add it here when it is. For a year without data, working days are
//! Monday to Friday and [`HolidayCalendar::covers`] says `false`, so a caller can warn
//! that a deadline may fall on a holiday.

use time::macros::date;
use time::{Date, Duration, Month, Weekday};

/// One year's arrangement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolidayYear {
    pub year: i32,
    /// The notice the data comes from.
    pub source: &'static str,
    /// Days off, as inclusive ranges (weekend days inside a range included).
    pub holidays: &'static [(Date, Date)],
    /// Saturdays and Sundays that are working days.
    pub working_weekends: &'static [Date],
}

/// A calendar of working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolidayCalendar {
    years: &'static [HolidayYear],
}

const CHINA_YEARS: [HolidayYear; 2] = [
    HolidayYear {
        year: 2025,
        source: "国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12)",
        holidays: &[
            (date!(2025 - 01 - 01), date!(2025 - 01 - 01)),
            (date!(2025 - 01 - 28), date!(2025 - 02 - 04)),
            (date!(2025 - 04 - 04), date!(2025 - 04 - 06)),
            (date!(2025 - 05 - 01), date!(2025 - 05 - 05)),
            (date!(2025 - 05 - 31), date!(2025 - 06 - 02)),
            (date!(2025 - 10 - 01), date!(2025 - 10 - 08)),
        ],
        working_weekends: &[
            date!(2025 - 01 - 26),
            date!(2025 - 02 - 08),
            date!(2025 - 04 - 27),
            date!(2025 - 09 - 28),
            date!(2025 - 10 - 11),
        ],
    },
    HolidayYear {
        year: 2026,
        source: "国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)",
        holidays: &[
            (date!(2026 - 01 - 01), date!(2026 - 01 - 03)),
            (date!(2026 - 02 - 15), date!(2026 - 02 - 23)),
            (date!(2026 - 04 - 04), date!(2026 - 04 - 06)),
            (date!(2026 - 05 - 01), date!(2026 - 05 - 05)),
            (date!(2026 - 06 - 19), date!(2026 - 06 - 21)),
            (date!(2026 - 09 - 25), date!(2026 - 09 - 27)),
            (date!(2026 - 10 - 01), date!(2026 - 10 - 07)),
        ],
        working_weekends: &[
            date!(2026 - 01 - 04),
            date!(2026 - 02 - 14),
            date!(2026 - 02 - 28),
            date!(2026 - 05 - 09),
            date!(2026 - 09 - 20),
            date!(2026 - 10 - 10),
        ],
    },
];

static CHINA: HolidayCalendar = HolidayCalendar { years: &CHINA_YEARS };

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

impl HolidayCalendar {
    /// Mainland China, from the State Council General Office notices named in the
    /// module documentation.
    pub fn china() -> &'static HolidayCalendar {
        &CHINA
    }

    /// A calendar from other data (tests, or a year added before a release).
    pub const fn new(years: &'static [HolidayYear]) -> HolidayCalendar {
        HolidayCalendar { years }
    }

    /// Whether `year` has holiday data (otherwise only weekends are days off).
    pub fn covers(&self, year: i32) -> bool {
        self.year(year).is_some()
    }

    pub fn years(&self) -> &'static [HolidayYear] {
        self.years
    }

    fn year(&self, year: i32) -> Option<&'static HolidayYear> {
        self.years.iter().find(|y| y.year == year)
    }

    pub fn is_holiday(&self, d: Date) -> bool {
        self.year(d.year())
            .is_some_and(|y| y.holidays.iter().any(|&(first, last)| first <= d && d <= last))
    }

    pub fn is_working_day(&self, d: Date) -> bool {
        match self.year(d.year()) {
            Some(y) if y.working_weekends.contains(&d) => true,
            _ if self.is_holiday(d) => false,
            _ => !is_weekend(d),
        }
    }

    /// The `n`th working day after `from` (`from` itself is not counted, whether or not
    /// it is a working day); `from` when `n` is 0.
    pub fn add_working_days(&self, from: Date, n: u32) -> Date {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.next_day().expect("date within the supported range");
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}

/// `date` moved by `months` calendar months, keeping the day of the month or clamping it
/// to the last day of a shorter month (31 January + 1 month = 28 or 29 February).
pub fn add_months(date: Date, months: i32) -> Date {
    let index = date.year() * 12 + i32::from(date.month() as u8) - 1 + months;
    let year = index.div_euclid(12);
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).expect("1..=12")).expect("1..=12 is a month");
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).expect("day clamped to the month")
}

/// `date` plus `days` calendar days.
pub(crate) fn add_days(date: Date, days: u32) -> Date {
    date.checked_add(Duration::days(i64::from(days)))
        .expect("date within the supported range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_consistent() {
        for y in CHINA.years {
            for &(first, last) in y.holidays {
                assert!(first <= last && first.year() == y.year && last.year() == y.year);
            }
            for &d in y.working_weekends {
                assert!(is_weekend(d), "{d} is not a weekend day");
                assert!(!CHINA.is_holiday(d));
            }
        }
    }

    #[test]
    fn holiday_counts_match_the_notices() {
        let days_off =
            |year: &HolidayYear| -> i64 { year.holidays.iter().map(|&(a, b)| (b - a).whole_days() + 1).sum() };
        // 2025: 1 + 8 + 3 + 5 + 3 + 8; 2026: 3 + 9 + 3 + 5 + 3 + 3 + 7.
        assert_eq!(days_off(&CHINA_YEARS[0]), 28);
        assert_eq!(days_off(&CHINA_YEARS[1]), 33);
    }

    #[test]
    fn make_up_saturday_is_a_working_day() {
        let cal = HolidayCalendar::china();
        assert!(cal.is_working_day(date!(2026 - 02 - 14)));
        assert!(!cal.is_working_day(date!(2026 - 02 - 16)));
        assert!(!cal.is_working_day(date!(2026 - 02 - 21)));
        assert!(cal.covers(2026));
        assert!(!cal.covers(2027));
    }

    #[test]
    fn uncovered_years_fall_back_to_weekends() {
        let cal = HolidayCalendar::china();
        assert!(cal.is_working_day(date!(2027 - 10 - 01)));
        assert!(!cal.is_working_day(date!(2027 - 10 - 02)));
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(add_months(date!(2025 - 11 - 30), 3), date!(2026 - 02 - 28));
        assert_eq!(add_months(date!(2024 - 05 - 31), -3), date!(2024 - 02 - 29));
        assert_eq!(add_months(date!(2025 - 01 - 15), -1), date!(2024 - 12 - 15));
    }
}
