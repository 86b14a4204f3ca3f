//! Subjects (信用档案): which subject each record and feed record concerns, the search by code
//! and name, a subject's records with their status, and the grades (SPEC §8) with their reasons.
//!
//! The links are derived from what ingest and the feeds already store: a catch-up pass
//! (`link_subjects`) reads the records and feed records after the last id it linked, takes
//! the subject from the content through the catalogue, and writes `subject_records` and
//! `subject_aliases`. It never runs inside the ingest writer's transaction.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Db, Store, StoreError, on_pool};
use crate::catalogue::Catalogue;
use crate::subject::PersonKey;

/// Records read per catch-up step.
const LINK_PAGE: i64 = 5_000;
/// Rows per multi-row statement.
const CHUNK: usize = 300;
/// The most records a credit file lists (a subject with more is told so).
pub const FILE_LIMIT: i64 = 5_000;

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SubjectHit {
    pub credit_code: String,
    pub name: String,
    /// The caller's records about the subject (all of them for the office).
    pub records: i64,
    /// Other departments' records, where policy lets a department user know (else absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_records: Option<i64>,
    /// The name a search matched, when it is not `name` (an earlier or variant name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_name: Option<String>,
}

/// One of a subject's records, with what has happened to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileRecord {
    pub id: i64,
    pub item: String,
    pub department: String,
    pub version: i64,
    pub content: String,
    pub decision_date: Option<String>,
    pub reported_on: Option<String>,
    pub publicity_end: Option<String>,
    pub publicity_held: bool,
    pub publicity_closed: bool,
    /// 撤销 / 删除 by the department (`withdraw` / `delete`), if any.
    pub revoked: Option<String>,
    pub repaired: bool,
    pub under_objection: bool,
    pub returned: bool,
    pub duplicate: bool,
    pub updated_at: String,
}

/// One feed record (sent down by an upper platform) about the subject.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileFeedRecord {
    pub id: i64,
    pub feed: String,
    pub item: String,
    pub operation: String,
    /// 0 normal, 1 withdrawn, 2 deleted.
    pub publicity: i64,
    pub repair: bool,
    /// 领域 (`config/sectors.toml`), when the record has one.
    pub sector: Option<String>,
    pub content: String,
    pub received_at: String,
}

/// A stored grade.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct GradeRow {
    pub credit_code: String,
    pub as_of: String,
    pub grade: String,
    pub previous: Option<String>,
    pub general: i64,
    pub serious: i64,
    pub reasons: Vec<i64>,
    pub rule: String,
    pub record_id: Option<i64>,
    pub computed_at: String,
}

/// A record the grading reads: in the window (or a listing), of a counted item. Its subject
/// is read from its content (the grading parses it anyway).
#[derive(Debug, Clone)]
pub struct GradingRow {
    pub record_id: i64,
    pub item: String,
    pub decision_date: Option<String>,
    pub content: String,
    pub duplicate: bool,
}

/// `n` parameters in groups: `(?,?),(?,?)` on SQLite, `($1,$2),($3,$4)` on PostgreSQL.
fn marks(db: &Db, n: usize, group: usize) -> String {
    let numbered = matches!(db, Db::Postgres(_));
    let mark = |i: usize| if numbered { format!("${}", i + 1) } else { "?".to_string() };
    (0..n / group)
        .map(|g| format!("({})", (0..group).map(|j| mark(g * group + j)).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join(",")
}

fn list_marks(db: &Db, n: usize, first: usize) -> String {
    let numbered = matches!(db, Db::Postgres(_));
    (0..n).map(|i| if numbered { format!("${}", first + i) } else { "?".into() }).collect::<Vec<_>>().join(",")
}

/// SQL text literal of configured names (item codes).
fn quoted(items: &[String]) -> String {
    if items.is_empty() {
        return "''".into();
    }
    items.iter().map(|s| super::records::literal(s)).collect::<Vec<_>>().join(",")
}

impl Store {
    /// Links the records and feed records stored since the last pass to their subjects.
    /// Returns how many records it read. Idempotent; safe to run from several processes.
    pub async fn link_subjects(&self, catalogue: &Catalogue) -> Result<u64, StoreError> {
        let persons = self.person_key().await?;
        let mut read = 0;
        for (source, table) in [("record", "records"), ("feed", "feed_records")] {
            loop {
                let n = self.link_page(catalogue, &persons, source, table).await?;
                read += n;
                if n < LINK_PAGE as u64 {
                    break;
                }
            }
        }
        Ok(read)
    }

    async fn link_page(
        &self,
        catalogue: &Catalogue,
        persons: &PersonKey,
        source: &str,
        table: &str,
    ) -> Result<u64, StoreError> {
        let last: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(
            "SELECT CAST(last_id AS BIGINT) FROM subject_link_state WHERE source = $1")
            .bind(source).fetch_optional(pool).await?)
        .unwrap_or(0);
        let sql = format!("SELECT id, item, content FROM {table} WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<(i64, String, String)> =
            on_pool!(self.db(), pool => sqlx::query_as(&sql).bind(last).bind(LINK_PAGE).fetch_all(pool).await?);
        let Some(&(max_id, _, _)) = rows.last() else { return Ok(0) };
        let mut links: Vec<(String, i64)> = Vec::new();
        let mut aliases: HashMap<(String, String), String> = HashMap::new();
        for (id, item, content) in &rows {
            let Some(item) = catalogue.item(item) else { continue };
            let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(content) else { continue };
            let Some((code, name)) = crate::subject::of_content(item, &map, Some(persons)) else { continue };
            if !name.is_empty() {
                let key = crate::subject::search_key(&name);
                aliases.entry((code.clone(), name)).or_insert(key);
            }
            links.push((code, *id));
        }
        let aliases: Vec<(String, String, String)> = aliases.into_iter().map(|((c, n), k)| (c, n, k)).collect();
        let db = self.db();
        on_pool!(db, pool => {
            let mut tx = pool.begin().await?;
            for chunk in links.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO subject_records (subject_code, source, record_id) VALUES {} ON CONFLICT DO NOTHING",
                    marks(db, chunk.len() * 3, 3)
                );
                let mut q = sqlx::query(&sql);
                for (code, id) in chunk {
                    q = q.bind(code).bind(source).bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in aliases.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO subject_aliases (subject_code, name, name_key) VALUES {} ON CONFLICT DO NOTHING",
                    marks(db, chunk.len() * 3, 3)
                );
                let mut q = sqlx::query(&sql);
                for (code, name, key) in chunk {
                    q = q.bind(code).bind(name).bind(key);
                }
                q.execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE subject_link_state SET last_id = $1 WHERE source = $2 AND last_id < $1")
                .bind(max_id)
                .bind(source)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(rows.len() as u64)
    }

    /// The installation's key for natural persons' subject keys: made (at random) by the first
    /// caller, read by every other, on any instance.
    pub async fn person_key(&self) -> Result<PersonKey, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| StoreError::Invalid(format!("no randomness for the person key: {e}")))?;
        let hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        let stored: String = on_pool!(self.db(), pool => {
            sqlx::query("INSERT INTO install_keys (name, value) VALUES ('person', $1) ON CONFLICT (name) DO NOTHING")
                .bind(&hex)
                .execute(pool)
                .await?;
            sqlx::query_scalar("SELECT value FROM install_keys WHERE name = 'person'").fetch_one(pool).await?
        });
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = stored
                .get(i * 2..i * 2 + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| StoreError::Invalid("install_keys.person is not 64 hexadecimal digits".into()))?;
        }
        Ok(PersonKey::new(key))
    }

    /// Subjects whose code starts with `code` (when the query may be one) or one of whose
    /// names contains `key` (`subject::search_key`), best first: an exact name, a name that
    /// starts with the query, then the rest; at most `limit`. A department user (`scope`)
    /// finds only subjects it holds records of, unless `others` lets it know of the others'.
    pub async fn search_subjects(
        &self,
        code: Option<&str>,
        key: &str,
        scope: Option<&str>,
        others: bool,
        limit: usize,
    ) -> Result<Vec<SubjectHit>, StoreError> {
        // Candidates: (code, matched name, rank).
        let mut found: Vec<(String, Option<String>, u8)> = Vec::new();
        let wanted = (limit * 4).max(50) as i64;
        if let Some(code) = code {
            let rows: Vec<(String,)> = on_pool!(self.db(), pool => sqlx::query_as(
                "SELECT DISTINCT subject_code FROM subject_aliases WHERE subject_code >= $1 AND subject_code < $2 \
                 ORDER BY subject_code LIMIT $3")
                .bind(code).bind(format!("{code}\u{7f}")).bind(wanted).fetch_all(pool).await?);
            for (c,) in rows {
                let rank = if c == code { 0 } else { 1 };
                found.push((c, None, rank));
            }
        }
        if !key.is_empty() {
            // Exact names first (they are never cut by the limit), then any part of a name: on
            // SQLite through the trigram index when the part has three characters or more.
            let exact: Vec<(String, String, String)> = on_pool!(self.db(), pool => sqlx::query_as(
                "SELECT subject_code, name, name_key FROM subject_aliases WHERE name_key = $1 LIMIT $2")
                .bind(key).bind(wanted).fetch_all(pool).await?);
            let plain: String = key.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect();
            let rows: Vec<(String, String, String)> = match self.db() {
                Db::Sqlite(pool) if plain.chars().count() >= 3 => {
                    sqlx::query_as(
                        "SELECT subject_code, name, name_key FROM subject_aliases_fts WHERE name_key LIKE $1 LIMIT $2",
                    )
                    .bind(format!("%{plain}%"))
                    .bind(wanted)
                    .fetch_all(pool)
                    .await?
                }
                db => {
                    let pattern = crate::subject::like_anywhere(key);
                    on_pool!(db, pool => sqlx::query_as(
                        "SELECT subject_code, name, name_key FROM subject_aliases WHERE name_key LIKE $1 ESCAPE '\\' LIMIT $2")
                        .bind(&pattern).bind(wanted).fetch_all(pool).await?)
                }
            };
            for (c, name, k) in exact.into_iter().chain(rows) {
                let rank = if k == key {
                    2
                } else if k.starts_with(key) {
                    3
                } else {
                    4
                };
                found.push((c, Some(name), rank));
            }
        }
        found.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
        let mut seen = std::collections::HashSet::new();
        found.retain(|f| seen.insert(f.0.clone()));
        if found.is_empty() {
            return Ok(Vec::new());
        }
        // A department user may not see some candidates: keep spares for those; else only the page.
        found.truncate(if scope.is_some() && !others { limit * 4 } else { limit });
        let codes: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
        let counts = self.subject_counts(&codes, scope).await?;
        let names = self.subject_display_names(&codes).await?;
        let mut hits = Vec::new();
        for (code, matched, _) in found {
            let (own, other) = counts.get(&code).copied().unwrap_or((0, 0));
            if scope.is_some() && own == 0 && !others {
                continue;
            }
            let name = names.get(&code).cloned().or_else(|| matched.clone()).unwrap_or_default();
            hits.push(SubjectHit {
                matched_name: matched.filter(|m| *m != name),
                name,
                records: own,
                other_records: (scope.is_some() && others).then_some(other),
                credit_code: code,
            });
            if hits.len() == limit {
                break;
            }
        }
        Ok(hits)
    }

    /// Per subject: (records of `scope` — all when `None` —, records of other departments).
    async fn subject_counts(
        &self,
        codes: &[&str],
        scope: Option<&str>,
    ) -> Result<HashMap<String, (i64, i64)>, StoreError> {
        let mut out: HashMap<String, (i64, i64)> = HashMap::new();
        let db = self.db();
        let own = match scope {
            Some(d) => format!("CASE WHEN r.department = {} THEN 1 ELSE 0 END", super::records::literal(d)),
            None => "1".to_string(),
        };
        for chunk in codes.chunks(CHUNK) {
            let sql = format!(
                "SELECT s.subject_code, CAST({own} AS BIGINT), \
                 CAST(COUNT(*) AS BIGINT) FROM subject_records s JOIN records r ON r.id = s.record_id \
                 WHERE s.source = 'record' AND s.subject_code IN ({}) GROUP BY 1, 2",
                list_marks(db, chunk.len(), 1),
                own = own
            );
            let rows: Vec<(String, i64, i64)> = on_pool!(db, pool => {
                let mut q = sqlx::query_as(&sql);
                for c in chunk {
                    q = q.bind(*c);
                }
                q.fetch_all(pool).await?
            });
            for (code, own, n) in rows {
                let e = out.entry(code).or_default();
                if own == 1 {
                    e.0 += n;
                } else {
                    e.1 += n;
                }
            }
        }
        Ok(out)
    }

    /// The name each subject is shown under: the platform's subject library's (as registered),
    /// else the first of the names our records gave it.
    pub async fn subject_display_names(&self, codes: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        let db = self.db();
        for chunk in codes.chunks(CHUNK) {
            let m = list_marks(db, chunk.len(), 1);
            let sql = format!(
                "SELECT credit_code, name, 0 FROM subject_library WHERE credit_code IN ({m}) \
                 UNION ALL SELECT subject_code, MIN(name), 1 FROM subject_aliases WHERE subject_code IN ({m}) GROUP BY subject_code"
            );
            // PostgreSQL reads the same numbered list twice; SQLite's `?` are two lists.
            let times = if matches!(db, Db::Postgres(_)) { 1 } else { 2 };
            let rows: Vec<(String, String, i32)> = on_pool!(db, pool => {
                let mut q = sqlx::query_as(&sql);
                for _ in 0..times {
                    for c in chunk {
                        q = q.bind(*c);
                    }
                }
                q.fetch_all(pool).await?
            });
            let mut best: HashMap<String, (i32, String)> = HashMap::new();
            for (code, name, rank) in rows {
                let e = best.entry(code).or_insert((i32::MAX, String::new()));
                if rank < e.0 {
                    *e = (rank, name);
                }
            }
            out.extend(best.into_iter().map(|(c, (_, n))| (c, n)));
        }
        Ok(out)
    }

    /// A subject's records (all departments: the caller filters by its scope), by item and
    /// decision date, with their status; at most [`FILE_LIMIT`].
    pub async fn subject_records(&self, code: &str) -> Result<Vec<FileRecord>, StoreError> {
        const SQL: &str = "SELECT r.id, r.item, r.department, r.version, r.content, r.decision_date, r.reported_on, \
             r.publicity_end, CAST(r.publicity_held AS BIGINT), CAST(r.publicity_closed AS BIGINT), \
             (SELECT MIN(e.kind) FROM publicity_events e WHERE e.record_id = r.id AND e.kind IN ('withdraw', 'delete')), \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM publicity_events e WHERE e.record_id = r.id AND e.kind = 'repair') \
                  OR EXISTS (SELECT 1 FROM repairs p WHERE p.record_id = r.id) THEN 1 ELSE 0 END AS BIGINT), \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM objections o WHERE o.record_id = r.id AND o.status = 'open') \
                  THEN 1 ELSE 0 END AS BIGINT), \
             CAST(r.returned AS BIGINT), CAST(r.duplicate AS BIGINT), r.updated_at \
             FROM subject_records s JOIN records r ON r.id = s.record_id \
             WHERE s.subject_code = $1 AND s.source = 'record' \
             ORDER BY r.item, r.decision_date DESC, r.id LIMIT $2";
        let rows = on_pool!(self.db(), pool => sqlx::query(SQL).bind(code).bind(FILE_LIMIT).fetch_all(pool).await?
            .into_iter()
            .map(|r| FileRecord {
                id: r.get(0),
                item: r.get(1),
                department: r.get(2),
                version: r.get(3),
                content: r.get(4),
                decision_date: r.get(5),
                reported_on: r.get(6),
                publicity_end: r.get(7),
                publicity_held: r.get::<i64, _>(8) != 0,
                publicity_closed: r.get::<i64, _>(9) != 0,
                revoked: r.get(10),
                repaired: r.get::<i64, _>(11) != 0,
                under_objection: r.get::<i64, _>(12) != 0,
                returned: r.get::<i64, _>(13) != 0,
                duplicate: r.get::<i64, _>(14) != 0,
                updated_at: r.get(15),
            })
            .collect::<Vec<_>>());
        Ok(rows)
    }

    /// The feed records (sent down) about a subject, newest first.
    pub async fn subject_feed_records(&self, code: &str) -> Result<Vec<FileFeedRecord>, StoreError> {
        const SQL: &str = "SELECT f.id, f.feed, f.item, f.operation, CAST(f.publicity AS BIGINT), CAST(f.repair AS BIGINT), \
             f.content, f.received_at, f.sector FROM subject_records s JOIN feed_records f ON f.id = s.record_id \
             WHERE s.subject_code = $1 AND s.source = 'feed' ORDER BY f.received_at DESC, f.id LIMIT $2";
        let rows = on_pool!(self.db(), pool => sqlx::query(SQL).bind(code).bind(FILE_LIMIT).fetch_all(pool).await?
            .into_iter()
            .map(|r| FileFeedRecord {
                id: r.get(0),
                feed: r.get(1),
                item: r.get(2),
                operation: r.get(3),
                publicity: r.get(4),
                repair: r.get::<i64, _>(5) != 0,
                content: r.get(6),
                received_at: r.get(7),
                sector: r.get(8),
            })
            .collect::<Vec<_>>());
        Ok(rows)
    }

    /// A subject's grades, newest first.
    pub async fn subject_grade_history(&self, code: &str) -> Result<Vec<GradeRow>, StoreError> {
        const SQL: &str = "SELECT credit_code, as_of, grade, previous, CAST(general AS BIGINT), CAST(serious AS BIGINT), \
             reasons, rule, record_id, computed_at FROM subject_grades WHERE credit_code = $1 ORDER BY as_of DESC";
        let rows = on_pool!(self.db(), pool => sqlx::query(SQL).bind(code).fetch_all(pool).await?
            .into_iter()
            .map(|r| grade_row(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get::<String, _>(6), r.get(7), r.get(8), r.get(9)))
            .collect::<Vec<_>>());
        Ok(rows)
    }

    /// Every subject our records name, with the name it is shown under, in code order: the
    /// population graded. Streamed.
    pub async fn each_subject(&self, mut f: impl FnMut(String, String)) -> Result<(), StoreError> {
        const SQL: &str = "SELECT c.subject_code, COALESCE(l.name, \
             (SELECT MIN(a.name) FROM subject_aliases a WHERE a.subject_code = c.subject_code), '') \
             FROM (SELECT DISTINCT subject_code FROM subject_records WHERE source = 'record' \
             AND subject_code NOT LIKE 'ZR%') c \
             LEFT JOIN subject_library l ON l.credit_code = c.subject_code ORDER BY c.subject_code";
        on_pool!(self.db(), pool => {
            let mut rows = sqlx::query(SQL).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                f(r.get(0), r.get(1));
            }
        });
        Ok(())
    }

    /// The records the grading of `as_of` reads: of the `items` decided after `floor` and on
    /// or before `as_of`, and of the `listed` items on or before `as_of` whatever their date.
    /// Streamed; one range read of `records`, no per-row lookups (see [`Store::ended_records`]).
    pub async fn each_grading_row(
        &self,
        items: &[String],
        listed: &[String],
        floor: &str,
        as_of: &str,
        mut f: impl FnMut(GradingRow),
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT r.id, r.item, r.decision_date, r.content, CAST(r.duplicate AS BIGINT) FROM records r \
             WHERE r.decision_date <= $2 AND ((r.item IN ({}) AND r.decision_date > $1) OR r.item IN ({}))",
            quoted(items),
            quoted(listed)
        );
        on_pool!(self.db(), pool => {
            let mut rows = sqlx::query(&sql).bind(floor).bind(as_of).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                f(GradingRow {
                    record_id: r.get(0),
                    item: r.get(1),
                    decision_date: r.get(2),
                    content: r.get(3),
                    duplicate: r.get::<i64, _>(4) != 0,
                });
            }
        });
        Ok(())
    }

    /// Each record of `ids`, in any order, as (id, item, content), read a chunk at a time and
    /// handed to `f`, so a grading's many reasons are never held at once. The grading reads its
    /// results' reasons with it, to find their sectors (`config/sectors.toml` `from = "reasons"`).
    pub async fn each_record_content(&self, ids: &[i64], mut f: impl FnMut(i64, &str, &str)) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK) {
            let sql = format!("SELECT id, item, content FROM records WHERE id IN ({})", join_ids(chunk));
            let rows: Vec<(i64, String, String)> =
                on_pool!(self.db(), pool => sqlx::query_as(&sql).fetch_all(pool).await?);
            for (id, item, content) in &rows {
                f(*id, item, content);
            }
        }
        Ok(())
    }

    /// The records repaired (信用修复: by the office, or a feed's repair result) on or before
    /// `as_of`, and those revoked or deleted by their department (撤销/删除) by then.
    pub async fn ended_records(
        &self,
        as_of: &str,
    ) -> Result<(std::collections::HashSet<i64>, std::collections::HashSet<i64>), StoreError> {
        const REPAIRED: &str = "SELECT record_id FROM publicity_events WHERE kind = 'repair' AND decided <= $1 \
             UNION SELECT record_id FROM repairs WHERE received_on <= $1";
        const REVOKED: &str =
            "SELECT record_id FROM publicity_events WHERE kind IN ('withdraw', 'delete') AND decided <= $1";
        let repaired: Vec<(i64,)> =
            on_pool!(self.db(), pool => sqlx::query_as(REPAIRED).bind(as_of).fetch_all(pool).await?);
        let revoked: Vec<(i64,)> =
            on_pool!(self.db(), pool => sqlx::query_as(REVOKED).bind(as_of).fetch_all(pool).await?);
        Ok((repaired.into_iter().map(|r| r.0).collect(), revoked.into_iter().map(|r| r.0).collect()))
    }

    /// Each subject's latest stored grade before `as_of`: code → (grade, reasons as stored).
    pub async fn latest_grades_before(&self, as_of: &str) -> Result<HashMap<String, (String, String)>, StoreError> {
        const SQL: &str = "SELECT g.credit_code, g.grade, g.reasons FROM subject_grades g \
             JOIN (SELECT credit_code, MAX(as_of) AS m FROM subject_grades WHERE as_of < $1 GROUP BY credit_code) l \
             ON l.credit_code = g.credit_code AND l.m = g.as_of";
        self.grade_map(SQL, as_of).await
    }

    /// The grades stored for `as_of` itself: code → (grade, reasons as stored).
    pub async fn grades_on(&self, as_of: &str) -> Result<HashMap<String, (String, String)>, StoreError> {
        self.grade_map("SELECT credit_code, grade, reasons FROM subject_grades WHERE as_of = $1", as_of).await
    }

    async fn grade_map(&self, sql: &str, as_of: &str) -> Result<HashMap<String, (String, String)>, StoreError> {
        let mut out = HashMap::new();
        on_pool!(self.db(), pool => {
            let mut rows = sqlx::query(sql).bind(as_of).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                out.insert(r.get::<String, _>(0), (r.get::<String, _>(1), r.get::<String, _>(2)));
            }
        });
        Ok(out)
    }

    /// Stores grades (a row per changed subject), replacing a row of the same day.
    pub async fn store_grades(&self, rows: &[GradeRow]) -> Result<(), StoreError> {
        let db = self.db();
        on_pool!(db, pool => {
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(CHUNK / 2) {
                let sql = format!(
                    "INSERT INTO subject_grades (credit_code, as_of, grade, previous, general, serious, reasons, rule, \
                     record_id, computed_at) VALUES {} ON CONFLICT (credit_code, as_of) DO UPDATE SET grade = excluded.grade, \
                     previous = excluded.previous, general = excluded.general, serious = excluded.serious, \
                     reasons = excluded.reasons, rule = excluded.rule, record_id = excluded.record_id, \
                     computed_at = excluded.computed_at",
                    marks(db, chunk.len() * 10, 10)
                );
                let mut q = sqlx::query(&sql);
                for g in chunk {
                    q = q
                        .bind(&g.credit_code)
                        .bind(&g.as_of)
                        .bind(&g.grade)
                        .bind(&g.previous)
                        .bind(g.general)
                        .bind(g.serious)
                        .bind(join_ids(&g.reasons))
                        .bind(&g.rule)
                        .bind(g.record_id)
                        .bind(&g.computed_at);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Subjects per current grade (latest on or before `as_of`), for the figures.
    pub async fn grade_counts(&self, as_of: &str) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str = "SELECT g.grade, CAST(COUNT(*) AS BIGINT) FROM subject_grades g \
             JOIN (SELECT credit_code, MAX(as_of) AS m FROM subject_grades WHERE as_of <= $1 GROUP BY credit_code) l \
             ON l.credit_code = g.credit_code AND l.m = g.as_of GROUP BY g.grade ORDER BY g.grade";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(as_of).fetch_all(pool).await?))
    }
}

pub fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

pub fn split_ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

#[allow(clippy::too_many_arguments)]
fn grade_row(
    credit_code: String,
    as_of: String,
    grade: String,
    previous: Option<String>,
    general: i64,
    serious: i64,
    reasons: String,
    rule: String,
    record_id: Option<i64>,
    computed_at: String,
) -> GradeRow {
    GradeRow {
        credit_code,
        as_of,
        grade,
        previous,
        general,
        serious,
        reasons: split_ids(&reasons),
        rule,
        record_id,
        computed_at,
    }
}
