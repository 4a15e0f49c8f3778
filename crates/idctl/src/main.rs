//! `idctl`: the operator and developer CLI. Runs the whole stack in one process
//! (`idctl up`), drives the flow (`idctl demo`), and calls every RPC so that an operator
//! can script the flow. Errors exit non-zero with the gRPC status message.

mod acceptance_cmd;
mod audit_cmd;
mod ceiling;
mod demo;
mod demo_loss;
mod endpoints;
mod id_check;
mod keys_cmd;
mod load;
mod loss_cmd;
mod migrate_cmd;
mod outbox_cmd;
mod overdue_cmd;
mod print;
mod production_cmd;
mod register;
mod review_cmd;
mod token_cmd;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::endpoints::Endpoints;

#[derive(Parser)]
#[command(
    name = "idctl",
    version,
    about = "Cross-region resident ID card services: run, drive and inspect the stack"
)]
struct Cli {
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the three services in this process (SQLite under the data directory by default).
    Up(up::Args),
    /// Drive one renewal and one replacement through a running stack to collection
    /// (`idctl demo loss`: a card's loss report, verification and replacement).
    Demo(demo::Args),
    /// Acceptance-point RPCs: submit, get, list, arrival, collection, deadline extension.
    #[command(subcommand)]
    Acceptance(acceptance_cmd::Command),
    /// Domicile review RPCs: pending list, case, approve, reject.
    #[command(subcommand)]
    Review(review_cmd::Command),
    /// Production centre RPCs: jobs, quality checks, dispatch.
    #[command(subcommand)]
    Production(production_cmd::Command),
    /// The household register at the domicile review service.
    #[command(subcommand)]
    Register(register::Command),
    /// Apply a service's database migrations (each service also does at start).
    Migrate(migrate_cmd::Args),
    /// The statutory clock: what is overdue (or due soon) at the acceptance, review and
    /// production services, most overdue first.
    Overdue(overdue_cmd::Args),
    /// Dead letters of a service's outbox.
    #[command(subcommand)]
    Outbox(outbox_cmd::Command),
    /// Citizen ID numbers.
    #[command(subcommand)]
    Id(id_check::Command),
    /// Loss reports at the counter: report, get, revoke.
    #[command(subcommand)]
    Loss(loss_cmd::LossCommand),
    /// Verify a card's status, as a bank or hotel does (a verifier token).
    Verify(loss_cmd::VerifyArgs),
    /// The national found-card register.
    #[command(subcommand)]
    Found(loss_cmd::FoundCommand),
    /// A citizen's online loss report (a citizen token).
    #[command(subcommand)]
    Citizen(loss_cmd::CitizenCommand),
    /// Development bearer tokens.
    #[command(subcommand)]
    Token(token_cmd::Command),
    /// Keys for personal data at rest.
    #[command(subcommand)]
    Keys(keys_cmd::Command),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit_cmd::Command),
    /// Load a running stack (submit, flow or verify) and report throughput and latency.
    Load(Box<load::Args>),
    /// Serve an empty VerifyCard handler through the services' own server setup: the
    /// ceiling the `verify` load scenario is measured against.
    Ceiling(ceiling::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    idcard_auth::install_crypto_provider();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Demo(args) => demo::run(args, &cli.endpoints).await,
        Command::Acceptance(cmd) => acceptance_cmd::run(cmd, &cli.endpoints).await,
        Command::Review(cmd) => review_cmd::run(cmd, &cli.endpoints).await,
        Command::Production(cmd) => production_cmd::run(cmd, &cli.endpoints).await,
        Command::Register(cmd) => register::run(cmd, &cli.endpoints).await,
        Command::Migrate(args) => migrate_cmd::run(args).await,
        Command::Outbox(cmd) => outbox_cmd::run(cmd).await,
        Command::Overdue(args) => overdue_cmd::run(args, &cli.endpoints).await,
        Command::Id(cmd) => id_check::run(cmd).await,
        Command::Loss(cmd) => loss_cmd::run_loss(cmd, &cli.endpoints).await,
        Command::Verify(args) => loss_cmd::run_verify(args, &cli.endpoints).await,
        Command::Found(cmd) => loss_cmd::run_found(cmd, &cli.endpoints).await,
        Command::Citizen(cmd) => loss_cmd::run_citizen(cmd, &cli.endpoints).await,
        Command::Token(cmd) => token_cmd::run(cmd, &cli.endpoints).await,
        Command::Keys(cmd) => keys_cmd::run(cmd, &cli.endpoints).await,
        Command::Audit(cmd) => audit_cmd::run(cmd, &cli.endpoints).await,
        Command::Load(args) => load::run(*args, &cli.endpoints).await,
        Command::Ceiling(args) => ceiling::run(args).await.map(|()| ExitCode::SUCCESS),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", endpoints::describe(&err));
            ExitCode::FAILURE
        }
    }
}
