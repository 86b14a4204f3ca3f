//! Publicity periods end to end: penalties of every regime and class go public at the sandbox
//! platform and are withdrawn exactly when the law says (planned end, repair, revocation),
//! once, while the clock moves day by day through three and a half years; bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::delivery::worker::push_due;
use credit_gateway::early_end::{RepairError, RepairRefused, repair};
use credit_gateway::ingest::{IngestOptions, IngestSummary, ingest_file};
use credit_gateway::store::Store;
use serde_json::Value;

use crate::support::*;

const HEADER: &str = "行政相对人名称,行政相对人类别,统一社会信用代码,法定代表人,行政处罚决定书文号,违法行为类型,违法事实,\
处罚依据,处罚类别,处罚内容,处罚决定日期,处罚有效期,公示截止期,处罚机关,处罚机关统一社会信用代码,数据来源单位,\
数据来源单位统一社会信用代码,案件程序,失信严重程度,轻微失信确有必要公示,操作类型,撤销日期,撤销原因";

/// One penalty row: a warning (01) unless `kinds` says otherwise.
#[derive(Clone, Copy)]
struct Row<'a> {
    wsh: &'a str,
    decided: &'a str,
    end: &'a str,
    kinds: &'a str,
    basis: &'a str,
    class: &'a str,
    necessary: &'a str,
    operation: &'a str,
    revoked_on: &'a str,
    reason: &'a str,
}

const ROW: Row<'static> = Row {
    wsh: "",
    decided: "",
    end: "",
    kinds: "01",
    basis: "《无证无照经营查处办法》第十三条",
    class: "",
    necessary: "",
    operation: "",
    revoked_on: "",
    reason: "",
};

fn line(r: &Row<'_>) -> String {
    [
        "淮北市相山区某某商贸有限公司",
        "法人及非法人组织",
        "91340600MA2PBM9HXD",
        "张三",
        r.wsh,
        "无照经营",
        "未取得营业执照从事经营活动",
        r.basis,
        r.kinds,
        "警告",
        r.decided,
        r.decided,
        r.end,
        "淮北市相山区市场监督管理局",
        "11340600MB1234567C",
        "淮北市相山区市场监督管理局",
        "11340600MB1234567C",
        "一般程序",
        r.class,
        r.necessary,
        r.operation,
        r.revoked_on,
        r.reason,
    ]
    .join(",")
}

fn write_file(dir: &Path, name: &str, rows: &[Row<'_>]) -> PathBuf {
    let path = dir.join(name);
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(&line(r));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// 10:00 in Shanghai on `d`.
fn morning(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(2, 0, 0).unwrap())
}

async fn ingest(settings: &Settings, store: &Store, clock: &Clock, path: &Path) -> IngestSummary {
    let opts = IngestOptions { report_path: None, progress: false, clock: clock.clone(), source: None };
    ingest_file(settings, store, "market-penalties", path, &opts).await.unwrap()
}

fn config(root: &Path, base: &str, database_url: &str) -> PathBuf {
    copy_config(root);
    for entry in std::fs::read_dir(root.join("config/destinations")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let destination = format!(
        "version = 1\ntitle = \"省公共信用信息平台\"\nitems = [\"XK\", \"CF\"]\nadapter = \"http_json\"\n\
         url = \"{base}/platforms/provincial/json\"\ndeadline = true\nrate_per_second = 1000\n"
    );
    std::fs::write(root.join("config/destinations/provincial.toml"), destination).unwrap();
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", database_url)).unwrap();
    gateway
}

async fn sandbox(settings: &Settings) -> (String, credit_gateway::sim::sandbox::platforms::RunningSandbox) {
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

async fn get(url: String) -> Value {
    credit_gateway::connector::http::install_crypto_provider();
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Record id by document number.
async fn ids(settings: &Settings, store: &Store, today: NaiveDate) -> BTreeMap<String, i64> {
    credit_gateway::publicity_view::list(settings, store, today, None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.wsh.unwrap(), l.id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_years_of_publicity_at_the_sandbox_platform_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    three_years(&sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_years_of_publicity_at_the_sandbox_platform_on_postgres() {
    let (url, name) = fresh_postgres().await;
    three_years(&url).await;
    drop_postgres(&name).await;
}

async fn three_years(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let config = config(root, &base, database_url);
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();

    // What the departments send, and when.
    let files: Vec<(&str, Vec<Row<'_>>)> = vec![
        (
            "2023-04-20",
            vec![
                // 2019 regime, general: 公示截止期 before the 3-month minimum (2023-07-18).
                Row { wsh: "短〔2023〕1号", decided: "2023-04-18", end: "2023-05-01", ..ROW },
                // Its planned end (the minimum, 2023-04-10) passed before it was first pushed.
                Row { wsh: "迟〔2023〕2号", decided: "2023-01-10", end: "2023-02-10", ..ROW },
            ],
        ),
        (
            "2023-05-12",
            // Order 58: 5 years asked, 3 years the maximum (2026-05-10).
            vec![Row { wsh: "长〔2023〕3号", decided: "2023-05-10", end: "2028-05-10", ..ROW }],
        ),
        (
            "2024-03-04",
            vec![
                // Order 58, 消防: at least a year (2025-01-15).
                Row {
                    wsh: "消〔2024〕4号",
                    decided: "2024-01-15",
                    end: "2024-04-15",
                    basis: "《中华人民共和国消防法》第六十条",
                    ..ROW
                },
                // Repaired after its minimum (2024-05-29, from a leap day).
                Row { wsh: "修〔2024〕5号", decided: "2024-02-29", end: "2026-02-28", ..ROW },
                // Revoked by the department.
                Row { wsh: "撤〔2024〕6号", decided: "2024-03-01", end: "2025-03-01", ..ROW },
            ],
        ),
        (
            "2024-04-10",
            vec![Row {
                wsh: "撤〔2024〕6号",
                decided: "2024-03-01",
                end: "2025-03-01",
                operation: "撤销",
                revoked_on: "2024-04-08",
                reason: "行政复议决定撤销",
                ..ROW
            }],
        ),
        (
            "2026-04-13",
            vec![
                // 2026 regime: general to its department date; serious kept; minor held;
                // a minor one the department deems necessary, to its date (within 3 months).
                Row { wsh: "般〔2026〕7号", decided: "2026-04-10", end: "2026-10-10", class: "一般", ..ROW },
                Row { wsh: "重〔2026〕8号", decided: "2026-04-10", end: "2027-04-10", class: "严重", ..ROW },
                Row { wsh: "微〔2026〕9号", decided: "2026-04-10", end: "2026-06-10", class: "轻微", ..ROW },
                Row {
                    wsh: "必〔2026〕10号",
                    decided: "2026-04-10",
                    end: "2026-06-10",
                    class: "轻微",
                    necessary: "是",
                    ..ROW
                },
            ],
        ),
    ];
    let clock = Clock::fixed(morning(day("2023-04-20")));
    let mut first_withdrawn: BTreeMap<i64, NaiveDate> = BTreeMap::new();
    let mut refused_early = false;
    let mut d = day("2023-04-20");
    let last = day("2026-11-30");
    let mut warnings: Vec<String> = Vec::new();
    while d <= last {
        clock.set(morning(d));
        for (n, (on, rows)) in files.iter().enumerate() {
            if day(on) == d {
                let path = write_file(root, &format!("cf-{n}.csv"), rows);
                let s = ingest(&settings, &store, &clock, &path).await;
                assert_eq!(s.rejected, 0, "{:?}", s.errors);
                warnings.extend(s.warning_items.iter().map(|w| format!("{}:{}", w.row, w.code)));
            }
        }
        let id = ids(&settings, &store, d).await;
        if d == day("2024-05-20") {
            // Before its minimum (2024-05-29): refused, with the reason.
            let e = repair(&settings, &store, id["修〔2024〕5号"], d, "淮信修〔2024〕1号", clock.now()).await;
            match e {
                Err(RepairError::Refused(r @ RepairRefused::BeforeMinimum { .. })) => {
                    assert!(r.zh().contains("最短公示期限"), "{}", r.zh());
                    refused_early = true;
                }
                other => panic!("a repair before the minimum is refused: {other:?}"),
            }
        }
        if d == day("2024-06-03") {
            let r = repair(&settings, &store, id["修〔2024〕5号"], day("2024-06-01"), "淮信修〔2024〕2号", clock.now())
                .await
                .unwrap();
            assert_eq!((r.withdrawals, r.due_on), (1, day("2024-06-05")));
        }
        store.publicity_pass(clock.today(), clock.now()).await.unwrap();
        push_due(&settings, &store, "provincial", &clock).await.unwrap();
        for row in store.deliveries(Some("accepted"), 100_000).await.unwrap() {
            if row.operation == "withdraw" || row.operation == "delete" {
                first_withdrawn.entry(row.record_id).or_insert(d);
            }
        }
        d = d.succ_opt().unwrap();
    }
    assert!(refused_early);
    let id = ids(&settings, &store, last).await;
    let expected: BTreeMap<i64, NaiveDate> = [
        ("短〔2023〕1号", "2023-07-19"), // the day after the minimum, not before
        ("长〔2023〕3号", "2026-05-11"), // the day after the maximum
        ("消〔2024〕4号", "2025-01-16"),
        ("修〔2024〕5号", "2024-06-03"), // the day the repair was entered (due 2024-06-05)
        ("撤〔2024〕6号", "2024-04-10"), // the day the revocation came (due 2024-04-11)
        ("般〔2026〕7号", "2026-10-11"),
        ("必〔2026〕10号", "2026-06-11"),
    ]
    .into_iter()
    .map(|(w, on)| (id[w], day(on)))
    .collect();
    assert_eq!(first_withdrawn, expected);
    assert_eq!(
        warnings,
        ["2:publicity_too_short", "3:publicity_too_short", "2:publicity_too_long", "2:publicity_too_short"],
        "short, late (short too), long, 消防 short"
    );

    // The platform saw exactly these withdrawals, once each, and the adds of what went public.
    let received = get(format!("{base}/sandbox/received?platform=provincial&item=CF")).await;
    let keys: Vec<&str> = received.as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    let withdrawn: BTreeSet<i64> = keys
        .iter()
        .filter(|k| k.contains(":withdraw:"))
        .map(|k| k.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(withdrawn, expected.keys().copied().collect());
    let added: BTreeSet<i64> = keys
        .iter()
        .filter(|k| !k.contains(":withdraw:"))
        .map(|k| k.split(':').next().unwrap().parse().unwrap())
        .collect();
    let public: BTreeSet<i64> =
        id.iter().filter(|(w, _)| !w.starts_with('微') && !w.starts_with('迟')).map(|(_, i)| *i).collect();
    assert_eq!(added, public, "held and expired records are never pushed");
    let stats = get(format!("{base}/sandbox/stats")).await;
    assert_eq!(stats["platforms"]["provincial"]["CF"]["duplicates"], 0, "{stats}");
    assert_eq!(stats["platforms"]["provincial"]["CF"]["operations"]["withdraw"], 7, "{stats}");

    // The command line on the last day.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
            .arg("--config")
            .arg(&config)
            .args(["--now", "2026-11-30T02:00:00Z"])
            .args(args)
            .output()
            .unwrap()
    };
    let listed = cli(&["publicity", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let rows: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let keys: Vec<&str> = rows[0].as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "id",
        "item",
        "wsh",
        "subject",
        "decided",
        "regime",
        "class",
        "class_defaulted",
        "sector",
        "min_end",
        "max_end",
        "department_end",
        "planned_end",
        "status",
    ];
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want);
    let by_wsh = |w: &str| rows.iter().find(|r| r["wsh"] == w).unwrap().clone();
    let serious = by_wsh("重〔2026〕8号");
    assert_eq!(serious["regime"], "2026");
    assert_eq!(serious["class"], "serious");
    assert_eq!(serious["class_defaulted"], false);
    assert_eq!(serious["min_end"], "2027-04-10");
    assert_eq!(serious["max_end"], "2029-04-10");
    assert_eq!(serious["planned_end"], "2027-04-10");
    assert_eq!(serious["status"], "published");
    assert_eq!(by_wsh("微〔2026〕9号")["status"], "held");
    assert_eq!(by_wsh("微〔2026〕9号")["planned_end"], Value::Null);
    assert_eq!(by_wsh("长〔2023〕3号")["regime"], "order58");
    assert_eq!(by_wsh("长〔2023〕3号")["class"], Value::Null);
    assert_eq!(by_wsh("短〔2023〕1号")["regime"], "2019");
    assert_eq!(by_wsh("短〔2023〕1号")["class_defaulted"], true);
    assert_eq!(by_wsh("消〔2024〕4号")["sector"], "消防");
    assert_eq!(by_wsh("迟〔2023〕2号")["status"], "ended");
    let held = cli(&["publicity", "--status", "held", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&stdout(&held)).unwrap().as_array().unwrap().len(), 1);
    let shown = cli(&["publicity", "show", &id["撤〔2024〕6号"].to_string(), "--json"]);
    let shown: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(shown["history"][0]["kind"], "withdraw");
    assert_eq!(shown["history"][0]["decided"], "2024-04-08");
    assert_eq!(shown["history"][0]["due_on"], "2024-04-11");
    assert_eq!(shown["withdrawal"]["on_time"], true);
    let audit = cli(&["publicity", "audit", "--json"]);
    assert!(audit.status.success(), "{}", stdout(&audit));
    let audit: Value = serde_json::from_str(&stdout(&audit)).unwrap();
    assert_eq!(audit["past_maximum"].as_array().unwrap().len(), 0);
    assert_eq!(audit["withdrawn_early"].as_array().unwrap().len(), 0);
    let refused =
        cli(&["publicity", "repair", &id["重〔2026〕8号"].to_string(), "--decided", "2026-11-30", "--ref", "x"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("最短公示期限届满日 2027-04-10"), "{}", stderr(&refused));

    store.close().await;
    running.shutdown().await;
}

async fn bad_input_on(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, "http://127.0.0.1:9", database_url);
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed(morning(day("2026-05-04")));
    let rows = [
        Row { wsh: "好〔2026〕1号", decided: "2026-04-10", end: "2026-10-10", ..ROW },
        Row { wsh: "怪〔2026〕2号", decided: "2026-04-10", end: "2026-10-10", class: "特别严重", ..ROW },
        Row {
            wsh: "无〔2026〕3号",
            decided: "2026-04-10",
            end: "2026-10-10",
            operation: "撤销",
            revoked_on: "2026-04-20",
            reason: "复议撤销",
            ..ROW
        },
        Row {
            wsh: "好〔2026〕1号",
            decided: "2026-04-10",
            end: "2026-10-10",
            operation: "撤销",
            revoked_on: "2026-04-01",
            reason: "复议撤销",
            ..ROW
        },
        Row { wsh: "短〔2026〕4号", decided: "2026-04-10", end: "2026-05-10", ..ROW },
    ];
    let path = write_file(root, "bad.csv", &rows);
    let s = ingest(&settings, &store, &clock, &path).await;
    assert_eq!((s.accepted, s.rejected, s.revocations), (3, 2, 0), "{:?}", s.errors);
    let errors: Vec<(u64, &str)> = s.errors.iter().map(|e| (e.row, e.code)).collect();
    assert!(errors.contains(&(4, "unknown_record")), "{errors:?}");
    assert!(errors.contains(&(5, "date_order")), "{errors:?}");
    let unknown = s.errors.iter().find(|e| e.code == "unknown_record").unwrap();
    assert!(unknown.reason.contains("从未报送"), "{}", unknown.reason);
    let warnings: Vec<(u64, &str)> = s.warning_items.iter().map(|e| (e.row, e.code)).collect();
    assert_eq!(warnings, [(3, "unknown_code"), (6, "publicity_too_short")]);
    assert!(s.warning_items[0].reason.contains("特别严重"), "{}", s.warning_items[0].reason);
    let id = ids(&settings, &store, day("2026-05-04")).await;
    let e = repair(&settings, &store, id["好〔2026〕1号"], day("2026-05-04"), "淮信修〔2026〕1号", clock.now()).await;
    let Err(RepairError::Refused(why)) = e else { panic!("refused before the minimum: {e:?}") };
    assert_eq!(why.zh(), "信用修复决定日期 2026-05-04 早于最短公示期限届满日 2026-07-10：最短公示期满前不得修复撤下");
    store.close().await;
}

#[tokio::test]
async fn bad_input_gets_chinese_reasons_and_blocks_nothing_else_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    bad_input_on(&sqlite_url(dir.path())).await;
    // The daily pass reads the partial index of open records by planned end, not the table.
    let pool = sqlx::SqlitePool::connect(&sqlite_url(dir.path())).await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", credit_gateway::store::PUBLICITY_DUE))
            .bind("2026-12-01")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(plan.iter().any(|p| p.3.contains("records_publicity_due_month")), "{plan:?}");
}

#[tokio::test]
async fn bad_input_gets_chinese_reasons_and_blocks_nothing_else_on_postgres() {
    let (url, name) = fresh_postgres().await;
    bad_input_on(&url).await;
    drop_postgres(&name).await;
}
