use std::time::Duration;

use clap::Parser;
use idcard_notify::{Notifier, NotifyError, NotifySettings};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    notify: NotifySettings,
}

fn settings(file: Option<&str>, url: Option<&str>) -> NotifySettings {
    NotifySettings {
        notify_file: file.map(Into::into),
        notify_webhook_url: url.map(Into::into),
        notify_timeout: Duration::from_secs(5),
    }
}

#[test]
fn flags_parse_with_a_five_second_default_timeout() {
    let cli = Cli::try_parse_from(["svc", "--notify-webhook-url", "http://127.0.0.1:9/sms"]).expect("parses");

    assert_eq!(cli.notify.notify_webhook_url.as_deref(), Some("http://127.0.0.1:9/sms"));
    assert_eq!(cli.notify.notify_timeout, Duration::from_secs(5));

    let cli =
        Cli::try_parse_from(["svc", "--notify-file", "/tmp/n.jsonl", "--notify-timeout", "250ms"]).expect("parses");
    assert_eq!(cli.notify.notify_timeout, Duration::from_millis(250));
}

#[test]
fn no_sender_configured_is_an_error_naming_the_settings() {
    let err = Notifier::from_settings(&settings(None, None)).expect_err("refused");

    assert!(matches!(err, NotifyError::NoSender));
    let message = err.to_string();
    assert!(
        message.contains("IDCARD_NOTIFY_FILE") && message.contains("IDCARD_NOTIFY_WEBHOOK_URL"),
        "{message}"
    );
}

#[test]
fn two_senders_configured_is_an_error() {
    let err =
        Notifier::from_settings(&settings(Some("/tmp/n.jsonl"), Some("http://127.0.0.1:9/"))).expect_err("refused");

    assert!(matches!(err, NotifyError::TwoSenders));
}

#[test]
fn a_webhook_url_that_is_not_http_is_an_error() {
    for url in ["ftp://gateway/sms", "not a url", "/relative/path"] {
        let err = Notifier::from_settings(&settings(None, Some(url))).expect_err(url);
        assert!(matches!(err, NotifyError::WebhookUrl { .. }), "{url}: {err}");
    }
}

#[test]
fn file_and_webhook_settings_pick_their_sender() {
    let file = Notifier::from_settings(&settings(Some("/tmp/n.jsonl"), None)).expect("file");
    let http = Notifier::from_settings(&settings(None, Some("http://127.0.0.1:9/sms"))).expect("http");
    let https = Notifier::from_settings(&settings(None, Some("https://sms.example.com/send"))).expect("https");

    assert_eq!(file.sender_kind(), "file");
    assert_eq!(http.sender_kind(), "webhook");
    assert_eq!(https.sender_kind(), "webhook");
    assert_eq!(Notifier::discard().sender_kind(), "discard");
}
