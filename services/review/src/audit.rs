//! What the review service writes to its audit log (`idcard-audit`), in the transaction
//! of the change or read it records. Targets are record ids and details carry codes and
//! counts: never a citizen id, name, address or phone.

use idcard_audit::Entry;
use idcard_db::Tx;
use idcard_server::status;
use tonic::Status;
use uuid::Uuid;

/// An application arrived from an acceptance service.
pub const RECEIVE: &str = "application.receive";
/// A reviewer (or auditor) read a case with its personal data.
pub const READ: &str = "application.read_personal_data";
pub const APPROVE: &str = "application.approve";
pub const REJECT: &str = "application.reject";
/// The production order of an approved case was enqueued.
pub const ORDER_PRODUCTION: &str = "application.order_production";
/// Household register records were loaded.
pub const IMPORT: &str = "residents.import";
/// A renewed or replacement card was collected at the acceptance point.
pub const COLLECTION: &str = "application.collection_notice";
/// A card's status changed (and was published to the status service).
pub const CARD_STATUS: &str = "card.status_change";
/// A loss report arrived from an acceptance service, or was confirmed online.
pub const LOSS_REPORT_RECEIVE: &str = "loss_report.receive";
pub const LOSS_REPORT_REVOKE: &str = "loss_report.revoke";
/// A revocation that could not be applied (identity, or the report's state).
pub const LOSS_REPORT_REVOKE_REFUSED: &str = "loss_report.revoke_refused";
/// A replacement was issued: the reports of the old card are closed.
pub const LOSS_REPORT_CLOSE: &str = "loss_report.close";
/// A card reported lost was registered as found; the owner is told.
pub const LOSS_REPORT_FOUND: &str = "loss_report.found_card_notice";
/// A loss report was read (it shows a masked citizen id and the report's history).
pub const LOSS_REPORT_READ: &str = "loss_report.read";
/// A one-time code for an online loss report was sent.
pub const ONLINE_CODE_SENT: &str = "loss_report.online_code_sent";
/// A wrong one-time code was entered.
pub const ONLINE_WRONG_CODE: &str = "loss_report.online_wrong_code";

/// The role recorded for service-to-service changes.
pub const SERVICE_ROLE: &str = "service";

pub fn application(application_id: Uuid) -> String {
    format!("application:{application_id}")
}

pub fn card(card_id: Uuid) -> String {
    format!("card:{card_id}")
}

pub fn loss_report(report_number: &str) -> String {
    format!("loss_report:{report_number}")
}

pub fn challenge(challenge_id: Uuid) -> String {
    format!("online_challenge:{challenge_id}")
}

/// Records `entry` in `tx`.
pub async fn record(tx: &mut Tx, entry: Entry<'_>) -> Result<(), Status> {
    idcard_audit::record(tx, &entry).await.map_err(status::from_db)?;
    Ok(())
}
