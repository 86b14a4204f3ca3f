//! What the web side reads and keeps: users, their sessions and API tokens, the audit log,
//! and the overview's counts.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use super::{Store, StoreError, on_pool};

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

const UPSERT_USER: &str = "INSERT INTO web_users (name, role, department, password_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET role = excluded.role, \
     department = excluded.department, password_hash = excluded.password_hash";
const ADD_TOKEN: &str =
    "INSERT INTO web_tokens (token_hash, user_name, kind, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)";
const REVOKE_TOKENS: &str = "DELETE FROM web_tokens WHERE user_name = $1";

/// A dashboard or API user, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub department: Option<String>,
    pub password_hash: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub at: String,
    pub user_name: String,
    pub action: String,
    pub target: String,
}

/// The counts of the overview, for one department or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OverviewCounts {
    pub records: i64,
    pub overdue: i64,
    pub due_soon: i64,
    /// Accepted late in the current month.
    pub late: i64,
    /// Returned by a platform and not yet corrected.
    pub returned: i64,
    pub dead_letters: i64,
}

/// Per department: all-time records, 迟报 and open counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DepartmentCounts {
    pub department: String,
    pub records: i64,
    pub on_time: i64,
    pub late: i64,
    /// Overdue and charged to the department (部门未报送, 已退回待补正).
    pub overdue: i64,
    /// Overdue although it reached us in time: our push, not charged to the department.
    pub overdue_push: i64,
    pub returned: i64,
}

/// One record with everything its lineage page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecordDetail {
    pub id: i64,
    pub item: String,
    pub business_key: String,
    pub department: String,
    pub version: i64,
    pub content: String,
    pub decision_date: Option<String>,
    pub deadline: Option<String>,
    pub deadline_provisional: bool,
    pub reported_at: Option<String>,
    pub reported_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub source_line: i64,
    /// The file, URL and page, or table the current version came from.
    pub source: String,
    pub connector: String,
    pub ingest_run_id: i64,
}

/// An invalid row of a department's file, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct InvalidRow {
    pub ingest_run_id: i64,
    pub department: String,
    pub item: String,
    pub source: String,
    pub line: i64,
    pub field: Option<String>,
    pub code: String,
    pub reason: String,
    pub value: Option<String>,
    pub at: String,
}

/// One ingest run, for the connectors page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunRow {
    pub id: i64,
    pub connector: String,
    pub department: String,
    pub source: String,
    pub status: String,
    pub rows_read: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why its error report could not be written yet (the connector writes it again later).
    pub report_error: Option<String>,
}

/// A delivery of one record, for its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PushRow {
    pub destination: String,
    pub version: i64,
    pub operation: String,
    pub status: String,
    pub attempts: i64,
    pub pushed_at: Option<String>,
    pub package_id: Option<String>,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: String,
}

impl Store {
    pub async fn record_detail(&self, id: i64) -> Result<Option<RecordDetail>, StoreError> {
        const SQL: &str = "SELECT r.id, r.item, r.business_key, r.department, r.version, r.content, r.decision_date, \
             r.deadline, r.deadline_provisional <> 0 AS deadline_provisional, r.reported_at, r.reported_on, \
             r.created_at, r.updated_at, r.source_line, i.source, i.connector, r.ingest_run_id \
             FROM records r JOIN ingest_runs i ON i.id = r.ingest_run_id WHERE r.id = $1";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }

    /// Every delivery of a record, newest first.
    pub async fn record_pushes(&self, record_id: i64) -> Result<Vec<PushRow>, StoreError> {
        const SQL: &str = "SELECT destination, version, operation, status, attempts, pushed_at, package_id, rule, \
             reason, last_error, updated_at FROM deliveries WHERE record_id = $1 AND source = 'record' ORDER BY id DESC";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(record_id).fetch_all(pool).await?))
    }

    /// The newest invalid rows (errors, not warnings), for one department or all; not those of
    /// interrupted runs or runs whose file changed while read: their files are taken again.
    pub async fn invalid_rows(&self, department: Option<&str>, limit: i64) -> Result<Vec<InvalidRow>, StoreError> {
        const SQL: &str = "SELECT p.ingest_run_id, i.department, i.item, i.source, p.line, p.field, p.code, p.reason, \
             p.value, i.started_at AS at FROM row_problems p JOIN ingest_runs i ON i.id = p.ingest_run_id \
             WHERE p.severity = 'error' AND i.status NOT IN ('interrupted', 'changed') AND ($1 IS NULL OR i.department = $1) \
             ORDER BY p.id DESC LIMIT $2";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(department).bind(limit).fetch_all(pool).await?))
    }

    /// The newest ingest runs, for one department or all.
    pub async fn recent_runs(&self, department: Option<&str>, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        const SQL: &str = "SELECT id, connector, department, source, status, rows_read, accepted, rejected, \
             started_at, finished_at, report_error FROM ingest_runs WHERE ($1 IS NULL OR department = $1) ORDER BY id DESC LIMIT $2";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(department).bind(limit).fetch_all(pool).await?))
    }

    /// Writes `user` (new or not), ends every session and token it had, and keeps one new API
    /// token valid until `api_expires`, in one transaction: a token given under an old role
    /// never works under the new one.
    pub async fn replace_user(
        &self,
        user: &UserRow,
        api_token_hash: &str,
        api_expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(UPSERT_USER)
                .bind(&user.name).bind(&user.role).bind(&user.department).bind(&user.password_hash).bind(stamp(now))
                .execute(&mut *tx).await?;
            sqlx::query(REVOKE_TOKENS).bind(&user.name).execute(&mut *tx).await?;
            sqlx::query(ADD_TOKEN)
                .bind(api_token_hash).bind(&user.name).bind("api").bind(stamp(api_expires)).bind(stamp(now))
                .execute(&mut *tx).await?;
            tx.commit().await?
        });
        Ok(())
    }

    /// Ends every session and API token of `user`; how many there were.
    pub async fn revoke_tokens(&self, user: &str) -> Result<u64, StoreError> {
        Ok(on_pool!(self.db(), pool => sqlx::query(REVOKE_TOKENS).bind(user).execute(pool).await?.rows_affected()))
    }

    /// Removes `name` with its sessions and tokens; false when there was no such user.
    pub async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(REVOKE_TOKENS).bind(name).execute(&mut *tx).await?;
            let removed = sqlx::query("DELETE FROM web_users WHERE name = $1").bind(name).execute(&mut *tx).await?;
            tx.commit().await?;
            removed.rows_affected() > 0
        }))
    }

    pub async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        const SQL: &str = "SELECT name, role, department, password_hash FROM web_users WHERE name = $1";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(name).fetch_optional(pool).await?))
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        const SQL: &str = "SELECT name, role, department, password_hash FROM web_users ORDER BY name";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).fetch_all(pool).await?))
    }

    /// Keeps the hash of a new session or API token.
    pub async fn add_token(
        &self,
        token_hash: &str,
        user: &str,
        kind: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self.db(), pool => sqlx::query(ADD_TOKEN)
            .bind(token_hash).bind(user).bind(kind).bind(expires_at.map(stamp)).bind(stamp(now))
            .execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The user a token hash belongs to, unless it has expired (a token without an end is
    /// refused: migration 0010 gave every older API token one).
    pub async fn token_user(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserRow>, StoreError> {
        const SQL: &str = "SELECT u.name, u.role, u.department, u.password_hash FROM web_tokens t \
             JOIN web_users u ON u.name = t.user_name \
             WHERE t.token_hash = $1 AND t.expires_at > $2";
        Ok(
            on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(token_hash).bind(stamp(now)).fetch_optional(pool).await?),
        )
    }

    pub async fn remove_token(&self, token_hash: &str) -> Result<(), StoreError> {
        on_pool!(self.db(), pool => sqlx::query("DELETE FROM web_tokens WHERE token_hash = $1")
            .bind(token_hash).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn audit(&self, user: &str, action: &str, target: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO audit_log (at, user_name, action, target) VALUES ($1, $2, $3, $4)";
        on_pool!(self.db(), pool => sqlx::query(SQL)
            .bind(stamp(now)).bind(user).bind(action).bind(target).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The newest audit lines first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        const SQL: &str = "SELECT at, user_name, action, target FROM audit_log ORDER BY id DESC LIMIT $1";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(limit).fetch_all(pool).await?))
    }

    /// Today's open counts and this month's lateness, for one department or all.
    pub async fn overview_counts(
        &self,
        today: NaiveDate,
        department: Option<&str>,
    ) -> Result<OverviewCounts, StoreError> {
        let today_s = today.to_string();
        let month = &today_s[..7];
        let next_month = today
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .map(|d| d.to_string())
            .unwrap_or_else(|| "9999".into());
        const OPEN: &str = "SELECT \
             COALESCE(SUM(CASE WHEN deadline < $1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deadline >= $1 AND due_soon_from <= $1 THEN 1 ELSE 0 END), 0) \
             FROM records WHERE reported_on IS NULL AND deadline IS NOT NULL AND ($2 IS NULL OR department = $2)";
        const LATE: &str = "SELECT COUNT(*) FROM records WHERE reported_on IS NOT NULL AND reported_on >= $1 \
             AND reported_on < $2 AND reported_on > deadline AND backfill = 0 AND ($3 IS NULL OR department = $3)";
        const TOTALS: &str =
            "SELECT COUNT(*), COALESCE(SUM(returned), 0) FROM records WHERE ($1 IS NULL OR department = $1)";
        const DEAD: &str = "SELECT COUNT(*) FROM deliveries d JOIN records r ON r.id = d.record_id \
             WHERE d.status = 'dead' AND d.source = 'record' AND ($1 IS NULL OR r.department = $1)";
        let (overdue, due_soon): (i64, i64) = on_pool!(self.db(), pool =>
            sqlx::query_as(OPEN).bind(&today_s).bind(department).fetch_one(pool).await?);
        let late: i64 = on_pool!(self.db(), pool =>
            sqlx::query_scalar(LATE).bind(format!("{month}-01")).bind(&next_month).bind(department).fetch_one(pool).await?);
        let (records, returned): (i64, i64) = on_pool!(self.db(), pool =>
            sqlx::query_as(TOTALS).bind(department).fetch_one(pool).await?);
        let dead_letters: i64 = on_pool!(self.db(), pool =>
            sqlx::query_scalar(DEAD).bind(department).fetch_one(pool).await?);
        Ok(OverviewCounts { records, overdue, due_soon, late, returned, dead_letters })
    }

    /// Per department, as of `today`.
    pub async fn department_counts(
        &self,
        today: NaiveDate,
        department: Option<&str>,
    ) -> Result<Vec<DepartmentCounts>, StoreError> {
        // 补报 is neither on time nor late (SPEC §7); overdue split as 今日催办 splits it.
        let push = super::chase::Cause::Push.sql();
        let sql = format!(
            "SELECT department, COUNT(*) AS records, \
             COALESCE(SUM(CASE WHEN reported_on IS NOT NULL AND reported_on <= deadline AND backfill = 0 THEN 1 ELSE 0 END), 0) AS on_time, \
             COALESCE(SUM(CASE WHEN reported_on IS NOT NULL AND reported_on > deadline AND backfill = 0 THEN 1 ELSE 0 END), 0) AS late, \
             COALESCE(SUM(CASE WHEN reported_on IS NULL AND deadline < $1 AND NOT ({push}) THEN 1 ELSE 0 END), 0) AS overdue, \
             COALESCE(SUM(CASE WHEN reported_on IS NULL AND deadline < $1 AND {push} THEN 1 ELSE 0 END), 0) AS overdue_push, \
             COALESCE(SUM(returned), 0) AS returned \
             FROM records WHERE ($2 IS NULL OR department = $2) GROUP BY department ORDER BY department"
        );
        Ok(on_pool!(self.db(), pool =>
            sqlx::query_as(&sql).bind(today.to_string()).bind(department).fetch_all(pool).await?))
    }

    /// Deliveries per status, for the queue gauge.
    pub async fn delivery_status_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str = "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).fetch_all(pool).await?))
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self.db(), pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?);
        Ok(())
    }
}

use chrono::Datelike as _;
