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
use super::pages::{esc, page};
use crate::store::Figures;

#[derive(Debug, Default, Deserialize)]
pub struct DepartmentQuery {
    #[serde(default)]
    department: Option<String>,
}

/// One department's month: its figures summed over catalogue items.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Month {
    pub month: String,
    pub records: i64,
    pub on_time: i64,
    pub late: i64,
    /// 补报 (back-filled history) accepted in the month, apart from on time and late.
    pub backfilled: i64,
    pub late_rate: Option<f64>,
    pub compliance_rate: Option<f64>,
    pub overdue: i64,
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

#[derive(Debug, Clone, Serialize)]
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
        m.overdue += f.overdue;
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

pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DepartmentQuery>,
) -> Result<Json<Vec<DepartmentTrend>>, ApiError> {
    let out = trends(&state, &caller, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let _ = state.store.audit(&caller.name, "view", "api:departments", state.now()).await;
    Ok(Json(out))
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// 重错码率 in per mille, red with a mark when above the target.
fn wrong_code_cell(m: &Month) -> String {
    match m.wrong_code_rate {
        None => "—".to_string(),
        Some(r) if m.wrong_code_over_target => format!("<span style=\"color:#b00\">{:.1}‰ 超标</span>", r * 1000.0),
        Some(r) => format!("{:.1}‰", r * 1000.0),
    }
}

/// 迟报率 (red) and record counts (blue bars) over twelve months.
fn chart(months: &[Month]) -> String {
    let (w, h, pad) = (600.0, 160.0, 24.0);
    let step = (w - 2.0 * pad) / months.len().max(1) as f64;
    let top = months.iter().map(|m| m.records).max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        "<svg class=\"trend\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"近12个月记录数与迟报率\" style=\"background:#fff;border:1px solid #ccd\">"
    );
    let mut line = Vec::new();
    for (i, m) in months.iter().enumerate() {
        let x = pad + step * i as f64;
        let bar = (h - 2.0 * pad) * m.records as f64 / top;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"#9ec5e8\"><title>{} 记录 {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{}</text>",
            x + 2.0,
            h - pad - bar,
            step - 4.0,
            esc(&m.month),
            m.records,
            x + 2.0,
            h - 8.0,
            esc(m.month.get(2..).unwrap_or(&m.month)),
        );
        if let Some(rate) = m.late_rate {
            line.push(format!("{:.1},{:.1}", x + step / 2.0, h - pad - (h - 2.0 * pad) * rate));
        }
    }
    if line.len() > 1 {
        let _ =
            write!(svg, "<polyline fill=\"none\" stroke=\"#b00\" stroke-width=\"2\" points=\"{}\"/>", line.join(" "));
    }
    svg.push_str("</svg><p style=\"font-size:12px\">蓝色柱：每月决定的记录数；红线：迟报率（0–100%）</p>");
    svg
}

pub async fn page_html(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DepartmentQuery>,
) -> Result<Html<String>, ApiError> {
    let list = trends(&state, &caller, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let _ = state.store.audit(&caller.name, "view", "page:departments", state.now()).await;
    let mut body = String::new();
    for d in &list {
        let _ = write!(
            body,
            "<h2 id=\"dept-{}\">{}</h2>{}<table><tr><th>月份</th><th>记录</th><th>按时</th><th>迟报</th><th>迟报率</th>\
             <th>补报</th><th>合规率</th><th>已逾期</th><th>漏报</th><th>其中未收到</th><th>其中校验未通过未补正</th>\
             <th>其中退回未补正</th><th>退回待补正</th><th>重错码率（目标 {}‰）</th></tr>",
            esc(&d.id),
            esc(&d.name),
            chart(&d.months),
            state.settings().gateway.wrong_code_rate_target * 1000.0
        );
        for m in d.months.iter().rev() {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.month),
                m.records,
                m.on_time,
                m.late,
                percent(m.late_rate),
                m.backfilled,
                percent(m.compliance_rate),
                m.overdue,
                m.missing.map_or_else(|| "—".to_string(), |x| x.to_string()),
                m.missing_never_received.map_or_else(|| "—".to_string(), |x| x.to_string()),
                m.missing_rejected,
                m.missing_returned,
                m.returned,
                wrong_code_cell(m)
            );
        }
        body.push_str("</table>");
    }
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
        assert!(chart(&[m]).contains("<svg"));
    }
}
