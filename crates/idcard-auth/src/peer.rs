//! Which idcard service a TLS peer is: the URI SAN `spiffe://idcard/<service>` of the
//! certificate it presented (already verified against the CA by the TLS handshake).

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// The URI SAN prefix that names a service.
pub const SERVICE_URI_PREFIX: &str = "spiffe://idcard/";

/// The URI SAN naming `service`: `spiffe://idcard/<service>`.
pub fn service_uri(service: &str) -> String {
    format!("{SERVICE_URI_PREFIX}{service}")
}

/// The service named by a DER certificate's URI SAN, if it has one. Only the end-entity
/// certificate (the first of a peer's chain) is meant.
pub fn service_of_certificate(cert: &CertificateDer<'_>) -> Option<String> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    parsed
        .valid_uri_names()
        .filter_map(|uri| uri.strip_prefix(SERVICE_URI_PREFIX))
        .find(|service| is_service_name(service))
        .map(str::to_string)
}

fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The certificate chain a TLS client presented on this request's connection, from the
/// connect info tonic's TLS server puts into the request extensions. `None` on plaintext
/// connections and when the client sent no certificate.
pub fn peer_certificates(extensions: &http::Extensions) -> Option<Arc<Vec<CertificateDer<'static>>>> {
    extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
        .filter(|certs| !certs.is_empty())
}

/// The verified service identity of the peer of an internal (service-to-service) call.
/// [`crate::AuthLayer`] inserts it into the request extensions after the policy allowed
/// the peer; handlers may read it with `request.extensions().get::<PeerService>()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerService(pub String);

impl PeerService {
    pub fn name(&self) -> &str {
        &self.0
    }
}
