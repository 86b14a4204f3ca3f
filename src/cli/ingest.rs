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
        anyhow::bail!("unknown connector {connector:?} (known: {})", known.join(", "));
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
                        eprintln!("{}: refused: {reason_zh} ({reason})", path.display());
                        if let Some(report) = report {
                            eprintln!("  error report for the department: {}", report.display());
                        }
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("ingesting {}", file.display())),
            }
        }
        Ok(code)
    })
}

fn print_summary(s: &IngestSummary) {
    let how = [s.encoding.as_deref(), s.sheet.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    println!("{} ({how}) via {}", s.file.display(), s.connector);
    println!(
        "  rows {}  accepted {} (new {}, new versions {})  unchanged {}  rejected {}  skipped {}  warnings {}",
        s.rows, s.accepted, s.new_records, s.new_versions, s.unchanged, s.rejected, s.skipped, s.warnings
    );
    let secs = s.elapsed_ms as f64 / 1000.0;
    if secs > 0.0 {
        println!("  {:.1} s, {:.0} rows/s", secs, s.rows as f64 / secs);
    }
    if !s.missing_columns.is_empty() {
        println!("  optional columns not in the file: {}", s.missing_columns.join("、"));
    }
    if !s.unused_columns.is_empty() {
        println!("  columns not read: {}", s.unused_columns.join("、"));
    }
    if let Some(report) = &s.report {
        println!("  error report for the department: {}", report.display());
    }
    if let Some(why) = &s.report_error {
        println!("  错误报告未写出（数据已入库）：{why}");
    }
    for e in s.errors.iter().take(10) {
        let field = e.field_name.as_deref().unwrap_or("整行");
        println!("    row {}  {field}: {}", e.row, mask_ids_in_text(&e.reason));
    }
    let more = s.errors.len().saturating_sub(10) as u64 + s.errors_omitted;
    if more > 0 {
        println!("    … and {more} more in the report");
    }
}
