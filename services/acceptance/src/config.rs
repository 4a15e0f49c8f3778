use std::time::Duration;

use idcard_notify::NotifySettings;
use idcard_server::settings::CommonSettings;

/// Largest photo taken unless `IDCARD_MAX_PHOTO_BYTES` says otherwise.
pub const DEFAULT_MAX_PHOTO_BYTES: usize = 512 * 1024;

/// Settings of the acceptance service. Every one is also an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "acceptance",
    about = "Residence-side acceptance service: takes applications and loss reports, and hands cards over",
    long_about = "Residence-side acceptance service: takes renewal and replacement applications and loss \
reports, sends them to the domicile review service, and hands cards over. Applicants' notifications \
(rejection, card ready for collection) go to IDCARD_NOTIFY_FILE or IDCARD_NOTIFY_WEBHOOK_URL (exactly one)."
)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonSettings,

    /// Where applicant notifications go (`IDCARD_NOTIFY_FILE`, `IDCARD_NOTIFY_WEBHOOK_URL`).
    #[command(flatten)]
    pub notify: NotifySettings,

    /// Routing table: declared domicile region code prefix to review peer name,
    /// `prefix=peer,...` (longest prefix wins), e.g. `11=review-bj,44=review-gd`.
    #[arg(long, env = "IDCARD_ROUTES", default_value = "")]
    pub routes: String,

    /// The production centre that makes this service's cards, as review services know it.
    #[arg(long, env = "IDCARD_PRODUCTION_CENTRE", default_value = "production")]
    pub production_centre: String,

    /// Largest applicant photo accepted, in bytes; a larger one is INVALID_ARGUMENT on
    /// `applicant.photo`. Keep it below `IDCARD_MAX_REQUEST_BYTES`.
    #[arg(long, env = "IDCARD_MAX_PHOTO_BYTES", default_value_t = DEFAULT_MAX_PHOTO_BYTES)]
    pub max_photo_bytes: usize,

    /// How often the resealer looks for applications and loss reports sealed under
    /// rotated-out keys.
    #[arg(long, env = "IDCARD_RESEAL_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub reseal_interval: Duration,
}

impl Config {
    /// Defaults on `database_url`, for tests and `idctl up`. No notification sender is
    /// set, and the service does not start without one: set `notify.notify_file` (or the
    /// webhook) as well.
    pub fn for_database(database_url: impl Into<String>) -> Config {
        Config {
            common: CommonSettings::with_database(database_url),
            notify: NotifySettings::default(),
            routes: String::new(),
            production_centre: "production".to_string(),
            max_photo_bytes: DEFAULT_MAX_PHOTO_BYTES,
            reseal_interval: Duration::from_secs(60),
        }
    }

    /// The name review services reply to.
    pub fn instance_name(&self) -> &str {
        self.common.instance_name.as_deref().unwrap_or("acceptance")
    }
}
