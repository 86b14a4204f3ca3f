//! `credit-gateway connectors`: each connector's health, or one pass of one now.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use credit_gateway::clock::Clock;
use credit_gateway::connector::runner;
use credit_gateway::glossary;

#[derive(Args)]
pub struct ConnectorsArgs {
    #[command(subcommand)]
    command: Option<ConnectorsCommand>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum ConnectorsCommand {
    /// Each connector: kind, department, item, schedule, last run, status, rows, errors, next run.
    List,
    /// Run one pass of a connector now and print what it took (JSON).
    Run { name: String },
}

/// `run` exits 1 when the pass failed.
pub fn run(config: &Path, clock: &Clock, args: ConnectorsArgs) -> anyhow::Result<ExitCode> {
    let ConnectorsArgs { command, json } = args;
    let settings = super::settings(config)?;
    // Listing reads; only a pass brings data in (and may make the database).
    let creates = matches!(command, Some(ConnectorsCommand::Run { .. }));
    super::with_store_if(&settings, creates, async |store| match command.unwrap_or(ConnectorsCommand::List) {
        ConnectorsCommand::List => {
            let list = runner::statuses(&settings, store).await?;
            if json {
                super::print_json(&list, true)?;
                return Ok(ExitCode::SUCCESS);
            }
            super::print_header(&[
                "连接器",
                "类型",
                "部门",
                "目录",
                "计划",
                "上次运行",
                "状态",
                "累计行数",
                "错误次数",
                "下次运行",
                "最近错误",
            ]);
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            for c in list {
                let h = &c.health;
                let stopped = if c.enabled { "" } else { " (停用)" };
                let department =
                    settings.departments.get(&c.department).map_or(c.department.clone(), |d| d.name.clone());
                let local = |v: &Option<String>| v.as_deref().map_or_else(|| "-".into(), glossary::local_time);
                super::print_row(&[
                    &format_args!("{}{stopped}", c.name),
                    &c.kind.as_str(),
                    &department,
                    &c.item,
                    &dash(&c.schedule),
                    &local(&h.last_run_at),
                    &h.last_status.as_deref().map_or("-", glossary::connector_status),
                    &h.rows_total,
                    &h.errors_total,
                    &local(&h.next_run_at),
                    &h.last_error.as_deref().map_or_else(|| "-".into(), glossary::push_error),
                ]);
            }
            Ok(ExitCode::SUCCESS)
        }
        ConnectorsCommand::Run { name } => {
            let report = runner::run_once(&settings, store, &name, clock).await?;
            super::print_json(&report, true)?;
            Ok(if report.error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    })
}
