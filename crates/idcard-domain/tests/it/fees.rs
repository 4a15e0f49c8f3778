use idcard_domain::{ApplicationKind, Fee, FeeItem, Waiver, application_fee, fee};
use time::macros::date;

const ON: time::Date = date!(2026 - 06 - 01);

#[test]
fn full_fees_per_the_pricing_notice() {
    assert_eq!(fee(FeeItem::Renewal, Waiver::None, ON).amount_fen, 2000);
    assert_eq!(fee(FeeItem::Replacement, Waiver::None, ON).amount_fen, 4000);
    assert_eq!(fee(FeeItem::TemporaryCard, Waiver::None, ON).amount_fen, 1000);
    let in_2017 = date!(2017 - 06 - 01);
    assert_eq!(fee(FeeItem::FirstApplication, Waiver::None, in_2017).amount_fen, 2000);
}

#[test]
fn first_application_is_free_since_april_2018() {
    assert_eq!(fee(FeeItem::FirstApplication, Waiver::None, ON).amount_fen, 0);
}

#[test]
fn minimum_income_waiver_frees_first_application_and_renewal_only() {
    let in_2017 = date!(2017 - 06 - 01);
    let cases = [
        (FeeItem::FirstApplication, 0, Waiver::MinimumIncome),
        (FeeItem::Renewal, 0, Waiver::MinimumIncome),
        (FeeItem::Replacement, 4000, Waiver::None),
        (FeeItem::TemporaryCard, 1000, Waiver::None),
    ];
    for (item, amount_fen, waiver) in cases {
        assert_eq!(
            fee(item, Waiver::MinimumIncome, in_2017),
            Fee { amount_fen, waiver },
            "{item}"
        );
    }
}

#[test]
fn hardship_waiver_halves_first_application_and_renewal() {
    let in_2017 = date!(2017 - 06 - 01);
    let cases = [
        (FeeItem::FirstApplication, 1000, Waiver::Hardship),
        (FeeItem::Renewal, 1000, Waiver::Hardship),
        (FeeItem::Replacement, 4000, Waiver::None),
        (FeeItem::TemporaryCard, 1000, Waiver::None),
    ];
    for (item, amount_fen, waiver) in cases {
        assert_eq!(
            fee(item, Waiver::Hardship, in_2017),
            Fee { amount_fen, waiver },
            "{item}"
        );
    }
}

#[test]
fn remote_application_fee_follows_its_kind() {
    assert_eq!(
        application_fee(ApplicationKind::Renewal, Waiver::Hardship, ON),
        Fee {
            amount_fen: 1000,
            waiver: Waiver::Hardship
        }
    );
    assert_eq!(
        application_fee(ApplicationKind::Replacement, Waiver::None, ON),
        Fee {
            amount_fen: 4000,
            waiver: Waiver::None
        }
    );
}

#[test]
fn waivers_have_stable_names() {
    for &w in Waiver::ALL {
        assert_eq!(w.as_str().parse::<Waiver>(), Ok(w));
    }
    assert_eq!(Waiver::MinimumIncome.as_str(), "minimum_income");
}
