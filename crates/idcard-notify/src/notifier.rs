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

impl NotifySettings {
    /// What is wrong with these settings, as `(variable, reason)`, every problem at once;
    /// empty when [`Notifier::from_settings`] will accept them. For start-up validation.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        match (&self.notify_file, &self.notify_webhook_url) {
            (None, None) => problems.push((
                "IDCARD_NOTIFY_FILE",
                "required (or IDCARD_NOTIFY_WEBHOOK_URL): applicants' notifications must go somewhere".to_string(),
            )),
            (Some(_), Some(_)) => problems.push((
                "IDCARD_NOTIFY_WEBHOOK_URL",
                "set IDCARD_NOTIFY_FILE or IDCARD_NOTIFY_WEBHOOK_URL, not both".to_string(),
            )),
            (Some(path), None) => {
                if path.is_dir() {
                    problems.push((
                        "IDCARD_NOTIFY_FILE",
                        format!("{} is a directory, expected a file", path.display()),
                    ));
                }
            }
            (None, Some(url)) => {
                // Not the URL itself: it may carry the gateway's credentials.
                match Webhook::new(url, self.notify_timeout) {
                    Ok(_) => {}
                    Err(NotifyError::WebhookUrl { reason, .. }) => {
                        problems.push(("IDCARD_NOTIFY_WEBHOOK_URL", format!("not a usable URL: {reason}")))
                    }
                    Err(err) => problems.push(("IDCARD_NOTIFY_WEBHOOK_URL", err.to_string())),
                }
            }
        }
        if self.notify_timeout.is_zero() || self.notify_timeout > Duration::from_secs(300) {
            problems.push((
                "IDCARD_NOTIFY_TIMEOUT",
                format!(
                    "is {}, expected more than zero and at most 5m",
                    humantime::format_duration(self.notify_timeout)
                ),
            ));
        }
        problems
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

#[cfg(test)]
mod settings_tests {
    use super::*;

    fn named(settings: &NotifySettings) -> Vec<&'static str> {
        settings.problems().into_iter().map(|(setting, _)| setting).collect()
    }

    #[test]
    fn exactly_one_sender_with_a_sane_timeout_is_required() {
        let none = NotifySettings {
            notify_timeout: Duration::ZERO,
            ..NotifySettings::default()
        };
        assert_eq!(named(&none), ["IDCARD_NOTIFY_FILE", "IDCARD_NOTIFY_TIMEOUT"]);
        let both = NotifySettings {
            notify_file: Some("/tmp/n.jsonl".into()),
            notify_webhook_url: Some("https://sms.example.org/send".into()),
            ..NotifySettings::default()
        };
        assert_eq!(named(&both), ["IDCARD_NOTIFY_WEBHOOK_URL"]);
        let file = NotifySettings {
            notify_file: Some("/tmp/n.jsonl".into()),
            ..NotifySettings::default()
        };
        assert!(file.problems().is_empty());
    }

    #[test]
    fn a_bad_webhook_url_is_named_without_echoing_it() {
        let settings = NotifySettings {
            notify_webhook_url: Some("ftp://user:secret@sms.example.org/".into()),
            ..NotifySettings::default()
        };
        let problems = settings.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "IDCARD_NOTIFY_WEBHOOK_URL");
        assert!(!problems[0].1.contains("secret"), "{problems:?}");
    }
}
