use idcard_domain::check_character;
use time::Date;
use time::macros::date;

/// The "today" every test uses, so results never depend on the clock.
pub const TODAY: Date = date!(2026 - 11 - 25);

/// Appends the check character to 17 digits.
pub fn with_check(first17: &str) -> String {
    let digits: &[u8; 17] = first17.as_bytes().try_into().unwrap();
    let mut s = first17.to_owned();
    s.push(char::from(check_character(digits)));
    s
}

/// A valid number from its parts.
pub fn id_number(region: u32, birth: Date, sequence: u16) -> String {
    with_check(&format!(
        "{region:06}{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        birth.month() as u8,
        birth.day()
    ))
}
