//! The records list (到期) every figure links to: its filters, statuses and orders, and the
//! query that reads one page and the true total. The WHERE clause holds only the conditions a
//! filter asks for, so a count over the open records reads the open-deadline index alone; a
//! page deep in the list is found by keyset (`after` the last row's deadline and id) on the
//! same index; a search reads the subject links and the business keys' index, not every
//! record's content.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::chase::{Cause, contains_pattern, month_bounds};
use super::{Db, Store, StoreError, on_pool};
use crate::deadline::Status;

/// Filters of the records list (到期) and its figures' links.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub department: Option<String>,
    pub item: Option<String>,
    /// `None`: open ones (not yet accepted); see [`ListStatus`].
    pub status: ListStatus,
    /// Overdue for one of these causes only (implies overdue); empty: any record.
    pub causes: Vec<Cause>,
    /// A credit code or its start, any part of a subject's name, a 文书号 (a business key's start), a
    /// whole ID number: see `Store::search_sql`.
    pub search: Option<String>,
    /// Records of `item` whose field (catalogue key) holds exactly this text: the lists behind
    /// figures counted by a field's value (分级分类's kept and broken commitments).
    pub field_value: Option<(String, String)>,
    /// Accepted in this month (`YYYY-MM`).
    pub reported_month: Option<String>,
    /// Decided in this month (`YYYY-MM`): the 部门 page's 按决定月份 figures.
    pub decision_month: Option<String>,
    pub order: ListOrder,
    /// Keyset paging: the page after this row of the order (deadline orders only); `offset`
    /// then counts from there (0 in the pager's links).
    pub after: Option<ListKey>,
    pub offset: i64,
    pub limit: i64,
}

/// The order of a list: by deadline (the default: the most overdue first), by decision date or
/// by department, each either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    #[default]
    Deadline,
    DeadlineDesc,
    DecisionDate,
    DecisionDateDesc,
    Department,
    DepartmentDesc,
}

impl ListOrder {
    pub const ALL: [ListOrder; 6] = [
        ListOrder::Deadline,
        ListOrder::DeadlineDesc,
        ListOrder::DecisionDate,
        ListOrder::DecisionDateDesc,
        ListOrder::Department,
        ListOrder::DepartmentDesc,
    ];

    /// As a URL says it: the column, `-` before it for descending.
    pub fn as_str(self) -> &'static str {
        match self {
            ListOrder::Deadline => "deadline",
            ListOrder::DeadlineDesc => "-deadline",
            ListOrder::DecisionDate => "decision_date",
            ListOrder::DecisionDateDesc => "-decision_date",
            ListOrder::Department => "department",
            ListOrder::DepartmentDesc => "-department",
        }
    }

    pub fn parse(s: &str) -> Option<ListOrder> {
        ListOrder::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// An order as a filter takes it, or the valid values in Chinese.
    pub fn parse_filter(s: &str) -> Result<ListOrder, String> {
        ListOrder::parse(s).ok_or_else(|| {
            format!("排序“{s}”无效，可选：deadline（截止日期）、decision_date（决定日期）、department（部门），前加 - 为倒序")
        })
    }

    /// The same column the other way round.
    pub fn reversed(self) -> ListOrder {
        match self {
            ListOrder::Deadline => ListOrder::DeadlineDesc,
            ListOrder::DeadlineDesc => ListOrder::Deadline,
            ListOrder::DecisionDate => ListOrder::DecisionDateDesc,
            ListOrder::DecisionDateDesc => ListOrder::DecisionDate,
            ListOrder::Department => ListOrder::DepartmentDesc,
            ListOrder::DepartmentDesc => ListOrder::Department,
        }
    }

    /// The ORDER BY clause; the id last, so that paging is stable. Records without a deadline
    /// come last either way; where a filter has none of them, the plain deadline order lets the
    /// open-deadline index serve it without a sort (either way round).
    fn sql(self, status: ListStatus) -> &'static str {
        let may_lack_deadline = matches!(status, ListStatus::All | ListStatus::One(Status::Untracked));
        match self {
            ListOrder::Deadline if may_lack_deadline => "CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline, id",
            ListOrder::Deadline => "deadline, id",
            ListOrder::DeadlineDesc if may_lack_deadline => {
                "CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline DESC, id DESC"
            }
            ListOrder::DeadlineDesc => "deadline DESC, id DESC",
            ListOrder::DecisionDate => "decision_date, id",
            ListOrder::DecisionDateDesc => "decision_date DESC, id DESC",
            ListOrder::Department => "department, deadline, id",
            ListOrder::DepartmentDesc => "department DESC, deadline, id",
        }
    }
}

/// The status a list is filtered by: one of the record statuses, the open ones, or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListStatus {
    /// Not yet accepted, with a deadline: overdue, due soon and pending.
    #[default]
    Open,
    /// Every record with a deadline, accepted or not.
    Tracked,
    All,
    /// 补报: back-filled history, accepted, counted apart from on time and late (SPEC §7).
    Backfilled,
    One(Status),
}

impl ListStatus {
    pub const ALL: [ListStatus; 10] = [
        ListStatus::Open,
        ListStatus::Tracked,
        ListStatus::All,
        ListStatus::One(Status::Overdue),
        ListStatus::One(Status::DueSoon),
        ListStatus::One(Status::Pending),
        ListStatus::One(Status::ReportedOnTime),
        ListStatus::One(Status::ReportedLate),
        ListStatus::Backfilled,
        ListStatus::One(Status::Untracked),
    ];

    pub fn zh(self) -> &'static str {
        match self {
            ListStatus::Open => "未接收",
            ListStatus::Tracked => "有截止日期的全部",
            ListStatus::All => "全部",
            ListStatus::Backfilled => "补报",
            ListStatus::One(s) => s.zh(),
        }
    }

    /// A status as a filter takes it, or the valid values in Chinese.
    pub fn parse_filter(s: &str) -> Result<ListStatus, String> {
        ListStatus::parse(s).ok_or_else(|| {
            let valid: Vec<String> = ListStatus::ALL.iter().map(|v| format!("{}（{}）", v.as_str(), v.zh())).collect();
            format!("状态“{s}”无效，可选：{}", valid.join("、"))
        })
    }

    pub fn parse(s: &str) -> Option<ListStatus> {
        match s {
            "" | "open" => Some(ListStatus::Open),
            "all" => Some(ListStatus::All),
            "tracked" => Some(ListStatus::Tracked),
            "backfilled" => Some(ListStatus::Backfilled),
            s => Status::parse(s).map(ListStatus::One),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ListStatus::Open => "open",
            ListStatus::All => "all",
            ListStatus::Tracked => "tracked",
            ListStatus::Backfilled => "backfilled",
            ListStatus::One(s) => s.as_str(),
        }
    }

    /// The condition, with `$1` today. On time and late leave 补报 out, as their figures do.
    fn sql(self) -> &'static str {
        match self {
            ListStatus::Open => "reported_on IS NULL AND deadline IS NOT NULL",
            ListStatus::All => "1 = 1",
            ListStatus::Tracked => "deadline IS NOT NULL",
            ListStatus::Backfilled => "reported_on IS NOT NULL AND deadline IS NOT NULL AND backfill = 1",
            ListStatus::One(Status::Overdue) => "reported_on IS NULL AND deadline < $1",
            ListStatus::One(Status::DueSoon) => "reported_on IS NULL AND deadline >= $1 AND due_soon_from <= $1",
            ListStatus::One(Status::Pending) => "reported_on IS NULL AND due_soon_from > $1",
            ListStatus::One(Status::ReportedLate) => {
                "reported_on IS NOT NULL AND reported_on > deadline AND backfill = 0"
            }
            ListStatus::One(Status::ReportedOnTime) => {
                "reported_on IS NOT NULL AND reported_on <= deadline AND backfill = 0"
            }
            ListStatus::One(Status::Untracked) => "deadline IS NULL",
        }
    }
}

/// One record of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ListRow {
    pub id: i64,
    pub department: String,
    pub item: String,
    pub business_key: String,
    pub decision_date: Option<String>,
    pub deadline: Option<String>,
    pub provisional: bool,
    pub reported_on: Option<String>,
    pub status: Status,
    /// Why it is overdue, when it is.
    pub cause: Option<Cause>,
    /// The record's content (canonical JSON), for the subject's name and code.
    #[serde(skip)]
    pub content: String,
}

/// Where a keyset page starts: the last row of the page before, by its deadline (none for a
/// record without one) and id. In a URL, `2026-03-10_1234`, or `_1234` without a deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKey {
    pub deadline: Option<String>,
    pub id: i64,
}

impl ListKey {
    /// The key of a row, for the link to the page after it.
    pub fn of(row: &ListRow) -> ListKey {
        ListKey { deadline: row.deadline.clone(), id: row.id }
    }

    pub fn parse(s: &str) -> Option<ListKey> {
        let (deadline, id) = s.trim().rsplit_once('_')?;
        let id = id.parse::<i64>().ok()?;
        let deadline = match deadline {
            "" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?.to_string()),
        };
        Some(ListKey { deadline, id })
    }

    /// A key as a filter takes it, or what it should look like, in Chinese.
    pub fn parse_filter(s: &str) -> Result<ListKey, String> {
        ListKey::parse(s).ok_or_else(|| format!("翻页位置“{s}”无效，应为 截止日期_记录编号，如 2026-03-10_1234"))
    }

    pub fn as_param(&self) -> String {
        format!("{}_{}", self.deadline.as_deref().unwrap_or(""), self.id)
    }
}

impl ListOrder {
    /// Whether a page may start after a row (keyset paging): the deadline orders.
    pub fn keyset(self) -> bool {
        matches!(self, ListOrder::Deadline | ListOrder::DeadlineDesc)
    }

    /// The rows after `key` in this order, as `sql` sorts them (records without a deadline
    /// last); `None` for an order without keyset paging.
    fn after_sql(self, status: ListStatus, key: &ListKey, args: &mut Args) -> Option<String> {
        let may_lack_deadline = matches!(status, ListStatus::All | ListStatus::One(Status::Untracked));
        let (later, next) = match self {
            ListOrder::Deadline => (">", ">"),
            ListOrder::DeadlineDesc => ("<", "<"),
            _ => return None,
        };
        let id = args.int(key.id);
        Some(match &key.deadline {
            None => format!("deadline IS NULL AND id {next} {id}"),
            Some(d) => {
                let d = args.text(d.clone());
                if may_lack_deadline {
                    format!("(deadline IS NULL OR deadline {later} {d} OR (deadline = {d} AND id {next} {id}))")
                } else {
                    // A range the deadline index reads from the key on.
                    format!("deadline {later}= {d} AND (deadline {later} {d} OR id {next} {id})")
                }
            }
        })
    }
}

/// A statement's arguments, numbered as the conditions that need them are written; `$1` is
/// always today (every statement names it, so PostgreSQL knows each argument's type).
struct Args(Vec<Arg>);

enum Arg {
    Text(String),
    Int(i64),
}

impl Args {
    fn new(today: NaiveDate) -> Args {
        Args(vec![Arg::Text(today.to_string())])
    }

    fn text(&mut self, v: String) -> String {
        self.0.push(Arg::Text(v));
        format!("${}", self.0.len())
    }

    fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }
}

/// `query` with every argument of `args` bound, in order.
macro_rules! bound {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in &$args.0 {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

impl Store {
    /// The WHERE clause of `f`: only the conditions it asks for, so that an index holding
    /// those columns answers alone. A record repeating a stored decision under another key
    /// (`duplicate`) is left out, as the figures count it once.
    async fn list_where(&self, f: &ListFilter, args: &mut Args) -> Result<String, StoreError> {
        let mut w = vec![format!("$1 IS NOT NULL AND ({}) AND duplicate = 0", f.status.sql())];
        if let Some(d) = &f.department {
            w.push(format!("department = {}", args.text(d.clone())));
        }
        if let Some(i) = &f.item {
            w.push(format!("item = {}", args.text(i.clone())));
        }
        for (month, column) in [(&f.reported_month, "reported_on"), (&f.decision_month, "decision_date")] {
            if let Some(m) = month {
                // An unparsable month finds nothing.
                let (from, to) = month_bounds(m).unwrap_or_else(|| (m.clone(), m.clone()));
                w.push(format!("{column} >= {} AND {column} < {}", args.text(from), args.text(to)));
            }
        }
        if !f.causes.is_empty() {
            let any: Vec<String> = f.causes.iter().map(|c| format!("({})", c.sql())).collect();
            w.push(format!("reported_on IS NULL AND deadline < $1 AND ({})", any.join(" OR ")));
        }
        if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            w.push(self.search_sql(q, f.item.as_deref(), args).await?);
        }
        if let Some((key, value)) = &f.field_value {
            // Stored content is compact JSON, so `"KEY":"VALUE"` is the field holding exactly
            // that text (a key is ASCII, as the catalogue checks; the value's own quotes are escaped).
            let json = serde_json::to_string(&serde_json::json!({ key.as_str(): value.as_str() })).unwrap_or_default();
            let pair = json.trim_start_matches('{').trim_end_matches('}');
            w.push(format!("content LIKE {} ESCAPE '\\'", args.text(super::chase::contains_pattern(pair))));
        }
        Ok(w.join(" AND "))
    }

    /// The records a search finds, as an `id IN (…)` condition: those of the subjects whose
    /// credit code starts with the query (`subject::code_query`), of the natural person a whole
    /// ID number names, and of the subjects one of whose names holds it (folded as
    /// `subject::search_key`; on SQLite through the names' trigram index from three
    /// characters), and the records whose business key starts with it (the 文书号, on the key's
    /// unique index); records the link pass has not reached yet are searched in their key and
    /// content as before. So a fragment from inside a 文书号 or a code, or of other text of the
    /// record, finds only records not yet linked.
    async fn search_sql(&self, q: &str, item: Option<&str>, args: &mut Args) -> Result<String, StoreError> {
        let mut found = Vec::new();
        if let Some(code) = crate::subject::code_query(q) {
            let (from, to) = (args.text(code.clone()), args.text(format!("{code}\u{7f}")));
            // `source || ''`: a condition no index serves, so the range is read on the primary key
            // (subject_code, …). With `source = 'record'` SQLite, knowing no statistics, took the
            // index by record for that equality and read all of its million entries (159 ms for
            // a whole credit code at 1,000,000 records, 2 ms on the key).
            found.push(format!(
                "SELECT record_id FROM subject_records WHERE subject_code >= {from} AND subject_code < {to} \
                 AND source || '' = 'record'"
            ));
        }
        if crate::ids::IdNumber::parse(q).is_ok()
            && let Some(person) = self.person_key().await?.subject(q)
        {
            found.push(format!(
                "SELECT record_id FROM subject_records WHERE subject_code = {} AND source = 'record'",
                args.text(person)
            ));
        }
        let key = crate::subject::search_key(q);
        if !key.is_empty() {
            let plain: String = key.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect();
            let names = match self.db() {
                Db::Sqlite(_) if plain.chars().count() >= 3 => {
                    format!(
                        "SELECT subject_code FROM subject_aliases_fts WHERE name_key LIKE {}",
                        args.text(format!("%{plain}%"))
                    )
                }
                _ => format!(
                    "SELECT subject_code FROM subject_aliases WHERE name_key LIKE {} ESCAPE '\\'",
                    args.text(crate::subject::like_anywhere(&key))
                ),
            };
            found.push(format!(
                "SELECT record_id FROM subject_records WHERE subject_code IN ({names}) AND source = 'record'"
            ));
        }
        let items = match item {
            Some(i) => vec![i.to_string()],
            None => self.record_items().await?,
        };
        if !items.is_empty() {
            let items: Vec<String> = items.into_iter().map(|i| args.text(i)).collect();
            let (from, to) = (args.text(q.to_string()), args.text(format!("{q}\u{10FFFF}")));
            found.push(format!(
                "SELECT id FROM records WHERE item IN ({}) AND business_key >= {from} AND business_key < {to}",
                items.join(", ")
            ));
        }
        let pattern = args.text(contains_pattern(q));
        found.push(format!(
            "SELECT id FROM records WHERE id > (SELECT last_id FROM subject_link_state WHERE source = 'record') \
             AND (business_key LIKE {pattern} ESCAPE '\\' OR content LIKE {pattern} ESCAPE '\\')"
        ));
        Ok(format!("id IN ({})", found.join(" UNION ALL ")))
    }

    /// The items records are stored under, each once (a skip scan of the key's index).
    async fn record_items(&self) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "WITH RECURSIVE i (item) AS (SELECT MIN(item) FROM records UNION ALL \
             SELECT (SELECT MIN(item) FROM records WHERE item > i.item) FROM i WHERE i.item IS NOT NULL) \
             SELECT item FROM i WHERE item IS NOT NULL";
        Ok(on_pool!(self.db(), pool => sqlx::query_scalar(SQL).fetch_all(pool).await?))
    }

    /// How many records the filter finds (its order, key and window aside).
    pub async fn record_count(&self, today: NaiveDate, f: &ListFilter) -> Result<i64, StoreError> {
        let mut args = Args::new(today);
        let w = self.list_where(f, &mut args).await?;
        let sql = format!("SELECT COUNT(*) FROM records WHERE {w}");
        Ok(on_pool!(self.db(), pool => bound!(sqlx::query_scalar(&sql), args).fetch_one(pool).await?))
    }

    /// One page of the records list: `limit` rows after `f.after` (when the order allows it)
    /// and `offset` more. The page's ids are chosen first, sorting only what the order needs: a
    /// sort that carried each record's content held hundreds of megabytes for a page deep in a
    /// million records.
    pub async fn record_page(&self, today: NaiveDate, f: &ListFilter) -> Result<Vec<ListRow>, StoreError> {
        let mut args = Args::new(today);
        let mut w = self.list_where(f, &mut args).await?;
        if let Some(after) = f.after.as_ref().and_then(|key| f.order.after_sql(f.status, key, &mut args)) {
            w = format!("{w} AND {after}");
        }
        let (limit, offset) = (args.int(f.limit.max(1)), args.int(f.offset.max(0)));
        let push = Cause::Push.sql();
        let order = f.order.sql(f.status);
        let sql = format!(
            "SELECT id, department, item, business_key, decision_date, deadline, deadline_provisional, reported_on, \
             CASE WHEN deadline IS NULL THEN 'untracked' WHEN reported_on IS NOT NULL AND reported_on <= deadline \
             THEN 'reported_on_time' WHEN reported_on IS NOT NULL THEN 'reported_late' WHEN $1 > deadline THEN 'overdue' \
             WHEN $1 >= due_soon_from THEN 'due_soon' ELSE 'pending' END, \
             CASE WHEN reported_on IS NULL AND deadline < $1 THEN (CASE WHEN returned = 1 THEN 'returned' \
             WHEN {push} THEN 'push' ELSE 'department' END) END, content \
             FROM records WHERE id IN (SELECT id FROM records WHERE {w} ORDER BY {order} LIMIT {limit} OFFSET {offset}) \
             ORDER BY {order}"
        );
        Ok(on_pool!(self.db(), pool => bound!(sqlx::query(&sql), args)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| ListRow {
                id: r.get(0),
                department: r.get(1),
                item: r.get(2),
                business_key: r.get(3),
                decision_date: r.get(4),
                deadline: r.get(5),
                provisional: r.get::<i32, _>(6) != 0,
                reported_on: r.get(7),
                status: Status::parse(&r.get::<String, _>(8)).unwrap_or(Status::Untracked),
                cause: r.get::<Option<String>, _>(9).as_deref().and_then(Cause::parse),
                content: r.get(10),
            })
            .collect()))
    }

    /// One page of the records list and the true number of records the filter finds.
    pub async fn record_list(&self, today: NaiveDate, f: &ListFilter) -> Result<(i64, Vec<ListRow>), StoreError> {
        Ok((self.record_count(today, f).await?, self.record_page(today, f).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A credit code's records are found on the subject links' primary key, not by reading every
    /// link: SQLite, knowing no statistics, read the index by record for `source = 'record'`.
    #[tokio::test]
    async fn a_credit_code_search_reads_the_links_by_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("g.db")).await.unwrap();
        let Db::Sqlite(pool) = store.db() else { unreachable!("a SQLite store") };
        let mut args = Args::new(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        let w = store.search_sql("91340602MA4GENLH0P", Some("CF"), &mut args).await.unwrap();
        let sql = format!("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM records WHERE {w}");
        let rows = bound!(sqlx::query_as::<_, (i64, i64, i64, String)>(&sql), args).fetch_all(pool).await.unwrap();
        let detail: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert!(detail.iter().any(|d| d.contains("subject_records USING PRIMARY KEY (subject_code>?")), "{detail:?}");
        assert!(!detail.iter().any(|d| d.contains("subject_records_by_record")), "{detail:?}");
    }

    #[test]
    fn list_keys_round_trip_and_refuse_nonsense() {
        let key = ListKey { deadline: Some("2026-03-10".into()), id: 1234 };
        assert_eq!(key.as_param(), "2026-03-10_1234");
        assert_eq!(ListKey::parse("2026-03-10_1234"), Some(key));
        assert_eq!(ListKey::parse("_7"), Some(ListKey { deadline: None, id: 7 }));
        for bad in ["", "1234", "2026-13-01_5", "2026-03-10_x", "2026-03-10_"] {
            assert_eq!(ListKey::parse(bad), None, "{bad}");
        }
        assert!(ListKey::parse_filter("x").unwrap_err().contains("截止日期_记录编号"));
    }
}
