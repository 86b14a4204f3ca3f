//! Objections (异议) end to end: registered, routed and answered on the 3-working-day clock
//! across a holiday (the binary with `--now`), a suspended record withdrawn and published again
//! at the sandbox platform, an upheld one corrected as a new version, the figures recounted,
//! refusals in Chinese; and over HTTP, who may see and do what.

use credit_gateway::config::Settings;
use credit_gateway::sim::sample::SampleItem;
use credit_gateway::store::Store;
use credit_gateway::web::auth;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::delivery::{config, config_on, destination, ingest_penalties_at, push_until_done_at, sandbox, stats};
use crate::support::*;

/// The clock of a push at `at` (RFC 3339).
fn at(at: &str) -> credit_gateway::clock::Clock {
    credit_gateway::clock::Clock::fixed(chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc())
}

/// Friday 2026-04-03, the day before the 清明 holiday (04-04 to 04-06): day 0.
const FRIDAY: &str = "2026-04-03T10:00:00+08:00";
/// Thursday 2026-04-09: the 3rd working day after it (the deadline).
const THIRD_DAY: &str = "2026-04-09T17:00:00+08:00";
/// Friday 2026-04-10: the 4th (late).
const FOURTH_DAY: &str = "2026-04-10T09:00:00+08:00";

fn objections(config: &std::path::Path, now: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["objections"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--now", now]);
    gateway_with(config, &all)
}

/// The binary's answer, which must be a success with one JSON document.
fn ok_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}{}", stdout(out), stderr(out));
    json(out)
}

/// A refusal: exit 1, a Chinese reason on stderr.
fn refused(out: &std::process::Output, words: &str) {
    assert!(!out.status.success(), "{}", stdout(out));
    let err = stderr(out);
    assert!(err.contains("错误：") && err.contains(words), "{err}");
}

fn operations(st: &Value) -> Value {
    st["platforms"]["provincial"]["CF"]["operations"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objections_across_a_holiday_on_sqlite() {
    objections_are_answered_on_the_third_working_day_and_suspension_is_undone_when_rejected(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objections_across_a_holiday_on_postgres() {
    objections_are_answered_on_the_third_working_day_and_suspension_is_undone_when_rejected(true).await;
}

async fn objections_are_answered_on_the_third_working_day_and_suspension_is_undone_when_rejected(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let dest = destination(&base, "http_json", "rate_per_second = 1000");
    let database = if postgres { Some(fresh_postgres().await) } else { None };
    let config = match &database {
        Some((url, _)) => config_on(root, &dest, url),
        None => config(root, &dest),
    };
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let mut rows = ingest_penalties_at(&settings, &store, root, 3, "2026-04-01", at("2026-04-01T18:00:00+08:00")).await;
    push_until_done_at(&settings, &store, &at("2026-04-02T10:00:00+08:00")).await;
    assert_eq!(operations(&stats(&base).await), json!({"add": 3}));

    // Registered on the Friday before the holiday: due the Thursday after it.
    let first = ok_json(&objections(
        &config,
        FRIDAY,
        &[
            "add",
            "--record",
            "1",
            "--ground",
            "信息错误",
            "--applicant",
            "张三丰",
            "--contact",
            "13812345678",
            "--json",
        ],
    ));
    assert_eq!(
        (&first["id"], &first["record_id"], &first["department"], &first["ground"]),
        (&json!(1), &json!(1), &json!("market"), &json!("信息错误"))
    );
    assert_eq!(
        (&first["received"], &first["due"], &first["status"]),
        (&json!("2026-04-03"), &json!("2026-04-09"), &json!("open"))
    );
    assert_eq!((&first["answered_on"], &first["on_time"]), (&Value::Null, &Value::Null));
    assert_eq!((&first["applicant"], &first["contact"]), (&json!("张**"), &json!("138****5678")), "masked: {first}");
    let second = ok_json(&objections(
        &config,
        FRIDAY,
        &["add", "--record", "2", "--ground", "重复公示", "--applicant", "李四", "--suspend", "--json"],
    ));
    assert_eq!(second["suspended"], true);
    let third = ok_json(&objections(
        &config,
        FRIDAY,
        &["add", "--record", "3", "--ground", "超期", "--applicant", "王五", "--json"],
    ));
    assert_eq!(third["ground"], "超期公示", "a synonym names its ground");

    // The suspended record is withdrawn from the platform, once.
    push_until_done_at(&settings, &store, &at("2026-04-03T10:05:00+08:00")).await;
    assert_eq!(operations(&stats(&base).await), json!({"add": 3, "withdraw": 1}));

    // Bad input: refused with a reason, nothing changed.
    let before = ok_json(&objections(&config, FOURTH_DAY, &["list", "--json"]));
    refused(
        &objections(&config, FRIDAY, &["add", "--record", "99", "--ground", "信息错误", "--applicant", "赵六"]),
        "记录 99 不存在",
    );
    refused(
        &objections(&config, FRIDAY, &["add", "--record", "1", "--ground", "看不惯", "--applicant", "赵六"]),
        "未知异议事由",
    );
    refused(&objections(&config, FRIDAY, &["reply", "3", "--text", "已处理"]), "部门尚未答复");
    refused(
        &objections(&config, FRIDAY, &["answer", "3", "--upheld", "--outcome", "道歉", "--text", "x"]),
        "未知处理结果",
    );
    refused(&objections(&config, FRIDAY, &["answer", "3", "--rejected", "--text", " "]), "不能为空");
    assert_eq!(ok_json(&objections(&config, FOURTH_DAY, &["list", "--json"])), before);

    // Answered on the 3rd working day (on time) and on the 4th (late).
    let upheld = ok_json(&objections(
        &config,
        THIRD_DAY,
        &["answer", "1", "--upheld", "--outcome", "correction", "--text", "违法事实有误，已更正", "--json"],
    ));
    assert_eq!(
        (&upheld["status"], &upheld["answered_on"], &upheld["on_time"]),
        (&json!("upheld"), &json!("2026-04-09"), &json!(true))
    );
    assert_eq!(upheld["handling_working_days"], 3);
    let rejected =
        ok_json(&objections(&config, FOURTH_DAY, &["answer", "2", "--rejected", "--text", "原记录无误", "--json"]));
    assert_eq!((&rejected["status"], &rejected["on_time"]), (&json!("rejected"), &json!(false)));

    // Rejected: the suspended record is published again; the upheld one's corrected row is a new version.
    let fact = rows[0].iter().position(|h| h == "违法事实").unwrap();
    rows[1][fact] = "更正后的违法事实".into();
    let corrected = root.join("corrected.csv");
    let mut w = csv::Writer::from_path(&corrected).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    let ingested = gateway_with(
        &config,
        &["ingest", "--connector", "market-penalties", "--json", "--now", FOURTH_DAY, corrected.to_str().unwrap()],
    );
    assert_eq!(ok_json(&ingested)["new_versions"], 1);
    push_until_done_at(&settings, &store, &at("2026-04-10T12:00:00+08:00")).await;
    assert_eq!(operations(&stats(&base).await), json!({"add": 4, "withdraw": 1, "update": 1}));
    assert_eq!(store.record_detail(1).await.unwrap().unwrap().version, 2);

    // The case ends: reply, close; then nothing more can be done to it.
    refused(&objections(&config, FOURTH_DAY, &["close", "1"]), "尚未答复申请人");
    ok_json(&objections(&config, FOURTH_DAY, &["reply", "1", "--text", "已更正并重新公示", "--json"]));
    refused(&objections(&config, FOURTH_DAY, &["reply", "1", "--text", "again"]), "已答复申请人");
    let closed = ok_json(&objections(&config, FOURTH_DAY, &["close", "1", "--json"]));
    assert_eq!((&closed["status"], &closed["on_time"]), (&json!("closed"), &json!(true)));
    refused(&objections(&config, FOURTH_DAY, &["answer", "1", "--rejected", "--text", "x"]), "已办结");

    // The figures equal a recount of the list.
    let list = ok_json(&objections(&config, FOURTH_DAY, &["list", "--json"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["answered_on", "department", "due", "ground", "id", "on_time", "received", "record_id", "status"]
    );
    let count = |f: &dyn Fn(&Value) -> bool| list.iter().filter(|o| f(o)).count() as u64;
    let report = gateway_with(&config, &["report", "--objections", "--format", "json", "--now", FOURTH_DAY]);
    let figures = ok_json(&report);
    assert_eq!(figures.as_array().unwrap().len(), 1, "{figures}");
    let f = &figures[0];
    assert_eq!((&f["department"], &f["month"]), (&json!("market"), &json!("2026-04")));
    assert_eq!(f["received"], list.len() as u64);
    assert_eq!(f["answered_on_time"], count(&|o| o["on_time"] == true));
    assert_eq!(f["answered_late"], count(&|o| o["on_time"] == false));
    assert_eq!(f["open_overdue"], count(&|o| o["status"] == "open" && o["due"].as_str().unwrap() < "2026-04-10"));
    assert_eq!((&f["upheld"], &f["rejected"], &f["open"]), (&json!(1), &json!(1), &json!(0)));
    assert_eq!(f["average_working_days"], 3.5, "3 and 4 working days");
    assert_eq!(f["by_ground"], json!({"信息错误": 1, "重复公示": 1, "超期公示": 1}));
    store.close().await;
    running.shutdown().await;
    if let Some((_, name)) = database {
        drop_postgres(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_answers_only_its_own_departments_objections_and_every_step_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let settings = Settings::load(&two_departments_config(root)).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let market = ingest_sample(&settings, &store, root, "market-penalties", SampleItem::Penalties, 5).await;
    assert_eq!(ingest_sample(&settings, &store, root, "tax-licences", SampleItem::Licences, 5).await, 5);
    let now = chrono::Utc::now();
    let add = async |name: &str, role: &str, department: Option<&str>| {
        auth::add_user(&store, &settings.departments, name, role, department, Some("口令-123"), now)
            .await
            .unwrap()
            .api_token
    };
    let (ops, admin) = (add("ops", "ops", None).await, add("admin", "admin", None).await);
    let (tax_clerk, market_clerk) =
        (add("tax-clerk", "department", Some("tax")).await, add("market-clerk", "department", Some("market")).await);
    let clock = at(FRIDAY);
    let web = Web::serve_with_clock(&settings, &store, clock.clone()).await;

    // Office staff register; a clerk may not.
    let case = json!({"record_id": 1, "ground": "信息错误", "applicant": "张三丰", "contact": "13812345678", "text": "名称有误"});
    let r = web.post_json("/api/v1/objections", &tax_clerk, &case).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = web
        .post_json("/api/v1/objections", &ops, &json!({"record_id": 999, "ground": "信息错误", "applicant": "x"}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("记录 999 不存在"));
    let r = web.post_json("/api/v1/objections", &ops, &json!({"record_id": 1, "ground": "?", "applicant": "x"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Control characters (NUL, which PostgreSQL refuses as text) are refused, never stored.
    for body in [
        json!({"record_id": 1, "ground": "信息错误", "applicant": "张\u{0}三"}),
        json!({"wsh": "淮\u{0}", "ground": "信息错误", "applicant": "张三"}),
    ] {
        let r = web.post_json("/api/v1/objections", &ops, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(r.text().await.unwrap().contains("控制字符"), "{body}");
    }
    let r = web.post_json("/api/v1/objections", &ops, &case).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        (&created["department"], &created["due"], &created["applicant"]),
        (&json!("market"), &json!("2026-04-09"), &json!("张**"))
    );
    let id = created["id"].as_i64().unwrap();
    assert!(market >= 1);

    // The admin sees the applicant; ops and clerks see it masked.
    assert_eq!(web.json(&format!("/api/v1/objections/{id}"), &admin).await["applicant"], "张三丰");
    assert_eq!(web.json(&format!("/api/v1/objections/{id}"), &market_clerk).await["contact"], "138****5678");

    // Another department's clerk: nothing to see, nothing to answer.
    assert_eq!(web.json("/api/v1/objections", &tax_clerk).await, json!([]));
    assert_eq!(web.get(&format!("/api/v1/objections/{id}"), Some(&tax_clerk)).await.status(), StatusCode::NOT_FOUND);
    let answer = json!({"upheld": true, "outcome": "correction", "text": "已更正名称"});
    let r = web.post_json(&format!("/api/v1/objections/{id}/answer"), &tax_clerk, &answer).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!web.text("/objections", &tax_clerk).await.contains(&format!("/objections/{id}\"")));

    // The record is marked while the objection is open, on its page and in the API.
    let page = web.text("/records/1", &ops).await;
    assert!(page.contains("异议处理中"), "{page}");
    assert_eq!(web.json("/api/v1/records/1", &market_clerk).await["under_objection"], true);

    // The own department's clerk answers; only office staff reply and close.
    assert_eq!(web.json("/api/v1/objections", &market_clerk).await.as_array().unwrap().len(), 1);
    let r = web.post_json(&format!("/api/v1/objections/{id}/reply"), &ops, &json!({"text": "太早"})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "a reply before the answer");
    let r = web.post_json(&format!("/api/v1/objections/{id}/answer"), &market_clerk, &answer).await;
    assert_eq!(r.status(), StatusCode::OK);
    let answered: Value = r.json().await.unwrap();
    assert_eq!((&answered["status"], &answered["on_time"]), (&json!("upheld"), &json!(true)));
    assert_eq!(web.json("/api/v1/records/1", &ops).await["under_objection"], false);
    let r = web.post_json(&format!("/api/v1/objections/{id}/reply"), &market_clerk, &json!({"text": "x"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = web.post_json(&format!("/api/v1/objections/{id}/reply"), &ops, &json!({"text": "已更正"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r =
        web.client.post(format!("{}/api/v1/objections/{id}/close", web.base)).bearer_auth(&ops).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = web.post_json(&format!("/api/v1/objections/{id}/answer"), &market_clerk, &answer).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "an answer to a closed objection");
    assert!(r.text().await.unwrap().contains("已办结"));

    // Every step is in the audit log, with who took it.
    let log = store.audit_log(200).await.unwrap();
    let target = format!("objection:{id}:record:1");
    let steps: Vec<(&str, &str)> =
        log.iter().rev().filter(|a| a.target == target).map(|a| (a.user_name.as_str(), a.action.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("ops", "objection:add"),
            ("market-clerk", "objection:upheld"),
            ("ops", "objection:reply"),
            ("ops", "objection:close")
        ]
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervision_list_changes_are_due_ten_working_days_after_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let (base, running) = sandbox(&probe).await;
    let dest = destination(&base, "http_json", "rate_per_second = 1000").replace(r#"["XK", "CF"]"#, r#"["JGSX"]"#);
    let config = config(root, &dest);
    let file = root.join("清单变更.csv");
    std::fs::write(
        &file,
        "事项编码,事项名称,实施部门,设定依据,变更类型,调整日期\n\
         340600-SC-001,食品生产经营监督检查,淮北市市场监督管理局,《中华人民共和国食品安全法》第一百一十条,新增,2026-09-18\n\
         340600-SC-002,特种设备安全监督检查,淮北市市场监督管理局,《中华人民共和国特种设备安全法》第五十七条,删除,2026年9月17日\n\
         340600-SC-003,广告监测,淮北市市场监督管理局,《中华人民共和国广告法》,合并,2026-09-17\n",
    )
    .unwrap();
    let out = gateway_with(
        &config,
        &[
            "ingest",
            "--connector",
            "market-supervision-items",
            "--json",
            "--now",
            "2026-09-18T18:00:00+08:00",
            file.to_str().unwrap(),
        ],
    );
    let v = ok_json(&out);
    assert_eq!((&v["accepted"], &v["rejected"]), (&json!(2), &json!(1)), "{v}");
    assert_eq!(v["errors"][0]["code"], "unknown_code");

    // 10 working days across the Mid-Autumn (09-25–09-27) and National Day (10-01–10-07)
    // holidays, with the make-up Sunday 09-20: 09-18 → 10-09, 09-17 → 10-08.
    let deadlines = |now: &str| {
        let out = gateway_with(&config, &["deadlines", "--item", "JGSX", "--json", "--now", now]);
        let v = ok_json(&out);
        let mut rows: Vec<(String, String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                (s("decision_date"), s("deadline"), s("status"))
            })
            .collect();
        rows.sort();
        rows
    };
    let d = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        deadlines("2026-10-08T12:00:00+08:00"),
        [d("2026-09-17", "2026-10-08", "due_soon"), d("2026-09-18", "2026-10-09", "due_soon")]
    );
    // Accepted by the platform on 10-09: one on time, one a day late.
    let pushed = gateway_with(&config, &["deliveries", "push", "provincial", "--now", "2026-10-09T15:00:00+08:00"]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let st = stats(&base).await;
    assert_eq!(st["platforms"]["provincial"]["JGSX"]["accepted"], 2, "{st} {}", stdout(&pushed));
    assert_eq!(
        deadlines("2026-10-12T09:00:00+08:00"),
        [d("2026-09-17", "2026-10-08", "reported_late"), d("2026-09-18", "2026-10-09", "reported_on_time")]
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upheld_overdue_publicity_objection_names_what_the_gateway_could_have_caught() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, &destination("http://127.0.0.1:9", "http_json", ""));
    let settings = Settings::load(&config).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let rows = ingest_penalties_at(&settings, &store, root, 3, "2026-04-01", at(FRIDAY)).await;
    store.close().await;
    // Found by the subject's registered name too (each record about it gets its case).
    let name = &rows[1][rows[0].iter().position(|h| h == "行政相对人名称").unwrap()];
    let by_subject = objections(
        &config,
        FRIDAY,
        &["add", "--subject", name, "--ground", "信息错误", "--applicant", "吴八", "--json"],
    );
    assert!(by_subject.status.success(), "{}", stderr(&by_subject));
    let cases: Vec<Value> = stdout(&by_subject).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(cases.iter().any(|c| c["record_id"] == 1), "{cases:?}");
    refused(
        &objections(
            &config,
            FRIDAY,
            &["add", "--subject", "没有这家公司", "--ground", "信息错误", "--applicant", "吴八"],
        ),
        "没有统一社会信用代码或名称为“没有这家公司”的主体的记录",
    );
    for c in &cases {
        let id = c["id"].to_string();
        ok_json(&objections(&config, FRIDAY, &["answer", &id, "--rejected", "--text", "原记录无误", "--json"]));
    }
    let shown = ok_json(&gateway_with(&config, &["publicity", "show", "1", "--json"]));
    let end: chrono::NaiveDate = shown["planned_end"].as_str().expect("a planned end").parse().unwrap();
    // Received the day after the period ended: 超期公示, upheld.
    let late = format!("{}T10:00:00+08:00", end + chrono::Days::new(1));
    let case = ok_json(&objections(
        &config,
        &late,
        &["add", "--record", "1", "--ground", "超期公示", "--applicant", "周七", "--json"],
    ));
    let id = case["id"].to_string();
    let before = ok_json(&objections(&config, &late, &["show", &id, "--json"]));
    assert_eq!(before["could_have_caught"], json!([]), "nothing is named before the department upholds it");
    let upheld = ok_json(&objections(
        &config,
        &late,
        &["answer", &id, "--upheld", "--outcome", "withdrawal", "--text", "公示期已满，撤下", "--json"],
    ));
    let causes = upheld["could_have_caught"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{upheld}");
    assert!(causes[0].as_str().unwrap().contains(&format!("记录 1 的公示期应于 {end} 届满")), "{upheld}");
    assert!(upheld["caught_by"].as_str().unwrap().contains("publicity audit"));
}
