//! `credit-gateway demo` as a newcomer runs it: within a minute the dashboard shows all four
//! departments with records, deliveries accepted, returned records and an overdue one, and the
//! market lists and A-grade taxpayers arrive.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Ends the demo with SIGTERM (as systemd or Ctrl-C would) if the test fails first.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_every_department_deliveries_returns_and_overdue_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let any = "127.0.0.1:0";
    let child = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(config_file())
        .args(["demo", "--listen", any, "--platforms", any, "--departments", any, "--every", "3", "--rows", "120"])
        .arg("--dir")
        .arg(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut demo = Demo(child);
    let started = Instant::now();

    // The banner: the dashboard's address and a login.
    let mut lines = BufReader::new(demo.0.stdout.take().unwrap()).lines();
    let (mut url, mut token, mut password) = (None, None, None);
    while token.is_none() {
        let line = lines.next().expect("the demo ended before printing its banner").unwrap();
        let last = line.split_whitespace().last().unwrap_or("").to_string();
        if line.contains("dashboard:") {
            url = Some(last);
        } else if line.contains("admin:") {
            password = Some(last);
        } else if line.contains("API token") {
            token = Some(last);
        }
    }
    let (url, token, password) = (url.unwrap(), token.unwrap(), password.unwrap());
    assert!(url.starts_with("http://127.0.0.1:") && password.len() >= 12, "{url} {password}");
    assert!(folder.join("config/gateway.toml").exists() && folder.join("data/gateway.db").exists());

    credit_gateway::connector::http::install_crypto_provider();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let overview = loop {
        let o: Value =
            http.get(format!("{url}api/v1/overview")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        let departments = o["departments"].as_array().unwrap();
        let all_have_records = departments.len() == 4 && departments.iter().all(|d| d["records"].as_i64() > Some(0));
        if all_have_records && o["returned"].as_i64() > Some(0) && o["overdue"].as_i64() > Some(0) {
            break o;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "after a minute the demo shows only:\n{o:#}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let deliveries: Value = http
        .get(format!("{url}api/v1/deliveries?status=accepted"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!deliveries["rows"].as_array().unwrap().is_empty(), "no delivery accepted: {deliveries}");
    assert!(overview["late"].as_i64() > Some(0), "the demo has late decisions: {overview:#}");

    // Prometheus sees the pushes and how long they took.
    let metrics = http.get(format!("{url}metrics")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    let pushes = metrics
        .lines()
        .find(|l| l.starts_with("credit_gateway_push_seconds_count{destination=\"provincial\",result=\"ok\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(pushes > Some(0), "no push latency in /metrics:\n{metrics}");
    assert!(metrics.contains("credit_gateway_deliveries{status=\"accepted\"}"), "{metrics}");

    // The market lists of the same firms, and their changes as second versions; the tax
    // bureau's A-grade list pulled from its API.
    let db = format!("sqlite://{}", folder.join("data/gateway.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    loop {
        let items: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT item, COUNT(*), MAX(version) FROM records GROUP BY item")
                .fetch_all(&pool)
                .await
                .unwrap();
        let has = |item: &str, version: i64| items.iter().any(|(i, n, v)| i == item && *n > 0 && *v >= version);
        if ["MKT_YC", "MKT_YZWF", "XYCN"].iter().all(|i| has(i, 2)) && has("TAX_A", 1) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "the demo's lists are missing: {items:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let shared: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT l.id) FROM records l JOIN records p ON p.item = 'CF' \
         AND json_extract(p.content, '$.CF_XDR_SHXYM') = json_extract(l.content, '$.YC_SHXYM') WHERE l.item = 'MKT_YC'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(shared > 0, "listed firms are the penalised ones, so their credit files hold both");
    pool.close().await;

    // The departments are told about their bad rows.
    let reports = folder.join("data/inbox/market-penalties/outbox");
    let report = std::fs::read_dir(&reports)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".errors.csv"));
    assert!(report.is_some(), "no error report in {}", reports.display());

    // The login works on the pages too.
    let body = format!("name=admin&password={password}");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{url}login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);

    // SIGTERM stops it cleanly.
    let pid = demo.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            assert!(status.success(), "the demo exited with {status}");
            break;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(lines);
}
