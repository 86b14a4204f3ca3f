//! Connectors end to end: a watched folder on real files, an HTTP API on 127.0.0.1, and
//! databases (MariaDB on this machine, SQLite), through the real store.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::connector::runner::{self, FileOutcome};
use credit_gateway::sim::sample::{SampleFormat, SampleItem};
use credit_gateway::store::Store;

use crate::support::*;

/// The shipped configuration in `root` with only the given connectors (name, file text) and
/// extra mappings.
fn config(root: &Path, connectors: &[(&str, String)], mappings: &[(&str, String)]) -> PathBuf {
    copy_config(root);
    for entry in std::fs::read_dir(root.join("connectors")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (name, text) in connectors {
        std::fs::write(root.join("connectors").join(format!("{name}.toml")), text).unwrap();
    }
    for (name, text) in mappings {
        std::fs::write(root.join("mappings").join(format!("{name}.toml")), text).unwrap();
    }
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    let db = root.join("gateway.db");
    let text = text.replace("sqlite://data/gateway.db", &format!("sqlite://{}", db.display()));
    // A daemon killed here holds its connectors' leases: the next one waits 2 s, not 30.
    let text = text.replace("connector_lease_seconds = 30", "connector_lease_seconds = 2");
    std::fs::write(&gateway, text).unwrap();
    gateway
}

async fn load(config: &Path) -> (Settings, Store) {
    let settings = Settings::load(config).unwrap_or_else(|e| panic!("{e}"));
    assert!(std::env::var("CREDIT_GATEWAY_DATABASE_URL").is_err(), "tests set the database in the copied gateway.toml");
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    (settings, store)
}

/// Header and rows of a generated 行政处罚 file, as a department's system would hold them.
fn penalty_rows(rows: u64, seed_dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let path = seed_dir.join(format!("rows-{rows}.csv"));
    sample(&path, SampleItem::Penalties, rows, 0.0, SampleFormat::Csv);
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

async fn scalar(store_url: &str, sql: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(store_url).await.unwrap();
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    v
}

/// Waits until `check` holds, failing after a generous bound.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten().filter(|e| e.path().is_file()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_folder_takes_complete_files_once_and_refuses_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let connector = r#"
version = 1
department = "market"
item = "CF"
mapping = "market-penalties"
kind = "folder"
[folder]
inbox = "inbox/penalties"
settle_seconds = 0.8
poll_seconds = 0.1
"#;
    let config = config(root, &[("market-penalties", connector.to_string())], &[]);
    let (settings, store) = load(&config).await;
    let inbox = root.join("inbox/penalties");
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today);
    let failed = inbox.join("failed").join(&today);
    let outbox = inbox.join("outbox");

    let source = root.join("source.csv");
    let expected = sample(&source, SampleItem::Penalties, 300, 0.02, SampleFormat::Csv);
    let bytes = std::fs::read(&source).unwrap();

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let settings = Arc::new(settings);
    let daemon = runner::run_connector(
        settings.clone(),
        store.clone(),
        settings.connector("market-penalties").unwrap().clone(),
        Clock::real(),
        Arc::default(),
        stop,
    );
    let url = settings.gateway.database_url.clone();
    let drive = async {
        // Written in four chunks, each well inside the settle time of the one before.
        std::fs::create_dir_all(&inbox).unwrap();
        let target = inbox.join("处罚2024.csv");
        let quarter = bytes.len() / 4;
        for (i, chunk) in bytes.chunks(quarter + 1).enumerate() {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&target).unwrap();
            f.write_all(chunk).unwrap();
            drop(f);
            if i < 3 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                assert!(target.exists(), "taken while still being written (chunk {i})");
            }
        }
        eventually("the file is processed", || processed.join("处罚2024.csv").exists()).await;
        assert!(!target.exists());
        assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs").await, 1, "one run, of the whole file");
        assert_eq!(scalar(&url, "SELECT rows_read FROM ingest_runs").await, expected.rows as i64);
        assert_eq!(
            scalar(&url, "SELECT count(*) FROM records").await,
            (expected.good) as i64,
            "every good row, and only those, is stored"
        );
        assert_eq!(files_in(&outbox), ["处罚2024.csv.errors.csv"], "the bad rows are reported to the department");

        // The same content dropped again under another name is recognised once it was taken
        // whole: every row stored (a file with rejected rows is taken again, idempotently).
        sample(&root.join("clean.csv"), SampleItem::Penalties, 40, 0.0, SampleFormat::Csv);
        let clean = std::fs::read(root.join("clean.csv")).unwrap();
        std::fs::write(inbox.join("clean.csv"), &clean).unwrap();
        eventually("the clean file is processed", || processed.join("clean.csv").exists()).await;
        std::fs::write(inbox.join("again.csv"), &clean).unwrap();
        eventually("the duplicate is moved", || processed.join("again.csv").exists()).await;
        assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs").await, 2, "not ingested twice");
        let note = std::fs::read_to_string(outbox.join("again.csv.duplicate.txt")).unwrap();
        assert!(note.contains("未重复导入"), "{note}");

        // A file that cannot be read at all goes to failed/ with its reason.
        std::fs::write(inbox.join("broken.xlsx"), b"this is not a workbook").unwrap();
        eventually("the unreadable file is moved", || failed.join("broken.xlsx").exists()).await;
        let reason = std::fs::read_to_string(failed.join("broken.xlsx.reason.txt")).unwrap();
        assert!(reason.contains("无法读取") && reason.contains("broken.xlsx"), "{reason}");
        assert!(files_in(&inbox).is_empty(), "{:?}", files_in(&inbox));
        stop_tx.send(true).unwrap();
    };
    // The connector returns once told to stop: a clean shutdown.
    tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(daemon, drive) }).await.expect("stops");

    let health = store.connector_health().await.unwrap();
    assert_eq!(health[0].connector, "market-penalties");
    assert_eq!(health[0].files_total, 4);
    assert_eq!(health[0].rows_total, expected.rows as i64 + 40);
    store.close().await;
}

/// A watched folder with nothing arriving rests: its own work (opening and listing the inbox,
/// moving a file out, writing the error report) wakes nothing, so the passes are the first, one
/// for a file that arrives and one asked for, not hundreds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_folder_rests_while_nothing_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Its own name: pass counts are per process, and tests share the process.
    let name = "resting-licences";
    let connector = r#"
version = 1
department = "market"
item = "XK"
mapping = "market-licences"
kind = "folder"
[folder]
inbox = "inbox/licences"
settle_seconds = 0
poll_seconds = 3600
"#;
    let config = config(root, &[(name, connector.to_string())], &[]);
    let (settings, store) = load(&config).await;
    let inbox = root.join("inbox/licences");
    let settings = Arc::new(settings);
    let run_now = Arc::new(tokio::sync::Notify::new());
    let mut passes = runner::passes(name);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let daemon = runner::run_connector(
        settings.clone(),
        store.clone(),
        settings.connector(name).unwrap().clone(),
        Clock::real(),
        run_now.clone(),
        stop,
    );
    let drive = async {
        passes.wait_for(|n| *n >= 1).await.unwrap();
        // Renamed in whole, as a careful department does: one event.
        let file = root.join("许可.csv");
        std::fs::write(&file, "not,the,template\n1,2,3\n").unwrap();
        std::fs::rename(&file, inbox.join("许可.csv")).unwrap();
        eventually("the file leaves the inbox", || files_in(&inbox).is_empty()).await;
        run_now.notify_one();
        passes.wait_for(|n| *n >= 3).await.unwrap();
        assert_eq!(*passes.borrow(), 3, "the first pass, the file's and the one asked for");
        stop_tx.send(true).unwrap();
    };
    tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(daemon, drive) }).await.expect("stops");
    let health = store.connector_health().await.unwrap();
    assert_eq!((health[0].files_total, health[0].last_status.as_deref()), (1, Some("idle")));
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// A department API: JSON pages of `{"data":{"items":[…]}}` with `page`, `size` and `since`
/// (strictly after), a bearer token, and faults on request.
#[derive(Default)]
struct Api {
    records: Mutex<Vec<serde_json::Value>>,
    /// Answer 503 to this many requests first.
    unavailable: AtomicU32,
    /// Answer 500 for this page (until cleared).
    broken_page: Mutex<Option<u64>>,
    /// Each request: when, and its query.
    log: Mutex<Vec<(Instant, std::collections::HashMap<String, String>)>>,
}

async fn api_items(
    axum::extract::State(api): axum::extract::State<Arc<Api>>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    api.log.lock().unwrap().push((Instant::now(), q.clone()));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret") {
        return (axum::http::StatusCode::UNAUTHORIZED, "no").into_response();
    }
    if api.unavailable.load(Ordering::SeqCst) > 0 {
        api.unavailable.fetch_sub(1, Ordering::SeqCst);
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: u64 = q.get("size").and_then(|p| p.parse().ok()).unwrap_or(10);
    if *api.broken_page.lock().unwrap() == Some(page) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response();
    }
    let records = api.records.lock().unwrap();
    let since = q.get("since").cloned().unwrap_or_default();
    let items: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["updated_at"].as_str().unwrap() > since.as_str())
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .collect();
    axum::Json(serde_json::json!({"code": 0, "data": {"items": items}})).into_response()
}

async fn serve_api(api: Arc<Api>) -> String {
    let app = axum::Router::new().route("/penalties", axum::routing::get(api_items)).with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/penalties")
}

fn api_records(header: &[String], rows: &[Vec<String>], first: usize) -> Vec<serde_json::Value> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let mut obj: serde_json::Map<String, serde_json::Value> =
                header.iter().cloned().zip(row.iter().cloned().map(serde_json::Value::String)).collect();
            obj.insert(
                "updated_at".into(),
                format!("2024-05-01T08:{:02}:{:02}", (first + i) / 60, (first + i) % 60).into(),
            );
            serde_json::Value::Object(obj)
        })
        .collect()
}

fn http_connector(url: &str, rate: f64) -> String {
    format!(
        r#"
version = 1
department = "market"
item = "CF"
mapping = "api-penalties"
kind = "http"
schedule = "0 0 3 * * *"
[http]
url = "{url}"
format = "json"
timeout_seconds = 5
max_attempts = 3
backoff_initial_ms = 200
backoff_max_ms = 1000
rate_per_second = {rate}
[http.pagination]
style = "page"
size = 20
[http.incremental]
param = "since"
field = "updated_at"
[http.auth]
kind = "bearer"
token_file = "secrets/api.token"
"#
    )
}

fn api_mapping() -> String {
    let shipped = std::fs::read_to_string(repo().join("mappings/market-penalties.toml")).unwrap();
    shipped.replacen("columns = \"catalogue\"", "columns = \"catalogue\"\nrecords = \"data.items\"", 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_api_is_paged_resumed_after_a_failure_retried_on_503_and_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (header, rows) = penalty_rows(130, root);
    let api = Arc::new(Api::default());
    *api.records.lock().unwrap() = api_records(&header, &rows[..100], 0);
    let url = serve_api(api.clone()).await;
    std::fs::create_dir_all(root.join("secrets")).unwrap();
    std::fs::write(root.join("secrets/api.token"), "s3cret\n").unwrap();
    let config = config(root, &[("api-penalties", http_connector(&url, 20.0))], &[("api-penalties", api_mapping())]);
    let (settings, store) = load(&config).await;
    let good = |n: usize| rows[..n].iter().filter(|r| !r.iter().any(|c| c == "简易程序")).count() as i64;

    // Page 3 is broken: the pass stops there with pages 1–2 committed.
    *api.broken_page.lock().unwrap() = Some(3);
    let report = runner::run_once(&settings, &store, "api-penalties", &Clock::real()).await.unwrap();
    assert!(report.error.as_deref().unwrap().contains("HTTP 500"), "{:?}", report.error);
    assert_eq!(report.files.len(), 2);
    assert_eq!(store.count_records(Some("CF")).await.unwrap(), good(40));
    let checkpoint = store.checkpoint("api-penalties").await.unwrap().unwrap();
    assert!(checkpoint.contains(r#""next":"3""#), "{checkpoint}");

    // A new process (a fresh source) continues at page 3, not at page 1.
    *api.broken_page.lock().unwrap() = None;
    api.log.lock().unwrap().clear();
    let report = runner::run_once(&settings, &store, "api-penalties", &Clock::real()).await.unwrap();
    assert_eq!(report.error, None);
    let pages: Vec<String> = api.log.lock().unwrap().iter().map(|(_, q)| q["page"].clone()).collect();
    assert_eq!(pages, ["3", "4", "5", "6"], "resumed from the checkpoint; page 6 is empty and ends the sweep");
    assert_eq!(store.count_records(Some("CF")).await.unwrap(), good(100));
    assert!(report.files.iter().all(|f| f.outcome == FileOutcome::Ingested));

    // New records: the next sweep asks only for what changed since the last one.
    api.records.lock().unwrap().extend(api_records(&header, &rows[100..], 100));
    api.log.lock().unwrap().clear();
    // Two 503s first: retried with backoff, then delivered.
    api.unavailable.store(2, Ordering::SeqCst);
    let report = runner::run_once(&settings, &store, "api-penalties", &Clock::real()).await.unwrap();
    assert_eq!(report.error, None);
    let log = api.log.lock().unwrap().clone();
    assert_eq!(log[0].1.get("since").map(String::as_str), Some("2024-05-01T08:01:39"), "since = last record seen");
    assert_eq!(log.len(), 4, "two 503s, then pages 1 (20 records) and 2 (10: the last)");
    let gap = |i: usize| log[i + 1].0 - log[i].0;
    assert!(gap(0) >= Duration::from_millis(100), "backed off after the first 503: {:?}", gap(0));
    assert!(gap(1) >= Duration::from_millis(200), "backed off longer after the second: {:?}", gap(1));
    // 20 requests a second at most, whatever the answers: 50 ms apart when sent; seen here on
    // arrival, where a loaded machine may delay one request more than the next (40 ms seen).
    assert!((0..log.len() - 1).all(|i| gap(i) >= Duration::from_millis(30)), "rate limit: {log:?}");
    assert_eq!(report.rows(), 30);
    assert_eq!(store.count_records(Some("CF")).await.unwrap(), good(130));

    // Nothing new: one request, nothing ingested.
    let report = runner::run_once(&settings, &store, "api-penalties", &Clock::real()).await.unwrap();
    assert_eq!((report.error, report.files.len()), (None, 0));

    // Lineage: each run names the URL and page it came from; no secret anywhere.
    let sources = {
        let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
        let s: Vec<String> = sqlx::query_scalar("SELECT source FROM ingest_runs").fetch_all(&pool).await.unwrap();
        pool.close().await;
        s
    };
    assert!(sources.iter().all(|s| s.starts_with("GET http://127.0.0.1") && s.contains("page=")), "{sources:?}");
    assert!(!sources.iter().any(|s| s.contains("s3cret")));
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// SQL

fn sql_connector(url: &str, table: &str) -> String {
    format!(
        r#"
version = 1
department = "market"
item = "CF"
mapping = "market-penalties"
kind = "sql"
schedule = "0 0 3 * * *"
[sql]
url = "{url}"
query = "SELECT * FROM {table}"
cursor = "updated_at"
key = "id"
batch_rows = 50
"#
    )
}

/// Creates the department table (when `range` starts at 0) and inserts rows `range`, id = row
/// number, ten rows per `updated_at` value.
async fn insert_rows<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    table: &str,
    header: &[String],
    rows: &[Vec<String>],
    range: std::ops::Range<usize>,
    quote: char,
) where
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let cols: Vec<String> = header.iter().map(|h| format!("{quote}{h}{quote}")).collect();
    if range.start == 0 {
        let defs: Vec<String> = cols.iter().map(|c| format!("{c} TEXT")).collect();
        sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {table}")).execute(pool).await.unwrap();
        sqlx::raw_sql(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, updated_at DATETIME NOT NULL, {})",
            defs.join(", ")
        ))
        .execute(pool)
        .await
        .unwrap();
    }
    for i in range {
        // Ten rows share each timestamp: the key orders them.
        let updated = format!("2024-05-01 09:{:02}:00", i / 10);
        let marks = vec!["?"; header.len()].join(", ");
        let sql = format!("INSERT INTO {table} (id, updated_at, {}) VALUES (?, ?, {marks})", cols.join(", "));
        let mut q = sqlx::query(&sql).bind(i as i64).bind(updated);
        for cell in &rows[i] {
            q = q.bind(cell.clone());
        }
        q.execute(pool).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_table_is_pulled_incrementally_from_mariadb_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (header, rows) = penalty_rows(160, root);
    let good = |n: usize| rows[..n].iter().filter(|r| !r.iter().any(|c| c == "简易程序")).count() as i64;
    let mysql_url = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let mysql = sqlx::MySqlPool::connect(&mysql_url).await.expect("MariaDB is running (MYSQL_URL)");
    let source_db = root.join("department.db");
    let sqlite_url = format!("sqlite://{}?mode=rwc", source_db.display());
    let sqlite = sqlx::SqlitePool::connect(&sqlite_url).await.unwrap();
    let table = format!("cg_penalties_{}", std::process::id());
    let sqlite_source = format!("sqlite://{}", source_db.display());
    let config = config(
        root,
        &[("db-mariadb", sql_connector(&mysql_url, &table)), ("db-sqlite", sql_connector(&sqlite_source, &table))],
        &[],
    );
    insert_rows(&mysql, &table, &header, &rows, 0..120, '`').await;
    insert_rows(&sqlite, &table, &header, &rows, 0..120, '"').await;
    let (settings, store) = load(&config).await;

    for name in ["db-mariadb", "db-sqlite"] {
        let report = runner::run_once(&settings, &store, name, &Clock::real()).await.unwrap();
        assert_eq!(report.error, None, "{name}");
        assert_eq!(report.files.len(), 3, "{name}: 120 rows in batches of 50");
        assert_eq!(report.rows(), 120, "{name}");
    }
    // Both connectors store the same records: 120 rows, once.
    assert_eq!(store.count_records(Some("CF")).await.unwrap(), good(120));

    insert_rows(&mysql, &table, &header, &rows, 120..160, '`').await;
    insert_rows(&sqlite, &table, &header, &rows, 120..160, '"').await;
    for name in ["db-mariadb", "db-sqlite"] {
        let report = runner::run_once(&settings, &store, name, &Clock::real()).await.unwrap();
        assert_eq!(report.error, None, "{name}");
        assert_eq!(report.rows(), 40, "{name}: only the new rows");
        let checkpoint = store.checkpoint(name).await.unwrap().unwrap();
        assert!(checkpoint.contains(r#""key":"159""#), "{name}: {checkpoint}");
        let again = runner::run_once(&settings, &store, name, &Clock::real()).await.unwrap();
        assert_eq!((again.error, again.files.len()), (None, 0), "{name}: nothing new");
    }
    assert_eq!(store.count_records(Some("CF")).await.unwrap(), good(160));

    sqlx::raw_sql(&format!("DROP TABLE {table}")).execute(&mysql).await.unwrap();
    mysql.close().await;
    sqlite.close().await;
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Crashes and hostile files

/// A daemon process, killed when dropped (a failed assertion leaves none behind).
struct Running(std::process::Child);

impl std::ops::Deref for Running {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The daemon (`run`) on `config`, quiet.
fn daemon(config: &Path) -> Running {
    daemon_with(config, None)
}

/// The daemon, with `mid_read` run on each file once its first rows are read (a test seam).
fn daemon_with(config: &Path, mid_read: Option<&Path>) -> Running {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_credit-gateway"));
    if let Some(program) = mid_read {
        command.env("CREDIT_GATEWAY_TEST_MID_READ", program);
    }
    command
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Running)
        .unwrap()
}

const FAST_FOLDER: &str = r#"
version = 1
department = "market"
item = "CF"
mapping = "market-penalties"
kind = "folder"
[folder]
inbox = "inbox/penalties"
settle_seconds = 0.2
poll_seconds = 0.1
"#;

/// Also: the run the killed daemon left `running` is closed as `interrupted` when the next one
/// starts, and the bad rows it had recorded are not listed again beside the complete run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_in_the_middle_of_a_large_file_stores_every_row_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, &[("market-penalties", FAST_FOLDER.to_string())], &[]);
    let url = Settings::load(&config).unwrap().gateway.database_url;
    let source = root.join("source.csv");
    const N: u64 = 200_000;
    let expected = sample(&source, SampleItem::Penalties, N, 0.001, SampleFormat::Csv);
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(&source, inbox.join("large.csv")).unwrap();

    let mut first = daemon(&config);
    let start = Instant::now();
    let db = root.join("gateway.db");
    loop {
        // Some rows committed, far from all of them: kill it there.
        if db.exists() {
            let stored = sqlx::SqlitePool::connect(&url).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM records").fetch_one(&stored).await.unwrap_or(0);
            stored.close().await;
            if n > 0 {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the daemon does not ingest");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = scalar(&url, "SELECT count(*) FROM records").await;
    assert!(at_kill < expected.good as i64, "killed mid-file ({at_kill} rows stored)");
    assert!(inbox.join("large.csv").exists(), "the file stays in the inbox until its rows are committed");

    let mut second = daemon(&config);
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today).join("large.csv");
    let start = Instant::now();
    while !processed.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "the file is never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(!inbox.join("large.csv").exists());
    assert_eq!(scalar(&url, "SELECT count(*) FROM records").await, expected.good as i64, "every row stored");
    assert_eq!(scalar(&url, "SELECT count(*) FROM records WHERE version = 1").await, expected.good as i64);
    assert_eq!(scalar(&url, "SELECT count(*) FROM record_versions").await, 0, "no row stored twice as a new version");
    let doubled =
        "SELECT count(*) FROM (SELECT 1 FROM deliveries GROUP BY record_id, version, destination HAVING count(*) > 1)";
    assert_eq!(scalar(&url, doubled).await, 0, "no record queued twice for a platform");
    assert!(
        scalar(&url, "SELECT count(*) FROM deliveries").await >= expected.good as i64,
        "every row queued for delivery"
    );
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs WHERE status = 'done'").await, 1);
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs WHERE status = 'interrupted'").await, 1);
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs WHERE status = 'running'").await, 0);
    let errors = "SELECT count(*) FROM row_problems p JOIN ingest_runs i ON i.id = p.ingest_run_id \
                  WHERE p.severity = 'error' AND i.status = ";
    let (complete, interrupted) = (format!("{errors}'done'"), format!("{errors}'interrupted'"));
    assert!(scalar(&url, &interrupted).await > 0, "the killed run had recorded bad rows");
    let store = Store::connect(&url).await.unwrap();
    let listed = store.invalid_rows(None, 1_000_000).await.unwrap();
    assert_eq!(listed.len() as i64, scalar(&url, &complete).await, "each bad row listed once");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_are_refused_with_reasons_and_nothing_is_written_outside_the_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The shipped tax (JSON) and court (XML) mappings, read from folders instead of their APIs.
    let folder_of = |department: &str, item: &str, mapping: &str, inbox: &str| {
        FAST_FOLDER
            .replace("\"market\"", &format!("\"{department}\""))
            .replace("\"CF\"", &format!("\"{item}\""))
            .replace("\"market-penalties\"", &format!("\"{mapping}\""))
            .replace("inbox/penalties", inbox)
    };
    let config = config(
        root,
        &[
            ("market-penalties", FAST_FOLDER.to_string()),
            ("feed-json", folder_of("tax", "TAX_QS", "tax-arrears", "inbox/json")),
            ("feed-xml", folder_of("court", "COURT_SX", "court-dishonest", "inbox/xml")),
        ],
        &[],
    );
    let (settings, store) = load(&config).await;
    let settings = Arc::new(settings);
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let inbox = |name: &str| root.join("inbox").join(name);
    for name in ["penalties", "json", "xml"] {
        std::fs::create_dir_all(inbox(name)).unwrap();
    }
    // A zip bomb: one entry claiming a huge inflated size.
    let bomb = {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..300 {
            use std::io::Write;
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
        buf.into_inner()
    };
    std::fs::write(inbox("penalties").join("%2e%2e%2f%2e%2e%2fevil.xlsx"), &bomb).unwrap();
    std::fs::write(inbox("penalties").join("a\\..\\..\\evil.csv"), b"\xff\xfe\x00garbage").unwrap();
    std::fs::write(inbox("json").join("broken.json"), br#"{"records": [{"name": "x", "code": "#).unwrap();
    let lol = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\
               <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>\
               <records><record><name>&d;&d;&d;&d;&d;&d;&d;&d;</name><code>x</code></record></records>";
    std::fs::write(inbox("xml").join("bomb.xml"), lol).unwrap();
    std::fs::write(inbox("xml").join("broken.xml"), "<records><record><name>a</nam").unwrap();

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let connectors = ["market-penalties", "feed-json", "feed-xml"].map(|name| {
        let connector = settings.connector(name).unwrap().clone();
        runner::run_connector(settings.clone(), store.clone(), connector, Clock::real(), Arc::default(), stop.clone())
    });
    let drive = async {
        let left = || ["penalties", "json", "xml"].map(|name| files_in(&inbox(name))).concat();
        let start = Instant::now();
        while !left().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(30), "files left in the inboxes: {:?}", left());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_tx.send(true).unwrap();
    };
    let all = async { tokio::join!(futures_util::future::join_all(connectors), drive) };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("stops");
    // Nothing of the hostile names escaped: the tree holds only what the gateway should write.
    for escaped in [root.join("evil.xlsx"), root.join("evil.csv"), root.join("inbox/evil.xlsx")] {
        assert!(!escaped.exists(), "{}", escaped.display());
    }
    let failed = inbox("penalties").join("failed").join(&today);
    let reason = std::fs::read_to_string(failed.join("%2e%2e%2f%2e%2e%2fevil.xlsx.reason.txt")).unwrap();
    assert!(reason.contains("无法读取"), "{reason}");
    assert!(
        failed.join("a\\..\\..\\evil.csv").exists()
            || inbox("penalties").join("processed").join(&today).join("a\\..\\..\\evil.csv").exists()
    );
    let failed_json = inbox("json").join("failed").join(&today);
    let reason = std::fs::read_to_string(failed_json.join("broken.json.reason.txt")).unwrap();
    assert!(reason.contains("无法读取"), "{reason}");
    // The entity bomb stays small: its record is refused, the file is not a crash.
    let xml_out = inbox("xml");
    let all: Vec<String> =
        ["failed", "processed"].iter().flat_map(|d| files_in(&xml_out.join(d).join(&today))).collect();
    assert!(
        all.iter().any(|f| f.starts_with("bomb.xml")) && all.iter().any(|f| f.starts_with("broken.xml")),
        "{all:?}"
    );
    assert_eq!(scalar(&settings.gateway.database_url, "SELECT count(*) FROM records").await, 0);
    store.close().await;
}

/// Issue 17 (4, 6, 7): a link to `/proc/self/mem` (reading it fails), a link to a secret file
/// elsewhere, a pipe, and a file whose name is not UTF-8 stand before a good file. One pass
/// stores the good file's rows and refuses each of the others unopened: moved to `failed/`
/// (the link itself, never its target) with its reason in Chinese; a second pass does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_pipes_and_garbled_names_are_refused_unopened_and_block_nothing() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let connector = FAST_FOLDER.replace("settle_seconds = 0.2", "settle_seconds = 0");
    let config = config(root, &[("market-penalties", connector)], &[]);
    let (settings, store) = load(&config).await;
    let url = settings.gateway.database_url.clone();
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let failed = inbox.join("failed").join(&today);

    // Each bad one sorts before the good file, and each would be ingested if it were read.
    let secret = root.join("secret/penalties.csv");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    sample(&secret, SampleItem::Penalties, 7, 0.0, SampleFormat::Csv);
    let secret_bytes = std::fs::read(&secret).unwrap();
    std::os::unix::fs::symlink("/proc/self/mem", inbox.join("a-mem.csv")).unwrap();
    std::os::unix::fs::symlink(&secret, inbox.join("b-secret.csv")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(inbox.join("c-pipe.csv")).status().unwrap();
    assert!(fifo.success());
    let garbled = inbox.join(std::ffi::OsStr::from_bytes(b"d-\xff\xfe\xb4\xa6\xb7\xa3.csv"));
    // Written beside, then moved in (the generator writes its expectations beside the file).
    sample(&root.join("garbled.csv"), SampleItem::Penalties, 9, 0.0, SampleFormat::Csv);
    std::fs::rename(root.join("garbled.csv"), &garbled).unwrap();
    let expected = sample(&root.join("good.csv"), SampleItem::Penalties, 50, 0.0, SampleFormat::Csv);
    std::fs::rename(root.join("good.csv"), inbox.join("z-good.csv")).unwrap();

    let report = runner::run_once(&settings, &store, "market-penalties", &Clock::real()).await.unwrap();
    assert_eq!(report.error, None);
    let outcomes: Vec<(String, &FileOutcome)> = report
        .files
        .iter()
        .map(|f| (Path::new(&f.source).file_name().unwrap().to_string_lossy().into_owned(), &f.outcome))
        .collect();
    assert_eq!(outcomes.len(), 5, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|(_, o)| matches!(o, FileOutcome::Failed { .. })).count(), 4, "{outcomes:?}");
    assert!(outcomes.iter().any(|(name, o)| name == "z-good.csv" && **o == FileOutcome::Ingested), "{outcomes:?}");

    // The good file only: one run, its rows.
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs").await, 1);
    assert_eq!(scalar(&url, "SELECT rows_read FROM ingest_runs").await, 50);
    assert_eq!(scalar(&url, "SELECT count(*) FROM records").await, expected.good as i64);
    assert!(inbox.join("processed").join(&today).join("z-good.csv").exists());
    let left: Vec<_> = std::fs::read_dir(&inbox).unwrap().flatten().filter(|e| !e.path().is_dir()).collect();
    assert!(left.is_empty(), "{left:?}");

    // Each bad one in failed/, as it was (links stay links), with its reason in Chinese.
    let reason = |name: &str| std::fs::read_to_string(failed.join(format!("{name}.reason.txt"))).unwrap();
    for (name, why) in [("a-mem.csv", "符号链接"), ("b-secret.csv", "符号链接"), ("c-pipe.csv", "不是普通文件")]
    {
        let kind = std::fs::symlink_metadata(failed.join(name)).unwrap().file_type();
        assert!(if why == "符号链接" { kind.is_symlink() } else { kind.is_fifo() }, "{name}: {kind:?}");
        let text = reason(name);
        assert!(text.contains(why) && text.contains("无法读取"), "{name}: {text}");
    }
    let garbled_name = garbled.file_name().unwrap().to_string_lossy().into_owned();
    assert!(failed.join(&garbled_name).is_file());
    assert!(reason(&garbled_name).contains("文件名不是有效的 UTF-8 编码"), "{}", reason(&garbled_name));
    // The secret stays where it was, unchanged, and none of it was stored.
    assert_eq!(std::fs::read(&secret).unwrap(), secret_bytes);
    assert!(std::fs::symlink_metadata(&secret).unwrap().is_file());

    // Nothing left to do: a second pass takes nothing and starts no run.
    let again = runner::run_once(&settings, &store, "market-penalties", &Clock::real()).await.unwrap();
    assert!(again.files.is_empty() && again.error.is_none(), "{:?}", again.files);
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs").await, 1, "no new run, failed or not");
    store.close().await;
}

/// Issue 17 (4): a refused file that cannot even be moved to `failed/` (here `failed` is a
/// plain file) is set aside and blocks nothing behind it; a connector whose every pass fails
/// (its inbox is a plain file) backs off instead of retrying at once, polling every 0.1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmovable_file_is_set_aside_and_a_failing_pass_backs_off() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let stuck = FAST_FOLDER
        .replace("settle_seconds = 0.2", "settle_seconds = 0\nfailed = \"not-a-folder\"")
        .replace("inbox/penalties", "inbox/stuck");
    let broken = FAST_FOLDER.replace("inbox/penalties", "not-an-inbox");
    let config = config(root, &[("stuck-penalties", stuck), ("broken-penalties", broken)], &[]);
    let (settings, store) = load(&config).await;
    let settings = Arc::new(settings);
    let url = settings.gateway.database_url.clone();
    std::fs::write(root.join("not-a-folder"), "").unwrap();
    std::fs::write(root.join("not-an-inbox"), "").unwrap();
    let inbox = root.join("inbox/stuck");
    std::fs::create_dir_all(&inbox).unwrap();
    std::os::unix::fs::symlink("/proc/self/mem", inbox.join("a-mem.csv")).unwrap();
    let expected = sample(&root.join("good.csv"), SampleItem::Penalties, 20, 0.0, SampleFormat::Csv);
    std::fs::rename(root.join("good.csv"), inbox.join("z-good.csv")).unwrap();

    let mut failing_passes = runner::passes("broken-penalties");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let connectors = ["stuck-penalties", "broken-penalties"].map(|name| {
        let connector = settings.connector(name).unwrap().clone();
        runner::run_connector(settings.clone(), store.clone(), connector, Clock::real(), Arc::default(), stop.clone())
    });
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today).join("z-good.csv");
    let drive = async {
        eventually("the good file behind the stuck one is taken", || processed.exists()).await;
        failing_passes.wait_for(|n| *n >= 1).await.unwrap();
        // A window of 2.5 s: at 0.1 s polls that is 25 passes; backing off 1 s, 2 s… it is 2 or 3.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        stop_tx.send(true).unwrap();
    };
    let all = async { tokio::join!(futures_util::future::join_all(connectors), drive) };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("stops");
    let failed = *failing_passes.borrow();
    assert!((1..=3).contains(&failed), "{failed} failing passes in 2.5 s");
    assert!(std::fs::symlink_metadata(inbox.join("a-mem.csv")).unwrap().file_type().is_symlink(), "left in place");
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs").await, 1, "only the good file was read");
    assert_eq!(scalar(&url, "SELECT count(*) FROM records").await, expected.good as i64);
    store.close().await;
}

/// Issue 17 (4): a plain file the daemon may not read (mode 000 for the daemon's user) goes to
/// `failed/` with its reason, and the file behind it is taken. Root reads anything, so under
/// root the pass runs as `nobody` (uid 65534), as a daemon with its own user does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_daemon_may_not_read_goes_to_failed_and_blocks_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let connector = FAST_FOLDER.replace("settle_seconds = 0.2", "settle_seconds = 0");
    let config = config(root, &[("market-penalties", connector)], &[]);
    let (settings, store) = load(&config).await;
    let url = settings.gateway.database_url.clone();
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    let closed = inbox.join("a-closed.csv");
    std::fs::write(&closed, "secret\n").unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    let expected = sample(&root.join("good.csv"), SampleItem::Penalties, 20, 0.0, SampleFormat::Csv);
    std::fs::rename(root.join("good.csv"), inbox.join("z-good.csv")).unwrap();
    store.close().await;
    let mut binary = PathBuf::from(env!("CARGO_BIN_EXE_credit-gateway"));
    let runs_as_nobody = std::fs::File::open(&closed).is_ok();
    if runs_as_nobody {
        // The build folder may sit where `nobody` cannot reach (a clone in a 0700 temporary
        // folder): a copy of the binary goes into the test's own folder, which becomes nobody's.
        let own = root.join("credit-gateway");
        std::fs::copy(&binary, &own).unwrap();
        binary = own;
    }
    let mut pass = std::process::Command::new(&binary);
    pass.arg("--config").arg(&config).args(["connectors", "run", "market-penalties"]);
    if runs_as_nobody {
        const NOBODY: u32 = 65534;
        chown_tree(root, NOBODY);
        pass.uid(NOBODY).gid(NOBODY);
    }
    let out = pass.output().unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let failed = inbox.join("failed").join(&today);
    let reason = std::fs::read_to_string(failed.join("a-closed.csv.reason.txt")).unwrap();
    assert!(reason.contains("无法打开或读取"), "{reason}");
    assert!(failed.join("a-closed.csv").exists(), "{:?}", files_in(&failed));
    assert!(inbox.join("processed").join(&today).join("z-good.csv").exists(), "the next file is taken");
    assert_eq!(scalar(&url, "SELECT count(*) FROM records").await, expected.good as i64);
}

/// Gives `dir` and everything under it to `uid`.
fn chown_tree(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            chown_tree(&path, uid);
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(uid)).unwrap();
        }
    }
}

/// A shell script run by the daemon in the middle of a file's read (`$1` is the file): it acts
/// once (the next files read are left alone).
fn mid_read_script(root: &Path, body: &str) -> PathBuf {
    seam_script(root, "mid-read", body)
}

/// A shell script run by the daemon at `moment` of taking a file (`$1` is the file, `$2` the
/// moment: `mid-read`, `before-move`): it acts once, at that moment.
fn seam_script(root: &Path, moment: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join("mid-read.sh");
    let once = root.join("mid-read.done");
    let text = format!(
        "#!/bin/sh\nset -e\n[ \"$2\" = '{moment}' ] || exit 0\n[ -e '{}' ] && exit 0\ntouch '{}'\n{body}\n",
        once.display(),
        once.display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The ingest runs, oldest first: (status, rows read, fingerprint).
async fn runs(url: &str) -> Vec<(String, i64, Option<String>)> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let rows = sqlx::query_as("SELECT status, rows_read, fingerprint FROM ingest_runs ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

/// Waits for `path` while the daemon runs, then stops the daemon.
async fn until_exists(daemon: &mut Running, path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > Duration::from_secs(90) {
            daemon.kill().unwrap();
            daemon.wait().unwrap();
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 17 (2): while a 20,000-row `report.csv` is read, an editor saves a 500-row file over
/// it (writes `.report.csv.tmp`, renames it over). The file read is not moved: its run is marked
/// `changed` (never complete), and the new 500-row file is taken next, from its own content,
/// and is the one in `processed/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_while_it_is_read_is_not_moved_and_its_new_content_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, &[("market-penalties", FAST_FOLDER.to_string())], &[]);
    let url = Settings::load(&config).unwrap().gateway.database_url;
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    sample(&root.join("large.csv"), SampleItem::Penalties, 20_000, 0.0, SampleFormat::Csv);
    // The new version: other rows (another seed's worth: every 行政处罚决定书文号 changed).
    let small_expected = sample(&root.join("small.csv"), SampleItem::Penalties, 500, 0.0, SampleFormat::Csv);
    let small = std::fs::read_to_string(root.join("small.csv")).unwrap().replace("处罚〔", "罚改〔");
    std::fs::write(root.join("small.csv"), &small).unwrap();
    let script = mid_read_script(
        root,
        &format!(
            "cp '{}' \"$(dirname \"$1\")/.report.csv.tmp\"\nmv \"$(dirname \"$1\")/.report.csv.tmp\" \"$1\"",
            root.join("small.csv").display()
        ),
    );
    std::fs::rename(root.join("large.csv"), inbox.join("report.csv")).unwrap();

    let mut daemon = daemon_with(&config, Some(&script));
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today).join("report.csv");
    until_exists(&mut daemon, &processed, "the new report.csv is processed").await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    assert!(root.join("mid-read.done").exists(), "the file was replaced in the middle of its read");
    assert_eq!(std::fs::read_to_string(&processed).unwrap(), small, "processed/ holds the new file");
    assert!(!inbox.join("report.csv").exists());
    let runs = runs(&url).await;
    let statuses: Vec<(&str, i64)> = runs.iter().map(|(s, n, _)| (s.as_str(), *n)).collect();
    assert_eq!(statuses, [("changed", 20_000), ("done", 500)], "the run of the replaced file is not complete");
    let new_rows = "SELECT count(*) FROM records WHERE content LIKE '%罚改〔%'";
    assert_eq!(scalar(&url, new_rows).await, small_expected.good as i64, "every row of the new file is stored");
}

/// Issue 17 (2), found by `bench soak`: a file saved over between the last look and the move
/// (after its rows were read and found unchanged) is not moved in its place: the new file is put
/// back, the run marked `changed`, and the new file taken from its own content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_just_before_it_is_moved_is_put_back_and_taken() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, &[("market-penalties", FAST_FOLDER.to_string())], &[]);
    let url = Settings::load(&config).unwrap().gateway.database_url;
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    sample(&root.join("first.csv"), SampleItem::Penalties, 100, 0.0, SampleFormat::Csv);
    let second = sample(&root.join("second.csv"), SampleItem::Penalties, 200, 0.0, SampleFormat::Csv);
    let text = std::fs::read_to_string(root.join("second.csv")).unwrap().replace("处罚〔", "罚改〔");
    std::fs::write(root.join("second.csv"), &text).unwrap();
    let script = seam_script(
        root,
        "before-move",
        &format!(
            "cp '{}' \"$(dirname \"$1\")/.r.tmp\"\nmv \"$(dirname \"$1\")/.r.tmp\" \"$1\"",
            root.join("second.csv").display()
        ),
    );
    std::fs::rename(root.join("first.csv"), inbox.join("report.csv")).unwrap();
    let mut daemon = daemon_with(&config, Some(&script));
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today);
    // The first file passes through processed/ and back: done is when the second is taken.
    let left = inbox.join("report.csv");
    let second_taken = || async {
        let Ok(pool) = sqlx::SqlitePool::connect(&url).await else { return false };
        let done: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM ingest_runs WHERE status = 'done'").fetch_one(&pool).await;
        pool.close().await;
        done.is_ok_and(|n| n == 1) && !left.exists()
    };
    eventually_async(second_taken).await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(root.join("mid-read.done").exists(), "the file was replaced just before its move");
    assert_eq!(std::fs::read_to_string(processed.join("report.csv")).unwrap(), text, "the file read last is there");
    assert_eq!(files_in(&processed), ["report.csv"], "nothing moved unread");
    let statuses: Vec<(String, i64)> = runs(&url).await.into_iter().map(|(s, n, _)| (s, n)).collect();
    assert_eq!(statuses, [("changed".to_string(), 100), ("done".to_string(), 200)]);
    let new_rows = "SELECT count(*) FROM records WHERE content LIKE '%罚改〔%'";
    assert_eq!(scalar(&url, new_rows).await, second.good as i64);
}

/// Issue 17 (3): a 30,000-row file cut to a third in the middle of its read. The partial run
/// is marked `changed`, not `done`; the cut file is taken again as it now is; and the complete
/// file dropped again later is ingested whole, not refused as a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_while_it_is_read_is_taken_again_and_never_blocks_the_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, &[("market-penalties", FAST_FOLDER.to_string())], &[]);
    let url = Settings::load(&config).unwrap().gateway.database_url;
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    const N: u64 = 30_000;
    let expected = sample(&root.join("full.csv"), SampleItem::Penalties, N, 0.0, SampleFormat::Csv);
    let full = std::fs::read(root.join("full.csv")).unwrap();
    let script = mid_read_script(root, &format!("truncate -s {} \"$1\"", full.len() / 3));
    std::fs::copy(root.join("full.csv"), inbox.join("penalties.csv")).unwrap();

    let mut daemon = daemon_with(&config, Some(&script));
    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today);
    until_exists(&mut daemon, &processed.join("penalties.csv"), "the cut file is processed").await;
    assert!(root.join("mid-read.done").exists(), "the file was cut in the middle of its read");
    let first = runs(&url).await;
    assert_eq!(first[0].0, "changed", "the run that read a file being cut is not complete: {first:?}");
    assert!(first[0].1 < N as i64, "{first:?}");
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(first[1].0, "done", "the cut file, taken again as it now is");
    assert!(first[1].1 < N as i64, "{first:?}");

    // The department drops the complete file again: all of it is stored.
    std::fs::write(root.join("again.csv"), &full).unwrap();
    std::fs::rename(root.join("again.csv"), inbox.join("penalties-again.csv")).unwrap();
    until_exists(&mut daemon, &processed.join("penalties-again.csv"), "the complete file is processed").await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let all = runs(&url).await;
    assert_eq!(all.len(), 3, "ingested, not refused as a duplicate: {all:?}");
    assert_eq!((all[2].0.as_str(), all[2].1), ("done", N as i64));
    assert_eq!(all[2].2, first[0].2, "the same bytes as the run that was cut");
    assert_eq!(scalar(&url, "SELECT count(*) FROM records").await, expected.good as i64, "every row stored");
    let outbox = inbox.join("outbox");
    assert!(!outbox.join("penalties-again.csv.duplicate.txt").exists());
}

/// Issue 17 (8): a file whose every row is rejected for a code the code table lacks is taken
/// again once the code table has it, though its bytes are the same: its earlier run stored
/// nothing, and the configuration now loaded gives another outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fully_rejected_file_is_taken_again_after_the_code_table_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = config(root, &[("market-penalties", FAST_FOLDER.to_string())], &[]);
    let url = Settings::load(&config).unwrap().gateway.database_url;
    let inbox = root.join("inbox/penalties");
    std::fs::create_dir_all(&inbox).unwrap();
    sample(&root.join("s.csv"), SampleItem::Penalties, 60, 0.0, SampleFormat::Csv);
    // Every row's 行政相对人类别 is a name the code table does not know yet.
    let mut reader = csv::Reader::from_path(root.join("s.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let kind = header.iter().position(|h| h == "行政相对人类别").expect("a 行政相对人类别 column");
    let mut writer = csv::Writer::from_path(root.join("bad.csv")).unwrap();
    writer.write_record(&header).unwrap();
    for row in reader.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_string).collect();
        if row[kind].contains("法人") {
            row[kind] = "社会团体法人".into();
        }
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    drop(writer);
    let bytes = std::fs::read(root.join("bad.csv")).unwrap();
    std::fs::write(inbox.join("penalties.csv"), &bytes).unwrap();

    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today);
    let mut first = daemon(&config);
    until_exists(&mut first, &processed.join("penalties.csv"), "the file is processed").await;
    first.kill().unwrap();
    first.wait().unwrap();
    let stored_before = scalar(&url, "SELECT count(*) FROM records").await;
    let rejected = scalar(&url, "SELECT rejected FROM ingest_runs").await;
    assert!(rejected > 0, "rows rejected for the unknown 行政相对人类别");

    // The code table is fixed, the daemon started again, the same bytes dropped again.
    let tables = root.join("config/code-tables.toml");
    let text = std::fs::read_to_string(&tables).unwrap();
    let fixed = text.replace("\"非法人组织\", \"企业\"]", "\"非法人组织\", \"企业\", \"社会团体法人\"]");
    assert_ne!(text, fixed);
    std::fs::write(&tables, fixed).unwrap();
    std::fs::write(inbox.join("penalties-again.csv"), &bytes).unwrap();
    let mut second = daemon(&config);
    until_exists(&mut second, &processed.join("penalties-again.csv"), "the file dropped again is processed").await;
    second.kill().unwrap();
    second.wait().unwrap();
    let runs = runs(&url).await;
    assert_eq!(runs.len(), 2, "taken again, not refused as a duplicate: {runs:?}");
    assert_eq!(runs[1].0, "done");
    let stored_after = scalar(&url, "SELECT count(*) FROM records").await;
    assert_eq!(stored_after - stored_before, rejected, "the rows the code table refused are stored now");
    assert!(!inbox.join("outbox/penalties-again.csv.duplicate.txt").exists());
}

/// Issue 17 (5): the error report cannot be written (the outbox is a plain file): the good rows
/// are stored all the same, the file goes to `processed/`, the run says why its report is
/// missing (shown as 错误报告未写出 on the connectors page), and once the outbox can be written
/// the daemon writes the report. A file named too long for `<name>.errors.csv` gets its report
/// under a shortened name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_rows_are_stored_when_the_error_report_cannot_be_written_and_it_is_written_later() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let connector = format!("{FAST_FOLDER}outbox = \"outbox/market\"\n");
    let config = config(root, &[("market-penalties", connector)], &[]);
    let (settings, store) = load(&config).await;
    let url = settings.gateway.database_url.clone();
    let inbox = root.join("inbox/penalties");
    let outbox = root.join("outbox/market");
    std::fs::create_dir_all(root.join("outbox")).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(&outbox, "not a folder").unwrap();
    let expected = sample(&root.join("p.csv"), SampleItem::Penalties, 400, 0.05, SampleFormat::Csv);
    assert!(expected.good < expected.rows);
    std::fs::rename(root.join("p.csv"), inbox.join("p.csv")).unwrap();

    let today = credit_gateway::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let processed = inbox.join("processed").join(&today);
    let mut daemon = daemon(&config);
    until_exists(&mut daemon, &processed.join("p.csv"), "the file is processed").await;
    assert_eq!(scalar(&url, "SELECT count(*) FROM records").await, expected.good as i64, "the good rows are stored");
    let runs = store.recent_runs(None, 10).await.unwrap();
    assert_eq!(runs[0].status, "done");
    let why = runs[0].report_error.clone().expect("the run says its report is missing");
    let shown = credit_gateway::web::operations::run_status(&runs[0]).into_string();
    assert!(shown.contains("错误报告未写出"), "{shown}");

    // The outbox is made writable: the daemon's next pass writes the report.
    std::fs::remove_file(&outbox).unwrap();
    until_exists(&mut daemon, &outbox.join("p.csv.errors.csv"), "the report is written later").await;
    let report = std::fs::read_to_string(outbox.join("p.csv.errors.csv")).unwrap();
    let problems = scalar(&url, "SELECT count(*) FROM row_problems").await;
    assert!(problems as u64 >= expected.rows - expected.good - expected.skipped);
    assert_eq!(report.lines().count() as i64, 1 + problems, "each stored problem reported ({why})");
    let pending = "SELECT count(*) FROM ingest_runs WHERE report_error IS NOT NULL";
    eventually_async(|| async { scalar(&url, pending).await == 0 }).await;

    // A name too long for its report: the report's name is shortened, the rows stored.
    let long = format!("{}.csv", "市场监管行政处罚".repeat(10)); // 244 bytes
    sample(&root.join("l.csv"), SampleItem::Penalties, 50, 0.1, SampleFormat::Csv);
    std::fs::rename(root.join("l.csv"), inbox.join(&long)).unwrap();
    until_exists(&mut daemon, &processed.join(&long), "the long-named file is processed").await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let reports = files_in(&outbox);
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports.iter().any(|r| r.starts_with("市场监管行政处罚") && r.ends_with(".csv.errors.csv") && r.len() <= 240)
    );
    assert_eq!(scalar(&url, "SELECT count(*) FROM ingest_runs WHERE status = 'done'").await, 2);
    store.close().await;
}

async fn eventually_async<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
