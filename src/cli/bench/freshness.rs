//! `bench freshness`: how long a file dropped into a watched folder takes until every valid
//! row of it is accepted at the provincial platform, against the one-shot ingest of the same
//! file (what `bench ingest` times), measured in the same run.
//!
//! A real `run` daemon in its own process takes the file (the market-penalties folder
//! connector, settling for 1 s) and pushes to the sandbox platform in a process of its own;
//! the clock runs from the rename into the inbox until the platform's count of accepted
//! 行政处罚 records reaches the file's valid rows. Everything made is in the work folder and
//! the processes are stopped, whatever happens.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::store::Store;

/// How long the daemon has to take the file and deliver it.
const LIMIT: Duration = Duration::from_secs(900);

pub async fn bench_freshness(config: &Path, clock: &Clock, rows: u64, workdir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = super::work_dir(workdir, &mut guard)?;
    let file = super::recent_penalties(&dir, clock, rows)?;
    let (mut sandbox, port) = super::sandbox_platform(config)?;
    let measured = tokio::select! {
        m = freshness(config, clock, &dir, &file, port) => m,
        why = super::interrupted() => Err(anyhow::anyhow!("{why}")),
    };
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    // The installation and its store go; a generated file in a given work folder stays, to be
    // used again.
    let _ = std::fs::remove_dir_all(dir.join("freshness-install"));
    let _ = std::fs::remove_file(dir.join("freshness.errors.csv"));
    println!("{}", measured?);
    Ok(())
}

/// The daemon in its own process, stopped when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn freshness(
    config: &Path,
    clock: &Clock,
    dir: &Path,
    file: &Path,
    port: u16,
) -> anyhow::Result<serde_json::Value> {
    // The one-shot ingest of the file into a fresh store: the reference, and the number of
    // valid rows the platform must end up with.
    let settings = Settings::load(config)?;
    let db = dir.join("freshness-ingest.db");
    let url = format!("sqlite://{}", db.display());
    let store = Store::connect(&url).await?;
    let report_path = Some(dir.join("freshness.errors.csv"));
    let opts = IngestOptions { report_path, progress: false, clock: clock.clone(), source: None };
    let t = Instant::now();
    let summary = ingest_file(&settings, &store, "market-penalties", file, &opts).await;
    let ingest_seconds = t.elapsed().as_secs_f64();
    store.close().await;
    super::Cleanup::SqliteFile(db).run().await;
    let expected = summary?.accepted;

    // A fresh installation whose market-penalties connector watches `inbox`.
    let install = dir.join("freshness-install");
    if install.exists() {
        std::fs::remove_dir_all(&install)?;
    }
    std::fs::create_dir_all(&install)?;
    let gateway = super::scale_config(config, &install, "sqlite://data/gateway.db", port, 500)?;
    let connector = "version = 1\ndepartment = \"market\"\nitem = \"CF\"\nmapping = \"market-penalties\"\n\
                     kind = \"folder\"\n[folder]\ninbox = \"inbox\"\nsettle_seconds = 1\npoll_seconds = 1\n";
    std::fs::write(install.join("connectors/market-penalties.toml"), connector)?;
    let inbox = install.join("inbox");
    std::fs::create_dir_all(&inbox)?;
    // The file waits beside the inbox, on the same file system, to be renamed in at once.
    let staged = install.join("staged.csv");
    std::fs::copy(file, &staged)?;

    let daemon = Daemon(super::run_daemon(&gateway)?);
    // Up once its store is made and its connector has looked at the empty inbox.
    let started = Instant::now();
    while !install.join("data/gateway.db").exists() {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "the daemon made no store");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let sandbox = format!("http://127.0.0.1:{port}/sandbox/stats");
    let http = credit_gateway::http_client::builder(Duration::from_secs(30)).build()?;
    let accepted = async || -> anyhow::Result<u64> {
        let stats: serde_json::Value = http.get(&sandbox).send().await?.json().await?;
        Ok(stats["platforms"]["provincial"]["CF"]["accepted"].as_u64().unwrap_or(0))
    };
    let before = accepted().await?;
    let t = Instant::now();
    std::fs::rename(&staged, inbox.join("penalties.csv")).context("dropping the file")?;
    let mut first_accepted = None;
    loop {
        let now = accepted().await? - before;
        if now > 0 && first_accepted.is_none() {
            first_accepted = Some(t.elapsed().as_secs_f64());
        }
        if now >= expected {
            break;
        }
        anyhow::ensure!(t.elapsed() < LIMIT, "{now} of {expected} records accepted after {} s", LIMIT.as_secs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = t.elapsed().as_secs_f64();
    drop(daemon);
    let round = |s: f64| (s * 100.0).round() / 100.0;
    Ok(serde_json::json!({
        "bench": "freshness",
        "rows": expected,
        "settle_seconds": 1,
        "ingest_seconds": round(ingest_seconds),
        "drop_to_first_accepted_seconds": first_accepted.map(round),
        "drop_to_all_accepted_seconds": round(seconds),
        "ratio_to_ingest": round(seconds / ingest_seconds),
        "target_ratio": 2.0,
        "load_average": super::load_average(),
    }))
}
