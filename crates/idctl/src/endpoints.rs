//! Where the services are, and clients to them.

use std::path::PathBuf;

use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idctl::client::{self, Authed};

#[derive(Debug, Clone, clap::Args)]
pub struct Endpoints {
    /// The acceptance service.
    #[arg(
        long,
        global = true,
        env = "IDCARD_ACCEPTANCE_URL",
        default_value = "https://127.0.0.1:50051"
    )]
    pub acceptance_url: String,
    /// The review service.
    #[arg(
        long,
        global = true,
        env = "IDCARD_REVIEW_URL",
        default_value = "https://127.0.0.1:50052"
    )]
    pub review_url: String,
    /// The production service.
    #[arg(
        long,
        global = true,
        env = "IDCARD_PRODUCTION_URL",
        default_value = "https://127.0.0.1:50053"
    )]
    pub production_url: String,
    /// The status service (card verification, found cards).
    #[arg(
        long,
        global = true,
        env = "IDCARD_STATUS_URL",
        default_value = "https://127.0.0.1:50054"
    )]
    pub status_url: String,
    /// Bearer token for the calls (`idctl token issue` makes a development one).
    #[arg(long, global = true, env = "IDCARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// CA certificate to trust for https URLs; default: the development CA of `idctl up`
    /// under the data directory.
    #[arg(long, global = true, env = "IDCARD_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Where `idctl up` keeps its data, keys and development PKI.
    #[arg(long, global = true, env = "IDCARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

impl Endpoints {
    /// The CA to trust: as given, or the development CA if `idctl up` made one.
    pub fn ca(&self) -> Option<PathBuf> {
        self.ca_cert.clone().or_else(|| {
            let dev = self.data_dir.join("pki").join("ca.pem");
            dev.exists().then_some(dev)
        })
    }

    /// A channel to `url` carrying `token` (or the `--token` one when `None`).
    pub async fn channel(&self, url: &str, token: Option<&str>) -> anyhow::Result<Authed> {
        let token = token.or(self.token.as_deref());
        client::connect(url, self.ca().as_deref(), token).await
    }

    pub async fn acceptance(&self) -> anyhow::Result<AcceptanceServiceClient<Authed>> {
        Ok(AcceptanceServiceClient::new(
            self.channel(&self.acceptance_url, None).await?,
        ))
    }

    pub async fn review(&self) -> anyhow::Result<ReviewServiceClient<Authed>> {
        Ok(ReviewServiceClient::new(self.channel(&self.review_url, None).await?))
    }

    pub async fn production(&self) -> anyhow::Result<ProductionServiceClient<Authed>> {
        Ok(ProductionServiceClient::new(
            self.channel(&self.production_url, None).await?,
        ))
    }
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
