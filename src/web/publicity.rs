//! 公示期: penalties ending in the next 30 days, withdrawals due and late, held-back minor
//! penalties, periods too short or too long; the publicity block of the record page.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::pages::{esc, page};
use crate::publicity::{Listing, Status};
use crate::publicity_view;

#[derive(Debug, Default, Deserialize)]
pub struct PublicityQuery {
    /// One of the `publicity --status` words.
    #[serde(default)]
    status: Option<String>,
}

/// `GET /api/v1/publicity?status=…`: the listings `publicity --json` prints (scoped).
#[utoipa::path(
    get,
    path = "/api/v1/publicity",
    operation_id = "publicity",
    summary = "公示期：处罚的公示期限（规则、失信程度、领域、最短/最长/部门/计划截止日期）与状态",
    params(
        ("status" = Option<String>, Query, description = "published、ending、ended、held、too-short、too-long、withdrawal-due、withdrawal-late"),
    ),
    responses(
        (status = 200, description = "处罚及其公示期", body = Vec<Listing>),
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PublicityQuery>,
) -> Result<Json<Vec<Listing>>, ApiError> {
    let status = q.status.as_deref().and_then(Status::parse);
    let rows = publicity_view::list(&state.settings(), &state.store, state.today(), status, caller.scope()).await?;
    let _ = state.store.audit(&caller.name, "view", "api:publicity", state.now()).await;
    Ok(Json(rows))
}

fn date(d: Option<chrono::NaiveDate>) -> String {
    d.map_or_else(|| "—".to_string(), |d| d.to_string())
}

fn class(l: &Listing) -> String {
    match (l.class, l.class_defaulted) {
        (Some(c), true) => format!("{}（按规则认定）", c.zh()),
        (Some(c), false) => c.zh().to_string(),
        (None, _) => "—".to_string(),
    }
}

fn table(id: &str, rows: &[&Listing]) -> String {
    let mut out = format!(
        "<table id=\"{id}\"><tr><th>文书号</th><th>相对人</th><th>决定日期</th><th>规则</th><th>失信程度</th>\
         <th>领域</th><th>最短至</th><th>最长至</th><th>部门截止期</th><th>计划撤下</th><th>状态</th></tr>"
    );
    for l in rows {
        let _ = write!(
            out,
            "<tr><td><a href=\"/records/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.id,
            esc(l.wsh.as_deref().unwrap_or("—")),
            esc(l.subject.as_deref().unwrap_or("—")),
            l.decided,
            esc(&l.regime),
            esc(&class(l)),
            esc(l.sector.as_deref().unwrap_or("—")),
            l.min_end,
            l.max_end,
            date(l.department_end),
            date(l.planned_end),
            l.status.zh(),
        );
    }
    out.push_str("</table>");
    out
}

/// `GET /publicity`.
pub async fn page_html(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    let rows = publicity_view::list(&state.settings(), &state.store, state.today(), None, caller.scope()).await?;
    let _ = state.store.audit(&caller.name, "view", "page:publicity", state.now()).await;
    let mut body = String::from(
        "<p>公示期限按 config/publicity.toml 的规定（发改办财金〔2019〕527号、国家发展改革委令第58号、《信用修复管理办法》）计算：部门公示截止期限定在最短与最长期限之间，到期次日撤下。</p>",
    );
    for (id, title, statuses) in [
        ("withdrawal-late", "撤下超期", &[Status::WithdrawalLate][..]),
        ("withdrawal-due", "待撤下", &[Status::WithdrawalDue][..]),
        ("ending", "30 日内到期", &[Status::Ending][..]),
        ("held", "暂缓公示的轻微失信", &[Status::Held][..]),
        ("too-short-long", "公示截止期过短或过长", &[Status::TooShort, Status::TooLong][..]),
    ] {
        let listed: Vec<&Listing> = rows.iter().filter(|l| statuses.contains(&l.status)).collect();
        let _ = write!(body, "<h2>{title}（{}）</h2>", listed.len());
        if !listed.is_empty() {
            body.push_str(&table(id, &listed));
        }
    }
    Ok(page("公示期", Some(&caller), &body))
}

/// The record page's 公示期 block; empty for a record without a period.
pub async fn block(state: &AppState, id: i64) -> Result<String, ApiError> {
    let Some(shown) = publicity_view::show(&state.settings(), &state.store, state.today(), id).await? else {
        return Ok(String::new());
    };
    let l = &shown.listing;
    let mut out = format!(
        "<h2>公示期</h2><table id=\"publicity\"><tr><th>规则</th><td>{}</td></tr><tr><th>失信程度</th><td>{}</td></tr>\
         <tr><th>领域</th><td>{}</td></tr><tr><th>最短 / 最长公示至</th><td>{} / {}</td></tr>\
         <tr><th>部门公示截止期</th><td>{}</td></tr><tr><th>计划撤下</th><td>{}</td></tr><tr><th>状态</th><td>{}</td></tr>",
        esc(&l.regime),
        esc(&class(l)),
        esc(l.sector.as_deref().unwrap_or("—")),
        l.min_end,
        l.max_end,
        date(l.department_end),
        date(l.planned_end),
        l.status.zh(),
    );
    if let Some(due) = shown.withdrawal.due_on {
        let done = match (shown.withdrawal.done_on, shown.withdrawal.on_time) {
            (Some(d), Some(true)) => format!("{d} 完成（按时）"),
            (Some(d), _) => format!("{d} 完成（超期）"),
            (None, _) => "未完成".to_string(),
        };
        let _ = write!(out, "<tr><th>撤下期限</th><td>{due}，{done}</td></tr>");
    }
    out.push_str("</table>");
    for e in &shown.history {
        let kind = match e.kind.as_str() {
            "repair" => "信用修复",
            "delete" => "部门删除",
            _ => "部门撤销",
        };
        let _ = write!(
            out,
            "<p class=\"event\">{kind}：{}，{}{}，撤下期限 {}</p>",
            esc(&e.decided),
            esc(e.reference.as_deref().unwrap_or("")),
            esc(e.reason.as_deref().unwrap_or("")),
            esc(&e.due_on)
        );
    }
    Ok(out)
}
