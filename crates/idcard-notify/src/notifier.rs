use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

use crate::{Channel, DeliveryError, FileSink, Notification, NotifyError, Webhook, render};

/// Where notifications go; a service flattens this into its configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct NotifySettings {
    /// Append notifications as JSON lines to this file (recipients masked).
    #[arg(long, env = "IDCARD_NOTIFY_FILE")]
    pub notify_file: Option<PathBuf>,
    /// POST notifications as JSON to this http:// or https:// url (an SMS gateway).
    #[arg(long, env = "IDCARD_NOTIFY_WEBHOOK_URL")]
    pub notify_webhook_url: Option<String>,
    /// Timeout of one webhook call.
    #[arg(long, env = "IDCARD_NOTIFY_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub notify_timeout: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            notify_file: None,
            notify_webhook_url: None,
            notify_timeout: Duration::from_secs(5),
        }
    }
}

/// Renders notifications and hands every message to the configured sender.
#[derive(Debug, Clone)]
pub struct Notifier {
    sender: Sender,
}

#[derive(Debug, Clone)]
enum Sender {
    File(FileSink),
    Webhook(Box<Webhook>),
    Discard,
}

impl Notifier {
    /// Exactly one of the file and the webhook must be set: a service that silently
    /// drops citizens' notifications is a configuration error, not a default.
    pub fn from_settings(settings: &NotifySettings) -> Result<Notifier, NotifyError> {
        let sender = match (&settings.notify_file, &settings.notify_webhook_url) {
            (Some(_), Some(_)) => return Err(NotifyError::TwoSenders),
            (None, None) => return Err(NotifyError::NoSender),
            (Some(path), None) => Sender::File(FileSink::new(path.clone())),
            (None, Some(url)) => Sender::Webhook(Box::new(Webhook::new(url, settings.notify_timeout)?)),
        };
        Ok(Notifier { sender })
    }

    pub fn file(sink: FileSink) -> Notifier {
        Notifier {
            sender: Sender::File(sink),
        }
    }

    pub fn webhook(webhook: Webhook) -> Notifier {
        Notifier {
            sender: Sender::Webhook(Box::new(webhook)),
        }
    }

    /// Drops every message (tests that do not look at notifications).
    pub fn discard() -> Notifier {
        Notifier {
            sender: Sender::Discard,
        }
    }

    /// `"file"`, `"webhook"` or `"discard"`, for a start-up log line.
    pub fn sender_kind(&self) -> &'static str {
        match self.sender {
            Sender::File(_) => "file",
            Sender::Webhook(_) => "webhook",
            Sender::Discard => "discard",
        }
    }

    /// Sends every rendered message of `notification`; the first failure stops and is
    /// returned, and the relay retries the whole notification (the webhook's
    /// idempotency key lets the gateway drop what it already sent).
    pub async fn send(&self, message_id: Uuid, notification: &Notification) -> Result<(), DeliveryError> {
        let event = notification.event.kind();
        for message in render(notification) {
            let result = match &self.sender {
                Sender::File(sink) => sink.send(message_id, &message).await,
                Sender::Webhook(webhook) => webhook.send(message_id, &message).await,
                Sender::Discard => Ok(()),
            };
            match &result {
                Ok(()) => tracing::info!(%message_id, event, channel = %message.channel, "notification sent"),
                Err(err) => {
                    tracing::warn!(%message_id, event, channel = %message.channel, error = ?err, "notification not sent")
                }
            }
            result?;
        }
        Ok(())
    }
}

/// Id of one rendered message: the outbox message id for the SMS, with the channel
/// appended for the others, so that each message has its own idempotency key.
pub(crate) fn rendered_id(message_id: Uuid, channel: Channel) -> String {
    match channel {
        Channel::Sms => message_id.to_string(),
        other => format!("{message_id}.{other}"),
    }
}
