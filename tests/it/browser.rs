//! The dashboard in a real headless Chromium, driven over WebDriver (chromedriver, W3C JSON
//! protocol spoken with reqwest): log in through the form, open every page, read the text the
//! browser shows, save screenshots to `target/screenshots/`, and check a department user does
//! not see the other department.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them the test fails, it does not skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use credit_gateway::config::Settings;
use credit_gateway::sim::sample::SampleItem;
use credit_gateway::store::Store;
use credit_gateway::web::{AppState, auth};
use serde_json::{Value, json};

use crate::support::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "口令-123";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A dashboard page: its screenshot name, its path (`{record}` becomes a market record's id)
/// and text the browser must show on it when ops look.
struct Page {
    name: &'static str,
    path: &'static str,
    shows: &'static [&'static str],
}

/// Every page of the dashboard; add new ones here.
const PAGES: &[Page] = &[
    Page {
        name: "overview",
        path: "/",
        shows: &["总览", "记录总数", "已逾期", "税务局", "市场监督管理局", "投递队列"],
    },
    Page {
        name: "departments",
        path: "/departments",
        shows: &["部门", "迟报率", "合规率", "税务局", "市场监督管理局"],
    },
    Page {
        name: "deadlines", path: "/deadlines", shows: &["到期", "截止日期", "已逾期", "导出 CSV", "导出 Excel"]
    },
    Page {
        name: "problems", path: "/problems", shows: &["问题数据", "平台退回、待部门补正", "校验未通过的数据行"]
    },
    Page {
        name: "record", path: "/records/{record}", shows: &["记录", "当前内容", "推送与回执", "市场监督管理局"]
    },
    Page { name: "connectors", path: "/connectors", shows: &["连接器", "market-penalties", "最近导入"] },
    Page { name: "deliveries", path: "/deliveries", shows: &["投递", "待处理投递"] },
    Page {
        name: "publicity", path: "/publicity", shows: &["公示期", "待撤下", "30 日内到期", "暂缓公示的轻微失信"]
    },
    Page {
        name: "objections", path: "/objections", shows: &["异议", "登记异议", "异议处理情况", "登记并分送部门"]
    },
    Page {
        name: "grading",
        path: "/grading",
        shows: &["分级分类", "尚无评定结果", "credit-gateway grade", "信用承诺占企业总量比例"],
    },
];

/// chromedriver, killed when dropped (it ends its browsers with their sessions).
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser test needs Chromium and its WebDriver; install them with \
                 `apt-get install -y --no-install-recommends chromium chromium-driver` (package {package}), \
                 as .ci/run does"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        credit_gateway::connector::http::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let driver = Driver { child, base: format!("http://127.0.0.1:{port}"), http };
        let started = Instant::now();
        loop {
            if let Ok(r) = driver.http.get(format!("{}/status", driver.base)).send().await
                && let Ok(status) = r.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return driver;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "{CHROMEDRIVER} did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless browser with its own profile in `profile`.
    async fn session(&self, profile: &Path) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            // Finding an element waits for it: right after a submit the next page may not have
            // its body yet (the login refusal was read too early once under load).
            "timeouts": {"implicit": 5000},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "prefs": {"download.default_directory": profile.join("downloads").display().to_string(),
                          "download.prompt_for_download": false},
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--lang=zh-CN", "--no-first-run",
                         format!("--user-data-dir={}", profile.display())],
            },
        }}});
        let r = self.http.post(format!("{}/session", self.base)).json(&caps).send().await.unwrap();
        let answer: Value = r.json().await.unwrap();
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver opened no browser: {answer}"))
            .to_string();
        Browser { base: format!("{}/session/{id}", self.base), http: self.http.clone() }
    }
}

/// One WebDriver session: a browser window.
#[derive(Clone)]
struct Browser {
    base: String,
    http: reqwest::Client,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.try_call(method.clone(), path, body).await;
        assert!(status.is_success(), "WebDriver {method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    /// The WebDriver's status and whole answer, whatever the status.
    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (reqwest::StatusCode, Value) {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = r.status();
        let answer: Value = r.json().await.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        (status, answer)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }

    async fn find(&self, css: &str) -> String {
        let e = self.post("/element", json!({"using": "css selector", "value": css})).await;
        e[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {e}")).to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/clear"), json!({})).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text })).await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    /// Clicks what submits a form, then waits until the next page has loaded (the old one is
    /// marked first, so a redirect back to the same address is noticed too).
    async fn submit(&self, css: &str) {
        self.leave(css).await;
    }

    /// Goes back in the history (WebDriver waits for the earlier page to load; it may come
    /// from the back-forward cache with its scripts' state, so no mark is set for it).
    async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    /// Clicks `css`, then waits until the next page has loaded.
    async fn leave(&self, css: &str) {
        let script = |s: &str| json!({"script": s, "args": []});
        self.post("/execute/sync", script("window.__leaving = true; return true;")).await;
        self.click(css).await;
        for _ in 0..200 {
            let (status, answer) = self
                .try_call(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(script("return !window.__leaving && document.readyState === 'complete';")),
                )
                .await;
            if status.is_success() && answer["value"] == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no new page after submitting {css}");
    }

    /// The text the browser renders on the page (hidden elements excluded).
    /// After a click the page may be replaced between finding its body and reading it (a stale
    /// element): the new page's body is found and read again.
    async fn visible_text(&self) -> String {
        for _ in 0..20 {
            let body = self.find("body").await;
            let path = format!("/element/{body}/text");
            let (status, answer) = self.try_call(reqwest::Method::GET, &path, None).await;
            if status.is_success() {
                return answer["value"].as_str().unwrap().to_string();
            }
            assert_eq!(answer["value"]["error"], "stale element reference", "WebDriver GET {path}: {status} {answer}");
        }
        panic!("the page kept being replaced while its text was read");
    }

    /// The rendered text of the first element matching `css`.
    async fn visible_text_of(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.get(&format!("/element/{e}/text")).await.as_str().unwrap().to_string()
    }

    async fn title(&self) -> String {
        self.get("/title").await.as_str().unwrap().to_string()
    }

    /// Waits until the address bar shows `path` on `base`.
    async fn wait_for_path(&self, base: &str, path: &str) {
        let started = Instant::now();
        loop {
            let url = self.url().await;
            if url.strip_prefix(base) == Some(path) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "still at {url}, expected {base}{path}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Logs in through the form, as a person would.
    async fn log_in(&self, base: &str, name: &str) {
        self.open(&format!("{base}/login")).await;
        self.type_into("input[name=name]", name).await;
        self.type_into("input[name=password]", PASSWORD).await;
        self.click("form.login button[type=submit]").await;
        self.wait_for_path(base, "/").await;
    }

    async fn log_out(&self, base: &str) {
        self.click("form[action=\"/logout\"] button[type=submit]").await;
        self.wait_for_path(base, "/login").await;
    }

    async fn screenshot(&self, file: &Path) {
        let png = self.get("/screenshot").await;
        let bytes = base64_decode(png.as_str().unwrap());
        assert!(bytes.starts_with(b"\x89PNG"), "the screenshot of {} is no PNG", file.display());
        std::fs::write(file, bytes).unwrap();
    }

    async fn close(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// Standard base64 (the screenshots), padding allowed.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            n |= u32::from(*d) << (18 - 6 * i);
        }
        out.extend(n.to_be_bytes()[1..chunk.len()].iter());
    }
    out
}

fn screenshots() -> PathBuf {
    let dir = repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let started = Instant::now();
    let driver = Driver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let settings = Settings::load(&two_departments_config(root)).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let market = ingest_sample(&settings, &store, root, "market-penalties", SampleItem::Penalties, 40).await;
    let tax = ingest_sample(&settings, &store, root, "tax-licences", SampleItem::Licences, 25).await;
    assert!(market > 0 && tax > 0);
    let now = chrono::Utc::now();
    for (name, role, department) in [("ops", "ops", None), ("clerk", "department", Some("tax"))] {
        auth::add_user(&store, &settings.departments, name, role, department, Some(PASSWORD), now).await.unwrap();
    }
    let (record, tax_record): (i64, i64) = {
        let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
        let first = async |department: &str| {
            let sql = "SELECT MIN(id) FROM records WHERE department = $1";
            sqlx::query_scalar(sql).bind(department).fetch_one(&pool).await.unwrap()
        };
        let ids = (first("market").await, first("tax").await);
        pool.close().await;
        ids
    };
    // A market subject with a credit code, for the credit file (信用档案); the daemon would link
    // the records to their subjects within seconds, here it is done once by hand.
    store.link_subjects(&settings.catalogue).await.unwrap();
    let subject: (String, String) = {
        let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
        let sql = "SELECT s.subject_code, a.name FROM subject_records s JOIN records r ON r.id = s.record_id \
                   JOIN subject_aliases a ON a.subject_code = s.subject_code WHERE r.department = 'market' \
                   ORDER BY s.subject_code LIMIT 1";
        let row = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        row
    };

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_cal_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
    let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar);
    let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse().unwrap(), state, stop).await.unwrap();
    let server = tokio::spawn(serve);
    let base = format!("http://{addr}");

    let browser = driver.session(&root.join("profile")).await;
    // The checks run in a task of their own, so the browser is closed whichever way they end.
    let checks = {
        let (browser, base) = (browser.clone(), base.clone());
        let downloads = root.join("profile/downloads");
        tokio::spawn(async move { browse(&browser, &base, record, tax_record, &subject, downloads).await })
    };
    let outcome = checks.await;
    browser.close().await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    store.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    assert!(started.elapsed() < Duration::from_secs(60), "the browser test took {:?}", started.elapsed());
}

async fn browse(
    browser: &Browser,
    base: &str,
    record: i64,
    tax_record: i64,
    subject: &(String, String),
    downloads: PathBuf,
) {
    let shots = screenshots();

    // Without a session every page leads to the login form.
    browser.open(&format!("{base}/")).await;
    browser.wait_for_path(base, "/login").await;
    let text = browser.visible_text().await;
    assert!(text.contains("登录") && text.contains("用户名") && text.contains("密码"), "{text}");
    browser.screenshot(&shots.join("login.png")).await;

    // A wrong password is refused with a message in Chinese.
    browser.type_into("input[name=name]", "ops").await;
    browser.type_into("input[name=password]", "wrong").await;
    // Waits for the answer's page: read at once, the text could still be the form's.
    browser.submit("form.login button[type=submit]").await;
    let text = browser.visible_text().await;
    assert!(text.contains("用户名或密码错误"), "{text}");
    browser.screenshot(&shots.join("login-refused.png")).await;

    // Ops see every page and both departments.
    browser.log_in(base, "ops").await;
    for page in PAGES {
        let path = page.path.replace("{record}", &record.to_string());
        browser.open(&format!("{base}{path}")).await;
        assert_eq!(browser.url().await, format!("{base}{path}"), "{}: sent elsewhere", page.name);
        let title = browser.title().await;
        assert!(title.contains("信用信息网关"), "{}: title {title:?}", page.name);
        let text = browser.visible_text().await;
        for shows in page.shows {
            assert!(text.contains(shows), "{} ({path}) does not show {shows:?}:\n{text}", page.name);
        }
        assert!(text.contains("ops（运维）"), "{}: who is logged in is not shown:\n{text}", page.name);
        browser.screenshot(&shots.join(format!("{}.png", page.name))).await;
    }

    // 到期: filter by department and status, then export what the filter shows.
    browser.open(&format!("{base}/deadlines")).await;
    browser.click("select[name=department] option[value=market]").await;
    browser.click("select[name=status] option[value=overdue]").await;
    browser.click("#filter button[type=submit]:not([name])").await;
    browser.wait_for_path(base, "/deadlines?q=&department=market&item=&status=overdue&cause=").await;
    let rows = browser.visible_text_of("#deadline-list").await;
    assert!(rows.contains("已逾期") && !rows.contains("已按时上报"), "{rows}");
    assert!(!rows.contains("税务局"), "the filter let the tax office's records through:\n{rows}");
    browser.screenshot(&shots.join("deadlines-filtered.png")).await;
    browser.click("#filter button[value=csv]").await;
    let csv = downloaded(&downloads, ".csv").await;
    let text = String::from_utf8(std::fs::read(&csv).unwrap()).unwrap();
    assert!(text.trim_start_matches('\u{feff}').starts_with("记录编号,部门"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.contains(",市场监督管理局,") && l.contains(",已逾期,")), "{text}");
    browser.click("#filter button[value=xlsx]").await;
    let xlsx = downloaded(&downloads, ".xlsx").await;
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));

    // 异议: ops register one against each department's record through the form.
    for (id, applicant) in [(record, "张三丰"), (tax_record, "李四")] {
        browser.open(&format!("{base}/objections")).await;
        browser.type_into("#register input[name=record_id]", &id.to_string()).await;
        browser.type_into("#register input[name=applicant]", applicant).await;
        browser.type_into("#register textarea[name=text]", "公示信息有误").await;
        browser.submit("#register button[type=submit]").await;
        let text = browser.visible_text().await;
        assert!(text.contains("待部门答复") && text.contains("答复期限"), "{text}");
        let masked = format!("申请人 {}*", applicant.chars().next().unwrap());
        assert!(text.contains(&masked) && !text.contains(applicant), "the applicant is masked for ops:\n{text}");
    }
    browser.screenshot(&shots.join("objection.png")).await;
    browser.open(&format!("{base}/records/{record}")).await;
    assert!(browser.visible_text().await.contains("异议处理中"));

    // 信用档案: the header's search box, the subject's name → its file → one of its records →
    // back to the file.
    let (code, name) = subject;
    let fragment = name.clone();
    browser.open(&format!("{base}/")).await;
    browser.type_into("header form.search input[name=q]", &fragment).await;
    browser.submit("header form.search button[type=submit]").await;
    let text = browser.visible_text().await;
    assert!(text.contains("信用档案查询") && text.contains(code.as_str()), "{fragment}: {text}");
    browser.screenshot(&shots.join("subject-search.png")).await;
    browser.submit(&format!("#hits a[href='/subjects/{code}']")).await;
    browser.wait_for_path(base, &format!("/subjects/{code}")).await;
    let text = browser.visible_text().await;
    assert!(text.contains("信用档案") && text.contains("主体信息") && text.contains("信用记录"), "{text}");
    assert!(text.contains("行政处罚信息") && text.contains(name.as_str()), "{text}");
    browser.screenshot(&shots.join("subject-file.png")).await;
    browser.submit("table.records a[href^='/records/']").await;
    let text = browser.visible_text().await;
    assert!(text.contains("当前内容") && text.contains(code.as_str()), "{text}");
    browser.screenshot(&shots.join("subject-record.png")).await;
    browser.back().await;
    browser.wait_for_path(base, &format!("/subjects/{code}")).await;
    assert!(browser.visible_text().await.contains("信用记录"));
    browser.screenshot(&shots.join("subject-back.png")).await;

    browser.log_out(base).await;
    browser.open(&format!("{base}/")).await;
    browser.wait_for_path(base, "/login").await;

    // A tax clerk sees the tax department and not the market regulator.
    browser.log_in(base, "clerk").await;
    let text = browser.visible_text().await;
    assert!(text.contains("总览") && text.contains("税务局"), "{text}");
    assert!(!text.contains("市场监督管理局"), "a tax clerk sees the market regulator:\n{text}");
    assert!(!text.contains("投递队列"), "a department user sees the shared delivery queue:\n{text}");
    browser.screenshot(&shots.join("overview-department.png")).await;
    // Nor the market regulator's record, its deadlines or the delivery queue.
    browser.open(&format!("{base}/records/{record}")).await;
    let text = browser.visible_text().await;
    assert!(text.contains("记录不存在或无权查看") && !text.contains("当前内容"), "{text}");
    browser.open(&format!("{base}/deadlines?department=market")).await;
    let rows = browser.visible_text_of("#deadline-list").await;
    assert!(!rows.contains("市场监督管理局") && rows.contains("税务局"), "{rows}");
    browser.open(&format!("{base}/deliveries")).await;
    let text = browser.visible_text().await;
    assert!(!text.contains("待处理投递"), "{text}");
    browser.screenshot(&shots.join("deliveries-department.png")).await;
    // Its own objection only, which it answers; it registers none.
    browser.open(&format!("{base}/objections")).await;
    let text = browser.visible_text().await;
    assert!(text.contains("税务局") && !text.contains("市场监督管理局") && !text.contains("登记异议"), "{text}");
    browser.click("#objections a[href^='/objections/']").await;
    browser.click("#answer input[value=rejected]").await;
    browser.type_into("#answer textarea[name=text]", "原记录与许可决定书一致").await;
    browser.submit("#answer button[type=submit]").await;
    let text = browser.visible_text().await;
    assert!(text.contains("异议不成立") && text.contains("按时答复"), "{text}");
    browser.screenshot(&shots.join("objection-department.png")).await;
    browser.open(&format!("{base}/")).await;
    browser.log_out(base).await;
}

/// Waits for a finished download ending in `ext` in `dir` (Chromium writes `.crdownload` first).
async fn downloaded(dir: &Path, ext: &str) -> PathBuf {
    let started = Instant::now();
    loop {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.ends_with(ext) && e.metadata().is_ok_and(|m| m.len() > 0) {
                    return e.path();
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(15), "no {ext} download in {}", dir.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode(""), b"");
}

/// Pages of the scripted day, screenshotted at both widths (`{record}`: a returned record).
const WORK_PAGES: &[(&str, &str)] = &[
    ("work-overview", "/"),
    ("work-departments", "/departments"),
    ("work-deadlines", "/deadlines"),
    ("work-deadlines-overdue", "/deadlines?status=overdue"),
    ("work-problems", "/problems"),
    ("work-invalid", "/problems?view=invalid"),
    ("work-record", "/records/{record}"),
    ("work-connectors", "/connectors"),
    ("work-deliveries", "/deliveries"),
    ("work-publicity", "/publicity"),
    ("work-objections", "/objections"),
    ("work-grading", "/grading"),
];

impl Browser {
    async fn resize(&self, width: u32) {
        self.post("/window/rect", json!({"width": width, "height": 1000})).await;
    }

    async fn script(&self, source: &str) -> Value {
        self.post("/execute/sync", json!({"script": source, "args": []})).await
    }

    /// Clicks a link and waits for the next page to load.
    async fn follow(&self, css: &str) {
        self.submit(css).await;
    }
}

/// The number a figure or a list's total shows (`2,902` → 2902).
fn number(text: &str) -> i64 {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number in {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_chase_from_the_overview_and_a_clerk_follows_a_return() {
    let driver = Driver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let day = crate::dashboard::scripted_day(root).await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_cal_tx, calendar) = tokio::sync::watch::channel(day.settings.calendar.clone());
    let state =
        AppState::new(Arc::new(day.settings.clone()), day.store.clone(), calendar).with_clock(day.clock.clone());
    let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse().unwrap(), state, stop).await.unwrap();
    let server = tokio::spawn(serve);
    let base = format!("http://{addr}");
    let browser = driver.session(&root.join("profile")).await;
    let checks = {
        let (browser, base) = (browser.clone(), base.clone());
        let downloads = root.join("profile/downloads");
        let expect = (day.late_arrivals, day.returned, day.ours, day.returned_record);
        tokio::spawn(async move { chase(&browser, &base, expect, downloads).await })
    };
    let outcome = checks.await;
    browser.close().await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    day.store.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn chase(browser: &Browser, base: &str, expect: (i64, i64, i64, i64), downloads: PathBuf) {
    let (late_arrivals, returned, ours, record) = expect;
    let shots = screenshots();
    browser.resize(1400).await;
    browser.log_in(base, "ops").await;

    // The outage is a red banner, and the market regulator is charged only with its own.
    let banner = browser.visible_text_of("#outage-provincial").await;
    assert!(banner.contains("省公共信用信息平台推送失败（HTTP 503）") && banner.contains("自 10:00 起"), "{banner}");
    assert!(banner.contains(&format!("{} 条待推送", ours + late_arrivals)), "{banner}");
    let row = browser.visible_text_of("#chase-market").await;
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..4],
        ["市场监督管理局", &late_arrivals.to_string(), &returned.to_string(), &ours.to_string()],
        "{row}"
    );

    // Each card lands on a list whose total is the card's figure.
    for card in ["records", "overdue", "due-soon", "late", "returned", "dead"] {
        browser.open(&format!("{base}/")).await;
        let figure = number(&browser.visible_text_of(&format!("#card-{card} b")).await);
        browser.follow(&format!("#card-{card}")).await;
        let total = number(&browser.visible_text_of(".pager .total").await);
        assert_eq!(total, figure, "card {card} → {}", browser.url().await);
    }
    // And each cell of the market regulator's chase line.
    for column in 2..=6 {
        browser.open(&format!("{base}/")).await;
        let css = format!("#chase-market td:nth-child({column}) a");
        let figure = number(&browser.visible_text_of(&css).await);
        browser.follow(&css).await;
        let total = number(&browser.visible_text_of(".pager .total").await);
        assert_eq!(total, figure, "chase column {column} → {}", browser.url().await);
    }
    browser.screenshot(&shots.join("chase-list.png")).await;

    // Search finds a subject by a fragment of its name.
    browser.open(&format!("{base}/deadlines?status=overdue&cause=department")).await;
    let name = browser.visible_text_of("#deadline-list tr:nth-child(2) td:nth-child(3)").await;
    let fragment: String = name.chars().skip(1).take(3).collect();
    browser.type_into("#filter input[name=q]", &fragment).await;
    browser.submit("#filter button[type=submit]:not([name])").await;
    let rows = browser.visible_text_of("#deadline-list").await;
    assert!(rows.contains(&fragment), "{fragment}: {rows}");
    assert!(number(&browser.visible_text_of(".pager .total").await) >= 1);

    // Every page at 1,400 and 1,024 px, none wider than the window.
    for width in [1400, 1024] {
        browser.resize(width).await;
        for (name, path) in WORK_PAGES {
            let path = path.replace("{record}", &record.to_string());
            browser.open(&format!("{base}{path}")).await;
            let wide = browser
                .script("return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;")
                .await;
            assert_eq!(wide, false, "{path} scrolls sideways at {width} px");
            // The navigation bar stays one line (its last item, 退出, wrapped at 1,024 px).
            let wrapped = browser.script("return document.querySelector('header').offsetHeight > 48;").await;
            assert_eq!(wrapped, false, "{path}: the header wraps at {width} px");
            browser.screenshot(&shots.join(format!("{name}-{width}.png"))).await;
        }
    }
    browser.resize(1400).await;
    browser.open(&format!("{base}/")).await;
    browser.log_out(base).await;

    // A clerk follows a return from 问题数据 to the record, and downloads an error report.
    browser.log_in(base, "clerk").await;
    let text = browser.visible_text().await;
    assert!(!text.contains("推送失败（HTTP"), "the clerk sees the gateway's outage banner:\n{text}");
    browser.open(&format!("{base}/problems")).await;
    let returned_rows = browser.visible_text_of("#returned").await;
    assert!(returned_rows.contains("已超期") && returned_rows.contains("与主体库名称"), "{returned_rows}");
    browser.follow("#returned a[href^='/records/']").await;
    let text = browser.visible_text().await;
    assert!(text.contains("退回记录") && text.contains("省公共信用信息平台"), "{text}");
    browser.open(&format!("{base}/problems")).await;
    browser.click("#invalid a.report").await;
    let report = downloaded(&downloads, ".csv").await;
    let text = String::from_utf8(std::fs::read(&report).unwrap()).unwrap();
    assert!(text.trim_start_matches('\u{feff}').starts_with("行号,字段,原因,原始值"), "{text}");
    assert!(text.lines().count() > 1, "{text}");
    browser.open(&format!("{base}/deliveries")).await;
    let text = browser.visible_text().await;
    assert!(text.contains("无权访问"), "the clerk gets no Chinese refusal page:\n{text}");
    browser.screenshot(&shots.join("forbidden-1400.png")).await;
}
