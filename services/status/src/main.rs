use std::process::ExitCode;

use clap::Parser;
use status::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    idcard_server::init_tracing(config.common.log_json);
    let shutdown = idcard_server::shutdown_on_signal();
    match status::serve(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "status service failed");
            ExitCode::FAILURE
        }
    }
}
