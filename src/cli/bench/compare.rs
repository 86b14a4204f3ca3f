//! `bench compare FILE`: the gateway's ingest of a department CSV beside what a data office
//! would script, on the same file and in the same run: `sqlite3 .import` into a table of text
//! columns with the item's business key as its unique key (and, given `--database`, the
//! gateway on PostgreSQL beside `psql \copy` into the same kind of table). Prints rows/s and
//! the gateway's ratio to each peer as one JSON line. Everything it creates (SQLite files,
//! PostgreSQL databases) is removed at the end, after an error too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::format::RawRow;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::store::{Store, scratch};

use super::{Cleanup, fresh_postgres_database, interrupted, load_average, peak_rss_mb, work_dir};

/// The peers' table: every header column as text, the business key's columns unique.
struct PeerTable {
    /// 0-based line of the header in the file.
    header_line: usize,
    columns: Vec<String>,
    key: Vec<usize>,
}

impl PeerTable {
    fn create_sql(&self) -> String {
        scratch::peer_table_sql(&self.columns, &self.key)
    }
}

pub async fn bench_compare(
    config: &Path,
    clock: &Clock,
    file: &Path,
    connector: &str,
    database: Option<&str>,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let mut cleanups = Vec::new();
    let result = tokio::select! {
        r = compare(config, clock, file, connector, database, &dir, &mut cleanups) => r,
        reason = interrupted() => Err(anyhow::anyhow!("{reason}")),
    };
    // Whatever happened above: what was made is removed.
    for c in cleanups {
        c.run().await;
    }
    result
}

async fn compare(
    config: &Path,
    clock: &Clock,
    file: &Path,
    connector: &str,
    database: Option<&str>,
    dir: &Path,
    cleanups: &mut Vec<Cleanup>,
) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    let table = peer_table(&settings, connector, file)?;
    let data_rows = count_rows(file, table.header_line)?;
    let load_before = load_average();

    // The gateway on SQLite, then sqlite3 .import, back to back.
    let db = dir.join(format!("compare-gateway-{}.db", std::process::id()));
    cleanups.push(Cleanup::SqliteFile(db.clone()));
    let gateway_sqlite = gateway_ingest(&settings, clock, connector, file, &format!("sqlite://{}", db.display()), dir)
        .await
        .context("the gateway's ingest into SQLite")?;
    let peer_db = dir.join(format!("compare-sqlite3-{}.db", std::process::id()));
    cleanups.push(Cleanup::SqliteFile(peer_db.clone()));
    let sqlite3 = sqlite3_import(&table, file, &peer_db).context("sqlite3 .import")?;

    let mut figures = serde_json::json!({
        "bench": "compare",
        "file": file.display().to_string(),
        "rows": data_rows,
        "key": table.key.iter().map(|i| table.columns[*i].clone()).collect::<Vec<_>>(),
        "gateway_sqlite_rows_per_sec": rate(data_rows, gateway_sqlite.secs),
        "gateway_sqlite_accepted": gateway_sqlite.accepted,
        "sqlite3_import_rows_per_sec": rate(data_rows, sqlite3.secs),
        "sqlite3_import_rows_stored": sqlite3.stored,
        "sqlite_ratio": ratio(sqlite3.secs, gateway_sqlite.secs),
    });

    if let Some(admin) = database {
        let (url, name) = fresh_postgres_database(admin).await?;
        cleanups.push(Cleanup::Postgres { admin: admin.to_string(), name });
        let gateway_pg = gateway_ingest(&settings, clock, connector, file, &url, dir)
            .await
            .context("the gateway's ingest into PostgreSQL")?;
        let (url, name) = fresh_postgres_database(admin).await?;
        cleanups.push(Cleanup::Postgres { admin: admin.to_string(), name });
        let copy = psql_copy(&table, file, &url).context("psql \\copy")?;
        figures["gateway_postgres_rows_per_sec"] = rate(data_rows, gateway_pg.secs).into();
        figures["gateway_postgres_accepted"] = gateway_pg.accepted.into();
        figures["psql_copy_rows_per_sec"] = rate(data_rows, copy.secs).into();
        figures["psql_copy_rows_stored"] = copy.stored.into();
        figures["postgres_ratio"] = ratio(copy.secs, gateway_pg.secs).into();
    }
    figures["peak_rss_mb"] = peak_rss_mb().into();
    figures["load_before"] = load_before.into();
    figures["load_after"] = load_average().into();
    println!("{figures}");
    Ok(())
}

struct Timed {
    secs: f64,
    accepted: u64,
}

struct Loaded {
    secs: f64,
    stored: u64,
}

fn rate(rows: u64, secs: f64) -> f64 {
    (rows as f64 / secs).round()
}

/// The gateway's rate over the peer's: `peer_secs / gateway_secs` (same rows).
fn ratio(peer_secs: f64, gateway_secs: f64) -> f64 {
    (peer_secs / gateway_secs * 1000.0).round() / 1000.0
}

async fn gateway_ingest(
    settings: &Settings,
    clock: &Clock,
    connector: &str,
    file: &Path,
    url: &str,
    dir: &Path,
) -> anyhow::Result<Timed> {
    let mut settings = settings.clone();
    settings.gateway.database_url = url.to_string();
    let store = Store::connect(url).await?;
    let opts = IngestOptions {
        report_path: Some(dir.join("compare.errors.csv")),
        progress: false,
        clock: clock.clone(),
        source: None,
    };
    let t = Instant::now();
    let summary = ingest_file(&settings, &store, connector, file, &opts).await;
    let secs = t.elapsed().as_secs_f64();
    store.close().await;
    let _ = std::fs::remove_file(dir.join("compare.errors.csv"));
    Ok(Timed { secs, accepted: summary?.accepted })
}

/// The header (found as the connector's mapping finds it) and the key's columns.
fn peer_table(settings: &Settings, connector: &str, file: &Path) -> anyhow::Result<PeerTable> {
    let connector = settings.connector(connector).with_context(|| format!("no connector {connector:?}"))?;
    let mapping = settings.mapping(&connector.mapping).context("the connector's mapping")?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let mut first = Vec::new();
    for (i, record) in reader.records().take(mapping.header_scan_rows).enumerate() {
        let record = record.context("a UTF-8 CSV file (sqlite3 and psql read it as it is)")?;
        first.push(RawRow { line: i as u64 + 1, cells: record.iter().map(str::to_string).collect() });
    }
    let header_line = mapping.find_header(&first).map_err(|e| anyhow::anyhow!("{e}"))?;
    let header = &first[header_line];
    let binding = mapping.bind(header).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut key: Vec<usize> =
        mapping.item.key.iter().flatten().flat_map(|field| mapping.columns_of(&binding, *field)).collect();
    key.sort_unstable();
    key.dedup();
    anyhow::ensure!(!key.is_empty(), "the file has none of the business key's columns");
    // Names as they are, made unique for the CREATE TABLE.
    let mut columns: Vec<String> = Vec::new();
    for (i, c) in header.cells.iter().enumerate() {
        let name = if c.trim().is_empty() || columns.contains(c) { format!("{c}_{i}") } else { c.clone() };
        columns.push(name);
    }
    Ok(PeerTable { header_line, columns, key })
}

/// Data rows after the header (CSV records, so quoted line breaks count once).
fn count_rows(file: &Path, header_line: usize) -> anyhow::Result<u64> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(file)?;
    let mut n = 0u64;
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        n += 1;
    }
    Ok(n.saturating_sub(header_line as u64 + 1))
}

/// `sqlite3 DB` reading `.import` from its standard input, as a person would type it.
fn sqlite3_import(table: &PeerTable, file: &Path, db: &Path) -> anyhow::Result<Loaded> {
    let script = format!(
        "{};\n.mode csv\n.import --skip {} '{}' peer\n",
        table.create_sql(),
        table.header_line + 1,
        file.display().to_string().replace('\'', "''")
    );
    let t = Instant::now();
    let output = run_with_input(Command::new("sqlite3").arg(db), &script)
        .context("running sqlite3 (apt-get install sqlite3)")?;
    let secs = t.elapsed().as_secs_f64();
    // Rows refused by the unique key are reported on stderr and skipped, as the peers do.
    anyhow::ensure!(output.status.success(), "sqlite3 failed: {}", tail(&output.stderr));
    let count = Command::new("sqlite3").arg(db).arg(scratch::PEER_COUNT_SQL).output()?;
    let stored = String::from_utf8_lossy(&count.stdout).trim().parse().context("counting sqlite3's rows")?;
    Ok(Loaded { secs, stored })
}

/// `psql URL` running `\copy` into the peers' table (made first, not timed).
fn psql_copy(table: &PeerTable, file: &Path, url: &str) -> anyhow::Result<Loaded> {
    let create = run_with_input(
        Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url]),
        &format!("{};\n", table.create_sql()),
    )
    .context("running psql")?;
    anyhow::ensure!(create.status.success(), "psql failed: {}", tail(&create.stderr));
    let path = file.display().to_string().replace('\'', "''");
    let source = match table.header_line {
        0 => format!("'{path}' WITH (FORMAT csv, HEADER true)"),
        // A title above the header: psql reads from the header's next line.
        n => format!("PROGRAM 'tail -n +{} ''{path}''' WITH (FORMAT csv)", n + 2),
    };
    let t = Instant::now();
    let output = run_with_input(
        Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url]),
        &format!("\\copy peer FROM {source}\n"),
    )?;
    let secs = t.elapsed().as_secs_f64();
    // COPY stops at the first repeated key: the file must hold each key once.
    anyhow::ensure!(output.status.success(), "psql \\copy failed: {}", tail(&output.stderr));
    let count = Command::new("psql").args(["-X", "-At", url, "-c", scratch::PEER_COUNT_SQL]).output()?;
    let stored = String::from_utf8_lossy(&count.stdout).trim().parse().context("counting psql's rows")?;
    Ok(Loaded { secs, stored })
}

fn run_with_input(command: &mut Command, input: &str) -> anyhow::Result<std::process::Output> {
    use std::io::Write as _;
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    child.stdin.take().context("the child's stdin")?.write_all(input.as_bytes())?;
    Ok(child.wait_with_output()?)
}

/// The last lines of a tool's error output.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
