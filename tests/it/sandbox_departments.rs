//! The sandbox department sources, pulled by the shipped connectors (their pagination,
//! incremental filter and credentials) and read by the shipped mappings: every record arrives
//! exactly once, later sweeps bring only what is new, good records are accepted, and each bad
//! one is rejected for the one rule it breaks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::connector::http::Auth;
use credit_gateway::connector::runner;
use credit_gateway::connector::sql::DbUrl;
use credit_gateway::connector::{Connector, Source, SourceSettings};
use credit_gateway::format::{self, RawRow, ReadOptions};
use credit_gateway::mapping::{Mapping, RowOutcome, RowScratch};
use credit_gateway::problem::Severity;
use credit_gateway::secret::SecretSource;
use credit_gateway::sim::lists::{ListFormat, ListSpec, MarketList, bad_rule, write_list};
use credit_gateway::sim::sample::DEMO_SEED;
use credit_gateway::sim::sandbox::departments::{
    BadKind, DEFAULT_COURT_KEY, DEFAULT_TAX_TOKEN, DepartmentSources, SandboxServer, serve, write_utility_db,
};
use credit_gateway::store::{RecordRow, Store};

fn settings() -> Settings {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.toml");
    Settings::load(&file).unwrap_or_else(|e| panic!("the shipped configuration loads: {e}"))
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").expect("a test time")
}

const INTERVAL: i64 = 60;

/// Growing sources (one record a minute, a backlog of `backlog`) on a clock the test moves.
fn sources(backlog: u64) -> (Arc<DepartmentSources>, Arc<AtomicI64>) {
    let start = at("2024-05-06T08:00:00");
    let offset = Arc::new(AtomicI64::new((backlog as i64 - 1) * INTERVAL));
    let o = offset.clone();
    let s = DepartmentSources::new(20_240_506, start, Duration::from_secs(INTERVAL as u64), backlog)
        .with_bad_share(0.08)
        .with_clock(move || start + TimeDelta::seconds(o.load(Ordering::SeqCst)));
    (Arc::new(s), offset)
}

/// One mapped row: the source's record id, accepted or not, its error problems.
#[derive(Debug)]
struct Mapped {
    id: u64,
    accepted: bool,
    errors: Vec<String>,
}

/// Reads a pulled file as ingest does and maps every row.
fn map_file(path: &Path, mapping: &Mapping) -> Vec<Mapped> {
    let opts = ReadOptions { records: mapping.records.clone(), ..ReadOptions::default() };
    let rows: Vec<RawRow> = format::open(path, &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|r| r.expect("every record is readable"))
        .collect();
    let at = mapping.find_header(&rows).expect("a header");
    let binding = mapping.bind(&rows[at]).expect("every mapped column is there");
    let id_col = rows[at].cells.iter().position(|c| c == "id").expect("an id column");
    let mut scratch = RowScratch::default();
    rows[at + 1..]
        .iter()
        .map(|row| {
            let outcome = mapping.map_row(&binding, row, &mut scratch);
            let errors = scratch
                .problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .map(|p| {
                    let field = p.field.map_or("row", |f| mapping.item.fields[f].key.as_str());
                    format!("{field}:{}", p.code.as_str())
                })
                .collect();
            Mapped {
                id: row.cells[id_col].parse().expect("a numeric id"),
                accepted: matches!(outcome, RowOutcome::Accepted),
                errors,
            }
        })
        .collect()
}

/// One pass of a connector from `checkpoint`; returns the files it handed over.
async fn sweep(source: &mut Box<dyn Source>, checkpoint: &mut Option<String>) -> Vec<PathBuf> {
    source.start_pass();
    let mut files = Vec::new();
    for _ in 0..1_000 {
        let Some(pulled) = source.next_file(checkpoint.as_deref()).await.expect("the pull succeeds") else {
            return files;
        };
        files.extend(pulled.path);
        if let Some(c) = pulled.checkpoint {
            *checkpoint = Some(c);
        }
    }
    panic!("the sweep does not end");
}

/// The shipped HTTP connector `name`, pointed at the sandbox server, its secret in a file.
fn http_connector(settings: &Settings, name: &str, server: &SandboxServer, secret: &str, dir: &Path) -> Connector {
    let connector = settings.connector(name).unwrap_or_else(|| panic!("connector {name}")).clone();
    let SourceSettings::Http(mut http) = connector.source.clone() else { panic!("{name} is an http connector") };
    assert_eq!(http.url.host_str(), Some("127.0.0.1"));
    http.url.set_port(Some(server.addr.port())).unwrap();
    let file = dir.join(format!("{name}.secret"));
    std::fs::write(&file, secret).unwrap();
    let token = SecretSource::from_keys(None, Some(file)).unwrap();
    http.auth = match http.auth {
        Some(Auth::Bearer(_)) => Some(Auth::Bearer(token)),
        Some(Auth::Header { name, .. }) => Some(Auth::Header { name, token }),
        other => panic!("unexpected auth {other:?}"),
    };
    Connector { source: SourceSettings::Http(http), work_dir: dir.join(name), ..connector }
}

/// Checks one sweep's rows: exactly the records `ids`, each good one accepted and each bad
/// one rejected with exactly the problem `expect` names.
fn check(mapped: &[Mapped], ids: std::ops::RangeInclusive<u64>, expect: impl Fn(u64) -> Option<String>) {
    let got: Vec<u64> = mapped.iter().map(|m| m.id).collect();
    assert_eq!(got, ids.collect::<Vec<_>>(), "every record once, in order");
    let mut bad = 0;
    for m in mapped {
        match expect(m.id) {
            None => assert!(m.accepted && m.errors.is_empty(), "record {} should be accepted: {:?}", m.id, m.errors),
            Some(problem) => {
                bad += 1;
                assert!(!m.accepted, "record {} should be rejected", m.id);
                assert_eq!(m.errors, vec![problem], "record {}", m.id);
            }
        }
    }
    assert!(bad > 0, "some bad records in the sweep");
}

fn tax_problem(s: &DepartmentSources, id: u64) -> Option<String> {
    let r = s.tax(id - 1);
    r.bad.map(|kind| {
        match kind {
            BadKind::WrongCheckChar => "QS_SHXYM:bad_credit_code",
            BadKind::MissingRequired => "QS_NSRMC:required",
            BadKind::BadDate => "QS_RDRQ:bad_date",
            BadKind::DateOrder => unreachable!("not a tax kind"),
        }
        .to_string()
    })
}

fn court_problem(s: &DepartmentSources, id: u64) -> Option<String> {
    let r = s.court(id - 1);
    r.bad.map(|kind| {
        match kind {
            BadKind::WrongCheckChar if r.zjhm.is_empty() => "SX_SHXYM:bad_credit_code",
            BadKind::WrongCheckChar => "SX_ZJHM:bad_id_number",
            BadKind::MissingRequired => "SX_AH:required",
            BadKind::BadDate => "SX_LARQ:bad_date",
            BadKind::DateOrder => unreachable!("not a court kind"),
        }
        .to_string()
    })
}

fn utility_problem(s: &DepartmentSources, id: u64) -> Option<String> {
    let r = s.utility(id - 1);
    r.bad.map(|kind| {
        match kind {
            BadKind::WrongCheckChar if r.sfzhm.is_some() => "QF_ZJHM:bad_id_number",
            BadKind::WrongCheckChar => "QF_SHXYM:bad_credit_code",
            BadKind::MissingRequired => "QF_YHMC:required",
            BadKind::DateOrder => "QF_TJRQ:date_order",
            BadKind::BadDate => unreachable!("not a utilities kind"),
        }
        .to_string()
    })
}

#[tokio::test]
async fn the_shipped_http_connectors_pull_the_sandbox_apis() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = settings();
    let dir = tempfile::tempdir().unwrap();
    let (sources, clock) = sources(230);
    let server = serve("127.0.0.1:0".parse().unwrap(), sources.clone()).await.unwrap();

    let cases = [
        ("tax-arrears", DEFAULT_TAX_TOKEN, tax_problem as fn(&DepartmentSources, u64) -> Option<String>),
        ("court-dishonest", DEFAULT_COURT_KEY, court_problem),
    ];
    for (name, secret, problem) in cases {
        clock.store(229 * INTERVAL, Ordering::SeqCst);
        let connector = http_connector(&settings, name, &server, secret, dir.path());
        let mapping = settings.mapping(&connector.mapping).expect("the connector's mapping");
        let mut source = connector.open_source(mapping, &Clock::real()).expect("a source");
        let mut checkpoint = None;

        let files = sweep(&mut source, &mut checkpoint).await;
        let mapped: Vec<Mapped> = files.iter().flat_map(|f| map_file(f, mapping)).collect();
        check(&mapped, 1..=230, |id| problem(&sources, id));

        // Time passes: the next sweep asks only for what is new since.
        clock.fetch_add(75 * INTERVAL, Ordering::SeqCst);
        let files = sweep(&mut source, &mut checkpoint).await;
        let mapped: Vec<Mapped> = files.iter().flat_map(|f| map_file(f, mapping)).collect();
        check(&mapped, 231..=305, |id| problem(&sources, id));

        let files = sweep(&mut source, &mut checkpoint).await;
        assert!(files.is_empty(), "{name}: nothing new, nothing pulled: {files:?}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_shipped_sql_connector_reads_the_sandbox_table() {
    let settings = settings();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sandbox/utilities.db", dir.path().display());
    let (sources, _) = sources(230);
    let now = sources.updated_at(229);
    assert_eq!(write_utility_db(&url, &sources, now).await.unwrap(), 230);

    let connector = settings.connector("utility-arrears").expect("connector utility-arrears").clone();
    let SourceSettings::Sql(mut sql) = connector.source.clone() else { panic!("a sql connector") };
    assert_eq!(sql.url, DbUrl::Plain("sqlite://data/sandbox/utilities.db".into()));
    sql.url = DbUrl::Plain(url.clone());
    sql.batch_rows = 100;
    let connector = Connector { source: SourceSettings::Sql(sql), work_dir: dir.path().join("utility"), ..connector };
    let mapping = settings.mapping(&connector.mapping).expect("the connector's mapping");
    let mut source = connector.open_source(mapping, &Clock::real()).expect("a source");
    let mut checkpoint = None;

    let files = sweep(&mut source, &mut checkpoint).await;
    assert_eq!(files.len(), 3);
    let mapped: Vec<Mapped> = files.iter().flat_map(|f| map_file(f, mapping)).collect();
    check(&mapped, 1..=230, |id| utility_problem(&sources, id));

    let later = now + TimeDelta::seconds(75 * INTERVAL);
    assert_eq!(write_utility_db(&url, &sources, later).await.unwrap(), 75);
    let files = sweep(&mut source, &mut checkpoint).await;
    let mapped: Vec<Mapped> = files.iter().flat_map(|f| map_file(f, mapping)).collect();
    check(&mapped, 231..=305, |id| utility_problem(&sources, id));
}

#[tokio::test]
async fn the_shipped_sql_connector_reads_the_sandbox_table_on_mariadb_and_postgres() {
    use sqlx::ConnectOptions;
    use std::str::FromStr;

    let settings = settings();
    let dir = tempfile::tempdir().unwrap();
    let table = format!("utility_arrears_it{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let (sources, _) = sources(230);
    let now = sources.updated_at(229);
    let mysql = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let pg = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    for url in [mysql, pg] {
        let reachable = if url.starts_with("mysql:") {
            sqlx::mysql::MySqlConnectOptions::from_str(&url).unwrap().connect().await.is_ok()
        } else {
            sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().connect().await.is_ok()
        };
        if !reachable {
            eprintln!("note: {url} unreachable: skipped");
            continue;
        }
        let written = credit_gateway::sim::sandbox::departments::write_utility_table(&url, &table, &sources, now).await;
        let connector = settings.connector("utility-arrears").expect("connector utility-arrears").clone();
        let SourceSettings::Sql(mut sql) = connector.source.clone() else { panic!("a sql connector") };
        sql.url = DbUrl::Plain(url.clone());
        sql.query = sql.query.replace("FROM utility_arrears", &format!("FROM {table}"));
        sql.batch_rows = 100;
        let connector = Connector { source: SourceSettings::Sql(sql), work_dir: dir.path().join("u"), ..connector };
        let mapping = settings.mapping(&connector.mapping).expect("the connector's mapping");
        let mut source = connector.open_source(mapping, &Clock::real()).expect("a source");
        let mut checkpoint = None;
        let first = sweep(&mut source, &mut checkpoint).await;
        let mapped: Vec<Mapped> = first.iter().flat_map(|f| map_file(f, mapping)).collect();
        let later = now + TimeDelta::seconds(75 * INTERVAL);
        let appended =
            credit_gateway::sim::sandbox::departments::write_utility_table(&url, &table, &sources, later).await;
        let second = sweep(&mut source, &mut checkpoint).await;
        let mapped_later: Vec<Mapped> = second.iter().flat_map(|f| map_file(f, mapping)).collect();
        let drop = format!("DROP TABLE IF EXISTS {table}");
        if url.starts_with("mysql:") {
            let mut c = sqlx::mysql::MySqlConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
            sqlx::query(&drop).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
            sqlx::query(&drop).execute(&mut c).await.unwrap();
        }
        assert_eq!(written.unwrap(), 230, "{url}");
        assert_eq!(appended.unwrap(), 75, "{url}");
        check(&mapped, 1..=230, |id| utility_problem(&sources, id));
        check(&mapped_later, 231..=305, |id| utility_problem(&sources, id));
    }
}

// ---------------------------------------------------------------------------------------------
// The department lists through the shipped connectors into the store (real SQLite)

/// The shipped configuration in `root` with only the shipped connectors `names` (each folder
/// taking a file at once), its store a SQLite file there.
async fn store_config(root: &Path, names: &[&str], edit: impl Fn(&str) -> String) -> (Settings, Store) {
    crate::support::copy_config(root);
    for entry in std::fs::read_dir(root.join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !names.contains(&name.as_str()) {
            std::fs::remove_file(&path).unwrap();
            continue;
        }
        let text = edit(&std::fs::read_to_string(&path).unwrap());
        let text = if text.contains("kind = \"folder\"") { text + "settle_seconds = 0\n" } else { text };
        std::fs::write(&path, text).unwrap();
    }
    let gateway = root.join("config/gateway.toml");
    let text = std::fs::read_to_string(&gateway).unwrap();
    let db = format!("sqlite://{}", root.join("gateway.db").display());
    std::fs::write(&gateway, text.replace("sqlite://data/gateway.db", &db)).unwrap();
    let settings = Settings::load(&gateway).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    (settings, store)
}

fn key(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

fn content(record: &RecordRow) -> serde_json::Value {
    serde_json::from_str(&record.content).unwrap()
}

#[tokio::test]
async fn the_a_grade_list_is_pulled_page_by_page_and_then_only_what_is_new() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (sources, clock) = sources(230);
    let server = serve("127.0.0.1:0".parse().unwrap(), sources.clone()).await.unwrap();
    let port = server.addr.port();
    let (settings, store) = store_config(root, &["tax-a-grade"], |text| {
        text.replace("127.0.0.1:8091", &format!("127.0.0.1:{port}"))
            .replace("size = 100", "size = 10")
            .replace("rate_per_second = 5", "rate_per_second = 100")
    })
    .await;
    std::fs::create_dir_all(root.join("data/secrets")).unwrap();
    std::fs::write(root.join("data/secrets/tax-api.token"), format!("{DEFAULT_TAX_TOKEN}\n")).unwrap();

    // 230 records of the timeline hold 46 A-grade taxpayers: five pages of ten.
    let good = |range: std::ops::Range<u64>| range.filter(|&j| sources.tax_a(j).bad.is_none()).count() as i64;
    assert_eq!(sources.a_grade_visible_at(sources.now()), 46);
    let report = runner::run_once(&settings, &store, "tax-a-grade", &Clock::real()).await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.files.len(), 5, "pages of 10: {:?}", report.files);
    assert_eq!(report.rows(), 46);
    assert!(good(0..46) < 46, "some bad records in the list");
    assert_eq!(store.count_records(Some("TAX_A")).await.unwrap(), good(0..46));
    let first = (0..46).map(|j| sources.tax_a(j)).find(|a| a.bad.is_none()).unwrap();
    let record = store.record_by_key("TAX_A", &key(&[&first.nsrsbh, &first.pjnd.to_string()])).await.unwrap();
    let record = record.expect("the first good taxpayer is stored under its code and year");
    assert_eq!((record.department.as_str(), record.version), ("tax", 1));
    let c = content(&record);
    assert_eq!((c["A_NSRMC"].as_str(), c["A_JB"].as_str()), (Some(first.nsrmc.as_str()), Some("A")));

    // Later: the next sweep asks with since= and gets only the 15 new ones.
    clock.fetch_add(75 * INTERVAL, Ordering::SeqCst);
    let report = runner::run_once(&settings, &store, "tax-a-grade", &Clock::real()).await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.rows(), 15, "only what changed since the last sweep");
    assert_eq!(store.count_records(Some("TAX_A")).await.unwrap(), good(0..61));
    let report = runner::run_once(&settings, &store, "tax-a-grade", &Clock::real()).await.unwrap();
    assert_eq!((report.error.as_deref(), report.rows()), (None, 0), "nothing new, nothing ingested");
    store.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn market_list_exports_are_listed_then_changed_as_new_versions_of_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let names = ["market-abnormal", "market-serious", "market-commitments"];
    let (settings, store) = store_config(root, &names, str::to_string).await;
    let clock = Clock::fixed("2026-12-07T02:00:00Z".parse().unwrap());
    let listed = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let changed = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let cases = [
        (MarketList::Abnormal, "market-abnormal", ListFormat::CsvGbk, "YC_YCRQ"),
        (MarketList::Serious, "market-serious", ListFormat::Xlsx, "YZ_YCRQ"),
        (MarketList::Commitments, "market-commitments", ListFormat::Xlsx, "CN_LYRQ"),
    ];
    for (list, connector, format, change_date) in cases {
        let spec = ListSpec {
            list,
            seed: DEMO_SEED,
            rows: 30,
            first_date: listed,
            days: 45,
            changed_on: None,
            bad: true,
            format,
        };
        let inbox = root.join("data/inbox").join(connector);
        std::fs::create_dir_all(&inbox).unwrap();
        let ext = if format == ListFormat::Xlsx { "xlsx" } else { "csv" };
        let summary = write_list(&spec, &inbox.join(format!("{}.{ext}", list.name()))).unwrap();
        let report = runner::run_once(&settings, &store, connector, &clock).await.unwrap();
        assert_eq!(report.error, None, "{connector}");
        let file = &report.files[..];
        assert_eq!(file.len(), 1, "{connector}: {file:?}");
        assert_eq!((file[0].rows, file[0].rejected), (30, summary.bad), "{connector}");
        assert_eq!(summary.bad, 3);
        assert_eq!(store.count_records(Some(list.code())).await.unwrap(), 27, "{connector}");
        // Each bad row is refused for the one rule it breaks, in the department's error report.
        let problems: Vec<(i64, String)> = {
            let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
            let rows = sqlx::query_as(
                "SELECT p.line, COALESCE(p.field, '') || ':' || p.code FROM row_problems p \
                 JOIN ingest_runs r ON r.id = p.ingest_run_id WHERE r.connector = ? AND p.severity = 'error' ORDER BY p.line",
            )
            .bind(connector)
            .fetch_all(&pool)
            .await
            .unwrap();
            pool.close().await;
            rows
        };
        let header_line = if format == ListFormat::Xlsx { 2 } else { 1 };
        let expected: Vec<(i64, String)> = [7u64, 17, 27]
            .iter()
            .map(|&n| (header_line + 1 + n as i64, bad_rule(list, n).unwrap().to_string()))
            .collect();
        assert_eq!(problems, expected, "{connector}");

        // Two rounds later the clerk exports the changes: every third row, removed or settled.
        let changes = ListSpec { changed_on: Some(changed), bad: false, format: ListFormat::CsvGbk, ..spec.clone() };
        let summary = write_list(&changes, &inbox.join(format!("{}-变更.csv", list.name()))).unwrap();
        assert_eq!(summary.rows, 10);
        let report = runner::run_once(&settings, &store, connector, &clock).await.unwrap();
        assert_eq!(report.error, None, "{connector}");
        assert_eq!(report.rows(), 10);
        // Row 27 was refused when listed, so its change is a record of its own; the other nine
        // change their records.
        assert_eq!(store.count_records(Some(list.code())).await.unwrap(), 28, "{connector}");
        let pool = sqlx::SqlitePool::connect(&settings.gateway.database_url).await.unwrap();
        let versions: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, content FROM records WHERE item = ? ORDER BY id")
                .bind(list.code())
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        let second: Vec<&(i64, String)> = versions.iter().filter(|(v, _)| *v == 2).collect();
        assert_eq!(second.len(), 9, "{connector}");
        for (_, text) in &second {
            let c: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(c[change_date], "2026-12-01", "{connector}: {c}");
        }
        let record = store.records_after(0, 1_000).await.unwrap();
        let (id, _, _) = record.iter().find(|(_, item, text)| item == list.code() && *text == second[0].1).unwrap();
        let history = store.record_history(*id).await.unwrap();
        assert_eq!(history.len(), 1, "{connector}");
        let before: serde_json::Value = serde_json::from_str(&history[0].1).unwrap();
        assert!(before.get(change_date).is_none(), "{connector}: version 1 had no change: {before}");
        if list == MarketList::Commitments {
            assert_eq!(before["CN_LYZT"], "履约中");
            let now: serde_json::Value = serde_json::from_str(&second[0].1).unwrap();
            assert!(["已履约", "未履约"].contains(&now["CN_LYZT"].as_str().unwrap()), "{now}");
        }
    }
    store.close().await;
}
