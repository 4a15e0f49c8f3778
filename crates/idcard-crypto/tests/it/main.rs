#![allow(clippy::unwrap_used)]

mod blind_index;
mod key_file;
mod properties;
mod sealing;

use idcard_crypto::Keyring;

/// Fixed test keys: 32 bytes of 0x01.., distinct per line.
pub fn key_text(lines: &[(&str, &str, u8)]) -> String {
    use base64::Engine;
    lines
        .iter()
        .map(|(purpose, id, byte)| {
            format!(
                "{purpose} {id} {}\n",
                base64::engine::general_purpose::STANDARD.encode([*byte; 32])
            )
        })
        .collect()
}

pub fn keyring() -> Keyring {
    Keyring::from_text(&key_text(&[
        ("data", "data-1", 1),
        ("biometric", "biometric-1", 2),
        ("index", "index-1", 3),
    ]))
    .unwrap()
}
