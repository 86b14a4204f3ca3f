//! Publicity periods in the store: the daily pass that withdraws penalties at their planned end,
//! early ends (credit repair, a department's revocation), held-back and expired deliveries, and
//! the reads behind `publicity` and its audit.
//!
//! A record is published at a destination while that destination accepted an add or change
//! of it and no withdrawal or deletion came after; withdrawals go only there, and only once.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use super::{Claimed, Store, StoreError, on_pool};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Records (of `ids`) and the destinations where they are published now (an objection's
/// `resume` publishes again, its `suspend` takes off, like an add and a withdrawal).
pub(super) fn published_at(ids: &str) -> String {
    format!(
        "SELECT DISTINCT a.record_id, a.destination FROM deliveries a WHERE a.source = 'record' \
         AND a.status = 'accepted' AND a.operation IN ('add', 'update', 'resume') AND a.record_id IN ({ids}) \
         AND NOT EXISTS (SELECT 1 FROM deliveries w WHERE w.source = 'record' AND w.record_id = a.record_id \
           AND w.destination = a.destination AND w.operation IN ('withdraw', 'delete', 'suspend') \
           AND w.status IN ('pending', 'in_flight', 'accepted', 'dead') AND w.id > a.id)"
    )
}

/// Queues `operation` (withdraw or delete) wherever the records of `ids` are published.
fn queue_sql(ids: &str, operation: &str) -> String {
    format!(
        "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, next_attempt_at, \
         created_at, updated_at) \
         SELECT r.id, r.version, p.destination, '{operation}', r.id || ':' || r.version || ':{operation}:' || p.destination, \
         'pending', $1, $2, $2 FROM records r JOIN ({published}) p ON p.record_id = r.id WHERE r.id IN ({ids}) \
         ON CONFLICT (record_id, destination, version, operation, source) DO NOTHING",
        published = published_at(ids)
    )
}

/// What one daily pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PublicityPass {
    /// Records whose planned end passed and whose publication is now over.
    pub ended: u64,
    /// Withdrawals queued.
    pub withdrawals: u64,
    /// Deliveries of an add or change not pushed because the period had ended.
    pub expired: u64,
}

/// An early end of publication: a repair (credit office) or a department's revocation.
#[derive(Debug, Clone)]
pub struct EarlyEnd<'a> {
    pub record_id: i64,
    /// `repair`, `withdraw` (撤销) or `delete` (删除).
    pub kind: &'a str,
    /// `office` or `department`.
    pub source: &'a str,
    pub decided: NaiveDate,
    pub reference: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub ingest_run_id: Option<i64>,
    pub line: Option<i64>,
    /// The withdrawal deadline (the `withdrawal` rule) and whether it is provisional.
    pub due_on: NaiveDate,
    pub provisional: bool,
    /// Pushed no earlier than this (never before the end of the minimum's day).
    pub not_before: DateTime<Utc>,
}

/// A record with a publicity block and where its publication stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublicityRow {
    pub id: i64,
    pub item: String,
    pub business_key: String,
    pub department: String,
    pub content: String,
    pub publicity: String,
    pub closed: i64,
    /// Destinations where it is published now.
    pub published: i64,
    /// Withdrawals and deletions queued (not superseded) and how many were accepted.
    pub withdrawals: i64,
    pub withdrawals_accepted: i64,
    /// When the last withdrawal was accepted, and when the first accepted one was pushed.
    pub withdrawn_at: Option<String>,
    pub first_withdrawal_pushed_at: Option<String>,
    /// The latest early end (repair or revocation): kind, date, deadline.
    pub event_kind: Option<String>,
    pub event_decided: Option<String>,
    pub event_due_on: Option<String>,
    /// A repair result from a reverse feed withdrew it, and the latest one's deadline.
    pub feed_repairs: i64,
    pub feed_repair_due_on: Option<String>,
}

/// One early end as `publicity show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EarlyEndRow {
    pub kind: String,
    pub source: String,
    pub decided: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub due_on: String,
    pub created_at: String,
}

/// One withdrawal or deletion delivery of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WithdrawalRow {
    pub destination: String,
    pub operation: String,
    pub status: String,
    pub pushed_at: Option<String>,
    pub done_at: Option<String>,
}

const ROW_SELECT: &str = "SELECT r.id, r.item, r.business_key, r.department, r.content, r.publicity, r.publicity_closed AS closed, \
     (SELECT count(DISTINCT a.destination) FROM deliveries a WHERE a.source = 'record' AND a.record_id = r.id \
       AND a.status = 'accepted' AND a.operation IN ('add', 'update', 'resume') AND NOT EXISTS (SELECT 1 FROM deliveries w \
       WHERE w.source = 'record' AND w.record_id = a.record_id AND w.destination = a.destination \
       AND w.operation IN ('withdraw', 'delete', 'suspend') AND w.status = 'accepted' AND w.id > a.id)) AS published, \
     (SELECT count(*) FROM deliveries w WHERE w.source = 'record' AND w.record_id = r.id \
       AND w.operation IN ('withdraw', 'delete') AND w.status NOT IN ('superseded', 'expired', 'held')) AS withdrawals, \
     (SELECT count(*) FROM deliveries w WHERE w.source = 'record' AND w.record_id = r.id \
       AND w.operation IN ('withdraw', 'delete') AND w.status = 'accepted') AS withdrawals_accepted, \
     (SELECT max(w.done_at) FROM deliveries w WHERE w.source = 'record' AND w.record_id = r.id \
       AND w.operation IN ('withdraw', 'delete') AND w.status = 'accepted') AS withdrawn_at, \
     (SELECT min(w.pushed_at) FROM deliveries w WHERE w.source = 'record' AND w.record_id = r.id \
       AND w.operation IN ('withdraw', 'delete') AND w.status = 'accepted') AS first_withdrawal_pushed_at, \
     (SELECT e.kind FROM publicity_events e WHERE e.record_id = r.id ORDER BY e.id DESC LIMIT 1) AS event_kind, \
     (SELECT e.decided FROM publicity_events e WHERE e.record_id = r.id ORDER BY e.id DESC LIMIT 1) AS event_decided, \
     (SELECT e.due_on FROM publicity_events e WHERE e.record_id = r.id ORDER BY e.id DESC LIMIT 1) AS event_due_on, \
     (SELECT count(*) FROM repairs p WHERE p.record_id = r.id) AS feed_repairs, \
     (SELECT max(p.due_on) FROM repairs p WHERE p.record_id = r.id) AS feed_repair_due_on \
     FROM records r";

/// Open records whose planned end is before `$1` (a day): the months up to `$1`'s through the
/// index `records_publicity_due_month` (its key, same condition), then the day.
macro_rules! publicity_due_where {
    () => {
        "publicity_closed = 0 AND publicity_end_month IS NOT NULL \
         AND publicity_end_month <= CAST(replace(substr($1, 1, 7), '-', '') AS INTEGER) AND publicity_end < $1"
    };
}
pub const PUBLICITY_DUE: &str = concat!("SELECT id FROM records WHERE ", publicity_due_where!());

impl Store {
    /// The daily pass: every open record whose planned end is before `today` (read through
    /// the partial index `records_publicity_due_month`) is withdrawn wherever it is published, its
    /// unpushed adds and changes expire, and it is closed. Idempotent.
    pub async fn publicity_pass(&self, today: NaiveDate, now: DateTime<Utc>) -> Result<PublicityPass, StoreError> {
        let due: Vec<i64> = on_pool!(self.db(), pool => sqlx::query_scalar(PUBLICITY_DUE).bind(today.to_string()).fetch_all(pool).await?);
        let mut pass = PublicityPass::default();
        let now_s = ts(now);
        for chunk in due.chunks(1000) {
            let ids = id_list(chunk);
            let expire = format!(
                "UPDATE deliveries SET status = 'expired', updated_at = $1, reason = '公示期已于' || \
                 (SELECT r.publicity_end FROM records r WHERE r.id = deliveries.record_id) || '届满，不再推送' \
                 WHERE source = 'record' AND status = 'pending' AND operation IN ('add', 'update') AND record_id IN ({ids})"
            );
            let queue = queue_sql(&ids, "withdraw");
            let close = format!(
                "UPDATE records SET publicity_closed = 1 WHERE id IN ({ids}) AND NOT EXISTS (SELECT 1 FROM deliveries d \
                 WHERE d.source = 'record' AND d.record_id = records.id AND d.status = 'in_flight' \
                 AND d.operation IN ('add', 'update'))"
            );
            on_pool!(self.db(), pool => {
                let mut tx = pool.begin().await?;
                pass.expired += sqlx::query(&expire).bind(&now_s).execute(&mut *tx).await?.rows_affected();
                pass.withdrawals += sqlx::query(&queue).bind(&now_s).bind(&now_s).execute(&mut *tx).await?.rows_affected();
                pass.ended += sqlx::query(&close).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
            });
        }
        Ok(pass)
    }

    /// Ends a record's publication early: notes the event, lets no add or change of it go out
    /// any more, and queues its withdrawal (or deletion) wherever it is published, pushed no
    /// earlier than `not_before`. None when the same event was noted before (nothing done).
    pub async fn end_publicity_early(&self, e: &EarlyEnd<'_>, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
        let now_s = ts(now);
        let ids = e.record_id.to_string();
        let operation = if e.kind == "delete" { "delete" } else { "withdraw" };
        let why = match e.kind {
            "repair" => "已信用修复，不再推送",
            "delete" => "部门已删除该决定，不再推送",
            _ => "部门已撤销该决定，不再推送",
        };
        let queued = on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            let noted = sqlx::query(
                "INSERT INTO publicity_events (record_id, kind, source, decided, reference, reason, ingest_run_id, line, \
                 due_on, provisional, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (record_id, kind, decided) DO NOTHING",
            )
            .bind(e.record_id)
            .bind(e.kind)
            .bind(e.source)
            .bind(e.decided.to_string())
            .bind(e.reference)
            .bind(e.reason)
            .bind(e.ingest_run_id)
            .bind(e.line)
            .bind(e.due_on.to_string())
            .bind(i64::from(e.provisional))
            .bind(&now_s)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if noted == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            sqlx::query(&format!(
                "UPDATE deliveries SET status = 'expired', reason = '{why}', updated_at = $1 WHERE source = 'record' \
                 AND status = 'pending' AND operation IN ('add', 'update') AND record_id IN ({ids})"
            ))
            .bind(&now_s)
            .execute(&mut *tx)
            .await?;
            let n = sqlx::query(&queue_sql(&ids, operation))
                .bind(ts(e.not_before.max(now)))
                .bind(&now_s)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE records SET publicity_closed = 1 WHERE id = $1").bind(e.record_id).execute(&mut *tx).await?;
            tx.commit().await?;
            n
        });
        Ok(Some(queued))
    }

    /// Problems found after the rows were written (a revocation naming no record).
    pub async fn note_row_problems(&self, run_id: i64, problems: &[super::ProblemRow]) -> Result<(), StoreError> {
        for p in problems {
            on_pool!(self.db(), pool => sqlx::query(
                "INSERT INTO row_problems (ingest_run_id, line, field, code, severity, reason, value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(run_id)
            .bind(p.line as i64)
            .bind(&p.field)
            .bind(p.code)
            .bind(p.severity)
            .bind(&p.reason)
            .bind(&p.value)
            .execute(pool)
            .await
            .map(|_| ())?);
        }
        Ok(())
    }

    /// Withdrawals due and not yet accepted (of `department`, or all): records whose planned
    /// end passed before `today` and not yet passed over, and queued withdrawals not accepted.
    pub async fn withdrawals_due(&self, today: NaiveDate, department: Option<&str>) -> Result<i64, StoreError> {
        const SQL: &str = concat!(
            "SELECT (SELECT count(*) FROM records WHERE ",
            publicity_due_where!(),
            " AND ($2 IS NULL OR department = $2)) + \
             (SELECT count(DISTINCT d.record_id) FROM deliveries d JOIN records r ON r.id = d.record_id \
              WHERE d.source = 'record' AND d.operation IN ('withdraw', 'delete') \
              AND d.status IN ('pending', 'in_flight', 'dead') AND ($2 IS NULL OR r.department = $2))"
        );
        let n: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(SQL)
            .bind(today.to_string())
            .bind(department)
            .fetch_one(pool)
            .await?);
        Ok(n)
    }

    /// The id and publicity block of a record by its business key.
    pub async fn publicity_by_key(&self, item: &str, key: &str) -> Result<Option<(i64, Option<String>)>, StoreError> {
        const SQL: &str = "SELECT id, publicity FROM records WHERE item = $1 AND business_key = $2";
        let row = on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(item).bind(key).fetch_optional(pool).await?);
        Ok(row)
    }

    /// Every record with a publicity block (of `item`, or all), by id.
    pub async fn publicity_rows(&self, item: Option<&str>) -> Result<Vec<PublicityRow>, StoreError> {
        let sql = format!("{ROW_SELECT} WHERE r.publicity IS NOT NULL AND ($1 IS NULL OR r.item = $1) ORDER BY r.id");
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, PublicityRow>(&sql).bind(item).fetch_all(pool).await?);
        Ok(rows)
    }

    /// One record's publicity row.
    pub async fn publicity_row(&self, id: i64) -> Result<Option<PublicityRow>, StoreError> {
        let sql = format!("{ROW_SELECT} WHERE r.id = $1 AND r.publicity IS NOT NULL");
        let row =
            on_pool!(self.db(), pool => sqlx::query_as::<_, PublicityRow>(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// A record's early ends, oldest first.
    pub async fn early_ends(&self, record_id: i64) -> Result<Vec<EarlyEndRow>, StoreError> {
        const SQL: &str = "SELECT kind, source, decided, reference, reason, due_on, created_at FROM publicity_events \
                           WHERE record_id = $1 ORDER BY id";
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, EarlyEndRow>(SQL).bind(record_id).fetch_all(pool).await?);
        Ok(rows)
    }

    /// A record's withdrawals and deletions, oldest first.
    pub async fn withdrawals_of(&self, record_id: i64) -> Result<Vec<WithdrawalRow>, StoreError> {
        const SQL: &str = "SELECT destination, operation, status, pushed_at, done_at FROM deliveries \
                           WHERE source = 'record' AND record_id = $1 AND operation IN ('withdraw', 'delete') ORDER BY id";
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, WithdrawalRow>(SQL).bind(record_id).fetch_all(pool).await?);
        Ok(rows)
    }
}

/// Why a claimed delivery is not pushed after all (publicity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HoldBack {
    /// An add or change of a held-back record (a minor penalty not published).
    Held,
    /// An add or change of a record whose planned end is before `today`.
    Expired,
}

/// Whether claimed delivery `c` is held back on `today` (a Shanghai day, `YYYY-MM-DD`).
pub(super) fn hold_back(c: &Claimed, today: &str) -> Option<HoldBack> {
    if c.source != "record" || !matches!(c.operation.as_str(), "add" | "update") {
        return None;
    }
    if c.publicity_held == 1 {
        return Some(HoldBack::Held);
    }
    c.publicity_end.as_deref().is_some_and(|end| end < today).then_some(HoldBack::Expired)
}

/// Marks the claimed deliveries `ids` held (`$1`: the time).
pub(super) fn held_sql(ids: &str) -> String {
    format!(
        "UPDATE deliveries SET status = 'held', claimed_by = NULL, claim_expires_at = NULL, updated_at = $1, \
         reason = '轻微失信行为原则上不公示：暂缓推送' WHERE id IN ({ids}) AND status = 'in_flight'"
    )
}

/// Marks the claimed deliveries `ids` expired, naming the planned end (`$1`: the time, `$2`:
/// the day, checked again).
pub(super) fn expired_sql(ids: &str) -> String {
    format!(
        "UPDATE deliveries SET status = 'expired', claimed_by = NULL, claim_expires_at = NULL, updated_at = $1, \
         reason = '公示期已于' || (SELECT r.publicity_end FROM records r WHERE r.id = deliveries.record_id) || '届满，不再推送' \
         WHERE id IN ({ids}) AND status = 'in_flight' \
         AND EXISTS (SELECT 1 FROM records r WHERE r.id = deliveries.record_id AND r.publicity_end < $2)"
    )
}
