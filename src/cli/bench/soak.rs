//! `bench soak`: the folder connector and the delivery worker of a real `run` daemon under
//! hostile conditions for minutes on end, and a check that nothing was lost or doubled.
//!
//! Files are dropped into the market-penalties inbox without pause: good files (each with rows
//! of its own), unreadable ones, files replaced by a longer version while they are read, files
//! cut while they are read (the complete file dropped again after), a file nobody may read,
//! links to a file elsewhere. The sandbox platform answers with faults (503, dropped
//! connections, timeouts, partial answers, replayed answers). The daemon is killed (SIGKILL)
//! and started again once a minute. Then, once the inbox is empty and the queue drained, the
//! store must hold every good row once, the sandbox must have accepted each once, every bad
//! file must be in `failed/` with its reason, and the daemon's sampled RSS must have stayed
//! under 400 MB.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use credit_gateway::config::Settings;
use credit_gateway::sim::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};
use credit_gateway::store::Store;

/// Resident memory the daemon must stay under.
const RSS_LIMIT_MB: u64 = 400;
/// How long the daemon has, once dropping stops, to take every file and deliver every record.
const DRAIN: Duration = Duration::from_secs(300);
const KILL_EVERY: Duration = Duration::from_secs(60);

pub async fn bench_soak(config: &Path, minutes: u64, workdir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = super::work_dir(workdir, &mut guard)?;
    let (mut sandbox, port) = super::sandbox_platform(config)?;
    let ran = soak(config, &dir, port, minutes).await;
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let figures = ran?;
    println!("{}", figures.json);
    anyhow::ensure!(figures.failures.is_empty(), "soak checks failed: {}", figures.failures.join("; "));
    Ok(())
}

struct Figures {
    json: serde_json::Value,
    failures: Vec<String>,
}

/// The daemon in its own process, and what it has been seen to use.
struct Daemon {
    gateway: PathBuf,
    child: Option<std::process::Child>,
    started: u32,
    killed: u32,
    peak_rss_mb: u64,
}

impl Daemon {
    fn start(&mut self) -> anyhow::Result<()> {
        self.child = Some(super::run_daemon(&self.gateway)?);
        self.started += 1;
        Ok(())
    }

    /// SIGKILL: a crash, counted unless it is the end of the soak.
    fn kill(&mut self, crash: bool) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.killed += u32::from(crash);
        }
    }

    fn sample_rss(&mut self) {
        let Some(child) = &self.child else { return };
        let mb = super::rss_mb(Some(child.id()), super::Rss::Now).unwrap_or(0);
        self.peak_rss_mb = self.peak_rss_mb.max(mb);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill(false);
    }
}

/// A gateway installation in `dir`: the market-penalties folder connector (fast settling), one
/// destination (the sandbox's provincial platform, short leases), a SQLite store.
fn soak_config(config: &Path, dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let gateway = super::scale_config(config, dir, "sqlite://data/gateway.db", port, 200)?;
    let connector = "version = 1\ndepartment = \"market\"\nitem = \"CF\"\nmapping = \"market-penalties\"\n\
                     kind = \"folder\"\n[folder]\ninbox = \"inbox\"\nsettle_seconds = 0.5\npoll_seconds = 1\n";
    std::fs::write(dir.join("connectors/market-penalties.toml"), connector)?;
    let destination = dir.join("config/destinations/provincial.toml");
    let text = std::fs::read_to_string(&destination)?.replace("lease_seconds = 30", "lease_seconds = 5");
    std::fs::write(&destination, text)?;
    // A killed daemon holds its connector's lease: the next one takes over after 2 s, not 30.
    let text =
        std::fs::read_to_string(&gateway)?.replace("connector_lease_seconds = 30", "connector_lease_seconds = 2");
    std::fs::write(&gateway, text)?;
    Ok(gateway)
}

/// What was dropped, and what must come of it.
#[derive(Default)]
struct Dropped {
    /// Good rows every good file holds, by file (a file's rows are its own: its seed).
    good_rows: u64,
    good_files: u64,
    replaced: u64,
    cut: u64,
    /// Files that must end in failed/ with a reason.
    bad: BTreeSet<String>,
}

/// A 行政处罚 CSV with `rows` rows of `seed`, written in `staging` (with the generator's
/// expectations beside it, kept out of the inbox). Each seed's document numbers (文书号) are its
/// own: two seeds may decide on the same day and name the same subject (a natural person's
/// name from a small pool), never under the same 文书号, so every file's rows are records of
/// their own.
fn penalties(staging: &Path, name: &str, seed: u64, rows: u64) -> anyhow::Result<(PathBuf, u64)> {
    let path = staging.join(name);
    // Decisions of the last 60 days, each file one day's: every period (3 months at least) is
    // still running, so every good row must be published. Older decisions would be expired by
    // the publicity rules and never pushed, which is right but not what this bench counts.
    let last = credit_gateway::clock::Clock::real().today() - chrono::Days::new(1);
    let day = last - chrono::Days::new(seed % 60);
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows,
        seed,
        bad_share: 0.0,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: day,
        days: 1,
        first_number: seed * 100_000,
    };
    let summary = write_sample(&spec, &path).context("generating a sample file")?;
    Ok((path, summary.good))
}

/// Moves a finished file into the inbox in one step, as a careful department does.
fn drop_in(from: &Path, inbox: &Path, name: &str) -> anyhow::Result<()> {
    std::fs::rename(from, inbox.join(name)).with_context(|| format!("dropping {name}"))
}

async fn soak(config: &Path, dir: &Path, port: u16, minutes: u64) -> anyhow::Result<Figures> {
    let gateway = soak_config(config, dir, port)?;
    let settings = Settings::load(&gateway)?;
    let inbox = dir.join("inbox");
    let staging = dir.join("staging");
    let elsewhere = dir.join("elsewhere");
    for d in [&inbox, &staging, &elsewhere] {
        std::fs::create_dir_all(d)?;
    }
    let sandbox = format!("http://127.0.0.1:{port}");
    let http = credit_gateway::http_client::builder(Duration::from_secs(30)).build()?;
    let mut daemon = Daemon { gateway, child: None, started: 0, killed: 0, peak_rss_mb: 0 };
    daemon.start()?;
    let mut dropped = Dropped::default();
    let t = Instant::now();
    let mut last_kill = Instant::now();
    let mut seed = 1_000u64;
    let mut round = 0u64;
    let faults = [
        serde_json::json!({"platform": "provincial", "fault": "status", "status": 503, "retry_after": 1, "count": 2}),
        serde_json::json!({"platform": "provincial", "fault": "drop"}),
        serde_json::json!({"platform": "provincial", "fault": "timeout", "ms": 2000}),
        serde_json::json!({"platform": "provincial", "fault": "partial", "accept": 1}),
        serde_json::json!({"platform": "provincial", "fault": "duplicate"}),
    ];
    while t.elapsed() < Duration::from_secs(minutes * 60) {
        round += 1;
        seed += 1;
        // A good file of its own rows.
        let (file, good) = penalties(&staging, &format!("good-{round}.csv"), seed, 300 + (round % 7) * 200)?;
        drop_in(&file, &inbox, &format!("good-{round}.csv"))?;
        dropped.good_rows += good;
        dropped.good_files += 1;
        // Every other round something hostile: in turn a broken file, a file replaced while it
        // is read, a file cut while it is read, a file nobody may read, a link out of the inbox.
        if round % 2 == 0 {
            seed += 1;
            match (round / 2) % 5 {
                0 => {
                    let name = format!("broken-{round}.xlsx");
                    std::fs::write(staging.join(&name), b"this is not a workbook")?;
                    drop_in(&staging.join(&name), &inbox, &name)?;
                    dropped.bad.insert(name);
                }
                1 => {
                    // The first version is the first half of the second: whatever of it is
                    // stored, the second holds too. Saved over it (temporary, rename) as it is read.
                    let name = format!("report-{round}.csv");
                    let (full, good) = penalties(&staging, "full.csv", seed, 16_000)?;
                    let (half, _) = penalties(&staging, "half.csv", seed, 8_000)?;
                    drop_in(&half, &inbox, &name)?;
                    tokio::time::sleep(Duration::from_millis(1_200)).await;
                    let tmp = inbox.join(format!(".{name}.tmp"));
                    std::fs::rename(&full, &tmp)?;
                    std::fs::rename(&tmp, inbox.join(&name))?;
                    dropped.good_rows += good;
                    dropped.replaced += 1;
                }
                2 => {
                    // Cut to a third while it may be read; the complete file comes again later.
                    let name = format!("cut-{round}.csv");
                    let (full, good) = penalties(&staging, "full.csv", seed, 16_000)?;
                    let bytes = std::fs::metadata(&full)?.len();
                    std::fs::copy(&full, staging.join("again.csv"))?;
                    drop_in(&full, &inbox, &name)?;
                    tokio::time::sleep(Duration::from_millis(1_200)).await;
                    // At a line's end, so no row is cut into another valid one.
                    let text = std::fs::read(staging.join("again.csv"))?;
                    let at = text[(bytes / 3) as usize..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes, |p| bytes / 3 + p as u64 + 1);
                    // Already taken whole and moved: then it is cut no more.
                    if let Ok(file) = std::fs::OpenOptions::new().write(true).open(inbox.join(&name)) {
                        file.set_len(at)?;
                    }
                    tokio::time::sleep(Duration::from_millis(1_500)).await;
                    drop_in(&staging.join("again.csv"), &inbox, &format!("cut-{round}-again.csv"))?;
                    dropped.good_rows += good;
                    dropped.cut += 1;
                }
                3 => {
                    // Unreadable: mode 000 (root reads it anyway, and finds no header in it).
                    use std::os::unix::fs::PermissionsExt as _;
                    let name = format!("closed-{round}.csv");
                    std::fs::write(staging.join(&name), [0xffu8, 0xfe, 0, 1, 2, 3])?;
                    std::fs::set_permissions(staging.join(&name), std::fs::Permissions::from_mode(0o000))?;
                    drop_in(&staging.join(&name), &inbox, &name)?;
                    dropped.bad.insert(name);
                }
                _ => {
                    // Links: to good rows elsewhere (never read: they must not be stored) and to /proc.
                    let (target, _) = penalties(&elsewhere, &format!("secret-{round}.csv"), seed + 1_000_000, 50)?;
                    let name = format!("link-{round}.csv");
                    std::os::unix::fs::symlink(&target, inbox.join(&name))?;
                    dropped.bad.insert(name);
                    let name = format!("mem-{round}.csv");
                    std::os::unix::fs::symlink("/proc/self/mem", inbox.join(&name))?;
                    dropped.bad.insert(name);
                }
            }
        }
        if round % 5 == 0 {
            let fault = &faults[(round as usize / 5) % faults.len()];
            let _ = http.post(format!("{sandbox}/sandbox/faults")).json(fault).send().await;
        }
        for _ in 0..4 {
            daemon.sample_rss();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if last_kill.elapsed() >= KILL_EVERY {
            daemon.kill(true);
            daemon.start()?;
            last_kill = Instant::now();
        }
    }
    let dropping = t.elapsed();

    // Drain: every file taken, every record delivered (or the time is up).
    let store = Store::connect(&credit_gateway::store::absolute_sqlite_url(
        &settings.gateway.database_url,
        &settings.gateway.base_dir,
    ))
    .await?;
    let drain = Instant::now();
    // What the store holds: records, accepted deliveries and open ones (a delivery replaced by
    // a newer version's is done too).
    let tally = async |store: &Store| -> anyhow::Result<(i64, i64, i64)> {
        let records = store.count_records(None).await?;
        let counts = store.delivery_counts().await?;
        let accepted: i64 = counts.iter().filter(|c| c.1 == "accepted").map(|c| c.2).sum();
        let open: i64 = counts.iter().filter(|c| c.1 != "accepted" && c.1 != "superseded").map(|c| c.2).sum();
        Ok((records, accepted, open))
    };
    loop {
        daemon.sample_rss();
        let left = inbox_files(&inbox);
        let (records, _, open) = tally(&store).await?;
        if (left.is_empty() && open == 0 && records as u64 >= dropped.good_rows) || drain.elapsed() > DRAIN {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drained = drain.elapsed();
    // Stopped first, then counted: a daemon stopping finishes its file and its pushes, and the
    // gateway's figures must be those of the moment the sandbox is asked.
    daemon.kill(false);
    let (records, accepted, open) = tally(&store).await?;

    let stats: serde_json::Value = http.get(format!("{sandbox}/sandbox/stats")).send().await?.json().await?;
    let cf = &stats["platforms"]["provincial"]["CF"];
    let sandbox_accepted = cf["accepted"].as_u64().unwrap_or(0);
    let sandbox_keys = cf["distinct_keys"].as_u64().unwrap_or(0);
    // Records whose 公示截止期 has passed are withdrawn too: each withdrawal is a delivery of its own.
    let sandbox_added = cf["operations"]["add"].as_u64().unwrap_or(0);
    let versions = store.record_versions_count().await?;
    store.close().await;

    let failed_dir = inbox.join("failed");
    let mut failed = BTreeSet::new();
    let mut reasons = BTreeSet::new();
    for day in std::fs::read_dir(&failed_dir).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(day.path()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            match name.strip_suffix(".reason.txt") {
                Some(file) => reasons.insert(file.to_string()),
                None => failed.insert(name),
            };
        }
    }
    let mut failures = Vec::new();
    if records as u64 != dropped.good_rows {
        failures.push(format!("{records} records stored, {} good rows dropped", dropped.good_rows));
    }
    if versions != 0 {
        failures.push(format!("{versions} rows stored again as new versions"));
    }
    if sandbox_added != dropped.good_rows {
        failures.push(format!(
            "the sandbox was sent {sandbox_added} records to add, {} good rows dropped",
            dropped.good_rows
        ));
    }
    if sandbox_accepted != accepted as u64 || sandbox_keys != accepted as u64 {
        failures.push(format!(
            "the sandbox accepted {sandbox_accepted} deliveries ({sandbox_keys} distinct), the gateway counts {accepted}"
        ));
    }
    if open != 0 {
        failures.push(format!("{open} deliveries not accepted"));
    }
    let missing: Vec<&String> = dropped.bad.iter().filter(|b| !failed.contains(*b) || !reasons.contains(*b)).collect();
    if !missing.is_empty() {
        failures.push(format!("bad files not in failed/ with a reason: {missing:?}"));
    }
    let unexpected: Vec<&String> = failed.iter().filter(|f| !dropped.bad.contains(*f)).collect();
    if !unexpected.is_empty() {
        failures.push(format!("good files in failed/: {unexpected:?}"));
    }
    let left = inbox_files(&inbox);
    if !left.is_empty() {
        failures.push(format!("files left in the inbox: {left:?}"));
    }
    if daemon.peak_rss_mb >= RSS_LIMIT_MB {
        failures.push(format!("RSS reached {} MB", daemon.peak_rss_mb));
    }
    let json = serde_json::json!({
        "bench": "soak",
        "minutes_dropping": (dropping.as_secs_f64() / 60.0 * 100.0).round() / 100.0,
        "seconds_to_drain": (drained.as_secs_f64() * 10.0).round() / 10.0,
        "daemon_starts": daemon.started,
        "sigkills": daemon.killed,
        "good_files": dropped.good_files,
        "replaced_while_read": dropped.replaced,
        "cut_while_read": dropped.cut,
        "bad_files": dropped.bad.len(),
        "good_rows": dropped.good_rows,
        "records_stored": records,
        "record_versions": versions,
        "deliveries_accepted": accepted,
        "deliveries_open": open,
        "sandbox_added": sandbox_added,
        "sandbox_accepted": sandbox_accepted,
        "sandbox_distinct_keys": sandbox_keys,
        "sandbox_received": cf["received"].as_u64().unwrap_or(0),
        "sandbox_duplicates": cf["duplicates"].as_u64().unwrap_or(0),
        "bad_files_in_failed_with_reason": dropped.bad.len() - missing.len(),
        "peak_rss_mb": daemon.peak_rss_mb,
        "rss_limit_mb": RSS_LIMIT_MB,
        "ok": failures.is_empty(),
        "failures": failures,
    });
    Ok(Figures { json, failures })
}

/// Files (and links) left in the inbox, not its folders.
fn inbox_files(inbox: &Path) -> Vec<String> {
    std::fs::read_dir(inbox)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}
