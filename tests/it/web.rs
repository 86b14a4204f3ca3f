//! The dashboard and API over real HTTP on 127.0.0.1: login, roles, a department user
//! limited to its own department, metrics and health checks.

use std::path::Path;

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::{SampleFormat, SampleItem};
use credit_gateway::store::Store;
use credit_gateway::web::auth;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

/// The settings of a test: SQLite in `root`, or a fresh PostgreSQL database (its name returned
/// for dropping).
async fn settings_on(root: &Path, postgres: bool) -> (Settings, Option<String>) {
    let mut settings = Settings::load(&two_departments_config(root)).unwrap_or_else(|e| panic!("{e}"));
    if !postgres {
        return (settings, None);
    }
    let (url, name) = fresh_postgres().await;
    settings.gateway.database_url = url;
    (settings, Some(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_each_caller_sees_on_sqlite() {
    roles_decide_what_each_caller_sees(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_each_caller_sees_on_postgres() {
    roles_decide_what_each_caller_sees(true).await;
}

async fn roles_decide_what_each_caller_sees(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (settings, database) = settings_on(root, postgres).await;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let market = ingest_sample(&settings, &store, root, "market-penalties", SampleItem::Penalties, 50).await;
    let tax = ingest_sample(&settings, &store, root, "tax-licences", SampleItem::Licences, 30).await;
    assert!(market > 0 && tax > 0);
    let now = chrono::Utc::now();
    let add = |name: &'static str, role: &'static str, department: Option<&'static str>| {
        let (store, departments) = (store.clone(), settings.departments.clone());
        async move {
            auth::add_user(&store, &departments, name, role, department, Some("口令-123"), now).await.unwrap().api_token
        }
    };
    let ops = add("ops", "ops", None).await;
    let clerk = add("clerk", "department", Some("tax")).await;
    let _admin = add("admin", "admin", None).await;
    assert!(auth::add_user(&store, &settings.departments, "x", "department", None, None, now).await.is_err());

    let web = Web::serve(&settings, &store).await;

    // Health needs no login; everything else does.
    assert_eq!(web.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(web.get("/readyz", None).await.status(), StatusCode::OK);
    assert_eq!(web.get("/api/v1/overview", None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(web.get("/api/v1/overview", Some("not-a-token")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(web.get("/metrics", None).await.status(), StatusCode::UNAUTHORIZED);
    let page = web.get("/", None).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/login");

    // Ops see every department.
    let all = web.json("/api/v1/overview", &ops).await;
    assert_eq!(all["records"], market + tax);
    for key in ["overdue", "due_soon", "late", "returned", "dead_letters"] {
        assert!(all[key].is_i64(), "{key}: {all}");
    }
    assert!(all["overdue"].as_i64().unwrap() > 0, "2024 decisions never pushed are overdue: {all}");
    let departments = all["departments"].as_array().unwrap();
    let records_of = |o: &Value, id: &str| {
        o["departments"].as_array().unwrap().iter().find(|d| d["id"] == id).map(|d| d["records"].as_u64().unwrap())
    };
    assert_eq!(departments.len(), settings.departments.iter().count());
    assert_eq!(records_of(&all, "market"), Some(market));
    assert_eq!(records_of(&all, "tax"), Some(tax));
    assert!(departments.iter().all(|d| d["name"].is_string() && d.get("late_rate").is_some()));
    let connectors = all["connectors"].as_array().unwrap();
    assert!(connectors.iter().any(|c| c["name"] == "tax-licences" && c["status"] == "never"), "{connectors:?}");
    assert!(connectors.iter().all(|c| c.get("last_run").is_some()));

    // A department clerk sees its own department only, in the API and on the page.
    let own = web.json("/api/v1/overview", &clerk).await;
    assert_eq!(own["records"], tax);
    assert_eq!(records_of(&own, "market"), None);
    assert!(own["connectors"].as_array().unwrap().iter().all(|c| c["department"] == "tax"), "{own}");
    assert_eq!(web.get("/metrics", Some(&clerk)).await.status(), StatusCode::FORBIDDEN);
    let html = web.get("/", Some(&clerk)).await.text().await.unwrap();
    assert!(html.contains("税务局") && !html.contains("市场监督管理局"), "{html}");

    // Pages log in with a password and keep a session cookie.
    let form = [("name", "clerk"), ("password", "wrong")];
    let r = web.form("/login", &form).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("用户名或密码错误"));
    let form = [("name", "ops"), ("password", "口令-123")];
    let r = web.form("/login", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("cg_session="));
    let r = web.client.get(format!("{}/", web.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("总览")
            && html.contains("税务局")
            && html.contains("市场监督管理局")
            && html.contains("投递队列")
    );
    // A cookie-borne write says it comes from our own page, as a browser's Origin does.
    let r = web.client.post(format!("{}/logout", web.base)).header("cookie", &cookie).header("origin", &web.base);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = web.client.get(format!("{}/", web.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session ended with the logout");

    // Metrics for Prometheus, and the API's description.
    let metrics = web.get("/metrics", Some(&ops)).await.text().await.unwrap();
    assert!(metrics.contains(&format!("credit_gateway_records {}", market + tax)), "{metrics}");
    assert!(metrics.contains("credit_gateway_records_by_status{status=\"overdue\"}"));
    assert!(metrics.contains("credit_gateway_delivery_queue_depth"));
    let openapi = web.json("/api/v1/openapi.json", &ops).await;
    assert!(openapi["paths"]["/api/v1/overview"]["get"].is_object());

    // Who looked at what is kept.
    let audit = store.audit_log(100).await.unwrap();
    assert!(audit.iter().any(|a| a.user_name == "clerk" && a.target == "api:overview"));
    assert!(audit.iter().any(|a| a.user_name == "ops" && a.action == "login"));
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_view_filters_exports_and_keeps_departments_apart_on_sqlite() {
    each_view_filters_exports_and_keeps_departments_apart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_view_filters_exports_and_keeps_departments_apart_on_postgres() {
    each_view_filters_exports_and_keeps_departments_apart(true).await;
}

/// Every page and its API: deadlines filtered and exported (formulas neutralised), problems,
/// one record's lineage, connectors and deliveries, each held to what the caller may see.
async fn each_view_filters_exports_and_keeps_departments_apart(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (settings, database) = settings_on(root, postgres).await;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    // A market file with a decision number a spreadsheet would run as a formula, and bad rows.
    let file = root.join("penalties.csv");
    sample(&file, SampleItem::Penalties, 60, 0.2, SampleFormat::Csv);
    let text = std::fs::read_to_string(&file).unwrap();
    let number_at = text.find("处罚〔2024〕1号").unwrap();
    let field_at = text[..number_at].rfind(',').unwrap() + 1;
    let hostile = format!("{}={}", &text[..field_at], &text[field_at..]);
    std::fs::write(&file, hostile).unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
    let summary = ingest_file(&settings, &store, "market-penalties", &file, &opts).await.unwrap();
    assert!(summary.accepted > 0 && summary.rejected > 0, "{summary:?}");
    let tax = ingest_sample(&settings, &store, root, "tax-licences", SampleItem::Licences, 20).await;
    let now = chrono::Utc::now();
    let mut tokens = std::collections::HashMap::new();
    for (name, role, department) in
        [("ops", "ops", None), ("admin", "admin", None), ("clerk", "department", Some("tax"))]
    {
        let user = auth::add_user(&store, &settings.departments, name, role, department, Some("口令-123"), now);
        tokens.insert(name, user.await.unwrap().api_token);
    }
    let (ops, admin, clerk) = (&tokens["ops"], &tokens["admin"], &tokens["clerk"]);

    let web = Web::serve(&settings, &store).await;

    // 到期: filters by department and status; a clerk asking for another department gets its own.
    let all = web.json("/api/v1/deadlines?status=tracked&limit=500", ops).await;
    let all = all["rows"].as_array().unwrap();
    assert_eq!(all.len() as u64, summary.accepted + tax);
    let market = web.json("/api/v1/deadlines?department=market&status=overdue&limit=500", ops).await;
    let market = market["rows"].as_array().unwrap();
    assert!(!market.is_empty() && market.iter().all(|r| r["department"] == "market" && r["status"] == "overdue"));
    let asked = web.json("/api/v1/deadlines?department=market&status=tracked&limit=500", clerk).await;
    let asked = asked["rows"].as_array().unwrap();
    assert_eq!(asked.len() as u64, tax);
    assert!(asked.iter().all(|r| r["department"] == "tax"), "a clerk reads another department's deadlines");
    let html = web.get("/deadlines?department=market", Some(clerk)).await.text().await.unwrap();
    assert!(!html.contains("市监处罚"), "the page shows a clerk the market regulator's records");

    // Exported as CSV and XLSX, with the formula neutralised and the export audited.
    let r = web.get("/deadlines?department=market&status=tracked&format=csv", Some(ops)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let csv = r.text().await.unwrap();
    let csv = csv.trim_start_matches('\u{feff}');
    assert!(csv.starts_with("记录编号,部门,信息类别,主体名称,统一社会信用代码,业务主键"), "{csv}");
    assert_eq!(csv.lines().count() as u64, summary.accepted + 1);
    assert!(csv.contains(",'=") && csv.contains("处罚〔2024〕1号"), "the formula reaches the spreadsheet:\n{csv}");
    assert!(!csv.contains(",="), "the formula reaches the spreadsheet:\n{csv}");
    let r = web.get("/deadlines?format=xlsx", Some(ops)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"), "an XLSX is a zip file");
    let audit = store.audit_log(100).await.unwrap();
    assert!(
        audit.iter().any(|a| a.user_name == "ops" && a.action == "export" && a.target.contains("csv")),
        "{audit:?}"
    );

    // 问题数据: invalid rows with their reasons, only for the department they belong to.
    let problems = web.json("/api/v1/problems", ops).await;
    let invalid = problems["invalid"].as_array().unwrap();
    assert_eq!(invalid.len() as u64, summary.rejected);
    assert!(invalid.iter().all(|r| r["department"] == "market" && r["reason"].as_str().is_some_and(|s| !s.is_empty())));
    let own = web.json("/api/v1/problems", clerk).await;
    assert_eq!(own["invalid"].as_array().unwrap().len(), 0, "a clerk sees the market regulator's bad rows");
    let html = web.get("/problems", Some(ops)).await.text().await.unwrap();
    assert!(html.contains("校验未通过的数据行") && html.contains("penalties.csv"), "{html}");

    // 记录: lineage for those who may see it; another department's record is "not found".
    let market_id = market[0]["id"].as_i64().unwrap();
    let tax_id = asked[0]["id"].as_i64().unwrap();
    let lineage = web.json(&format!("/api/v1/records/{market_id}"), ops).await;
    assert_eq!(lineage["record"]["department"], "market");
    assert!(lineage["record"]["source"].as_str().is_some_and(|s| s.contains("penalties.csv")), "{lineage}");
    // Admins read personal ID numbers in full; ops only masked.
    let mut person_ids = Vec::new();
    for row in all.iter().filter(|r| r["department"] == "market") {
        let raw = web.json(&format!("/api/v1/records/{}", row["id"]), admin).await;
        let content: Value = serde_json::from_str(raw["record"]["content"].as_str().unwrap()).unwrap();
        let ids = content.as_object().unwrap().values().filter_map(Value::as_str);
        let ids: Vec<String> =
            ids.filter(|v| credit_gateway::ids::IdNumber::parse(v).is_ok()).map(str::to_string).collect();
        if !ids.is_empty() {
            person_ids.push((row["id"].as_i64().unwrap(), ids));
        }
    }
    assert!(!person_ids.is_empty(), "the sample has people with ID numbers");
    for (id, numbers) in &person_ids {
        let seen = web.get(&format!("/api/v1/records/{id}"), Some(ops)).await.text().await.unwrap();
        let page = web.get(&format!("/records/{id}"), Some(ops)).await.text().await.unwrap();
        for n in numbers {
            assert!(!seen.contains(n.as_str()) && !page.contains(n.as_str()), "ops see {n} unmasked");
        }
    }
    assert_eq!(web.get(&format!("/api/v1/records/{market_id}"), Some(clerk)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(web.get(&format!("/records/{market_id}"), Some(clerk)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(web.get(&format!("/api/v1/records/{tax_id}"), Some(clerk)).await.status(), StatusCode::OK);
    let html = web.get(&format!("/records/{market_id}"), Some(ops)).await.text().await.unwrap();
    assert!(html.contains("推送与回执") && html.contains("当前内容"), "{html}");

    // 连接器 for everyone (their own), 投递 for ops and admins; retries for admins only.
    let connectors = web.json("/api/v1/connectors", clerk).await;
    assert!(connectors["connectors"].as_array().unwrap().iter().all(|c| c["department"] == "tax"));
    assert_eq!(web.get("/api/v1/deliveries", Some(clerk)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(web.get("/deliveries", Some(clerk)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(web.get("/deliveries", Some(ops)).await.status(), StatusCode::OK);
    let retry = |token: &str| {
        web.client
            .post(format!("{}/deliveries/retry", web.base))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("dead=1")
            .send()
    };
    assert_eq!(retry(ops).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(retry(admin).await.unwrap().status(), StatusCode::SEE_OTHER);
    // 立即运行 needs an admin and a daemon running the connectors (none in this test).
    let run = |token: &str| {
        web.client
            .post(format!("{}/connectors/run", web.base))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=market-penalties")
            .send()
    };
    assert_eq!(run(ops).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(run(clerk).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(run(admin).await.unwrap().status(), StatusCode::CONFLICT);
    assert!(!web.get("/connectors", Some(admin)).await.text().await.unwrap().contains("立即运行"));

    // 部门: twelve months per department with a chart.
    let departments = web.json("/api/v1/departments", ops).await;
    assert!(departments.to_string().contains("market"), "{departments}");
    let html = web.get("/departments", Some(ops)).await.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("迟报率"), "{html}");

    // The OpenAPI description names every API route.
    let openapi = web.json("/api/v1/openapi.json", ops).await;
    for path in ["overview", "departments", "deadlines", "problems", "records/{id}", "connectors", "deliveries"] {
        assert!(openapi["paths"][format!("/api/v1/{path}")]["get"].is_object(), "{path} missing from OpenAPI");
    }
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}

/// Court and utilities records key on a person's ID number: ops and department users see it
/// masked wherever it is shown (business key, content, reasons, problems), admins
/// in full; a credit code stays readable for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_numbers_in_business_keys_are_masked_for_everyone_but_admins() {
    const ID: &str = "11010519491231002X";
    const MASKED: &str = "110105********002X";
    const FULL_WIDTH: &str = "４４０５２４１８８００１０１００１４";
    const CREDIT_CODE: &str = "91340600MA2PBM9HXD";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (settings, _) = settings_on(root, false).await;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    // Rows as the utilities' database hands them over: a person keyed on the ID number, a
    // company keyed on its credit code, and a bad row quoting an ID in its reason.
    let file = root.join("utility-arrears.csv");
    let rows = [
        "id,yhmc,shxydm,sfzhm,qflx,qfje,qfqsrq,tjrq,gydw,updated_at".to_string(),
        format!("1,张伟,,{ID},水费,88,2024-01-01,2024-03-31,淮北市供水有限公司,2024-04-01 08:00:00"),
        format!(
            "2,华鑫商贸有限公司,{CREDIT_CODE},,电费,56000,2024-01-01,2024-03-31,国网淮北供电公司,2024-04-01 08:00:00"
        ),
        format!("3,李娜,,440524188001010014,ID{ID},10,2024-01-01,2024-03-31,燃气公司,2024-04-01 08:00:00"),
        format!("4,王芳,,440524188001010014,{FULL_WIDTH},10,2024-01-01,2024-03-31,燃气公司,2024-04-01 08:00:00"),
    ];
    std::fs::write(&file, rows.join("\n") + "\n").unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
    let summary = ingest_file(&settings, &store, "utility-arrears", &file, &opts).await.unwrap();
    assert_eq!((summary.accepted, summary.rejected), (2, 2), "{summary:?}");
    let now = chrono::Utc::now();
    let mut tokens = std::collections::HashMap::new();
    for (name, role, department) in
        [("ops", "ops", None), ("admin", "admin", None), ("clerk", "department", Some("utilities"))]
    {
        let user = auth::add_user(&store, &settings.departments, name, role, department, Some("口令-123"), now);
        tokens.insert(name, user.await.unwrap().api_token);
    }
    let (ops, admin, clerk) = (&tokens["ops"], &tokens["admin"], &tokens["clerk"]);

    // The province returns the person's record, quoting the number in its reason.
    let claimed =
        store.claim_deliveries("provincial", "test", 10, now, std::time::Duration::from_secs(60)).await.unwrap();
    let person = claimed.iter().find(|c| c.business_key.contains(ID)).expect("the person's record is queued");
    let returned = credit_gateway::store::Outcome::Returned {
        rule: Some("1001".into()),
        reason: format!("身份证号 {ID} 与姓名不符"),
    };
    store.record_outcomes("provincial", false, &[(person, returned)], now, now).await.unwrap();
    let id = person.record_id;

    let web = Web::serve(&settings, &store).await;
    let views = [
        format!("/records/{id}"),
        format!("/api/v1/records/{id}"),
        "/problems".to_string(),
        "/api/v1/problems".to_string(),
    ];
    for view in &views {
        for (who, token) in [("ops", ops), ("clerk", clerk)] {
            let seen = web.text(view, token).await;
            assert!(seen.contains(MASKED), "{who} {view}: no masked number:\n{seen}");
            assert!(!seen.contains("19491231"), "{who} {view} shows the ID number:\n{seen}");
            assert!(!seen.contains("18800101") && !seen.contains("１８８００１０１"), "{who} {view}:\n{seen}");
        }
        let full = web.text(view, admin).await;
        assert!(full.contains(ID) && !full.contains(MASKED), "admin {view} sees it masked:\n{full}");
    }
    // The business key and the returned reason, in the record's JSON.
    let lineage: Value = serde_json::from_str(&web.text(&format!("/api/v1/records/{id}"), ops).await).unwrap();
    assert!(lineage["record"]["business_key"].as_str().unwrap().starts_with(MASKED), "{lineage}");
    assert_eq!(lineage["returns"][0]["reason"], format!("身份证号 {MASKED} 与姓名不符"));
    let problems: Value = serde_json::from_str(&web.text("/api/v1/problems", ops).await).unwrap();
    let invalid = problems["invalid"].as_array().unwrap();
    assert!(invalid.iter().any(|r| r["value"] == format!("ID{MASKED}")), "{problems}");
    assert!(invalid.iter().any(|r| r["value"] == "４４０５２４********００１４"), "{problems}");
    let page = web.text("/problems", ops).await;
    assert!(page.contains(&format!("{MASKED} / 水")), "the returned record's key on the problems page:\n{page}");
    // A credit code is no ID number: shown to ops as it is.
    let company = web.text("/api/v1/records/2", ops).await;
    assert!(company.contains(CREDIT_CODE), "{company}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publicity_page_api_card_and_record_block_on_sqlite() {
    publicity_views(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publicity_page_api_card_and_record_block_on_postgres() {
    publicity_views(true).await;
}

async fn publicity_views(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (settings, database) = settings_on(root, postgres).await;
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let market = ingest_sample(&settings, &store, root, "market-penalties", SampleItem::Penalties, 40).await;
    let now = chrono::Utc::now();
    let add = |name: &'static str, role: &'static str, department: Option<&'static str>| {
        let (store, departments) = (store.clone(), settings.departments.clone());
        async move {
            auth::add_user(&store, &departments, name, role, department, Some("口令-123"), now).await.unwrap().api_token
        }
    };
    let ops = add("ops", "ops", None).await;
    let clerk = add("clerk", "department", Some("tax")).await;
    let web = Web::serve(&settings, &store).await;

    let all = web.json("/api/v1/publicity", &ops).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len() as u64, market, "every penalty has a period");
    assert!(all.iter().all(|l| l["regime"] == "order58" && l["status"].is_string()), "{all:?}");
    let ended = web.json("/api/v1/publicity?status=ended", &ops).await;
    assert!(ended.as_array().unwrap().iter().all(|l| l["status"] == "ended"));
    assert_eq!(web.json("/api/v1/publicity", &clerk).await.as_array().unwrap().len(), 0, "another department's");
    let html = web.text("/publicity", &ops).await;
    assert!(html.contains("待撤下") && html.contains("30 日内到期") && html.contains("暂缓公示的轻微失信"), "{html}");
    let id = all[0]["id"].as_i64().unwrap();
    let record = web.text(&format!("/records/{id}"), &ops).await;
    assert!(record.contains("id=\"publicity\"") && record.contains("计划撤下"), "{record}");
    let overview = web.text("/", &ops).await;
    assert!(overview.contains("card-withdrawals") && overview.contains("待撤下公示"), "{overview}");
    let openapi = web.json("/api/v1/openapi.json", &ops).await;
    assert!(openapi["paths"]["/api/v1/publicity"]["get"].is_object());
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}
