//! Corrections by decision and one code, one name: the checks an ingest batch gets against
//! what is already stored, on the writer's own connection (so earlier batches of the same
//! file, not yet committed, count too).
//!
//! A row whose decision (same item, department, 文书号 and decision date) is stored under
//! another key, on a record the platform returned, is that record's correction: the record
//! takes the row's key and the row becomes its next version, so the return is closed by it
//! and the key the platform had accepted elsewhere is deleted there. Any other row repeating
//! a stored decision under another key is kept with the warning `duplicate_decision`; a
//! credit code known under another name (重码: the names the link pass keeps, and this run's
//! earlier rows) with `code_name_conflict`.

use std::collections::HashMap;

use super::StoreError;
use super::records::{Conn, ProblemRow, RecordWriter, WriteCounts, literal};
use crate::problem::ProblemCode;
use crate::record::{KEY_SEPARATOR, PreparedRecord, RejectedDecision};
use crate::transform::name_key;

/// Keys looked up per statement.
const LOOKUP_CHUNK: usize = 500;

/// A stored record (or an earlier row of the batch) sharing a decision with a row of the
/// batch; borrowed from the lookup's rows and the batch, as a batch's 2,048 rows would
/// otherwise each copy their key.
#[derive(Debug, Clone)]
struct Sibling<'a> {
    id: i64,
    business_key: &'a str,
    department: &'a str,
    version: i64,
    returned: bool,
}

/// A record re-keyed by a correction: its id, and the key and version it had.
struct Rekeyed {
    id: i64,
    old_key: String,
    old_version: i64,
    /// The correcting row's credit code and name: the record is linked to them now.
    subject: Option<(String, String)>,
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

/// The `code_name_conflict` warning: the code's earlier name and where it came from.
fn conflict(code: &str, earlier_name: &str, earlier: &str, name: &str, r: &PreparedRecord) -> ProblemRow {
    ProblemRow {
        line: r.line,
        field: None,
        code: ProblemCode::CodeNameConflict.as_str(),
        severity: "warning",
        reason: format!(
            "统一社会信用代码 {code} 已以名称“{earlier_name}”存储（{earlier}），本行名称为“{name}”（记录 {}）：一码多名（重码），请核对",
            shown(&r.business_key)
        ),
        value: Some(name.to_string()),
    }
}

/// The credit codes one ingest run has met, with the name and record each first came under.
/// Compact because a 1,000,000-row file can hold as many codes: the code's hash leads to the
/// line, the record key's hash and the name, kept in one byte arena (about 50 bytes a code,
/// where a code-keyed table on the writer's path cost a random b-tree insert per row).
#[derive(Default)]
pub(super) struct SeenSubjects {
    /// Keyed by the code's hash already, so the table's own hashing is foldhash's, not SipHash's
    /// (SipHash, the standard library's default against hash flooding, cost a second hashing per
    /// row for keys no caller chooses).
    by_code: foldhash::HashMap<u64, Seen>,
    names: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Seen {
    line: u32,
    at: u32,
    key: u64,
}

/// What [`SeenSubjects::get`] gives.
struct SeenName<'a> {
    line: u64,
    key: u64,
    name: &'a str,
}

impl SeenSubjects {
    /// A fixed seed: the same code hashes alike through the run.
    fn hash(s: &str) -> u64 {
        use std::hash::BuildHasher;
        foldhash::quality::FixedState::with_seed(0).hash_one(s)
    }

    fn get(&self, code: &str) -> Option<SeenName<'_>> {
        let seen = self.by_code.get(&Self::hash(code))?;
        let at = seen.at as usize;
        let len = u16::from_le_bytes([self.names[at], self.names[at + 1]]) as usize;
        // Whole characters of a str went in (see insert).
        let name = std::str::from_utf8(&self.names[at + 2..at + 2 + len]).unwrap_or_default();
        Some(SeenName { line: u64::from(seen.line), key: seen.key, name })
    }

    fn insert(&mut self, code: &str, line: u64, key: &str, name: &str) {
        // A name past 65,535 bytes is cut at a character boundary (no registered name comes near).
        let mut end = name.len().min(usize::from(u16::MAX));
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let at = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.extend_from_slice(&(end as u16).to_le_bytes());
        self.names.extend_from_slice(&name.as_bytes()[..end]);
        let seen = Seen { line: u32::try_from(line).unwrap_or(u32::MAX), at, key: Self::hash(key) };
        self.by_code.insert(Self::hash(code), seen);
    }
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
        // The records of a decision share their business key's first part (the catalogue makes
        // it the decision's 文书号), so the business key's own index finds them by that prefix:
        // no index of its own for the check to keep up on every insert. The exact decision key
        // is compared here.
        let mut prefixes: Vec<&str> = wanted.iter().map(|k| decision_prefix(k)).collect();
        prefixes.dedup();
        const RANGE: &str = "r.item = $2 AND r.business_key >= j.p AND r.business_key < substr(j.p, 1, length(j.p) - 1) || ' ' \
             AND r.decision_key IS NOT NULL";
        // SQLite: each prefix and its range's end made once, into a materialized table. The
        // prefixes travel without their closing separator, a control character JSON escapes
        // (and SQLite's json_each then unescapes, character by character).
        const SQLITE_RANGE: &str = "r.item = $2 AND r.business_key >= j.p AND r.business_key < j.q \
             AND r.decision_key IS NOT NULL";
        let rows: Vec<(i64, String, String, String, i64, i64)> = match &mut self.conn {
            Conn::Sqlite(c) => {
                let (mut parts, mut whole) = (Vec::new(), Vec::new());
                for p in &prefixes {
                    match p.strip_suffix(KEY_SEPARATOR) {
                        Some(part) => parts.push(part),
                        None => whole.push(*p),
                    }
                }
                let list = serde_json::to_string(&parts).expect("a list of strings serialises");
                let whole = serde_json::to_string(&whole).expect("a list of strings serialises");
                let sql = format!(
                    "WITH j(p, q) AS MATERIALIZED (SELECT value || char(31), value || ' ' FROM json_each($1) \
                     UNION ALL SELECT value, substr(value, 1, length(value) - 1) || ' ' FROM json_each($3)) \
                     SELECT r.id, r.business_key, r.decision_key, r.department, r.version, CAST(r.returned AS BIGINT) \
                     FROM j CROSS JOIN records r WHERE {SQLITE_RANGE}"
                );
                sqlx::query_as(&sql).bind(list).bind(&self.item).bind(whole).fetch_all(&mut **c).await?
            }
            Conn::Postgres(c) => {
                // A range scan of the key index per prefix (OFFSET 0 keeps the subquery apart):
                // joined, the planner takes an item's records, of which a young table's
                // statistics know few, whole, and compares them with every prefix.
                let sql = format!(
                    "SELECT r.id, r.business_key, r.decision_key, r.department, r.version, r.returned \
                     FROM unnest($1::text[]) AS j(p) CROSS JOIN LATERAL (SELECT r.id, r.business_key, r.decision_key, \
                     r.department, r.version, CAST(r.returned AS BIGINT) AS returned FROM records r WHERE {RANGE} OFFSET 0) r"
                );
                sqlx::query_as(&sql).bind(&prefixes).bind(&self.item).fetch_all(&mut **c).await?
            }
        };
        let own_department = self.department.clone();
        let mut siblings: foldhash::HashMap<&str, Vec<Sibling>> = foldhash::HashMap::default();
        for (id, key, dk, department, version, returned) in &rows {
            if wanted.binary_search(&dk.as_str()).is_ok() {
                let s = Sibling { id: *id, business_key: key, department, version: *version, returned: *returned != 0 };
                siblings.entry(dk.as_str()).or_default().push(s);
            }
        }
        let mut rekeyed = Vec::new();
        for r in records {
            let Some(dk) = r.decision_key.as_deref() else { continue };
            let list = siblings.entry(dk).or_default();
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
                    old_key: std::mem::replace(&mut s.business_key, &r.business_key).to_string(),
                    old_version: s.version,
                    subject: r.subject.clone(),
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
                        shown(other.business_key),
                        shown(&r.business_key)
                    ),
                    value: Some(shown(&r.business_key)),
                });
            }
            list.push(Sibling {
                id: 0,
                business_key: &r.business_key,
                department: &own_department,
                version: 1,
                returned: false,
            });
        }
        Ok(rekeyed)
    }

    /// Warns a credit code stored under another name (重码). The store's names of a code are
    /// the link pass's (`subject_aliases`, every name the code's records gave it, linked at the
    /// start of the run); this run's own rows are in `self.subjects`, so a code repeated further
    /// down the file is compared too. A row that renames its own record (a new version, or the
    /// correction of a returned one) is no conflict: its name joins the code's names.
    async fn match_subjects(
        &mut self,
        records: &[PreparedRecord],
        rekeyed: &[Rekeyed],
        warnings: &mut Vec<ProblemRow>,
    ) -> Result<(), StoreError> {
        let mut unseen: Vec<&str> = records
            .iter()
            .filter_map(|r| r.subject.as_ref().map(|s| s.0.as_str()))
            .filter(|code| self.subjects.get(code).is_none())
            .collect();
        unseen.sort_unstable();
        unseen.dedup();
        // One parameter, the codes as a list, not one bind per code: the probes follow the list.
        let mut stored: HashMap<String, Vec<String>> = HashMap::new();
        if !unseen.is_empty() {
            let rows: Vec<(String, String)> = match &mut self.conn {
                Conn::Sqlite(c) => {
                    let list = serde_json::to_string(&unseen).expect("a list of strings serialises");
                    sqlx::query_as(
                        "SELECT a.subject_code, a.name FROM json_each(?) j \
                         CROSS JOIN subject_aliases a ON a.subject_code = j.value ORDER BY 1, 2",
                    )
                    .bind(list)
                    .fetch_all(&mut **c)
                    .await?
                }
                Conn::Postgres(c) => {
                    sqlx::query_as(
                        "SELECT a.subject_code, a.name FROM unnest($1::text[]) AS j(code) \
                         JOIN subject_aliases a ON a.subject_code = j.code ORDER BY 1, 2",
                    )
                    .bind(&unseen)
                    .fetch_all(&mut **c)
                    .await?
                }
            };
            for (code, name) in rows {
                stored.entry(code).or_default().push(name);
            }
        }
        let same = |a: &str, b: &str| a == b || name_key(a) == name_key(b);
        let mut renamed: Vec<(&str, &str)> = Vec::new();
        for r in records {
            let Some((code, name)) = &r.subject else { continue };
            if let Some(first) = self.subjects.get(code) {
                if same(first.name, name) {
                    continue;
                }
                if first.key == SeenSubjects::hash(&r.business_key) {
                    // A later version of the same record in this file: its name is the record's now.
                    self.subjects.insert(code, r.line, &r.business_key, name);
                    continue;
                }
                let earlier = format!("本文件第 {} 行", first.line);
                warnings.push(conflict(code, first.name, &earlier, name, r));
                continue;
            }
            self.subjects.insert(code, r.line, &r.business_key, name);
            let Some(names) = stored.get(code.as_str()) else { continue };
            if names.iter().any(|n| same(n, name)) {
                continue;
            }
            let records_of_code = self.records_of_subject(code).await?;
            let own = |(id, item, key): &(i64, String, String)| {
                (*item == self.item && *key == r.business_key) || rekeyed.iter().any(|x| x.id == *id)
            };
            match records_of_code.iter().find(|o| !own(o)) {
                Some((_, item, key)) => {
                    let earlier = format!("{item} 记录 {}", shown(key));
                    warnings.push(conflict(code, &names[0], &earlier, name, r));
                }
                // The row's own record is renamed: the link pass, which reads new records only, would not
                // learn the new name.
                None if !records_of_code.is_empty() => renamed.push((code, name)),
                None => {}
            }
        }
        for (code, name) in renamed {
            self.add_alias(code, name).await?;
        }
        Ok(())
    }

    /// The records linked to a credit code: id, item, business key.
    async fn records_of_subject(&mut self, code: &str) -> Result<Vec<(i64, String, String)>, StoreError> {
        let sql = "SELECT r.id, r.item, r.business_key FROM subject_records s JOIN records r ON r.id = s.record_id \
                   WHERE s.subject_code = $1 AND s.source = 'record' ORDER BY r.id";
        Ok(match &mut self.conn {
            Conn::Sqlite(c) => sqlx::query_as(sql).bind(code).fetch_all(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_as(sql).bind(code).fetch_all(&mut **c).await?,
        })
    }

    /// Adds a name to a code's names (`subject_aliases`), as the link pass would.
    async fn add_alias(&mut self, code: &str, name: &str) -> Result<(), StoreError> {
        let sql =
            "INSERT INTO subject_aliases (subject_code, name, name_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        let key = crate::subject::search_key(name);
        match &mut self.conn {
            Conn::Sqlite(c) => {
                sqlx::query(sql).bind(code).bind(name).bind(&key).execute(&mut **c).await?;
            }
            Conn::Postgres(c) => {
                sqlx::query(sql).bind(code).bind(name).bind(&key).execute(&mut **c).await?;
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
                    true => format!("({constants},${},${},${},${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4),
                    false => format!("({constants},?,?,?,?)"),
                })
                .collect();
            let sql = format!(
                "INSERT INTO rejected_decisions (department, item, ingest_run_id, decision_key, decision_date, line, key_prefix) \
                 VALUES {}",
                rows.join(",")
            );
            macro_rules! insert {
                ($c:expr) => {{
                    let mut q = sqlx::query(&sql);
                    for d in chunk {
                        q = q
                            .bind(&d.decision_key)
                            .bind(&d.decision_date)
                            .bind(d.line as i64)
                            .bind(crate::record::decision_key_prefix(&d.decision_key));
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
             ON CONFLICT (record_id, destination, version, operation, source) DO NOTHING",
            v = r.old_version,
            now = literal(&self.now)
        );
        // The record no longer concerns the subject its old key named: it is linked to the new one.
        let unlink = "DELETE FROM subject_records WHERE source = 'record' AND record_id = $1";
        let link = "INSERT INTO subject_records (subject_code, source, record_id) VALUES ($1, 'record', $2) \
                    ON CONFLICT DO NOTHING";
        let as_new = "UPDATE deliveries SET operation = 'add' WHERE record_id = $1 AND status = 'pending' \
                      AND operation = 'update' AND business_key IS NULL \
                      AND version = (SELECT version FROM records WHERE id = $1)";
        macro_rules! run {
            ($c:expr) => {{
                sqlx::query(as_new).bind(r.id).execute(&mut **$c).await?;
                sqlx::query(&delete).bind(&r.old_key).bind(r.id).execute(&mut **$c).await?;
                sqlx::query(unlink).bind(r.id).execute(&mut **$c).await?;
                if let Some((code, _)) = &r.subject {
                    sqlx::query(link).bind(code).bind(r.id).execute(&mut **$c).await?;
                }
            }};
        }
        match &mut self.conn {
            Conn::Sqlite(c) => run!(c),
            Conn::Postgres(c) => run!(c),
        }
        if let Some((code, name)) = &r.subject {
            self.add_alias(code, name).await?;
        }
        Ok(())
    }
}

/// [`crate::record::decision_key_prefix`] as a slice of the decision key: its first part and the
/// separator after it.
fn decision_prefix(decision_key: &str) -> &str {
    match decision_key.find(KEY_SEPARATOR) {
        Some(at) => &decision_key[..at + KEY_SEPARATOR.len_utf8()],
        None => decision_key,
    }
}

impl crate::store::Store {
    /// Items the catalogue gives no decision key (list items: 欠费, 经营异常, A 级纳税人) keep
    /// none in the store: a key and a `duplicate` mark an earlier catalogue gave them are
    /// cleared, with their rejected decisions, so subjects listed the same day are not one
    /// decision. `decision_key_items` remembers each item's decision fields as last reconciled,
    /// so the clearing (a pass over the item's records) runs once, when they change.
    pub async fn forget_decisions_without_key(
        &self,
        catalogue: &crate::catalogue::Catalogue,
    ) -> Result<u64, StoreError> {
        let known: Vec<(String, String)> = crate::store::on_pool!(self.db(), pool => {
            sqlx::query_as("SELECT item, fields FROM decision_key_items").fetch_all(pool).await?
        });
        let mut cleared = 0;
        for item in catalogue.items() {
            let fields = item.decision_key.iter().map(|&i| item.fields[i].key.as_str()).collect::<Vec<_>>().join(",");
            if known.iter().any(|(i, f)| *i == item.code && *f == fields) {
                continue;
            }
            if fields.is_empty() {
                let n = crate::store::on_pool!(self.db(), pool => {
                    sqlx::query("UPDATE records SET decision_key = NULL, duplicate = 0 WHERE item = $1 AND decision_key IS NOT NULL")
                        .bind(&item.code)
                        .execute(pool)
                        .await?
                        .rows_affected()
                });
                crate::store::on_pool!(self.db(), pool => {
                    sqlx::query("DELETE FROM rejected_decisions WHERE item = $1").bind(&item.code).execute(pool).await?.rows_affected()
                });
                if n > 0 {
                    tracing::info!(item = %item.code, records = n, "the item has no decision key: its records' decision keys and duplicate marks are cleared");
                }
                cleared += n;
            }
            crate::store::on_pool!(self.db(), pool => {
                sqlx::query("INSERT INTO decision_key_items (item, fields) VALUES ($1, $2) \
                     ON CONFLICT (item) DO UPDATE SET fields = excluded.fields")
                    .bind(&item.code)
                    .bind(&fields)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
        }
        Ok(cleared)
    }
}
