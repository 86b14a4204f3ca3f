//! Corrections by decision and one code, one name: the checks an ingest batch gets against
//! what is already stored, on the writer's own connection (so earlier batches of the same
//! file, not yet committed, count too).
//!
//! A row whose decision (same item, department, 文书号 and decision date) is stored under
//! another key, on a record the platform returned, is that record's correction: the record
//! takes the row's key and the row becomes its next version, so the return is closed by it
//! and the key the platform had accepted elsewhere is deleted there. Any other row repeating
//! a stored decision under another key is kept with the warning `duplicate_decision`; a
//! credit code stored under another name (重码) with `code_name_conflict`.

use std::collections::HashMap;

use sqlx::Row;

use super::StoreError;
use super::records::{Conn, ProblemRow, RecordWriter, WriteCounts, literal};
use crate::problem::ProblemCode;
use crate::record::{KEY_SEPARATOR, PreparedRecord, RejectedDecision};
use crate::transform::name_key;

/// Keys looked up per statement.
const LOOKUP_CHUNK: usize = 500;

/// A stored record sharing a decision with a row of the batch.
#[derive(Debug, Clone)]
struct Sibling {
    id: i64,
    business_key: String,
    department: String,
    version: i64,
    returned: bool,
}

/// The name a credit code is stored under, and the record that stored it.
#[derive(Debug, Clone)]
struct KnownSubject {
    name: String,
    item: String,
    business_key: String,
}

/// A record re-keyed by a correction: its id, and the key and version it had.
struct Rekeyed {
    id: i64,
    old_key: String,
    old_version: i64,
}

/// What one checked write did, beyond `WriteCounts`.
#[derive(Debug, Default)]
pub struct CheckedWrite {
    pub counts: WriteCounts,
    /// Warnings found against the store, already written with the batch's problems.
    pub warnings: Vec<ProblemRow>,
    /// Returned records this batch corrected under a new key.
    pub corrected: u64,
}

/// A key as a person reads it: its parts joined by ` / `.
fn shown(key: &str) -> String {
    key.replace(KEY_SEPARATOR, " / ")
}

impl RecordWriter {
    /// Writes a batch like [`RecordWriter::write`], after matching its rows by decision and
    /// by credit code against the store.
    pub async fn write_checked(
        &mut self,
        records: &[PreparedRecord],
        problems: &[ProblemRow],
        rejected: &[RejectedDecision],
    ) -> Result<CheckedWrite, StoreError> {
        self.write_rejected(rejected).await?;
        let mut warnings = Vec::new();
        let rekeyed = self.match_decisions(records, &mut warnings).await?;
        self.match_subjects(records, &rekeyed, &mut warnings).await?;
        let all: Vec<ProblemRow>;
        let problems = if warnings.is_empty() {
            problems
        } else {
            all = problems.iter().cloned().chain(warnings.iter().cloned()).collect();
            &all
        };
        let counts = self.write(records, problems).await?;
        // The figures count a repeated decision once: its later record is marked.
        for w in warnings.iter().filter(|w| w.code == ProblemCode::DuplicateDecision.as_str()) {
            if let Some(r) = records.iter().find(|r| r.line == w.line) {
                self.mark_duplicate(&r.business_key).await?;
            }
        }
        for r in &rekeyed {
            self.after_rekey(r).await?;
        }
        Ok(CheckedWrite { counts, warnings, corrected: rekeyed.len() as u64 })
    }

    /// Re-keys returned records the batch corrects; warns rows repeating a stored decision.
    async fn match_decisions(
        &mut self,
        records: &[PreparedRecord],
        warnings: &mut Vec<ProblemRow>,
    ) -> Result<Vec<Rekeyed>, StoreError> {
        let mut wanted: Vec<&str> = records.iter().filter_map(|r| r.decision_key.as_deref()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut siblings: HashMap<String, Vec<Sibling>> = HashMap::new();
        for chunk in wanted.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT id, business_key, decision_key, department, version, CAST(returned AS BIGINT) FROM records \
                 WHERE item = {} AND decision_key IN ({})",
                literal(&self.item),
                self.marks(chunk.len(), 1)
            );
            macro_rules! fetch {
                ($c:expr) => {{
                    let mut q = sqlx::query(&sql);
                    for k in chunk {
                        q = q.bind(*k);
                    }
                    q.fetch_all(&mut **$c).await?
                }};
            }
            let rows = match &mut self.conn {
                Conn::Sqlite(c) => fetch!(c)
                    .into_iter()
                    .map(|r| {
                        (r.get::<String, _>(2), sibling(r.get(0), r.get(1), r.get(3), r.get(4), r.get::<i64, _>(5)))
                    })
                    .collect::<Vec<_>>(),
                Conn::Postgres(c) => fetch!(c)
                    .into_iter()
                    .map(|r| {
                        (r.get::<String, _>(2), sibling(r.get(0), r.get(1), r.get(3), r.get(4), r.get::<i64, _>(5)))
                    })
                    .collect::<Vec<_>>(),
            };
            for (dk, s) in rows {
                siblings.entry(dk).or_default().push(s);
            }
        }
        let mut rekeyed = Vec::new();
        for r in records {
            let Some(dk) = r.decision_key.as_deref() else { continue };
            let list = siblings.entry(dk.to_string()).or_default();
            if list.iter().any(|s| s.business_key == r.business_key) {
                continue;
            }
            let returned: Vec<usize> = list
                .iter()
                .enumerate()
                .filter(|(_, s)| s.returned && s.id > 0 && s.department == self.department)
                .map(|(i, _)| i)
                .collect();
            if let [only] = returned[..] {
                // The department's correction of a returned record: the record takes the new key.
                let s = &mut list[only];
                self.set_key(s.id, &r.business_key).await?;
                rekeyed.push(Rekeyed {
                    id: s.id,
                    old_key: std::mem::replace(&mut s.business_key, r.business_key.clone()),
                    old_version: s.version,
                });
                s.returned = false;
                continue;
            }
            if let Some(other) = list.first() {
                let version = if other.id > 0 {
                    format!("（第 {} 版）", other.version)
                } else {
                    "（同一文件的前一行）".into()
                };
                warnings.push(ProblemRow {
                    line: r.line,
                    field: None,
                    code: ProblemCode::DuplicateDecision.as_str(),
                    severity: "warning",
                    reason: format!(
                        "同一决定（文书号、决定日期相同）已以另一业务键存储：已存 {}{version}，本行 {}；请核对是否重复报送，一个决定只计一次",
                        shown(&other.business_key),
                        shown(&r.business_key)
                    ),
                    value: Some(shown(&r.business_key)),
                });
            }
            list.push(Sibling {
                id: 0,
                business_key: r.business_key.clone(),
                department: self.department.clone(),
                version: 1,
                returned: false,
            });
        }
        Ok(rekeyed)
    }

    /// Warns a credit code stored under another name; remembers the first name of new codes.
    async fn match_subjects(
        &mut self,
        records: &[PreparedRecord],
        rekeyed: &[Rekeyed],
        warnings: &mut Vec<ProblemRow>,
    ) -> Result<(), StoreError> {
        let mut codes: Vec<&str> = records.iter().filter_map(|r| r.subject.as_ref().map(|s| s.0.as_str())).collect();
        codes.sort_unstable();
        codes.dedup();
        if codes.is_empty() {
            return Ok(());
        }
        let mut known: HashMap<String, KnownSubject> = HashMap::new();
        for chunk in codes.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT subject_code, name, item, business_key FROM subject_names WHERE subject_code IN ({})",
                self.marks(chunk.len(), 1)
            );
            macro_rules! fetch {
                ($c:expr) => {{
                    let mut q = sqlx::query_as::<_, (String, String, String, String)>(&sql);
                    for k in chunk {
                        q = q.bind(*k);
                    }
                    q.fetch_all(&mut **$c).await?
                }};
            }
            let rows = match &mut self.conn {
                Conn::Sqlite(c) => fetch!(c),
                Conn::Postgres(c) => fetch!(c),
            };
            for (code, name, item, business_key) in rows {
                known.insert(code, KnownSubject { name, item, business_key });
            }
        }
        let mut new: Vec<(&str, &PreparedRecord)> = Vec::new();
        let mut renamed: Vec<(&str, &PreparedRecord)> = Vec::new();
        for r in records {
            let Some((code, name)) = &r.subject else { continue };
            let k = match known.get(code.as_str()) {
                None => {
                    known.insert(
                        code.clone(),
                        KnownSubject {
                            name: name.clone(),
                            item: self.item.clone(),
                            business_key: r.business_key.clone(),
                        },
                    );
                    new.push((code, r));
                    continue;
                }
                Some(k) if k.name == *name || name_key(&k.name) == name_key(name) => continue,
                Some(k) => k.clone(),
            };
            // The record that gave the name is corrected by this row: its name goes with it.
            let same_record = k.item == self.item
                && (k.business_key == r.business_key || rekeyed.iter().any(|x| x.old_key == k.business_key));
            if same_record {
                renamed.push((code, r));
                known.insert(
                    code.clone(),
                    KnownSubject { name: name.clone(), item: self.item.clone(), business_key: r.business_key.clone() },
                );
                continue;
            }
            warnings.push(ProblemRow {
                line: r.line,
                field: None,
                code: ProblemCode::CodeNameConflict.as_str(),
                severity: "warning",
                reason: format!(
                    "统一社会信用代码 {code} 已以名称“{}”存储（{} 记录 {}），本行名称为“{name}”（记录 {}）：一码多名（重码），请核对",
                    k.name,
                    k.item,
                    shown(&k.business_key),
                    shown(&r.business_key)
                ),
                value: Some(name.clone()),
            });
        }
        for chunk in new.chunks(LOOKUP_CHUNK / 4) {
            let marks = self.marks(chunk.len() * 4, 4);
            let sql = format!(
                "INSERT INTO subject_names (subject_code, name, item, business_key) VALUES {marks} \
                 ON CONFLICT (subject_code) DO NOTHING"
            );
            macro_rules! insert {
                ($c:expr) => {{
                    let mut q = sqlx::query(&sql);
                    for (code, r) in chunk {
                        let name = r.subject.as_ref().map_or("", |s| s.1.as_str());
                        q = q.bind(*code).bind(name).bind(&self.item).bind(&r.business_key);
                    }
                    q.execute(&mut **$c).await?;
                }};
            }
            match &mut self.conn {
                Conn::Sqlite(c) => insert!(c),
                Conn::Postgres(c) => insert!(c),
            }
        }
        for (code, r) in renamed {
            let name = r.subject.as_ref().map_or("", |s| s.1.as_str());
            let sql = "UPDATE subject_names SET name = $1, item = $2, business_key = $3 WHERE subject_code = $4";
            macro_rules! update {
                ($c:expr) => {{
                    sqlx::query(sql)
                        .bind(name)
                        .bind(&self.item)
                        .bind(&r.business_key)
                        .bind(code)
                        .execute(&mut **$c)
                        .await?;
                }};
            }
            match &mut self.conn {
                Conn::Sqlite(c) => update!(c),
                Conn::Postgres(c) => update!(c),
            }
        }
        Ok(())
    }

    /// Keeps the decisions of rejected rows (漏报 until a record of the decision arrives).
    async fn write_rejected(&mut self, rejected: &[RejectedDecision]) -> Result<(), StoreError> {
        let numbered = matches!(self.conn, Conn::Postgres(_));
        let constants = format!("{},{},{}", literal(&self.department), literal(&self.item), self.run_id);
        for chunk in rejected.chunks(LOOKUP_CHUNK) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| match numbered {
                    true => format!("({constants},${},${},${})", 3 * i + 1, 3 * i + 2, 3 * i + 3),
                    false => format!("({constants},?,?,?)"),
                })
                .collect();
            let sql = format!(
                "INSERT INTO rejected_decisions (department, item, ingest_run_id, decision_key, decision_date, line) \
                 VALUES {}",
                rows.join(",")
            );
            macro_rules! insert {
                ($c:expr) => {{
                    let mut q = sqlx::query(&sql);
                    for d in chunk {
                        q = q.bind(&d.decision_key).bind(&d.decision_date).bind(d.line as i64);
                    }
                    q.execute(&mut **$c).await?;
                }};
            }
            match &mut self.conn {
                Conn::Sqlite(c) => insert!(c),
                Conn::Postgres(c) => insert!(c),
            }
        }
        Ok(())
    }

    async fn mark_duplicate(&mut self, business_key: &str) -> Result<(), StoreError> {
        let sql =
            format!("UPDATE records SET duplicate = 1 WHERE item = {} AND business_key = $1", literal(&self.item));
        match &mut self.conn {
            Conn::Sqlite(c) => {
                sqlx::query(&sql).bind(business_key).execute(&mut **c).await?;
            }
            Conn::Postgres(c) => {
                sqlx::query(&sql).bind(business_key).execute(&mut **c).await?;
            }
        }
        Ok(())
    }

    async fn set_key(&mut self, id: i64, key: &str) -> Result<(), StoreError> {
        let sql = "UPDATE records SET business_key = $1 WHERE id = $2";
        match &mut self.conn {
            Conn::Sqlite(c) => {
                sqlx::query(sql).bind(key).bind(id).execute(&mut **c).await?;
            }
            Conn::Postgres(c) => {
                sqlx::query(sql).bind(key).bind(id).execute(&mut **c).await?;
            }
        }
        Ok(())
    }

    /// After a corrected version is stored: where the platform accepted the old key, that key
    /// is withdrawn (撤销: it named the wrong subject), as the old version and under the old
    /// key, and the new key goes as new (`add`).
    async fn after_rekey(&mut self, r: &Rekeyed) -> Result<(), StoreError> {
        let delete = format!(
            "INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, next_attempt_at, \
             created_at, updated_at, business_key) \
             SELECT r.id, {v}, a.destination, 'withdraw', r.id || ':{v}:withdraw:' || a.destination, \
             'pending', {now}, {now}, {now}, $1 FROM records r \
             JOIN (SELECT DISTINCT destination FROM deliveries WHERE record_id = $2 AND source = 'record' \
                   AND status = 'accepted' AND operation IN ('add', 'update')) a ON 1 = 1 \
             WHERE r.id = $2 \
             ON CONFLICT (record_id, destination, version, operation) DO NOTHING",
            v = r.old_version,
            now = literal(&self.now)
        );
        // The old key's first name no longer stands for the code it named.
        let forget = "DELETE FROM subject_names WHERE item = $1 AND business_key = $2";
        let as_new = "UPDATE deliveries SET operation = 'add' WHERE record_id = $1 AND status = 'pending' \
                      AND operation = 'update' AND business_key IS NULL \
                      AND version = (SELECT version FROM records WHERE id = $1)";
        match &mut self.conn {
            Conn::Sqlite(c) => {
                sqlx::query(forget).bind(&self.item).bind(&r.old_key).execute(&mut **c).await?;
                sqlx::query(as_new).bind(r.id).execute(&mut **c).await?;
                sqlx::query(&delete).bind(&r.old_key).bind(r.id).execute(&mut **c).await?;
            }
            Conn::Postgres(c) => {
                sqlx::query(forget).bind(&self.item).bind(&r.old_key).execute(&mut **c).await?;
                sqlx::query(as_new).bind(r.id).execute(&mut **c).await?;
                sqlx::query(&delete).bind(&r.old_key).bind(r.id).execute(&mut **c).await?;
            }
        }
        Ok(())
    }

    /// `n` parameters in groups of `group`: `(?,?),(?,?)` on SQLite (anonymous, see
    /// `values_upsert_sql`), `($1,$2),($3,$4)` on PostgreSQL; one group is `?,?` / `$1,$2`.
    fn marks(&self, n: usize, group: usize) -> String {
        let numbered = matches!(self.conn, Conn::Postgres(_));
        let mark = |i: usize| if numbered { format!("${}", i + 1) } else { "?".to_string() };
        if group == 1 {
            return (0..n).map(mark).collect::<Vec<_>>().join(",");
        }
        (0..n / group)
            .map(|g| format!("({})", (0..group).map(|j| mark(g * group + j)).collect::<Vec<_>>().join(",")))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn sibling(id: i64, business_key: String, department: String, version: i64, returned: i64) -> Sibling {
    Sibling { id, business_key, department, version, returned: returned != 0 }
}
