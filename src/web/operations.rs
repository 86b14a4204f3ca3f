//! 连接器 and 投递: connector runs and delivery attempts, with retry buttons for admins.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::{ApiError, ConnectorLine, overview_for};
use super::auth::{Caller, Role};
use super::pages::{esc, linked, page, thousands};
use crate::glossary;
use crate::store::{DeliveryRow, RunRow};

const RUNS: i64 = 100;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Connectors {
    pub connectors: Vec<ConnectorLine>,
    pub runs: Vec<RunRow>,
}

async fn connectors(state: &AppState, caller: &Caller) -> Result<Connectors, ApiError> {
    let connectors = overview_for(state, caller).await?.connectors.clone();
    let runs = state.store.recent_runs(caller.scope(), RUNS).await?;
    Ok(Connectors { connectors, runs })
}

#[utoipa::path(
    get,
    path = "/api/v1/connectors",
    operation_id = "connectors",
    summary = "连接器：状态与最近导入批次",
    responses(
        (status = 200, description = "连接器与最近导入批次", body = Connectors),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn connectors_api(State(state): State<AppState>, caller: Caller) -> Result<Json<Connectors>, ApiError> {
    let c = connectors(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "api:connectors", state.now()).await;
    Ok(Json(c))
}

pub async fn connectors_page(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    let c = connectors(&state, &caller).await?;
    let _ = state.store.audit(&caller.name, "view", "page:connectors", state.now()).await;
    let settings = state.settings();
    let mut body = String::from(
        "<table id=\"connector-list\"><tr><th>连接器</th><th>部门</th><th>状态</th><th>上次运行</th><th>下次运行</th>\
         <th>累计行数</th><th>错误次数</th><th>最近错误</th><th></th></tr>",
    );
    for k in &c.connectors {
        // Admins may ask for a pass now, e.g. after fixing what made the last one fail.
        let run = if caller.is_admin() && state.run_now.is_some() {
            format!(
                "<form method=\"post\" action=\"/connectors/run\" style=\"margin:0\"><input type=\"hidden\" \
                 name=\"name\" value=\"{}\"><button type=\"submit\">立即运行</button></form>",
                esc(&k.name)
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr id=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td>{}</td><td>{run}</td></tr>",
            esc(&k.name),
            esc(&k.name),
            esc(super::lists::department_name(&settings, &k.department)),
            glossary::connector_status(&k.status),
            esc(&k.last_run.as_deref().map_or_else(|| "—".to_string(), glossary::local_time)),
            esc(&k.next_run.as_deref().map_or_else(|| "—".to_string(), glossary::local_time)),
            thousands(k.rows_total),
            thousands(k.errors_total),
            esc(&k.last_error.as_deref().map(glossary::push_error).unwrap_or_default())
        );
    }
    body.push_str(
        "</table><h2>最近导入</h2><table id=\"runs\"><tr><th>批次</th><th>连接器</th><th>来源</th><th>状态</th>\
         <th>读取行数</th><th>通过</th><th>未通过</th><th>开始</th><th>结束</th></tr>",
    );
    for r in &c.runs {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&r.connector),
            esc(glossary::file_name(&r.source)),
            run_status(r),
            thousands(r.rows_read),
            thousands(r.accepted),
            if r.rejected > 0 {
                format!("<a href=\"/problems/report/{}\" title=\"下载错误报告\">{}</a>", r.id, thousands(r.rejected))
            } else {
                "0".to_string()
            },
            esc(&glossary::local_time(&r.started_at)),
            esc(&r.finished_at.as_deref().map(glossary::local_time).unwrap_or_default())
        );
    }
    body.push_str("</table>");
    Ok(page("连接器", Some(&caller), &body))
}

/// A run's status as the connectors page shows it: when its error report could not be written,
/// 错误报告未写出 and why (the connector writes it again later).
pub fn run_status(r: &RunRow) -> String {
    match &r.report_error {
        Some(why) => {
            format!("{}<br><span class=\"bad\">错误报告未写出：{}</span>", glossary::run_status(&r.status), esc(why))
        }
        None => esc(glossary::run_status(&r.status)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveryQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    destination: Option<String>,
    /// `record` (from departments) or `feed` (from the reverse feeds).
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// One page of deliveries, with the true total.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub rows: Vec<DeliveryRow>,
}

async fn deliveries(state: &AppState, q: &DeliveryQuery) -> Result<DeliveryPage, ApiError> {
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let (offset, limit) = super::lists::window(q.offset, q.limit);
    let (status, destination, source) = (nonempty(&q.status), nonempty(&q.destination), nonempty(&q.source));
    let (total, rows) =
        state.store.delivery_list(status.as_deref(), destination.as_deref(), source.as_deref(), offset, limit).await?;
    Ok(DeliveryPage { total, offset, limit, rows })
}

/// The outbox spans departments: ops and admins only.
#[utoipa::path(
    get,
    path = "/api/v1/deliveries",
    operation_id = "deliveries",
    summary = "投递：待处理、死信、退回或已接收的投递（运维与管理员），答 {total, offset, limit, rows}",
    params(
        ("status" = Option<String>, Query, description = "pending、in_flight、dead、returned、accepted、superseded；缺省为待推送、推送中与死信"),
        ("destination" = Option<String>, Query, description = "目的地编号，如 provincial"),
        ("source" = Option<String>, Query, description = "record 或 feed"),
        ("offset" = Option<i64>, Query, description = "跳过条数"),
        ("limit" = Option<i64>, Query, description = "每页条数，最多 500"),
    ),
    responses(
        (status = 200, description = "一页投递", body = DeliveryPage),
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 403, description = "this role may not read it", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn deliveries_api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeliveryQuery>,
) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin, Role::Ops]) {
        return Ok(denied.into_response());
    }
    let page = deliveries(&state, &q).await?;
    let _ = state.store.audit(&caller.name, "view", "api:deliveries", state.now()).await;
    Ok(Json(page).into_response())
}

pub async fn deliveries_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeliveryQuery>,
) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin, Role::Ops]) {
        return Ok(denied.into_response());
    }
    let p = deliveries(&state, &q).await?;
    let counts = state.store.delivery_counts().await?;
    let _ = state.store.audit(&caller.name, "view", "page:deliveries", state.now()).await;
    let settings = state.settings();
    let title = |d: &str| settings.destination_title(d).to_string();
    let mut body = String::from("<table id=\"delivery-counts\"><tr><th>平台</th><th>状态</th><th>数量</th></tr>");
    for (destination, status, n) in &counts {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&title(destination)),
            glossary::delivery_status(status),
            linked(*n, &format!("/deliveries?status={status}&destination={destination}"))
        );
    }
    body.push_str("</table>");
    if caller.is_admin() {
        body.push_str(
            "<form method=\"post\" action=\"/deliveries/retry\"><input type=\"hidden\" name=\"dead\" value=\"1\">\
             <button type=\"submit\" id=\"retry-dead\">全部死信重新投递</button></form>",
        );
    }
    let status = q.status.as_deref().unwrap_or("");
    let option = |value: &str, label: &str| {
        let sel = if status == value { " selected" } else { "" };
        format!("<option value=\"{value}\"{sel}>{label}</option>")
    };
    let _ = write!(
        body,
        "<h2>待处理投递</h2><form method=\"get\" action=\"/deliveries\">状态 <select name=\"status\">{}{}{}{}{}</select> \
         <button type=\"submit\">筛选</button></form>",
        option("", "待推送 / 推送中 / 死信"),
        option("pending", glossary::delivery_status("pending")),
        option("dead", glossary::delivery_status("dead")),
        option("returned", glossary::delivery_status("returned")),
        option("accepted", glossary::delivery_status("accepted")),
    );
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let base = format!(
        "/deliveries{}",
        super::lists::query(&[
            ("status", nonempty(&q.status).as_deref()),
            ("destination", nonempty(&q.destination).as_deref()),
            ("source", nonempty(&q.source).as_deref()),
        ])
    );
    body.push_str(&super::lists::pager("delivery-total", &base, p.total, p.offset, p.limit, p.rows.len()));
    body.push_str(
        "<div class=\"scroll\"><table id=\"delivery-list\"><tr><th>编号</th><th>记录</th><th>平台</th>\
         <th>操作</th><th>状态</th><th>尝试次数</th><th>下次尝试</th><th>错误 / 原因</th><th></th></tr>",
    );
    for d in &p.rows {
        let retry = if caller.is_admin() && (d.status == "dead" || d.status == "pending") {
            format!(
                "<form method=\"post\" action=\"/deliveries/retry\" style=\"margin:0\"><input type=\"hidden\" name=\"id\" \
                 value=\"{}\"><button type=\"submit\">重试</button></form>",
                d.id
            )
        } else {
            String::new()
        };
        let why = match (&d.reason, &d.last_error) {
            (Some(reason), _) => reason.clone(),
            (None, Some(error)) => glossary::push_error(error),
            (None, None) => String::new(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"/records/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td>{}</td><td>{}</td><td>{retry}</td></tr>",
            d.id,
            d.record_id,
            d.record_id,
            esc(&title(&d.destination)),
            glossary::operation(&d.operation),
            glossary::delivery_status(&d.status),
            d.attempts,
            esc(&glossary::local_time(&d.next_attempt_at)),
            esc(&why)
        );
    }
    body.push_str("</table></div>");
    Ok(page("投递", Some(&caller), &body).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    dead: Option<String>,
}

/// Admins put a delivery (or every dead letter) back in the queue.
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<RetryForm>,
) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin]) {
        return Ok(denied.into_response());
    }
    let now = state.now();
    let (n, target) = match (form.id, form.dead.is_some()) {
        (Some(id), _) => (state.store.retry_deliveries(Some(&[id]), now).await?, format!("delivery:{id}")),
        (None, true) => (state.store.retry_deliveries(None, now).await?, "deliveries:dead".to_string()),
        (None, false) => return Ok((axum::http::StatusCode::BAD_REQUEST, "缺少 id 或 dead").into_response()),
    };
    let _ = state.store.audit(&caller.name, "retry", &format!("{target} ({n})"), now).await;
    tracing::info!(user = %caller.name, target = %target, requeued = n, "deliveries retried from the dashboard");
    Ok(Redirect::to("/deliveries").into_response())
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    name: String,
}

/// Admins ask the daemon for a pass of a connector now (it runs under the connector's lease,
/// like a scheduled one, as soon as the connector is free).
pub async fn run_connector(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<RunForm>,
) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin]) {
        return Ok(denied.into_response());
    }
    let Some(run_now) = &state.run_now else {
        return Ok((axum::http::StatusCode::CONFLICT, "本进程不运行连接器").into_response());
    };
    let known = state.settings().connector(&form.name).is_some_and(|c| c.enabled);
    if !known {
        return Ok((axum::http::StatusCode::NOT_FOUND, "没有这个已启用的连接器").into_response());
    }
    run_now.request(&form.name);
    let _ = state.store.audit(&caller.name, "run", &format!("connector:{}", form.name), state.now()).await;
    tracing::info!(user = %caller.name, connector = %form.name, "connector pass asked for from the dashboard");
    Ok(Redirect::to("/connectors").into_response())
}
