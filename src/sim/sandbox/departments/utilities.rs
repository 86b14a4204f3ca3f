//! 水电气 欠费信息: the utilities' database table (`utility_arrears` on SQLite, MySQL/MariaDB
//! or PostgreSQL), appended to as time passes, and the rows it holds: households, shops and
//! firms behind on water, power or gas.

use std::io;
use std::str::FromStr;
use std::time::Duration;

use chrono::{Days, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use sqlx::{ConnectOptions, Connection, QueryBuilder};

use super::city::{REGIONS, amount_cents, break_check_char, firm_name, person_name, push_credit_code, shop_name};
use super::{BadKind, DB_TIMESTAMP, DepartmentSources, UTILITY};
use crate::ids::{CREDIT_ALPHABET, ID_CHECK_SYMBOLS};
use crate::sim::fake::{Rng, push_id_number};

/// The table [`write_utility_db`] fills.
pub const UTILITY_TABLE: &str = "utility_arrears";

/// Rows per INSERT and per transaction when writing the utilities table.
const STATEMENT_ROWS: u64 = 200;
const COMMIT_ROWS: u64 = 5_000;

/// 欠费信息 as a row of the utilities' `utility_arrears` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtilityArrear {
    pub id: u64,
    /// 用户名称; `None` (NULL) in a bad row.
    pub yhmc: Option<String>,
    /// 统一社会信用代码 of a firm or 个体工商户.
    pub shxydm: Option<String>,
    /// 身份证号码 of a household.
    pub sfzhm: Option<String>,
    /// 欠费类型: 水费, 电费 or 燃气费.
    pub qflx: &'static str,
    /// 欠费金额 (元), two decimals.
    pub qfje: Decimal,
    /// 欠费起始日期.
    pub qfqsrq: NaiveDate,
    /// 统计日期.
    pub tjrq: NaiveDate,
    /// 供应单位.
    pub gydw: &'static str,
    pub updated_at: NaiveDateTime,
    pub bad: Option<BadKind>,
}

impl DepartmentSources {
    /// Row `i` of the utilities' table.
    pub fn utility(&self, i: u64) -> UtilityArrear {
        let mut rng = Rng::for_record(self.seed, UTILITY, i);
        let updated = self.updated_at(i);
        let region = rng.pick(&REGIONS);
        let (mut shxydm, mut sfzhm) = (None, None);
        // Households owe less than shops, shops less than firms: digits before the point.
        let (yhmc, scale) = match rng.below(20) {
            0..=8 => {
                let mut id = String::with_capacity(18);
                push_id_number(&mut id, &mut rng, |_| region.code);
                sfzhm = Some(id);
                (person_name(&mut rng), 0)
            }
            9..=11 => {
                let mut code = String::with_capacity(18);
                push_credit_code(&mut code, &mut rng, "92", region.code);
                shxydm = Some(code);
                (shop_name(&mut rng, region), 1)
            }
            _ => {
                let mut code = String::with_capacity(18);
                push_credit_code(&mut code, &mut rng, "91", region.code);
                shxydm = Some(code);
                (firm_name(&mut rng, region), 2)
            }
        };
        let (qflx, gydw, most) = match rng.below(10) {
            0..=3 => ("水费", region.water, 3),
            4..=7 => ("电费", region.power, 4),
            _ => ("燃气费", region.gas, 3),
        };
        let cents = amount_cents(&mut rng, 2 + scale / 2, most + scale);
        let tjrq = updated.date() - Days::new(rng.below(3));
        let mut qfqsrq = tjrq - Days::new(rng.range(31, 540));
        let mut yhmc = Some(yhmc);
        let bad = self.bad_kind(i, &mut rng, &[BadKind::WrongCheckChar, BadKind::MissingRequired, BadKind::DateOrder]);
        match bad {
            Some(BadKind::WrongCheckChar) => match (&mut shxydm, &mut sfzhm) {
                (Some(code), _) => break_check_char(code, &mut rng, CREDIT_ALPHABET),
                (None, Some(id)) => break_check_char(id, &mut rng, ID_CHECK_SYMBOLS),
                (None, None) => {}
            },
            Some(BadKind::MissingRequired) => yhmc = None,
            Some(BadKind::DateOrder) => qfqsrq = tjrq + Days::new(rng.range(1, 60)),
            Some(BadKind::BadDate) | None => {}
        }
        UtilityArrear {
            id: i + 1,
            yhmc,
            shxydm,
            sfzhm,
            qflx,
            qfje: Decimal::new(i64::try_from(cents).unwrap_or(i64::MAX), 2),
            qfqsrq,
            tjrq,
            gydw,
            updated_at: updated,
            bad,
        }
    }
}

/// Why the utilities table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

const UTILITY_COLUMNS: &str = "id, yhmc, shxydm, sfzhm, qflx, qfje, qfqsrq, tjrq, gydw, updated_at";
const UPDATE_COLUMNS: [&str; 9] = ["yhmc", "shxydm", "sfzhm", "qflx", "qfje", "qfqsrq", "tjrq", "gydw", "updated_at"];

/// Appends rows `max(id)..visible` in multi-row upserts, `COMMIT_ROWS` per transaction.
macro_rules! write_rows {
    ($conn:ident, $db:ty, $table:ident, $tail:ident, $sources:ident, $visible:ident, |$b:ident, $r:ident| $bind:block) => {{
        let max: i64 =
            sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {}", $table)).fetch_one(&mut $conn).await?;
        let mut next = u64::try_from(max).unwrap_or(0).min($visible);
        let mut written = 0u64;
        while next < $visible {
            let end = next.saturating_add(COMMIT_ROWS).min($visible);
            let mut tx = $conn.begin().await?;
            while next < end {
                let stop = next.saturating_add(STATEMENT_ROWS).min(end);
                let rows: Vec<UtilityArrear> = (next..stop).map(|i| $sources.utility(i)).collect();
                let mut qb = QueryBuilder::<$db>::new(format!("INSERT INTO {} ({UTILITY_COLUMNS}) ", $table));
                qb.push_values(&rows, |mut $b, $r| $bind);
                qb.push(&$tail);
                qb.build().execute(&mut *tx).await?;
                written += stop - next;
                next = stop;
            }
            tx.commit().await?;
        }
        written
    }};
}

/// Creates the table [`UTILITY_TABLE`] if missing and writes the rows visible at `now` that
/// it does not hold yet; returns how many were written. See [`write_utility_table`].
pub async fn write_utility_db(url: &str, sources: &DepartmentSources, now: NaiveDateTime) -> Result<u64, SandboxError> {
    write_utility_table(url, UTILITY_TABLE, sources, now).await
}

/// [`write_utility_db`] into any table name (letters, digits, `_`).
///
/// `url`: `sqlite://path/to/file.db` (created with its folder if missing; a relative path is
/// relative to the working directory), `mysql://…` or `mariadb://…`, `postgres://…`.
/// Columns: `id` (primary key, = record number + 1), `yhmc`, `shxydm`, `sfzhm`, `qflx`,
/// `qfje` (DECIMAL/NUMERIC(14,2)), `qfqsrq` and `tjrq` (DATE), `gydw`, `updated_at`
/// (DATETIME/TIMESTAMP; text `YYYY-MM-DD HH:MM:SS` in SQLite), indexed with `id` for a
/// connector's `(updated_at, id)` cursor.
///
/// Records are deterministic, so rows already in the table are left alone: only rows whose
/// id is above the table's largest are written, with an upsert so that a concurrent writer
/// cannot make it fail. Call it again as time passes to append what has become visible.
pub async fn write_utility_table(
    url: &str,
    table: &str,
    sources: &DepartmentSources,
    now: NaiveDateTime,
) -> Result<u64, SandboxError> {
    if !is_identifier(table) {
        return Err(SandboxError::Invalid(format!("table name {table:?}: expected letters, digits and _")));
    }
    let visible = sources.visible_at(now);
    let updates = UPDATE_COLUMNS.iter().map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ");
    if url.starts_with("sqlite:") {
        create_sqlite_parent(url)?;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10))
            .connect()
            .await?;
        let t = format!("\"{table}\"");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, yhmc TEXT, shxydm TEXT, sfzhm TEXT, \
             qflx TEXT NOT NULL, qfje DECIMAL(14,2) NOT NULL, qfqsrq DATE, tjrq DATE, gydw TEXT, \
             updated_at DATETIME NOT NULL)"
        ))
        .execute(&mut conn)
        .await?;
        sqlx::query(&format!("CREATE INDEX IF NOT EXISTS \"{table}_updated_at\" ON {t} (updated_at, id)"))
            .execute(&mut conn)
            .await?;
        let tail = format!(" ON CONFLICT (id) DO UPDATE SET {updates}");
        let written = write_rows!(conn, sqlx::Sqlite, t, tail, sources, visible, |b, r| {
            b.push_bind(r.id as i64)
                .push_bind(r.yhmc.clone())
                .push_bind(r.shxydm.clone())
                .push_bind(r.sfzhm.clone())
                .push_bind(r.qflx)
                .push_bind(r.qfje.to_string())
                .push_bind(r.qfqsrq.format("%Y-%m-%d").to_string())
                .push_bind(r.tjrq.format("%Y-%m-%d").to_string())
                .push_bind(r.gydw)
                .push_bind(r.updated_at.format(DB_TIMESTAMP).to_string());
        });
        conn.close().await?;
        Ok(written)
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        let url = url.replacen("mariadb:", "mysql:", 1);
        let mut conn = sqlx::mysql::MySqlConnectOptions::from_str(&url)?.connect().await?;
        let t = format!("`{table}`");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (id BIGINT NOT NULL PRIMARY KEY, yhmc VARCHAR(200) NULL, \
             shxydm VARCHAR(32) NULL, sfzhm VARCHAR(32) NULL, qflx VARCHAR(16) NOT NULL, \
             qfje DECIMAL(14,2) NOT NULL, qfqsrq DATE NULL, tjrq DATE NULL, gydw VARCHAR(200) NULL, \
             updated_at DATETIME NOT NULL, KEY idx_updated_at (updated_at, id)) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ))
        .execute(&mut conn)
        .await?;
        let updates = UPDATE_COLUMNS.iter().map(|c| format!("{c} = VALUES({c})")).collect::<Vec<_>>().join(", ");
        let tail = format!(" ON DUPLICATE KEY UPDATE {updates}");
        let written = write_rows!(conn, sqlx::MySql, t, tail, sources, visible, |b, r| {
            b.push_bind(r.id as i64)
                .push_bind(r.yhmc.clone())
                .push_bind(r.shxydm.clone())
                .push_bind(r.sfzhm.clone())
                .push_bind(r.qflx)
                .push_bind(r.qfje)
                .push_bind(r.qfqsrq)
                .push_bind(r.tjrq)
                .push_bind(r.gydw)
                .push_bind(r.updated_at);
        });
        conn.close().await?;
        Ok(written)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(url)?.connect().await?;
        let t = format!("\"{table}\"");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (id BIGINT PRIMARY KEY, yhmc TEXT, shxydm TEXT, sfzhm TEXT, \
             qflx TEXT NOT NULL, qfje NUMERIC(14,2) NOT NULL, qfqsrq DATE, tjrq DATE, gydw TEXT, \
             updated_at TIMESTAMP NOT NULL)"
        ))
        .execute(&mut conn)
        .await?;
        sqlx::query(&format!("CREATE INDEX IF NOT EXISTS \"{table}_updated_at\" ON {t} (updated_at, id)"))
            .execute(&mut conn)
            .await?;
        let tail = format!(" ON CONFLICT (id) DO UPDATE SET {updates}");
        let written = write_rows!(conn, sqlx::Postgres, t, tail, sources, visible, |b, r| {
            b.push_bind(r.id as i64)
                .push_bind(r.yhmc.clone())
                .push_bind(r.shxydm.clone())
                .push_bind(r.sfzhm.clone())
                .push_bind(r.qflx)
                .push_bind(r.qfje)
                .push_bind(r.qfqsrq)
                .push_bind(r.tjrq)
                .push_bind(r.gydw)
                .push_bind(r.updated_at);
        });
        conn.close().await?;
        Ok(written)
    } else {
        Err(SandboxError::Invalid("expected a sqlite://, mysql://, mariadb:// or postgres:// URL".into()))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 60
}

/// The folder of a `sqlite://` file, created so that SQLite can create the file.
fn create_sqlite_parent(url: &str) -> Result<(), SandboxError> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| SandboxError::Io { path: dir.display().to_string(), source })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::super::tests::at;
    use super::*;

    #[tokio::test]
    async fn utility_rows_append_to_a_sqlite_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/utilities.db", dir.path().display());
        let start = at("2024-05-01T08:00:00");
        let s = DepartmentSources::new(9, start, Duration::from_secs(60), 120).with_bad_share(0.1);
        assert_eq!(write_utility_db(&url, &s, start).await.unwrap(), 120);
        assert_eq!(write_utility_db(&url, &s, start).await.unwrap(), 0, "nothing new");
        let later = start + TimeDelta::minutes(200);
        assert_eq!(write_utility_db(&url, &s, later).await.unwrap(), 81);
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
        let rows: Vec<(i64, Option<String>, String, String, String, String)> = sqlx::query_as(
            "SELECT id, yhmc, qflx, CAST(qfje AS TEXT), tjrq, updated_at FROM utility_arrears ORDER BY id",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(rows.len(), 201);
        for (n, row) in rows.iter().enumerate() {
            let u = s.utility(n as u64);
            assert_eq!(row.0, u.id as i64);
            assert_eq!(row.1, u.yhmc);
            assert_eq!(row.2, u.qflx);
            assert_eq!(row.3.parse::<Decimal>().unwrap(), u.qfje);
            assert_eq!(row.4, u.tjrq.to_string());
            assert_eq!(row.5, u.updated_at.format(DB_TIMESTAMP).to_string());
        }
        assert!(write_utility_table(&url, "x; DROP", &s, start).await.is_err());
    }

    type MySqlRow = (i64, Option<String>, Decimal, NaiveDate, NaiveDateTime);

    #[tokio::test]
    async fn utility_rows_on_mariadb_and_postgres() {
        let unique =
            format!("utility_arrears_t{}_{}", std::process::id(), crate::clock::Clock::real().now().timestamp_micros());
        let s = DepartmentSources::fixed(4, 450).with_bad_share(0.1);
        let now = at("2024-06-01T00:00:00");
        let mysql = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        match sqlx::mysql::MySqlConnectOptions::from_str(&mysql).unwrap().connect().await {
            Err(e) => eprintln!("note: MySQL/MariaDB at {mysql} unreachable ({e}): skipped"),
            Ok(mut conn) => {
                let result = write_utility_table(&mysql, &unique, &s, now).await;
                let again = write_utility_table(&mysql, &unique, &s, now).await;
                let rows: Result<Vec<MySqlRow>, _> =
                    sqlx::query_as(&format!("SELECT id, sfzhm, qfje, qfqsrq, updated_at FROM `{unique}` ORDER BY id"))
                        .fetch_all(&mut conn)
                        .await;
                sqlx::query(&format!("DROP TABLE IF EXISTS `{unique}`")).execute(&mut conn).await.unwrap();
                assert_eq!(result.unwrap(), 450);
                assert_eq!(again.unwrap(), 0);
                let rows = rows.unwrap();
                assert_eq!(rows.len(), 450);
                for row in rows {
                    let u = s.utility(row.0 as u64 - 1);
                    assert_eq!((row.1, row.2, row.3, row.4), (u.sfzhm, u.qfje, u.qfqsrq, u.updated_at));
                }
            }
        }
        let pg = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        match sqlx::postgres::PgConnectOptions::from_str(&pg).unwrap().connect().await {
            Err(e) => eprintln!("note: PostgreSQL at {pg} unreachable ({e}): skipped"),
            Ok(mut conn) => {
                let result = write_utility_table(&pg, &unique, &s, now).await;
                let rows: Result<Vec<(i64, Decimal, NaiveDate, NaiveDateTime)>, _> =
                    sqlx::query_as(&format!("SELECT id, qfje, tjrq, updated_at FROM \"{unique}\" ORDER BY id"))
                        .fetch_all(&mut conn)
                        .await;
                sqlx::query(&format!("DROP TABLE IF EXISTS \"{unique}\"")).execute(&mut conn).await.unwrap();
                assert_eq!(result.unwrap(), 450);
                let rows = rows.unwrap();
                assert_eq!(rows.len(), 450);
                let u = s.utility(449);
                assert_eq!(rows[449], (450, u.qfje, u.tjrq, u.updated_at));
            }
        }
    }
}
