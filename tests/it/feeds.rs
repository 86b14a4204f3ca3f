//! Reverse feeds end to end against the sandbox on 127.0.0.1: a feed page pulled, checked,
//! stored with its history and routed by jurisdiction to lower platforms (counted in
//! `/sandbox/stats`) and a department folder; deletes that supersede; repair results that
//! withdraw our published penalty within the SLA; resuming from the cursor after a restart;
//! malformed records refused in Chinese without stopping the feed; PostgreSQL too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use credit_gateway::calendar::shanghai_date;
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::delivery::worker::push_due;
use credit_gateway::feed::pull::{Puller, pull_now};
use credit_gateway::ids::{credit_code_check_char, org_code_check_char};
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::{SampleFormat, SampleItem};
use credit_gateway::sim::sandbox::platforms::{RunningSandbox, SandboxOptions};
use credit_gateway::store::Store;
use serde_json::{Value, json};

use crate::support::*;

/// Lower destinations: two counties (上城区, 西湖区), the city (杭州市), and a department
/// folder for 西湖区; the provincial platform above.
const LOWER: &[&str] = &["county-a", "county-b", "city", "market-xihu"];

struct Harness {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    settings: Arc<Settings>,
    store: Store,
    base: String,
    sandbox: RunningSandbox,
}

fn destination(name: &str, base: &str, adapter: &str, regions: &str) -> String {
    let (path, items) = if adapter == "http_xml" { ("xml", "\"XK\", \"CF\"") } else { ("json", "\"XK\", \"CF\"") };
    let regions = if regions.is_empty() { String::new() } else { format!("regions = [{regions}]\n") };
    format!(
        "version = 1\ntitle = \"{name}\"\nitems = [{items}]\nadapter = \"{adapter}\"\n\
         url = \"{base}/platforms/{name}/{path}\"\nbackoff_initial_ms = 10\nbackoff_max_ms = 50\n{regions}"
    )
}

/// Hangzhou's division table, with its merged districts, in place of the shipped one (淮北's):
/// these tests route to 上城区 and 西湖区 and send records under a merged district's code.
fn hangzhou_divisions(root: &Path) {
    std::fs::copy(repo().join("tests/fixtures/divisions-hangzhou.toml"), root.join("config/divisions.toml")).unwrap();
}

/// The shipped configuration in a tempdir with the sandbox's platforms as destinations, a
/// feed of `page_size` records per page in `format`, and its own database (SQLite by default).
async fn harness(database_url: Option<&str>, format: &str, page_size: u32) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let sandbox = credit_gateway::sim::sandbox::platforms::start(SandboxOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        subjects: None,
        exchange: None,
        secrets: Default::default(),
        catalogue: Arc::new(probe.catalogue.clone()),
    })
    .await
    .expect("sandbox starts");
    let base = format!("http://{}", sandbox.addr());
    copy_config(&root);
    hangzhou_divisions(&root);
    let dests = root.join("config/destinations");
    for entry in std::fs::read_dir(&dests).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    std::fs::write(
        dests.join("provincial.toml"),
        destination("provincial", &base, "http_json", "") + "deadline = true\n",
    )
    .unwrap();
    std::fs::write(dests.join("county-a.toml"), destination("county-a", &base, "http_json", "\"330102\"")).unwrap();
    std::fs::write(dests.join("county-b.toml"), destination("county-b", &base, "http_xml", "\"330106\"")).unwrap();
    std::fs::write(dests.join("city.toml"), destination("city", &base, "http_json", "\"330100\"")).unwrap();
    std::fs::write(
        dests.join("market-xihu.toml"),
        "version = 1\ntitle = \"西湖区市场监管局\"\nitems = [\"CF\"]\nadapter = \"folder\"\n\
         outbound = \"packages/market-xihu\"\nregions = [\"330106\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("config/feeds")).unwrap();
    let path = if format == "xml" { "feed.xml" } else { "feed" };
    std::fs::write(
        root.join("config/feeds/provincial.toml"),
        format!(
            "version = 1\ntitle = \"省平台回流数据\"\nitems = [\"XK\", \"CF\"]\nkind = \"http\"\n\
             url = \"{base}/platforms/provincial/{path}\"\nformat = \"{format}\"\nschedule = \"* * * * * *\"\n\
             page_size = {page_size}\n"
        ),
    )
    .unwrap();
    let sqlite = format!("sqlite://{}", root.join("gateway.db").display());
    let url = database_url.unwrap_or(&sqlite);
    let config = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("sqlite://data/gateway.db", url)).unwrap();
    let settings = Arc::new(Settings::load(&config).unwrap_or_else(|e| panic!("{e}")));
    let store = Store::connect(url).await.unwrap();
    store.sync_destination_items(&settings.destination_items()).await.unwrap();
    Harness { _dir: dir, root, config, settings, store, base, sandbox }
}

impl Harness {
    async fn post_feed(&self, records: Value) {
        credit_gateway::connector::http::install_crypto_provider();
        let r = reqwest::Client::new()
            .post(format!("{}/sandbox/feed/provincial", self.base))
            .json(&records)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/sandbox/stats", self.base)).await.unwrap().json().await.unwrap()
    }

    async fn push_all(&self) {
        for name in LOWER.iter().chain(&["provincial"]) {
            push_due(&self.settings, &self.store, name, &Clock::real()).await.unwrap();
        }
    }
}

/// A valid 统一社会信用代码 with `region` in positions 3–8.
fn uscc(kind: &str, region: &str, n: u32) -> String {
    let org8 = format!("{:08}", 10_000_000 + n);
    let org = format!("{org8}{}", org_code_check_char(&org8).unwrap());
    let first17 = format!("{kind}{region}{org}");
    format!("{first17}{}", credit_code_check_char(&first17).unwrap())
}

/// A penalty decided by an authority of `region`, as the platforms send it down.
fn penalty_data(n: u32, region: &str) -> Value {
    json!({
        "CF_XDR_MC": format!("杭州测试{n}有限公司"),
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": uscc("91", region, 5000 + n),
        "CF_FRDB": "张三",
        "CF_WSH": format!("杭市监罚〔2026〕{n}号"),
        "CF_WFXW": "未按规定公示年度报告",
        "CF_SY": "违反《企业信息公示暂行条例》",
        "CF_YJ": "《企业信息公示暂行条例》第十八条",
        "CF_CFLB": "01",
        "CF_NR": "警告",
        "CF_JDRQ": "2026-11-02",
        "CF_YXQ": "2027-11-02",
        "CF_GSJZQ": "2027-11-02",
        "CF_CFJG": "杭州市市场监督管理局",
        "CF_CFJGDM": uscc("11", region, 100 + n),
        "CF_SJLY": "杭州市市场监督管理局",
        "CF_SJLYDM": uscc("11", region, 100 + n),
    })
}

fn record(n: u32, operation: &str, region: Option<&str>, data: Value) -> Value {
    let mut r = json!({"id": format!("P{n}"), "item": "CF", "operation": operation, "data": data});
    if let Some(region) = region {
        r["region"] = region.into();
    }
    r
}

fn distinct(stats: &Value, platform: &str) -> u64 {
    stats["platforms"][platform]["CF"]["distinct_keys"].as_u64().unwrap_or(0)
}

async fn mixed_feed_is_routed_by_jurisdiction(h: &Harness) {
    h.post_feed(json!([
        record(1, "新增", Some("330102"), penalty_data(1, "330102")),
        // No region field: the deciding authority's credit code says 330102.
        record(2, "新增", None, penalty_data(2, "330102")),
        // 江干区 (330104) was merged into 上城区 (330102).
        record(3, "新增", Some("330104"), penalty_data(3, "330104")),
        record(4, "新增", Some("330106"), penalty_data(4, "330106")),
        record(5, "add", None, penalty_data(5, "330106")),
        // The city's own authority: the city only.
        record(6, "新增", None, penalty_data(6, "330100")),
        // 宁波市: not ours, routed nowhere.
        record(7, "新增", None, penalty_data(7, "330200")),
    ]))
    .await;
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.unwrap();
    assert_eq!((counts.new_versions, counts.rejected), (7, 0), "{counts:?}");
    assert_eq!(counts.routed, 3 + 2 + 2 + 6, "county-a 3, county-b 2, 西湖 folder 2, city 6");
    h.push_all().await;
    let stats = h.stats().await;
    assert_eq!(distinct(&stats, "county-a"), 3, "{stats}");
    assert_eq!(distinct(&stats, "county-b"), 2, "{stats}");
    assert_eq!(distinct(&stats, "city"), 6, "{stats}");
    for p in ["county-a", "county-b", "city"] {
        assert_eq!(stats["platforms"][p]["CF"]["duplicates"], 0, "{stats}");
        assert_eq!(stats["platforms"][p]["CF"]["accepted"], stats["platforms"][p]["CF"]["distinct_keys"]);
    }
    // Records from above never go back up.
    assert!(stats["platforms"]["provincial"].get("CF").is_none(), "{stats}");
    // The department folder got its two records as JSON packages, written whole.
    let folder = h.root.join("packages/market-xihu");
    let mut records = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".json") && !name.starts_with('.'), "no temp file left: {name}");
        let package: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(package["item"], "CF");
        for r in package["records"].as_array().unwrap() {
            assert!(r["data"]["CF_CFJGDM"].as_str().unwrap()[2..8].eq("330106"));
            records += 1;
        }
    }
    assert_eq!(records, 2);
    // Nothing was reported by a department: every record of the city is a candidate.
    let missing = h.store.feed_missing("330100").await.unwrap();
    assert_eq!(missing.len(), 6, "Ningbo's record is not ours");
    assert!(missing.iter().all(|m| m.region.as_deref().unwrap().starts_with("3301")));
    let states = h.store.feed_states().await.unwrap();
    assert_eq!(states[0].cursor.as_deref(), Some("7"));
    assert_eq!((states[0].accepted, states[0].last_error.clone()), (7, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_feed_reaches_each_county_and_the_city_with_only_their_records() {
    let h = harness(None, "json", 3).await;
    mixed_feed_is_routed_by_jurisdiction(&h).await;
    h.sandbox.shutdown().await;
}

async fn delete_supersedes(h: &Harness) {
    h.post_feed(json!([record(1, "新增", Some("330102"), penalty_data(1, "330102"))])).await;
    pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.unwrap();
    push_due(&h.settings, &h.store, "county-a", &Clock::real()).await.unwrap();
    // A change and then a deletion arrive before the change went out: only the deletion goes.
    let mut changed = penalty_data(1, "330102");
    changed["CF_NR"] = "警告并责令改正".into();
    let mut deleted = record(1, "删除", Some("330102"), json!({}));
    for k in ["CF_WSH", "CF_XDR_SHXYM", "CF_JDRQ"] {
        deleted["data"][k] = changed[k].clone();
    }
    deleted["status"] = 2.into();
    h.post_feed(json!([record(1, "变更", Some("330102"), changed), deleted])).await;
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.unwrap();
    assert_eq!(counts.new_versions, 2);
    let stats_before = h.stats().await;
    assert_eq!(stats_before["platforms"]["county-a"]["CF"]["operations"], json!({"add": 1}));
    push_due(&h.settings, &h.store, "county-a", &Clock::real()).await.unwrap();
    let stats = h.stats().await;
    assert_eq!(stats["platforms"]["county-a"]["CF"]["operations"], json!({"add": 1, "delete": 1}), "{stats}");
    let business_key = h.store.feed_states().await.unwrap();
    assert_eq!(business_key[0].accepted, 3);
    let superseded = h.store.deliveries(Some("superseded"), 100).await.unwrap();
    assert!(superseded.iter().any(|d| d.destination == "county-a" && d.operation == "update" && d.version == 2));
    let key = h.store.feed_missing("330100").await.unwrap();
    assert!(key.is_empty(), "a deleted record is no longer a missing-report candidate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_supersedes_the_earlier_version_and_is_passed_on() {
    let h = harness(None, "json", 10).await;
    delete_supersedes(&h).await;
    // The history keeps every version: add, update, delete (publicity 0, 0, 2).
    let data = penalty_data(1, "330102");
    let key = [data["CF_WSH"].as_str().unwrap(), data["CF_XDR_SHXYM"].as_str().unwrap(), "2026-11-02"]
        .join(&credit_gateway::record::KEY_SEPARATOR.to_string());
    let versions = h.store.feed_versions("CF", &key).await.unwrap();
    let seen: Vec<(i64, &str, i64)> = versions.iter().map(|v| (v.version, v.operation.as_str(), v.publicity)).collect();
    assert_eq!(seen, [(1, "add", 0), (2, "update", 0), (3, "delete", 2)]);
    h.sandbox.shutdown().await;
}

/// Ingests a generated penalties file as the market department did; pushes it up.
async fn reported_penalties(h: &Harness, rows: u64) {
    let file = h.root.join("cf.csv");
    let spec = credit_gateway::sim::sample::SampleSpec {
        item: SampleItem::Penalties,
        rows,
        seed: 7,
        bad_share: 0.0,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: "2026-11-02".parse().unwrap(),
        days: 1,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, &file).unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
    let s = ingest_file(&h.settings, &h.store, "market-penalties", &file, &opts).await.unwrap();
    assert_eq!(s.accepted, rows);
    push_due(&h.settings, &h.store, "provincial", &Clock::real()).await.unwrap();
}

/// Our reported penalty 1 is repaired: withdrawn upward and downward on the SLA; of two
/// records sent down, the one no department reported is a missing-report candidate.
async fn repair_withdraws_downstream(h: &Harness) {
    reported_penalties(h, 3).await;
    let ours = h.store.record_detail(1).await.unwrap().unwrap();
    let also_ours = h.store.record_detail(2).await.unwrap().unwrap();
    let content: Value = serde_json::from_str(&ours.content).unwrap();
    let mut repair = record(100, "撤销", Some("330102"), content);
    repair["status"] = 1.into();
    repair["repair"] = true.into();
    h.post_feed(json!([
        repair,
        // The province publishes what our department reported: not a missing report.
        record(101, "新增", Some("330102"), serde_json::from_str(&also_ours.content).unwrap()),
        // What no department reported: a candidate.
        record(102, "新增", Some("330106"), penalty_data(102, "330106")),
    ]))
    .await;
    let now = chrono::Utc::now();
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", now).await.unwrap();
    assert_eq!((counts.new_versions, counts.withdrawals), (3, 1), "{counts:?}");
    let repairs = h.store.repairs().await.unwrap();
    assert_eq!(repairs.len(), 1);
    let r = &repairs[0];
    let due = h.settings.calendar.add_working_days(shanghai_date(now), 3).date;
    assert_eq!((r.record_id, r.due_on.as_str(), r.withdrawals, r.accepted), (1, due.to_string().as_str(), 1, 0));
    assert_eq!(r.status(now), "open");
    h.push_all().await;
    let r = &h.store.repairs().await.unwrap()[0];
    assert_eq!((r.withdrawals, r.accepted), (1, 1));
    assert_eq!(r.status(chrono::Utc::now()), "on_time", "{r:?}");
    // The provincial platform took the withdrawal of the penalty it had published.
    let stats = h.stats().await;
    assert_eq!(stats["platforms"]["provincial"]["CF"]["operations"]["withdraw"], 1, "{stats}");
    assert_eq!(stats["platforms"]["provincial"]["CF"]["operations"]["add"], 3, "{stats}");
    // The repair is passed down too, to the county and the city.
    assert_eq!(stats["platforms"]["county-a"]["CF"]["operations"]["withdraw"], 1, "{stats}");
    // Only the unreported record is a missing-report candidate.
    let missing = h.store.feed_missing("330100").await.unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].business_key.starts_with("杭市监罚〔2026〕102号"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_result_withdraws_the_published_penalty_within_its_deadline() {
    let h = harness(None, "json", 10).await;
    repair_withdraws_downstream(&h).await;
    // The commands read this harness's configuration (Hangzhou's divisions, its database).
    let out = gateway_with(&h.config, &["feeds", "missing", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    let out = gateway_with(&h.config, &["feeds", "repairs"]);
    assert!(stdout(&out).contains("on_time"), "{}", stdout(&out));
    let out = gateway_with(&h.config, &["feeds", "--json"]);
    let list = json(&out);
    assert_eq!((list[0]["feed"].as_str(), list[0]["cursor"].as_str()), (Some("provincial"), Some("3")));
    assert_eq!(list[0]["healthy"], true);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_cursor_and_routes_every_record_once() {
    // XML pages of two records; seven records in two counties.
    let h = harness(None, "xml", 2).await;
    let regions = ["330102", "330106", "330102", "330106", "330102", "330106", "330102"];
    let records: Vec<Value> = regions
        .iter()
        .enumerate()
        .map(|(i, r)| record(i as u32 + 1, "新增", None, penalty_data(i as u32 + 1, r)))
        .collect();
    h.post_feed(Value::Array(records)).await;
    // Two pages, then the process stops mid-feed (its store and puller dropped).
    {
        let feed = h.settings.feed("provincial").unwrap().clone();
        let puller = Puller::new(h.settings.clone(), feed);
        let step = puller.step(&h.store, chrono::Utc::now()).await.unwrap();
        assert!(step.more);
        puller.step(&h.store, chrono::Utc::now()).await.unwrap();
        push_due(&h.settings, &h.store, "county-a", &Clock::real()).await.unwrap();
        h.store.close().await;
    }
    assert_eq!(distinct(&h.stats().await, "county-a"), 2, "pushed before the stop");
    // Started again from the files alone.
    let settings = Arc::new(Settings::load(&h.config).unwrap());
    let store = Store::connect(&format!("sqlite://{}", h.root.join("gateway.db").display())).await.unwrap();
    assert_eq!(store.feed_cursor("provincial").await.unwrap().as_deref(), Some("4"));
    let counts = pull_now(settings.clone(), &store, "provincial", chrono::Utc::now()).await.unwrap();
    assert_eq!((counts.new_versions, counts.unchanged), (3, 0), "only the rest: {counts:?}");
    for name in LOWER {
        push_due(&settings, &store, name, &Clock::real()).await.unwrap();
    }
    let stats = h.stats().await;
    for (platform, n) in [("county-a", 4), ("county-b", 3), ("city", 7)] {
        let s = &stats["platforms"][platform]["CF"];
        assert_eq!((s["distinct_keys"].as_u64(), s["received"].as_u64()), (Some(n), Some(n)), "{platform}: {stats}");
    }
    // A pass with nothing new changes nothing; the same page again changes nothing either.
    let again = pull_now(settings.clone(), &store, "provincial", chrono::Utc::now()).await.unwrap();
    assert_eq!(again.new_versions + again.routed, 0);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_feed_record_is_refused_in_chinese_and_the_feed_goes_on() {
    let h = harness(None, "json", 10).await;
    let mut no_name = penalty_data(3, "330102");
    no_name.as_object_mut().unwrap().remove("CF_XDR_MC");
    let mut bad_status = record(4, "撤销", Some("330102"), penalty_data(4, "330102"));
    bad_status["status"] = 0.into();
    h.post_feed(json!([
        record(1, "新增", Some("330102"), penalty_data(1, "330102")),
        record(2, "修改", Some("330102"), penalty_data(2, "330102")),
        record(3, "新增", Some("330102"), no_name),
        bad_status,
        "not a record",
        record(6, "新增", Some("3301"), penalty_data(6, "330102")),
        record(7, "新增", Some("330106"), penalty_data(7, "330106")),
    ]))
    .await;
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.unwrap();
    assert_eq!((counts.new_versions, counts.rejected), (2, 5), "{counts:?}");
    let rejects = h.store.feed_rejects(Some("provincial")).await.unwrap();
    let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "操作类型「修改」无法识别（应为 新增、变更、撤销 或 删除）",
            "行政相对人名称（CF_XDR_MC）：必填项为空",
            "操作类型「撤销」与公示状态 0 不一致",
            "记录不是 JSON 对象",
            "区域代码「3301」应为 6 位数字",
        ]
    );
    assert_eq!(rejects[0].source_id.as_deref(), Some("P2"));
    h.push_all().await;
    let stats = h.stats().await;
    assert_eq!((distinct(&stats, "county-a"), distinct(&stats, "county-b")), (1, 1), "{stats}");
    let state = &h.store.feed_states().await.unwrap()[0];
    assert_eq!((state.cursor.as_deref(), state.accepted, state.rejected), (Some("7"), 2, 5));
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_feed_keeps_its_cursor_and_says_why() {
    let h = harness(None, "json", 10).await;
    h.post_feed(json!([record(1, "新增", Some("330102"), penalty_data(1, "330102"))])).await;
    credit_gateway::connector::http::install_crypto_provider();
    reqwest::Client::new()
        .post(format!("{}/sandbox/faults", h.base))
        .json(&json!({"platform": "provincial", "fault": "status", "status": 503}))
        .send()
        .await
        .unwrap();
    assert!(pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.is_err());
    let state = &h.store.feed_states().await.unwrap()[0];
    assert_eq!(state.cursor, None);
    assert!(state.last_error.as_deref().unwrap().contains("503"), "{state:?}");
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.unwrap();
    assert_eq!(counts.new_versions, 1);
    assert_eq!(h.store.feed_states().await.unwrap()[0].last_error, None);
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_routing_deletes_repairs_and_missing_reports_behave_the_same_on_postgres() {
    for step in ["mixed", "delete", "repair"] {
        let (url, name) = fresh_postgres().await;
        let h = harness(Some(&url), "json", 3).await;
        match step {
            "mixed" => mixed_feed_is_routed_by_jurisdiction(&h).await,
            "repair" => repair_withdraws_downstream(&h).await,
            _ => delete_supersedes(&h).await,
        }
        h.store.close().await;
        h.sandbox.shutdown().await;
        drop_postgres(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_feed_takes_each_package_once_and_sets_a_broken_one_aside() {
    let h = harness(None, "json", 10).await;
    std::fs::write(
        h.root.join("config/feeds/inbound.toml"),
        "version = 1\ntitle = \"国家平台数据包\"\nitems = [\"CF\"]\nkind = \"folder\"\n\
         inbound = \"inbound/national\"\nschedule = \"0 */5 * * * *\"\n",
    )
    .unwrap();
    let settings = Arc::new(Settings::load(&h.config).unwrap());
    let inbound = h.root.join("inbound/national");
    std::fs::create_dir_all(&inbound).unwrap();
    let page = |records: Value| serde_json::to_vec(&json!({ "records": records })).unwrap();
    std::fs::write(inbound.join("001.json"), page(json!([record(1, "新增", None, penalty_data(1, "330102"))])))
        .unwrap();
    std::fs::write(inbound.join("002.json"), page(json!([record(2, "新增", None, penalty_data(2, "330106"))])))
        .unwrap();
    std::fs::write(inbound.join("003.json"), b"{not json").unwrap();
    let counts = pull_now(settings.clone(), &h.store, "inbound", chrono::Utc::now()).await.unwrap();
    assert_eq!((counts.new_versions, counts.routed), (2, 2 + 1 + 2), "{counts:?}");
    assert!(inbound.join("processed/001.json").exists() && inbound.join("processed/002.json").exists());
    assert!(inbound.join("failed/003.json").exists());
    let state = h.store.feed_states().await.unwrap().into_iter().find(|s| s.feed == "inbound").unwrap();
    assert_eq!(state.cursor.as_deref(), Some("002.json"));
    assert!(state.last_error.unwrap().contains("003.json"));
    // A package delivered again after it was taken changes nothing.
    std::fs::write(inbound.join("001.json"), page(json!([record(1, "新增", None, penalty_data(1, "330102"))])))
        .unwrap();
    let again = pull_now(settings, &h.store, "inbound", chrono::Utc::now()).await.unwrap();
    assert_eq!(again.new_versions, 0);
    assert!(!inbound.join("001.json").exists());
    h.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_pulls_the_feed_on_its_schedule_and_routes_it_down() {
    let h = harness(None, "json", 10).await;
    h.post_feed(json!([
        record(1, "新增", None, penalty_data(1, "330102")),
        record(2, "新增", None, penalty_data(2, "330106")),
    ]))
    .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = credit_gateway::daemon::run_with(
        &h.config,
        Clock::real(),
        async {
            let _ = stopped.await;
        },
        |_| {},
    );
    let watch = async {
        let start = std::time::Instant::now();
        loop {
            let stats = h.stats().await;
            if (distinct(&stats, "county-a"), distinct(&stats, "county-b"), distinct(&stats, "city")) == (1, 1, 2) {
                break;
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(60), "not routed: {stats}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = stop.send(());
    };
    let (result, ()) = tokio::join!(daemon, watch);
    result.unwrap();
    let state = &h.store.feed_states().await.unwrap()[0];
    assert_eq!((state.feed.as_str(), state.cursor.as_deref()), ("provincial", Some("2")));
    h.sandbox.shutdown().await;
}

#[test]
fn feed_and_division_mistakes_are_reported_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_config(root);
    hangzhou_divisions(root);
    std::fs::create_dir_all(root.join("config/feeds")).unwrap();
    std::fs::write(
        root.join("config/feeds/broken.toml"),
        "version = 1\ntitle = \"坏\"\nitems = [\"QQ\"]\nkind = \"http\"\nschedule = \"every minute\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("config/destinations/old-district.toml"),
        "version = 1\ntitle = \"江干区\"\nitems = [\"CF\"]\nadapter = \"folder\"\noutbound = \"x\"\nregions = [\"330104\"]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("config/destinations/typo-sector.toml"),
        "version = 1\ntitle = \"应急\"\nitems = [\"CF\"]\nadapter = \"folder\"\noutbound = \"y\"\nsectors = [\"安全生厂\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .args(["--config", root.join("config/gateway.toml").to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for expected in [
        "broken.toml: items: unknown catalogue item \"QQ\"",
        "broken.toml: schedule: invalid cron expression",
        "broken.toml: url: an http feed needs a url",
        "old-district.toml: regions: division 330104 was renamed or merged into 330102",
        "typo-sector.toml: sectors: unknown sector \"安全生厂\" (sectors.toml lists 特种设备, 安全生产",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

/// Feed deliveries name `feed_records` ids, which can equal a department record's id: a new
/// version of that record must not supersede them (nor take them for its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_record_sharing_an_id_does_not_supersede_a_feed_delivery() {
    let h = harness(None, "json", 10).await;
    reported_penalties(&h, 1).await;
    h.post_feed(json!([record(1, "新增", Some("330102"), penalty_data(1, "330102"))])).await;
    pull_now(h.settings.clone(), &h.store, "provincial", chrono::Utc::now()).await.unwrap();
    // The department corrects its record 1: version 2, in the same ids as feed record 1.
    let text = std::fs::read_to_string(h.root.join("cf.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = header.iter().position(|h| h == "处罚内容").unwrap();
    let mut writer = csv::Writer::from_path(h.root.join("cf-corrected.csv")).unwrap();
    writer.write_record(&header).unwrap();
    for row in reader.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_string).collect();
        row[column] = format!("{}（更正）", row[column]);
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
    let s =
        ingest_file(&h.settings, &h.store, "market-penalties", &h.root.join("cf-corrected.csv"), &opts).await.unwrap();
    assert_eq!(s.new_versions, 1);
    let superseded = h.store.deliveries(Some("superseded"), 100).await.unwrap();
    assert!(superseded.is_empty(), "{superseded:?}");
    h.push_all().await;
    let stats = h.stats().await;
    assert_eq!((distinct(&stats, "county-a"), distinct(&stats, "city")), (1, 1), "{stats}");
    // The correction goes up as a change, the feed record never does.
    assert_eq!(stats["platforms"]["provincial"]["CF"]["operations"], json!({"add": 1, "update": 1}), "{stats}");
    h.sandbox.shutdown().await;
}

/// The repair SLA counts working days with the calendar: received on 2026-09-30, the National
/// Day holiday (10-01 to 10-07) does not count and Saturday 10-10 is a make-up working day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_received_before_national_day_is_due_on_the_make_up_saturday() {
    let h = harness(None, "json", 10).await;
    reported_penalties(&h, 1).await;
    let ours = h.store.record_detail(1).await.unwrap().unwrap();
    // The platform names the penalty by decision number and subject name, without the
    // subject's credit code: another business key, the same decision number (CF_WSH).
    let mut content: Value = serde_json::from_str(&ours.content).unwrap();
    content.as_object_mut().unwrap().remove("CF_XDR_SHXYM");
    let mut repair = record(100, "撤销", Some("330102"), content);
    repair["repair"] = true.into();
    h.post_feed(json!([repair])).await;
    let received: chrono::DateTime<chrono::Utc> = "2026-09-30T10:00:00+08:00".parse().unwrap();
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", received).await.unwrap();
    assert_eq!(counts.withdrawals, 1, "matched by its decision number");
    let r = &h.store.repairs().await.unwrap()[0];
    assert_eq!((r.received_on.as_str(), r.due_on.as_str(), r.provisional), ("2026-09-30", "2026-10-10", 0));
    assert_eq!(r.status("2026-10-10T23:59:00+08:00".parse().unwrap()), "open");
    assert_eq!(r.status("2026-10-11T00:00:01+08:00".parse().unwrap()), "overdue");
    // Withdrawn only now (November): done, but late.
    h.push_all().await;
    let r = &h.store.repairs().await.unwrap()[0];
    assert_eq!((r.accepted, r.status(chrono::Utc::now())), (1, "late"));
    h.sandbox.shutdown().await;
}

/// A 严重违法失信名单 entry (MKT_YZWF) decided by an authority of `region`, listed for `reason`.
fn serious_list_data(n: u32, region: &str, reason: &str) -> Value {
    json!({
        "YZ_QYMC": format!("杭州名单{n}有限公司"),
        "YZ_SHXYM": uscc("91", region, 7000 + n),
        "YZ_LRYY": reason,
        "YZ_JDWSH": format!("杭市监列〔2026〕{n}号"),
        "YZ_LRRQ": "2026-11-03",
        "YZ_JDJG": "杭州市市场监督管理局",
        "YZ_JDJGDM": uscc("11", region, 300 + n),
    })
}

/// A penalty of `region` whose conduct and basis name its sector (or none).
fn sector_penalty(n: u32, region: &str, conduct: &str, basis: &str) -> Value {
    let mut data = penalty_data(n, region);
    data["CF_WFXW"] = conduct.into();
    data["CF_YJ"] = basis.into();
    data
}

/// What each package in a department folder carried: (item, operation, 文书号), sorted.
fn folder_records(folder: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(folder).into_iter().flatten() {
        let package: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for r in package["records"].as_array().unwrap() {
            let number = r["data"]["CF_WSH"].as_str().or(r["data"]["YZ_JDWSH"].as_str()).unwrap_or_default();
            out.push((
                package["item"].as_str().unwrap().into(),
                r["operation"].as_str().unwrap().into(),
                number.into(),
            ));
        }
    }
    out.sort();
    out
}

fn entries(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = list.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_of_several_sectors_reaches_each_department_with_only_its_sector_s_records() {
    let mut h = harness(None, "json", 4).await;
    // The emergency bureau takes 安全生产 penalties and lists of our own jurisdiction (杭州市, `own`);
    // the food platform 食品药品 penalties of 西湖区 only.
    let dests = h.root.join("config/destinations");
    std::fs::write(
        dests.join("emergency.toml"),
        "version = 1\ntitle = \"应急管理局\"\nitems = [\"CF\", \"MKT_YZWF\"]\nadapter = \"folder\"\n\
         outbound = \"packages/emergency\"\nsectors = [\"安全生产\"]\n",
    )
    .unwrap();
    std::fs::write(
        dests.join("food.toml"),
        destination("food", &h.base, "http_json", "\"330106\"").replace("\"XK\", \"CF\"", "\"CF\"")
            + "sectors = [\"食品药品\"]\n",
    )
    .unwrap();
    let feed = h.root.join("config/feeds/provincial.toml");
    let text = std::fs::read_to_string(&feed).unwrap().replace("[\"XK\", \"CF\"]", "[\"XK\", \"CF\", \"MKT_YZWF\"]");
    std::fs::write(&feed, text).unwrap();
    h.settings = Arc::new(Settings::load(&h.config).unwrap_or_else(|e| panic!("{e}")));
    let now: chrono::DateTime<chrono::Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    let clock = Clock::fixed(now);
    let safety = ("未按规定开展安全生产教育和培训", "《中华人民共和国安全生产法》第九十七条");
    let food = ("经营超过保质期的食品", "《中华人民共和国食品安全法》第一百二十四条");
    // No sector in its words, but the platform names one (an alias of 安全生产).
    let mut named = record(4, "新增", None, penalty_data(4, "330100"));
    named["sector"] = "应急管理".into();
    let mut listed =
        record(5, "新增", None, serious_list_data(5, "330106", "发生生产安全事故，因安全生产违法行为被列入"));
    listed["item"] = "MKT_YZWF".into();
    h.post_feed(json!([
        record(1, "新增", Some("330102"), sector_penalty(1, "330102", safety.0, safety.1)),
        record(2, "新增", Some("330106"), sector_penalty(2, "330106", food.0, food.1)),
        record(3, "新增", Some("330102"), sector_penalty(3, "330102", food.0, food.1)),
        named,
        listed,
        // 宁波市's 安全生产 penalty: not our jurisdiction, nobody's.
        record(6, "新增", None, sector_penalty(6, "330200", safety.0, safety.1)),
        // No sector at all: by region only.
        record(7, "新增", Some("330106"), penalty_data(7, "330106")),
    ]))
    .await;
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", now).await.unwrap();
    assert_eq!((counts.new_versions, counts.rejected), (7, 0), "{counts:?}");
    // county-a 1 3, county-b 2 7, city 1 2 3 4 7, 西湖 folder 2 7, emergency 1 4 5, food 2.
    assert_eq!(counts.routed, 2 + 2 + 5 + 2 + 3 + 1, "{counts:?}");
    for name in LOWER.iter().chain(&["emergency", "food"]) {
        push_due(&h.settings, &h.store, name, &clock).await.unwrap();
    }
    let stats = h.stats().await;
    for (platform, n) in [("county-a", 2), ("county-b", 2), ("city", 5), ("food", 1)] {
        assert_eq!(distinct(&stats, platform), n, "{platform}: {stats}");
    }
    let wsh = |n: u32| format!("杭市监罚〔2026〕{n}号");
    let received: Value =
        reqwest::get(format!("{}/sandbox/received?platform=food&item=CF", h.base)).await.unwrap().json().await.unwrap();
    assert!(received.to_string().contains(&wsh(2)) && !received.to_string().contains(&wsh(3)), "{received}");
    assert_eq!(
        folder_records(&h.root.join("packages/emergency")),
        entries(&[("CF", "add", &wsh(1)), ("CF", "add", &wsh(4)), ("MKT_YZWF", "add", "杭市监列〔2026〕5号"),])
    );
    assert_eq!(
        folder_records(&h.root.join("packages/market-xihu")),
        entries(&[("CF", "add", &wsh(2)), ("CF", "add", &wsh(7))])
    );
    // Penalty 1 is corrected into a 消防 penalty: the bureau, which holds it, still gets the change.
    let fire = sector_penalty(1, "330102", "消防设施、器材未保持完好有效", "《中华人民共和国消防法》第六十条");
    h.post_feed(json!([record(1, "变更", Some("330102"), fire)])).await;
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", now).await.unwrap();
    assert_eq!((counts.new_versions, counts.routed), (1, 3), "county-a, city, and the bureau that took it: {counts:?}");
    push_due(&h.settings, &h.store, "emergency", &clock).await.unwrap();
    // Its withdrawal names only its key: it keeps its sector, and reaches whoever took the record.
    let data = sector_penalty(1, "330102", safety.0, safety.1);
    let mut withdrawal = record(1, "撤销", Some("330102"), json!({}));
    // Penalty 8 comes and is withdrawn in the same page: the withdrawal takes the sector its
    // record got a moment before (the addition, not yet sent, is superseded by it).
    let data8 = sector_penalty(8, "330102", safety.0, safety.1);
    let mut withdrawal8 = record(8, "撤销", Some("330102"), json!({}));
    for k in ["CF_WSH", "CF_XDR_SHXYM", "CF_JDRQ"] {
        withdrawal["data"][k] = data[k].clone();
        withdrawal8["data"][k] = data8[k].clone();
    }
    h.post_feed(json!([withdrawal, record(8, "新增", Some("330102"), data8), withdrawal8])).await;
    let counts = pull_now(h.settings.clone(), &h.store, "provincial", now).await.unwrap();
    assert_eq!((counts.new_versions, counts.routed), (3, 9), "county-a, city, emergency, three times: {counts:?}");
    push_due(&h.settings, &h.store, "emergency", &clock).await.unwrap();
    let got = folder_records(&h.root.join("packages/emergency"));
    for op in [("update", wsh(1)), ("withdraw", wsh(1)), ("withdraw", wsh(8))] {
        assert!(got.contains(&("CF".into(), op.0.into(), op.1.clone())), "{op:?}: {got:?}");
    }
    assert_eq!(got.len(), 6, "{got:?}");
    // The sector is kept with the record and its versions, and listed in Chinese.
    let key = [data["CF_WSH"].as_str().unwrap(), data["CF_XDR_SHXYM"].as_str().unwrap(), "2026-11-02"]
        .join(&credit_gateway::record::KEY_SEPARATOR.to_string());
    let versions = h.store.feed_versions("CF", &key).await.unwrap();
    let sectors: Vec<Option<&str>> = versions.iter().map(|v| v.sector.as_deref()).collect();
    assert_eq!(sectors, [Some("安全生产"), Some("消防"), Some("消防")]);
    let out = gateway_with(&h.config, &["feeds", "missing"]);
    let text = stdout(&out);
    assert!(text.contains("领域"), "{text}");
    let line = text.lines().find(|l| l.contains(&wsh(2))).unwrap();
    assert!(line.contains("\t食品药品\t"), "{line}");
    // The subject's credit file names the sector of what came down about it.
    let code = serious_list_data(5, "330106", "")["YZ_SHXYM"].as_str().unwrap().to_string();
    let file = json(&gateway_with(&h.config, &["subject", "show", &code, "--json"]));
    assert_eq!(file["feed_records"][0]["sector"], "安全生产", "{file}");
    h.sandbox.shutdown().await;
}
