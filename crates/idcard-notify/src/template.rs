use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Event, Notification, mask_email, mask_phone};

/// How a rendered message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message ready to send: `to` is the phone number (SMS) or the email address.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub channel: Channel,
    pub to: String,
    pub subject: Option<String>,
    pub text: String,
}

impl Rendered {
    /// The recipient as it may be written down outside the gateway.
    pub fn masked_to(&self) -> String {
        match self.channel {
            Channel::Sms => mask_phone(&self.to),
            Channel::Email => mask_email(&self.to),
        }
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("channel", &self.channel)
            .field("to", &self.masked_to())
            .finish_non_exhaustive()
    }
}

const SIGNATURE: &str = "【居民身份证】";

/// The SMS (always) and the email (when the citizen gave an address) for a notification.
pub fn render(notification: &Notification) -> Vec<Rendered> {
    let (subject, text) = text_of(&notification.event);
    let mut rendered = vec![Rendered {
        channel: Channel::Sms,
        to: notification.to_phone.clone(),
        subject: None,
        text: format!("{SIGNATURE}{text}"),
    }];
    if let Some(email) = notification
        .to_email
        .as_deref()
        .filter(|email| !email.trim().is_empty())
    {
        rendered.push(Rendered {
            channel: Channel::Email,
            to: email.to_owned(),
            subject: Some(subject.to_owned()),
            text,
        });
    }
    rendered
}

/// Subject and body of an event; SMS length matters, so the text stays short.
fn text_of(event: &Event) -> (&'static str, String) {
    match event {
        Event::LossReportAccepted { report_number } => (
            "居民身份证挂失已受理",
            format!("您的居民身份证挂失申报已受理，挂失编号{report_number}。证件找回后可凭此编号撤销挂失。"),
        ),
        Event::LossReportRevoked { report_number } => (
            "居民身份证挂失已撤销",
            format!("挂失编号{report_number}的挂失已撤销，您的居民身份证恢复有效。"),
        ),
        Event::ApplicationRejected {
            receipt_number,
            reasons,
            office,
            person,
            phone,
        } => {
            let reasons = if reasons.is_empty() {
                "未说明".to_owned()
            } else {
                reasons
                    .iter()
                    .map(|(code, detail)| format!("{detail}（{code}）"))
                    .collect::<Vec<_>>()
                    .join("；")
            };
            (
                "居民身份证申领未通过审核",
                format!(
                    "您的居民身份证申领（受理编号{receipt_number}）未通过审核，原因：{reasons}。如有疑问请联系{office}{person}，电话{phone}。"
                ),
            )
        }
        Event::ReadyForCollection {
            receipt_number,
            acceptance_point,
        } => (
            "居民身份证已可领取",
            format!("您的居民身份证（受理编号{receipt_number}）已制作完成，请携带受理回执到{acceptance_point}领取。"),
        ),
        Event::OneTimeCode { code, valid_minutes } => (
            "居民身份证挂失验证码",
            format!("您的验证码为{code}，{valid_minutes}分钟内有效。请勿告知他人。"),
        ),
        Event::FoundCard { collect_at } => (
            "您的居民身份证已被拾获",
            format!("您的居民身份证已被拾获，请携带本人有效证明到{collect_at}领取。"),
        ),
    }
}
