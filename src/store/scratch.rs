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
