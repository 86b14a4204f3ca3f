//! Corrections keep their identity (issue 16): a 1001 return for a wrong credit code or name,
//! then the department's corrected row, through the sandbox platforms on 127.0.0.1 — one
//! record, version 2, the return closed, accepted once, the wrong key deleted where it had been
//! accepted; and the ingest checks that catch bad data before the platform sees it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::delivery::worker::push_due;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::SampleItem;
use credit_gateway::store::Store;
use serde_json::{Value, json};

use crate::support::*;

const RIGHT: &str = "91340600MA2PBM9HXD";
const WRONG: &str = "914403001922038216";

/// The shipped configuration in `root` on `database_url`, with two destinations on the
/// sandbox: the provincial platform (JSON, the deadline one) and the national one (XML).
fn config(root: &Path, base: &str, database_url: &str) -> PathBuf {
    copy_config(root);
    for entry in std::fs::read_dir(root.join("config/destinations")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (name, adapter, path, deadline) in
        [("provincial", "http_json", "json", true), ("national", "http_xml", "xml", false)]
    {
        std::fs::write(
            root.join(format!("config/destinations/{name}.toml")),
            format!(
                "version = 1\ntitle = \"{name}\"\nitems = [\"XK\", \"CF\"]\nadapter = \"{adapter}\"\n\
                 url = \"{base}/platforms/{name}/{path}\"\ndeadline = {deadline}\nbatch_size = 20\nrate_per_second = 1000\n"
            ),
        )
        .unwrap();
    }
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", database_url)).unwrap();
    gateway
}

/// One valid 行政处罚 row (as the provincial template's columns), with `changes`.
fn penalty(changes: &[(&str, &str)]) -> BTreeMap<&'static str, String> {
    let mut row: BTreeMap<&'static str, String> = BTreeMap::new();
    for h in credit_gateway::sim::sample::header(SampleItem::Penalties) {
        let v = match h {
            "行政相对人名称" => "淮北市相山区某某商贸有限公司",
            "行政相对人类别" => "法人及非法人组织",
            "统一社会信用代码" => RIGHT,
            "法定代表人" => "张三",
            "行政处罚决定书文号" => "淮相市监处罚〔2026〕1号",
            "违法行为类型" | "违法事实" | "处罚依据" => "内容",
            "处罚类别" => "警告、罚款",
            "处罚内容" => "警告并罚款2000元",
            "罚款金额（万元）" => "0.2",
            "处罚决定日期" => "2026-11-20",
            "处罚有效期" | "公示截止期" => "2027-11-20",
            "处罚机关" | "数据来源单位" => "淮北市相山区市场监督管理局",
            "处罚机关统一社会信用代码" | "数据来源单位统一社会信用代码" => {
                "11340600MB1234567C"
            }
            "案件程序" => "一般程序",
            _ => "",
        };
        row.insert(h, v.to_string());
    }
    for (k, v) in changes {
        let slot = row.get_mut(*k).unwrap_or_else(|| panic!("no column {k}"));
        *slot = v.to_string();
    }
    row
}

fn write_csv(path: &Path, rows: &[BTreeMap<&'static str, String>]) {
    let header = credit_gateway::sim::sample::header(SampleItem::Penalties);
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&header).unwrap();
    for r in rows {
        w.write_record(header.iter().map(|h| r[h].as_str())).unwrap();
    }
    w.flush().unwrap();
}

async fn ingest(settings: &Settings, store: &Store, path: &Path) -> credit_gateway::ingest::IngestSummary {
    let clock =
        Clock::fixed("2026-11-25T10:00:00+08:00".parse::<chrono::DateTime<chrono::FixedOffset>>().unwrap().to_utc());
    let opts = IngestOptions { report_path: None, progress: false, clock, source: None };
    ingest_file(settings, store, "market-penalties", path, &opts).await.unwrap()
}

async fn post(url: &str, body: Value) {
    credit_gateway::connector::http::install_crypto_provider();
    let r = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
}

async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/sandbox/stats")).await.unwrap().json().await.unwrap()
}

async fn push(settings: &Settings, store: &Store, destination: &str) -> (u64, u64) {
    let p = push_due(settings, store, destination, &Clock::real()).await.unwrap();
    (p.accepted, p.returned)
}

/// Runs `scenario` on SQLite and on PostgreSQL.
macro_rules! on_both_engines {
    ($scenario:ident) => {
        for engine in ["sqlite", "postgres"] {
            let dir = tempfile::tempdir().unwrap();
            let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
            let opts = credit_gateway::sim::sandbox::platforms::SandboxOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                subjects: None,
                exchange: None,
                secrets: Default::default(),
                catalogue: std::sync::Arc::new(probe.catalogue.clone()),
            };
            let running = credit_gateway::sim::sandbox::platforms::start(opts).await.expect("sandbox starts");
            let base = format!("http://{}", running.addr());
            let pg = if engine == "postgres" { Some(fresh_postgres().await) } else { None };
            let db = match &pg {
                Some((url, _)) => url.clone(),
                None => format!("sqlite://{}", dir.path().join("gateway.db").display()),
            };
            let settings = Settings::load(&config(dir.path(), &base, &db)).unwrap();
            let store = Store::connect(&settings.gateway.database_url).await.unwrap();
            $scenario(engine, dir.path(), &base, &settings, &store).await;
            store.close().await;
            running.shutdown().await;
            if let Some((_, name)) = pg {
                drop_postgres(&name).await;
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_credit_code_supersedes_the_returned_record() {
    async fn scenario(engine: &str, root: &Path, base: &str, settings: &Settings, store: &Store) {
        // The department sends the wrong code. The national platform takes it (its library
        // has not heard of the code yet); then the provincial one returns it: 1001.
        let first = root.join("first.csv");
        write_csv(&first, &[penalty(&[("统一社会信用代码", WRONG)])]);
        let s = ingest(settings, store, &first).await;
        assert_eq!((s.accepted, s.rejected), (1, 0), "{engine}: {s:?}");
        assert_eq!(push(settings, store, "national").await, (1, 0), "{engine}");
        post(
            &format!("{base}/sandbox/subjects"),
            json!([{"name": "深圳某某实业有限公司", "credit_code": WRONG}, {"name": "淮北市相山区某某商贸有限公司", "credit_code": RIGHT}]),
        )
        .await;
        assert_eq!(push(settings, store, "provincial").await, (0, 1), "{engine}");
        let returns = store.open_returns(Some("market")).await.unwrap();
        assert_eq!(returns.len(), 1, "{engine}");
        let record_id = returns[0].record_id;

        // The corrected row: the right code, so another business key. It is the same decision.
        let fixed = root.join("fixed.csv");
        write_csv(&fixed, &[penalty(&[])]);
        let s = ingest(settings, store, &fixed).await;
        assert_eq!((s.new_records, s.new_versions), (0, 1), "{engine}: one record, a new version: {s:?}");
        assert!(s.warning_items.is_empty(), "{engine}: a correction is no duplicate: {:?}", s.warning_items);
        assert_eq!(store.count_records(Some("CF")).await.unwrap(), 1, "{engine}");
        let key = |code: &str| format!("淮相市监处罚〔2026〕1号\u{1f}{code}\u{1f}2026-11-20");
        let record = store.record_by_key("CF", &key(RIGHT)).await.unwrap().expect("the record under the right key");
        assert_eq!((record.id, record.version), (record_id, 2), "{engine}");
        assert!(store.record_by_key("CF", &key(WRONG)).await.unwrap().is_none(), "{engine}");

        // Pushed again: accepted; the return closes; the national platform deletes the wrong key.
        assert_eq!(push(settings, store, "provincial").await, (1, 0), "{engine}");
        assert_eq!(
            push(settings, store, "national").await,
            (2, 0),
            "{engine}: the new key added, the old one withdrawn"
        );
        assert!(store.open_returns(Some("market")).await.unwrap().is_empty(), "{engine}");
        let history = store.record_returns(record_id).await.unwrap();
        assert!(history[0].closed_at.is_some(), "{engine}: closed by the correction");
        let st = stats(base).await;
        assert_eq!(st["platforms"]["provincial"]["CF"]["accepted"], 1, "{engine}: {st}");
        assert_eq!(st["platforms"]["national"]["CF"]["operations"], json!({"add": 2, "withdraw": 1}), "{engine}: {st}");
        let received: Value = reqwest::get(format!("{base}/sandbox/received?platform=national&item=CF"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let withdrawn: Vec<&Value> =
            received.as_array().unwrap().iter().filter(|r| r["key"].as_str().unwrap().contains(":withdraw:")).collect();
        assert_eq!(withdrawn.len(), 1, "{engine}: {received}");
        assert!(withdrawn[0]["business_key"].as_str().unwrap().contains(WRONG), "{engine}: the old key: {received}");

        // The month counts one decision, reported (not missing).
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let figures = store.figures(today, Some("2026-11"), Some("market")).await.unwrap();
        assert_eq!(figures.len(), 1, "{engine}: {figures:?}");
        assert_eq!((figures[0].records, figures[0].returned, figures[0].missing_returned), (1, 0, 0), "{engine}");
    }
    on_both_engines!(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_full_width_brackets_can_be_corrected() {
    async fn scenario(engine: &str, root: &Path, base: &str, settings: &Settings, store: &Store) {
        let registered = "淮北市某某（集团）有限公司";
        post(&format!("{base}/sandbox/subjects"), json!([{"name": registered, "credit_code": RIGHT}])).await;
        let first = root.join("first.csv");
        write_csv(&first, &[penalty(&[("行政相对人名称", "淮北市某某集团有限公司")])]);
        ingest(settings, store, &first).await;
        assert_eq!(push(settings, store, "provincial").await, (0, 1), "{engine}");

        let fixed = root.join("fixed.csv");
        write_csv(&fixed, &[penalty(&[("行政相对人名称", registered)])]);
        let s = ingest(settings, store, &fixed).await;
        assert_eq!((s.new_records, s.new_versions), (0, 1), "{engine}: {s:?}");
        assert_eq!(
            push(settings, store, "provincial").await,
            (1, 0),
            "{engine}: the registered name, brackets and all"
        );
        assert!(store.open_returns(Some("market")).await.unwrap().is_empty(), "{engine}");
        let record = store
            .record_by_key("CF", &format!("淮相市监处罚〔2026〕1号\u{1f}{RIGHT}\u{1f}2026-11-20"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.version, 2, "{engine}");
        assert!(record.content.contains(registered), "{engine}: {}", record.content);
    }
    on_both_engines!(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_left_uncorrected_are_missing_reports() {
    async fn scenario(engine: &str, root: &Path, base: &str, settings: &Settings, store: &Store) {
        // 30 decisions: the platform returns those of every third subject; none is corrected.
        // Two rows are refused (a bad authority code) and one of them is sent again corrected.
        let codes = ["914403001922038216", "9144030071526726XG", "91110000600037341L"];
        let mut rows = Vec::new();
        for n in 0..30 {
            let wsh = format!("淮相市监处罚〔2026〕{n}号");
            let name = format!("淮北市第{}公司", n % 3);
            rows.push(penalty(&[
                ("行政处罚决定书文号", &wsh),
                ("统一社会信用代码", codes[n % 3]),
                ("行政相对人名称", &name),
            ]));
        }
        for n in [100, 101] {
            let wsh = format!("淮相市监处罚〔2026〕{n}号");
            rows.push(penalty(&[("行政处罚决定书文号", &wsh), ("处罚机关统一社会信用代码", "11340600MB1234567X")]));
        }
        let file = root.join("month.csv");
        write_csv(&file, &rows);
        let s = ingest(settings, store, &file).await;
        assert_eq!((s.accepted, s.rejected), (30, 2), "{engine}");
        let again = root.join("again.csv");
        write_csv(&again, &[penalty(&[("行政处罚决定书文号", "淮相市监处罚〔2026〕100号")])]);
        ingest(settings, store, &again).await;
        post(&format!("{base}/sandbox/subjects"), json!([{"name": "别的名称", "credit_code": codes[0]}])).await;
        assert_eq!(push(settings, store, "provincial").await, (21, 10), "{engine}");
        let ledger = vec![credit_gateway::store::LedgerEntry {
            department: "market".into(),
            item: "CF".into(),
            month: "2026-11".into(),
            declared: 40,
        }];
        store.import_ledger(&ledger, "test", chrono::Utc::now()).await.unwrap();

        // The independent count: 40 declared; 31 records (30 + the corrected refusal), 1 refused
        // and never corrected; 10 returned and never accepted.
        let records = 31;
        let (rejected, returned) = (1, 10);
        let never_received = 40 - records - rejected;
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let f = store.figures(today, Some("2026-11"), Some("market")).await.unwrap().remove(0);
        assert_eq!(f.records, records, "{engine}");
        assert_eq!(
            (f.missing_never_received, f.missing_rejected, f.missing_returned),
            (Some(never_received), rejected, returned),
            "{engine}"
        );
        assert_eq!(f.missing, Some(never_received + rejected + returned), "{engine}");

        // The lists behind the parts count what the figures count, a page at a time.
        let filter = credit_gateway::store::MissingFilter {
            department: Some("market".into()),
            decision_month: Some("2026-11".into()),
            limit: 4,
            ..Default::default()
        };
        let (total, refused) = store.missing_rejected(&filter).await.unwrap();
        assert_eq!((total, refused.len()), (rejected, 1), "{engine}: {refused:?}");
        assert!(refused[0].key.starts_with("淮相市监处罚〔2026〕101号"), "{engine}: {refused:?}");
        assert!(refused[0].ingest_run_id.is_some() && refused[0].line.is_some(), "{engine}: {refused:?}");
        let (total, page) = store.missing_returned(&filter).await.unwrap();
        assert_eq!((total, page.len()), (returned, 4), "{engine}");
        let rest = credit_gateway::store::MissingFilter { offset: 8, ..filter };
        let (total, last) = store.missing_returned(&rest).await.unwrap();
        assert_eq!((total, last.len()), (returned, 2), "{engine}");
        assert!(last.iter().all(|r| r.record_id.is_some() && !page.contains(r)), "{engine}");
    }
    on_both_engines!(scenario);
}

#[test]
fn an_ingest_reports_every_check_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("checks.csv");
    let wsh = |n: u32| format!("淮相市监处罚〔2026〕{n}号");
    let rows = vec![
        // 2: valid.
        penalty(&[("行政处罚决定书文号", &wsh(1))]),
        // 3: a 个体工商户 with an enterprise's code.
        penalty(&[
            ("行政处罚决定书文号", &wsh(2)),
            ("行政相对人类别", "个体工商户"),
            ("统一社会信用代码", "914403001922038216"),
        ]),
        // 4: 20000 元 typed into the 万元 column.
        penalty(&[("行政处罚决定书文号", &wsh(3)), ("处罚内容", "罚款人民币20000元"), ("罚款金额（万元）", "20000")]),
        // 5: an amount that differs from 处罚内容.
        penalty(&[("行政处罚决定书文号", &wsh(4)), ("处罚内容", "罚款3000元"), ("罚款金额（万元）", "0.2")]),
        // 6: above the plausibility ceiling (1 亿元), no amount written out.
        penalty(&[("行政处罚决定书文号", &wsh(5)), ("处罚内容", "罚款"), ("罚款金额（万元）", "20000")]),
        // 7: decided after today.
        penalty(&[("行政处罚决定书文号", &wsh(6)), ("处罚决定日期", "2026-12-04")]),
        // 8: row 2's code under another name.
        penalty(&[("行政处罚决定书文号", &wsh(7)), ("行政相对人名称", "淮北市另一家公司")]),
        // 9: row 2's decision under another subject.
        penalty(&[
            ("行政处罚决定书文号", &wsh(1)),
            ("统一社会信用代码", "9144030071526726XG"),
            ("行政相对人名称", "深圳某某公司"),
        ]),
        // 10: a configured exception to the check character.
        penalty(&[
            ("行政处罚决定书文号", &wsh(9)),
            ("统一社会信用代码", "91350100M0001TGQXM"),
            ("行政相对人名称", "福州某某公司"),
        ]),
        // 11, 12: one name with full-width and with ASCII brackets is one subject (no conflict).
        penalty(&[
            ("行政处罚决定书文号", &wsh(10)),
            ("统一社会信用代码", "91110000600037341L"),
            ("行政相对人名称", "某某（集团）公司"),
        ]),
        penalty(&[
            ("行政处罚决定书文号", &wsh(11)),
            ("统一社会信用代码", "91110000600037341L"),
            ("行政相对人名称", "某某(集团)公司"),
        ]),
    ];
    write_csv(&file, &rows);
    let out = gateway(
        &db,
        &[
            "--now",
            "2026-12-03T10:00:00+08:00",
            "ingest",
            "--connector",
            "market-penalties",
            "--json",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let s = json(&out);
    let list = |k: &str| -> Vec<(u64, String)> {
        s[k].as_array()
            .unwrap()
            .iter()
            .map(|e| (e["row"].as_u64().unwrap(), e["code"].as_str().unwrap().to_string()))
            .collect()
    };
    let own = |v: &[(u64, &str)]| v.iter().map(|(r, c)| (*r, c.to_string())).collect::<Vec<_>>();
    assert_eq!(list("errors"), own(&[(4, "amount_unit_10000"), (7, "future_decision")]), "{s}");
    assert_eq!(
        list("warning_items"),
        own(&[
            (3, "subject_type_mismatch"),
            (5, "amount_unit_mismatch"),
            (6, "amount_implausible"),
            (8, "code_name_conflict"),
            (9, "duplicate_decision"),
            (10, "credit_code_exception"),
        ]),
        "{s}"
    );
    let reasons: Vec<&str> = s["errors"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].contains("20000") && reasons[0].contains("2万元"), "both values named: {}", reasons[0]);
    let conflict = &s["warning_items"][3]["reason"];
    assert!(
        conflict.as_str().unwrap().contains("淮北市相山区某某商贸有限公司")
            && conflict.as_str().unwrap().contains("淮北市另一家公司"),
        "both names: {conflict}"
    );
    assert_eq!(s["accepted"], 9, "{s}");
    // The department's report lists the store's warnings too.
    let report = std::fs::read_to_string(s["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("警告：统一社会信用代码 91340600MA2PBM9HXD 已以名称"), "{report}");
    assert!(report.contains("警告：同一决定"), "{report}");
    // The month counts the repeated decision once: 9 records, 8 decisions.
    let out = gateway(&db, &["--now", "2026-12-03T10:00:00+08:00", "report", "--format", "json", "--month", "2026-11"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let figures: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(figures[0]["records"], 8, "{figures:?}");
    // And so do the lists the figures link to: the list behind a figure totals the figure.
    let out = gateway(&db, &["--now", "2026-12-03T10:00:00+08:00", "deadlines", "--status", "all", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 8, "{listed:?}");
}

/// 重码 across files: a code stored by an earlier file under another name is warned with both
/// names and the earlier record; a new version renaming its own record is not, and the new
/// name is then one of the code's names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_stored_by_an_earlier_file_under_another_name_is_warned() {
    async fn scenario(engine: &str, root: &Path, _base: &str, settings: &Settings, store: &Store) {
        let file = |name: &str, rows: &[BTreeMap<&'static str, String>]| {
            let path = root.join(name);
            write_csv(&path, rows);
            path
        };
        let codes =
            |s: &credit_gateway::ingest::IngestSummary| s.warning_items.iter().map(|w| w.code).collect::<Vec<_>>();
        let first = ingest(settings, store, &file("1.csv", &[penalty(&[])])).await;
        assert_eq!((first.accepted, codes(&first)), (1, vec![]), "{engine}");

        let other = [("行政处罚决定书文号", "淮相市监处罚〔2026〕2号"), ("行政相对人名称", "淮北市另一家公司")];
        let second = ingest(settings, store, &file("2.csv", &[penalty(&other)])).await;
        assert_eq!(codes(&second), ["code_name_conflict"], "{engine}");
        let reason = &second.warning_items[0].reason;
        assert!(
            reason.contains("淮北市相山区某某商贸有限公司")
                && reason.contains("淮北市另一家公司")
                && reason.contains("CF 记录 淮相市监处罚〔2026〕1号"),
            "{engine}: both names and the earlier record: {reason}"
        );

        // Another subject's record, then its next version with the subject's corrected name: no
        // conflict, and a later decision under that name is none either.
        let shenzhen = |n: u32, name: &str| {
            let wsh = format!("淮相市监处罚〔2026〕{n}号");
            penalty(&[
                ("行政处罚决定书文号", &wsh),
                ("统一社会信用代码", "9144030071526726XG"),
                ("行政相对人名称", name),
            ])
        };
        let third = ingest(settings, store, &file("3.csv", &[shenzhen(5, "深圳某某公司")])).await;
        assert_eq!((third.accepted, codes(&third)), (1, vec![]), "{engine}");
        let renamed = ingest(settings, store, &file("4.csv", &[shenzhen(5, "深圳市某某科技有限公司")])).await;
        assert_eq!((renamed.new_versions, codes(&renamed)), (1, vec![]), "{engine}");
        let later = ingest(settings, store, &file("5.csv", &[shenzhen(6, "深圳市某某科技有限公司")])).await;
        assert_eq!((later.accepted, codes(&later)), (1, vec![]), "{engine}");
        // A third name for it is warned, naming one of the code's names and its record.
        let third_name = ingest(settings, store, &file("6.csv", &[shenzhen(7, "深圳另一公司")])).await;
        assert_eq!(codes(&third_name), ["code_name_conflict"], "{engine}");
    }
    on_both_engines!(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilled_history_is_counted_apart_never_as_late() {
    async fn scenario(engine: &str, root: &Path, _base: &str, settings: &Settings, store: &Store) {
        // Decisions of January, sent in November: late, unless the department marks them 补报,
        // by a 补报 column or by the file's name.
        let header = credit_gateway::sim::sample::header(SampleItem::Penalties);
        let file = root.join("history.csv");
        let mut w = csv::Writer::from_path(&file).unwrap();
        w.write_record(header.iter().copied().chain(["补报"])).unwrap();
        for (n, mark) in [(1, "是"), (2, ""), (3, "否")] {
            let wsh = format!("淮相市监处罚〔2026〕{n}号");
            let r = penalty(&[("行政处罚决定书文号", &wsh), ("处罚决定日期", "2026-01-05")]);
            w.write_record(header.iter().map(|h| r[h].as_str()).chain([mark])).unwrap();
        }
        w.flush().unwrap();
        let s = ingest(settings, store, &file).await;
        assert_eq!(s.accepted, 3, "{engine}: {s:?}");
        assert!(s.unused_columns.is_empty(), "{engine}: the 补报 column is read: {:?}", s.unused_columns);
        let whole = root.join("2026年1月补报.csv");
        write_csv(
            &whole,
            &[penalty(&[("行政处罚决定书文号", "淮相市监处罚〔2026〕4号"), ("处罚决定日期", "2026-01-05")])],
        );
        ingest(settings, store, &whole).await;
        assert_eq!(push(settings, store, "provincial").await, (4, 0), "{engine}");

        let today = chrono::Utc::now().date_naive();
        let figures = store.figures(today, None, Some("market")).await.unwrap();
        let sum = |f: fn(&credit_gateway::store::Figures) -> i64| figures.iter().map(f).sum::<i64>();
        assert_eq!((sum(|f| f.late), sum(|f| f.on_time), sum(|f| f.backfilled)), (2, 0, 2), "{engine}: {figures:?}");
    }
    on_both_engines!(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subject_library_catches_a_mismatch_before_the_platform_sees_it() {
    async fn scenario(engine: &str, root: &Path, base: &str, settings: &Settings, store: &Store) {
        post(
            &format!("{base}/sandbox/subjects"),
            json!([{"name": "淮北市相山区某某商贸有限公司", "credit_code": RIGHT}]),
        )
        .await;
        // The library comes down the same channel the platform serves it on.
        let served = reqwest::get(format!("{base}/sandbox/subjects")).await.unwrap().bytes().await.unwrap();
        let library = credit_gateway::subject_library::read(served.as_ref()).unwrap();
        assert_eq!(store.replace_subject_library(&library.subjects, base, chrono::Utc::now()).await.unwrap(), 1);

        let file = root.join("day.csv");
        write_csv(
            &file,
            &[
                penalty(&[("行政处罚决定书文号", "淮相市监处罚〔2026〕1号")]),
                penalty(&[
                    ("行政处罚决定书文号", "淮相市监处罚〔2026〕2号"),
                    ("行政相对人名称", "淮北市相山区某某商贸公司"),
                ]),
                // Not in the library: pushed as today.
                penalty(&[
                    ("行政处罚决定书文号", "淮相市监处罚〔2026〕3号"),
                    ("统一社会信用代码", WRONG),
                    ("行政相对人名称", "深圳某某实业有限公司"),
                ]),
            ],
        );
        ingest(settings, store, &file).await;
        assert_eq!(push(settings, store, "provincial").await, (2, 1), "{engine}");
        let st = stats(base).await;
        assert_eq!(st["platforms"]["provincial"]["CF"]["received"], 2, "{engine}: the mismatch was never sent: {st}");
        let returns = store.open_returns(Some("market")).await.unwrap();
        assert_eq!(returns.len(), 1, "{engine}");
        assert_eq!(returns[0].rule.as_deref(), Some("1001"));
        assert!(
            returns[0].reason.contains("预判") && returns[0].reason.contains("淮北市相山区某某商贸公司"),
            "{returns:?}"
        );

        // The department corrects the name: pushed, accepted, the problem closed.
        let fixed = root.join("fixed.csv");
        write_csv(&fixed, &[penalty(&[("行政处罚决定书文号", "淮相市监处罚〔2026〕2号")])]);
        ingest(settings, store, &fixed).await;
        assert_eq!(push(settings, store, "provincial").await, (1, 0), "{engine}");
        assert!(store.open_returns(Some("market")).await.unwrap().is_empty(), "{engine}");
    }
    on_both_engines!(scenario);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_sandbox_returns_subjects_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let opts = credit_gateway::sim::sandbox::platforms::SandboxOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        subjects: None,
        exchange: None,
        secrets: Default::default(),
        catalogue: std::sync::Arc::new(probe.catalogue.clone()),
    };
    let running = credit_gateway::sim::sandbox::platforms::start(opts).await.expect("sandbox starts");
    running.set_strict_subjects(true);
    let base = format!("http://{}", running.addr());
    post(&format!("{base}/sandbox/subjects"), json!([{"name": "淮北市相山区某某商贸有限公司", "credit_code": RIGHT}]))
        .await;
    let db = format!("sqlite://{}", dir.path().join("gateway.db").display());
    let settings = Settings::load(&config(dir.path(), &base, &db)).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let file = dir.path().join("day.csv");
    write_csv(
        &file,
        &[
            penalty(&[("行政处罚决定书文号", "淮相市监处罚〔2026〕1号")]),
            penalty(&[("行政处罚决定书文号", "淮相市监处罚〔2026〕2号"), ("统一社会信用代码", WRONG)]),
        ],
    );
    ingest(&settings, &store, &file).await;
    assert_eq!(push(&settings, &store, "provincial").await, (1, 1));
    let returns = store.open_returns(Some("market")).await.unwrap();
    assert!(returns[0].reason.contains("未查询到主体"), "{returns:?}");
    store.close().await;
    running.shutdown().await;
}

/// A list item (水电气欠费) has no decision: two customers in arrears for the same kind on the
/// same day are two records, neither a duplicate of the other; a store an earlier catalogue
/// gave decision keys and duplicate marks is cleared of them at the next ingest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_listed_the_same_day_are_not_one_decision() {
    async fn scenario(engine: &str, root: &Path, _base: &str, settings: &Settings, store: &Store) {
        let path = root.join("arrears.csv");
        let rows = [
            "id,yhmc,shxydm,sfzhm,qflx,qfje,qfqsrq,tjrq,gydw,updated_at",
            "1,淮北市某某商贸有限公司,91340600MA2PBM9HXD,,电费,1200,2026-08-01,2026-11-20,国网淮北供电公司,2026-11-21 08:00:00",
            "2,淮北市另一家商贸有限公司,9144030071526726XG,,电费,800,2026-08-01,2026-11-20,国网淮北供电公司,2026-11-21 08:00:00",
        ];
        std::fs::write(&path, rows.join("\n")).unwrap();
        let clock = Clock::fixed(
            "2026-11-25T10:00:00+08:00".parse::<chrono::DateTime<chrono::FixedOffset>>().unwrap().to_utc(),
        );
        let opts = IngestOptions { report_path: None, progress: false, clock, source: None };
        let s = ingest_file(settings, store, "utility-arrears", &path, &opts).await.unwrap();
        assert_eq!((s.accepted, s.rejected), (2, 0), "{engine}: {s:?}");
        assert!(s.warning_items.is_empty(), "{engine}: {:?}", s.warning_items);

        // What an earlier catalogue (every key part but the subject) left behind.
        let url = &settings.gateway.database_url;
        let mark = "UPDATE records SET decision_key = '电\u{1f}2026-11-20', duplicate = CASE WHEN source_line = 3 THEN 1 ELSE 0 END";
        let count = "SELECT COUNT(*) FROM records WHERE decision_key IS NOT NULL OR duplicate <> 0";
        let forgotten = "DELETE FROM decision_key_items";
        let (before, after) = if url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(mark).execute(&pool).await.unwrap();
            sqlx::query(forgotten).execute(&pool).await.unwrap();
            let before: i64 = sqlx::query_scalar(count).fetch_one(&pool).await.unwrap();
            assert_eq!(store.forget_decisions_without_key(&settings.catalogue).await.unwrap(), 2, "{engine}");
            (before, sqlx::query_scalar::<_, i64>(count).fetch_one(&pool).await.unwrap())
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(mark).execute(&pool).await.unwrap();
            sqlx::query(forgotten).execute(&pool).await.unwrap();
            let before: i64 = sqlx::query_scalar(count).fetch_one(&pool).await.unwrap();
            assert_eq!(store.forget_decisions_without_key(&settings.catalogue).await.unwrap(), 2, "{engine}");
            (before, sqlx::query_scalar::<_, i64>(count).fetch_one(&pool).await.unwrap())
        };
        assert_eq!((before, after), (2, 0), "{engine}");
        // Reconciled once: the next start does not go over the item's records again.
        assert_eq!(store.forget_decisions_without_key(&settings.catalogue).await.unwrap(), 0, "{engine}");
    }
    on_both_engines!(scenario);
}
