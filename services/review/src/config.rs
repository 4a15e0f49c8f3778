//! The review service's settings, from flags or `IDCARD_*` environment variables.

use idcard_notify::NotifySettings;
use idcard_server::settings::{CommonSettings, InvalidSettings};

/// The peer name card status changes are published to unless `IDCARD_STATUS_PEER` says
/// otherwise.
pub const DEFAULT_STATUS_PEER: &str = "status";

/// The name this instance goes by (`issuer` of published card status) unless
/// `IDCARD_INSTANCE_NAME` says otherwise.
pub const DEFAULT_INSTANCE_NAME: &str = "review";

/// Settings of one review service instance, from flags or environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "review",
    version,
    about = "Review service: the domicile county bureau that reviews remote ID card applications",
    long_about = "Review service: the domicile county bureau that checks remote ID card applications \
against its household register, then issues a card or rejects with reasons. It is the system of record \
for card status and loss reports.\n\n\
Listens on 0.0.0.0:50052 unless IDCARD_LISTEN_ADDR says otherwise. IDCARD_PEERS must name every \
acceptance service that sends applications here (their `origin`) and every production centre they \
name (`production_centre`): an application naming another peer is refused with FAILED_PRECONDITION \
(UNKNOWN_PEER), so that its sender retries until the peers are configured. IDCARD_PEERS must also name \
the status service (IDCARD_STATUS_PEER, default \"status\"): every card status change is published \
there, and the service does not start without it. Citizens' notifications go to IDCARD_NOTIFY_FILE or \
IDCARD_NOTIFY_WEBHOOK_URL (exactly one)."
)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonSettings,

    /// The peer (in IDCARD_PEERS) that card status changes are published to.
    #[arg(long, env = "IDCARD_STATUS_PEER", default_value = DEFAULT_STATUS_PEER)]
    pub status_peer: String,

    #[command(flatten)]
    pub notify: NotifySettings,
}

impl Config {
    /// Settings for an instance on `database_url` with every other value at its default
    /// (for tests and `idctl`; set `common.peers`, `common.listen_addr` and a
    /// notification sender in `notify` as needed).
    pub fn for_database(database_url: impl Into<String>) -> Config {
        Config {
            common: CommonSettings::with_database(database_url),
            status_peer: DEFAULT_STATUS_PEER.to_string(),
            notify: NotifySettings::default(),
        }
    }

    /// Every wrong setting, the common ones and this service's own (the status peer, the
    /// notification sender), or `Ok`. `serve` checks them first; `main` prints them and
    /// exits with 2.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let mut problems = InvalidSettings::new();
        self.common.check(&mut problems);
        let peer = self.status_peer.trim();
        if peer.is_empty() {
            problems.add(
                "IDCARD_STATUS_PEER",
                "required: the peer name of the status service that card status is published to",
            );
        } else if let Ok(peers) = idcard_server::parse_pairs("IDCARD_PEERS", &self.common.peers) {
            // (A malformed IDCARD_PEERS is reported by the common checks.)
            if !peers.iter().any(|(name, _)| name == peer) {
                problems.add(
                    "IDCARD_STATUS_PEER",
                    format!(
                        "the status service {peer:?} is not in IDCARD_PEERS: every card status change is published \
                         there, so add {peer}=<url> to IDCARD_PEERS (or set IDCARD_STATUS_PEER to its name there)"
                    ),
                );
            }
        }
        for (setting, reason) in self.notify.problems() {
            problems.add(setting, reason);
        }
        problems.into_result()
    }

    /// This instance's name as its peers know it: the `issuer` of the card status it
    /// publishes.
    pub fn instance_name(&self) -> &str {
        self.common.instance_name.as_deref().unwrap_or(DEFAULT_INSTANCE_NAME)
    }
}
