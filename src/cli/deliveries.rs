//! `credit-gateway deliveries`: the outbox; retry deliveries; push what is due.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use credit_gateway::clock::Clock;
use credit_gateway::delivery::worker::push_due;
use credit_gateway::glossary;

#[derive(Args)]
pub struct DeliveriesArgs {
    #[command(subcommand)]
    command: Option<DeliveriesCommand>,
    /// Only this status: pending, in_flight, accepted, returned, dead, superseded, held (a minor
    /// penalty not published), expired (its publicity period ended before it was pushed).
    #[arg(long)]
    status: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum DeliveriesCommand {
    /// Put deliveries back in the queue now: by id, or every dead letter with --dead.
    Retry {
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "ids")]
        dead: bool,
    },
    /// Push everything due now to one destination (the daemon does this continuously).
    Push { destination: String },
}

pub fn run(config: &Path, clock: &Clock, args: DeliveriesArgs) -> anyhow::Result<ExitCode> {
    let DeliveriesArgs { command, status, limit, json } = args;
    let settings = super::settings(config)?;
    super::with_store(&settings, async |store| {
        store.sync_destination_items(&settings.destination_items()).await?;
        match command {
            None => {
                let rows = store.deliveries(status.as_deref(), limit).await?;
                if json {
                    super::print_json(&rows, true)?;
                    return Ok(ExitCode::SUCCESS);
                }
                let title = |d: &str| {
                    settings.destinations.iter().find(|x| x.name == d).map_or(d.to_string(), |x| x.title.clone())
                };
                super::print_header(&["目的地", "状态", "数量"]);
                for (destination, status, n) in store.delivery_counts().await? {
                    super::print_row(&[&title(&destination), &glossary::delivery_status(&status), &n]);
                }
                println!();
                super::print_header(&[
                    "编号",
                    "记录",
                    "版本",
                    "目的地",
                    "操作",
                    "状态",
                    "尝试次数",
                    "下次尝试",
                    "最近错误/退回原因",
                ]);
                let shown = rows.len();
                for r in rows {
                    let why = match (r.reason, r.last_error) {
                        (Some(reason), _) => reason,
                        (None, Some(error)) => glossary::push_error(&error),
                        (None, None) => String::new(),
                    };
                    super::print_row(&[
                        &r.id,
                        &r.record_id,
                        &r.version,
                        &title(&r.destination),
                        &glossary::operation(&r.operation),
                        &glossary::delivery_status(&r.status),
                        &r.attempts,
                        &glossary::local_time(&r.next_attempt_at),
                        &why,
                    ]);
                }
                if shown as i64 >= limit {
                    eprintln!("只显示前 {limit} 条：用 --limit 查看更多，或 --json 导出");
                }
            }
            Some(DeliveriesCommand::Retry { ids, dead }) => {
                let ids = (!dead).then_some(ids.as_slice());
                let n = store.retry_deliveries(ids, clock.now()).await?;
                println!("已重新排队 {n} 条投递（{n} deliveries queued again）");
            }
            Some(DeliveriesCommand::Push { destination }) => {
                // Publicity that ended is withdrawn in this push too, as the daemon's upkeep does.
                store.publicity_pass(clock.today(), clock.now()).await?;
                let counts = push_due(&settings, store, &destination, clock).await?;
                println!("{}", serde_json::to_string(&counts)?);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
