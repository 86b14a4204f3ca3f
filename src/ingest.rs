//! One-shot ingest of a department file: read → map → validate → store, streaming.
//!
//! A reader thread fingerprints, parses, maps and validates; the async side writes batches to
//! the store in large transactions. A bounded channel between them keeps memory flat whatever
//! the file size, and lets parsing overlap with writing. The department's error report is
//! written last, from the run's stored problems: a report that cannot be written costs no row.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::SecondsFormat;
use serde::Serialize;
use tokio::sync::mpsc;

use std::sync::Arc;

use crate::calendar::Calendar;
use crate::catalogue::Item;
use crate::clock::Clock;
use crate::config::Settings;
use crate::connector::Connector;
use crate::deadline::{self, RecordRule};
use crate::error_report::{ErrorReport, truncate};
use crate::format::{self, FileKind, RawRow, ReadOptions, RowError, RowErrorKind};
use crate::ids::mask_id_number;
use crate::mapping::{Binding, Mapping, RowOutcome, RowScratch};
use crate::problem::{ProblemCode, Severity};
use crate::publicity::{ItemRule, Publicity, RowAction};
use crate::record::{PreparedRecord, RejectedDecision, prepare, rejected_decision};
use crate::store::RunProblem;
use crate::store::{IngestCounts, IngestRunStart, ProblemRow, RunStatus, Store, StoreError};

/// Rows per batch handed from the reader to the writer.
const BATCH_ROWS: usize = 2_048;
/// Batches in flight: bounds memory while keeping both sides busy.
const CHANNEL_BATCHES: usize = 4;
/// Cell bytes read ahead while looking for the header (besides the row that passes it).
const HEADER_SCAN_BYTES: usize = 16 << 20;
/// Errors kept for the JSON answer; the report file and the store have all of them.
const MAX_LISTED_ERRORS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown connector {0:?}")]
    UnknownConnector(String),
    /// The file cannot be read as a whole; `report` tells the department why.
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String, reason_zh: String, report: Option<PathBuf> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reader thread failed: {0}")]
    Reader(String),
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Where the department's error report goes (default: beside the file).
    pub report_path: Option<PathBuf>,
    /// Show a progress bar on the terminal.
    pub progress: bool,
    /// Stamps the run's start, its rows' receipt and its end.
    pub clock: Clock,
    /// Where the rows came from, for lineage (default: the file's path); a pulled page
    /// names its URL.
    pub source: Option<String>,
}

/// A file opened once by whoever takes it: it is fingerprinted and read through this handle,
/// so the rows stored are the bytes fingerprinted, whatever happens to its path meanwhile.
#[derive(Debug)]
pub struct OpenedFile {
    pub file: std::fs::File,
    /// Already fingerprinted through this handle (the folder connector does so to find
    /// duplicates): not read a third time.
    pub fingerprint: Option<Fingerprint>,
}

/// A file's BLAKE3 and the number of bytes it was taken over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: String,
    pub bytes: u64,
}

/// One listed row problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowErrorEntry {
    pub row: u64,
    pub field: Option<String>,
    pub field_name: Option<String>,
    pub code: &'static str,
    pub reason: String,
    pub value: String,
}

/// What an ingest did, as `ingest --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    pub file: PathBuf,
    pub connector: String,
    pub ingest_run: i64,
    pub encoding: Option<String>,
    pub sheet: Option<String>,
    pub rows: u64,
    pub accepted: u64,
    pub new_records: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub warnings: u64,
    pub errors: Vec<RowErrorEntry>,
    pub errors_omitted: u64,
    /// Rows kept with a warning, listed like `errors`.
    pub warning_items: Vec<RowErrorEntry>,
    pub warnings_omitted: u64,
    /// Rows revoking (撤销) or deleting (删除) a record sent before, applied.
    pub revocations: u64,
    pub report: Option<PathBuf>,
    /// Why the error report could not be written; the rows are stored all the same, and a
    /// connector writes it again later.
    pub report_error: Option<String>,
    /// The BLAKE3 of the bytes read and how many there were.
    pub fingerprint: String,
    pub bytes: u64,
    /// Optional columns absent from the file and header columns not read.
    pub missing_columns: Vec<String>,
    pub unused_columns: Vec<String>,
    pub elapsed_ms: u64,
}

enum Message {
    Start(Box<StartInfo>),
    Batch(Batch),
}

struct StartInfo {
    fingerprint: Fingerprint,
    encoding: Option<String>,
    sheet: Option<String>,
    missing: Vec<String>,
    unused: Vec<String>,
}

#[derive(Default)]
struct Batch {
    records: Vec<PreparedRecord>,
    /// Decisions of rejected rows: 漏报 until corrected.
    rejected_decisions: Vec<RejectedDecision>,
    problems: Vec<ProblemRow>,
    rows: u64,
    rejected: u64,
    skipped: u64,
    warnings: u64,
    /// Department revocations, applied once the records are committed.
    revocations: Vec<crate::early_end::Revocation>,
}

#[derive(Default)]
struct ReaderEnd {
    errors: Vec<RowErrorEntry>,
    errors_omitted: u64,
    warning_items: Vec<RowErrorEntry>,
    warnings_omitted: u64,
}

/// Why the reader gave up on the whole file before any row.
struct FileFailure {
    fingerprint: Option<String>,
    reason: String,
    reason_zh: String,
    report: Option<PathBuf>,
}

/// Ingests one file through a connector's mapping into the store.
pub async fn ingest_file(
    settings: &Settings,
    store: &Store,
    connector_name: &str,
    path: &Path,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let opened = std::fs::File::open(path).map(|file| OpenedFile { file, fingerprint: None });
    ingest_opened(settings, store, connector_name, path, opened, opts).await
}

/// Ingests a file already opened (`path` names it for the kind and the messages): every byte
/// is read through that handle. The error report is written once the rows are committed, from
/// the run's stored problems; failing to write it loses no row (see `report_error`).
pub async fn ingest_opened(
    settings: &Settings,
    store: &Store,
    connector_name: &str,
    path: &Path,
    opened: std::io::Result<OpenedFile>,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let connector: Connector = settings
        .connector(connector_name)
        .cloned()
        .ok_or_else(|| IngestError::UnknownConnector(connector_name.to_string()))?;
    let mapping =
        settings.mapping(&connector.mapping).cloned().expect("connectors are checked against mappings when loaded");
    let mapping_item = mapping.item.clone();
    // New versions create their deliveries in the store: it must know the destinations.
    store.sync_destination_items(&settings.destination_items()).await?;
    // The 重码 check compares with the names of the subjects' records linked so far.
    store.link_subjects(&settings.catalogue).await?;
    store.forget_decisions_without_key(&settings.catalogue).await?;
    let report_path = opts.report_path.clone().unwrap_or_else(|| ErrorReport::path_beside(path));
    let now = opts.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let source = opts.source.clone().unwrap_or_else(|| path.display().to_string());

    let (tx, mut rx) = mpsc::channel::<Message>(CHANNEL_BATCHES);
    let reader = {
        let path = path.to_path_buf();
        let report_path = report_path.clone();
        let progress = opts.progress;
        let deadline = settings
            .deadlines
            .for_item(&connector.item)
            .map(|rule| (settings.calendar.clone(), rule.clone(), settings.deadlines.due_soon_working_days));
        let publicity = settings
            .publicity
            .for_item(&connector.item)
            .map(|rule| (settings.publicity.clone(), rule.clone(), mapping.publish_minor));
        // Decisions dated after today (Asia/Shanghai) are refused.
        let rules = ReadRules { deadline, publicity, today: opts.clock.today() };
        tokio::task::spawn_blocking(move || read_file(&path, opened, &mapping, rules, &report_path, progress, &tx))
    };

    let start = match rx.recv().await {
        Some(Message::Start(info)) => info,
        _ => {
            // The reader ended before a header: the file is unreadable as a whole.
            let failure = match reader.await.map_err(|e| IngestError::Reader(e.to_string()))? {
                Ok(_) => return Err(IngestError::Reader("reader ended without a header".into())),
                Err(f) => f,
            };
            let run = store
                .start_ingest(&IngestRunStart {
                    connector: &connector.name,
                    department: &connector.department,
                    item: &connector.item,
                    source: &source,
                    fingerprint: failure.fingerprint.as_deref(),
                    config_hash: settings.rules_hash(&connector.mapping),
                    started_at: &now,
                })
                .await?;
            store
                .finish_ingest(run, &IngestCounts::default(), RunStatus::Failed, Some(&failure.reason), None, &now)
                .await?;
            tracing::warn!(connector = %connector.name, file = %path.display(), reason = %failure.reason, "file refused");
            return Err(IngestError::Unreadable {
                path: path.to_path_buf(),
                reason: failure.reason,
                reason_zh: failure.reason_zh,
                report: failure.report,
            });
        }
    };

    let run_id = store
        .start_ingest(&IngestRunStart {
            connector: &connector.name,
            department: &connector.department,
            item: &connector.item,
            source: &source,
            fingerprint: Some(&start.fingerprint.hash),
            config_hash: settings.rules_hash(&connector.mapping),
            started_at: &now,
        })
        .await?;
    let mut counts = IngestCounts::default();
    let mut warnings = 0;
    let mut revocations = Vec::new();
    let mut store_warnings: Vec<ProblemRow> = Vec::new();
    let written: Result<(), StoreError> = async {
        let mut writer = store
            .record_writer(
                run_id,
                &connector.item,
                &connector.department,
                &now,
                settings.gateway.statement_rows,
                settings.gateway.commit_rows,
            )
            .await?;
        while let Some(message) = rx.recv().await {
            let Message::Batch(batch) = message else {
                continue;
            };
            // Checked against the store too: corrections by decision, repeated decisions, 重码.
            let checked = writer.write_checked(&batch.records, &batch.problems, &batch.rejected_decisions).await?;
            let w = checked.counts;
            warnings += checked.warnings.len() as u64;
            store_warnings.extend(checked.warnings);
            counts.rows += batch.rows;
            counts.rejected += batch.rejected;
            counts.skipped += batch.skipped;
            counts.accepted += w.inserted + w.new_versions;
            counts.new_versions += w.new_versions;
            counts.unchanged += w.unchanged;
            warnings += batch.warnings;
            revocations.extend(batch.revocations);
        }
        writer.finish().await
    }
    .await;
    // Dropping the receiver stops the reader if the store failed.
    drop(rx);
    let end = reader.await.map_err(|e| IngestError::Reader(e.to_string()))?;
    let finished = opts.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true);
    if let Err(e) = written {
        let msg = e.to_string();
        let _ = store
            .finish_ingest(run_id, &counts, RunStatus::Failed, Some(&msg), start.sheet.as_deref(), &finished)
            .await;
        return Err(e.into());
    }
    let mut end = match end {
        Ok(end) => end,
        Err(f) => {
            store
                .finish_ingest(run_id, &counts, RunStatus::Failed, Some(&f.reason), start.sheet.as_deref(), &finished)
                .await?;
            // The rows before the break are stored; the department learns about them and the break.
            let report = write_error_report(store, run_id, &mapping_item, &report_path).await.ok().flatten();
            return Err(IngestError::Unreadable {
                path: path.to_path_buf(),
                reason: f.reason,
                reason_zh: f.reason_zh,
                report: report.or(f.report),
            });
        }
    };
    // Revocations name records committed before (or earlier in this file): applied now.
    let revoked =
        crate::early_end::apply_revocations(settings, store, &connector.item, run_id, &revocations, &opts.clock)
            .await?;
    counts.rejected += revoked.refused.len() as u64;
    end.errors.extend(revoked.refused);
    store.finish_ingest(run_id, &counts, RunStatus::Done, None, start.sheet.as_deref(), &finished).await?;
    // Only now, with every row committed: a report that cannot be written costs no row.
    let (report, report_error) = match write_error_report(store, run_id, &mapping_item, &report_path).await {
        Ok(report) => (report, None),
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(connector = %connector.name, file = %path.display(), report = %report_path.display(),
                error = %reason, "the error report cannot be written; the rows are stored, it is written again later");
            store.set_run_report(run_id, &report_path.display().to_string(), Some(&reason)).await?;
            (None, Some(reason))
        }
    };
    tracing::info!(
        connector = %connector.name, file = %path.display(), rows = counts.rows, accepted = counts.accepted,
        unchanged = counts.unchanged, rejected = counts.rejected, skipped = counts.skipped, "file ingested"
    );
    // The store's warnings are in row_problems: the report above has them; the summary lists them.
    let mut warning_items = end.warning_items;
    let mut warnings_omitted = end.warnings_omitted;
    for p in store_warnings {
        if warning_items.len() < MAX_LISTED_ERRORS {
            warning_items.push(RowErrorEntry {
                row: p.line,
                field: p.field,
                field_name: None,
                code: p.code,
                reason: p.reason,
                value: p.value.unwrap_or_default(),
            });
        } else {
            warnings_omitted += 1;
        }
    }
    warning_items.sort_by_key(|w| w.row);
    Ok(IngestSummary {
        file: path.to_path_buf(),
        connector: connector.name.clone(),
        ingest_run: run_id,
        encoding: start.encoding,
        sheet: start.sheet,
        rows: counts.rows,
        accepted: counts.accepted,
        new_records: counts.accepted - counts.new_versions,
        new_versions: counts.new_versions,
        unchanged: counts.unchanged,
        rejected: counts.rejected,
        skipped: counts.skipped,
        warnings,
        errors: end.errors,
        errors_omitted: end.errors_omitted,
        warning_items,
        warnings_omitted,
        revocations: revoked.applied,
        report,
        report_error,
        fingerprint: start.fingerprint.hash,
        bytes: start.fingerprint.bytes,
        missing_columns: start.missing,
        unused_columns: start.unused,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// BLAKE3 of the file's bytes: the same file dropped again has the same fingerprint.
pub fn fingerprint(path: &Path) -> std::io::Result<String> {
    Ok(fingerprint_file(&std::fs::File::open(path)?)?.hash)
}

/// BLAKE3 of an open file's bytes, read by position (the handle's offset stays where it is),
/// with the number of bytes read: fewer than the size at open means it was cut meanwhile.
pub fn fingerprint_file(file: &std::fs::File) -> std::io::Result<Fingerprint> {
    use std::os::unix::fs::FileExt as _;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    loop {
        let n = match file.read_at(&mut buf, at) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(Fingerprint { hash: hasher.finalize().to_hex().to_string(), bytes: at })
}

/// Writes the department's error report of run `run_id` from its stored problems, page by
/// page (never all in memory); `None` when the run had none (a stale report is removed).
pub async fn write_error_report(
    store: &Store,
    run_id: i64,
    item: &Item,
    path: &Path,
) -> Result<Option<PathBuf>, ReportError> {
    const PAGE: i64 = 5_000;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut report = ErrorReport::create(path.to_path_buf())?;
    let mut after = 0i64;
    loop {
        let page = store.run_problems_after(run_id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for p in &page {
            let RunProblem { line, field, severity, reason, value, .. } = p;
            let name = field.as_deref().and_then(|k| item.fields.iter().find(|f| f.key == k)).map(|f| f.name.as_str());
            let shown = if severity == "warning" { format!("警告：{reason}") } else { reason.clone() };
            report.add(Some(*line as u64), name.unwrap_or(""), &shown, value.as_deref().unwrap_or(""))?;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    let written = report.finish()?;
    store.set_run_report(run_id, &path.display().to_string(), None).await?;
    Ok(written)
}

/// Why the error report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the reader checks each row against besides its mapping.
struct ReadRules {
    /// The calendar, the item's deadline rule and the due-soon margin, when the item has one.
    deadline: Option<(Arc<Calendar>, RecordRule, u32)>,
    /// The item's publicity rules and whether the mapping publishes minor penalties.
    publicity: Option<(Publicity, ItemRule, bool)>,
    /// Decisions dated after this day (Asia/Shanghai) are refused.
    today: chrono::NaiveDate,
}

/// The reader thread: everything CPU-bound happens here.
fn read_file(
    path: &Path,
    opened: std::io::Result<OpenedFile>,
    mapping: &Mapping,
    rules: ReadRules,
    report_path: &Path,
    progress: bool,
    tx: &mpsc::Sender<Message>,
) -> Result<ReaderEnd, FileFailure> {
    let ReadRules { deadline, publicity, today } = rules;
    let refuse = |fingerprint: Option<String>, reason: String, reason_zh: String| {
        // The department learns why its file was refused from the report too.
        let report = ErrorReport::create(report_path.to_path_buf())
            .and_then(|mut r| {
                r.add(None, "", &reason_zh, "")?;
                r.finish()
            })
            .ok()
            .flatten();
        FileFailure { fingerprint, reason, reason_zh, report }
    };
    let unreadable =
        |e: std::io::Error| refuse(None, format!("cannot read the file: {e}"), format!("无法读取文件：{e}"));
    let OpenedFile { file, fingerprint } = opened.map_err(unreadable)?;
    let fingerprint = match fingerprint {
        Some(known) => known,
        None => fingerprint_file(&file).map_err(unreadable)?,
    };
    let hash = fingerprint.hash.clone();
    let opts = ReadOptions {
        encoding: mapping.encoding,
        sheet: mapping.sheet.clone(),
        records: mapping.records.clone(),
        ..ReadOptions::default()
    };
    let mut rows = match format::open_file(file, path, &opts) {
        Ok(r) => r,
        Err(e) => return Err(refuse(Some(hash), e.to_string(), e.zh())),
    };
    // The header is among the first rows; a title row may stand above it. Rows and unreadable
    // rows in file order; the header is among the first readable ones. Held in memory until the
    // header is found, so the look-ahead also stops at HEADER_SCAN_BYTES: a header (and what
    // stands above it) is short, while rows of a hostile file may each be megabytes.
    let mut scanned: Vec<Result<RawRow, RowError>> = Vec::new();
    let (mut readable, mut bytes) = (0, 0);
    while readable < mapping.header_scan_rows && bytes < HEADER_SCAN_BYTES {
        match rows.next() {
            Some(item) => {
                if let Ok(row) = &item {
                    readable += 1;
                    bytes += row.cells.iter().map(String::len).sum::<usize>();
                }
                scanned.push(item);
            }
            None => break,
        }
    }
    let head: Vec<&RawRow> = scanned.iter().filter_map(|r| r.as_ref().ok()).collect();
    if head.is_empty() {
        let (reason, zh) = match scanned.iter().find_map(|r| r.as_ref().err()) {
            Some(e) => (e.to_string(), e.zh()),
            None => ("the file has no rows".to_string(), "文件没有任何数据行".to_string()),
        };
        return Err(refuse(Some(hash), reason, zh));
    }
    let header_at = mapping
        .find_header(head.iter().copied())
        .map_err(|e| match e {
            // The look-ahead stopped at its byte limit: say how many rows were looked at.
            crate::mapping::BindError::NoHeader(_) if head.len() < mapping.header_scan_rows => {
                crate::mapping::BindError::NoHeader(head.len())
            }
            e => e,
        })
        .map_err(|e| refuse(Some(hash.clone()), e.to_string(), e.zh()))?;
    let mut binding = mapping.bind(head[header_at]).map_err(|e| refuse(Some(hash.clone()), e.to_string(), e.zh()))?;
    binding.strict_width = rows.kind() == FileKind::Csv;
    binding.today = Some(today);
    let header_line = head[header_at].line;

    let start = StartInfo {
        fingerprint,
        encoding: rows.encoding().map(str::to_string),
        sheet: rows.sheet().map(str::to_string),
        missing: binding.missing_optional.clone(),
        unused: binding.unused.clone(),
    };
    if tx.blocking_send(Message::Start(Box::new(start))).is_err() {
        return Ok(ReaderEnd::default());
    }

    let bar = progress.then(|| progress_bar(rows.progress().total));
    let mut state = RowState {
        backfill_file: path.file_name().is_some_and(|n| n.to_string_lossy().contains("补报")),
        deadline,
        publicity,
        mapping,
        binding: &binding,
        item: &mapping.item,
        scratch: RowScratch::default(),
        batch: Batch::default(),
        errors: Vec::new(),
        errors_omitted: 0,
        warning_items: Vec::new(),
        warnings_omitted: 0,
    };
    drop(head);
    for item in scanned.into_iter().filter(|r| r.as_ref().map_or_else(|e| e.line, |r| r.line) > header_line) {
        match item {
            Ok(row) => state.row(&row),
            Err(e) => state.row_error(&e),
        }
    }
    let mut stopped = false;
    let mut sent = 0u64;
    let mut truncated: Option<RowError> = None;
    // Not a `for` loop: the progress bar reads the reader between rows.
    while let Some(next) = rows.next() {
        match next {
            Ok(row) => state.row(&row),
            Err(e) if matches!(e.kind, RowErrorKind::Unreadable(_)) => {
                state.row_error(&e);
                truncated = Some(e);
                break;
            }
            Err(e) => state.row_error(&e),
        }
        if state.batch.rows as usize >= BATCH_ROWS {
            if let Some(bar) = &bar {
                bar.set_position(rows.progress().done);
            }
            if tx.blocking_send(Message::Batch(std::mem::take(&mut state.batch))).is_err() {
                stopped = true;
                break;
            }
            sent += 1;
            if sent == 1 {
                test_seam(path, "mid-read");
            }
        }
    }
    if !stopped && state.batch.rows > 0 {
        let _ = tx.blocking_send(Message::Batch(std::mem::take(&mut state.batch)));
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let RowState { errors, errors_omitted, warning_items, warnings_omitted, .. } = state;
    if let Some(e) = truncated {
        // The rows before the break are stored; the run fails so the file is not taken as complete.
        return Err(FileFailure { fingerprint: Some(hash), reason: e.to_string(), reason_zh: e.zh(), report: None });
    }
    Ok(ReaderEnd { errors, errors_omitted, warning_items, warnings_omitted })
}

/// Test seam, in debug builds only: `CREDIT_GATEWAY_TEST_MID_READ` names a program run with the
/// file's path and the moment: `mid-read` once its first rows are on their way to the store,
/// `before-move` when a connector is about to move it out of the inbox; so a test can replace,
/// cut or extend the file at that moment, deterministically.
pub fn test_seam(path: &Path, moment: &str) {
    if cfg!(debug_assertions)
        && let Some(program) = std::env::var_os("CREDIT_GATEWAY_TEST_MID_READ")
    {
        let _ = std::process::Command::new(program).arg(path).arg(moment).status();
    }
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed} 剩余 {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Per-row work of the reader thread.
struct RowState<'a> {
    /// The whole file is 补报 (back-filled history): its name says so.
    backfill_file: bool,
    /// The calendar, the item's deadline rule and the due-soon margin, when the item has one.
    deadline: Option<(Arc<Calendar>, RecordRule, u32)>,
    /// The item's publicity rules and whether the mapping publishes minor penalties.
    publicity: Option<(Publicity, ItemRule, bool)>,
    mapping: &'a Mapping,
    binding: &'a Binding,
    item: &'a Item,
    scratch: RowScratch,
    batch: Batch,
    errors: Vec<RowErrorEntry>,
    errors_omitted: u64,
    warning_items: Vec<RowErrorEntry>,
    warnings_omitted: u64,
}

impl RowState<'_> {
    fn row(&mut self, row: &RawRow) {
        self.batch.rows += 1;
        match self.mapping.map_row(self.binding, row, &mut self.scratch) {
            RowOutcome::Accepted => {
                let action = self.publicity.as_ref().map(|(rules, rule, minor)| {
                    rules.row_action(rule, &mut self.scratch.values, *minor, &mut self.scratch.problems)
                });
                self.note_problems(row);
                let deadline = self.deadline.as_ref().and_then(|(calendar, rule, soon)| {
                    let start = crate::iso_date::parse(self.scratch.values[rule.start].as_deref()?)?;
                    Some(deadline::compute(calendar, start, rule.working_days, *soon))
                });
                let mut record = prepare(self.item, &self.scratch.values, row.line, deadline);
                record.backfill = self.backfill_file || self.scratch.backfill;
                match action {
                    Some(RowAction::Revoke { operation, on, reason }) => {
                        self.batch.revocations.push(crate::early_end::Revocation {
                            line: row.line,
                            business_key: record.business_key,
                            operation,
                            on,
                            reason,
                        });
                        return;
                    }
                    Some(RowAction::Store(columns)) => record.publicity = columns,
                    None => {}
                }
                self.batch.records.push(record);
            }
            RowOutcome::Skipped(_) => self.batch.skipped += 1,
            RowOutcome::Rejected => {
                self.batch.rejected += 1;
                if let Some(d) = rejected_decision(self.item, &self.scratch.values, row.line) {
                    self.batch.rejected_decisions.push(d);
                }
                self.note_problems(row);
            }
        }
    }

    /// A row the format reader could not read (bad encoding, oversized cell, …).
    fn row_error(&mut self, e: &RowError) {
        self.batch.rows += 1;
        self.batch.rejected += 1;
        let code = match e.kind {
            RowErrorKind::BadEncoding => ProblemCode::BadEncoding,
            RowErrorKind::CellTooLarge { .. } => ProblemCode::CellTooLarge,
            _ => ProblemCode::Malformed,
        };
        self.push(e.line, None, code, Severity::Error, e.kind.zh(), String::new());
    }

    fn note_problems(&mut self, row: &RawRow) {
        let problems = std::mem::take(&mut self.scratch.problems);
        for p in &problems {
            let value = p.field.map_or_else(String::new, |f| {
                let raw = self.mapping.raw_value(self.binding, row, f);
                if self.item.fields[f].personal { mask_id_number(&raw) } else { truncate(&raw) }
            });
            self.push(row.line, p.field, p.code, p.severity, p.reason.clone(), value);
        }
        self.scratch.problems = problems;
    }

    fn push(
        &mut self,
        line: u64,
        field: Option<usize>,
        code: ProblemCode,
        severity: Severity,
        reason: String,
        value: String,
    ) {
        let f = field.map(|f| &self.item.fields[f]);
        if severity == Severity::Warning {
            self.batch.warnings += 1;
        }
        let (listed, omitted) = match severity {
            Severity::Error => (&mut self.errors, &mut self.errors_omitted),
            Severity::Warning => (&mut self.warning_items, &mut self.warnings_omitted),
        };
        if listed.len() < MAX_LISTED_ERRORS {
            listed.push(RowErrorEntry {
                row: line,
                field: f.map(|f| f.key.clone()),
                field_name: f.map(|f| f.name.clone()),
                code: code.as_str(),
                reason: reason.clone(),
                value: value.clone(),
            });
        } else {
            *omitted += 1;
        }
        self.batch.problems.push(ProblemRow {
            line,
            field: f.map(|f| f.key.clone()),
            code: code.as_str(),
            severity: severity.as_str(),
            reason,
            value: Some(value),
        });
    }
}
