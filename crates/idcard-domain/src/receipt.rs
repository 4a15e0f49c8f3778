//! Receipt numbers handed to applicants: short, unambiguous when read aloud or typed,
//! with a check symbol.
//!
//! Ten data symbols (50 bits) and one check symbol in Crockford's base32 (digits and
//! letters without I, L, O, U), displayed as `XXXXX-XXXXX-C`. The check symbol is drawn
//! from the same 32 symbols, so a clerk never reads out a punctuation mark: it is a Damm
//! check over the quasigroup `x ∘ y = 2·x + y` in GF(32) (modulus x⁵ + x² + 1). That
//! quasigroup is totally anti-symmetric (`(c∘x)∘y = (c∘y)∘x` implies `x = y`, because
//! 2 ≠ 1), so the check catches every single-symbol change and every transposition of
//! two neighbouring symbols, the check symbol included.
//!
//! Parsing is forgiving the way Crockford intends: lower case, missing or extra hyphens,
//! `O` read as `0`, `I` and `L` read as `1`.

use std::fmt;

const DATA_SYMBOLS: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const VALUE_MASK: u64 = (1 << 50) - 1;

/// A valid receipt number, stored in canonical form `XXXXX-XXXXX-C`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReceiptNo {
    text: [u8; 13],
    value: u64,
}

/// Why a string is not a receipt number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt number must have 11 symbols besides hyphens, got {got}")]
    Length { got: usize },
    /// `position` counts symbols from 1, hyphens not counted.
    #[error("receipt number symbol {position} is {found:?}, expected {expected}")]
    Symbol {
        position: usize,
        found: char,
        expected: &'static str,
    },
    #[error("receipt number check symbol is {found}, expected {expected}")]
    CheckSymbol { found: char, expected: char },
}

impl ReceiptError {
    pub fn reason_code(&self) -> &'static str {
        match self {
            ReceiptError::Length { .. } => "RECEIPT_NO_LENGTH",
            ReceiptError::Symbol { .. } => "RECEIPT_NO_SYMBOL",
            ReceiptError::CheckSymbol { .. } => "RECEIPT_NO_CHECK_SYMBOL",
        }
    }
}

/// `2·x` in GF(32) with the primitive modulus x⁵ + x² + 1.
fn times_two(x: u8) -> u8 {
    let doubled = x << 1;
    if doubled & 0x20 != 0 { doubled ^ 0x25 } else { doubled }
}

/// The Damm interim value after `symbols` (each below 32); a valid number ends at 0.
fn damm(symbols: impl Iterator<Item = u8>) -> u8 {
    symbols.fold(0, |interim, symbol| times_two(interim) ^ symbol)
}

/// The value of a symbol as read (case-insensitive, with Crockford's aliases).
fn symbol_value(c: char) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|i| u8::try_from(i).ok())
}

impl ReceiptNo {
    /// The receipt number of the low 50 bits of `n`.
    pub fn from_u64(n: u64) -> ReceiptNo {
        let value = n & VALUE_MASK;
        let mut text = [b'-'; 13];
        let mut rest = value;
        for i in (0..DATA_SYMBOLS).rev() {
            let at = if i < 5 { i } else { i + 1 };
            text[at] = ALPHABET[(rest & 31) as usize];
            rest >>= 5;
        }
        let data = (0..DATA_SYMBOLS).rev().map(|i| ((value >> (5 * i)) & 31) as u8);
        text[12] = ALPHABET[usize::from(times_two(damm(data)))];
        ReceiptNo { text, value }
    }

    /// Parses a receipt number as a person would type it.
    pub fn parse(s: &str) -> Result<ReceiptNo, ReceiptError> {
        let symbols = s.chars().filter(|&c| c != '-');
        let got = symbols.clone().count();
        if got != DATA_SYMBOLS + 1 {
            return Err(ReceiptError::Length { got });
        }
        let mut value = 0u64;
        let mut check = 0u8;
        for (i, c) in symbols.enumerate() {
            let is_check = i == DATA_SYMBOLS;
            let Some(v) = symbol_value(c) else {
                return Err(ReceiptError::Symbol {
                    position: i + 1,
                    found: c,
                    expected: "a Crockford base32 symbol",
                });
            };
            if is_check {
                check = v;
            } else {
                value = value << 5 | u64::from(v);
            }
        }
        let data = (0..DATA_SYMBOLS).rev().map(|i| ((value >> (5 * i)) & 31) as u8);
        let expected = usize::from(times_two(damm(data)));
        if usize::from(check) != expected {
            return Err(ReceiptError::CheckSymbol {
                found: char::from(ALPHABET[usize::from(check)]),
                expected: char::from(ALPHABET[expected]),
            });
        }
        Ok(ReceiptNo::from_u64(value))
    }

    /// Canonical form, `XXXXX-XXXXX-C`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).expect("a receipt number is ASCII")
    }

    /// The 50-bit value.
    pub fn value(&self) -> u64 {
        self.value
    }
}

impl fmt::Display for ReceiptNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ReceiptNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptNo({})", self.as_str())
    }
}

impl std::str::FromStr for ReceiptNo {
    type Err = ReceiptError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReceiptNo::parse(s)
    }
}

impl serde::Serialize for ReceiptNo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ReceiptNo {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ReceiptNo::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_has_two_groups_and_a_check() {
        let r = ReceiptNo::from_u64(0);
        assert_eq!(r.as_str(), "00000-00000-0");
        let r = ReceiptNo::from_u64(u64::MAX);
        assert_eq!(r.value(), (1 << 50) - 1);
        assert_eq!(&r.as_str()[..12], "ZZZZZ-ZZZZZ-");
    }

    #[test]
    fn typing_variants_parse_to_the_same_number() {
        let r = ReceiptNo::from_u64(0x3_1234_5678_9ABC);
        let plain: String = r.as_str().chars().filter(|&c| c != '-').collect();
        assert_eq!(ReceiptNo::parse(&plain.to_lowercase()), Ok(r));
        assert_eq!(ReceiptNo::parse(&format!("-{plain}--")), Ok(r));
        let zero = ReceiptNo::from_u64(1);
        assert_eq!(zero.as_str(), "00000-00001-2");
        assert_eq!(ReceiptNo::parse("oOOoo-0000L-2"), Ok(zero));
    }

    #[test]
    fn wrong_check_symbol_is_reported() {
        let err = ReceiptNo::parse("00000-00001-1").expect_err("bad check");
        assert_eq!(err.to_string(), "receipt number check symbol is 1, expected 2");
        assert_eq!(err.reason_code(), "RECEIPT_NO_CHECK_SYMBOL");
    }

    #[test]
    fn u_is_not_a_symbol() {
        assert!(matches!(
            ReceiptNo::parse("U0000-00000-0"),
            Err(ReceiptError::Symbol { position: 1, .. })
        ));
        assert!(matches!(
            ReceiptNo::parse("00000-00000-U"),
            Err(ReceiptError::Symbol { position: 11, .. })
        ));
        assert_eq!(ReceiptNo::parse("0000"), Err(ReceiptError::Length { got: 4 }));
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        use serde::de::value::{Error, StrDeserializer};
        let r = ReceiptNo::from_u64(123_456_789);
        let typed = r.as_str().replace('-', "").to_lowercase();
        let parsed: Result<ReceiptNo, Error> = serde::Deserialize::deserialize(StrDeserializer::<Error>::new(&typed));
        assert_eq!(parsed, Ok(r));
    }
}
