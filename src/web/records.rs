//! 问题数据 (returned and invalid records, with what to fix) and 记录 (one record's lineage:
//! source, versions, pushes, receipts, deadline). ID numbers in them (business keys,
//! content, reasons) are masked for all but admins by the layer in `masking`.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::pages::{esc, page};
use crate::store::{InvalidRow, PushRow, RecordDetail, ReturnRow};

const INVALID_LIMIT: i64 = 500;

#[derive(Debug, Serialize)]
pub struct Problems {
    pub returned: Vec<ReturnRow>,
    pub invalid: Vec<InvalidRow>,
}

async fn problems(state: &AppState, caller: &Caller) -> Result<Problems, ApiError> {
    let returned = state.store.open_returns(caller.scope()).await?;
    let invalid = state.store.invalid_rows(caller.scope(), INVALID_LIMIT).await?;
    Ok(Problems { returned, invalid })
}

pub async fn problems_api(State(state): State<AppState>, caller: Caller) -> Result<Json<Problems>, ApiError> {
    let p = problems(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "api:problems", state.now()).await;
    Ok(Json(p))
}

pub async fn problems_page(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    let p = problems(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "page:problems", state.now()).await;
    let name = |id: &str| state.settings().departments.get(id).map_or(id.to_string(), |d| d.name.clone());
    let mut body = format!(
        "<h2>平台退回、待部门补正（{}）</h2><p>请按退回原因修改后，以相同业务主键重新提交；新版本推送并被接收后自动关闭。</p>\
         <table id=\"returned\"><tr><th>部门</th><th>信息类别</th><th>业务主键</th><th>平台</th><th>规则</th><th>退回原因</th>\
         <th>退回日期</th></tr>",
        p.returned.len()
    );
    for r in &p.returned {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td><a href=\"/records/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name(&r.department)),
            esc(&r.item),
            r.record_id,
            esc(&r.business_key.replace(crate::record::KEY_SEPARATOR, " / ")),
            esc(&r.destination),
            esc(r.rule.as_deref().unwrap_or("")),
            esc(&r.reason),
            esc(&r.returned_on)
        );
    }
    let _ = write!(
        body,
        "</table><h2>校验未通过的数据行（最近 {}）</h2><table id=\"invalid\"><tr><th>部门</th><th>信息类别</th><th>文件</th>\
         <th>行号</th><th>字段</th><th>原因</th><th>原始值</th><th>导入时间</th></tr>",
        p.invalid.len()
    );
    for r in &p.invalid {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name(&r.department)),
            esc(&r.item),
            esc(&r.source),
            r.line,
            esc(r.field.as_deref().unwrap_or("")),
            esc(&r.reason),
            esc(r.value.as_deref().unwrap_or("")),
            esc(&r.at)
        );
    }
    body.push_str("</table>");
    Ok(page("问题数据", Some(&caller), &body))
}

#[derive(Debug, Serialize)]
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
        let label = fields
            .and_then(|i| i.fields.iter().find(|f| f.key == key))
            .map_or(key.clone(), |f| format!("{}（{key}）", f.name));
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(&label), esc(&value));
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
        esc(&r.item),
        esc(&department),
        esc(&r.business_key.replace(crate::record::KEY_SEPARATOR, " / ")),
        r.version,
        esc(&r.source),
        r.source_line,
        esc(&r.connector),
        r.ingest_run_id,
        esc(r.decision_date.as_deref().unwrap_or("—")),
        esc(r.deadline.as_deref().unwrap_or("—")),
        if r.deadline_provisional { "（临时：该年节假日安排未发布）" } else { "" },
        esc(r.reported_at.as_deref().unwrap_or("未接收")),
        esc(&r.created_at),
        esc(&r.updated_at),
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
            esc(&p.destination),
            p.version,
            esc(&p.operation),
            esc(&p.status),
            p.attempts,
            esc(p.pushed_at.as_deref().unwrap_or("")),
            esc(p.package_id.as_deref().unwrap_or("")),
            esc(p.rule.as_deref().unwrap_or("")),
            esc(p.reason.as_deref().or(p.last_error.as_deref()).unwrap_or("")),
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
                esc(&x.destination),
                x.version,
                esc(&x.reason),
                esc(&x.returned_on),
                esc(x.closed_at.as_deref().unwrap_or("未关闭"))
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
