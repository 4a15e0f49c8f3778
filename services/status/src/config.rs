//! Settings, from flags or `IDCARD_*` environment variables (`status --help` lists every
//! one).

use std::num::NonZeroU32;

use idcard_server::settings::{CommonSettings, InvalidSettings};

/// Verifications a token may make per second on average, unless
/// `IDCARD_VERIFY_RATE_PER_SECOND` says otherwise.
pub const DEFAULT_VERIFY_RATE_PER_SECOND: NonZeroU32 = NonZeroU32::new(50).expect("non-zero");

/// Verifications a token may make at once after a pause, unless `IDCARD_VERIFY_BURST`
/// says otherwise.
pub const DEFAULT_VERIFY_BURST: NonZeroU32 = NonZeroU32::new(100).expect("non-zero");

/// The status service's settings. Peers (`IDCARD_PEERS`) must name every review service
/// that publishes card status, under the name its cards carry as `issuer`: found-card
/// notices go there.
///
/// The verification rate limit is a token bucket per token subject, kept in the memory
/// of each replica: with N replicas behind a balancer a token may make up to N times
/// the rate.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "status",
    version,
    about = "The national card-status index: verifies ID cards for every review service and keeps the found-card \
             register",
    after_help = "Listens on 0.0.0.0:50054 unless IDCARD_LISTEN_ADDR is set. IDCARD_PEERS must name every review \
                  service under the name it publishes as issuer."
)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonSettings,

    /// Verifications each token (subject) may make per second on average, per replica;
    /// more are answered RESOURCE_EXHAUSTED.
    #[arg(long, env = "IDCARD_VERIFY_RATE_PER_SECOND", default_value = "50")]
    pub verify_rate_per_second: NonZeroU32,

    /// Verifications a token may make at once after a pause (the bucket size).
    #[arg(long, env = "IDCARD_VERIFY_BURST", default_value = "100")]
    pub verify_burst: NonZeroU32,
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
            verify_rate_per_second: DEFAULT_VERIFY_RATE_PER_SECOND,
            verify_burst: DEFAULT_VERIFY_BURST,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn parsed_defaults_match_for_database() {
        let parsed = Config::try_parse_from(["status", "--database-url", "sqlite:x.db"]).expect("parses");
        let built = Config::for_database("sqlite:x.db");
        assert_eq!(parsed.verify_rate_per_second, built.verify_rate_per_second);
        assert_eq!(parsed.verify_burst, built.verify_burst);
    }

    #[test]
    fn a_zero_rate_is_refused() {
        let parsed = Config::try_parse_from([
            "status",
            "--database-url",
            "sqlite:x.db",
            "--verify-rate-per-second",
            "0",
        ]);
        assert!(parsed.is_err());
    }
}
