use std::time::Duration;

use idcard_notify::NotifySettings;
use idcard_server::settings::{CommonSettings, InvalidSettings};

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

    /// Every wrong setting, the common ones and this service's own (routes, notification
    /// sender, limits), or `Ok`. `serve` checks them first; `main` prints them and exits
    /// with 2.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let mut problems = InvalidSettings::new();
        self.common.check(&mut problems);
        // A malformed IDCARD_PEERS is reported above; routes are then checked for shape only.
        let peers = idcard_server::parse_pairs("IDCARD_PEERS", &self.common.peers).ok();
        let is_peer = |name: &str| {
            peers
                .as_ref()
                .is_none_or(|peers| peers.iter().any(|(peer, _)| peer == name))
        };
        for problem in crate::routing::Routes::problems(&self.routes, is_peer) {
            problems.add(
                "IDCARD_ROUTES",
                problem.to_string().trim_start_matches("IDCARD_ROUTES: "),
            );
        }
        for (setting, reason) in self.notify.problems() {
            problems.add(setting, reason);
        }
        if self.production_centre.trim().is_empty() {
            problems.add(
                "IDCARD_PRODUCTION_CENTRE",
                "required: the production centre's name, as review services know it",
            );
        }
        if self.max_photo_bytes == 0 {
            problems.add("IDCARD_MAX_PHOTO_BYTES", "is 0, expected at least 1");
        }
        problems.duration_within(
            "IDCARD_RESEAL_INTERVAL",
            self.reseal_interval,
            Duration::from_millis(10),
            Duration::from_secs(24 * 3600),
        );
        problems.into_result()
    }

    /// The name review services reply to.
    pub fn instance_name(&self) -> &str {
        self.common.instance_name.as_deref().unwrap_or("acceptance")
    }
}
