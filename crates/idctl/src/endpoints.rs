//! Where the services are, and clients to them.

use std::time::Duration;

use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, Clone, clap::Args)]
pub struct Endpoints {
    /// The acceptance service.
    #[arg(
        long,
        global = true,
        env = "IDCARD_ACCEPTANCE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub acceptance_url: String,
    /// The review service.
    #[arg(
        long,
        global = true,
        env = "IDCARD_REVIEW_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub review_url: String,
    /// The production service.
    #[arg(
        long,
        global = true,
        env = "IDCARD_PRODUCTION_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub production_url: String,
}

impl Endpoints {
    pub async fn acceptance(&self) -> anyhow::Result<AcceptanceServiceClient<Channel>> {
        Ok(AcceptanceServiceClient::new(connect(&self.acceptance_url).await?))
    }

    pub async fn review(&self) -> anyhow::Result<ReviewServiceClient<Channel>> {
        Ok(ReviewServiceClient::new(connect(&self.review_url).await?))
    }

    pub async fn production(&self) -> anyhow::Result<ProductionServiceClient<Channel>> {
        Ok(ProductionServiceClient::new(connect(&self.production_url).await?))
    }
}

pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|err| anyhow::anyhow!("{url}: not a valid endpoint: {err}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    endpoint
        .connect()
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect to {url}: {err} (is the stack up? `idctl up`)"))
}

/// An error for the terminal: a gRPC status shows its code, message and the reason codes
/// or fields it carries.
pub fn describe(err: &anyhow::Error) -> String {
    match err.downcast_ref::<tonic::Status>() {
        Some(status) => {
            let mut text = format!("{:?}: {}", status.code(), status.message());
            let reasons = idcard_server::status::reason_codes(status);
            if !reasons.is_empty() {
                text.push_str(&format!(" [reasons: {}]", reasons.join(", ")));
            }
            let fields = idcard_server::status::violated_fields(status);
            if !fields.is_empty() {
                text.push_str(&format!(" [fields: {}]", fields.join(", ")));
            }
            text
        }
        None => format!("{err:#}"),
    }
}
