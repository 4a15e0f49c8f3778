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

/// The role recorded for service-to-service changes.
pub const SERVICE_ROLE: &str = "service";

pub fn application(application_id: Uuid) -> String {
    format!("application:{application_id}")
}

/// Records `entry` in `tx`.
pub async fn record(tx: &mut Tx, entry: Entry<'_>) -> Result<(), Status> {
    idcard_audit::record(tx, &entry).await.map_err(status::from_db)?;
    Ok(())
}
