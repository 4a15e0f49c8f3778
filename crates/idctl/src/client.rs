//! Clients of the services: a channel over TLS when a CA is given, and the bearer token
//! on every call.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// A channel with the bearer token attached.
pub type Authed = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer <token>` to every call (nothing without a token).
#[derive(Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: Option<&str>) -> anyhow::Result<Bearer> {
        let value = token
            .map(|t| format!("Bearer {t}").parse::<MetadataValue<Ascii>>())
            .transpose()
            .context("the token is not valid header text")?;
        Ok(Bearer(value))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// An endpoint for `url`, trusting `ca_cert` for `https://` URLs.
pub fn endpoint(url: &str, ca_cert: Option<&Path>) -> anyhow::Result<Endpoint> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|err| anyhow::anyhow!("{url}: not a valid endpoint: {err}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    if url.starts_with("https://") {
        let tls = match ca_cert {
            Some(ca) => idcard_auth::client_config_with_ca(ca).context("loading the CA certificate")?,
            None => anyhow::bail!("{url} is https: give the CA certificate (--ca-cert or IDCARD_CA_CERT)"),
        };
        endpoint = endpoint.tls_config(tls).context("TLS settings")?;
    }
    Ok(endpoint)
}

/// A lazily connected, token-carrying channel.
pub fn lazy(url: &str, ca_cert: Option<&Path>, token: Option<&str>) -> anyhow::Result<Authed> {
    Ok(InterceptedService::new(
        endpoint(url, ca_cert)?.connect_lazy(),
        Bearer::new(token)?,
    ))
}

/// A connected, token-carrying channel.
pub async fn connect(url: &str, ca_cert: Option<&Path>, token: Option<&str>) -> anyhow::Result<Authed> {
    let channel = endpoint(url, ca_cert)?
        .connect()
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect to {url}: {err} (is the stack up? `idctl up`)"))?;
    Ok(InterceptedService::new(channel, Bearer::new(token)?))
}
