use std::process::ExitCode;

use clap::Parser;
use status::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(invalid) = config.validate() {
        return invalid.exit();
    }
    if let Err(err) = idcard_server::init_telemetry(config.common.telemetry("status")) {
        eprintln!("invalid settings:\n  {err}");
        return ExitCode::from(2);
    }
    let shutdown = idcard_server::shutdown_on_signal();
    let code = match status::serve(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(status::Error::InvalidSettings(invalid)) => invalid.exit(),
        Err(err) => {
            tracing::error!(error = %err, "status service failed");
            ExitCode::FAILURE
        }
    };
    // The last spans leave before the runtime stops.
    idcard_server::shutdown_tracing().await;
    code
}
