//! `idctl migrate`: applies a service's migrations to its database, as each service also
//! does when it starts.

use std::process::ExitCode;

use anyhow::Context;
use idcard_db::{Db, DbOptions, MigrationSet};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which service's schema.
    #[arg(value_enum)]
    pub service: Service,
    /// The service's database: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "IDCARD_DATABASE_URL")]
    pub database: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Service {
    Acceptance,
    Review,
    Production,
    Status,
}

impl Service {
    /// Every migration set in a service's database.
    pub fn migrations(self) -> &'static [&'static MigrationSet] {
        match self {
            Service::Acceptance => &acceptance::MIGRATION_SETS,
            Service::Review => &review::MIGRATION_SETS,
            Service::Production => &production::MIGRATION_SETS,
            Service::Status => &status::MIGRATION_SETS,
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&args.database, &DbOptions::default())
        .await
        .context("connecting to the database")?;
    db.migrate(args.service.migrations()).await.context("migrating")?;
    db.close().await;
    println!("{:?} schema is up to date", args.service);
    Ok(ExitCode::SUCCESS)
}
