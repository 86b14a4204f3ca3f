//! Early ends of a penalty's publication: a department's revocation or deletion (a file row
//! whose 操作类型 is 撤销/删除) and a credit repair entered by the credit office.
//!
//! Each is noted in the store with its withdrawal deadline (the `withdrawal` rule of
//! `config/deadlines.toml`, 3 working days) and withdrawn wherever the record is published.
//! A repair is refused before the record's minimum period ends.

use chrono::{DateTime, NaiveDate, Utc};

use crate::calendar::{end_of_day_shanghai, shanghai_date};
use crate::clock::Clock;
use crate::config::Settings;
use crate::ingest::RowErrorEntry;
use crate::problem::ProblemCode;
use crate::publicity::{Operation, StoredBlock};
use crate::store::{EarlyEnd, ProblemRow, Store, StoreError};

/// Working days to withdraw when `config/deadlines.toml` has no `withdrawal` rule.
const WITHDRAWAL_DAYS: u32 = 3;

/// A file row revoking or deleting a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub line: u64,
    pub business_key: String,
    pub operation: Operation,
    pub on: Option<NaiveDate>,
    pub reason: Option<String>,
}

/// What became of a file's revocations.
#[derive(Debug, Default)]
pub struct Revoked {
    pub applied: u64,
    /// Rows naming no record sent before, listed like any row error.
    pub refused: Vec<RowErrorEntry>,
}

/// The withdrawal deadline for an event on `day`, and whether it is provisional.
fn withdrawal_deadline(settings: &Settings, day: NaiveDate) -> (NaiveDate, bool) {
    let days = settings.deadlines.event("withdrawal").map_or(WITHDRAWAL_DAYS, |e| e.working_days);
    let d = settings.calendar.add_working_days(day, days);
    (d.date, d.provisional)
}

/// Applies a file's revocations: each record is withdrawn (or deleted) wherever it is published.
pub async fn apply_revocations(
    settings: &Settings,
    store: &Store,
    item: &str,
    run_id: i64,
    revocations: &[Revocation],
    clock: &Clock,
) -> Result<Revoked, StoreError> {
    let mut out = Revoked::default();
    if revocations.is_empty() {
        return Ok(out);
    }
    let now = clock.now();
    let mut problems = Vec::new();
    for r in revocations {
        let found = store.publicity_by_key(item, &r.business_key).await?;
        let what = if r.operation == Operation::Delete { "删除" } else { "撤销" };
        let Some((record_id, _)) = found else {
            let wsh = r.business_key.split(crate::record::KEY_SEPARATOR).next().unwrap_or_default();
            let reason =
                format!("{what}的处罚决定（文书号“{wsh}”）从未报送，无法{what}：请核对文书号、相对人和决定日期");
            problems.push(ProblemRow {
                line: r.line,
                field: None,
                code: ProblemCode::UnknownRecord.as_str(),
                severity: "error",
                reason: reason.clone(),
                value: Some(wsh.to_string()),
            });
            out.refused.push(RowErrorEntry {
                row: r.line,
                field: None,
                field_name: None,
                code: ProblemCode::UnknownRecord.as_str(),
                reason,
                value: wsh.to_string(),
            });
            continue;
        };
        let on = r.on.unwrap_or_else(|| shanghai_date(now));
        let (due_on, provisional) = withdrawal_deadline(settings, on);
        let event = EarlyEnd {
            record_id,
            kind: r.operation.outbox(),
            source: "department",
            decided: on,
            reference: None,
            reason: r.reason.as_deref(),
            ingest_run_id: Some(run_id),
            line: Some(r.line as i64),
            due_on,
            provisional,
            not_before: now,
        };
        store.end_publicity_early(&event, now).await?;
        out.applied += 1;
    }
    store.note_row_problems(run_id, &problems).await?;
    Ok(out)
}

/// Why a repair was refused, for the credit office.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RepairRefused {
    #[error("record {0} has no publicity period")]
    NoPeriod(i64),
    #[error("the repair decided {decided} is before the minimum publicity end {min_end}")]
    BeforeMinimum { decided: NaiveDate, min_end: NaiveDate },
    #[error("the repair decided {decided} is before the decision date {decision}")]
    BeforeDecision { decided: NaiveDate, decision: NaiveDate },
    #[error("this repair was already entered")]
    Duplicate,
}

impl RepairRefused {
    pub fn zh(&self) -> String {
        match self {
            RepairRefused::NoPeriod(id) => format!("记录 {id} 没有公示期限（不是需公示的处罚记录）"),
            RepairRefused::BeforeMinimum { decided, min_end } => {
                format!("信用修复决定日期 {decided} 早于最短公示期限届满日 {min_end}：最短公示期满前不得修复撤下")
            }
            RepairRefused::BeforeDecision { decided, decision } => {
                format!("信用修复决定日期 {decided} 早于处罚决定日期 {decision}")
            }
            RepairRefused::Duplicate => "该信用修复已录入，无需重复录入".to_string(),
        }
    }
}

/// What `publicity repair` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    pub withdrawals: u64,
    pub due_on: NaiveDate,
    /// Withdrawals go out no earlier than this.
    pub not_before: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(transparent)]
    Refused(#[from] RepairRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A repair (信用修复) entered by the credit office: refused before the minimum; else the
/// record is withdrawn wherever it is published, within the withdrawal deadline.
pub async fn repair(
    settings: &Settings,
    store: &Store,
    record_id: i64,
    decided: NaiveDate,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<Repaired, RepairError> {
    let block = store
        .publicity_row(record_id)
        .await?
        .and_then(|r| StoredBlock::decode(&r.publicity))
        .ok_or(RepairRefused::NoPeriod(record_id))?;
    if decided < block.decided {
        return Err(RepairRefused::BeforeDecision { decided, decision: block.decided }.into());
    }
    if decided < block.min_end {
        return Err(RepairRefused::BeforeMinimum { decided, min_end: block.min_end }.into());
    }
    let (due_on, provisional) = withdrawal_deadline(settings, decided);
    // Published to the end of the minimum's day at least.
    let not_before = end_of_day_shanghai(block.min_end).max(now);
    let event = EarlyEnd {
        record_id,
        kind: "repair",
        source: "office",
        decided,
        reference: Some(reference),
        reason: None,
        ingest_run_id: None,
        line: None,
        due_on,
        provisional,
        not_before,
    };
    let withdrawals = store.end_publicity_early(&event, now).await?.ok_or(RepairRefused::Duplicate)?;
    Ok(Repaired { withdrawals, due_on, not_before })
}
