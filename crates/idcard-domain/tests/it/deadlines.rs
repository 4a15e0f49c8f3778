use idcard_domain::{HolidayCalendar, Stage, due_date};
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
