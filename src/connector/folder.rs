//! The watched folder: departments drop CSV, XLSX, XML or JSON files into an inbox.
//!
//! A file is taken only once it is complete: its size and modification time have not changed
//! for `settle_seconds`, or a `<file>.done` marker stands beside it. Temporary and lock files
//! (`~$x.xlsx`, `.part`, `.tmp`, hidden files) are never taken. Completeness is judged by
//! looking, not by file events, so it works the same on network shares where events do not
//! arrive; events only wake the connector sooner (see [`runner`](super::runner)).
//!
//! Nothing is followed out of the inbox: a symbolic link (to anywhere), anything that is not a
//! plain file, and a file whose name is not UTF-8 are handed over refused, never opened, and go
//! to `failed/` with their reason. A file that cannot even be moved there is set aside, looked
//! at again later and later, so no file blocks the ones behind it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::{BoxFuture, Pulled, Refusal, Source, SourceError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderSpec {
    /// The department's drop folder (relative to base_dir).
    inbox: PathBuf,
    /// Default `<inbox>/processed`; files go into a dated subfolder.
    #[serde(default)]
    processed: Option<PathBuf>,
    /// Default `<inbox>/failed`: unreadable files, each with a `.reason.txt`.
    #[serde(default)]
    failed: Option<PathBuf>,
    /// Default `<inbox>/outbox`: error reports the department reads.
    #[serde(default)]
    outbox: Option<PathBuf>,
    #[serde(default = "default_settle")]
    settle_seconds: f64,
    /// Take a file only once its `.done` marker exists.
    #[serde(default)]
    done_marker: bool,
    /// How often the folder is looked at when no file event arrives.
    #[serde(default = "default_poll")]
    poll_seconds: f64,
    /// Use file events (inotify) to wake up early; off for shares where they never come.
    #[serde(default = "super::yes")]
    watch: bool,
}

fn default_settle() -> f64 {
    5.0
}

fn default_poll() -> f64 {
    5.0
}

#[derive(Debug, Clone)]
pub struct FolderSettings {
    pub inbox: PathBuf,
    pub processed: PathBuf,
    pub failed: PathBuf,
    pub outbox: PathBuf,
    pub settle: Duration,
    pub done_marker: bool,
    pub poll: Duration,
    pub watch: bool,
}

impl FolderSpec {
    pub(super) fn check(self, base: &Path) -> FolderSettings {
        let inbox = base.join(&self.inbox);
        let under = |p: Option<PathBuf>, default: &str| p.map_or_else(|| inbox.join(default), |p| base.join(p));
        FolderSettings {
            processed: under(self.processed, "processed"),
            failed: under(self.failed, "failed"),
            outbox: under(self.outbox, "outbox"),
            inbox,
            settle: Duration::from_secs_f64(self.settle_seconds.clamp(0.0, 86_400.0)),
            done_marker: self.done_marker,
            poll: Duration::from_secs_f64(self.poll_seconds.clamp(0.1, 86_400.0)),
            watch: self.watch,
        }
    }
}

/// The marker that says a file is complete: `<file>.done`.
pub fn done_marker_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(".done");
    PathBuf::from(name)
}

/// Files no department means to hand over: editors' and copiers' temporaries, markers,
/// and what the gateway itself writes.
pub(super) fn ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || [".tmp", ".part", ".partial", ".crdownload", ".swp", ".done", ".errors.csv", ".reason.txt", ".filepart"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
}

/// What a file looked like when last seen, and since when.
#[derive(Debug, Clone, Copy)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
    since: Instant,
}

/// A file that could not even be moved to `failed/`: not looked at again before `until`.
#[derive(Debug, Clone, Copy)]
struct Aside {
    until: Instant,
    wait: Duration,
}

/// The first wait of a file set aside, doubled each time it is set aside again, up to the cap.
const ASIDE_FIRST: Duration = Duration::from_secs(5);
const ASIDE_CAP: Duration = Duration::from_secs(3600);

pub struct FolderSource {
    settings: FolderSettings,
    seen: HashMap<PathBuf, Seen>,
    aside: HashMap<PathBuf, Aside>,
    /// Files seen but not yet settled at the last look: the runner looks again sooner.
    settling: usize,
}

/// Why an entry of the inbox is refused unopened, if it is: links (to anywhere, inside the
/// inbox or not: a link is never followed) and anything that is not a plain file.
fn refusal_of(file_type: std::fs::FileType) -> Option<Refusal> {
    if file_type.is_symlink() {
        return Some(link_refusal());
    }
    (!file_type.is_file()).then(|| Refusal {
        reason: "not a regular file (a pipe, socket or device)".into(),
        reason_zh: "该项不是普通文件（管道、套接字或设备），无法读取".into(),
    })
}

pub(super) fn link_refusal() -> Refusal {
    Refusal {
        reason: "the file is a symbolic link; links are never followed".into(),
        reason_zh: "该文件是符号链接（快捷方式），为安全起见不读取其指向的内容，请直接放入文件本身".into(),
    }
}

fn non_utf8_name() -> Refusal {
    Refusal {
        reason: "the file name is not valid UTF-8".into(),
        reason_zh: "文件名不是有效的 UTF-8 编码（可能含乱码字符），请用规范的文件名重新放入".into(),
    }
}

impl FolderSource {
    pub fn new(settings: FolderSettings) -> FolderSource {
        FolderSource { settings, seen: HashMap::new(), aside: HashMap::new(), settling: 0 }
    }

    /// The files of the inbox to hand over: those to refuse unopened first (links and other
    /// non-files at once; a badly named file once complete), then the complete files, oldest first.
    fn ready_files(&mut self) -> Result<Vec<(PathBuf, Option<Refusal>)>, SourceError> {
        let io = |source| SourceError::Io { path: self.settings.inbox.clone(), source };
        std::fs::create_dir_all(&self.settings.inbox).map_err(io)?;
        let entries = std::fs::read_dir(&self.settings.inbox).map_err(io)?;
        let now = Instant::now();
        let mut present = Vec::new();
        let mut refused = Vec::new();
        let mut settling = 0;
        let mut ready: Vec<(Option<SystemTime>, PathBuf, Option<Refusal>)> = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            // Judged by its shown name too, so a copier's temporary with a garbled name is left alone.
            if ignored(&name.to_string_lossy()) {
                continue;
            }
            // Looked at, not followed. A file vanishing meanwhile is no error: someone took it back.
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            // Subfolders are the gateway's own (processed/, failed/, outbox/) or the department's.
            if meta.is_dir() {
                continue;
            }
            present.push(path.clone());
            if self.aside.get(&path).is_some_and(|a| now < a.until) {
                continue;
            }
            if let Some(refusal) = refusal_of(meta.file_type()) {
                refused.push((path, Some(refusal)));
                continue;
            }
            let (len, modified) = (meta.len(), meta.modified().ok());
            let seen = self.seen.entry(path.clone()).or_insert(Seen { len, modified, since: now });
            if seen.len != len || seen.modified != modified {
                *seen = Seen { len, modified, since: now };
            }
            let marked = done_marker_path(&path).exists();
            let settled = now.duration_since(seen.since) >= self.settings.settle;
            if marked || (!self.settings.done_marker && settled) {
                let refusal = name.to_str().is_none().then(non_utf8_name);
                ready.push((modified, path, refusal));
            } else {
                settling += 1;
            }
        }
        self.seen.retain(|p, _| present.contains(p));
        self.aside.retain(|p, _| present.contains(p));
        self.settling = settling;
        ready.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        refused.extend(ready.into_iter().map(|(_, p, r)| (p, r)));
        Ok(refused)
    }
}

impl Source for FolderSource {
    fn settling(&self) -> bool {
        self.settling > 0
    }

    fn next_file<'a>(&'a mut self, _checkpoint: Option<&'a str>) -> BoxFuture<'a, Result<Option<Pulled>, SourceError>> {
        Box::pin(async move {
            let next = self.ready_files()?.into_iter().next();
            Ok(next.map(|(path, refused)| Pulled {
                source: path.display().to_string(),
                path: Some(path),
                checkpoint: None,
                refused,
            }))
        })
    }

    fn changed(&mut self, path: &Path) {
        // Forgotten: seen anew at the next look, it settles before it is taken again.
        self.seen.remove(path);
    }

    fn set_aside(&mut self, path: &Path) {
        let wait = self.aside.get(path).map_or(ASIDE_FIRST, |a| (a.wait * 2).min(ASIDE_CAP));
        self.aside.insert(path.to_path_buf(), Aside { until: Instant::now() + wait, wait });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, settle: f64, done_marker: bool) -> FolderSettings {
        FolderSpec {
            inbox: dir.join("inbox"),
            processed: None,
            failed: None,
            outbox: None,
            settle_seconds: settle,
            done_marker,
            poll_seconds: 1.0,
            watch: false,
        }
        .check(Path::new("/"))
    }

    fn next(source: &mut FolderSource) -> Option<PathBuf> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(source.next_file(None)).unwrap().and_then(|p| p.path)
    }

    #[test]
    fn temporaries_and_markers_are_ignored() {
        for name in ["~$data.xlsx", ".hidden.csv", "a.csv.part", "a.csv.done", "a.csv.errors.csv", "x.TMP"] {
            assert!(ignored(name), "{name}");
        }
        for name in ["处罚.csv", "data.xlsx", "feed.json", "feed.xml"] {
            assert!(!ignored(name), "{name}");
        }
    }

    #[test]
    fn a_file_is_taken_once_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = FolderSource::new(settings(dir.path(), 0.2, false));
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        let file = dir.path().join("inbox/a.csv");
        std::fs::write(&file, "a,b\n").unwrap();
        assert_eq!(next(&mut source), None, "just written: not settled yet");
        assert!(source.settling());
        std::thread::sleep(Duration::from_millis(120));
        std::fs::write(&file, "a,b\n1,2\n").unwrap();
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(next(&mut source), None, "it changed: the wait starts again");
        // The change was seen at the last look: the file must stay unchanged from then on.
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(next(&mut source), Some(file));
    }

    #[test]
    fn a_marker_takes_a_file_at_once_and_can_be_required() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = FolderSource::new(settings(dir.path(), 0.0, true));
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        let file = dir.path().join("inbox/a.csv");
        std::fs::write(&file, "a,b\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(next(&mut source), None, "no marker yet");
        std::fs::write(done_marker_path(&file), "").unwrap();
        assert_eq!(next(&mut source), Some(file));
    }
}
