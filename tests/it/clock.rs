//! One clock: `--now` moves every command, the ones that work for a while included. A record
//! ingested at T and pushed nine working days later is reported late, two days later on
//! time; a connector pass, the ingest runs' stamps and the dashboard's 今日 follow the clock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use credit_gateway::calendar::shanghai_date;
use credit_gateway::config::Settings;
use credit_gateway::sim::sample::{SampleFormat, SampleItem, SampleSpec};
use credit_gateway::store::Store;
use serde_json::Value;

use crate::support::*;

/// Monday 2 March 2026, 10:00 in Shanghai: months away from the real clock, in a year with a
/// calendar file.
const T: &str = "2026-03-02T10:00:00+08:00";
/// T in UTC, to the minute: what stamps written at T (and a few seconds after) begin with.
const T_UTC_MINUTE: &str = "2026-03-02T02:00";

fn t() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T).unwrap().to_utc()
}

fn t_day() -> NaiveDate {
    shanghai_date(t())
}

/// `n` working days after T's day by the shipped calendar: (that day, that day at 10:00 in Shanghai).
fn working_days_after_t(n: u32) -> (NaiveDate, String) {
    let settings = Settings::load(&config_file()).unwrap();
    let day = settings.calendar.add_working_days(t_day(), n);
    assert!(!day.provisional, "2026 has a calendar file");
    (day.date, format!("{}T10:00:00+08:00", day.date))
}

/// The binary on `config` and the SQLite store in `root`, the gateway's clock starting at `now`.
async fn at(config: &Path, root: &Path, now: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credit-gateway"));
    cmd.arg("--config").arg(config).args(["--now", now]).args(args);
    cmd.env("CREDIT_GATEWAY_DATABASE_URL", sqlite_url(root)).env("RUST_LOG", "warn");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs")).await.unwrap();
    assert!(out.status.success(), "{args:?}: {}{}", stdout(&out), stderr(&out));
    out
}

/// Three 行政处罚 records decided on T's day (general procedure: none filtered out).
fn penalties_decided_at_t(path: &Path) {
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows: 3,
        seed: 11,
        bad_share: 0.0,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: t_day(),
        days: 1,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, path).unwrap();
}

/// The shipped configuration in `root` with one destination, the provincial platform at `base`.
fn config_with_platform(root: &Path, base: &str) -> PathBuf {
    copy_config(root);
    for entry in std::fs::read_dir(root.join("config/destinations")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let provincial = format!(
        "version = 1\ntitle = \"省公共信用信息平台\"\nitems = [\"XK\", \"CF\"]\nadapter = \"http_json\"\n\
         url = \"{base}/platforms/provincial/json\"\ndeadline = true\n"
    );
    std::fs::write(root.join("config/destinations/provincial.toml"), provincial).unwrap();
    root.join("config/gateway.toml")
}

/// Every ingest run's (started_at, finished_at).
async fn run_stamps(root: &Path) -> Vec<(String, String)> {
    let store = Store::connect(&sqlite_url(root)).await.unwrap();
    let runs = store.recent_runs(None, 100).await.unwrap();
    store.close().await;
    runs.into_iter().map(|r| (r.started_at, r.finished_at.unwrap_or_default())).collect()
}

/// Ingests three records decided at T (`ingest --now T`), pushes them `working_days` later
/// (`deliveries push --now …`) to the sandbox's provincial platform, and returns each
/// record's (status, reported_on) on the push day.
async fn ingest_at_t_and_push_after(working_days: u32) -> (NaiveDate, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&config_file()).unwrap();
    let platforms =
        credit_gateway::sim::sandbox::platforms::start(credit_gateway::sim::sandbox::platforms::SandboxOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            subjects: None,
            exchange: None,
            secrets: Default::default(),
            catalogue: std::sync::Arc::new(probe.catalogue.clone()),
        })
        .await
        .expect("the sandbox platforms start");
    let config = config_with_platform(root, &format!("http://{}", platforms.addr()));
    let file = root.join("cf.csv");
    penalties_decided_at_t(&file);

    let out =
        at(&config, root, T, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]).await;
    assert_eq!(json(&out)["accepted"], 3, "{}", stdout(&out));
    // Started and finished at T (a run takes well under a minute), not on the real clock.
    for (started, finished) in run_stamps(root).await {
        assert!(started.starts_with(T_UTC_MINUTE) && finished.starts_with(T_UTC_MINUTE), "{started} {finished}");
    }

    let (push_day, push_at) = working_days_after_t(working_days);
    let out = at(&config, root, &push_at, &["deliveries", "push", "provincial"]).await;
    assert_eq!(json(&out)["accepted"], 3, "{}", stdout(&out));
    let out = at(&config, root, &push_at, &["deadlines", "--json"]).await;
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    platforms.shutdown().await;
    let statuses = rows
        .iter()
        .map(|r| {
            assert_eq!(r["decision_date"], t_day().to_string(), "{r}");
            (r["status"].as_str().unwrap().to_string(), r["reported_on"].as_str().unwrap_or("").to_string())
        })
        .collect();
    (push_day, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_pushed_nine_working_days_after_t_is_reported_late() {
    let (day, statuses) = ingest_at_t_and_push_after(9).await;
    assert_eq!(statuses, vec![("reported_late".to_string(), day.to_string()); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_pushed_two_working_days_after_t_is_reported_on_time() {
    let (day, statuses) = ingest_at_t_and_push_after(2).await;
    assert_eq!(statuses, vec![("reported_on_time".to_string(), day.to_string()); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_pass_run_with_now_acts_at_that_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_config(root);
    let config = root.join("config/gateway.toml");
    let inbox = root.join("data/inbox/market-penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    let file = inbox.join("cf.csv");
    penalties_decided_at_t(&file);
    // Marked done, so the pass takes it without waiting for it to settle.
    std::fs::write(root.join("data/inbox/market-penalties/cf.csv.done"), "").unwrap();

    let out = at(&config, root, T, &["connectors", "run", "market-penalties"]).await;
    let report = json(&out);
    let taken = &report["files"][0];
    assert_eq!((&taken["outcome"], &taken["accepted"]), (&Value::from("ingested"), &Value::from(3)), "{report}");
    // Filed under T's day in Shanghai.
    let moved = taken["moved_to"].as_str().unwrap();
    assert!(moved.contains(&format!("processed/{}/", t_day())), "{moved}");

    let out = at(&config, root, T, &["connectors", "--json"]).await;
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let health = &list.iter().find(|c| c["name"] == "market-penalties").unwrap()["health"];
    assert!(health["last_run_at"].as_str().unwrap().starts_with(T_UTC_MINUTE), "{health}");
    for (started, finished) in run_stamps(root).await {
        assert!(started.starts_with(T_UTC_MINUTE) && finished.starts_with(T_UTC_MINUTE), "{started} {finished}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_today_follows_the_daemons_clock() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_config(root);
    // Only the dashboard matters here: no connector pulls.
    for entry in std::fs::read_dir(root.join("connectors")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let config = root.join("config/gateway.toml");
    let out = at(&config, root, T, &["users", "add", "ops", "--role", "ops"]).await;
    let token = stdout(&out).lines().find_map(|l| l.strip_prefix("API 令牌：")).unwrap().trim().to_string();

    let mut daemon = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(&config)
        .args(["--now", T, "--log-format", "human", "run"])
        .env("CREDIT_GATEWAY_DATABASE_URL", sqlite_url(root))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = daemon.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the daemon says where the dashboard is");
        if line.contains("dashboard listening") {
            let from = line.find("url=").expect("the line names the url") + "url=".len();
            break line[from..].split_whitespace().next().unwrap().to_string();
        }
    };

    credit_gateway::connector::http::install_crypto_provider();
    let client = reqwest::Client::new();
    let overview: Value =
        client.get(format!("{url}api/v1/overview")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let page = client.get(&url).bearer_auth(&token).send().await.unwrap().text().await.unwrap();

    let term = Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status().unwrap();
    assert!(term.success());
    assert!(daemon.wait().unwrap().success());
    reader.join().unwrap();

    assert_ne!(t_day(), shanghai_date(Utc::now()), "T must differ from the real day for this test to mean anything");
    assert_eq!(overview["today"], t_day().to_string(), "{overview}");
    assert!(overview["as_of"].as_str().unwrap().starts_with(T_UTC_MINUTE), "{overview}");
    assert!(page.contains(&format!("今日：{}", t_day())), "{page}");
}
