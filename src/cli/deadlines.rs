//! `credit-gateway deadlines`: records against their deadlines, soonest first.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::deadline::Status;
use credit_gateway::record::KEY_SEPARATOR;
use credit_gateway::store::DeadlineFilter;

#[derive(Args)]
pub struct DeadlinesArgs {
    /// pending, due_soon, overdue, reported_on_time or reported_late.
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    department: Option<String>,
    #[arg(long)]
    item: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

/// One line per record (status, department, item, deadline, decision date, key), or JSON.
pub fn run(config: &Path, clock: &Clock, args: DeadlinesArgs) -> anyhow::Result<ExitCode> {
    let DeadlinesArgs { status, department, item, limit, json } = args;
    let settings = super::settings(config)?;
    let status = match status {
        Some(s) => Some(Status::parse(&s).with_context(|| format!("unknown status {s:?}"))?),
        None => None,
    };
    let filter = DeadlineFilter { department, item, status, limit };
    let rows = super::with_store(&settings, async |store| Ok(store.deadlines(clock.today(), &filter).await?))?;
    if json {
        super::print_json(&rows, false)?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in rows {
        let key = r.business_key.replace(KEY_SEPARATOR, " | ");
        let deadline = r.deadline.unwrap_or_default();
        let mark = if r.provisional { " (暂定)" } else { "" };
        let decided = r.decision_date.unwrap_or_default();
        super::print_row(&[&r.status.zh(), &r.department, &r.item, &format_args!("{deadline}{mark}"), &decided, &key]);
    }
    Ok(ExitCode::SUCCESS)
}
