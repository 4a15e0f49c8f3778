//! Which review service an application goes to: the longest prefix of the declared
//! domicile region code in the routing table (ARCHITECTURE.md section 3).

use idcard_domain::RegionCode;
use idcard_server::{PeerError, Peers, parse_pairs};

#[derive(Debug, Clone)]
pub struct Routes {
    /// (prefix, peer), longest prefix first.
    entries: Vec<(String, String)>,
}

impl Routes {
    /// Parses `prefix=peer,...`; every prefix is 1 to 6 digits and every peer must be
    /// configured.
    pub fn parse(text: &str, peers: &Peers) -> Result<Routes, RouteError> {
        let mut entries = parse_pairs("IDCARD_ROUTES", text)?;
        for (prefix, peer) in &entries {
            check_entry(prefix, peer, |name| peers.contains(name))?;
        }
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(Routes { entries })
    }

    /// Every problem of the routing table `text`, at once (start-up validation);
    /// `is_peer` says whether IDCARD_PEERS names a peer.
    pub fn problems(text: &str, is_peer: impl Fn(&str) -> bool) -> Vec<RouteError> {
        match parse_pairs("IDCARD_ROUTES", text) {
            Ok(entries) => entries
                .iter()
                .filter_map(|(prefix, peer)| check_entry(prefix, peer, &is_peer).err())
                .collect(),
            Err(err) => vec![err.into()],
        }
    }

    /// The review peer for a domicile, if any route covers it.
    pub fn review_peer(&self, domicile: RegionCode) -> Option<&str> {
        let code = domicile.as_string();
        self.entries
            .iter()
            .find(|(prefix, _)| code.starts_with(prefix.as_str()))
            .map(|(_, peer)| peer.as_str())
    }
}

fn check_entry(prefix: &str, peer: &str, is_peer: impl Fn(&str) -> bool) -> Result<(), RouteError> {
    if prefix.is_empty() || prefix.len() > 6 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RouteError::BadPrefix(prefix.to_string()));
    }
    if !is_peer(peer) {
        return Err(RouteError::UnknownPeer {
            prefix: prefix.to_string(),
            peer: peer.to_string(),
        });
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Malformed(#[from] PeerError),
    #[error("IDCARD_ROUTES: prefix {0:?} must be 1 to 6 digits")]
    BadPrefix(String),
    #[error("IDCARD_ROUTES: prefix {prefix} routes to peer {peer:?}, which IDCARD_PEERS does not name")]
    UnknownPeer { prefix: String, peer: String },
}
