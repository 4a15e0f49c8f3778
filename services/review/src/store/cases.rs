//! `review_cases`: applications received, and the decisions taken on them.

use std::str::FromStr;

use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use idcard_domain::ApplicationKind;
use idcard_proto::v1;
use prost::Message;
use time::Date;
use uuid::Uuid;

use super::{corrupt, date_from_sql, date_to_sql, decode};
use crate::case::{Case, CaseState};

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
pub async fn insert_case(tx: &mut Tx, case: &NewCase<'_>) -> Result<bool, DbError> {
    let request = case.request.encode_to_vec();
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO review_cases (application_id, receipt_number, kind, state, acceptance_point_code, \
             domicile_region_code, citizen_id, request, origin, production_centre, accepted_at_ms, received_at_ms, \
             review_due_date, finding_count) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (application_id) DO NOTHING",
        )
        .bind(case.application_id)
        .bind(case.request.receipt_number.as_str())
        .bind(case.kind.as_str())
        .bind(case.request.acceptance_point_code.as_str())
        .bind(case.domicile_region_code)
        .bind(case.citizen_id)
        .bind(request.as_slice())
        .bind(case.request.origin.as_str())
        .bind(case.request.production_centre.as_str())
        .bind(case.accepted_at_ms)
        .bind(case.received_at_ms)
        .bind(date_to_sql(case.review_due_date))
        .bind(case.finding_count)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

/// Raw columns of a case row, decoded outside the backend match.
type CaseColumns = (
    Uuid,
    String,
    String,
    String,
    Vec<u8>,
    i64,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
);

pub async fn find_case(tx: &mut Tx, application_id: Uuid) -> Result<Option<Case>, DbError> {
    let row: Option<CaseColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT application_id, state, kind, citizen_id, request, received_at_ms, review_due_date, issuance, \
             rejection, reviewer FROM review_cases WHERE application_id = $1",
        )
        .bind(application_id)
        .fetch_optional(conn)
        .await?
    });
    let Some((application_id, state, kind, citizen_id, request, received_at_ms, due, issuance, rejection, reviewer)) =
        row
    else {
        return Ok(None);
    };
    Ok(Some(Case {
        application_id,
        state: CaseState::parse(&state).ok_or_else(|| corrupt(format!("case state {state:?}")))?,
        kind: ApplicationKind::from_str(&kind).map_err(|err| corrupt(err.to_string()))?,
        citizen_id,
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
#[derive(Debug, Clone)]
pub struct PendingCase {
    pub seq: i64,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub kind: ApplicationKind,
    pub citizen_id: String,
    pub domicile_region_code: String,
    pub received_at_ms: i64,
    pub review_due_date: Date,
    pub finding_count: i32,
}

type PendingColumns = (i64, Uuid, String, String, String, String, i64, String, i32);

/// Pending cases whose six-digit domicile code lies in `[lowest, highest]` (a jurisdiction
/// prefix padded with 0s and 9s, which keeps the plain index usable on both databases),
/// oldest first, after position `after_seq`.
pub async fn list_pending(
    db: &Db,
    lowest: &str,
    highest: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<PendingCase>, DbError> {
    let rows: Vec<PendingColumns> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT seq, application_id, receipt_number, kind, citizen_id, domicile_region_code, received_at_ms, \
             review_due_date, finding_count FROM review_cases \
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
                    citizen_id,
                    domicile_region_code,
                    received_at_ms,
                    review_due_date: date_from_sql(&due)?,
                    finding_count,
                })
            },
        )
        .collect()
}

/// Records an approval on a pending case. Returns `false` when the case is not pending
/// (decided meanwhile by someone else).
pub async fn record_approval(
    tx: &mut Tx,
    application_id: Uuid,
    issuance: &v1::Issuance,
    card_id: Uuid,
    reviewer: &str,
    note: &str,
    decided_at_ms: i64,
) -> Result<bool, DbError> {
    let issuance = issuance.encode_to_vec();
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE review_cases SET state = 'approved', card_id = $2, issuance = $3, reviewer = $4, review_note = $5, \
             decided_at_ms = $6 WHERE application_id = $1 AND state = 'pending'",
        )
        .bind(application_id)
        .bind(card_id)
        .bind(issuance.as_slice())
        .bind(reviewer)
        .bind(note)
        .bind(decided_at_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}

/// Records a rejection on a pending case. Returns `false` when the case is not pending.
pub async fn record_rejection(
    tx: &mut Tx,
    application_id: Uuid,
    rejection: &v1::Rejection,
    reviewer: &str,
    decided_at_ms: i64,
) -> Result<bool, DbError> {
    let rejection = rejection.encode_to_vec();
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE review_cases SET state = 'rejected', rejection = $2, reviewer = $3, decided_at_ms = $4 \
             WHERE application_id = $1 AND state = 'pending'",
        )
        .bind(application_id)
        .bind(rejection.as_slice())
        .bind(reviewer)
        .bind(decided_at_ms)
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
