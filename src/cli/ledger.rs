//! `credit-gateway ledger import`: department ledgers (台账), for missing reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use credit_gateway::clock::Clock;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Import a ledger CSV (部门, 信息类别, 月份, 决定数).
    Import { file: PathBuf },
}

pub fn run(config: &Path, clock: &Clock, command: LedgerCommand) -> anyhow::Result<ExitCode> {
    let LedgerCommand::Import { file } = command;
    let settings = super::settings(config)?;
    let entries = std::fs::File::open(&file)
        .map_err(|e| credit_gateway::ledger::LedgerError::Csv(e.into()))
        .and_then(|f| credit_gateway::ledger::read(f, &settings.departments, &settings.catalogue))
        .with_context(|| format!("{}", file.display()))?;
    super::with_store_creating(&settings, async |store| {
        Ok(store.import_ledger(&entries, &file.display().to_string(), clock.now()).await?)
    })?;
    println!("已从 {} 导入 {} 条台账", file.display(), entries.len());
    Ok(ExitCode::SUCCESS)
}
