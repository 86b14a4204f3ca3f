//! The daemon as a system service: its systemd unit verifies; it tells systemd it is ready,
//! reloading and stopping and feeds the watchdog (over a real NOTIFY_SOCKET); SIGHUP takes a
//! valid configuration, refuses an invalid one, and loses no work either way; the logs it
//! writes for the journal are JSON with spans and without ID numbers.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use credit_gateway::sim::sample::{SampleFormat, SampleItem};

use crate::support::*;

fn folder_connector(item: &str, mapping: &str, inbox: &str) -> String {
    format!(
        "version = 1\ndepartment = \"market\"\nitem = \"{item}\"\nmapping = \"{mapping}\"\nkind = \"folder\"\n\
         [folder]\ninbox = \"{inbox}\"\nsettle_seconds = 0.2\npoll_seconds = 0.1\n"
    )
}

/// The shipped configuration with only the market-penalties folder connector, a SQLite store in
/// `root`, and no reachable platform (deliveries wait; nothing here is about them).
fn config(root: &Path) -> PathBuf {
    copy_config(root);
    for entry in std::fs::read_dir(root.join("connectors")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let penalties = folder_connector("CF", "market-penalties", "inbox/penalties");
    std::fs::write(root.join("connectors/market-penalties.toml"), penalties).unwrap();
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    let db = root.join("gateway.db");
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", &format!("sqlite://{}", db.display()))).unwrap();
    gateway
}

/// `run`, its stderr (the log, JSON as the journal gets it) read line by line.
fn daemon(config: &Path, env: &[(&str, &str)]) -> (Child, mpsc::Receiver<String>) {
    // Through `sh -c 'exec …'`, as systemd sets WATCHDOG_PID to the service's own PID.
    let script = "WATCHDOG_PID=$$ exec \"$0\" --config \"$1\" run";
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg(config)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
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

/// The next log line containing `needle`; every line read on the way is kept in `seen`.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(e) => panic!("no log line with {needle:?} ({e}); the log so far:\n{}", seen.join("\n")),
        }
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap().success();
    assert!(ok, "kill -{name}");
}

fn stop(mut child: Child) {
    signal(&child, "TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the daemon exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    v
}

fn processed(inbox: &Path, name: &str) -> PathBuf {
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    inbox.join("processed").join(today).join(name)
}

fn wait_until(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_systemd_unit_is_valid_and_hardened() {
    let unit = std::fs::read_to_string(repo().join("systemd/credit-gateway.service")).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "User=credit-gateway",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ReadWritePaths=",
        "StandardError=journal",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "the unit lacks {line}");
    }
    // systemd's own check, with the binary where the unit expects it.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("credit-gateway.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/credit-gateway", env!("CARGO_BIN_EXE_credit-gateway"))).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&copy).output().expect("systemd-analyze (systemd)");
    let complaints = String::from_utf8_lossy(&out.stderr).to_string();
    // Users and folders of the target server do not exist here; anything else is a mistake.
    let real: Vec<&str> = complaints
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.contains("credit-gateway") || l.contains("Unknown") || l.contains("Invalid"))
        .collect();
    assert!(out.status.success() && real.is_empty(), "systemd-analyze verify: {complaints}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_reloading_stopping_and_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root);
    let socket_path = root.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let (child, lines) =
        daemon(&config, &[("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WATCHDOG_USEC", "400000")]);
    let mut heard = Vec::new();
    let mut listen = |wanted: &str| {
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.recv(&mut buf).unwrap_or_else(|e| panic!("waiting for {wanted}: {e}; heard {heard:?}"));
            let message = String::from_utf8_lossy(&buf[..n]).to_string();
            heard.push(message.clone());
            if message.contains(wanted) {
                return message;
            }
        }
    };
    let ready = listen("READY=1");
    assert!(ready.contains("STATUS=running"), "{ready}");
    // The watchdog is fed every 0.2 s.
    let started = Instant::now();
    for _ in 0..3 {
        listen("WATCHDOG=1");
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // A reload: RELOADING=1 with the monotonic clock, then READY=1 again.
    signal(&child, "HUP");
    let reloading = listen("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    listen("READY=1");

    // A refused reload says so in the status and stays ready.
    std::fs::write(root.join("connectors/broken.toml"), "version = 1\nkind = \"ftp\"\n").unwrap();
    signal(&child, "HUP");
    let status = listen("last reload refused");
    assert!(status.contains("broken.toml"), "{status}");
    stop_and_hear_stopping(child, &mut listen);
    drop(lines);
}

fn stop_and_hear_stopping(child: Child, listen: &mut impl FnMut(&str) -> String) {
    signal(&child, "TERM");
    listen("STOPPING=1");
    stop_reaped(child);
}

fn stop_reaped(mut child: Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the daemon exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_takes_a_valid_change_refuses_an_invalid_one_and_loses_no_work() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root);
    let url = format!("sqlite://{}", root.join("gateway.db").display());
    let penalties = root.join("inbox/penalties");
    let licences = root.join("inbox/licences");
    std::fs::create_dir_all(&penalties).unwrap();
    let (child, lines) = daemon(&config, &[]);
    let mut seen = Vec::new();
    wait_for(&lines, "connectors started", &mut seen);

    // A large file arrives and, while it is being taken, a valid change: a licences connector.
    let big = root.join("big.csv");
    let expected = sample(&big, SampleItem::Penalties, 30_000, 0.0, SampleFormat::Csv).good as i64;
    std::fs::rename(&big, penalties.join("big.csv")).unwrap();
    let db = root.join("gateway.db");
    wait_until("the daemon starts on the big file", Duration::from_secs(60), || {
        db.exists() && std::fs::metadata(&db).is_ok_and(|m| m.len() > 0)
    });
    let licence_connector = folder_connector("XK", "market-licences", "inbox/licences");
    std::fs::write(root.join("connectors/market-licences.toml"), licence_connector).unwrap();
    signal(&child, "HUP");
    wait_for(&lines, "configuration reloaded", &mut seen);

    // The new connector works...
    let small = root.join("licences.csv");
    let licensed = sample(&small, SampleItem::Licences, 20, 0.0, SampleFormat::Csv).good as i64;
    std::fs::create_dir_all(&licences).unwrap();
    std::fs::rename(&small, licences.join("licences.csv")).unwrap();
    wait_until("the new connector takes its file", Duration::from_secs(60), || {
        processed(&licences, "licences.csv").exists()
    });
    // ...and the file in hand during the reload is stored whole, once.
    wait_until("the big file is finished", Duration::from_secs(120), || processed(&penalties, "big.csv").exists());
    assert_eq!(scalar(&url, "SELECT count(*) FROM records WHERE item = 'CF'").await, expected);
    assert_eq!(scalar(&url, "SELECT count(*) FROM records WHERE item = 'XK'").await, licensed);
    assert_eq!(scalar(&url, "SELECT count(*) FROM record_versions").await, 0, "no row stored twice");

    // An invalid change is refused with the reason, and the running configuration goes on.
    std::fs::write(root.join("connectors/broken.toml"), "version = 1\nkind = \"ftp\"\n").unwrap();
    signal(&child, "HUP");
    let refused = wait_for(&lines, "new configuration refused", &mut seen);
    assert!(refused.contains("broken.toml"), "the log does not say which file is wrong: {refused}");
    let next = root.join("next.csv");
    sample(&next, SampleItem::Licences, 10, 0.0, SampleFormat::Csv);
    std::fs::rename(&next, licences.join("next.csv")).unwrap();
    wait_until("the old configuration still runs", Duration::from_secs(60), || {
        processed(&licences, "next.csv").exists()
    });

    // The log is JSON for the journal, with a span per connector run and no ID numbers.
    stop(child);
    for line in lines.try_iter() {
        seen.push(line);
    }
    assert!(seen.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{}", seen.join("\n"));
    assert!(seen.iter().any(|l| l.contains("\"connector_run\"")), "no connector_run span:\n{}", seen.join("\n"));
    let id_number = regex_free_id_number(&seen);
    assert!(id_number.is_none(), "an ID number in the log: {id_number:?}");
}

/// A full 18-character personal ID number (valid check character) anywhere in the log lines.
fn regex_free_id_number(lines: &[String]) -> Option<String> {
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        for w in chars.windows(18) {
            let s: String = w.iter().collect();
            if w[..17].iter().all(|c| c.is_ascii_digit()) && credit_gateway::ids::IdNumber::parse(&s).is_ok() {
                return Some(s);
            }
        }
    }
    None
}

#[test]
fn migrate_brings_a_new_database_up_to_date_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let out = gateway(&db, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("0001 records")
            && text.contains("0008 leases")
            && text.contains("数据库结构已是最新")
            && !text.contains("T0"),
        "{text}"
    );
    // Again: nothing to do, same answer.
    let again = gateway(&db, &["migrate"]);
    assert_eq!(stdout(&again).lines().count(), text.lines().count());
}

/// An admin's 立即运行 on the 连接器 page runs a scheduled connector now, outside its schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_a_connector_now_from_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root);
    let (api, hits) = empty_tax_api().await;
    let yearly = tax_connector(root, &api, "0 0 0 1 1 *");
    std::fs::write(root.join("connectors/tax-arrears.toml"), yearly).unwrap();
    let settings = credit_gateway::config::Settings::load(&config).unwrap();
    let store = credit_gateway::store::Store::connect(&settings.gateway.database_url).await.unwrap();
    let now = chrono::Utc::now();
    let add = |name: &'static str, role: &'static str| {
        let (store, departments) = (store.clone(), settings.departments.clone());
        async move {
            credit_gateway::web::auth::add_user(&store, &departments, name, role, None, None, now)
                .await
                .unwrap()
                .api_token
        }
    };
    let (admin, ops) = (add("admin", "admin").await, add("ops", "ops").await);
    store.close().await;

    let (child, lines) = daemon(&config, &[]);
    let mut seen = Vec::new();
    let listening = wait_for(&lines, "dashboard listening", &mut seen);
    let url =
        serde_json::from_str::<serde_json::Value>(&listening).unwrap()["fields"]["url"].as_str().unwrap().to_string();
    wait_for(&lines, "connectors started", &mut seen);
    credit_gateway::connector::http::install_crypto_provider();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let run = |token: &str, name: &str| {
        client
            .post(format!("{url}connectors/run"))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("name={name}"))
            .send()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(hits.lock().unwrap().is_empty(), "a yearly connector ran on its own");
    let page = client.get(format!("{url}connectors")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("立即运行"), "{page}");
    assert_eq!(run(&ops, "tax-arrears").await.unwrap().status(), reqwest::StatusCode::FORBIDDEN);
    assert_eq!(run(&admin, "no-such-connector").await.unwrap().status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(run(&admin, "tax-arrears").await.unwrap().status(), reqwest::StatusCode::SEE_OTHER);
    wait_until("the connector runs when asked", Duration::from_secs(30), || !hits.lock().unwrap().is_empty());
    stop(child);
}
