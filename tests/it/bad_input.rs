//! Bad input answers INVALID_ARGUMENT naming the field, and nothing is written.

use idcard_proto::v1 as pb;
use tonic::Code;

use crate::support::{LI, TestStack, WANG, renewal, replacement};

/// Submits `request`, expects INVALID_ARGUMENT naming `field`, and checks that no
/// application was written.
async fn assert_refused_naming(stack: &mut TestStack, request: pb::SubmitApplicationRequest, field: &str) {
    let status = stack.submit(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields = idcard_server::status::violated_fields(&status);
    assert!(
        fields.iter().any(|f| f == field),
        "expected {field} among {fields:?}: {}",
        status.message()
    );
    let listed = stack
        .acceptance
        .list_applications(pb::ListApplicationsRequest {
            acceptance_point_code: "310104-01".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.applications.is_empty(), "nothing may be written");
}

fn with_citizen_id(id: &str) -> pb::SubmitApplicationRequest {
    let mut request = replacement(&LI);
    request
        .applicant
        .as_mut()
        .unwrap()
        .card_items
        .as_mut()
        .unwrap()
        .citizen_id = id.into();
    request
}

#[tokio::test]
async fn malformed_citizen_ids_name_the_field() {
    let mut stack = TestStack::start().await;
    let field = "applicant.card_items.citizen_id";
    for (bad, why) in [
        ("44010619780909022", "length"),
        ("4401061978090902A1", "characters"),
        ("440106197809090222", "check character"),
        ("440106197802300222", "impossible birth date (30 February)"),
    ] {
        let status = stack.submit(with_citizen_id(bad)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{why}");
        assert!(
            idcard_server::status::violated_fields(&status).contains(&field.to_string()),
            "{why}: {}",
            status.message()
        );
    }
    assert_refused_naming(&mut stack, with_citizen_id(""), field).await;
    stack.stop().await;
}

#[tokio::test]
async fn an_unknown_region_is_refused_at_submit() {
    let mut stack = TestStack::start().await;
    let mut request = replacement(&LI);
    request.applicant.as_mut().unwrap().domicile_region_code = "999999".into();

    assert_refused_naming(&mut stack, request, "applicant.domicile_region_code").await;
    stack.stop().await;
}

#[tokio::test]
async fn missing_required_fields_are_each_named() {
    let mut stack = TestStack::start().await;
    let mut request = replacement(&LI);
    request.acceptance_point_code.clear();
    request.applicant.as_mut().unwrap().phone.clear();

    let status = stack.submit(request).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = idcard_server::status::violated_fields(&status);
    for field in ["acceptance_point_code", "applicant.phone"] {
        assert!(fields.iter().any(|f| f == field), "{field} missing from {fields:?}");
    }
    let mut request = replacement(&LI);
    request.applicant = None;
    assert_refused_naming(&mut stack, request, "applicant").await;
    stack.stop().await;
}

#[tokio::test]
async fn documents_that_do_not_fit_the_kind_are_refused() {
    let mut stack = TestStack::start().await;
    // A renewal with a replacement's documents: no old card handed in.
    let mut request = renewal(&WANG);
    request.documents = vec![
        pb::DocumentKind::HouseholdBooklet.into(),
        pb::DocumentKind::ResidencePermit.into(),
    ];

    assert_refused_naming(&mut stack, request, "documents").await;
    stack.stop().await;
}

#[tokio::test]
async fn a_fee_that_does_not_match_the_rules_is_refused() {
    let mut stack = TestStack::start().await;
    let mut request = replacement(&LI);
    request.fee.as_mut().unwrap().amount_fen = 2000;

    assert_refused_naming(&mut stack, request, "fee.amount_fen").await;
    stack.stop().await;
}

#[tokio::test]
async fn a_missing_request_id_is_refused() {
    let mut stack = TestStack::start().await;
    let mut request = replacement(&LI);
    request.request_id.clear();

    assert_refused_naming(&mut stack, request, "request_id").await;
    stack.stop().await;
}
