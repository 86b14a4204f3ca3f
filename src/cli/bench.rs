//! `credit-gateway bench …`: the hot-path benchmarks, run on this machine's real stores.
//!
//! Each prints one JSON line with the figures, so the README's numbers can be reproduced.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;

use credit_gateway::calendar::{Calendar, CalendarYear};
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};
use credit_gateway::store::Store;
use credit_gateway::store::scratch;

mod cgroup;
mod compare;
mod freshness;
mod hostile;
mod soak;
mod subjects;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The gateway's ingest of FILE (a UTF-8 CSV) beside `sqlite3 .import` into a table of text
    /// columns keyed like the item (and, with --database, beside `psql \copy`), same file,
    /// same run: rows/s and the gateway's ratio to each.
    Compare {
        file: PathBuf,
        #[arg(long, default_value = "market-penalties")]
        connector: String,
        /// A postgres:// URL: also the gateway on PostgreSQL and `psql \copy` (fresh databases
        /// made on it and dropped after).
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Fill SQLite with records, some with provisional deadlines; time a month's figures and
    /// the recomputation when the missing year's calendar arrives.
    Deadlines {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// How many of them are decided in the last days of 2026 (deadlines reach into 2027).
        #[arg(long, default_value_t = 100_000)]
        provisional: u64,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Ingest generated records into a fresh SQLite store, then push them all through HTTP JSON
    /// to the sandbox platform on loopback; report records/s, the rate of a minimal client
    /// posting the same records in the same run, and the resident memory.
    Deliver {
        #[arg(long, default_value_t = 200_000)]
        rows: u64,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Import the sandbox platform's subject library first, so every push runs the
        /// subject-library pre-check (compare with a run without it).
        #[arg(long)]
        precheck: bool,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// A generated 行政处罚 CSV dropped into the market-penalties inbox of a real `run` daemon
    /// (settling 1 s) pushing to the sandbox platform: the seconds until every valid row is
    /// accepted there, against the one-shot ingest of the same file in the same run.
    Freshness {
        #[arg(long, default_value_t = 200_000)]
        rows: u64,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// The same generated 行政处罚 CSV, once through one-shot `ingest` and once dropped into the
    /// market-penalties inbox and taken by the folder connector, each into a fresh SQLite
    /// store; report both rates, their ratio and the connector's resident memory over time.
    Folder {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// `run` in this process with every shipped connector, destination and feed, on a copy of
    /// the configuration with empty inboxes, a fresh SQLite store and nothing listening where
    /// the department APIs and platforms would be (those connectors must back off, not spin);
    /// report the process's CPU time over the window and its share of one core.
    Idle {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// A real `run` daemon on a fresh SQLite store, pushing to the sandbox platform with faults,
    /// while files are dropped into its market inbox without pause (good, bad, replaced while
    /// read, cut while read, unreadable, links), and the daemon is killed (SIGKILL) and started
    /// again once a minute. At the end: every good row stored and accepted once at the sandbox,
    /// every bad file in failed/ with its reason, sampled RSS under 400 MB; exits non-zero if not.
    Soak {
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Files built to hit every reader limit at once (a workbook with shared strings just
    /// under the limit and rows just under the row limit, a CSV of such rows), each taken by
    /// one-shot `ingest`, then all at once by a `run` daemon with the workbook in two inboxes;
    /// report each process's peak RSS; exits non-zero when one reaches 400 MB.
    Hostile {
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
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
        /// Parts of ingest turned off in this run, to measure what they cost.
        #[arg(long, value_enum, value_delimiter = ',')]
        without: Vec<Without>,
        /// Folder for the generated file and SQLite database (default: a temporary one).
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Deliver records already stored in PostgreSQL with 1, 2 or 3 gateway instances (real
    /// `run` processes sharing the database) to the sandbox platform in its own process;
    /// records/s from the instances' start until the last delivery is accepted.
    Scale {
        #[arg(long, default_value_t = 200_000)]
        rows: u64,
        /// Instance counts to measure, each on a fresh database.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        instances: Vec<usize>,
        /// The PostgreSQL server (a fresh database is made and dropped on it).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        database: String,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Puts each instance in a cgroup of its own (v1 cpu controller) limited to this share
        /// of one core, so instances behave as separate small machines.
        #[arg(long)]
        cpu_quota: Option<f64>,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// `rows` penalties about `subjects` enterprises in a fresh SQLite store: time linking them
    /// to their subjects, the subject search and the credit file page over HTTP (one request
    /// after another), and grading every subject.
    Subjects {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 200_000)]
        subjects: u64,
        #[arg(long, default_value_t = 400)]
        requests: usize,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Fill SQLite with records, add an ops user and serve the dashboard in this process on
    /// loopback; time GET /api/v1/overview one request after another, then load the 总览 page
    /// from concurrent clients (reqwest in tokio, in this same process) and report requests/s.
    Web {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Sequential GET /api/v1/overview requests to time.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Concurrent clients loading the 总览 page.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// How long the clients load the page.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
}

/// Runs one benchmark; what it stores is stamped by `clock`.
pub async fn run(config: &Path, clock: &Clock, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest { rows, database, bad, without, workdir } => {
            bench_ingest(config, clock, rows, &database, bad, &without, workdir).await
        }
        BenchCommand::Compare { file, connector, database, workdir } => {
            compare::bench_compare(config, clock, &file, &connector, database.as_deref(), workdir).await
        }
        BenchCommand::Deadlines { rows, provisional, workdir } => {
            bench_deadlines(config, clock, rows, provisional, workdir).await
        }
        BenchCommand::Deliver { rows, batch, precheck, workdir } => {
            bench_deliver(config, clock, rows, batch, precheck, workdir).await
        }
        BenchCommand::Folder { rows, workdir } => bench_folder(config, clock, rows, workdir).await,
        BenchCommand::Idle { seconds, workdir } => bench_idle(config, clock, seconds, workdir).await,
        BenchCommand::Hostile { workdir } => hostile::bench_hostile(config, workdir).await,
        BenchCommand::Soak { minutes, workdir } => soak::bench_soak(config, minutes, workdir).await,
        BenchCommand::Freshness { rows, workdir } => freshness::bench_freshness(config, clock, rows, workdir).await,
        BenchCommand::Scale { rows, instances, database, batch, cpu_quota, workdir } => {
            bench_scale(config, clock, rows, &instances, &database, batch, cpu_quota, workdir).await
        }
        BenchCommand::Subjects { rows, subjects, requests, workdir } => {
            subjects::bench_subjects(config, clock, rows, subjects, requests, workdir).await
        }
        BenchCommand::Web { rows, requests, clients, seconds, workdir } => {
            bench_web(config, clock, rows, requests, clients, seconds, workdir).await
        }
    }
}

async fn bench_ingest(
    config: &Path,
    clock: &Clock,
    rows: u64,
    database: &str,
    bad: f64,
    without: &[Without],
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let file = dir.join(format!("cf-{rows}-{bad}.csv"));
    let first = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
    penalties_file(&file, rows, bad, 0.01, first, 700)?;
    let mut settings = Settings::load(config)?;
    let connector = "market-penalties";
    for w in without {
        w.apply(&mut settings, connector)?;
    }
    let (url, cleanup) = if database == "sqlite" {
        let db = dir.join(format!("bench-{}.db", std::process::id()));
        (format!("sqlite://{}", db.display()), Cleanup::SqliteFile(db))
    } else {
        let (url, name) = fresh_postgres_database(database).await?;
        (url, Cleanup::Postgres { admin: database.to_string(), name })
    };
    settings.gateway.database_url = url.clone();
    // The database goes whatever happens: an error, or ^C while it runs.
    let measured = tokio::select! {
        m = measure_ingest(&settings, clock, &url, connector, &file, &dir, first) => m,
        reason = interrupted() => Err(anyhow::anyhow!("{reason}")),
    };
    cleanup.run().await;
    let mut figures = measured?;
    figures["backend"] = if database == "sqlite" { "sqlite" } else { "postgres" }.into();
    figures["without"] = without.iter().map(|w| format!("{w:?}").to_lowercase()).collect::<Vec<_>>().into();
    figures["load_average"] = load_average().into();
    println!("{figures}");
    Ok(())
}

/// What `bench ingest --without` turns off, in this benchmark's settings only, to show what
/// a part of ingest costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Without {
    /// No publicity block computed or stored (the item's rule in publicity.toml removed).
    Publicity,
    /// No checks beyond each field's own (the subject code and name, the amounts' stated text
    /// and ceilings unknown to the item): no decision or 重码 lookups, no row-level checks.
    Checks,
}

impl Without {
    fn apply(self, settings: &mut Settings, connector: &str) -> anyhow::Result<()> {
        let connector = settings.connector(connector).context("the connector")?.clone();
        match self {
            Without::Publicity => settings.publicity.items.retain(|r| r.item != connector.item),
            Without::Checks => {
                let mapping = settings
                    .mappings
                    .iter_mut()
                    .find(|m| m.name == connector.mapping)
                    .context("the connector's mapping")?;
                let item = std::sync::Arc::make_mut(&mut mapping.item);
                item.subject_code = None;
                item.subject_name = None;
                item.subject_kind = None;
                item.decision_key.clear();
                for field in &mut item.fields {
                    if let credit_gateway::catalogue::FieldKind::Decimal { plausible_max, stated_in, .. } =
                        &mut field.kind
                    {
                        *plausible_max = None;
                        *stated_in = None;
                    }
                }
            }
        }
        Ok(())
    }
}

async fn measure_ingest(
    settings: &Settings,
    clock: &Clock,
    url: &str,
    connector: &str,
    file: &Path,
    dir: &Path,
    first: chrono::NaiveDate,
) -> anyhow::Result<serde_json::Value> {
    let store = Store::connect(url).await?;
    let opts = IngestOptions {
        report_path: Some(dir.join("bench.errors.csv")),
        progress: false,
        clock: clock.clone(),
        source: None,
    };
    let before = store.storage_bytes().await?;
    let io_before = process_write_bytes();
    let cpu_before = thread_cpu_seconds();
    let t = Instant::now();
    let summary = ingest_file(settings, &store, connector, file, &opts).await;
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_spent(&cpu_before, &thread_cpu_seconds());
    let io_after = process_write_bytes();
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    let after = store.storage_bytes().await?;
    // The daily publicity pass on a day when about a day's decisions reach their planned end:
    // it reads the index of open records by planned end, not the table.
    // The first pass catches up with every period ended since the decisions; the next day's
    // pass finds that day's few.
    let due_day = first + chrono::Months::new(13);
    let t = Instant::now();
    let catch_up = store.publicity_pass(due_day - chrono::Days::new(1), clock.now()).await;
    let catch_up_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pass = store.publicity_pass(due_day, clock.now()).await;
    let pass_secs = t.elapsed().as_secs_f64();
    store.close().await;
    let (catch_up, pass) = (catch_up?, pass?);
    let per_row = |bytes: i64| (bytes as f64 / summary.rows.max(1) as f64).round();
    // Bytes written: SQLite's by this process (WAL and checkpoints, /proc/self/io), PostgreSQL's
    // WAL (the server's, so other work on it counts too); the database's growth for both.
    let written = match (before.wal, after.wal) {
        (Some(b), Some(a)) => Some(a - b),
        _ => io_before.zip(io_after).map(|(b, a)| a - b),
    };
    Ok(serde_json::json!({
        "bench": "ingest",
        "rows": summary.rows,
        "accepted": summary.accepted,
        "rejected": summary.rejected,
        "skipped": summary.skipped,
        "seconds": (secs * 100.0).round() / 100.0,
        "rows_per_sec": (summary.rows as f64 / secs).round(),
        "peak_rss_mb": peak_rss_mb(),
        "cpu_seconds": cpu,
        "bytes_written_per_row": written.map(per_row),
        "database_bytes_per_row": per_row(after.database - before.database),
        "publicity_catch_up_ended": catch_up.ended,
        "publicity_catch_up_ms": (catch_up_secs * 1000.0).round(),
        "publicity_pass_day": due_day.to_string(),
        "publicity_pass_ended": pass.ended,
        "publicity_pass_ms": (pass_secs * 1000.0).round(),
    }))
}

/// Resolves on ^C (SIGINT) or SIGTERM (`timeout`, `kill`): a benchmark then removes what it
/// made before it exits.
pub(crate) async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
    }
}

/// Bytes this process has caused to be written to storage (/proc/self/io `write_bytes`).
fn process_write_bytes() -> Option<i64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok())
}

/// CPU seconds (user + system) each live thread of this process has used, by thread name
/// (threads of one name summed): where an ingest's time goes, steadier than the wall clock on
/// a shared machine. Linux only; empty elsewhere.
fn thread_cpu_seconds() -> std::collections::BTreeMap<String, f64> {
    let mut spent = std::collections::BTreeMap::new();
    // `pid (comm) state …`: the name may hold spaces and parentheses, so split at the last ')';
    // utime and stime are the 14th and 15th fields, in clock ticks (100 a second on Linux).
    let read = |path: std::path::PathBuf| -> Option<(String, f64)> {
        let stat = std::fs::read_to_string(path).ok()?;
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        Some((stat[open + 1..close].to_string(), (ticks(11) + ticks(12)) / 100.0))
    };
    // The process's own line counts threads that have ended too (the writer's SQLite thread ends
    // with its connection).
    if let Some((_, all)) = read("/proc/self/stat".into()) {
        spent.insert("process".to_string(), all);
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return spent };
    for task in tasks.flatten() {
        if let Some((name, used)) = read(task.path().join("stat")) {
            *spent.entry(format!("thread {name}")).or_insert(0.0) += used;
        }
    }
    spent
}

/// What each thread name (and the whole process) used between two [`thread_cpu_seconds`]
/// readings.
fn cpu_spent(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (name, a) in after {
        let used = a - before.get(name).copied().unwrap_or(0.0);
        out.insert(name.clone(), ((used * 100.0).round() / 100.0).into());
    }
    out.into()
}

/// The 1-minute load average, as `uptime` shows it.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

async fn bench_folder(config: &Path, clock: &Clock, rows: u64, workdir: Option<PathBuf>) -> anyhow::Result<()> {
    use credit_gateway::connector::{SourceSettings, runner::run_pass};
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let file = dir.join(format!("cf-{rows}-0.02.csv"));
    let first = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
    penalties_file(&file, rows, 0.02, 0.01, first, 700)?;
    let settings = Settings::load(config)?;
    let fresh_store = |name: &str| {
        let mut settings = Settings::load(config)?;
        let db = dir.join(format!("{name}-{}.db", std::process::id()));
        settings.gateway.database_url = format!("sqlite://{}", db.display());
        anyhow::Ok((settings, db))
    };

    // The folder connector first, so the peak memory it reports is its own.
    let (folder_settings, folder_db) = fresh_store("folder")?;
    let mut connector = settings.connector("market-penalties").context("the market-penalties connector")?.clone();
    let SourceSettings::Folder(folder) = &mut connector.source else { anyhow::bail!("market-penalties is no folder") };
    let inbox = dir.join("inbox");
    folder.inbox = inbox.clone();
    folder.processed = dir.join("processed");
    folder.failed = dir.join("failed");
    folder.outbox = dir.join("outbox");
    folder.settle = std::time::Duration::ZERO;
    connector.outbox = folder.outbox.clone();
    std::fs::create_dir_all(&inbox)?;
    std::fs::copy(&file, inbox.join("cf.csv"))?;
    let store = Store::connect(&folder_settings.gateway.database_url).await?;
    let mapping = folder_settings.mapping(&connector.mapping).context("the connector's mapping")?;
    let mut source = connector.open_source(mapping, clock)?;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut rss = Vec::new();
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                rss.extend(current_rss_mb());
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            rss
        })
    };
    let t = Instant::now();
    let report = run_pass(&folder_settings, &store, &connector, source.as_mut(), clock, &stop).await;
    let folder_secs = t.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let rss = sampler.join().unwrap_or_default();
    anyhow::ensure!(report.error.is_none(), "connector pass failed: {:?}", report.error);
    let folder_rows = report.rows();
    anyhow::ensure!(folder_rows == rows, "the connector took {folder_rows} rows of {rows}");
    store.close().await;
    Cleanup::SqliteFile(folder_db).run().await;

    let (ingest_settings, ingest_db) = fresh_store("oneshot")?;
    let store = Store::connect(&ingest_settings.gateway.database_url).await?;
    let opts = IngestOptions {
        report_path: Some(dir.join("oneshot.errors.csv")),
        progress: false,
        clock: clock.clone(),
        source: None,
    };
    let t = Instant::now();
    let summary = ingest_file(&ingest_settings, &store, "market-penalties", &file, &opts).await?;
    let ingest_secs = t.elapsed().as_secs_f64();
    store.close().await;
    Cleanup::SqliteFile(ingest_db).run().await;

    let folder_rate = folder_rows as f64 / folder_secs;
    let ingest_rate = summary.rows as f64 / ingest_secs;
    // Memory after the first fifth of the run, when the pipeline's buffers are all allocated.
    let steady = &rss[rss.len() / 5..];
    let figures = serde_json::json!({
        "bench": "folder",
        "rows": rows,
        "folder_rows_per_sec": folder_rate.round(),
        "ingest_rows_per_sec": ingest_rate.round(),
        "folder_vs_ingest": (folder_rate / ingest_rate * 1000.0).round() / 1000.0,
        "folder_rss_mb_steady_min": steady.iter().min(),
        "folder_rss_mb_steady_max": steady.iter().max(),
        "folder_rss_mb_samples": rss.len(),
    });
    println!("{figures}");
    Ok(())
}

async fn bench_idle(config: &Path, clock: &Clock, seconds: u64, workdir: Option<PathBuf>) -> anyhow::Result<()> {
    use std::time::Duration;
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let shipped = Settings::load(config)?;
    for sub in ["config", "connectors", "mappings"] {
        credit_gateway::sim::demo::copy_tree(&shipped.gateway.base_dir.join(sub), &dir.join(sub))?;
    }
    let gateway = dir.join("config/gateway.toml");
    credit_gateway::sim::demo::set_in_gateway(&gateway, Some("sqlite://data/gateway.db"), None)?;
    // A port just given back: every connection to it is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    credit_gateway::sim::demo::point_at(&dir, closed, closed, "127.0.0.1:0".parse()?)?;
    // With their secrets the API connectors get as far as the refused connection, and retry.
    std::fs::create_dir_all(dir.join("data/secrets"))?;
    for secret in ["tax-api.token", "court-api.key"] {
        std::fs::write(dir.join("data/secrets").join(secret), "bench\n")?;
    }

    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = credit_gateway::daemon::run_with(
        &gateway,
        clock.clone(),
        async {
            let _ = stop_rx.await;
        },
        |addr| {
            let _ = addr_tx.send(addr);
        },
    );
    let measure = async {
        let measured = async {
            addr_rx.await.context("the daemon stopped before its dashboard listened")?;
            // Migrations, the first passes and the first failed pulls are start-up, not idling.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let (cpu_before, t) = (cpu_seconds()?, Instant::now());
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            anyhow::Ok((cpu_seconds()? - cpu_before, t.elapsed().as_secs_f64()))
        }
        .await;
        let _ = stop_tx.send(());
        measured
    };
    let (ran, measured) = tokio::join!(daemon, measure);
    ran?;
    let (cpu, secs) = measured?;
    let figures = serde_json::json!({
        "bench": "idle",
        "seconds": (secs * 100.0).round() / 100.0,
        "cpu_seconds": (cpu * 1000.0).round() / 1000.0,
        "cpu_share": (cpu / secs * 10_000.0).round() / 10_000.0,
    });
    println!("{figures}");
    Ok(())
}

/// CPU time this process has used, user and system, all threads (/proc/self/stat, in the
/// kernel's fixed 100 ticks a second).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The command name may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat.rsplit_once(')').context("/proc/self/stat")?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).context("/proc/self/stat field");
    // utime and stime are fields 14 and 15; counted from the state (field 3) they are 11 and 12.
    Ok((ticks(11)? + ticks(12)?) as f64 / 100.0)
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
                if let Err(e) = scratch::drop_postgres_database(&admin, &name).await {
                    tracing::warn!(database = %name, error = %e, "cannot drop the benchmark's database");
                }
            }
        }
    }
}

/// A fresh PostgreSQL database on the server `admin_url` names: (URL, name).
async fn fresh_postgres_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    scratch::fresh_postgres_database(admin_url).await.context("making a fresh PostgreSQL database")
}

async fn bench_deliver(
    config: &Path,
    clock: &Clock,
    rows: u64,
    batch: usize,
    precheck: bool,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    use credit_gateway::delivery::worker::Pusher;
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let file = recent_penalties(&dir, clock, rows)?;
    let mut settings = Settings::load(config)?;
    let db = dir.join(format!("deliver-{}.db", std::process::id()));
    settings.gateway.database_url = format!("sqlite://{}", db.display());
    // The platform runs in its own process, so this process's memory is the gateway's alone.
    let (mut sandbox, port) = sandbox_platform(config)?;
    let mut destination = settings.destination("provincial").context("a provincial destination")?.clone();
    destination.url = Some(format!("http://127.0.0.1:{port}/platforms/provincial/json").parse()?);
    destination.batch_size = batch;
    destination.rate_per_second = 10_000.0;
    settings.destinations = vec![destination.clone()];
    let store = Store::connect(&settings.gateway.database_url).await?;
    let opts = IngestOptions {
        report_path: Some(dir.join("deliver.errors.csv")),
        progress: false,
        clock: clock.clone(),
        source: None,
    };
    let t = Instant::now();
    let summary = ingest_file(&settings, &store, "market-penalties", &file, &opts).await?;
    eprintln!("ingested {} records in {:.1} s", summary.accepted, t.elapsed().as_secs_f64());

    let mut library = 0;
    if precheck {
        // The library holds every stored subject under its own name: every lookup finds its
        // subject and nothing is returned, so the pre-check's whole cost is on the push. A code
        // the generated records give two names (their 重码) is left out of it: whichever name
        // it held, the other's records would be returned, and the run would time the return
        // path, not the pre-check (those codes' lookups find nothing and push as usual).
        let item = settings.catalogue.item("CF").context("the CF item")?;
        let (Some(ci), Some(ni)) = (item.subject_code, item.subject_name) else {
            anyhow::bail!("the CF item names no subject code and name")
        };
        let (code_key, name_key) = (item.fields[ci].key.clone(), item.fields[ni].key.clone());
        let mut names: std::collections::HashMap<String, Option<String>> = std::collections::HashMap::new();
        let mut after = 0;
        loop {
            let rows = store.records_after(after, 10_000).await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (_, _, content) in rows {
                let data: serde_json::Value = serde_json::from_str(&content)?;
                if let (Some(code), Some(name)) = (data[&code_key].as_str(), data[&name_key].as_str()) {
                    let known = names.entry(code.to_string()).or_insert_with(|| Some(name.to_string()));
                    if known.as_deref() != Some(name) {
                        *known = None;
                    }
                }
            }
        }
        let subjects: Vec<(String, String)> =
            names.into_iter().filter_map(|(code, name)| Some((code, name?))).collect();
        library = store.replace_subject_library(&subjects, "bench", clock.now()).await?;
    }
    // The same records posted by the simplest client a data office would script, first (so a
    // platform slowed by what it already holds slows the gateway, not the reference).
    let url = destination.url.clone().context("the provincial URL")?;
    let minimal = minimal_client(&store, url.as_str(), batch).await?;
    let pusher = Pusher::new(&settings, destination, "bench", clock.clone());
    // Resident memory sampled while the lanes push, in the same task: (min, max).
    let mut rss = [u64::MAX, 0];
    let sampling = async {
        loop {
            if let Some(mb) = current_rss_mb() {
                rss = [rss[0].min(mb), rss[1].max(mb)];
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let t = Instant::now();
    let counts = tokio::select! {
        counts = pusher.push_all(&store) => counts?,
        () = sampling => unreachable!("the sampler loops until the pushes end"),
    };
    let seconds = t.elapsed().as_secs_f64();
    let (accepted, pushes) = (counts.accepted, counts.pushes);
    let figures = serde_json::json!({
        "bench": "deliver",
        "adapter": "http_json",
        "precheck_library_subjects": library,
        "records": accepted,
        "batch": batch,
        "pushes": pushes,
        "seconds": (seconds * 100.0).round() / 100.0,
        "records_per_sec": (accepted as f64 / seconds).round(),
        "minimal_client_records": minimal.0,
        "minimal_client_records_per_sec": (minimal.0 as f64 / minimal.1).round(),
        "ratio_to_minimal_client": ((accepted as f64 / seconds) / (minimal.0 as f64 / minimal.1) * 100.0).round() / 100.0,
        "rss_mb_min": rss[0],
        "rss_mb_max": rss[1],
        "rss": "this process (the gateway); the sandbox platform runs in its own process",
    });
    println!("{figures}");
    store.close().await;
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    Cleanup::SqliteFile(db).run().await;
    Ok(())
}

/// The reference for `bench deliver`: every stored record posted to `url` in JSON packages of
/// `batch`, four at a time as the gateway does, by a bare reqwest client with no store, no
/// claim and no outcomes (keys of its own, so the platform takes them as new). Returns the
/// records the platform accepted and the seconds taken (reading the store included).
async fn minimal_client(store: &Store, url: &str, batch: usize) -> anyhow::Result<(u64, f64)> {
    // The one client builder only for its TLS provider; plain HTTP here.
    let client = credit_gateway::http_client::builder(std::time::Duration::from_secs(30)).build()?;
    let t = Instant::now();
    let (mut after, mut accepted, mut n) = (0i64, 0u64, 0u64);
    loop {
        let rows = store.records_after(after, (batch * 4) as i64).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let posts = rows.chunks(batch).map(|chunk| {
            n += 1;
            let records: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(id, _, content)| {
                    let data: Box<serde_json::value::RawValue> =
                        serde_json::value::RawValue::from_string(content.clone()).expect("stored content is JSON");
                    serde_json::json!({"key": format!("minimal-{id}"), "operation": "add", "data": data})
                })
                .collect();
            let body =
                serde_json::json!({"package_id": format!("minimal-{n}"), "item": chunk[0].1, "records": records});
            let client = &client;
            async move {
                let answer: serde_json::Value =
                    client.post(url).json(&body).send().await?.error_for_status()?.json().await?;
                let ok = answer["receipts"]
                    .as_array()
                    .map(|r| r.iter().filter(|r| r["status"] == "accepted").count())
                    .unwrap_or(0);
                anyhow::Ok(ok as u64)
            }
        });
        for answer in futures_util::future::join_all(posts).await {
            accepted += answer?;
        }
    }
    Ok((accepted, t.elapsed().as_secs_f64()))
}

/// A `run` daemon of the installation `gateway` in a process of its own, quiet, on its own
/// store (not one an environment variable names).
fn run_daemon(gateway: &Path) -> anyhow::Result<std::process::Child> {
    std::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(gateway)
        .arg("run")
        .env("RUST_LOG", "error")
        .env_remove("CREDIT_GATEWAY_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting the daemon")
}

/// The sandbox platform in a process of its own on a free port: (process, port).
fn sandbox_platform(config: &Path) -> anyhow::Result<(std::process::Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let sandbox = std::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(config)
        .args(["sandbox", "--platforms-only", "--platforms", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting the sandbox platform")?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(started.elapsed().as_secs() < 30, "the sandbox platform did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok((sandbox, port))
}

/// A gateway installation in `dir` for `bench scale`: the shipped configuration on
/// `database_url`, no connectors, one destination (the sandbox's provincial platform).
fn scale_config(config: &Path, dir: &Path, database_url: &str, port: u16, batch: usize) -> anyhow::Result<PathBuf> {
    let shipped = Settings::load(config)?;
    for sub in ["config", "mappings"] {
        credit_gateway::sim::demo::copy_tree(&shipped.gateway.base_dir.join(sub), &dir.join(sub))?;
    }
    // The connector whose mapping the bench ingests through; its inbox stays empty.
    std::fs::create_dir_all(dir.join("connectors"))?;
    let penalties = "market-penalties.toml";
    std::fs::copy(shipped.gateway.connectors_dir.join(penalties), dir.join("connectors").join(penalties))?;
    let destinations = dir.join("config/destinations");
    for entry in std::fs::read_dir(&destinations)? {
        std::fs::remove_file(entry?.path())?;
    }
    let destination = format!(
        "version = 1\ntitle = \"省公共信用信息平台\"\nitems = [\"CF\"]\nadapter = \"http_json\"\n\
         url = \"http://127.0.0.1:{port}/platforms/provincial/json\"\ndeadline = true\nbatch_size = {batch}\n\
         rate_per_second = 10000\ntimeout_seconds = 30\nlease_seconds = 30\n"
    );
    std::fs::write(destinations.join("provincial.toml"), destination)?;
    let gateway = dir.join("config/gateway.toml");
    credit_gateway::sim::demo::set_in_gateway(&gateway, Some(database_url), Some("127.0.0.1:0".parse()?))?;
    Ok(gateway)
}

#[allow(clippy::too_many_arguments)]
async fn bench_scale(
    config: &Path,
    clock: &Clock,
    rows: u64,
    instances: &[usize],
    admin: &str,
    batch: usize,
    cpu_quota: Option<f64>,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let file = recent_penalties(&dir, clock, rows)?;
    let (mut sandbox, port) = sandbox_platform(config)?;
    let measured = scale_runs(config, clock, &dir, &file, port, instances, admin, batch, cpu_quota).await;
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    measured
}

/// One measurement per instance count, each on a fresh database.
#[allow(clippy::too_many_arguments)]
async fn scale_runs(
    config: &Path,
    clock: &Clock,
    dir: &Path,
    file: &Path,
    port: u16,
    instances: &[usize],
    admin: &str,
    batch: usize,
    cpu_quota: Option<f64>,
) -> anyhow::Result<()> {
    for &n in instances {
        anyhow::ensure!((1..=16).contains(&n), "--instances takes 1 to 16");
        let (url, name) = fresh_postgres_database(admin).await?;
        let install = dir.join(format!("scale-{n}"));
        let _ = std::fs::remove_dir_all(&install);
        let gateway = scale_config(config, &install, &url, port, batch)?;
        let settings = Settings::load(&gateway)?;
        let store = Store::connect(&url).await?;
        let opts = IngestOptions { report_path: None, progress: false, clock: clock.clone(), source: None };
        let summary = ingest_file(&settings, &store, "market-penalties", file, &opts).await?;
        let expected = i64::try_from(summary.accepted)?;

        let t = Instant::now();
        let mut children = Vec::new();
        let mut groups = Vec::new();
        for i in 0..n {
            let child = std::process::Command::new(std::env::current_exe()?)
                .arg("--config")
                .arg(&gateway)
                .arg("run")
                .env("RUST_LOG", "error")
                .env_remove("CREDIT_GATEWAY_DATABASE_URL")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            if let Some(cores) = cpu_quota {
                let group = cgroup::CpuGroup::new(&format!("credit-gateway-bench-{}-{i}", std::process::id()), cores)?;
                group.add(child.id())?;
                groups.push(group);
            }
            children.push(child);
        }
        let outcome = loop {
            let accepted =
                store.delivery_counts().await?.iter().filter(|c| c.1 == "accepted").map(|c| c.2).sum::<i64>();
            if accepted >= expected {
                break Ok(t.elapsed().as_secs_f64());
            }
            if t.elapsed().as_secs() > 1800 {
                break Err(anyhow::anyhow!("{accepted} of {expected} delivered after 30 minutes"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        };
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        drop(groups);
        store.close().await;
        Cleanup::Postgres { admin: admin.to_string(), name }.run().await;
        let seconds = outcome?;
        let figures = serde_json::json!({
            "bench": "scale",
            "instances": n,
            "records": expected,
            "batch": batch,
            "cpu_quota_per_instance": cpu_quota,
            "seconds": (seconds * 100.0).round() / 100.0,
            "records_per_sec": (expected as f64 / seconds).round(),
            "timing": "from starting the instances until the last delivery is accepted (startup included)",
        });
        println!("{figures}");
    }
    Ok(())
}

/// Which resident memory of a process to read.
#[derive(Clone, Copy)]
pub enum Rss {
    /// Now (`VmRSS`).
    Now,
    /// The peak so far (`VmHWM`).
    Peak,
}

/// A process's resident memory in MB, from /proc/<pid>/status (`None` for `pid`: this
/// process); `None` once the process is gone. The one reader of /proc memory for every bench.
pub fn rss_mb(pid: Option<u32>, rss: Rss) -> Option<u64> {
    let path = pid.map_or_else(|| "/proc/self/status".to_string(), |pid| format!("/proc/{pid}/status"));
    let key = match rss {
        Rss::Now => "VmRSS:",
        Rss::Peak => "VmHWM:",
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Resident memory of this process now (VmRSS), in MB.
pub fn current_rss_mb() -> Option<u64> {
    rss_mb(None, Rss::Now)
}

/// Peak resident memory of this process (VmHWM), in MB.
pub fn peak_rss_mb() -> Option<u64> {
    rss_mb(None, Rss::Peak)
}

/// A folder for generated files: the given one, or a temporary one kept alive by `guard`.
fn work_dir(workdir: Option<PathBuf>, guard: &mut Option<tempfile::TempDir>) -> anyhow::Result<PathBuf> {
    Ok(match workdir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            let tmp = tempfile::Builder::new().prefix("cg-bench").tempdir()?;
            let path = tmp.path().to_path_buf();
            *guard = Some(tmp);
            path
        }
    })
}

/// Writes a 行政处罚 sample file unless it is already there.
/// A file of `rows` penalties decided over the 60 days before the clock's day, all still in
/// their publicity period (3 months at least), so every one is pushed: older decisions would be
/// expired at the claim and never reach the platform.
fn recent_penalties(dir: &Path, clock: &Clock, rows: u64) -> anyhow::Result<PathBuf> {
    let first = clock.today() - chrono::Days::new(61);
    let file = dir.join(format!("cf-{rows}-deliver-{first}.csv"));
    penalties_file(&file, rows, 0.0, 0.0, first, 60)?;
    Ok(file)
}

fn penalties_file(
    path: &Path,
    rows: u64,
    bad: f64,
    summary: f64,
    first_date: chrono::NaiveDate,
    days: u32,
) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows,
        seed: 7,
        bad_share: bad,
        summary_share: summary,
        format: SampleFormat::Csv,
        first_date,
        days,
        first_number: 0,
    };
    let t = Instant::now();
    write_sample(&spec, path).context("generating the sample file")?;
    eprintln!("generated {} in {:.1} s", path.display(), t.elapsed().as_secs_f64());
    Ok(())
}

/// Fills SQLite with `rows` records, `provisional` of them decided in the last days of 2026
/// (their deadlines reach into 2027, which has no calendar file), then measures a month's
/// figures and the recomputation when a 2027 calendar is loaded.
async fn bench_deadlines(
    config: &Path,
    clock: &Clock,
    rows: u64,
    provisional: u64,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let date = |s: &str| s.parse::<chrono::NaiveDate>().expect("valid date");
    let main_file = dir.join(format!("deadlines-{}.csv", rows - provisional));
    let late_file = dir.join(format!("deadlines-late-{provisional}.csv"));
    penalties_file(&main_file, rows - provisional, 0.0, 0.0, date("2025-01-01"), 715)?;
    // Decided 2026-12-23 or later: the 7th working day is in 2027.
    penalties_file(&late_file, provisional, 0.0, 0.0, date("2026-12-23"), 9)?;
    let (settings, store, db) = fill_sqlite(config, clock, &dir, "bench-deadlines", &[&main_file, &late_file]).await?;
    let records = store.count_records(None).await?;
    let provisional_before = store.provisional_count().await?;

    // A month's figures, warm: the dashboard asks this again and again.
    let today = date("2026-04-10");
    let mut times = Vec::new();
    for _ in 0..25 {
        let t = Instant::now();
        let f = store.figures(today, Some("2026-03"), None).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(!f.is_empty(), "no figures for 2026-03");
    }
    times.sort_by(f64::total_cmp);

    // The 2027 notice arrives (synthetic: New Year's Day off), and every provisional deadline moves.
    let mut years: Vec<CalendarYear> =
        settings.calendar.years().iter().filter_map(|y| settings.calendar.year(*y).cloned()).collect();
    years.push(CalendarYear {
        year: 2027,
        notice: "bench".into(),
        notice_url: String::new(),
        holidays: vec![date("2027-01-01")],
        workdays: Vec::new(),
    });
    let calendar = Calendar::from_years(years);
    let t = Instant::now();
    let recomputed = store.recompute_provisional(&calendar, &settings.deadlines).await?;
    let recompute_secs = t.elapsed().as_secs_f64();
    let provisional_after = store.provisional_count().await?;
    store.close().await;
    Cleanup::SqliteFile(db).run().await;
    let figures = serde_json::json!({
        "bench": "deadlines",
        "records": records,
        "provisional_before": provisional_before,
        "recomputed": recomputed,
        "provisional_after": provisional_after,
        "recompute_seconds": (recompute_secs * 1000.0).round() / 1000.0,
        "month_figures_ms_p50": (times[times.len() / 2] * 10.0).round() / 10.0,
        "month_figures_ms_p95": (times[times.len() * 95 / 100] * 10.0).round() / 10.0,
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{figures}");
    Ok(())
}

/// A fresh SQLite store in `dir` with `files` (行政处罚 CSV) ingested through market-penalties.
async fn fill_sqlite(
    config: &Path,
    clock: &Clock,
    dir: &Path,
    name: &str,
    files: &[&Path],
) -> anyhow::Result<(Settings, Store, PathBuf)> {
    let mut settings = Settings::load(config)?;
    let db = dir.join(format!("{name}-{}.db", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    settings.gateway.database_url = url.clone();
    let store = Store::connect(&url).await?;
    for file in files {
        let opts = IngestOptions {
            report_path: Some(dir.join("bench.errors.csv")),
            progress: false,
            clock: clock.clone(),
            source: None,
        };
        let t = Instant::now();
        let s = ingest_file(&settings, &store, "market-penalties", file, &opts).await?;
        eprintln!("ingested {} rows in {:.1} s", s.rows, t.elapsed().as_secs_f64());
    }
    Ok((settings, store, db))
}

/// The `p`th percentile of sorted milliseconds, to a tenth.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |v| (v * 10.0).round() / 10.0)
}

/// Milliseconds to a tenth.
fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The dashboard with `rows` records: GET /api/v1/overview one after another (p50/p95/max),
/// then GET / with a session cookie from `clients` concurrent clients for `seconds`.
async fn bench_web(
    config: &Path,
    clock: &Clock,
    rows: u64,
    requests: usize,
    clients: usize,
    seconds: u64,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    use credit_gateway::web::{AppState, auth};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    anyhow::ensure!(requests > 0 && clients > 0 && seconds > 0, "--requests, --clients and --seconds must be above 0");
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    // The same file as `bench deadlines` with no provisional records, so a workdir serves both.
    let file = dir.join(format!("deadlines-{rows}.csv"));
    let first = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date");
    penalties_file(&file, rows, 0.0, 0.0, first, 715)?;
    let (settings, store, db) = fill_sqlite(config, clock, &dir, "bench-web", &[&file]).await?;
    let records = store.count_records(None).await?;
    // The daemon's subjects loop links every record within seconds; the list's search reads
    // those links.
    let t = Instant::now();
    store.link_subjects(&settings.catalogue).await?;
    eprintln!("linked subjects in {:.1} s", t.elapsed().as_secs_f64());
    let now = clock.now();
    let password = "bench-口令-123";
    let ops = auth::add_user(&store, &settings.departments, "bench-ops", "ops", None, Some(password), now).await?;

    // Each part of the overview alone, once, cold then warm, to show which query costs what.
    let today = credit_gateway::calendar::shanghai_date(now);
    let mut parts = serde_json::Map::new();
    for round in ["cold", "warm"] {
        let t = Instant::now();
        store.overview_counts(today, None).await?;
        parts.insert(format!("overview_counts_{round}"), ms(t.elapsed()).into());
        let t = Instant::now();
        store.department_counts(today, None).await?;
        parts.insert(format!("department_counts_{round}"), ms(t.elapsed()).into());
        let t = Instant::now();
        store.connector_health().await?;
        parts.insert(format!("connector_health_{round}"), ms(t.elapsed()).into());
        let t = Instant::now();
        store.delivery_status_counts().await?;
        parts.insert(format!("delivery_status_counts_{round}"), ms(t.elapsed()).into());
    }

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_calendar_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
    let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar).with_clock(clock.clone());
    let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse()?, state, stop).await?;
    let server = credit_gateway::supervisor::spawn_owned(serve);
    let base = format!("http://{addr}");
    credit_gateway::connector::http::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()?;

    // The overview API, one request after another.
    let overview = format!("{base}/api/v1/overview");
    let mut times = Vec::with_capacity(requests);
    let mut first_ms = None;
    for _ in 0..=requests {
        let t = Instant::now();
        let r = client.get(&overview).bearer_auth(&ops.api_token).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        let elapsed = t.elapsed();
        anyhow::ensure!(status.is_success(), "GET /api/v1/overview: {status} {}", String::from_utf8_lossy(&body));
        // The first request warms the page cache; it is reported apart.
        if first_ms.is_none() {
            first_ms = Some(ms(elapsed));
        } else {
            times.push(elapsed.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);

    // Log in through the form, as the browser does, for the session cookie.
    let body = format!("name=bench-ops&password={}", password.bytes().map(|b| format!("%{b:02X}")).collect::<String>());
    let r = client
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(r.status() == reqwest::StatusCode::SEE_OTHER, "login: {}", r.status());
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("login set no cookie")?
        .to_string();

    // The list pages each 总览 figure links to (rows read every time; a total slower than
    // 50 ms to count, or of 100,000 records or more, is kept 10 s, so the first request,
    // reported apart, pays the count), the other orders of 全部, the deepest page by offset
    // (`lists::MAX_OFFSET`) and pages in the middle by keyset (what 下一页 links to), and
    // searches as people type them:
    // a whole credit code, part of a name, a 文书号, and an odd fragment (the city's code
    // prefix, which nearly every record's code shares), one request after another.
    let api = |path: String| {
        let (client, token, url) = (client.clone(), ops.api_token.clone(), format!("{base}{path}"));
        async move {
            let r = client.get(url).bearer_auth(&token).send().await?;
            anyhow::ensure!(r.status().is_success(), "GET {path}: {}", r.status());
            Ok::<_, anyhow::Error>(r.json::<serde_json::Value>().await?)
        }
    };
    // Keys in the middle of the lists, as 下一页 links there: by a jump to a deadline half-way.
    let half = first + chrono::Days::new(715 / 2);
    let middle = api(format!("/api/v1/deadlines?after={half}_0&limit=2")).await?;
    let key = middle["next_after"].as_str().context("no next_after in the middle of the list")?.to_string();
    let middle = api(format!("/api/v1/deadlines?status=all&after={half}_0&limit=2")).await?;
    let all_key = middle["next_after"].as_str().context("no next_after in the middle of 全部")?.to_string();
    // The figures' links: the 总览 cards (this month's 迟报), a department's cells on 总览 and
    // its month cells on 部门 (a month of decisions in the middle of the file).
    let month = today.format("%Y-%m");
    let decided = half.format("%Y-%m");
    // The searches' words come from a firm's row (a natural person's has no credit code).
    let rows = api("/api/v1/deadlines?limit=100".to_string()).await?;
    let firm =
        |r: &&serde_json::Value| r["credit_code"].as_str().is_some_and(|c| c.len() == 18 && !c.starts_with("ZR"));
    let first = rows["rows"].as_array().and_then(|rows| rows.iter().find(firm)).context("no firm in the first rows")?;
    let code = first["credit_code"].as_str().unwrap_or_default().to_string();
    let name: String = first["subject_name"].as_str().unwrap_or_default().chars().skip(3).take(4).collect();
    let number = first["business_key"].as_str().unwrap_or_default().split('\u{1f}').next().unwrap_or("").to_string();
    let department = first["department"].as_str().context("no department in the row")?.to_string();
    let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let mut lists = serde_json::Map::new();
    for path in [
        "/deadlines".to_string(),
        "/deadlines?status=overdue".to_string(),
        "/deadlines?status=overdue&cause=department".to_string(),
        "/deadlines?status=due_soon".to_string(),
        format!("/deadlines?status=reported_late&reported_month={month}"),
        "/deadlines?status=all".to_string(),
        format!("/deadlines?department={department}&status=all"),
        format!("/deadlines?department={department}&status=all&decision_month={decided}"),
        "/deadlines?status=all&sort=-deadline".to_string(),
        "/deadlines?status=all&sort=decision_date".to_string(),
        "/deadlines?status=all&sort=department".to_string(),
        format!("/deadlines?offset={}", credit_gateway::web::lists::MAX_OFFSET),
        format!("/deadlines?status=all&offset={}", credit_gateway::web::lists::MAX_OFFSET),
        format!("/deadlines?after={key}"),
        format!("/deadlines?status=all&after={all_key}"),
        format!("/deadlines?status=all&q={}", enc(&code)),
        format!("/deadlines?status=all&q={}", enc(&name)),
        format!("/deadlines?status=all&q={}", enc(&number)),
        "/deadlines?status=all&q=91340600".to_string(),
        "/problems".to_string(),
        "/deliveries".to_string(),
        "/deliveries?status=dead&source=record".to_string(),
    ] {
        let mut list_times = Vec::new();
        for _ in 0..=20 {
            let t = Instant::now();
            let r = client.get(format!("{base}{path}")).header("cookie", &cookie).send().await?;
            let status = r.status();
            let _ = r.bytes().await?;
            anyhow::ensure!(status.is_success(), "GET {path}: {status}");
            list_times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let first_ms = (list_times.remove(0) * 10.0).round() / 10.0;
        list_times.sort_by(f64::total_cmp);
        lists.insert(
            path.to_string(),
            serde_json::json!({
                "first_ms": first_ms,
                "ms_p50": percentile(&list_times, 50),
                "ms_p95": percentile(&list_times, 95),
            }),
        );
    }

    // The 总览 page from concurrent clients, each with its own connection.
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + std::time::Duration::from_secs(seconds);
    let t = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (cookie, url, errors) = (cookie.clone(), format!("{base}/"), errors.clone());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        tasks.push(credit_gateway::supervisor::spawn_owned(async move {
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match client.get(&url).header("cookie", &cookie).send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => r.bytes().await.is_ok_and(|b| !b.is_empty()),
                    _ => false,
                };
                if ok {
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            times
        }));
    }
    let mut page_times = Vec::new();
    for task in tasks {
        page_times.extend(task.await?);
    }
    let load_secs = t.elapsed().as_secs_f64();
    page_times.sort_by(f64::total_cmp);
    let errors = errors.load(Ordering::Relaxed);
    let done = page_times.len() as u64 + errors;

    let _ = stop_tx.send(true);
    let _ = server.await;
    store.close().await;
    Cleanup::SqliteFile(db).run().await;
    let overview_p95 = percentile(&times, 95);
    let dashboard_rps = (page_times.len() as f64 / load_secs).round();
    let figures = serde_json::json!({
        "bench": "web",
        "records": records,
        "overview_requests": times.len(),
        "overview_first_ms": first_ms,
        "overview_ms_p50": percentile(&times, 50),
        "overview_ms_p95": overview_p95,
        "overview_ms_max": percentile(&times, 100),
        "overview_parts_ms": parts,
        "list_pages": lists,
        "dashboard_clients": clients,
        "dashboard_seconds": (load_secs * 100.0).round() / 100.0,
        "dashboard_requests": done,
        "dashboard_errors": errors,
        "dashboard_rps": dashboard_rps,
        "dashboard_ms_p50": percentile(&page_times, 50),
        "dashboard_ms_p95": percentile(&page_times, 95),
        "overview_p95_under_200ms": overview_p95 < 200.0,
        "dashboard_at_least_200rps": dashboard_rps >= 200.0,
        "load": format!("reqwest in tokio in this process, {clients} clients, keep-alive, GET / with a session cookie"),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{figures}");
    Ok(())
}
