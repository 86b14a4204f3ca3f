//! 部门: per department and month, 迟报率, 合规率, overdue, missing and returned, with the last
//! twelve months as an SVG chart.

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::missing::Part;
use super::pages::{definitions, header_row, linked, page, percent};
use super::params::Params;
use crate::store::{Cause, Figures};

#[derive(Debug, Default, Deserialize)]
pub struct DepartmentQuery {
    #[serde(default)]
    department: Option<String>,
}

/// One department's month: its figures summed over catalogue items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Month {
    pub month: String,
    pub records: i64,
    pub on_time: i64,
    pub late: i64,
    /// 补报 (back-filled history) accepted in the month, apart from on time and late.
    pub backfilled: i64,
    pub late_rate: Option<f64>,
    pub compliance_rate: Option<f64>,
    /// Overdue and charged to the department (部门未报送, 已退回待补正).
    pub overdue: i64,
    /// Overdue although it reached us in time: our push, never charged to the department.
    pub overdue_push: i64,
    pub returned: i64,
    pub missing: Option<i64>,
    /// The parts of 漏报 (SPEC §7): never received, refused and never corrected, returned and
    /// never corrected.
    pub missing_never_received: Option<i64>,
    pub missing_rejected: i64,
    pub missing_returned: i64,
    /// 重错码率 of the month's rows, and whether it is above the policy's target.
    pub wrong_code_rate: Option<f64>,
    pub wrong_code_over_target: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentTrend {
    pub id: String,
    pub name: String,
    /// The last twelve months, oldest first.
    pub months: Vec<Month>,
}

/// The twelve months ending with `today`'s, as YYYY-MM.
fn last_twelve(today: NaiveDate) -> Vec<String> {
    let first = today.with_day(1).unwrap_or(today);
    (0..12u32)
        .rev()
        .filter_map(|back| first.checked_sub_months(chrono::Months::new(back)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

fn sum(month: &str, figures: &[&Figures]) -> Month {
    let mut m = Month { month: month.to_string(), ..Month::default() };
    let (mut submitted, mut valid, mut missing, mut wrong) = (0, 0, None::<i64>, 0);
    let mut target = None;
    for f in figures.iter().filter(|f| f.month == month) {
        wrong += f.wrong_code_rows;
        target = target.or(f.wrong_code_target);
        m.missing_rejected += f.missing_rejected;
        m.missing_returned += f.missing_returned;
        if let Some(x) = f.missing_never_received {
            m.missing_never_received = Some(m.missing_never_received.unwrap_or(0) + x);
        }
        m.records += f.records;
        m.on_time += f.on_time;
        m.late += f.late;
        m.backfilled += f.backfilled;
        m.overdue += f.overdue - f.overdue_push;
        m.overdue_push += f.overdue_push;
        m.returned += f.returned;
        submitted += f.submitted_rows;
        valid += f.valid_rows;
        if let Some(x) = f.missing {
            missing = Some(missing.unwrap_or(0) + x);
        }
    }
    let reported = m.on_time + m.late;
    m.late_rate = (reported > 0).then(|| m.late as f64 / reported as f64);
    m.compliance_rate = (submitted > 0).then(|| valid as f64 / submitted as f64);
    m.missing = missing;
    m.wrong_code_rate = (submitted > 0).then(|| wrong as f64 / submitted as f64);
    m.wrong_code_over_target = matches!((m.wrong_code_rate, target), (Some(r), Some(t)) if r > t);
    m
}

async fn trends(state: &AppState, caller: &Caller, only: Option<&str>) -> Result<Vec<DepartmentTrend>, ApiError> {
    let today = state.today();
    let months = last_twelve(today);
    let scope = caller.scope().or(only);
    let mut figures = state.store.figures(today, None, scope).await?;
    Figures::mark_wrong_code_target(&mut figures, state.settings().gateway.wrong_code_rate_target);
    let window: Vec<&Figures> = figures.iter().filter(|f| months.contains(&f.month)).collect();
    Ok(state
        .settings()
        .departments
        .iter()
        .filter(|d| caller.sees(&d.id) && scope.is_none_or(|s| s == d.id))
        .map(|d| {
            let own: Vec<&Figures> = window.iter().copied().filter(|f| f.department == d.id).collect();
            DepartmentTrend {
                id: d.id.clone(),
                name: d.name.clone(),
                months: months.iter().map(|m| sum(m, &own)).collect(),
            }
        })
        .collect())
}

#[utoipa::path(
    get,
    path = "/api/v1/departments",
    operation_id = "departments",
    summary = "部门：每月迟报率、合规率、逾期、漏报、退回（近 12 个月）",
    params(
        ("department" = Option<String>, Query, description = "部门编号；部门用户只能查看本部门"),
    ),
    responses(
        (status = 200, description = "每个部门近 12 个月的数字", body = Vec<DepartmentTrend>),
        super::api::QueryRefusals,
    )
)]
pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<DepartmentQuery>,
) -> Result<Json<Vec<DepartmentTrend>>, ApiError> {
    let out = trends(&state, &caller, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let _ = state.store.audit(&caller.name, "view", "api:departments", state.now()).await;
    Ok(Json(out))
}

/// 重错码率 in per mille, red with a mark when above the target.
fn wrong_code_cell(m: &Month) -> Markup {
    html! {
        @match m.wrong_code_rate {
            None => "—",
            Some(r) if m.wrong_code_over_target => span style="color:#b00" { (one(r * 1000.0)) "‰ 超标" },
            Some(r) => { (one(r * 1000.0)) "‰" },
        }
    }
}

/// A number with one decimal, as the chart's coordinates and the rates are written.
fn one(v: f64) -> String {
    format!("{v:.1}")
}

/// A month with nothing to show in any table (hidden).
fn is_empty(m: &Month) -> bool {
    m.records == 0
        && m.on_time + m.late + m.backfilled == 0
        && m.compliance_rate.is_none()
        && m.overdue + m.overdue_push == 0
        && m.returned == 0
        && m.missing.unwrap_or(0) == 0
}

/// A round axis maximum at or above `n` whose quarters, the grid lines, are whole counts:
/// four steps of 1, 2 or 5 × 10ᵏ (4, 8, 20, 40, 80, 200, …).
fn nice_max(n: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if 4 * step * m >= n.max(1) {
                return 4 * step * m;
            }
        }
        step *= 10;
    }
}

/// The chart's frame: its size and the plot area inside its margins.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    top: f64,
    /// The plot area's width and height.
    pw: f64,
    ph: f64,
}

impl Frame {
    const CHART: Frame =
        Frame { w: 640.0, h: 220.0, left: 48.0, top: 28.0, pw: 640.0 - 48.0 - 48.0, ph: 220.0 - 28.0 - 28.0 };

    /// The height of a share `v` (0–1) of the axis.
    fn y(&self, v: f64) -> f64 {
        self.top + self.ph - self.ph * v
    }

    fn bottom(&self) -> f64 {
        self.top + self.ph
    }

    fn right(&self) -> f64 {
        self.left + self.pw
    }
}

/// Records accepted per month (blue bars: on time, and late stacked in orange, by the month the
/// platform accepted them) against the left axis, and 迟报率 (red line and points) against the
/// right axis, 0–100%. Drawn server-side as SVG: readable without JavaScript.
pub fn chart(months: &[Month]) -> Markup {
    let f = Frame::CHART;
    let shown: Vec<&Month> = months.iter().filter(|m| m.on_time + m.late > 0 || m.records > 0).collect();
    let max = nice_max(shown.iter().map(|m| m.on_time + m.late).max().unwrap_or(0));
    let step = f.pw / shown.len().max(1) as f64;
    let centre = |i: usize| f.left + step * (i as f64 + 0.5);
    // 迟报率 of the months that have one: (x, y, rate, month).
    let line: Vec<(f64, f64, f64, &str)> = shown
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.late_rate.map(|r| (centre(i), f.y(r), r, m.month.as_str())))
        .collect();
    let points: Vec<String> = line.iter().map(|(x, y, _, _)| format!("{},{}", one(*x), one(*y))).collect();
    html! {
        svg class="trend" width=(f.w) height=(f.h) viewBox={ "0 0 " (f.w) " " (f.h) } role="img"
            aria-label="每月接收记录数与迟报率" style="background:#fff;border:1px solid #ccd;max-width:100%"
            font-family="sans-serif" {
            @if shown.is_empty() {
                text x=(f.w / 2.0) y=(f.h / 2.0) font-size="13" text-anchor="middle" { "暂无数据" }
            } @else {
                (axes(&f, max))
                @for (i, m) in shown.iter().enumerate() { (bars(&f, centre(i), step, max, m)) }
                @if line.len() > 1 {
                    polyline class="late-rate" fill="none" stroke="#b00" stroke-width="2" points=(points.join(" ")) {}
                }
                @for (x, y, rate, month) in &line {
                    circle class="late-rate-point" cx=(one(*x)) cy=(one(*y)) r="3" fill="#b00" {
                        title { (month) " 迟报率 " (one(rate * 100.0)) "%" }
                    }
                }
            }
        }
    }
}

/// The grid with its labels (counts on the left up to `max`, 迟报率 on the right), the axes
/// and the legend. SVG elements are closed with an end tag: an HTML parser nests them otherwise.
fn axes(f: &Frame, max: i64) -> Markup {
    html! {
        @for i in 0..=4 {
            @let share = i as f64 / 4.0;
            @let y = f.y(share);
            line x1=(f.left) x2=(one(f.right())) y1=(one(y)) y2=(one(y)) stroke="#e3e7ec" {}
            text x=(one(f.left - 4.0)) y=(one(y + 3.0)) font-size="10" text-anchor="end" {
                ((max as f64 * share).round() as i64)
            }
            text x=(one(f.right() + 4.0)) y=(one(y + 3.0)) font-size="10" fill="#b00" {
                ((share * 100.0).round() as i64) "%"
            }
        }
        line x1=(f.left) x2=(f.left) y1=(f.top) y2=(one(f.bottom())) stroke="#555" {}
        line x1=(one(f.right())) x2=(one(f.right())) y1=(f.top) y2=(one(f.bottom())) stroke="#b00" {}
        line x1=(f.left) x2=(one(f.right())) y1=(one(f.bottom())) y2=(one(f.bottom())) stroke="#555" {}
        text x="4" y="14" font-size="11" { "接收记录数" }
        text x=(one(f.w - 4.0)) y="14" font-size="11" fill="#b00" text-anchor="end" { "迟报率" }
        rect x=(one(f.left + 120.0)) y="6" width="10" height="10" fill="#7fb3e0" {}
        text x=(one(f.left + 134.0)) y="15" font-size="11" { "按时" }
        rect x=(one(f.left + 170.0)) y="6" width="10" height="10" fill="#f0a35e" {}
        text x=(one(f.left + 184.0)) y="15" font-size="11" { "迟报" }
    }
}

/// A month's bars, centred on `cx`: on time, with late stacked on it, and the month below.
fn bars(f: &Frame, cx: f64, step: f64, max: i64, m: &Month) -> Markup {
    let bar_w = (step * 0.6).min(40.0);
    let on_time = f.ph * m.on_time as f64 / max as f64;
    let late = f.ph * m.late as f64 / max as f64;
    let base = f.bottom();
    let x = one(cx - bar_w / 2.0);
    html! {
        rect x=(x) y=(one(base - on_time)) width=(one(bar_w)) height=(one(on_time)) fill="#7fb3e0" {
            title { (m.month) " 按时 " (m.on_time) }
        }
        rect x=(x) y=(one(base - on_time - late)) width=(one(bar_w)) height=(one(late)) fill="#f0a35e" {
            title { (m.month) " 迟报 " (m.late) }
        }
        text x=(one(cx)) y=(one(base + 14.0)) font-size="10" text-anchor="middle" {
            (m.month.get(2..).unwrap_or(&m.month))
        }
    }
}

pub async fn page_html(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<DepartmentQuery>,
) -> Result<Html<String>, ApiError> {
    let list = trends(&state, &caller, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let _ = state.store.audit(&caller.name, "view", "page:departments", state.now()).await;
    let target = state.settings().gateway.wrong_code_rate_target * 1000.0;
    let body = html! {
        // The departments side by side: this year's 迟报率 and what is open today.
        @if list.len() > 1 { (comparison(&list)) }
        @for d in &list { (department(d, target)) }
        (definitions(&["迟报率", "合规率", "漏报", "已逾期", "已逾期（计入部门）", "推送未成功"]))
    };
    Ok(page("部门", Some(&caller), body))
}

/// 部门对比: each department's twelve months summed, 迟报率 as a small bar.
fn comparison(list: &[DepartmentTrend]) -> Markup {
    html! {
        h2 { "部门对比（近 12 个月）" }
        div class="scroll" {
            table id="comparison" {
                (header_row(&["部门", "接收", "迟报", "迟报率", "已逾期（计入部门）", "退回待补正"]))
                @for d in list {
                    @let (on_time, late) = d.months.iter().fold((0, 0), |(a, b), m| (a + m.on_time, b + m.late));
                    @let rate = (on_time + late > 0).then(|| late as f64 / (on_time + late) as f64);
                    tr {
                        td { a href={ "/departments?department=" (d.id) } { (d.name) } }
                        td class="n" { (on_time + late) }
                        td class="n" { (late) }
                        td {
                            svg width="104" height="10" role="img" aria-label="迟报率" {
                                rect width="100" height="10" fill="#eee" {}
                                rect width=(one(rate.map_or(0.0, |r| r * 100.0))) height="10" fill="#b00" {}
                            }
                            " " (percent(rate))
                        }
                        td class="n" { (d.months.iter().map(|m| m.overdue).sum::<i64>()) }
                        td class="n" { (d.months.iter().map(|m| m.returned).sum::<i64>()) }
                    }
                }
            }
        }
    }
}

/// One department: its chart and its months by the three bases (report, decision, ingest).
fn department(d: &DepartmentTrend, target: f64) -> Markup {
    let months: Vec<&Month> = d.months.iter().rev().filter(|m| !is_empty(m)).collect();
    html! {
        h2 id={ "dept-" (d.id) } { (d.name) }
        @if months.is_empty() {
            p { "近 12 个月没有数据。" }
        } @else {
            (chart(&d.months))
            div class="tables" {
                div { (by_report(d, &months)) }
                div { (by_decision(d, &months)) }
                div { (by_ingest(&months, target)) }
            }
        }
    }
}

/// The list behind one of a department's month counts (its total is the figure).
fn month_list(d: &DepartmentTrend, status: &str, basis: &str, month: &str, cause: Option<&str>) -> String {
    let filters =
        [("department", Some(d.id.as_str())), ("status", Some(status)), (basis, Some(month)), ("cause", cause)];
    format!("/deadlines{}", super::lists::query(&filters))
}

fn by_report(d: &DepartmentTrend, months: &[&Month]) -> Markup {
    let list = |status: &str, m: &Month| month_list(d, status, "reported_month", &m.month, None);
    html! {
        h3 { "按接收月份（平台接收的月份）" }
        table class="by-report" {
            (header_row(&["月份", "按时", "迟报", "迟报率", "补报"]))
            @for m in months.iter().filter(|m| m.on_time + m.late + m.backfilled > 0) {
                tr {
                    td { (m.month) }
                    td class="n" { (linked(m.on_time, &list("reported_on_time", m))) }
                    td class="n" { (linked(m.late, &list("reported_late", m))) }
                    td class="n" { (percent(m.late_rate)) }
                    td class="n" { (linked(m.backfilled, &list("backfilled", m))) }
                }
            }
        }
    }
}

fn by_decision(d: &DepartmentTrend, months: &[&Month]) -> Markup {
    let charged = Cause::list_str(&Cause::CHARGED);
    let list = |status: &str, m: &Month, cause: Option<&str>| month_list(d, status, "decision_month", &m.month, cause);
    let returned = |m: &Month| {
        let filters = [("department", Some(d.id.as_str())), ("decision_month", Some(m.month.as_str()))];
        format!("/problems{}", super::lists::query(&filters))
    };
    let maybe = |n: Option<i64>| n.map_or_else(|| "—".to_string(), |x| x.to_string());
    html! {
        h3 { "按决定月份（作出决定的月份，今日状态）" }
        table class="by-decision" {
            tr {
                th { "月份" } th { "记录" } th { "已逾期（计入部门）" }
                th { "推送未成功" br; small { "不计入部门" } }
                th { "退回待补正" } th { "漏报" } th { "其中未收到" } th { "其中校验未通过未补正" } th { "其中退回未补正" }
            }
            @for m in months.iter().filter(|m| m.records > 0 || m.missing.unwrap_or(0) > 0) {
                tr {
                    td { (m.month) }
                    td class="n" { (linked(m.records, &list("all", m, None))) }
                    td class="n" { (linked(m.overdue, &list("overdue", m, Some(&charged)))) }
                    td class="n ours" { (linked(m.overdue_push, &list("overdue", m, Some("push")))) }
                    td class="n" { (linked(m.returned, &returned(m))) }
                    td class="n" { (maybe(m.missing)) }
                    td class="n" {
                        @match m.missing_never_received {
                            Some(n) => (linked(n, &Part::NeverReceived.href(&d.id, &m.month))),
                            None => "—",
                        }
                    }
                    td class="n" { (linked(m.missing_rejected, &Part::Rejected.href(&d.id, &m.month))) }
                    td class="n" { (linked(m.missing_returned, &Part::Returned.href(&d.id, &m.month))) }
                }
            }
        }
    }
}

fn by_ingest(months: &[&Month], target: f64) -> Markup {
    html! {
        h3 { "按导入月份（数据行交给网关的月份）" }
        table class="by-ingest" {
            tr { th { "月份" } th { "合规率" } th { "重错码率（目标 " (target) "‰）" } }
            @for m in months.iter().filter(|m| m.compliance_rate.is_some()) {
                tr {
                    td { (m.month) }
                    td class="n" { (percent(m.compliance_rate)) }
                    td class="n" { (wrong_code_cell(m)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_end_with_this_one() {
        let months = last_twelve(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
        assert_eq!(months.len(), 12);
        assert_eq!(months.first().unwrap(), "2025-04");
        assert_eq!(months.last().unwrap(), "2026-03");
    }

    #[test]
    fn a_month_sums_its_items() {
        let f = |item: &str, on_time, late| Figures {
            department: "tax".into(),
            item: item.into(),
            month: "2026-03".into(),
            records: 10,
            on_time,
            late,
            ..Figures::default()
        };
        let (a, b) = (f("XK", 3, 1), f("CF", 4, 2));
        let m = sum("2026-03", &[&a, &b]);
        assert_eq!((m.records, m.on_time, m.late), (20, 7, 3));
        assert_eq!(m.late_rate, Some(0.3));
        let svg = chart(&[m.clone(), m]).into_string();
        assert!(svg.contains("<svg") && svg.contains("class=\"late-rate\"") && svg.contains("迟报率"), "{svg}");
        assert!(svg.contains(">100%<") && svg.contains(">0%<"), "the right axis is labelled: {svg}");
    }

    #[test]
    fn one_month_still_draws_its_late_rate_and_empty_months_are_hidden() {
        let m = Month { month: "2026-03".into(), on_time: 3, late: 1, late_rate: Some(0.25), ..Month::default() };
        let empty = Month { month: "2026-02".into(), ..Month::default() };
        let svg = chart(&[empty.clone(), m]).into_string();
        assert!(svg.contains("late-rate-point") && svg.contains("迟报率 25.0%"), "{svg}");
        assert!(!svg.contains(">26-02<"), "an empty month is drawn: {svg}");
        assert!(is_empty(&empty));
        assert_eq!((nice_max(0), nice_max(7), nice_max(183), nice_max(2000)), (4, 8, 200, 2000));
        // No quarter of the axis repeats a count (an axis of 1 read 0, 0, 1, 1, 1).
        let empty_axis = chart(&[Month { month: "2026-03".into(), records: 2, ..Month::default() }]).into_string();
        for tick in ["end\">1<", "end\">2<", "end\">3<", "end\">4<"] {
            assert_eq!(empty_axis.matches(tick).count(), 1, "{tick}: {empty_axis}");
        }
    }
}
