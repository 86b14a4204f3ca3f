//! `credit-gateway sample`: a deterministic sample department file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use credit_gateway::sim::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};

#[derive(Args)]
pub struct SampleArgs {
    /// XK (行政许可) or CF (行政处罚).
    #[arg(long, default_value = "CF")]
    item: String,
    #[arg(long, default_value_t = 1000)]
    rows: u64,
    /// Share of rows with exactly one problem each (0–1).
    #[arg(long, default_value_t = 0.05)]
    bad: f64,
    /// Share of 简易程序 rows (CF only), which are filtered out.
    #[arg(long, default_value_t = 0.02)]
    summary: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// csv, csv-bom, csv-gbk, xlsx or xlsx-title.
    #[arg(long, default_value = "csv")]
    format: String,
    /// First decision date; dates spread over --days days.
    #[arg(long, default_value = "2024-01-01")]
    first_date: chrono::NaiveDate,
    #[arg(long, default_value_t = 365)]
    days: u32,
    out: PathBuf,
}

/// Writes the file and prints what is in it (JSON).
pub fn run(args: SampleArgs) -> anyhow::Result<ExitCode> {
    let SampleArgs { item, rows, bad, summary, seed, format, first_date, days, out } = args;
    let item = match item.as_str() {
        "CF" | "cf" => SampleItem::Penalties,
        "XK" | "xk" => SampleItem::Licences,
        other => anyhow::bail!("未知事项 {other:?}（可选：XK 行政许可、CF 行政处罚）"),
    };
    let format = match format.as_str() {
        "csv" => SampleFormat::Csv,
        "csv-bom" => SampleFormat::CsvBom,
        "csv-gbk" => SampleFormat::CsvGbk,
        "xlsx" => SampleFormat::Xlsx { title_row: false },
        "xlsx-title" => SampleFormat::Xlsx { title_row: true },
        other => anyhow::bail!("未知格式 {other:?}（可选：csv、csv-bom、csv-gbk、xlsx、xlsx-title）"),
    };
    let spec = SampleSpec {
        item,
        rows,
        seed,
        bad_share: bad,
        summary_share: summary,
        format,
        first_date,
        days,
        first_number: 0,
    };
    let summary = write_sample(&spec, &out).with_context(|| format!("写入 {} 失败", out.display()))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}
