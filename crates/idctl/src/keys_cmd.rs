//! `idctl keys rotate`: adds a key for personal data at rest. Running services re-read
//! the key file within `IDCARD_KEY_RELOAD_INTERVAL`, seal new values with the new key,
//! and re-seal old values in the background; old values stay readable meanwhile.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use idcard_crypto::{Keyring, Purpose};

use crate::endpoints::Endpoints;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a new active key for each purpose given.
    Rotate {
        /// The key file; default: `keys.txt` under the data directory.
        #[arg(long, env = "IDCARD_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Which keys: data, biometric (the index key is not rotated here: a new index
        /// key needs every blind index recomputed).
        #[arg(long, value_delimiter = ',', default_values = ["data", "biometric"])]
        purpose: Vec<String>,
    },
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let Command::Rotate { key_file, purpose } = cmd;
    let path = key_file.unwrap_or_else(|| endpoints.data_dir.join("keys.txt"));
    for name in purpose {
        let purpose: Purpose = name
            .parse()
            .map_err(|_| anyhow::anyhow!("--purpose: unknown purpose {name:?}"))?;
        if purpose == Purpose::Index {
            anyhow::bail!(
                "--purpose index: rotating the blind index key needs a re-index, which this command does not do"
            );
        }
        let id = Keyring::add_key(&path, purpose)
            .with_context(|| format!("adding a {purpose} key to {}", path.display()))?;
        println!("{purpose}: new active key {id}");
    }
    println!(
        "services re-read {} and re-seal old values in the background",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
