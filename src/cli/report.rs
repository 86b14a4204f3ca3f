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
}

pub fn run(config: &Path, clock: &Clock, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ReportArgs { format, department, month, objections } = args;
    let settings = super::settings(config)?;
    let department = super::department_arg(&settings, department)?;
    let month = super::month_arg(month)?;
    anyhow::ensure!(matches!(format.as_str(), "table" | "csv" | "json"), "未知格式“{format}”，可选：table、csv、json");
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
