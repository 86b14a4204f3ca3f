//! Connector checkpoints and health (`connector_state`).

use serde::Serialize;

use super::{Store, StoreError, on_pool};

/// How a connector is doing, as `credit-gateway connectors` and the dashboard show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConnectorHealth {
    pub connector: String,
    pub checkpoint: Option<String>,
    pub last_run_at: Option<String>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub last_rows: i64,
    pub rows_total: i64,
    pub files_total: i64,
    pub errors_total: i64,
    pub next_run_at: Option<String>,
}

/// What one pass of a connector did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome<'a> {
    pub at: &'a str,
    /// `ok` (files taken), `idle` (nothing new) or `error`.
    pub status: &'a str,
    pub error: Option<&'a str>,
    pub rows: u64,
    pub files: u64,
    pub next_run_at: Option<&'a str>,
}

/// A file this connector has already ingested completely.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IngestedFile {
    pub ingest_run: i64,
    pub source: String,
    pub finished_at: Option<String>,
}

impl Store {
    pub async fn checkpoint(&self, connector: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT checkpoint FROM connector_state WHERE connector = $1";
        let found: Option<Option<String>> =
            on_pool!(self.db(), pool => sqlx::query_scalar(SQL).bind(connector).fetch_optional(pool).await?);
        Ok(found.flatten())
    }

    /// Saves where the connector stands; called only after the rows before it are committed.
    pub async fn save_checkpoint(&self, connector: &str, checkpoint: &str, at: &str) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO connector_state (connector, checkpoint, updated_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (connector) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at";
        on_pool!(self.db(), pool => sqlx::query(SQL).bind(connector).bind(checkpoint).bind(at).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub async fn record_pass(&self, connector: &str, pass: &PassOutcome<'_>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO connector_state \
             (connector, last_run_at, last_status, last_error, last_rows, rows_total, files_total, errors_total, next_run_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $2) \
             ON CONFLICT (connector) DO UPDATE SET last_run_at = excluded.last_run_at, last_status = excluded.last_status, \
             last_error = excluded.last_error, last_rows = excluded.last_rows, \
             rows_total = connector_state.rows_total + excluded.last_rows, \
             files_total = connector_state.files_total + excluded.files_total, \
             errors_total = connector_state.errors_total + excluded.errors_total, \
             next_run_at = excluded.next_run_at, updated_at = excluded.updated_at";
        let errors: i64 = if pass.status == "error" { 1 } else { 0 };
        on_pool!(self.db(), pool => sqlx::query(SQL)
            .bind(connector)
            .bind(pass.at)
            .bind(pass.status)
            .bind(pass.error)
            .bind(pass.rows as i64)
            .bind(pass.files as i64)
            .bind(errors)
            .bind(pass.next_run_at)
            .execute(pool)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Only the next run changes: the connector is waiting for its schedule.
    pub async fn set_next_run(&self, connector: &str, next_run_at: Option<&str>, at: &str) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO connector_state (connector, next_run_at, updated_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (connector) DO UPDATE SET next_run_at = excluded.next_run_at, updated_at = excluded.updated_at";
        on_pool!(self.db(), pool => sqlx::query(SQL).bind(connector).bind(next_run_at).bind(at).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Takes (or renews) the lease on running `connector` for `holder` until `expires_at`;
    /// true when `holder` has it: it was free, had run out, or was already its own.
    pub async fn take_connector_lease(
        &self,
        connector: &str,
        holder: &str,
        now: &str,
        expires_at: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO connector_leases (connector, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (connector) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE connector_leases.holder = excluded.holder OR connector_leases.expires_at < $4";
        let done = on_pool!(self.db(), pool => sqlx::query(SQL)
            .bind(connector)
            .bind(holder)
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())?);
        Ok(done == 1)
    }

    /// Gives the lease back, so another instance need not wait for it to run out.
    pub async fn release_connector_lease(&self, connector: &str, holder: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE connector_leases SET expires_at = '0000' WHERE connector = $1 AND holder = $2";
        on_pool!(self.db(), pool => sqlx::query(SQL).bind(connector).bind(holder).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Takes the schedule tick `tick` of `connector` for the lease holder; false when some
    /// instance already took it (or a later one), so each tick's pull runs once.
    pub async fn take_tick(&self, connector: &str, holder: &str, tick: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE connector_leases SET last_tick = $2 \
             WHERE connector = $1 AND holder = $3 AND (last_tick IS NULL OR last_tick < $2)";
        let done = on_pool!(self.db(), pool => sqlx::query(SQL)
            .bind(connector)
            .bind(tick)
            .bind(holder)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())?);
        Ok(done == 1)
    }

    pub async fn connector_health(&self) -> Result<Vec<ConnectorHealth>, StoreError> {
        const SQL: &str = "SELECT connector, checkpoint, last_run_at, last_status, last_error, last_rows, rows_total, \
                           files_total, errors_total, next_run_at FROM connector_state ORDER BY connector";
        let rows = on_pool!(self.db(), pool => sqlx::query_as::<_, ConnectorHealth>(SQL).fetch_all(pool).await?);
        Ok(rows)
    }

    /// The complete ingest of a file with this content through this connector whose outcome
    /// the configuration loaded now (`config_hash`) would not change, if any: `done` (not
    /// interrupted, not changed while read), every row stored (none rejected), under the same
    /// mapping, catalogue, code tables and deadline rules.
    pub async fn ingested_file(
        &self,
        connector: &str,
        fingerprint: &str,
        config_hash: &str,
    ) -> Result<Option<IngestedFile>, StoreError> {
        const SQL: &str = "SELECT id AS ingest_run, source, finished_at FROM ingest_runs \
                           WHERE connector = $1 AND fingerprint = $2 AND status = 'done' AND rejected = 0 \
                           AND config_hash = $3 ORDER BY id LIMIT 1";
        let row = on_pool!(self.db(), pool => sqlx::query_as::<_, IngestedFile>(SQL)
            .bind(connector)
            .bind(fingerprint)
            .bind(config_hash)
            .fetch_optional(pool)
            .await?);
        Ok(row)
    }
}
