//! Working days and deadlines through the real binary: the calendar against an independent
//! dataset, statuses that follow an injected clock, provisional years, and the monthly figures.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::*;
use chrono::{Datelike, Days, NaiveDate};

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The independent reference: the `chinese_holiday` crate (data to 2026-12-25).
fn reference_workday(d: NaiveDate) -> bool {
    chinese_holiday::chinese_holiday((d.year() as u16, d.month() as u8, d.day() as u8)).is_workday()
}

fn reference_deadline(start: NaiveDate, n: u32) -> Option<NaiveDate> {
    let mut d = start;
    let mut left = n;
    while left > 0 {
        d = d.succ_opt()?;
        if d > date("2026-12-25") {
            return None;
        }
        if reference_workday(d) {
            left -= 1;
        }
    }
    Some(d)
}

fn every_day() -> Vec<NaiveDate> {
    let mut days = Vec::new();
    let mut d = date("2023-01-01");
    while d <= date("2026-12-25") {
        days.push(d);
        d = d.succ_opt().unwrap();
    }
    days
}

fn run_with(config: &Path, db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("CREDIT_GATEWAY_DATABASE_URL", db)
        .output()
        .unwrap()
}

#[test]
fn every_day_of_2023_to_2026_agrees_with_an_independent_holiday_dataset() {
    let days = every_day();
    let args: Vec<String> = days.iter().map(NaiveDate::to_string).collect();
    let mut cmd: Vec<&str> = vec!["calendar", "is-workday"];
    cmd.extend(args.iter().map(String::as_str));
    let out = gateway("sqlite::memory:", &cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), days.len());
    for (line, d) in lines.iter().zip(&days) {
        let want = if reference_workday(*d) { "工作日" } else { "休息日" };
        assert_eq!(*line, format!("{d}\t{want}"), "{d}");
    }
    for n in [3u32, 7, 10] {
        let n_text = n.to_string();
        let mut cmd: Vec<&str> = vec!["calendar", "deadline", "--working-days", &n_text];
        cmd.extend(args.iter().map(String::as_str));
        let out = gateway("sqlite::memory:", &cmd);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let mut checked = 0;
        for (line, d) in text.lines().zip(&days) {
            if let Some(want) = reference_deadline(*d, n) {
                assert_eq!(line, format!("{d}\t{want}"), "{n} working days after {d}");
                checked += 1;
            }
        }
        assert!(checked > 1400, "{checked}");
    }
}

#[test]
fn the_spec_examples_and_a_provisional_year() {
    let out = gateway(
        "sqlite::memory:",
        &[
            "calendar",
            "deadline",
            "2023-01-19",
            "2023-09-27",
            "2024-09-27",
            "2025-09-26",
            "2025-12-31",
            "2026-02-12",
            "2026-12-24",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "2023-01-19\t2023-02-02\n2023-09-27\t2023-10-12\n2024-09-27\t2024-10-12\n2025-09-26\t2025-10-13\n\
         2025-12-31\t2026-01-12\n2026-02-12\t2026-02-28\n2026-12-24\t2027-01-04\t暂定\n"
    );
}

/// A 行政处罚 CSV with one row per (document number, decision date).
fn penalties_csv(path: &Path, rows: &[(&str, &str)]) {
    let header = credit_gateway::sim::sample::header(credit_gateway::sim::sample::SampleItem::Penalties);
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&header).unwrap();
    for (wsh, decided) in rows {
        let later = (date(decided) + Days::new(365)).to_string();
        let row: Vec<String> = header
            .iter()
            .map(|h| {
                match *h {
                    "行政相对人名称" => "淮北市相山区某某商贸有限公司",
                    "行政相对人类别" => "法人及非法人组织",
                    "统一社会信用代码" => "91340600MA2PBM9HXD",
                    "法定代表人" => "张三",
                    "行政处罚决定书文号" => wsh,
                    "违法行为类型" | "违法事实" | "处罚依据" | "处罚内容" => "内容",
                    "处罚类别" => "警告",
                    "处罚决定日期" => decided,
                    "处罚有效期" | "公示截止期" => later.as_str(),
                    "处罚机关" | "数据来源单位" => "淮北市相山区市场监督管理局",
                    "处罚机关统一社会信用代码" | "数据来源单位统一社会信用代码" => {
                        "11340600MB1234567C"
                    }
                    _ => "",
                }
                .to_string()
            })
            .collect();
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

fn statuses(config: &Path, db: &str, now: &str) -> BTreeMap<String, (String, String, bool)> {
    let out = run_with(config, db, &["--now", now, "deadlines", "--json", "--limit", "100"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            let wsh = r["business_key"].as_str().unwrap().split('\u{1f}').next().unwrap().to_string();
            let st = (
                r["status"].as_str().unwrap().to_string(),
                r["deadline"].as_str().unwrap().to_string(),
                r["provisional"].as_bool().unwrap(),
            );
            (wsh, st)
        })
        .collect()
}

#[test]
fn statuses_follow_the_clock_across_a_holiday_and_into_a_year_without_a_calendar() {
    let dir = tempfile::tempdir().unwrap();
    clock_scenario(dir.path(), &sqlite_url(dir.path()));
}

#[test]
fn statuses_and_recomputation_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, name) = rt.block_on(fresh_postgres());
    clock_scenario(dir.path(), &url);
    rt.block_on(drop_postgres(&name));
}

fn clock_scenario(dir: &Path, db: &str) {
    // A copy of the configuration, so a 2027 calendar can be added later.
    let root = dir;
    copy_config(root);
    let config = root.join("config/gateway.toml");
    let file = root.join("p.csv");
    penalties_csv(&file, &[("春节前", "2026-02-12"), ("年末", "2026-12-24")]);
    // Ingested after the decisions: a decision dated after the day of ingest is refused.
    let out = run_with(
        &config,
        db,
        &[
            "--now",
            "2026-12-31T12:00:00+08:00",
            "ingest",
            "--connector",
            "market-penalties",
            "--json",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // 2026-02-12 + 7 working days: the Spring Festival holiday, then the make-up Saturday 02-28.
    let at = |now: &str| statuses(&config, db, now);
    assert_eq!(at("2026-02-25T12:00:00+08:00")["春节前"], ("pending".into(), "2026-02-28".into(), false));
    assert_eq!(at("2026-02-26T00:00:00+08:00")["春节前"].0, "due_soon");
    assert_eq!(at("2026-02-28T23:59:59+08:00")["春节前"].0, "due_soon");
    assert_eq!(at("2026-03-01T00:00:00+08:00")["春节前"].0, "overdue");
    // 24:00 Shanghai is 16:00 UTC.
    assert_eq!(at("2026-02-28T15:59:59Z")["春节前"].0, "due_soon");
    assert_eq!(at("2026-02-28T16:00:00Z")["春节前"].0, "overdue");

    // No 2027 calendar yet: weekends only, marked provisional.
    assert_eq!(at("2026-12-24T12:00:00+08:00")["年末"], ("pending".into(), "2027-01-04".into(), true));
    let warn = run_with(&config, db, &["--now", "2026-12-24T12:00:00+08:00", "calendar", "deadline", "2026-12-24"]);
    assert!(stderr(&warn).contains("缺少 2027 年的节假日文件"), "{}", stderr(&warn));
    assert_eq!(stdout(&warn).trim_end(), "2026-12-24\t2027-01-04\t暂定");

    // The 2027 notice arrives (test data: New Year's Day off): recompute, no longer provisional.
    std::fs::write(
        root.join("config/calendar/2027.toml"),
        "version = 1\nyear = 2027\nnotice = \"测试数据\"\nnotice_url = \"\"\n\n[[holidays]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-01\"\nworkdays = []\n",
    )
    .unwrap();
    let out = run_with(&config, db, &["calendar", "recompute"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("已重算 1 个暂定期限；仍暂定 0 个"), "{}", stdout(&out));
    assert_eq!(at("2026-12-24T12:00:00+08:00")["年末"], ("pending".into(), "2027-01-05".into(), false));

    // Reported on the deadline day is on time; the day after is late.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = credit_gateway::store::Store::connect(db).await.unwrap();
        let filter = credit_gateway::store::DeadlineFilter { limit: 10, ..Default::default() };
        let ids: Vec<i64> = store.deadlines(date("2026-01-01"), &filter).await.unwrap().iter().map(|r| r.id).collect();
        let on_day = chrono::DateTime::parse_from_rfc3339("2026-02-28T23:00:00+08:00").unwrap().to_utc();
        assert_eq!(store.mark_reported(&ids[..1], on_day).await.unwrap(), 1);
        let late = chrono::DateTime::parse_from_rfc3339("2027-01-06T09:00:00+08:00").unwrap().to_utc();
        assert_eq!(store.mark_reported(&ids[1..], late).await.unwrap(), 1);
        // A second acceptance (a re-push) does not move the first.
        assert_eq!(store.mark_reported(&ids, late).await.unwrap(), 0);
    });
    let later = at("2027-02-01T00:00:00+08:00");
    assert_eq!(later["春节前"].0, "reported_on_time");
    assert_eq!(later["年末"].0, "reported_late");
}

#[test]
fn monthly_figures_match_an_independent_recount() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("p.csv");
    let spec = credit_gateway::sim::sample::SampleSpec {
        item: credit_gateway::sim::sample::SampleItem::Penalties,
        rows: 600,
        seed: 11,
        bad_share: 0.05,
        summary_share: 0.0,
        format: credit_gateway::sim::sample::SampleFormat::Csv,
        first_date: date("2026-01-05"),
        // Decided before the day of ingest (03-20): a decision dated after it is refused.
        days: 70,
        first_number: 0,
    };
    let expected = credit_gateway::sim::sample::write_sample(&spec, &file).unwrap();
    let out = gateway(
        &db,
        &[
            "--now",
            "2026-03-20T10:00:00+08:00",
            "ingest",
            "--connector",
            "market-penalties",
            "--json",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let today = date("2026-04-10");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let records: Vec<(i64, String)> = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        sqlx::query_as("SELECT id, decision_date FROM records ORDER BY id").fetch_all(&pool).await.unwrap()
    });
    assert_eq!(records.len() as u64, expected.good);

    // Report every third record, some days after its decision (so some on time, some late).
    let mut reported: Vec<(i64, NaiveDate, NaiveDate)> = Vec::new();
    rt.block_on(async {
        let store = credit_gateway::store::Store::connect(&db).await.unwrap();
        for (n, (id, decided)) in records.iter().enumerate().filter(|(n, _)| n % 3 == 0) {
            let decided = date(decided);
            let day = decided + Days::new(3 + (n as u64 % 17));
            if day > today {
                continue;
            }
            let at = day.and_hms_opt(10, 0, 0).unwrap().and_utc() - chrono::Duration::hours(8);
            store.mark_reported(&[*id], at).await.unwrap();
            reported.push((*id, decided, day));
        }
        let ledger = vec![credit_gateway::store::LedgerEntry {
            department: "market".into(),
            item: "CF".into(),
            month: "2026-02".into(),
            declared: 1_000,
        }];
        store.import_ledger(&ledger, "test", chrono::Utc::now()).await.unwrap();
    });

    // The independent recount, with the reference calendar.
    #[derive(Default, Debug, PartialEq)]
    struct Count {
        records: i64,
        on_time: i64,
        late: i64,
        overdue: i64,
        due_soon: i64,
    }
    let mut want: BTreeMap<String, Count> = BTreeMap::new();
    let reported_ids: BTreeMap<i64, NaiveDate> = reported.iter().map(|(id, _, day)| (*id, *day)).collect();
    for (id, decided) in &records {
        let decided = date(decided);
        let deadline = reference_deadline(decided, 7).unwrap();
        let due_soon_from = reference_deadline(decided, 5).unwrap();
        let month = decided.format("%Y-%m").to_string();
        want.entry(month.clone()).or_default().records += 1;
        match reported_ids.get(id) {
            Some(day) => {
                let c = want.entry(day.format("%Y-%m").to_string()).or_default();
                if *day <= deadline { c.on_time += 1 } else { c.late += 1 }
            }
            None if today > deadline => want.get_mut(&month).unwrap().overdue += 1,
            None if today >= due_soon_from => want.get_mut(&month).unwrap().due_soon += 1,
            None => {}
        }
    }

    let out = gateway(&db, &["--now", "2026-04-10T12:00:00+08:00", "report", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let figures: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: BTreeMap<String, Count> = BTreeMap::new();
    for f in &figures {
        assert_eq!((f["department"].as_str(), f["item"].as_str()), (Some("market"), Some("CF")));
        let n = |k: &str| f[k].as_i64().unwrap();
        got.insert(
            f["month"].as_str().unwrap().to_string(),
            Count {
                records: n("records"),
                on_time: n("on_time"),
                late: n("late"),
                overdue: n("overdue"),
                due_soon: n("due_soon"),
            },
        );
        let (on_time, late) = (n("on_time"), n("late"));
        if on_time + late > 0 {
            let rate = f["late_rate"].as_f64().unwrap();
            assert!((rate - late as f64 / (on_time + late) as f64).abs() < 1e-9);
        }
    }
    assert_eq!(got, want);

    // 合规率 is counted in the month of ingest; 漏报 from the ledger.
    let march = figures.iter().find(|f| f["month"] == "2026-03").unwrap();
    let valid = expected.good as f64 / (expected.good + expected.bad) as f64;
    assert!((march["compliance_rate"].as_f64().unwrap() - valid).abs() < 1e-9, "{march}");
    let feb = figures.iter().find(|f| f["month"] == "2026-02").unwrap();
    assert_eq!(feb["missing"].as_i64().unwrap(), 1_000 - feb["records"].as_i64().unwrap());

    // The same figures as a table and as CSV.
    let table = gateway(&db, &["--now", "2026-04-10T12:00:00+08:00", "report", "--month", "2026-02"]);
    assert!(stdout(&table).starts_with("部门"), "{}", stdout(&table));
    assert_eq!(stdout(&table).lines().count(), 2);
}
