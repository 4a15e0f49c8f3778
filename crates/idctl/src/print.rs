//! Plain-text renderings of the records the services return, for the terminal.
//!
//! Personal data does not print: a citizen id shows masked (first digit and last two),
//! and names, addresses and phone numbers of applicants never appear.

use std::fmt::Write as _;

use idcard_domain::CitizenId;
use idcard_proto::v1 as pb;
use idcard_server::wire::{timestamp_to_ms, today_cst};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// One application with everything the acceptance point knows of it, and its status
/// history one line per step.
pub fn application(a: &pb::Application) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "application {}", a.application_id);
    field(&mut out, "receipt", &a.receipt_number);
    field(&mut out, "kind", kind_name(a.kind));
    field(&mut out, "state", state_name(a.state));
    field(&mut out, "point", &a.acceptance_point_code);
    if let Some(applicant) = &a.applicant {
        let citizen_id = applicant
            .card_items
            .as_ref()
            .map_or("", |items| items.citizen_id.as_str());
        field(&mut out, "citizen id", &masked(citizen_id));
        field(&mut out, "domicile", &applicant.domicile_region_code);
    }
    if let Some(guardian) = &a.guardian {
        field(&mut out, "guardian", &format!("present ({})", guardian.relationship));
    }
    if !a.documents.is_empty() {
        let documents: Vec<&str> = a.documents.iter().map(|&d| document_name(d)).collect();
        field(&mut out, "documents", &documents.join(", "));
    }
    if let Some(fee) = &a.fee {
        let mut text = format!("{} fen, waiver {}", fee.amount_fen, waiver_name(fee.waiver));
        if !fee.payment_reference.is_empty() {
            let _ = write!(text, ", paid {}", fee.payment_reference);
        }
        field(&mut out, "fee", &text);
    }
    field(
        &mut out,
        "accepted",
        &instant(a.accepted_at.as_ref().map(timestamp_to_ms)),
    );
    field(&mut out, "due", &date(a.due_date.as_ref()));
    if let Some(e) = &a.deadline_extension {
        field(
            &mut out,
            "extended",
            &format!(
                "+{} days from {} by {} at {}: {}",
                e.days,
                date(e.previous_due_date.as_ref()),
                e.extended_by,
                instant(e.extended_at.as_ref().map(timestamp_to_ms)),
                e.reason
            ),
        );
    }
    if let Some(issuance) = &a.issuance {
        field(&mut out, "issuance", &issuance_text(issuance));
    }
    rejection(&mut out, &a.rejection_reasons, a.rejection_contact.as_ref());
    if let Some(c) = &a.collection {
        let mut text = format!(
            "{} by {}, checked and signed: {}",
            instant(c.collected_at.as_ref().map(timestamp_to_ms)),
            c.clerk,
            yes_no(c.applicant_checked_and_signed)
        );
        if a.kind == pb::ApplicationKind::Renewal as i32 {
            let _ = write!(text, ", old card surrendered: {}", yes_no(c.old_card_surrendered));
        }
        field(&mut out, "collected", &text);
    }
    if !a.history.is_empty() {
        out.push_str("  history\n");
        for event in &a.history {
            let _ = write!(
                out,
                "    {}  {:<21} {}",
                instant(event.at.as_ref().map(timestamp_to_ms)),
                state_name(event.state),
                event.actor
            );
            if !event.note.is_empty() {
                let _ = write!(out, "  {}", event.note);
            }
            out.push('\n');
        }
    }
    out
}

/// One line for a list of applications.
pub fn summary(s: &pb::ApplicationSummary) -> String {
    format!(
        "{}  {}  {:<11} {:<21} {}  {}  accepted {}  due {}",
        s.application_id,
        s.receipt_number,
        kind_name(s.kind),
        state_name(s.state),
        s.acceptance_point_code,
        s.citizen_id_masked,
        instant(s.accepted_at.as_ref().map(timestamp_to_ms)),
        date(s.due_date.as_ref()),
    )
}

/// One review case with the pre-check findings against the household register.
pub fn review_case(c: &pb::ReviewCase) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "review case {}", c.application_id);
    field(&mut out, "receipt", &c.receipt_number);
    field(&mut out, "kind", kind_name(c.kind));
    field(&mut out, "state", review_state_name(c.state));
    field(&mut out, "point", &c.acceptance_point_code);
    if let Some(applicant) = &c.applicant {
        let citizen_id = applicant
            .card_items
            .as_ref()
            .map_or("", |items| items.citizen_id.as_str());
        field(&mut out, "citizen id", &masked(citizen_id));
        field(&mut out, "domicile", &applicant.domicile_region_code);
    }
    field(
        &mut out,
        "accepted",
        &instant(c.accepted_at.as_ref().map(timestamp_to_ms)),
    );
    field(
        &mut out,
        "received",
        &instant(c.received_at.as_ref().map(timestamp_to_ms)),
    );
    field(&mut out, "review due", &date(c.review_due_date.as_ref()));
    field(&mut out, "due", &date(c.application_due_date.as_ref()));
    field(
        &mut out,
        "register",
        if c.register_record_found {
            "record found"
        } else {
            "no record for this citizen id"
        },
    );
    if c.findings.is_empty() {
        field(&mut out, "findings", "none");
    } else {
        out.push_str("  findings\n");
        for finding in &c.findings {
            let _ = write!(out, "    {}", finding.code);
            if !finding.field.is_empty() {
                let _ = write!(out, "  {}", finding.field);
            }
            let _ = writeln!(out, ": {}", finding.message);
        }
    }
    if let Some(issuance) = &c.issuance {
        field(&mut out, "issuance", &issuance_text(issuance));
    }
    rejection(&mut out, &c.rejection_reasons, c.rejection_contact.as_ref());
    if !c.reviewer.is_empty() {
        field(&mut out, "reviewer", &c.reviewer);
    }
    out
}

/// One line for the pending list.
pub fn review_summary(s: &pb::ReviewCaseSummary) -> String {
    format!(
        "{}  {}  {:<11} {}  domicile {}  received {}  review due {}  findings {}",
        s.application_id,
        s.receipt_number,
        kind_name(s.kind),
        s.citizen_id_masked,
        s.domicile_region_code,
        instant(s.received_at.as_ref().map(timestamp_to_ms)),
        date(s.review_due_date.as_ref()),
        s.finding_count,
    )
}

/// One production job with its quality checks.
pub fn job(j: &pb::ProductionJob) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "job {}", j.job_id);
    field(&mut out, "application", &j.application_id);
    field(&mut out, "receipt", &j.receipt_number);
    field(&mut out, "state", job_state_name(j.state));
    field(&mut out, "point", &j.acceptance_point_code);
    field(&mut out, "citizen id", &j.citizen_id_masked);
    if let Some(issuance) = &j.issuance {
        field(&mut out, "issuance", &issuance_text(issuance));
    }
    field(
        &mut out,
        "received",
        &instant(j.received_at.as_ref().map(timestamp_to_ms)),
    );
    field(&mut out, "due", &date(j.production_due_date.as_ref()));
    field(&mut out, "remakes", &j.remake_count.to_string());
    if !j.checks.is_empty() {
        out.push_str("  checks\n");
        for check in &j.checks {
            let verdict = if check.passed {
                "passed".to_string()
            } else {
                format!("failed: {}", check.defects.join("; "))
            };
            let _ = writeln!(
                out,
                "    {}  {}  {}",
                instant(check.at.as_ref().map(timestamp_to_ms)),
                check.operator,
                verdict
            );
        }
    }
    if !j.tracking_number.is_empty() || j.dispatched_at.is_some() {
        let text = format!(
            "{}, tracking {}",
            instant(j.dispatched_at.as_ref().map(timestamp_to_ms)),
            j.tracking_number
        );
        field(&mut out, "dispatched", &text);
    }
    out
}

/// One line for the job list.
pub fn job_summary(j: &pb::ProductionJob) -> String {
    format!(
        "{}  application {}  {}  {:<13} {}  {}  remakes {}  due {}",
        j.job_id,
        j.application_id,
        j.receipt_number,
        job_state_name(j.state),
        j.acceptance_point_code,
        j.citizen_id_masked,
        j.remake_count,
        date(j.production_due_date.as_ref()),
    )
}

/// The lowercase name of an application state (`under_review`, `collected`).
pub fn state_name(state: i32) -> &'static str {
    use pb::ApplicationState as S;
    match S::try_from(state) {
        Ok(S::Unspecified) => "unspecified",
        Ok(S::Submitted) => "submitted",
        Ok(S::UnderReview) => "under_review",
        Ok(S::Approved) => "approved",
        Ok(S::Rejected) => "rejected",
        Ok(S::InProduction) => "in_production",
        Ok(S::QualityCheckFailed) => "quality_check_failed",
        Ok(S::Produced) => "produced",
        Ok(S::Dispatched) => "dispatched",
        Ok(S::ReadyForCollection) => "ready_for_collection",
        Ok(S::Collected) => "collected",
        Err(_) => "unknown",
    }
}

pub fn kind_name(kind: i32) -> &'static str {
    match pb::ApplicationKind::try_from(kind) {
        Ok(pb::ApplicationKind::Renewal) => "renewal",
        Ok(pb::ApplicationKind::Replacement) => "replacement",
        Ok(pb::ApplicationKind::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

pub fn review_state_name(state: i32) -> &'static str {
    match pb::ReviewState::try_from(state) {
        Ok(pb::ReviewState::Pending) => "pending",
        Ok(pb::ReviewState::Approved) => "approved",
        Ok(pb::ReviewState::Rejected) => "rejected",
        Ok(pb::ReviewState::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

/// The domain's spelling of a statutory stage (`application`, `review`, ...).
pub fn stage_name(stage: i32) -> &'static str {
    use pb::DeadlineStage as S;
    match S::try_from(stage) {
        Ok(S::Application) => "application",
        Ok(S::Review) => "review",
        Ok(S::RejectionNotice) => "rejection_notice",
        Ok(S::Production) => "production",
        Ok(S::CountyToStation) => "county_to_station",
        Ok(S::Notification) => "notification",
        Ok(S::TemporaryCardIssue) => "temporary_card_issue",
        Ok(S::TemporaryCardValidity) => "temporary_card_validity",
        Ok(S::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

pub fn job_state_name(state: i32) -> &'static str {
    match pb::JobState::try_from(state) {
        Ok(pb::JobState::InProduction) => "in_production",
        Ok(pb::JobState::Passed) => "passed",
        Ok(pb::JobState::Dispatched) => "dispatched",
        Ok(pb::JobState::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

pub fn document_name(kind: i32) -> &'static str {
    use pb::DocumentKind as D;
    match D::try_from(kind) {
        Ok(D::HouseholdBooklet) => "household_booklet",
        Ok(D::OldIdCard) => "old_id_card",
        Ok(D::ResidencePermit) => "residence_permit",
        Ok(D::DrivingLicence) => "driving_licence",
        Ok(D::Passport) => "passport",
        Ok(D::TemporaryResidenceRegistration) => "temporary_residence_registration",
        Ok(D::LabourContract) => "labour_contract",
        Ok(D::BusinessLicence) => "business_licence",
        Ok(D::StudentId) => "student_id",
        Ok(D::PropertyDeed) => "property_deed",
        Ok(D::Lease) => "lease",
        Ok(D::GuardianIdentity) => "guardian_identity",
        Ok(D::GuardianshipProof) => "guardianship_proof",
        Ok(D::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

pub fn waiver_name(waiver: i32) -> &'static str {
    match pb::FeeWaiver::try_from(waiver) {
        Ok(pb::FeeWaiver::Unspecified | pb::FeeWaiver::None) => "none",
        Ok(pb::FeeWaiver::MinimumIncome) => "minimum_income",
        Ok(pb::FeeWaiver::Hardship) => "hardship",
        Err(_) => "unknown",
    }
}

/// `YYYY-MM-DD`, or `-` when absent.
pub fn date(d: Option<&pb::CalendarDate>) -> String {
    match d {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        None => "-".to_string(),
    }
}

const INSTANT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// An instant in China Standard Time, to the second, or `-` when absent.
pub fn instant(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "-".to_string();
    };
    let cst = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(at) => format!("{}+08", at.to_offset(cst).format(INSTANT).unwrap_or_default()),
        Err(_) => format!("{ms}ms"),
    }
}

/// A citizen id with the first digit and last two shown. A number that does not parse
/// is masked all the same.
pub fn masked(citizen_id: &str) -> String {
    if let Ok(id) = CitizenId::parse(citizen_id, today_cst()) {
        return id.masked();
    }
    let chars: Vec<char> = citizen_id.chars().collect();
    if chars.len() < 4 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    out.push(chars[0]);
    out.extend(std::iter::repeat_n('*', chars.len() - 3));
    out.extend(&chars[chars.len() - 2..]);
    out
}

fn issuance_text(i: &pb::Issuance) -> String {
    let period = if i.long_term {
        format!("long-term from {}", date(i.validity_start.as_ref()))
    } else {
        format!(
            "{} to {}",
            date(i.validity_start.as_ref()),
            date(i.validity_end.as_ref())
        )
    };
    let mut text = format!("{period}, {}", i.issuing_authority);
    if !i.card_id.is_empty() {
        let _ = write!(text, ", card {}", i.card_id);
    }
    text
}

fn rejection(out: &mut String, reasons: &[pb::RejectionReason], contact: Option<&pb::Contact>) {
    if !reasons.is_empty() {
        out.push_str("  rejected\n");
        for reason in reasons {
            let _ = write!(out, "    {}", reason.code);
            if !reason.detail.is_empty() {
                let _ = write!(out, ": {}", reason.detail);
            }
            out.push('\n');
        }
    }
    if let Some(c) = contact {
        let parts: Vec<&str> = [c.office.as_str(), c.person.as_str(), c.phone.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if !parts.is_empty() {
            field(out, "contact", &parts.join(", "));
        }
    }
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<12} {value}");
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A loss report and its history; the citizen id only masked.
pub fn loss_report(r: &pb::LossReport) -> String {
    let mut out = format!(
        "loss report {}\n  state        {}\n  kind         {}\n  citizen id   {}\n  taken at     {}\n  reported     {}",
        r.report_number,
        loss_state_name(r.state),
        pb::LossKind::try_from(r.kind)
            .map(|k| k.as_str_name())
            .unwrap_or("?")
            .trim_start_matches("LOSS_KIND_")
            .to_lowercase(),
        r.citizen_id_masked,
        r.taken_at,
        instant(r.reported_at.as_ref().map(idcard_server::wire::timestamp_to_ms)),
    );
    if !r.same_as_report_number.is_empty() {
        out.push_str(&format!(
            "\n  same as      {} (the card was already reported)",
            r.same_as_report_number
        ));
    }
    out.push_str("\n  history");
    for event in &r.history {
        out.push_str(&format!(
            "\n    {}  {:<10}  {}",
            instant(event.at.as_ref().map(idcard_server::wire::timestamp_to_ms)),
            loss_state_name(event.state),
            event.note
        ));
    }
    out
}

/// `active`, `revoked`…
pub fn loss_state_name(state: i32) -> String {
    pb::LossReportState::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("LOSS_REPORT_STATE_").to_lowercase())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// `VALID`, `REPORTED_LOST`, `INVALIDATED` or `NO_MATCH`.
pub fn verification(answer: i32) -> &'static str {
    match pb::VerificationAnswer::try_from(answer) {
        Ok(pb::VerificationAnswer::Valid) => "VALID",
        Ok(pb::VerificationAnswer::ReportedLost) => "REPORTED_LOST",
        Ok(pb::VerificationAnswer::Invalidated) => "INVALIDATED",
        Ok(pb::VerificationAnswer::NoMatch) => "NO_MATCH",
        _ => "UNSPECIFIED",
    }
}

pub fn found_card(answer: &pb::QueryFoundCardResponse) -> String {
    if answer.found {
        format!(
            "found at {}; collect it at {} (registered {})",
            answer.found_at,
            answer.collect_at,
            instant(answer.registered_at.as_ref().map(idcard_server::wire::timestamp_to_ms))
        )
    } else {
        "no found card is registered for this number".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_lowercase_snake() {
        assert_eq!(state_name(pb::ApplicationState::UnderReview as i32), "under_review");
        assert_eq!(state_name(pb::ApplicationState::Collected as i32), "collected");
        assert_eq!(state_name(99), "unknown");
    }

    #[test]
    fn application_masks_the_citizen_id_and_hides_personal_data() {
        let a = pb::Application {
            application_id: "a-1".into(),
            kind: pb::ApplicationKind::Renewal as i32,
            state: pb::ApplicationState::Submitted as i32,
            applicant: Some(pb::Applicant {
                card_items: Some(pb::CardItems {
                    citizen_id: "11010519491231002X".into(),
                    name: "王小明".into(),
                    domicile_address: "北京市朝阳区建国路88号".into(),
                    ..Default::default()
                }),
                phone: "13800000001".into(),
                ..Default::default()
            }),
            history: vec![pb::StatusEvent {
                state: pb::ApplicationState::Submitted as i32,
                at: None,
                actor: "clerk-1".into(),
                note: "accepted".into(),
            }],
            ..Default::default()
        };
        let text = application(&a);
        assert!(text.contains("1***************2X"), "{text}");
        assert!(!text.contains("11010519491231002X"));
        assert!(!text.contains("王小明"));
        assert!(!text.contains("建国路"));
        assert!(!text.contains("13800000001"));
        assert!(text.contains("submitted"));
        assert!(text.contains("clerk-1"));
    }

    #[test]
    fn unparsable_citizen_id_is_masked_too() {
        assert_eq!(masked("123456789"), "1******89");
        assert_eq!(masked("12"), "**");
    }

    #[test]
    fn instants_print_in_china_standard_time() {
        assert_eq!(instant(Some(0)), "1970-01-01 08:00:00+08");
        assert_eq!(instant(None), "-");
    }
}
