//! `bench hostile`: the peak resident memory of files built to hit every reader limit at once.
//!
//! A workbook whose shared strings are just under [`Limits::max_shared_strings_bytes`] (calamine
//! holds them for the whole read) and whose rows each resolve to just under
//! [`Limits::max_row_bytes`], and a CSV of rows at the same size: each taken by one-shot `ingest`
//! in a process of its own, then all together by a `run` daemon, the workbook dropped into two
//! inboxes so two connectors hold their shared strings at the same time. A process's peak
//! (`VmHWM`) is read from /proc while it runs; every peak must stay under 400 MB.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use credit_gateway::config::Settings;
use credit_gateway::format::Limits;

const RSS_LIMIT_MB: u64 = 400;
/// Rows of the hostile files after the header.
const ROWS: usize = 40;
/// Each shared string's text: hex of random bytes, which deflate cannot squeeze past the ratio limit.
const STRING_CHARS: usize = 1_000;
/// The daemon's time to take the files out of its inboxes.
const TAKE_WITHIN: Duration = Duration::from_secs(300);

pub async fn bench_hostile(config: &Path, workdir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut guard = None;
    let dir = super::work_dir(workdir, &mut guard)?;
    // Nothing listens on the platform's port: the daemon's pushes back off, as when it is down.
    let gateway = super::scale_config(config, &dir, "sqlite://data/gateway.db", 9, 500)?;
    let limits = Limits::default();
    let header = penalties_header(&dir)?;
    let workbook = dir.join("limits.xlsx");
    let csv = dir.join("limits.csv");
    let t = Instant::now();
    write_workbook(&workbook, &header, &limits)?;
    write_csv(&csv, &header, &limits)?;
    eprintln!("生成测试文件用时 {:.1} 秒", t.elapsed().as_secs_f64());

    let mut figures = serde_json::json!({ "bench": "hostile", "rss_limit_mb": RSS_LIMIT_MB });
    let mut failures = Vec::new();
    for (name, file) in [("ingest_xlsx", &workbook), ("ingest_csv", &csv)] {
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("--config")
            .arg(&gateway)
            .args(["ingest", "--json", "--connector", "market-penalties"])
            .arg(file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting ingest")?;
        let mut peak = 0;
        while child.try_wait()?.is_none() {
            peak = peak.max(peak_rss_mb(child.id()));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        figures[format!("{name}_peak_rss_mb")] = peak.into();
        if peak >= RSS_LIMIT_MB {
            failures.push(format!("{name}: {peak} MB"));
        }
    }

    // The daemon: the workbook in two inboxes (two connectors read at once), the CSV in a third.
    let inboxes =
        folder_connectors(config, &dir, &["market-penalties", "market-licences", "market-supervision-items"])?;
    for (inbox, file) in inboxes.iter().zip([&workbook, &workbook, &csv]) {
        std::fs::copy(file, inbox.join(file.file_name().context("a file name")?))?;
    }
    let mut daemon = std::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(&gateway)
        .arg("run")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting the daemon")?;
    let started = Instant::now();
    let mut peak = 0;
    let taken = loop {
        peak = peak.max(peak_rss_mb(daemon.id()));
        if inboxes.iter().all(|i| files_in(i) == 0) {
            break true;
        }
        if started.elapsed() > TAKE_WITHIN {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = daemon.kill();
    let _ = daemon.wait();
    figures["daemon_peak_rss_mb"] = peak.into();
    figures["daemon_seconds"] = ((started.elapsed().as_secs_f64() * 10.0).round() / 10.0).into();
    if peak >= RSS_LIMIT_MB {
        failures.push(format!("daemon: {peak} MB"));
    }
    if !taken {
        failures.push("the daemon did not take the files within 300 s".into());
    }
    figures["ok"] = failures.is_empty().into();
    figures["failures"] = failures.clone().into();
    println!("{figures}");
    anyhow::ensure!(failures.is_empty(), "内存超限：{}", failures.join("；"));
    Ok(())
}

/// The header row of the market penalties template (the sample generator's).
fn penalties_header(dir: &Path) -> anyhow::Result<Vec<String>> {
    let path = dir.join("header.csv");
    let spec = credit_gateway::sim::sample::SampleSpec {
        item: credit_gateway::sim::sample::SampleItem::Penalties,
        rows: 1,
        seed: 1,
        bad_share: 0.0,
        summary_share: 0.0,
        format: credit_gateway::sim::sample::SampleFormat::Csv,
        first_date: chrono::NaiveDate::from_ymd_opt(2026, 6, 1).context("a date")?,
        days: 1,
        first_number: 0,
    };
    credit_gateway::sim::sample::write_sample(&spec, &path)?;
    let text = std::fs::read_to_string(&path)?;
    Ok(text.lines().next().unwrap_or_default().split(',').map(str::to_string).collect())
}

/// The shipped folder connectors named, each pointed at an inbox of its own under `dir`,
/// settling fast.
fn folder_connectors(config: &Path, dir: &Path, names: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let shipped = Settings::load(config)?.gateway.connectors_dir;
    let mut inboxes = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(shipped.join(format!("{name}.toml")))
            .with_context(|| format!("the shipped connector {name}"))?;
        let head = text.split("[folder]").next().unwrap_or_default();
        let inbox = dir.join("inbox").join(name);
        std::fs::create_dir_all(&inbox)?;
        let connector =
            format!("{head}[folder]\ninbox = \"{}\"\nsettle_seconds = 0.5\npoll_seconds = 1\n", inbox.display());
        std::fs::write(dir.join("connectors").join(format!("{name}.toml")), connector)?;
        inboxes.push(inbox);
    }
    Ok(inboxes)
}

fn files_in(inbox: &Path) -> usize {
    std::fs::read_dir(inbox)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .count()
}

/// A process's peak resident memory so far, 0 once it is gone.
fn peak_rss_mb(pid: u32) -> u64 {
    super::rss_mb(Some(pid), super::Rss::Peak).unwrap_or(0)
}

/// A string of `chars` hex digits of random bytes.
fn random_text(chars: usize) -> String {
    let mut s = String::with_capacity(chars);
    while s.len() < chars {
        s.push_str(&format!("{:016x}", fastrand::u64(..)));
    }
    s.truncate(chars);
    s
}

fn column_name(mut i: usize) -> String {
    let mut s = Vec::new();
    i += 1;
    while i > 0 {
        let r = (i - 1) % 26;
        s.push(b'A' + r as u8);
        i = (i - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// A workbook at every limit: shared strings whose estimated cost (as the reader counts it:
/// their XML, 48 bytes a string, 24 a string reserved) is just under the limit, then `ROWS`
/// rows of cells naming random strings, each row just under the row limit once resolved.
fn write_workbook(path: &Path, header: &[String], limits: &Limits) -> anyhow::Result<()> {
    use zip::write::SimpleFileOptions;
    let per_string = (STRING_CHARS + "<si><t></t></si>".len() + 72) as u64;
    let strings = (limits.max_shared_strings_bytes - 64 * 1024) / per_string;
    let cells = (limits.max_row_bytes / STRING_CHARS - 1).min(limits.max_row_cells - 1);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    let parts: [(&str, &str); 4] = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
             <Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/></Types>",
        ),
        (
            "_rels/.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>",
        ),
        (
            "xl/workbook.xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
             xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
        ),
        (
            "xl/_rels/workbook.xml.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
             <Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>",
        ),
    ];
    for (name, text) in parts {
        zip.start_file(name, options)?;
        zip.write_all(text.as_bytes())?;
    }
    zip.start_file("xl/sharedStrings.xml", options)?;
    write!(
        zip,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         count=\"{strings}\" uniqueCount=\"{strings}\">"
    )?;
    for _ in 0..strings {
        write!(zip, "<si><t>{}</t></si>", random_text(STRING_CHARS))?;
    }
    zip.write_all(b"</sst>")?;
    zip.start_file("xl/worksheets/sheet1.xml", options)?;
    zip.write_all(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\">",
    )?;
    for (i, h) in header.iter().enumerate() {
        write!(zip, "<c r=\"{}1\" t=\"inlineStr\"><is><t>{h}</t></is></c>", column_name(i))?;
    }
    zip.write_all(b"</row>")?;
    let columns: Vec<String> = (0..cells).map(column_name).collect();
    for r in 2..ROWS + 2 {
        write!(zip, "<row r=\"{r}\">")?;
        for c in &columns {
            write!(zip, "<c r=\"{c}{r}\" t=\"s\"><v>{}</v></c>", fastrand::u64(..strings))?;
        }
        zip.write_all(b"</row>")?;
    }
    zip.write_all(b"</sheetData></worksheet>")?;
    zip.finish()?;
    Ok(())
}

/// A CSV of `ROWS` rows each just under the row limit, of cells just under the cell limit.
fn write_csv(path: &Path, header: &[String], limits: &Limits) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{}", header.join(","))?;
    let cell = limits.max_cell_bytes - 16;
    let cells = limits.max_row_bytes / cell - 1;
    for _ in 0..ROWS {
        let row: Vec<String> = (0..cells).map(|_| random_text(cell)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    out.flush()?;
    Ok(())
}
