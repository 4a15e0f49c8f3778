//! The tower layer that enforces an [`AccessPolicy`] on every call before any handler
//! runs: bearer tokens for front-end methods, peer certificates for internal ones.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::Either;
use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

use crate::peer::{PeerService, peer_certificates, service_of_certificate};
use crate::policy::{Access, AccessPolicy};
use crate::{ALL_SCOPE, AuthError, Caller, Role, Verifier};

/// Header naming the synthetic caller's role in [`AuthMode::Insecure`].
pub const INSECURE_ROLE_HEADER: &str = "x-idcard-role";
/// Header with the synthetic caller's comma-separated scope in [`AuthMode::Insecure`].
pub const INSECURE_SCOPE_HEADER: &str = "x-idcard-scope";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Tokens and peer certificates are required as the policy says.
    Enforce,
    /// Everything passes. A valid bearer token still gives its caller; otherwise the
    /// caller is synthetic: role from `x-idcard-role` (default: the first role the method
    /// allows), scope from `x-idcard-scope` (default `*`). Local debugging only.
    Insecure,
}

/// Enforces `policy` on a tonic server:
/// `tonic::transport::Server::builder().tls_config(..)?.layer(AuthLayer::new(..))`.
///
/// - health and reflection pass untouched;
/// - a method missing from the policy: `PERMISSION_DENIED`;
/// - a front-end method: `authorization: Bearer <jwt>` must verify (`UNAUTHENTICATED`
///   with the reason otherwise) and carry an allowed role (`PERMISSION_DENIED`); the
///   [`Caller`] goes into the request extensions;
/// - an internal method: the TLS client certificate must name an allowed peer service
///   (`UNAUTHENTICATED` without a certificate, `PERMISSION_DENIED` for another service);
///   the [`PeerService`] goes into the request extensions.
///
/// Refusals are gRPC statuses (HTTP 200, trailers-only), with an `ErrorInfo` reason.
#[derive(Clone)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

struct Shared {
    policy: AccessPolicy,
    verifier: Verifier,
    mode: AuthMode,
}

impl AuthLayer {
    pub fn new(policy: AccessPolicy, verifier: Verifier, mode: AuthMode) -> Self {
        match mode {
            AuthMode::Insecure => tracing::warn!(
                "INSECURE MODE: bearer tokens and peer certificates are NOT checked; every caller may call \
                 every method. For local debugging only; never run this with real data."
            ),
            AuthMode::Enforce if verifier.is_empty() => {
                tracing::warn!("no bearer token verification keys are configured: every front-end call will be refused")
            }
            AuthMode::Enforce => {
                tracing::info!(key_ids = ?verifier.key_ids().collect::<Vec<_>>(), "bearer token verification keys")
            }
        }
        AuthLayer {
            shared: Arc::new(Shared { policy, verifier, mode }),
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.shared.mode
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("mode", &self.shared.mode)
            .field("verifier", &self.shared.verifier)
            .finish()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around the server's routes.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<ResBody>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone may not be ready: call the instance poll_ready prepared, keep the clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match self.shared.admit(&mut request) {
            Ok(()) => Either::Right(inner.call(request)),
            Err(error) => {
                tracing::debug!(path = request.uri().path(), code = ?error.code(), reason = error.reason(), %error, "call refused");
                Either::Left(ready(Ok(error.to_status().into_http())))
            }
        }
    }
}

impl Shared {
    /// Lets the call through (with its caller or peer in the extensions) or says why not.
    fn admit<B>(&self, request: &mut Request<B>) -> Result<(), AuthError> {
        let path = request.uri().path().to_string();
        if AccessPolicy::is_open(&path) {
            return Ok(());
        }
        if self.mode == AuthMode::Insecure {
            return self.admit_insecure(&path, request);
        }
        match self.policy.access(&path) {
            None => Err(AuthError::NotInPolicy { path }),
            Some(Access::Roles(roles)) => {
                let caller = self.verifier.verify(bearer_token(request.headers())?)?;
                if !roles.contains(&caller.role()) {
                    return Err(AuthError::RoleNotAllowed {
                        role: caller.role(),
                        path,
                    });
                }
                request.extensions_mut().insert(caller);
                Ok(())
            }
            Some(Access::Peers(allowed)) => {
                let certs = peer_certificates(request.extensions())
                    .ok_or(AuthError::NoPeerCertificate { path: path.clone() })?;
                let service = certs
                    .first()
                    .and_then(service_of_certificate)
                    .ok_or(AuthError::PeerWithoutIdentity)?;
                if !allowed.contains(&service) {
                    return Err(AuthError::PeerNotAllowed { service, path });
                }
                request.extensions_mut().insert(PeerService(service));
                Ok(())
            }
        }
    }

    fn admit_insecure<B>(&self, path: &str, request: &mut Request<B>) -> Result<(), AuthError> {
        let from_token = bearer_token(request.headers())
            .ok()
            .and_then(|token| self.verifier.verify(token).ok());
        let caller = from_token.unwrap_or_else(|| {
            let headers = request.headers();
            let role = header_str(headers, INSECURE_ROLE_HEADER)
                .and_then(|role| role.parse::<Role>().ok())
                .or_else(|| match self.policy.access(path) {
                    Some(Access::Roles(roles)) => roles.first().copied(),
                    _ => None,
                })
                .unwrap_or(Role::Auditor);
            let scope = header_str(headers, INSECURE_SCOPE_HEADER)
                .map(|scope| {
                    scope
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| vec![ALL_SCOPE.to_string()]);
            Caller::synthetic(role, scope)
        });
        request.extensions_mut().insert(caller);
        if let Some(Access::Peers(_)) = self.policy.access(path) {
            let service = peer_certificates(request.extensions())
                .and_then(|certs| certs.first().and_then(service_of_certificate))
                .unwrap_or_else(|| "insecure".to_string());
            request.extensions_mut().insert(PeerService(service));
        }
        Ok(())
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The token of `authorization: Bearer <token>` (scheme case-insensitive, RFC 6750).
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?;
    let value = value.to_str().map_err(|_| AuthError::MalformedAuthorization)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedAuthorization)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MalformedAuthorization);
    }
    Ok(token)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::policy;

    /// Answers "handled" to everything.
    #[derive(Clone)]
    struct Handler;

    impl Service<Request<()>> for Handler {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            ready(Ok(Response::new("handled".to_string())))
        }
    }

    fn call(mode: AuthMode, request: Request<()>) -> Response<String> {
        let layer = AuthLayer::new(policy::all(), Verifier::new(std::time::Duration::from_secs(5)), mode);
        let mut service = layer.layer(Handler);
        futures::executor::block_on(service.call(request)).unwrap()
    }

    fn request(path: &str) -> Request<()> {
        Request::builder().uri(path).body(()).unwrap()
    }

    #[test]
    fn refusal_is_a_trailers_only_grpc_status_with_http_200() {
        let response = call(
            AuthMode::Enforce,
            request("/idcard.v1.ReviewService/ApproveApplication"),
        );

        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert_eq!(response.headers()["grpc-status"], "16", "UNAUTHENTICATED");
        assert!(response.body().is_empty());
    }

    #[test]
    fn unknown_method_is_permission_denied() {
        let response = call(AuthMode::Enforce, request("/idcard.v1.ReviewService/DropTables"));
        assert_eq!(response.headers()["grpc-status"], "7", "PERMISSION_DENIED");
    }

    #[test]
    fn health_passes_without_credentials() {
        let response = call(AuthMode::Enforce, request("/grpc.health.v1.Health/Check"));
        assert_eq!(response.body(), "handled");
    }

    #[test]
    fn insecure_mode_passes_everything() {
        for path in [
            "/idcard.v1.ReviewService/ApproveApplication",
            "/idcard.v1.ReviewInboxService/ReceiveApplication",
        ] {
            assert_eq!(call(AuthMode::Insecure, request(path)).body(), "handled", "{path}");
        }
    }

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = authorization.parse() {
            headers.insert(http::header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token(&headers("Bearer a.b.c")).ok(), Some("a.b.c"));
        assert_eq!(bearer_token(&headers("bearer  a.b.c ")).ok(), Some("a.b.c"));
        assert!(matches!(bearer_token(&HeaderMap::new()), Err(AuthError::MissingToken)));
        assert!(matches!(
            bearer_token(&headers("Basic dXNlcjpwdw==")),
            Err(AuthError::MalformedAuthorization)
        ));
        assert!(matches!(
            bearer_token(&headers("Bearer")),
            Err(AuthError::MalformedAuthorization)
        ));
        assert!(matches!(
            bearer_token(&headers("a.b.c")),
            Err(AuthError::MalformedAuthorization)
        ));
    }
}
