//! Citizens' notifications: enqueued in the outbox (kind `notify.message`, destination
//! `notifier`) in the transaction of what they tell, and handed to the service's
//! `idcard_notify::Notifier` by the relay ([`crate::delivery`]), with its retries.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{DbError, Tx};
use idcard_notify::{Event, Notification};
use idcard_outbox::NewMessage;

/// Enqueues `event` for the phone on record. A resident without a phone on record is
/// not told (and the log says which notification was not sent, not to whom).
/// `ordering_key` keeps the notifications about one thing (a report number) in order.
pub async fn enqueue(
    tx: &mut Tx,
    keys: &Keyring,
    phone: &str,
    event: Event,
    ordering_key: &str,
) -> Result<bool, DbError> {
    let phone = phone.trim();
    if phone.is_empty() {
        tracing::warn!(event = event.kind(), "no phone on record; notification not sent");
        return Ok(false);
    }
    let notification = Notification {
        to_phone: phone.to_string(),
        to_email: None,
        event,
    };
    idcard_outbox::enqueue(
        tx,
        keys,
        NewMessage {
            destination: idcard_notify::DESTINATION,
            kind: idcard_notify::KIND,
            ordering_key,
            payload: notification.to_payload(),
            sealed_for: Purpose::Data,
        },
    )
    .await?;
    Ok(true)
}
