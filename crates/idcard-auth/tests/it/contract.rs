//! The policy tables against the compiled contract: every RPC of idcard.v1 has exactly
//! one rule, in the table of the service that serves it.

use idcard_auth::{AccessPolicy, policy};
use prost::Message;
use prost_types::FileDescriptorSet;

fn contract_methods() -> Vec<String> {
    let set = FileDescriptorSet::decode(idcard_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut paths = Vec::new();
    for file in set.file.iter().filter(|file| file.package() == "idcard.v1") {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!("/idcard.v1.{}/{}", service.name(), method.name()));
            }
        }
    }
    paths.sort();
    paths
}

#[test]
fn every_rpc_of_the_contract_has_a_rule_and_no_rule_is_stale() {
    let methods = contract_methods();
    assert!(methods.len() >= 18, "{methods:?}");
    let table: Vec<String> = policy::all().paths().map(str::to_string).collect();
    assert_eq!(table, methods);
}

#[test]
fn each_service_table_covers_exactly_its_own_services() {
    for (table, services) in [
        (
            policy::acceptance(),
            [
                policy::ACCEPTANCE_SERVICE,
                policy::ACCEPTANCE_INBOX_SERVICE,
                policy::ACCEPTANCE_INBOX_SERVICE,
            ],
        ),
        (
            policy::review(),
            [
                policy::REVIEW_SERVICE,
                policy::REVIEW_INBOX_SERVICE,
                policy::CITIZEN_SERVICE,
            ],
        ),
        (
            policy::production(),
            [
                policy::PRODUCTION_SERVICE,
                policy::PRODUCTION_INBOX_SERVICE,
                policy::PRODUCTION_INBOX_SERVICE,
            ],
        ),
        (
            policy::status(),
            [
                policy::CARD_STATUS_SERVICE,
                policy::FOUND_CARD_SERVICE,
                policy::STATUS_INBOX_SERVICE,
            ],
        ),
    ] {
        let expected: Vec<String> = contract_methods()
            .into_iter()
            .filter(|path| policy::service_of(path).is_some_and(|service| services.contains(&service)))
            .collect();
        let paths: Vec<String> = table.paths().map(str::to_string).collect();
        assert_eq!(paths, expected);
    }
}

#[test]
fn service_names_match_the_generated_code() {
    use idcard_proto::v1::*;
    assert_eq!(policy::ACCEPTANCE_SERVICE, acceptance_service_server::SERVICE_NAME);
    assert_eq!(
        policy::ACCEPTANCE_INBOX_SERVICE,
        acceptance_inbox_service_server::SERVICE_NAME
    );
    assert_eq!(policy::REVIEW_SERVICE, review_service_server::SERVICE_NAME);
    assert_eq!(policy::REVIEW_INBOX_SERVICE, review_inbox_service_server::SERVICE_NAME);
    assert_eq!(policy::PRODUCTION_SERVICE, production_service_server::SERVICE_NAME);
    assert_eq!(
        policy::PRODUCTION_INBOX_SERVICE,
        production_inbox_service_server::SERVICE_NAME
    );
}

#[test]
fn health_of_the_generated_servers_is_open() {
    assert!(AccessPolicy::is_open("/grpc.health.v1.Health/Check"));
}
