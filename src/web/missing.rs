//! 漏报: what lies behind each part of 漏报 (SPEC §7) on the 部门 page, one list per part, each
//! counted by the condition of its figure: decisions declared in a department's ledger and never
//! received (ledger lines, for the ledger holds counts, not decisions), rows refused by
//! validation and never corrected, records returned and never accepted.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::lists::{self, department_name, item_name, key_text};
use super::pages::{definitions, header_row, page, thousands};
use super::params::Params;
use crate::config::Settings;
use crate::store::{Figures, MissingDecision, MissingFilter};

#[derive(Debug, Default, Deserialize)]
pub struct MissingQuery {
    /// `never_received`, `rejected` or `returned`.
    #[serde(default)]
    part: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    item: Option<String>,
    /// Decided in this month, `YYYY-MM`.
    #[serde(default)]
    decision_month: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// A part of 漏报.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Declared in the ledger, and neither a record nor a refused row of it reached us.
    NeverReceived,
    /// Refused by validation (校验未通过), and no record of the decision since.
    Rejected,
    /// Returned by the platform (退回), and never accepted since.
    Returned,
}

impl Part {
    const ALL: [Part; 3] = [Part::NeverReceived, Part::Rejected, Part::Returned];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::NeverReceived => "never_received",
            Part::Rejected => "rejected",
            Part::Returned => "returned",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Part::NeverReceived => "台账申报但未收到",
            Part::Rejected => "校验未通过且未补正",
            Part::Returned => "平台退回且从未接收",
        }
    }

    /// A part as the URL names it, or the valid values in Chinese.
    fn parse_filter(s: &str) -> Result<Part, String> {
        Part::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let valid: Vec<String> = Part::ALL.iter().map(|p| format!("{}（{}）", p.as_str(), p.zh())).collect();
            format!("漏报类别“{s}”无效，可选：{}", valid.join("、"))
        })
    }

    /// The list behind a part of a department's month (its total is the figure).
    pub fn href(self, department: &str, decision_month: &str) -> String {
        let filters =
            [("part", Some(self.as_str())), ("department", Some(department)), ("decision_month", Some(decision_month))];
        format!("/missing{}", lists::query(&filters))
    }
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl MissingQuery {
    /// The part and the filter this caller may ask for (a department user is held to its own
    /// department), or what is wrong with the question, in Chinese.
    fn filter(&self, caller: &Caller) -> Result<(Part, MissingFilter), String> {
        let part = Part::parse_filter(nonempty(&self.part).as_deref().unwrap_or(""))?;
        let decision_month = nonempty(&self.decision_month);
        if let Some(m) = &decision_month
            && NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_err()
        {
            return Err(format!("月份“{m}”无效，应为 YYYY-MM，如 2026-03"));
        }
        let (offset, limit) = lists::window(self.offset, self.limit);
        let filter = MissingFilter {
            department: caller.scope().map(str::to_string).or_else(|| nonempty(&self.department)),
            item: nonempty(&self.item),
            decision_month,
            offset,
            limit,
        };
        Ok((part, filter))
    }
}

/// The path with the filters, for paging.
fn href(part: Part, f: &MissingFilter) -> String {
    let path = lists::query(&[
        ("part", Some(part.as_str())),
        ("department", f.department.as_deref()),
        ("item", f.item.as_deref()),
        ("decision_month", f.decision_month.as_deref()),
    ]);
    format!("/missing{path}")
}

pub async fn page_html(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<MissingQuery>,
) -> Result<Response, ApiError> {
    let (part, filter) = match q.filter(&caller) {
        Ok(f) => f,
        Err(message) => {
            let body = html! { p class="err" { (message) } };
            return Ok((StatusCode::BAD_REQUEST, page("漏报", Some(&caller), body)).into_response());
        }
    };
    let _ = state.store.audit(&caller.name, "view", "page:missing", state.now()).await;
    let settings = state.settings();
    let base = href(part, &filter);
    let list = match part {
        Part::NeverReceived => never_received(&state, &settings, &filter, &base).await?,
        Part::Rejected => {
            let (total, rows) = state.store.missing_rejected(&filter).await?;
            decisions(&settings, part, &filter, &base, total, &rows)
        }
        Part::Returned => {
            let (total, rows) = state.store.missing_returned(&filter).await?;
            decisions(&settings, part, &filter, &base, total, &rows)
        }
    };
    let scope = filter.department.as_deref().map_or("全部部门", |d| department_name(&settings, d));
    let month = filter.decision_month.as_deref().unwrap_or("全部月份");
    let body = html! {
        h2 { "漏报：" (part.zh()) }
        p { (scope) "，决定月份 " (month) }
        (list)
        (definitions(&["漏报"]))
    };
    Ok(page("漏报", Some(&caller), body).into_response())
}

/// Refused or returned decisions, a page of them.
fn decisions(
    settings: &Settings,
    part: Part,
    f: &MissingFilter,
    base: &str,
    total: i64,
    rows: &[MissingDecision],
) -> Markup {
    html! {
        (lists::pager("missing-total", base, total, f.offset, f.limit, rows.len()))
        div class="scroll" {
            table id="missing" {
                @if part == Part::Returned {
                    (header_row(&["部门", "信息类别", "业务主键", "决定日期", "记录"]))
                } @else {
                    (header_row(&["部门", "信息类别", "决定（文书号 / 决定日期）", "决定日期", "未通过的数据行"]))
                }
                @for r in rows {
                    tr {
                        td { (department_name(settings, &r.department)) }
                        td { (item_name(settings, &r.item)) }
                        td { (key_text(&r.key)) }
                        td class="date" { (r.decision_date) }
                        td {
                            @if let Some(id) = r.record_id {
                                a href={ "/records/" (id) } { "查看记录" }
                            } @else if let Some(run) = r.ingest_run_id {
                                a href={ "/problems/report/" (run) } title="下载错误报告" { "导入批次 " (run) }
                                @if let Some(line) = r.line { "，第 " (line) " 行" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The ledger lines with decisions never received: declared, less the records and the refused
/// rows' decisions of the month. Their sum is the figure; which decisions they are, only the
/// department knows.
async fn never_received(
    state: &AppState,
    settings: &Settings,
    f: &MissingFilter,
    base: &str,
) -> Result<Markup, ApiError> {
    let figures = state.store.figures(state.today(), f.decision_month.as_deref(), f.department.as_deref()).await?;
    let lines: Vec<&Figures> = figures
        .iter()
        .filter(|l| f.item.as_deref().is_none_or(|i| i == l.item) && l.missing_never_received.unwrap_or(0) > 0)
        .collect();
    let sum: i64 = lines.iter().filter_map(|l| l.missing_never_received).sum();
    let shown: Vec<&&Figures> = lines.iter().skip(f.offset as usize).take(f.limit as usize).collect();
    Ok(html! {
        p id="never-received-total" {
            "未收到的决定共 " b class="total" { (thousands(sum)) } " 件（部门台账申报数减去已收到的记录与校验未通过的决定；"
            "台账只有数量，具体是哪些决定请向部门核实）"
        }
        (lists::pager("missing-lines", base, lines.len() as i64, f.offset, f.limit, shown.len()))
        div class="scroll" {
            table id="missing" {
                (header_row(&["部门", "信息类别", "决定月份", "台账申报", "已收到", "校验未通过未补正", "未收到"]))
                @for l in shown {
                    tr {
                        td { (department_name(settings, &l.department)) }
                        td { (item_name(settings, &l.item)) }
                        td { (l.month) }
                        td class="n" { (thousands(l.declared.unwrap_or(0))) }
                        td class="n" { (thousands(l.records)) }
                        td class="n" { (thousands(l.missing_rejected)) }
                        td class="n" { (thousands(l.missing_never_received.unwrap_or(0))) }
                    }
                }
            }
        }
    })
}
