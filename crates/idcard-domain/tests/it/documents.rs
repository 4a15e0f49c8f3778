use idcard_domain::{ApplicationKind, DocumentKind as D, MissingDocument, check_documents};

fn missing(kind: ApplicationKind, age: u32, provided: &[D]) -> Vec<&'static str> {
    check_documents(kind, age, provided)
        .err()
        .unwrap_or_default()
        .iter()
        .map(|m: &MissingDocument| m.code)
        .collect()
}

#[test]
fn complete_sets_pass() {
    let cases: &[(ApplicationKind, u32, &[D])] = &[
        (ApplicationKind::Renewal, 30, &[D::OldIdCard, D::LabourContract]),
        (
            ApplicationKind::Renewal,
            30,
            &[D::OldIdCard, D::Passport, D::PropertyDeed],
        ),
        (ApplicationKind::Replacement, 30, &[D::HouseholdBooklet, D::StudentId]),
        (
            ApplicationKind::Replacement,
            30,
            &[D::ResidencePermit, D::DrivingLicence],
        ),
        (
            ApplicationKind::Renewal,
            12,
            &[D::OldIdCard, D::Lease, D::GuardianIdentity, D::GuardianshipProof],
        ),
    ];
    for (kind, age, provided) in cases {
        assert_eq!(check_documents(*kind, *age, provided), Ok(()), "{kind} {provided:?}");
    }
}

#[test]
fn renewal_without_old_card_is_told_so() {
    assert_eq!(
        missing(ApplicationKind::Renewal, 30, &[D::HouseholdBooklet, D::Lease]),
        ["MISSING_OLD_CARD"]
    );
}

#[test]
fn replacement_needs_booklet_or_residence_permit() {
    assert_eq!(
        missing(ApplicationKind::Replacement, 30, &[D::Passport, D::Lease]),
        ["MISSING_BOOKLET_OR_RESIDENCE_PERMIT"]
    );
}

#[test]
fn under_sixteen_replacement_with_nothing_lists_everything_at_once() {
    let codes = missing(ApplicationKind::Replacement, 9, &[]);
    assert_eq!(
        codes,
        [
            "MISSING_BOOKLET_OR_RESIDENCE_PERMIT",
            "MISSING_IDENTITY_DOCUMENT",
            "MISSING_PROOF_OF_RESIDENCE",
            "MISSING_GUARDIAN_IDENTITY",
            "MISSING_GUARDIANSHIP_PROOF",
        ]
    );
}

#[test]
fn document_kinds_have_stable_names() {
    for &kind in D::ALL {
        assert_eq!(kind.as_str().parse::<D>(), Ok(kind));
    }
    assert_eq!(
        D::TemporaryResidenceRegistration.as_str(),
        "temporary_residence_registration"
    );
    assert!(D::Passport.is_identity_document());
    assert!(!D::Passport.is_proof_of_residence());
    assert!(D::ResidencePermit.is_proof_of_residence());
    assert!(!D::GuardianshipProof.is_identity_document());
}
