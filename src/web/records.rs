//! 问题数据 (returned and invalid records, with what to fix) and 记录 (one record's lineage:
//! source, versions, pushes, receipts, deadline). ID numbers in them (business keys,
//! content, reasons) are masked for all but admins by the layer in `masking`.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::lists;
use super::pages::{esc, page};
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
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn problems_api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ProblemsQuery>,
) -> Result<Json<Problems>, ApiError> {
    let p = problems(&state, &caller, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "api:problems", state.now()).await;
    Ok(Json(p))
}

pub async fn problems_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ProblemsQuery>,
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
    let departments: String = settings
        .departments
        .iter()
        .filter(|d| caller.sees(&d.id))
        .map(|d| {
            let sel = if department.as_deref() == Some(d.id.as_str()) { " selected" } else { "" };
            format!("<option value=\"{}\"{sel}>{}</option>", esc(&d.id), esc(&d.name))
        })
        .collect();
    let mut body = format!(
        "<form method=\"get\" action=\"/problems\" id=\"filter\"><label>搜索 <input name=\"q\" value=\"{}\" \
         placeholder=\"统一社会信用代码、名称或文书号\" size=\"28\"></label> 部门 <select name=\"department\">\
         <option value=\"\">全部</option>{departments}</select> {}{}<button type=\"submit\">筛选</button></form>",
        esc(nonempty(&q.q).as_deref().unwrap_or("")),
        nonempty(&q.returned_by)
            .map(|b| format!(
                "<input type=\"hidden\" name=\"returned_by\" value=\"{0}\">仅补正超期（{0} 及以前退回） ",
                esc(&b)
            ))
            .unwrap_or_default(),
        nonempty(&q.decision_month)
            .map(|m| format!("<input type=\"hidden\" name=\"decision_month\" value=\"{0}\">决定月份 {0} ", esc(&m)))
            .unwrap_or_default(),
    );
    if q.view.as_deref() != Some("invalid") {
        let _ = write!(
            body,
            "<h2>平台退回、待部门补正</h2><p>请按处理建议修改后，以相同业务主键重新提交；新版本推送并被接收后自动关闭。\
             补正期限为退回后 {} 个工作日。</p>",
            settings.gateway.correction_working_days
        );
        body.push_str(&lists::pager(
            "returned-total",
            &base(None),
            p.returned_total,
            p.offset,
            p.limit,
            p.returned.len(),
        ));
        body.push_str(
            "<div class=\"scroll\"><table id=\"returned\"><tr><th>部门</th><th>信息类别</th><th>主体名称</th><th>业务主键</th>\
             <th>退回平台</th><th>退回原因</th><th>处理建议</th><th>退回日期</th><th>补正期限</th><th>来源</th></tr>",
        );
        for r in &p.returned {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/records/{}\">{}</a></td><td>{}</td><td>{}{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}（第 {} 行）</td></tr>",
                esc(&r.department_name),
                esc(&r.item_name),
                esc(r.subject_name.as_deref().unwrap_or("—")),
                r.record_id,
                esc(&lists::key_text(&r.business_key)),
                esc(&r.platforms.join("、")),
                r.rule.as_deref().map(|x| format!("〔规则 {}〕", esc(x))).unwrap_or_default(),
                esc(&r.reason),
                esc(&r.advice),
                esc(&r.returned_on),
                match (&r.correct_by, r.correction_overdue) {
                    (Some(d), true) => format!("{} <span class=\"overdue-mark\">已超期</span>", esc(d)),
                    (Some(d), false) => esc(d),
                    (None, _) => "—".into(),
                },
                esc(&r.source_file),
                r.source_line,
            );
        }
        body.push_str("</table></div>");
    }
    let _ = write!(body, "<h2>校验未通过的数据行</h2>");
    if q.view.as_deref() == Some("invalid") {
        body.push_str(&lists::pager(
            "invalid-total",
            &base(Some("invalid")),
            p.invalid_total,
            p.offset,
            p.limit,
            p.invalid.len(),
        ));
    } else {
        let _ = write!(
            body,
            "<p class=\"pager\" id=\"invalid-total\">共 <b class=\"total\">{}</b> 行，以下为最近 {} 行，<a href=\"{}\">查看全部</a></p>",
            super::pages::thousands(p.invalid_total),
            p.invalid.len(),
            esc(&base(Some("invalid")))
        );
    }
    body.push_str(
        "<div class=\"scroll\"><table id=\"invalid\"><tr><th>部门</th><th>信息类别</th><th>文件</th><th>行号</th><th>字段</th>\
         <th>原因</th><th>原始值</th><th>导入时间</th><th>错误报告</th></tr>",
    );
    for l in &p.invalid {
        let r = &l.row;
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><a class=\"report\" href=\"{}\">下载</a></td></tr>",
            esc(&l.department_name),
            esc(&lists::item_name(&settings, &r.item)),
            esc(&l.file_name),
            r.line,
            esc(l.field_name.as_deref().unwrap_or("")),
            esc(&glossary::field_names_in(&r.reason, &lists::field_names(&settings, &r.item))),
            esc(r.value.as_deref().unwrap_or("")),
            esc(&glossary::local_time(&r.at)),
            esc(&l.report_url),
        );
    }
    body.push_str("</table></div>");
    Ok(page("问题数据", Some(&caller), &body))
}

/// The department's error report for one ingest run (行号, 字段, 原因, 原始值), made from the
/// stored problems, so it is there whatever became of the file beside the source.
pub async fn error_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(run_id): Path<i64>,
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
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 404, description = "not found, or another department's", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn record_api(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("api:record:{id}"), state.now()).await;
    Ok(match lineage(&state, &caller, id).await? {
        Some(l) => Json(l).into_response(),
        None => not_found(),
    })
}

/// The content JSON as a two-column table of catalogue field names and values.
fn content_table(state: &AppState, item: &str, content: &str) -> String {
    let settings = state.settings();
    let fields = settings.catalogue.item(item);
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(content) else {
        return format!("<pre>{}</pre>", esc(content));
    };
    let mut out = String::from("<table class=\"content\">");
    for (key, value) in map {
        let label = fields.and_then(|i| i.fields.iter().find(|f| f.key == key)).map_or(key.clone(), |f| f.name.clone());
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        let _ = write!(out, "<tr><th title=\"{}\">{}</th><td>{}</td></tr>", esc(&key), esc(&label), esc(&value));
    }
    out.push_str("</table>");
    out
}

pub async fn record_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let _ = state.store.audit(&caller.name, "view", &format!("page:record:{id}"), state.now()).await;
    let Some(l) = lineage(&state, &caller, id).await? else {
        let body = "<p>记录不存在或无权查看。</p>";
        return Ok((axum::http::StatusCode::NOT_FOUND, page("记录", Some(&caller), body)).into_response());
    };
    let r = &l.record;
    let department = state.settings().departments.get(&r.department).map_or(r.department.clone(), |d| d.name.clone());
    let settings = state.settings();
    let names = lists::field_names(&settings, &r.item);
    let title = |d: &str| settings.destination_title(d).to_string();
    let mut body = String::new();
    if l.under_objection {
        body.push_str(
            "<p class=\"warn\" id=\"under-objection\">异议处理中：本记录有待部门答复的异议，见下方“异议”。</p>",
        );
    }
    let _ = write!(
        body,
        "<table id=\"lineage\"><tr><th>信息类别</th><td>{}</td></tr><tr><th>部门</th><td>{}</td></tr>\
         <tr><th>业务主键</th><td>{}</td></tr><tr><th>当前版本</th><td>{}</td></tr>\
         <tr><th>来源</th><td>{}（第 {} 行，连接器 {}，导入批次 {}）</td></tr>\
         <tr><th>决定日期</th><td>{}</td></tr><tr><th>截止日期</th><td>{}{}</td></tr>\
         <tr><th>省平台接收</th><td>{}</td></tr><tr><th>首次入库 / 最近更新</th><td>{} / {}</td></tr></table>",
        esc(&lists::item_name(&state.settings(), &r.item)),
        esc(&department),
        esc(&r.business_key.replace(crate::record::KEY_SEPARATOR, " / ")),
        r.version,
        esc(glossary::file_name(&r.source)),
        r.source_line,
        esc(&r.connector),
        r.ingest_run_id,
        esc(r.decision_date.as_deref().unwrap_or("—")),
        esc(r.deadline.as_deref().unwrap_or("—")),
        if r.deadline_provisional { "（临时：该年节假日安排未发布）" } else { "" },
        esc(&r.reported_at.as_deref().map_or_else(|| "未接收".to_string(), glossary::local_time)),
        esc(&glossary::local_time(&r.created_at)),
        esc(&glossary::local_time(&r.updated_at)),
    );
    let _ = write!(body, "<h2>当前内容</h2>{}", content_table(&state, &r.item, &r.content));
    body.push_str(&super::publicity::block(&state, id).await?);
    body.push_str(
        "<h2>推送与回执</h2><table id=\"pushes\"><tr><th>平台</th><th>版本</th><th>操作</th><th>状态</th>\
                   <th>尝试次数</th><th>推送时间</th><th>数据包</th><th>规则</th><th>原因 / 错误</th></tr>",
    );
    for p in &l.pushes {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&title(&p.destination)),
            p.version,
            glossary::operation(&p.operation),
            glossary::delivery_status(&p.status),
            p.attempts,
            esc(&p.pushed_at.as_deref().map(glossary::local_time).unwrap_or_default()),
            esc(p.package_id.as_deref().unwrap_or("")),
            esc(p.rule.as_deref().unwrap_or("")),
            esc(&match (&p.reason, &p.last_error) {
                (Some(reason), _) => glossary::field_names_in(reason, &names),
                (None, Some(error)) => glossary::push_error(error),
                (None, None) => String::new(),
            }),
        );
    }
    body.push_str("</table>");
    if !l.returns.is_empty() {
        body.push_str(
            "<h2>退回记录</h2><table><tr><th>平台</th><th>版本</th><th>原因</th><th>退回日期</th><th>关闭</th></tr>",
        );
        for x in &l.returns {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&title(&x.destination)),
                x.version,
                esc(&glossary::field_names_in(&x.reason, &names)),
                esc(&x.returned_on),
                esc(&x.closed_at.as_deref().map_or_else(|| "未关闭".to_string(), glossary::local_time))
            );
        }
        body.push_str("</table>");
    }
    if !l.objections.is_empty() {
        body.push_str(
            "<h2>异议</h2><table id=\"record-objections\"><tr><th>编号</th><th>事由</th><th>受理日期</th><th>答复期限</th>\
             <th>状态</th><th>答复日期</th></tr>",
        );
        for o in &l.objections {
            let _ = write!(
                body,
                "<tr><td><a href=\"/objections/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td></tr>",
                o.id,
                esc(&o.ground),
                esc(&o.received),
                esc(&o.due),
                crate::objection::Status::parse(o.status).map_or("", crate::objection::Status::zh),
                esc(o.answered_on.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</table>");
    }
    if !l.history.is_empty() {
        body.push_str("<h2>历史版本</h2>");
        for (version, content) in &l.history {
            let _ = write!(body, "<h3>版本 {version}</h3>{}", content_table(&state, &r.item, content));
        }
    }
    Ok(page("记录", Some(&caller), &body).into_response())
}
