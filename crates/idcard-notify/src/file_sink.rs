use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::{DeliveryError, Rendered};

/// Appends one JSON line per message to a file under the data directory. The recipient
/// is written masked: the data directory holds nothing personal in clear. The text is
/// written as is, so a one-time code in it is only as safe as the file.
#[derive(Debug, Clone)]
pub struct FileSink {
    path: PathBuf,
}

#[derive(Serialize)]
struct Line<'a> {
    message_id: &'a str,
    channel: &'a str,
    to: String,
    subject: Option<&'a str>,
    text: &'a str,
    at: String,
}

impl FileSink {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSink { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `message`; `message_id` is the outbox message id.
    pub async fn send(&self, message_id: Uuid, message: &Rendered) -> Result<(), DeliveryError> {
        let id = crate::notifier::rendered_id(message_id, message.channel);
        let at = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        let line = Line {
            message_id: &id,
            channel: message.channel.as_str(),
            to: message.masked_to(),
            subject: message.subject.as_deref(),
            text: &message.text,
            at,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|err| DeliveryError::Permanent(err.to_string()))?;
        bytes.push(b'\n');
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append(&path, &bytes))
            .await
            .map_err(|err| DeliveryError::Retryable(format!("file sink task failed: {err}")))?
            .map_err(|err| DeliveryError::Retryable(format!("appending to the notification file failed: {err}")))
    }
}

/// One `write` on an `O_APPEND` descriptor, so lines of concurrent writers (other tasks,
/// other services sharing the file) do not interleave.
fn append(path: &Path, line: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let written = file.write(line)?;
    if written != line.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!(
                "short write to the notification file: {written} of {} bytes",
                line.len()
            ),
        ));
    }
    Ok(())
}
