//! The decisions behind two parts of 漏报 (SPEC §7), listed by the same conditions the figures
//! count them with: rows refused by validation whose decision never arrived corrected, and
//! records the platform returned that were never accepted since. (The third part, declared in
//! a ledger and never received, is a count: the ledger holds no decisions to list.)

use serde::Serialize;

use super::{Store, StoreError, on_pool};

/// A refused row's decision (`x`, a `rejected_decisions` row) that no record has brought since.
pub(super) const UNCORRECTED: &str = "NOT EXISTS (SELECT 1 FROM records r WHERE r.item = x.item \
     AND r.business_key >= x.key_prefix AND r.business_key < substr(x.key_prefix, 1, length(x.key_prefix) - 1) || ' ' \
     AND r.decision_key = x.decision_key)";

/// A record the platform returned and that was never accepted since, each decision once.
pub(super) const RETURNED_UNACCEPTED: &str = "returned = 1 AND reported_on IS NULL AND duplicate = 0";

/// Filters of a 漏报 list: the 部门 page's cells name a department and a decision month.
#[derive(Debug, Clone, Default)]
pub struct MissingFilter {
    pub department: Option<String>,
    pub item: Option<String>,
    /// Decided in this month (`YYYY-MM`); all months when `None`.
    pub decision_month: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

impl MissingFilter {
    /// The decision dates' bounds, as the figures take them.
    fn bounds(&self) -> (String, String) {
        match self.decision_month.as_deref() {
            Some(m) => super::deadlines::month_range(m).unwrap_or_else(|| (m.to_string(), m.to_string())),
            None => ("0000".to_string(), "9999".to_string()),
        }
    }
}

/// A decision of 漏报 the gateway holds a trace of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingDecision {
    pub department: String,
    pub item: String,
    /// The business key of the returned record, or the decision key of the refused row.
    pub key: String,
    pub decision_date: String,
    /// The returned record.
    pub record_id: Option<i64>,
    /// The first refused row of the decision: its ingest run and line.
    pub ingest_run_id: Option<i64>,
    pub line: Option<i64>,
}

impl Store {
    /// One page of records returned and never accepted since (oldest decision first), and how
    /// many the filter finds: the 部门 page's 其中退回未补正.
    pub async fn missing_returned(&self, f: &MissingFilter) -> Result<(i64, Vec<MissingDecision>), StoreError> {
        let w = format!(
            "{RETURNED_UNACCEPTED} AND decision_date >= $1 AND decision_date < $2 \
             AND ($3 IS NULL OR department = $3) AND ($4 IS NULL OR item = $4)"
        );
        let count = format!("SELECT COUNT(*) FROM records WHERE {w}");
        let page = format!(
            "SELECT id, department, item, business_key, decision_date FROM records WHERE {w} \
             ORDER BY decision_date, id LIMIT $5 OFFSET $6"
        );
        let (from, to) = f.bounds();
        let total: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(&count)
            .bind(&from).bind(&to).bind(&f.department).bind(&f.item).fetch_one(pool).await?);
        let rows: Vec<(i64, String, String, String, String)> = on_pool!(self.db(), pool => sqlx::query_as(&page)
            .bind(&from).bind(&to).bind(&f.department).bind(&f.item)
            .bind(f.limit.max(1)).bind(f.offset.max(0)).fetch_all(pool).await?);
        let rows = rows
            .into_iter()
            .map(|(id, department, item, key, decision_date)| MissingDecision {
                department,
                item,
                key,
                decision_date,
                record_id: Some(id),
                ingest_run_id: None,
                line: None,
            })
            .collect();
        Ok((total, rows))
    }

    /// One page of decisions whose rows were refused and that never arrived corrected (oldest
    /// first), each once with its first refused row, and how many the filter finds: the 部门
    /// page's 其中校验未通过未补正.
    pub async fn missing_rejected(&self, f: &MissingFilter) -> Result<(i64, Vec<MissingDecision>), StoreError> {
        let grouped = format!(
            "SELECT x.department, x.item, x.decision_key, MIN(x.decision_date) AS decision_date, \
             MIN(x.ingest_run_id) AS run FROM rejected_decisions x \
             WHERE x.decision_date >= $1 AND x.decision_date < $2 AND ($3 IS NULL OR x.department = $3) \
             AND ($4 IS NULL OR x.item = $4) AND {UNCORRECTED} \
             GROUP BY x.department, x.item, x.decision_key"
        );
        let count = format!("SELECT COUNT(*) FROM ({grouped}) g");
        let page = format!(
            "SELECT g.department, g.item, g.decision_key, g.decision_date, g.run, \
             (SELECT MIN(y.line) FROM rejected_decisions y WHERE y.department = g.department AND y.item = g.item \
             AND y.decision_key = g.decision_key AND y.ingest_run_id = g.run) \
             FROM ({grouped}) g ORDER BY g.decision_date, g.department, g.item, g.decision_key LIMIT $5 OFFSET $6"
        );
        let (from, to) = f.bounds();
        let total: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(&count)
            .bind(&from).bind(&to).bind(&f.department).bind(&f.item).fetch_one(pool).await?);
        let rows: Vec<(String, String, String, String, i64, Option<i64>)> = on_pool!(self.db(), pool => sqlx::query_as(&page)
            .bind(&from).bind(&to).bind(&f.department).bind(&f.item)
            .bind(f.limit.max(1)).bind(f.offset.max(0)).fetch_all(pool).await?);
        let rows = rows
            .into_iter()
            .map(|(department, item, key, decision_date, run, line)| MissingDecision {
                department,
                item,
                key,
                decision_date,
                record_id: None,
                ingest_run_id: Some(run),
                line,
            })
            .collect();
        Ok((total, rows))
    }
}
