//! Objections (异议): the cases, each step in one transaction with the deliveries it leads to
//! (a suspension's or an upheld objection's 撤销, a rejected suspension's re-publication).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Store, StoreError, on_pool};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const COLUMNS: &str = "id, record_id, department, item, ground, applicant, contact, text, received_on, routed_on, \
     due_on, due_soon_from, due_provisional <> 0 AS due_provisional, suspended <> 0 AS suspended, status, outcome, \
     answer_text, answered_on, answered_by, record_version, reply_text, replied_on, closed_on, registered_by, created_at";

/// One objection as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ObjectionRow {
    pub id: i64,
    pub record_id: i64,
    pub department: String,
    pub item: String,
    pub ground: String,
    pub applicant: String,
    pub contact: Option<String>,
    pub text: String,
    pub received_on: String,
    pub routed_on: String,
    pub due_on: String,
    pub due_soon_from: String,
    pub due_provisional: bool,
    pub suspended: bool,
    pub status: String,
    pub outcome: Option<String>,
    pub answer_text: Option<String>,
    pub answered_on: Option<String>,
    pub answered_by: Option<String>,
    pub record_version: i64,
    pub reply_text: Option<String>,
    pub replied_on: Option<String>,
    pub closed_on: Option<String>,
    pub registered_by: String,
    pub created_at: String,
}

/// A new case, routed at once to the department that provided the record.
#[derive(Debug, Clone)]
pub struct NewObjection<'a> {
    pub record_id: i64,
    pub ground: &'a str,
    pub applicant: &'a str,
    pub contact: Option<&'a str>,
    pub text: &'a str,
    pub received_on: NaiveDate,
    pub due_on: NaiveDate,
    pub due_soon_from: NaiveDate,
    pub due_provisional: bool,
    pub suspend: bool,
    pub registered_by: &'a str,
}

/// The department's answer.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    pub upheld: bool,
    pub outcome: Option<&'a str>,
    /// The answer takes the record off the platforms (an upheld withdrawal or repair).
    pub withdraw: bool,
    pub text: &'a str,
    pub on: NaiveDate,
    pub by: &'a str,
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct ObjectionFilter<'a> {
    pub department: Option<&'a str>,
    pub status: Option<&'a str>,
    pub record_id: Option<i64>,
}

/// A record an objection can name, as found by its id or decision number.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ObjectedRecord {
    pub id: i64,
    pub item: String,
    pub department: String,
    pub version: i64,
}

/// Deliveries that take a record off every platform that has it published, or put it back.
/// `suspend` and `resume` are pushed as 撤销 and 新增; one case's key differs from another's,
/// so a second objection against the same version suspends it again.
fn queue_sql(operation: &str) -> String {
    let published = match operation {
        // Put back only where the suspension was accepted.
        "resume" => "SELECT DISTINCT record_id, destination FROM deliveries WHERE source = 'record' \
                     AND operation = 'suspend' AND status = 'accepted' AND record_id = $1"
            .to_string(),
        // Take off only where it is published now.
        _ => super::publicity::published_at("$1"),
    };
    // A withdrawal already queued (at publicity end, by a repair) stands; a suspension or
    // re-publication of an earlier case is queued again under this case's key.
    let conflict = match operation {
        "withdraw" => "DO NOTHING",
        _ => {
            "DO UPDATE SET idempotency_key = excluded.idempotency_key, status = 'pending', attempts = 0, \
              next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at, done_at = NULL, \
              last_error = NULL, rule = NULL, reason = NULL \
              WHERE deliveries.idempotency_key <> excluded.idempotency_key AND deliveries.status <> 'in_flight'"
        }
    };
    format!(
        "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, next_attempt_at, \
         created_at, updated_at) \
         SELECT r.id, r.version, a.destination, '{operation}', \
         r.id || ':' || r.version || ':{operation}:' || a.destination || ':o' || $2, 'pending', $3, $3, $3 \
         FROM records r JOIN ({published}) a ON a.record_id = r.id WHERE r.id = $1 \
         ON CONFLICT (record_id, destination, version, operation, source) {conflict}"
    )
}

impl Store {
    /// A record by its id.
    pub async fn objected_record(&self, id: i64) -> Result<Option<ObjectedRecord>, StoreError> {
        const SQL: &str = "SELECT id, item, department, version FROM records WHERE id = $1";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }

    /// Records whose field `field` of `item` is `number` (a decision number, a subject's code or name).
    pub async fn records_by_document(
        &self,
        item: &str,
        field: &str,
        number: &str,
    ) -> Result<Vec<ObjectedRecord>, StoreError> {
        let doc = match self.db() {
            Db::Sqlite(_) => "json_extract(content, '$.' || $2)",
            Db::Postgres(_) => "(content::jsonb ->> $2)",
        };
        let sql =
            format!("SELECT id, item, department, version FROM records WHERE item = $1 AND {doc} = $3 ORDER BY id");
        Ok(on_pool!(self.db(), pool => sqlx::query_as(&sql).bind(item).bind(field).bind(number).fetch_all(pool).await?))
    }

    /// Registers a case (and, when it suspends publication, the withdrawals) in one transaction.
    pub async fn add_objection(&self, o: &NewObjection<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
        const INSERT: &str = "INSERT INTO objections (record_id, department, item, ground, applicant, contact, text, \
             received_on, routed_on, due_on, due_soon_from, due_provisional, suspended, status, record_version, \
             registered_by, created_at, updated_at) \
             SELECT r.id, r.department, r.item, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, 'open', r.version, $11, $12, $12 \
             FROM records r WHERE r.id = $1 RETURNING id";
        let now_s = ts(now);
        let suspend = queue_sql("suspend");
        Ok(on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(INSERT)
                .bind(o.record_id)
                .bind(o.ground)
                .bind(o.applicant)
                .bind(o.contact)
                .bind(o.text)
                .bind(o.received_on.to_string())
                .bind(o.due_on.to_string())
                .bind(o.due_soon_from.to_string())
                .bind(i64::from(o.due_provisional))
                .bind(i64::from(o.suspend))
                .bind(o.registered_by)
                .bind(&now_s)
                .fetch_one(&mut *tx)
                .await?;
            if o.suspend {
                sqlx::query(&suspend).bind(o.record_id).bind(id.to_string()).bind(&now_s).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        }))
    }

    pub async fn objection(&self, id: i64) -> Result<Option<ObjectionRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM objections WHERE id = $1");
        Ok(on_pool!(self.db(), pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// Cases, newest first.
    pub async fn objections(&self, f: &ObjectionFilter<'_>) -> Result<Vec<ObjectionRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM objections WHERE ($1 IS NULL OR department = $1) AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR record_id = $3) ORDER BY id DESC"
        );
        Ok(on_pool!(self.db(), pool => sqlx::query_as(&sql)
            .bind(f.department).bind(f.status).bind(f.record_id).fetch_all(pool).await?))
    }

    /// Of these records, those with an objection not yet answered (异议处理中).
    pub async fn records_under_objection(&self, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT DISTINCT record_id FROM objections WHERE status = 'open' AND record_id IN ({list})");
        Ok(on_pool!(self.db(), pool => sqlx::query_scalar(&sql).fetch_all(pool).await?))
    }

    /// Records the answer if the case is still open; `false` when another answer came first.
    /// An upheld withdrawal takes the record off (unless the suspension already did); a
    /// rejected suspended case puts it back.
    pub async fn answer_objection(&self, id: i64, a: &Answer<'_>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        const UPDATE: &str = "UPDATE objections SET status = $2, outcome = $3, answer_text = $4, answered_on = $5, \
             answered_by = $6, updated_at = $7 WHERE id = $1 AND status = 'open' RETURNING record_id, suspended <> 0";
        let now_s = ts(now);
        let status = if a.upheld { "upheld" } else { "rejected" };
        let (withdraw, resume) = (queue_sql("withdraw"), queue_sql("resume"));
        Ok(on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            let row: Option<(i64, bool)> = sqlx::query_as(UPDATE)
                .bind(id)
                .bind(status)
                .bind(a.outcome)
                .bind(a.text)
                .bind(a.on.to_string())
                .bind(a.by)
                .bind(&now_s)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((record_id, suspended)) = row else { return Ok(false) };
            let queue = match (a.upheld, suspended) {
                (true, false) if a.withdraw => Some(&withdraw),
                (false, true) => Some(&resume),
                _ => None,
            };
            if let Some(sql) = queue {
                sqlx::query(sql).bind(record_id).bind(id.to_string()).bind(&now_s).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            true
        }))
    }

    /// Records the office's reply to the applicant, once, after the answer.
    pub async fn reply_objection(
        &self,
        id: i64,
        text: &str,
        on: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE objections SET reply_text = $2, replied_on = $3, updated_at = $4 \
             WHERE id = $1 AND status IN ('upheld', 'rejected') AND replied_on IS NULL";
        let n = on_pool!(self.db(), pool => sqlx::query(SQL)
            .bind(id).bind(text).bind(on.to_string()).bind(ts(now)).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Closes a replied case.
    pub async fn close_objection(&self, id: i64, on: NaiveDate, now: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE objections SET status = 'closed', closed_on = $2, updated_at = $3 \
             WHERE id = $1 AND status IN ('upheld', 'rejected') AND replied_on IS NOT NULL";
        let n = on_pool!(self.db(), pool => sqlx::query(SQL)
            .bind(id).bind(on.to_string()).bind(ts(now)).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// The deliveries an objection caused, for its page: (destination, operation, status).
    pub async fn objection_deliveries(
        &self,
        id: i64,
        record_id: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        const SQL: &str = "SELECT destination, operation, status FROM deliveries WHERE record_id = $1 \
             AND source = 'record' AND idempotency_key LIKE '%:o' || $2 ORDER BY id";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(record_id).bind(id.to_string()).fetch_all(pool).await?))
    }

    /// Other records of the same decision (item and decision key) as `record_id`: what a
    /// 重复公示 objection is about.
    pub async fn same_decision_records(&self, record_id: i64) -> Result<Vec<i64>, StoreError> {
        const RECORD: &str = "SELECT item, decision_key FROM records WHERE id = $1 AND decision_key IS NOT NULL";
        let found: Option<(String, String)> =
            on_pool!(self.db(), pool => sqlx::query_as(RECORD).bind(record_id).fetch_optional(pool).await?);
        let Some((item, decision_key)) = found else { return Ok(Vec::new()) };
        // A decision's records share their business key's prefix (see store::decisions).
        const SQL: &str = "SELECT id FROM records WHERE item = $1 AND business_key >= $2 \
             AND business_key < substr($2, 1, length($2) - 1) || ' ' AND decision_key = $3 AND id <> $4 ORDER BY id";
        let prefix = crate::record::decision_key_prefix(&decision_key);
        Ok(on_pool!(self.db(), pool => sqlx::query_scalar(SQL)
            .bind(&item).bind(&prefix).bind(&decision_key).bind(record_id).fetch_all(pool).await?))
    }

    /// The warnings the record's row was stored with (code, reason): what the gateway saw.
    pub async fn record_row_warnings(&self, record_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        const SQL: &str = "SELECT p.code, p.reason FROM records r JOIN row_problems p ON p.ingest_run_id = r.ingest_run_id \
             AND p.line = r.source_line WHERE r.id = $1 AND p.severity = 'warning' ORDER BY p.id";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(record_id).fetch_all(pool).await?))
    }

    /// The record's planned end of publicity, if it has one.
    pub async fn record_publicity_end(&self, record_id: i64) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT publicity_end FROM records WHERE id = $1";
        Ok(on_pool!(self.db(), pool => sqlx::query_scalar::<_, Option<String>>(SQL)
            .bind(record_id).fetch_optional(pool).await?)
        .flatten())
    }
}
