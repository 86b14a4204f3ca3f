//! The platform's subject base library (主体库), kept as last pushed down, and the lookups
//! the delivery worker's pre-check makes against it.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Store, StoreError, on_pool};

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

    /// The library's names of these credit codes (codes it does not hold are left out).
    pub async fn subject_library_names(&self, codes: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in codes.chunks(CHUNK) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
            let sql =
                format!("SELECT credit_code, name FROM subject_library WHERE credit_code IN ({})", marks.join(","));
            let rows: Vec<(String, String)> = on_pool!(self.db(), pool => {
                let mut q = sqlx::query_as(&sql);
                for c in chunk {
                    q = q.bind(*c);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }
}
