//! Records: the bulk writer used by ingest, and the reads that show a record's state.

use std::collections::{HashMap, HashSet};

use sqlx::pool::PoolConnection;
use sqlx::{Executor as _, Postgres, Row, Sqlite};

use super::{Db, Store, StoreError, on_pool};
use crate::iso_date;
use crate::record::PreparedRecord;

/// What one write did: new records, new versions, and rows equal to what was stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub inserted: u64,
    pub new_versions: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for WriteCounts {
    fn add_assign(&mut self, o: WriteCounts) {
        self.inserted += o.inserted;
        self.new_versions += o.new_versions;
        self.unchanged += o.unchanged;
    }
}

/// A stored row problem, as the error report is written from it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunProblem {
    pub id: i64,
    pub line: i64,
    pub field: Option<String>,
    pub severity: String,
    pub reason: String,
    pub value: Option<String>,
}

/// A row problem as stored (field by key; value already masked where personal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemRow {
    pub line: u64,
    pub field: Option<String>,
    pub code: &'static str,
    pub severity: &'static str,
    pub reason: String,
    pub value: Option<String>,
}

/// The current state of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub id: i64,
    pub item: String,
    pub business_key: String,
    pub department: String,
    pub version: i64,
    pub content: String,
    pub decision_date: Option<String>,
    pub region: Option<String>,
    pub ingest_run_id: i64,
    pub source_line: i64,
}

pub(super) enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

macro_rules! upsert_head {
    () => {
        "INSERT INTO records (item, department, ingest_run_id, created_at, updated_at, version, \
         business_key, content_hash, content, decision_date, region, source_line, \
         deadline, due_soon_from, deadline_provisional, publicity, publicity_end, publicity_end_month, publicity_held, \
         decision_key, backfill) "
    };
}
/// A changed hash makes a new version (the trigger archives the old one); an equal hash
/// changes nothing and returns no row, which is how `unchanged` is counted. The rows returned
/// (id, version) are the chunk's new versions: their deliveries are queued from them.
macro_rules! upsert_tail {
    () => {
        " ON CONFLICT (item, business_key) DO UPDATE SET version = records.version + 1, \
         content_hash = excluded.content_hash, content = excluded.content, decision_date = excluded.decision_date, \
         region = excluded.region, department = excluded.department, ingest_run_id = excluded.ingest_run_id, \
         source_line = excluded.source_line, updated_at = excluded.updated_at, deadline = excluded.deadline, \
         due_soon_from = excluded.due_soon_from, deadline_provisional = excluded.deadline_provisional, \
         publicity = excluded.publicity, publicity_end = excluded.publicity_end, \
         publicity_end_month = excluded.publicity_end_month, \
         publicity_held = excluded.publicity_held, publicity_closed = 0, \
         decision_key = excluded.decision_key, backfill = excluded.backfill \
         WHERE records.content_hash <> excluded.content_hash RETURNING id, version"
    };
}
const UPSERT_HEAD: &str = upsert_head!();
const UPSERT_TAIL: &str = upsert_tail!();
/// The outbox (`deliveries`) rows of a chunk's new versions, written in the statement or
/// transaction that stores them: one per destination carrying the item. A new version first
/// supersedes what was still pending for the record , and goes out
/// as a change (`update`) where the platform already accepted the record, else as new (`add`).
macro_rules! outbox_insert {
    () => {
        "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, \
         next_attempt_at, created_at, updated_at) "
    };
}
macro_rules! outbox_operation {
    () => {
        "CASE WHEN v.version > 1 AND EXISTS (SELECT 1 FROM deliveries x WHERE x.record_id = v.id \
         AND x.destination = d.destination AND x.status = 'accepted' AND x.source = 'record') \
         THEN 'update' ELSE 'add' END"
    };
}
/// PostgreSQL: the chunk's columns as arrays, turned back into rows by `unnest`; the same
/// statement queues the new versions' deliveries. What a new version replaces is superseded
/// by the next statement ([`PG_SUPERSEDE`]), only when the chunk changed a stored record.
const PG_UPSERT: &str = concat!(
    "WITH up AS (",
    upsert_head!(),
    "SELECT $1, $2, $3, $4, $4, 1, k, h, c, d, r, l, dl, ds, dp, pb, pe, pm, ph, dk, b \
     FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::text[], $12::text[], \
     $13::int4[], $14::text[], $15::text[], $19::int4[], $16::int8[], $17::text[], $18::int4[]) \
     AS t(k, h, c, d, r, l, dl, ds, dp, pb, pe, pm, ph, dk, b)",
    upsert_tail!(),
    "), queued AS (",
    outbox_insert!(),
    "SELECT v.id, v.version, d.destination, ",
    outbox_operation!(),
    ", v.id || ':' || v.version || ':' || d.destination, 'pending', $4, $4, $4 \
     FROM up v JOIN destination_items d ON d.item = $1 ORDER BY v.id, d.destination) \
     SELECT id, version FROM up"
);

/// PostgreSQL: what was pending for the records of new versions `(id, version)` and came
/// before them is superseded (the deliveries just queued are of the new version itself).
const PG_SUPERSEDE: &str = "UPDATE deliveries d SET status = 'superseded', updated_at = $3 \
     FROM unnest($1::int8[], $2::int8[]) AS v(id, version) \
     WHERE d.record_id = v.id AND d.version < v.version AND d.source = 'record' AND d.status = 'pending'";

/// Writes one ingest's records in large transactions on one dedicated connection.
///
/// Rows are committed every `commit_rows`; a crash loses at most the open transaction, and
/// re-ingesting the file is idempotent (equal rows come back `unchanged`).
pub struct RecordWriter {
    pub(super) conn: Conn,
    pub(super) run_id: i64,
    pub(super) item: String,
    pub(super) department: String,
    pub(super) now: String,
    statement_rows: usize,
    commit_rows: usize,
    rows_in_tx: usize,
    sql_cache: HashMap<usize, String>,
    /// The credit codes this run has met (the 重码 check of `store::decisions`).
    pub(super) subjects: super::decisions::SeenSubjects,
}

impl Store {
    pub async fn record_writer(
        &self,
        run_id: i64,
        item: &str,
        department: &str,
        now: &str,
        statement_rows: usize,
        commit_rows: usize,
    ) -> Result<RecordWriter, StoreError> {
        let conn = match self.db() {
            Db::Sqlite(pool) => {
                let mut c = pool.acquire().await?;
                // Closed rather than reused if dropped mid-transaction, and so its large page
                // cache (what makes bulk upserts fast) goes with it.
                c.close_on_drop();
                // `Executor::execute` (a boxed `Send` future), not `RawSql::execute`: rustc cannot
                // prove the latter `Send` inside a spawned task (rust-lang/rust#102211).
                (&mut *c).execute(sqlx::raw_sql("PRAGMA cache_size = -65536")).await?;
                Conn::Sqlite(c)
            }
            Db::Postgres(pool) => {
                let mut c = pool.acquire().await?;
                c.close_on_drop();
                // Planned for each chunk: a generic plan made while the tables were small (a
                // fresh database, the first rows of a large transaction) stays a sequential
                // scan for every lookup after it, which made ingest quadratic.
                (&mut *c).execute(sqlx::raw_sql("SET plan_cache_mode = force_custom_plan")).await?;
                Conn::Postgres(c)
            }
        };
        let mut writer = RecordWriter {
            conn,
            run_id,
            item: item.to_string(),
            department: department.to_string(),
            now: now.to_string(),
            statement_rows: statement_rows.max(1),
            commit_rows: commit_rows.max(1),
            rows_in_tx: 0,
            sql_cache: HashMap::new(),
            subjects: Default::default(),
        };
        writer.begin().await?;
        Ok(writer)
    }

    /// The current version of a record by its business key.
    pub async fn record_by_key(&self, item: &str, business_key: &str) -> Result<Option<RecordRow>, StoreError> {
        const SQL: &str = "SELECT id, item, business_key, department, version, content, decision_date, region, \
                           ingest_run_id, source_line FROM records WHERE item = $1 AND business_key = $2";
        let row = on_pool!(self.db(), pool => sqlx::query(SQL).bind(item).bind(business_key).fetch_optional(pool).await?
        .map(|r| RecordRow {
            id: r.get(0),
            item: r.get(1),
            business_key: r.get(2),
            department: r.get(3),
            version: r.get(4),
            content: r.get(5),
            decision_date: r.get(6),
            region: r.get(7),
            ingest_run_id: r.get(8),
            source_line: r.get(9),
        }));
        Ok(row)
    }

    /// Number of records of an item (all items with `None`).
    pub async fn count_records(&self, item: Option<&str>) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM records WHERE $1 IS NULL OR item = $1";
        let n: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(SQL).bind(item).fetch_one(pool).await?);
        Ok(n)
    }

    /// Number of superseded versions kept, all records.
    pub async fn record_versions_count(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM record_versions";
        let n: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(n)
    }

    /// Up to `limit` records after id `after`, in id order: (id, item, content). For the
    /// delivery benchmark's minimal client, which posts the same records without the gateway.
    pub async fn records_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, String, String)>, StoreError> {
        const SQL: &str = "SELECT id, item, content FROM records WHERE id > $1 ORDER BY id LIMIT $2";
        let rows = on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(after).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Superseded versions of a record, oldest first: (version, content).
    pub async fn record_history(&self, record_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        const SQL: &str = "SELECT version, content FROM record_versions WHERE record_id = $1 ORDER BY version";
        let rows: Vec<(i64, String)> =
            on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(record_id).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Up to `limit` stored problems of one ingest run after problem `after`, in the order
    /// they were found: the error report is written from these, a page at a time.
    pub async fn run_problems_after(&self, run_id: i64, after: i64, limit: i64) -> Result<Vec<RunProblem>, StoreError> {
        const SQL: &str = "SELECT id, line, field, severity, reason, value FROM row_problems \
                           WHERE ingest_run_id = $1 AND id > $2 ORDER BY id LIMIT $3";
        let rows = on_pool!(self.db(), pool => sqlx::query_as::<_, RunProblem>(SQL)
            .bind(run_id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// Stored problems of one ingest run: (line, field, code, reason).
    pub async fn run_problems(&self, run_id: i64) -> Result<Vec<(i64, Option<String>, String, String)>, StoreError> {
        const SQL: &str =
            "SELECT line, field, code, reason FROM row_problems WHERE ingest_run_id = $1 ORDER BY line, id";
        let rows = on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(run_id).fetch_all(pool).await?);
        Ok(rows)
    }
}

impl RecordWriter {
    async fn begin(&mut self) -> Result<(), StoreError> {
        match &mut self.conn {
            // IMMEDIATE takes the write lock now instead of failing to upgrade later.
            Conn::Sqlite(c) => {
                (&mut **c).execute(sqlx::raw_sql("BEGIN IMMEDIATE")).await?;
            }
            Conn::Postgres(c) => {
                (&mut **c).execute(sqlx::raw_sql("BEGIN")).await?;
            }
        }
        self.rows_in_tx = 0;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        match &mut self.conn {
            Conn::Sqlite(c) => {
                (&mut **c).execute(sqlx::raw_sql("COMMIT")).await?;
            }
            Conn::Postgres(c) => {
                (&mut **c).execute(sqlx::raw_sql("COMMIT")).await?;
            }
        }
        Ok(())
    }

    /// Writes records and problems; commits when the open transaction is large enough.
    pub async fn write(
        &mut self,
        records: &[PreparedRecord],
        problems: &[ProblemRow],
    ) -> Result<WriteCounts, StoreError> {
        self.write_routed(records, problems, &[]).await
    }

    /// [`RecordWriter::write`], and in the same transaction a delivery to each lower destination
    /// `lower` names for a record (business key, destination) — one the item's upper
    /// destinations do not take by `destination_items` (a 分级分类结果 to the departments of
    /// its region and sectors) — for the versions this run has just written only: a record
    /// written unchanged queues nothing, and the outbox's unique key refuses a repeat.
    pub async fn write_routed(
        &mut self,
        records: &[PreparedRecord],
        problems: &[ProblemRow],
        lower: &[(&str, &str)],
    ) -> Result<WriteCounts, StoreError> {
        let mut counts = WriteCounts::default();
        // A statement must not touch one key twice (PostgreSQL refuses it): cut before a repeat.
        // COPY has no parameter limit: PostgreSQL takes the whole batch in one chunk.
        let chunk_rows = match self.conn {
            Conn::Sqlite(_) => self.statement_rows,
            Conn::Postgres(_) => records.len().max(1),
        };
        let mut start = 0;
        let mut keys: HashSet<&str> = HashSet::with_capacity(chunk_rows);
        for (i, r) in records.iter().enumerate() {
            if i - start == chunk_rows || !keys.insert(r.business_key.as_str()) {
                counts += self.write_chunk(&records[start..i]).await?;
                start = i;
                keys.clear();
                keys.insert(r.business_key.as_str());
            }
        }
        if start < records.len() {
            counts += self.write_chunk(&records[start..]).await?;
        }
        for chunk in problems.chunks(self.statement_rows) {
            self.write_problems(chunk).await?;
        }
        for chunk in lower.chunks(self.statement_rows) {
            self.queue_lower(chunk).await?;
        }
        self.rows_in_tx += records.len() + problems.len();
        if self.rows_in_tx >= self.commit_rows {
            self.commit().await?;
            self.begin().await?;
        }
        Ok(counts)
    }

    /// Commits what is left.
    pub async fn finish(mut self) -> Result<(), StoreError> {
        self.commit().await
    }

    async fn write_chunk(&mut self, chunk: &[PreparedRecord]) -> Result<WriteCounts, StoreError> {
        if chunk.is_empty() {
            return Ok(WriteCounts::default());
        }
        let versions: Vec<(i64, i64)> = match &mut self.conn {
            Conn::Sqlite(c) => {
                let sql = self.sql_cache.entry(chunk.len()).or_insert_with(|| {
                    values_upsert_sql(chunk.len(), &self.item, &self.department, self.run_id, &self.now)
                });
                let mut q = sqlx::query_as::<_, (i64, i64)>(sql.as_str());
                for r in chunk {
                    let (d, s, p) = deadline_columns(r);
                    q = q
                        .bind(&r.business_key)
                        .bind(&r.content_hash)
                        .bind(&r.content)
                        .bind(&r.decision_date)
                        .bind(&r.region)
                        .bind(r.line as i64)
                        .bind(d)
                        .bind(s)
                        .bind(p)
                        .bind(r.publicity.as_ref().map(|x| x.block.as_str()))
                        .bind(r.publicity.as_ref().and_then(|x| x.planned_end.as_deref()))
                        .bind(r.publicity.as_ref().and_then(|x| x.planned_end_month()))
                        .bind(r.publicity.as_ref().is_some_and(|x| x.held) as i64)
                        .bind(&r.decision_key)
                        .bind(i32::from(r.backfill));
                }
                let versions = q.fetch_all(&mut **c).await?;
                queue_deliveries_sqlite(c, &versions, &self.item, &self.now).await?;
                versions
            }
            Conn::Postgres(c) => {
                // One round trip per chunk: the columns travel as arrays and `unnest` turns them
                // back into rows (as fast as COPY here, without a staging table to clean).
                let mut keys = Vec::with_capacity(chunk.len());
                let mut hashes = Vec::with_capacity(chunk.len());
                let mut contents = Vec::with_capacity(chunk.len());
                let mut dates = Vec::with_capacity(chunk.len());
                let mut regions = Vec::with_capacity(chunk.len());
                let mut lines = Vec::with_capacity(chunk.len());
                let mut deadlines = Vec::with_capacity(chunk.len());
                let mut soon = Vec::with_capacity(chunk.len());
                let mut provisional = Vec::with_capacity(chunk.len());
                let mut blocks = Vec::with_capacity(chunk.len());
                let mut ends = Vec::with_capacity(chunk.len());
                let mut end_months = Vec::with_capacity(chunk.len());
                let mut held = Vec::with_capacity(chunk.len());
                let mut decisions = Vec::with_capacity(chunk.len());
                let mut backfills = Vec::with_capacity(chunk.len());
                for r in chunk {
                    blocks.push(r.publicity.as_ref().map(|x| x.block.as_str()));
                    ends.push(r.publicity.as_ref().and_then(|x| x.planned_end.as_deref()));
                    end_months.push(r.publicity.as_ref().and_then(|x| x.planned_end_month()));
                    held.push(r.publicity.as_ref().is_some_and(|x| x.held) as i64);
                    decisions.push(r.decision_key.as_deref());
                    backfills.push(i32::from(r.backfill));
                    let (d, s, p) = deadline_columns(r);
                    deadlines.push(d);
                    soon.push(s);
                    provisional.push(p);
                    keys.push(r.business_key.as_str());
                    hashes.push(r.content_hash.as_str());
                    contents.push(r.content.as_str());
                    dates.push(r.decision_date.as_deref());
                    regions.push(r.region.as_deref());
                    lines.push(r.line as i64);
                }
                let versions = sqlx::query_as::<_, (i64, i64)>(PG_UPSERT)
                    .bind(&self.item)
                    .bind(&self.department)
                    .bind(self.run_id)
                    .bind(&self.now)
                    .bind(keys)
                    .bind(hashes)
                    .bind(contents)
                    .bind(dates)
                    .bind(regions)
                    .bind(lines)
                    .bind(deadlines)
                    .bind(soon)
                    .bind(provisional)
                    .bind(blocks)
                    .bind(ends)
                    .bind(held)
                    .bind(decisions)
                    .bind(backfills)
                    .bind(end_months)
                    .fetch_all(&mut **c)
                    .await?;
                let (ids, changed): (Vec<i64>, Vec<i64>) = versions.iter().filter(|(_, v)| *v > 1).copied().unzip();
                if !ids.is_empty() {
                    sqlx::query(PG_SUPERSEDE).bind(ids).bind(changed).bind(&self.now).execute(&mut **c).await?;
                }
                versions
            }
        };
        let inserted = versions.iter().filter(|(_, v)| *v == 1).count() as u64;
        let new_versions = versions.len() as u64 - inserted;
        Ok(WriteCounts { inserted, new_versions, unchanged: chunk.len() as u64 - versions.len() as u64 })
    }

    /// The lower deliveries of (business key, destination) pairs, for records this run wrote
    /// (`ingest_run_id`): an unchanged record keeps the run that wrote it, so it is left out.
    /// Added as new, or as a change where the destination accepted an earlier version.
    async fn queue_lower(&mut self, pairs: &[(&str, &str)]) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let now = literal(&self.now);
        let mut sql = String::with_capacity(512 + pairs.len() * 48);
        sql.push_str("WITH d(business_key, destination) AS (VALUES ");
        for (i, (key, destination)) in pairs.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("({},{})", literal(key), literal(destination)));
        }
        sql.push_str(concat!(") ", outbox_insert!(), "SELECT v.id, v.version, d.destination, ", outbox_operation!()));
        sql.push_str(&format!(
            ", v.id || ':' || v.version || ':' || d.destination, 'pending', {now}, {now}, {now} \
             FROM d JOIN records v ON v.item = {} AND v.business_key = d.business_key \
             WHERE v.ingest_run_id = {} ORDER BY v.id, d.destination \
             ON CONFLICT (record_id, destination, version, operation, source) DO NOTHING",
            literal(&self.item),
            self.run_id
        ));
        match &mut self.conn {
            Conn::Sqlite(c) => {
                (&mut **c).execute(sqlx::raw_sql(&sql)).await?;
            }
            Conn::Postgres(c) => {
                (&mut **c).execute(sqlx::raw_sql(&sql)).await?;
            }
        }
        Ok(())
    }

    async fn write_problems(&mut self, chunk: &[ProblemRow]) -> Result<(), StoreError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO row_problems (ingest_run_id, line, field, code, severity, reason, value) VALUES ",
        );
        let numbered = matches!(self.conn, Conn::Postgres(_));
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            if numbered {
                let p = 1 + i * 7;
                sql.push_str(&format!("(${},${},${},${},${},${},${})", p, p + 1, p + 2, p + 3, p + 4, p + 5, p + 6));
            } else {
                // Anonymous parameters for SQLite: see `values_upsert_sql`.
                sql.push_str("(?,?,?,?,?,?,?)");
            }
        }
        macro_rules! bind_all {
            ($c:expr) => {{
                let mut q = sqlx::query(&sql);
                for p in chunk {
                    q = q
                        .bind(self.run_id)
                        .bind(p.line as i64)
                        .bind(&p.field)
                        .bind(p.code)
                        .bind(p.severity)
                        .bind(&p.reason)
                        .bind(&p.value);
                }
                q.execute(&mut **$c).await?;
            }};
        }
        match &mut self.conn {
            Conn::Sqlite(c) => bind_all!(c),
            Conn::Postgres(c) => bind_all!(c),
        }
        Ok(())
    }
}

/// SQLite: the deliveries of a chunk's new versions `(id, version)`, right after the upsert
/// that stored them, on the same connection and in the same transaction. The ids are the
/// store's own integers, written as literals.
async fn queue_deliveries_sqlite(
    c: &mut PoolConnection<Sqlite>,
    versions: &[(i64, i64)],
    item: &str,
    now: &str,
) -> Result<(), StoreError> {
    if versions.is_empty() {
        return Ok(());
    }
    let now = literal(now);
    let changed: Vec<String> = versions.iter().filter(|(_, v)| *v > 1).map(|(id, _)| id.to_string()).collect();
    if !changed.is_empty() {
        let sql = format!(
            "UPDATE deliveries SET status = 'superseded', updated_at = {now} \
             WHERE source = 'record' AND status = 'pending' AND record_id IN ({})",
            changed.join(",")
        );
        (&mut **c).execute(sqlx::raw_sql(&sql)).await?;
    }
    let mut sql = String::with_capacity(512 + versions.len() * 24);
    sql.push_str("WITH v(id, version) AS (VALUES ");
    for (i, (id, version)) in versions.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("({id},{version})"));
    }
    sql.push_str(concat!(") ", outbox_insert!(), "SELECT v.id, v.version, d.destination, ", outbox_operation!()));
    sql.push_str(&format!(
        ", v.id || ':' || v.version || ':' || d.destination, 'pending', {now}, {now}, {now} \
         FROM v JOIN destination_items d ON d.item = {} ORDER BY v.id, d.destination",
        literal(item)
    ));
    (&mut **c).execute(sqlx::raw_sql(&sql)).await?;
    Ok(())
}

/// The deadline columns of a record: deadline, due-soon day, provisional flag.
fn deadline_columns(r: &PreparedRecord) -> (Option<String>, Option<String>, i32) {
    match &r.deadline {
        Some(d) => {
            (Some(iso_date::format(d.deadline)), Some(iso_date::format(d.due_soon_from)), i32::from(d.provisional))
        }
        None => (None, None, 0),
    }
}

/// `INSERT … VALUES (…), (…) ON CONFLICT …` for `n` rows, with anonymous `?` parameters:
/// sqlx looks every parameter's name up, and SQLite finds a name by a linear scan, so
/// numbered parameters make a 500-row statement quadratic. The run's constants (item,
/// department, run, time) are SQL literals: binding them on every row costs an allocation each.
fn values_upsert_sql(n: usize, item: &str, department: &str, run_id: i64, now: &str) -> String {
    let row = format!(
        "({},{},{run_id},{now},{now},1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        literal(item),
        literal(department),
        now = literal(now)
    );
    let mut sql = String::with_capacity(UPSERT_HEAD.len() + UPSERT_TAIL.len() + n * (row.len() + 1) + 8);
    sql.push_str(UPSERT_HEAD);
    sql.push_str("VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    sql.push_str(UPSERT_TAIL);
    sql
}

/// A SQL string literal: quotes doubled, so any text is safe inside it.
pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
