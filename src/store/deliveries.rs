//! The outbox (`deliveries`), returned records (`returns`) and which destination carries
//! which item (`destination_items`). Withdrawals at publicity end live in `store::publicity`.
//!
//! Claims are leases: a claimed delivery whose lease ran out (its instance died) is claimed
//! again. Outcomes are written per batch in one transaction, with set-based statements, and
//! only over deliveries still in flight: a late answer never undoes a newer outcome.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::publicity::{HoldBack, expired_sql, held_sql, hold_back};
use super::{Db, Store, StoreError, on_pool};
use crate::calendar::shanghai_date;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// A claimed delivery with what is needed to push it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub record_id: i64,
    pub version: i64,
    pub operation: String,
    pub idempotency_key: String,
    pub attempts: i64,
    pub item: String,
    pub department: String,
    pub business_key: String,
    pub content: String,
    /// `record` (from a department, in `records`) or `feed` (sent down, in `feed_records`).
    pub source: String,
    /// The record's version now: a delivery of an older one is superseded at the claim.
    pub current_version: i64,
    /// The delivery names its own business key (the withdrawal of a key a correction replaced),
    /// so it is of the old version and never superseded.
    pub own_key: bool,
    /// Publicity (`store::publicity`): the record is held back (1), and its planned end.
    pub publicity_held: i64,
    pub publicity_end: Option<String>,
    /// The record has an open return somewhere (1): its acceptance may close it.
    pub returned: i64,
}

/// Claimed deliveries matching `filter` (over `d`): records from below with their current
/// content (under the key the delivery names, when a correction replaced it), feed records with the content of the version the delivery pushes.
fn claimed_select(filter: &str) -> String {
    format!(
        "SELECT d.id, d.record_id, d.version, d.operation, d.idempotency_key, d.attempts, r.item, r.department, \
         COALESCE(d.business_key, r.business_key) AS business_key, r.content, d.source, r.version AS current_version, \
         (d.business_key IS NOT NULL) AS own_key, r.publicity_held, r.publicity_end, CAST(r.returned AS BIGINT) AS returned \
         FROM deliveries d JOIN records r ON r.id = d.record_id \
         WHERE d.source = 'record' AND {filter} \
         UNION ALL \
         SELECT d.id, d.record_id, d.version, d.operation, d.idempotency_key, d.attempts, f.item, f.feed, \
         f.business_key, v.content, d.source, f.version, (d.business_key IS NOT NULL), 0, CAST(NULL AS TEXT), 0 \
         FROM deliveries d JOIN feed_records f ON f.id = d.record_id \
         JOIN feed_record_versions v ON v.feed_record_id = d.record_id AND v.version = d.version \
         WHERE d.source = 'feed' AND {filter} ORDER BY 1"
    )
}

/// What became of one pushed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Returned {
        rule: Option<String>,
        reason: String,
    },
    /// Not answered (transport error, partial batch): try again at `at`, or dead-letter.
    Retry {
        error: String,
        at: DateTime<Utc>,
        dead: bool,
    },
}

/// A delivery as `deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeliveryRow {
    pub id: i64,
    pub record_id: i64,
    pub version: i64,
    pub destination: String,
    pub operation: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub updated_at: String,
}

/// An open returned record, for the department's problem queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReturnRow {
    pub id: i64,
    pub record_id: i64,
    pub destination: String,
    pub department: String,
    pub item: String,
    pub business_key: String,
    pub version: i64,
    pub rule: Option<String>,
    pub reason: String,
    pub returned_on: String,
    pub closed_at: Option<String>,
}

impl Store {
    /// Makes `destination_items` say what the configuration says. Idempotent, so instances
    /// starting together on one database may all do it at once: a pair already there (another
    /// instance has just added it) is left alone, and only pairs no longer configured are
    /// deleted. Written before anything is read, so SQLite takes its write lock first.
    pub async fn sync_destination_items(&self, pairs: &[(String, String)]) -> Result<(), StoreError> {
        let kept: Vec<String> =
            (0..pairs.len()).map(|i| format!("(destination = ${} AND item = ${})", 2 * i + 1, 2 * i + 2)).collect();
        let delete_sql = match kept.is_empty() {
            true => "DELETE FROM destination_items".to_string(),
            false => format!("DELETE FROM destination_items WHERE NOT ({})", kept.join(" OR ")),
        };
        on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            for (destination, item) in pairs {
                sqlx::query("INSERT INTO destination_items (destination, item) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(destination)
                    .bind(item)
                    .execute(&mut *tx)
                    .await?;
            }
            let mut delete = sqlx::query(&delete_sql);
            for (destination, item) in pairs {
                delete = delete.bind(destination).bind(item);
            }
            delete.execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims up to `limit` deliveries due now (or whose lease ran out) for `worker`.
    pub async fn claim_deliveries(
        &self,
        destination: &str,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        let now_s = ts(now);
        let expires = ts(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5)));
        let lock = match self.db() {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        // Leases that ran out (their instance died) go back to the queue first; then the
        // oldest due deliveries are claimed in index order, so a claim reads only what it takes.
        const EXPIRED: &str = "UPDATE deliveries SET status = 'pending', claimed_by = NULL, claim_expires_at = NULL \
             WHERE destination = $1 AND status = 'in_flight' AND claim_expires_at < $2";
        let claim = format!(
            "UPDATE deliveries SET status = 'in_flight', claimed_by = $1, claim_expires_at = $2, attempts = attempts + 1, \
             pushed_at = $3, updated_at = $3 \
             WHERE id IN (SELECT id FROM deliveries WHERE destination = $4 AND status = 'pending' AND next_attempt_at <= $3 \
               ORDER BY next_attempt_at, id LIMIT {limit}{lock}) \
             RETURNING id"
        );
        // One transaction for the whole claim: on SQLite each statement would otherwise be a
        // commit of its own, and the writer lock is what ingest and the other workers wait for.
        let claimed = on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(EXPIRED).bind(destination).bind(&now_s).execute(&mut *tx).await?;
            let ids: Vec<i64> = sqlx::query_scalar(&claim)
                .bind(worker)
                .bind(&expires)
                .bind(&now_s)
                .bind(destination)
                .fetch_all(&mut *tx)
                .await?;
            if ids.is_empty() {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            let list = id_list(ids.iter().copied());
            let load = claimed_select(&format!("d.id IN ({list}) AND d.status = 'in_flight'"));
            let loaded = sqlx::query_as::<_, Claimed>(&load).fetch_all(&mut *tx).await?;
            // What is not pushed after all is set apart in Rust from the loaded rows, so the
            // usual claim (nothing set apart) costs no statement for it.
            let today = shanghai_date(now).to_string();
            let (mut superseded, mut held, mut expired, mut claimed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for c in loaded {
                // A version the record has moved past is not pushed: the newer one has its own
                // delivery. The withdrawal of a key a correction replaced is of the old version.
                if !c.own_key && c.version < c.current_version {
                    superseded.push(c.id);
                } else {
                    match hold_back(&c, &today) {
                        Some(HoldBack::Held) => held.push(c.id),
                        Some(HoldBack::Expired) => expired.push(c.id),
                        None => claimed.push(c),
                    }
                }
            }
            if !superseded.is_empty() {
                sqlx::query(&format!(
                    "UPDATE deliveries SET status = 'superseded', claimed_by = NULL, claim_expires_at = NULL, updated_at = $1 \
                     WHERE id IN ({})",
                    id_list(superseded)
                ))
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
            }
            if !held.is_empty() {
                sqlx::query(&held_sql(&id_list(held))).bind(&now_s).execute(&mut *tx).await?;
            }
            if !expired.is_empty() {
                sqlx::query(&expired_sql(&id_list(expired))).bind(&now_s).bind(&today).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            claimed
        });
        Ok(claimed)
    }

    /// In-flight deliveries of `destination` with these idempotency keys (a file receipt's).
    pub async fn in_flight_by_keys(&self, destination: &str, keys: &[String]) -> Result<Vec<Claimed>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = claimed_select(&format!(
                "d.destination = $1 AND d.status = 'in_flight' AND d.idempotency_key IN ({})",
                marks.join(",")
            ));
            let rows = on_pool!(self.db(), pool => {
                let mut q = sqlx::query_as::<_, Claimed>(&sql).bind(destination);
                for k in chunk {
                    q = q.bind(k);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Writes the outcomes of one push in one transaction. `pushed_at` is when the batch was
    /// sent: for the deadline destination it is the record's reporting time.
    pub async fn record_outcomes(
        &self,
        destination: &str,
        deadline: bool,
        outcomes: &[(&Claimed, Outcome)],
        pushed_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now_s = ts(now);
        let accepted: Vec<&Claimed> =
            outcomes.iter().filter(|(_, o)| *o == Outcome::Accepted).map(|(c, _)| *c).collect();
        // Returns, corrections and reporting times concern records from below only.
        let from_below: Vec<&Claimed> = accepted.iter().copied().filter(|c| c.source == "record").collect();
        on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            if !accepted.is_empty() {
                let ids = id_list(accepted.iter().map(|c| c.id));
                sqlx::query(&format!(
                    "UPDATE deliveries SET status = 'accepted', done_at = $1, updated_at = $1, claimed_by = NULL, \
                     claim_expires_at = NULL, last_error = NULL WHERE id IN ({ids}) AND status = 'in_flight'"
                ))
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
            }
            // A corrected version accepted closes what was returned before it (补正): only
            // records with an open return (flagged at the claim) have anything to close.
            let corrected: Vec<&&Claimed> = from_below.iter().filter(|c| c.returned == 1).collect();
            if !corrected.is_empty() {
                let records = id_list(corrected.iter().map(|c| c.record_id));
                sqlx::query(&format!(
                    "UPDATE returns SET closed_at = $1, closed_by_version = (SELECT r.version FROM records r WHERE r.id = returns.record_id) \
                     WHERE record_id IN ({records}) AND destination = $2 AND closed_at IS NULL"
                ))
                .bind(&now_s)
                .bind(destination)
                .execute(&mut *tx)
                .await?;
                sqlx::query(&format!(
                    "UPDATE records SET returned = 0 WHERE id IN ({records}) AND returned = 1 AND NOT EXISTS \
                     (SELECT 1 FROM returns x WHERE x.record_id = records.id AND x.closed_at IS NULL)"
                ))
                .execute(&mut *tx)
                .await?;
            }
            if !from_below.is_empty() {
                let records = id_list(from_below.iter().map(|c| c.record_id));
                if deadline {
                    sqlx::query(&format!(
                        "UPDATE records SET reported_at = $1, reported_on = $2 WHERE id IN ({records}) AND reported_at IS NULL"
                    ))
                    .bind(ts(pushed_at))
                    .bind(shanghai_date(pushed_at).to_string())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for (c, outcome) in outcomes {
                match outcome {
                    Outcome::Accepted => {}
                    Outcome::Returned { rule, reason } => {
                        let done = sqlx::query(
                            "UPDATE deliveries SET status = 'returned', rule = $2, reason = $3, done_at = $4, updated_at = $4, \
                             claimed_by = NULL, claim_expires_at = NULL WHERE id = $1 AND status = 'in_flight'",
                        )
                        .bind(c.id)
                        .bind(rule)
                        .bind(reason)
                        .bind(&now_s)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if done == 1 && c.source == "record" {
                            sqlx::query(
                                "INSERT INTO returns (record_id, delivery_id, destination, department, item, version, rule, reason, \
                                 returned_at, returned_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                            )
                            .bind(c.record_id)
                            .bind(c.id)
                            .bind(destination)
                            .bind(&c.department)
                            .bind(&c.item)
                            .bind(c.version)
                            .bind(rule)
                            .bind(reason)
                            .bind(&now_s)
                            .bind(shanghai_date(now).to_string())
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query("UPDATE records SET returned = 1 WHERE id = $1")
                                .bind(c.record_id)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    Outcome::Retry { .. } => {}
                }
            }
            // Retries share their time and error per batch: one statement each way.
            let retries: Vec<(&Claimed, &String, &DateTime<Utc>, bool)> = outcomes
                .iter()
                .filter_map(|(c, o)| match o {
                    Outcome::Retry { error, at, dead } => Some((*c, error, at, *dead)),
                    _ => None,
                })
                .collect();
            for dead in [false, true] {
                let group: Vec<_> = retries.iter().filter(|r| r.3 == dead).collect();
                let Some(first) = group.first() else { continue };
                let ids = id_list(group.iter().map(|r| r.0.id));
                let status = if dead { "dead" } else { "pending" };
                sqlx::query(&format!(
                    "UPDATE deliveries SET status = '{status}', next_attempt_at = $1, last_error = $2, updated_at = $3, \
                     claimed_by = NULL, claim_expires_at = NULL WHERE id IN ({ids}) AND status = 'in_flight'"
                ))
                .bind(ts(*first.2))
                .bind(first.1)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deliveries that are not done: pending, in flight, dead (and returned when asked).
    pub async fn deliveries(&self, status: Option<&str>, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        let filter = match status {
            Some(_) => "status = $1",
            None => "status IN ('pending', 'in_flight', 'dead') AND $1 IS NULL",
        };
        let sql = format!(
            "SELECT id, record_id, version, destination, operation, status, attempts, next_attempt_at, last_error, rule, \
             reason, updated_at FROM deliveries WHERE {filter} ORDER BY id LIMIT {limit}"
        );
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, DeliveryRow>(&sql).bind(status).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Counts per destination and status.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        const SQL: &str = "SELECT destination, status, count(*) FROM deliveries GROUP BY destination, status ORDER BY destination, status";
        let rows = on_pool!(self.db(), pool => sqlx::query_as(SQL).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Puts dead (or failed pending) deliveries back in the queue now, with fresh attempts.
    pub async fn retry_deliveries(&self, ids: Option<&[i64]>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let filter = match ids {
            Some([]) => return Ok(0),
            Some(ids) => format!("id IN ({}) AND status IN ('dead', 'pending')", id_list(ids.iter().copied())),
            None => "status = 'dead'".to_string(),
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1 WHERE {filter}"
        );
        let n = on_pool!(self.db(), pool => sqlx::query(&sql).bind(ts(now)).execute(pool).await?.rows_affected());
        Ok(n)
    }

    /// Returned records awaiting correction, oldest first.
    pub async fn open_returns(&self, department: Option<&str>) -> Result<Vec<ReturnRow>, StoreError> {
        const SQL: &str = "SELECT x.id, x.record_id, x.destination, x.department, x.item, r.business_key, x.version, x.rule, \
             x.reason, x.returned_on, x.closed_at FROM returns x JOIN records r ON r.id = x.record_id \
             WHERE x.closed_at IS NULL AND ($1 IS NULL OR x.department = $1) ORDER BY x.returned_on, x.id";
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, ReturnRow>(SQL).bind(department).fetch_all(pool).await?);
        Ok(rows)
    }

    /// All returns of a record, open and closed.
    pub async fn record_returns(&self, record_id: i64) -> Result<Vec<ReturnRow>, StoreError> {
        const SQL: &str = "SELECT x.id, x.record_id, x.destination, x.department, x.item, r.business_key, x.version, x.rule, \
             x.reason, x.returned_on, x.closed_at FROM returns x JOIN records r ON r.id = x.record_id \
             WHERE x.record_id = $1 ORDER BY x.id";
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, ReturnRow>(SQL).bind(record_id).fetch_all(pool).await?);
        Ok(rows)
    }
}
