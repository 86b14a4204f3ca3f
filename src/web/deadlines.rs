//! 到期: records by deadline, filtered by department, item and status, and exported to CSV or
//! XLSX for the clerks who chase them.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::lists::{self, department_name, item_name, key_text, subject_of};
use super::pages::{definitions, page};
use super::params::Params;
use crate::calendar::Calendar;
use crate::config::Settings;
use crate::deadline::Status;
use crate::error_report::neutralise_formula;
use crate::store::{Cause, ListFilter, ListKey, ListOrder, ListRow, ListStatus};

/// An export takes up to this many rows.
const EXPORT_LIMIT: i64 = 100_000;

#[derive(Debug, Default, Deserialize)]
pub struct DeadlineQuery {
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    item: Option<String>,
    /// `open` (default), `all`, or a status.
    #[serde(default)]
    status: Option<String>,
    /// `department`, `returned` or `push`, or several with commas: overdue for those causes.
    #[serde(default)]
    cause: Option<String>,
    /// A credit code or its start, any part of a subject's name, a 文书号 or its start, a whole
    /// ID number.
    #[serde(default)]
    q: Option<String>,
    /// With `value`: records whose field (its catalogue key, e.g. `CN_LYZT`) holds exactly `value`.
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    value: Option<String>,
    /// Accepted in this month, `YYYY-MM`.
    #[serde(default)]
    reported_month: Option<String>,
    /// Decided in this month, `YYYY-MM`.
    #[serde(default)]
    decision_month: Option<String>,
    /// `deadline` (default), `decision_date` or `department`; `-` before it for descending.
    #[serde(default)]
    sort: Option<String>,
    /// Keyset paging: the rows after this one (`截止日期_记录编号`, a page's `next_after`),
    /// by the deadline orders only.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    /// `csv` or `xlsx` for an export.
    #[serde(default)]
    format: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl DeadlineQuery {
    /// The filter this caller may ask for (a department user is held to its own department),
    /// or what is wrong with the question, in Chinese.
    fn filter(&self, caller: &Caller, offset: i64, limit: i64) -> Result<ListFilter, String> {
        let status = match nonempty(&self.status) {
            None => ListStatus::Open,
            Some(s) => ListStatus::parse_filter(&s)?,
        };
        let causes = match nonempty(&self.cause) {
            None => Vec::new(),
            Some(c) => Cause::parse_filter(&c)?,
        };
        let order = match nonempty(&self.sort) {
            None => ListOrder::Deadline,
            Some(o) => ListOrder::parse_filter(&o)?,
        };
        let after = match nonempty(&self.after) {
            None => None,
            Some(_) if !order.keyset() => {
                return Err("翻页位置（after）只用于按截止日期排序（sort=deadline 或 -deadline）".to_string());
            }
            Some(a) => Some(ListKey::parse_filter(&a)?),
        };
        let offset = lists::offset_within_reach(offset, order.keyset())?;
        let reported_month = nonempty(&self.reported_month);
        let decision_month = nonempty(&self.decision_month);
        for m in reported_month.iter().chain(&decision_month) {
            if NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_err() {
                return Err(format!("月份“{m}”无效，应为 YYYY-MM，如 2026-03"));
            }
        }
        Ok(ListFilter {
            department: caller.scope().map(str::to_string).or_else(|| nonempty(&self.department)),
            item: nonempty(&self.item),
            status,
            causes,
            search: nonempty(&self.q),
            field_value: nonempty(&self.field).zip(nonempty(&self.value)),
            reported_month,
            decision_month,
            order,
            after,
            offset,
            limit,
        })
    }

    /// The path with this question's filters, for links and paging.
    fn href(&self, filter: &ListFilter) -> String {
        let status = Some(filter.status.as_str()).filter(|s| *s != "open");
        let path = lists::query(&[
            ("department", filter.department.as_deref()),
            ("item", filter.item.as_deref()),
            ("status", status),
            ("cause", Some(Cause::list_str(&filter.causes)).filter(|c| !c.is_empty()).as_deref()),
            ("q", filter.search.as_deref()),
            ("field", filter.field_value.as_ref().map(|f| f.0.as_str())),
            ("value", filter.field_value.as_ref().map(|f| f.1.as_str())),
            ("reported_month", filter.reported_month.as_deref()),
            ("decision_month", filter.decision_month.as_deref()),
            ("sort", Some(filter.order.as_str()).filter(|_| filter.order != ListOrder::Deadline)),
        ]);
        format!("/deadlines{path}")
    }
}

/// One page of the list, for the API.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadlinePage {
    /// How many records the filter finds (not only this page).
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    /// The next page starts after this row (pass it as `after`), when rows remain and the
    /// order is by deadline.
    pub next_after: Option<String>,
    pub rows: Vec<DeadlineLine>,
}

/// One record of the list with what a clerk needs to act on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadlineLine {
    #[serde(flatten)]
    pub row: ListRow,
    pub department_name: String,
    pub item_name: String,
    pub subject_name: Option<String>,
    pub credit_code: Option<String>,
    /// Calendar days past the deadline (overdue), or late (reported late).
    pub days_overdue: Option<i64>,
    /// Working days left to the deadline (open and not overdue).
    pub working_days_left: Option<u32>,
    /// The status and cause in Chinese.
    pub status_zh: String,
    pub cause_zh: Option<String>,
}

fn line(state: &AppState, calendar: &Calendar, today: NaiveDate, row: ListRow) -> DeadlineLine {
    let settings = state.settings();
    let (subject_name, credit_code) = subject_of(&settings, &row.item, &row.content);
    let deadline = row.deadline.as_deref().and_then(|d| d.parse::<NaiveDate>().ok());
    let reported = row.reported_on.as_deref().and_then(|d| d.parse::<NaiveDate>().ok());
    let days_overdue = match (deadline, reported) {
        (Some(d), Some(r)) if r > d => Some((r - d).num_days()),
        (Some(d), None) if today > d => Some((today - d).num_days()),
        _ => None,
    };
    let working_days_left = match (deadline, reported) {
        (Some(d), None) if d >= today => Some(calendar.working_days_between(today, d).0),
        _ => None,
    };
    DeadlineLine {
        department_name: department_name(&settings, &row.department).to_string(),
        item_name: item_name(&settings, &row.item),
        subject_name,
        credit_code,
        days_overdue,
        working_days_left,
        status_zh: row.status.zh().to_string(),
        cause_zh: row.cause.map(|c| c.zh().to_string()),
        row,
    }
}

fn bad_request(message: String, html: Option<&Caller>) -> Response {
    match html {
        Some(caller) => {
            (StatusCode::BAD_REQUEST, page("到期", Some(caller), html! { p class="err" { (message) } })).into_response()
        }
        None => (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "bad_request", "message": message})))
            .into_response(),
    }
}

/// A page of the list: the true total (kept a few seconds when slow to count: `TotalCache`),
/// the rows, and the key the next page starts after when rows remain and the order allows it.
async fn fetch(state: &AppState, filter: &ListFilter) -> Result<(i64, Vec<DeadlineLine>, Option<String>), ApiError> {
    let today = state.today();
    let total = state.list_totals.record_total(&state.store, today, filter).await?;
    // One row more than the page, to know whether another page follows.
    let mut rows = state.store.record_page(today, &ListFilter { limit: filter.limit + 1, ..filter.clone() }).await?;
    let more = rows.len() as i64 > filter.limit;
    rows.truncate(filter.limit.max(0) as usize);
    let next = rows.last().filter(|_| more && filter.order.keyset()).map(|r| ListKey::of(r).as_param());
    let calendar = state.calendar.borrow().clone();
    Ok((total, rows.into_iter().map(|r| line(state, &calendar, today, r)).collect(), next))
}

#[utoipa::path(
    get,
    path = "/api/v1/deadlines",
    operation_id = "deadlines",
    summary = "到期：按截止日期排列的记录，答 {total, offset, limit, rows}，total 为筛选结果总数",
    params(
        ("department" = Option<String>, Query, description = "部门编号"),
        ("item" = Option<String>, Query, description = "信息类别代码，如 CF、XK"),
        ("status" = Option<String>, Query, description = "open（缺省：未接收）、all、tracked、overdue、due_soon、pending、reported_late、reported_on_time、backfilled（补报，不计按时或迟报）、untracked"),
        ("cause" = Option<String>, Query, description = "逾期原因：department（部门未报送）、returned（已退回待补正）、push（推送失败/平台异常），可用逗号列出几项，如 department,returned（计入部门）"),
        ("q" = Option<String>, Query, description = "搜索：统一社会信用代码（或其开头）、主体名称的任一部分、文书号（或其开头）、完整的身份证号码"),
        ("field" = Option<String>, Query, description = "与 value 同用：字段代码（如 CN_LYZT），只列该字段恰为 value 的记录"),
        ("value" = Option<String>, Query, description = "与 field 同用：字段的取值（如 已履约）"),
        ("reported_month" = Option<String>, Query, description = "接收月份 YYYY-MM"),
        ("decision_month" = Option<String>, Query, description = "决定月份 YYYY-MM"),
        ("sort" = Option<String>, Query, description = "排序：deadline（截止日期，缺省）、decision_date（决定日期）、department（部门），前加 - 为倒序"),
        ("after" = Option<String>, Query, description = "按键翻页（仅按截止日期排序时）：从这一行之后开始，取上一页答复的 next_after（截止日期_记录编号，如 2026-03-10_1234）；offset 再从这里起算"),
        ("offset" = Option<i64>, Query, description = "跳过条数，缺省 0，最多 10000（更深处用 after 按截止日期翻页）"),
        ("limit" = Option<i64>, Query, description = "每页条数，缺省 50，最多 500"),
    ),
    responses(
        (status = 200, description = "一页记录", body = DeadlinePage),
        super::api::QueryRefusals,
    )
)]
pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<DeadlineQuery>,
) -> Result<Response, ApiError> {
    let (offset, limit) = lists::window(q.offset, q.limit);
    let filter = match q.filter(&caller, offset, limit) {
        Ok(f) => f,
        Err(message) => return Ok(bad_request(message, None)),
    };
    let (total, rows, next_after) = fetch(&state, &filter).await?;
    let _ = state.store.audit(&caller.name, "view", "api:deadlines", state.now()).await;
    Ok(Json(DeadlinePage { total, offset, limit, next_after, rows }).into_response())
}

const STATUSES: [Status; 6] = [
    Status::Overdue,
    Status::DueSoon,
    Status::Pending,
    Status::ReportedLate,
    Status::ReportedOnTime,
    Status::Untracked,
];

/// A filter's choices: "all" (no value) first, then each value, the one asked for selected.
fn options(values: &[(String, String)], selected: Option<&str>, all: &str) -> Markup {
    html! {
        option value="" { (all) }
        @for (value, label) in values {
            option value=(value) selected[selected == Some(value.as_str())] { (label) }
        }
    }
}

pub async fn page_or_export(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<DeadlineQuery>,
) -> Result<Response, ApiError> {
    if matches!(q.format.as_deref(), Some("csv") | Some("xlsx")) {
        return export(&state, &caller, &q).await;
    }
    let (offset, limit) = lists::window(q.offset, q.limit);
    let filter = match q.filter(&caller, offset, limit) {
        Ok(f) => f,
        Err(message) => return Ok(bad_request(message, Some(&caller))),
    };
    let (total, rows, next) = fetch(&state, &filter).await?;
    let _ = state.store.audit(&caller.name, "view", "page:deadlines", state.now()).await;
    let ids: Vec<i64> = rows.iter().map(|r| r.row.id).collect();
    let disputed: HashSet<i64> = state.store.records_under_objection(&ids).await?.into_iter().collect();
    let href = q.href(&filter);
    let body = html! {
        (filter_form(&state.settings(), &caller, &filter))
        (pager("total", &href, &filter, total, rows.len(), next.as_deref()))
        div class="scroll" {
            table id="deadline-list" {
                tr {
                    (sort_header(&q, &filter, "部门", ListOrder::Department))
                    th { "信息类别" } th { "主体名称" } th { "业务主键" }
                    (sort_header(&q, &filter, "决定日期", ListOrder::DecisionDate))
                    (sort_header(&q, &filter, "截止日期", ListOrder::Deadline))
                    th { "上报日期" } th { "逾期天数 / 剩余工作日" } th { "状态" } th { "逾期原因" }
                }
                @for l in &rows { (list_row(l, disputed.contains(&l.row.id))) }
            }
        }
        (pager("total-bottom", &href, &filter, total, rows.len(), next.as_deref()))
        (definitions(&["已逾期", "部门未报送", "已退回待补正", "推送失败/平台异常", "即将到期"]))
    };
    Ok(page("到期", Some(&caller), body).into_response())
}

/// By deadline, the pager goes on by keyset (下一页 after the last row); other orders by offset.
fn pager(id: &str, href: &str, filter: &ListFilter, total: i64, shown: usize, next: Option<&str>) -> Markup {
    let window = (filter.offset, filter.limit, shown);
    if filter.order.keyset() {
        lists::keyset_pager(id, href, total, window, filter.after.is_some(), next)
    } else {
        lists::pager(id, href, total, filter.offset, filter.limit, shown)
    }
}

/// The filters, as asked (a month asked for from a figure's link is kept, hidden), and the
/// export buttons.
fn filter_form(settings: &Settings, caller: &Caller, filter: &ListFilter) -> Markup {
    let departments: Vec<(String, String)> =
        settings.departments.iter().filter(|d| caller.sees(&d.id)).map(|d| (d.id.clone(), d.name.clone())).collect();
    let items: Vec<(String, String)> =
        settings.catalogue.items().iter().map(|i| (i.code.clone(), i.name.clone())).collect();
    let mut statuses: Vec<(String, String)> = vec![("all".into(), "全部（含已接收）".into())];
    statuses.extend(STATUSES.iter().map(|s| (s.as_str().to_string(), s.zh().to_string())));
    statuses.push((ListStatus::Backfilled.as_str().into(), "补报（历史数据，不计按时或迟报）".into()));
    let mut causes: Vec<(String, String)> =
        vec![(Cause::list_str(&Cause::CHARGED), "计入部门（部门未报送、已退回待补正）".into())];
    causes.extend(Cause::ALL.iter().map(|c| (c.as_str().into(), c.zh().into())));
    let selected_causes = Cause::list_str(&filter.causes);
    let selected_status = Some(filter.status.as_str()).filter(|s| *s != "open");
    html! {
        form method="get" action="/deadlines" id="filter" {
            label {
                "搜索 "
                input name="q" value=(filter.search.as_deref().unwrap_or("")) placeholder="统一社会信用代码、名称或文书号" size="28";
            }
            " 部门 " select name="department" { (options(&departments, filter.department.as_deref(), "全部")) }
            " 信息类别 " select name="item" { (options(&items, filter.item.as_deref(), "全部")) }
            " 状态 " select name="status" { (options(&statuses, selected_status, "未接收（默认）")) }
            " 逾期原因 "
            select name="cause" {
                (options(&causes, Some(selected_causes.as_str()).filter(|c| !c.is_empty()), "全部"))
            }
            " "
            @if let Some(m) = &filter.reported_month {
                input type="hidden" name="reported_month" value=(m);
                "接收月份 " (m) " "
            }
            @if let Some(m) = &filter.decision_month {
                input type="hidden" name="decision_month" value=(m);
                "决定月份 " (m) " "
            }
            button type="submit" { "筛选" }
            " "
            button type="submit" name="format" value="csv" { "导出 CSV" }
            " "
            button type="submit" name="format" value="xlsx" { "导出 Excel" }
        }
    }
}

/// A column title that sorts by it; clicked again, the other way round (from the first page).
fn sort_header(q: &DeadlineQuery, filter: &ListFilter, title: &str, column: ListOrder) -> Markup {
    let (order, mark) = match filter.order {
        o if o == column => (column.reversed(), " ▲"),
        o if o == column.reversed() => (column, " ▼"),
        _ => (column, ""),
    };
    let link = q.href(&ListFilter { order, ..filter.clone() });
    html! { th { a class="sort" href=(link) { (title) (mark) } } }
}

/// One record of the list; `disputed` when an objection against it is open.
fn list_row(l: &DeadlineLine, disputed: bool) -> Markup {
    let r = &l.row;
    html! {
        tr class=(r.status.as_str()) {
            td { (l.department_name) }
            td { (l.item_name) }
            td { (l.subject_name.as_deref().unwrap_or("—")) }
            td { a href={ "/records/" (r.id) } { (key_text(&r.business_key)) } }
            td class="date" { (r.decision_date.as_deref().unwrap_or("")) }
            td { (r.deadline.as_deref().unwrap_or("")) @if r.provisional { "（临时）" } }
            td class="date" { (r.reported_on.as_deref().unwrap_or("")) }
            td { (days(l)) }
            td { (l.status_zh) @if disputed { "（异议处理中）" } }
            td { (l.cause_zh.as_deref().unwrap_or("")) }
        }
    }
}

/// Days late (reported), overdue (open, in red) or working days left.
fn days(l: &DeadlineLine) -> Markup {
    html! {
        @match (l.days_overdue, l.working_days_left) {
            (Some(n), _) if l.row.reported_on.is_some() => { "迟 " (n) " 天" },
            (Some(n), _) => span class="overdue-mark" { "逾期 " (n) " 天" },
            (_, Some(0)) => "今日截止",
            (_, Some(n)) => { "剩 " (n) " 个工作日" },
            _ => "—",
        }
    }
}

const HEADER: [&str; 12] = [
    "记录编号",
    "部门",
    "信息类别",
    "主体名称",
    "统一社会信用代码",
    "业务主键",
    "决定日期",
    "截止日期",
    "上报日期",
    "逾期天数",
    "状态",
    "逾期原因",
];

/// The date columns (written as dates in the workbook).
const DATE_COLUMNS: [usize; 3] = [6, 7, 8];

fn cells(l: &DeadlineLine) -> [String; 12] {
    let r = &l.row;
    [
        r.id.to_string(),
        l.department_name.clone(),
        l.item_name.clone(),
        l.subject_name.clone().unwrap_or_default(),
        l.credit_code.clone().unwrap_or_default(),
        key_text(&r.business_key),
        r.decision_date.clone().unwrap_or_default(),
        format!("{}{}", r.deadline.as_deref().unwrap_or(""), if r.provisional { "（临时）" } else { "" }),
        r.reported_on.clone().unwrap_or_default(),
        l.days_overdue.map(|n| n.to_string()).unwrap_or_default(),
        l.status_zh.clone(),
        l.cause_zh.clone().unwrap_or_default(),
    ]
}

/// The filtered list as a file; every cell that a spreadsheet would take for a formula is
/// neutralised. The CSV is masked by the masking layer like any text answer.
async fn export(state: &AppState, caller: &Caller, q: &DeadlineQuery) -> Result<Response, ApiError> {
    let filter = match q.filter(caller, 0, EXPORT_LIMIT) {
        Ok(f) => f,
        Err(message) => return Ok(bad_request(message, Some(caller))),
    };
    let (_, rows, _) = fetch(state, &filter).await?;
    let csv = q.format.as_deref() == Some("csv");
    let target = format!("export:deadlines:{}:{} rows", if csv { "csv" } else { "xlsx" }, rows.len());
    let _ = state.store.audit(&caller.name, "export", &target, state.now()).await;
    let stem = format!("到期-{}", state.today());
    let disposition = |ext: &str| {
        let encoded: String = format!("{stem}.{ext}").bytes().map(|b| format!("%{b:02X}")).collect();
        format!("attachment; filename=\"deadlines.{ext}\"; filename*=UTF-8''{encoded}")
    };
    if csv {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        let _ = w.write_record(HEADER);
        for l in &rows {
            let _ = w.write_record(cells(l).iter().map(|c| neutralise_formula(c)));
        }
        let bytes = w.into_inner().unwrap_or_default();
        let headers = [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition("csv")),
        ];
        return Ok((headers, bytes).into_response());
    }
    let mask = !caller.is_admin();
    let cells: Vec<[String; 12]> = rows.iter().map(cells).collect();
    let bytes =
        tokio::task::spawn_blocking(move || xlsx("到期", &HEADER, &DATE_COLUMNS, &cells, mask)).await.ok().flatten();
    let Some(bytes) = bytes else {
        return Ok((StatusCode::INTERNAL_SERVER_ERROR, "导出失败").into_response());
    };
    let headers = [
        (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
        (header::CONTENT_DISPOSITION, disposition("xlsx")),
    ];
    Ok((headers, bytes).into_response())
}

/// A workbook people can work in: a named sheet, the header frozen and filtered, columns wide
/// enough, dates as real dates (`YYYY-MM-DD` cells in `dates`), everything else as text, so
/// nothing is ever evaluated; text neutralised as in the CSV for users who copy cells onward.
/// A workbook is a zip the masking layer cannot read, so ID numbers are masked here, cell by
/// cell, when `mask` (the caller is not an admin).
pub fn xlsx<const N: usize>(
    sheet_name: &str,
    header: &[&str; N],
    dates: &[usize],
    rows: &[[String; N]],
    mask: bool,
) -> Option<Vec<u8>> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet_with_constant_memory().ok()?;
    sheet.set_name(sheet_name).ok()?;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count() * 2 + 2).collect();
    for row in rows.iter().take(1000) {
        for (c, v) in row.iter().enumerate() {
            let w = v.chars().map(|ch| if ch.is_ascii() { 1 } else { 2 }).sum::<usize>() + 2;
            widths[c] = widths[c].max(w).min(60);
        }
    }
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *w as f64).ok()?;
    }
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold).ok()?;
    }
    sheet.set_freeze_panes(1, 0).ok()?;
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in r.iter().enumerate() {
            if dates.contains(&c)
                && let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d")
                && let Ok(dt) = ExcelDateTime::from_ymd(
                    chrono::Datelike::year(&d) as u16,
                    chrono::Datelike::month(&d) as u8,
                    chrono::Datelike::day(&d) as u8,
                )
            {
                sheet.write_datetime_with_format(row, c as u16, &dt, &date).ok()?;
                continue;
            }
            if v.is_empty() {
                continue;
            }
            let v = if mask { crate::ids::mask_ids_in_text(v) } else { std::borrow::Cow::Borrowed(v.as_str()) };
            sheet.write_string(row, c as u16, neutralise_formula(&v)).ok()?;
        }
    }
    sheet.autofilter(0, 0, rows.len() as u32, (N as u16).saturating_sub(1)).ok()?;
    book.save_to_buffer().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workbook_text(bytes: Vec<u8>) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
        let mut text = String::new();
        for i in 0..zip.len() {
            let _ = std::io::Read::read_to_string(&mut zip.by_index(i).expect("entry"), &mut text);
        }
        text
    }

    fn row(key: &str) -> [String; 3] {
        [key.to_string(), "2024-03-01".to_string(), "已逾期".to_string()]
    }

    #[test]
    fn the_workbook_masks_id_numbers_unless_asked_not_to() {
        let key = "（2024）皖0602执1号 / 11010519491231002X".to_string();
        let header = ["业务主键", "决定日期", "状态"];
        let masked = workbook_text(xlsx("到期", &header, &[1], &[row(&key)], true).expect("a workbook"));
        assert!(masked.contains("110105********002X") && !masked.contains("19491231"));
        let full = workbook_text(xlsx("到期", &header, &[1], &[row(&key)], false).expect("a workbook"));
        assert!(full.contains("11010519491231002X"));
    }

    #[test]
    fn the_workbook_has_dates_a_frozen_filtered_header_and_a_named_sheet() {
        let header = ["业务主键", "决定日期", "状态"];
        let text = workbook_text(xlsx("到期", &header, &[1], &[row("甲")], false).expect("a workbook"));
        assert!(text.contains("name=\"到期\""), "the sheet is named");
        assert!(text.contains("<pane") && text.contains("frozen"), "the header is frozen");
        assert!(text.contains("<autoFilter"), "the header filters");
        assert!(text.contains("<cols>"), "columns have widths");
        assert!(text.contains("<v>45352</v>"), "2024-03-01 is a date serial, not text");
    }
}
