//! Shared helpers for the end-to-end tests: the real binary, real folders, real databases.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::store::Store;
use credit_gateway::web::AppState;
use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn config_file() -> PathBuf {
    repo().join("config/gateway.toml")
}

/// Runs the real binary with the shipped configuration and the given database.
pub fn gateway(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(config_file())
        .args(args)
        .env("CREDIT_GATEWAY_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

/// Runs the real binary with a test's own configuration file.
pub fn gateway_with(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A SQLite database file in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("gateway.db").display())
}

/// The PostgreSQL server the tests use (DATABASE_URL, default the local `test` database).
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A fresh, empty PostgreSQL database for one test; dropped by `drop_postgres`.
pub async fn fresh_postgres() -> (String, String) {
    credit_gateway::store::scratch::fresh_postgres_database(&postgres_admin_url())
        .await
        .expect("PostgreSQL is running (DATABASE_URL)")
}

pub async fn drop_postgres(name: &str) {
    let pool = sqlx::PgPool::connect(&postgres_admin_url()).await.expect("connect");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await.expect("drop database");
}

/// Writes a sample file with the library's generator; returns its expected summary.
pub fn sample(
    path: &Path,
    item: credit_gateway::sim::sample::SampleItem,
    rows: u64,
    bad: f64,
    format: credit_gateway::sim::sample::SampleFormat,
) -> credit_gateway::sim::sample::SampleSummary {
    let spec = credit_gateway::sim::sample::SampleSpec {
        item,
        rows,
        seed: 42,
        bad_share: bad,
        summary_share: 0.03,
        format,
        first_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        days: 365,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, path).expect("sample written")
}

/// A sample file of decisions made in the 30 days before last month, by the real clock: still
/// within their publicity periods (at least 3 months), so every penalty is pushed.
pub fn recent_sample(
    path: &Path,
    item: credit_gateway::sim::sample::SampleItem,
    rows: u64,
    format: credit_gateway::sim::sample::SampleFormat,
) -> credit_gateway::sim::sample::SampleSummary {
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now());
    let spec = credit_gateway::sim::sample::SampleSpec {
        item,
        rows,
        seed: 42,
        bad_share: 0.0,
        summary_share: 0.03,
        format,
        first_date: today - chrono::Days::new(60),
        days: 30,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, path).expect("sample written")
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("json output ({e}): {}{}", stdout(out), stderr(out)))
}

/// Copies the shipped configuration into `root` (config/, mappings/, connectors/), so a test
/// can change it; its paths resolve inside `root`. The dashboard listens on a free port, so
/// daemons of tests running side by side do not collide.
pub fn copy_config(root: &Path) {
    for sub in ["config", "config/catalogue", "config/calendar", "config/destinations", "mappings", "connectors"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
        for entry in std::fs::read_dir(repo().join(sub)).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, root.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:8080\""), "the shipped listen address moved");
    std::fs::write(&gateway, text.replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")).unwrap();
}

/// The shipped configuration in `root` with its own SQLite file, plus a tax-department
/// connector for 行政许可, so two departments hold records (the dashboard tests).
pub fn two_departments_config(root: &Path) -> PathBuf {
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

/// Ingests `rows` generated rows of `item` through `connector`; returns the records accepted.
pub async fn ingest_sample(
    settings: &credit_gateway::config::Settings,
    store: &credit_gateway::store::Store,
    root: &Path,
    connector: &str,
    item: credit_gateway::sim::sample::SampleItem,
    rows: u64,
) -> u64 {
    let file = root.join(format!("{connector}.csv"));
    sample(&file, item, rows, 0.0, credit_gateway::sim::sample::SampleFormat::Csv);
    let opts = credit_gateway::ingest::IngestOptions {
        report_path: None,
        progress: false,
        clock: credit_gateway::clock::Clock::real(),
        source: None,
    };
    credit_gateway::ingest::ingest_file(settings, store, connector, &file, &opts).await.unwrap().accepted
}

/// When the stand-in tax API was asked, in order.
pub type Hits = std::sync::Arc<std::sync::Mutex<Vec<chrono::DateTime<chrono::Utc>>>>;

/// A stand-in for the tax department's API on a free loopback port: it answers an empty page
/// and notes when it was asked. Returns its base URL.
pub async fn empty_tax_api() -> (String, Hits) {
    use axum::routing::get;
    let hits = Hits::default();
    let app = {
        let hits = hits.clone();
        axum::Router::new().route(
            "/tax/api/arrears",
            get(move || {
                let hits = hits.clone();
                async move {
                    hits.lock().unwrap().push(chrono::Utc::now());
                    axum::Json(serde_json::json!({"code": 0, "data": {"items": [], "total": 0}}))
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (api, hits)
}

/// The shipped tax-arrears connector pulling `api` on `schedule` (cron, seconds first); its
/// token is written where the connector reads it under `root`.
pub fn tax_connector(root: &Path, api: &str, schedule: &str) -> String {
    let shipped = std::fs::read_to_string(repo().join("connectors/tax-arrears.toml")).unwrap();
    let text = shipped
        .replace("schedule = \"*/30 * * * * *\"", &format!("schedule = \"{schedule}\""))
        .replace("http://127.0.0.1:8091", api);
    assert_ne!(text, shipped);
    std::fs::create_dir_all(root.join("data/secrets")).unwrap();
    std::fs::write(root.join("data/secrets/tax-api.token"), "token\n").unwrap();
    text
}

/// The dashboard served in this test, and a client that does not follow redirects.
pub struct Web {
    pub base: String,
    pub client: reqwest::Client,
    /// The server runs while this is kept.
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Web {
    /// The dashboard on a free loopback port, and a client that does not follow redirects.
    pub async fn serve(settings: &Settings, store: &Store) -> Web {
        Web::serve_with_clock(settings, store, Clock::real()).await
    }

    /// On the test's clock (今日, deadlines and audit stamps follow it).
    pub async fn serve_with_clock(settings: &Settings, store: &Store, clock: Clock) -> Web {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (_cal_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
        let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar).with_clock(clock);
        let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse().unwrap(), state, stop).await.unwrap();
        tokio::spawn(serve);
        credit_gateway::connector::http::install_crypto_provider();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Web { base: format!("http://{addr}"), client, _stop: stop_tx }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn json(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, Some(token)).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, reqwest::StatusCode::OK, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    /// The text of a page or answer that must be there.
    pub async fn text(&self, path: &str, token: &str) -> String {
        let r = self.get(path, Some(token)).await;
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{path}");
        r.text().await.unwrap()
    }

    /// POSTs `fields` as a browser's form would.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
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

    /// POSTs a JSON body with an API token.
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.unwrap()
    }
}
