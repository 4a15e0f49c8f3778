use idcard_notify::{DESTINATION, KIND, Notification, NotifyError, mask_email, mask_phone};

use crate::{all_events, sms_only, with_email};

#[test]
fn every_notification_round_trips_through_its_payload() {
    for event in all_events() {
        for notification in [sms_only(event.clone()), with_email(event)] {
            let decoded = Notification::from_payload(&notification.to_payload()).expect("decodes");
            assert_eq!(decoded, notification);
        }
    }
}

#[test]
fn payload_tags_the_event() {
    let payload = sms_only(crate::rejection()).to_payload();
    let json: serde_json::Value = serde_json::from_slice(&payload).expect("json");

    assert_eq!(json["event"]["event"], "application_rejected");
    assert_eq!(json["to_phone"], "13800000001");
}

#[test]
fn a_payload_that_is_not_a_notification_is_refused() {
    let result = Notification::from_payload(br#"{"to_phone":"1","event":{"event":"no_such_event"}}"#);

    assert!(matches!(result, Err(NotifyError::Payload(_))));
}

#[test]
fn outbox_names_are_the_agreed_ones() {
    assert_eq!(KIND, "notify.message");
    assert_eq!(DESTINATION, "notifier");
}

#[test]
fn recipients_mask_as_agreed() {
    assert_eq!(mask_phone("13800000001"), "138****0001");
    assert_eq!(mask_phone("123"), "****");
    assert_eq!(mask_email("alice@example.com"), "a***@example.com");
    assert_eq!(mask_email("not-an-address"), "***");
}
