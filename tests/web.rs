//! The dashboard and API over real HTTP on 127.0.0.1: login, roles, a department user
//! limited to its own department, metrics and health checks.

mod common;

use std::path::Path;
use std::sync::Arc;

use credit_gateway::config::Settings;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sample::{SampleFormat, SampleItem};
use credit_gateway::store::Store;
use credit_gateway::web::{AppState, auth};
use reqwest::StatusCode;
use serde_json::Value;

use common::*;

/// The shipped configuration plus a tax-department connector for 行政许可, so two departments
/// hold records.
fn config(root: &Path) -> std::path::PathBuf {
    copy_config(root);
    let licences = std::fs::read_to_string(root.join("connectors/market-licences.toml")).unwrap();
    let tax = licences.replace("department = \"market\"", "department = \"tax\"");
    assert_ne!(tax, licences);
    std::fs::write(root.join("connectors/tax-licences.toml"), tax).unwrap();
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    let db = root.join("gateway.db");
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", &format!("sqlite://{}", db.display()))).unwrap();
    gateway
}

async fn ingest(settings: &Settings, store: &Store, root: &Path, connector: &str, item: SampleItem, rows: u64) -> u64 {
    let file = root.join(format!("{connector}.csv"));
    sample(&file, item, rows, 0.0, SampleFormat::Csv);
    let opts = IngestOptions { report_path: None, progress: false, now: chrono::Utc::now(), source: None };
    ingest_file(settings, store, connector, &file, &opts).await.unwrap().accepted
}

struct Web {
    base: String,
    client: reqwest::Client,
}

impl Web {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    async fn json(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, Some(token)).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    /// POSTs `fields` as a browser's form would.
    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect::<String>()
        };
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        self.client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_each_caller_sees() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let settings = Settings::load(&config(root)).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let market = ingest(&settings, &store, root, "market-penalties", SampleItem::Penalties, 50).await;
    let tax = ingest(&settings, &store, root, "tax-licences", SampleItem::Licences, 30).await;
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

    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_cal_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
    let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar);
    let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse().unwrap(), state, stop).await.unwrap();
    tokio::spawn(serve);
    credit_gateway::connector::http::install_crypto_provider();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let web = Web { base: format!("http://{addr}"), client };

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
    let r = web.client.post(format!("{}/logout", web.base)).header("cookie", &cookie).send().await.unwrap();
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
}
