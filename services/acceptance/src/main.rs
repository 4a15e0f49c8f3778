use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = acceptance::Config::parse();
    idcard_auth::install_crypto_provider();
    if let Err(invalid) = config.validate() {
        return invalid.exit();
    }
    if let Err(err) = idcard_server::init_telemetry(config.common.telemetry("acceptance")) {
        eprintln!("invalid settings:\n  {err}");
        return std::process::ExitCode::from(2);
    }
    let code = match acceptance::serve(config, idcard_server::shutdown_on_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(acceptance::Error::InvalidSettings(invalid)) => invalid.exit(),
        Err(err) => {
            tracing::error!(error = %err, "acceptance service stopped");
            std::process::ExitCode::FAILURE
        }
    };
    // The last spans leave before the runtime stops.
    idcard_server::shutdown_tracing().await;
    code
}
