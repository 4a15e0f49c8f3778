//! Who may apply away from the domicile: a versioned policy kept as data.
//!
//! Each [`Rule`] pairs a [`Condition`] with a stable reason code, a message a clerk can
//! read out, and the dates it is in force. [`Policy::check`] applies the rules in force on
//! the application date and returns *every* refusal, in the policy's order.
//!
//! The standard policy holds the five national refusal reasons of the remote acceptance
//! rules and the three local rules (renewal asked too early, household record locked,
//! duplicate records). Remote acceptance began in 2016 (nationwide since July 2017),
//! so the standard rules are in force from 1 January 2016; before that there was no
//! remote acceptance to refuse.
//!
//! The first-application rule is the one national policy has been relaxing: the Ministry
//! of Public Security piloted cross-province first applications from 2021 and extended
//! them in batches from 1 October 2022, without a single nationwide end date for the
//! refusal. The standard policy therefore keeps it in force; an operator ends it by
//! building a policy with [`Policy::with_rules`] and [`Rule::until`].

use std::borrow::Cow;

use time::Date;
use time::macros::date;

use crate::ApplicationKind;
use crate::calendar::add_months;

/// What the acceptance point knows about an application when deciding to accept it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EligibilityFacts {
    pub kind: ApplicationKind,
    pub application_date: Date,
    /// The applicant never had a card (a first application, not a renewal).
    pub first_application: bool,
    /// Name, sex, ethnicity, birth date, ID number and domicile address match the
    /// population register.
    pub identity_consistent: bool,
    pub appearance_changed: bool,
    pub fingerprint_on_record: bool,
    /// Forged, altered, traded or fraudulently obtained identity documents on record.
    pub forged_documents_on_record: bool,
    /// A bad credit record on the national credit platform.
    pub bad_credit: bool,
    /// Expiry of the card held now; `None` for a long-term card or none at all.
    pub current_card_expiry: Option<Date>,
    /// The domicile has locked the household record.
    pub record_locked: bool,
    pub duplicate_records: bool,
}

/// Why an application is not accepted remotely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Refusal {
    pub code: &'static str,
    /// A sentence a clerk can read out to the applicant.
    pub message: &'static str,
}

/// A test on the facts; `true` from [`Condition::refuses`] means refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    FirstApplication,
    IdentityInconsistent,
    AppearanceChangedWithoutFingerprint,
    ForgedDocumentsOnRecord,
    BadCredit,
    /// A renewal asked more than `months` months before the current card expires.
    RenewalTooEarly {
        months: u8,
    },
    RecordLocked,
    DuplicateRecords,
}

impl Condition {
    pub fn refuses(&self, facts: &EligibilityFacts) -> bool {
        match *self {
            Condition::FirstApplication => facts.first_application,
            Condition::IdentityInconsistent => !facts.identity_consistent,
            Condition::AppearanceChangedWithoutFingerprint => facts.appearance_changed && !facts.fingerprint_on_record,
            Condition::ForgedDocumentsOnRecord => facts.forged_documents_on_record,
            Condition::BadCredit => facts.bad_credit,
            Condition::RenewalTooEarly { months } => {
                // Asking on the day exactly `months` before expiry is allowed; the day
                // before is too early. End-of-month days clamp (31 May - 3 months is
                // 28 or 29 February).
                facts.kind == ApplicationKind::Renewal
                    && facts
                        .current_card_expiry
                        .is_some_and(|expiry| facts.application_date < add_months(expiry, -i32::from(months)))
            }
            Condition::RecordLocked => facts.record_locked,
            Condition::DuplicateRecords => facts.duplicate_records,
        }
    }
}

/// One dated rule of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    pub condition: Condition,
    pub code: &'static str,
    pub message: &'static str,
    /// First day the rule applies.
    pub effective_from: Date,
    /// Last day the rule applies (inclusive); `None` while it is in force.
    pub effective_until: Option<Date>,
}

impl Rule {
    /// The same rule, ending after `last_day`.
    pub const fn until(self, last_day: Date) -> Rule {
        Rule {
            effective_until: Some(last_day),
            ..self
        }
    }

    pub fn in_force_on(&self, date: Date) -> bool {
        self.effective_from <= date && self.effective_until.is_none_or(|last| date <= last)
    }

    fn refusal(&self) -> Refusal {
        Refusal {
            code: self.code,
            message: self.message,
        }
    }
}

const REMOTE_ACCEPTANCE_START: Date = date!(2016 - 01 - 01);

const fn standard_rule(condition: Condition, code: &'static str, message: &'static str) -> Rule {
    Rule {
        condition,
        code,
        message,
        effective_from: REMOTE_ACCEPTANCE_START,
        effective_until: None,
    }
}

/// The standard rules, in the order refusals are listed.
pub const STANDARD_RULES: [Rule; 8] = [
    standard_rule(
        Condition::FirstApplication,
        "FIRST_APPLICATION",
        "a first application cannot be accepted away from the domicile; please apply at the domicile",
    ),
    standard_rule(
        Condition::IdentityInconsistent,
        "IDENTITY_INCONSISTENT",
        "your name, sex, ethnicity, birth date, ID number or domicile address does not match the population register, so your identity cannot be confirmed here",
    ),
    standard_rule(
        Condition::AppearanceChangedWithoutFingerprint,
        "APPEARANCE_CHANGED_NO_FINGERPRINT",
        "your appearance has changed greatly and no fingerprint is registered, so your identity cannot be confirmed here",
    ),
    standard_rule(
        Condition::ForgedDocumentsOnRecord,
        "FORGED_DOCUMENTS",
        "forged, altered, traded or fraudulently obtained identity documents are on record",
    ),
    standard_rule(
        Condition::BadCredit,
        "BAD_CREDIT",
        "the national credit platform holds a bad credit record for you",
    ),
    standard_rule(
        Condition::RenewalTooEarly { months: 3 },
        "RENEWAL_TOO_EARLY",
        "a card can be renewed on expiry at most 3 months before it expires",
    ),
    standard_rule(
        Condition::RecordLocked,
        "RECORD_LOCKED",
        "your household record is locked by the domicile",
    ),
    standard_rule(
        Condition::DuplicateRecords,
        "DUPLICATE_RECORDS",
        "you have duplicate household records, which the domicile must resolve first",
    ),
];

static STANDARD: Policy = Policy {
    rules: Cow::Borrowed(&STANDARD_RULES),
};

/// A set of dated rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: Cow<'static, [Rule]>,
}

impl Policy {
    /// The rules in force nationally plus the local rules of DOMAIN.md.
    pub fn standard() -> &'static Policy {
        &STANDARD
    }

    /// A policy of the given rules, checked in this order.
    pub fn with_rules(rules: Vec<Rule>) -> Policy {
        Policy {
            rules: Cow::Owned(rules),
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every refusal that applies on the application date, in the policy's order.
    pub fn check(&self, facts: &EligibilityFacts) -> Result<(), Vec<Refusal>> {
        let refusals: Vec<Refusal> = self
            .rules
            .iter()
            .filter(|r| r.in_force_on(facts.application_date) && r.condition.refuses(facts))
            .map(Rule::refusal)
            .collect();
        if refusals.is_empty() { Ok(()) } else { Err(refusals) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eligible_renewal() -> EligibilityFacts {
        EligibilityFacts {
            kind: ApplicationKind::Renewal,
            application_date: date!(2026 - 03 - 01),
            first_application: false,
            identity_consistent: true,
            appearance_changed: false,
            fingerprint_on_record: false,
            forged_documents_on_record: false,
            bad_credit: false,
            current_card_expiry: Some(date!(2026 - 05 - 31)),
            record_locked: false,
            duplicate_records: false,
        }
    }

    #[test]
    fn renewal_exactly_three_months_before_month_end_expiry_is_allowed() {
        // 31 May - 3 months clamps to 28 February.
        let mut facts = eligible_renewal();
        facts.application_date = date!(2026 - 02 - 28);
        assert_eq!(Policy::standard().check(&facts), Ok(()));
        facts.application_date = date!(2026 - 02 - 27);
        assert!(Policy::standard().check(&facts).is_err());
    }

    #[test]
    fn replacement_is_never_too_early() {
        let mut facts = eligible_renewal();
        facts.kind = ApplicationKind::Replacement;
        facts.application_date = date!(2020 - 01 - 01);
        assert_eq!(Policy::standard().check(&facts), Ok(()));
    }

    #[test]
    fn appearance_change_with_fingerprint_is_fine() {
        let mut facts = eligible_renewal();
        facts.appearance_changed = true;
        facts.fingerprint_on_record = true;
        assert_eq!(Policy::standard().check(&facts), Ok(()));
    }

    #[test]
    fn rules_do_not_apply_before_they_take_effect() {
        let mut facts = eligible_renewal();
        facts.bad_credit = true;
        facts.application_date = date!(2015 - 12 - 31);
        facts.current_card_expiry = None;
        assert_eq!(Policy::standard().check(&facts), Ok(()));
    }
}
