//! Scratch PostgreSQL databases for tests and tools (benchmarks): an empty database made
//! beside a server's admin database, named so that concurrent runs never meet.

use crate::clock::Clock;
use crate::store::StoreError;

/// Creates an empty database beside the one `admin_url` names; returns its URL and name.
/// The caller drops it when done (`DROP DATABASE name`); meant for tests and tools, never for
/// a gateway's own store.
pub async fn fresh_postgres_database(admin_url: &str) -> Result<(String, String), StoreError> {
    let pool = sqlx::PgPool::connect(admin_url).await?;
    let name = format!("cg_{}_{}", std::process::id(), Clock::real().now().timestamp_micros());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
    pool.close().await;
    let base = match admin_url.rfind('/') {
        Some(i) if i > "postgres://".len() => &admin_url[..i],
        _ => admin_url,
    };
    Ok((format!("{base}/{name}"), name))
}

/// Drops a database [`fresh_postgres_database`] made; sessions still connected to it are
/// ended first (`WITH (FORCE)`), so a tool's pool still closing cannot leave it behind.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let pool = sqlx::PgPool::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// The table `bench compare` loads with `sqlite3 .import` and `psql \copy`: every column of the
/// file as text, the business key's columns (`key`, positions in `columns`) unique, as a data
/// office would script it. Names are quoted, so any header text is safe.
pub fn peer_table_sql(columns: &[String], key: &[usize]) -> String {
    let quote = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
    let cols: Vec<String> = columns.iter().map(|c| format!("{} TEXT", quote(c))).collect();
    let key: Vec<String> = key.iter().map(|i| quote(&columns[*i])).collect();
    format!("CREATE TABLE peer ({}, UNIQUE ({}))", cols.join(", "), key.join(", "))
}

/// Counts the rows the peers stored (see [`peer_table_sql`]).
pub const PEER_COUNT_SQL: &str = "SELECT COUNT(*) FROM peer";

/// What the database holds and has written, for the benchmarks' bytes per row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageBytes {
    /// The database's size: SQLite's pages, PostgreSQL's `pg_database_size`.
    pub database: i64,
    /// PostgreSQL: WAL bytes the server has written since its statistics were reset
    /// (`pg_stat_wal`, server-wide); SQLite: none (the process's own I/O counts there).
    pub wal: Option<i64>,
}

impl crate::store::Store {
    /// The database's size and, on PostgreSQL, the server's WAL written so far.
    pub async fn storage_bytes(&self) -> Result<StorageBytes, StoreError> {
        use crate::store::Db;
        Ok(match self.db() {
            Db::Sqlite(pool) => {
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(pool).await?;
                let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(pool).await?;
                StorageBytes { database: pages * size, wal: None }
            }
            Db::Postgres(pool) => {
                let database: i64 =
                    sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(pool).await?;
                let wal: i64 =
                    sqlx::query_scalar("SELECT CAST(wal_bytes AS BIGINT) FROM pg_stat_wal").fetch_one(pool).await?;
                StorageBytes { database, wal: Some(wal) }
            }
        })
    }
}
