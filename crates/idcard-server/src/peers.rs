use std::collections::HashMap;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::trace::SendTraceContext;

/// A channel to a peer: every call on it carries the caller's trace context.
pub type PeerChannel = InterceptedService<Channel, SendTraceContext>;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{setting}: expected name=value pairs separated by commas, got {entry:?}")]
    Malformed { setting: &'static str, entry: String },
    #[error("peer {name}: invalid endpoint {url:?}: {reason}")]
    BadEndpoint { name: String, url: String, reason: String },
    #[error("no peer named {0:?} is configured")]
    Unknown(String),
}

/// Parses `a=1,b=2` into pairs, as settings give routing tables and peer lists.
pub fn parse_pairs(setting: &'static str, text: &str) -> Result<Vec<(String, String)>, PeerError> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(PeerError::Malformed {
                setting,
                entry: entry.to_string(),
            }),
        })
        .collect()
}

/// The other services this one sends to, by name, each with a lazily connected channel.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    channels: HashMap<String, PeerChannel>,
}

impl Peers {
    /// `text` is `name=url,...`, e.g. `review-bj=http://10.0.0.5:50052`.
    /// With `tls`, every peer is called over mutual TLS (its URL must be `https://`).
    pub fn parse(
        setting: &'static str,
        text: &str,
        timeout: Duration,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Peers, PeerError> {
        let mut channels = HashMap::new();
        for (name, url) in parse_pairs(setting, text)? {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|err| PeerError::BadEndpoint {
                    name: name.clone(),
                    url: url.clone(),
                    reason: err.to_string(),
                })?
                .connect_timeout(Duration::from_secs(3))
                .timeout(timeout)
                .tcp_nodelay(true);
            let endpoint = match &tls {
                Some(tls) => {
                    if !url.starts_with("https://") {
                        return Err(PeerError::BadEndpoint {
                            name,
                            url,
                            reason: "TLS is configured, so peer URLs must be https://".to_string(),
                        });
                    }
                    endpoint.tls_config(tls.clone()).map_err(|err| PeerError::BadEndpoint {
                        name: name.clone(),
                        url: url.clone(),
                        reason: err.to_string(),
                    })?
                }
                None => endpoint,
            };
            channels.insert(name, InterceptedService::new(endpoint.connect_lazy(), SendTraceContext));
        }
        Ok(Peers { channels })
    }

    pub fn channel(&self, name: &str) -> Result<PeerChannel, PeerError> {
        self.channels
            .get(name)
            .cloned()
            .ok_or_else(|| PeerError::Unknown(name.to_string()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.channels.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }
}
