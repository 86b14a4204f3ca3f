//! `credit-gateway migrate`: bring the database's schema up to this version's.

use std::path::Path;
use std::process::ExitCode;

/// Connecting applies the migrations; this lists what the database now has.
pub fn run(config: &Path) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    super::with_store_creating(&settings, async |store| {
        let applied = store.applied_migrations().await?;
        for (version, description, at) in &applied {
            println!("{version:04} {description}  （应用于 {}）", credit_gateway::glossary::local_time(at));
        }
        println!("数据库结构已是最新：共 {} 项迁移，版本 {}", applied.len(), env!("CARGO_PKG_VERSION"));
        Ok(ExitCode::SUCCESS)
    })
}
