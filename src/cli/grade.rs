//! `credit-gateway grade [--as-of DATE] [--json]`: every subject's credit grade (SPEC §8,
//! config/grading.toml) on a day, stored with its reasons; each change of grade becomes a
//! 分级分类结果 record for the outbox.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::grading::Grade;

#[derive(Args)]
pub struct GradeArgs {
    /// The evaluation day (YYYY-MM-DD, Asia/Shanghai); default today.
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Every subject as a JSON array of {credit_code, name, grade, general, serious, reasons}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: &Path, clock: &Clock, args: GradeArgs) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    let as_of = args.as_of.unwrap_or_else(|| clock.today());
    let json = args.json;
    super::with_store(&settings, async |store| {
        let mut first = true;
        if json {
            println!("[");
        }
        let run = credit_gateway::grade::grade_all(&settings, store, as_of, clock.now(), |g| {
            if json {
                let value = serde_json::json!({
                    "credit_code": g.credit_code, "name": g.name, "grade": g.grade,
                    "general": g.general, "serious": g.serious, "reasons": g.reasons,
                });
                let mut value = value;
                credit_gateway::ids::mask_ids_in_json(&mut value);
                println!("{}{value}", if first { "" } else { "," });
                first = false;
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!(e.zh()))?;
        if json {
            println!("]");
            return Ok(ExitCode::SUCCESS);
        }
        println!("信用分级分类（评定日 {}，{}）", run.as_of, settings.grading.regulation);
        super::print_header(&["等级", "名称", "主体数"]);
        for g in Grade::ALL {
            super::print_row(&[&g.as_str(), &settings.grading.text(g).name, &run.per_grade[g as usize]]);
        }
        println!(
            "共 {} 个主体；等级变化 {} 个；保存评定 {} 条；分级分类结果记录 新增 {}、更新 {}、未变 {}；用时 {:.1} 秒",
            run.subjects,
            run.changed,
            run.stored,
            run.records_new,
            run.records_updated,
            run.records_unchanged,
            run.seconds
        );
        Ok(ExitCode::SUCCESS)
    })
}
