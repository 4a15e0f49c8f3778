//! The acceptance binary checks its settings before it starts: every wrong one is named
//! by its variable on a line of its own, and it exits with 2 (no panic, no backtrace).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn the_binary_names_every_wrong_setting_and_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys");
    idcard_crypto::Keyring::generate(&key_file).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let wrong = [
        ("IDCARD_DATABASE_URL", "mysql://root@db/idcard".to_string()),
        ("IDCARD_DB_MAX_CONNECTIONS", "0".into()),
        ("IDCARD_RELAY_BATCH_SIZE", "0".into()),
        ("IDCARD_RELAY_CLAIM_TTL", "0s".into()),
        ("IDCARD_RELAY_BASE_BACKOFF", "2m".into()),
        ("IDCARD_PROBE_ADDR", "127.0.0.1:50051".into()),
        ("IDCARD_KEY_FILE", key_file.display().to_string()),
        ("IDCARD_TLS_CERT", dir.path().join("missing.crt").display().to_string()),
        ("IDCARD_DRAIN_TIMEOUT", "0s".into()),
        ("IDCARD_ROUTES", "44=review-gd".into()),
    ];

    let output = Command::new(env!("CARGO_BIN_EXE_acceptance"))
        .env_clear()
        .envs(wrong.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_BACKTRACE", "1")
        .env("IDCARD_LISTEN_ADDR", "0.0.0.0:50051")
        .env("IDCARD_RELAY_MAX_BACKOFF", "1m")
        .env("IDCARD_PEERS", "review=https://review:50052")
        .env("IDCARD_AUTH_PUBLIC_KEYS_DIR", dir.path())
        .env("IDCARD_NOTIFY_FILE", dir.path().join("notifications.jsonl"))
        .output()
        .unwrap();

    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    let mut lines = stderr.lines();
    assert_eq!(lines.next(), Some("invalid settings:"), "{stderr}");
    let named: Vec<&str> = lines.map(|line| line.trim_start().split(':').next().unwrap()).collect();
    for (setting, _) in &wrong {
        assert!(named.contains(setting), "{setting} is not named:\n{stderr}");
    }
    // The TLS files go together: the two not set are named as well, and the token key
    // directory holds no key.
    for setting in ["IDCARD_TLS_CA_CERT", "IDCARD_TLS_KEY", "IDCARD_AUTH_PUBLIC_KEYS_DIR"] {
        assert!(named.contains(&setting), "{setting} is not named:\n{stderr}");
    }
    assert_eq!(named.len(), wrong.len() + 3, "one line per problem:\n{stderr}");
    assert!(
        !stderr.contains("root@db"),
        "a database URL may hold a password:\n{stderr}"
    );
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[test]
fn an_unparsable_value_is_a_usage_error_too() {
    let output = Command::new(env!("CARGO_BIN_EXE_acceptance"))
        .env_clear()
        .env("IDCARD_DATABASE_URL", "sqlite:/tmp/never-opened.db")
        .env("IDCARD_SHUTDOWN_GRACE", "soon")
        .output()
        .unwrap();

    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shutdown-grace"), "{stderr}");
}
