use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idcard_crypto::{CryptoError, Keyring, Purpose, key_id_of};

use crate::key_text;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn generated_file_is_private_and_loads_with_one_key_per_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("keyring");

    let generated = Keyring::generate(&path).unwrap();
    let loaded = Keyring::load(&path).unwrap();

    assert_eq!(mode(&path), 0o600);
    for purpose in Purpose::ALL {
        assert_eq!(loaded.key_ids(purpose), vec![format!("{purpose}-1")]);
    }
    let sealed = generated.seal(Purpose::Data, b"x", b"t.c:1").unwrap();
    assert_eq!(loaded.open(Purpose::Data, &sealed, b"t.c:1").unwrap(), b"x");
}

#[test]
fn generate_refuses_to_overwrite_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    Keyring::generate(&path).unwrap();
    let before = std::fs::read(&path).unwrap();

    let err = Keyring::generate(&path).unwrap_err();

    assert!(matches!(err, CryptoError::KeyFileExists(_)), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn generated_keys_differ_between_files() {
    let dir = tempfile::tempdir().unwrap();
    let one = Keyring::generate(dir.path().join("one")).unwrap();
    let two = Keyring::generate(dir.path().join("two")).unwrap();

    assert_ne!(one.blind_index("v"), two.blind_index("v"));
}

#[test]
fn added_key_becomes_active_and_old_values_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let before = Keyring::generate(&path).unwrap();
    let old_value = before.seal(Purpose::Data, b"old", b"t.c:1").unwrap();

    let id = Keyring::add_key(&path, Purpose::Data).unwrap();
    let after = Keyring::load(&path).unwrap();

    assert_eq!(id, "data-2");
    assert_eq!(after.key_ids(Purpose::Data), vec!["data-1", "data-2"]);
    assert_eq!(after.active_key_id(Purpose::Data), "data-2");
    assert_eq!(
        after.key_ids(Purpose::Index),
        vec!["index-1"],
        "other purposes unchanged"
    );
    assert_eq!(after.open(Purpose::Data, &old_value, b"t.c:1").unwrap(), b"old");
    let new_value = after.seal(Purpose::Data, b"new", b"t.c:1").unwrap();
    assert_eq!(key_id_of(&new_value), Some("data-2"));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn is_current_is_false_for_values_under_an_older_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let before = Keyring::generate(&path).unwrap();
    let old_value = before.seal(Purpose::Biometric, b"minutiae", b"t.c:1").unwrap();
    assert!(before.is_current(Purpose::Biometric, &old_value));

    Keyring::add_key(&path, Purpose::Biometric).unwrap();
    let after = Keyring::load(&path).unwrap();

    assert!(!after.is_current(Purpose::Biometric, &old_value));
    let resealed = after
        .seal(
            Purpose::Biometric,
            &after.open(Purpose::Biometric, &old_value, b"t.c:1").unwrap(),
            b"t.c:1",
        )
        .unwrap();
    assert!(after.is_current(Purpose::Biometric, &resealed));
    assert!(!after.is_current(Purpose::Biometric, b"not sealed"));
}

#[test]
fn rotated_index_key_changes_the_index_and_keeps_the_old_one_for_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let before = Keyring::generate(&path).unwrap();

    Keyring::add_key(&path, Purpose::Index).unwrap();
    let after = Keyring::load(&path).unwrap();

    assert_ne!(after.blind_index("v"), before.blind_index("v"));
    assert!(after.blind_indexes("v").contains(&before.blind_index("v")));
}

#[test]
fn key_ids_keep_counting_past_removed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let text = key_text(&[
        ("data", "data-3", 1),
        ("biometric", "biometric-1", 2),
        ("index", "index-1", 3),
    ]);
    write_private(&path, &text);

    assert_eq!(Keyring::add_key(&path, Purpose::Data).unwrap(), "data-4");
}

#[test]
fn rotation_is_refused_while_another_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    Keyring::generate(&path).unwrap();
    std::fs::write(dir.path().join("keyring.rotating"), "").unwrap();

    let err = Keyring::add_key(&path, Purpose::Data).unwrap_err();

    assert!(matches!(err, CryptoError::RotationInProgress { .. }), "{err}");
    assert_eq!(Keyring::load(&path).unwrap().key_ids(Purpose::Data), vec!["data-1"]);
}

#[test]
fn bad_lines_are_each_reported_with_their_line_number() {
    let good = key_text(&[
        ("data", "data-1", 1),
        ("biometric", "biometric-1", 2),
        ("index", "index-1", 3),
    ]);
    let text = format!(
        "# comment\n\n{good}\
         secret data-2 AAAA\n\
         data data-3\n\
         data data-1 {}\n\
         data bad/id {}\n\
         data data-4 not*base64\n\
         data data-5 AAAA\n",
        STANDARD.encode([5u8; 32]),
        STANDARD.encode([6u8; 32]),
    );

    let err = Keyring::from_text(&text).unwrap_err();

    let CryptoError::KeyLines(lines) = &err else {
        panic!("expected bad lines, got {err}")
    };
    let numbers: Vec<usize> = lines.iter().map(|l| l.line).collect();
    assert_eq!(numbers, vec![6, 7, 8, 9, 10, 11], "{err}");
    let message = err.to_string();
    assert!(message.contains("line 6: unknown purpose \"secret\""), "{message}");
    assert!(message.contains("line 7: expected 3 fields"), "{message}");
    assert!(
        message.contains("line 8: key id \"data-1\" already used on line 3"),
        "{message}"
    );
    assert!(message.contains("line 9: key id \"bad/id\" must be"), "{message}");
    assert!(message.contains("line 10: key is not standard base64"), "{message}");
    assert!(message.contains("line 11: key is 3 bytes, expected 32"), "{message}");
}

#[test]
fn a_missing_purpose_is_refused() {
    let text = key_text(&[("data", "data-1", 1), ("index", "index-1", 3)]);

    let err = Keyring::from_text(&text).unwrap_err();

    assert!(matches!(err, CryptoError::MissingPurpose(Purpose::Biometric)), "{err}");
}

#[test]
fn world_readable_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    Keyring::generate(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let err = Keyring::load(&path).unwrap_err();

    assert!(
        matches!(err, CryptoError::KeyFilePermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(
        Keyring::add_key(&path, Purpose::Data).is_err(),
        "rotation refuses it too"
    );
}

#[test]
fn group_readable_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    Keyring::generate(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    assert!(matches!(
        Keyring::load(&path),
        Err(CryptoError::KeyFilePermissions { mode: 0o640, .. })
    ));
}

#[test]
fn missing_key_file_names_the_path() {
    let err = Keyring::load("/nonexistent/keyring").unwrap_err();

    assert!(err.to_string().contains("/nonexistent/keyring"), "{err}");
}

fn write_private(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
