//! Messages to applicants: a rejection (with the reasons and whom to contact) and a card
//! ready for collection. Each is enqueued in the transaction of the change that causes
//! it, for the local pseudo-peer `notifier` (see `delivery`); the payload holds a phone,
//! so the outbox seals it with the data key.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{DbError, Tx};
use idcard_notify::{Event, Notification};
use idcard_outbox::{NewMessage, enqueue};
use idcard_proto::v1 as pb;

/// The applicant's phone, as the submission recorded it (validated when taken).
pub fn applicant_phone(submission: &pb::SubmitApplicationRequest) -> Option<&str> {
    submission
        .applicant
        .as_ref()
        .map(|applicant| applicant.phone.as_str())
        .filter(|phone| !phone.is_empty())
}

/// The application was rejected: the reasons, and whom to contact.
pub fn rejected(receipt_number: &str, phone: &str, rejection: &pb::Rejection) -> Notification {
    let contact = rejection.contact.clone().unwrap_or_default();
    Notification {
        to_phone: phone.to_string(),
        to_email: None,
        event: Event::ApplicationRejected {
            receipt_number: receipt_number.to_string(),
            reasons: rejection
                .reasons
                .iter()
                .map(|reason| (reason.code.clone(), reason.detail.clone()))
                .collect(),
            office: contact.office,
            person: contact.person,
            phone: contact.phone,
        },
    }
}

/// The card arrived at the acceptance point.
pub fn ready_for_collection(receipt_number: &str, acceptance_point: &str, phone: &str) -> Notification {
    Notification {
        to_phone: phone.to_string(),
        to_email: None,
        event: Event::ReadyForCollection {
            receipt_number: receipt_number.to_string(),
            acceptance_point: acceptance_point.to_string(),
        },
    }
}

/// Puts `notification` into the outbox in `tx`; `ordering_key` keeps one application's
/// messages in order.
pub async fn send(tx: &mut Tx, keys: &Keyring, ordering_key: &str, notification: &Notification) -> Result<(), DbError> {
    enqueue(
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
    Ok(())
}
