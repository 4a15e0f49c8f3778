//! Who calls a front-end method and what they may see: the subject, role and
//! jurisdictions (or, for a citizen, own ID number) of the verified bearer token, as
//! the auth layer put them into the request. There is no caller only in insecure mode without a token, and then nothing
//! is restricted.

use idcard_auth::{ALL_SCOPE, Caller, Role};
use tonic::Request;

/// The caller of a `ReviewService` or `CitizenService` method.
pub struct Actor {
    caller: Option<Caller>,
}

impl Actor {
    pub fn of<T>(request: &Request<T>) -> Actor {
        Actor {
            caller: request.extensions().get::<Caller>().cloned(),
        }
    }

    /// May the caller see the records of `region` (a six-digit code) or list a
    /// jurisdiction (a prefix)? Reviewers whose jurisdictions cover it ("44" covers
    /// "4401" and "440106"), and auditors.
    pub fn can_see_region(&self, region: &str) -> bool {
        self.caller.as_ref().is_none_or(|caller| caller.can_see_region(region))
    }

    /// The jurisdictions a list covers when the request names none: `None` for every
    /// region (auditors, a reviewer with the `*` scope, no token in insecure mode),
    /// otherwise the caller's own prefixes (none for any other role).
    pub fn jurisdictions(&self) -> Option<Vec<String>> {
        let caller = self.caller.as_ref()?;
        match caller.role() {
            Role::Auditor => None,
            Role::Reviewer if caller.scope().iter().any(|entry| entry == ALL_SCOPE) => None,
            Role::Reviewer => Some(
                caller
                    .scope()
                    .iter()
                    .filter(|entry| !entry.is_empty())
                    .cloned()
                    .collect(),
            ),
            _ => Some(Vec::new()),
        }
    }

    /// May the caller act as the citizen with ID number `citizen_id` (report their card
    /// lost)? Only that citizen.
    pub fn is_citizen(&self, citizen_id: &str) -> bool {
        self.caller.as_ref().is_none_or(|caller| caller.is_citizen(citizen_id))
    }

    /// May the caller read the loss reports of `citizen_id`? That citizen, and auditors.
    pub fn can_see_citizen(&self, citizen_id: &str) -> bool {
        self.caller
            .as_ref()
            .is_none_or(|caller| caller.role() == Role::Auditor || caller.is_citizen(citizen_id))
    }

    /// The token subject: the reviewer recorded on decisions and in the audit log.
    pub fn subject(&self) -> Option<&str> {
        self.caller.as_ref().map(Caller::subject)
    }

    /// The subject, or `anonymous` without a token (insecure mode only).
    pub fn name(&self) -> &str {
        self.subject().unwrap_or("anonymous")
    }

    pub fn role(&self) -> &'static str {
        self.caller.as_ref().map_or("none", |caller| caller.role().as_str())
    }
}
