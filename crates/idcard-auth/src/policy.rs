//! Who may call which gRPC method. A service builds its [`AccessPolicy`] (usually one of
//! the tables at the bottom of this module) and hands it to [`crate::AuthLayer`]; a method
//! missing from the table is refused, so a new RPC is never exposed by accident.

use std::collections::BTreeMap;

use crate::Role;

/// How a method is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A front-end call: a bearer token with one of these roles.
    Roles(Vec<Role>),
    /// A service-to-service call: no token, a TLS client certificate of one of these
    /// services (`spiffe://idcard/<service>`).
    Peers(Vec<String>),
}

/// Method path (`/idcard.v1.AcceptanceService/SubmitApplication`) to [`Access`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    rules: BTreeMap<String, Access>,
}

/// gRPC services every caller may reach without credentials: health (probes) and
/// reflection (tooling). The path must name one of them exactly.
pub const OPEN_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

impl AccessPolicy {
    pub fn new() -> Self {
        AccessPolicy::default()
    }

    /// `roles` may call `path` with a bearer token (added to any roles already allowed).
    ///
    /// # Panics
    /// If `path` is not `/<package>.<Service>/<Method>` or the method is already an
    /// internal one: a policy is built at start from constants, so that is a bug.
    pub fn allow(mut self, path: &str, roles: &[Role]) -> Self {
        assert!(
            is_method_path(path),
            "access policy: {path:?} is not a /package.Service/Method path"
        );
        match self
            .rules
            .entry(path.to_string())
            .or_insert_with(|| Access::Roles(Vec::new()))
        {
            Access::Roles(allowed) => {
                for role in roles {
                    if !allowed.contains(role) {
                        allowed.push(*role);
                    }
                }
            }
            Access::Peers(_) => panic!("access policy: {path} is already an internal method"),
        }
        self
    }

    /// Peer services `services` may call `path` with their TLS client certificate and no
    /// token.
    ///
    /// # Panics
    /// As [`AccessPolicy::allow`], the other way round.
    pub fn allow_peers(mut self, path: &str, services: &[&str]) -> Self {
        assert!(
            is_method_path(path),
            "access policy: {path:?} is not a /package.Service/Method path"
        );
        match self
            .rules
            .entry(path.to_string())
            .or_insert_with(|| Access::Peers(Vec::new()))
        {
            Access::Peers(allowed) => {
                for service in services {
                    if !allowed.iter().any(|s| s == service) {
                        allowed.push(service.to_string());
                    }
                }
            }
            Access::Roles(_) => panic!("access policy: {path} is already a front-end method"),
        }
        self
    }

    /// Both tables in one (for a process that serves several services).
    pub fn merge(mut self, other: AccessPolicy) -> Self {
        for (path, access) in other.rules {
            self = match access {
                Access::Roles(roles) => self.allow(&path, &roles),
                Access::Peers(peers) => {
                    let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
                    self.allow_peers(&path, &peers)
                }
            };
        }
        self
    }

    /// The rule for `path`; `None` means refused (unless [`AccessPolicy::is_open`]).
    pub fn access(&self, path: &str) -> Option<&Access> {
        self.rules.get(path)
    }

    /// Health and reflection: reachable without credentials.
    pub fn is_open(path: &str) -> bool {
        service_of(path).is_some_and(|service| OPEN_SERVICES.contains(&service))
    }

    /// Every method path in the table.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.rules.keys().map(String::as_str)
    }
}

/// `idcard.v1.AcceptanceService` of `/idcard.v1.AcceptanceService/SubmitApplication`.
pub fn service_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some(service)
}

fn is_method_path(path: &str) -> bool {
    service_of(path).is_some_and(|service| service.contains('.'))
}

/// `/<service>/<method>`.
pub fn method_path(service: &str, method: &str) -> String {
    format!("/{service}/{method}")
}

// The idcard.v1 contract (proto/idcard/v1). Keep in step with the proto files; the
// crate's tests fail when an RPC of the descriptor set has no rule here.

/// Peer service names, as their certificates carry them (`spiffe://idcard/<name>`).
pub const ACCEPTANCE: &str = "acceptance";
pub const REVIEW: &str = "review";
pub const PRODUCTION: &str = "production";
pub const STATUS: &str = "status";

pub const ACCEPTANCE_SERVICE: &str = "idcard.v1.AcceptanceService";
pub const ACCEPTANCE_INBOX_SERVICE: &str = "idcard.v1.AcceptanceInboxService";
pub const REVIEW_SERVICE: &str = "idcard.v1.ReviewService";
pub const REVIEW_INBOX_SERVICE: &str = "idcard.v1.ReviewInboxService";
pub const PRODUCTION_SERVICE: &str = "idcard.v1.ProductionService";
pub const PRODUCTION_INBOX_SERVICE: &str = "idcard.v1.ProductionInboxService";
pub const CITIZEN_SERVICE: &str = "idcard.v1.CitizenService";
pub const CARD_STATUS_SERVICE: &str = "idcard.v1.CardStatusService";
pub const FOUND_CARD_SERVICE: &str = "idcard.v1.FoundCardService";
pub const STATUS_INBOX_SERVICE: &str = "idcard.v1.StatusInboxService";

use Role::{Auditor, Citizen, Clerk, ProductionOperator, Reviewer, Verifier};

/// Read methods: the role that works there, and auditors.
const ACCEPTANCE_METHODS: [(&str, &[Role]); 10] = [
    ("SubmitApplication", &[Clerk]),
    ("GetApplication", &[Clerk, Auditor]),
    ("ListApplications", &[Clerk, Auditor]),
    ("ConfirmCardArrival", &[Clerk]),
    ("CollectCard", &[Clerk]),
    ("ReportLoss", &[Clerk]),
    ("GetLossReport", &[Clerk, Auditor]),
    ("RevokeLossReport", &[Clerk]),
    ("ListOverdue", &[Clerk, Auditor]),
    // Clerks at the point record the extension; there is no supervisor role.
    ("ExtendApplicationDeadline", &[Clerk]),
];

/// Who sends each message: review decides, production reports progress.
const ACCEPTANCE_INBOX_METHODS: [(&str, &[&str]); 3] = [
    ("ReceiveDecision", &[REVIEW]),
    ("ReceiveProductionUpdate", &[PRODUCTION]),
    ("ReceiveLossReportOutcome", &[REVIEW]),
];

const REVIEW_METHODS: [(&str, &[Role]); 6] = [
    ("ListPendingApplications", &[Reviewer, Auditor]),
    ("GetApplication", &[Reviewer, Auditor]),
    ("ApproveApplication", &[Reviewer]),
    ("RejectApplication", &[Reviewer]),
    ("ImportResidents", &[Reviewer]),
    ("ListOverdue", &[Reviewer, Auditor]),
];

const REVIEW_INBOX_METHODS: [(&str, &[&str]); 5] = [
    ("ReceiveApplication", &[ACCEPTANCE]),
    ("ReceiveLossReport", &[ACCEPTANCE]),
    ("ReceiveLossReportRevocation", &[ACCEPTANCE]),
    ("ReceiveCollectionNotice", &[ACCEPTANCE]),
    ("ReceiveFoundCardNotice", &[STATUS]),
];

const CITIZEN_METHODS: [(&str, &[Role]); 3] = [
    ("StartOnlineLossReport", &[Citizen]),
    ("ConfirmOnlineLossReport", &[Citizen]),
    ("GetOnlineLossReport", &[Citizen, Auditor]),
];

const CARD_STATUS_METHODS: [(&str, &[Role]); 1] = [("VerifyCard", &[Verifier])];

const FOUND_CARD_METHODS: [(&str, &[Role]); 2] = [("RegisterFoundCard", &[Clerk]), ("QueryFoundCard", &[Citizen])];

const STATUS_INBOX_METHODS: [(&str, &[&str]); 1] = [("PublishCardStatus", &[REVIEW])];

const PRODUCTION_METHODS: [(&str, &[Role]); 5] = [
    ("ListJobs", &[ProductionOperator, Auditor]),
    ("GetJob", &[ProductionOperator, Auditor]),
    ("RecordQualityCheck", &[ProductionOperator]),
    ("DispatchCard", &[ProductionOperator]),
    ("ListOverdue", &[ProductionOperator, Auditor]),
];

const PRODUCTION_INBOX_METHODS: [(&str, &[&str]); 1] = [("ReceiveProductionOrder", &[REVIEW])];

fn table(service: &str, methods: &[(&str, &[Role])], inbox: &str, inbox_methods: &[(&str, &[&str])]) -> AccessPolicy {
    let policy = methods.iter().fold(AccessPolicy::new(), |policy, (method, roles)| {
        policy.allow(&method_path(service, method), roles)
    });
    inbox_methods.iter().fold(policy, |policy, (method, peers)| {
        policy.allow_peers(&method_path(inbox, method), peers)
    })
}

/// `AcceptanceService` (clerks; auditors read) and `AcceptanceInboxService` (review,
/// production).
pub fn acceptance() -> AccessPolicy {
    table(
        ACCEPTANCE_SERVICE,
        &ACCEPTANCE_METHODS,
        ACCEPTANCE_INBOX_SERVICE,
        &ACCEPTANCE_INBOX_METHODS,
    )
}

/// `ReviewService` (reviewers; auditors read), `CitizenService` (citizens online) and
/// `ReviewInboxService` (acceptance; found-card notices from status).
pub fn review() -> AccessPolicy {
    let citizen = CITIZEN_METHODS
        .iter()
        .fold(AccessPolicy::new(), |policy, (method, roles)| {
            policy.allow(&method_path(CITIZEN_SERVICE, method), roles)
        });
    table(
        REVIEW_SERVICE,
        &REVIEW_METHODS,
        REVIEW_INBOX_SERVICE,
        &REVIEW_INBOX_METHODS,
    )
    .merge(citizen)
}

/// `CardStatusService` (verifiers), `FoundCardService` (stations record, owners ask) and
/// `StatusInboxService` (review services publish card status).
pub fn status() -> AccessPolicy {
    let found = FOUND_CARD_METHODS
        .iter()
        .fold(AccessPolicy::new(), |policy, (method, roles)| {
            policy.allow(&method_path(FOUND_CARD_SERVICE, method), roles)
        });
    table(
        CARD_STATUS_SERVICE,
        &CARD_STATUS_METHODS,
        STATUS_INBOX_SERVICE,
        &STATUS_INBOX_METHODS,
    )
    .merge(found)
}

/// `ProductionService` (production operators; auditors read) and
/// `ProductionInboxService` (review).
pub fn production() -> AccessPolicy {
    table(
        PRODUCTION_SERVICE,
        &PRODUCTION_METHODS,
        PRODUCTION_INBOX_SERVICE,
        &PRODUCTION_INBOX_METHODS,
    )
}

/// Every service's table together.
pub fn all() -> AccessPolicy {
    acceptance().merge(review()).merge(production()).merge(status())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(policy: &AccessPolicy, path: &str) -> Vec<Role> {
        match policy.access(path) {
            Some(Access::Roles(roles)) => roles.clone(),
            other => panic!("{path}: {other:?}"),
        }
    }

    fn peers(policy: &AccessPolicy, path: &str) -> Vec<String> {
        match policy.access(path) {
            Some(Access::Peers(peers)) => peers.clone(),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn clerks_work_the_acceptance_service_and_auditors_only_read_it() {
        let policy = acceptance();
        assert_eq!(
            roles(&policy, "/idcard.v1.AcceptanceService/SubmitApplication"),
            [Clerk]
        );
        assert_eq!(
            roles(&policy, "/idcard.v1.AcceptanceService/GetApplication"),
            [Clerk, Auditor]
        );
        assert_eq!(
            roles(&policy, "/idcard.v1.AcceptanceService/ListApplications"),
            [Clerk, Auditor]
        );
        assert_eq!(roles(&policy, "/idcard.v1.AcceptanceService/CollectCard"), [Clerk]);
    }

    #[test]
    fn reviewers_import_residents_and_decide() {
        let policy = review();
        assert_eq!(roles(&policy, "/idcard.v1.ReviewService/ImportResidents"), [Reviewer]);
        assert_eq!(
            roles(&policy, "/idcard.v1.ReviewService/ApproveApplication"),
            [Reviewer]
        );
        assert_eq!(
            roles(&policy, "/idcard.v1.ReviewService/ListPendingApplications"),
            [Reviewer, Auditor]
        );
    }

    #[test]
    fn production_operators_work_the_production_service() {
        let policy = production();
        assert_eq!(
            roles(&policy, "/idcard.v1.ProductionService/DispatchCard"),
            [ProductionOperator]
        );
        assert_eq!(
            roles(&policy, "/idcard.v1.ProductionService/GetJob"),
            [ProductionOperator, Auditor]
        );
    }

    #[test]
    fn inboxes_take_only_the_sending_peer() {
        assert_eq!(
            peers(&review(), "/idcard.v1.ReviewInboxService/ReceiveApplication"),
            [ACCEPTANCE]
        );
        assert_eq!(
            peers(&acceptance(), "/idcard.v1.AcceptanceInboxService/ReceiveDecision"),
            [REVIEW]
        );
        assert_eq!(
            peers(
                &acceptance(),
                "/idcard.v1.AcceptanceInboxService/ReceiveProductionUpdate"
            ),
            [PRODUCTION]
        );
        assert_eq!(
            peers(
                &production(),
                "/idcard.v1.ProductionInboxService/ReceiveProductionOrder"
            ),
            [REVIEW]
        );
    }

    #[test]
    fn a_service_table_says_nothing_about_other_services() {
        assert_eq!(acceptance().access("/idcard.v1.ReviewService/ApproveApplication"), None);
        assert_eq!(review().access("/idcard.v1.AcceptanceService/SubmitApplication"), None);
        assert_eq!(all().access("/idcard.v1.ReviewService/DeleteEverything"), None);
    }

    #[test]
    fn auditors_never_write() {
        let policy = all();
        for path in policy.paths() {
            let method = path.rsplit('/').next().unwrap_or_default();
            if let Some(Access::Roles(roles)) = policy.access(path) {
                let read = method.starts_with("Get") || method.starts_with("List");
                assert_eq!(roles.contains(&Auditor), read, "{path}");
            }
        }
    }

    #[test]
    fn health_and_reflection_are_open_and_nothing_else() {
        assert!(AccessPolicy::is_open("/grpc.health.v1.Health/Check"));
        assert!(AccessPolicy::is_open("/grpc.health.v1.Health/Watch"));
        assert!(AccessPolicy::is_open(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(AccessPolicy::is_open(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!AccessPolicy::is_open("/grpc.health.v1.HealthX/Check"));
        assert!(!AccessPolicy::is_open("/grpc.health.v1.Health"));
        assert!(!AccessPolicy::is_open("/grpc.health.v1.Health/Check/extra"));
        assert!(!AccessPolicy::is_open("/idcard.v1.ReviewService/GetApplication"));
    }

    #[test]
    fn allowing_twice_unions_roles() {
        let policy = AccessPolicy::new()
            .allow("/a.S/M", &[Clerk])
            .allow("/a.S/M", &[Auditor, Clerk]);
        assert_eq!(roles(&policy, "/a.S/M"), [Clerk, Auditor]);
    }

    #[test]
    #[should_panic(expected = "already an internal method")]
    fn a_method_cannot_be_both_front_end_and_internal() {
        let _ = AccessPolicy::new()
            .allow_peers("/a.S/M", &["review"])
            .allow("/a.S/M", &[Clerk]);
    }
}
