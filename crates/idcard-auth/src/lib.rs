//! Who may call what, and over which channel: EdDSA bearer tokens (verification with
//! rotating keys, and a development issuer), the per-method [`AccessPolicy`] enforced by
//! one tower layer ([`AuthLayer`]) in front of every handler, peer identities from TLS
//! client certificates, mutual TLS configuration (rustls with ring) and a development PKI.
//!
//! It must not know what a record is: scope filtering (another point's application
//! answers `NOT_FOUND`) happens in the services with [`Caller`]'s helpers. It holds no
//! service's method list beyond the [`policy`] tables for the `idcard.v1` contract, never
//! logs a token, and never lets a refusal through as anything but a gRPC status.
//!
//! Reading a peer certificate in a tower layer: tonic's TLS server puts a
//! `tonic::transport::server::TlsConnectInfo<TcpConnectInfo>` into every request's
//! extensions (outside any user layer); see [`peer_certificates`]. In a handler,
//! `tonic::Request::peer_certs()` reads the same.

mod caller;
pub mod dev_pki;
mod error;
mod keys;
mod layer;
mod peer;
pub mod policy;
mod settings;
mod tls;
mod token;
mod token_cache;

pub use caller::{ALL_SCOPE, Caller, Claims, Role, UnknownRole};
pub use error::{AuthError, ERROR_DOMAIN};
pub use keys::{PRIVATE_KEY_SUFFIX, PUBLIC_KEY_SUFFIX, SigningKeyFiles, ensure_signing_key, generate_signing_key};
pub use layer::{AuthLayer, AuthMode, AuthService, INSECURE_ROLE_HEADER, INSECURE_SCOPE_HEADER};
pub use peer::{PeerService, SERVICE_URI_PREFIX, peer_certificates, service_of_certificate, service_uri};
pub use policy::{Access, AccessPolicy};
pub use settings::AuthSettings;
pub use tls::{TlsFiles, client_config_with_ca, install_crypto_provider};
pub use token::{DEFAULT_ISSUER, Issuer, MAX_LEEWAY, Verifier};
