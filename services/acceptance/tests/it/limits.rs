//! The photo and request size limits, each a setting with a clear status.

use idcard_server::status::field_violations;
use tonic::Code;

use crate::support::{LI, Options, TestApp, replacement};

#[tokio::test]
async fn a_photo_over_the_limit_is_invalid_argument_naming_the_limit() {
    let app = TestApp::start_with(Options {
        max_photo_bytes: 1024,
        ..Options::default()
    })
    .await;
    let mut request = replacement(&LI);
    request.applicant.as_mut().unwrap().photo = vec![0xAB; 1025];

    let refused = app.clerk().submit_application(request).await.unwrap_err();

    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let photo = field_violations(&refused)
        .into_iter()
        .find(|v| v.field == "applicant.photo")
        .unwrap_or_else(|| panic!("no violation on applicant.photo: {refused:?}"));
    assert!(photo.description.contains("1024"), "{}", photo.description);
}

#[tokio::test]
async fn a_photo_at_the_limit_is_taken() {
    let app = TestApp::start_with(Options {
        max_photo_bytes: 1024,
        ..Options::default()
    })
    .await;
    let mut request = replacement(&LI);
    request.applicant.as_mut().unwrap().photo = vec![0xAB; 1024];

    let accepted = app.clerk().submit_application(request).await;

    assert!(accepted.is_ok(), "{accepted:?}");
}

#[tokio::test]
async fn a_request_over_the_size_limit_is_refused_before_the_handler() {
    let app = TestApp::start_with(Options {
        max_request_bytes: 64 * 1024,
        ..Options::default()
    })
    .await;
    let mut request = replacement(&LI);
    request.applicant.as_mut().unwrap().photo = vec![0xAB; 100 * 1024];

    let refused = app.clerk().submit_application(request).await.unwrap_err();

    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("65536"), "names the limit: {refused:?}");
}
