//! The store: the single source of truth, on SQLite (embedded default) or PostgreSQL.
//!
//! Only this module speaks SQL. One schema, two backends: statements are written once with
//! `$n` parameters, which both SQLite and PostgreSQL understand; where a backend has a much
//! faster path (PostgreSQL `COPY`), the writer uses it.

mod chase;
mod connectors;
mod credit_figures;
mod deadlines;
mod decisions;
mod deliveries;
mod feeds;
mod health;
mod missing;
mod objections;
mod publicity;
mod record_list;
mod records;
pub mod scratch;
mod subject_file;
mod subjects;
mod web;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use chase::{Cause, ChaseLine, PushOutage, ReturnFilter, ReturnedRecord};
pub use connectors::{ConnectorHealth, IngestedFile, PassOutcome};
pub use deadlines::{DeadlineFilter, DeadlineRow, Figures, LedgerEntry};
pub use decisions::CheckedWrite;
pub use deliveries::{Claimed, DeliveryRow, Outcome, ReturnRow};
pub use feeds::{FeedCounts, FeedRecordRow, FeedRejectRow, FeedStateRow, RepairClock, RepairRow, RoutedRecord};
pub use missing::{MissingDecision, MissingFilter};
pub use objections::{Answer, NewObjection, ObjectedRecord, ObjectionFilter, ObjectionRow};
pub use publicity::{EarlyEnd, EarlyEndRow, PUBLICITY_DUE, PublicityPass, PublicityRow, WithdrawalRow};
pub use record_list::{ListFilter, ListKey, ListOrder, ListRow, ListStatus};
pub use records::{ProblemRow, RecordRow, RecordWriter, RunProblem, WriteCounts};
pub use subject_file::{
    FILE_LIMIT as SUBJECT_FILE_LIMIT, FileFeedRecord, FileRecord, GradeRow, GradingRow, SubjectHit, join_ids, split_ids,
};
pub use web::{AuditRow, DepartmentCounts, InvalidRow, OverviewCounts, PushRow, RecordDetail, RunRow, UserRow};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    /// Something stored is not as this version keeps it, or the system could not give what a
    /// stored value needs (randomness).
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression on whichever pool the store has.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// How to open one more connection to a SQLite file (readiness proves a write through a
    /// new connection); `None` on PostgreSQL and for in-memory databases.
    sqlite_file: Option<SqliteConnectOptions>,
}

/// What is known when an ingest starts.
#[derive(Debug, Clone)]
pub struct IngestRunStart<'a> {
    pub connector: &'a str,
    pub department: &'a str,
    pub item: &'a str,
    pub source: &'a str,
    pub fingerprint: Option<&'a str>,
    /// The configuration the run's outcome comes from (see `Settings::rules_hash`).
    pub config_hash: &'a str,
    pub started_at: &'a str,
}

/// How an ingest ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestCounts {
    pub rows: u64,
    pub accepted: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Done,
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }
}

impl Store {
    /// Opens the database named by `url`, creating it (and its folder) if needed, and
    /// brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let mut sqlite_file = None;
        let db = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // Readers share a modest page cache each; the bulk writer raises its own.
                .pragma("cache_size", "-32768")
                .pragma("temp_store", "memory")
                .log_slow_statements(log::LevelFilter::Info, Duration::from_secs(5));
            if let Some(parent) = opts.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|source| StoreError::Folder { path: parent.display().to_string(), source })?;
            }
            if !(url.contains(":memory:") || url.contains("mode=memory")) {
                sqlite_file = Some(opts.clone());
            }
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts =
                PgConnectOptions::from_str(url)?.log_slow_statements(log::LevelFilter::Info, Duration::from_secs(5));
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Store { db, sqlite_file })
    }

    /// The schema migrations applied to this database, oldest first: (version, description,
    /// when applied).
    pub async fn applied_migrations(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = match &self.db {
            Db::Sqlite(pool) => {
                const SQL: &str = "SELECT version, description, strftime('%Y-%m-%dT%H:%M:%SZ', installed_on) FROM _sqlx_migrations ORDER BY version";
                sqlx::query_as(SQL).fetch_all(pool).await?
            }
            Db::Postgres(pool) => {
                const SQL: &str = "SELECT version, description, to_char(installed_on AT TIME ZONE 'UTC', \
                                   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM _sqlx_migrations ORDER BY version";
                sqlx::query_as(SQL).fetch_all(pool).await?
            }
        };
        Ok(rows)
    }

    /// Opens (and creates) the SQLite database in a file: for tools and tests.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        Store::connect(&format!("sqlite://{}", path.display())).await
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub async fn close(&self) {
        on_pool!(&self.db, pool => pool.close().await)
    }

    pub async fn start_ingest(&self, run: &IngestRunStart<'_>) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO ingest_runs (connector, department, item, source, fingerprint, status, started_at, holder, config_hash) \
                           VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8) RETURNING id";
        let id: i64 = on_pool!(&self.db, pool => sqlx::query_scalar(SQL)
            .bind(run.connector)
            .bind(run.department)
            .bind(run.item)
            .bind(run.source)
            .bind(run.fingerprint)
            .bind(run.started_at)
            .bind(crate::service::instance_id())
            .bind(run.config_hash)
            .fetch_one(pool)
            .await?);
        Ok(id)
    }

    /// The runs still `running`, each with the process that started it (none before that was
    /// noted).
    pub async fn running_ingests(&self) -> Result<Vec<(i64, Option<String>)>, StoreError> {
        const SQL: &str = "SELECT id, holder FROM ingest_runs WHERE status = 'running' ORDER BY id";
        Ok(on_pool!(&self.db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
    }

    /// Closes a run its process left `running` when it died: `interrupted`, with the reason.
    /// Its committed rows stay; its problems are no longer listed, since the file it was
    /// taking is taken again whole (and a one-shot ingest is run again).
    pub async fn close_interrupted_ingest(&self, id: i64, reason: &str, finished_at: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE ingest_runs SET status = 'interrupted', error = $2, finished_at = $3 \
                           WHERE id = $1 AND status = 'running'";
        let closed = on_pool!(&self.db, pool => sqlx::query(SQL)
            .bind(id)
            .bind(reason)
            .bind(finished_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())?);
        Ok(closed == 1)
    }

    /// Marks a finished run `changed`: its file changed while it was read, so it is not a
    /// complete ingest of any content (never a duplicate's original, its problems not listed);
    /// the file is taken again from its new content.
    pub async fn mark_run_changed(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE ingest_runs SET status = 'changed', error = $2 WHERE id = $1";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(id).bind(reason).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Notes where run `id`'s error report goes and why it could not be written (`None`: written).
    pub async fn set_run_report(&self, id: i64, path: &str, error: Option<&str>) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE ingest_runs SET report_path = $2, report_error = $3 WHERE id = $1";
        on_pool!(&self.db, pool => sqlx::query(SQL).bind(id).bind(path).bind(error).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The runs of `connector` whose error report is still to be written: (run, report path, why not yet).
    pub async fn pending_reports(&self, connector: &str) -> Result<Vec<(i64, String, String)>, StoreError> {
        const SQL: &str = "SELECT id, report_path, report_error FROM ingest_runs \
                           WHERE connector = $1 AND report_error IS NOT NULL AND report_path IS NOT NULL ORDER BY id";
        Ok(on_pool!(&self.db, pool => sqlx::query_as(SQL).bind(connector).fetch_all(pool).await?))
    }

    pub async fn finish_ingest(
        &self,
        id: i64,
        counts: &IngestCounts,
        status: RunStatus,
        error: Option<&str>,
        sheet: Option<&str>,
        finished_at: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE ingest_runs SET status = $2, error = $3, rows_read = $4, accepted = $5, \
                           new_versions = $6, unchanged = $7, rejected = $8, skipped = $9, sheet = $10, finished_at = $11 \
                           WHERE id = $1";
        on_pool!(&self.db, pool => sqlx::query(SQL)
            .bind(id)
            .bind(status.as_str())
            .bind(error)
            .bind(counts.rows as i64)
            .bind(counts.accepted as i64)
            .bind(counts.new_versions as i64)
            .bind(counts.unchanged as i64)
            .bind(counts.rejected as i64)
            .bind(counts.skipped as i64)
            .bind(sheet)
            .bind(finished_at)
            .execute(pool)
            .await
            .map(|_| ())?);
        Ok(())
    }
}

/// `sqlite://data/x.db` is taken relative to base_dir, not to whatever folder the daemon runs in.
pub fn absolute_sqlite_url(url: &str, base_dir: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return url.to_string();
    };
    let (path, query) = rest.split_once('?').map_or((rest, None), |(p, q)| (p, Some(q)));
    if path.is_empty() || path == ":memory:" || Path::new(path).is_absolute() {
        return url.to_string();
    }
    let abs = base_dir.join(path);
    match query {
        Some(q) => format!("sqlite://{}?{q}", abs.display()),
        None => format!("sqlite://{}", abs.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_urls_are_anchored_at_the_base_dir() {
        let base = Path::new("/srv/gw");
        assert_eq!(absolute_sqlite_url("sqlite://data/gateway.db", base), "sqlite:///srv/gw/data/gateway.db");
        assert_eq!(absolute_sqlite_url("sqlite://data/g.db?mode=rwc", base), "sqlite:///srv/gw/data/g.db?mode=rwc");
        assert_eq!(absolute_sqlite_url("sqlite:///abs/g.db", base), "sqlite:///abs/g.db");
        assert_eq!(
            absolute_sqlite_url("postgres://postgres@127.0.0.1/test", base),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
