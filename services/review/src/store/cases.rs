//! `review_cases`: applications received, and the decisions taken on them.
//!
//! The request as received is sealed with the data key, less the applicant's
//! fingerprints, which are sealed apart under the biometric key and never read back
//! here. The citizen id is sealed too (for the masked pending list) and indexed.

use std::str::FromStr;

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use idcard_domain::ApplicationKind;
use idcard_proto::v1;
use prost::Message;
use time::Date;
use uuid::Uuid;

use super::sealing::{citizen_index, marker, open, open_text, seal, seal_text};
use super::{corrupt, date_from_sql, date_to_sql, decode};
use crate::case::{Case, CaseState};

// The sealed columns of `review_cases`, as their values' associated data names them.
pub(super) const CITIZEN_ID: &str = "review_cases.citizen_id";
pub(super) const REQUEST: &str = "review_cases.request";
pub(super) const FINGERPRINTS: &str = "review_cases.fingerprints";
pub(super) const REJECTION: &str = "review_cases.rejection";
pub(super) const REVIEW_NOTE: &str = "review_cases.review_note";

/// A case to insert, from a validated `ReceiveApplicationRequest`.
pub struct NewCase<'a> {
    pub application_id: Uuid,
    pub kind: ApplicationKind,
    /// Normalised citizen id.
    pub citizen_id: &'a str,
    /// Six digits.
    pub domicile_region_code: &'a str,
    pub request: &'a v1::ReceiveApplicationRequest,
    pub accepted_at_ms: i64,
    pub received_at_ms: i64,
    pub review_due_date: Date,
    pub finding_count: i32,
}

/// Inserts a pending case. Returns `false` (and changes nothing) when the application id
/// is already known.
pub async fn insert_case(tx: &mut Tx, keys: &Keyring, case: &NewCase<'_>) -> Result<bool, DbError> {
    let id = case.application_id;
    let mut request = case.request.clone();
    let fingerprints = v1::Applicant {
        fingerprints: request
            .applicant
            .as_mut()
            .map(|applicant| std::mem::take(&mut applicant.fingerprints))
            .unwrap_or_default(),
        ..Default::default()
    };
    let request_sealed = seal(keys, Purpose::Data, REQUEST, &id, &request.encode_to_vec())?;
    let fingerprints_sealed = seal(
        keys,
        Purpose::Biometric,
        FINGERPRINTS,
        &id,
        &fingerprints.encode_to_vec(),
    )?;
    let citizen_id_sealed = seal_text(keys, CITIZEN_ID, &id, case.citizen_id)?;
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO review_cases (application_id, receipt_number, kind, state, acceptance_point_code, \
             domicile_region_code, citizen_id_index, citizen_id_sealed, request_sealed, fingerprints_sealed, origin, \
             production_centre, accepted_at_ms, received_at_ms, review_due_date, finding_count, sealed_under) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (application_id) DO NOTHING",
        )
        .bind(id)
        .bind(request.receipt_number.as_str())
        .bind(case.kind.as_str())
        .bind(request.acceptance_point_code.as_str())
        .bind(case.domicile_region_code)
        .bind(citizen_index(keys, case.citizen_id))
        .bind(citizen_id_sealed.as_slice())
        .bind(request_sealed.as_slice())
        .bind(fingerprints_sealed.as_slice())
        .bind(request.origin.as_str())
        .bind(request.production_centre.as_str())
        .bind(case.accepted_at_ms)
        .bind(case.received_at_ms)
        .bind(date_to_sql(case.review_due_date))
        .bind(case.finding_count)
        .bind(marker(keys))
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

/// The domicile region of a case, without opening anything; `None` for an unknown id.
pub async fn case_region(tx: &mut Tx, application_id: Uuid) -> Result<Option<String>, DbError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT domicile_region_code FROM review_cases WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(conn)
            .await?
    }))
}

/// Raw columns of a case row, decoded outside the backend match.
type CaseColumns = (
    String,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    i64,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
);

/// The case `application_id` if `visible(domicile_region_code)` allows it; `None` for
/// an unknown id and for a case the caller may not see alike. Nothing is opened for a
/// case the caller may not see. The fingerprints stay sealed: no reader needs them.
pub async fn find_case(
    tx: &mut Tx,
    keys: &Keyring,
    application_id: Uuid,
    visible: impl Fn(&str) -> bool,
) -> Result<Option<Case>, DbError> {
    let row: Option<CaseColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT domicile_region_code, state, kind, citizen_id_sealed, request_sealed, received_at_ms, \
             review_due_date, issuance, rejection_sealed, reviewer FROM review_cases WHERE application_id = $1",
        )
        .bind(application_id)
        .fetch_optional(conn)
        .await?
    });
    let Some((region, state, kind, citizen_id, request, received_at_ms, due, issuance, rejection, reviewer)) = row
    else {
        return Ok(None);
    };
    if !visible(&region) {
        return Ok(None);
    }
    let id = application_id;
    let request = open(keys, Purpose::Data, REQUEST, &id, &request)?;
    let rejection = rejection
        .map(|sealed| open(keys, Purpose::Data, REJECTION, &id, &sealed))
        .transpose()?;
    Ok(Some(Case {
        application_id,
        state: CaseState::parse(&state).ok_or_else(|| corrupt(format!("case state {state:?}")))?,
        kind: ApplicationKind::from_str(&kind).map_err(|err| corrupt(err.to_string()))?,
        citizen_id: open_text(keys, CITIZEN_ID, &id, &citizen_id)?,
        domicile_region_code: region,
        request: decode("application", &request)?,
        received_at_ms,
        review_due_date: date_from_sql(&due)?,
        issuance: issuance.as_deref().map(|bytes| decode("issuance", bytes)).transpose()?,
        rejection: rejection
            .as_deref()
            .map(|bytes| decode("rejection", bytes))
            .transpose()?,
        reviewer,
    }))
}

/// A line of the pending list.
pub struct PendingCase {
    pub seq: i64,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub kind: ApplicationKind,
    /// Opened, for masking.
    pub citizen_id: String,
    pub domicile_region_code: String,
    pub received_at_ms: i64,
    pub review_due_date: Date,
    pub finding_count: i32,
}

/// How many cases are in each state (for the `idcard_review_cases` gauge).
pub async fn count_cases_by_state(db: &Db) -> Result<Vec<(String, i64)>, DbError> {
    let counts: Vec<(String, i64)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT state, COUNT(*) FROM review_cases GROUP BY state")
            .fetch_all(pool)
            .await?
    });
    Ok(counts)
}

type PendingColumns = (i64, Uuid, String, String, Vec<u8>, String, i64, String, i32);

/// Pending cases whose six-digit domicile code lies in `[lowest, highest]` (a jurisdiction
/// prefix padded with 0s and 9s, which keeps the plain index usable on both databases),
/// oldest first, after position `after_seq`.
pub async fn list_pending(
    db: &Db,
    keys: &Keyring,
    lowest: &str,
    highest: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<PendingCase>, DbError> {
    let rows: Vec<PendingColumns> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT seq, application_id, receipt_number, kind, citizen_id_sealed, domicile_region_code, \
             received_at_ms, review_due_date, finding_count FROM review_cases \
             WHERE state = 'pending' AND domicile_region_code >= $1 AND domicile_region_code <= $2 AND seq > $3 \
             ORDER BY seq LIMIT $4",
        )
        .bind(lowest)
        .bind(highest)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(
            |(
                seq,
                application_id,
                receipt_number,
                kind,
                citizen_id,
                domicile_region_code,
                received_at_ms,
                due,
                finding_count,
            )| {
                Ok(PendingCase {
                    seq,
                    application_id,
                    receipt_number,
                    kind: ApplicationKind::from_str(&kind).map_err(|err| corrupt(err.to_string()))?,
                    citizen_id: open_text(keys, CITIZEN_ID, &application_id, &citizen_id)?,
                    domicile_region_code,
                    received_at_ms,
                    review_due_date: date_from_sql(&due)?,
                    finding_count,
                })
            },
        )
        .collect()
}

// A decision seals a value of the row with the keys of the moment. `sealed_under` stays
// as it is when the row was all sealed under those keys already; otherwise it becomes
// unknown (empty), so that the resealer looks at every value of the row again:
// `CASE WHEN sealed_under = <marker of these keys> THEN sealed_under ELSE '' END`.

/// What an approval records.
pub struct Approval<'a> {
    pub issuance: &'a v1::Issuance,
    pub card_id: Uuid,
    /// The token subject of the reviewer.
    pub reviewer: &'a str,
    pub note: &'a str,
    pub decided_at_ms: i64,
}

/// Records an approval on a pending case. Returns `false` when the case is not pending
/// (decided meanwhile by someone else).
pub async fn record_approval(
    tx: &mut Tx,
    keys: &Keyring,
    application_id: Uuid,
    approval: &Approval<'_>,
) -> Result<bool, DbError> {
    let issuance = approval.issuance.encode_to_vec();
    let note = seal_text(keys, REVIEW_NOTE, &application_id, approval.note)?;
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE review_cases SET state = 'approved', card_id = $2, issuance = $3, reviewer = $4, \
             review_note_sealed = $5, decided_at_ms = $6, \
             sealed_under = CASE WHEN sealed_under = $7 THEN sealed_under ELSE '' END \
             WHERE application_id = $1 AND state = 'pending'",
        )
        .bind(application_id)
        .bind(approval.card_id)
        .bind(issuance.as_slice())
        .bind(approval.reviewer)
        .bind(note.as_slice())
        .bind(approval.decided_at_ms)
        .bind(marker(keys))
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}

/// Records a rejection on a pending case. Returns `false` when the case is not pending.
pub async fn record_rejection(
    tx: &mut Tx,
    keys: &Keyring,
    application_id: Uuid,
    rejection: &v1::Rejection,
    reviewer: &str,
    decided_at_ms: i64,
) -> Result<bool, DbError> {
    let rejection = seal(
        keys,
        Purpose::Data,
        REJECTION,
        &application_id,
        &rejection.encode_to_vec(),
    )?;
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE review_cases SET state = 'rejected', rejection_sealed = $2, reviewer = $3, decided_at_ms = $4, \
             sealed_under = CASE WHEN sealed_under = $5 THEN sealed_under ELSE '' END \
             WHERE application_id = $1 AND state = 'pending'",
        )
        .bind(application_id)
        .bind(rejection.as_slice())
        .bind(reviewer)
        .bind(decided_at_ms)
        .bind(marker(keys))
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}

/// Marks an approved case's production order as sent. Returns `false` when it already
/// was (a repeated delivery of the approval), so that the order is enqueued once.
pub async fn mark_production_ordered(tx: &mut Tx, application_id: Uuid, at_ms: i64) -> Result<bool, DbError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE review_cases SET production_ordered_at_ms = $2 \
             WHERE application_id = $1 AND state = 'approved' AND production_ordered_at_ms IS NULL",
        )
        .bind(application_id)
        .bind(at_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}
