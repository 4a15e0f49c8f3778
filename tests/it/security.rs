//! The security baseline across the stack: tokens, roles and scopes at the edge, client
//! certificates between services, nothing personal in clear on disk or in the log, and
//! audit chains that verify.

use idcard_auth::Role;
use idcard_db::{Db, DbOptions};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_inbox_service_client::AcceptanceInboxServiceClient;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use tonic::Code;

use crate::support::{POINT, TestStack, WANG, channel, new_id, renewal, token};

fn get_request(id: &str) -> pb::GetApplicationRequest {
    pb::GetApplicationRequest {
        key: Some(pb::get_application_request::Key::ApplicationId(id.to_string())),
    }
}

#[tokio::test]
async fn the_edge_refuses_missing_tokens_wrong_roles_and_hides_other_scopes() {
    let mut stack = TestStack::start().await;
    let app = stack.submit(renewal(&WANG)).await.unwrap();
    let url = stack.url("acceptance").to_string();

    let mut anonymous = AcceptanceServiceClient::new(channel(&url, None));
    let status = anonymous
        .get_application(get_request(&app.application_id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let mut reviewer = AcceptanceServiceClient::new(channel(&url, Some(&token("r", Role::Reviewer, &["11"]))));
    let status = reviewer
        .get_application(get_request(&app.application_id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let mut other_clerk = AcceptanceServiceClient::new(channel(&url, Some(&token("c2", Role::Clerk, &["440106-09"]))));
    let hidden = other_clerk
        .get_application(get_request(&app.application_id))
        .await
        .unwrap_err();
    let unknown = other_clerk.get_application(get_request(&new_id())).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(
        (hidden.code(), hidden.message()),
        (unknown.code(), unknown.message()),
        "existence must not leak"
    );
    let listed = other_clerk
        .list_applications(pb::ListApplicationsRequest {
            acceptance_point_code: POINT.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Code::PermissionDenied);
    stack.stop().await;
}

#[tokio::test]
async fn an_internal_rpc_without_the_peer_certificate_is_refused() {
    let stack = TestStack::start().await;
    let url = stack.url("acceptance").to_string();
    // A clerk's token over TLS, but no client certificate.
    let mut inbox = AcceptanceInboxServiceClient::new(channel(&url, Some(&token("c", Role::Clerk, &[POINT]))));

    let status = inbox
        .receive_decision(pb::ReceiveDecisionRequest {
            message_id: new_id(),
            application_id: new_id(),
            decision: None,
            decided_at: None,
            reviewer: String::new(),
        })
        .await
        .unwrap_err();

    assert!(
        matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied),
        "{status:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn after_a_flow_nothing_personal_is_in_clear_on_disk_or_in_the_log_and_the_audit_chains_verify() {
    let log = crate::traces::captured_log();
    let mut stack = TestStack::start().await;
    let app = stack.submit(renewal(&WANG)).await.unwrap();
    stack.drive_to_ready(&app.application_id, true).await;
    stack.collect(&app.application_id, true).await.unwrap();
    stack.get(&app.application_id).await;
    // Keep the databases past the stop.
    let databases = std::mem::take(&mut stack.databases);
    let urls: Vec<String> = databases.iter().map(|db| db.url.clone()).collect();
    stack.stop().await;

    let secrets: [&[u8]; 4] = [
        WANG.citizen_id.as_bytes(),
        WANG.name.as_bytes(),
        WANG.address.as_bytes(),
        b"13800000000",
    ];
    for url in &urls {
        for (place, bytes) in stored_bytes(url) {
            for secret in secrets {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "{place} holds {:?} in clear",
                    String::from_utf8_lossy(secret)
                );
            }
        }
        let db = Db::connect(url, &DbOptions::default()).await.unwrap();
        idcard_audit::seal_once(&db).await.unwrap();
        let verified = idcard_audit::verify(&db).await.unwrap();
        assert!(verified.entries > 0, "{url} audited nothing");
        db.close().await;
    }
    let log = log.lock().unwrap().clone();
    assert!(!log.is_empty(), "the services logged nothing");
    for secret in secrets {
        assert!(
            !log.windows(secret.len()).any(|w| w == secret),
            "the log holds {:?}",
            String::from_utf8_lossy(secret)
        );
    }
}

/// The bytes a database keeps: every file of a SQLite database (main, WAL, shared
/// memory), or a PostgreSQL dump.
fn stored_bytes(url: &str) -> Vec<(String, Vec<u8>)> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let file = format!("{path}{suffix}");
                std::fs::read(&file).ok().map(|bytes| (file, bytes))
            })
            .collect()
    } else {
        let dump = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(url)
            .output()
            .unwrap();
        assert!(
            dump.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&dump.stderr)
        );
        vec![(format!("pg_dump of {url}"), dump.stdout)]
    }
}
