use idcard_domain::{
    ApplicationState, DeadlineStatus, HolidayCalendar, Stage, days_overdue, deadline_status, due_date, due_soon_until,
    extend_application_deadline,
};
use time::macros::date;

#[test]
fn county_to_station_crosses_national_day_and_counts_the_make_up_saturday() {
    // Tuesday 30 September 2025; 1-8 October are holidays; Saturday 11 October works.
    let due = due_date(Stage::CountyToStation, date!(2025 - 09 - 30), false);
    assert_eq!(due, date!(2025 - 10 - 11));
}

#[test]
fn notification_crosses_the_spring_festival() {
    // Friday 13 February 2026; Saturday 14 works; 15-23 February are holidays.
    let due = due_date(Stage::Notification, date!(2026 - 02 - 13), false);
    assert_eq!(due, date!(2026 - 02 - 24));
}

#[test]
fn calendar_day_limits() {
    let from = date!(2026 - 01 - 10);
    let cases = [
        (Stage::Application, false, date!(2026 - 03 - 11)),
        (Stage::Application, true, date!(2026 - 04 - 10)),
        (Stage::Review, false, date!(2026 - 01 - 15)),
        (Stage::RejectionNotice, false, date!(2026 - 01 - 15)),
        (Stage::Production, false, date!(2026 - 02 - 09)),
        (Stage::TemporaryCardIssue, false, date!(2026 - 01 - 13)),
        (Stage::TemporaryCardValidity, false, date!(2026 - 04 - 10)),
    ];
    for (stage, remote, due) in cases {
        assert_eq!(due_date(stage, from, remote), due, "{stage} remote={remote}");
    }
}

#[test]
fn calendar_day_limits_ignore_holidays() {
    // Five days from 29 January 2025 ends inside the Spring Festival: not moved.
    assert_eq!(
        due_date(Stage::Review, date!(2025 - 01 - 29), false),
        date!(2025 - 02 - 03)
    );
}

#[test]
fn calendar_covers_2025_and_2026() {
    let cal = HolidayCalendar::china();
    assert!(cal.covers(2025) && cal.covers(2026));
    assert!(!cal.is_working_day(date!(2025 - 10 - 08)));
    assert!(cal.is_working_day(date!(2025 - 09 - 28)));
    assert_eq!(cal.add_working_days(date!(2026 - 04 - 30), 0), date!(2026 - 04 - 30));
    assert_eq!(cal.add_working_days(date!(2026 - 04 - 30), 1), date!(2026 - 05 - 06));
}

#[test]
fn overdue_counts_from_the_day_after_the_due_date() {
    let due = date!(2026 - 05 - 01);
    assert_eq!(days_overdue(due, date!(2026 - 04 - 28)), -3);
    assert_eq!(days_overdue(due, date!(2026 - 05 - 01)), 0);
    assert_eq!(days_overdue(due, date!(2026 - 05 - 04)), 3);
    assert_eq!(deadline_status(due, date!(2026 - 05 - 02), 3), DeadlineStatus::Overdue);
}

#[test]
fn due_soon_window_counts_today_and_a_zero_window_shows_only_overdue_work() {
    let today = date!(2026 - 05 - 01);
    // Window of 3: due today, tomorrow and the day after.
    for (due, status) in [
        (date!(2026 - 05 - 01), DeadlineStatus::DueSoon),
        (date!(2026 - 05 - 03), DeadlineStatus::DueSoon),
        (date!(2026 - 05 - 04), DeadlineStatus::OnTime),
    ] {
        assert_eq!(deadline_status(due, today, 3), status, "{due}");
        // Listed (overdue or due soon) exactly when due before the window's end.
        assert_eq!(
            due < due_soon_until(today, 3),
            status != DeadlineStatus::OnTime,
            "{due}"
        );
    }
    assert_eq!(deadline_status(today, today, 0), DeadlineStatus::OnTime);
    assert_eq!(due_soon_until(today, 0), today);
}

#[test]
fn application_deadline_is_extended_by_thirty_days_once_while_open_and_not_yet_passed() {
    let due = date!(2026 - 05 - 01);
    let today = date!(2026 - 04 - 20);
    assert_eq!(
        extend_application_deadline(ApplicationState::InProduction, due, false, today),
        Ok(date!(2026 - 05 - 31))
    );
    // On the due date itself it still may be.
    assert_eq!(
        extend_application_deadline(ApplicationState::Submitted, due, false, due),
        Ok(date!(2026 - 05 - 31))
    );
    let refused = [
        (ApplicationState::Submitted, true, today, "DEADLINE_ALREADY_EXTENDED"),
        (ApplicationState::Collected, false, today, "APPLICATION_CLOSED"),
        (ApplicationState::Rejected, true, today, "APPLICATION_CLOSED"),
        (
            ApplicationState::UnderReview,
            false,
            date!(2026 - 05 - 02),
            "DEADLINE_PASSED",
        ),
    ];
    for (state, extended, on, code) in refused {
        let err = extend_application_deadline(state, due, extended, on).unwrap_err();
        assert_eq!(err.reason_code(), code, "{state} extended={extended} on {on}");
        assert!(!err.to_string().is_empty());
    }
}
