use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use uuid::Uuid;

use crate::{DeliveryError, NotifyError, Rendered};

/// POSTs each message as JSON to an SMS (or email) gateway, over `http://` or `https://`
/// (rustls with ring, server certificates checked against the webpki roots).
#[derive(Debug, Clone)]
pub struct Webhook {
    url: Uri,
    timeout: Duration,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

#[derive(Serialize)]
struct Body<'a> {
    message_id: &'a str,
    channel: &'a str,
    to: &'a str,
    subject: Option<&'a str>,
    text: &'a str,
}

impl Webhook {
    /// `timeout` bounds one whole call: connect, request and response head.
    pub fn new(url: &str, timeout: Duration) -> Result<Webhook, NotifyError> {
        let invalid = |reason: &str| NotifyError::WebhookUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|err: http::uri::InvalidUri| invalid(&err.to_string()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid("expected an http:// or https:// url"));
        }
        if uri.host().is_none() {
            return Err(invalid("expected a host"));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|err| invalid(&format!("tls setup failed: {err}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Webhook {
            url: uri,
            timeout,
            client,
        })
    }

    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// 2xx is sent; 408, 429, 5xx, connection failures and timeouts are retryable; any
    /// other status is a permanent refusal.
    pub async fn send(&self, message_id: Uuid, message: &Rendered) -> Result<(), DeliveryError> {
        let id = crate::notifier::rendered_id(message_id, message.channel);
        let body = Body {
            message_id: &id,
            channel: message.channel.as_str(),
            to: &message.to,
            subject: message.subject.as_deref(),
            text: &message.text,
        };
        let body = serde_json::to_vec(&body).map_err(|err| DeliveryError::Permanent(err.to_string()))?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", id.as_str())
            .body(Full::new(Bytes::from(body)))
            .map_err(|err| DeliveryError::Permanent(format!("building the webhook request failed: {err}")))?;
        let response = match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => {
                return Err(DeliveryError::Retryable(format!(
                    "webhook timed out after {:?}",
                    self.timeout
                )));
            }
            Ok(Err(err)) => {
                return Err(DeliveryError::Retryable(format!(
                    "webhook call failed: {}",
                    error_chain(&err)
                )));
            }
            Ok(Ok(response)) => response,
        };
        // The body is not read: the status says it all, and dropping the response
        // closes (rather than reuses) the connection if the body was not consumed.
        classify(response.status())
    }
}

fn classify(status: StatusCode) -> Result<(), DeliveryError> {
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Err(DeliveryError::Retryable(format!("webhook answered {status}")))
    } else {
        Err(DeliveryError::Permanent(format!("webhook answered {status}")))
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
