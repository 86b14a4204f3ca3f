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
}

pub fn run(config: &Path, clock: &Clock, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ReportArgs { format, department, month } = args;
    let settings = super::settings(config)?;
    let mut figures = super::with_store(&settings, async |store| {
        Ok(store.figures(clock.today(), month.as_deref(), department.as_deref()).await?)
    })?;
    credit_gateway::store::Figures::mark_wrong_code_target(&mut figures, settings.gateway.wrong_code_rate_target);
    let text = match format.as_str() {
        "table" => report::table(&figures),
        "csv" => report::csv(&figures),
        "json" => report::json(&figures),
        other => anyhow::bail!("unknown format {other:?} (expected table, csv or json)"),
    };
    super::print_rendered(&text, format == "json")?;
    Ok(ExitCode::SUCCESS)
}
