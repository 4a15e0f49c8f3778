//! Applicant notifications: what a citizen is told (SMS, optionally email) when a loss
//! report is accepted or revoked, an application is rejected, a card is ready for
//! collection or found, and the one-time codes of online loss reports.
//!
//! This crate owns the message templates and the senders (a JSON lines file, an HTTP
//! webhook for an SMS gateway). It does not retry: a service enqueues a [`Notification`]
//! in its outbox (kind [`KIND`], destination [`DESTINATION`]) and the outbox relay calls
//! [`Notifier::send`], retrying on [`DeliveryError::Retryable`]. It must never log a
//! phone number, an email address, a code or a message text.

mod file_sink;
mod mask;
mod notifier;
mod template;
mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use file_sink::FileSink;
pub use idcard_outbox::DeliveryError;
pub use mask::{mask_email, mask_phone};
pub use notifier::{Notifier, NotifySettings};
pub use template::{Channel, Rendered, render};
pub use webhook::Webhook;

/// Outbox message kind of a notification.
pub const KIND: &str = "notify.message";
/// Outbox destination of a notification: the service's local [`Notifier`], not a gRPC peer.
pub const DESTINATION: &str = "notifier";

/// What happened, with what the citizen needs to act on it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    LossReportAccepted {
        report_number: String,
    },
    LossReportRevoked {
        report_number: String,
    },
    ApplicationRejected {
        receipt_number: String,
        /// `(code, detail)` per reason.
        reasons: Vec<(String, String)>,
        /// Who to contact about the rejection.
        office: String,
        person: String,
        phone: String,
    },
    /// Sent when the card arrives at the acceptance point, which meets the rule of
    /// notifying within 2 working days of arrival.
    ReadyForCollection {
        receipt_number: String,
        acceptance_point: String,
    },
    OneTimeCode {
        code: String,
        valid_minutes: u32,
    },
    FoundCard {
        collect_at: String,
    },
}

impl Event {
    /// A name for logs and metrics; carries nothing personal.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::LossReportAccepted { .. } => "loss_report_accepted",
            Event::LossReportRevoked { .. } => "loss_report_revoked",
            Event::ApplicationRejected { .. } => "application_rejected",
            Event::ReadyForCollection { .. } => "ready_for_collection",
            Event::OneTimeCode { .. } => "one_time_code",
            Event::FoundCard { .. } => "found_card",
        }
    }
}

// A one-time code must not reach a log through `{:?}`.
impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

/// One notification to one citizen: the outbox payload of kind [`KIND`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub to_phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_email: Option<String>,
    pub event: Event,
}

impl Notification {
    pub fn to_payload(&self) -> Vec<u8> {
        // Serializing strings, integers and a tagged enum into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_payload(payload: &[u8]) -> Result<Notification, NotifyError> {
        serde_json::from_slice(payload).map_err(|err| NotifyError::Payload(err.to_string()))
    }
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("to_phone", &mask_phone(&self.to_phone))
            .field("to_email", &self.to_email.as_deref().map(mask_email))
            .field("event", &self.event)
            .finish()
    }
}

/// Errors of this crate (delivery failures are [`DeliveryError`]).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notification payload is not a notification: {0}")]
    Payload(String),
    #[error(
        "no notification sender configured: set --notify-file (IDCARD_NOTIFY_FILE) or --notify-webhook-url (IDCARD_NOTIFY_WEBHOOK_URL)"
    )]
    NoSender,
    #[error(
        "both --notify-file (IDCARD_NOTIFY_FILE) and --notify-webhook-url (IDCARD_NOTIFY_WEBHOOK_URL) are set, expected one"
    )]
    TwoSenders,
    #[error("notify webhook url {url:?} is invalid: {reason}")]
    WebhookUrl { url: String, reason: String },
}
