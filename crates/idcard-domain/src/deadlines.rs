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
//!
//! Against a due date, on a given day ([`deadline_status`], [`days_overdue`]): work is
//! overdue from the day after its due date; it is due soon when its due date is within
//! the next N days, today included, so a window of 0 days shows only overdue work.
//!
//! The application's limit is extended once, by [`REMOTE_AREA_EXTENSION_DAYS`], for an
//! area with poor transport ([`extend_application_deadline`]).

use time::Date;

use crate::calendar::{add_days, add_months};
use crate::{ApplicationState, HolidayCalendar};

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

/// Where work stands against its due date on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStatus {
    /// The due date has passed.
    Overdue,
    /// Due within the window asked for (today included).
    DueSoon,
    /// Due later.
    OnTime,
}

impl DeadlineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineStatus::Overdue => "overdue",
            DeadlineStatus::DueSoon => "due_soon",
            DeadlineStatus::OnTime => "on_time",
        }
    }
}

/// Calendar days `today` lies past `due`: positive when overdue, 0 on the due date itself
/// (still on time: the due date is the last day of the limit), negative for the days
/// left.
pub fn days_overdue(due: Date, today: Date) -> i64 {
    (today - due).whole_days()
}

/// `due` on `today`, counting work due within the next `due_soon_days` days (today
/// included) as due soon: with 3, work due today, tomorrow and the day after.
pub fn deadline_status(due: Date, today: Date, due_soon_days: u32) -> DeadlineStatus {
    let days_left = -days_overdue(due, today);
    if days_left < 0 {
        DeadlineStatus::Overdue
    } else if days_left < i64::from(due_soon_days) {
        DeadlineStatus::DueSoon
    } else {
        DeadlineStatus::OnTime
    }
}

/// The first due date that is not "due soon" on `today` with a window of
/// `due_soon_days`: work is overdue or due soon exactly when its due date is before it.
pub fn due_soon_until(today: Date, due_soon_days: u32) -> Date {
    add_days(today, due_soon_days)
}

/// Why an application's deadline is not extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefusal {
    #[error("the application is {}: its deadline no longer runs", .0.as_str())]
    ApplicationClosed(ApplicationState),
    #[error(
        "the deadline was already extended once; the limit may be extended by at most {REMOTE_AREA_EXTENSION_DAYS} days"
    )]
    AlreadyExtended,
    #[error("the deadline passed on {due}; it is extended before it passes, not after")]
    DeadlinePassed { due: Date },
}

impl ExtensionRefusal {
    /// A stable SCREAMING_SNAKE code for clients.
    pub fn reason_code(&self) -> &'static str {
        match self {
            ExtensionRefusal::ApplicationClosed(_) => "APPLICATION_CLOSED",
            ExtensionRefusal::AlreadyExtended => "DEADLINE_ALREADY_EXTENDED",
            ExtensionRefusal::DeadlinePassed { .. } => "DEADLINE_PASSED",
        }
    }
}

/// The new due date of an application in an area with poor transport (Art. 12): `due`
/// plus [`REMOTE_AREA_EXTENSION_DAYS`]. Granted once, while the application is open
/// (neither collected nor rejected) and its deadline has not passed on `today`: an
/// extension after the fact would hide a limit already missed.
pub fn extend_application_deadline(
    state: ApplicationState,
    due: Date,
    already_extended: bool,
    today: Date,
) -> Result<Date, ExtensionRefusal> {
    if state.is_terminal() {
        return Err(ExtensionRefusal::ApplicationClosed(state));
    }
    if already_extended {
        return Err(ExtensionRefusal::AlreadyExtended);
    }
    if due < today {
        return Err(ExtensionRefusal::DeadlinePassed { due });
    }
    Ok(add_days(due, REMOTE_AREA_EXTENSION_DAYS))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn extension_matches_the_remote_area_limit() {
        let accepted = date!(2026 - 03 - 02);
        let due = due_date(Stage::Application, accepted, false);
        assert_eq!(
            extend_application_deadline(ApplicationState::UnderReview, due, false, accepted),
            Ok(due_date(Stage::Application, accepted, true))
        );
    }

    #[test]
    fn due_date_itself_is_on_time() {
        let due = date!(2026 - 05 - 01);
        assert_eq!(days_overdue(due, due), 0);
        assert_eq!(deadline_status(due, due, 0), DeadlineStatus::OnTime);
        assert_eq!(deadline_status(due, due, 1), DeadlineStatus::DueSoon);
        assert_eq!(days_overdue(due, date!(2026 - 05 - 02)), 1);
        assert_eq!(deadline_status(due, date!(2026 - 05 - 02), 0), DeadlineStatus::Overdue);
    }

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
