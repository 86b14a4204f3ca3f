//! `credit-gateway bench …`: the hot-path benchmarks, run on this machine's real stores.
//!
//! Each prints one JSON line with the figures, so the README's numbers can be reproduced.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Settings;
use crate::ingest::{IngestOptions, ingest_file};
use crate::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest a generated 行政处罚 CSV into a fresh database and report rows/s and peak RSS.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// `sqlite` (a fresh file) or a postgres:// URL (a fresh database is created on it).
        #[arg(long, default_value = "sqlite")]
        database: String,
        /// Share of bad rows in the generated file.
        #[arg(long, default_value_t = 0.02)]
        bad: f64,
        /// Folder for the generated file and SQLite database (default: a temporary one).
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
}

pub async fn run(config: &Path, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest { rows, database, bad, workdir } => {
            bench_ingest(config, rows, &database, bad, workdir).await
        }
    }
}

async fn bench_ingest(
    config: &Path,
    rows: u64,
    database: &str,
    bad: f64,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let tmp;
    let dir = match workdir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            tmp = tempfile::Builder::new().prefix("cg-bench").tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let file = dir.join(format!("cf-{rows}-{bad}.csv"));
    if !file.exists() {
        let spec = SampleSpec {
            item: SampleItem::Penalties,
            rows,
            seed: 7,
            bad_share: bad,
            summary_share: 0.01,
            format: SampleFormat::Csv,
            first_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date"),
            days: 700,
        };
        let t = Instant::now();
        write_sample(&spec, &file).context("generating the sample file")?;
        eprintln!("generated {} in {:.1} s", file.display(), t.elapsed().as_secs_f64());
    }
    let mut settings = Settings::load(config)?;
    let (url, cleanup) = if database == "sqlite" {
        let db = dir.join(format!("bench-{}.db", std::process::id()));
        (format!("sqlite://{}", db.display()), Cleanup::SqliteFile(db))
    } else {
        let (url, name) = fresh_postgres_database(database).await?;
        (url, Cleanup::Postgres { admin: database.to_string(), name })
    };
    settings.gateway.database_url = url.clone();
    let store = Store::connect(&url).await?;
    let connector = "market-penalties";
    let opts =
        IngestOptions { report_path: Some(dir.join("bench.errors.csv")), progress: false, now: chrono::Utc::now() };
    let t = Instant::now();
    let summary = ingest_file(&settings, &store, connector, &file, &opts).await?;
    let secs = t.elapsed().as_secs_f64();
    store.close().await;
    let figures = serde_json::json!({
        "bench": "ingest",
        "backend": if database == "sqlite" { "sqlite" } else { "postgres" },
        "rows": summary.rows,
        "accepted": summary.accepted,
        "rejected": summary.rejected,
        "skipped": summary.skipped,
        "seconds": (secs * 100.0).round() / 100.0,
        "rows_per_sec": (summary.rows as f64 / secs).round(),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{figures}");
    cleanup.run().await;
    Ok(())
}

enum Cleanup {
    SqliteFile(PathBuf),
    Postgres { admin: String, name: String },
}

impl Cleanup {
    async fn run(self) {
        match self {
            Cleanup::SqliteFile(db) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = db.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { admin, name } => {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&pool).await;
                }
            }
        }
    }
}

/// Creates an empty database beside the one `admin_url` names; returns its URL and name.
pub async fn fresh_postgres_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    let pool = sqlx::PgPool::connect(admin_url).await.context("connecting to PostgreSQL")?;
    let name = format!("cg_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
    pool.close().await;
    let base = match admin_url.rfind('/') {
        Some(i) if i > "postgres://".len() => &admin_url[..i],
        _ => admin_url,
    };
    Ok((format!("{base}/{name}"), name))
}

/// Peak resident memory of this process (VmHWM), in MB.
pub fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
