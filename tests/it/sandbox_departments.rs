//! The sandbox department sources, pulled by the shipped connectors (their pagination,
//! incremental filter and credentials) and read by the shipped mappings: every record arrives
//! exactly once, later sweeps bring only what is new, good records are accepted, and each bad
//! one is rejected for the one rule it breaks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::connector::http::Auth;
use credit_gateway::connector::sql::DbUrl;
use credit_gateway::connector::{Connector, Source, SourceSettings};
use credit_gateway::format::{self, RawRow, ReadOptions};
use credit_gateway::mapping::{Mapping, RowOutcome, RowScratch};
use credit_gateway::problem::Severity;
use credit_gateway::secret::SecretSource;
use credit_gateway::sim::sandbox::departments::{
    BadKind, DEFAULT_COURT_KEY, DEFAULT_TAX_TOKEN, DepartmentSources, SandboxServer, serve, write_utility_db,
};

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
