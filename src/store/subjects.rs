//! The platform's subject base library (主体库), kept as last pushed down, and the lookups
//! the delivery worker's pre-check makes against it.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Db, Store, StoreError, on_pool};

/// Codes looked up per statement.
const CHUNK: usize = 500;

impl Store {
    /// Replaces the library with `entries` (credit code, name): the platform pushes the whole
    /// library down each time. Returns how many subjects it now holds.
    pub async fn replace_subject_library(
        &self,
        entries: &[(String, String)],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let now = now.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut unique: HashMap<&str, &str> = HashMap::new();
        for (code, name) in entries {
            unique.insert(code.as_str(), name.as_str());
        }
        let rows: Vec<(&str, &str)> = unique.into_iter().collect();
        on_pool!(self.db(), pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM subject_library").execute(&mut *tx).await?;
            for chunk in rows.chunks(CHUNK) {
                let marks: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                    .collect();
                let sql = format!(
                    "INSERT INTO subject_library (credit_code, name, source, received_at) VALUES {}",
                    marks.join(",")
                );
                let mut q = sqlx::query(&sql);
                for (code, name) in chunk {
                    q = q.bind(*code).bind(*name).bind(source).bind(&now);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(rows.len() as u64)
    }

    /// Whether a library has been received at all (the pre-check is skipped otherwise).
    pub async fn has_subject_library(&self) -> Result<bool, StoreError> {
        let found: Option<i64> = on_pool!(self.db(), pool =>
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM subject_library LIMIT 1").fetch_optional(pool).await?);
        Ok(found.is_some())
    }

    /// The library's names of these credit codes (codes it does not hold are left out): one
    /// statement for a whole claim (the codes as one JSON array on SQLite, one array on
    /// PostgreSQL), not one per few hundred codes, as the pre-check runs before every push.
    pub async fn subject_library_names(&self, codes: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        if codes.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, String)> = match self.db() {
            Db::Sqlite(pool) => {
                let list = serde_json::to_string(codes).unwrap_or_else(|_| "[]".into());
                sqlx::query_as(
                    "SELECT credit_code, name FROM subject_library WHERE credit_code IN (SELECT value FROM json_each($1))",
                )
                .bind(list)
                .fetch_all(pool)
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as("SELECT credit_code, name FROM subject_library WHERE credit_code = ANY($1)")
                    .bind(codes)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().collect())
    }
}
