//! `idctl token issue`: a development bearer token signed with the key `idctl up` made.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use idcard_auth::{Issuer, Role, SigningKeyFiles};

use crate::endpoints::Endpoints;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a signed token for a role and scope.
    Issue {
        /// clerk, reviewer, production_operator, auditor, verifier or citizen.
        #[arg(long)]
        role: String,
        /// Scope entries (acceptance point codes, jurisdiction prefixes, centre names, the
        /// citizen's own ID number, or `*`); repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        /// How long the token is valid.
        #[arg(long, default_value = "8h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// Who the token is for (the actor in histories and the audit log).
        #[arg(long, default_value = "dev-user")]
        subject: String,
        /// The signing key (PKCS#8 PEM); default: the development key under the data directory.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The key id the services know the key by.
        #[arg(long, default_value = idctl::security::DEV_KID)]
        kid: String,
    },
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let Command::Issue {
        role,
        scope,
        ttl,
        subject,
        key,
        kid,
    } = cmd;
    let role: Role = role.parse().map_err(|err| anyhow::anyhow!("--role: {err}"))?;
    let key = key.unwrap_or_else(|| SigningKeyFiles::in_dir(&endpoints.data_dir.join("tokens"), &kid).private_key);
    let issuer = Issuer::from_file(&kid, &key).with_context(|| format!("loading the signing key {}", key.display()))?;
    let token = issuer.issue(&subject, role, scope, ttl).context("signing the token")?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
