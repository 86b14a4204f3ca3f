//! 公示期: penalties ending in the next 30 days, withdrawals due and late, held-back minor
//! penalties, periods too short or too long; the publicity block of the record page.

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::pages::{header_row, page};
use super::params::Params;
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
        super::api::QueryRefusals,
    )
)]
pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<PublicityQuery>,
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

fn table(id: &str, rows: &[&Listing]) -> Markup {
    html! {
        table id=(id) {
            (header_row(&[
                "文书号", "相对人", "决定日期", "规则", "失信程度", "领域", "最短至", "最长至", "部门截止期", "计划撤下", "状态",
            ]))
            @for l in rows {
                tr {
                    td { a href={ "/records/" (l.id) } { (l.wsh.as_deref().unwrap_or("—")) } }
                    td { (l.subject.as_deref().unwrap_or("—")) }
                    td class="date" { (l.decided) }
                    td { (l.regime) }
                    td { (class(l)) }
                    td { (l.sector.as_deref().unwrap_or("—")) }
                    td class="date" { (l.min_end) }
                    td class="date" { (l.max_end) }
                    td class="date" { (date(l.department_end)) }
                    td class="date" { (date(l.planned_end)) }
                    td { (l.status.zh()) }
                }
            }
        }
    }
}

/// The listings of each concern, one table each, in the order they must be acted on.
const SECTIONS: [(&str, &str, &[Status]); 5] = [
    ("withdrawal-late", "撤下超期", &[Status::WithdrawalLate]),
    ("withdrawal-due", "待撤下", &[Status::WithdrawalDue]),
    ("ending", "30 日内到期", &[Status::Ending]),
    ("held", "暂缓公示的轻微失信", &[Status::Held]),
    ("too-short-long", "公示截止期过短或过长", &[Status::TooShort, Status::TooLong]),
];

/// `GET /publicity`.
pub async fn page_html(State(state): State<AppState>, caller: Caller) -> Result<Html<String>, ApiError> {
    let rows = publicity_view::list(&state.settings(), &state.store, state.today(), None, caller.scope()).await?;
    let _ = state.store.audit(&caller.name, "view", "page:publicity", state.now()).await;
    let body = html! {
        p {
            "公示期限按 config/publicity.toml 的规定（发改办财金〔2019〕527号、国家发展改革委令第58号、《信用修复管理办法》）计算："
            "部门公示截止期限定在最短与最长期限之间，到期次日撤下。"
        }
        @for (id, title, statuses) in SECTIONS {
            @let listed: Vec<&Listing> = rows.iter().filter(|l| statuses.contains(&l.status)).collect();
            h2 { (title) "（" (listed.len()) "）" }
            @if !listed.is_empty() { (table(id, &listed)) }
        }
    };
    Ok(page("公示期", Some(&caller), body))
}

/// The record page's 公示期 block; empty for a record without a period.
pub async fn block(state: &AppState, id: i64) -> Result<Markup, ApiError> {
    let Some(shown) = publicity_view::show(&state.settings(), &state.store, state.today(), id).await? else {
        return Ok(Markup::default());
    };
    let l = &shown.listing;
    let w = &shown.withdrawal;
    Ok(html! {
        h2 { "公示期" }
        table id="publicity" {
            tr { th { "规则" } td { (l.regime) } }
            tr { th { "失信程度" } td { (class(l)) } }
            tr { th { "领域" } td { (l.sector.as_deref().unwrap_or("—")) } }
            tr { th { "最短 / 最长公示至" } td { (l.min_end) " / " (l.max_end) } }
            tr { th { "部门公示截止期" } td { (date(l.department_end)) } }
            tr { th { "计划撤下" } td { (date(l.planned_end)) } }
            tr { th { "状态" } td { (l.status.zh()) } }
            @if let Some(due) = w.due_on {
                tr {
                    th { "撤下期限" }
                    td {
                        (due) "，"
                        @match (w.done_on, w.on_time) {
                            (Some(d), Some(true)) => { (d) " 完成（按时）" },
                            (Some(d), _) => { (d) " 完成（超期）" },
                            (None, _) => "未完成",
                        }
                    }
                }
            }
        }
        @for e in &shown.history {
            p class="event" {
                (event_kind(&e.kind)) "：" (e.decided) "，" (e.reference.as_deref().unwrap_or(""))
                (e.reason.as_deref().unwrap_or("")) "，撤下期限 " (e.due_on)
            }
        }
    })
}

/// An early end of publication in Chinese.
fn event_kind(kind: &str) -> &'static str {
    match kind {
        "repair" => "信用修复",
        "delete" => "部门删除",
        _ => "部门撤销",
    }
}
