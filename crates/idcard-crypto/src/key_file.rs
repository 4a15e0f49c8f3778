//! The key file: parsing, the permission check, creation and rotation.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::{CryptoError, KeyLineError, Keyring, Purpose};

pub(crate) const KEY_LEN: usize = 32;
/// Key ids travel in every sealed value behind a one-byte length.
const MAX_KEY_ID_LEN: usize = 64;

const HEADER: &str = "\
# idcard keyring: keep this file secret (mode 0600) and backed up; losing a key loses
# the data sealed with it.
# One key per line: purpose key_id base64-of-32-bytes. Purposes: data, biometric, index.
# The last key of each purpose is active; older keys still open old values.
";

pub(crate) struct KeyLine {
    pub(crate) purpose: Purpose,
    pub(crate) id: String,
    pub(crate) key: [u8; KEY_LEN],
}

pub(crate) fn parse(text: &str) -> Result<Vec<KeyLine>, CryptoError> {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        match parse_line(content) {
            Ok(key) => match seen.get(&key.id) {
                Some(first) => errors.push(KeyLineError {
                    line,
                    reason: format!("key id {:?} already used on line {first}", key.id),
                }),
                None => {
                    seen.insert(key.id.clone(), line);
                    keys.push(key);
                }
            },
            Err(reason) => errors.push(KeyLineError { line, reason }),
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(CryptoError::KeyLines(errors))
    }
}

fn parse_line(content: &str) -> Result<KeyLine, String> {
    let fields: Vec<&str> = content.split_whitespace().collect();
    let [purpose, id, key] = fields[..] else {
        return Err(format!(
            "expected 3 fields `purpose key_id base64-key`, found {}",
            fields.len()
        ));
    };
    let purpose: Purpose = purpose.parse()?;
    if !valid_key_id(id) {
        return Err(format!(
            "key id {id:?} must be 1 to {MAX_KEY_ID_LEN} ascii letters, digits, '.', '_' or '-'"
        ));
    }
    // The decode error is not shown: it would quote part of the key.
    let bytes = STANDARD
        .decode(key)
        .map_err(|_| "key is not standard base64 (with padding)".to_string())?;
    let key: [u8; KEY_LEN] = bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| format!("key is {} bytes, expected {KEY_LEN}", bytes.len()))?;
    Ok(KeyLine {
        purpose,
        id: id.to_string(),
        key,
    })
}

fn valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Keyring {
    /// Loads a key file. On unix the file must grant nothing to group or others.
    pub fn load(path: impl AsRef<Path>) -> Result<Keyring, CryptoError> {
        let path = path.as_ref();
        let text = read_private(path)?;
        Keyring::from_text(&text)
    }

    /// Creates a key file (mode 0600, parent folders as needed) with one fresh key per
    /// purpose and returns its keyring. Refuses to overwrite an existing file.
    pub fn generate(path: impl AsRef<Path>) -> Result<Keyring, CryptoError> {
        let path = path.as_ref();
        let rng = SystemRandom::new();
        let mut text = HEADER.to_string();
        for purpose in Purpose::ALL {
            text.push_str(&key_line(purpose, &format!("{purpose}-1"), &rng)?);
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        }
        let mut file = create_private(path).map_err(|source| match source.kind() {
            ErrorKind::AlreadyExists => CryptoError::KeyFileExists(path.to_path_buf()),
            _ => io_error(path, source),
        })?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| io_error(path, source))?;
        Keyring::from_text(&text)
    }

    /// Rotation: appends a fresh key for `purpose` to the key file, which makes it the
    /// active key, and returns its id (`<purpose>-<n>`). The file is replaced atomically
    /// (a temporary file beside it, then a rename), so a crash leaves the old file or the
    /// new one. Running processes keep their loaded keyring until they load it again.
    ///
    /// Rotating the index key changes every blind index: see [`Keyring::blind_index`].
    pub fn add_key(path: impl AsRef<Path>, purpose: Purpose) -> Result<String, CryptoError> {
        let path = path.as_ref();
        // The temporary file doubles as a lock: a second rotation cannot start (and
        // then lose the first one's key) until this one has renamed it.
        let temp = temp_path(path);
        let mut file = create_private(&temp).map_err(|source| match source.kind() {
            ErrorKind::AlreadyExists => CryptoError::RotationInProgress { lock: temp.clone() },
            _ => io_error(&temp, source),
        })?;
        let outcome = (|| {
            let mut text = read_private(path)?;
            let lines = parse(&text)?;
            let id = next_key_id(purpose, &lines);
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&key_line(purpose, &id, &SystemRandom::new())?);
            // Refuse to write a file that would not load.
            Keyring::from_text(&text)?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|source| io_error(&temp, source))?;
            fs::rename(&temp, path).map_err(|source| io_error(path, source))?;
            Ok(id)
        })();
        match outcome {
            Ok(id) => {
                // Make the rename itself durable; a failure here leaves a valid file.
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    let _ = File::open(parent).and_then(|dir| dir.sync_all());
                }
                Ok(id)
            }
            Err(err) => {
                let _ = fs::remove_file(&temp);
                Err(err)
            }
        }
    }
}

fn key_line(purpose: Purpose, id: &str, rng: &SystemRandom) -> Result<String, CryptoError> {
    let mut key = [0u8; KEY_LEN];
    rng.fill(&mut key).map_err(|_| CryptoError::Random)?;
    Ok(format!("{purpose} {id} {}\n", STANDARD.encode(key)))
}

/// `<purpose>-<n>` with `n` one past the highest in use, so ids never repeat even after
/// an old key is removed from the file.
fn next_key_id(purpose: Purpose, lines: &[KeyLine]) -> String {
    let prefix = format!("{purpose}-");
    let highest = lines
        .iter()
        .filter_map(|line| line.id.strip_prefix(&prefix)?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let mut n = highest + 1;
    while lines.iter().any(|line| line.id == format!("{prefix}{n}")) {
        n += 1;
    }
    format!("{prefix}{n}")
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".rotating");
    path.with_file_name(name)
}

fn io_error(path: &Path, source: std::io::Error) -> CryptoError {
    CryptoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_private(path: &Path) -> Result<String, CryptoError> {
    let mut file = File::open(path).map_err(|source| io_error(path, source))?;
    check_private(path, &file)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|source| io_error(path, source))?;
    Ok(text)
}

#[cfg(unix)]
fn check_private(path: &Path, file: &File) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| io_error(path, source))?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &File) -> Result<(), CryptoError> {
    Ok(())
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
