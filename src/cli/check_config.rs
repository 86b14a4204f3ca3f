//! `credit-gateway check-config`: load and validate every configuration file.

use std::path::Path;
use std::process::ExitCode;

use credit_gateway::config::Settings;

/// Exit 0 when every file is valid; otherwise every mistake on stderr, as `Settings::load`
/// words it.
pub fn run(config: &Path) -> anyhow::Result<ExitCode> {
    match Settings::load(config) {
        Ok(s) => {
            println!(
                "配置无误（configuration ok）：{} 个信息类别，{} 个映射，{} 个连接器",
                s.catalogue.items().len(),
                s.mappings.len(),
                s.connectors.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
