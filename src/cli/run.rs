//! `credit-gateway run`: the gateway as a service until SIGTERM or Ctrl-C.

use std::path::Path;
use std::process::ExitCode;

use credit_gateway::clock::Clock;

pub fn run(config: &Path, clock: Clock) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(credit_gateway::daemon::run(config, clock, super::shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}
