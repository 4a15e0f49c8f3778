use std::time::Duration;

use http::StatusCode;
use idcard_notify::{DeliveryError, Event, Notifier, Webhook};
use uuid::Uuid;

use crate::gateway::{Gateway, closed_url};
use crate::{sms_only, with_email};

fn notifier(url: &str, timeout: Duration) -> Notifier {
    Notifier::webhook(Webhook::new(url, timeout).expect("valid url"))
}

async fn send_to(status: StatusCode) -> Result<(), DeliveryError> {
    let gateway = Gateway::start(status, Duration::ZERO).await;
    notifier(&gateway.url, Duration::from_secs(5))
        .send(
            Uuid::now_v7(),
            &sms_only(Event::LossReportRevoked {
                report_number: "L-1".to_owned(),
            }),
        )
        .await
}

#[tokio::test]
async fn a_2xx_answer_is_sent_with_the_message_and_its_idempotency_key() {
    let gateway = Gateway::start(StatusCode::OK, Duration::ZERO).await;
    let message_id = Uuid::now_v7();
    let notification = with_email(Event::OneTimeCode {
        code: "482913".to_owned(),
        valid_minutes: 5,
    });

    notifier(&gateway.url, Duration::from_secs(5))
        .send(message_id, &notification)
        .await
        .expect("sent");

    let received = gateway.received();
    assert_eq!(received.len(), 2);
    let sms = &received[0];
    assert_eq!(sms.method, "POST");
    assert_eq!(sms.path, "/sms/send");
    assert_eq!(sms.content_type.as_deref(), Some("application/json"));
    assert_eq!(sms.idempotency_key.as_deref(), Some(message_id.to_string().as_str()));
    assert_eq!(sms.body["message_id"], message_id.to_string());
    assert_eq!(sms.body["channel"], "sms");
    assert_eq!(sms.body["to"], "13800000001");
    assert_eq!(sms.body["subject"], serde_json::Value::Null);
    assert!(sms.body["text"].as_str().is_some_and(|text| text.contains("482913")));
    let email = &received[1];
    assert_eq!(email.body["channel"], "email");
    assert_eq!(email.body["to"], "alice@example.com");
    assert!(email.body["subject"].is_string());
    assert_eq!(
        email.idempotency_key.as_ref(),
        email.body["message_id"].as_str().map(str::to_owned).as_ref()
    );
    assert_ne!(email.idempotency_key, sms.idempotency_key);
}

#[tokio::test]
async fn a_503_answer_is_retryable() {
    assert!(matches!(
        send_to(StatusCode::SERVICE_UNAVAILABLE).await,
        Err(DeliveryError::Retryable(_))
    ));
}

#[tokio::test]
async fn a_429_or_408_answer_is_retryable() {
    assert!(matches!(
        send_to(StatusCode::TOO_MANY_REQUESTS).await,
        Err(DeliveryError::Retryable(_))
    ));
    assert!(matches!(
        send_to(StatusCode::REQUEST_TIMEOUT).await,
        Err(DeliveryError::Retryable(_))
    ));
}

#[tokio::test]
async fn a_400_answer_is_permanent() {
    assert!(matches!(
        send_to(StatusCode::BAD_REQUEST).await,
        Err(DeliveryError::Permanent(_))
    ));
}

#[tokio::test]
async fn a_gateway_that_is_down_is_retryable() {
    let url = closed_url().await;

    let result = notifier(&url, Duration::from_secs(5))
        .send(
            Uuid::now_v7(),
            &sms_only(Event::FoundCard {
                collect_at: "站".to_owned(),
            }),
        )
        .await;

    assert!(matches!(result, Err(DeliveryError::Retryable(_))), "{result:?}");
}

#[tokio::test]
async fn a_gateway_slower_than_the_timeout_is_retryable() {
    let gateway = Gateway::start(StatusCode::OK, Duration::from_secs(5)).await;

    let result = notifier(&gateway.url, Duration::from_millis(200))
        .send(
            Uuid::now_v7(),
            &sms_only(Event::FoundCard {
                collect_at: "站".to_owned(),
            }),
        )
        .await;

    assert!(matches!(result, Err(DeliveryError::Retryable(_))), "{result:?}");
}

#[tokio::test]
async fn the_first_failure_stops_the_notification() {
    let gateway = Gateway::start(StatusCode::BAD_REQUEST, Duration::ZERO).await;

    let result = notifier(&gateway.url, Duration::from_secs(5))
        .send(
            Uuid::now_v7(),
            &with_email(Event::FoundCard {
                collect_at: "站".to_owned(),
            }),
        )
        .await;

    assert!(matches!(result, Err(DeliveryError::Permanent(_))));
    assert_eq!(gateway.received().len(), 1);
}
