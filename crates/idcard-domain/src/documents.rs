//! Documents a remote application needs, by kind and age.
//!
//! From the remote acceptance rules and the Resident Identity Card Law:
//! - renewal hands in the old card; replacement hands in the household booklet or the
//!   residence permit;
//! - every application shows an identity document (household booklet, driving licence,
//!   passport; the old card itself counts for a renewal only) and a proof of residence
//!   (residence permit, registered temporary residence, labour contract or business
//!   licence, student ID, property deed or lease);
//! - under 16, a guardian applies on the child's behalf (Art. 7): the guardian's
//!   identity document and a proof of guardianship are needed too.
//!
//! The check lists everything missing at once, so the applicant is told in one visit.

use crate::ApplicationKind;

string_enum! {
    /// A document an applicant may present.
    pub enum DocumentKind as "document kind" {
        HouseholdBooklet => "household_booklet",
        OldIdCard => "old_id_card",
        ResidencePermit => "residence_permit",
        DrivingLicence => "driving_licence",
        Passport => "passport",
        TemporaryResidenceRegistration => "temporary_residence_registration",
        LabourContract => "labour_contract",
        BusinessLicence => "business_licence",
        StudentId => "student_id",
        PropertyDeed => "property_deed",
        Lease => "lease",
        GuardianIdentity => "guardian_identity",
        GuardianshipProof => "guardianship_proof",
    }
}

impl DocumentKind {
    /// Proves who the applicant is: household booklet, another police-issued ID
    /// (driving licence, passport) or the ID card itself. The old card counts only for a
    /// renewal; [`check_documents`] applies that restriction.
    pub fn is_identity_document(self) -> bool {
        matches!(
            self,
            DocumentKind::HouseholdBooklet
                | DocumentKind::OldIdCard
                | DocumentKind::DrivingLicence
                | DocumentKind::Passport
        )
    }

    /// Proves lawful, stable work, study or residence away from the domicile.
    pub fn is_proof_of_residence(self) -> bool {
        matches!(
            self,
            DocumentKind::ResidencePermit
                | DocumentKind::TemporaryResidenceRegistration
                | DocumentKind::LabourContract
                | DocumentKind::BusinessLicence
                | DocumentKind::StudentId
                | DocumentKind::PropertyDeed
                | DocumentKind::Lease
        )
    }
}

/// One missing requirement, with a stable code and a sentence a clerk can read out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingDocument {
    pub code: &'static str,
    pub message: String,
}

/// Age below which a guardian applies on the child's behalf (Art. 7).
pub const GUARDIAN_AGE: u32 = 16;

/// Everything missing from `provided`, in a fixed order: the kind-specific document,
/// identity document, proof of residence, then the guardian's documents for an
/// applicant under 16.
pub fn check_documents(
    kind: ApplicationKind,
    applicant_age: u32,
    provided: &[DocumentKind],
) -> Result<(), Vec<MissingDocument>> {
    let has = |d: DocumentKind| provided.contains(&d);
    let mut missing = Vec::new();
    let mut need = |code: &'static str, message: &str| {
        missing.push(MissingDocument {
            code,
            message: message.to_owned(),
        });
    };

    match kind {
        ApplicationKind::Renewal if !has(DocumentKind::OldIdCard) => {
            need("MISSING_OLD_CARD", "a renewal needs the old ID card handed in")
        }
        ApplicationKind::Replacement if !has(DocumentKind::HouseholdBooklet) && !has(DocumentKind::ResidencePermit) => {
            need(
                "MISSING_BOOKLET_OR_RESIDENCE_PERMIT",
                "a replacement needs the household booklet or the residence permit",
            )
        }
        _ => {}
    }

    let identity = provided
        .iter()
        .any(|&d| d.is_identity_document() && (d != DocumentKind::OldIdCard || kind == ApplicationKind::Renewal));
    if !identity {
        need(
            "MISSING_IDENTITY_DOCUMENT",
            match kind {
                ApplicationKind::Renewal => {
                    "an identity document is needed: the old ID card, household booklet, driving licence or passport"
                }
                ApplicationKind::Replacement => {
                    "an identity document is needed: household booklet, driving licence or passport"
                }
            },
        );
    }

    if !provided.iter().any(|d| d.is_proof_of_residence()) {
        need(
            "MISSING_PROOF_OF_RESIDENCE",
            "a proof of residence is needed: residence permit, temporary residence registration, labour contract, business licence, student ID, property deed or lease",
        );
    }

    if applicant_age < GUARDIAN_AGE {
        if !has(DocumentKind::GuardianIdentity) {
            need(
                "MISSING_GUARDIAN_IDENTITY",
                "an applicant under 16 needs the guardian's identity document",
            );
        }
        if !has(DocumentKind::GuardianshipProof) {
            need(
                "MISSING_GUARDIANSHIP_PROOF",
                "an applicant under 16 needs proof of guardianship",
            );
        }
    }

    if missing.is_empty() { Ok(()) } else { Err(missing) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DocumentKind as D;

    fn codes(result: Result<(), Vec<MissingDocument>>) -> Vec<&'static str> {
        result.err().unwrap_or_default().iter().map(|m| m.code).collect()
    }

    #[test]
    fn renewal_with_old_card_and_lease_is_complete() {
        assert_eq!(
            check_documents(ApplicationKind::Renewal, 30, &[D::OldIdCard, D::Lease]),
            Ok(())
        );
    }

    #[test]
    fn old_card_is_no_identity_document_for_a_replacement() {
        let result = check_documents(ApplicationKind::Replacement, 30, &[D::OldIdCard, D::ResidencePermit]);
        assert_eq!(codes(result), ["MISSING_IDENTITY_DOCUMENT"]);
    }

    #[test]
    fn residence_permit_serves_replacement_and_residence_but_not_identity() {
        let result = check_documents(ApplicationKind::Replacement, 30, &[D::ResidencePermit, D::Passport]);
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn nothing_provided_lists_everything() {
        assert_eq!(
            codes(check_documents(ApplicationKind::Renewal, 10, &[])),
            [
                "MISSING_OLD_CARD",
                "MISSING_IDENTITY_DOCUMENT",
                "MISSING_PROOF_OF_RESIDENCE",
                "MISSING_GUARDIAN_IDENTITY",
                "MISSING_GUARDIANSHIP_PROOF",
            ]
        );
    }

    #[test]
    fn sixteen_year_old_needs_no_guardian() {
        let docs = [D::HouseholdBooklet, D::StudentId];
        assert_eq!(check_documents(ApplicationKind::Replacement, 16, &docs), Ok(()));
        assert_eq!(
            codes(check_documents(ApplicationKind::Replacement, 15, &docs)),
            ["MISSING_GUARDIAN_IDENTITY", "MISSING_GUARDIANSHIP_PROOF"]
        );
    }
}
