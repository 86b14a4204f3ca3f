//! `credit-gateway demo`: the gateway with the sandbox and a stream of department files, in
//! a folder of its own, until SIGTERM or Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::sim::demo::{DemoOptions, banner};

#[derive(Args)]
pub struct DemoArgs {
    /// Working folder: a copy of the configuration, the SQLite store, inboxes. Emptied on
    /// start if an earlier demo made it.
    #[arg(long, default_value = "data/demo")]
    dir: PathBuf,
    /// The dashboard (a free port if this one is taken).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The sandbox platforms (a free port if taken).
    #[arg(long, default_value = "127.0.0.1:8090")]
    platforms: std::net::SocketAddr,
    /// The sandbox department APIs (a free port if taken).
    #[arg(long, default_value = "127.0.0.1:8091")]
    departments: std::net::SocketAddr,
    /// Seconds between the market regulator's files.
    #[arg(long, default_value_t = 20)]
    every: u64,
    /// Rows per 行政处罚 file.
    #[arg(long, default_value_t = 300)]
    rows: u64,
}

pub fn run(config: &Path, clock: Clock, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let DemoArgs { dir, listen, platforms, departments, every, rows } = args;
    let opts = DemoOptions {
        dir: dir.clone(),
        listen,
        platforms,
        departments,
        every: std::time::Duration::from_secs(every.max(1)),
        rows,
        clock,
    };
    super::runtime()?.block_on(credit_gateway::sim::demo::run(
        config,
        opts,
        |login| {
            print!("{}", banner(login, &dir));
            let _ = std::io::Write::flush(&mut std::io::stdout());
        },
        super::shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
