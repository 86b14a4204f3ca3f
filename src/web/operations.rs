//! 连接器 and 投递: connector runs and delivery attempts, with retry buttons for admins.

use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::{ApiError, ConnectorLine, overview_for};
use super::auth::{Caller, Role};
use super::pages::{header_row, linked, page, thousands};
use super::params::{FormBody, Params};
use crate::config::Settings;
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
        super::api::Refusals,
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
    // Admins may ask for a pass now, e.g. after fixing what made the last one fail.
    let can_run = caller.is_admin() && state.run_now.is_some();
    let body = html! {
        table id="connector-list" {
            (header_row(&["连接器", "部门", "状态", "上次运行", "下次运行", "累计行数", "错误次数", "最近错误", ""]))
            @for k in &c.connectors { (connector_row(&settings, k, can_run)) }
        }
        h2 { "最近导入" }
        table id="runs" {
            (header_row(&["批次", "连接器", "来源", "状态", "读取行数", "通过", "未通过", "开始", "结束"]))
            @for r in &c.runs { (run_row(r)) }
        }
    };
    Ok(page("连接器", Some(&caller), body))
}

fn connector_row(settings: &Settings, k: &ConnectorLine, can_run: bool) -> Markup {
    html! {
        tr id=(k.name) {
            td { (k.name) }
            (connector_cells(settings, k))
            td {
                @if can_run {
                    form method="post" action="/connectors/run" style="margin:0" {
                        input type="hidden" name="name" value=(k.name);
                        button type="submit" { "立即运行" }
                    }
                }
            }
        }
    }
}

/// A connector's cells after its name, as 总览 and 连接器 show them: 部门, 状态, 上次运行,
/// 下次运行, 累计行数, 错误次数, 最近错误.
pub fn connector_cells(settings: &Settings, k: &ConnectorLine) -> Markup {
    let time = |t: &Option<String>| t.as_deref().map_or_else(|| "—".to_string(), glossary::local_time);
    html! {
        td { (super::lists::department_name(settings, &k.department)) }
        td { (glossary::connector_status(&k.status)) }
        td { (time(&k.last_run)) }
        td { (time(&k.next_run)) }
        td class="n" { (thousands(k.rows_total)) }
        td class="n" { (thousands(k.errors_total)) }
        td { (k.last_error.as_deref().map(glossary::push_error).unwrap_or_default()) }
    }
}

/// An ingest run; its rejected rows link to the department's error report.
fn run_row(r: &RunRow) -> Markup {
    html! {
        tr {
            td { (r.id) }
            td { (r.connector) }
            td { (glossary::file_name(&r.source)) }
            td { (run_status(r)) }
            td { (thousands(r.rows_read)) }
            td { (thousands(r.accepted)) }
            td {
                @if r.rejected > 0 {
                    a href={ "/problems/report/" (r.id) } title="下载错误报告" { (thousands(r.rejected)) }
                } @else {
                    "0"
                }
            }
            td { (glossary::local_time(&r.started_at)) }
            td { (r.finished_at.as_deref().map(glossary::local_time).unwrap_or_default()) }
        }
    }
}

/// A run's status as the connectors page shows it: when its error report could not be written,
/// 错误报告未写出 and why (the connector writes it again later).
pub fn run_status(r: &RunRow) -> Markup {
    html! {
        (glossary::run_status(&r.status))
        @if let Some(why) = &r.report_error {
            br;
            span class="bad" { "错误报告未写出：" (why) }
        }
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
    let (status, destination, source) = (status.as_deref(), destination.as_deref(), source.as_deref());
    let total = state.list_totals.delivery_total(&state.store, status, destination, source).await?;
    let rows = state.store.delivery_page(status, destination, source, offset, limit).await?;
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
        (status = 403, description = "this role may not read it", body = super::api::ErrorBody),
        super::api::QueryRefusals,
    )
)]
pub async fn deliveries_api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<DeliveryQuery>,
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
    Params(q): Params<DeliveryQuery>,
) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin, Role::Ops]) {
        return Ok(denied.into_response());
    }
    let p = deliveries(&state, &q).await?;
    // Counted with the overview's figures (kept a few seconds), as the 总览 card's queue is.
    let overview = super::api::overview_for(&state, &caller).await?;
    let counts = &overview.delivery_counts;
    let _ = state.store.audit(&caller.name, "view", "page:deliveries", state.now()).await;
    let settings = state.settings();
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let base = format!(
        "/deliveries{}",
        super::lists::query(&[
            ("status", nonempty(&q.status).as_deref()),
            ("destination", nonempty(&q.destination).as_deref()),
            ("source", nonempty(&q.source).as_deref()),
        ])
    );
    let admin = caller.is_admin();
    let body = html! {
        table id="delivery-counts" {
            (header_row(&["平台", "状态", "数量"]))
            @for (destination, status, n) in counts {
                tr {
                    td { (settings.destination_title(destination)) }
                    td { (glossary::delivery_status(status)) }
                    td class="n" { (linked(*n, &format!("/deliveries?status={status}&destination={destination}"))) }
                }
            }
        }
        @if admin {
            form method="post" action="/deliveries/retry" {
                input type="hidden" name="dead" value="1";
                button type="submit" id="retry-dead" { "全部死信重新投递" }
            }
        }
        h2 { "待处理投递" }
        (status_filter(q.status.as_deref().unwrap_or("")))
        (super::lists::pager("delivery-total", &base, p.total, p.offset, p.limit, p.rows.len()))
        div class="scroll" {
            table id="delivery-list" {
                (header_row(&["编号", "记录", "平台", "操作", "状态", "尝试次数", "下次尝试", "错误 / 原因", ""]))
                @for d in &p.rows { (delivery_row(&settings, d, admin)) }
            }
        }
    };
    Ok(page("投递", Some(&caller), body).into_response())
}

/// The queue's status filter, the status asked for selected.
fn status_filter(status: &str) -> Markup {
    let choices = [
        ("", "待推送 / 推送中 / 死信"),
        ("pending", glossary::delivery_status("pending")),
        ("dead", glossary::delivery_status("dead")),
        ("returned", glossary::delivery_status("returned")),
        ("accepted", glossary::delivery_status("accepted")),
    ];
    html! {
        form method="get" action="/deliveries" {
            "状态 "
            select name="status" {
                @for (value, label) in choices { option value=(value) selected[status == value] { (label) } }
            }
            " "
            button type="submit" { "筛选" }
        }
    }
}

/// A delivery with why it waits; admins may push a dead or pending one again.
fn delivery_row(settings: &Settings, d: &DeliveryRow, admin: bool) -> Markup {
    let why = match (&d.reason, &d.last_error) {
        (Some(reason), _) => reason.clone(),
        (None, Some(error)) => glossary::push_error(error),
        (None, None) => String::new(),
    };
    let retry = admin && (d.status == "dead" || d.status == "pending");
    html! {
        tr {
            td { (d.id) }
            td { a href={ "/records/" (d.record_id) } { (d.record_id) } }
            td { (settings.destination_title(&d.destination)) }
            td { (glossary::operation(&d.operation)) }
            td { (glossary::delivery_status(&d.status)) }
            td class="n" { (d.attempts) }
            td { (glossary::local_time(&d.next_attempt_at)) }
            td { (why) }
            td {
                @if retry {
                    form method="post" action="/deliveries/retry" style="margin:0" {
                        input type="hidden" name="id" value=(d.id);
                        button type="submit" { "重试" }
                    }
                }
            }
        }
    }
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
    FormBody(form): FormBody<RetryForm>,
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
    FormBody(form): FormBody<RunForm>,
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
