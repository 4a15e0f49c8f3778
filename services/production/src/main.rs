use std::process::ExitCode;

use clap::Parser;
use production::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    idcard_server::init_tracing(config.common.log_json);
    let shutdown = idcard_server::shutdown_on_signal();
    match production::serve(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "production service failed");
            ExitCode::FAILURE
        }
    }
}
