//! `credit-gateway id check`: identifier checks (统一社会信用代码, 组织机构代码, 身份证号).

use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::ids;

#[derive(Subcommand)]
pub enum IdCommand {
    /// Print each value with valid/invalid, the kind it was taken for, and why.
    Check {
        #[arg(required = true)]
        values: Vec<String>,
    },
}

/// Exit 0 when every value is valid.
pub fn run(command: IdCommand) -> anyhow::Result<ExitCode> {
    let IdCommand::Check { values } = command;
    let mut all_valid = true;
    for v in values {
        let check = ids::check_any(&v);
        let kind = check.kind.map_or("unknown", |k| k.as_str());
        // Personal ID numbers are never echoed in full.
        let shown = if check.kind == Some(ids::IdKind::IdNumber) { ids::mask_id_number(&v) } else { v.clone() };
        match check.result {
            Ok(()) => super::print_row(&[&shown, &"valid", &kind]),
            Err(e) => {
                all_valid = false;
                super::print_row(&[&shown, &"invalid", &kind, &e]);
            }
        }
    }
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
