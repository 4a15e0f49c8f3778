use idcard_crypto::Keyring;

use crate::{key_text, keyring};

#[test]
fn blind_index_is_32_bytes_and_deterministic() {
    let keyring = keyring();

    let first = keyring.blind_index("citizen_id:11010519491231002X");
    let second = keyring.blind_index("citizen_id:11010519491231002X");

    assert_eq!(first.len(), 32);
    assert_eq!(first, second);
    assert_ne!(first, keyring.blind_index("citizen_id:110105194912310037"));
}

#[test]
fn blind_index_differs_per_index_key() {
    let one = keyring();
    let two = Keyring::from_text(&key_text(&[
        ("data", "d", 1),
        ("biometric", "b", 2),
        ("index", "index-2", 4),
    ]))
    .unwrap();

    assert_ne!(
        one.blind_index("citizen_id:11010519491231002X"),
        two.blind_index("citizen_id:11010519491231002X")
    );
}

#[test]
fn blind_indexes_cover_every_index_key_active_first() {
    let old = keyring();
    let rotated = Keyring::from_text(&key_text(&[
        ("data", "data-1", 1),
        ("biometric", "biometric-1", 2),
        ("index", "index-1", 3),
        ("index", "index-2", 4),
    ]))
    .unwrap();
    let value = "citizen_id:11010519491231002X";

    let all = rotated.blind_indexes(value);

    assert_eq!(all.len(), 2);
    assert_eq!(all[0], rotated.blind_index(value));
    assert_eq!(all[1], old.blind_index(value));
    assert_ne!(all[0], all[1]);
}
