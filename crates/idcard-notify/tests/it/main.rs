//! One test binary for idcard-notify.

mod file_sink;
mod gateway;
mod payload;
mod settings;
mod templates;
mod webhook;

use idcard_notify::{Event, Notification};

pub fn rejection() -> Event {
    Event::ApplicationRejected {
        receipt_number: "R-2025-000123".to_owned(),
        reasons: vec![
            ("PHOTO_UNUSABLE".to_owned(), "照片不符合要求".to_owned()),
            ("HOUSEHOLD_MISMATCH".to_owned(), "户籍信息不一致".to_owned()),
        ],
        office: "北京市朝阳区公安分局户政科".to_owned(),
        person: "王警官".to_owned(),
        phone: "010-65550100".to_owned(),
    }
}

pub fn all_events() -> Vec<Event> {
    vec![
        Event::LossReportAccepted {
            report_number: "L-2025-000042".to_owned(),
        },
        Event::LossReportRevoked {
            report_number: "L-2025-000042".to_owned(),
        },
        rejection(),
        Event::ReadyForCollection {
            receipt_number: "R-2025-000123".to_owned(),
            acceptance_point: "上海市浦东新区陆家嘴派出所".to_owned(),
        },
        Event::OneTimeCode {
            code: "482913".to_owned(),
            valid_minutes: 5,
        },
        Event::FoundCard {
            collect_at: "广州南站派出所失物招领处".to_owned(),
        },
    ]
}

pub fn sms_only(event: Event) -> Notification {
    Notification {
        to_phone: "13800000001".to_owned(),
        to_email: None,
        event,
    }
}

pub fn with_email(event: Event) -> Notification {
    Notification {
        to_phone: "13800000001".to_owned(),
        to_email: Some("alice@example.com".to_owned()),
        event,
    }
}
