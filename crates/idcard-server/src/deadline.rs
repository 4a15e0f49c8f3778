//! The statutory clock's plumbing that every service shares: what a `ListOverdue`
//! request asks for (the window, the page cursor), the stage on the wire, and the
//! `idcard_deadline_items` gauges. The rules themselves (limits, what counts as overdue
//! or due soon, extensions) are the domain crate's (`idcard_domain::deadlines`).
//!
//! Dates are China Standard Time calendar days ([`crate::wire::today_cst`]) and are
//! stored as `YYYY-MM-DD` text, which sorts as the dates do: a store finds what is
//! overdue or due soon with `due_date < until` ([`Window::until_text`]).

use std::time::Duration;

use idcard_domain::{DeadlineStatus, Stage, due_soon_until};
use idcard_proto::v1 as pb;

use crate::status::FieldError;
use crate::wire::{date_from_text, date_to_text, date_to_wire};

/// The window of the gauges' `due_soon`: due today or within the next two days.
pub const DUE_SOON_DAYS: u32 = 3;

/// How often each service samples its deadline gauges.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(30);

/// The widest `due_within_days` a list takes: a year.
pub const MAX_DUE_WITHIN_DAYS: u32 = 366;

/// The gauge name; labels `service`, `stage` and `status` (`overdue`, `due_soon`).
pub const GAUGE: &str = "idcard_deadline_items";

/// What a `ListOverdue` covers on `today`: work due before `until`, which is overdue or
/// due within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub today: time::Date,
    pub until: time::Date,
}

impl Window {
    /// The window of `due_within_days` on `today`.
    pub fn new(today: time::Date, due_within_days: u32) -> Window {
        Window {
            today,
            until: due_soon_until(today, due_within_days),
        }
    }

    /// `until` as stored dates compare with it.
    pub fn until_text(&self) -> String {
        date_to_text(self.until)
    }

    /// `today` as stored dates compare with it.
    pub fn today_text(&self) -> String {
        date_to_text(self.today)
    }

    /// The wire form of work of `stage` due on `due`.
    pub fn deadline(&self, stage: Stage, due: time::Date) -> pb::Deadline {
        let days = idcard_domain::days_overdue(due, self.today);
        pb::Deadline {
            stage: stage_to_wire(stage).into(),
            due_date: Some(date_to_wire(due)),
            days_overdue: i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX }),
        }
    }
}

/// `due_within_days`: 0 to [`MAX_DUE_WITHIN_DAYS`].
pub fn due_within_days(field: &str, value: i32) -> Result<u32, FieldError> {
    match u32::try_from(value) {
        Ok(days) if days <= MAX_DUE_WITHIN_DAYS => Ok(days),
        Ok(_) => Err(FieldError::new(field, format!("at most {MAX_DUE_WITHIN_DAYS} days"))),
        Err(_) => Err(FieldError::new(field, "must not be negative")),
    }
}

/// Where a page of a due-date ordered list ends: lists run by due date, then by the
/// row's position, so that a page starts strictly after the last row shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub due_text: String,
    pub seq: i64,
}

impl Cursor {
    /// Before every row (every stored date sorts after the empty string).
    pub fn start() -> Cursor {
        Cursor {
            due_text: String::new(),
            seq: 0,
        }
    }

    /// The cursor a page token stands for; the start for an empty token.
    pub fn parse(field: &str, token: &str) -> Result<Cursor, FieldError> {
        if token.is_empty() {
            return Ok(Cursor::start());
        }
        let bad = || FieldError::new(field, "not a token this service gave out");
        let (due, seq) = token.split_once('.').ok_or_else(bad)?;
        let due = date_from_text(due).ok_or_else(bad)?;
        let seq = seq.parse::<i64>().map_err(|_| bad())?;
        Ok(Cursor {
            due_text: date_to_text(due),
            seq,
        })
    }

    /// The token of the page after the row at `due_text` and `seq`.
    pub fn token(due_text: &str, seq: i64) -> String {
        format!("{due_text}.{seq}")
    }
}

/// How much work of one stage is overdue, and due within [`DUE_SOON_DAYS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub overdue: u64,
    pub due_soon: u64,
}

/// Sets `idcard_deadline_items{service, stage, status}` for both statuses (zero when
/// nothing is due), so a stage that empties does not keep its last count.
pub fn record(service: &'static str, stage: Stage, counts: Counts) {
    for (status, count) in [
        (DeadlineStatus::Overdue, counts.overdue),
        (DeadlineStatus::DueSoon, counts.due_soon),
    ] {
        metrics::gauge!(GAUGE, "service" => service, "stage" => stage.as_str(), "status" => status.as_str())
            .set(count as f64);
    }
}

/// The contract's spelling of a stage.
pub fn stage_to_wire(stage: Stage) -> pb::DeadlineStage {
    match stage {
        Stage::Application => pb::DeadlineStage::Application,
        Stage::Review => pb::DeadlineStage::Review,
        Stage::RejectionNotice => pb::DeadlineStage::RejectionNotice,
        Stage::Production => pb::DeadlineStage::Production,
        Stage::CountyToStation => pb::DeadlineStage::CountyToStation,
        Stage::Notification => pb::DeadlineStage::Notification,
        Stage::TemporaryCardIssue => pb::DeadlineStage::TemporaryCardIssue,
        Stage::TemporaryCardValidity => pb::DeadlineStage::TemporaryCardValidity,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_foreign_tokens() {
        let token = Cursor::token("2026-05-01", 42);
        assert_eq!(
            Cursor::parse("page_token", &token),
            Ok(Cursor {
                due_text: "2026-05-01".to_string(),
                seq: 42
            })
        );
        assert_eq!(Cursor::parse("page_token", ""), Ok(Cursor::start()));
        for bad in ["42", "2026-13-01.4", "2026-05-01.x", "x.1"] {
            assert_eq!(
                Cursor::parse("page_token", bad).map_err(|e| e.field),
                Err("page_token".to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn window_and_days_overdue() {
        let window = Window::new(date!(2026 - 05 - 10), 3);
        assert_eq!(window.until_text(), "2026-05-13");
        let late = window.deadline(Stage::Review, date!(2026 - 05 - 07));
        assert_eq!(late.days_overdue, 3);
        assert_eq!(late.stage, pb::DeadlineStage::Review as i32);
        assert_eq!(window.deadline(Stage::Review, date!(2026 - 05 - 12)).days_overdue, -2);
    }

    #[test]
    fn due_within_days_is_bounded() {
        assert_eq!(due_within_days("due_within_days", 0), Ok(0));
        assert_eq!(due_within_days("due_within_days", 366), Ok(366));
        assert!(due_within_days("due_within_days", 367).is_err());
        assert!(due_within_days("due_within_days", -1).is_err());
    }

    #[test]
    fn every_stage_has_a_wire_value() {
        for &stage in Stage::ALL {
            assert_ne!(stage_to_wire(stage), pb::DeadlineStage::Unspecified, "{stage}");
        }
    }
}
