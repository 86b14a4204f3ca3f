//! `credit-gateway deadlines`: records against their deadlines, soonest first.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::record::KEY_SEPARATOR;
use credit_gateway::store::{Cause, ListFilter, ListOrder, ListStatus};

#[derive(Args)]
pub struct DeadlinesArgs {
    /// tracked (default: every record with a deadline), open (not yet accepted), all, pending, due_soon, overdue, reported_on_time,
    /// reported_late, backfilled (补报) or untracked.
    #[arg(long)]
    status: Option<String>,
    /// Overdue for this cause: department (部门未报送), returned (已退回待补正), push (推送失败/平台异常),
    /// or several separated by commas (department,returned: those charged to the department).
    #[arg(long)]
    cause: Option<String>,
    /// Department id (or name).
    #[arg(long)]
    department: Option<String>,
    /// Catalogue item code (or name).
    #[arg(long)]
    item: Option<String>,
    /// Credit code, subject name or 文书号 (any fragment).
    #[arg(long)]
    search: Option<String>,
    /// deadline (default), decision_date or department; a leading - for descending (--sort=-deadline).
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    #[arg(long)]
    json: bool,
}

/// A header, then one line per record (status, cause, department, item, deadline, decision
/// date, key), and how many more there are; or JSON with the total.
pub fn run(config: &Path, clock: &Clock, args: DeadlinesArgs) -> anyhow::Result<ExitCode> {
    let DeadlinesArgs { status, cause, department, item, search, sort, limit, offset, json } = args;
    let settings = super::settings(config)?;
    let department = super::department_arg(&settings, department)?;
    let item = super::item_arg(&settings, item)?;
    let status = match status.as_deref() {
        None => ListStatus::Tracked,
        Some(s) => ListStatus::parse_filter(s).map_err(anyhow::Error::msg)?,
    };
    let causes = match cause.as_deref() {
        None => Vec::new(),
        Some(c) => Cause::parse_filter(c).map_err(anyhow::Error::msg)?,
    };
    let order = match sort.as_deref() {
        None => ListOrder::Deadline,
        Some(o) => ListOrder::parse_filter(o).map_err(anyhow::Error::msg)?,
    };
    anyhow::ensure!(limit > 0, "--limit 应为正整数");
    anyhow::ensure!(offset >= 0, "--offset 不能为负数");
    let filter = ListFilter {
        department,
        item,
        status,
        causes,
        search,
        field_value: None,
        reported_month: None,
        decision_month: None,
        order,
        after: None,
        offset,
        limit,
    };
    let (total, rows) =
        super::with_store(&settings, async |store| Ok(store.record_list(clock.today(), &filter).await?))?;
    if json {
        super::print_json(&rows, false)?;
        super::print_more(rows.len(), total, offset);
        return Ok(ExitCode::SUCCESS);
    }
    super::print_header(&["状态", "逾期原因", "部门", "信息类别", "截止日期", "决定日期", "业务主键"]);
    let shown = rows.len();
    for r in rows {
        let key = r.business_key.replace(KEY_SEPARATOR, " | ");
        let deadline = r.deadline.unwrap_or_default();
        let mark = if r.provisional { "（临时）" } else { "" };
        let decided = r.decision_date.unwrap_or_default();
        let department = settings.departments.get(&r.department).map_or(r.department.clone(), |d| d.name.clone());
        let item = settings.catalogue.item(&r.item).map_or(r.item.clone(), |i| i.name.clone());
        let cause = r.cause.map_or("", Cause::zh);
        super::print_row(&[
            &r.status.zh(),
            &cause,
            &department,
            &item,
            &format_args!("{deadline}{mark}"),
            &decided,
            &key,
        ]);
    }
    super::print_more(shown, total, offset);
    Ok(ExitCode::SUCCESS)
}
