//! `credit-gateway feeds`: reverse feeds' cursors and health, missing reports, repairs,
//! rejects, and one pull now. The library words the answers (`feed::report`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use credit_gateway::clock::Clock;
use credit_gateway::feed::report::{FeedsAction, feeds_command};

#[derive(Args)]
pub struct FeedsArgs {
    #[command(subcommand)]
    command: Option<FeedsCommand>,
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
pub enum FeedsCommand {
    /// Records of our jurisdiction sent down that no department reported (漏报/瞒报 candidates).
    Missing,
    /// Repair results (信用修复) and their withdrawals against the 3-working-day SLA.
    Repairs,
    /// Feed records refused, with the reason.
    Rejects,
    /// Pull one feed now, until the platform has no more.
    Pull { feed: String },
}

pub fn run(config: &Path, clock: &Clock, args: FeedsArgs) -> anyhow::Result<ExitCode> {
    let FeedsArgs { command, json } = args;
    let action = match command {
        None => FeedsAction::List,
        Some(FeedsCommand::Missing) => FeedsAction::Missing,
        Some(FeedsCommand::Repairs) => FeedsAction::Repairs,
        Some(FeedsCommand::Rejects) => FeedsAction::Rejects,
        Some(FeedsCommand::Pull { feed }) => FeedsAction::Pull(feed),
    };
    let settings = Arc::new(super::settings(config)?);
    // The lists read; only a pull brings data in (and may make the database).
    let creates = matches!(action, FeedsAction::Pull(_));
    let text = super::with_store_if(&settings, creates, async |store| {
        Ok(feeds_command(settings.clone(), store, action, json, clock.now()).await?)
    })?;
    super::print_rendered(&text, json)?;
    Ok(ExitCode::SUCCESS)
}
