//! 部门: per department and month, 迟报率, 合规率, overdue, missing and returned, with the last
//! twelve months as an SVG chart.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::pages::{esc, linked, page};
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
        (status = 400, description = "筛选参数无效（中文说明可选值）；参数类型不符（如 offset=abc）时为纯文本", body = super::api::ErrorBody),
        (status = 401, description = "no or unknown token", body = super::api::ErrorBody),
        (status = 500, description = "服务器内部错误，请稍后重试", body = super::api::ErrorBody),
    )
)]
pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DepartmentQuery>,
) -> Result<Json<Vec<DepartmentTrend>>, ApiError> {
    let out = trends(&state, &caller, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let _ = state.store.audit(&caller.name, "view", "api:departments", state.now()).await;
    Ok(Json(out))
}

use super::pages::percent;

/// 重错码率 in per mille, red with a mark when above the target.
fn wrong_code_cell(m: &Month) -> String {
    match m.wrong_code_rate {
        None => "—".to_string(),
        Some(r) if m.wrong_code_over_target => format!("<span style=\"color:#b00\">{:.1}‰ 超标</span>", r * 1000.0),
        Some(r) => format!("{:.1}‰", r * 1000.0),
    }
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

/// Records accepted per month (blue bars: on time, and late stacked in orange, by the month the
/// platform accepted them) against the left axis, and 迟报率 (red line and points) against the
/// right axis, 0–100%. Drawn server-side as SVG: readable without JavaScript.
pub fn chart(months: &[Month]) -> String {
    let (w, h) = (640.0, 220.0);
    let (left, right, top, bottom) = (48.0, 48.0, 28.0, 28.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let shown: Vec<&Month> = months.iter().filter(|m| m.on_time + m.late > 0 || m.records > 0).collect();
    let mut svg = format!(
        "<svg class=\"trend\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"每月接收记录数与迟报率\" style=\"background:#fff;border:1px solid #ccd;max-width:100%\" \
         font-family=\"sans-serif\">"
    );
    if shown.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">暂无数据</text></svg>",
            w / 2.0,
            h / 2.0
        );
        return svg;
    }
    let max = nice_max(shown.iter().map(|m| m.on_time + m.late).max().unwrap_or(0));
    let y = |v: f64| top + ph - ph * v;
    // Axes, grid and their labels: counts on the left, 迟报率 on the right.
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let yy = y(f);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e3e7ec\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#b00\">{}%</text>",
            left + pw,
            left - 4.0,
            yy + 3.0,
            (max as f64 * f).round() as i64,
            left + pw + 4.0,
            yy + 3.0,
            (f * 100.0).round() as i64,
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#555\"/>\
         <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#b00\"/>\
         <line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555\"/>\
         <text x=\"4\" y=\"14\" font-size=\"11\">接收记录数</text>\
         <text x=\"{:.1}\" y=\"14\" font-size=\"11\" fill=\"#b00\" text-anchor=\"end\">迟报率</text>\
         <rect x=\"{:.1}\" y=\"6\" width=\"10\" height=\"10\" fill=\"#7fb3e0\"/><text x=\"{:.1}\" y=\"15\" font-size=\"11\">按时</text>\
         <rect x=\"{:.1}\" y=\"6\" width=\"10\" height=\"10\" fill=\"#f0a35e\"/><text x=\"{:.1}\" y=\"15\" font-size=\"11\">迟报</text>",
        top + ph,
        left + pw,
        left + pw,
        top + ph,
        left + pw,
        top + ph,
        top + ph,
        w - 4.0,
        left + 120.0,
        left + 134.0,
        left + 170.0,
        left + 184.0,
    );
    let step = pw / shown.len() as f64;
    let bar_w = (step * 0.6).min(40.0);
    let mut line = Vec::new();
    for (i, m) in shown.iter().enumerate() {
        let cx = left + step * (i as f64 + 0.5);
        let on_time = ph * m.on_time as f64 / max as f64;
        let late = ph * m.late as f64 / max as f64;
        let base = top + ph;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{on_time:.1}\" fill=\"#7fb3e0\"><title>{} 按时 {}</title></rect>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{late:.1}\" fill=\"#f0a35e\"><title>{} 迟报 {}</title></rect>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            cx - bar_w / 2.0,
            base - on_time,
            esc(&m.month),
            m.on_time,
            cx - bar_w / 2.0,
            base - on_time - late,
            esc(&m.month),
            m.late,
            base + 14.0,
            esc(m.month.get(2..).unwrap_or(&m.month)),
        );
        if let Some(rate) = m.late_rate {
            line.push((cx, y(rate), rate, &m.month));
        }
    }
    if line.len() > 1 {
        let points: Vec<String> = line.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            svg,
            "<polyline class=\"late-rate\" fill=\"none\" stroke=\"#b00\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    for (x, y, rate, month) in &line {
        let _ = write!(
            svg,
            "<circle class=\"late-rate-point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#b00\"><title>{} 迟报率 {:.1}%</title></circle>",
            esc(month),
            rate * 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

pub async fn page_html(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DepartmentQuery>,
) -> Result<Html<String>, ApiError> {
    let list = trends(&state, &caller, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let _ = state.store.audit(&caller.name, "view", "page:departments", state.now()).await;
    let target = state.settings().gateway.wrong_code_rate_target * 1000.0;
    let mut body = String::new();
    // The departments side by side: this year's 迟报率 and what is open today.
    if list.len() > 1 {
        body.push_str(
            "<h2>部门对比（近 12 个月）</h2><div class=\"scroll\"><table id=\"comparison\"><tr><th>部门</th><th>接收</th><th>迟报</th>\
             <th>迟报率</th><th>已逾期（计入部门）</th><th>退回待补正</th></tr>",
        );
        for d in &list {
            let (on_time, late) = d.months.iter().fold((0, 0), |(a, b), m| (a + m.on_time, b + m.late));
            let rate = (on_time + late > 0).then(|| late as f64 / (on_time + late) as f64);
            let bar = rate.map_or(0.0, |r| r * 100.0);
            let _ = write!(
                body,
                "<tr><td><a href=\"/departments?department={}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td><svg width=\"104\" height=\"10\" role=\"img\" aria-label=\"迟报率\"><rect width=\"100\" height=\"10\" fill=\"#eee\"/>\
                 <rect width=\"{bar:.1}\" height=\"10\" fill=\"#b00\"/></svg> {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&d.id),
                esc(&d.name),
                on_time + late,
                late,
                percent(rate),
                d.months.iter().map(|m| m.overdue).sum::<i64>(),
                d.months.iter().map(|m| m.returned).sum::<i64>(),
            );
        }
        body.push_str("</table></div>");
    }
    for d in &list {
        let months: Vec<&Month> = d.months.iter().rev().filter(|m| !is_empty(m)).collect();
        let _ = write!(body, "<h2 id=\"dept-{}\">{}</h2>", esc(&d.id), esc(&d.name));
        if months.is_empty() {
            body.push_str("<p>近 12 个月没有数据。</p>");
            continue;
        }
        body.push_str(&chart(&d.months));
        body.push_str(
            "<div class=\"tables\"><div><h3>按接收月份（平台接收的月份）</h3><table class=\"by-report\"><tr><th>月份</th>\
             <th>按时</th><th>迟报</th><th>迟报率</th><th>补报</th></tr>",
        );
        // Each count links to its records: the list's total is the figure.
        let list = |status: &str, basis: &str, month: &str, cause: Option<&str>| {
            let filters =
                [("department", Some(d.id.as_str())), ("status", Some(status)), (basis, Some(month)), ("cause", cause)];
            format!("/deadlines{}", super::lists::query(&filters))
        };
        let charged = Cause::list_str(&Cause::CHARGED);
        for m in months.iter().filter(|m| m.on_time + m.late + m.backfilled > 0) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&m.month),
                linked(m.on_time, &list("reported_on_time", "reported_month", &m.month, None)),
                linked(m.late, &list("reported_late", "reported_month", &m.month, None)),
                percent(m.late_rate),
                linked(m.backfilled, &list("backfilled", "reported_month", &m.month, None)),
            );
        }
        body.push_str(
            "</table></div><div><h3>按决定月份（作出决定的月份，今日状态）</h3><table class=\"by-decision\"><tr><th>月份</th>\
             <th>记录</th><th>已逾期（计入部门）</th><th>推送未成功<br><small>不计入部门</small></th><th>退回待补正</th><th>漏报</th><th>其中未收到</th><th>其中校验未通过未补正</th>\
             <th>其中退回未补正</th></tr>",
        );
        for m in months.iter().filter(|m| m.records > 0 || m.missing.unwrap_or(0) > 0) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n ours\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&m.month),
                linked(m.records, &list("all", "decision_month", &m.month, None)),
                linked(m.overdue, &list("overdue", "decision_month", &m.month, Some(&charged))),
                linked(m.overdue_push, &list("overdue", "decision_month", &m.month, Some("push"))),
                linked(
                    m.returned,
                    &format!(
                        "/problems{}",
                        super::lists::query(&[
                            ("department", Some(d.id.as_str())),
                            ("decision_month", Some(m.month.as_str()))
                        ])
                    )
                ),
                m.missing.map_or_else(|| "—".to_string(), |x| x.to_string()),
                m.missing_never_received.map_or_else(|| "—".to_string(), |x| x.to_string()),
                m.missing_rejected,
                m.missing_returned,
            );
        }
        let _ = write!(
            body,
            "</table></div><div><h3>按导入月份（数据行交给网关的月份）</h3><table class=\"by-ingest\"><tr><th>月份</th>\
             <th>合规率</th><th>重错码率（目标 {target}‰）</th></tr>"
        );
        for m in months.iter().filter(|m| m.compliance_rate.is_some()) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&m.month),
                percent(m.compliance_rate),
                wrong_code_cell(m)
            );
        }
        body.push_str("</table></div></div>");
    }
    body.push_str(&super::pages::definitions(&[
        "迟报率",
        "合规率",
        "漏报",
        "已逾期",
        "已逾期（计入部门）",
        "推送未成功",
    ]));
    Ok(page("部门", Some(&caller), &body))
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
        let svg = chart(&[m.clone(), m]);
        assert!(svg.contains("<svg") && svg.contains("class=\"late-rate\"") && svg.contains("迟报率"), "{svg}");
        assert!(svg.contains(">100%<") && svg.contains(">0%<"), "the right axis is labelled: {svg}");
    }

    #[test]
    fn one_month_still_draws_its_late_rate_and_empty_months_are_hidden() {
        let m = Month { month: "2026-03".into(), on_time: 3, late: 1, late_rate: Some(0.25), ..Month::default() };
        let empty = Month { month: "2026-02".into(), ..Month::default() };
        let svg = chart(&[empty.clone(), m]);
        assert!(svg.contains("late-rate-point") && svg.contains("迟报率 25.0%"), "{svg}");
        assert!(!svg.contains(">26-02<"), "an empty month is drawn: {svg}");
        assert!(is_empty(&empty));
        assert_eq!((nice_max(0), nice_max(7), nice_max(183), nice_max(2000)), (4, 8, 200, 2000));
        // No quarter of the axis repeats a count (an axis of 1 read 0, 0, 1, 1, 1).
        let empty_axis = chart(&[Month { month: "2026-03".into(), records: 2, ..Month::default() }]);
        for tick in ["end\">1<", "end\">2<", "end\">3<", "end\">4<"] {
            assert_eq!(empty_axis.matches(tick).count(), 1, "{tick}: {empty_axis}");
        }
    }
}
