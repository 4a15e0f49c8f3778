use idcard_notify::{Channel, Event, render};

use crate::{all_events, rejection, sms_only, with_email};

#[test]
fn every_event_renders_one_sms_to_the_phone() {
    for event in all_events() {
        let kind = event.kind();
        let rendered = render(&sms_only(event));

        assert_eq!(rendered.len(), 1, "{kind}");
        assert_eq!(rendered[0].channel, Channel::Sms);
        assert_eq!(rendered[0].to, "13800000001");
        assert_eq!(rendered[0].subject, None);
        assert!(
            rendered[0].text.starts_with("【居民身份证】"),
            "{kind}: {}",
            rendered[0].text
        );
        // Short enough for an SMS or two.
        assert!(
            rendered[0].text.chars().count() <= 140,
            "{kind} is {} chars",
            rendered[0].text.chars().count()
        );
    }
}

#[test]
fn an_email_address_adds_an_email_with_a_subject() {
    for event in all_events() {
        let kind = event.kind();
        let rendered = render(&with_email(event));

        assert_eq!(rendered.len(), 2, "{kind}");
        assert_eq!(rendered[1].channel, Channel::Email);
        assert_eq!(rendered[1].to, "alice@example.com");
        assert!(
            rendered[1]
                .subject
                .as_deref()
                .is_some_and(|subject| !subject.is_empty()),
            "{kind}"
        );
        assert!(rendered[0].text.ends_with(&rendered[1].text), "{kind}");
    }
}

#[test]
fn one_time_code_text_holds_the_code_and_its_validity() {
    let rendered = render(&sms_only(Event::OneTimeCode {
        code: "482913".to_owned(),
        valid_minutes: 5,
    }));

    assert!(rendered[0].text.contains("482913"));
    assert!(rendered[0].text.contains("5分钟"));
}

#[test]
fn rejection_text_holds_every_reason_and_the_contact() {
    let rendered = render(&sms_only(rejection()));
    let text = &rendered[0].text;

    for needle in [
        "R-2025-000123",
        "照片不符合要求",
        "PHOTO_UNUSABLE",
        "户籍信息不一致",
        "HOUSEHOLD_MISMATCH",
        "北京市朝阳区公安分局户政科",
        "王警官",
        "010-65550100",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[test]
fn loss_report_texts_hold_the_report_number() {
    for event in [
        Event::LossReportAccepted {
            report_number: "L-2025-000042".to_owned(),
        },
        Event::LossReportRevoked {
            report_number: "L-2025-000042".to_owned(),
        },
    ] {
        let rendered = render(&sms_only(event));
        assert!(rendered[0].text.contains("L-2025-000042"), "{}", rendered[0].text);
    }
}

#[test]
fn collection_texts_say_where() {
    let ready = render(&sms_only(Event::ReadyForCollection {
        receipt_number: "R-2025-000123".to_owned(),
        acceptance_point: "上海市浦东新区陆家嘴派出所".to_owned(),
    }));
    let found = render(&sms_only(Event::FoundCard {
        collect_at: "广州南站派出所失物招领处".to_owned(),
    }));

    assert!(ready[0].text.contains("R-2025-000123") && ready[0].text.contains("上海市浦东新区陆家嘴派出所"));
    assert!(found[0].text.contains("广州南站派出所失物招领处"));
}

#[test]
fn debug_output_holds_no_phone_email_code_or_text() {
    let notification = with_email(Event::OneTimeCode {
        code: "482913".to_owned(),
        valid_minutes: 5,
    });
    let printed = format!("{notification:?} {:?}", render(&notification));

    for secret in ["13800000001", "alice@example.com", "482913", "验证码"] {
        assert!(!printed.contains(secret), "{secret} printed in {printed}");
    }
    assert!(
        printed.contains("138****0001") && printed.contains("one_time_code"),
        "{printed}"
    );
}
