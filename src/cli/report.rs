//! `credit-gateway report`: figures per department, item and month.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::report;

#[derive(Args)]
pub struct ReportArgs {
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    format: String,
    /// Only this department (id).
    #[arg(long)]
    department: Option<String>,
    /// Only this month (YYYY-MM).
    #[arg(long)]
    month: Option<String>,
    /// Objections (异议) instead: received, answered on time / late, open, open overdue,
    /// upheld / rejected, mean handling time and grounds, per department and month received.
    #[arg(long)]
    objections: bool,
    /// 分级分类与信用承诺 instead: per month, subjects per grade A–D at the month's end, changes
    /// of grade, commitments made / kept / broken / open, and commitments ÷ enterprises.
    #[arg(long, conflicts_with_all = ["objections", "department"])]
    grades: bool,
}

pub fn run(config: &Path, clock: &Clock, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ReportArgs { format, department, month, objections, grades } = args;
    let settings = super::settings(config)?;
    let department = super::department_arg(&settings, department)?;
    let month = super::month_arg(month)?;
    anyhow::ensure!(matches!(format.as_str(), "table" | "csv" | "json"), "未知格式“{format}”，可选：table、csv、json");
    if grades {
        return grade_report(&settings, clock, &format, month.as_deref());
    }
    if objections {
        return objection_report(&settings, clock, &format, department.as_deref(), month.as_deref());
    }
    let mut figures = super::with_store(&settings, async |store| {
        Ok(store.figures(clock.today(), month.as_deref(), department.as_deref()).await?)
    })?;
    credit_gateway::store::Figures::mark_wrong_code_target(&mut figures, settings.gateway.wrong_code_rate_target);
    let text = match format.as_str() {
        "table" => report::table(&figures),
        "csv" => report::csv(&figures),
        "json" => report::json(&figures),
        other => anyhow::bail!("未知格式“{other}”，可选：table、csv、json"),
    };
    super::print_rendered(&text, format == "json")?;
    Ok(ExitCode::SUCCESS)
}

fn objection_report(
    settings: &credit_gateway::config::Settings,
    clock: &Clock,
    format: &str,
    department: Option<&str>,
    month: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use credit_gateway::objection::handle;
    let cases = super::with_store(settings, async |store| {
        let filter = credit_gateway::store::ObjectionFilter { department, ..Default::default() };
        Ok(store.objections(&filter).await?)
    })?;
    let mut figures = handle::figures(&settings.objections, &settings.calendar, clock.today(), &cases);
    figures.retain(|f| month.is_none_or(|m| f.month == m));
    let header = [
        "部门",
        "月份",
        "受理",
        "按时答复",
        "逾期答复",
        "待答复",
        "逾期未答复",
        "成立",
        "不成立",
        "平均用时（工作日）",
        "事由",
    ];
    let row = |f: &handle::Figures| -> Vec<String> {
        let name = settings.departments.get(&f.department).map_or(f.department.clone(), |d| d.name.clone());
        let grounds: Vec<String> = f.by_ground.iter().map(|(g, n)| format!("{g} {n}")).collect();
        vec![
            name,
            f.month.clone(),
            f.received.to_string(),
            f.answered_on_time.to_string(),
            f.answered_late.to_string(),
            f.open.to_string(),
            f.open_overdue.to_string(),
            f.upheld.to_string(),
            f.rejected.to_string(),
            f.average_working_days.map_or_else(String::new, |d| format!("{d:.1}")),
            grounds.join("；"),
        ]
    };
    match format {
        "json" => super::print_json(&figures, false)?,
        "table" => {
            super::print_header(&header);
            for f in &figures {
                let cells = row(f);
                let refs: Vec<&dyn std::fmt::Display> = cells.iter().map(|c| c as &dyn std::fmt::Display).collect();
                super::print_row(&refs);
            }
        }
        "csv" => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(header)?;
            for f in &figures {
                w.write_record(row(f))?;
            }
            w.flush()?;
        }
        other => anyhow::bail!("未知格式 {other:?}（可选 table、csv、json）"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `report --grades`: the twelve months up to today (or the one asked for).
fn grade_report(
    settings: &credit_gateway::config::Settings,
    clock: &Clock,
    format: &str,
    month: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use credit_gateway::credit_figures::{self, CreditMonth};
    let today = clock.today();
    let months = match month {
        Some(m) => vec![m.to_string()],
        None => credit_figures::last_twelve(today),
    };
    let figures =
        super::with_store(settings, async |store| Ok(credit_figures::figures(settings, store, &months, today).await?))?;
    let grading = &settings.grading;
    let names: Vec<String> = credit_gateway::grading::Grade::ALL
        .iter()
        .map(|g| format!("{} {}", g.as_str(), grading.text(*g).name))
        .collect();
    let mut header = vec!["月份", "统计日"];
    header.extend(names.iter().map(String::as_str));
    header.extend(["等级变化", "信用承诺", "已履约", "未履约", "履约中"]);
    let row = |m: &CreditMonth| -> Vec<String> {
        let mut cells = vec![m.month.clone(), m.as_of.clone()];
        cells.extend(m.grades.each().iter().map(i64::to_string));
        cells.extend([m.changes, m.commitments, m.kept, m.broken, m.open].iter().map(i64::to_string));
        cells
    };
    match format {
        "json" => super::print_json(&figures, false)?,
        "table" => {
            super::print_header(&header);
            for m in &figures.months {
                let cells = row(m);
                let refs: Vec<&dyn std::fmt::Display> = cells.iter().map(|c| c as &dyn std::fmt::Display).collect();
                super::print_row(&refs);
            }
            let basis =
                if figures.enterprise_basis == "subject_library" { "主体库" } else { "本地记录涉及的主体" };
            let share = figures.commitment_share.map_or_else(|| "-".to_string(), |s| format!("{:.2}%", s * 100.0));
            println!(
                "信用承诺占企业总量比例：{share}（所列月份的承诺 {} 条 ÷ 企业 {} 家，企业数取自{basis}）",
                figures.months.iter().map(|m| m.commitments).sum::<i64>(),
                figures.enterprises
            );
        }
        "csv" => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(&header)?;
            for m in &figures.months {
                w.write_record(row(m))?;
            }
            w.flush()?;
        }
        other => anyhow::bail!("未知格式“{other}”，可选：table、csv、json"),
    }
    Ok(ExitCode::SUCCESS)
}
