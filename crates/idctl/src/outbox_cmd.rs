//! `idctl outbox ...`: a service's dead letters, read and replayed directly in its
//! database (the services have no RPC for this: it is an operator's repair tool).

use std::process::ExitCode;

use anyhow::Context;
use clap::ArgGroup;
use idcard_db::{Db, DbOptions};
use uuid::Uuid;

use crate::print;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Messages the relay gave up on, oldest first.
    DeadLetters {
        /// The service's database: sqlite:PATH or postgres://...
        #[arg(long, env = "IDCARD_DATABASE_URL")]
        database: String,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Put dead letters back in the queue with a fresh attempt count.
    #[command(group(ArgGroup::new("which").required(true).args(["message_ids", "all"])))]
    Replay {
        /// The service's database: sqlite:PATH or postgres://...
        #[arg(long, env = "IDCARD_DATABASE_URL")]
        database: String,
        /// A dead letter to replay; repeat for each.
        #[arg(long = "message-id")]
        message_ids: Vec<Uuid>,
        /// Replay every dead letter.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::DeadLetters { database, limit } => {
            let db = open(&database).await?;
            let letters = idcard_outbox::list_dead_letters(&db, limit.max(0)).await;
            db.close().await;
            let letters = letters.context("cannot read the outbox")?;
            if letters.is_empty() {
                println!("no dead letters");
            }
            for letter in &letters {
                println!(
                    "{}  {}  to {}  key {}  attempts {}  created {}  last error: {}",
                    letter.message_id,
                    letter.kind,
                    letter.destination,
                    letter.ordering_key,
                    letter.attempts,
                    print::instant(Some(letter.created_at_ms)),
                    letter.last_error.as_deref().unwrap_or("-"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            database,
            message_ids,
            all,
        } => {
            if !all && message_ids.is_empty() {
                anyhow::bail!("name the dead letters to replay with --message-id, or pass --all");
            }
            let db = open(&database).await?;
            // An empty list replays every dead letter.
            let ids: &[Uuid] = if all { &[] } else { &message_ids };
            let replayed = idcard_outbox::replay_dead_letters(&db, ids).await;
            db.close().await;
            let replayed = replayed.context("cannot replay dead letters")?;
            println!("replayed {replayed} dead letter(s); the relay delivers them on its next poll");
            if !all && replayed < message_ids.len() as u64 {
                eprintln!(
                    "{} of the {} message id(s) named are not dead letters in this database",
                    message_ids.len() as u64 - replayed,
                    message_ids.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Opens an existing database: connecting to a SQLite path that does not exist would
/// create an empty file, which only hides a typo.
async fn open(url: &str) -> anyhow::Result<Db> {
    if let Some(path) = sqlite_path(url) {
        let exists = tokio::fs::try_exists(path).await.unwrap_or(false);
        anyhow::ensure!(exists, "no database at {path} (is this the service's data directory?)");
    }
    let options = DbOptions {
        max_connections: 1,
        ..DbOptions::default()
    };
    Db::connect(url, &options)
        .await
        .with_context(|| format!("cannot open the database {}", redact(url)))
}

/// The file of a `sqlite:` URL, unless it names an in-memory database.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_found() {
        assert_eq!(sqlite_path("sqlite:data/review.db"), Some("data/review.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/a.db?mode=rwc"), Some("/tmp/a.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/review"),
            "postgres://app:***@db:5432/review"
        );
        assert_eq!(redact("postgres://app@db/review"), "postgres://app@db/review");
        assert_eq!(redact("sqlite:data/review.db"), "sqlite:data/review.db");
    }
}
