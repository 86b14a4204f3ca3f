//! Readiness: proof that the database takes a write, not only that it answers.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{ConnectOptions, Connection};

use super::{Db, Store, StoreError, on_pool};

/// How long the SQLite proof waits for the write lock before taking a busy database (another
/// writer, e.g. a long ingest transaction, holds the lock) as one that writes.
const PROOF_BUSY_WAIT: Duration = Duration::from_secs(1);

const HEARTBEAT: &str = "INSERT INTO instance_heartbeats (instance, seen_at) VALUES ($1, $2) \
                         ON CONFLICT (instance) DO UPDATE SET seen_at = excluded.seen_at";

impl Store {
    /// Upserts `instance`'s heartbeat row. On SQLite through a new connection: the pool's
    /// open connections keep writing to a WAL file deleted under them (and lose it), while
    /// every connection opened after fails, so only a new one tells the truth.
    pub async fn prove_write(&self, instance: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let seen_at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
        if let (Db::Sqlite(_), Some(options)) = (&self.db, &self.sqlite_file) {
            let mut conn = options.clone().busy_timeout(PROOF_BUSY_WAIT).connect().await?;
            let written = sqlx::query(HEARTBEAT).bind(instance).bind(&seen_at).execute(&mut conn).await;
            let _ = conn.close().await;
            return match written {
                Err(e) if !is_busy(&e) => Err(e.into()),
                _ => Ok(()),
            };
        }
        on_pool!(&self.db, pool => sqlx::query(HEARTBEAT).bind(instance).bind(&seen_at).execute(pool).await.map(|_| ())?);
        Ok(())
    }
}

/// SQLITE_BUSY and its extended codes (the primary code is the low byte).
fn is_busy(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i32>().ok());
    code.is_some_and(|c| c & 0xff == 5)
}
