//! Reverse feeds in the store: feed records with their versions (`feed_records`,
//! `feed_record_versions`), refused records (`feed_rejects`), each feed's cursor and health
//! (`feed_state`), repair results and their SLA (`repairs`), and the routed deliveries in the
//! same outbox as upward delivery (`deliveries.source = 'feed'`).
//!
//! A page is applied in one transaction together with its cursor: a crash leaves either the
//! whole page and its cursor, or neither, so a restart resumes with nothing lost or doubled.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use super::{Db, Store, StoreError, on_pool};
use crate::feed::parse::{FeedRecord, Rejected};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One record of a page with the lower destinations it goes to.
#[derive(Debug, Clone)]
pub struct RoutedRecord<'a> {
    pub record: &'a FeedRecord,
    /// The record's sector, or the one stored with it when this version gives none.
    pub sector: Option<String>,
    pub destinations: Vec<String>,
    /// Lower destinations that take this version only if they took an earlier one (its sector
    /// or region moved away from them: they still hold the record, and must learn its end).
    pub followers: Vec<String>,
}

/// The repair SLA clock for records received now (SPEC §6: 3 working days).
#[derive(Debug, Clone, Copy)]
pub struct RepairClock {
    pub received_on: NaiveDate,
    pub due_on: NaiveDate,
    pub due_at: DateTime<Utc>,
    pub provisional: bool,
}

/// What applying a page did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedCounts {
    pub new_versions: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Deliveries queued to lower destinations.
    pub routed: u64,
    /// Withdrawals of our own published penalties queued by repair results.
    pub withdrawals: u64,
}

impl FeedCounts {
    pub fn add(&mut self, o: &FeedCounts) {
        self.new_versions += o.new_versions;
        self.unchanged += o.unchanged;
        self.rejected += o.rejected;
        self.routed += o.routed;
        self.withdrawals += o.withdrawals;
    }
}

/// A feed's cursor and health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct FeedStateRow {
    pub feed: String,
    pub cursor: Option<String>,
    pub pulled_at: Option<String>,
    pub ok_at: Option<String>,
    pub last_error: Option<String>,
    pub accepted: i64,
    pub rejected: i64,
}

/// A feed record as listed (missing-report candidates, versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct FeedRecordRow {
    pub id: i64,
    pub feed: String,
    pub item: String,
    pub business_key: String,
    pub version: i64,
    pub operation: String,
    pub publicity: i64,
    pub region: Option<String>,
    /// 领域 (`config/sectors.toml`), when the record has one.
    pub sector: Option<String>,
    pub received_at: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct FeedRejectRow {
    pub feed: String,
    pub cursor: Option<String>,
    pub position: i64,
    pub source_id: Option<String>,
    pub reason: String,
}

/// A repair result and where its withdrawals stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RepairRow {
    pub id: i64,
    pub record_id: i64,
    pub business_key: String,
    pub received_on: String,
    pub due_on: String,
    pub due_at: String,
    pub provisional: i64,
    /// Withdrawals queued (superseded ones aside) and accepted so far.
    pub withdrawals: i64,
    pub accepted: i64,
    /// When the last withdrawal was accepted.
    pub done_at: Option<String>,
}

impl RepairRow {
    /// `on_time`, `late`, `open` or `overdue`: derived, never stored, like every deadline.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.accepted == self.withdrawals {
            match &self.done_at {
                Some(done) if *done > self.due_at => "late",
                _ => "on_time",
            }
        } else if ts(now) > self.due_at {
            "overdue"
        } else {
            "open"
        }
    }
}

impl Store {
    /// The cursor a feed resumes from.
    pub async fn feed_cursor(&self, feed: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT cursor FROM feed_state WHERE feed = $1";
        let c: Option<Option<String>> =
            on_pool!(self.db(), pool => sqlx::query_scalar(SQL).bind(feed).fetch_optional(pool).await?);
        Ok(c.flatten())
    }

    /// Stores a page: each record's new version, its deliveries to the lower destinations,
    /// repair withdrawals, the refused records, and the cursor, in one transaction.
    pub async fn apply_feed_page(
        &self,
        feed: &str,
        cursor: Option<&str>,
        records: &[RoutedRecord<'_>],
        rejected: &[Rejected],
        repair: RepairClock,
        now: DateTime<Utc>,
    ) -> Result<FeedCounts, StoreError> {
        let now_s = ts(now);
        let mut counts = FeedCounts { rejected: rejected.len() as u64, ..FeedCounts::default() };
        let json_doc = match self.db() {
            Db::Sqlite(_) => "json_extract(r.content, '$.' || $3)",
            Db::Postgres(_) => "(r.content::jsonb ->> $3)",
        };
        on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            for routed in records {
                let r = routed.record;
                let current: Option<(i64, i64, String, String)> = sqlx::query_as(
                    "SELECT id, version, content_hash, operation FROM feed_records WHERE item = $1 AND business_key = $2",
                )
                .bind(&r.item)
                .bind(&r.business_key)
                .fetch_optional(&mut *tx)
                .await?;
                let (id, version) = match current {
                    Some((_, _, hash, op)) if hash == r.content_hash && op == r.operation.as_str() => {
                        // The same version again (a page pulled twice): nothing changes.
                        counts.unchanged += 1;
                        continue;
                    }
                    Some((id, version, _, _)) => {
                        sqlx::query(
                            "UPDATE feed_records SET feed = $2, version = $3, operation = $4, publicity = $5, region = $6, \
                             source_id = $7, repair = $8, content = $9, content_hash = $10, updated_at = $11, sector = $12 \
                             WHERE id = $1",
                        )
                        .bind(id)
                        .bind(feed)
                        .bind(version + 1)
                        .bind(r.operation.as_str())
                        .bind(r.publicity)
                        .bind(&r.region)
                        .bind(&r.source_id)
                        .bind(r.repair as i64)
                        .bind(&r.content)
                        .bind(&r.content_hash)
                        .bind(&now_s)
                        .bind(&routed.sector)
                        .execute(&mut *tx)
                        .await?;
                        // The newer version replaces what was not yet sent of the older ones.
                        sqlx::query(
                            "UPDATE deliveries SET status = 'superseded', updated_at = $2 \
                             WHERE source = 'feed' AND record_id = $1 AND status = 'pending'",
                        )
                        .bind(id)
                        .bind(&now_s)
                        .execute(&mut *tx)
                        .await?;
                        (id, version + 1)
                    }
                    None => {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO feed_records (feed, item, business_key, version, operation, publicity, region, \
                             source_id, repair, content, content_hash, received_at, updated_at, sector) \
                             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) RETURNING id",
                        )
                        .bind(feed)
                        .bind(&r.item)
                        .bind(&r.business_key)
                        .bind(r.operation.as_str())
                        .bind(r.publicity)
                        .bind(&r.region)
                        .bind(&r.source_id)
                        .bind(r.repair as i64)
                        .bind(&r.content)
                        .bind(&r.content_hash)
                        .bind(&now_s)
                        .bind(&routed.sector)
                        .fetch_one(&mut *tx)
                        .await?;
                        (id, 1)
                    }
                };
                counts.new_versions += 1;
                sqlx::query(
                    "INSERT INTO feed_record_versions (feed_record_id, version, operation, publicity, region, content, \
                     content_hash, received_at, sector) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(id)
                .bind(version)
                .bind(r.operation.as_str())
                .bind(r.publicity)
                .bind(&r.region)
                .bind(&r.content)
                .bind(&r.content_hash)
                .bind(&now_s)
                .bind(&routed.sector)
                .execute(&mut *tx)
                .await?;
                for destination in &routed.destinations {
                    counts.routed += sqlx::query(
                        "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, \
                         next_attempt_at, created_at, updated_at, source) \
                         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6, 'feed') \
                         ON CONFLICT (record_id, destination, version, operation, source) DO NOTHING",
                    )
                    .bind(id)
                    .bind(version)
                    .bind(destination)
                    .bind(r.operation.as_str())
                    .bind(format!("feed:{id}:{version}:{destination}"))
                    .bind(&now_s)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                for destination in routed.followers.iter().filter(|_| version > 1) {
                    // Pending ones were superseded above: only what was sent (or is being) counts.
                    counts.routed += sqlx::query(
                        "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, \
                         next_attempt_at, created_at, updated_at, source) \
                         SELECT $1, $2, $3, $4, $5, 'pending', $6, $6, $6, 'feed' WHERE EXISTS (SELECT 1 FROM deliveries \
                           WHERE source = 'feed' AND record_id = $1 AND destination = $3 AND version < $2 \
                           AND status <> 'superseded') \
                         ON CONFLICT (record_id, destination, version, operation, source) DO NOTHING",
                    )
                    .bind(id)
                    .bind(version)
                    .bind(destination)
                    .bind(r.operation.as_str())
                    .bind(format!("feed:{id}:{version}:{destination}"))
                    .bind(&now_s)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                if r.repair {
                    // Our own penalty, by business key or by its decision number: withdrawn at
                    // every destination that accepted it, on the repair SLA's clock. The upper
                    // platform decided the repair: followed even before our minimum period ends
                    // (the 超期公示 audit excuses it; `publicity repair` by the office is refused then).
                    let matched: Vec<i64> = sqlx::query_scalar(&format!(
                        "SELECT r.id FROM records r WHERE r.item = $1 AND (r.business_key = $2 \
                         OR ($4 IS NOT NULL AND {json_doc} = $4))"
                    ))
                    .bind(&r.item)
                    .bind(&r.business_key)
                    .bind(&r.document_field)
                    .bind(&r.document_number)
                    .fetch_all(&mut *tx)
                    .await?;
                    for record_id in matched {
                        counts.withdrawals += sqlx::query(
                            "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, \
                             next_attempt_at, created_at, updated_at) \
                             SELECT r.id, r.version, a.destination, 'withdraw', \
                             r.id || ':' || r.version || ':withdraw:' || a.destination, 'pending', $2, $2, $2 \
                             FROM records r JOIN (SELECT DISTINCT record_id, destination FROM deliveries \
                               WHERE source = 'record' AND status = 'accepted' AND operation IN ('add', 'update')) a \
                             ON a.record_id = r.id WHERE r.id = $1 \
                             ON CONFLICT (record_id, destination, version, operation, source) DO NOTHING",
                        )
                        .bind(record_id)
                        .bind(&now_s)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        sqlx::query(
                            "INSERT INTO repairs (feed_record_id, record_id, received_at, received_on, due_on, due_at, \
                             provisional) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (feed_record_id, record_id) DO NOTHING",
                        )
                        .bind(id)
                        .bind(record_id)
                        .bind(&now_s)
                        .bind(repair.received_on.to_string())
                        .bind(repair.due_on.to_string())
                        .bind(ts(repair.due_at))
                        .bind(repair.provisional as i64)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            for x in rejected {
                sqlx::query(
                    "INSERT INTO feed_rejects (feed, cursor, position, source_id, reason, raw, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(feed)
                .bind(cursor)
                .bind(x.position as i64)
                .bind(&x.source_id)
                .bind(&x.reason)
                .bind(&x.raw)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO feed_state (feed, cursor, pulled_at, ok_at, last_error, accepted, rejected) \
                 VALUES ($1, $2, $3, $3, NULL, $4, $5) \
                 ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor, pulled_at = excluded.pulled_at, \
                 ok_at = excluded.ok_at, last_error = NULL, accepted = feed_state.accepted + excluded.accepted, \
                 rejected = feed_state.rejected + excluded.rejected",
            )
            .bind(feed)
            .bind(cursor)
            .bind(&now_s)
            .bind(records.len() as i64)
            .bind(rejected.len() as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(counts)
    }

    /// The sectors stored with the feed records `(item, business_key)`, for the versions that
    /// name a record by its key only. By statements of 200 keys.
    pub async fn feed_sectors(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<std::collections::HashMap<(String, String), String>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for chunk in keys.chunks(200) {
            let mut sql = String::from(
                "SELECT item, business_key, sector FROM feed_records WHERE sector IS NOT NULL AND business_key IN (",
            );
            for i in 0..chunk.len() {
                let _ =
                    std::fmt::Write::write_fmt(&mut sql, format_args!("{}${}", if i > 0 { ", " } else { "" }, i + 1));
            }
            sql.push(')');
            let rows: Vec<(String, String, String)> = on_pool!(self.db(), pool => {
                let mut q = sqlx::query_as(&sql);
                for (_, key) in chunk {
                    q = q.bind(*key);
                }
                q.fetch_all(pool).await?
            });
            for (item, key, sector) in rows {
                if chunk.iter().any(|(i, k)| *i == item && *k == key) {
                    out.insert((item, key), sector);
                }
            }
        }
        Ok(out)
    }

    /// A pull that failed: the cursor stays, the error is kept for `feeds`.
    pub async fn feed_failed(&self, feed: &str, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO feed_state (feed, pulled_at, last_error) VALUES ($1, $2, $3) \
             ON CONFLICT (feed) DO UPDATE SET pulled_at = excluded.pulled_at, last_error = excluded.last_error";
        on_pool!(self.db(), pool => sqlx::query(SQL).bind(feed).bind(ts(now)).bind(error).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn feed_states(&self) -> Result<Vec<FeedStateRow>, StoreError> {
        const SQL: &str =
            "SELECT feed, cursor, pulled_at, ok_at, last_error, accepted, rejected FROM feed_state ORDER BY feed";
        let rows = on_pool!(self.db(), pool => sqlx::query_as::<_, FeedStateRow>(SQL).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Records of `area` (a division code) that came down in publicity but that no
    /// department reported: 漏报/瞒报 candidates for ops staff.
    pub async fn feed_missing(&self, area: &str) -> Result<Vec<FeedRecordRow>, StoreError> {
        let prefix = format!("{}%", crate::feed::route::Divisions::prefix(area));
        const SQL: &str = "SELECT f.id, f.feed, f.item, f.business_key, f.version, f.operation, f.publicity, f.region, \
             f.sector, f.received_at, f.content FROM feed_records f WHERE f.region LIKE $1 AND f.publicity = 0 \
             AND NOT EXISTS (SELECT 1 FROM records r WHERE r.item = f.item AND r.business_key = f.business_key) \
             ORDER BY f.id";
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, FeedRecordRow>(SQL).bind(prefix).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Every version of the feed record `(item, business_key)`, oldest first.
    pub async fn feed_versions(&self, item: &str, business_key: &str) -> Result<Vec<FeedRecordRow>, StoreError> {
        const SQL: &str = "SELECT f.id, f.feed, f.item, f.business_key, v.version, v.operation, v.publicity, v.region, \
             v.sector, v.received_at, v.content FROM feed_records f JOIN feed_record_versions v ON v.feed_record_id = f.id \
             WHERE f.item = $1 AND f.business_key = $2 ORDER BY v.version";
        let rows = on_pool!(self.db(), pool => sqlx::query_as::<_, FeedRecordRow>(SQL)
            .bind(item)
            .bind(business_key)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    pub async fn feed_rejects(&self, feed: Option<&str>) -> Result<Vec<FeedRejectRow>, StoreError> {
        const SQL: &str = "SELECT feed, cursor, position, source_id, reason FROM feed_rejects \
             WHERE ($1 IS NULL OR feed = $1) ORDER BY id";
        let rows =
            on_pool!(self.db(), pool => sqlx::query_as::<_, FeedRejectRow>(SQL).bind(feed).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Repair results and their withdrawals, oldest first.
    pub async fn repairs(&self) -> Result<Vec<RepairRow>, StoreError> {
        const SQL: &str = "SELECT p.id, p.record_id, r.business_key, p.received_on, p.due_on, p.due_at, p.provisional, \
             (SELECT count(*) FROM deliveries d WHERE d.source = 'record' AND d.record_id = p.record_id \
               AND d.operation = 'withdraw' AND d.status <> 'superseded') AS withdrawals, \
             (SELECT count(*) FROM deliveries d WHERE d.source = 'record' AND d.record_id = p.record_id \
               AND d.operation = 'withdraw' AND d.status = 'accepted') AS accepted, \
             (SELECT max(d.done_at) FROM deliveries d WHERE d.source = 'record' AND d.record_id = p.record_id \
               AND d.operation = 'withdraw' AND d.status = 'accepted') AS done_at \
             FROM repairs p JOIN records r ON r.id = p.record_id ORDER BY p.id";
        let rows = on_pool!(self.db(), pool => sqlx::query_as::<_, RepairRow>(SQL).fetch_all(pool).await?);
        Ok(rows)
    }
}
