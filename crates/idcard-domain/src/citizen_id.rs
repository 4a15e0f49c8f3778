//! The citizen ID number (GB 11643-1999).
//!
//! 18 characters: the 6-digit GB/T 2260 code of the place of *first* registration, the
//! birth date `YYYYMMDD`, a 3-digit sequence (odd for men, even for women) and a check
//! character (ISO 7064 MOD 11-2). A [`CitizenId`] can only be built valid; its `Debug`
//! and `Display` show the masked form, so the number cannot leak into a log by accident.
//!
//! Parsing allocates nothing and reads no clock: the caller passes `today`.

use std::fmt;

use time::{Date, Month};

use crate::region::{self, RegionCode};
use crate::validity::completed_years;

/// ISO 7064 MOD 11-2 weights of the first 17 digits (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character, indexed by the weighted sum mod 11.
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";

/// The check character of the first 17 digits: ISO 7064 MOD 11-2, `b'0'..=b'9'` or
/// `b'X'`. The input must be ASCII digits; other bytes give a meaningless (but
/// defined, non-panicking) result.
pub fn check_character(first17: &[u8; 17]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

string_enum! {
    /// Sex, from the parity of the sequence number.
    pub enum Sex as "sex" {
        Male => "male",
        Female => "female",
    }
}

string_enum! {
    /// Which document the number belongs to.
    pub enum IdKind as "id kind" {
        /// A mainland resident identity card.
        Resident => "resident",
        /// A residence permit for Hong Kong (810000), Macao (820000) or Taiwan (830000)
        /// residents: the region code starts with 8.
        HkMacaoTaiwanPermit => "hk_macao_taiwan_permit",
    }
}

/// What a character was expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Digit,
    DigitOrX,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Digit => "a digit",
            Expected::DigitOrX => "a digit or X",
        })
    }
}

/// Precisely what is wrong with a citizen ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    #[error("citizen id must be 18 characters, got {got}")]
    Length { got: usize },
    #[error("legacy citizen id must be 15 characters, got {got}")]
    LegacyLength { got: usize },
    /// `position` counts from 1.
    #[error("citizen id character {position} is {found:?}, expected {expected}")]
    Character {
        position: usize,
        found: char,
        expected: Expected,
    },
    #[error("citizen id check character is {found}, expected {expected}")]
    CheckCharacter { found: char, expected: char },
    #[error("region code {code:06} is not a GB/T 2260 code")]
    UnknownRegion { code: u32 },
    /// `digits` is the `YYYYMMDD` field as written.
    #[error("birth date {digits:08} is not a calendar date")]
    InvalidBirthDate { digits: u32 },
    #[error("birth date {date} is in the future")]
    FutureBirthDate { date: Date },
}

impl CitizenIdError {
    /// A stable SCREAMING_SNAKE code for clients and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            CitizenIdError::Length { .. } => "CITIZEN_ID_LENGTH",
            CitizenIdError::LegacyLength { .. } => "CITIZEN_ID_LEGACY_LENGTH",
            CitizenIdError::Character { .. } => "CITIZEN_ID_CHARACTER",
            CitizenIdError::CheckCharacter { .. } => "CITIZEN_ID_CHECK_CHARACTER",
            CitizenIdError::UnknownRegion { .. } => "CITIZEN_ID_REGION",
            CitizenIdError::InvalidBirthDate { .. } => "CITIZEN_ID_BIRTH_DATE",
            CitizenIdError::FutureBirthDate { .. } => "CITIZEN_ID_BIRTH_DATE_IN_FUTURE",
        }
    }
}

/// A valid citizen ID number, stored inline (18 ASCII bytes, check character `X`
/// upper-case).
///
/// Valid means: 17 digits and a matching check character; a region code that exists in
/// GB/T 2260 *at some time* (retired codes stay valid, and the code is not checked
/// against the birth year: first registration can postdate birth by years); a real
/// calendar birth date not after `today`. There is no lower bound on the birth year.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CitizenId([u8; 18]);

impl CitizenId {
    /// Parses an 18-character number. Nothing is trimmed; a lower-case `x` check
    /// character is accepted and stored as `X`.
    ///
    /// Checks run in this order, and the first failure is reported: length, characters,
    /// check character, region code, birth date.
    pub fn parse(s: &str, today: Date) -> Result<CitizenId, CitizenIdError> {
        let bytes: &[u8; 18] = match s.as_bytes().try_into() {
            Ok(bytes) if s.is_ascii() => bytes,
            _ => return Err(shape_error(s, 18)),
        };
        let mut id = *bytes;
        for (i, &b) in id[..17].iter().enumerate() {
            if !b.is_ascii_digit() {
                return Err(CitizenIdError::Character {
                    position: i + 1,
                    found: char::from(b),
                    expected: Expected::Digit,
                });
            }
        }
        match id[17] {
            b'0'..=b'9' | b'X' => {}
            b'x' => id[17] = b'X',
            b => {
                return Err(CitizenIdError::Character {
                    position: 18,
                    found: char::from(b),
                    expected: Expected::DigitOrX,
                });
            }
        }
        let first17: &[u8; 17] = id[..17].try_into().expect("17 of 18 bytes");
        let expected = check_character(first17);
        if id[17] != expected {
            return Err(CitizenIdError::CheckCharacter {
                found: char::from(id[17]),
                expected: char::from(expected),
            });
        }
        finish(id, today)
    }

    /// Converts a legacy 15-digit number (6-digit region, `YYMMDD` birth date read as
    /// 19YY, 3-digit sequence, no check character) to the 18-character form, then applies
    /// the same region and birth-date checks as [`CitizenId::parse`]. Only for rules that
    /// explicitly accept legacy numbers.
    pub fn from_legacy_15(s: &str, today: Date) -> Result<CitizenId, CitizenIdError> {
        let bytes: &[u8; 15] = match s.as_bytes().try_into() {
            Ok(bytes) if s.is_ascii() => bytes,
            _ => return Err(shape_error(s, 15)),
        };
        if let Some(i) = bytes.iter().position(|b| !b.is_ascii_digit()) {
            return Err(CitizenIdError::Character {
                position: i + 1,
                found: char::from(bytes[i]),
                expected: Expected::Digit,
            });
        }
        let mut id = [0u8; 18];
        id[..6].copy_from_slice(&bytes[..6]);
        id[6..8].copy_from_slice(b"19");
        id[8..17].copy_from_slice(&bytes[6..]);
        id[17] = check_character(id[..17].try_into().expect("17 of 18 bytes"));
        finish(id, today)
    }

    /// The full number, for storage and transport only (never for logs).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a citizen id is ASCII")
    }

    /// First digit and last two shown: `"1***************2X"`.
    pub fn masked(&self) -> String {
        let mut out = String::with_capacity(18);
        out.push(char::from(self.0[0]));
        out.push_str("***************");
        out.push(char::from(self.0[16]));
        out.push(char::from(self.0[17]));
        out
    }

    pub fn birth_date(&self) -> Date {
        let (year, month, day) = birth_fields(&self.0);
        Month::try_from(month)
            .ok()
            .and_then(|m| Date::from_calendar_date(year, m, day).ok())
            .expect("birth date validated at parse")
    }

    /// Odd sequence number: male; even: female.
    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The 3-digit sequence number.
    pub fn sequence(&self) -> u16 {
        u16::try_from(digits(&self.0[14..17])).expect("three digits fit in u16")
    }

    /// Completed years on `date` (0 before the birth date). Someone born on 29 February
    /// completes a year on 1 March in common years.
    pub fn age_on(&self, date: Date) -> u32 {
        completed_years(self.birth_date(), date)
    }

    /// The first six digits: the code of the place of first registration.
    pub fn region_code(&self) -> u32 {
        digits(&self.0[..6])
    }

    /// The region of first registration (possibly a retired code).
    pub fn region(&self) -> RegionCode {
        region::lookup(self.region_code()).expect("region validated at parse")
    }

    pub fn kind(&self) -> IdKind {
        if self.0[0] == b'8' {
            IdKind::HkMacaoTaiwanPermit
        } else {
            IdKind::Resident
        }
    }
}

/// The error for input of the wrong length or with non-ASCII characters: the length in
/// characters if it is wrong, else the first character that is not allowed.
#[cold]
fn shape_error(s: &str, want: usize) -> CitizenIdError {
    let got = s.chars().count();
    if got != want {
        return if want == 18 {
            CitizenIdError::Length { got }
        } else {
            CitizenIdError::LegacyLength { got }
        };
    }
    s.chars()
        .enumerate()
        .find_map(|(i, c)| {
            let last = want == 18 && i == 17;
            let ok = c.is_ascii_digit() || (last && matches!(c, 'X' | 'x'));
            (!ok).then_some(CitizenIdError::Character {
                position: i + 1,
                found: c,
                expected: if last { Expected::DigitOrX } else { Expected::Digit },
            })
        })
        .unwrap_or(CitizenIdError::Length { got })
}

/// Region and birth-date checks, shared by both constructors.
fn finish(id: [u8; 18], today: Date) -> Result<CitizenId, CitizenIdError> {
    let code = digits(&id[..6]);
    if !region::is_known(code) {
        return Err(CitizenIdError::UnknownRegion { code });
    }
    let (year, month, day) = birth_fields(&id);
    let birth = Month::try_from(month)
        .ok()
        .and_then(|m| Date::from_calendar_date(year, m, day).ok())
        .ok_or(CitizenIdError::InvalidBirthDate {
            digits: digits(&id[6..14]),
        })?;
    if birth > today {
        return Err(CitizenIdError::FutureBirthDate { date: birth });
    }
    Ok(CitizenId(id))
}

fn birth_fields(id: &[u8; 18]) -> (i32, u8, u8) {
    let year = i32::try_from(digits(&id[6..10])).expect("four digits fit in i32");
    let month = u8::try_from(digits(&id[10..12])).expect("two digits fit in u8");
    let day = u8::try_from(digits(&id[12..14])).expect("two digits fit in u8");
    (year, month, day)
}

fn digits(ascii: &[u8]) -> u32 {
    ascii.iter().fold(0, |n, &b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 25);

    #[test]
    fn check_character_matches_the_standard_examples() {
        assert_eq!(check_character(b"11010519491231002"), b'X');
        assert_eq!(check_character(b"44052418800101001"), b'4');
    }

    #[test]
    fn lowercase_x_is_normalised() {
        let id = CitizenId::parse("11010519491231002x", TODAY).expect("valid");
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn debug_and_display_are_masked() {
        let id = CitizenId::parse("11010519491231002X", TODAY).expect("valid");
        assert_eq!(format!("{id}"), "1***************2X");
        assert_eq!(format!("{id:?}"), "1***************2X");
        assert_eq!(id.masked(), "1***************2X");
    }

    #[test]
    fn length_is_counted_in_characters() {
        let err = CitizenId::parse("1101051949123100", TODAY).expect_err("short");
        assert_eq!(err.to_string(), "citizen id must be 18 characters, got 16");
        let err = CitizenId::parse("11010519491231002Ｘ", TODAY).expect_err("full-width X");
        assert_eq!(
            err.to_string(),
            "citizen id character 18 is 'Ｘ', expected a digit or X"
        );
        assert_eq!(err.reason_code(), "CITIZEN_ID_CHARACTER");
    }

    #[test]
    fn surrounding_whitespace_is_not_trimmed() {
        let err = CitizenId::parse(" 11010519491231002X", TODAY).expect_err("space");
        assert_eq!(err, CitizenIdError::Length { got: 19 });
    }

    #[test]
    fn non_digit_is_located() {
        let err = CitizenId::parse("1101A519491231002X", TODAY).expect_err("letter");
        assert_eq!(err.to_string(), "citizen id character 5 is 'A', expected a digit");
    }

    #[test]
    fn sex_sequence_and_age_are_read_from_the_number() {
        let id = CitizenId::parse("440524188001010014", TODAY).expect("valid");
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.sequence(), 1);
        assert_eq!(id.birth_date(), date!(1880 - 01 - 01));
        assert_eq!(id.age_on(date!(1980 - 12 - 31)), 100);
        assert_eq!(id.age_on(date!(1981 - 01 - 01)), 101);
        assert_eq!(id.region_code(), 440524);
        assert_eq!(id.kind(), IdKind::Resident);
    }

    #[test]
    fn legacy_number_converts_to_nineteen_hundreds() {
        let id = CitizenId::from_legacy_15("110105491231002", TODAY).expect("valid");
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            CitizenId::from_legacy_15("11010549123100", TODAY),
            Err(CitizenIdError::LegacyLength { got: 14 })
        );
        assert!(CitizenId::parse("110105491231002", TODAY).is_err());
    }

    #[test]
    fn hong_kong_permit_is_its_own_kind() {
        let mut first17 = *b"81000019900101001";
        first17[16] = b'3';
        let mut s = String::from_utf8(first17.to_vec()).expect("ascii");
        s.push(char::from(check_character(&first17)));
        let id = CitizenId::parse(&s, TODAY).expect("valid");
        assert_eq!(id.kind(), IdKind::HkMacaoTaiwanPermit);
        assert_eq!(id.region().name(), "香港特别行政区");
    }
}
