//! Several instances sharing one PostgreSQL database: three daemons take one shared inbox and
//! deliver to the sandbox platform; one is killed with SIGKILL mid-way; every record is still
//! accepted exactly once and none is lost. And a scheduled pull runs once per tick, however
//! many instances there are.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use credit_gateway::config::Settings;
use credit_gateway::sim::sample::{SampleFormat, SampleItem};
use credit_gateway::store::Store;
use serde_json::Value;

use crate::support::*;

/// The shipped configuration on `database_url`, with the given connectors only, one
/// destination (or none), and short leases so a killed instance's work is taken over quickly.
fn config(root: &Path, database_url: &str, connectors: &[(&str, String)], destination: Option<String>) -> PathBuf {
    copy_config(root);
    for folder in ["connectors", "config/destinations"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
    for (name, text) in connectors {
        std::fs::write(root.join("connectors").join(format!("{name}.toml")), text).unwrap();
    }
    if let Some(d) = destination {
        std::fs::write(root.join("config/destinations/provincial.toml"), d).unwrap();
    }
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    let text = text
        .replace("sqlite://data/gateway.db", database_url)
        .replace("connector_lease_seconds = 30", "connector_lease_seconds = 2");
    std::fs::write(&gateway, text).unwrap();
    gateway
}

fn instance(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .env_remove("CREDIT_GATEWAY_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill(mut child: Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/sandbox/stats")).await.unwrap().json().await.unwrap()
}

async fn pg_scalar(url: &str, sql: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_deliver_every_record_once_though_one_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (url, database) = fresh_postgres().await;
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let running =
        credit_gateway::sim::sandbox::platforms::start(credit_gateway::sim::sandbox::platforms::SandboxOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            subjects: None,
            exchange: None,
            secrets: Default::default(),
            catalogue: Arc::new(probe.catalogue.clone()),
        })
        .await
        .unwrap();
    let base = format!("http://{}", running.addr());
    credit_gateway::connector::http::install_crypto_provider();

    let folder = "version = 1\ndepartment = \"market\"\nitem = \"CF\"\nmapping = \"market-penalties\"\nkind = \"folder\"\n\
                  [folder]\ninbox = \"shared/inbox\"\nsettle_seconds = 0.2\npoll_seconds = 0.2\n";
    let destination = format!(
        "version = 1\ntitle = \"省公共信用信息平台\"\nitems = [\"CF\"]\nadapter = \"http_json\"\n\
         url = \"{base}/platforms/provincial/json\"\ndeadline = true\nbatch_size = 500\nrate_per_second = 1000\n\
         timeout_seconds = 10\nlease_seconds = 3\nbackoff_initial_ms = 100\nbackoff_max_ms = 1000\nmax_attempts = 100\n"
    );
    let config = config(root, &url, &[("market-penalties", folder.to_string())], Some(destination));

    // 100,000 records in one file on the shared inbox; three instances start on it.
    const N: u64 = 100_000;
    let file = root.join("big.csv");
    let expected = recent_sample(&file, SampleItem::Penalties, N, SampleFormat::Csv).good;
    let inbox = root.join("shared/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Migrated once before the instances start, as `credit-gateway migrate` would be.
    Store::connect(&url).await.unwrap().close().await;
    std::fs::rename(&file, inbox.join("big.csv")).unwrap();
    let mut instances: Vec<Child> = (0..3).map(|_| instance(&config)).collect();

    let accepted = || async { stats(&base).await["platforms"]["provincial"]["CF"]["accepted"].as_u64().unwrap_or(0) };
    let started = Instant::now();
    while accepted().await < N / 5 {
        assert!(started.elapsed() < Duration::from_secs(180), "the instances do not deliver");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(instances.remove(0));
    let at_kill = accepted().await;
    assert!(at_kill < expected, "killed mid-way ({at_kill} of {expected} accepted)");

    let done = "SELECT count(*) FROM deliveries WHERE status = 'accepted'";
    loop {
        if pg_scalar(&url, done).await == expected as i64 {
            break;
        }
        let left = pg_scalar(&url, "SELECT count(*) FROM deliveries WHERE status <> 'accepted'").await;
        assert!(started.elapsed() < Duration::from_secs(300), "not all delivered: {left} left");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in instances {
        kill(i);
    }

    let st = stats(&base).await;
    let cf = &st["platforms"]["provincial"]["CF"];
    assert_eq!(cf["accepted"], expected, "every record accepted exactly once: {st}");
    assert_eq!(cf["distinct_keys"], expected, "no record pushed under a second key: {st}");
    assert_eq!(pg_scalar(&url, "SELECT count(*) FROM records").await, expected as i64, "none lost");
    assert_eq!(pg_scalar(&url, "SELECT count(*) FROM record_versions").await, 0, "no row stored twice");
    assert_eq!(pg_scalar(&url, "SELECT count(*) FROM records WHERE reported_at IS NULL").await, 0);
    let doubled = "SELECT count(*) FROM (SELECT 1 FROM deliveries GROUP BY record_id, version, destination \
                   HAVING count(*) > 1) d";
    assert_eq!(pg_scalar(&url, doubled).await, 0);
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    assert!(inbox.join("processed").join(today).join("big.csv").exists(), "the file was taken whole once");
    assert!(!inbox.join("big.csv").exists());
    running.shutdown().await;
    drop_postgres(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_pull_runs_once_per_tick_across_instances() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (url, database) = fresh_postgres().await;
    let (api, hits) = empty_tax_api().await;
    let every_two_seconds = tax_connector(root, &api, "*/2 * * * * *");
    let config = config(root, &url, &[("tax-arrears", every_two_seconds)], None);
    Store::connect(&url).await.unwrap().close().await;

    let instances: Vec<Child> = (0..3).map(|_| instance(&config)).collect();
    tokio::time::sleep(Duration::from_secs(9)).await;
    for i in instances {
        kill(i);
    }
    let hits = hits.lock().unwrap().clone();
    assert!(hits.len() >= 3, "the schedule did not run: {hits:?}");
    // Each tick (an even second) asked once, never twice.
    let mut ticks: Vec<i64> = hits.iter().map(|t| t.timestamp() / 2).collect();
    let n = ticks.len();
    ticks.dedup();
    assert_eq!(ticks.len(), n, "a tick was pulled by more than one instance: {hits:?}");
    drop_postgres(&database).await;
}

/// The rules under the schedule test, step by step on PostgreSQL: one holder at a time, a
/// lease that runs out, and a tick taken once even by an instance that comes late to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_leases_and_ticks_on_postgres() {
    let (url, database) = fresh_postgres().await;
    let store = Store::connect(&url).await.unwrap();
    let (t0, t1, t2) = ("2026-11-23T10:00:00Z", "2026-11-23T10:00:01Z", "2026-11-23T10:00:40Z");
    let until = "2026-11-23T10:00:30Z";
    assert!(store.take_connector_lease("tax", "a", t0, until).await.unwrap());
    assert!(!store.take_connector_lease("tax", "b", t1, until).await.unwrap(), "held by a");
    assert!(store.take_connector_lease("tax", "a", t1, until).await.unwrap(), "a renews its own");
    assert!(store.take_tick("tax", "a", "2026-11-23T10:00:00Z").await.unwrap());
    assert!(!store.take_tick("tax", "b", "2026-11-23T10:00:00Z").await.unwrap(), "b holds no lease");
    store.release_connector_lease("tax", "a").await.unwrap();
    // b comes late to the same tick: it gets the lease, not the tick.
    assert!(store.take_connector_lease("tax", "b", t1, until).await.unwrap());
    assert!(!store.take_tick("tax", "b", "2026-11-23T10:00:00Z").await.unwrap(), "the tick was pulled");
    assert!(store.take_tick("tax", "b", "2026-11-23T10:00:02Z").await.unwrap(), "the next tick is b's");
    // b dies holding the lease: after it runs out, c takes over.
    assert!(!store.take_connector_lease("tax", "c", t1, until).await.unwrap());
    assert!(store.take_connector_lease("tax", "c", t2, "2026-11-23T10:01:10Z").await.unwrap());
    store.close().await;
    drop_postgres(&database).await;
}
