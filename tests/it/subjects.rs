//! Subjects (issue 19): the grading of every subject on generated penalties, recounted here
//! independently, with its boundary cases; the search by code, name fragment and bracket or
//! company-form variants; a department user's view of another department's subject.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use credit_gateway::clock::Clock;
use credit_gateway::config::{OtherDepartments, Settings};
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::store::Store;
use credit_gateway::web::auth;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

/// A valid 统一社会信用代码 of an enterprise registered in 宣城 (341800), numbered `n`.
fn code(n: u32) -> String {
    let org8 = format!("MA{n:06}");
    let org9 = format!("{org8}{}", credit_gateway::ids::org_code_check_char(&org8).unwrap());
    let first17 = format!("91341800{org9}");
    format!("{first17}{}", credit_gateway::ids::credit_code_check_char(&first17).unwrap())
}

/// One penalty row to write: subject, decision date, kinds as a department writes them.
#[derive(Debug, Clone)]
struct Penalty {
    code: String,
    name: String,
    date: NaiveDate,
    kinds: &'static str,
}

const HEADER: [&str; 19] = [
    "行政相对人名称",
    "行政相对人类别",
    "统一社会信用代码",
    "法定代表人",
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额（万元）",
    "暂扣或吊销证照名称及编号",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
];

/// A penalties file the shipped market mapping reads; 文书号 numbered from `first`.
fn write_penalties(path: &Path, rows: &[Penalty], first: usize) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(HEADER).unwrap();
    for (i, p) in rows.iter().enumerate() {
        let licence = if p.kinds.contains("吊销") || p.kinds.contains("暂扣") {
            "许可证 宣市监许〔2024〕8号"
        } else {
            ""
        };
        let content = if p.kinds.contains("罚款") {
            format!("罚款人民币2000元，{}", p.kinds)
        } else {
            p.kinds.to_string()
        };
        let fine = if p.kinds.contains("罚款") { "0.2" } else { "" };
        let end = p.date.with_year(p.date.year() + 1).unwrap_or(p.date + chrono::Days::new(365));
        w.write_record([
            p.name.as_str(),
            "法人",
            p.code.as_str(),
            "张三",
            &format!("宣市监处罚〔{}〕{}号", p.date.year(), first + i),
            "无照经营",
            "未取得营业执照从事经营活动",
            "《无证无照经营查处办法》第十三条",
            p.kinds,
            &content,
            fine,
            licence,
            &p.date.to_string(),
            &end.to_string(),
            &end.to_string(),
            "宣城市市场监督管理局",
            "11340600MB1234567C",
            "宣城市市场监督管理局",
            "11340600MB1234567C",
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

/// The shipped configuration in `root` on its own SQLite file; the config file's path.
fn config_in(root: &Path) -> PathBuf {
    copy_config(root);
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    let db = root.join("gateway.db");
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", &format!("sqlite://{}", db.display()))).unwrap();
    gateway
}

async fn ingest(settings: &Settings, store: &Store, connector: &str, file: &Path, clock: &Clock) -> u64 {
    let opts = IngestOptions { report_path: None, progress: false, clock: clock.clone(), source: None };
    let s = ingest_file(settings, store, connector, file, &opts).await.unwrap();
    assert_eq!(s.rejected, 0, "{s:?}");
    s.accepted
}

/// SPEC §5's months: the same day N months later, clipped to the month's end.
fn plus_months(d: NaiveDate, n: u32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + n as i32;
    let (y, m) = (total / 12, total % 12 + 1);
    (0..4).find_map(|back| NaiveDate::from_ymd_opt(y, m as u32, d.day() - back)).unwrap()
}

/// The recount: (grade, general, serious) of one subject's penalties on `as_of`.
fn recount(rows: &[&Penalty], as_of: NaiveDate) -> (&'static str, u64, u64) {
    let (mut general, mut serious, mut revoked) = (0, 0, 0);
    for p in rows {
        if p.date > as_of || plus_months(p.date, 12) <= as_of {
            continue;
        }
        if p.kinds.contains("吊销营业执照") {
            revoked += 1;
        } else if ["吊销许可证", "责令停产停业", "暂扣许可证", "责令关闭", "限制从业"]
            .iter()
            .any(|k| p.kinds.contains(k))
        {
            serious += 1;
        } else {
            general += 1;
        }
    }
    let grade = match () {
        _ if revoked > 0 => "D",
        _ if serious > 0 || general > 5 => "C",
        _ if general > 0 => "B",
        _ => "A",
    };
    (grade, general, serious + revoked)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grade_equals_an_independent_recount_with_the_boundary_cases() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config_in(root);
    let settings = Settings::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed("2026-07-01T02:00:00Z".parse().unwrap());
    let as_of = day("2026-06-30");

    // Generated subjects: 0–8 penalties each, decided between 2025-05-01 and the as-of day.
    let mut rows: Vec<Penalty> = Vec::new();
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let span = (as_of - day("2025-05-01")).num_days() as u64;
    for s in 0..80u32 {
        for _ in 0..next(9) {
            let kinds = match next(100) {
                0..=79 => "罚款",
                80..=87 => "罚款、吊销许可证",
                88..=92 => "罚款、责令停产停业",
                93..=95 => "罚款、吊销营业执照",
                _ => "警告",
            };
            let date = day("2025-05-01") + chrono::Days::new(next(span + 1));
            rows.push(Penalty { code: code(s), name: format!("宣城市第{s}贸易有限公司"), date, kinds });
        }
    }
    // The boundary cases.
    let named = |n: u32, name: &str, date: &str, kinds: &'static str| Penalty {
        code: code(n),
        name: name.to_string(),
        date: day(date),
        kinds,
    };
    for d in ["2026-01-05", "2026-02-05", "2026-03-05", "2026-04-05", "2026-05-05"] {
        rows.push(named(900, "宣城市恰好五条商贸有限公司", d, "罚款"));
    }
    for d in ["2026-01-06", "2026-02-06", "2026-03-06", "2026-04-06", "2026-05-06", "2026-06-06"] {
        rows.push(named(901, "宣城市六条商贸有限公司", d, "罚款"));
    }
    // Decided 2025-06-30: + 12 months is the as-of day, so it has left the window.
    rows.push(named(902, "宣城市到期建材有限公司", "2025-06-30", "罚款、吊销许可证"));
    rows.push(named(903, "宣城市未到期建材有限公司", "2025-07-01", "罚款、吊销许可证"));
    rows.push(named(904, "宣城市已修复建材有限公司", "2025-12-01", "罚款、吊销许可证"));
    rows.push(named(905, "宣城市吊销许可证化工有限公司", "2026-03-01", "吊销许可证"));
    rows.push(named(906, "宣城市吊销营业执照化工有限公司", "2026-03-01", "吊销营业执照"));
    let file = root.join("penalties.csv");
    write_penalties(&file, &rows, 1);
    assert_eq!(ingest(&settings, &store, "market-penalties", &file, &clock).await, rows.len() as u64);

    // The repaired penalty (信用修复 decided before the as-of day) no longer counts.
    let key = format!("宣市监处罚〔2025〕{}号\u{1f}{}\u{1f}2025-12-01", rows.len() - 2, code(904));
    let repaired = store.record_by_key("CF", &key).await.unwrap().expect("the repaired penalty is stored").id;
    credit_gateway::early_end::repair(&settings, &store, repaired, day("2026-06-01"), "宣信修〔2026〕1号", clock.now())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let out = gateway_with(&config, &["--now", "2026-07-01T02:00:00Z", "grade", "--as-of", "2026-06-30", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let graded = json(&out);
    let graded = graded.as_array().unwrap();
    let by_code: BTreeMap<&str, &Value> = graded.iter().map(|g| (g["credit_code"].as_str().unwrap(), g)).collect();

    let mut subjects: BTreeMap<&str, Vec<&Penalty>> = BTreeMap::new();
    for p in &rows {
        subjects.entry(p.code.as_str()).or_default().push(p);
    }
    assert_eq!(by_code.len(), subjects.len(), "every subject is graded once");
    let mut per_grade: BTreeMap<&str, u64> = BTreeMap::new();
    for (c, list) in &subjects {
        let mut list = list.clone();
        if *c == code(904) {
            list.clear();
        }
        let (grade, general, serious) = recount(&list, as_of);
        let g = by_code[c];
        assert_eq!(
            (g["grade"].as_str().unwrap(), g["general"].as_u64().unwrap(), g["serious"].as_u64().unwrap()),
            (grade, general, serious),
            "{c} {}: {list:?}",
            g["name"]
        );
        assert_eq!(g["reasons"].as_array().unwrap().is_empty(), grade == "A", "{c}: reasons only behind B–D");
        *per_grade.entry(grade).or_default() += 1;
    }
    assert!(per_grade.len() == 4, "generated data reaches every grade: {per_grade:?}");
    let grade_of = |n: u32| by_code[code(n).as_str()]["grade"].as_str().unwrap().to_string();
    assert_eq!(grade_of(900), "B", "exactly 5 general records");
    assert_eq!(grade_of(901), "C", "6 general records");
    assert_eq!(grade_of(902), "A", "a serious record leaves the window on D + 12 months");
    assert_eq!(grade_of(903), "C");
    assert_eq!(grade_of(904), "A", "a repaired penalty does not count");
    assert_eq!(grade_of(905), "C", "吊销许可证 is serious");
    assert_eq!(grade_of(906), "D", "吊销营业执照 is D");
    assert_eq!(by_code[code(906).as_str()]["reasons"].as_array().unwrap().len(), 1);

    // Each change of grade (from A) is a 分级分类结果 record queued for the provincial platform;
    // grading the same day again changes nothing and queues nothing.
    let changed = graded.iter().filter(|g| g["grade"] != "A").count() as i64;
    let results = store.count_records(Some("FJFL")).await.unwrap();
    assert_eq!(results, changed);
    let queued =
        |store: Store| async move { store.delivery_counts().await.unwrap().iter().map(|(_, _, n)| n).sum::<i64>() };
    let before = queued(store.clone()).await;
    let again = gateway_with(&config, &["--now", "2026-07-01T03:00:00Z", "grade", "--as-of", "2026-06-30"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(text.contains(&format!("新增 0、更新 0、未变 {changed}")), "{text}");
    assert!(text.contains("保存评定 0 条"), "{text}");
    assert_eq!(store.count_records(Some("FJFL")).await.unwrap(), results);
    assert_eq!(queued(store.clone()).await, before, "nothing queued twice");

    // The credit file: the grade with its rule, the history, every record with its status.
    let show = gateway_with(&config, &["--now", "2026-07-01T03:00:00Z", "subject", "show", &code(904), "--json"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let file = json(&show);
    assert_eq!(file["grade"]["grade"], "A");
    let statuses: Vec<String> = file["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["status"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()))
        .collect();
    assert!(statuses.contains(&"已修复".to_string()), "{statuses:?}");
    let show = gateway_with(&config, &["--now", "2026-07-01T03:00:00Z", "subject", "show", "吊销营业执照化工"]);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(stdout(&show).contains("信用等级：D（黑名单）"), "{}", stdout(&show));

    // A later day: the five records of 2026-01-05 … have not left; 903's serious one has.
    let later = gateway_with(&config, &["--now", "2026-07-02T02:00:00Z", "grade", "--as-of", "2026-07-01", "--json"]);
    let later = json(&later);
    let g903 = later.as_array().unwrap().iter().find(|g| g["credit_code"] == code(903).as_str()).unwrap();
    assert_eq!(g903["grade"], "A", "2025-07-01 + 12 months = 2026-07-01: out");
    let history = gateway_with(&config, &["--now", "2026-07-02T03:00:00Z", "subject", "show", &code(903), "--json"]);
    let history = json(&history);
    let grades: Vec<&str> =
        history["grades"].as_array().unwrap().iter().map(|g| g["grade"].as_str().unwrap()).collect();
    assert_eq!(grades, ["A", "C"], "the grade history, newest first");
    store.close().await;
}

/// The search and the department scope, on SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_subjects_by_code_fragment_and_bracket_variants_on_sqlite() {
    search_and_scope(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_subjects_by_code_fragment_and_bracket_variants_on_postgres() {
    search_and_scope(true).await;
}

async fn search_and_scope(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config_in(root);
    // The tax bureau reports penalties too, through its own copy of the market connector.
    let market = std::fs::read_to_string(root.join("connectors/market-penalties.toml")).unwrap();
    let tax = market
        .replace("department = \"market\"", "department = \"tax\"")
        .replace("data/inbox/market-penalties", "data/inbox/tax-penalties");
    assert!(tax.contains("department = \"tax\""));
    std::fs::write(root.join("connectors/tax-penalties.toml"), tax).unwrap();
    let mut settings = Settings::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let mut database = None;
    if postgres {
        let (url, name) = fresh_postgres().await;
        settings.gateway.database_url = url;
        database = Some(name);
    }
    assert!(settings.connector("tax-penalties").is_some(), "the tax connector is loaded");
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed("2026-07-01T02:00:00Z".parse().unwrap());
    let group = Penalty {
        code: code(1),
        name: "宣城市（集团）建材有限责任公司".into(),
        date: day("2026-03-01"),
        kinds: "罚款",
    };
    let food = Penalty {
        code: code(2), name: "宁国市某某食品有限公司".into(), date: day("2026-03-02"), kinds: "罚款"
    };
    let market_file = root.join("market.csv");
    write_penalties(&market_file, &[group.clone(), Penalty { date: day("2026-04-01"), ..group.clone() }], 1);
    assert_eq!(ingest(&settings, &store, "market-penalties", &market_file, &clock).await, 2);
    let tax_file = root.join("tax.csv");
    write_penalties(&tax_file, &[food.clone(), Penalty { date: day("2026-05-01"), ..group.clone() }], 100);
    assert_eq!(ingest(&settings, &store, "tax-penalties", &tax_file, &clock).await, 2);
    // The daemon links new records every few seconds; here once, by hand. Each ingest links
    // what came before it (its 重码 check reads the links): the market file's two are linked.
    assert_eq!(store.link_subjects(&settings.catalogue).await.unwrap(), 2);

    let now = clock.now();
    let add = |name: &'static str, role: &'static str, department: Option<&'static str>| {
        let (store, departments) = (store.clone(), settings.departments.clone());
        async move {
            auth::add_user(&store, &departments, name, role, department, Some("口令-123"), now).await.unwrap().api_token
        }
    };
    let ops = add("ops", "ops", None).await;
    let market_clerk = add("market", "department", Some("market")).await;
    let web = Web::serve_with_clock(&settings, &store, clock.clone()).await;
    let q = |text: &str| format!("/api/v1/subjects?q={}", urlencode(text));
    let codes = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|h| h["credit_code"].as_str().unwrap().to_string()).collect()
    };

    assert_eq!(web.get(&q("集团"), None).await.status(), StatusCode::UNAUTHORIZED);
    // By code: the whole code, and its start.
    let hit = web.json(&q(&code(1).to_lowercase()), &ops).await;
    assert_eq!(codes(&hit), [code(1)]);
    assert_eq!(hit["items"][0]["records"], 3);
    assert_eq!(hit["items"][0]["name"], group.name);
    let both = web.json(&q(&code(1)[..12]), &ops).await;
    assert_eq!(codes(&both), [code(1), code(2)]);
    // By a fragment of the name, 有限公司 for 有限责任公司, ASCII brackets for full-width ones.
    assert_eq!(codes(&web.json(&q("集团"), &ops).await), [code(1)]);
    assert_eq!(codes(&web.json(&q("建材有限公司"), &ops).await), [code(1)]);
    assert_eq!(codes(&web.json(&q("宣城市(集团)建材有限公司"), &ops).await), [code(1)]);
    assert_eq!(codes(&web.json(&q("宣城市 （集团） 建材"), &ops).await), [code(1)]);
    assert!(codes(&web.json(&q("不存在的公司"), &ops).await).is_empty());

    // A market clerk: its own records of the group; the food company only as policy allows.
    let mine = web.json(&q("集团"), &market_clerk).await;
    assert_eq!((mine["items"][0]["records"].as_i64(), mine["items"][0]["other_records"].as_i64()), (Some(2), Some(1)));
    assert_eq!(settings.gateway.credit_file_others, OtherDepartments::Count, "the shipped policy");
    let theirs = web.json(&q("某某食品"), &market_clerk).await;
    assert_eq!(
        (theirs["items"][0]["records"].as_i64(), theirs["items"][0]["other_records"].as_i64()),
        (Some(0), Some(1))
    );
    let file = web.json(&format!("/api/v1/subjects/{}", code(1)), &market_clerk).await;
    let departments: Vec<&str> =
        file["records"].as_array().unwrap().iter().map(|r| r["department"].as_str().unwrap()).collect();
    assert_eq!(departments, ["market", "market"]);
    assert_eq!(file["other_departments_records"], 1);
    let page = web.text(&format!("/subjects/{}", code(2)), &market_clerk).await;
    assert!(page.contains("其他部门另有 1 条"), "{page}");
    assert!(!page.contains("/records/"), "no link to another department's record");
    // The office sees everything, the file page, the report and the header's search box.
    let page = web.text(&format!("/subjects/{}", code(1)), &ops).await;
    assert!(
        page.contains("信用档案：宣城市（集团）建材有限责任公司")
            && page.contains("市场监督管理局")
            && page.contains("税务局")
    );
    assert!(page.contains("action=\"/subjects\""), "the header's search box");
    let report = web.text(&format!("/subjects/{}/report", code(1)), &ops).await;
    assert!(report.contains("公共信用信息报告") && report.contains("三、行政处罚信息") && report.contains("报告说明"));
    let hits = web.text(&format!("/subjects?q={}", urlencode("(集团)")), &ops).await;
    assert!(hits.contains(&format!("/subjects/{}", code(1))), "{hits}");
    assert_eq!(web.get("/subjects/not-a-code", Some(&ops)).await.status(), StatusCode::NOT_FOUND);

    // Where policy hides other departments, the clerk finds nothing of the food company.
    settings.gateway.credit_file_others = OtherDepartments::Hidden;
    let hidden = Web::serve_with_clock(&settings, &store, clock.clone()).await;
    assert!(codes(&hidden.json(&q("某某食品"), &market_clerk).await).is_empty());
    assert_eq!(
        hidden.get(&format!("/api/v1/subjects/{}", code(2)), Some(&market_clerk)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        hidden.get(&format!("/subjects/{}", code(2)), Some(&market_clerk)).await.status(),
        StatusCode::NOT_FOUND
    );
    let own = hidden.json(&q("集团"), &market_clerk).await;
    assert_eq!((own["items"][0]["records"].as_i64(), own["items"][0].get("other_records")), (Some(2), None));
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
