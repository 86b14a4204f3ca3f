//! What the dashboard's work lists read: today's chase list per department (overdue split by
//! who must act), each destination's push health (the outage banner), and the paged, searchable
//! lists every figure links to, each counted by the same condition as its figure.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Store, StoreError, on_pool};

/// When an overdue record reached the gateway in time (before 24:00 Asia/Shanghai of its
/// deadline day, 16:00 UTC), what keeps it from the platform is on our side (the push).
const ARRIVED_IN_TIME: &str = "created_at < (deadline || 'T16:00:00')";

/// Why an overdue record is overdue (SPEC §7 overdue: not yet accepted and past its deadline),
/// by who must act. Only `Department` and `Returned` are charged to the department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The department handed the record over after its deadline (部门未报送).
    Department,
    /// A platform returned it and the department has not corrected it (已退回待补正).
    Returned,
    /// It reached the gateway in time; our push has not got it accepted (推送失败/平台异常).
    Push,
}

impl Cause {
    pub const ALL: [Cause; 3] = [Cause::Department, Cause::Returned, Cause::Push];
    /// The causes charged to the department: what its figures count as overdue.
    pub const CHARGED: [Cause; 2] = [Cause::Department, Cause::Returned];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Department => "department",
            Cause::Returned => "returned",
            Cause::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Causes separated by commas (`department,returned`), each once; `None` if one is unknown.
    pub fn parse_list(s: &str) -> Option<Vec<Cause>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let cause = Cause::parse(part)?;
            if !out.contains(&cause) {
                out.push(cause);
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The causes as a URL takes them, `department,returned`.
    pub fn list_str(causes: &[Cause]) -> String {
        causes.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
    }

    pub fn zh(self) -> &'static str {
        crate::glossary::overdue_cause(self.as_str())
    }

    /// Causes as a filter takes them (`department,returned`), or the valid values in Chinese.
    pub fn parse_filter(s: &str) -> Result<Vec<Cause>, String> {
        Cause::parse_list(s).ok_or_else(|| {
            let valid: Vec<String> = Cause::ALL.iter().map(|c| format!("{}（{}）", c.as_str(), c.zh())).collect();
            format!("逾期原因“{s}”无效，可选：{}，或以逗号分隔的几项", valid.join("、"))
        })
    }

    /// The SQL condition on a `records` row (already known to be overdue).
    pub(super) fn sql(self) -> String {
        match self {
            Cause::Department => format!("returned = 0 AND NOT ({ARRIVED_IN_TIME})"),
            Cause::Returned => "returned = 1".to_string(),
            Cause::Push => format!("returned = 0 AND {ARRIVED_IN_TIME}"),
        }
    }
}

/// One department's line of 今日催办.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChaseLine {
    pub department: String,
    /// Overdue because the department handed them over late.
    pub overdue_department: i64,
    /// Overdue and returned, awaiting the department's correction.
    pub overdue_returned: i64,
    /// Overdue while they reached us in time: our push or the platform (not the department's).
    pub overdue_push: i64,
    /// Due within the due-soon working days (not yet overdue).
    pub due_soon: i64,
    /// The oldest deadline among the overdue charged to the department.
    pub oldest_deadline: Option<String>,
}

/// A destination whose pushes are failing now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushOutage {
    pub destination: String,
    /// First failure since the last push that went through (RFC 3339, UTC).
    pub failing_since: String,
    pub last_error: String,
    /// Deliveries waiting to go to it.
    pub pending: i64,
}

/// A LIKE pattern that finds `text` anywhere, `%` and `_` taken literally.
pub fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(super) type MonthBounds = (Option<String>, Option<String>);

pub(super) fn month_bounds(month: &str) -> Option<(String, String)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    Some((first.to_string(), next.to_string()))
}

impl Store {
    /// Notes one push's health for `destination`: `failure` is its error, `None` when the
    /// platform answered.
    pub async fn note_push(
        &self,
        destination: &str,
        failure: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let sql = match failure {
            Some(_) => {
                "INSERT INTO push_health (destination, failing_since, last_error, last_failure_at) VALUES ($1, $2, $3, $2) \
                 ON CONFLICT (destination) DO UPDATE SET failing_since = COALESCE(push_health.failing_since, excluded.failing_since), \
                 last_error = excluded.last_error, last_failure_at = excluded.last_failure_at"
            }
            None => {
                "INSERT INTO push_health (destination, last_ok_at) VALUES ($1, $2) \
                 ON CONFLICT (destination) DO UPDATE SET failing_since = NULL, last_ok_at = excluded.last_ok_at"
            }
        };
        match failure {
            Some(error) => on_pool!(self.db(), pool => sqlx::query(sql).bind(destination).bind(&now).bind(error)
                .execute(pool).await.map(|_| ())?),
            None => on_pool!(self.db(), pool => sqlx::query(sql).bind(destination).bind(&now)
                .execute(pool).await.map(|_| ())?),
        }
        Ok(())
    }

    /// Destinations whose pushes fail now, with the deliveries waiting for each.
    pub async fn push_outages(&self) -> Result<Vec<PushOutage>, StoreError> {
        const SQL: &str = "SELECT destination, failing_since, COALESCE(last_error, '') FROM push_health \
             WHERE failing_since IS NOT NULL ORDER BY destination";
        const PENDING: &str = "SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND destination = $1";
        let failing: Vec<(String, String, String)> =
            on_pool!(self.db(), pool => sqlx::query_as(SQL).fetch_all(pool).await?);
        let mut out = Vec::with_capacity(failing.len());
        for (destination, failing_since, last_error) in failing {
            let pending: i64 =
                on_pool!(self.db(), pool => sqlx::query_scalar(PENDING).bind(&destination).fetch_one(pool).await?);
            out.push(PushOutage { destination, failing_since, last_error, pending });
        }
        Ok(out)
    }

    /// 今日催办: per department, the overdue by cause, the due soon and the oldest deadline
    /// charged to it, as of `today`; a repeated decision counted once, as in the figures.
    pub async fn chase_lines(&self, today: NaiveDate, department: Option<&str>) -> Result<Vec<ChaseLine>, StoreError> {
        let (dept, ret, push) = (Cause::Department.sql(), Cause::Returned.sql(), Cause::Push.sql());
        let sql = format!(
            "SELECT department, \
             COALESCE(SUM(CASE WHEN deadline < $1 AND {dept} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deadline < $1 AND {ret} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deadline < $1 AND {push} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deadline >= $1 AND due_soon_from <= $1 THEN 1 ELSE 0 END), 0), \
             MIN(CASE WHEN deadline < $1 AND NOT ({push}) THEN deadline END) \
             FROM records WHERE reported_on IS NULL AND deadline IS NOT NULL AND duplicate = 0 \
             AND ($2 IS NULL OR department = $2) GROUP BY department ORDER BY department"
        );
        let rows: Vec<(String, i64, i64, i64, i64, Option<String>)> = on_pool!(self.db(), pool =>
            sqlx::query_as(&sql).bind(today.to_string()).bind(department).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(department, d, r, p, soon, oldest)| ChaseLine {
                department,
                overdue_department: d,
                overdue_returned: r,
                overdue_push: p,
                due_soon: soon,
                oldest_deadline: oldest,
            })
            .collect())
    }

    /// Records with an open return, per department and the day of their first open return.
    pub async fn open_return_days(&self, department: Option<&str>) -> Result<Vec<(String, String, i64)>, StoreError> {
        const SQL: &str = "SELECT department, first_on, COUNT(*) FROM (SELECT department, record_id, \
             MIN(returned_on) AS first_on FROM returns WHERE closed_at IS NULL AND ($1 IS NULL OR department = $1) \
             GROUP BY department, record_id) x GROUP BY department, first_on ORDER BY department, first_on";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(department).fetch_all(pool).await?))
    }
}

/// Filters of the returned-records list (问题数据).
#[derive(Debug, Clone, Default)]
pub struct ReturnFilter {
    pub department: Option<String>,
    pub search: Option<String>,
    /// Only records whose first open return is on or before this day (past the correction time).
    pub returned_by: Option<String>,
    /// Only records decided in this month (`YYYY-MM`): the 部门 page's 退回待补正 cells.
    pub decision_month: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A returned record awaiting correction: one row per record, whatever the platforms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnedRecord {
    pub record_id: i64,
    pub department: String,
    pub item: String,
    pub business_key: String,
    /// The first open return's day.
    pub returned_on: String,
    /// The open returns: destination, rule, reason.
    pub returns: Vec<(String, Option<String>, String)>,
    /// The file (or source) and line the current version came from.
    pub source: String,
    pub source_line: i64,
    /// The error report written for that file, if any.
    pub report_path: Option<String>,
    #[serde(skip)]
    pub content: String,
}

impl Store {
    /// One page of records with open returns, oldest first, and how many the filter finds.
    pub async fn returned_records(&self, f: &ReturnFilter) -> Result<(i64, Vec<ReturnedRecord>), StoreError> {
        let search = f.search.as_deref().filter(|s| !s.trim().is_empty()).map(contains_pattern);
        let grouped = "SELECT x.record_id, MIN(x.returned_on) AS first_on FROM returns x \
             WHERE x.closed_at IS NULL AND ($1 IS NULL OR x.department = $1) GROUP BY x.record_id";
        let w = "($2 IS NULL OR r.business_key LIKE $2 ESCAPE '\\' OR r.content LIKE $2 ESCAPE '\\') \
             AND ($3 IS NULL OR g.first_on <= $3) AND ($4 IS NULL OR (r.decision_date >= $4 AND r.decision_date < $5))";
        let (from, to): MonthBounds =
            f.decision_month.as_deref().map(|m| month_bounds(m).unwrap_or_else(|| (m.into(), m.into()))).unzip();
        let count = format!("SELECT COUNT(*) FROM ({grouped}) g JOIN records r ON r.id = g.record_id WHERE {w}");
        let page = format!(
            "SELECT g.record_id, r.department, r.item, r.business_key, g.first_on, r.content, r.source_line, \
             COALESCE(i.source, ''), i.report_path FROM ({grouped}) g JOIN records r ON r.id = g.record_id \
             LEFT JOIN ingest_runs i ON i.id = r.ingest_run_id WHERE {w} \
             ORDER BY g.first_on, g.record_id LIMIT $6 OFFSET $7"
        );
        let total: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(&count)
            .bind(&f.department).bind(&search).bind(&f.returned_by).bind(&from).bind(&to).fetch_one(pool).await?);
        type Page = (i64, String, String, String, String, String, i64, String, Option<String>);
        let rows: Vec<Page> = on_pool!(self.db(), pool => sqlx::query_as(&page)
            .bind(&f.department).bind(&search).bind(&f.returned_by).bind(&from).bind(&to)
            .bind(f.limit.max(1)).bind(f.offset.max(0))
            .fetch_all(pool).await?);
        let mut out: Vec<ReturnedRecord> = rows
            .into_iter()
            .map(
                |(
                    record_id,
                    department,
                    item,
                    business_key,
                    returned_on,
                    content,
                    source_line,
                    source,
                    report_path,
                )| {
                    ReturnedRecord {
                        record_id,
                        department,
                        item,
                        business_key,
                        returned_on,
                        returns: Vec::new(),
                        source,
                        source_line,
                        report_path,
                        content,
                    }
                },
            )
            .collect();
        if !out.is_empty() {
            let ids = out.iter().map(|r| r.record_id.to_string()).collect::<Vec<_>>().join(",");
            let sql = format!(
                "SELECT record_id, destination, rule, reason FROM returns WHERE closed_at IS NULL \
                 AND record_id IN ({ids}) ORDER BY record_id, destination, id"
            );
            let returns: Vec<(i64, String, Option<String>, String)> =
                on_pool!(self.db(), pool => sqlx::query_as(&sql).fetch_all(pool).await?);
            for (id, destination, rule, reason) in returns {
                if let Some(r) = out.iter_mut().find(|r| r.record_id == id)
                    && !r.returns.iter().any(|(d, _, _)| *d == destination)
                {
                    r.returns.push((destination, rule, reason));
                }
            }
        }
        Ok((total, out))
    }

    /// The open returns' count and newest id: changes when a return arrives or closes.
    pub async fn open_returns_signature(&self) -> Result<(i64, i64), StoreError> {
        const SQL: &str = "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM returns WHERE closed_at IS NULL";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).fetch_one(pool).await?))
    }

    /// Records with an open return (the 退回待补正 figure), for one department or all.
    pub async fn returned_count(&self, department: Option<&str>) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(DISTINCT record_id) FROM returns WHERE closed_at IS NULL \
             AND ($1 IS NULL OR department = $1)";
        Ok(on_pool!(self.db(), pool => sqlx::query_scalar(SQL).bind(department).fetch_one(pool).await?))
    }
}

impl Store {
    /// One page of invalid rows (newest first) and how many there are, for one department or all.
    pub async fn invalid_page(
        &self,
        department: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<super::InvalidRow>), StoreError> {
        const WHERE: &str = "p.severity = 'error' AND i.status NOT IN ('interrupted', 'changed')              AND ($1 IS NULL OR i.department = $1)";
        let count =
            format!("SELECT COUNT(*) FROM row_problems p JOIN ingest_runs i ON i.id = p.ingest_run_id WHERE {WHERE}");
        let page = format!(
            "SELECT p.ingest_run_id, i.department, i.item, i.source, p.line, p.field, p.code, p.reason,              p.value, i.started_at AS at FROM row_problems p JOIN ingest_runs i ON i.id = p.ingest_run_id              WHERE {WHERE} ORDER BY p.id DESC LIMIT $2 OFFSET $3"
        );
        let total: i64 =
            on_pool!(self.db(), pool => sqlx::query_scalar(&count).bind(department).fetch_one(pool).await?);
        let rows = on_pool!(self.db(), pool => sqlx::query_as(&page)
            .bind(department).bind(limit.max(1)).bind(offset.max(0)).fetch_all(pool).await?);
        Ok((total, rows))
    }

    /// The WHERE clause of the deliveries list: only the conditions asked for (`$1`… the values
    /// given, in order), so that the partial index of a status answers (`deliveries_dead` for the
    /// 死信 card's list) where a condition naming every parameter read all the deliveries.
    fn delivery_where(status: Option<&str>, destination: Option<&str>, source: Option<&str>) -> String {
        let mut w = vec![match status {
            Some(_) => "status = $1".to_string(),
            None => "status IN ('pending', 'in_flight', 'dead')".to_string(),
        }];
        let mut n = usize::from(status.is_some());
        for (value, column) in [(destination, "destination"), (source, "source")] {
            if value.is_some() {
                n += 1;
                w.push(format!("{column} = ${n}"));
            }
        }
        w.join(" AND ")
    }

    /// How many deliveries have this status (all not done: pending, in flight, dead, when
    /// `None`), destination and source.
    pub async fn delivery_count(
        &self,
        status: Option<&str>,
        destination: Option<&str>,
        source: Option<&str>,
    ) -> Result<i64, StoreError> {
        let sql =
            format!("SELECT COUNT(*) FROM deliveries WHERE {}", Self::delivery_where(status, destination, source));
        let given = [status, destination, source];
        Ok(on_pool!(self.db(), pool => {
            let mut q = sqlx::query_scalar(&sql);
            for v in given.into_iter().flatten() {
                q = q.bind(v);
            }
            q.fetch_one(pool).await?
        }))
    }

    /// One page of those deliveries, by id.
    pub async fn delivery_page(
        &self,
        status: Option<&str>,
        destination: Option<&str>,
        source: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<super::DeliveryRow>, StoreError> {
        let given = [status, destination, source].iter().flatten().count();
        let sql = format!(
            "SELECT id, record_id, version, destination, operation, status, attempts, next_attempt_at, last_error, rule, \
             reason, updated_at FROM deliveries WHERE {} ORDER BY id LIMIT ${} OFFSET ${}",
            Self::delivery_where(status, destination, source),
            given + 1,
            given + 2
        );
        let values = [status, destination, source];
        Ok(on_pool!(self.db(), pool => {
            let mut q = sqlx::query_as(&sql);
            for v in values.into_iter().flatten() {
                q = q.bind(v);
            }
            q.bind(limit.max(1)).bind(offset.max(0)).fetch_all(pool).await?
        }))
    }

    /// An ingest run's department, item and source.
    pub async fn run_source(&self, run_id: i64) -> Result<Option<(String, String, String)>, StoreError> {
        const SQL: &str = "SELECT department, item, source FROM ingest_runs WHERE id = $1";
        Ok(on_pool!(self.db(), pool => sqlx::query_as(SQL).bind(run_id).fetch_optional(pool).await?))
    }

    /// The runs among `ids` that have an error report.
    pub async fn runs_with_reports(&self, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT id FROM ingest_runs WHERE report_path IS NOT NULL AND id IN ({list})");
        Ok(on_pool!(self.db(), pool => sqlx::query_scalar(&sql).fetch_all(pool).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::record_list::{ListOrder, ListStatus};
    use super::*;

    /// The 死信 card's list reads the dead letters' own index, not every delivery; the other
    /// filters bind only the values given.
    #[tokio::test]
    async fn the_dead_letters_list_reads_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("g.db")).await.unwrap();
        let super::super::Db::Sqlite(pool) = store.db() else { unreachable!("a SQLite store") };
        let w = Store::delivery_where(Some("dead"), None, Some("record"));
        assert_eq!(w, "status = $1 AND source = $2");
        let sql = format!("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM deliveries WHERE {w}");
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&sql).bind("dead").bind("record").fetch_all(pool).await.unwrap();
        assert!(rows.iter().any(|r| r.3.contains("deliveries_dead")), "{rows:?}");
        assert_eq!(
            Store::delivery_where(None, Some("provincial"), None),
            "status IN ('pending', 'in_flight', 'dead') AND destination = $1"
        );
        assert_eq!(store.delivery_count(Some("dead"), Some("provincial"), Some("record")).await.unwrap(), 0);
        assert!(store.delivery_page(None, None, Some("feed"), 0, 50).await.unwrap().is_empty());
    }

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern(" 甲公司 "), "%甲公司%");
        assert_eq!(contains_pattern("50%_a"), "%50\\%\\_a%");
    }

    #[test]
    fn statuses_and_causes_round_trip() {
        for c in Cause::ALL {
            assert_eq!(Cause::parse(c.as_str()), Some(c));
        }
        for s in ListStatus::ALL {
            assert_eq!(ListStatus::parse(s.as_str()), Some(s));
        }
        for o in ListOrder::ALL {
            assert_eq!(ListOrder::parse(o.as_str()), Some(o));
        }
        assert_eq!(ListStatus::parse(""), Some(ListStatus::Open));
        assert_eq!(ListStatus::parse("nonsense"), None);
    }

    /// The web and the CLI refuse a value with the same words, naming every valid one.
    #[test]
    fn a_refused_filter_lists_every_valid_value_in_chinese() {
        let status = ListStatus::parse_filter("late").unwrap_err();
        assert!(status.starts_with("状态“late”无效，可选："), "{status}");
        for s in ListStatus::ALL {
            assert!(status.contains(&format!("{}（{}）", s.as_str(), s.zh())), "{status} lacks {}", s.as_str());
        }
        let cause = Cause::parse_filter("department,nobody").unwrap_err();
        for c in Cause::ALL {
            assert!(cause.contains(&format!("{}（{}）", c.as_str(), c.zh())), "{cause}");
        }
        assert_eq!(Cause::parse_filter("push, department"), Ok(vec![Cause::Push, Cause::Department]));
        let order = ListOrder::parse_filter("name").unwrap_err();
        for column in ["deadline", "decision_date", "department"] {
            assert!(order.contains(column), "{order}");
        }
    }
}
