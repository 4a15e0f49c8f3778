//! The review service's settings, from flags or `IDCARD_*` environment variables.

use idcard_server::settings::CommonSettings;

/// Settings of one review service instance, from flags or environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "review",
    version,
    about = "Review service: the domicile county bureau that reviews remote ID card applications",
    long_about = "Review service: the domicile county bureau that checks remote ID card applications \
against its household register, then issues a card or rejects with reasons.\n\n\
Listens on 0.0.0.0:50052 unless IDCARD_LISTEN_ADDR says otherwise. IDCARD_PEERS must name every \
acceptance service that sends applications here (their `origin`) and every production centre they \
name (`production_centre`): an application naming another peer is refused with FAILED_PRECONDITION \
(UNKNOWN_PEER), so that its sender retries until the peers are configured."
)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonSettings,
}

impl Config {
    /// Settings for an instance on `database_url` with every other value at its default
    /// (for tests and `idctl`; set `common.peers` and `common.listen_addr` as needed).
    pub fn for_database(database_url: impl Into<String>) -> Config {
        Config {
            common: CommonSettings::with_database(database_url),
        }
    }
}
