//! `idctl audit verify`: checks every audit chain in the data directory or on a
//! PostgreSQL server, and exits non-zero naming the first broken entry.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use idcard_audit::AuditError;
use idcard_db::{Db, DbOptions};

use crate::endpoints::Endpoints;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the hash chains.
    Verify {
        /// Databases to check (`sqlite:PATH` or `postgres://…/DB`); default: every `*.db`
        /// in the data directory, or the three service databases with `--postgres`.
        #[arg(long)]
        database: Vec<String>,
        /// A PostgreSQL server whose idcard_<service> databases are checked.
        #[arg(long)]
        postgres: Option<String>,
    },
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let Command::Verify { mut database, postgres } = cmd;
    if let Some(server) = postgres {
        for name in idctl::stack::SERVICES {
            database.push(idcard_db::postgres::database_url(&server, &format!("idcard_{name}")));
        }
    }
    if database.is_empty() {
        database = sqlite_files(&endpoints.data_dir)?;
    }
    if database.is_empty() {
        eprintln!(
            "no database found in {}; give --database or --postgres",
            endpoints.data_dir.display()
        );
        return Ok(ExitCode::from(2));
    }
    let mut broken = false;
    for url in &database {
        let db = Db::connect(url, &DbOptions::default())
            .await
            .with_context(|| format!("opening {url}"))?;
        match idcard_audit::verify(&db).await {
            Ok(verified) => println!(
                "{url}: ok, {} entries chained, {} not yet sealed",
                verified.entries, verified.unsealed
            ),
            Err(AuditError::Broken(at)) => {
                broken = true;
                println!("{url}: BROKEN: {at}");
            }
            Err(err) => return Err(anyhow::Error::from(err).context(format!("verifying {url}"))),
        }
        db.close().await;
    }
    Ok(if broken { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn sqlite_files(dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    files.sort();
    Ok(files.into_iter().map(|p| format!("sqlite:{}", p.display())).collect())
}
