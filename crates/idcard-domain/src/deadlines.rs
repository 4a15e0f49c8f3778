//! Time limits of the remote acceptance and production rules.
//!
//! How days are counted:
//! - "days" are calendar days and "working days" are counted with
//!   [`HolidayCalendar::china`]; the rules name working days where they mean them;
//! - the day of the triggering event is not counted, so N days from `from` ends on
//!   `from + N` (Civil Code Art. 201);
//! - a calendar-day deadline is not moved when its last day is a holiday. That makes
//!   some deadlines a day or two stricter than the Civil Code's rollover (Art. 203),
//!   never looser: work finished by the date here is on time by either count.
//!
//! | Stage | Limit | From |
//! |---|---|---|
//! | [`Stage::Application`] | 60 days, +30 for an area with poor transport (Art. 12) | acceptance |
//! | [`Stage::Review`] | 5 days | data received by the domicile |
//! | [`Stage::RejectionNotice`] | 5 days | rejection |
//! | [`Stage::Production`] | 30 days | data received by the production centre |
//! | [`Stage::CountyToStation`] | 3 working days | card received by the county |
//! | [`Stage::Notification`] | 2 working days | card received by the station |
//! | [`Stage::TemporaryCardIssue`] | 3 days | temporary card application |
//! | [`Stage::TemporaryCardValidity`] | 3 months | temporary card issue |

use time::Date;

use crate::HolidayCalendar;
use crate::calendar::{add_days, add_months};

string_enum! {
    /// A step with a time limit.
    pub enum Stage as "stage" {
        /// Card issued after the application is accepted.
        Application => "application",
        /// The domicile reviews and signs off a remote application.
        Review => "review",
        /// A rejection goes back to the acceptance side with reasons and a contact.
        RejectionNotice => "rejection_notice",
        /// The production centre makes and dispatches the card (a remake of a card found
        /// faulty later has 5 days; see [`REMAKE_DAYS`]).
        Production => "production",
        /// The county passes the card to the station.
        CountyToStation => "county_to_station",
        /// The station notifies the applicant.
        Notification => "notification",
        /// A temporary card is issued.
        TemporaryCardIssue => "temporary_card_issue",
        /// A temporary card stays valid.
        TemporaryCardValidity => "temporary_card_validity",
    }
}

/// How a stage's limit is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    CalendarDays(u32),
    WorkingDays(u32),
    /// Calendar months, the day of the month kept or clamped to a shorter month's end.
    Months(u32),
}

/// Extra calendar days allowed for the card in an area with poor transport (Art. 12).
pub const REMOTE_AREA_EXTENSION_DAYS: u32 = 30;

/// Days to remake a card found faulty after production.
pub const REMAKE_DAYS: u32 = 5;

impl Stage {
    /// The limit, without the remote-area extension.
    pub fn limit(self) -> Limit {
        match self {
            Stage::Application => Limit::CalendarDays(60),
            Stage::Review => Limit::CalendarDays(5),
            Stage::RejectionNotice => Limit::CalendarDays(5),
            Stage::Production => Limit::CalendarDays(30),
            Stage::CountyToStation => Limit::WorkingDays(3),
            Stage::Notification => Limit::WorkingDays(2),
            Stage::TemporaryCardIssue => Limit::CalendarDays(3),
            Stage::TemporaryCardValidity => Limit::Months(3),
        }
    }
}

/// The last day of `stage` started on `from`. `remote_area` (an area with poor
/// transport) extends only [`Stage::Application`], by 30 days.
pub fn due_date(stage: Stage, from: Date, remote_area: bool) -> Date {
    match stage.limit() {
        Limit::CalendarDays(days) => {
            let extra = if remote_area && stage == Stage::Application {
                REMOTE_AREA_EXTENSION_DAYS
            } else {
                0
            };
            add_days(from, days + extra)
        }
        Limit::WorkingDays(days) => HolidayCalendar::china().add_working_days(from, days),
        Limit::Months(months) => add_months(from, i32::try_from(months).expect("a few months")),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn remote_area_extends_only_the_application() {
        let from = date!(2026 - 03 - 02);
        assert_eq!(due_date(Stage::Application, from, false), date!(2026 - 05 - 01));
        assert_eq!(due_date(Stage::Application, from, true), date!(2026 - 05 - 31));
        assert_eq!(due_date(Stage::Review, from, true), date!(2026 - 03 - 07));
    }

    #[test]
    fn working_days_skip_the_weekend() {
        // Friday 6 March 2026 + 2 working days = Tuesday 10 March.
        assert_eq!(
            due_date(Stage::Notification, date!(2026 - 03 - 06), false),
            date!(2026 - 03 - 10)
        );
    }

    #[test]
    fn temporary_card_validity_clamps_to_month_end() {
        assert_eq!(
            due_date(Stage::TemporaryCardValidity, date!(2026 - 11 - 30), false),
            date!(2027 - 02 - 28)
        );
    }
}
