//! The records list (到期) every figure links to: its filters, statuses and orders, and the
//! query that reads one page and the true total. The WHERE clause holds only the conditions a
//! filter asks for, so a count over the open records reads the open-deadline index alone; a
//! page deep in the list is found by keyset (`after` the last row's deadline and id) on the
//! same index, or with `records_reported_by_deadline` for lists of open and reported records; a search
//! reads the subject links and the business keys' index, not every record's content.

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

impl ListFilter {
    /// The search asked for, trimmed; `None` for none or only spaces.
    fn search(&self) -> Option<&str> {
        self.search.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
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

    /// The ORDER BY clause of a page's `part`; the id last, so that paging is stable. In a
    /// deadline order the records without a deadline come last either way (the part after the
    /// others, by id).
    fn sql(self, part: Part) -> &'static str {
        match (self, part) {
            (ListOrder::Deadline, Part::WithoutDeadline) => "id",
            (ListOrder::Deadline, _) => "deadline, id",
            (ListOrder::DeadlineDesc, Part::WithoutDeadline) => "id DESC",
            (ListOrder::DeadlineDesc, _) => "deadline DESC, id DESC",
            (ListOrder::DecisionDate, _) => "decision_date, id",
            (ListOrder::DecisionDateDesc, _) => "decision_date DESC, id DESC",
            (ListOrder::Department, _) => "department, deadline, id",
            (ListOrder::DepartmentDesc, _) => "department DESC, deadline, id",
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

    /// Whether the list holds open and reported records alike (so no one index holds it).
    fn spans_open_and_reported(self) -> bool {
        matches!(self, ListStatus::All | ListStatus::Tracked | ListStatus::One(Status::Untracked))
    }

    /// Whether the list may hold records without a deadline.
    fn may_lack_deadline(self) -> bool {
        matches!(self, ListStatus::All | ListStatus::One(Status::Untracked))
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

    /// The rows of `part` after `key` in this order, as `sql` sorts them; `None` for an order
    /// without keyset paging, or where every row of the part comes after the key.
    fn after_sql(self, part: Part, key: &ListKey, args: &mut Args) -> Option<String> {
        let (later, next) = match self {
            ListOrder::Deadline => (">", ">"),
            ListOrder::DeadlineDesc => ("<", "<"),
            _ => return None,
        };
        match (&key.deadline, part) {
            (Some(_), Part::WithoutDeadline) => None,
            (Some(d), _) => {
                let (d, id) = (args.text(d.clone()), args.int(key.id));
                // A range the deadline indexes read from the key on.
                Some(format!("deadline {later}= {d} AND (deadline {later} {d} OR id {next} {id})"))
            }
            (None, Part::WithoutDeadline) => Some(format!("id {next} {}", args.int(key.id))),
            // After a row without a deadline, none with one follows.
            (None, _) => Some("1 = 0".to_string()),
        }
    }
}

/// The part of a list a statement reads: all of it, or in a deadline order, the records with a
/// deadline and then those without (see `Store::record_page`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Whole,
    WithDeadline,
    WithoutDeadline,
}

/// A search finding at least this many records is broad (see [`SearchForm`]).
const BROAD_SEARCH: i64 = 2_000;

/// How a search is written into a list's WHERE clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchForm {
    /// `id IN (…)`: the matching records' ids gathered first, then read by id: for a count, and
    /// for a page of a narrow search (a sort of a few hundred rows).
    Gathered,
    /// Each record tested (its links probed by record) as the order's index walks by: for a page
    /// of a broad search, whose first rows come long before all its matches could be gathered
    /// and sorted (`q=91340600`, about 119,000 of 1,000,000 records: 210 ms gathered, 4 ms tested).
    Tested,
}

/// A search's conditions (see `Store::search`): on a subject link's code, on the record's
/// business key, and on the content of records not linked yet.
#[derive(Debug, Default)]
struct Search {
    subjects: Vec<String>,
    keyed: Option<String>,
    unlinked: String,
}

impl Search {
    fn sql(&self, form: SearchForm) -> String {
        match form {
            SearchForm::Gathered => {
                // `source || ''`: a condition no index serves, so each range is read on the
                // primary key (subject_code, …). With `source = 'record'` SQLite, knowing no
                // statistics, took the index by record for that equality and read all of its
                // million entries (159 ms for a whole credit code at 1,000,000 records, 2 ms on
                // the key).
                let mut found: Vec<String> = self
                    .subjects
                    .iter()
                    .map(|c| format!("SELECT record_id FROM subject_records WHERE {c} AND source || '' = 'record'"))
                    .collect();
                found.extend(self.keyed.iter().map(|c| format!("SELECT id FROM records WHERE {c}")));
                found.push(format!("SELECT id FROM records WHERE {}", self.unlinked));
                format!("id IN ({})", found.join(" UNION ALL "))
            }
            SearchForm::Tested => {
                let mut any = Vec::new();
                if !self.subjects.is_empty() {
                    let codes: Vec<String> = self.subjects.iter().map(|c| format!("({c})")).collect();
                    any.push(format!(
                        "EXISTS (SELECT 1 FROM subject_records WHERE source = 'record' AND record_id = records.id \
                         AND ({}))",
                        codes.join(" OR ")
                    ));
                }
                any.extend(self.keyed.iter().map(|c| format!("({c})")));
                any.push(format!("({})", self.unlinked));
                format!("({})", any.join(" OR "))
            }
        }
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
    /// (`duplicate`) is left out, as the figures count it once. A search is written as `form`
    /// says (see [`SearchForm`]).
    async fn list_where(&self, f: &ListFilter, args: &mut Args, form: SearchForm) -> Result<String, StoreError> {
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
        if let Some(q) = f.search() {
            w.push(self.search(q, f.item.as_deref(), args).await?.sql(form));
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

    /// What a search finds: the records of the subjects whose credit code starts with the query
    /// (`subject::code_query`), of the natural person a whole ID number names, and of the
    /// subjects one of whose names holds it (folded as `subject::search_key`; on SQLite through
    /// the names' trigram index from three characters), and the records whose business key
    /// starts with it (the 文书号, on the key's unique index); records the link pass has not
    /// reached yet are searched in their key and content as before. So a fragment from inside a
    /// 文书号 or a code, or of other text of the record, finds only records not yet linked.
    async fn search(&self, q: &str, item: Option<&str>, args: &mut Args) -> Result<Search, StoreError> {
        let mut s = Search::default();
        if let Some(code) = crate::subject::code_query(q) {
            let (from, to) = (args.text(code.clone()), args.text(format!("{code}\u{7f}")));
            s.subjects.push(format!("subject_code >= {from} AND subject_code < {to}"));
        }
        if crate::ids::IdNumber::parse(q).is_ok()
            && let Some(person) = self.person_key().await?.subject(q)
        {
            s.subjects.push(format!("subject_code = {}", args.text(person)));
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
            s.subjects.push(format!("subject_code IN ({names})"));
        }
        let items = match item {
            Some(i) => vec![i.to_string()],
            None => self.record_items().await?,
        };
        if !items.is_empty() {
            let items: Vec<String> = items.into_iter().map(|i| args.text(i)).collect();
            let (from, to) = (args.text(q.to_string()), args.text(format!("{q}\u{10FFFF}")));
            s.keyed =
                Some(format!("item IN ({}) AND business_key >= {from} AND business_key < {to}", items.join(", ")));
        }
        let pattern = args.text(contains_pattern(q));
        s.unlinked = format!(
            "id > (SELECT last_id FROM subject_link_state WHERE source = 'record') \
             AND (business_key LIKE {pattern} ESCAPE '\\' OR content LIKE {pattern} ESCAPE '\\')"
        );
        Ok(s)
    }

    /// Whether a search finds at least [`BROAD_SEARCH`] records, read from at most that many
    /// links and keys of each kind (a millisecond or two).
    async fn search_is_broad(&self, today: NaiveDate, f: &ListFilter) -> Result<bool, StoreError> {
        let Some(q) = f.search() else { return Ok(false) };
        let mut args = Args::new(today);
        let s = self.search(q, f.item.as_deref(), &mut args).await?;
        let limit = args.int(BROAD_SEARCH);
        let mut parts: Vec<String> = s
            .subjects
            .iter()
            .map(|c| format!("SELECT 1 FROM subject_records WHERE {c} AND source || '' = 'record' LIMIT {limit}"))
            .collect();
        parts.extend(s.keyed.iter().map(|c| format!("SELECT 1 FROM records WHERE {c} LIMIT {limit}")));
        if parts.is_empty() {
            return Ok(false);
        }
        let sum: Vec<String> = parts.iter().map(|p| format!("(SELECT COUNT(*) FROM ({p}) AS p)")).collect();
        let sql = format!("SELECT $1 IS NOT NULL, {} ", sum.join(" + "));
        let found: i64 = on_pool!(self.db(), pool => bound!(sqlx::query(&sql), args).fetch_one(pool).await?.get(1));
        Ok(found >= BROAD_SEARCH)
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
        self.count_part(today, &ListFilter { after: None, ..f.clone() }, Part::Whole).await
    }

    /// How many records of `part` the filter finds after its key (offset and limit aside).
    async fn count_part(&self, today: NaiveDate, f: &ListFilter, part: Part) -> Result<i64, StoreError> {
        let mut args = Args::new(today);
        let w = self.part_where(&mut args, f, part, SearchForm::Gathered, None).await?;
        let sql = format!("SELECT COUNT(*) FROM records WHERE {w}");
        Ok(on_pool!(self.db(), pool => bound!(sqlx::query_scalar(&sql), args).fetch_one(pool).await?))
    }

    /// One page of the records list: `limit` rows after `f.after` (when the order allows it)
    /// and `offset` more. In a deadline order a list that may hold records without a deadline
    /// (全部, 不跟踪) is read in two parts, those with a deadline (on the open-deadline index and
    /// `records_reported_by_deadline`) and then those without, by id: indexes serve each part in
    /// order, where a single `ORDER BY` putting the records without a deadline last sorted every
    /// record (170 ms for the first page of 全部 at 1,000,000 records).
    pub async fn record_page(&self, today: NaiveDate, f: &ListFilter) -> Result<Vec<ListRow>, StoreError> {
        let limit = f.limit.max(1);
        let offset = f.offset.max(0);
        // A broad search is tested record by record along the order's index, when one serves it.
        let form = if f.order != ListOrder::Department
            && f.order != ListOrder::DepartmentDesc
            && self.search_is_broad(today, f).await?
        {
            SearchForm::Tested
        } else {
            SearchForm::Gathered
        };
        if !(f.order.keyset() && f.status.may_lack_deadline()) {
            return self.page_part(today, f, Part::Whole, form, offset, limit).await;
        }
        let after_undated = f.after.as_ref().is_some_and(|k| k.deadline.is_none());
        let (mut rows, mut offset) = (Vec::new(), offset);
        if !after_undated && f.status != ListStatus::One(Status::Untracked) {
            rows = self.page_part(today, f, Part::WithDeadline, form, offset, limit).await?;
            if rows.len() as i64 >= limit {
                return Ok(rows);
            }
            // The page runs on into the records without a deadline; the offset was used up
            // among those with one unless this part had no row on the page.
            offset = match rows.is_empty() && offset > 0 {
                true => (offset - self.count_part(today, f, Part::WithDeadline).await?).max(0),
                false => 0,
            };
        }
        let rest = limit - rows.len() as i64;
        rows.extend(self.page_part(today, f, Part::WithoutDeadline, form, offset, rest).await?);
        Ok(rows)
    }

    /// The rows of one part of a page (see [`Part`]); the page's ids are chosen first, sorting
    /// only what the order needs: a sort that carried each record's content held hundreds of
    /// megabytes for a page deep in a million records.
    async fn page_part(
        &self,
        today: NaiveDate,
        f: &ListFilter,
        part: Part,
        form: SearchForm,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ListRow>, StoreError> {
        if !(f.order.keyset() && f.status.spans_open_and_reported()) {
            let mut args = Args::new(today);
            let w = self.part_where(&mut args, f, part, form, None).await?;
            let (limit, offset) = (args.int(limit), args.int(offset));
            let order = f.order.sql(part);
            let ids =
                format!("id IN (SELECT id FROM records WHERE {w} ORDER BY {order} LIMIT {limit} OFFSET {offset})");
            return self.rows_where(args, &ids, order).await;
        }
        // The open records in deadline order are on `records_open_deadlines`, the reported
        // ones on `records_reported_by_deadline`: each half's first `offset + limit` keys,
        // merged in the statement (at most 2 × 10,050 keys: the web pages by offset to 10,000
        // rows only; read out one by one they took 40 ms), then the page's rows read by id.
        let mut args = Args::new(today);
        let open = self.part_where(&mut args, f, part, form, Some("reported_on IS NULL")).await?;
        let reported = self.part_where(&mut args, f, part, form, Some("reported_on IS NOT NULL")).await?;
        let order = f.order.sql(part);
        let (take, limit, offset) = (args.int(offset.saturating_add(limit)), args.int(limit), args.int(offset));
        let ids = format!(
            "id IN (SELECT id FROM (SELECT deadline, id FROM (SELECT deadline, id FROM records WHERE {open} \
             ORDER BY {order} LIMIT {take}) AS o UNION ALL SELECT deadline, id FROM (SELECT deadline, id FROM records \
             WHERE {reported} ORDER BY {order} LIMIT {take}) AS r ORDER BY {order} LIMIT {limit} OFFSET {offset}) AS m)"
        );
        self.rows_where(args, &ids, order).await
    }

    /// The WHERE clause of a part of a page (its arguments added to `args`), of one half of the records
    /// (`half`: a condition on `reported_on`) or of all.
    async fn part_where(
        &self,
        args: &mut Args,
        f: &ListFilter,
        part: Part,
        form: SearchForm,
        half: Option<&str>,
    ) -> Result<String, StoreError> {
        let mut w = self.list_where(f, args, form).await?;
        if let Some(half) = half {
            w = format!("{w} AND {half}");
        }
        match part {
            Part::Whole => {}
            Part::WithDeadline => w = format!("{w} AND deadline IS NOT NULL"),
            Part::WithoutDeadline => w = format!("{w} AND deadline IS NULL"),
        }
        if let Some(after) = f.after.as_ref().and_then(|key| f.order.after_sql(part, key, args)) {
            w = format!("{w} AND {after}");
        }
        Ok(w)
    }

    /// The list rows of the records `ids` names (a condition on `id`, `$1` today), in `order`.
    async fn rows_where(&self, args: Args, ids: &str, order: &str) -> Result<Vec<ListRow>, StoreError> {
        let push = Cause::Push.sql();
        let sql = format!(
            "SELECT id, department, item, business_key, decision_date, deadline, deadline_provisional, reported_on, \
             CASE WHEN deadline IS NULL THEN 'untracked' WHEN reported_on IS NOT NULL AND reported_on <= deadline \
             THEN 'reported_on_time' WHEN reported_on IS NOT NULL THEN 'reported_late' WHEN $1 > deadline THEN 'overdue' \
             WHEN $1 >= due_soon_from THEN 'due_soon' ELSE 'pending' END, \
             CASE WHEN reported_on IS NULL AND deadline < $1 THEN (CASE WHEN returned = 1 THEN 'returned' \
             WHEN {push} THEN 'push' ELSE 'department' END) END, content \
             FROM records WHERE {ids} ORDER BY {order}"
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
        let w = store.search("91340602MA4GENLH0P", Some("CF"), &mut args).await.unwrap().sql(SearchForm::Gathered);
        let sql = format!("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM records WHERE {w}");
        let rows = bound!(sqlx::query_as::<_, (i64, i64, i64, String)>(&sql), args).fetch_all(pool).await.unwrap();
        let detail: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert!(detail.iter().any(|d| d.contains("subject_records USING PRIMARY KEY (subject_code>?")), "{detail:?}");
        assert!(!detail.iter().any(|d| d.contains("subject_records_by_record")), "{detail:?}");
    }

    /// 5,000 records, every tenth without a deadline, every third accepted, the even ones
    /// linked to a code starting 91340600 (a broad search) and number 7 to its own code (a
    /// narrow one).
    async fn broad_store(dir: &std::path::Path) -> Store {
        let store = Store::open_sqlite(&dir.join("g.db")).await.unwrap();
        let Db::Sqlite(pool) = store.db() else { unreachable!("a SQLite store") };
        for sql in [
            "INSERT INTO ingest_runs (id, connector, department, item, source, status, started_at) \
             VALUES (1, 'c', 'd', 'CF', 'f', 'done', '2026-01-01T00:00:00Z')",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
             INSERT INTO records (id, item, business_key, department, version, content_hash, content, decision_date, \
             ingest_run_id, source_line, created_at, updated_at, deadline, due_soon_from, reported_on) \
             SELECT i, 'CF', 'K' || i, 'd' || (i % 3), 1, '', '{}', '2025-12-01', 1, i, '', '', \
             CASE WHEN i % 10 = 0 THEN NULL ELSE date('2026-01-01', '+' || (i * 7 % 40) || ' days') END, '2026-01-01', \
             CASE WHEN i % 3 = 0 THEN '2026-01-05' END FROM n",
            "INSERT INTO subject_records (subject_code, source, record_id) \
             SELECT '91340600MA' || printf('%08d', id), 'record', id FROM records WHERE id % 2 = 0",
            "INSERT INTO subject_records (subject_code, source, record_id) VALUES ('91110000MA00000077', 'record', 7)",
            "INSERT INTO subject_link_state (source, last_id) VALUES ('record', 5000) \
             ON CONFLICT (source) DO UPDATE SET last_id = 5000",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        store
    }

    /// A broad search's pages, tested record by record along the deadline index, are the
    /// pages a search gathering every match and sorting them gives, by offset and by key,
    /// either way round, the records without a deadline last; a narrow search stays gathered.
    #[tokio::test]
    async fn a_broad_search_reads_the_same_pages_along_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = broad_store(dir.path()).await;
        let today = NaiveDate::from_ymd_opt(2026, 1, 20).unwrap();
        let narrow =
            ListFilter { search: Some("91110000MA00000077".into()), status: ListStatus::All, ..Default::default() };
        assert!(!store.search_is_broad(today, &narrow).await.unwrap());
        assert_eq!(store.record_page(today, &narrow).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [7]);
        for status in [ListStatus::All, ListStatus::Open, ListStatus::One(Status::Untracked)] {
            for order in [ListOrder::Deadline, ListOrder::DeadlineDesc, ListOrder::DecisionDate] {
                let f = ListFilter { search: Some("91340600".into()), status, order, ..Default::default() };
                assert!(store.search_is_broad(today, &f).await.unwrap());
                let every = ListFilter { limit: 5_000, ..f.clone() };
                let gathered: Vec<i64> = match (order.keyset() && status.may_lack_deadline(), status) {
                    (false, _) => store.page_part(today, &every, Part::Whole, SearchForm::Gathered, 0, 5_000).await,
                    (true, ListStatus::All) => {
                        let mut rows = store
                            .page_part(today, &every, Part::WithDeadline, SearchForm::Gathered, 0, 5_000)
                            .await
                            .unwrap();
                        rows.extend(
                            store
                                .page_part(today, &every, Part::WithoutDeadline, SearchForm::Gathered, 0, 5_000)
                                .await
                                .unwrap(),
                        );
                        Ok(rows)
                    }
                    (true, _) => {
                        store.page_part(today, &every, Part::WithoutDeadline, SearchForm::Gathered, 0, 5_000).await
                    }
                }
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect();
                let mut expected: Vec<(bool, Option<String>, i64)> = Vec::new();
                for i in (2..=5000).step_by(2) {
                    let deadline = (i % 10 != 0).then(|| {
                        (NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new((i * 7 % 40) as u64))
                            .to_string()
                    });
                    let keep = match status {
                        ListStatus::All => true,
                        ListStatus::Open => deadline.is_some() && i % 3 != 0,
                        _ => deadline.is_none(),
                    };
                    if keep {
                        expected.push((deadline.is_none(), deadline, i));
                    }
                }
                match order {
                    ListOrder::Deadline => expected.sort(),
                    ListOrder::DeadlineDesc => {
                        expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)))
                    }
                    _ => expected.sort_by_key(|e| e.2),
                }
                let expected: Vec<i64> = expected.iter().map(|e| e.2).collect();
                assert_eq!(gathered, expected, "{status:?} {order:?}: gathered");
                let (mut by_offset, mut by_key, mut after) = (Vec::new(), Vec::new(), None);
                for offset in (0..).step_by(97) {
                    let page = store.record_page(today, &ListFilter { offset, limit: 97, ..f.clone() }).await.unwrap();
                    by_offset.extend(page.iter().map(|r| r.id));
                    if page.len() < 97 {
                        break;
                    }
                }
                assert_eq!(by_offset, expected, "{status:?} {order:?}: offset pages");
                if order.keyset() {
                    loop {
                        let page =
                            store.record_page(today, &ListFilter { after, limit: 97, ..f.clone() }).await.unwrap();
                        by_key.extend(page.iter().map(|r| r.id));
                        match page.last() {
                            Some(last) if page.len() == 97 => after = Some(ListKey::of(last)),
                            _ => break,
                        }
                    }
                    assert_eq!(by_key, expected, "{status:?} {order:?}: keyset pages");
                }
            }
        }
        // Tested along the deadline index, each record's links probed by record.
        let Db::Sqlite(pool) = store.db() else { unreachable!("a SQLite store") };
        let f = ListFilter { search: Some("91340600".into()), status: ListStatus::All, ..Default::default() };
        let mut args = Args::new(today);
        let w = store.list_where(&f, &mut args, SearchForm::Tested).await.unwrap();
        // Each half of the records on its own index, in order.
        for (half, index) in [
            ("reported_on IS NULL", "records_open_deadlines"),
            ("reported_on IS NOT NULL", "records_reported_by_deadline"),
        ] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT id FROM records WHERE {w} AND {half} AND deadline IS NOT NULL \
                 ORDER BY deadline, id LIMIT 50"
            );
            let rows = bound!(sqlx::query_as::<_, (i64, i64, i64, String)>(&sql), args).fetch_all(pool).await.unwrap();
            let detail: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
            assert!(detail.iter().any(|d| d.contains(&format!("INDEX {index}"))), "{detail:?}");
            assert!(detail.iter().any(|d| d.contains("subject_records_by_record")), "{detail:?}");
            assert!(!detail.iter().any(|d| d.contains("TEMP B-TREE FOR ORDER BY")), "{detail:?}");
        }
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
