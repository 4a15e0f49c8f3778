use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = review::Config::parse();
    idcard_server::init_tracing(config.common.log_json);
    let shutdown = idcard_server::shutdown_on_signal();
    match review::serve(config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "review service failed");
            std::process::ExitCode::FAILURE
        }
    }
}
