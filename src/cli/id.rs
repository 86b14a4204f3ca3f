//! `credit-gateway id check`: identifier checks (统一社会信用代码, 组织机构代码, 身份证号).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::config::Settings;
use credit_gateway::ids;

#[derive(Subcommand)]
pub enum IdCommand {
    /// Print each value with valid/invalid, the kind it was taken for, and why.
    Check {
        #[arg(required = true)]
        values: Vec<String>,
    },
}

/// Exit 0 when every value is valid. A credit code listed in the configuration as a known
/// exception (`[validation] credit_code_exceptions`) is valid, with a note, as ingest takes it.
pub fn run(config: &Path, command: IdCommand) -> anyhow::Result<ExitCode> {
    let IdCommand::Check { values } = command;
    // The check itself needs no configuration: a configuration that cannot be read only
    // means no exceptions are known.
    let settings = Settings::load(config).ok();
    let is_exception = |code: &str| {
        settings.as_ref().is_some_and(|s| s.catalogue.is_credit_code_exception(&code.trim().to_ascii_uppercase()))
    };
    let mut all_valid = true;
    for v in values {
        let check = ids::check_any(&v);
        let kind = check.kind.map_or("unknown", |k| k.as_str());
        // Personal ID numbers are never echoed in full.
        let shown = if check.kind == Some(ids::IdKind::IdNumber) { ids::mask_id_number(&v) } else { v.clone() };
        match check.result {
            Ok(()) => super::print_row(&[&shown, &"valid", &kind]),
            Err(e) if check.kind == Some(ids::IdKind::CreditCode) && is_exception(&v) => {
                let note = format!("配置的已知例外代码（校验未通过：{}）", e.zh());
                super::print_row(&[&shown, &"valid", &kind, &note]);
            }
            Err(e) => {
                all_valid = false;
                super::print_row(&[&shown, &"invalid", &kind, &e]);
            }
        }
    }
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
