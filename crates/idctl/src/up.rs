//! `idctl up`: the whole stack in one process, on SQLite files under the data directory
//! (nothing to install). Ctrl-C stops every service gracefully.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use idcard_auth::{ALL_SCOPE, Role};
use idcard_proto::v1 as pb;
use idctl::client;
use idctl::security::DevSecurity;
use idctl::stack::Stack;

use crate::register;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the SQLite databases live.
    #[arg(long, env = "IDCARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Address the three services bind.
    #[arg(long, env = "IDCARD_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    #[arg(long, env = "IDCARD_ACCEPTANCE_PORT", default_value_t = acceptance::DEFAULT_PORT)]
    pub acceptance_port: u16,
    #[arg(long, env = "IDCARD_REVIEW_PORT", default_value_t = review::DEFAULT_PORT)]
    pub review_port: u16,
    #[arg(long, env = "IDCARD_PRODUCTION_PORT", default_value_t = production::DEFAULT_PORT)]
    pub production_port: u16,
    #[arg(long, env = "IDCARD_STATUS_PORT", default_value_t = status::DEFAULT_PORT)]
    pub status_port: u16,
    /// Plaintext probe ports (gRPC health and Prometheus `GET /metrics`), one per
    /// service in the order acceptance, review, production, status.
    #[arg(long, env = "IDCARD_PROBE_PORTS", value_delimiter = ',', default_values_t = idctl::stack::PROBE_PORTS)]
    pub probe_ports: Vec<u16>,
    /// Run on PostgreSQL instead of SQLite: `postgres://USER@HOST:PORT`. Each service gets
    /// its own database (idcard_acceptance, idcard_review, idcard_production), created if
    /// missing.
    #[arg(long, env = "IDCARD_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Do not load the sample household register records.
    #[arg(long)]
    pub no_seed: bool,
    /// Log as JSON lines.
    #[arg(long, env = "IDCARD_LOG_JSON")]
    pub log_json: bool,
    /// Export the stack's traces to this OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT` when unset; no export without either).
    #[arg(long, env = "IDCARD_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// No TLS and no bearer tokens: for local debugging only. Personal data is still
    /// encrypted at rest.
    #[arg(long)]
    pub insecure: bool,
}

/// The sample residents in several provinces that `idctl demo` uses.
const SAMPLE_RESIDENTS: &str = include_str!("seed/residents.jsonl");

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut telemetry = idcard_server::TelemetryConfig::logs("idctl-up", args.log_json);
    telemetry.otlp_endpoint = args
        .otlp_endpoint
        .clone()
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
        .filter(|endpoint| !endpoint.trim().is_empty());
    idcard_server::init_telemetry(telemetry)?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    idcard_auth::install_crypto_provider();
    let security = DevSecurity::ensure(&args.data_dir, args.insecure)?;
    if args.insecure {
        eprintln!("WARNING: --insecure: no TLS, no bearer tokens, no peer certificates. Local debugging only.");
    }
    let stack = Stack::bind(
        args.bind,
        [
            args.acceptance_port,
            args.review_port,
            args.production_port,
            args.status_port,
        ],
        security.clone(),
        args.data_dir.join("notifications.jsonl"),
    )
    .await?;
    let probe_ports: [u16; 4] = args
        .probe_ports
        .clone()
        .try_into()
        .map_err(|_| anyhow::anyhow!("--probe-ports takes four ports"))?;
    let stack = stack.with_probe_ports(probe_ports).await?;
    let probes = stack.probe_addrs();
    let databases = databases(&args).await?;
    let store = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let configs = stack.configs(databases)?;
    let shutdown = idcard_server::shutdown_on_signal();
    let urls = stack.urls();
    let running = stack.spawn(configs, shutdown.clone());

    if !args.no_seed {
        seed(&urls.review, &security).await?;
    }
    println!(
        "stack up on {store}: acceptance {}, review {}, production {}, status {}; notifications in {}; Ctrl-C stops",
        urls.acceptance,
        urls.review,
        urls.production,
        urls.status,
        args.data_dir.join("notifications.jsonl").display()
    );
    if let Some(probes) = probes {
        let scrape = |i: usize| format!("http://{}/metrics", probes[i]);
        println!(
            "metrics (Prometheus text; gRPC health on the same ports): acceptance {}, review {}, production {}, status {}",
            scrape(0),
            scrape(1),
            scrape(2),
            scrape(3)
        );
    }
    match security.ca_cert() {
        Some(ca) => println!(
            "TLS with the development CA {ca}; tokens: `idctl token issue --role clerk --scope 310104-01`; \
             `idctl demo` issues its own",
            ca = ca.display()
        ),
        None => println!("INSECURE: plaintext, no tokens checked"),
    }
    let stopped = running.wait(shutdown).await;
    // The last spans leave before the runtime stops.
    idcard_server::shutdown_tracing().await;
    stopped?;
    println!("stack stopped");
    Ok(ExitCode::SUCCESS)
}

/// One database per service: SQLite files under the data directory, or PostgreSQL
/// databases created on the server if missing.
async fn databases(args: &Args) -> anyhow::Result<[String; 4]> {
    let mut urls = Vec::with_capacity(4);
    for name in idctl::stack::SERVICES {
        let url = match &args.postgres {
            Some(server) => idcard_db::postgres::ensure_database(server, &format!("idcard_{name}"))
                .await
                .with_context(|| format!("preparing the {name} database on PostgreSQL"))?,
            None => format!("sqlite:{}", args.data_dir.join(format!("{name}.db")).display()),
        };
        urls.push(url);
    }
    urls.try_into().map_err(|_| anyhow::anyhow!("four databases"))
}

/// Loads the sample residents once the review service answers. The fixed request id
/// makes a second start a no-op.
async fn seed(review_url: &str, security: &DevSecurity) -> anyhow::Result<()> {
    let residents = register::parse_jsonl(SAMPLE_RESIDENTS).map_err(|errors| {
        anyhow::anyhow!(
            "sample residents: {}",
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
        )
    })?;
    let count = residents.len();
    let request = pb::ImportResidentsRequest {
        request_id: "idctl-up-sample-residents-v1".to_string(),
        residents,
    };
    let token = security.token("idctl-up", Role::Reviewer, &[ALL_SCOPE], Duration::from_secs(300))?;
    for attempt in 0.. {
        match client::connect(review_url, security.ca_cert(), token.as_deref()).await {
            Ok(channel) => {
                let mut client = pb::review_service_client::ReviewServiceClient::new(channel);
                client
                    .import_residents(request.clone())
                    .await
                    .map_err(|s| anyhow::Error::from(s).context("loading sample residents"))?;
                tracing::info!(count, "sample household register records loaded");
                return Ok(());
            }
            Err(err) if attempt < 50 => {
                tracing::debug!(error = %err, "review service not up yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
