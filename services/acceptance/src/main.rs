use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = acceptance::Config::parse();
    idcard_auth::install_crypto_provider();
    idcard_server::init_tracing(config.common.log_json);
    match acceptance::serve(config, idcard_server::shutdown_on_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "acceptance service stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
