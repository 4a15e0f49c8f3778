use idcard_server::settings::CommonSettings;

/// Settings of the acceptance service. Every one is also an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "acceptance",
    about = "Residence-side acceptance service: takes applications and hands cards over"
)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonSettings,

    /// Routing table: declared domicile region code prefix to review peer name,
    /// `prefix=peer,...` (longest prefix wins), e.g. `11=review-bj,44=review-gd`.
    #[arg(long, env = "IDCARD_ROUTES", default_value = "")]
    pub routes: String,

    /// The production centre that makes this service's cards, as review services know it.
    #[arg(long, env = "IDCARD_PRODUCTION_CENTRE", default_value = "production")]
    pub production_centre: String,
}

impl Config {
    /// Defaults on `database_url`, for tests and `idctl up`.
    pub fn for_database(database_url: impl Into<String>) -> Config {
        Config {
            common: CommonSettings::with_database(database_url),
            routes: String::new(),
            production_centre: "production".to_string(),
        }
    }

    /// The name review services reply to.
    pub fn instance_name(&self) -> &str {
        self.common.instance_name.as_deref().unwrap_or("acceptance")
    }
}
