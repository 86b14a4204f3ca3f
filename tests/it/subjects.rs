//! Subjects (issue 19): the grading of every subject on generated penalties, recounted here
//! independently, with its boundary cases; the search by code, name fragment and bracket or
//! company-form variants; a department user's view of another department's subject.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use credit_gateway::clock::Clock;
use credit_gateway::config::{OtherDepartments, Settings};
use credit_gateway::delivery::worker::push_due;
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

/// Penalties of a natural person (自然人, no credit code, an ID number), 文书号 from `first`.
fn write_person_penalties(path: &Path, name: &str, id: &str, dates: &[&str], first: usize) {
    let mut w = csv::Writer::from_path(path).unwrap();
    let mut header = HEADER.to_vec();
    header.extend(["证件类型", "证件号码"]);
    w.write_record(&header).unwrap();
    for (i, date) in dates.iter().enumerate() {
        let mut row: Vec<String> = [
            name,
            "自然人",
            "",
            "",
            &format!("宣市监处罚〔2026〕{}号", first + i),
            "无照经营",
            "未取得营业执照从事经营活动",
            "《无证无照经营查处办法》第十三条",
            "罚款",
            "罚款人民币2000元",
            "0.2",
            "",
            date,
            "2027-03-01",
            "2027-03-01",
            "宣城市市场监督管理局",
            "11340600MB1234567C",
            "宣城市市场监督管理局",
            "11340600MB1234567C",
        ]
        .map(String::from)
        .to_vec();
        row.extend(["身份证".to_string(), id.to_string()]);
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

/// A natural person (no credit code) is a subject too, keyed by the keyed hash of the ID
/// number: found by the whole number, shown as 自然人 without the number, never graded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_natural_person_is_found_by_the_id_number_and_never_shown_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config_in(root);
    let settings = Settings::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed("2026-07-01T02:00:00Z".parse().unwrap());
    let id = "11010519491231002X";
    let file = root.join("person.csv");
    write_person_penalties(&file, "李四", id, &["2026-03-01", "2026-04-01"], 1);
    assert_eq!(ingest(&settings, &store, "market-penalties", &file, &clock).await, 2);
    // Another person of the same name is another subject.
    let other = root.join("other.csv");
    write_person_penalties(&other, "李四", "110105194912310046", &["2026-03-02"], 10);
    assert_eq!(ingest(&settings, &store, "market-penalties", &other, &clock).await, 1);
    store.link_subjects(&settings.catalogue).await.unwrap();

    let now = clock.now();
    let ops = auth::add_user(&store, &settings.departments, "ops", "ops", None, Some("口令-123"), now)
        .await
        .unwrap()
        .api_token;
    let web = Web::serve_with_clock(&settings, &store, clock.clone()).await;
    let hits = web.json(&format!("/api/v1/subjects?q={}", id.to_lowercase()), &ops).await;
    let items = hits["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{hits}");
    let person = items[0]["credit_code"].as_str().unwrap().to_string();
    assert!(person.starts_with("ZR") && person.len() == 18, "{person}");
    assert_eq!((items[0]["name"].as_str(), items[0]["records"].as_i64()), (Some("李四"), Some(2)));
    let by_name = web.json(&format!("/api/v1/subjects?q={}", urlencode("李四")), &ops).await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 2, "two people named 李四: {by_name}");
    let masked = web.json(&format!("/api/v1/subjects?q={}", urlencode("110105********002X")), &ops).await;
    assert!(masked["items"].as_array().unwrap().is_empty(), "a masked number finds nobody: {masked}");

    let page = web.text(&format!("/subjects/{person}"), &ops).await;
    assert!(page.contains("自然人标识") && page.contains("李四") && page.contains("自然人"), "{page}");
    assert!(!page.contains(id) && !page.contains("19491231002"), "the number is shown nowhere: {page}");
    let file = web.json(&format!("/api/v1/subjects/{person}"), &ops).await;
    assert_eq!(file["records"].as_array().unwrap().len(), 2);
    assert_eq!(file["kind"], "自然人");

    // Grading is of enterprises: the persons are not graded.
    let out = gateway_with(&config, &["--now", "2026-07-01T02:00:00Z", "grade", "--as-of", "2026-06-30", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), serde_json::json!([]));
    // The key is the installation's: the same on every read, 64 hexadecimal digits.
    let key = store.person_key().await.unwrap();
    assert_eq!(key.subject(id), Some(person));
    store.close().await;
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The 分级分类 figures (issue 19) on SQLite and PostgreSQL: per month the subjects in each
/// grade, the changes of grade and the commitments made, kept and broken, recounted here from
/// what was written; each figure's link lists as many as it says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grade_and_commitment_figures_equal_a_recount_and_their_lists_on_sqlite() {
    grade_and_commitment_figures(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grade_and_commitment_figures_equal_a_recount_and_their_lists_on_postgres() {
    grade_and_commitment_figures(true).await;
}

/// A 信用承诺 file in the catalogue's template: (code, name, 编号, 承诺日期, 履约状态).
fn write_commitments(path: &Path, rows: &[(String, &str, &str, &str, &str)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record([
        "承诺主体名称",
        "统一社会信用代码",
        "承诺书编号",
        "承诺类型",
        "承诺事项",
        "承诺日期",
        "承诺受理单位",
        "履约状态",
        "履约状态变更日期",
    ])
    .unwrap();
    for (code, name, number, date, status) in rows {
        let changed = if *status == "履约中" { "" } else { "2026-06-20" };
        w.write_record([
            name,
            code.as_str(),
            number,
            "审批替代型",
            "食品经营许可告知承诺",
            date,
            "宣城市市场监督管理局",
            status,
            changed,
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

async fn grade_and_commitment_figures(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config_in(root);
    // 信用承诺 from the market bureau's folder, in the catalogue's own template.
    std::fs::write(
        root.join("mappings/test-commitments.toml"),
        "version = 1\nitem = \"XYCN\"\ncolumns = \"catalogue\"\nencoding = \"auto\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("connectors/test-commitments.toml"),
        "version = 1\ndepartment = \"market\"\nitem = \"XYCN\"\nmapping = \"test-commitments\"\nkind = \"folder\"\n\n\
         [folder]\ninbox = \"data/inbox/test-commitments\"\n",
    )
    .unwrap();
    let mut settings = Settings::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let mut database = None;
    if postgres {
        let (url, name) = fresh_postgres().await;
        settings.gateway.database_url = url.clone();
        database = Some(name);
        let text = std::fs::read_to_string(&config).unwrap();
        let sqlite = format!("sqlite://{}", root.join("gateway.db").display());
        std::fs::write(&config, text.replace(&sqlite, &url)).unwrap();
    }
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed("2026-07-02T02:00:00Z".parse().unwrap());

    // Penalties: subject 1 general in May (B from May), 2 serious in June (C from June), 3
    // revoked business licence in April (D from May's grading), 4 none until July.
    let p = |n: u32, date: &str, kinds: &'static str| Penalty {
        code: code(n),
        name: format!("宣城市第{n}商贸有限公司"),
        date: day(date),
        kinds,
    };
    let penalties =
        [p(1, "2026-05-10", "罚款"), p(2, "2026-06-10", "罚款、责令停产停业"), p(3, "2026-04-10", "吊销营业执照")];
    let file = root.join("penalties.csv");
    write_penalties(&file, &penalties, 1);
    assert_eq!(ingest(&settings, &store, "market-penalties", &file, &clock).await, 3);
    let commitments = root.join("commitments.csv");
    write_commitments(
        &commitments,
        &[
            (code(1), "宣城市第1商贸有限公司", "CN-1", "2026-05-03", "已履约"),
            (code(2), "宣城市第2商贸有限公司", "CN-2", "2026-06-03", "未履约"),
            (code(4), "宣城市第4商贸有限公司", "CN-4", "2026-06-04", "已履约"),
            (code(5), "宣城市第5商贸有限公司", "CN-5", "2026-06-05", "履约中"),
        ],
    );
    assert_eq!(ingest(&settings, &store, "test-commitments", &commitments, &clock).await, 4);

    let grade = |as_of: &str| {
        let out = gateway_with(&config, &["--now", "2026-07-02T02:00:00Z", "grade", "--as-of", as_of]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    grade("2026-05-31");
    grade("2026-06-30");

    let out = gateway_with(&config, &["--now", "2026-07-02T03:00:00Z", "report", "--grades", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let figures = json(&out);
    let months = figures["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let month = |m: &str| months.iter().find(|x| x["month"] == m).unwrap_or_else(|| panic!("{m}: {figures}"));
    let grades = |m: &str| {
        let g = &month(m)["grades"];
        ["A", "B", "C", "D"].map(|k| g[k].as_i64().unwrap())
    };
    // Graded subjects are those with records (penalties or commitments): 1–5.
    assert_eq!(grades("2026-04"), [0, 0, 0, 0], "nobody graded before May 31");
    assert_eq!(grades("2026-05"), [3, 1, 0, 1], "1 B, 3 D; 2, 4 and 5 A (2's penalty comes in June)");
    assert_eq!(grades("2026-06"), [2, 1, 1, 1]);
    assert_eq!(grades("2026-07"), grades("2026-06"), "July counts today: the June grades");
    assert_eq!(month("2026-06")["as_of"], "2026-06-30");
    assert_eq!(month("2026-07")["as_of"], "2026-07-02");
    // Changes of grade: May 1 and 3 (from A), June 2.
    let changes = |m: &str| month(m)["changes"].as_i64().unwrap();
    assert_eq!((changes("2026-05"), changes("2026-06"), changes("2026-07")), (2, 1, 0));
    let c = |m: &str, k: &str| month(m)[k].as_i64().unwrap();
    assert_eq!(
        [c("2026-05", "commitments"), c("2026-05", "kept"), c("2026-05", "broken"), c("2026-05", "open")],
        [1, 1, 0, 0]
    );
    assert_eq!(
        [c("2026-06", "commitments"), c("2026-06", "kept"), c("2026-06", "broken"), c("2026-06", "open")],
        [3, 1, 1, 1]
    );
    assert_eq!((figures["enterprises"].as_i64(), figures["enterprise_basis"].as_str()), (Some(5), Some("records")));
    assert!((figures["commitment_share"].as_f64().unwrap() - 4.0 / 5.0).abs() < 1e-9);
    let table = gateway_with(&config, &["--now", "2026-07-02T03:00:00Z", "report", "--grades", "--month", "2026-06"]);
    let text = stdout(&table);
    assert!(text.starts_with("月份\t统计日\tA 守信\tB 一般失信\tC 严重失信\tD 黑名单\t等级变化"), "{text}");
    assert!(text.contains("2026-06\t2026-06-30\t2\t1\t1\t1\t1\t3\t1\t1\t1"), "{text}");
    assert!(text.contains("信用承诺占企业总量比例：60.00%"), "June's 3 of 5 enterprises: {text}");

    // The page: every figure links to a list of as many; department users are refused.
    let now = clock.now();
    let add = |name: &'static str, role: &'static str, department: Option<&'static str>| {
        let (store, departments) = (store.clone(), settings.departments.clone());
        async move {
            auth::add_user(&store, &departments, name, role, department, Some("口令-123"), now).await.unwrap().api_token
        }
    };
    let ops = add("ops", "ops", None).await;
    let clerk = add("market", "department", Some("market")).await;
    let web = Web::serve_with_clock(&settings, &store, clock.clone()).await;
    let page = web.text("/grading", &ops).await;
    let api = web.json("/api/v1/grading", &ops).await;
    assert_eq!(api["months"], figures["months"], "the page's API says what `report --grades` says");
    let links: Vec<(String, i64)> = page
        .split("<td class=\"n\"><a href=\"")
        .skip(1)
        .map(|rest| {
            let (href, rest) = rest.split_once("\">").unwrap();
            let n = rest.split_once('<').unwrap().0.replace(',', "");
            (href.replace("&amp;", "&"), n.parse().unwrap())
        })
        .collect();
    assert!(links.len() >= 12, "{page}");
    for (href, n) in &links {
        let listed = web.text(href, &ops).await;
        let total = listed
            .split("class=\"total\">")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap_or_else(|| panic!("{href}: no total in {listed}"))
            .replace(',', "");
        assert_eq!(total.parse::<i64>().unwrap(), *n, "{href}");
    }
    assert_eq!(web.get("/grading", Some(&clerk)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(web.get("/api/v1/grading", Some(&clerk)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(web.get("/subjects?grade=C", Some(&clerk)).await.status(), StatusCode::FORBIDDEN);
    assert!(!web.text("/", &clerk).await.contains("href=\"/grading\""), "no link a clerk cannot follow");
    assert_eq!(web.get("/subjects?grade=E", Some(&ops)).await.status(), StatusCode::BAD_REQUEST);
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}

/// A valid 统一社会信用代码 of an enterprise registered in `region`, numbered `n`.
fn code_in(region: &str, n: u32) -> String {
    let org8 = format!("MA{n:06}");
    let org9 = format!("{org8}{}", credit_gateway::ids::org_code_check_char(&org8).unwrap());
    let first17 = format!("91{region}{org9}");
    format!("{first17}{}", credit_gateway::ids::credit_code_check_char(&first17).unwrap())
}

/// Serious penalties (责令停产停业: grade C) whose conduct and basis name their sector: rows of
/// (credit code, name, 违法行为类型, 处罚依据), decided on 2026-06-10.
fn write_sector_penalties(path: &Path, rows: &[(String, String, &str, &str)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(HEADER).unwrap();
    for (i, (code, name, conduct, basis)) in rows.iter().enumerate() {
        w.write_record([
            name.as_str(),
            "法人",
            code.as_str(),
            "张三",
            &format!("淮应急罚〔2026〕{}号", i + 1),
            conduct,
            "经查实",
            basis,
            "罚款、责令停产停业",
            "罚款人民币2000元，责令停产停业",
            "0.2",
            "",
            "2026-06-10",
            "2027-06-10",
            "2027-06-10",
            "宣城市市场监督管理局",
            "11340600MB1234567C",
            "宣城市市场监督管理局",
            "11340600MB1234567C",
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grade_result_reaches_the_platform_and_the_departments_of_its_sector_once_on_sqlite() {
    grade_results_by_sector(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grade_result_reaches_the_platform_and_the_departments_of_its_sector_once_on_postgres() {
    grade_results_by_sector(true).await;
}

/// 分级分类结果 by sector (seeds 001, 003): a subject of 相山区 graded C on a 安全生产 penalty goes
/// to the provincial platform, the shipped emergency bureau (安全生产, 淮北市) and a city-wide
/// destination without sectors; one graded C on a 食品 penalty to the platform and the city only;
/// one of 宣城 (not ours) to the platform only. Grading the day again queues nothing; the bureau's
/// worker writes its package; a year on, the return to A reaches the bureau that had the C.
async fn grade_results_by_sector(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config_in(root);
    std::fs::write(
        root.join("config/destinations/city-huaibei.toml"),
        "version = 1\ntitle = \"淮北市信用办\"\nitems = [\"FJFL\"]\nadapter = \"folder\"\n\
         outbound = \"data/departments/city\"\nregions = [\"340600\"]\n",
    )
    .unwrap();
    let mut settings = Settings::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let mut database = None;
    if postgres {
        let (url, name) = fresh_postgres().await;
        settings.gateway.database_url = url.clone();
        database = Some(name);
        let text = std::fs::read_to_string(&config).unwrap();
        let sqlite = format!("sqlite://{}", root.join("gateway.db").display());
        std::fs::write(&config, text.replace(&sqlite, &url)).unwrap();
    }
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed("2026-07-01T02:00:00Z".parse().unwrap());
    let (safety, food, elsewhere) = (code_in("340603", 1), code_in("340603", 2), code_in("341800", 3));
    let file = root.join("penalties.csv");
    write_sector_penalties(
        &file,
        &[
            (
                safety.clone(),
                "淮北市第1化工有限公司".into(),
                "未按规定开展安全生产教育和培训",
                "《中华人民共和国安全生产法》第九十七条",
            ),
            (
                food.clone(),
                "淮北市第2食品有限公司".into(),
                "经营超过保质期的食品",
                "《中华人民共和国食品安全法》第一百二十四条",
            ),
            (
                elsewhere.clone(),
                "宣城市第3化工有限公司".into(),
                "未按规定开展安全生产教育和培训",
                "《中华人民共和国安全生产法》第九十七条",
            ),
        ],
    );
    assert_eq!(ingest(&settings, &store, "market-penalties", &file, &clock).await, 3);

    let grade = |now: &str, as_of: &str| {
        let out = gateway_with(&config, &["--now", now, "grade", "--as-of", as_of]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    // Pending deliveries of 分级分类结果 records: (credit code, grade, destination), sorted.
    let queued = |store: Store| async move {
        let rows = store.deliveries(Some("pending"), 1000).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|d| d.record_id).collect();
        let mut results: BTreeMap<i64, Value> = BTreeMap::new();
        store
            .each_record_content(&ids, |id, item, content| {
                if item == "FJFL" {
                    results.insert(id, serde_json::from_str(content).unwrap());
                }
            })
            .await
            .unwrap();
        let mut out: Vec<(String, String, String)> = rows
            .iter()
            .filter_map(|d| {
                let r = results.get(&d.record_id)?;
                Some((r["FJ_SHXYM"].as_str()?.to_string(), r["FJ_DJ"].as_str()?.to_string(), d.destination.clone()))
            })
            .collect();
        out.sort();
        out
    };
    let expect = |list: &[(&str, &str, &str)]| {
        let mut out: Vec<(String, String, String)> =
            list.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
        out.sort();
        out
    };
    // Feed records sent to the bureau long ago under the ids the results will take: a record's
    // delivery and a feed record's of one id are apart (migration 0028), neither drops the other.
    let taken = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100) \
         INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, \
         next_attempt_at, created_at, updated_at, source) SELECT n, 1, 'emergency-huaibei', 'add', 'feed:' || n, \
         'accepted', '2026-01-01', '2026-01-01', '2026-01-01', 'feed' FROM t";
    match postgres {
        false => {
            let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
            sqlx::query(taken).execute(&pool).await.unwrap();
            pool.close().await;
        }
        true => {
            let pool = sqlx::PgPool::connect(&settings.gateway.database_url).await.unwrap();
            sqlx::query(taken).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    grade("2026-07-01T02:00:00Z", "2026-06-30");
    let first = queued(store.clone()).await;
    assert_eq!(
        first,
        expect(&[
            (&safety, "C", "provincial"),
            (&safety, "C", "emergency-huaibei"),
            (&safety, "C", "city-huaibei"),
            (&food, "C", "provincial"),
            (&food, "C", "city-huaibei"),
            (&elsewhere, "C", "provincial"),
        ])
    );
    // The same day again: the results are unchanged, nothing is queued twice.
    let all = store.delivery_counts().await.unwrap();
    grade("2026-07-01T03:00:00Z", "2026-06-30");
    assert_eq!(queued(store.clone()).await, first, "a regrade of the day queues nothing again");
    assert_eq!(store.delivery_counts().await.unwrap(), all, "nor anything else");

    // The bureau's worker writes the package into its folder: the 安全生产 subject's C only.
    let after = Clock::fixed("2026-07-01T04:00:00Z".parse().unwrap());
    push_due(&settings, &store, "emergency-huaibei", &after).await.unwrap();
    let folder = settings.destination("emergency-huaibei").unwrap().outbound.clone().unwrap();
    let mut got = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let package: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for r in package["records"].as_array().unwrap() {
            got.push((
                package["item"].as_str().unwrap().to_string(),
                r["data"]["FJ_SHXYM"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(got, [("FJFL".to_string(), safety.clone())]);
    assert!(queued(store.clone()).await.iter().all(|(_, _, d)| d != "emergency-huaibei"), "accepted once written");

    // A year on the penalties have left the window: back to A, resting on nothing; the bureau
    // that had the C hears of it (the previous grade's reasons), the city of both.
    grade("2027-07-01T02:00:00Z", "2027-06-30");
    let later: Vec<_> = queued(store.clone()).await.into_iter().filter(|(_, g, _)| g == "A").collect();
    assert_eq!(
        later,
        expect(&[
            (&safety, "A", "provincial"),
            (&safety, "A", "emergency-huaibei"),
            (&safety, "A", "city-huaibei"),
            (&food, "A", "provincial"),
            (&food, "A", "city-huaibei"),
            (&elsewhere, "A", "provincial"),
        ])
    );
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}

/// Only a grade result rests on reasons: `from = "reasons"` on another item is refused.
#[test]
fn check_config_refuses_sectors_from_reasons_on_an_item_that_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config_in(root);
    let sectors = root.join("config/sectors.toml");
    let text = std::fs::read_to_string(&sectors).unwrap();
    std::fs::write(&sectors, format!("{text}\n[[items]]\nitem = \"MKT_YC\"\nfrom = \"reasons\"\n")).unwrap();
    let out = gateway_with(&config, &["check-config"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let expected =
        "sectors.toml: items: MKT_YC: `from = \"reasons\"`, but only grading.toml's result item FJFL rests on reasons";
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
}
