use idcard_domain::{ValidityPeriod, validity_period};
use time::Date;
use time::macros::date;

/// Issued on the birthday (`age` completed years that day) and the day before.
fn years_around_birthday(birth: Date, age: i32) -> (Option<u8>, Option<u8>) {
    let birthday = birth.replace_year(birth.year() + age).unwrap();
    let day_before = birthday.previous_day().unwrap();
    (
        validity_period(birth, day_before).years(),
        validity_period(birth, birthday).years(),
    )
}

#[test]
fn under_sixteen_gets_five_years_and_sixteen_gets_ten() {
    assert_eq!(years_around_birthday(date!(2000 - 06 - 15), 16), (Some(5), Some(10)));
}

#[test]
fn twenty_five_gets_ten_years_and_twenty_six_gets_twenty() {
    assert_eq!(years_around_birthday(date!(2000 - 06 - 15), 26), (Some(10), Some(20)));
}

#[test]
fn forty_five_gets_twenty_years_and_forty_six_is_long_term() {
    assert_eq!(years_around_birthday(date!(1970 - 06 - 15), 46), (Some(20), None));
}

#[test]
fn period_starts_on_issue_and_ends_same_day_years_later() {
    let period = validity_period(date!(1990 - 06 - 15), date!(2026 - 03 - 10));
    assert_eq!(
        period,
        ValidityPeriod {
            start: date!(2026 - 03 - 10),
            end: Some(date!(2046 - 03 - 10))
        }
    );
    let long_term = validity_period(date!(1970 - 06 - 15), date!(2026 - 03 - 10));
    assert_eq!(long_term.end, None);
}

#[test]
fn twenty_ninth_february_issue_ends_on_twenty_eighth_february() {
    let issued = date!(2024 - 02 - 29);
    let child = validity_period(date!(2014 - 01 - 01), issued);
    assert_eq!(child.end, Some(date!(2029 - 02 - 28)));
    let young = validity_period(date!(2004 - 01 - 01), issued);
    assert_eq!(young.end, Some(date!(2034 - 02 - 28)));
    // Twenty years on is a leap year again: 29 February exists.
    let adult = validity_period(date!(1990 - 01 - 01), issued);
    assert_eq!(adult.end, Some(date!(2044 - 02 - 29)));
}

#[test]
fn leap_day_birthday_turns_sixteen_on_first_of_march() {
    let birth = date!(2008 - 02 - 29);
    assert_eq!(validity_period(birth, date!(2024 - 02 - 28)).years(), Some(5));
    assert_eq!(validity_period(birth, date!(2024 - 02 - 29)).years(), Some(10));
}
