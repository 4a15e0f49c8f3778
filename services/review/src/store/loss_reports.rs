//! `loss_reports` and `loss_report_events`: the loss reports this bureau received and
//! their history.
//!
//! The reporter's citizen id is sealed (for the masked id shown and to find the resident
//! again) and indexed; the circumstance and every history note are sealed too. States
//! change only through [`set_report_state`], which the caller feeds with the result of
//! `idcard_domain::loss_transition`.

use std::str::FromStr;

use idcard_crypto::Keyring;
use idcard_db::{DbError, Tx, on_tx};
use idcard_domain::{LossKind, LossReportState};
use uuid::Uuid;

use super::corrupt;
use super::sealing::{citizen_index, marker, open_text, seal_text};
use crate::loss_report::{HistoryEntry, HistoryEvent, LossReport, ReportChannel};

// The sealed columns, as their values' associated data names them.
pub(super) const CITIZEN_ID: &str = "loss_reports.citizen_id";
pub(super) const CIRCUMSTANCE: &str = "loss_reports.circumstance";
pub(super) const NOTE: &str = "loss_report_events.note";

const COLUMNS: &str = "report_id, report_number, citizen_id_sealed, card_id, kind, state, channel, origin, \
                       circumstance_sealed, same_as_report_number, reported_at_ms, received_at_ms";

type ReportColumns = (
    Uuid,
    String,
    Vec<u8>,
    Option<Uuid>,
    String,
    String,
    String,
    Option<String>,
    Vec<u8>,
    Option<String>,
    i64,
    i64,
);

fn from_columns(keys: &Keyring, row: ReportColumns) -> Result<LossReport, DbError> {
    let (
        report_id,
        report_number,
        citizen_id,
        card_id,
        kind,
        state,
        channel,
        origin,
        circumstance,
        same_as_report_number,
        reported_at_ms,
        received_at_ms,
    ) = row;
    Ok(LossReport {
        report_id,
        report_number,
        citizen_id: open_text(keys, CITIZEN_ID, &report_id, &citizen_id)?,
        card_id,
        kind: LossKind::from_str(&kind).map_err(|err| corrupt(err.to_string()))?,
        state: parse_state(&state)?,
        channel: ReportChannel::parse(&channel).ok_or_else(|| corrupt(format!("report channel {channel:?}")))?,
        origin,
        circumstance: open_text(keys, CIRCUMSTANCE, &report_id, &circumstance)?,
        same_as_report_number,
        reported_at_ms,
        received_at_ms,
    })
}

fn parse_state(state: &str) -> Result<LossReportState, DbError> {
    LossReportState::from_str(state).map_err(|err| corrupt(err.to_string()))
}

/// Inserts a report. Returns `false` (and changes nothing) when its number is already
/// known.
pub async fn insert_report(tx: &mut Tx, keys: &Keyring, report: &LossReport) -> Result<bool, DbError> {
    let id = report.report_id;
    let citizen_id = seal_text(keys, CITIZEN_ID, &id, &report.citizen_id)?;
    let circumstance = seal_text(keys, CIRCUMSTANCE, &id, &report.circumstance)?;
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO loss_reports (report_id, report_number, citizen_id_index, citizen_id_sealed, card_id, kind, \
             state, channel, origin, circumstance_sealed, same_as_report_number, reported_at_ms, received_at_ms, \
             updated_at_ms, sealed_under) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) \
             ON CONFLICT (report_number) DO NOTHING",
        )
        .bind(id)
        .bind(report.report_number.as_str())
        .bind(citizen_index(keys, &report.citizen_id))
        .bind(citizen_id.as_slice())
        .bind(report.card_id)
        .bind(report.kind.as_str())
        .bind(report.state.as_str())
        .bind(report.channel.as_str())
        .bind(report.origin.as_deref())
        .bind(circumstance.as_slice())
        .bind(report.same_as_report_number.as_deref())
        .bind(report.reported_at_ms)
        .bind(report.received_at_ms)
        .bind(marker(keys))
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

/// Whether a report with this number is known, without opening anything.
pub async fn report_number_known(tx: &mut Tx, report_number: &str) -> Result<bool, DbError> {
    let found: Option<Uuid> = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT report_id FROM loss_reports WHERE report_number = $1")
            .bind(report_number)
            .fetch_optional(conn)
            .await?
    });
    Ok(found.is_some())
}

pub async fn report_by_number(tx: &mut Tx, keys: &Keyring, report_number: &str) -> Result<Option<LossReport>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM loss_reports WHERE report_number = $1");
    let row: Option<ReportColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(report_number)
            .fetch_optional(conn)
            .await?
    });
    row.map(|row| from_columns(keys, row)).transpose()
}

/// Every `ACTIVE` report of a card, the one that stands (the first) first.
pub async fn active_reports_of_card(tx: &mut Tx, keys: &Keyring, card_id: Uuid) -> Result<Vec<LossReport>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM loss_reports WHERE card_id = $1 AND state = 'active' \
         ORDER BY received_at_ms, report_id"
    );
    let rows: Vec<ReportColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(card_id)
            .fetch_all(conn)
            .await?
    });
    rows.into_iter().map(|row| from_columns(keys, row)).collect()
}

/// Moves a report from `from` to `to`. Returns `false` when it was no longer in `from`
/// (changed meanwhile).
pub async fn set_report_state(
    tx: &mut Tx,
    report_id: Uuid,
    from: LossReportState,
    to: LossReportState,
    at_ms: i64,
) -> Result<bool, DbError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query("UPDATE loss_reports SET state = $3, updated_at_ms = $4 WHERE report_id = $1 AND state = $2")
            .bind(report_id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(at_ms)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(updated == 1)
}

/// Appends `entry` to the history of report `report_id`.
pub async fn insert_event(tx: &mut Tx, keys: &Keyring, report_id: Uuid, entry: &HistoryEntry) -> Result<(), DbError> {
    let event_id = Uuid::now_v7();
    let note = seal_text(keys, NOTE, &event_id, &entry.note)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO loss_report_events (event_id, report_id, event, state, actor, at_ms, note_sealed, sealed_under) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(event_id)
        .bind(report_id)
        .bind(entry.event.as_str())
        .bind(entry.state.as_str())
        .bind(entry.actor.as_str())
        .bind(entry.at_ms)
        .bind(note.as_slice())
        .bind(marker(keys))
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

type EventColumns = (Uuid, String, String, String, i64, Vec<u8>);

/// The history of a report, oldest first.
pub async fn events_of(tx: &mut Tx, keys: &Keyring, report_id: Uuid) -> Result<Vec<HistoryEntry>, DbError> {
    let rows: Vec<EventColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT event_id, event, state, actor, at_ms, note_sealed FROM loss_report_events WHERE report_id = $1 \
             ORDER BY at_ms, event_id",
        )
        .bind(report_id)
        .fetch_all(conn)
        .await?
    });
    rows.into_iter()
        .map(|(event_id, event, state, actor, at_ms, note)| {
            Ok(HistoryEntry {
                event: HistoryEvent::parse(&event).ok_or_else(|| corrupt(format!("loss report event {event:?}")))?,
                state: parse_state(&state)?,
                actor,
                at_ms,
                note: open_text(keys, NOTE, &event_id, &note)?,
            })
        })
        .collect()
}
