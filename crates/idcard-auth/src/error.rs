//! The crate's one error type, and the one place where an access refusal becomes a
//! `tonic::Status`.

use std::collections::HashMap;
use std::path::PathBuf;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::Role;

/// `ErrorInfo.domain` of every refusal this crate answers.
pub const ERROR_DOMAIN: &str = "auth.idcard";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    // The caller presented no usable credentials: UNAUTHENTICATED.
    #[error("missing bearer token: expected an `authorization: Bearer <jwt>` header")]
    MissingToken,
    #[error("malformed authorization header: expected `Bearer <jwt>`")]
    MalformedAuthorization,
    #[error("malformed bearer token: {0}")]
    MalformedToken(String),
    #[error("bearer token algorithm is {0}, expected EdDSA")]
    WrongAlgorithm(String),
    #[error("bearer token has no key id (kid header)")]
    MissingKeyId,
    #[error("bearer token key id {0:?} is not a configured verification key")]
    UnknownKeyId(String),
    #[error("bearer token signature does not verify")]
    BadSignature,
    #[error("bearer token expired")]
    Expired,
    #[error("bearer token is not valid yet")]
    NotYetValid,
    #[error("bearer token issuer is not the expected issuer")]
    WrongIssuer,
    #[error("bearer token claims are invalid: {0}")]
    InvalidClaims(String),
    #[error("a peer certificate is required to call {path}")]
    NoPeerCertificate { path: String },

    // The caller is known but may not do this: PERMISSION_DENIED.
    #[error("method {path} is not exposed by the access policy")]
    NotInPolicy { path: String },
    #[error("role {role} may not call {path}")]
    RoleNotAllowed { role: Role, path: String },
    #[error("peer certificate names no idcard service (expected a URI SAN spiffe://idcard/<service>)")]
    PeerWithoutIdentity,
    #[error("peer service {service:?} may not call {path}")]
    PeerNotAllowed { service: String, path: String },

    // Configuration and files: the service cannot start.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{what}: {reason}")]
    BadKey { what: String, reason: String },
    #[error("key id {0:?}: expected 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    InvalidKeyId(String),
    #[error("{setting}: {reason}")]
    BadSetting { setting: &'static str, reason: String },
    #[error("token signing: {0}")]
    Signing(String),
    #[error("certificate generation: {0}")]
    CertificateGeneration(#[from] rcgen::Error),
    #[error("development PKI at {dir}: {reason}")]
    DevPki { dir: PathBuf, reason: String },
}

impl AuthError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AuthError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_key(what: impl Into<String>, reason: impl Into<String>) -> Self {
        AuthError::BadKey {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// The gRPC code this error answers with.
    pub fn code(&self) -> Code {
        use AuthError::*;
        match self {
            MissingToken
            | MalformedAuthorization
            | MalformedToken(_)
            | WrongAlgorithm(_)
            | MissingKeyId
            | UnknownKeyId(_)
            | BadSignature
            | Expired
            | NotYetValid
            | WrongIssuer
            | InvalidClaims(_)
            | NoPeerCertificate { .. } => Code::Unauthenticated,
            NotInPolicy { .. } | RoleNotAllowed { .. } | PeerWithoutIdentity | PeerNotAllowed { .. } => {
                Code::PermissionDenied
            }
            Io { .. }
            | BadKey { .. }
            | InvalidKeyId(_)
            | BadSetting { .. }
            | Signing(_)
            | CertificateGeneration(_)
            | DevPki { .. } => Code::Internal,
        }
    }

    /// A stable reason code for `ErrorInfo.reason`, so a front end can tell "log in
    /// again" (`TOKEN_EXPIRED`) from "you may not" (`ROLE_NOT_ALLOWED`).
    pub fn reason(&self) -> &'static str {
        use AuthError::*;
        match self {
            MissingToken => "TOKEN_MISSING",
            MalformedAuthorization | MalformedToken(_) => "TOKEN_MALFORMED",
            WrongAlgorithm(_) => "TOKEN_ALGORITHM",
            MissingKeyId | UnknownKeyId(_) => "TOKEN_KEY_UNKNOWN",
            BadSignature => "TOKEN_SIGNATURE",
            Expired => "TOKEN_EXPIRED",
            NotYetValid => "TOKEN_NOT_YET_VALID",
            WrongIssuer => "TOKEN_ISSUER",
            InvalidClaims(_) => "TOKEN_CLAIMS",
            NoPeerCertificate { .. } => "PEER_CERTIFICATE_MISSING",
            NotInPolicy { .. } => "METHOD_NOT_EXPOSED",
            RoleNotAllowed { .. } => "ROLE_NOT_ALLOWED",
            PeerWithoutIdentity => "PEER_IDENTITY_MISSING",
            PeerNotAllowed { .. } => "PEER_NOT_ALLOWED",
            Io { .. }
            | BadKey { .. }
            | InvalidKeyId(_)
            | BadSetting { .. }
            | Signing(_)
            | CertificateGeneration(_)
            | DevPki { .. } => "AUTH_INTERNAL",
        }
    }

    /// The status a refused call answers with: the code, this error's message and an
    /// `ErrorInfo` with [`AuthError::reason`]. Configuration errors never reach a caller
    /// in detail.
    pub fn to_status(&self) -> Status {
        let code = self.code();
        let message = if code == Code::Internal {
            "authorization is misconfigured".to_string()
        } else {
            self.to_string()
        };
        Status::with_error_details(
            code,
            message,
            ErrorDetails::with_error_info(self.reason(), ERROR_DOMAIN, HashMap::<String, String>::new()),
        )
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Status {
        error.to_status()
    }
}
