use idcard_domain::{CitizenId, CitizenIdError, IdKind, Sex};
use proptest::prelude::*;
use time::Date;
use time::macros::date;

use crate::support::{TODAY, id_number, with_check};

#[test]
fn domain_example_beijing_chaoyang_is_valid() {
    let id = CitizenId::parse("11010519491231002X", TODAY).unwrap();
    assert_eq!(id.as_str(), "11010519491231002X");
    assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
    assert_eq!(id.sex(), Sex::Female);
    assert_eq!(id.region_code(), 110105);
    assert_eq!(id.region().name(), "朝阳区");
    assert_eq!(id.kind(), IdKind::Resident);
    assert_eq!(id.age_on(TODAY), 76);
    assert_eq!(id.masked(), "1***************2X");
}

#[test]
fn domain_example_born_1880_is_valid() {
    let id = CitizenId::parse("440524188001010014", TODAY).unwrap();
    assert_eq!(id.birth_date(), date!(1880 - 01 - 01));
    assert_eq!(id.sex(), Sex::Male);
    assert_eq!(id.region_code(), 440524);
}

#[test]
fn retired_region_code_is_accepted() {
    let number = id_number(110103, date!(1985 - 07 - 01), 123);
    let id = CitizenId::parse(&number, TODAY).unwrap();
    assert_eq!(id.region().name(), "崇文区");
    assert_eq!(id.region().retired_in(), Some(2009));
}

#[test]
fn future_birth_date_is_rejected() {
    let number = id_number(110105, date!(2030 - 01 - 01), 1);
    let err = CitizenId::parse(&number, TODAY).unwrap_err();
    assert_eq!(err.to_string(), "birth date 2030-01-01 is in the future");
    assert_eq!(err.reason_code(), "CITIZEN_ID_BIRTH_DATE_IN_FUTURE");
}

#[test]
fn born_today_is_accepted() {
    let number = id_number(110105, TODAY, 1);
    assert!(CitizenId::parse(&number, TODAY).is_ok());
}

#[test]
fn thirtieth_of_february_is_rejected() {
    let number = with_check("11010519900230002");
    let err = CitizenId::parse(&number, TODAY).unwrap_err();
    assert_eq!(err.to_string(), "birth date 19900230 is not a calendar date");
    assert_eq!(err.reason_code(), "CITIZEN_ID_BIRTH_DATE");
}

#[test]
fn leap_day_birth_date_is_checked_against_the_year() {
    assert!(CitizenId::parse(&with_check("11010520000229002"), TODAY).is_ok());
    assert_eq!(
        CitizenId::parse(&with_check("11010519000229002"), TODAY),
        Err(CitizenIdError::InvalidBirthDate { digits: 19000229 })
    );
}

#[test]
fn unknown_region_code_is_rejected() {
    let number = with_check("99999919900101002");
    let err = CitizenId::parse(&number, TODAY).unwrap_err();
    assert_eq!(err.to_string(), "region code 999999 is not a GB/T 2260 code");
    assert_eq!(err.reason_code(), "CITIZEN_ID_REGION");
}

#[test]
fn wrong_check_character_names_the_expected_one() {
    let err = CitizenId::parse("110105194912310023", TODAY).unwrap_err();
    assert_eq!(err.to_string(), "citizen id check character is 3, expected X");
    assert_eq!(err.reason_code(), "CITIZEN_ID_CHECK_CHARACTER");
}

#[test]
fn failures_say_precisely_what_is_wrong() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "11010519491231002",
            "citizen id must be 18 characters, got 17",
            "CITIZEN_ID_LENGTH",
        ),
        ("", "citizen id must be 18 characters, got 0", "CITIZEN_ID_LENGTH"),
        (
            "1101A519491231002X",
            "citizen id character 5 is 'A', expected a digit",
            "CITIZEN_ID_CHARACTER",
        ),
        (
            "11010519491231002Y",
            "citizen id character 18 is 'Y', expected a digit or X",
            "CITIZEN_ID_CHARACTER",
        ),
        (
            "1101051949123100X2",
            "citizen id character 17 is 'X', expected a digit",
            "CITIZEN_ID_CHARACTER",
        ),
    ];
    for &(input, message, code) in cases {
        let err = CitizenId::parse(input, TODAY).unwrap_err();
        assert_eq!(err.to_string(), message, "{input}");
        assert_eq!(err.reason_code(), code, "{input}");
    }
}

#[test]
fn hong_kong_macao_taiwan_permits_are_their_own_kind() {
    for region in [810000, 820000, 830000] {
        let number = id_number(region, date!(1995 - 03 - 15), 21);
        let id = CitizenId::parse(&number, TODAY).unwrap();
        assert_eq!(id.kind(), IdKind::HkMacaoTaiwanPermit, "{region}");
    }
    let other = with_check("84000019950315021");
    assert!(CitizenId::parse(&other, TODAY).is_err());
}

#[test]
fn legacy_number_converts_only_through_the_explicit_call() {
    assert_eq!(
        CitizenId::parse("440524800101001", TODAY),
        Err(CitizenIdError::Length { got: 15 })
    );
    let id = CitizenId::from_legacy_15("440524800101001", TODAY).unwrap();
    assert_eq!(id.as_str(), with_check("44052419800101001"));
    assert_eq!(id.birth_date(), date!(1980 - 01 - 01));
    assert_eq!(
        CitizenId::from_legacy_15("440524800230001", TODAY),
        Err(CitizenIdError::InvalidBirthDate { digits: 19800230 })
    );
}

#[test]
fn age_counts_completed_years() {
    let id = CitizenId::parse(&id_number(110105, date!(2000 - 06 - 15), 1), TODAY).unwrap();
    assert_eq!(id.age_on(date!(2016 - 06 - 14)), 15);
    assert_eq!(id.age_on(date!(2016 - 06 - 15)), 16);
}

#[test]
fn personal_data_does_not_print() {
    let id = CitizenId::parse("440524188001010014", TODAY).unwrap();
    assert_eq!(format!("{id}"), "4***************14");
    assert_eq!(format!("{id:?}"), "4***************14");
    assert!(!format!("{:?}", Some(&id)).contains("18800101"));
}

/// Valid numbers over every code in the table (retired ones included, plus the
/// Hong Kong / Macao / Taiwan codes), birth dates from 1900 to today and every sequence.
fn valid_number() -> impl Strategy<Value = String> {
    let first = date!(1900 - 01 - 01).to_julian_day();
    let last = TODAY.to_julian_day();
    (
        prop::sample::select(idcard_domain::region::codes()),
        first..=last,
        0u16..1000,
    )
        .prop_map(|(region, day, sequence)| id_number(region, Date::from_julian_day(day).unwrap(), sequence))
}

const SYMBOLS: &[u8] = b"0123456789X";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_generated_valid_number_passes(number in valid_number()) {
        let id = CitizenId::parse(&number, TODAY).unwrap();
        prop_assert_eq!(id.as_str(), number.as_str());
        let sequence_is_odd = (number.as_bytes()[16] - b'0') % 2 == 1;
        prop_assert_eq!(id.sex() == Sex::Male, sequence_is_odd);
        prop_assert_eq!(id.as_str().get(..6).unwrap(), format!("{:06}", id.region_code()));
        let lower = number.to_lowercase();
        prop_assert_eq!(CitizenId::parse(&lower, TODAY).unwrap(), id);
    }

    #[test]
    fn any_single_character_change_fails(
        number in valid_number(),
        position in 0usize..18,
        replacement in prop::sample::select(SYMBOLS),
    ) {
        let mut bytes = number.into_bytes();
        prop_assume!(bytes[position] != replacement);
        bytes[position] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(CitizenId::parse(&changed, TODAY).is_err(), "{} passed", changed);
    }

    #[test]
    fn any_neighbouring_transposition_fails(number in valid_number(), position in 0usize..17) {
        let mut bytes = number.into_bytes();
        // Swapping two equal characters is not a change.
        prop_assume!(bytes[position] != bytes[position + 1]);
        bytes.swap(position, position + 1);
        let swapped = String::from_utf8(bytes).unwrap();
        prop_assert!(CitizenId::parse(&swapped, TODAY).is_err(), "{} passed", swapped);
    }

    #[test]
    fn arbitrary_input_never_panics(input in "\\PC{0,20}") {
        let _ = CitizenId::parse(&input, TODAY);
        let _ = CitizenId::from_legacy_15(&input, TODAY);
    }

    #[test]
    fn legacy_conversion_gives_a_valid_eighteen_character_number(number in valid_number()) {
        let birth = &number[6..14];
        prop_assume!(birth.starts_with("19"));
        let legacy = format!("{}{}{}", &number[..6], &number[8..14], &number[14..17]);
        let id = CitizenId::from_legacy_15(&legacy, TODAY).unwrap();
        prop_assert_eq!(id.as_str(), number.as_str());
    }
}
