//! The dashboard as a work tool, on a scripted day with the sandbox platform: records that
//! reached us in time but cannot be pushed (the platform answers 503), records the market
//! regulator handed over after their deadline, records the platform returned, and bad rows.
//! Overdue is split by cause and our outage is never charged to the department; every figure
//! on 总览 links to a list whose total is the figure; no page or export shows an English status
//! word, a UTC stamp, a field code or an unmasked ID number.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::delivery::worker::push_due;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::{SampleFormat, SampleItem, SampleSpec};
use credit_gateway::store::Store;
use credit_gateway::web::auth;
use serde_json::{Value, json};

use crate::delivery::{config, destination, sandbox};
use crate::support::*;

pub(crate) const PASSWORD: &str = "口令-123";

/// What the scripted day left behind, and what the figures must say.
pub(crate) struct Day {
    pub settings: Settings,
    pub store: Store,
    pub clock: Clock,
    pub sandbox: credit_gateway::sim::sandbox::platforms::RunningSandbox,
    /// Overdue because the department handed them over late.
    pub late_arrivals: i64,
    /// Overdue and returned by the platform.
    pub returned: i64,
    /// Overdue although they reached us in time (our push fails).
    pub ours: i64,
    /// A market record (with an open return) and an ingest run with bad rows.
    pub returned_record: i64,
    pub bad_run: i64,
    pub tokens: std::collections::HashMap<&'static str, String>,
}

/// One file of sample penalties: its seed, row count, share of bad rows and decision date.
struct Batch<'a> {
    seed: u64,
    rows: u64,
    bad: f64,
    first: &'a str,
}

async fn ingest(settings: &Settings, store: &Store, root: &Path, batch: Batch<'_>, clock: &Clock) -> u64 {
    let Batch { seed, rows, bad, first } = batch;
    let file = root.join(format!("处罚-{seed}.csv"));
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows,
        seed,
        bad_share: bad,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: first.parse().unwrap(),
        days: 1,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, &file).unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock: clock.clone(), source: None };
    ingest_file(settings, store, "market-penalties", &file, &opts).await.unwrap().accepted
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// The scripted day. Wednesday 2026-11-25 10:00 (Shanghai): 30 penalties decided the day
/// before arrive in time (deadline 2026-12-03); the platform returns 5 of them (rule 1001).
/// Monday 2026-12-07 10:00: the market regulator hands over 20 penalties decided on 2026-11-02
/// (long past their deadline), some rows bad; the provincial platform answers 503 to every push.
pub(crate) async fn scripted_day(root: &Path) -> Day {
    credit_gateway::connector::http::install_crypto_provider();
    let settings = Settings::load(&config(root, &destination("http://127.0.0.1:9", "http_json", ""))).unwrap();
    let (url, sandbox) = sandbox(&settings).await;
    let settings = Settings::load(&config(root, &destination(&url, "http_json", "max_attempts = 50"))).unwrap();
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let clock = Clock::fixed(at("2026-11-25T02:00:00Z"));
    let in_time = ingest(&settings, &store, root, Batch { seed: 11, rows: 30, bad: 0.0, first: "2026-11-24" }, &clock)
        .await as i64;
    // The province returns five of them: the subject library holds another name.
    let now = clock.now();
    let claimed =
        store.claim_deliveries("provincial", "test", 5, now, std::time::Duration::from_secs(60)).await.unwrap();
    let outcomes: Vec<_> = claimed
        .iter()
        .map(|c| {
            let reason = "未查询到主体或查询到的主体信息不匹配：主体名称与统一社会信用代码不匹配（主体库登记名称：淮相市登记名称有限公司）";
            (c, credit_gateway::store::Outcome::Returned { rule: Some("1001".into()), reason: reason.into() })
        })
        .collect();
    store.record_outcomes("provincial", true, &outcomes, now, now).await.unwrap();
    let returned_record = claimed[0].record_id;

    clock.set(at("2026-12-07T02:00:00Z"));
    let late_arrivals =
        ingest(&settings, &store, root, Batch { seed: 12, rows: 24, bad: 0.2, first: "2026-11-02" }, &clock).await
            as i64;
    let bad_run: i64 = {
        let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
        let id = sqlx::query_scalar("SELECT MAX(ingest_run_id) FROM row_problems").fetch_one(&pool).await.unwrap();
        pool.close().await;
        id
    };
    reqwest::Client::new()
        .post(format!("{url}/sandbox/faults"))
        .json(&json!({"platform": "provincial", "fault": "status", "status": 503, "count": 1000}))
        .send()
        .await
        .unwrap();
    push_due(&settings, &store, "provincial", &clock).await.unwrap();

    let mut tokens = std::collections::HashMap::new();
    for (name, role, department) in
        [("ops", "ops", None), ("admin", "admin", None), ("clerk", "department", Some("market"))]
    {
        let user = auth::add_user(&store, &settings.departments, name, role, department, Some(PASSWORD), clock.now());
        tokens.insert(name, user.await.unwrap().api_token);
    }
    Day {
        settings,
        store,
        clock,
        sandbox,
        late_arrivals,
        returned: 5,
        ours: in_time - 5,
        returned_record,
        bad_run,
        tokens,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_a_banner_and_never_charged_to_the_department() {
    let dir = tempfile::tempdir().unwrap();
    let day = scripted_day(dir.path()).await;
    let web = Web::serve_with_clock(&day.settings, &day.store, day.clock.clone()).await;
    let ops = &day.tokens["ops"];
    let o = web.json("/api/v1/overview", ops).await;
    let market = o["chase"].as_array().unwrap().iter().find(|c| c["id"] == "market").unwrap().clone();
    assert_eq!(market["overdue_department"], day.late_arrivals, "{market}");
    assert_eq!(market["overdue_returned"], day.returned, "{market}");
    assert_eq!(market["overdue_push"], day.ours, "{market}");
    assert_eq!(o["overdue"], day.late_arrivals + day.returned + day.ours, "{o}");
    // The department tables charge the department with its own overdue only.
    let line = o["departments"].as_array().unwrap().iter().find(|d| d["id"] == "market").unwrap().clone();
    assert_eq!(line["overdue"], day.late_arrivals + day.returned, "{line}");
    let trend = web.json("/api/v1/departments?department=market", ops).await;
    let months = trend.as_array().and_then(|a| a.first()).map_or(&Value::Null, |d| &d["months"]);
    let sum = |key: &str| months.as_array().unwrap().iter().map(|m| m[key].as_i64().unwrap()).sum::<i64>();
    assert_eq!((sum("overdue"), sum("overdue_push")), (day.late_arrivals + day.returned, day.ours), "{trend}");
    // Three working days of the demo's returns: 2026-11-25 + 5 working days = 2026-12-02, passed.
    assert_eq!(market["corrections_overdue"], day.returned, "{market}");
    assert_eq!(market["oldest_days_overdue"], 26, "2026-11-11 to 2026-12-07: {market}");
    let outage = &o["outages"][0];
    assert_eq!(outage["destination"], "provincial", "{o}");
    assert_eq!(outage["http_status"], 503);
    assert_eq!(outage["since_local"], "10:00");
    assert_eq!(outage["pending"], day.ours + day.late_arrivals, "{outage}");

    let page = web.text("/", ops).await;
    let banner =
        format!("省公共信用信息平台推送失败（HTTP 503），{} 条待推送，自 10:00 起", day.ours + day.late_arrivals);
    assert!(page.contains(&banner), "no banner {banner}:\n{page}");
    // A clerk sees the department's line, not the gateway's queue.
    let clerk = web.text("/", &day.tokens["clerk"]).await;
    assert!(clerk.contains("今日催办") && !clerk.contains("推送失败（HTTP"), "{clerk}");
    assert!(clerk.contains("clerk（部门：市场监督管理局）"), "the header names the clerk's department: {clerk}");

    // Once the platform answers again, the banner goes.
    reqwest::Client::new().post(format!("http://{}/sandbox/reset", day.sandbox.addr())).send().await.unwrap();
    day.clock.advance(TimeDelta::hours(2));
    push_due(&day.settings, &day.store, "provincial", &day.clock).await.unwrap();
    assert!(day.store.push_outages().await.unwrap().is_empty());
}

/// Every link on a page whose text is a number, with that number (cards: the `<b>` inside).
fn figure_links(html: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<a ") {
        rest = &rest[i..];
        let end = rest.find("</a>").unwrap_or(rest.len());
        let anchor = &rest[..end];
        rest = &rest[end.min(rest.len())..];
        let Some(h) = anchor.find("href=\"") else { continue };
        let href = &anchor[h + 6..];
        let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
        let text = visible(anchor);
        let text = text.trim_end();
        let number: String = text.chars().rev().take_while(|c| c.is_ascii_digit() || *c == ',').collect();
        let number: String = number.chars().rev().filter(char::is_ascii_digit).collect();
        if let Ok(n) = number.parse::<i64>()
            && !href.starts_with("/records/")
            && !href.starts_with("/publicity")
        {
            out.push((href, n));
        }
    }
    out
}

/// 部门's month tables link each count to its records; 补报 (back-filled history) is counted
/// apart from on time and late, in the figures and in the lists behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_month_cells_list_their_records_with_backfill_apart() {
    let dir = tempfile::tempdir().unwrap();
    let day = scripted_day(dir.path()).await;
    // Two of the late arrivals (decided 2026-11-02) are history the department handed over as 补报.
    let pool = sqlx::SqlitePool::connect(&day.settings.gateway.database_url).await.unwrap();
    sqlx::query(
        "UPDATE records SET backfill = 1 WHERE id IN \
         (SELECT id FROM records WHERE decision_date < '2026-11-24' ORDER BY id LIMIT 2)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    // The platform answers again: everything not returned is accepted today (2026-12-07).
    reqwest::Client::new().post(format!("http://{}/sandbox/reset", day.sandbox.addr())).send().await.unwrap();
    day.clock.advance(TimeDelta::hours(2));
    push_due(&day.settings, &day.store, "provincial", &day.clock).await.unwrap();
    let web = Web::serve_with_clock(&day.settings, &day.store, day.clock.clone()).await;

    let accepted = day.late_arrivals + day.ours;
    let cells = figure_links(&web.text("/departments?department=market", &day.tokens["ops"]).await);
    let cell = |status: &str| {
        let basis = format!("department=market&status={status}&reported_month=2026-12");
        cells.iter().find(|(h, _)| h.ends_with(&basis)).map(|(_, n)| *n)
    };
    assert_eq!(cell("backfilled"), Some(2), "{cells:?}");
    assert_eq!(cell("reported_late"), Some(accepted - 2), "{cells:?}");
    assert_eq!(cell("reported_on_time"), Some(0), "{cells:?}");
    let returned = cells.iter().find(|(h, _)| h == "/problems?department=market&decision_month=2026-11");
    assert_eq!(returned.map(|(_, n)| *n), Some(day.returned), "{cells:?}");
    for token in [&day.tokens["ops"], &day.tokens["clerk"]] {
        for (href, figure) in figure_links(&web.text("/departments", token).await) {
            let list = web.text(&href, token).await;
            assert_eq!(total(&list), Some(figure), "{href} says another total than the figure {figure}");
        }
    }
    let backfilled = web.json("/api/v1/deadlines?status=backfilled&reported_month=2026-12", &day.tokens["ops"]).await;
    assert_eq!(backfilled["total"], 2, "{backfilled}");
    let wrong = web.get("/api/v1/deadlines?decision_month=2026-13", Some(&day.tokens["ops"])).await;
    assert_eq!(wrong.status(), reqwest::StatusCode::BAD_REQUEST);
}

/// The true total a list page states (`共 <b class="total">N</b>`).
fn total(html: &str) -> Option<i64> {
    let at = html.find("class=\"total\">")? + "class=\"total\">".len();
    html[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_links_to_a_list_whose_total_is_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    let day = scripted_day(dir.path()).await;
    let web = Web::serve_with_clock(&day.settings, &day.store, day.clock.clone()).await;
    for who in ["ops", "clerk"] {
        let token = &day.tokens[who];
        let overview = web.text("/", token).await;
        let links = figure_links(&overview);
        assert!(links.len() >= 12, "{who}: too few figures link anywhere: {links:?}");
        // 部门: each month's counts by decision month and by reporting month.
        let months = figure_links(&web.text("/departments", token).await);
        assert!(
            months.iter().any(|(h, _)| h.contains("decision_month=2026-11") && h.contains("status=overdue")),
            "{who}: 部门's month cells link nowhere: {months:?}"
        );
        for (href, figure) in links.into_iter().chain(months) {
            let list = web.text(&href, token).await;
            assert_eq!(total(&list), Some(figure), "{who}: {href} says another total than the figure {figure}");
        }
    }
    // Paging: the overdue list in pages of 7 shows every record once, and the API agrees.
    let ops = &day.tokens["ops"];
    let all = day.late_arrivals + day.returned + day.ours;
    let mut seen = std::collections::HashSet::new();
    for offset in (0..all).step_by(7) {
        let page = web.json(&format!("/api/v1/deadlines?status=overdue&offset={offset}&limit=7"), ops).await;
        assert_eq!(page["total"], all);
        for r in page["rows"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_i64().unwrap()), "a record on two pages");
        }
    }
    assert_eq!(seen.len() as i64, all);
    // Sorting: by decision date either way; a column title sorts by it, then the other way.
    let web = &web;
    let dates = |order: &'static str| async move {
        let page = web.json(&format!("/api/v1/deadlines?status=all&sort={order}&limit=500"), ops).await;
        let rows = page["rows"].as_array().unwrap().clone();
        rows.iter().map(|r| r["decision_date"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (up, down) = (dates("decision_date").await, dates("-decision_date").await);
    assert!(up.windows(2).all(|w| w[0] <= w[1]) && up.first() < up.last(), "{up:?}");
    assert!(down.windows(2).all(|w| w[0] >= w[1]) && down.len() == up.len(), "{down:?}");
    let html = web.text("/deadlines?status=all&sort=decision_date", ops).await;
    assert!(html.contains("sort=-decision_date\">决定日期 ▲"), "{html}");
    let bad = web.get("/api/v1/deadlines?sort=size", Some(ops)).await;
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    // Search by a fragment of a subject's name finds its records.
    let first = web.json("/api/v1/deadlines?status=overdue&cause=department&limit=1", ops).await;
    let name = first["rows"][0]["subject_name"].as_str().unwrap().to_string();
    let fragment: String = name.chars().skip(1).take(3).collect();
    let found = web.json(&format!("/api/v1/deadlines?status=all&q={}", enc(&fragment)), ops).await;
    assert!(found["total"].as_i64() >= Some(1), "{fragment}: {found}");
    let rows = found["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["subject_name"] == name.as_str()), "{fragment} does not find {name}: {found}");
    // A credit code finds its subject's records only.
    if let Some(code) = first["rows"][0]["credit_code"].as_str() {
        let by_code = web.json(&format!("/api/v1/deadlines?status=all&q={code}"), ops).await;
        let rows = by_code["rows"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.iter().all(|r| r["credit_code"] == code), "{code}: {by_code}");
    }
    // A bad filter is answered in Chinese, not ignored.
    let r = web.get("/api/v1/deadlines?status=late", Some(ops)).await;
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("可选"));
    // 问题数据: one row per returned record, with advice, deadline and 已超期.
    let problems = web.json("/api/v1/problems", ops).await;
    assert_eq!(problems["returned_total"], day.returned);
    let first = &problems["returned"][0];
    assert!(first["advice"].as_str().unwrap().contains("与主体库名称“淮相市登记名称有限公司”不一致"), "{first}");
    assert_eq!(first["correct_by"], "2026-12-02");
    assert_eq!(first["correction_overdue"], true);
    assert!(!first["source_file"].as_str().unwrap().contains('/'), "{first}");
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The text a person reads on an HTML page: tags, styles and scripts removed, entities decoded.
pub(crate) fn visible(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix("<style").or_else(|| rest.strip_prefix("<script")) {
            rest = tail.find("</").map_or("", |e| &tail[e..]);
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            continue;
        }
        if rest.starts_with('<') {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            out.push(' ');
            continue;
        }
        let next = rest.find('<').unwrap_or(rest.len());
        out.push_str(&rest[..next]);
        rest = &rest[next..];
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// What a person must never read: an English status word, a UTC stamp, a field code, an
/// unmasked ID number (`masked`: for everyone but admins).
pub(crate) fn lint(what: &str, text: &str, masked: bool) -> Vec<String> {
    const WORDS: &[&str] = &[
        "pending",
        "in_flight",
        "accepted",
        "returned",
        "dead",
        "superseded",
        "add",
        "update",
        "withdraw",
        "delete",
        "ok",
        "idle",
        "never",
        "disabled",
        "done",
        "failed",
        "running",
        "interrupted",
        "overdue",
        "due_soon",
        "reported_late",
        "reported_on_time",
        "untracked",
        "national",
        "provincial",
        "error",
        "Unavailable",
        "injected",
    ];
    let mut found = Vec::new();
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    for w in words {
        if WORDS.contains(&w) {
            found.push(format!("{what}: English status word {w:?}"));
        }
        let code = w.contains('_')
            && w.split('_').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
            && w.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if code {
            found.push(format!("{what}: field code {w:?}"));
        }
    }
    let bytes = text.as_bytes();
    for i in 0..bytes.len().saturating_sub(16) {
        let stamp = bytes[i..i + 16].iter().enumerate().all(|(j, b)| match j {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 => *b == b':',
            _ => b.is_ascii_digit(),
        });
        if stamp {
            found.push(format!("{what}: UTC stamp {:?}", &text[i..i + 16]));
        }
    }
    if masked && credit_gateway::ids::mask_ids_in_text(text) != text {
        found.push(format!("{what}: an unmasked ID number"));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_or_export_shows_english_status_words_utc_field_codes_or_id_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let day = scripted_day(dir.path()).await;
    let web = Web::serve_with_clock(&day.settings, &day.store, day.clock.clone()).await;
    let record = day.returned_record;
    // The returned record's subject: its search, credit file and printable report.
    day.store.link_subjects(&day.settings.catalogue).await.unwrap();
    let problems: serde_json::Value = web.get("/api/v1/problems", Some(&day.tokens["ops"])).await.json().await.unwrap();
    let code =
        problems["returned"][0]["credit_code"].as_str().expect("the returned record names its subject").to_string();
    let pages = [
        format!("/subjects?q={code}"),
        format!("/subjects/{code}"),
        format!("/subjects/{code}/report"),
        "/".to_string(),
        "/departments".into(),
        "/deadlines".into(),
        "/deadlines?status=all".into(),
        "/deadlines?status=overdue&cause=push".into(),
        "/problems".into(),
        "/problems?view=invalid".into(),
        format!("/records/{record}"),
        "/connectors".into(),
        "/deliveries".into(),
        "/deliveries?status=returned".into(),
        "/publicity".into(),
        "/objections".into(),
    ];
    let mut found = Vec::new();
    for who in ["ops", "clerk", "admin"] {
        let token = &day.tokens[who];
        for path in &pages {
            let r = web.get(path, Some(token)).await;
            if who == "clerk" && path.starts_with("/deliveries") {
                assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
                continue;
            }
            assert_eq!(r.status(), reqwest::StatusCode::OK, "{who} {path}");
            let html = r.text().await.unwrap();
            found.extend(lint(&format!("{who} {path}"), &visible(&html), who != "admin"));
        }
        for export in ["/deadlines?status=all&format=csv", &format!("/problems/report/{}", day.bad_run)] {
            let text = web.text(export, token).await;
            found.extend(lint(&format!("{who} {export}"), &text, who != "admin"));
        }
        let xlsx = web.get("/deadlines?status=all&format=xlsx", Some(token)).await.bytes().await.unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.to_vec())).unwrap();
        let mut text = String::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            if f.name().contains("sheet") || f.name().contains("sharedStrings") {
                let _ = std::io::Read::read_to_string(&mut f, &mut text);
            }
        }
        found.extend(lint(&format!("{who} xlsx"), &visible(&text), who != "admin"));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_refused_a_page_reads_why_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let day = scripted_day(dir.path()).await;
    let web = Web::serve_with_clock(&day.settings, &day.store, day.clock.clone()).await;
    let clerk = &day.tokens["clerk"];
    let page = web
        .client
        .get(format!("{}/deliveries", web.base))
        .bearer_auth(clerk)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::FORBIDDEN);
    let text = page.text().await.unwrap();
    assert!(text.contains("无权访问") && text.contains("<html"), "{text}");
    let api = web.get("/api/v1/deliveries", Some(clerk)).await;
    assert_eq!(api.status(), reqwest::StatusCode::FORBIDDEN);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
}

#[test]
fn the_lint_finds_what_it_looks_for() {
    assert_eq!(lint("t", "状态 pending", true).len(), 1);
    assert_eq!(lint("t", "2026-12-03T07:48:00Z", true).len(), 1);
    assert_eq!(lint("t", "字段 CF_NR_FK 错误", true).len(), 1);
    assert_eq!(lint("t", "身份证号 11010519491231002X", true).len(), 1);
    assert!(
        lint("t", "身份证号 110105********002X 待推送 2026-12-03 15:48 罚款金额（万元） 91340600MA2PBM9HXD", true)
            .is_empty()
    );
    assert_eq!(visible("<p class=\"x\">a &amp; b</p><style>p{}</style>c"), " a & b c");
}

/// The command line on the scripted day's database: arguments checked in Chinese with the
/// valid values, a header and 还有 N 条, a quiet end on a broken pipe, and a database that does
/// not exist named instead of made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_checks_its_arguments_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let day = scripted_day(root).await;
    day.store.close().await;
    let config = root.join("config/gateway.toml");
    let run = |args: &[&str]| gateway_with(&config, &[&["--now", "2026-12-07T10:00:00+08:00"], args].concat());

    let out = run(&["report", "--month", "2026-13"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("月份“2026-13”无效"), "{}", stderr(&out));
    let out = run(&["report", "--department", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("没有部门“nope”，可选：") && stderr(&out).contains("market（市场监督管理局）"),
        "{}",
        stderr(&out)
    );
    let out = run(&["report", "--department", "市场监督管理局", "--month", "2026-11"]);
    assert!(out.status.success(), "a department's name is taken for its id: {}", stderr(&out));
    let out = run(&["deadlines", "--status", "late"]);
    assert!(!out.status.success() && stderr(&out).contains("可选"), "{}", stderr(&out));

    // A header, the rows asked for, and how many more there are.
    let out = run(&["deadlines", "--status", "overdue", "--limit", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("状态\t逾期原因\t部门"), "{text}");
    assert_eq!(text.lines().count(), 11, "{text}");
    let all = day.late_arrivals + day.returned + day.ours;
    assert!(stderr(&out).contains(&format!("还有 {} 条未显示", all - 10)), "{}", stderr(&out));
    let out = run(&["deadlines", "--status", "overdue", "--cause", "push", "--limit", "100"]);
    assert_eq!(stdout(&out).lines().count() as i64, day.ours + 1);

    // `… | head -1`: the pipe closes after one line (the output is far larger than the pipe's
    // buffer, so the command writes into a closed pipe) and the command ends without a panic.
    let dates = vec!["2026-02-28"; 20_000];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .args(["--config", config.to_str().unwrap(), "calendar", "is-workday"])
        .args(&dates)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("2026-02-28"), "{first}");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(out.status.success(), "a broken pipe is a quiet end: {:?}", out.status);

    // A configuration naming a database that does not exist: said, not made.
    let gateway = std::fs::read_to_string(&config).unwrap();
    let elsewhere = root.join("elsewhere.toml");
    let missing = root.join("missing.db");
    let db_line = gateway.lines().find(|l| l.contains("sqlite://")).unwrap();
    let url = db_line.split('"').nth(1).unwrap();
    std::fs::write(&elsewhere, gateway.replace(url, &format!("sqlite://{}", missing.display()))).unwrap();
    std::fs::copy(&elsewhere, root.join("config/elsewhere.toml")).unwrap();
    for args in [&["report"][..], &["connectors", "--json"], &["connectors"], &["feeds"], &["feeds", "missing"]] {
        let out = gateway_with(&root.join("config/elsewhere.toml"), args);
        assert!(!out.status.success(), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains("不存在") && stderr(&out).contains("--config"), "{args:?}: {}", stderr(&out));
        assert!(!missing.exists(), "{args:?}: an empty database was made");
    }

    // check-config: a mapping that does not parse is one mistake, not two.
    let mapping = root.join("mappings/market-penalties.toml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(&mapping, text.replacen("version = 1", "version = 1\nnonsense = [", 1)).unwrap();
    let out = gateway_with(&config, &["check-config"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("market-penalties.toml"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("no mapping file"), "a follow-on error: {}", stderr(&out));
}

/// 漏报's three parts on 部门 (never received, refused and never corrected, returned and never
/// accepted) each link to the list behind them, whose total is the figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_parts_link_to_the_decisions_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let day = scripted_day(dir.path()).await;
    // The market regulator's ledger declares more November penalties than reached the gateway.
    let ledger = vec![credit_gateway::store::LedgerEntry {
        department: "market".into(),
        item: "CF".into(),
        month: "2026-11".into(),
        declared: 100,
    }];
    day.store.import_ledger(&ledger, "台账.csv", day.clock.now()).await.unwrap();
    let web = Web::serve_with_clock(&day.settings, &day.store, day.clock.clone()).await;
    for who in ["ops", "clerk"] {
        let token = &day.tokens[who];
        let cells = figure_links(&web.text("/departments?department=market", token).await);
        let mut parts = Vec::new();
        for part in ["never_received", "rejected", "returned"] {
            let href = format!("/missing?part={part}&department=market&decision_month=2026-11");
            let figure = cells.iter().find(|(h, _)| *h == href).map(|(_, n)| *n);
            assert!(figure.is_some_and(|n| n > 0), "{who}: {part} links nowhere or counts nothing: {cells:?}");
            let list = web.text(&href, token).await;
            assert_eq!(total(&list), figure, "{who}: {href} says another total than the figure");
            parts.push(figure.unwrap());
        }
        assert_eq!(parts[2], day.returned, "{who}: returned and never accepted");
        let received = day.late_arrivals + day.ours + day.returned;
        assert_eq!(parts[0], 100 - received - parts[1], "{who}: declared, less the records and the refused decisions");
    }
    let wrong = web.get("/missing?part=lost&department=market", Some(&day.tokens["ops"])).await;
    assert_eq!(wrong.status(), reqwest::StatusCode::BAD_REQUEST);
}
