use idcard_domain::eligibility::STANDARD_RULES;
use idcard_domain::{ApplicationKind, EligibilityFacts, Policy};
use time::macros::date;

fn eligible() -> EligibilityFacts {
    EligibilityFacts {
        kind: ApplicationKind::Renewal,
        application_date: date!(2026 - 06 - 01),
        first_application: false,
        identity_consistent: true,
        appearance_changed: false,
        fingerprint_on_record: true,
        forged_documents_on_record: false,
        bad_credit: false,
        current_card_expiry: Some(date!(2026 - 08 - 01)),
        record_locked: false,
        duplicate_records: false,
    }
}

type Mutation = fn(&mut EligibilityFacts);

/// Each reason with the change to the facts that triggers it alone, in policy order.
const REASONS: [(&str, Mutation); 8] = [
    ("FIRST_APPLICATION", |f| f.first_application = true),
    ("IDENTITY_INCONSISTENT", |f| f.identity_consistent = false),
    ("APPEARANCE_CHANGED_NO_FINGERPRINT", |f| {
        f.appearance_changed = true;
        f.fingerprint_on_record = false;
    }),
    ("FORGED_DOCUMENTS", |f| f.forged_documents_on_record = true),
    ("BAD_CREDIT", |f| f.bad_credit = true),
    ("RENEWAL_TOO_EARLY", |f| {
        f.current_card_expiry = Some(date!(2026 - 09 - 02));
    }),
    ("RECORD_LOCKED", |f| f.record_locked = true),
    ("DUPLICATE_RECORDS", |f| f.duplicate_records = true),
];

fn codes(facts: &EligibilityFacts, policy: &Policy) -> Vec<&'static str> {
    match policy.check(facts) {
        Ok(()) => Vec::new(),
        Err(refusals) => refusals.iter().map(|r| r.code).collect(),
    }
}

#[test]
fn eligible_renewal_is_accepted() {
    assert_eq!(Policy::standard().check(&eligible()), Ok(()));
}

#[test]
fn each_reason_alone_is_reported_alone() {
    for (code, mutate) in REASONS {
        let mut facts = eligible();
        mutate(&mut facts);
        let refusals = Policy::standard().check(&facts).unwrap_err();
        assert_eq!(refusals.len(), 1, "{code}");
        assert_eq!(refusals[0].code, code);
        assert!(!refusals[0].message.is_empty());
    }
}

#[test]
fn all_reasons_together_are_listed_in_a_fixed_order() {
    let mut facts = eligible();
    for (_, mutate) in REASONS {
        mutate(&mut facts);
    }
    let expected: Vec<&str> = REASONS.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes(&facts, Policy::standard()), expected);
}

#[test]
fn renewal_three_months_before_expiry_is_not_too_early() {
    let mut facts = eligible();
    facts.current_card_expiry = Some(date!(2026 - 09 - 01));
    assert_eq!(Policy::standard().check(&facts), Ok(()));
    facts.current_card_expiry = Some(date!(2026 - 09 - 02));
    assert_eq!(codes(&facts, Policy::standard()), ["RENEWAL_TOO_EARLY"]);
    facts.current_card_expiry = None;
    assert_eq!(Policy::standard().check(&facts), Ok(()));
}

#[test]
fn first_application_rule_can_be_ended_by_date() {
    let rules = STANDARD_RULES
        .iter()
        .map(|&rule| {
            if rule.code == "FIRST_APPLICATION" {
                rule.until(date!(2022 - 09 - 30))
            } else {
                rule
            }
        })
        .collect();
    let opened = Policy::with_rules(rules);

    let mut facts = eligible();
    facts.first_application = true;
    facts.current_card_expiry = None;
    facts.application_date = date!(2022 - 09 - 30);
    assert_eq!(codes(&facts, &opened), ["FIRST_APPLICATION"]);
    facts.application_date = date!(2022 - 10 - 01);
    assert_eq!(opened.check(&facts), Ok(()));
    assert_eq!(codes(&facts, Policy::standard()), ["FIRST_APPLICATION"]);
}
