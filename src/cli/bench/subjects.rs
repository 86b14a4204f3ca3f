//! `credit-gateway bench subjects`: `rows` 行政处罚 records about `subjects` enterprises in a
//! fresh SQLite store (a generated file through the shipped market mapping); then the time to
//! link them to their subjects, the search (`/api/v1/subjects?q=`: by code, code start, whole
//! name, part of a name) and the credit file (`/subjects/{code}`) over HTTP one request after
//! another, and grading every subject (`grade::grade_all`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use credit_gateway::clock::Clock;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::store::Store;

use super::{Cleanup, peak_rss_mb, percentile, work_dir};

/// A valid 统一社会信用代码 numbered `n` (registered in 宣城, 341800).
fn code(n: u64) -> String {
    let org8 = format!("MA{n:06}");
    let org9 = format!("{org8}{}", credit_gateway::ids::org_code_check_char(&org8).unwrap_or('0'));
    let first17 = format!("91341800{org9}");
    let check = credit_gateway::ids::credit_code_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

const TOWNS: [&str; 8] = ["宣城市", "宁国市", "广德市", "郎溪县", "泾县", "绩溪县", "旌德县", "宣州区"];
const TRADES: [&str; 8] = ["建材", "食品", "商贸", "化工", "物流", "餐饮", "机械", "纺织"];

fn name(n: u64) -> String {
    let town = TOWNS[(n % 8) as usize];
    let trade = TRADES[(n / 8 % 8) as usize];
    let form = if n % 3 == 0 { "有限责任公司" } else { "有限公司" };
    format!("{town}第{n}号（集团）{trade}{form}")
}

/// `rows` penalties spread over `subjects` enterprises: three in ten of them have theirs decided
/// over 2025-07 … 2026-06 (graded B–D on 2026-06-30), the others two years earlier (A).
fn write_file(path: &Path, rows: u64, subjects: u64) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "行政相对人名称,行政相对人类别,统一社会信用代码,法定代表人,行政处罚决定书文号,违法行为类型,违法事实,处罚依据,\
         处罚类别,处罚内容,罚款金额（万元）,暂扣或吊销证照名称及编号,处罚决定日期,处罚有效期,公示截止期,处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码"
    )?;
    let recent = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).context("date")?;
    let old = chrono::NaiveDate::from_ymd_opt(2023, 7, 1).context("date")?;
    let codes: Vec<String> = (0..subjects).map(code).collect();
    for i in 0..rows {
        let s = (i.wrapping_mul(2_654_435_761)) % subjects;
        let first = if s % 10 < 3 { recent } else { old };
        let date = first + chrono::Days::new(i % 365);
        let (kinds, licence) = match i % 50 {
            0 => ("罚款、吊销许可证", "许可证 宣市监许〔2025〕8号"),
            1 => ("罚款、吊销营业执照", "营业执照"),
            _ => ("罚款", ""),
        };
        writeln!(
            out,
            "{},法人,{},张三,宣市监处罚〔2025〕{i}号,无照经营,未取得营业执照从事经营活动,《无证无照经营查处办法》第十三条,\
             {kinds},罚款人民币2000元,0.2,{licence},{date},2099-12-31,{},宣城市市场监督管理局,11340600MB1234567C,宣城市市场监督管理局,11340600MB1234567C",
            name(s),
            codes[s as usize],
            date + chrono::Days::new(365),
        )?;
    }
    out.flush()?;
    Ok(())
}

pub async fn bench_subjects(
    config: &Path,
    clock: &Clock,
    rows: u64,
    subjects: u64,
    requests: usize,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    use credit_gateway::web::{AppState, auth};
    use std::sync::Arc;

    anyhow::ensure!(subjects > 0 && subjects <= 999_999 && requests > 0, "--subjects 1–999999, --requests above 0");
    let mut guard = None;
    let dir = work_dir(workdir, &mut guard)?;
    let file = dir.join(format!("subjects-{rows}-{subjects}.csv"));
    let t = Instant::now();
    write_file(&file, rows, subjects)?;
    eprintln!("generated {} in {:.1} s", file.display(), t.elapsed().as_secs_f64());
    let mut settings = credit_gateway::config::Settings::load(config)?;
    let db = dir.join(format!("bench-subjects-{}.db", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    settings.gateway.database_url = url.clone();
    let store = Store::connect(&url).await?;
    let opts = IngestOptions { report_path: None, progress: false, clock: clock.clone(), source: None };
    let t = Instant::now();
    let s = ingest_file(&settings, &store, "market-penalties", &file, &opts).await?;
    let ingest_secs = t.elapsed().as_secs_f64();
    eprintln!("ingested {} rows ({} accepted) in {ingest_secs:.1} s", s.rows, s.accepted);
    let t = Instant::now();
    let linked = store.link_subjects(&settings.catalogue).await?;
    let link_secs = t.elapsed().as_secs_f64();
    eprintln!("linked {linked} records in {link_secs:.1} s");

    let now = clock.now();
    let ops =
        auth::add_user(&store, &settings.departments, "bench-ops", "ops", None, Some("bench-口令-123"), now).await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (_calendar_tx, calendar) = tokio::sync::watch::channel(settings.calendar.clone());
    let state = AppState::new(Arc::new(settings.clone()), store.clone(), calendar).with_clock(clock.clone());
    let (addr, serve) = credit_gateway::web::bind("127.0.0.1:0".parse()?, state, stop).await?;
    let server = credit_gateway::supervisor::spawn_owned(serve);
    let base = format!("http://{addr}");
    credit_gateway::connector::http::install_crypto_provider();
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
    let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();

    // Queries of four kinds in turn, over subjects spread across the range.
    let mut search_times = Vec::with_capacity(requests);
    let mut hits_total = 0usize;
    for i in 0..=requests {
        let n = (i as u64).wrapping_mul(7_919) % subjects;
        let q = match i % 4 {
            0 => code(n),
            1 => code(n)[..14].to_string(),
            2 => name(n).replace('（', "(").replace('）', ")"),
            _ => format!("第{n}号"),
        };
        let t = Instant::now();
        let r = client.get(format!("{base}/api/v1/subjects?q={}", enc(&q))).bearer_auth(&ops.api_token).send().await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await?;
        let elapsed = t.elapsed();
        anyhow::ensure!(status.is_success(), "search {q}: {status} {body}");
        hits_total += body["items"].as_array().map_or(0, Vec::len);
        if i > 0 {
            search_times.push(elapsed.as_secs_f64() * 1000.0);
        }
    }
    search_times.sort_by(f64::total_cmp);

    let mut file_times = Vec::with_capacity(requests);
    for i in 0..=requests {
        let n = (i as u64).wrapping_mul(104_729) % subjects;
        let t = Instant::now();
        let r = client.get(format!("{base}/subjects/{}", code(n))).bearer_auth(&ops.api_token).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        let elapsed = t.elapsed();
        anyhow::ensure!(status.is_success(), "credit file {}: {status}", code(n));
        anyhow::ensure!(!body.is_empty());
        if i > 0 {
            file_times.push(elapsed.as_secs_f64() * 1000.0);
        }
    }
    file_times.sort_by(f64::total_cmp);
    let _ = stop_tx.send(true);
    let _ = server.await;

    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).context("date")?;
    let t = Instant::now();
    let run = credit_gateway::grade::grade_all(&settings, &store, as_of, now, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!(e.zh()))?;
    let grade_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = credit_gateway::grade::grade_all(&settings, &store, as_of, now, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!(e.zh()))?;
    let regrade_secs = t.elapsed().as_secs_f64();
    let records = store.count_records(None).await?;
    store.close().await;
    Cleanup::SqliteFile(db).run().await;
    let search_p95 = percentile(&search_times, 95);
    let file_p95 = percentile(&file_times, 95);
    let figures = serde_json::json!({
        "bench": "subjects",
        "records": records,
        "subjects": run.subjects,
        "ingest_seconds": (ingest_secs * 10.0).round() / 10.0,
        "link_seconds": (link_secs * 10.0).round() / 10.0,
        "search_requests": search_times.len(),
        "search_hits": hits_total,
        "search_ms_p50": percentile(&search_times, 50),
        "search_ms_p95": search_p95,
        "search_ms_max": percentile(&search_times, 100),
        "file_requests": file_times.len(),
        "file_ms_p50": percentile(&file_times, 50),
        "file_ms_p95": file_p95,
        "file_ms_max": percentile(&file_times, 100),
        "grade_seconds": (grade_secs * 10.0).round() / 10.0,
        "grade_result_records_seconds": (run.write_seconds * 10.0).round() / 10.0,
        "grade_per_grade": run.per_grade,
        "grade_records_new": run.records_new,
        "regrade_seconds": (regrade_secs * 10.0).round() / 10.0,
        "regrade_records_unchanged": again.records_unchanged,
        "search_p95_under_50ms": search_p95 < 50.0,
        "file_p95_under_100ms": file_p95 < 100.0,
        "grade_under_30s": grade_secs < 30.0,
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{figures}");
    Ok(())
}
