use idcard_domain::{ReceiptError, ReceiptNo};
use proptest::prelude::*;

/// The canonical symbols (no aliases), so a replacement is always a real change.
const DATA_SYMBOLS: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_SYMBOLS: &[u8] = DATA_SYMBOLS;

fn symbols(r: ReceiptNo) -> Vec<u8> {
    r.as_str().bytes().filter(|&b| b != b'-').collect()
}

#[test]
fn canonical_form_is_grouped() {
    let r = ReceiptNo::from_u64(0x2_0000_0000_0001);
    assert_eq!(r.as_str().len(), 13);
    assert_eq!(&r.as_str()[5..6], "-");
    assert_eq!(&r.as_str()[11..12], "-");
    assert_eq!(r.to_string(), r.as_str());
}

#[test]
fn parse_reports_what_is_wrong() {
    assert_eq!(ReceiptNo::parse("12345-6789"), Err(ReceiptError::Length { got: 9 }));
    let err = ReceiptNo::parse("12345-6789!-0").unwrap_err();
    assert_eq!(err.reason_code(), "RECEIPT_NO_SYMBOL");
    assert_eq!(
        err.to_string(),
        "receipt number symbol 10 is '!', expected a Crockford base32 symbol"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn canonical_and_typed_forms_round_trip(n in any::<u64>()) {
        let r = ReceiptNo::from_u64(n);
        prop_assert_eq!(r.value(), n & ((1 << 50) - 1));
        prop_assert_eq!(ReceiptNo::parse(r.as_str()), Ok(r));
        let typed: String = r.as_str().chars().filter(|&c| c != '-').collect::<String>().to_lowercase();
        prop_assert_eq!(ReceiptNo::parse(&typed), Ok(r));
        let aliased = r.as_str().replace('0', "o").replace('1', "l");
        prop_assert_eq!(ReceiptNo::parse(&aliased), Ok(r));
    }

    #[test]
    fn any_single_symbol_change_fails(
        n in any::<u64>(),
        position in 0usize..11,
        pick in any::<prop::sample::Index>(),
    ) {
        let mut s = symbols(ReceiptNo::from_u64(n));
        let alphabet = if position == 10 { CHECK_SYMBOLS } else { DATA_SYMBOLS };
        let replacement = alphabet[pick.index(alphabet.len())];
        prop_assume!(s[position] != replacement);
        s[position] = replacement;
        let changed = String::from_utf8(s).unwrap();
        prop_assert!(ReceiptNo::parse(&changed).is_err(), "{} passed", changed);
    }

    #[test]
    fn any_neighbouring_transposition_fails(n in any::<u64>(), position in 0usize..10) {
        let mut s = symbols(ReceiptNo::from_u64(n));
        prop_assume!(s[position] != s[position + 1]);
        s.swap(position, position + 1);
        let swapped = String::from_utf8(s).unwrap();
        prop_assert!(ReceiptNo::parse(&swapped).is_err(), "{} passed", swapped);
    }

    #[test]
    fn arbitrary_input_never_panics(input in "\\PC{0,20}") {
        let _ = ReceiptNo::parse(&input);
    }
}
