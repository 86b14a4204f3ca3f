//! Runs connectors: each on its schedule (or watching its folder), one pass at a time.
//!
//! A pass asks the source for files until it has none, and for each file: skips it if a file
//! with the same content was already ingested completely, else ingests it; then moves it to
//! `processed/` (or an unreadable one to `failed/` with a reason), and only then saves the
//! checkpoint that came with it. Health goes to `connector_state` after every pass that found
//! something or failed (a pass finding nothing again is written only every ten minutes).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::{Connector, Refusal, SourceError, SourceSettings};
use crate::calendar::shanghai_date;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error_report::outbox_name;
use crate::ingest::{IngestError, IngestOptions, OpenedFile, fingerprint_file, ingest_opened, write_error_report};
use crate::store::{PassOutcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("unknown connector {0:?}")]
    UnknownConnector(String),
    #[error("connector {0:?} is running on another instance now; try again when it is done")]
    Busy(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(IngestError),
    #[error("moving {from} to {to}: {source}")]
    Move { from: PathBuf, to: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileResult {
    pub source: String,
    pub outcome: FileOutcome,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Where the file is now.
    pub moved_to: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    Ingested,
    /// Same content as a file already ingested: not ingested again.
    Duplicate {
        ingest_run: i64,
    },
    /// Unreadable as a whole, or refused unopened: moved to `failed/` with its reason.
    Failed {
        reason: String,
    },
    /// Failed, and could not even be moved to `failed/`: left in place and set aside for a
    /// while, so the files behind it go on.
    SetAside {
        reason: String,
        error: String,
    },
    /// Replaced, cut or written while it was read: left in place (its run, if any, marked
    /// `changed`) and taken again once it has settled.
    Changed {
        reason: String,
    },
}

/// What one pass did.
#[derive(Debug, Default, Serialize)]
pub struct PassReport {
    pub connector: String,
    pub files: Vec<FileResult>,
    pub error: Option<String>,
}

impl PassReport {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One pass of one connector, now: used by the daemon and by `connectors run`.
pub async fn run_pass(
    settings: &Settings,
    store: &Store,
    connector: &Connector,
    source: &mut dyn super::Source,
    clock: &Clock,
    stop: &watch::Receiver<bool>,
) -> PassReport {
    use tracing::Instrument as _;
    let mut report = PassReport { connector: connector.name.clone(), ..PassReport::default() };
    source.start_pass();
    let span = tracing::info_span!("connector_run", connector = %connector.name, department = %connector.department);
    let result: Result<(), RunError> = async {
        retry_reports(settings, store, connector).await;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let checkpoint = store.checkpoint(&connector.name).await?;
            let mut stop = stop.clone();
            let pulled = tokio::select! {
                pulled = source.next_file(checkpoint.as_deref()) => pulled?,
                // An unfinished pull is dropped: nothing of it was committed.
                _ = stop.wait_for(|s| *s) => return Ok(()),
            };
            let Some(pulled) = pulled else { return Ok(()) };
            if let Some(path) = &pulled.path {
                let taken = take_file(settings, store, connector, path, &pulled, clock).await?;
                match taken.outcome {
                    FileOutcome::SetAside { .. } => source.set_aside(path),
                    FileOutcome::Changed { .. } => source.changed(path),
                    _ => {}
                }
                report.files.push(taken);
            }
            if let Some(checkpoint) = &pulled.checkpoint {
                store.save_checkpoint(&connector.name, checkpoint, &rfc3339(clock.now())).await?;
            }
        }
    }
    .instrument(span.clone())
    .await;
    if let Err(e) = result {
        let _in_span = span.enter();
        let error = e.to_string();
        // A pass failing the same way again and again says so once a minute, with a count.
        if let Some(repeated) = log_gate(&connector.name, "pass", &error) {
            tracing::warn!(error = %e, repeated, "connector pass failed");
        }
        report.error = Some(error);
    }
    report
}

/// Writes the error reports that could not be written once their rows were committed (a full
/// disk, an outbox not writable): each pass tries again until they are.
async fn retry_reports(settings: &Settings, store: &Store, connector: &Connector) {
    let pending = match store.pending_reports(&connector.name).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(connector = %connector.name, error = %e, "cannot list the error reports still to write");
            return;
        }
    };
    let Some(mapping) = settings.mapping(&connector.mapping) else { return };
    for (run, path, _) in pending {
        match write_error_report(store, run, &mapping.item, Path::new(&path)).await {
            Ok(_) => tracing::info!(connector = %connector.name, run, report = %path, "error report written at last"),
            Err(e) => {
                let error = e.to_string();
                let _ = store.set_run_report(run, &path, Some(&error)).await;
                if let Some(repeated) = log_gate(&connector.name, "report", &format!("{path}: {error}")) {
                    tracing::warn!(connector = %connector.name, run, report = %path, error = %error, repeated,
                        "the error report still cannot be written");
                }
            }
        }
    }
}

/// How long the same message about the same thing is kept quiet after it was logged.
const LOG_QUIET: Duration = Duration::from_secs(60);

/// The last message logged per connector and topic: when, and how often it came since.
type LogGates = std::collections::HashMap<(String, &'static str), (String, std::time::Instant, u64)>;
static LOG_GATES: std::sync::LazyLock<std::sync::Mutex<LogGates>> = std::sync::LazyLock::new(Default::default);

/// Whether to log `message` about `connector` now: a new message, or the same one after
/// [`LOG_QUIET`]. `Some(n)`: log it, saying it came `n` more times unlogged meanwhile.
fn log_gate(connector: &str, topic: &'static str, message: &str) -> Option<u64> {
    let mut gates = LOG_GATES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = std::time::Instant::now();
    match gates.get_mut(&(connector.to_string(), topic)) {
        Some((last, at, unlogged)) if last == message && now.duration_since(*at) < LOG_QUIET => {
            *unlogged += 1;
            None
        }
        Some((last, at, unlogged)) if last == message => {
            *at = now;
            Some(std::mem::take(unlogged))
        }
        _ => {
            gates.insert((connector.to_string(), topic), (message.to_string(), now, 0));
            Some(0)
        }
    }
}

/// Ingests one file and moves it out of the way once its rows are committed.
///
/// The file is opened once, not through a link; its bytes are fingerprinted and read through
/// that handle. Before it is moved, its path must still name the same file, unchanged since it
/// was opened: a file replaced, cut or extended meanwhile stays (its run marked `changed`) and
/// is taken again from its new content.
async fn take_file(
    settings: &Settings,
    store: &Store,
    connector: &Connector,
    path: &Path,
    pulled: &super::Pulled,
    clock: &Clock,
) -> Result<FileResult, RunError> {
    let source = pulled.source.as_str();
    let now = clock.now();
    let day = shanghai_date(now).to_string();
    if let Some(refusal) = &pulled.refused {
        return fail_file(connector, path, source, &day, refusal);
    }
    let unreadable = |e: std::io::Error| Refusal {
        reason: format!("the file cannot be opened or read: {e}"),
        reason_zh: format!("网关无法打开或读取该文件（权限不足或读取出错：{e}）"),
    };
    let (file, at_open) = match open_plain(path) {
        Ok(Opened::File(file, meta)) => (file, meta),
        // Looked at again as it is opened: a plain file swapped for a link is refused too.
        Ok(Opened::Link) => return fail_file(connector, path, source, &day, &super::folder::link_refusal()),
        // Gone meanwhile (taken back by its department): nothing to do.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(changed(source, "the file is gone".into())),
        // Not readable by the gateway (its rights, a read error): the file goes, the rest goes on.
        Err(e) => return fail_file(connector, path, source, &day, &unreadable(e)),
    };
    let (file, fp) = match tokio::task::spawn_blocking(move || {
        let fp = fingerprint_file(&file);
        (file, fp)
    })
    .await
    {
        Ok((file, Ok(fp))) => (file, fp),
        Ok((_, Err(e))) => return fail_file(connector, path, source, &day, &unreadable(e)),
        Err(e) => return fail_file(connector, path, source, &day, &unreadable(std::io::Error::other(e.to_string()))),
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Err(why) = unchanged_since_open(path, &file, &at_open, fp.bytes) {
        tracing::info!(connector = %connector.name, file = %source, why = %why, "the file changed while it was read: taken again later");
        return Ok(changed(source, why));
    }
    let config_hash = settings.rules_hash(&connector.mapping);
    if let Some(earlier) = store.ingested_file(&connector.name, &fp.hash, config_hash).await? {
        let note = format!(
            "文件《{file_name}》与 {} 已导入的文件（{}）内容完全相同，未重复导入。\n\
             The file has the same content as {} ingested at {} (run {}); not ingested again.\n",
            earlier.finished_at.as_deref().unwrap_or(""),
            earlier.source,
            earlier.source,
            earlier.finished_at.as_deref().unwrap_or(""),
            earlier.ingest_run,
        );
        let moved = match move_read_file(path, &connector.processed_dir().join(&day), &at_open)? {
            Ok(moved) => moved,
            Err(why) => return Ok(changed(source, why)),
        };
        if connector.kind() == super::ConnectorKind::Folder
            && let Err(e) = write_note(&connector.outbox, &outbox_name(&file_name, ".duplicate.txt"), &note)
        {
            tracing::warn!(connector = %connector.name, file = %source, error = %e, "cannot write the duplicate note");
        }
        tracing::info!(connector = %connector.name, file = %source, earlier = earlier.ingest_run, "same file again: not ingested");
        return Ok(FileResult {
            source: source.to_string(),
            outcome: FileOutcome::Duplicate { ingest_run: earlier.ingest_run },
            rows: 0,
            accepted: 0,
            rejected: 0,
            moved_to: Some(moved),
        });
    }
    let opts = IngestOptions {
        report_path: Some(connector.outbox.join(outbox_name(&file_name, ".errors.csv"))),
        progress: false,
        clock: clock.clone(),
        source: Some(source.to_string()),
    };
    let handle = file.try_clone().map(|file| OpenedFile { file, fingerprint: Some(fp.clone()) });
    let ingested = ingest_opened(settings, store, &connector.name, path, handle, &opts).await;
    // Whatever the outcome, a file that changed while it was read is not the file read.
    let still = unchanged_since_open(path, &file, &at_open, fp.bytes);
    match (ingested, still) {
        (Ok(summary), Err(why)) => {
            store.mark_run_changed(summary.ingest_run, &why).await?;
            tracing::warn!(connector = %connector.name, file = %source, run = summary.ingest_run, why = %why,
                "the file changed while it was read: not moved, taken again from its new content");
            Ok(FileResult { rows: summary.rows, ..changed(source, why) })
        }
        (Err(IngestError::Unreadable { .. }), Err(why)) => Ok(changed(source, why)),
        (Ok(summary), Ok(())) => {
            let moved = match move_read_file(path, &connector.processed_dir().join(&day), &at_open)? {
                Ok(moved) => moved,
                Err(why) => {
                    store.mark_run_changed(summary.ingest_run, &why).await?;
                    tracing::warn!(connector = %connector.name, file = %source, why = %why, "not moved: taken again");
                    return Ok(FileResult { rows: summary.rows, ..changed(source, why) });
                }
            };
            Ok(FileResult {
                source: source.to_string(),
                outcome: FileOutcome::Ingested,
                rows: summary.rows,
                accepted: summary.accepted,
                rejected: summary.rejected,
                moved_to: Some(moved),
            })
        }
        (Err(IngestError::Unreadable { reason, reason_zh, .. }), Ok(())) => {
            fail_file(connector, path, source, &day, &Refusal { reason, reason_zh })
        }
        // The file stays where it is; the next pass tries it again.
        (Err(e), _) => Err(RunError::Ingest(e)),
    }
}

/// Moves the file read (opened as `at_open`) from `path` into `dir`. A rename moves whatever the
/// path names at that instant: when that is not the file read (saved over between the last look
/// and the move), it is put back in the inbox and `Err` says so; the file read counts as changed.
fn move_read_file(path: &Path, dir: &Path, at_open: &std::fs::Metadata) -> Result<Result<PathBuf, String>, RunError> {
    use std::os::unix::fs::MetadataExt as _;
    crate::ingest::test_seam(path, "before-move");
    let moved = move_out(path, dir)?;
    match std::fs::symlink_metadata(&moved) {
        Ok(m) if (m.dev(), m.ino()) == (at_open.dev(), at_open.ino()) => return Ok(Ok(moved)),
        // Copied to another file system: a new inode by nature (the copy read the path, as before).
        Ok(m) if m.dev() != at_open.dev() => return Ok(Ok(moved)),
        _ => {}
    }
    // Back under its own name, never over a newer file there (a link fails if the name is taken).
    let back = std::fs::hard_link(&moved, path).and_then(|_| std::fs::remove_file(&moved));
    if back.is_err()
        && let Some(inbox) = path.parent()
    {
        move_out(&moved, inbox)?;
    }
    Ok(Err("the file was replaced just before it was moved (another file was saved over it)".into()))
}

/// The result of a file that changed while it was read: left where it is, for the next pass.
fn changed(source: &str, why: String) -> FileResult {
    FileResult {
        source: source.to_string(),
        outcome: FileOutcome::Changed { reason: why },
        rows: 0,
        accepted: 0,
        rejected: 0,
        moved_to: None,
    }
}

/// What opening an inbox entry found.
enum Opened {
    File(std::fs::File, std::fs::Metadata),
    /// A link (or something swapped for one): never opened through.
    Link,
}

/// Opens `path` as the plain file it names: the handle must be the very file the path names,
/// not one a link points to (the link is looked at first, and the handle checked against it).
fn open_plain(path: &Path) -> std::io::Result<Opened> {
    use std::os::unix::fs::MetadataExt as _;
    let named = std::fs::symlink_metadata(path)?;
    if named.file_type().is_symlink() {
        return Ok(Opened::Link);
    }
    if !named.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if (meta.dev(), meta.ino()) != (named.dev(), named.ino()) {
        // Swapped between the look and the open.
        return match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Ok(Opened::Link),
            _ => Err(std::io::Error::other("the file was replaced while it was opened")),
        };
    }
    Ok(Opened::File(file, meta))
}

/// Whether `path` still names the file opened as `file`, unchanged since `at_open` (device and
/// inode, size, modification time), and `read` bytes were taken of it, all it had; if not, why.
fn unchanged_since_open(
    path: &Path,
    file: &std::fs::File,
    at_open: &std::fs::Metadata,
    read: u64,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let same = |m: &std::fs::Metadata| m.len() == at_open.len() && m.modified().ok() == at_open.modified().ok();
    match file.metadata() {
        Ok(now) if same(&now) => {}
        Ok(_) => return Err("the file was written while it was read (its size or time changed)".into()),
        Err(e) => return Err(format!("the file cannot be looked at again: {e}")),
    }
    if read != at_open.len() {
        return Err(format!("{read} bytes were read of a {}-byte file: it was cut while it was read", at_open.len()));
    }
    match std::fs::symlink_metadata(path) {
        Ok(named) if (named.dev(), named.ino()) != (at_open.dev(), at_open.ino()) => {
            Err("the file was replaced while it was read (another file was saved over it)".into())
        }
        Ok(named) if !same(&named) => Err("the file was written while it was read".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("the file was removed or renamed while it was read: {e}")),
    }
}

/// Moves a file that cannot be taken to `failed/<day>/` beside its reason (`<name>.reason.txt`);
/// when even that move fails, the file stays and is set aside.
fn fail_file(
    connector: &Connector,
    path: &Path,
    source: &str,
    day: &str,
    refusal: &Refusal,
) -> Result<FileResult, RunError> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let failed = connector.failed_dir().join(day);
    let result = |outcome, moved_to| FileResult {
        source: source.to_string(),
        outcome,
        rows: 0,
        accepted: 0,
        rejected: 0,
        moved_to,
    };
    let moved = match move_out(path, &failed) {
        Ok(moved) => moved,
        Err(e) => {
            let error = e.to_string();
            if let Some(repeated) = log_gate(&connector.name, "set aside", &format!("{source}: {error}")) {
                tracing::warn!(connector = %connector.name, file = %source, reason = %refusal.reason, error = %error,
                    repeated, "a file that cannot be taken cannot be moved to failed/ either: set aside");
            }
            return Ok(result(FileOutcome::SetAside { reason: refusal.reason.clone(), error }, None));
        }
    };
    let moved_name = moved.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (reason, reason_zh) = (&refusal.reason, &refusal.reason_zh);
    let note = format!("文件《{file_name}》无法读取，未导入：{reason_zh}\nThe file cannot be read: {reason}\n");
    write_note(&failed, &outbox_name(&moved_name, ".reason.txt"), &note)?;
    tracing::warn!(connector = %connector.name, file = %source, reason = %reason, "file refused and moved to failed/");
    Ok(result(FileOutcome::Failed { reason: reason.clone() }, Some(moved)))
}

/// Moves `file` into `dir` (made if missing) under a name not yet taken there, and removes
/// its `.done` marker. Works across file systems (copy, sync, remove). A link or other
/// non-file is moved itself, never what it points to: renamed, or (a link) made again there.
fn move_out(file: &Path, dir: &Path) -> Result<PathBuf, RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::Io { path: dir.to_path_buf(), source })?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut to = dir.join(&name);
    let mut n = 1;
    while to.exists() {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) => (stem.to_string(), format!(".{ext}")),
            None => (name.clone(), String::new()),
        };
        to = dir.join(format!("{stem}-{n}{ext}"));
        n += 1;
    }
    let plain = std::fs::symlink_metadata(file).is_ok_and(|m| m.is_file());
    let moved = std::fs::rename(file, &to).or_else(|e| {
        if plain {
            std::fs::copy(file, &to)?;
            std::fs::File::open(&to)?.sync_all()?;
        } else {
            // Across file systems only a link can be made again there; it is never read through.
            let target = std::fs::read_link(file).map_err(|_| e)?;
            std::os::unix::fs::symlink(target, &to)?;
        }
        std::fs::remove_file(file)
    });
    moved.map_err(|source| RunError::Move { from: file.to_path_buf(), to: to.clone(), source })?;
    let _ = std::fs::remove_file(super::folder::done_marker_path(file));
    Ok(to)
}

fn write_note(dir: &Path, name: &str, text: &str) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::Io { path: dir.to_path_buf(), source })?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    // With a BOM so Notepad on an old office PC shows the Chinese right.
    std::fs::write(&tmp, format!("\u{feff}{text}"))
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|source| RunError::Io { path, source })
}

/// Runs one connector until `stop`: passes on its schedule, or a watched folder whenever it
/// may have something new.
pub async fn run_connector(
    settings: Arc<Settings>,
    store: Store,
    connector: Connector,
    clock: Clock,
    run_now: Arc<tokio::sync::Notify>,
    stop: watch::Receiver<bool>,
) {
    let name = connector.name.clone();
    let Some(mapping) = settings.mapping(&connector.mapping) else { return };
    let mut source = match connector.open_source(mapping, &clock) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(connector = %name, error = %e, "connector cannot start");
            let at = rfc3339(clock.now());
            let pass = PassOutcome { at: &at, status: "error", error: Some(&e.to_string()), ..PassOutcome::default() };
            let _ = store.record_pass(&name, &pass).await;
            return;
        }
    };
    let mut wake = Wake::new(&connector);
    let mut first = true;
    // Since when the passes have found nothing, as last recorded.
    let mut quiet_since: Option<std::time::Instant> = None;
    // Passes failed in a row.
    let mut failures: u32 = 0;
    loop {
        let next_tick = connector.schedule.as_ref().map(|s| s.next_after(clock.now()));
        // Asked from the dashboard: a pass now, outside the schedule (no tick is taken).
        let mut asked = false;
        match next_tick {
            Some(None) => return,
            Some(Some(at)) => {
                let _ = store.set_next_run(&name, Some(&rfc3339(at)), &rfc3339(clock.now())).await;
                let wait = (at - clock.now()).to_std().unwrap_or_default();
                tokio::select! {
                    slept = sleep_or_stop(wait, &stop) => if !slept { return },
                    _ = run_now.notified() => asked = true,
                }
            }
            None if first => {}
            None => {
                tokio::select! {
                    woke = wake.wait(&stop) => if !woke { return },
                    _ = run_now.notified() => asked = true,
                }
            }
        }
        first = false;
        let tick = if asked { None } else { next_tick.flatten() };
        let Some(report) = leased_pass(&settings, &store, &connector, source.as_mut(), &clock, &stop, tick).await
        else {
            continue;
        };
        // A pass that found nothing after one that found nothing changes no health worth a
        // write; the health is still refreshed now and then, so it shows the connector lives.
        let quiet = report.error.is_none() && report.files.is_empty();
        if !(quiet && quiet_since.is_some_and(|since| since.elapsed() < QUIET_REFRESH)) {
            record(&store, &connector, &report, &clock).await;
            quiet_since = quiet.then(std::time::Instant::now);
        }
        wake.settling = source.settling();
        // A failing pass is not tried again at once: after 1 s, then 2, 4… up to 5 min.
        failures = if report.error.is_some() { failures.saturating_add(1) } else { 0 };
        wake.backoff =
            (failures > 0).then(|| FAILED_PASS_FIRST.saturating_mul(1 << (failures - 1).min(16)).min(FAILED_PASS_CAP));
        if *stop.borrow() {
            return;
        }
    }
}

/// The wait after a failed pass of a watched folder, doubled for each further one, up to the cap.
const FAILED_PASS_FIRST: Duration = Duration::from_secs(1);
const FAILED_PASS_CAP: Duration = Duration::from_secs(300);

/// How often the health of a connector finding nothing is written again.
const QUIET_REFRESH: Duration = Duration::from_secs(600);

/// Passes run by this process, per connector: whether a watched folder rests when nothing
/// arrives is a count, not a feeling.
static PASSES: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, watch::Sender<u64>>>> =
    std::sync::LazyLock::new(Default::default);

fn pass_counter(connector: &str) -> watch::Sender<u64> {
    let mut passes = PASSES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    passes.entry(connector.to_string()).or_insert_with(|| watch::channel(0).0).clone()
}

/// The number of passes of `connector` this process has run so far, and its changes.
pub fn passes(connector: &str) -> watch::Receiver<u64> {
    pass_counter(connector).subscribe()
}

/// Why a pass did not run here.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotHere {
    /// Another instance runs this connector now.
    Leased,
    /// Another instance already pulled this schedule tick.
    TickTaken,
}

/// Takes the connector's lease (and the schedule tick, if any) for this instance, at `now`.
pub(crate) async fn take_lease(
    store: &Store,
    connector: &str,
    holder: &str,
    lease: Duration,
    tick: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Result<(), NotHere>, StoreError> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    if !store.take_connector_lease(connector, holder, &rfc3339(now), &rfc3339(until)).await? {
        return Ok(Err(NotHere::Leased));
    }
    if let Some(tick) = tick
        && !store.take_tick(connector, holder, &rfc3339(tick)).await?
    {
        store.release_connector_lease(connector, holder).await?;
        return Ok(Err(NotHere::TickTaken));
    }
    Ok(Ok(()))
}

/// A pass under the connector's lease, renewed while it runs and given back after, so that
/// instances sharing a database run each connector on one instance at a time (a watched
/// folder on shared storage is taken once per file) and each schedule tick once. `None` when
/// the pass belongs to another instance. A dead instance's lease runs out and another takes
/// over from the last checkpoint; a file it was taking is taken again, its committed rows
/// unchanged.
async fn leased_pass(
    settings: &Settings,
    store: &Store,
    connector: &Connector,
    source: &mut dyn super::Source,
    clock: &Clock,
    stop: &watch::Receiver<bool>,
    tick: Option<DateTime<Utc>>,
) -> Option<PassReport> {
    let holder = crate::service::instance_id();
    let lease = settings.gateway.connector_lease;
    match take_lease(store, &connector.name, &holder, lease, tick, clock.now()).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            tracing::debug!(connector = %connector.name, ?why, "the pass belongs to another instance");
            return None;
        }
        Err(e) => {
            tracing::warn!(connector = %connector.name, error = %e, "cannot take the connector's lease");
            return None;
        }
    }
    // Renewed beside the pass, never in its way: on SQLite a renewal waits for the pass's
    // write transaction, which must go on being driven meanwhile.
    let renew = async {
        loop {
            tokio::time::sleep(lease / 3).await;
            let renewed = take_lease(store, &connector.name, &holder, lease, None, clock.now()).await;
            if !matches!(renewed, Ok(Ok(()))) {
                tracing::warn!(connector = %connector.name, "the connector's lease could not be renewed; another instance may take over");
            }
        }
    };
    let report = tokio::select! {
        report = run_pass(settings, store, connector, source, clock, stop) => report,
        never = renew => never,
    };
    pass_counter(&connector.name).send_modify(|n| *n += 1);
    if let Err(e) = store.release_connector_lease(&connector.name, &holder).await {
        tracing::warn!(connector = %connector.name, error = %e, "cannot give the connector's lease back; it runs out by itself");
    }
    Some(report)
}

/// Sleeps, unless `stop` comes first; true when the sleep ran out.
async fn sleep_or_stop(wait: Duration, stop: &watch::Receiver<bool>) -> bool {
    let mut watching = stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(wait) => !*stop.borrow(),
        _ = watching.wait_for(|s| *s) => false,
    }
}

/// What wakes a watched folder: a file event that may bring a file, or the poll interval
/// (network shares send no events), or sooner while a file is settling.
struct Wake {
    events: Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)>,
    poll: Duration,
    settle: Duration,
    settling: bool,
    /// After a failed pass: the next one waits this long, whatever arrives meanwhile.
    backoff: Option<Duration>,
}

/// Events within this long of the first are one wake-up: a file copied in chunks, a rename
/// followed by its marker.
const DEBOUNCE: Duration = Duration::from_millis(250);

impl Wake {
    fn new(connector: &Connector) -> Wake {
        let SourceSettings::Folder(f) = &connector.source else {
            let poll = Duration::from_secs(60);
            return Wake { events: None, poll, settle: Duration::ZERO, settling: false, backoff: None };
        };
        let own = [f.processed.clone(), f.failed.clone(), f.outbox.clone(), connector.spool_dir()];
        let events = if f.watch { watch_folder(&f.inbox, own, &connector.name) } else { None };
        Wake { events, poll: f.poll, settle: f.settle, settling: false, backoff: None }
    }

    async fn wait(&mut self, stop: &watch::Receiver<bool>) -> bool {
        let mut stop = stop.clone();
        if let Some(backoff) = self.backoff {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => return false,
            }
            if let Some((_, rx)) = self.events.as_mut() {
                while rx.try_recv().is_ok() {}
            }
            return !*stop.borrow();
        }
        match self.events.as_mut().map(|(_, rx)| rx) {
            Some(rx) if !self.settling => {
                let event = tokio::select! {
                    _ = tokio::time::sleep(self.poll) => false,
                    _ = rx.recv() => true,
                    _ = stop.wait_for(|s| *s) => return false,
                };
                if event {
                    tokio::select! {
                        _ = tokio::time::sleep(DEBOUNCE) => {}
                        _ = stop.wait_for(|s| *s) => return false,
                    }
                    while rx.try_recv().is_ok() {}
                }
            }
            // While a file settles the next look is due when it may have settled; events (its
            // own writes, most likely) cannot make that sooner.
            events => {
                let wait =
                    if self.settling { self.poll.min(self.settle.max(Duration::from_millis(100))) } else { self.poll };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return false,
                }
                if let Some(rx) = events {
                    while rx.try_recv().is_ok() {}
                }
            }
        }
        !*stop.borrow()
    }
}

/// Whether `event` in the watched `inbox` may mean a new or changed file there: a file made,
/// written, closed after writing or renamed in. Opening and listing the inbox (every pass
/// does), metadata changes, files leaving, and the gateway's own folders and temporaries
/// (`own`: processed, failed, outbox, spool) are not; a pass caused by them would cause the next.
pub(crate) fn may_bring_a_file(event: &notify::Event, inbox: &Path, own: &[PathBuf]) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
    if event.need_rescan() {
        return true;
    }
    let wanted = match event.kind {
        EventKind::Create(kind) => kind != CreateKind::Folder,
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => true,
        EventKind::Modify(ModifyKind::Name(mode)) => {
            matches!(mode, RenameMode::To | RenameMode::Both | RenameMode::Any)
        }
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    // A rename within the inbox names both ends; the file is where it went.
    let Some(path) = event.paths.last() else { return wanted };
    if !wanted || path == inbox || own.iter().any(|o| path.starts_with(o)) {
        return false;
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    // A `.done` marker makes its file ready; other names the folder ignores are no news.
    name.ends_with(".done") || !super::folder::ignored(&name)
}

fn watch_folder(dir: &Path, own: [PathBuf; 4], name: &str) -> Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)> {
    use notify::Watcher;
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!(connector = %name, folder = %dir.display(), error = %e, "cannot create the inbox");
        return None;
    }
    let (tx, rx) = mpsc::channel(1);
    let inbox = dir.to_path_buf();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| may_bring_a_file(&e, &inbox, &own)) {
            let _ = tx.try_send(());
        }
    });
    match watcher.and_then(|mut w| w.watch(dir, notify::RecursiveMode::NonRecursive).map(|_| w)) {
        Ok(w) => Some((w, rx)),
        Err(e) => {
            tracing::warn!(connector = %name, folder = %dir.display(), error = %e, "no file events: polling only");
            None
        }
    }
}

/// A declared connector with its health, as `credit-gateway connectors` lists it.
#[derive(Debug, Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub kind: super::ConnectorKind,
    pub department: String,
    pub item: String,
    pub enabled: bool,
    pub schedule: Option<String>,
    pub health: crate::store::ConnectorHealth,
}

pub async fn statuses(settings: &Settings, store: &Store) -> Result<Vec<ConnectorStatus>, StoreError> {
    let health = store.connector_health().await?;
    Ok(settings
        .connectors
        .iter()
        .map(|c| ConnectorStatus {
            name: c.name.clone(),
            kind: c.kind(),
            department: c.department.clone(),
            item: c.item.clone(),
            enabled: c.enabled,
            schedule: c.schedule.as_ref().map(|s| s.as_str().to_string()),
            health: health.iter().find(|h| h.connector == c.name).cloned().unwrap_or_default(),
        })
        .collect())
}

/// One pass of the named connector now (by `clock`), recorded in its health like a scheduled one.
pub async fn run_once(settings: &Settings, store: &Store, name: &str, clock: &Clock) -> Result<PassReport, RunError> {
    let connector = settings.connector(name).ok_or_else(|| RunError::UnknownConnector(name.to_string()))?;
    let mapping = settings.mapping(&connector.mapping).expect("connectors are checked against mappings");
    let mut source = connector.open_source(mapping, clock)?;
    let (_tx, stop) = watch::channel(false);
    let Some(report) = leased_pass(settings, store, connector, source.as_mut(), clock, &stop, None).await else {
        return Err(RunError::Busy(name.to_string()));
    };
    record(store, connector, &report, clock).await;
    Ok(report)
}

async fn record(store: &Store, connector: &Connector, report: &PassReport, clock: &Clock) {
    let at = rfc3339(clock.now());
    let status = match (&report.error, report.files.is_empty()) {
        (Some(_), _) => "error",
        (None, true) => "idle",
        (None, false) => "ok",
    };
    let next = connector.schedule.as_ref().and_then(|s| s.next_after(clock.now())).map(rfc3339);
    let pass = PassOutcome {
        at: &at,
        status,
        error: report.error.as_deref(),
        rows: report.rows(),
        files: report.files.len() as u64,
        next_run_at: next.as_deref(),
    };
    if let Err(e) = store.record_pass(&connector.name, &pass).await {
        tracing::warn!(connector = %connector.name, error = %e, "cannot record connector health");
    }
}

/// Requests for a pass now, one per connector run by this process's daemon (the dashboard's
/// 立即运行 button). A request made while a pass runs is kept for right after it.
#[derive(Debug, Default)]
pub struct RunNow {
    requests: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Notify>>>,
}

impl RunNow {
    /// The request signal of `connector`, made on first use.
    pub fn signal(&self, connector: &str) -> Arc<tokio::sync::Notify> {
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        requests.entry(connector.to_string()).or_default().clone()
    }

    /// Asks for a pass of `connector` now.
    pub fn request(&self, connector: &str) {
        self.signal(connector).notify_one();
    }
}

#[cfg(test)]
mod tests {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, ModifyKind, RenameMode};

    use super::*;

    fn event(kind: EventKind, paths: &[&str]) -> notify::Event {
        paths.iter().fold(notify::Event::new(kind), |e, p| e.add_path(PathBuf::from(p)))
    }

    #[test]
    fn only_a_file_arriving_in_the_inbox_wakes_the_connector() {
        let inbox = Path::new("/in");
        let own = [PathBuf::from("/in/processed"), PathBuf::from("/in/failed"), PathBuf::from("/data/spool")];
        let wakes = |kind, paths: &[&str]| may_bring_a_file(&event(kind, paths), inbox, &own);
        assert!(wakes(EventKind::Create(CreateKind::File), &["/in/a.csv"]));
        assert!(wakes(EventKind::Modify(ModifyKind::Data(DataChange::Any)), &["/in/a.csv"]));
        assert!(wakes(EventKind::Access(AccessKind::Close(AccessMode::Write)), &["/in/a.csv"]));
        assert!(wakes(EventKind::Modify(ModifyKind::Name(RenameMode::To)), &["/in/a.csv"]));
        assert!(wakes(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &["/in/a.part", "/in/a.csv"]));
        assert!(wakes(EventKind::Create(CreateKind::File), &["/in/a.csv.done"]), "a marker makes its file ready");

        // Every pass opens and lists the inbox: that must not wake the next.
        assert!(!wakes(EventKind::Access(AccessKind::Open(AccessMode::Any)), &["/in"]));
        assert!(!wakes(EventKind::Access(AccessKind::Read), &["/in"]));
        assert!(!wakes(EventKind::Access(AccessKind::Close(AccessMode::Read)), &["/in"]));
        assert!(!wakes(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)), &["/in/a.csv"]));
        assert!(!wakes(EventKind::Modify(ModifyKind::Name(RenameMode::From)), &["/in/a.csv"]), "a file leaving");
        assert!(!wakes(EventKind::Remove(notify::event::RemoveKind::File), &["/in/a.csv"]));
        assert!(!wakes(EventKind::Create(CreateKind::Folder), &["/in/processed"]));
        assert!(!wakes(EventKind::Create(CreateKind::File), &["/in/processed/x.csv"]));
        assert!(!wakes(EventKind::Create(CreateKind::File), &["/in/.a.csv.tmp"]), "a temporary");
        assert!(!wakes(EventKind::Modify(ModifyKind::Data(DataChange::Any)), &["/in/a.csv.part"]));
    }
}
