//! Who acts on applications and loss reports, and the audit entries their actions leave:
//! every state change and every read of personal data, in the transaction of the change.
//! Entries name applications by id and loss reports by number, and never carry personal
//! data.

use idcard_audit::Entry;
use idcard_auth::{Caller, PeerService};
use idcard_db::{DbError, Tx};
use idcard_server::status::FieldError;
use idcard_server::wire;
use uuid::Uuid;

pub const SUBMIT: &str = "application.submit";
pub const READ_PERSONAL_DATA: &str = "application.read_personal_data";
pub const DELIVERED_TO_REVIEW: &str = "application.delivered_to_review";
pub const DECISION: &str = "application.decision";
pub const PRODUCTION_UPDATE: &str = "application.production_update";
pub const CARD_ARRIVED: &str = "application.card_arrived";
pub const COLLECT: &str = "application.collect";
/// The 60-day limit was extended for an area with poor transport.
pub const EXTEND_DEADLINE: &str = "application.extend_deadline";

pub const LOSS_REPORT: &str = "loss_report.report";
pub const LOSS_REPORT_AGAIN: &str = "loss_report.report_again";
pub const LOSS_REPORT_READ: &str = "loss_report.read";
pub const LOSS_REPORT_REVOKE: &str = "loss_report.revoke";
pub const LOSS_REPORT_OUTCOME: &str = "loss_report.outcome";

/// Who did it: recorded in the audit log and, for people, in the application's history.
#[derive(Debug, Clone)]
pub struct Actor {
    pub subject: String,
    pub role: String,
}

impl Actor {
    /// The clerk of a front-end call: the token subject (the request's `clerk` field is
    /// ignored). Without a caller, which happens only when no auth layer is in front, the
    /// clerk the request names.
    pub fn clerk(caller: Option<&Caller>, named_clerk: &str) -> Result<Actor, FieldError> {
        match caller {
            Some(caller) => Ok(Actor::of(caller)),
            None => Ok(Actor {
                subject: wire::required_text("clerk", named_clerk, 64)?,
                role: "clerk".to_string(),
            }),
        }
    }

    /// The caller of a front-end method that names no clerk in its request.
    pub fn caller(caller: Option<&Caller>) -> Actor {
        caller.map(Actor::of).unwrap_or_else(|| Actor {
            subject: "unauthenticated".to_string(),
            role: "none".to_string(),
        })
    }

    /// The peer service of an inbox call, as its certificate names it.
    pub fn peer(peer: Option<&PeerService>) -> Actor {
        Actor::service(peer.map(PeerService::name).unwrap_or("unknown peer"))
    }

    /// This service itself (its relay).
    pub fn service(name: &str) -> Actor {
        Actor {
            subject: name.to_string(),
            role: "service".to_string(),
        }
    }

    fn of(caller: &Caller) -> Actor {
        Actor {
            subject: caller.subject().to_string(),
            role: caller.role().as_str().to_string(),
        }
    }
}

/// Records `action` by `actor` on an application in `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    application_id: Uuid,
    detail: &str,
) -> Result<(), DbError> {
    entry(tx, actor, action, &format!("application:{application_id}"), detail).await
}

/// Records `action` by `actor` on a loss report in `tx`.
pub async fn record_loss_report(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    report_number: &str,
    detail: &str,
) -> Result<(), DbError> {
    entry(tx, actor, action, &format!("loss_report:{report_number}"), detail).await
}

async fn entry(tx: &mut Tx, actor: &Actor, action: &str, target: &str, detail: &str) -> Result<(), DbError> {
    idcard_audit::record(
        tx,
        &Entry {
            actor: &actor.subject,
            role: &actor.role,
            action,
            target,
            detail,
        },
    )
    .await?;
    Ok(())
}
