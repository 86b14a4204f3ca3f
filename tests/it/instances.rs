//! Several instances started at the same instant on one fresh PostgreSQL database all come up
//! and stay up: the schema is migrated once (sqlx holds an advisory lock while it migrates)
//! and what each instance writes at start-up (the destinations' items, connector state and
//! leases) is idempotent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;

/// `run` on `database`, its log (JSON lines) read line by line.
fn instance(config: &Path, database: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("CREDIT_GATEWAY_DATABASE_URL", database)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The next log line containing `needle`; fails with the log so far if the instance ends first.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen.last().unwrap().clone();
                }
            }
            Err(e) => panic!("no log line with {needle:?} ({e}); the log so far:\n{}", seen.join("\n")),
        }
    }
}

/// The shipped configuration (every connector, destination and feed; their remote ends are not
/// running, which changes nothing at start-up) with the dashboard on a free port.
fn config(root: &Path) -> PathBuf {
    copy_config(root);
    root.join("config/gateway.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_started_together_on_a_fresh_database_all_stay_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    credit_gateway::connector::http::install_crypto_provider();
    let client = reqwest::Client::new();
    for round in 0..10 {
        let (url, name) = fresh_postgres().await;
        let mut instances: Vec<_> = (0..3).map(|_| instance(&config, &url)).collect();
        let mut dashboards = Vec::new();
        for (i, (_, lines)) in instances.iter().enumerate() {
            let mut seen = Vec::new();
            let listening = wait_for(lines, "dashboard listening", &mut seen);
            let fields: serde_json::Value = serde_json::from_str(&listening).unwrap();
            dashboards.push(fields["fields"]["url"].as_str().unwrap().to_string());
            // After the destinations' items are synchronised: the start-up writes are done.
            wait_for(lines, "connectors started", &mut seen);
            assert!(
                !seen.iter().any(|l| l.contains("duplicate key")),
                "round {round}, instance {i}:\n{}",
                seen.join("\n")
            );
        }
        for (i, dashboard) in dashboards.iter().enumerate() {
            let answer = client.get(format!("{dashboard}healthz")).send().await;
            assert!(answer.is_ok_and(|a| a.status().is_success()), "round {round}: instance {i} does not answer");
        }
        for (i, (child, _)) in instances.iter_mut().enumerate() {
            assert!(child.try_wait().unwrap().is_none(), "round {round}: instance {i} died");
        }
        for (child, _) in &instances {
            let term = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
            assert!(term.success());
        }
        for (i, (mut child, _)) in instances.into_iter().enumerate() {
            let status = tokio::task::spawn_blocking(move || child.wait().unwrap());
            let status =
                tokio::time::timeout(Duration::from_secs(30), status).await.expect("stops on SIGTERM").unwrap();
            assert!(status.success(), "round {round}: instance {i} exited with {status}");
        }
        drop_postgres(&name).await;
    }
}

/// Synchronising the destinations' items keeps the configured pairs, adds the new ones and
/// drops only those no longer configured; the same on both engines, and again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_items_follow_the_configuration_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let (pg_url, pg_name) = fresh_postgres().await;
    for url in [sqlite_url(dir.path()), pg_url] {
        let store = credit_gateway::store::Store::connect(&url).await.unwrap();
        let pairs =
            |list: &[(&str, &str)]| list.iter().map(|(d, i)| (d.to_string(), i.to_string())).collect::<Vec<_>>();
        let rows = || stored_pairs(&url);
        store.sync_destination_items(&pairs(&[("provincial", "CF"), ("national", "XK")])).await.unwrap();
        store.sync_destination_items(&pairs(&[("provincial", "CF"), ("provincial", "XK")])).await.unwrap();
        store.sync_destination_items(&pairs(&[("provincial", "CF"), ("provincial", "XK")])).await.unwrap();
        assert_eq!(rows().await, pairs(&[("provincial", "CF"), ("provincial", "XK")]), "{url}");
        store.sync_destination_items(&[]).await.unwrap();
        assert!(rows().await.is_empty(), "{url}");
        store.close().await;
    }
    drop_postgres(&pg_name).await;
}

/// `destination_items`, sorted.
async fn stored_pairs(url: &str) -> Vec<(String, String)> {
    const SQL: &str = "SELECT destination, item FROM destination_items ORDER BY destination, item";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}
