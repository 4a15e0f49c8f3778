//! Settings, from flags or `IDCARD_*` environment variables (`production --help` lists
//! every one).

use idcard_server::settings::{CommonSettings, InvalidSettings};

/// The production service's settings. Peers (`IDCARD_PEERS`) must name every
/// acceptance service that sends orders through review, under the name it gives as
/// `origin`. The instance name (`IDCARD_INSTANCE_NAME`, default `production`) is the
/// centre's name: only operators whose token scope names it (or `*`) work here.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "production",
    version,
    about = "The residence-side production centre: makes, checks and dispatches ID cards",
    after_help = "Listens on 0.0.0.0:50053 unless IDCARD_LISTEN_ADDR is set. IDCARD_PEERS must name every acceptance \
                  service that orders come from, under the name it sends as origin."
)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonSettings,
}

impl Config {
    /// Every wrong setting, or `Ok`. `serve` checks them first; `main` prints them and
    /// exits with 2.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        self.common.validate()
    }

    /// Settings for a service on `database_url`, every other value at its default (tests,
    /// `idctl up`).
    pub fn for_database(database_url: impl Into<String>) -> Config {
        Config {
            common: CommonSettings::with_database(database_url),
        }
    }
}
