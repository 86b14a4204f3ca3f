//! 问题数据 (returned and invalid records, with what to fix) and 记录 (one record's lineage:
//! source, versions, pushes, receipts, deadline). ID numbers in them (business keys,
//! content, reasons) are masked for all but admins by the layer in `masking`.

use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::lists;
use super::pages::{header_row, page, thousands};
use super::params::{Params, PathParam};
use crate::config::Settings;
use crate::glossary;
use crate::store::{InvalidRow, PushRow, RecordDetail, ReturnFilter, ReturnRow};

/// Invalid rows shown under the returned records (all of them with `view=invalid`).
const INVALID_PREVIEW: i64 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct ProblemsQuery {
    #[serde(default)]
    department: Option<String>,
    /// Credit code, subject name, 文书号 or any fragment of the record.
    #[serde(default)]
    q: Option<String>,
    /// Only records first returned on or before this day (past their correction time).
    #[serde(default)]
    returned_by: Option<String>,
    /// Only records decided in this month, `YYYY-MM`.
    #[serde(default)]
    decision_month: Option<String>,
    /// `invalid`: the invalid rows, paged.
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A returned record as a clerk acts on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReturnedLine {
    pub record_id: i64,
    pub department: String,
    pub department_name: String,
    pub item: String,
    pub item_name: String,
    pub business_key: String,
    pub subject_name: Option<String>,
    pub credit_code: Option<String>,
    /// The platforms that returned it, by title.
    pub platforms: Vec<String>,
    pub rule: Option<String>,
    /// The platforms' reasons, field keys named in Chinese.
    pub reason: String,
    /// What to do (处理建议), by the platform's rule.
    pub advice: String,
    pub returned_on: String,
    /// The last day to correct it (补正期限) and whether it has passed (已超期).
    pub correct_by: Option<String>,
    pub correction_overdue: bool,
    /// The file the current version came from (its name, not its path) and line.
    pub source_file: String,
    pub source_line: i64,
}

/// An invalid row with its field named in Chinese and its file by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvalidLine {
    #[serde(flatten)]
    pub row: InvalidRow,
    pub department_name: String,
    pub field_name: Option<String>,
    pub file_name: String,
    /// The department's error report for the row's file.
    pub report_url: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problems {
    /// How many returned records the filter finds (one per record, whatever the platforms).
    pub returned_total: i64,
    pub returned: Vec<ReturnedLine>,
    pub invalid_total: i64,
    pub invalid: Vec<InvalidLine>,
    pub offset: i64,
    pub limit: i64,
}

async fn problems(state: &AppState, caller: &Caller, q: &ProblemsQuery) -> Result<Problems, ApiError> {
    let (offset, limit) = lists::window(q.offset, q.limit);
    let settings = state.settings();
    let department = caller.scope().map(str::to_string).or_else(|| nonempty(&q.department));
    let today = state.today();
    let allowed = settings.gateway.correction_working_days;
    let calendar = state.calendar.borrow().clone();
    let cutoff = super::api::correction_cutoff(&calendar, today, allowed).map(|d| d.to_string());
    let filter = ReturnFilter {
        department: department.clone(),
        search: nonempty(&q.q),
        returned_by: nonempty(&q.returned_by),
        decision_month: nonempty(&q.decision_month),
        offset,
        limit,
    };
    let invalid_view = q.view.as_deref() == Some("invalid");
    let (returned_total, returned) = if invalid_view {
        (state.store.returned_count(department.as_deref()).await?, Vec::new())
    } else {
        state.store.returned_records(&filter).await?
    };
    let title = |d: &str| settings.destination_title(d).to_string();
    let returned = returned
        .into_iter()
        .map(|r| {
            let (subject_name, credit_code) = lists::subject_of(&settings, &r.item, &r.content);
            let names = lists::field_names(&settings, &r.item);
            let mut reasons: Vec<String> = Vec::new();
            for (_, _, reason) in &r.returns {
                let reason = glossary::field_names_in(reason, &names);
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
            let rule = r.returns.iter().find_map(|(_, rule, _)| rule.clone());
            let first_reason = r.returns.first().map(|x| x.2.as_str()).unwrap_or("");
            let correct_by = r
                .returned_on
                .parse::<chrono::NaiveDate>()
                .ok()
                .map(|d| calendar.add_working_days(d, allowed).date.to_string());
            ReturnedLine {
                record_id: r.record_id,
                department_name: lists::department_name(&settings, &r.department).to_string(),
                item_name: lists::item_name(&settings, &r.item),
                advice: glossary::return_advice(rule.as_deref(), first_reason, subject_name.as_deref()),
                platforms: r.returns.iter().map(|(d, _, _)| title(d)).collect(),
                rule,
                reason: reasons.join("；"),
                correction_overdue: cutoff.as_deref().is_some_and(|c| r.returned_on.as_str() <= c),
                correct_by,
                source_file: glossary::file_name(&r.source).to_string(),
                source_line: r.source_line,
                subject_name,
                credit_code,
                department: r.department,
                item: r.item,
                business_key: r.business_key,
                returned_on: r.returned_on,
            }
        })
        .collect();
    let (invalid_offset, invalid_limit) = if invalid_view { (offset, limit) } else { (0, INVALID_PREVIEW) };
    let (invalid_total, invalid) =
        state.store.invalid_page(department.as_deref(), invalid_offset, invalid_limit).await?;
    let invalid = invalid
        .into_iter()
        .map(|row| InvalidLine {
            department_name: lists::department_name(&settings, &row.department).to_string(),
            field_name: row.field.as_deref().map(|f| lists::field_name(&settings, &row.item, f)),
            file_name: glossary::file_name(&row.source).to_string(),
            report_url: format!("/problems/report/{}", row.ingest_run_id),
            row,
        })
        .collect();
    Ok(Problems { returned_total, returned, invalid_total, invalid, offset, limit })
}

#[utoipa::path(
    get,
    path = "/api/v1/problems",
    operation_id = "problems",
    summary = "问题数据：平台退回待补正的记录（每条记录一行，含处理建议与补正期限）与校验未通过的数据行",
    params(
        ("department" = Option<String>, Query, description = "部门编号"),
        ("q" = Option<String>, Query, description = "搜索：统一社会信用代码、主体名称、文书号等片段"),
        ("returned_by" = Option<String>, Query, description = "仅此日期（YYYY-MM-DD）及以前首次退回的记录"),
        ("decision_month" = Option<String>, Query, description = "决定月份 YYYY-MM"),
        ("view" = Option<String>, Query, description = "invalid：校验未通过的数据行分页"),
        ("offset" = Option<i64>, Query, description = "跳过条数"),
        ("limit" = Option<i64>, Query, description = "每页条数，最多 500"),
    ),
    responses(
        (status = 200, description = "退回的记录与未通过的数据行", body = Problems),
        super::api::QueryRefusals,
    )
)]
pub async fn problems_api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ProblemsQuery>,
) -> Result<Json<Problems>, ApiError> {
    let p = problems(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "api:problems", state.now()).await;
    Ok(Json(p))
}

pub async fn problems_page(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ProblemsQuery>,
) -> Result<Html<String>, ApiError> {
    let p = problems(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "page:problems", state.now()).await;
    let settings = state.settings();
    let department = caller.scope().map(str::to_string).or_else(|| nonempty(&q.department));
    let base = |view: Option<&str>| {
        format!(
            "/problems{}",
            lists::query(&[
                ("department", department.as_deref()),
                ("q", nonempty(&q.q).as_deref()),
                ("returned_by", nonempty(&q.returned_by).as_deref()),
                ("decision_month", nonempty(&q.decision_month).as_deref()),
                ("view", view),
            ])
        )
    };
    let invalid_view = q.view.as_deref() == Some("invalid");
    let body = html! {
        (problem_filter(&settings, &caller, department.as_deref(), &q))
        @if !invalid_view {
            h2 { "平台退回、待部门补正" }
            p {
                "请按处理建议修改后，以相同业务主键重新提交；新版本推送并被接收后自动关闭。补正期限为退回后 "
                (settings.gateway.correction_working_days) " 个工作日。"
            }
            (lists::pager("returned-total", &base(None), p.returned_total, p.offset, p.limit, p.returned.len()))
            div class="scroll" {
                table id="returned" {
                    (header_row(&[
                        "部门", "信息类别", "主体名称", "业务主键", "补正期限", "退回平台", "退回原因", "处理建议", "退回日期", "来源",
                    ]))
                    @for r in &p.returned { (returned_row(r)) }
                }
            }
        }
        h2 { "校验未通过的数据行" }
        @if invalid_view {
            (lists::pager("invalid-total", &base(Some("invalid")), p.invalid_total, p.offset, p.limit, p.invalid.len()))
        } @else {
            p class="pager" id="invalid-total" {
                "共 " b class="total" { (thousands(p.invalid_total)) } " 行，以下为最近 " (p.invalid.len()) " 行，"
                a href=(base(Some("invalid"))) { "查看全部" }
            }
        }
        div class="scroll" {
            table id="invalid" {
                (header_row(&["部门", "信息类别", "文件", "行号", "字段", "原因", "原始值", "导入时间", "错误报告"]))
                @for l in &p.invalid { (invalid_row(&settings, l)) }
            }
        }
    };
    Ok(page("问题数据", Some(&caller), body))
}

/// The search, the department and the filters a figure's link brought (kept, hidden).
fn problem_filter(settings: &Settings, caller: &Caller, department: Option<&str>, q: &ProblemsQuery) -> Markup {
    html! {
        form method="get" action="/problems" id="filter" {
            label {
                "搜索 "
                input name="q" value=(nonempty(&q.q).unwrap_or_default()) placeholder="统一社会信用代码、名称或文书号" size="28";
            }
            " 部门 "
            select name="department" {
                option value="" { "全部" }
                @for d in settings.departments.iter().filter(|d| caller.sees(&d.id)) {
                    option value=(d.id) selected[department == Some(d.id.as_str())] { (d.name) }
                }
            }
            " "
            @if let Some(by) = nonempty(&q.returned_by) {
                input type="hidden" name="returned_by" value=(by);
                "仅补正超期（" (by) " 及以前退回） "
            }
            @if let Some(m) = nonempty(&q.decision_month) {
                input type="hidden" name="decision_month" value=(m);
                "决定月份 " (m) " "
            }
            button type="submit" { "筛选" }
        }
    }
}

/// A returned record with the platforms' reasons, what to do and by when.
fn returned_row(r: &ReturnedLine) -> Markup {
    html! {
        tr {
            td { (r.department_name) }
            td { (r.item_name) }
            td { (r.subject_name.as_deref().unwrap_or("—")) }
            td { a href={ "/records/" (r.record_id) } { (lists::key_text(&r.business_key)) } }
            td class="date" {
                @match (&r.correct_by, r.correction_overdue) {
                    (Some(d), true) => { (d) br; span class="overdue-mark" { "已超期" } },
                    (Some(d), false) => (d),
                    (None, _) => "—",
                }
            }
            td { (r.platforms.join("、")) }
            td class="why" { @if let Some(rule) = &r.rule { "〔规则 " (rule) "〕" } (r.reason) }
            td class="why" { (r.advice) }
            td class="date" { (r.returned_on) }
            td { (r.source_file) "（第 " (r.source_line) " 行）" }
        }
    }
}

/// A row that failed the checks: where it is, which field, why, and its error report.
fn invalid_row(settings: &Settings, l: &InvalidLine) -> Markup {
    let r = &l.row;
    html! {
        tr {
            td { (l.department_name) }
            td { (lists::item_name(settings, &r.item)) }
            td { (l.file_name) }
            td { (r.line) }
            td { (l.field_name.as_deref().unwrap_or("")) }
            td { (glossary::field_names_in(&r.reason, &lists::field_names(settings, &r.item))) }
            td { (r.value.as_deref().unwrap_or("")) }
            td { (glossary::local_time(&r.at)) }
            td { a class="report" href=(l.report_url) { "下载" } }
        }
    }
}

/// The department's error report for one ingest run (行号, 字段, 原因, 原始值), made from the
/// stored problems, so it is there whatever became of the file beside the source.
pub async fn error_report(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(run_id): PathParam<i64>,
) -> Result<Response, ApiError> {
    let Some((department, item, source)) = state.store.run_source(run_id).await? else { return Ok(not_found()) };
    if !caller.sees(&department) {
        return Ok(not_found());
    }
    let _ = state.store.audit(&caller.name, "export", &format!("error-report:{run_id}"), state.now()).await;
    let settings = state.settings();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = out.write_record(["行号", "字段", "原因", "原始值"]);
    let mut after = 0;
    loop {
        let page = state.store.run_problems_after(run_id, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for p in &page {
            let field = p.field.as_deref().map(|k| lists::field_name(&settings, &item, k)).unwrap_or_default();
            let reason = if p.severity == "warning" { format!("警告：{}", p.reason) } else { p.reason.clone() };
            let value = crate::error_report::neutralise_formula(p.value.as_deref().unwrap_or(""));
            let _ = out.write_record([p.line.to_string(), field, reason, value]);
        }
        if page.len() < 5_000 {
            break;
        }
    }
    let bytes = out.into_inner().unwrap_or_default();
    let name = crate::error_report::outbox_name(glossary::file_name(&source), ".errors.csv");
    let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let headers = [
        (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
        (
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"errors.csv\"; filename*=UTF-8''{encoded}"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Lineage {
    pub record: RecordDetail,
    /// Superseded versions, oldest first: (version, content).
    pub history: Vec<(i64, String)>,
    pub pushes: Vec<PushRow>,
    pub returns: Vec<ReturnRow>,
    /// An objection against the record is waiting for the department's answer (异议处理中).
    pub under_objection: bool,
    pub objections: Vec<crate::objection::handle::Summary>,
}

/// One record's lineage, if this caller may see it (a record of another department is
/// answered like a missing one, so its existence does not leak).
async fn lineage(state: &AppState, caller: &Caller, id: i64) -> Result<Option<Lineage>, ApiError> {
    let Some(record) = state.store.record_detail(id).await? else { return Ok(None) };
    if !caller.sees(&record.department) {
        return Ok(None);
    }
    let history = state.store.record_history(id).await?;
    let pushes = state.store.record_pushes(id).await?;
    let returns = state.store.record_returns(id).await?;
    let filter = crate::store::ObjectionFilter { record_id: Some(id), ..Default::default() };
    let rules = &state.settings().objections;
    let objections: Vec<_> =
        state.store.objections(&filter).await?.iter().map(|o| crate::objection::handle::summary(rules, o)).collect();
    let under_objection = objections.iter().any(|o| o.status == "open");
    Ok(Some(Lineage { record, history, pushes, returns, under_objection, objections }))
}

fn not_found() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found", "message": "记录不存在或无权查看"})),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/records/{id}",
    operation_id = "record",
    summary = "记录：来源、版本、推送、回执与截止日期；他部门的记录答 404",
    params(
        ("id" = i64, Path, description = "记录编号"),
    ),
    responses(
        (status = 200, description = "记录及其经过", body = Lineage),
        super::api::LookupRefusals,
    )
)]
pub async fn record_api(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("api:record:{id}"), state.now()).await;
    Ok(match lineage(&state, &caller, id).await? {
        Some(l) => Json(l).into_response(),
        None => not_found(),
    })
}

/// The content JSON as a two-column table of catalogue field names and values.
fn content_table(settings: &Settings, item: &str, content: &str) -> Markup {
    let fields = settings.catalogue.item(item);
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(content) else {
        return html! { pre { (content) } };
    };
    let label = |key: &str| {
        fields.and_then(|i| i.fields.iter().find(|f| f.key == key)).map_or_else(|| key.to_string(), |f| f.name.clone())
    };
    html! {
        table class="content" {
            @for (key, value) in &map {
                tr {
                    th title=(key) { (label(key)) }
                    td { (value.as_str().map_or_else(|| value.to_string(), str::to_string)) }
                }
            }
        }
    }
}

pub async fn record_page(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<i64>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:record:{id}"), state.now()).await;
    let Some(l) = lineage(&state, &caller, id).await? else {
        let body = html! { p { "记录不存在或无权查看。" } };
        return Ok((axum::http::StatusCode::NOT_FOUND, page("记录", Some(&caller), body)).into_response());
    };
    let settings = state.settings();
    let r = &l.record;
    let names = lists::field_names(&settings, &r.item);
    let publicity = super::publicity::block(&state, id).await?;
    let body = html! {
        @if l.under_objection {
            p class="warn" id="under-objection" { "异议处理中：本记录有待部门答复的异议，见下方“异议”。" }
        }
        (lineage_table(&settings, r))
        h2 { "当前内容" }
        (content_table(&settings, &r.item, &r.content))
        (publicity)
        h2 { "推送与回执" }
        table id="pushes" {
            (header_row(&["平台", "版本", "操作", "状态", "尝试次数", "推送时间", "数据包", "规则", "原因 / 错误"]))
            @for p in &l.pushes { (push_row(&settings, p, &names)) }
        }
        @if !l.returns.is_empty() {
            h2 { "退回记录" }
            table {
                (header_row(&["平台", "版本", "原因", "退回日期", "关闭"]))
                @for x in &l.returns {
                    tr {
                        td { (settings.destination_title(&x.destination)) }
                        td { (x.version) }
                        td { (glossary::field_names_in(&x.reason, &names)) }
                        td class="date" { (x.returned_on) }
                        td { (x.closed_at.as_deref().map_or_else(|| "未关闭".to_string(), glossary::local_time)) }
                    }
                }
            }
        }
        @if !l.objections.is_empty() { (objection_table(&l.objections)) }
        @if !l.history.is_empty() {
            h2 { "历史版本" }
            @for (version, content) in &l.history {
                h3 { "版本 " (version) }
                (content_table(&settings, &r.item, content))
            }
        }
    };
    Ok(page("记录", Some(&caller), body).into_response())
}

/// Where the record came from and where it stands.
fn lineage_table(settings: &Settings, r: &RecordDetail) -> Markup {
    html! {
        table id="lineage" {
            tr { th { "信息类别" } td { (lists::item_name(settings, &r.item)) } }
            tr { th { "部门" } td { (lists::department_name(settings, &r.department)) } }
            tr { th { "业务主键" } td { (lists::key_text(&r.business_key)) } }
            tr { th { "当前版本" } td { (r.version) } }
            tr {
                th { "来源" }
                td {
                    (glossary::file_name(&r.source)) "（第 " (r.source_line) " 行，连接器 " (r.connector) "，导入批次 "
                    (r.ingest_run_id) "）"
                }
            }
            tr { th { "决定日期" } td { (r.decision_date.as_deref().unwrap_or("—")) } }
            tr {
                th { "截止日期" }
                td {
                    (r.deadline.as_deref().unwrap_or("—"))
                    @if r.deadline_provisional { "（临时：该年节假日安排未发布）" }
                }
            }
            tr { th { "省平台接收" } td { (r.reported_at.as_deref().map_or_else(|| "未接收".to_string(), glossary::local_time)) } }
            tr {
                th { "首次入库 / 最近更新" }
                td { (glossary::local_time(&r.created_at)) " / " (glossary::local_time(&r.updated_at)) }
            }
        }
    }
}

/// A push of one version and what the platform answered; field keys in reasons named in Chinese.
fn push_row(settings: &Settings, p: &PushRow, names: &[(String, String)]) -> Markup {
    let why = match (&p.reason, &p.last_error) {
        (Some(reason), _) => glossary::field_names_in(reason, names),
        (None, Some(error)) => glossary::push_error(error),
        (None, None) => String::new(),
    };
    html! {
        tr {
            td { (settings.destination_title(&p.destination)) }
            td { (p.version) }
            td { (glossary::operation(&p.operation)) }
            td { (glossary::delivery_status(&p.status)) }
            td { (p.attempts) }
            td { (p.pushed_at.as_deref().map(glossary::local_time).unwrap_or_default()) }
            td { (p.package_id.as_deref().unwrap_or("")) }
            td { (p.rule.as_deref().unwrap_or("")) }
            td { (why) }
        }
    }
}

fn objection_table(objections: &[crate::objection::handle::Summary]) -> Markup {
    html! {
        h2 { "异议" }
        table id="record-objections" {
            (header_row(&["编号", "事由", "受理日期", "答复期限", "状态", "答复日期"]))
            @for o in objections {
                tr {
                    td { a href={ "/objections/" (o.id) } { (o.id) } }
                    td { (o.ground) }
                    td { (o.received) }
                    td { (o.due) }
                    td { (crate::objection::Status::parse(o.status).map_or("", crate::objection::Status::zh)) }
                    td { (o.answered_on.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}
