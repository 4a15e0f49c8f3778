//! How long a card is valid (Resident Identity Card Law, Art. 5).

use time::{Date, Month};

/// A card's validity: from the issue date to `end`, or long-term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ValidityPeriod {
    pub start: Date,
    /// `None`: long-term.
    pub end: Option<Date>,
}

impl ValidityPeriod {
    /// 5, 10 or 20; `None` for long-term.
    pub fn years(&self) -> Option<u8> {
        self.end
            .map(|end| u8::try_from(end.year() - self.start.year()).expect("5, 10 or 20 years"))
    }

    pub fn is_long_term(&self) -> bool {
        self.end.is_none()
    }
}

/// Validity years by age on the issue date: under 16: 5; 16 to 25: 10; 26 to 45: 20;
/// 46 and over: long-term (`None`).
pub fn validity_years(age_on_issue: u32) -> Option<u8> {
    match age_on_issue {
        0..=15 => Some(5),
        16..=25 => Some(10),
        26..=45 => Some(20),
        _ => None,
    }
}

/// The validity of a card issued on `issue_date` to someone born on `birth_date`.
///
/// Age is in completed years on the issue date, so a card issued on the 16th birthday
/// is valid 10 years, and one issued the day before is valid 5.
///
/// End date rule: the period starts on the issue date and ends on the same month and
/// day N years later. When that day does not exist, i.e. a start on 29 February ending
/// in a common year, the period ends on 28 February (it never runs into March). A
/// 20-year period from 29 February of a leap year ends on 29 February, which exists.
pub fn validity_period(birth_date: Date, issue_date: Date) -> ValidityPeriod {
    let years = validity_years(completed_years(birth_date, issue_date));
    ValidityPeriod {
        start: issue_date,
        end: years.map(|n| same_day_years_later(issue_date, n)),
    }
}

/// The same month and day `years` later; 29 February becomes 28 February in a common
/// year.
pub(crate) fn same_day_years_later(date: Date, years: u8) -> Date {
    let year = date.year() + i32::from(years);
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .expect("28 February exists in every year")
}

/// Completed years from `birth` to `on` (0 if `on` is before `birth`). A year is
/// completed on the same month and day; for a 29 February birth that is 1 March in
/// common years.
pub fn completed_years(birth: Date, on: Date) -> u32 {
    if on <= birth {
        return 0;
    }
    let mut years = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    u32::try_from(years).expect("non-negative when on > birth")
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn completed_years_turn_over_on_the_birthday() {
        let birth = date!(2000 - 06 - 15);
        assert_eq!(completed_years(birth, date!(2016 - 06 - 14)), 15);
        assert_eq!(completed_years(birth, date!(2016 - 06 - 15)), 16);
        assert_eq!(completed_years(birth, date!(1999 - 01 - 01)), 0);
    }

    #[test]
    fn leap_day_birthday_completes_on_first_of_march() {
        let birth = date!(2008 - 02 - 29);
        assert_eq!(completed_years(birth, date!(2024 - 02 - 28)), 15);
        assert_eq!(completed_years(birth, date!(2023 - 02 - 28)), 14);
        assert_eq!(completed_years(birth, date!(2023 - 03 - 01)), 15);
        assert_eq!(completed_years(birth, date!(2024 - 02 - 29)), 16);
    }

    #[test]
    fn long_term_has_no_years() {
        let period = validity_period(date!(1950 - 01 - 01), date!(2020 - 01 - 01));
        assert_eq!(period.years(), None);
        assert!(period.is_long_term());
    }

    #[test]
    fn twenty_years_from_a_leap_day_keeps_the_leap_day() {
        let period = validity_period(date!(1990 - 05 - 05), date!(2024 - 02 - 29));
        assert_eq!(period.end, Some(date!(2044 - 02 - 29)));
    }
}
