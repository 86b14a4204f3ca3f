//! `credit-gateway ingest`: department files once through a connector's mapping.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use credit_gateway::clock::Clock;
use credit_gateway::ids::mask_ids_in_text;
use credit_gateway::ingest::{IngestError, IngestOptions, IngestSummary, ingest_file};

#[derive(Args)]
pub struct IngestArgs {
    /// Connector name (file stem under connectors/).
    #[arg(long)]
    connector: String,
    /// Print one JSON object per file instead of a summary.
    #[arg(long)]
    json: bool,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Exit 1 when a file was refused whole (unreadable); bad rows are no failure.
pub fn run(config: &Path, clock: &Clock, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let IngestArgs { connector, json, files } = args;
    let settings = super::settings(config)?;
    if settings.connector(&connector).is_none() {
        let known: Vec<&str> = settings.connectors.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!("没有名为 {connector:?} 的连接器（已配置：{}）", known.join("、"));
    }
    super::with_store_creating(&settings, async |store| {
        let mut code = ExitCode::SUCCESS;
        for file in &files {
            let progress = !json && std::io::stderr().is_terminal();
            let opts = IngestOptions { report_path: None, progress, clock: clock.clone(), source: None };
            match ingest_file(&settings, store, &connector, file, &opts).await {
                Ok(summary) if json => super::print_json(&summary, false)?,
                Ok(summary) => print_summary(&summary),
                Err(IngestError::Unreadable { path, reason, reason_zh, report }) => {
                    code = ExitCode::FAILURE;
                    if json {
                        let obj =
                            serde_json::json!({ "file": path, "error": reason, "reason": reason_zh, "report": report });
                        super::print_json(&obj, false)?;
                    } else {
                        eprintln!("{}：整个文件未接收：{reason_zh}（{reason}）", path.display());
                        if let Some(report) = report {
                            eprintln!("  给部门的错误报告：{}", report.display());
                        }
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("导入 {} 失败", file.display())),
            }
        }
        Ok(code)
    })
}

fn print_summary(s: &IngestSummary) {
    let how = [s.encoding.as_deref(), s.sheet.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    println!("{}（{how}）经连接器 {}", s.file.display(), s.connector);
    println!(
        "  读取 {} 行  接收 {}（新记录 {}，新版本 {}）  未变 {}  拒收 {}  跳过 {}  警告 {}",
        s.rows, s.accepted, s.new_records, s.new_versions, s.unchanged, s.rejected, s.skipped, s.warnings
    );
    let secs = s.elapsed_ms as f64 / 1000.0;
    if secs > 0.0 {
        println!("  用时 {:.1} 秒，每秒 {:.0} 行", secs, s.rows as f64 / secs);
    }
    if !s.missing_columns.is_empty() {
        println!("  文件缺少的选填列：{}", s.missing_columns.join("、"));
    }
    if !s.unused_columns.is_empty() {
        println!("  未读取的列：{}", s.unused_columns.join("、"));
    }
    if let Some(report) = &s.report {
        println!("  给部门的错误报告：{}", report.display());
    }
    if let Some(why) = &s.report_error {
        println!("  错误报告未写出（数据已入库）：{why}");
    }
    for e in s.errors.iter().take(10) {
        let field = e.field_name.as_deref().unwrap_or("整行");
        println!("    第 {} 行  {field}：{}", e.row, mask_ids_in_text(&e.reason));
    }
    let more = s.errors.len().saturating_sub(10) as u64 + s.errors_omitted;
    if more > 0 {
        println!("    ……还有 {more} 条，见错误报告");
    }
}
