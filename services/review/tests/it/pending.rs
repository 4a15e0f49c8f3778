//! The pending list of a jurisdiction.

use idcard_proto::v1::{ApplicationKind, ApproveApplicationRequest, ListPendingApplicationsRequest};
use tonic::Code;
use uuid::Uuid;

use idcard_auth::Role;

use crate::support::{App, Person, citizen_id, fields};

#[tokio::test]
async fn pending_application_is_listed_under_every_prefix_of_its_domicile() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    for jurisdiction in ["44", "4401", "440106"] {
        let listed = app.list(jurisdiction).await;
        assert_eq!(listed.len(), 1, "{jurisdiction}");
        let summary = &listed[0];
        assert_eq!(summary.application_id, application.application_id);
        assert_eq!(summary.receipt_number, application.receipt_number);
        assert_eq!(summary.domicile_region_code, "440106");
        assert_eq!(summary.kind, ApplicationKind::Renewal as i32);
        let masked = &summary.citizen_id_masked;
        assert!(masked.starts_with('4') && masked.contains('*') && masked.ends_with(&person.citizen_id[16..]));
        // No register record yet: one finding.
        assert_eq!(summary.finding_count, 1);
    }
    for other in ["4402", "440105"] {
        assert!(app.list(other).await.is_empty(), "{other}");
    }
    let mut national = app.review_as("reviewer-national", Role::Reviewer, &["*"]);
    let beijing = national
        .list_pending_applications(ListPendingApplicationsRequest {
            jurisdiction_code: "11".to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(beijing.applications.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn pending_list_pages_oldest_first() {
    let mut app = App::spawn().await;
    let mut ids = Vec::new();
    for sequence in [11, 13, 15] {
        let application = Person::aged(30, sequence).application(ApplicationKind::Renewal);
        ids.push(application.application_id.clone());
        app.receive(application).await;
    }
    // Another jurisdiction's application in between is not in the pages.
    let mut elsewhere = Person::aged(30, 17);
    elsewhere.citizen_id = citizen_id("110105", elsewhere.birth, 17);
    elsewhere.domicile_region_code = "110105".to_string();
    app.receive(elsewhere.application(ApplicationKind::Renewal)).await;

    let first = app
        .review
        .list_pending_applications(ListPendingApplicationsRequest {
            jurisdiction_code: "4401".to_string(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let second = app
        .review
        .list_pending_applications(ListPendingApplicationsRequest {
            jurisdiction_code: "4401".to_string(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();

    let page = |r: &idcard_proto::v1::ListPendingApplicationsResponse| {
        r.applications
            .iter()
            .map(|a| a.application_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(page(&first), ids[..2]);
    assert!(!first.next_page_token.is_empty());
    assert_eq!(page(&second), ids[2..]);
    assert!(second.next_page_token.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn decided_application_leaves_the_pending_list() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    app.review
        .approve_application(ApproveApplicationRequest {
            request_id: Uuid::now_v7().to_string(),
            application_id: application.application_id.clone(),
            reviewer: "reviewer-1".to_string(),
            note: String::new(),
        })
        .await
        .unwrap();

    assert!(app.list("44").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn malformed_jurisdiction_and_page_token_are_refused() {
    let mut app = App::spawn().await;
    for jurisdiction in ["", "4", "44a", "4401061"] {
        let status = app
            .review
            .list_pending_applications(ListPendingApplicationsRequest {
                jurisdiction_code: jurisdiction.to_string(),
                page_size: 0,
                page_token: "x".to_string(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(fields(&status), ["jurisdiction_code", "page_token"], "{jurisdiction:?}");
    }
    app.stop().await;
}
