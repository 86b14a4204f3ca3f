//! Pulling rows from a department's database (MySQL/MariaDB, PostgreSQL, SQLite).
//!
//! The configured query is wrapped so that rows come in `(cursor, key)` order after the
//! checkpoint, `batch_rows` at a time: `SELECT * FROM (<query>) src WHERE src.cursor > ? OR
//! (src.cursor = ? AND src.key > ?) ORDER BY src.cursor, src.key LIMIT n`. The key breaks
//! ties, so a batch boundary in the middle of equal cursor values neither skips nor repeats
//! a row. Each batch is written to the spool folder as CSV and ingested like a dropped file;
//! its last row is the checkpoint. The connection is read-only.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Column, ConnectOptions, Row};

use super::http::{clear_spool, write_atomically};
use super::{BoxFuture, Pulled, Source, SourceError};
use crate::clock::Clock;
use crate::issues::Issues;
use crate::secret::SecretSource;
use crate::store::absolute_sqlite_url;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    /// A URL without a password may stand here; one with a password goes in url_env/url_file.
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    url_env: Option<String>,
    #[serde(default)]
    url_file: Option<PathBuf>,
    query: String,
    cursor: String,
    #[serde(default)]
    cursor_type: ValueType,
    key: String,
    #[serde(default = "integer")]
    key_type: ValueType,
    #[serde(default = "default_batch")]
    batch_rows: u64,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
}

fn integer() -> ValueType {
    ValueType::Integer
}
fn default_batch() -> u64 {
    5_000
}
fn default_timeout() -> f64 {
    60.0
}

/// How a cursor or key value is compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    #[default]
    Timestamp,
    Integer,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Plain(String),
    Secret(SecretSource),
}

#[derive(Debug, Clone)]
pub struct SqlSettings {
    pub url: DbUrl,
    pub base_dir: PathBuf,
    pub query: String,
    pub cursor: String,
    pub cursor_type: ValueType,
    pub key: String,
    pub key_type: ValueType,
    pub batch_rows: u64,
    pub timeout: Duration,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SqlSpec {
    pub(super) fn check(self, base: &Path, file: &Path, issues: &mut Issues) -> Option<SqlSettings> {
        let before = issues.len();
        let url = match (self.url, SecretSource::from_keys(self.url_env, self.url_file.map(|f| base.join(f)))) {
            (Some(url), None) => {
                if reqwest::Url::parse(&url).is_ok_and(|u| u.password().is_some()) {
                    issues.push(
                        file,
                        "sql.url",
                        "a password must not stand in a connector file: use url_env or url_file",
                    );
                }
                if !["sqlite:", "mysql:", "mariadb:", "postgres:", "postgresql:"].iter().any(|p| url.starts_with(p)) {
                    issues.push(file, "sql.url", "expected a mysql://, postgres:// or sqlite:// URL");
                }
                Some(DbUrl::Plain(url))
            }
            (None, Some(secret)) => Some(DbUrl::Secret(secret)),
            _ => {
                issues.push(file, "sql.url", "give exactly one of url, url_env, url_file");
                None
            }
        };
        for (key, value) in [("sql.cursor", &self.cursor), ("sql.key", &self.key)] {
            if !is_identifier(value) {
                issues.push(file, key, "expected a plain column name (letters, digits, _)");
            }
        }
        let lower = self.query.trim_start().to_ascii_lowercase();
        if !(lower.starts_with("select") || lower.starts_with("with")) || self.query.contains(';') {
            issues.push(file, "sql.query", "expected one SELECT statement (no `;`)");
        }
        if self.batch_rows == 0 || self.batch_rows > 1_000_000 {
            issues.push(file, "sql.batch_rows", "expected 1 to 1000000");
        }
        if !(self.timeout_seconds > 0.0 && self.timeout_seconds <= 3600.0) {
            issues.push(file, "sql.timeout_seconds", "expected seconds between 0 and 3600");
        }
        if issues.len() > before {
            return None;
        }
        Some(SqlSettings {
            url: url?,
            base_dir: base.to_path_buf(),
            query: self.query,
            cursor: self.cursor,
            cursor_type: self.cursor_type,
            key: self.key,
            key_type: self.key_type,
            batch_rows: self.batch_rows,
            timeout: Duration::from_secs_f64(self.timeout_seconds),
        })
    }
}

/// The last row committed: `(cursor, key)` as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlCheckpoint {
    pub cursor: String,
    pub key: String,
}

/// Binds the checkpoint `(cursor, cursor, key)` with the types the database compares by.
macro_rules! bind_after {
    ($query:expr, $after:expr, $settings:expr, $mode:ident) => {{
        let query = $query;
        match $after {
            None => query,
            Some(a) => {
                let query = bind_after!(@one query, &a.cursor, $settings.cursor_type, $mode)?;
                let query = bind_after!(@one query, &a.cursor, $settings.cursor_type, $mode)?;
                bind_after!(@one query, &a.key, $settings.key_type, $mode)?
            }
        }
    }};
    (@one $query:expr, $value:expr, $ty:expr, sqlite) => {{
        // SQLite compares stored text with text and numbers with numbers.
        let value: &String = $value;
        match $ty {
            ValueType::Integer => value.parse::<i64>().map(|v| $query.bind(v)).map_err(|_| SourceError::Checkpoint(value.clone())),
            _ => Ok::<_, SourceError>($query.bind(value.clone())),
        }
    }};
    (@one $query:expr, $value:expr, $ty:expr, typed) => {{
        let value: &String = $value;
        let bad = || SourceError::Checkpoint(value.clone());
        match $ty {
            ValueType::Integer => value.parse::<i64>().map(|v| $query.bind(v)).map_err(|_| bad()),
            ValueType::Timestamp => parse_timestamp(value).map(|v| $query.bind(v)).ok_or_else(bad),
            ValueType::Text => Ok($query.bind(value.clone())),
        }
    }};
}

enum Pool {
    Sqlite(sqlx::SqlitePool),
    MySql(sqlx::MySqlPool),
    Postgres(sqlx::PgPool),
}

pub struct SqlSource {
    settings: SqlSettings,
    spool: PathBuf,
    /// Names the spooled batches.
    clock: Clock,
    pool: Option<Pool>,
    finished: bool,
    batches: u64,
}

fn db_err(e: impl std::fmt::Display) -> SourceError {
    SourceError::Sql(e.to_string())
}

impl SqlSource {
    pub fn new(settings: SqlSettings, spool: PathBuf, clock: Clock) -> Result<SqlSource, SourceError> {
        clear_spool(&spool)?;
        Ok(SqlSource { settings, spool, clock, pool: None, finished: false, batches: 0 })
    }

    async fn connect(&self) -> Result<Pool, SourceError> {
        let url = match &self.settings.url {
            DbUrl::Plain(u) => u.clone(),
            DbUrl::Secret(s) => s.read()?.expose().to_string(),
        };
        let timeout = self.settings.timeout;
        if url.starts_with("sqlite:") {
            let url = absolute_sqlite_url(&url, &self.settings.base_dir);
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .map_err(db_err)?
                .read_only(true)
                .busy_timeout(timeout)
                .log_statements(log::LevelFilter::Debug);
            let pool = sqlx::pool::PoolOptions::new()
                .max_connections(1)
                .acquire_timeout(timeout)
                .connect_with(opts)
                .await
                .map_err(db_err)?;
            Ok(Pool::Sqlite(pool))
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let opts = sqlx::mysql::MySqlConnectOptions::from_str(&url)
                .map_err(db_err)?
                .log_statements(log::LevelFilter::Debug);
            let pool = sqlx::pool::PoolOptions::new()
                .max_connections(1)
                .acquire_timeout(timeout)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("SET SESSION TRANSACTION READ ONLY").execute(&mut *conn).await?;
                        sqlx::query("SET time_zone = '+08:00'").execute(&mut *conn).await?;
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await
                .map_err(db_err)?;
            Ok(Pool::MySql(pool))
        } else {
            let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
                .map_err(db_err)?
                .options([("default_transaction_read_only", "on"), ("TimeZone", "Asia/Shanghai")])
                .log_statements(log::LevelFilter::Debug);
            let pool = sqlx::pool::PoolOptions::new()
                .max_connections(1)
                .acquire_timeout(timeout)
                .connect_with(opts)
                .await
                .map_err(db_err)?;
            Ok(Pool::Postgres(pool))
        }
    }

    fn statement(&self, after: bool, quote: char, numbered: bool) -> String {
        let s = &self.settings;
        let q = |name: &str| format!("{quote}{name}{quote}");
        let (c, k) = (q(&s.cursor), q(&s.key));
        let p = |n: usize| if numbered { format!("${n}") } else { "?".to_string() };
        let filter = if after {
            format!(" WHERE src.{c} > {} OR (src.{c} = {} AND src.{k} > {})", p(1), p(2), p(3))
        } else {
            format!(" WHERE src.{c} IS NOT NULL")
        };
        format!("SELECT * FROM ({}) src{filter} ORDER BY src.{c}, src.{k} LIMIT {}", s.query, s.batch_rows)
    }

    async fn next_batch(&mut self, checkpoint: Option<&str>) -> Result<Option<Pulled>, SourceError> {
        if self.finished {
            return Ok(None);
        }
        let after: Option<SqlCheckpoint> = match checkpoint {
            Some(text) => Some(serde_json::from_str(text).map_err(|_| SourceError::Checkpoint(text.to_string()))?),
            None => None,
        };
        if self.pool.is_none() {
            self.pool = Some(self.connect().await?);
        }
        let batch = match self.pool.as_ref().expect("connected above") {
            Pool::Sqlite(pool) => {
                let sql = self.statement(after.is_some(), '"', false);
                let rows = bind_after!(sqlx::query(&sql), &after, self.settings, sqlite)
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?;
                to_batch(&rows, &self.settings, sqlite_text)?
            }
            Pool::MySql(pool) => {
                let sql = self.statement(after.is_some(), '`', false);
                let rows = bind_after!(sqlx::query(&sql), &after, self.settings, typed)
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?;
                to_batch(&rows, &self.settings, mysql_text)?
            }
            Pool::Postgres(pool) => {
                let sql = self.statement(after.is_some(), '"', true);
                let rows = bind_after!(sqlx::query(&sql), &after, self.settings, typed)
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?;
                to_batch(&rows, &self.settings, pg_text)?
            }
        };
        if (batch.rows as u64) < self.settings.batch_rows {
            self.finished = true;
        }
        let Some(last) = batch.last else { return Ok(None) };
        self.batches += 1;
        let stamp = self.clock.now().format("%Y%m%dT%H%M%S");
        let path = self.spool.join(format!("{stamp}-b{:05}.csv", self.batches));
        write_atomically(&path, &batch.csv)?;
        let from = after.map_or_else(|| "the start".to_string(), |a| format!("({}, {})", a.cursor, a.key));
        let source = format!(
            "{}: {} rows after {from} by ({}, {})",
            self.describe_db(),
            batch.rows,
            self.settings.cursor,
            self.settings.key
        );
        let checkpoint = serde_json::to_string(&last).expect("a checkpoint serialises");
        Ok(Some(Pulled { path: Some(path), source, checkpoint: Some(checkpoint), refused: None }))
    }

    /// The database without credentials, for lineage.
    fn describe_db(&self) -> String {
        match &self.settings.url {
            DbUrl::Plain(u) => match reqwest::Url::parse(u) {
                Ok(mut url) => {
                    let _ = url.set_password(None);
                    let _ = url.set_username("");
                    url.to_string()
                }
                Err(_) => "database".to_string(),
            },
            DbUrl::Secret(_) => "database".to_string(),
        }
    }
}

fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

struct Batch {
    csv: Vec<u8>,
    rows: usize,
    last: Option<SqlCheckpoint>,
}

/// The rows as CSV (header: the column names), and the last row's checkpoint.
fn to_batch<R: Row>(
    rows: &[R],
    settings: &SqlSettings,
    text: impl Fn(&R, usize) -> String,
) -> Result<Batch, SourceError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let Some(first) = rows.first() else {
        return Ok(Batch { csv: Vec::new(), rows: 0, last: None });
    };
    let names: Vec<String> = first.columns().iter().map(|c| c.name().to_string()).collect();
    let position = |name: &str| {
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| SourceError::Sql(format!("the query's rows have no column {name:?}")))
    };
    let (cursor_at, key_at) = (position(&settings.cursor)?, position(&settings.key)?);
    out.write_record(&names).map_err(db_err)?;
    let mut cells = Vec::with_capacity(names.len());
    for row in rows {
        cells.clear();
        cells.extend((0..names.len()).map(|i| text(row, i)));
        out.write_record(&cells).map_err(db_err)?;
    }
    let last = rows.last().map(|r| SqlCheckpoint { cursor: text(r, cursor_at), key: text(r, key_at) });
    let csv = out.into_inner().map_err(|e| db_err(e.error()))?;
    Ok(Batch { csv, rows: rows.len(), last })
}

const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.f";

/// A cell as text: the first type the column decodes as wins.
macro_rules! cell_text {
    ($row:expr, $i:expr, [$($ty:ty => $fmt:expr),* $(,)?]) => {{
        let (row, i) = ($row, $i);
        $(
            if let Ok(v) = row.try_get::<Option<$ty>, _>(i) {
                return v.map($fmt).unwrap_or_default();
            }
        )*
        String::new()
    }};
}

fn sqlite_text(row: &sqlx::sqlite::SqliteRow, i: usize) -> String {
    cell_text!(row, i, [
        String => |v: String| v,
        i64 => |v: i64| v.to_string(),
        f64 => |v: f64| v.to_string(),
        Vec<u8> => |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned(),
    ])
}

fn mysql_text(row: &sqlx::mysql::MySqlRow, i: usize) -> String {
    cell_text!(row, i, [
        String => |v: String| v,
        i64 => |v: i64| v.to_string(),
        u64 => |v: u64| v.to_string(),
        rust_decimal::Decimal => |v: rust_decimal::Decimal| v.to_string(),
        f64 => |v: f64| v.to_string(),
        NaiveDateTime => |v: NaiveDateTime| v.format(TIMESTAMP).to_string(),
        NaiveDate => |v: NaiveDate| v.to_string(),
        DateTime<Utc> => |v: DateTime<Utc>| v.naive_utc().format(TIMESTAMP).to_string(),
        bool => |v: bool| v.to_string(),
        Vec<u8> => |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned(),
    ])
}

fn pg_text(row: &sqlx::postgres::PgRow, i: usize) -> String {
    cell_text!(row, i, [
        String => |v: String| v,
        i64 => |v: i64| v.to_string(),
        i32 => |v: i32| v.to_string(),
        i16 => |v: i16| v.to_string(),
        rust_decimal::Decimal => |v: rust_decimal::Decimal| v.to_string(),
        f64 => |v: f64| v.to_string(),
        f32 => |v: f32| v.to_string(),
        NaiveDateTime => |v: NaiveDateTime| v.format(TIMESTAMP).to_string(),
        NaiveDate => |v: NaiveDate| v.to_string(),
        // Shown as Shanghai wall time, which the session's TimeZone compares in.
        DateTime<Utc> => |v: DateTime<Utc>| (v + chrono::Duration::hours(8)).naive_utc().format(TIMESTAMP).to_string(),
        bool => |v: bool| v.to_string(),
        Vec<u8> => |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned(),
    ])
}

impl Source for SqlSource {
    fn start_pass(&mut self) {
        self.finished = false;
    }

    fn next_file<'a>(&'a mut self, checkpoint: Option<&'a str>) -> BoxFuture<'a, Result<Option<Pulled>, SourceError>> {
        Box::pin(self.next_batch(checkpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(batch_rows: u64) -> SqlSettings {
        SqlSettings {
            url: DbUrl::Plain("sqlite://x.db".into()),
            base_dir: PathBuf::from("/"),
            query: "SELECT * FROM t".into(),
            cursor: "updated_at".into(),
            cursor_type: ValueType::Timestamp,
            key: "id".into(),
            key_type: ValueType::Integer,
            batch_rows,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_query_is_wrapped_in_key_order() {
        let source = SqlSource {
            settings: settings(500),
            spool: PathBuf::new(),
            clock: Clock::real(),
            pool: None,
            finished: false,
            batches: 0,
        };
        assert_eq!(
            source.statement(true, '`', false),
            "SELECT * FROM (SELECT * FROM t) src WHERE src.`updated_at` > ? OR (src.`updated_at` = ? AND src.`id` > ?) \
             ORDER BY src.`updated_at`, src.`id` LIMIT 500"
        );
        assert!(source.statement(true, '"', true).contains("> $1 OR (src.\"updated_at\" = $2 AND src.\"id\" > $3)"));
        assert!(source.statement(false, '"', true).contains("WHERE src.\"updated_at\" IS NOT NULL"));
    }

    #[test]
    fn timestamps_parse_in_the_forms_databases_print() {
        assert!(parse_timestamp("2024-03-01 10:00:00").is_some());
        assert!(parse_timestamp("2024-03-01T10:00:00.250").is_some());
        assert!(parse_timestamp("2024-03-01").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn identifiers_only() {
        assert!(is_identifier("updated_at"));
        assert!(!is_identifier("a; DROP TABLE x"));
        assert!(!is_identifier("1a"));
    }
}
