use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = review::Config::parse();
    if let Err(invalid) = config.validate() {
        return invalid.exit();
    }
    if let Err(err) = idcard_server::init_telemetry(config.common.telemetry("review")) {
        eprintln!("invalid settings:\n  {err}");
        return std::process::ExitCode::from(2);
    }
    let shutdown = idcard_server::shutdown_on_signal();
    let code = match review::serve(config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(review::Error::InvalidSettings(invalid)) => invalid.exit(),
        Err(err) => {
            tracing::error!(error = %err, "review service failed");
            std::process::ExitCode::FAILURE
        }
    };
    // The last spans leave before the runtime stops.
    idcard_server::shutdown_tracing().await;
    code
}
