//! The running daemon picks up a new year's calendar without a restart, refuses a broken one,
//! and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;

/// The shipped configuration, polling the calendar folder every second.
fn config_polling_fast(root: &Path) {
    copy_config(root);
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    std::fs::write(&gateway, text.replace("calendar_poll_seconds = 30", "calendar_poll_seconds = 1")).unwrap();
}

/// Waits for a log line containing `needle`, failing after a generous bound.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no log line with {needle:?}: {e}"),
        }
    }
}

#[test]
fn a_new_calendar_year_is_picked_up_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    config_polling_fast(root);
    let config = root.join("config/gateway.toml");
    let db = sqlite_url(root);
    let bin = env!("CARGO_BIN_EXE_credit-gateway");
    let cli = |args: &[&str]| {
        Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("CREDIT_GATEWAY_DATABASE_URL", &db)
            .output()
            .unwrap()
    };

    // A record decided on 2026-12-28: its 7 working days reach into 2027, which has no file.
    let file = root.join("p.csv");
    sample(
        &file,
        credit_gateway::sim::sample::SampleItem::Penalties,
        1,
        0.0,
        credit_gateway::sim::sample::SampleFormat::Csv,
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let date_col = text.lines().next().unwrap().split(',').position(|h| h == "处罚决定日期").unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let mut row: Vec<String> = rows.records().next().unwrap().unwrap().iter().map(str::to_string).collect();
    row[date_col] = "2026-12-28".into();
    row[header.iter().position(|h| h == "案件程序").unwrap()] = "一般程序".into();
    for col in ["处罚有效期", "公示截止期"] {
        row[header.iter().position(|h| h == col).unwrap()] = "2027-12-31".into();
    }
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record(&header).unwrap();
    w.write_record(&row).unwrap();
    w.flush().unwrap();
    // Ingested after the decision: a decision dated after the day of ingest is refused.
    let out = cli(&[
        "--now",
        "2026-12-29T12:00:00+08:00",
        "ingest",
        "--connector",
        "market-penalties",
        "--json",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["accepted"], 1, "{}", stdout(&out));

    let deadline = || -> serde_json::Value {
        let out = cli(&["deadlines", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        rows[0].clone()
    };
    assert_eq!(
        (deadline()["deadline"].as_str(), deadline()["provisional"].as_bool()),
        (Some("2027-01-06"), Some(true))
    );

    let mut daemon = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .args(["--log-format", "human", "run"])
        .env("CREDIT_GATEWAY_DATABASE_URL", &db)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stderr_pipe = daemon.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    wait_for(&lines, "credit-gateway running");
    wait_for(&lines, "no calendar file for this year");

    // The 2027 notice arrives (test data: 2027-01-01 off).
    std::fs::write(
        root.join("config/calendar/2027.toml"),
        "version = 1\nyear = 2027\nnotice = \"测试数据\"\n\n[[holidays]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-01\"\n",
    )
    .unwrap();
    wait_for(&lines, "calendar reloaded");
    let line = wait_for(&lines, "provisional deadlines recomputed");
    assert!(line.contains("recomputed=1") && line.contains("still_provisional=0"), "{line}");
    assert_eq!(
        (deadline()["deadline"].as_str(), deadline()["provisional"].as_bool()),
        (Some("2027-01-07"), Some(false))
    );

    // A broken file is refused and the calendar in use stays.
    std::fs::write(root.join("config/calendar/2028.toml"), "version = 1\nyear = 2029\nnotice = \"x\"\n").unwrap();
    let line = wait_for(&lines, "calendar change refused");
    assert!(line.contains("2029.toml"), "the log says what is wrong: {line}");

    let kill = Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status().unwrap();
    assert!(kill.success());
    wait_for(&lines, "shutting down");
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status}");
    reader.join().unwrap();
}
