//! Card fees (工本费) in fen, as dated data.
//!
//! Sources:
//! - NDRC/MoF pricing notice 发改价格〔2003〕2322号 (30 December 2003): first application
//!   and renewal 20 CNY, replacement after loss or damage 40 CNY, temporary card
//!   10 CNY. Encoded as in force from 1 January 2004.
//! - The fee for a *first* application was stopped from 1 April 2018 (State Council
//!   executive meeting of 4 April 2018; Ministry of Public Security urgent notice of
//!   5 April 2018). A first application costs nothing from that date; the temporary
//!   card fee is unchanged.
//! - Waivers, Resident Identity Card Law Art. 20 and the 2003 notice: urban and rural
//!   minimum-income households pay nothing, other hardship cases pay half, *for a first
//!   application and a renewal*. A replacement and a temporary card are always charged
//!   in full.
//!
//! Remote acceptance costs nothing extra: a remote application pays the same fee as one
//! at the domicile.

use time::Date;
use time::macros::date;

use crate::ApplicationKind;

string_enum! {
    /// A fee reduction the applicant qualifies for.
    pub enum Waiver as "waiver" {
        None => "none",
        /// Urban or rural minimum-income household (低保).
        MinimumIncome => "minimum_income",
        /// Other hardship (natural disaster, accident, illness...).
        Hardship => "hardship",
    }
}

string_enum! {
    /// What is charged for.
    pub enum FeeItem as "fee item" {
        FirstApplication => "first_application",
        Renewal => "renewal",
        /// Replacement after loss or damage.
        Replacement => "replacement",
        TemporaryCard => "temporary_card",
    }
}

impl FeeItem {
    /// Whether the minimum-income and hardship waivers apply (Art. 20: first
    /// application and renewal only).
    pub fn is_waivable(self) -> bool {
        matches!(self, FeeItem::FirstApplication | FeeItem::Renewal)
    }
}

/// The amount due, and the waiver that was granted (`Waiver::None` when the requested
/// waiver does not apply to the item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Fee {
    pub amount_fen: u32,
    pub waiver: Waiver,
}

/// One dated rate: `amount_fen` for `item` from `effective_from` until the next rate for
/// the same item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRate {
    pub item: FeeItem,
    pub effective_from: Date,
    pub amount_fen: u32,
    pub source: &'static str,
}

const NOTICE_2003: &str = "发改价格〔2003〕2322号";
const NOTICE_2003_FROM: Date = date!(2004 - 01 - 01);

/// Every rate, oldest first per item.
pub const FEE_SCHEDULE: [FeeRate; 5] = [
    FeeRate {
        item: FeeItem::FirstApplication,
        effective_from: NOTICE_2003_FROM,
        amount_fen: 2000,
        source: NOTICE_2003,
    },
    FeeRate {
        item: FeeItem::FirstApplication,
        effective_from: date!(2018 - 04 - 01),
        amount_fen: 0,
        source: "first-application fee stopped from 1 April 2018 (State Council executive meeting, 4 April 2018)",
    },
    FeeRate {
        item: FeeItem::Renewal,
        effective_from: NOTICE_2003_FROM,
        amount_fen: 2000,
        source: NOTICE_2003,
    },
    FeeRate {
        item: FeeItem::Replacement,
        effective_from: NOTICE_2003_FROM,
        amount_fen: 4000,
        source: NOTICE_2003,
    },
    FeeRate {
        item: FeeItem::TemporaryCard,
        effective_from: NOTICE_2003_FROM,
        amount_fen: 1000,
        source: NOTICE_2003,
    },
];

/// The rate for `item` in force on `on`. Dates before the schedule starts get the
/// earliest rate: no older rates are encoded.
pub fn rate(item: FeeItem, on: Date) -> &'static FeeRate {
    let mut rates = FEE_SCHEDULE.iter().filter(|r| r.item == item);
    let earliest = rates.next().expect("every item has a rate");
    rates.filter(|r| r.effective_from <= on).fold(earliest, |_, r| r)
}

/// The fee for `item` on `on` with `waiver` requested.
pub fn fee(item: FeeItem, waiver: Waiver, on: Date) -> Fee {
    let full = rate(item, on).amount_fen;
    let granted = if item.is_waivable() { waiver } else { Waiver::None };
    let amount_fen = match granted {
        Waiver::None => full,
        Waiver::MinimumIncome => 0,
        Waiver::Hardship => full / 2,
    };
    Fee {
        amount_fen,
        waiver: granted,
    }
}

/// The fee for a remote application of `kind` (no surcharge for remote acceptance).
pub fn application_fee(kind: ApplicationKind, waiver: Waiver, on: Date) -> Fee {
    let item = match kind {
        ApplicationKind::Renewal => FeeItem::Renewal,
        ApplicationKind::Replacement => FeeItem::Replacement,
    };
    fee(item, waiver, on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_ordered_per_item() {
        for &item in FeeItem::ALL {
            let dates: Vec<Date> = FEE_SCHEDULE
                .iter()
                .filter(|r| r.item == item)
                .map(|r| r.effective_from)
                .collect();
            assert!(!dates.is_empty(), "{item}");
            assert!(dates.windows(2).all(|w| w[0] < w[1]), "{item}");
        }
    }

    #[test]
    fn first_application_fee_stopped_in_april_2018() {
        let before = fee(FeeItem::FirstApplication, Waiver::None, date!(2018 - 03 - 31));
        let after = fee(FeeItem::FirstApplication, Waiver::None, date!(2018 - 04 - 01));
        assert_eq!(before.amount_fen, 2000);
        assert_eq!(after.amount_fen, 0);
    }

    #[test]
    fn dates_before_the_schedule_use_the_earliest_rate() {
        assert_eq!(
            fee(FeeItem::Renewal, Waiver::None, date!(2000 - 01 - 01)).amount_fen,
            2000
        );
    }

    #[test]
    fn temporary_card_is_never_waived() {
        let on = date!(2026 - 01 - 01);
        assert_eq!(
            fee(FeeItem::TemporaryCard, Waiver::MinimumIncome, on),
            Fee {
                amount_fen: 1000,
                waiver: Waiver::None
            }
        );
    }
}
