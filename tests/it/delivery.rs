//! Delivery end to end against the sandbox platforms on 127.0.0.1: receipts, returns and
//! corrections, fault storms, partial and duplicated answers, the rate limit, on-time vs late,
//! and a daemon killed with SIGKILL mid-push.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::delivery::worker::push_due;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::{SampleFormat, SampleItem};
use credit_gateway::store::Store;
use serde_json::{Value, json};

use crate::support::*;

/// The sandbox platforms, in this process, on a free port.
pub(crate) async fn sandbox(settings: &Settings) -> (String, credit_gateway::sim::sandbox::platforms::RunningSandbox) {
    let opts = credit_gateway::sim::sandbox::platforms::SandboxOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        subjects: None,
        exchange: None,
        secrets: Default::default(),
        catalogue: std::sync::Arc::new(settings.catalogue.clone()),
    };
    let running = credit_gateway::sim::sandbox::platforms::start(opts).await.expect("sandbox starts");
    (format!("http://{}", running.addr()), running)
}

/// The shipped configuration in `root`, its own SQLite file, and one destination (`provincial`,
/// the deadline destination) with the given settings.
pub(crate) fn config(root: &Path, destination: &str) -> PathBuf {
    let db = root.join("gateway.db");
    config_on(root, destination, &format!("sqlite://{}", db.display()))
}

pub(crate) fn config_on(root: &Path, destination: &str, database_url: &str) -> PathBuf {
    copy_config(root);
    for entry in std::fs::read_dir(root.join("config/destinations")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    std::fs::write(root.join("config/destinations/provincial.toml"), destination).unwrap();
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", database_url)).unwrap();
    gateway
}

pub(crate) fn destination(url: &str, adapter: &str, extra: &str) -> String {
    let path = if adapter == "http_xml" { "xml" } else { "json" };
    format!(
        r#"version = 1
title = "省公共信用信息平台"
items = ["XK", "CF"]
adapter = "{adapter}"
url = "{url}/platforms/provincial/{path}"
deadline = true
{extra}
"#
    )
}

async fn post(url: &str, body: Value) {
    credit_gateway::connector::http::install_crypto_provider();
    let r = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
}

pub(crate) async fn stats(base: &str) -> Value {
    // Run alone, a test may ask for the stats before anything installed the TLS provider.
    credit_gateway::connector::http::install_crypto_provider();
    reqwest::get(format!("{base}/sandbox/stats")).await.unwrap().json().await.unwrap()
}

/// Ingests a generated penalties file; returns the rows of the file (header first).
pub(crate) async fn ingest_penalties(
    settings: &Settings,
    store: &Store,
    dir: &Path,
    rows: u64,
    first: &str,
) -> Vec<Vec<String>> {
    ingest_penalties_at(settings, store, dir, rows, first, Clock::real()).await
}

/// The same on a test's clock.
pub(crate) async fn ingest_penalties_at(
    settings: &Settings,
    store: &Store,
    dir: &Path,
    rows: u64,
    first: &str,
    clock: Clock,
) -> Vec<Vec<String>> {
    let file = dir.join(format!("cf-{rows}-{first}.csv"));
    let spec = credit_gateway::sim::sample::SampleSpec {
        item: SampleItem::Penalties,
        rows,
        seed: 7,
        bad_share: 0.0,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: first.parse().unwrap(),
        days: 1,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, &file).unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock, source: None };
    let s = ingest_file(settings, store, "market-penalties", &file, &opts).await.unwrap();
    assert_eq!(s.accepted, rows);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&file)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Pushes until nothing is pending or in flight (retries are due after their backoff).
pub(crate) async fn push_until_done(settings: &Settings, store: &Store) {
    push_until_done_at(settings, store, &Clock::real()).await;
}

/// The same on a test's clock.
pub(crate) async fn push_until_done_at(settings: &Settings, store: &Store, clock: &Clock) {
    let start = Instant::now();
    loop {
        push_due(settings, store, "provincial", clock).await.unwrap();
        let open: i64 = store
            .delivery_counts()
            .await
            .unwrap()
            .iter()
            .filter(|(_, s, _)| s == "pending" || s == "in_flight")
            .map(|(_, _, n)| n)
            .sum();
        if open == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "deliveries still open at {}: {:?}",
            clock.now(),
            store.deliveries(Some("pending"), 10).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(counts: &[(String, String, i64)], status: &str) -> i64 {
    counts.iter().filter(|(_, s, _)| s == status).map(|(_, _, n)| n).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_records_are_queued_for_the_department_and_a_correction_closes_them() {
    // JSON on SQLite, XML on PostgreSQL: both adapters, both stores.
    for adapter in ["http_json", "http_xml"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
        let (base, running) = sandbox(&probe).await;
        let pg = if adapter == "http_xml" { Some(fresh_postgres().await) } else { None };
        let db = match &pg {
            Some((url, _)) => url.clone(),
            None => format!("sqlite://{}", root.join("gateway.db").display()),
        };
        let config = config_on(root, &destination(&base, adapter, "batch_size = 20\nrate_per_second = 1000"), &db);
        let settings = Settings::load(&config).unwrap();
        let store = Store::connect(&settings.gateway.database_url).await.unwrap();
        let rows = ingest_penalties(&settings, &store, root, 50, "2026-11-20").await;
        let header = &rows[0];
        let name_at = header.iter().position(|h| h == "行政相对人名称").unwrap();
        let code_at = header.iter().position(|h| h == "统一社会信用代码").unwrap();
        // The subject base library knows three of the subjects under another name.
        let wrong: Vec<&Vec<String>> = rows[1..].iter().filter(|r| !r[code_at].is_empty()).take(3).collect();
        let library: Vec<Value> =
            wrong.iter().map(|r| json!({"name": format!("{}分公司", r[name_at]), "credit_code": r[code_at]})).collect();
        post(&format!("{base}/sandbox/subjects"), Value::Array(library)).await;

        let pushed = push_due(&settings, &store, "provincial", &Clock::real()).await.unwrap();
        assert_eq!((pushed.accepted, pushed.returned), (47, 3), "{adapter}");
        let returns = store.open_returns(Some("market")).await.unwrap();
        assert_eq!(returns.len(), 3);
        assert!(
            returns.iter().all(|r| r.rule.as_deref() == Some("1001") && r.reason.contains("不匹配")),
            "{returns:?}"
        );

        // The department corrects the names: new versions go out and the problems close.
        let fixed = root.join("fixed.csv");
        let mut w = csv::Writer::from_path(&fixed).unwrap();
        w.write_record(header).unwrap();
        for r in &wrong {
            let mut r = (*r).clone();
            r[name_at] = format!("{}分公司", r[name_at]);
            w.write_record(&r).unwrap();
        }
        w.flush().unwrap();
        let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
        let s = ingest_file(&settings, &store, "market-penalties", &fixed, &opts).await.unwrap();
        assert_eq!(s.new_versions, 3);
        let pushed = push_due(&settings, &store, "provincial", &Clock::real()).await.unwrap();
        assert_eq!((pushed.accepted, pushed.returned), (3, 0), "{adapter}");
        assert!(store.open_returns(Some("market")).await.unwrap().is_empty());
        let history = store.record_returns(returns[0].record_id).await.unwrap();
        assert!(history[0].closed_at.is_some(), "the return is closed by the correction");

        let st = stats(&base).await;
        assert_eq!(st["platforms"]["provincial"]["CF"]["accepted"], 50, "{adapter}: {st}");
        assert_eq!(st["platforms"]["provincial"]["CF"]["duplicates"], 0, "{adapter}: {st}");
        store.close().await;
        running.shutdown().await;
        if let Some((_, name)) = pg {
            drop_postgres(&name).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_partial_and_duplicated_answers_end_in_exactly_one_acceptance_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let extra = "batch_size = 25\nrate_per_second = 1000\ntimeout_seconds = 1\nbackoff_initial_ms = 20\nbackoff_max_ms = 200\nmax_attempts = 30";
    let config = config(root, &destination(&base, "http_json", extra));
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    ingest_penalties(&settings, &store, root, 200, "2026-11-20").await;

    let faults = format!("{base}/sandbox/faults");
    for fault in [
        json!({"platform": "provincial", "fault": "status", "status": 503, "count": 4}),
        json!({"platform": "provincial", "fault": "timeout", "ms": 1500, "count": 2}),
        json!({"platform": "provincial", "fault": "status", "status": 503, "count": 3, "retry_after": 1}),
        json!({"platform": "provincial", "fault": "partial", "accept": 10, "count": 2}),
        json!({"platform": "provincial", "fault": "duplicate", "count": 1}),
        json!({"platform": "provincial", "fault": "drop", "count": 2}),
    ] {
        post(&faults, fault).await;
    }
    push_until_done(&settings, &store).await;
    let counts = store.delivery_counts().await.unwrap();
    assert_eq!(count(&counts, "accepted"), 200, "{counts:?}");
    assert_eq!(count(&counts, "dead"), 0);
    let st = stats(&base).await;
    let cf = &st["platforms"]["provincial"]["CF"];
    assert_eq!(cf["accepted"], 200, "{st}");
    assert_eq!(cf["distinct_keys"], 200, "{st}");
    assert!(cf["received"].as_u64().unwrap() > 200, "the storms made the gateway send again: {st}");
    store.close().await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_honoured_and_push_time_decides_on_time_or_late() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let config = config(root, &destination(&base, "http_json", "batch_size = 10\nrate_per_second = 10"));
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    // Decided today: on time. Decided 40 days ago: late (and still within its publicity
    // period, at least 3 months: a penalty whose period is over is not pushed at all).
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now());
    ingest_penalties(&settings, &store, root, 30, &today.to_string()).await;
    ingest_penalties(&settings, &store, root, 31, &(today - chrono::Days::new(40)).to_string()).await;
    let start = Instant::now();
    let pushed = push_due(&settings, &store, "provincial", &Clock::real()).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!((pushed.pushes, pushed.accepted), (7, 61));
    // Seven pushes at ten a second: at least six intervals of 100 ms.
    assert!(elapsed >= Duration::from_millis(590), "{elapsed:?}");
    let now = credit_gateway::calendar::shanghai_date(chrono::Utc::now());
    let status =
        |s| credit_gateway::store::DeadlineFilter { department: None, item: None, status: Some(s), limit: 1000 };
    let on_time = store.deadlines(now, &status(credit_gateway::deadline::Status::ReportedOnTime)).await.unwrap();
    let late = store.deadlines(now, &status(credit_gateway::deadline::Status::ReportedLate)).await.unwrap();
    assert_eq!((on_time.len(), late.len()), (30, 31));
    store.close().await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_push_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let extra = "batch_size = 50\nrate_per_second = 1000\ntimeout_seconds = 2\nlease_seconds = 2\n\
                 backoff_initial_ms = 50\nbackoff_max_ms = 500\nmax_attempts = 50";
    let config = config(root, &destination(&base, "http_json", extra));
    // Only delivery runs: no connector pulls in this test.
    for entry in std::fs::read_dir(root.join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        if !path.ends_with("market-penalties.toml") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    const N: u64 = 3_000;
    ingest_penalties(&settings, &store, root, N, "2026-11-02").await;
    let faults = format!("{base}/sandbox/faults");
    post(&faults, json!({"platform": "provincial", "fault": "slow", "ms": 100, "count": 40})).await;
    post(&faults, json!({"platform": "provincial", "fault": "status", "status": 503, "count": 3})).await;
    post(&faults, json!({"platform": "provincial", "fault": "drop", "count": 2})).await;

    let daemon = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let accepted = || async { stats(&base).await["platforms"]["provincial"]["CF"]["accepted"].as_u64().unwrap_or(0) };
    let mut first = daemon();
    let start = Instant::now();
    while accepted().await < 500 {
        assert!(start.elapsed() < Duration::from_secs(60), "the daemon does not push");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL, mid-push
    first.wait().unwrap();
    let at_kill = accepted().await;
    assert!(at_kill < N, "killed before the end ({at_kill})");

    let mut second = daemon();
    let start = Instant::now();
    loop {
        let counts = store.delivery_counts().await.unwrap();
        if count(&counts, "accepted") == N as i64 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "not all delivered: {counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();

    let st = stats(&base).await;
    let cf = &st["platforms"]["provincial"]["CF"];
    assert_eq!(cf["accepted"], N, "every record accepted exactly once: {st}");
    assert_eq!(cf["distinct_keys"], N, "no record pushed under a second key: {st}");
    let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
    let reported: i64 = sqlx::query_scalar("SELECT count(*) FROM records WHERE reported_at IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reported, N as i64, "none lost");
    pool.close().await;
    store.close().await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_exchange_packages_come_back_with_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let opts = credit_gateway::sim::sandbox::platforms::SandboxOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        subjects: None,
        exchange: Some(root.join("exchange")),
        secrets: Default::default(),
        catalogue: std::sync::Arc::new(probe.catalogue.clone()),
    };
    let running = credit_gateway::sim::sandbox::platforms::start(opts).await.unwrap();
    let base = format!("http://{}", running.addr());
    let file_destination = r#"version = 1
title = "省平台（文件交换）"
items = ["CF"]
adapter = "file"
outbound = "exchange/provincial/outbound"
receipts = "exchange/provincial/receipts"
deadline = true
"#;
    let config = config(root, file_destination);
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    ingest_penalties(&settings, &store, root, 30, "2026-11-20").await;
    push_until_done(&settings, &store).await;
    assert_eq!(count(&store.delivery_counts().await.unwrap(), "accepted"), 30);
    let done: Vec<_> = std::fs::read_dir(root.join("exchange/provincial/done")).unwrap().collect();
    assert_eq!(done.len(), 1, "one package");
    let processed: Vec<_> = std::fs::read_dir(root.join("exchange/provincial/receipts/processed")).unwrap().collect();
    assert_eq!(processed.len(), 1, "its receipt, recorded and moved");
    assert_eq!(stats(&base).await["platforms"]["provincial"]["CF"]["accepted"], 30);
    store.close().await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn penalties_are_withdrawn_when_publicity_ends_and_dead_letters_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let config = config(root, &destination(&base, "http_json", "rate_per_second = 1000"));
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    ingest_penalties(&settings, &store, root, 20, "2026-11-20").await;
    push_until_done(&settings, &store).await;

    // Publicity ends (the planned end passed): a withdrawal per accepted record, once.
    let later: chrono::NaiveDate = "2100-01-01".parse().unwrap();
    let now = chrono::Utc::now();
    let pass = store.publicity_pass(later, now).await.unwrap();
    assert_eq!((pass.ended, pass.withdrawals), (20, 20));
    let again = store.publicity_pass(later, now).await.unwrap();
    assert_eq!((again.ended, again.withdrawals), (0, 0), "idempotent");
    let pushed = push_due(&settings, &store, "provincial", &Clock::real()).await.unwrap();
    assert_eq!(pushed.accepted, 20);
    let st = stats(&base).await;
    assert_eq!(st["platforms"]["provincial"]["CF"]["distinct_keys"], 40, "20 adds and 20 withdrawals: {st}");
    running.shutdown().await;

    // The platform is gone: after its attempts a delivery is dead-lettered, shown, and can be retried.
    let dead_end = destination(
        "http://127.0.0.1:9",
        "http_json",
        "max_attempts = 2\nbackoff_initial_ms = 10\nbackoff_max_ms = 10",
    );
    std::fs::write(root.join("config/destinations/provincial.toml"), dead_end).unwrap();
    let settings = Settings::load(&config).unwrap();
    ingest_penalties(&settings, &store, root, 5, "2026-11-21").await;
    push_until_done(&settings, &store).await;
    assert_eq!(count(&store.delivery_counts().await.unwrap(), "dead"), 5);
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    let listed = cli(&["deliveries", "--status", "dead", "--json"]);
    let rows = json(&listed);
    assert_eq!(rows.as_array().unwrap().len(), 5, "{rows}");
    assert!(rows[0]["last_error"].as_str().unwrap().contains("request failed"), "{rows}");
    let retried = cli(&["deliveries", "retry", "--dead"]);
    assert!(stdout(&retried).contains("5 deliveries queued again"), "{}", stderr(&retried));
    assert_eq!(count(&store.delivery_counts().await.unwrap(), "pending"), 5);
    store.close().await;
}
