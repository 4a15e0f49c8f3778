//! Who is calling: the role and scope a verified bearer token grants.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The scope entry that stands for "every point / jurisdiction / centre" of the role.
/// Meant for development tokens and national operators; issue it deliberately.
pub const ALL_SCOPE: &str = "*";

/// What a person (or front end) may do, as the `role` claim says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works at acceptance points; scope: acceptance point codes.
    Clerk,
    /// Reviews at a domicile bureau; scope: jurisdiction region-code prefixes ("44", "440106").
    Reviewer,
    /// Works at production centres; scope: production centre names.
    ProductionOperator,
    /// Reads everything everywhere (read methods only, by policy); scope: empty or `*`.
    Auditor,
    /// Checks cards (a hotel desk, a bank); reads no records; scope: empty or `*`.
    Verifier,
    /// A resident; scope: exactly their own citizen ID number.
    Citizen,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Clerk,
        Role::Reviewer,
        Role::ProductionOperator,
        Role::Auditor,
        Role::Verifier,
        Role::Citizen,
    ];

    /// The claim spelling: `clerk`, `production_operator`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::ProductionOperator => "production_operator",
            Role::Auditor => "auditor",
            Role::Verifier => "verifier",
            Role::Citizen => "citizen",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}, expected one of clerk, reviewer, production_operator, auditor, verifier, citizen")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Accepts the claim spelling, and `production-operator` for command lines.
    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        let wanted = text.trim().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == wanted)
            .ok_or_else(|| UnknownRole(text.to_string()))
    }
}

/// The claims of an idcard bearer token.
///
/// `scope` depends on the role:
/// - clerk: the acceptance point codes the clerk works at;
/// - reviewer: jurisdiction region-code prefixes (`"44"` is a whole province, `"440106"`
///   one county-level district);
/// - production operator: production centre names;
/// - citizen: exactly one entry, the citizen's own ID number (18 characters, check
///   character `X` in upper case);
/// - auditor, verifier: empty (or `*`).
///
/// `*` ([`ALL_SCOPE`]) grants the whole of the role's dimension.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who: an employee number or account id. Never a citizen ID number.
    pub sub: String,
    pub role: Role,
    #[serde(default)]
    pub scope: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    pub iss: String,
}

impl Claims {
    /// Claims issued now by `iss`, valid for `ttl`.
    pub fn new(sub: impl Into<String>, role: Role, scope: Vec<String>, ttl: Duration, iss: impl Into<String>) -> Self {
        let iat = unix_now();
        Claims {
            sub: sub.into(),
            role,
            scope,
            exp: iat.saturating_add(ttl.as_secs()),
            iat,
            iss: iss.into(),
        }
    }
}

/// A citizen's scope is their ID number: personal data, so it does not print.
impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope: Vec<String> = if self.role == Role::Citizen {
            self.scope.iter().map(|entry| mask(entry)).collect()
        } else {
            self.scope.clone()
        };
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("role", &self.role)
            .field("scope", &scope)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("iss", &self.iss)
            .finish()
    }
}

/// First character and last two shown, as the logs show citizen IDs.
fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 3 {
        return "*".repeat(chars.len());
    }
    let mut masked = String::with_capacity(chars.len());
    masked.push(chars[0]);
    masked.extend(std::iter::repeat_n('*', chars.len() - 3));
    masked.extend(&chars[chars.len() - 2..]);
    masked
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The verified caller of a front-end RPC. [`crate::AuthLayer`] puts it into the request
/// extensions; a handler reads it with `request.extensions().get::<Caller>()` and filters
/// by scope.
///
/// A record of another scope must answer `NOT_FOUND`, exactly as a record that does not
/// exist, so a caller cannot learn that it exists: check the scope after loading and
/// before answering, and answer the same status and message as for a missing id. Lists
/// filter by scope in the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    claims: Claims,
}

impl Caller {
    /// A caller with these claims. The layer builds callers only from verified tokens;
    /// this is public so handler tests can put one into a request.
    pub fn from_claims(claims: Claims) -> Self {
        Caller { claims }
    }

    /// A caller that no token backs, as `AuthMode::Insecure` and tests make.
    pub fn synthetic(role: Role, scope: Vec<String>) -> Self {
        Caller::from_claims(Claims::new(
            "insecure",
            role,
            scope,
            Duration::from_secs(3600),
            "insecure",
        ))
    }

    pub fn subject(&self) -> &str {
        &self.claims.sub
    }

    pub fn role(&self) -> Role {
        self.claims.role
    }

    pub fn scope(&self) -> &[String] {
        &self.claims.scope
    }

    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    fn has_all_scope(&self) -> bool {
        self.claims.scope.iter().any(|entry| entry == ALL_SCOPE)
    }

    fn scope_contains(&self, value: &str) -> bool {
        !value.is_empty() && (self.has_all_scope() || self.claims.scope.iter().any(|entry| entry == value))
    }

    /// May this caller see the records of acceptance point `code`? Clerks of that point
    /// and auditors.
    pub fn can_see_point(&self, code: &str) -> bool {
        match self.role() {
            Role::Auditor => true,
            Role::Clerk => self.scope_contains(code),
            _ => false,
        }
    }

    /// May this caller see the records of region `region_code`? Reviewers whose
    /// jurisdiction is a prefix of it ("44" covers "440106") and auditors.
    pub fn can_see_region(&self, region_code: &str) -> bool {
        match self.role() {
            Role::Auditor => true,
            Role::Reviewer => {
                !region_code.is_empty()
                    && (self.has_all_scope()
                        || self.claims.scope.iter().any(|jurisdiction| {
                            !jurisdiction.is_empty() && region_code.starts_with(jurisdiction.as_str())
                        }))
            }
            _ => false,
        }
    }

    /// May this caller see the jobs of production centre `centre`? Its operators and
    /// auditors.
    pub fn can_see_centre(&self, centre: &str) -> bool {
        match self.role() {
            Role::Auditor => true,
            Role::ProductionOperator => self.scope_contains(centre),
            _ => false,
        }
    }

    /// Is this caller the citizen with ID number `citizen_id`? (`x` and `X` compare equal.)
    pub fn is_citizen(&self, citizen_id: &str) -> bool {
        self.role() == Role::Citizen
            && !citizen_id.is_empty()
            && self.claims.scope.iter().any(|own| own.eq_ignore_ascii_case(citizen_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, scope: &[&str]) -> Caller {
        Caller::synthetic(role, scope.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn clerk_sees_only_their_points() {
        let clerk = caller(Role::Clerk, &["4401060001", "4401060002"]);
        assert!(clerk.can_see_point("4401060001"));
        assert!(clerk.can_see_point("4401060002"));
        assert!(!clerk.can_see_point("4401060003"));
        assert!(!clerk.can_see_point(""));
        assert!(!clerk.can_see_region("44"));
        assert!(!clerk.can_see_centre("guangzhou"));
    }

    #[test]
    fn reviewer_sees_regions_under_their_jurisdiction_prefixes() {
        let reviewer = caller(Role::Reviewer, &["4401", "110105"]);
        assert!(reviewer.can_see_region("440106"));
        assert!(reviewer.can_see_region("4401"));
        assert!(reviewer.can_see_region("110105"));
        assert!(!reviewer.can_see_region("440206"));
        assert!(
            !reviewer.can_see_region("44"),
            "a province is wider than a prefecture jurisdiction"
        );
        assert!(!reviewer.can_see_region("110106"));
        assert!(!reviewer.can_see_region(""));
        assert!(!reviewer.can_see_point("4401"));
    }

    #[test]
    fn empty_jurisdiction_entry_grants_nothing() {
        let reviewer = caller(Role::Reviewer, &[""]);
        assert!(!reviewer.can_see_region("440106"));
    }

    #[test]
    fn wildcard_scope_covers_the_roles_own_dimension_only() {
        let reviewer = caller(Role::Reviewer, &["*"]);
        assert!(reviewer.can_see_region("650102"));
        assert!(!reviewer.can_see_point("4401060001"));
        let operator = caller(Role::ProductionOperator, &["*"]);
        assert!(operator.can_see_centre("beijing"));
        assert!(!operator.can_see_region("11"));
    }

    #[test]
    fn production_operator_sees_only_their_centres() {
        let operator = caller(Role::ProductionOperator, &["guangzhou"]);
        assert!(operator.can_see_centre("guangzhou"));
        assert!(!operator.can_see_centre("shenzhen"));
    }

    #[test]
    fn auditor_sees_everything_and_verifier_nothing() {
        let auditor = caller(Role::Auditor, &[]);
        assert!(auditor.can_see_point("4401060001"));
        assert!(auditor.can_see_region("440106"));
        assert!(auditor.can_see_centre("guangzhou"));
        assert!(!auditor.is_citizen("11010519491231002X"));
        let verifier = caller(Role::Verifier, &["*"]);
        assert!(!verifier.can_see_point("4401060001"));
        assert!(!verifier.can_see_region("44"));
        assert!(!verifier.can_see_centre("guangzhou"));
    }

    #[test]
    fn citizen_is_only_themselves() {
        let citizen = caller(Role::Citizen, &["11010519491231002X"]);
        assert!(citizen.is_citizen("11010519491231002X"));
        assert!(citizen.is_citizen("11010519491231002x"));
        assert!(!citizen.is_citizen("110105194912310021"));
        assert!(!citizen.can_see_region("110105"));
        assert!(
            !caller(Role::Citizen, &["*"]).is_citizen("11010519491231002X"),
            "no wildcard for citizens"
        );
        assert!(!caller(Role::Clerk, &["11010519491231002X"]).is_citizen("11010519491231002X"));
    }

    #[test]
    fn citizen_scope_is_masked_in_debug_output() {
        let citizen = caller(Role::Citizen, &["11010519491231002X"]);
        let printed = format!("{citizen:?}");
        assert!(!printed.contains("11010519491231002X"), "{printed}");
        assert!(printed.contains("1***************2X"), "{printed}");
    }

    #[test]
    fn roles_parse_from_claim_and_command_line_spellings() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("production-operator".parse::<Role>(), Ok(Role::ProductionOperator));
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn roles_serialize_snake_case() {
        let claims = Claims::new(
            "u1",
            Role::ProductionOperator,
            vec![],
            Duration::from_secs(60),
            "idcard",
        );
        let json = serde_json::to_string(&claims).unwrap_or_default();
        assert!(json.contains(r#""role":"production_operator""#), "{json}");
    }
}
