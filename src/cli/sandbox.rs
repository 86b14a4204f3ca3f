//! `credit-gateway sandbox`: simulated upper platforms and department sources on loopback.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::sim::sandbox::serve::SandboxPlan;

#[derive(Args)]
pub struct SandboxArgs {
    /// The platforms: /platforms/{name}/json|xml, /sandbox/stats, /sandbox/faults.
    #[arg(long, default_value = "127.0.0.1:8090")]
    platforms: std::net::SocketAddr,
    /// The department APIs the shipped tax and court connectors pull.
    #[arg(long, default_value = "127.0.0.1:8091")]
    departments: std::net::SocketAddr,
    /// Run only the platforms (benchmarks).
    #[arg(long)]
    platforms_only: bool,
    /// Subject base library (CSV name,credit_code): a known code under another name is returned (1001).
    #[arg(long)]
    subjects: Option<PathBuf>,
    /// With the library: a subject it does not know is returned (1001) too, as the platform's
    /// rule says (未查询到主体或查询到的主体信息不匹配).
    #[arg(long)]
    strict_subjects: bool,
}

/// Serves until Ctrl-C, after printing where.
pub fn run(config: &Path, clock: Clock, args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let SandboxArgs { platforms, departments, platforms_only, subjects, strict_subjects } = args;
    let settings = super::settings(config)?;
    let mut plan = SandboxPlan::for_settings(&settings);
    plan.platforms = platforms;
    plan.departments = (!platforms_only).then_some(departments);
    plan.subjects = subjects;
    plan.strict_subjects = strict_subjects;
    plan.clock = clock;
    super::runtime()?.block_on(credit_gateway::sim::sandbox::serve::run(
        &settings,
        plan,
        |p, d| {
            println!("沙箱平台 sandbox platforms: http://{p}/platforms/{{provincial|national}}/{{json|xml}}  (stats: http://{p}/sandbox/stats)");
            if let Some(d) = d {
                println!("沙箱部门 sandbox departments: http://{d}/tax/api/arrears  http://{d}/court/api/dishonest");
            }
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}
