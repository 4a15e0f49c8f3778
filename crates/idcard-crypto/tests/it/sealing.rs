use idcard_crypto::{CryptoError, Keyring, Purpose, key_id_of};

use crate::{key_text, keyring};

const AAD: &[u8] = b"applications.citizen_id:0190c7e2-0000-7000-8000-000000000001";

#[test]
fn data_and_biometric_values_round_trip_under_their_own_keys() {
    let keyring = keyring();
    for (purpose, key_id) in [(Purpose::Data, "data-1"), (Purpose::Biometric, "biometric-1")] {
        let sealed = keyring.seal(purpose, b"11010519491231002X", AAD).unwrap();

        assert_eq!(key_id_of(&sealed), Some(key_id));
        assert_eq!(keyring.open(purpose, &sealed, AAD).unwrap(), b"11010519491231002X");
    }
}

#[test]
fn strings_round_trip() {
    let keyring = keyring();

    let sealed = keyring.seal_str(Purpose::Data, "张三", AAD).unwrap();

    assert_eq!(keyring.open_string(Purpose::Data, &sealed, AAD).unwrap(), "张三");
}

#[test]
fn sealed_value_does_not_contain_the_plaintext() {
    let sealed = keyring().seal(Purpose::Data, b"11010519491231002X", AAD).unwrap();

    assert!(!sealed.windows(6).any(|w| w == b"110105"));
}

#[test]
fn sealing_twice_gives_different_ciphertexts() {
    let keyring = keyring();

    let first = keyring.seal(Purpose::Data, b"same", AAD).unwrap();
    let second = keyring.seal(Purpose::Data, b"same", AAD).unwrap();

    assert_ne!(first, second);
}

#[test]
fn index_purpose_does_not_seal() {
    let err = keyring().seal(Purpose::Index, b"x", AAD).unwrap_err();

    assert!(matches!(err, CryptoError::NotSealingPurpose(Purpose::Index)), "{err}");
}

#[test]
fn value_moved_to_another_row_does_not_open() {
    let keyring = keyring();
    let sealed = keyring
        .seal(Purpose::Data, b"secret", b"applications.name:row-1")
        .unwrap();

    let err = keyring
        .open(Purpose::Data, &sealed, b"applications.name:row-2")
        .unwrap_err();

    assert!(matches!(err, CryptoError::Authentication), "{err}");
}

#[test]
fn every_altered_byte_is_refused() {
    let keyring = keyring();
    let sealed = keyring.seal(Purpose::Data, b"secret", AAD).unwrap();

    for i in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[i] ^= 0x01;

        assert!(
            keyring.open(Purpose::Data, &tampered, AAD).is_err(),
            "byte {i} altered yet opened"
        );
    }
}

#[test]
fn altered_ciphertext_fails_authentication() {
    let keyring = keyring();
    let mut sealed = keyring.seal(Purpose::Data, b"secret", AAD).unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 0x80;

    let err = keyring.open(Purpose::Data, &sealed, AAD).unwrap_err();

    assert!(matches!(err, CryptoError::Authentication), "{err}");
}

#[test]
fn truncated_values_are_reported_as_truncated() {
    let keyring = keyring();
    let sealed = keyring.seal(Purpose::Data, b"secret", AAD).unwrap();
    // version, id length, "data-1", nonce, tag: anything shorter is cut off.
    let minimum = 2 + 6 + 12 + 16;

    for len in 0..minimum {
        let err = keyring.open(Purpose::Data, &sealed[..len], AAD).unwrap_err();

        assert!(matches!(err, CryptoError::Truncated(_)), "length {len}: {err}");
    }
    assert!(matches!(
        keyring.open(Purpose::Data, &sealed[..minimum], AAD),
        Err(CryptoError::Authentication)
    ));
}

#[test]
fn unknown_key_id_is_reported_with_the_id() {
    let sealed = keyring().seal(Purpose::Data, b"secret", AAD).unwrap();
    let other = Keyring::from_text(&key_text(&[
        ("data", "data-9", 1),
        ("biometric", "b", 2),
        ("index", "i", 3),
    ]))
    .unwrap();

    let err = other.open(Purpose::Data, &sealed, AAD).unwrap_err();

    assert!(
        matches!(&err, CryptoError::UnknownKey { key_id, .. } if key_id == "data-1"),
        "{err}"
    );
}

#[test]
fn biometric_value_does_not_open_as_data() {
    let keyring = keyring();
    let sealed = keyring.seal(Purpose::Biometric, b"minutiae", AAD).unwrap();

    let err = keyring.open(Purpose::Data, &sealed, AAD).unwrap_err();

    assert!(
        matches!(
            err,
            CryptoError::UnknownKey {
                purpose: Purpose::Data,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn same_key_id_with_other_key_bytes_fails_authentication() {
    let sealed = keyring().seal(Purpose::Data, b"secret", AAD).unwrap();
    let other = Keyring::from_text(&key_text(&[
        ("data", "data-1", 9),
        ("biometric", "b", 2),
        ("index", "i", 3),
    ]))
    .unwrap();

    assert!(matches!(
        other.open(Purpose::Data, &sealed, AAD),
        Err(CryptoError::Authentication)
    ));
}

#[test]
fn unknown_format_version_is_refused() {
    let mut sealed = keyring().seal(Purpose::Data, b"secret", AAD).unwrap();
    sealed[0] = 2;

    assert!(matches!(
        keyring().open(Purpose::Data, &sealed, AAD),
        Err(CryptoError::UnsupportedVersion(2))
    ));
    assert_eq!(key_id_of(&sealed), None);
}

#[test]
fn debug_shows_key_ids_but_no_key_bytes() {
    use base64::Engine;
    let keyring = keyring();

    let debug = format!("{keyring:?}");

    assert!(
        debug.contains("data-1") && debug.contains("biometric-1") && debug.contains("index-1"),
        "{debug}"
    );
    for byte in [1u8, 2, 3] {
        let b64 = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        assert!(!debug.contains(&b64[..8]), "{debug}");
        assert!(!debug.contains(&format!("[{byte}, {byte}, {byte}")), "{debug}");
    }
}
