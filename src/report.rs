//! The figures ops staff are measured on, rendered as a table, CSV or JSON.

use std::fmt::Write as _;

use crate::store::Figures;

/// Column titles, as ops staff say them.
const COLUMNS: [&str; 20] = [
    "部门",
    "信息类别",
    "月份",
    "记录数",
    "按时报送",
    "迟报",
    "迟报率",
    "合规率",
    // Overdue charged to the department, and the overdue our push holds up (not charged).
    "逾期（计入部门）",
    "推送未成功（不计入部门）",
    "即将到期",
    "退回",
    "台账数",
    "漏报",
    // The three parts of 漏报 (SPEC §7).
    "漏报·未收到",
    "漏报·校验未通过未补正",
    "漏报·退回未补正",
    "重错码数",
    "重错码率",
    // Back-filled history accepted in the month: neither on time nor late.
    "补报",
];

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// 重错码率 in per mille, marked when above the policy's target.
fn per_mille(f: &Figures) -> String {
    let Some(rate) = f.wrong_code_rate else {
        return "-".to_string();
    };
    let shown = format!("{:.1}‰", rate * 1000.0);
    match f.wrong_code_target {
        Some(t) if f.wrong_code_over_target => format!("{shown}（超过目标{}‰）", t * 1000.0),
        _ => shown,
    }
}

fn cells(f: &Figures) -> [String; 20] {
    [
        f.department.clone(),
        f.item.clone(),
        f.month.clone(),
        f.records.to_string(),
        f.on_time.to_string(),
        f.late.to_string(),
        percent(f.late_rate),
        percent(f.compliance_rate),
        (f.overdue - f.overdue_push).to_string(),
        f.overdue_push.to_string(),
        f.due_soon.to_string(),
        f.returned.to_string(),
        f.declared.map_or_else(|| "-".to_string(), |d| d.to_string()),
        f.missing.map_or_else(|| "-".to_string(), |m| m.to_string()),
        f.missing_never_received.map_or_else(|| "-".to_string(), |m| m.to_string()),
        f.missing_rejected.to_string(),
        f.missing_returned.to_string(),
        f.wrong_code_rows.to_string(),
        per_mille(f),
        f.backfilled.to_string(),
    ]
}

/// An aligned text table (CJK characters count two columns wide).
pub fn table(figures: &[Figures]) -> String {
    let rows: Vec<[String; 20]> = figures.iter().map(cells).collect();
    let width = |s: &str| s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
    let mut widths: Vec<usize> = COLUMNS.iter().map(|c| width(c)).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cols: Vec<&str>| {
        for (i, (c, w)) in cols.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(c);
            out.push_str(&" ".repeat(w - width(c)));
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(COLUMNS.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// CSV with a BOM, so Excel opens it in UTF-8.
pub fn csv(figures: &[Figures]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(COLUMNS);
    for f in figures {
        let _ = w.write_record(cells(f));
    }
    let body = w.into_inner().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let mut out = String::from('\u{feff}');
    let _ = write!(out, "{body}");
    out
}

pub fn json(figures: &[Figures]) -> String {
    serde_json::to_string_pretty(figures).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Figures {
        Figures {
            department: "market".into(),
            item: "CF".into(),
            month: "2026-03".into(),
            records: 10,
            on_time: 3,
            late: 1,
            late_rate: Some(0.25),
            compliance_rate: Some(0.9),
            overdue: 3,
            overdue_push: 1,
            declared: Some(12),
            missing: Some(2),
            ..Figures::default()
        }
    }

    #[test]
    fn renders_rates_as_percentages_in_every_format() {
        let t = table(&[sample()]);
        assert!(t.lines().next().unwrap().starts_with("部门"));
        assert!(t.contains("25.0%") && t.contains("90.0%"));
        let c = csv(&[sample()]);
        assert!(c.starts_with('\u{feff}'));
        // Overdue: 2 charged to the department, 1 held up by our push.
        assert!(c.contains("market,CF,2026-03,10,3,1,25.0%,90.0%,2,1,0,0,12,2"), "{c}");
        let j: serde_json::Value = serde_json::from_str(&json(&[sample()])).unwrap();
        assert_eq!(j[0]["late_rate"], 0.25);
    }

    #[test]
    fn missing_reports_show_their_three_parts_and_wrong_codes_their_target() {
        let mut f = sample();
        f.missing_never_received = Some(1);
        f.missing_rejected = 2;
        f.missing_returned = 3;
        f.wrong_code_rows = 3;
        f.submitted_rows = 1000;
        f.wrong_code_rate = Some(0.003);
        let mut lines = [f];
        Figures::mark_wrong_code_target(&mut lines, 0.001);
        let c = csv(&lines);
        assert!(c.contains("漏报·未收到,漏报·校验未通过未补正,漏报·退回未补正,重错码数,重错码率"), "{c}");
        assert!(c.contains(",1,2,3,3,3.0‰（超过目标1‰）,0"), "{c}");
        let j: serde_json::Value = serde_json::from_str(&json(&lines)).unwrap();
        assert_eq!(j[0]["wrong_code_over_target"], true);
        assert_eq!(j[0]["missing_returned"], 3);
    }
}
